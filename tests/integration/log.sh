#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The logger in the real processes: `qiki run --log-dir` writes one file per
# process with the loop's events (state changes, refused requests), JSON
# lines parse, and the logger's own trouble (a full disk, the file removed
# under it) is said once on stderr while the loop keeps running.
# usage: tests/integration/log.sh BUILD_DIR
name=log
. "$(dirname "$0")/lib.sh"

# ---- one file per process, the loop's events in them
"$bin/qiki" run -i "$inst" -q --duration 30 --log-dir "$out/logs" >"$out/run.out" 2>"$out/run.err" &
qiki=$!
wait_idle
ctl state ACTIVE >/dev/null || fail "ACTIVE refused"
ctl state BOOTING >/dev/null 2>&1 && fail "BOOTING from ACTIVE accepted"
ctl fault imu noise 0.5 >/dev/null || fail "fault refused"
kill -INT $qiki
wait $qiki || fail "qiki run exit $?"
for p in qiki qiki-sim qiki-agent; do
  [ -s "$out/logs/$p.log" ] || fail "no $out/logs/$p.log"
done
grep -q 'INFO  rt/agent/main.c:[0-9]*: state BOOTING -> IDLE (bios-ok)' "$out/logs/qiki-agent.log" ||
  fail "agent log lacks BOOTING -> IDLE"
grep -q 'state IDLE -> ACTIVE (operator, asked by pid [0-9]*)' "$out/logs/qiki-agent.log" ||
  fail "agent log lacks IDLE -> ACTIVE"
grep -q 'WARN  .*state request [0-9]* from pid [0-9]* refused: BOOTING not reachable from ACTIVE' \
  "$out/logs/qiki-agent.log" || fail "agent log lacks the refused request"
grep -q 'fault request [0-9]* from pid [0-9]* accepted' "$out/logs/qiki-sim.log" ||
  fail "sim log lacks the fault"
grep -q 'stopped after [0-9]* cycles' "$out/logs/qiki-sim.log" || fail "sim log lacks its last line"
grep -q 'state ACTIVE -> SHUTDOWN' "$out/logs/qiki-agent.log" || fail "agent log lacks SHUTDOWN"
grep -q 'started qiki-agent, pid' "$out/logs/qiki.log" || fail "launcher log lacks the start"
grep -q '^qiki: logs in ' "$out/run.out" && fail "-q printed the log directory"

# ---- JSON lines, and qiki run says where the logs go
"$bin/qiki" run -i "$inst" --duration 1 --log-dir "$out/json" --log-format json --log-level debug \
  >"$out/run2.out" 2>&1 || fail "json run exit $?"
grep -q "^qiki: logs in $out/json\$" "$out/run2.out" || fail "qiki run did not print the log directory"
python3 - "$out/json" <<'PY' || fail "JSON log lines do not parse"
import json, os, sys
n = 0
for name in ("qiki.log", "qiki-sim.log", "qiki-agent.log"):
    for line in open(os.path.join(sys.argv[1], name)):
        d = json.loads(line)
        assert set(d) >= {"time", "mono_ns", "proc", "pid", "level", "file", "line", "msg"}, d
        assert d["proc"] == name[:-4], d
        n += 1
assert n >= 6, n
PY

# ---- bad input: an unwritable log directory is refused before anything runs
"$bin/qiki" run -i "$inst" --duration 1 --log-dir /proc/nope >/dev/null 2>"$out/bad.err"
rc=$?
[ $rc = 1 ] || fail "unwritable --log-dir: exit $rc, expected 1"
grep -q "cannot create log directory /proc/nope: .*pass --log-dir DIR" "$out/bad.err" ||
  { fail "unwritable --log-dir message"; cat "$out/bad.err"; }
[ -e "/dev/shm/qiki.$inst" ] && fail "a refused run left its segment"

for bad in "--log-fsync-ms 0" "--log-rotate-mb 0" "--log-level loud" "--log-format xml"; do
  # shellcheck disable=SC2086
  "$bin/qiki" run -i "$inst" --duration 1 $bad >/dev/null 2>"$out/opt.err"; rc=$?
  [ $rc = 1 ] || fail "qiki run $bad: exit $rc, expected 1"
  grep -q "qiki: ${bad%% *} '${bad#* }': expected" "$out/opt.err" || { fail "qiki run $bad: message"; cat "$out/opt.err"; }
done

# ---- the file removed under the logger: a new one, said once
"$bin/qiki" run -i "$inst" -q --duration 60 --log-dir "$out/rm" >/dev/null 2>"$out/rm.err" &
qiki=$!
wait_idle
rm "$out/rm/qiki-agent.log"
sleep 0.5
for i in $(seq 5); do ctl state IDLE >/dev/null 2>&1; done
sleep 0.5
kill -INT $qiki
wait $qiki || fail "run with a removed log: exit $?"
grep -q "qiki-agent: log: $out/rm/qiki-agent.log was removed while in use; opened a new one" \
  "$out/rm.err" || { fail "removal not reported"; cat "$out/rm.err"; }
[ "$(grep -c 'was removed' "$out/rm.err")" = 1 ] || fail "removal reported more than once"
grep -q 'state ACTIVE -> SHUTDOWN\|state IDLE -> SHUTDOWN' "$out/rm/qiki-agent.log" ||
  fail "the new agent log lacks the shutdown"

# ---- a full disk: a 64 KiB tmpfs in a mount namespace of our own (root)
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  mkdir -p "$out/tiny"
  unshare -m --propagation private bash -c '
    set -u
    mount -t tmpfs -o size=64k tmpfs "$1/tiny" || exit 77
    # leave a few hundred bytes: the first lines fit, then ENOSPC
    head -c 60000 /dev/zero >"$1/tiny/filler" 2>/dev/null
    exec "$2/qiki" run -i "$3" -q --duration 60 --log-dir "$1/tiny" --log-level debug
  ' _ "$out" "$bin" "$inst" >"$out/full.out" 2>"$out/full.err" &
  qiki=$!
  if wait_idle; then
    c0=$(sim_cycles)
    for i in $(seq 40); do ctl state IDLE >/dev/null 2>&1; ctl setpoint 1 2 3 >/dev/null; done
    sleep 1.5	# past the logger's fsync and error report
    c1=$(sim_cycles)
    [ "$c1" -gt "$c0" ] || fail "the loop stopped when the disk filled ($c0 -> $c1)"
    [ "$(ctl state)" = IDLE ] || fail "the agent left IDLE when the disk filled"
    kill -INT $qiki
  fi
  wait $qiki; rc=$?
  if [ $rc = 77 ]; then
    echo "SKIP full disk: cannot mount a tmpfs here"
  else
    [ $rc = 0 ] || fail "run on a full disk: exit $rc"
    grep -q "qiki-agent: log: writing $out/tiny/qiki-agent.log failed: No space left on device; .*the loop keeps running.*free space" \
      "$out/full.err" || { fail "full disk not reported"; cat "$out/full.err"; }
    n=$(grep -c 'qiki-agent: log: writing .* failed' "$out/full.err")
    [ "$n" = 1 ] || fail "full disk reported $n times, expected once"
    grep -q '^qiki summary' "$out/full.out" || fail "no summary after a full disk"
  fi
else
  echo "SKIP full disk: needs root for a tmpfs in a mount namespace (the unit test uses /dev/full)"
fi

finish
