#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# qikictl against a real `qiki run`: golden output and exit codes, every
# --json parsed by a real JSON parser, the full operator scenario, and eight
# qikictl processes hammering the command queue at once.
# usage: tests/integration/qikictl.sh BUILD_DIR   (UPDATE=1 rewrites goldens)
set -uo pipefail
B=${1:-build}
cd "$(dirname "$0")/../.."
bin=$B/bin
gold=tests/ctl/golden/qikictl
inst="t-ctl-$$"
fails=0
out=$(mktemp -d)

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ctl() { "$bin/qikictl" -i "$inst" "$@"; }
# numbers, pids and times vary: golden files compare the shape
# and so do the other instances a missing one's message names
norm() { sed -E "s/; (instances here: .*|no instance runs here)\$/; INSTANCES/; s/$inst/INSTANCE/g;
                 s/-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?/N/g"; }

# golden NAME EXPECTED_EXIT ARGS...: output (stdout then stderr) and exit code
golden() {
  local name=$1 want=$2; shift 2
  "$bin/qikictl" "$@" >"$out/o" 2>"$out/e"
  local rc=$?
  { cat "$out/o"; echo "--- stderr"; cat "$out/e"; } | norm >"$out/$name"
  echo "--- exit $rc" >>"$out/$name"
  if [ "${UPDATE:-0}" = 1 ]; then cp "$out/$name" "$gold/$name.txt"; fi
  [ "$rc" = "$want" ] || fail "$name: exit $rc, expected $want"
  if ! diff -u "$gold/$name.txt" "$out/$name" >"$out/diff"; then
    fail "$name: output differs from $gold/$name.txt"; cat "$out/diff"
  fi
}

json() {	# every --json output parses, with the keys a script relies on
  local name=$1 keys=$2; shift 2
  ctl "$@" --json >"$out/$name.json" || fail "$name --json exit $?"
  python3 - "$out/$name.json" "$keys" <<'PY' || fail "$name --json does not parse or lacks keys"
import json, sys
d = json.load(open(sys.argv[1]))
for k in filter(None, sys.argv[2].split(',')):
    assert k in d, k
PY
}

# ---- without an instance: usage errors (exit 1, nothing sent) and exit 2
golden help 0 --help
golden version 0 --version
golden no-command 1
golden unknown-command 1 -i "$inst" frobnicate
golden state-help 0 state --help
golden bad-state 1 -i "$inst" state FLYING
golden setpoint-arity 1 -i "$inst" setpoint 1 2
golden setpoint-huge 1 -i "$inst" setpoint 1e999 0 0
golden setpoint-abc 1 -i "$inst" setpoint abc 0 0
golden setpoint-dash 1 -i "$inst" setpoint - 0 0
golden bad-option 1 -i "$inst" status --colour
golden bad-timeout 1 -i "$inst" --timeout x status
golden bad-instance-name 1 -i ../x status
golden fault-arity 1 -i "$inst" fault imu
golden param-arity 1 -i "$inst" param set controller.kp
golden param-abc 1 -i "$inst" param set controller.kp abc
golden param-verb 1 -i "$inst" param frob
golden no-instance 2 -i "$inst" status

# a foreign file where a segment should be: exit 2, named
yes 'not qiki' | head -c 4096 >"/dev/shm/qiki.$inst"
golden foreign-segment 2 -i "$inst" status
rm -f "/dev/shm/qiki.$inst"

# a stale segment: a run killed outright leaves one behind
"$bin/qiki" run -i "$inst" -q --duration 60 >/dev/null 2>&1 &
for _ in $(seq 100); do ctl state >/dev/null 2>&1 && break; sleep 0.05; done
kill -9 $(pgrep -f -- "-i(nstance)? $inst( |\$)") 2>/dev/null
wait 2>/dev/null
# the children are not ours to wait for: wait until the kernel has them gone
for _ in $(seq 100); do pgrep -f -- "-i(nstance)? $inst( |\$)" >/dev/null || break; sleep 0.05; done
golden stale-segment 2 -i "$inst" status
rm -f "/dev/shm/qiki.$inst"

# ---- against a running loop
"$bin/qiki" run -i "$inst" -q --duration 600 >"$out/run.out" 2>&1 &
qiki=$!
for _ in $(seq 100); do ctl state >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 100); do [ "$(ctl state)" = IDLE ] && break; sleep 0.1; done
[ "$(ctl state)" = IDLE ] || fail "did not boot to IDLE"

# a segment of another layout version: a copy of the live one, patched
cp "/dev/shm/qiki.$inst" "/dev/shm/qiki.$inst-v"
python3 -c 'import struct,sys; f=open(sys.argv[1],"r+b"); f.seek(8); f.write(struct.pack("<I", 99))' "/dev/shm/qiki.$inst-v"
"$bin/qikictl" -i "$inst-v" status >/dev/null 2>"$out/v"; rc=$?
rm -f "/dev/shm/qiki.$inst-v"
[ $rc = 2 ] || fail "another layout version: exit $rc, expected 2"
grep -q "layout version 99, this program speaks" "$out/v" || { fail "version message"; cat "$out/v"; }

