#!/usr/bin/env bash
# Builds tend_*.deb with CPack, checks what it holds, installs it with dpkg into an empty root and
# runs the installed tend from there: doctor, a job, a job's exit status.
source "$(dirname "$0")/lib.sh"
for tool in dpkg dpkg-deb dpkg-shlibdeps file; do
  command -v "$tool" >/dev/null || missing "$tool is not installed (scripts/deps.sh)"
done
[[ $PREFIX == /usr ]] ||
  missing "the .deb needs a build configured with -DCMAKE_INSTALL_PREFIX=/usr (this one: $PREFIX)"
build_installables

# The command the Dockerfile runs; it builds everything first (a no-op after CI's full build).
"$SRC/scripts/package.sh" "$BUILD" "$WORK/pkg" >"$WORK/package.log" 2>&1 ||
  { cat "$WORK/package.log"; fail "scripts/package.sh"; }
deb=$(find "$WORK/pkg" -maxdepth 1 -name 'tend_*.deb')
[[ -f $deb ]] || fail "no tend_*.deb in $WORK/pkg"
[[ $(basename "$deb") == tend_$("$TEND" --version | cut -d' ' -f2)_$(dpkg --print-architecture).deb ]] ||
  fail "unexpected name $(basename "$deb")"
echo "ok: built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

# Contents: every file a user of the package relies on.
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$WORK/files"
for f in /usr/bin/tend /usr/bin/tend-agent /usr/bin/tend-server \
  /usr/share/man/man1/tend.1.gz /usr/share/man/man1/tend-run.1.gz \
  /usr/share/man/man1/tend-timeout.1.gz /usr/share/man/man1/tend-init.1.gz \
  /usr/share/man/man8/tend-agent.8.gz \
  /usr/share/bash-completion/completions/tend /usr/share/zsh/vendor-completions/_tend \
  /usr/lib/systemd/system/tend-agent.service /etc/tend/agent.conf \
  /usr/include/tend/job.hpp; do
  grep -qx "$f" "$WORK/files" || fail "the .deb lacks $f"
done
for pattern in '/usr/lib/.*libtend\.so\.[0-9.]*$' '/usr/lib/.*libtend\.a$' \
  '/usr/lib/.*cmake/tend/tendConfig\.cmake$' '/usr/lib/.*cmake/tend/tendConfigVersion\.cmake$' \
  '/usr/lib/.*pkgconfig/tend\.pc$'; do
  grep -q "$pattern" "$WORK/files" || fail "the .deb lacks $pattern"
done
grep -q "^/usr/local" "$WORK/files" && fail "the .deb installs under /usr/local"

# Control data: the conffile, maintainer scripts, dependencies found by dpkg-shlibdeps.
dpkg-deb -e "$deb" "$WORK/control"
grep -qx /etc/tend/agent.conf "$WORK/control/conffiles" || fail "agent.conf is not a conffile"
for script in postinst prerm postrm; do
  [[ -x "$WORK/control/$script" ]] || fail "no executable $script"
  sh -n "$WORK/control/$script" || fail "$script: syntax"
done
grep -q '^Depends:.*libc6' "$WORK/control/control" || fail "no Depends on libc6 (shlibdeps)"

# The unit: what systemd must do for the agent and its jobs.
unit="$WORK/tend-agent.service"
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/systemd/system/tend-agent.service >"$unit"
for line in Delegate=yes KillMode=process Type=exec Restart=on-failure \
  "ExecStart=/usr/bin/tend-agent agent --config /etc/tend/agent.conf"; do
  grep -qx "$line" "$unit" || fail "tend-agent.service lacks '$line'"
done
if command -v systemd-analyze >/dev/null; then
  # Everything but the two complaints expected here: the binary and man are not installed.
  complaints=$(systemd-analyze verify "$unit" 2>&1 |
    grep -v "^tend-agent.service: Command \(/usr/bin/tend-agent is not executable\|'man \)" || true)
  [[ -z $complaints ]] || fail "systemd-analyze verify: $complaints"
fi

# The conf file: every key is an agent option (so `--config` can read it).
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/tend/agent.conf >"$WORK/agent.conf"
keys=$(sed -nE 's/^#?([a-z-]+) = .*/\1/p' "$WORK/agent.conf")
[[ $(wc -w <<<"$keys") -ge 5 ]] || fail "agent.conf documents too few keys: $keys"

# Install into an empty root. The root has no shell, so the maintainer scripts run outside it
# (--force-script-chrootless, they honour DPKG_ROOT); it has no libc, hence --force-depends.
root="$WORK/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
dpkg --root="$root" --force-script-chrootless --force-depends --log=/dev/null -i "$deb" \
  >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log"; fail "dpkg -i into an empty root"; }
dpkg --root="$root" -s tend | grep -c "^Status: install ok installed" >/dev/null || fail "not installed"
dpkg --root="$root" -s tend | grep -c "^ /etc/tend/agent.conf [0-9a-f]*$" >/dev/null ||
  fail "dpkg did not register agent.conf as a conffile"
echo "ok: dpkg -i into $root"

# Run the installed programs (with the host's libraries: the root has none of its own).
want=0
"$TEND" doctor >/dev/null || want=$?
expect_status "$want" "$root/usr/bin/tend" doctor
report=$("$root/usr/bin/tend" doctor) || true
grep -q "^containment level: " <<<"$report" || fail "installed tend doctor printed: $report"
expect_status 0 "$root/usr/bin/tend" run -- true
expect_status 3 "$root/usr/bin/tend" run -- sh -c 'exit 3'
# `tend agent` runs the tend-agent installed beside it.
"$root/usr/bin/tend" agent --help | grep -c -- "--listen" >/dev/null || fail "installed tend agent --help"
echo "ok: installed tend doctor (status $want), run -- true, run -- sh -c 'exit 3'"

# Removal keeps the edited conffile; purge removes it.
echo "# edited" >>"$root/etc/tend/agent.conf"
dpkg --root="$root" --force-script-chrootless --force-depends --log=/dev/null -r tend >/dev/null
[[ -f $root/etc/tend/agent.conf && ! -e $root/usr/bin/tend ]] || fail "dpkg -r"
dpkg --root="$root" --force-script-chrootless --force-depends --log=/dev/null -P tend >/dev/null
[[ ! -e $root/etc/tend/agent.conf ]] || fail "dpkg -P left agent.conf"
echo "ok: dpkg -r keeps the conffile, dpkg -P removes it"
