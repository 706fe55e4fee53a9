#!/usr/bin/env bash
# The .deb on a clean Debian 12 (a debootstrap minbase root): apt resolves its dependencies from
# Debian's archive, dpkg runs its maintainer scripts inside the root, and the installed tend runs
# there. The pristine root is made once and kept in the build dir ($BUILD/debian12-root.tar,
# about 3 min to make, 170 MB); each run unpacks a copy. Mounts live in a private mount namespace.
source "$(dirname "$0")/lib.sh"
[[ $(id -u) == 0 ]] || missing "needs root (chroot, mounts)"
for tool in debootstrap unshare chroot dpkg-deb; do
  command -v "$tool" >/dev/null || missing "$tool is not installed (scripts/deps.sh)"
done
[[ $PREFIX == /usr ]] ||
  missing "the .deb needs a build configured with -DCMAKE_INSTALL_PREFIX=/usr (this one: $PREFIX)"
mirror=${TEND_DEBIAN_MIRROR:-http://deb.debian.org/debian}

cache="$BUILD/debian12-root.tar"
if [[ ! -f $cache ]]; then
  echo "making a Debian 12 root with debootstrap (once; kept as $cache)"
  start=$SECONDS
  debootstrap --variant=minbase bookworm "$WORK/pristine" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log"; missing "debootstrap bookworm from $mirror failed"; }
  rm -rf "$WORK/pristine/var/cache/apt/archives/"*.deb
  tar -C "$WORK/pristine" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
  rm -rf "$WORK/pristine"
  echo "debootstrap took $((SECONDS - start)) s"
fi

"$SRC/scripts/package.sh" "$BUILD" "$WORK/pkg" >"$WORK/package.log" 2>&1 ||
  { cat "$WORK/package.log"; fail "scripts/package.sh"; }
deb=$(find "$WORK/pkg" -maxdepth 1 -name 'tend_*.deb')

root="$WORK/root"
mkdir "$root"
tar -C "$root" -xf "$cache"
cp "$deb" "$root/tmp/tend.deb"
cp /etc/resolv.conf "$root/etc/resolv.conf"
echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
cat >"$root/tmp/inside.sh" <<'INSIDE'
set -eu
fail() { echo "FAIL (in the root): $*" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin
apt-get update -qq >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; fail "apt-get update"; }
apt-get install -y -qq --no-install-recommends /tmp/tend.deb >>/tmp/apt.log 2>&1 ||
  { cat /tmp/apt.log; fail "apt-get install ./tend.deb"; }
dpkg -s tend | grep -q '^Status: install ok installed' || fail "tend is not installed"
dpkg -s tend | grep -q '^ /etc/tend/agent.conf ' || fail "agent.conf is not a conffile"
[ "$(command -v tend)" = /usr/bin/tend ] || fail "tend is not on PATH"
rc=0; tend doctor >/tmp/doctor || rc=$?
grep -q '^containment level: ' /tmp/doctor || fail "tend doctor said: $(cat /tmp/doctor)"
echo "doctor $rc $(sed -n 's/^containment level: \([a-z]*\).*/\1/p' /tmp/doctor)"
tend run -- true || fail "tend run -- true exited $?"
rc=0; tend run -- sh -c 'exit 3' || rc=$?
[ $rc = 3 ] || fail "tend run -- sh -c 'exit 3' exited $rc"
tend agent --help | grep -q -- --listen || fail "tend agent --help (tend-agent's libraries?)"
apt-get purge -y -qq tend >>/tmp/apt.log 2>&1 || fail "apt-get purge tend"
[ ! -e /etc/tend/agent.conf ] && [ ! -e /usr/bin/tend ] || fail "purge left files"
echo "inside: ok"
INSIDE

# Outside the root, the host's tend doctor gives the status to expect inside (same kernel, same
# cgroup mount).
want=0
"$TEND" doctor >/dev/null || want=$?
start=$SECONDS
out=$(unshare -m --propagation private sh -c '
  set -e
  mount -t proc proc "$1/proc"
  mount --rbind /sys "$1/sys"
  mount --rbind /dev "$1/dev"
  chroot "$1" sh /tmp/inside.sh' sh "$root" 2>&1) || { echo "$out"; fail "in the Debian 12 root"; }
echo "$out"
grep -qx "inside: ok" <<<"$out" || fail "the root's script did not finish"
grep -q "^doctor $want " <<<"$out" || fail "tend doctor in the root: $(grep ^doctor <<<"$out"), host: $want"
echo "ok: apt-get install ./tend.deb on Debian 12 minbase, doctor, run, purge ($((SECONDS - start)) s)"
