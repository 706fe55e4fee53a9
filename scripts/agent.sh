#!/usr/bin/env bash
# The main job: builds tend (installing what it needs) and starts `tend agent` with its embedded
# defaults: http://127.0.0.1:8600, state in ./tend-data. Extra arguments go to `tend agent`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
cmake -S "$root" -B "$root/build-release" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DTEND_BUILD_TESTS=OFF -DTEND_BUILD_BENCH=OFF >/dev/null
cmake --build "$root/build-release" -j"$(nproc)" --target tend
exec "$root/build-release/src/cli/tend" agent "$@"
