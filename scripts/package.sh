#!/usr/bin/env bash
# Builds the Debian package tend_VERSION_ARCH.deb (CPack). The Dockerfile and CI run this.
#
#   ./scripts/package.sh [BUILD_DIR [OUT_DIR]]     (defaults: build-deb, BUILD_DIR)
#
# A BUILD_DIR that does not exist yet is configured for packaging (prefix /usr, no tests or
# benchmarks); an existing one is used as it is configured (cpack refuses a prefix other than /usr).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-deb}
out=${2:-$build}

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
    -DTEND_BUILD_TESTS=OFF -DTEND_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target tend_installables
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$out"
ls "$out"/tend_*.deb
