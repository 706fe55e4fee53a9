#!/usr/bin/env bash
# Boots a pure cgroup v2 kernel under qemu and runs tend's limit tests in it (tests/vm/vm_init.sh).
#   run_vm.sh TEND_BINARY EAT_BINARY WORKDIR [SPAWN_BENCH TINY_TRUE]
# With the last two (not in ctest), the VM also runs bench/spawn_bench 2 and prints its table
# ("BENCH" lines): the whole-Job cost with cgroup v2 limits, under TCG.
# Exit 0: every test in the VM passed; 1: one failed or the VM did not report; 77: skipped (a
# requirement is missing and CI is not "true").
set -euo pipefail
tend=$1 eat=$2 work=$3 bench=${4:-} tiny=${5:-}
here=$(cd "$(dirname "$0")" && pwd)

missing() {
  if [[ "${CI:-}" == true ]]; then
    echo "FAIL: $1 (required under CI=true)" >&2
    exit 1
  fi
  echo "SKIPPED LOUDLY: $1" >&2
  exit 77
}

kernel() { ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -1; }
if ! command -v qemu-system-x86_64 >/dev/null || [[ -z "$(kernel)" ]] || [[ ! -x /bin/busybox ]] ||
  ! command -v cpio >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing qemu-system-x86 linux-image-amd64 busybox-static cpio" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      qemu-system-x86 linux-image-amd64 busybox-static cpio >&2 ||
      missing "apt-get install qemu-system-x86 linux-image-amd64 busybox-static cpio failed"
  fi
fi
command -v qemu-system-x86_64 >/dev/null || missing "no qemu-system-x86_64"
[[ -n "$(kernel)" ]] || missing "no /boot/vmlinuz-*-amd64 (linux-image-amd64)"
[[ -x /bin/busybox ]] || missing "no /bin/busybox (busybox-static)"
[[ -r "$(kernel)" ]] || missing "$(kernel) is not readable"

rm -rf "$work" && mkdir -p "$work/root"
root=$work/root
mkdir -p "$root"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$root/bin/"
for c in $(/bin/busybox --list); do [[ -e "$root/bin/$c" ]] || ln -s busybox "$root/bin/$c"; done
# tend and every library it needs, at the same paths (the dynamic loader included).
mkdir -p "$root/usr/local/bin"
cp "$eat" "$root/bin/eat"
copy_with_libs() { # BINARY DEST
  mkdir -p "$root$(dirname "$2")"
  cp "$1" "$root$2"
  for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}
copy_with_libs "$tend" /usr/local/bin/tend
if [[ -n "$bench" ]]; then
  copy_with_libs "$bench" /usr/local/bin/spawn_bench
  copy_with_libs "$tiny" "$(realpath "$tiny")" # spawn_bench has its absolute path built in
fi
cp "$here/vm_init.sh" "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

# TCG: this host's KVM does not get past the option ROM (docs: shared/notes); ~25 s to /init.
log=$work/console.log
set +e
timeout $([[ -n "$bench" ]] && echo 900 || echo 300) qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 1 -nographic -no-reboot \
  -kernel "$(kernel)" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 panic=-1 loglevel=3 quiet" </dev/null >"$log" 2>&1
qemu_rc=$?
set -e
tr -d '\r' <"$log" | grep -E '^(RESULT|INFO|BENCH) ' || true
pass=$(tr -d '\r' <"$log" | grep -c '^RESULT .* PASS' || true)
fail=$(tr -d '\r' <"$log" | grep -c '^RESULT .* FAIL' || true)
if ! tr -d '\r' <"$log" | grep -q '^VM-TESTS-DONE'; then
  echo "the VM did not finish its tests (qemu exit $qemu_rc); console:" >&2
  tail -40 "$log" >&2
  exit 1
fi
echo "vm: $pass passed, $fail failed"
[[ $fail -eq 0 && $pass -gt 0 ]]
