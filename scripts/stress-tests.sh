#!/usr/bin/env bash
# The timing-sensitive suites with the CPUs oversubscribed 4x: `stress-ng --cpu` runs 4 busy
# workers per CPU beside ctest for as long as the tests run (and is stopped on any exit). A test
# that passes only on an idle machine fails here: waits must be on conditions, bounds generous.
#
#   ./scripts/stress-tests.sh                       labels scenario, init and agent
#   ./scripts/stress-tests.sh scenario init         only these labels
#   BUILD_DIR=build-asan ./scripts/stress-tests.sh  another build directory
#
# Needs a built tree (scripts/test.sh builds one). Installs stress-ng with apt-get if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
labels=("$@")
[[ ${#labels[@]} -gt 0 ]] || labels=(scenario init agent)
regex=$(IFS='|'; echo "${labels[*]}")

if ! command -v stress-ng >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null
fi

workers=$(( $(nproc) * 4 ))
stress-ng --cpu "$workers" --timeout 0 --quiet &
stress_pid=$!
trap 'kill "$stress_pid" 2>/dev/null || true; wait "$stress_pid" 2>/dev/null || true' EXIT

printf '== ctest -L "%s" beside stress-ng --cpu %d (%s)\n' "$regex" "$workers" "$(date -u +%H:%M:%S)"
./scripts/ctest-retry.sh --test-dir "$build" --timeout 900 -L "$regex" -j"$(nproc)"
