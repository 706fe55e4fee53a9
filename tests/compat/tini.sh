#!/usr/bin/env bash
# tini 0.19.0's own tests (test/run_inner_tests.py and the smoke tests of ci/run_build.sh) against
#   reference  Debian's tini 0.19 (/usr/bin/tini)   every case must pass, and upstream's
#              run_inner_tests.py must pass unchanged: the harness and the machine are fit
#   mutant     not_an_init.sh                       shown: which cases can tell an init apart
#   tend       the tend binary, run as `tini`       every case must pass, except KNOWN ones
#              (bugs being fixed) and DELIBERATE ones (docs/compat.md says why)
#
#   tini.sh TEND_BINARY CACHE_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tend=$1 cache=$2
src=$("$here/fetch_upstream.sh" tini "$cache" 'tini-*/test' 'tini-*/ci' 'tini-*/LICENSE') || exit $?
need_missing() {
  echo "compat: $* is missing" >&2
  [[ "${CI:-}" == true ]] && exit 1
  exit 77
}
ref=/usr/bin/tini
[[ -x $ref ]] || need_missing "Debian's tini"
/usr/bin/python3 -c 'import psutil, prctl' 2>/dev/null || need_missing "python3-psutil or python3-prctl"
command -v cc >/dev/null || need_missing "a C compiler"

# Cases tend fails today for a cause being fixed elsewhere.
declare -A KNOWN=()
# Cases tend fails on purpose; docs/compat.md gives each reason.
declare -A DELIBERATE=(
  ["S ci/run_build.sh: Testing tini for license"]="tend is not tini: -l does not print tini's LICENSE"
  ["I run_inner_tests.py: Running zombie reaping failure test (Tini should warn)"]="tend is always a subreaper: nothing to warn about, and the reaping works"
)
work=$(mktemp -d "${TMPDIR:-/tmp}/tend-compat-tini.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
# Upstream's helpers start with `#!/usr/bin/env python`: Debian's python3, with psutil and prctl.
ln -s /usr/bin/python3 "$work/bin/python"
ln -s /usr/bin/python3 "$work/bin/python3"
export PATH="$work/bin:$PATH" PYTHONPATH="$here/pylib"
cc -o "$work/sigconf-test" "$src/test/sigconf/sigconf-test.c" || exit 1

# The three run at once (they share nothing); the mutant hangs in every case that needs an init,
# so its cases are cut short.
for tag in ref mutant tend; do
  case $tag in ref) prog=$ref ;; mutant) prog=$here/not_an_init.sh ;; tend) prog=$tend ;; esac
  mkdir -p "$work/$tag"
  ln -s "$prog" "$work/$tag/tini"
  cp "$work/sigconf-test" "$work/$tag/"
  (cd "$work/$tag" && CASE_TIMEOUT=$([[ $tag == mutant ]] && echo 10 || echo 60) \
    /usr/bin/python3 "$here/tini_cases.py" "$work/$tag/tini" "$src" "$work/$tag" \
    >"$work/$tag.out" 2>"$work/$tag.err") &
done
wait
declare -A result
for tag in ref mutant tend; do
  while IFS=$'\t' read -r _ name verdict detail; do
    result["$tag|$name"]=$verdict
    [[ $verdict == FAIL ]] && result["$tag|$name|detail"]=$detail
  done < <(grep $'^RESULT\t' "$work/$tag.out")
done

failed=0
names=()
while IFS= read -r k; do names+=("${k#ref|}"); done < <(printf '%s\n' "${!result[@]}" | grep '^ref|' | grep -v '|detail$' | sort)
printf '%-86s %-5s %-6s %-5s\n' "tini 0.19.0 case" ref mutant tend
for n in "${names[@]}"; do
  r=${result["ref|$n"]:-MISSING} m=${result["mutant|$n"]:-MISSING} t=${result["tend|$n"]:-MISSING}
  verdict=ok
  [[ $r != PASS ]] && verdict="REFERENCE FAILED: ${result["ref|$n|detail"]:-}"
  if [[ $t != PASS ]]; then
    if [[ -n "${DELIBERATE[$n]:-}" ]]; then verdict="deliberate: ${DELIBERATE[$n]}"
    elif [[ -n "${KNOWN[$n]:-}" ]]; then verdict="known: ${KNOWN[$n]}"
    else verdict="TEND FAILED: ${result["tend|$n|detail"]:-}"; fi
  elif [[ -n "${KNOWN[$n]:-}${DELIBERATE[$n]:-}" ]]; then
    verdict="TEND PASSES: remove it from KNOWN/DELIBERATE"
  fi
  printf '%-86s %-5s %-6s %-5s %s\n' "$n" "$r" "$m" "$t" "$verdict"
  case $verdict in ok | known:* | deliberate:*) ;; *) failed=1 ;; esac
done
((${#names[@]} > 20)) || { echo "compat: only ${#names[@]} cases ran" >&2; failed=1; }

# Upstream's file itself, unchanged, against the reference: it must pass as it does in tini's CI.
echo "== upstream test/run_inner_tests.py against $ref"
if (cd "$work/ref" && SOURCE_DIR="$src" BUILD_DIR="$work/ref" FORCE_SUBREAPER=1 \
    /usr/bin/timeout 600 /usr/bin/python3 "$src/test/run_inner_tests.py" >"$work/inner.log" 2>&1); then
  tail -2 "$work/inner.log"
else
  echo "upstream run_inner_tests.py FAILED against the reference:"; tail -30 "$work/inner.log"; failed=1
fi
exit $failed
