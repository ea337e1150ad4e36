#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# make install into a staging tree as a Debian package would lay it out;
# every man page opens; BIND_NOW everywhere; the example controller and
# reader build against the installed headers through pkg-config only; the
# installed qiki (helpers found in LIBEXECDIR) runs the example PID over the
# real loop to the setpoint; make uninstall leaves nothing behind.
# usage: tests/integration/install.sh BUILD_DIR
name=install
source "$(dirname "$0")/lib.sh"
stage=$out/stage
export QIKI_LOG_DIR=${QIKI_LOG_DIR:-$out/logs}
# a sub-make of its own, not a child of the make running the tests
submake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory B="$B" "$@"; }

submake install DESTDIR="$stage" PREFIX=/usr >"$out/install.log" 2>&1 ||
  { cat "$out/install.log"; fail "make install"; finish; exit; }

# where a Debian package puts things
for f in usr/bin/qiki usr/bin/qikictl usr/bin/qiki-telemetry \
         usr/libexec/qiki/qiki-sim usr/libexec/qiki/qiki-agent \
         usr/share/man/man1/qiki.1 usr/share/man/man1/qikictl.1 usr/share/man/man1/qiki-sim.1 \
         usr/share/man/man1/qiki-agent.1 usr/share/man/man1/qiki-telemetry.1 \
         usr/share/man/man5/qiki.yaml.5 \
         usr/share/bash-completion/completions/qiki usr/share/bash-completion/completions/qikictl \
         usr/share/bash-completion/completions/qiki-telemetry \
         usr/share/qiki/proto/qiki/v1/telemetry.proto usr/share/qiki/profiles/bot.yaml \
         usr/share/qiki/scenarios/demo.yaml \
         usr/include/qiki/shm/layout.h usr/include/qiki/shm/ring.h usr/include/qiki/shm/cmdq.h \
         usr/include/qiki/shm/mbox.h usr/include/qiki/shm/seg.h \
         usr/include/qiki/rt/agent/controller.h \
         usr/lib/libqiki.a usr/lib/libqiki.so.0 usr/lib/libqiki.so usr/lib/pkgconfig/qiki.pc \
         usr/lib/systemd/system/qiki@.service usr/lib/sysusers.d/qiki.conf \
         etc/security/limits.d/qiki.conf \
         usr/share/doc/qiki/examples/controller/pid.c usr/share/doc/qiki/examples/reader/reader.c; do
  [ -e "$stage/$f" ] || fail "make install did not put /$f"
done
grep -qx "prefix=/usr" "$stage/usr/lib/pkgconfig/qiki.pc" || fail "qiki.pc does not name PREFIX=/usr"
if [ -x "$bin/qiki-rtlat" ]; then	# built where the kernel has BTF
  for f in usr/bin/qiki-rtlat usr/share/man/man1/qiki-rtlat.1; do
    [ -e "$stage/$f" ] || fail "make install did not put /$f"
  done
fi
[ -e "$stage/usr/bin/qiki-agent" ] && fail "qiki-agent is a helper: LIBEXECDIR, not bin"
grep -q "ExecStart=/usr/bin/qiki run" "$stage/usr/lib/systemd/system/qiki@.service" ||
  fail "the unit does not start /usr/bin/qiki"
# the unit as systemd reads it: no unknown key, no bad value (paths pointed
# into the stage so that its commands exist)
if command -v systemd-analyze >/dev/null; then
  sed "s|/usr/bin/|$stage/usr/bin/|g" "$stage/usr/lib/systemd/system/qiki@.service" >"$out/qiki@.service"
  systemd-analyze verify --man=no "$out/qiki@.service" >"$out/verify" 2>&1 || fail "systemd-analyze verify exit $?"
  [ -s "$out/verify" ] && { fail "systemd-analyze verify complains"; cat "$out/verify"; }
