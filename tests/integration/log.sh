#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The logger in the real processes: `qiki run --log-dir` writes one file per
# process with the loop's events (state changes, refused requests), JSON
# lines parse, and the logger's own trouble (a full disk, the file removed
# under it) is said once on stderr while the loop keeps running.  Binary
# logs: qiki-log prints the same events, filters, follows a growing file,
# reads a file cut short, and prints a file written by an independent
# writer (below, in Python) exactly as the golden output says.
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

# ---- binary logs: the same events through qiki-log
"$bin/qiki" run -i "$inst" -q --duration 30 --log-dir "$out/bin" --log-format binary \
  >/dev/null 2>"$out/bin.err" &
qiki=$!
wait_idle
"$bin/qiki-log" -f "$out/bin/qiki-agent.log" >"$out/follow.txt" 2>"$out/follow.err" &
follower=$!
ctl state ACTIVE >/dev/null || fail "ACTIVE refused (binary)"
ctl state BOOTING >/dev/null 2>&1 && fail "BOOTING from ACTIVE accepted (binary)"
for _ in $(seq 50); do grep -q 'refused: BOOTING' "$out/follow.txt" && break; sleep 0.1; done
grep -q 'state IDLE -> ACTIVE (operator' "$out/follow.txt" || fail "qiki-log -f did not print ACTIVE"
grep -q 'refused: BOOTING not reachable' "$out/follow.txt" || fail "qiki-log -f did not print the refusal"
kill -INT $qiki
wait $qiki || fail "binary run exit $?"
kill -TERM $follower
wait $follower || fail "qiki-log -f exit $? after SIGTERM"
head -c 8 "$out/bin/qiki-agent.log" | grep -q QIKILOG1 || fail "the binary log lacks its magic"
"$bin/qiki-log" "$out/bin/qiki-agent.log" >"$out/bin.txt" || fail "qiki-log exit $?"
grep -q '^[0-9-]*T[0-9:.]*Z [0-9]*\.[0-9]\{6\} qiki-agent\[[0-9]*\] INFO  rt/agent/main.c:[0-9]*: state BOOTING -> IDLE (bios-ok)' \
  "$out/bin.txt" || fail "qiki-log lacks BOOTING -> IDLE"
grep -q 'state [A-Z]* -> SHUTDOWN' "$out/bin.txt" || fail "qiki-log lacks SHUTDOWN"
"$bin/qiki-log" -l warn "$out/bin/qiki-agent.log" >"$out/warn.txt" || fail "qiki-log -l warn exit $?"
grep -q ' INFO ' "$out/warn.txt" && fail "qiki-log -l warn printed INFO"
grep -q 'WARN  .*refused: BOOTING' "$out/warn.txt" || fail "qiki-log -l warn lacks the refusal"
"$bin/qiki-log" --json "$out/bin/qiki-agent.log" | python3 -c '
import json, sys
n = 0
for line in sys.stdin:
    d = json.loads(line)
    assert set(d) >= {"time", "mono_ns", "proc", "pid", "level", "file", "line", "msg"}, d
    n += 1
assert n >= 4, n' || fail "qiki-log --json lines do not parse"
# the first line's own time as --since keeps it; a second later drops it
first=$(head -1 "$out/bin.txt" | cut -d' ' -f2)
[ "$("$bin/qiki-log" --since "$first" "$out/bin/qiki-agent.log" | wc -l)" = "$(wc -l <"$out/bin.txt")" ] ||
  fail "--since the first record's time dropped records"
"$bin/qiki-log" --until "$first" "$out/bin/qiki-agent.log" | grep -q . && fail "--until the first record printed it"

# ---- golden: a file written by this independent writer, qiki-log's exact output
python3 - "$out/golden.qlog" <<'PY'
import struct, sys
def pad(b): return b + b"\0" * (-len(b) % 8)
def ent(kind, payload): return struct.pack("<II", 8 + len(pad(payload)), kind) + pad(payload)
def site(i, lvl, line, types, nargs, fmt, file):
    return ent(0xffffffff, struct.pack("<IiiIIHH", i, lvl, line, types, nargs, len(fmt), len(file))
               + fmt + b"\0" + file + b"\0")
def rec(i, ns, slots, strs=b""):
    return ent(i, struct.pack("<q", ns) + b"".join(struct.pack("<Q", s) for s in slots) + strs)
