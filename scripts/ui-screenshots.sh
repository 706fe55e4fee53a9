#!/usr/bin/env bash
# Refreshes docs/screenshots/ from the browser test: the same run that asserts the page takes the
# pictures, so they show what was checked. Needs a built tend (BUILD, default ./build) and
# scripts/ui-deps.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD:-$root/build}"
TEND_BINARY="$build/src/cli/tend" TEND_UI_ARTIFACTS="${TMPDIR:-/tmp}" \
  TEND_UI_SCREENSHOTS="$root/docs/screenshots" node "$root/tests/ui/run.mjs"
# The fleet's page (tend server): needs etcd-server too.
TEND_BINARY="$build/src/cli/tend" TEND_UI_ARTIFACTS="${TMPDIR:-/tmp}" \
  TEND_UI_SCREENSHOTS="$root/docs/screenshots" node "$root/tests/ui/run.mjs" fleet_page.test.mjs --need-etcd
