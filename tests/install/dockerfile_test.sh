#!/usr/bin/env bash
# Docker cannot run on the CI machine, so the Dockerfile is checked, not built: its base is
# Debian 12, its entrypoint `tend init --`, and the commands it runs to build the package are the
# ones CI runs (scripts/deps.sh; scripts/package.sh, which deb_test.sh runs and tests).
source "$(dirname "$0")/lib.sh"
df="$SRC/Dockerfile"
[[ -f $df ]] || fail "no Dockerfile"

grep -E '^FROM ' "$df" | grep -vqE '^FROM debian:12(-slim)?( |$)' && fail "a stage is not Debian 12"
grep -qx 'ENTRYPOINT \["tend", "init", "--"\]' "$df" || fail "the entrypoint is not tend init --"

# The build stage's RUN lines are exactly the scripts CI uses, and those scripts exist.
runs=$(sed -n '/^FROM .* AS build/,/^FROM /p' "$df" | sed -n 's/^RUN //p')
[[ $runs == $'./scripts/deps.sh\n./scripts/package.sh build-deb /out' ]] ||
  fail "the build stage runs something CI does not: $runs"
for script in deps.sh package.sh; do [[ -x $SRC/scripts/$script ]] || fail "scripts/$script"; done
grep -q '"$SRC/scripts/package.sh"' "$SRC/tests/install/deb_test.sh" ||
  fail "deb_test.sh no longer builds the package with scripts/package.sh"
grep -q 'scripts/deps.sh' "$SRC/scripts/test.sh" || fail "CI no longer installs with scripts/deps.sh"
# `COPY . .` must not bring a build tree along: package.sh would reuse its CMakeCache.
grep -qx 'build\*/' "$SRC/.dockerignore" || fail ".dockerignore does not exclude build*/"
# The runtime stage installs the .deb the build stage made, and nothing else.
grep -q 'apt-get install -y --no-install-recommends /tmp/tend/tend_\*\.deb' "$df" ||
  fail "the image does not install the built .deb"
echo "ok: Dockerfile: Debian 12, entrypoint tend init --, built by scripts/deps.sh + scripts/package.sh"
