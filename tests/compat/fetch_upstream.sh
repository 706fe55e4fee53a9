#!/usr/bin/env bash
# Fetches the upstream source of a Debian package (Debian 12's, the versions the reference tools
# come from: coreutils 9.1, tini 0.19.0) and unpacks the listed paths of its original tarball.
#
#   fetch_upstream.sh PACKAGE CACHE_DIR [PATH_IN_TARBALL...]   prints the unpacked directory
#
# apt-get source runs with a private deb-src list and private package lists under CACHE_DIR: the
# machine's apt configuration is not changed. apt checks the files against the signed Sources
# index; the tarball is checked again here against the .dsc's SHA-256. Exit 77 (skip) when the
# archive cannot be reached; CI=true turns that into a failure (see tests/compat/README.md).
set -euo pipefail
pkg=$1 cache=$2
shift 2
mkdir -p "$cache/apt/lists/partial" "$cache/$pkg"
cache=$(cd "$cache" && pwd)
unpacked=$(ls -d "$cache/$pkg"/*/ 2>/dev/null | head -1 || true)
if [[ -n "$unpacked" && -f "$cache/$pkg/.complete" ]]; then
  echo "${unpacked%/}"
  exit 0
fi

missing() {
  echo "fetch_upstream: $*" >&2
  [[ "${CI:-}" == true ]] && exit 1
  echo "fetch_upstream: SKIPPED (set CI=true to make this a failure)" >&2
  exit 77
}

suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
echo "deb-src http://deb.debian.org/debian $suite main" >"$cache/apt/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$cache/apt/sources.list" -o "Dir::Etc::sourceparts=-"
          -o "Dir::State::Lists=$cache/apt/lists" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" -qq update >&2 || missing "cannot read Debian's Sources index"
# The source of the installed reference binary when there is one, so that tests and tool match.
version=$(dpkg-query -W -f='${source:Version}' "$pkg" 2>/dev/null || true)
(cd "$cache/$pkg" && apt-get "${apt_opts[@]}" -qq source --download-only "$pkg${version:+=$version}" >&2) ||
  missing "apt-get source $pkg${version:+=$version} failed"

dsc=$(ls "$cache/$pkg"/*.dsc | head -1)
orig=$(awk '/^Checksums-Sha256:/{f=1;next} /^[^ ]/{f=0} f && $3 ~ /\.orig\.tar\./ {print $3}' "$dsc")
want=$(awk -v o="$orig" '/^Checksums-Sha256:/{f=1;next} /^[^ ]/{f=0} f && $3==o {print $1}' "$dsc")
have=$(sha256sum "$cache/$pkg/$orig" | cut -d' ' -f1)
[[ -n "$want" && "$want" == "$have" ]] || { echo "fetch_upstream: $orig: SHA-256 mismatch" >&2; exit 1; }
tar -xf "$cache/$pkg/$orig" -C "$cache/$pkg" --wildcards "$@"
touch "$cache/$pkg/.complete"
unpacked=$(ls -d "$cache/$pkg"/*/ | head -1)
echo "${unpacked%/}"
