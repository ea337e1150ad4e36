#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# qiki-telemetry against a real loop, read back by independent readers:
# the MCAP file by the official MCAP library from npm (@mcap/core) with
# protobufjs, the TCP stream by Debian's python3-protobuf.  Then: the loop
# does not notice the exporter (no allocation, no extra overruns, killed
# exporter), a slow client, and bad input (unwritable path, port in use,
# full disk).
# usage: tests/integration/telemetry.sh BUILD_DIR
name=tele
. "$(dirname "$0")/lib.sh"
here=tests/integration/telemetry
field() { grep -o "$1 [0-9]*" "$2" | head -1 | awk '{print $NF}'; }

# ---- the independent readers, installed by the test itself (pinned)
# Only this part needs the network: when the npm registry cannot be reached
# (an offline build machine), the files are not read back by @mcap/core,
# and everything else below still runs.  QK_NPM_REGISTRY overrides the
# registry (the tests point it at a closed port to check the skip).
node_dir=$B/node
mcap=1
registry=${QK_NPM_REGISTRY:-$(npm config get registry 2>/dev/null)}
if [ ! -e "$node_dir/node_modules/@mcap/core/package.json" ]; then
  if ! timeout 20 npm ping --registry "$registry" >/dev/null 2>&1; then
    mcap=0
    echo "SKIP: the npm registry $registry cannot be reached: the MCAP files are not"
    echo "SKIP: read back by @mcap/core (qiki-telemetry info still checks them); the rest runs"
  else
    echo "installing @mcap/core, @mcap/support, protobufjs into $node_dir (npm)"
    npm install --registry "$registry" --prefix "$node_dir" --no-audit --no-fund --silent \
      @mcap/core@2.2.2 @mcap/support@1.1.0 protobufjs@7.6.6 >/dev/null ||
      { echo "FAIL: npm install of the MCAP reader failed though $registry answers"; exit 1; }
  fi
fi
[ $mcap = 1 ] && cp "$here/read_mcap.mjs" "$node_dir/"
read_mcap() { [ $mcap = 1 ] || return 0; node "$node_dir/read_mcap.mjs" "$@"; }
mcap_json() { [ $mcap = 1 ]; }	# whether read_mcap's output is there to check

# ---- qiki run --telemetry: a file that Foxglove's own library reads
export QIKI_LOG_DIR=${QIKI_LOG_DIR:-$out/logs}
"$bin/qiki" run -i "$inst" --duration 6 --telemetry "$out/run.mcap" >"$out/run.out" 2>"$out/run.err" &
qiki=$!
wait_idle
ctl state ACTIVE >/dev/null || fail "ACTIVE refused"
ctl setpoint 0.5 0 0 >/dev/null || fail "setpoint refused"
ctl state BOOTING >/dev/null 2>&1	# refused: it must show in the log channel
ctl state IDLE >/dev/null || fail "IDLE refused"
ctl history --json >"$out/history.json"
wait $qiki || fail "qiki run --telemetry exit $?"
msgs=$(grep -o 'run.mcap: [0-9]* messages' "$out/run.out" | awk '{print $2}')
[ -n "$msgs" ] || { fail "the exporter did not say how many messages it wrote"; cat "$out/run.out"; }
read_mcap "$out/run.mcap" --messages "${msgs:-0}" --history "$out/history.json" >"$out/read.json" ||
  { fail "the MCAP file does not read back right"; cat "$out/read.json"; }
seen=$(grep -o 'qiki-telemetry: [0-9]* cycles seen, [0-9]* exported, frames lost [0-9]* sensor' "$out/run.out")
! mcap_json || python3 - "$out/read.json" "$seen" <<'PY' || fail "MCAP content"
import json, sys
d = json.load(open(sys.argv[1]))
w = sys.argv[2].split()
seen, exported, lost = int(w[1]), int(w[4]), int(w[8])
t = d["transitions"]
assert [x["to"] for x in t][-1] == "FSM_STATE_SHUTDOWN", t        # the orderly stop is in it
assert [x["index"] for x in t] == list(range(len(t))), t          # each transition once
# every sensor frame the sim published while the exporter ran (the sim
# itself skips cycles when it overruns: gaps in the numbering are its own)
assert lost == 0 and seen == exported == d["channels"]["/sensors"]["count"], (w, d["channels"]["/sensors"])
assert d["sensors"]["last"] - d["sensors"]["first"] > 4000, d["sensors"]
assert any("refused" in l and l.startswith("WARNING") for l in d["log"]), d["log"]
assert d["indexed"] and d["chunks"] >= 2, d
print("mcap: %d messages, %d chunks, %d transitions, cycles %d..%d" % (
    d["total"], d["chunks"], len(t), d["sensors"]["first"], d["sensors"]["last"]))
PY
"$bin/qiki-telemetry" info "$out/run.mcap" >"$out/info.txt" || fail "info exit $?"
for topic in /sensors /actuators /timing /fsm /fsm/transitions /bios /pose /log; do
  grep -q " $topic " "$out/info.txt" || fail "info lacks $topic"
