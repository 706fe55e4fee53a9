#!/usr/bin/env bash
# Installs what the browser test (tests/ui) needs: Debian's chromium and the pinned npm playwright-core.
# Idempotent: apt runs only when chromium is missing, npm only when node_modules is out of date.
# playwright-core never downloads a browser; the test drives /usr/bin/chromium.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ui="$root/tests/ui"

SUDO=; [[ $(id -u) -ne 0 ]] && SUDO=sudo
missing=()
dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed" || missing+=(chromium)
# By command, not package: a nodejs package from elsewhere (NodeSource) bundles npm.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "ui-deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci wipes and reinstalls; skip it when the installed tree already matches the lock file.
stamp="$ui/node_modules/.package-lock.json"
if [[ ! -f "$stamp" || "$ui/package-lock.json" -nt "$stamp" ]]; then
  echo "ui-deps: npm ci in tests/ui" >&2
  (cd "$ui" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