SREF, NULL = 1 << 63, 0xffffffff
body = (site(0, 1, 94, 0x244, 3, b"state %s -> %s at cycle %llu", b"rt/agent/main.c")
        + ent(0xfffffffe, struct.pack("<II", 0, 4) + b"IDLE\0")
        + rec(0, 1500000000, [SREF | 0, 6, 1234], pad(b"ACTIVE\0"))
        + site(1, 2, 7, 0x5133, 4, b"x=%.3f m, tank %5.1f bar, id %d, %p", b"rt/sim/main.c")
        + rec(1, 2000123456, [struct.unpack("<Q", struct.pack("<d", 0.125))[0],
                               struct.unpack("<Q", struct.pack("<d", 7.25))[0], (-5) & (2**64 - 1), 0xdeadbeef])
        + rec(0, 2500000000, [NULL, 0, 0], pad(b"\0"))
        + rec(7, 2600000000, []))
hdr = b"QIKILOG1" + struct.pack("<IIqiI", 1, 64, 1764300000 * 10**9, 4242, 0) + b"golden".ljust(32, b"\0")
chunk = struct.pack("<IIQ", 0x4b4e4843, len(body), 0) + body
open(sys.argv[1], "wb").write(hdr + chunk)
PY
cat >"$out/golden.txt" <<'TXT'
2025-11-28T03:20:01.500000Z 1.500000 golden[4242] INFO  rt/agent/main.c:94: state IDLE -> ACTIVE at cycle 1234
2025-11-28T03:20:02.000123Z 2.000123 golden[4242] WARN  rt/sim/main.c:7: x=0.125 m, tank   7.2 bar, id -5, 0xdeadbeef
2025-11-28T03:20:02.500000Z 2.500000 golden[4242] INFO  rt/agent/main.c:94: state (null) ->  at cycle 0
2025-11-28T03:20:02.600000Z 2.600000 golden[4242] ERROR ?:0: <a record of site 7, whose definition was lost>
TXT
"$bin/qiki-log" "$out/golden.qlog" >"$out/golden.out" 2>"$out/golden.err"; rc=$?
[ $rc = 0 ] || fail "qiki-log golden: exit $rc"
diff -u "$out/golden.txt" "$out/golden.out" || fail "qiki-log golden text output differs"
cat >"$out/golden.json" <<'TXT'
{"time":"2025-11-28T03:20:02.000123Z","mono_ns":2000123456,"proc":"golden","pid":4242,"level":"warn","file":"rt/sim/main.c","line":7,"msg":"x=0.125 m, tank   7.2 bar, id -5, 0xdeadbeef"}
{"time":"2025-11-28T03:20:02.600000Z","mono_ns":2600000000,"proc":"golden","pid":4242,"level":"error","file":"?","line":0,"msg":"<a record of site 7, whose definition was lost>"}
TXT
"$bin/qiki-log" --json -l warn "$out/golden.qlog" | diff -u "$out/golden.json" - ||
  fail "qiki-log golden JSON output differs"
# cut inside the third record: two lines, exit 0, and it says so
head -c 390 "$out/golden.qlog" >"$out/cut.qlog"
"$bin/qiki-log" "$out/cut.qlog" >"$out/cut.out" 2>"$out/cut.err" || fail "qiki-log on a cut file: exit $?"
head -2 "$out/golden.txt" | diff -u - "$out/cut.out" || fail "qiki-log on a cut file printed other lines"
grep -q "qiki-log: $out/cut.qlog: the last [0-9]* bytes are a record cut short" "$out/cut.err" ||
  { fail "the cut was not reported"; cat "$out/cut.err"; }
# bad input
"$bin/qiki-log" "$out/golden.txt" >/dev/null 2>"$out/bad.err"; rc=$?
[ $rc = 1 ] || fail "qiki-log on a text file: exit $rc, expected 1"
grep -q "is not a qiki binary log" "$out/bad.err" || fail "qiki-log on a text file: message"
"$bin/qiki-log" "$out/none.qlog" >/dev/null 2>&1; rc=$?
[ $rc = 1 ] || fail "qiki-log on a missing file: exit $rc, expected 1"
"$bin/qiki-log" -l loud "$out/golden.qlog" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "qiki-log -l loud: exit $rc, expected 2"
"$bin/qiki-log" --since yesterday "$out/golden.qlog" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "qiki-log --since yesterday: exit $rc, expected 2"

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