done
"$bin/qiki-telemetry" cat "$out/run.mcap" --topic /fsm/transitions >"$out/cat.txt" || fail "cat exit $?"
grep -q 'to_state: FSM_STATE_ACTIVE, trigger: TRIGGER_OPERATOR' "$out/cat.txt" || fail "cat transitions"
"$bin/qiki-telemetry" cat "$out/run.mcap" --topic /fsm/transition >"$out/cat.txt" 2>&1
[ $? = 1 ] && grep -q "no topic '/fsm/transition' in .*; its topics: /sensors .* /fsm/transitions" \
  "$out/cat.txt" || { fail "an unknown topic does not list the valid ones"; cat "$out/cat.txt"; }

# ---- the live stream, decoded by python3-protobuf while the loop runs
"$bin/qiki" run -i "$inst" -q --duration 60 --telemetry-listen 0 >"$out/s.out" 2>"$out/s.err" &
qiki=$!
wait_idle
port=$(grep -o 'streaming on port [0-9]*' "$out/s.out" | awk '{print $NF}')
[ -n "$port" ] || fail "no port printed"
# a client that never reads: it must lose frames, not slow anything down
python3 -c 'import socket,sys,time; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); time.sleep(12)' \
  "${port:-1}" &
slow=$!
c0=$(sim_cycles)
/usr/bin/python3 "$here/read_stream.py" "${port:-1}" "$B/gen/qiki-telemetry.fds" 2000 "$inst" >"$out/stream.json" ||
  { fail "the TCP stream does not decode"; cat "$out/stream.json"; }
sleep 8	# the silent client fills its buffers and is dropped
/usr/bin/python3 "$here/read_stream.py" "${port:-1}" "$B/gen/qiki-telemetry.fds" 500 "$inst" >/dev/null ||
  fail "a second reader after the slow one got nothing"
c1=$(sim_cycles)
[ "$c1" -gt $((c0 + 5000)) ] || fail "the loop slowed down with a slow client ($c0 -> $c1)"
kill $slow 2>/dev/null; wait $slow 2>/dev/null
kill -INT $qiki
wait $qiki || fail "stream run exit $?"
grep -Eq 'frames lost by slow clients [1-9]|\([1-9][0-9]* dropped\)' "$out/s.out" ||
  { fail "the slow client neither lost frames nor was dropped"; cat "$out/s.out"; }

# ---- the loop does not notice the exporter: allocations and overruns,
# with and without it at full rate (10 kHz), under the allocation probe
probe=$PWD/$B/rel/tests/libqkalloc.so
for mode in without with; do
  args=()
  [ $mode = with ] && args=(--telemetry "$out/full.mcap")
  LD_PRELOAD=$probe "$bin/qiki" run -i "$inst" -q --rate 10000 --duration 5 "${args[@]}" \
    >"$out/$mode.out" 2>"$out/$mode.err" || fail "10 kHz run $mode exporter: exit $?"
  n=$(grep -c 'allocations in the loop after start-up: 0$' "$out/$mode.out")
  [ "$n" = 2 ] || { fail "$mode exporter: the loop allocated"; cat "$out/$mode.out"; }
done
o_without=$(( $(grep -o 'overruns [0-9]*' "$out/without.out" | awk '{s += $2} END {print s}') ))
o_with=$(( $(grep -o 'overruns [0-9]*' "$out/with.out" | awk '{s += $2} END {print s}') ))
echo "overruns at 10 kHz over 5 s: $o_without without the exporter, $o_with with it"
grep 'qiki-telemetry:' "$out/with.out"
# Overrun counts on this VM are the hypervisor's: one stall of 5 ms is 50
# overruns at 10 kHz, and runs with and without the exporter have given
# 385 vs 0 and 10 vs 133.  So the bound here is only for gross
# interference (the exporter on the loop's CPU gave +330 in 5 s); what
# proves the exporter stays out of the loop's way is causal and checked
# below: it never runs on the loop's CPU, and the loop makes no syscall
# more while it runs.
[ "$o_with" -le $((10 * o_without + 1000)) ] || fail "overruns grew with the exporter: $o_without -> $o_with"
read_mcap "$out/full.mcap" >"$out/full.json" || { fail "10 kHz file"; head -c 2000 "$out/full.json"; }

# ---- a killed exporter leaves the loop running, and its file readable
# (timer wake: in futex mode, the default, the sim's wake of the agent is a
# futex call of its own, and the check below is that the exporter adds none)
"$bin/qiki" run -i "$inst" -q --duration 60 --wake timer >"$out/k.out" 2>&1 &
qiki=$!
wait_idle
"$bin/qiki-telemetry" -i "$inst" -o "$out/killed.mcap" --chunk-kb 64 -q &
tele=$!
sleep 0.5
# while it exports: never on the loop's CPU (the last one), and the sim's
# loop thread still makes no syscall but its wait
last=$(( $(nproc) - 1 ))
allowed=$(awk '/Cpus_allowed_list/ {print $2}' /proc/$tele/status)
[ "$(nproc)" -lt 2 ] || ! python3 -c 'import sys
cpus = set()
for part in sys.argv[1].split(","):
    a, _, b = part.partition("-")
    cpus.update(range(int(a), int(b or a) + 1))
