#!/usr/bin/env bash
# coreutils 9.1's own tests of timeout (tests/misc/timeout*.sh and timeout-blocked.pl; later
# releases moved them to tests/timeout/), run unchanged through coreutils' own test framework
# against three programs installed as `timeout`:
#   reference  GNU timeout 9.1 (/usr/bin/timeout)  every file must pass: the harness works
#   mutant     never_times_out.sh                    every file must NOT pass: each can fail
#   tend       the tend binary, multi-call           every file must pass, except those in
#                                                    KNOWN (each with its reason)
#
#   coreutils_timeout.sh TEND_BINARY CACHE_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tend=$1 cache=$2
src=$("$here/fetch_upstream.sh" coreutils "$cache" 'coreutils-*/tests/misc/timeout*' \
  'coreutils-*/tests/init.sh' 'coreutils-*/init.cfg' 'coreutils-*/tests/Cu*.pm' \
  'coreutils-*/tests/Coreutils.pm' 'coreutils-*/tests/lang-default' \
  'coreutils-*/tests/envvar-check') || exit $?
ref=/usr/bin/timeout
if ! "$ref" --version 2>/dev/null | grep -q 'GNU coreutils'; then
  echo "compat: GNU timeout ($ref) is missing" >&2
  [[ "${CI:-}" == true ]] && exit 1
  exit 77
fi

# Files tend may fail today, and why. A file listed here that passes is an error too: the
# mark must go as soon as the cause is fixed.
declare -A KNOWN=(
)

tests=()
for f in "$src"/tests/misc/timeout*.sh "$src"/tests/misc/timeout*.pl; do tests+=("$(basename "$f")"); done

work=$(mktemp -d "${TMPDIR:-/tmp}/tend-compat-coreutils.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Runs one upstream file as coreutils' `make check` would (tests/local.mk's TESTS_ENVIRONMENT,
# including the tools configure found: without AWK, init.cfg's retry_delay_ computes no delay and
# timeout-group.sh signals timeout before it has set up its handlers), with $2 as src/timeout. Prints the exit status: 0 pass, 77 skip, anything else fail.
run_one() {
  local name=$1 prog=$2 tag=$3 dir
  dir="$work/$tag"
  mkdir -p "$dir/src" "$dir/tests/misc"  # CuTmpdir makes its directory under tests/misc
  ln -sf "$prog" "$dir/src/timeout"
  ln -sf "$here/getlimits.sh" "$dir/src/getlimits"
  local cmd=(bash "$src/tests/misc/$name")
  [[ $name == *.pl ]] && cmd=(perl -w -I"$src/tests" -MCuSkip -MCoreutils "-MCuTmpdir qw(tests/misc/$name)" "$src/tests/misc/$name")
  # GNU timeout bounds each run: a hang is a failure, not a stuck CI job.
  (cd "$dir" && env -i PATH="$dir/src:$PATH" HOME="$dir" TMPDIR="$dir" LC_ALL=C \
    srcdir="$src" abs_top_srcdir="$src" abs_top_builddir="$dir" abs_srcdir="$src/tests" \
    built_programs="timeout env" fail=0 VERBOSE=yes SHELL=/bin/bash \
    AWK=awk PERL=perl EGREP="grep -E" EXEEXT= \
    "$ref" -k 5 60 "${cmd[@]}") >"$dir/$name.log" 2>&1
  echo $?
}

failed=0
printf '%-30s %-10s %-10s %-10s\n' "coreutils 9.1 test" reference mutant tend
for t in "${tests[@]}"; do
  r=$(run_one "$t" "$ref" ref)
  m=$(run_one "$t" "$here/never_times_out.sh" mutant)
  n=$(run_one "$t" "$tend" tend)
  verdict=ok
  if [[ $r != 0 ]]; then verdict="REFERENCE FAILED"; fi
  # A tool the framework expects from configure is missing here: the files still pass, but
  # they no longer test what they were written to test (e.g. retry delays become 0).
  if grep -q ': command not found' "$work/ref/$t.log"; then verdict="HARNESS INCOMPLETE"; fi
  if [[ $m == 0 ]]; then verdict="MUTANT PASSED (the file cannot fail)"; fi
  if [[ $n != 0 && -z "${KNOWN[$t]:-}" ]]; then verdict="TEND FAILED"; fi
  if [[ $n != 0 && -n "${KNOWN[$t]:-}" ]]; then verdict="known: ${KNOWN[$t]}"; fi
  if [[ $n == 0 && -n "${KNOWN[$t]:-}" ]]; then verdict="TEND PASSES: remove it from KNOWN"; fi
  printf '%-30s %-10s %-10s %-10s %s\n' "$t" "$r" "$m" "$n" "$verdict"
  case $verdict in
    ok | known:*) ;;
    *)
      failed=1
      for tag in ref mutant tend; do
        echo "----- $t ($tag) log tail" && tail -40 "$work/$tag/$t.log"
      done
      ;;
  esac
done
exit $failed
