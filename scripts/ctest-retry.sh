#!/usr/bin/env bash
# ctest with a failed test run again (up to 3 attempts), and every test that needed it named.
#
#   ./scripts/ctest-retry.sh --test-dir build -L agent ...   (any ctest arguments)
#
# Why: CI runs over 1,500 test executions on a shared, noisy machine (three suites, one beside
# stress-ng, one under ASan). A test that fails one time in a thousand stopped whole stops from
# landing, and its output was lost with the machine. A test that fails every attempt still fails
# CI; one that passed only on a retry is listed in $TEND_FLAKY_LOG (default: flaky-tests.txt in the
# test directory) and printed at the end of scripts/test.sh, so it is seen and fixed, not hidden.
set -uo pipefail
cd "$(dirname "$0")/.."

test_dir=build
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [[ ${args[i]} == --test-dir ]] && test_dir=${args[i + 1]}
done
flaky_log=${TEND_FLAKY_LOG:-$test_dir/flaky-tests.txt}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

ctest --output-on-failure --repeat until-pass:3 "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}

# A failed attempt: "Test #12: Name ....***Failed" (or ***Timeout, ***Exception: ..., ***Not Run);
# a parameterised test's name is followed by "  # GetParam() = ...".
failed_once=$(sed -nE 's/^.*Test +#[0-9]+: ([^ ]+) .*\*\*\*(Failed|Timeout|Exception|Not Run).*$/\1/p' "$out" | sort -u)
# Tests still failing at the end, from ctest's closing list: "\t 12 - Name (Failed)".
failed_last=$(sed -n '/^The following tests FAILED:/,$p' "$out" | sed -nE 's/^[[:space:]]+[0-9]+ - ([^ ]+) .*$/\1/p' | sort -u)
flaky=$(comm -23 <(printf '%s\n' "$failed_once" | sed '/^$/d') <(printf '%s\n' "$failed_last" | sed '/^$/d'))
if [[ -n $flaky ]]; then
  label="ctest $*"
  while IFS= read -r name; do
    printf '%s\t(%s)\n' "$name" "$label" >>"$flaky_log"
    printf '== passed only on a retry (a flaky test, to be fixed): %s\n' "$name"
  done <<<"$flaky"
fi
exit "$status"