sys.exit(0 if int(sys.argv[2]) in cpus else 1)' "$allowed" "$last" ||
  fail "the exporter may run on the loop's CPU $last (allowed: $allowed)"
simpid=$(ctl status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["processes"]["sim"]["pid"])')
if command -v strace >/dev/null; then
  timeout -s INT 1.5 strace -c -U name,calls -o "$out/strace" -p "$simpid" 2>/dev/null
  extra=$(awk 'NR > 2 && $1 !~ /^-/ && $1 != "total" && $1 != "clock_nanosleep" && $1 != "restart_syscall" {print $1}' "$out/strace")
  [ -z "$extra" ] || { fail "the sim's loop made syscalls beside its wait while exporting: $extra"; cat "$out/strace"; }
fi
sleep 2
kill -9 $tele; wait $tele 2>/dev/null
c0=$(sim_cycles); sleep 1; c1=$(sim_cycles)
[ "$c1" -gt "$c0" ] || fail "the loop stopped with its exporter"
# by hand, stopped by SIGTERM: a finished file (summary and footer)
"$bin/qiki-telemetry" -i "$inst" -o "$out/term.mcap" -q &
tele=$!
sleep 1
kill -TERM $tele
wait $tele || fail "the exporter stopped by SIGTERM: exit $?"
read_mcap "$out/term.mcap" >"$out/term.json" || { fail "SIGTERM file"; head -c 2000 "$out/term.json"; }
"$bin/qiki-telemetry" info "$out/term.mcap" | grep -q 'not finished' && fail "SIGTERM left the file unfinished"
[ "$(ctl state)" = IDLE ] || fail "the agent left IDLE when the exporter was killed"
read_mcap "$out/killed.mcap" --stream >"$out/killed.json" || { fail "killed file unreadable"; head -c 2000 "$out/killed.json"; }
! mcap_json || python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["total"] > 1000, d["total"]' \
  "$out/killed.json" || fail "the killed exporter's file holds too little"
"$bin/qiki-telemetry" info "$out/killed.mcap" | grep -q 'not finished' || fail "info: unfinished file"

# ---- bad input: a clear error, exit 1, the loop untouched
"$bin/qiki-telemetry" -i "$inst" -o /proc/nope/x.mcap 2>"$out/e1"; rc=$?
[ $rc = 1 ] || fail "unwritable path: exit $rc"
grep -q 'cannot create /proc/nope/x.mcap: .*pass another path' "$out/e1" || { fail "unwritable path message"; cat "$out/e1"; }
python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(5)' >"$out/busy" &
holder=$!
for _ in $(seq 50); do [ -s "$out/busy" ] && break; sleep 0.05; done
"$bin/qiki-telemetry" -i "$inst" --listen "$(cat "$out/busy")" 2>"$out/e2"; rc=$?
kill $holder 2>/dev/null; wait $holder 2>/dev/null
[ $rc = 1 ] || fail "port in use: exit $rc"
grep -q 'Address already in use: another program holds that port' "$out/e2" || { fail "port in use message"; cat "$out/e2"; }
"$bin/qiki-telemetry" -i nosuch-$$ -o "$out/x.mcap" 2>"$out/e3"; rc=$?
[ $rc = 2 ] || fail "missing instance: exit $rc"
"$bin/qiki-telemetry" -i "$inst" 2>"$out/e4"; rc=$?
[ $rc = 1 ] && grep -q 'nothing to do' "$out/e4" || fail "no output: exit $rc"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  mkdir -p "$out/tiny"
  unshare -m --propagation private bash -c '
    mount -t tmpfs -o size=256k tmpfs "$1/tiny" || exit 77
    exec "$2/qiki-telemetry" -i "$3" -o "$1/tiny/full.mcap" --chunk-kb 32 -q' _ "$out" "$bin" "$inst" \
    2>"$out/e5"; rc=$?
  if [ $rc = 77 ]; then
    echo "SKIP full disk: cannot mount a tmpfs here"
  else
    [ $rc = 1 ] || fail "full disk: exit $rc"
    grep -q 'No space left on device; the file is readable up to its last complete chunk; the loop is not affected' \
      "$out/e5" || { fail "full disk message"; cat "$out/e5"; }
  fi
else
  echo "SKIP full disk: needs root for a tmpfs in a mount namespace"
fi
c0=$(sim_cycles); sleep 0.5; c1=$(sim_cycles)
[ "$c1" -gt "$c0" ] || fail "the loop stopped during the bad-input cases"
kill -INT $qiki; wait $qiki || fail "last run exit $?"

finish
