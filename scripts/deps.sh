#!/usr/bin/env bash
# Installs the Debian packages tend builds and tests with. Idempotent; skips apt when all are present.
set -euo pipefail
pkgs=(g++ cmake ninja-build pkg-config ccache libboost1.81-dev zlib1g-dev libssl-dev
      libcli11-dev libfmt-dev nlohmann-json3-dev libcpp-httplib-dev libsqlite3-dev
      libgtest-dev libgmock-dev libbenchmark-dev
      clang libclang-rt-14-dev util-linux procps psmisc python3 bash
      scdoc dpkg-dev file)   # man pages; the .deb (dpkg-shlibdeps needs dpkg-dev and file)
if [[ "${TEND_TEST_EXTRAS:-0}" == 1 ]]; then
  # python3-psutil, python3-prctl: tini's own tests (tests/compat) import them.
  pkgs+=(tini dumb-init catatonit hyperfine zsh debootstrap man-db python3-psutil python3-prctl
         etcd-server etcd-client openssl)  # the fleet tests: a real etcd cluster; TLS certificates
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
