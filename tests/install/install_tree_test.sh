#!/usr/bin/env bash
# `cmake --install` into a prefix in the build dir, then a program outside the tree builds against
# it three ways (find_package with tend::tend and tend::tend_static, pkg-config) and runs a job.
source "$(dirname "$0")/lib.sh"
command -v pkg-config >/dev/null || missing "pkg-config is not installed (scripts/deps.sh)"
build_installables

prefix="$BUILD/install-test-prefix"
rm -rf "$prefix"
# bin and lib only: the `system` component writes to /etc when the build's prefix is /usr.
for component in bin lib; do
  "$CMAKE" --install "$BUILD" --prefix "$prefix" --component "$component" >/dev/null
done
[[ ! -e "$prefix/etc" ]] || fail "installing bin and lib wrote $prefix/etc"

# The installed tend runs from the prefix and runs a job.
"$prefix/bin/tend" --version | grep -cx "tend [0-9.]*" >/dev/null || fail "installed tend --version"
expect_status 3 "$prefix/bin/tend" run -- sh -c 'exit 3'

# The man pages are installed and render without a groff warning.
command -v man >/dev/null || missing "man is not installed (TEND_TEST_EXTRAS=1 scripts/deps.sh)"
for page in man1/tend.1 man1/tend-run.1 man1/tend-timeout.1 man1/tend-init.1 man8/tend-agent.8; do
  file="$prefix/share/man/$page.gz"
  [[ -f $file ]] || fail "no $file"
  warnings=$(MANWIDTH=80 man --warnings -l "$file" 2>&1 >/dev/null)
  [[ -z $warnings ]] || fail "man $page: $warnings"
done

# What a job reports through the library (the consumer prints "CODE REASON LEVEL").
want="3 exited $("$TEND" doctor --json | sed -n 's/.*"scope_level": "\(.*\)".*/\1/p')"

for link in tend::tend tend::tend_static; do
  dir="$WORK/cmake-${link#tend::}"
  "$CMAKE" -S "$SRC/tests/install/consumer" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_PREFIX_PATH="$prefix" -DTEND_LINK="$link" >"$WORK/configure.log" 2>&1 ||
    { cat "$WORK/configure.log"; fail "find_package(tend) from $prefix ($link)"; }
  "$CMAKE" --build "$dir" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; fail "build ($link)"; }
  # The consumer must use the installed headers, not the source tree's.
  grep -q "$SRC/include" "$dir/build.ninja" && fail "$link: the consumer saw $SRC/include"
  got=$("$dir/consumer") || fail "$link: consumer failed"
  [[ $got == "$want" ]] || fail "$link: consumer printed '$got', expected '$want'"
  if [[ $link == tend::tend ]]; then
    ldd "$dir/consumer" | grep -c "$prefix/.*libtend\.so" >/dev/null || fail "consumer does not load $prefix's libtend.so"
  else
    ldd "$dir/consumer" | grep -c "libtend\.so" >/dev/null && fail "tend::tend_static links libtend.so"
  fi
  echo "ok: find_package(tend) with $link: $got"
done

# tendConfigVersion.cmake is installed and consulted: 0.x promises nothing across minor versions.
if "$CMAKE" -S "$SRC/tests/install/consumer" -B "$WORK/cmake-version" -G Ninja \
  -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_PREFIX_PATH="$prefix" -DTEND_VERSION_WANTED=0.99 \
  >"$WORK/version.log" 2>&1; then
  fail "find_package(tend 0.99) accepted version $("$prefix/bin/tend" --version)"
fi
# Without the version file CMake would print "version: unknown".
grep -q "tendConfig.cmake, version: $("$prefix/bin/tend" --version | cut -d' ' -f2)" "$WORK/version.log" ||
  { cat "$WORK/version.log"; fail "find_package(tend 0.99) was not refused for its version"; }

# pkg-config, with the prefix moved to where this tree was installed.
libdir=$(dirname "$(find "$prefix" -name tend.pc)")
export PKG_CONFIG_PATH="$libdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pc=(pkg-config --define-variable=prefix="$prefix")
[[ $("${pc[@]}" --modversion tend) == "$("$prefix/bin/tend" --version | cut -d' ' -f2)" ]] ||
  fail "tend.pc's version differs from tend --version"
# shellcheck disable=SC2046
"$CXX" -std=c++20 -o "$WORK/pc-consumer" "$SRC/tests/install/consumer/main.cpp" \
  $("${pc[@]}" --cflags --libs tend) || fail "build with pkg-config --cflags --libs tend"
got=$(LD_LIBRARY_PATH="$(dirname "$libdir")" "$WORK/pc-consumer") || fail "pkg-config consumer failed"
[[ $got == "$want" ]] || fail "pkg-config consumer printed '$got', expected '$want'"
echo "ok: pkg-config tend: $got"