fi
for f in "$stage"/usr/share/bash-completion/completions/*; do
  bash -n "$f" || fail "completion $f does not parse"
done

# every page opens and formats without a warning
for m in "$stage"/usr/share/man/man1/*.1 "$stage"/usr/share/man/man5/*.5; do
  if ! MANWIDTH=80 man --warnings -l "$m" >"$out/man.txt" 2>"$out/man.err" || [ -s "$out/man.err" ]; then
    fail "man -l $(basename "$m")"; cat "$out/man.err"
  fi
  grep -q NAME "$out/man.txt" || fail "man -l $(basename "$m"): no NAME section"
done

# start-up binding: no lazy PLT fixup on the hot path
for f in "$stage"/usr/bin/* "$stage"/usr/libexec/qiki/* "$stage"/usr/lib/libqiki.so.0; do
  readelf -d "$f" | grep -q 'BIND_NOW\|FLAGS.*NOW' || fail "$(basename "$f") lacks BIND_NOW"
done

# the examples, copied out of the installed tree, through pkg-config only
export PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_PATH=$stage/usr/lib/pkgconfig
cp -r "$stage/usr/share/doc/qiki/examples" "$out/ex"
for ex in controller reader; do
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$out/ex/$ex" >"$out/ex-$ex.log" 2>&1 ||
    { cat "$out/ex-$ex.log"; fail "examples/$ex does not build against the installed tree"; }
  grep -q -- "-I$stage/usr/include/qiki" "$out/ex-$ex.log" || fail "examples/$ex: not pkg-config's flags"
done
grep -q -- "-I\.\|-I$PWD" "$out"/ex-*.log && fail "an example used the source tree's headers"
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH

# the installed loop with the example controller, to a setpoint.  A shared
# VM can stall a process for long: wide watchdogs so it does not go SAFE.
cat >"$out/wide.yaml" <<'YAML'
profile: bot
limits:
  sensor_stale_cycles: 5000
  actuator_watchdog_cycles: 5000
YAML
export LD_LIBRARY_PATH=$stage/usr/lib

"$stage/usr/bin/qiki" run -i "$inst" -q -c "$out/wide.yaml" --duration 60 \
  --controller "$out/ex/controller/pid.so" >"$out/run.log" 2>&1 &
qpid=$!
ictl() { "$stage/usr/bin/qikictl" -i "$inst" "$@"; }
ok=0
for _ in $(seq 100); do [ "$(ictl state 2>/dev/null)" = IDLE ] && { ok=1; break; }; sleep 0.1; done
[ $ok = 1 ] || { fail "the installed loop did not boot to IDLE"; cat "$out/run.log"; }
# the logger writes from a thread of its own, off the loop's CPU: on a
# loaded machine the line may land after IDLE is seen
for _ in $(seq 50); do
  grep -q "controller: pid-antiwindup from $out/ex/controller/pid.so" "$QIKI_LOG_DIR/$inst/qiki-agent.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "controller: pid-antiwindup from $out/ex/controller/pid.so" "$QIKI_LOG_DIR/$inst/qiki-agent.log" ||
  fail "the agent does not say it runs the example controller"
ictl setpoint 1 -0.5 0.3 >/dev/null || fail "setpoint"
ictl state ACTIVE >/dev/null || fail "ACTIVE"
# the reader sees frames while the loop runs
"$out/ex/reader/reader" "$inst" 20 >"$out/reader.txt" 2>&1 || fail "reader exit $?"
[ "$(grep -cE '^ +[0-9]+ ' "$out/reader.txt")" = 20 ] || { fail "reader did not print 20 frames"; cat "$out/reader.txt"; }
reached=""
for i in $(seq 60); do
  sleep 0.5
  reached=$(ictl status --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin); p = d["position_m"]; v = d["velocity_mps"]; sp = [1, -0.5, 0.3]
ok = all(abs(a - b) < 0.1 for a, b in zip(p, sp)) and all(abs(x) < 0.05 for x in v)
print("yes" if ok and d["state"] == "ACTIVE" else "no %s %s %s" % (d["state"], p, v))')
  [ "$reached" = yes ] && { echo "setpoint reached after $((i / 2)) s"; break; }
done
[ "$reached" = yes ] || fail "the example PID did not reach the setpoint: $reached"
# a user's controller keeps the hot path clean: the agent's loop thread
# (its main thread) makes no syscall but its wait while pid.so drives
apid=$(ictl status --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["processes"]["agent"]["pid"])')
if command -v strace >/dev/null && [ -n "$apid" ]; then
  timeout -s INT 1.5 strace -c -U name,calls -o "$out/strace" -p "$apid" 2>/dev/null
  extra=$(awk 'NR > 2 && $1 !~ /^-/ && $1 != "total" && $1 != "clock_nanosleep" && $1 != "futex" && $1 != "restart_syscall" {print $1}' "$out/strace")
  [ -z "$extra" ] || { fail "the agent's loop made syscalls beside its wait with pid.so: $extra"; cat "$out/strace"; }
  grep -Eq 'clock_nanosleep|futex' "$out/strace" || { fail "strace saw the agent make no wait"; cat "$out/strace"; }
  [ "$(ictl state)" = ACTIVE ] || fail "the agent left ACTIVE under strace"
fi
ictl state SHUTDOWN >/dev/null
wait $qpid || fail "installed qiki run exit $?"
# a controller built for another interface version: the agent refuses it
# at start-up, naming both versions, and the run fails
v2=$B/rel/tests/agent/fixture_ctl_v2.so
if [ -e "$v2" ]; then
  "$stage/usr/bin/qiki" run -i "$inst-v2" -q --duration 3 --controller "$v2" >"$out/v2.log" 2>&1
  rc=$?
  [ $rc != 0 ] || fail "a version-2 controller ran"
  grep -q "qiki-agent: controller $v2 refused: controller interface version 2, but this qiki-agent speaks version 1" "$out/v2.log" ||
    { fail "the refusal does not name both versions"; cat "$out/v2.log"; }
  grep -m1 "refused" "$out/v2.log"
fi
unset LD_LIBRARY_PATH

submake uninstall DESTDIR="$stage" PREFIX=/usr >"$out/uninstall.log" 2>&1 || fail "make uninstall"
left=$(find "$stage" -type f -o -type l)
[ -z "$left" ] || fail "make uninstall left: $left"
finish
