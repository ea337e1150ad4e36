#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The build as a packager sees it: mk/deps.sh's groups, NO_DEPS=1's message
# with a package hidden from the check, the message without root or sudo,
# which group each make target checks, and the environment's CC, CFLAGS,
# CPPFLAGS, LDFLAGS, AR and PKG_CONFIG on every compile and link (a dry run
# of a fresh build dir: nothing is compiled), -Werror only with WERROR=1.
# usage: tests/integration/build.sh BUILD_DIR
name=build
source "$(dirname "$0")/lib.sh"
# a make of its own: none of the make running the tests' flags or variables
submake() {
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u WERROR -u V -u NO_DEPS -u CFLAGS -u CPPFLAGS \
    -u LDFLAGS -u CC -u AR -u PKG_CONFIG make --no-print-directory "$@"
}

# 1. a test package hidden: NO_DEPS=1 names it and gives the apt line
QK_DEPS_HIDE=libcmocka-dev NO_DEPS=1 ./mk/deps.sh test >"$out/o" 2>"$out/e"
rc=$?
[ $rc = 1 ] || fail "NO_DEPS=1 with cmocka hidden: exit $rc, expected 1"
grep -q "missing Debian packages for test: libcmocka-dev$" "$out/e" || { fail "the package is not named"; cat "$out/e"; }
grep -q "apt-get install --no-install-recommends libcmocka-dev$" "$out/e" || fail "no apt line"
# ... and through make: the test stamp runs the same check and stops the build
QK_DEPS_HIDE=libcmocka-dev submake NO_DEPS=1 B="$out/b" "$out/b/.deps-test" >"$out/o" 2>"$out/e"
[ $? != 0 ] || fail "make NO_DEPS=1 with cmocka hidden did not fail"
grep -q "libcmocka-dev" "$out/e" || { fail "make NO_DEPS=1: the package is not named"; cat "$out/e"; }
[ -e "$out/b/.deps-test" ] && fail "a failed check left its stamp"

# 2. running needs only the build group: with every test, bench and tracer
# package hidden, the build check still passes; the test check does not
build_pkgs=$(sed -n 's/^  "build:\([^:]*\):.*/\1/p' mk/deps.sh | sort -u)
others=$(sed -n 's/^  "\(test\|bench\|tracer\):\([^:]*\):.*/\2/p' mk/deps.sh | sort -u |
  comm -23 - <(echo "$build_pkgs") | tr '\n' ' ')
QK_DEPS_HIDE="$others" NO_DEPS=1 ./mk/deps.sh build 2>"$out/e" || { fail "the build group needs a test package"; cat "$out/e"; }
QK_DEPS_HIDE="$others" NO_DEPS=1 ./mk/deps.sh test 2>/dev/null && fail "hidden test packages not missed"
# which group each target checks (a dry run in a fresh build dir)
submake -n B="$out/n" run 2>/dev/null | grep -o 'deps.sh [a-z]*' | sort -u >"$out/run-groups"
[ "$(cat "$out/run-groups")" = "deps.sh build" ] || { fail "make run checks: $(cat "$out/run-groups")"; }
submake -n B="$out/n" test 2>/dev/null | grep -o 'deps.sh [a-z]*' | sort -u | tr '\n' ' ' >"$out/test-groups"
# (the tracer's group too where the kernel has BTF and the tracer is built)
grep -q "deps.sh build deps.sh test " "$out/test-groups" && ! grep -q "deps.sh bench" "$out/test-groups" ||
  fail "make test checks: $(cat "$out/test-groups")"
submake -n B="$out/n" bench >"$out/bench-cmds" 2>/dev/null
grep -q 'deps.sh bench' "$out/bench-cmds" || fail "make bench does not check bench"

# 3. without root or sudo: say so, and what to run
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  QK_DEPS_HIDE=libcmocka-dev setpriv --reuid=nobody --regid=nogroup --clear-groups \
    env PATH=/usr/bin:/bin ./mk/deps.sh test </dev/null >"$out/o" 2>"$out/e"
  rc=$?
  [ $rc = 1 ] || fail "without root: exit $rc"
  grep -q "cannot install them: not root, and no sudo" "$out/e" || { fail "without root: no reason"; cat "$out/e"; }
  grep -q "ask an administrator to run: apt-get update && apt-get install --no-install-recommends libcmocka-dev" "$out/e" ||
    fail "without root: no command to run"
else
  echo "SKIP: the no-root case needs root to become nobody"
fi

# 4. dpkg-buildflags-style flags reach every compile and link.  Markers
# that change nothing ride along, so each line can be checked.
cflags="$(dpkg-buildflags --get CFLAGS 2>/dev/null || echo -O2 -g) -DQK_PROBE_CFLAGS"
ldflags="$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get LDFLAGS 2>/dev/null) -L/qk-probe-ldflags"
cat >"$out/pkgconf" <<SH
#!/bin/sh
echo "\$@" >>"$out/pkgconf.log"
exec pkg-config "\$@"
SH
chmod +x "$out/pkgconf"
submake -n B="$out/f" V=1 CC=gcc AR=/usr/bin/ar PKG_CONFIG="$out/pkgconf" CFLAGS="$cflags" \
  CPPFLAGS="-DQK_PROBE_CPPFLAGS" LDFLAGS="$ldflags" all tests benches >"$out/cmds" 2>"$out/e" ||
  { fail "dry run failed"; cat "$out/e"; }
# one line per command (recipes continue lines with a backslash)
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$out/cmds" | grep -E '^gcc ' >"$out/cc"
[ "$(wc -l <"$out/cc")" -gt 50 ] || fail "the dry run shows only $(wc -l <"$out/cc") compiler lines"
while read -r line; do
  case " $line " in *" -c "*) kind=compile ;; *) kind=link ;; esac
  [[ $line == *QK_PROBE_CFLAGS* ]] || fail "CFLAGS missing: ${line:0:160}"
  [[ $line == *-fstack-protector-strong* ]] || fail "dpkg CFLAGS missing: ${line:0:160}"
  if [ $kind = compile ]; then
    [[ $line == *QK_PROBE_CPPFLAGS* ]] || fail "CPPFLAGS missing: ${line:0:160}"
  else
    [[ $line == */qk-probe-ldflags* ]] || fail "LDFLAGS missing: ${line:0:160}"
  fi
done <"$out/cc"
grep -q 'gen/.*\.pb-c\.c' "$out/cc" || fail "the generated protobuf code is not compiled in the dry run"
grep -E '(^| )ar rcs' "$out/cmds" | grep -qv '^/usr/bin/ar' && fail "an archive not made with \$(AR)"
grep -q '/usr/bin/ar rcs' "$out/cmds" || fail "AR not used"
[ -s "$out/pkgconf.log" ] || fail "PKG_CONFIG not used"
grep -q -- '-Werror ' "$out/cc" && fail "-Werror without WERROR=1"
submake -n B="$out/f" V=1 CC=gcc WERROR=1 all >"$out/werror-cmds" 2>/dev/null
grep -E '^gcc .* -c .*\.c$' "$out/werror-cmds" | grep -v -- ' -w ' | grep -qv -- '-Werror' &&
  fail "WERROR=1: a compile without -Werror"

# 5. the programs really bind now (built by `make`, checked here)
for f in "$bin"/qiki "$bin"/qikictl "$bin"/qiki-sim "$bin"/qiki-agent "$bin"/qiki-telemetry; do
  readelf -d "$f" | grep -q 'BIND_NOW\|FLAGS.*NOW' || fail "$(basename "$f") lacks BIND_NOW"
done
finish
