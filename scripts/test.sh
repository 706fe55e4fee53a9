#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what it needs, builds, runs every test (ctest),
# then builds again with AddressSanitizer + UndefinedBehaviorSanitizer and runs the suite again
# (the browser test only once: it tests the page, not memory safety).
#
#   ./scripts/test.sh            everything
#   TEND_NO_ASAN=1 ./scripts/test.sh   skip the sanitizer pass (quicker local runs)
#
# A failed test is run again, up to 3 attempts (scripts/ctest-retry.sh): one that fails every
# attempt fails the suite; one that passed only on a retry is named at the end.
#
# Root is needed for the parts that use real cgroups and PID namespaces; without it those tests
# skip loudly (CI runs as root, so there they run).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
# Every test that passed only on a retry (scripts/ctest-retry.sh) is listed here and printed last.
export TEND_FLAKY_LOG=$PWD/flaky-tests.txt
: >"$TEND_FLAKY_LOG"
report_flaky() {
  if [[ -s $TEND_FLAKY_LOG ]]; then
    printf '\n== tests that passed only on a retry (flaky, to be fixed):\n'
    cat "$TEND_FLAKY_LOG"
  fi
}
trap report_flaky EXIT

TEND_TEST_EXTRAS=1 ./scripts/deps.sh
./scripts/ui-deps.sh

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
# ccache (installed by deps.sh) makes a rebuild of unchanged files nearly free: the three builds
# below share most of their work across CI runs on the same machine.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

step "build"
# Prefix /usr: the install tests build the .deb from this tree (nothing is installed on the host).
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  "${launcher[@]}" >/dev/null
cmake --build build -j"$jobs"

step "tests"
./scripts/ctest-retry.sh --test-dir build --timeout 600 -j"$jobs"
step "init and agent tests again at the session level (the fallback without a writable cgroup v2)"
TEND_SCOPE=session ./scripts/ctest-retry.sh --test-dir build --timeout 600 -L "init|agent"
step "scenario, init and agent tests again with the CPUs oversubscribed 4x (stress-ng)"
./scripts/stress-tests.sh scenario init agent

if [[ "${TEND_NO_ASAN:-0}" != 1 ]]; then
  step "build with ASan+UBSan"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTEND_SANITIZE=ON \
    -DTEND_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
  cmake --build build-asan -j"$jobs"
  step "tests under ASan+UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ./scripts/ctest-retry.sh --test-dir build-asan --timeout 900 -j"$jobs" -LE "ui|vm|compat"
fi

step "fuzz the parsers: the agent's job requests and HTTP request heads (libFuzzer, 20 s each)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DTEND_FUZZ=ON -DTEND_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_job_request fuzz_http_request
mkdir -p build-fuzz/corpus build-fuzz/corpus-http
./build-fuzz/tests/agent/fuzz_job_request -max_total_time=20 -print_final_stats=1 build-fuzz/corpus
./build-fuzz/tests/http/fuzz_http_request -max_total_time=20 -print_final_stats=1 build-fuzz/corpus-http
step "all tests passed"