golden unknown-device 1 -i "$inst" fault nosuch stuck
golden bad-kind 1 -i "$inst" fault imu melt
golden status-shape 0 -i "$inst" state
golden devices 0 -i "$inst" devices
json status instance,processes,state,all_systems_go,health,setpoint_m,position_m,commands status
json state state state
json history total,transitions,params history
json params changes,params param list
json stats sim,agent stats
json devices post_count,devices devices

# the operator scenario: IDLE -> ACTIVE -> setpoint reached -> fault -> SAFE
ctl setpoint 3 0 0 >/dev/null || fail "setpoint refused"
[ "$(ctl state ACTIVE)" = ACTIVE ] || fail "state ACTIVE"
reached=0
for _ in $(seq 300); do
  if ctl status --json | python3 -c '
import json, sys
d = json.load(sys.stdin); p = d["position_m"]; v = d["velocity_mps"]
sys.exit(0 if abs(p[0] - 3) < 0.5 and abs(p[1]) < 0.5 and abs(p[2]) < 0.5 and max(map(abs, v)) < 0.05 else 1)'; then
    reached=1; break
  fi
  sleep 0.1
done
[ $reached = 1 ] || fail "setpoint not reached"
ctl fault tank_pressure bias 30 >/dev/null || fail "fault refused"
for _ in $(seq 50); do [ "$(ctl state)" = SAFE ] && break; sleep 0.05; done
[ "$(ctl state)" = SAFE ] || fail "fault did not send the agent SAFE"
# the sim's status shows the fault (it copies it when a command came, not each cycle)
ctl devices | grep -q '^tank_pressure .* bias 30$' || fail "devices does not show the fault: $(ctl devices | grep tank)"
golden refused-active 3 -i "$inst" state ACTIVE
golden refused-reset 3 -i "$inst" state RESET
golden param-refused 3 -i "$inst" param set controller.kp 1e9
golden param-unknown 1 -i "$inst" param get controller.kpp
ctl fault clear all >/dev/null || fail "fault clear"
ctl devices | grep -q '^tank_pressure .* -$' || fail "devices still shows the fault: $(ctl devices | grep tank)"
ok=0
for _ in $(seq 50); do ctl state RESET >/dev/null 2>&1 && { ok=1; break; }; sleep 0.05; done
[ $ok = 1 ] || fail "RESET not accepted after the fault cleared"
[ "$(ctl state)" = IDLE ] || fail "not IDLE after RESET"
ctl history --json | python3 -c '
import json, sys
t = [(x["from"], x["to"], x["trigger"]) for x in json.load(sys.stdin)["transitions"]]
want = [("BOOTING","IDLE","bios-ok"), ("IDLE","ACTIVE","operator"), ("ACTIVE","SAFE","tank-pressure"), ("SAFE","IDLE","reset")]
assert t == want, t' || fail "history is not the scenario's"

# a state that lasts one tick is still reached: qikictl reads the history
# (issue 14, defect 9: BOOTING passes to IDLE at the next tick)
for i in $(seq 5); do
  got=$(ctl state BOOTING 2>&1); rc=$?
  [ $rc = 0 ] && [ "$got" = BOOTING ] || fail "state BOOTING ($i): exit $rc, '$got'"
  for _ in $(seq 50); do [ "$(ctl state)" = IDLE ] && break; sleep 0.05; done
done

# eight qikictl at once, 1000 requests each: all answered, each applied once.
# The overruns are printed, not asserted: on a VM, hypervisor spikes make a
# quiet window of the same length overrun too.  That the burst cannot slow
# the loop is proved by cause: the loop's threads make no syscall but their
# wait (test_loop's strace check) and take a bounded number of commands a tick.
before=$(ctl status --json)
for w in $(seq 8); do
  ( for i in $(seq 1000); do
      "$bin/qikictl" -i "$inst" --timeout 10 setpoint "$w" "$i" 0 >/dev/null || echo "worker $w request $i: exit $?"
    done ) >"$out/worker$w" 2>&1 &
done
wait $(jobs -p | grep -v "^$qiki\$") 2>/dev/null
cat "$out"/worker* | head -5
[ -z "$(cat "$out"/worker*)" ] || fail "some parallel requests failed"
after=$(ctl status --json)
python3 - "$before" "$after" <<'PY' || fail "parallel requests: counts do not add up"
import json, sys
b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
taken = a["commands"]["agent_taken"] - b["commands"]["agent_taken"]
# +1: the status --json between is a read, but state reads are not commands
print("agent commands taken during the burst:", taken)
assert taken == 8000, taken
for p in ("sim", "agent"):
    d = a["processes"][p]["overruns"] - b["processes"][p]["overruns"]
    print(p, "overruns during the burst (not asserted):", d)
PY

ctl state SHUTDOWN >/dev/null || fail "SHUTDOWN"
wait $qiki; rc=$?
[ $rc = 0 ] || { fail "qiki run exit $rc"; cat "$out/run.out"; }
[ -e "/dev/shm/qiki.$inst" ] && fail "segment left behind"
rm -rf "$out"
[ $fails = 0 ] && echo "qikictl: all passed" || echo "qikictl: $fails failed"
[ $fails = 0 ]
