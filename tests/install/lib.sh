# Shared by the install tests. Sourced; the test's environment comes from CMake (see CMakeLists).
set -euo pipefail

# A missing requirement skips (77, ctest's SKIP_RETURN_CODE) elsewhere, fails under CI=true.
missing() {
  if [[ "${CI:-}" == true ]]; then
    echo "FAIL (CI=true): $*" >&2
    exit 1
  fi
  echo "SKIP: $*" >&2
  exit 77
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# expect_status N CMD...: runs CMD, fails unless it exits with N.
expect_status() {
  local want=$1 got=0
  shift
  "$@" || got=$?
  [[ $got == "$want" ]] || fail "$* exited $got, expected $want"
}

# The programs, library, man pages and completions the install rules copy, built if needed.
build_installables() {
  "$CMAKE" --build "$BUILD" --target tend_installables >/dev/null ||
    fail "cannot build the target tend_installables in $BUILD"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tend-install-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
