#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The launcher and the machine it shares: a lockstep run takes no real-time
# priority from a live loop (issue 14, defect 3), and the loop never outlives
# its launcher (defect 4).  Counts processes, states and scheduling policies,
# never times.
# usage: tests/integration/launcher.sh BUILD_DIR
name=launcher
. "$(dirname "$0")/lib.sh"

pid_of() {	# INSTANCE SLOT: the pid in the slot, from qikictl
  "$bin/qikictl" -i "$1" status --json 2>/dev/null |
    python3 -c "import json,sys; print(json.load(sys.stdin)['processes']['$2']['pid'])" 2>/dev/null
}
policy() { chrt -p "$1" 2>/dev/null | sed -n 's/.*scheduling policy: \([A-Z_]*\).*/\1/p'; }
wait_pid() {	# INSTANCE SLOT: until the slot holds a live pid (30 s: a loaded VM)
  local p
  for _ in $(seq 300); do
    p=$(pid_of "$1" "$2")
    [ -n "$p" ] && [ "$p" != 0 ] && kill -0 "$p" 2>/dev/null && { echo "$p"; return 0; }
    sleep 0.1
  done
  return 1
}
running() {	# PID: alive and not a zombie (an orphan's zombie may wait for its reaper)
  local st
  st=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
gone() {	# PID...: until none of them runs (10 s)
  for _ in $(seq 100); do
    local any=0
    for p; do running "$p" && any=1; done
    [ $any = 0 ] && return 0
    sleep 0.1
  done
  return 1
}
ncpu=$(nproc)
live="$inst-live"
trap 'cleanup; pkill -f -- "--instance $live( |\$)" 2>/dev/null; rm -f /dev/shm/qiki.$live' EXIT

# ---- defect 3: lockstep beside a live real-time loop pinned to the last CPU
"$bin/qiki" run -i "$live" -q --duration 300 --cpu $((ncpu - 1)) >"$out/live.out" 2>&1 &
livepid=$!
lsim=$(wait_pid "$live" sim) || fail "the live loop did not start"
[ "$(policy "$lsim")" = SCHED_FIFO ] || echo "note: the live loop is not SCHED_FIFO ($(policy "$lsim"))"

"$bin/qiki" run -i "$inst" -q --lockstep --duration 30 >"$out/ls.out" 2>"$out/ls.err" &
ls=$!
s=$(wait_pid "$inst" sim) && a=$(wait_pid "$inst" agent) || fail "lockstep run did not start"
for p in ${s:-} ${a:-}; do
  [ "$(policy "$p")" = SCHED_OTHER ] || fail "lockstep process $p runs $(policy "$p"), not SCHED_OTHER"
done
grep -q 'lockstep runs without SCHED_FIFO' "$out/ls.err" || fail "lockstep did not say it runs without SCHED_FIFO"
kill -INT $ls; wait $ls || fail "lockstep run exit $?"

# --lockstep-rt holds a whole CPU at real-time priority while it runs, and
# starves that CPU's ordinary tasks too: a short run, judged by what the
# launcher reports (policy per process and the CPU it chose)
foreign=0
if [ "$ncpu" -ge 2 ] && [ "$(policy "$lsim")" = SCHED_FIFO ]; then
  # another instance's real-time loop on each other CPU (a soak, a second
  # test run) leaves --lockstep-rt no CPU: it then rightly runs without
  # SCHED_FIFO, which this run cannot judge beyond that
  foreign=$(ps -eo psr=,cls=,comm= | awk -v c=$((ncpu - 1)) \
    '$2 == "FF" && $3 ~ /^qiki-(sim|agent|hil)$/ && $1 != c { print $1 }' | sort -u | wc -l)
fi
if [ "$ncpu" -ge 2 ] && [ "$(policy "$lsim")" = SCHED_FIFO ] && [ "$foreign" -ge $((ncpu - 1)) ]; then
  echo "  --lockstep-rt: not judged: other instances' real-time loops hold every other CPU"
elif [ "$ncpu" -ge 2 ] && [ "$(policy "$lsim")" = SCHED_FIFO ]; then
  "$bin/qiki" run -i "$inst" -q --lockstep-rt --cycles 5000 >"$out/ls.out" 2>"$out/ls.err" ||
    fail "lockstep-rt run exit $?: $(cat "$out/ls.err")"
  grep -q 'lockstep at SCHED_FIFO priority 2 (sim) and 1 (agent) on CPU' "$out/ls.err" ||
    fail "--lockstep-rt did not say where it runs: $(cat "$out/ls.err")"
  grep -q "on CPU $((ncpu - 1)), " "$out/ls.err" && fail "--lockstep-rt took the live loop's CPU $((ncpu - 1))"
  [ "$(grep -c 'SCHED_FIFO  wake-up' "$out/ls.out")" = 2 ] || fail "--lockstep-rt did not run at SCHED_FIFO: $(cat "$out/ls.out")"
fi
"$bin/qikictl" -i "$live" state >/dev/null || fail "the live loop does not answer"
kill -INT $livepid; wait $livepid || fail "live loop exit $?"

# ---- defect 4: the launcher dies by SIGKILL; its loop stops in order by itself
logs="$out/k9"
"$bin/qiki" run -i "$inst" -q --duration 60 --log-dir "$logs" >"$out/k9.out" 2>&1 &
q=$!
wait_idle
ctl state ACTIVE >/dev/null || fail "ACTIVE refused"
s=$(pid_of "$inst" sim); a=$(pid_of "$inst" agent)
# a second launcher on the same instance names who holds it and how to stop it
"$bin/qiki" run -i "$inst" -q --duration 1 >"$out/second.out" 2>&1 && fail "a second qiki run on a live instance started"
grep -q "held by sim pid $s, agent pid $a, launcher pid $q)" "$out/second.out" ||
  fail "the refusal does not name the live pids: $(cat "$out/second.out")"
grep -q "qikictl -i $inst stop" "$out/second.out" || fail "the refusal does not say how to stop it"
kill -9 $q; wait $q 2>/dev/null
gone "$s" "$a" || fail "sim $s / agent $a outlived their launcher (orphans)"
grep -q 'the launcher is gone (SIGHUP): shutting down in order' "$logs/qiki-agent.log" ||
  fail "the agent did not see its launcher die"
# from ACTIVE, or from SAFE if a VM stall tripped a guard meanwhile
grep -q 'state [A-Z]* -> SHUTDOWN' "$logs/qiki-agent.log" || fail "the agent did not go SHUTDOWN"
# in order: after the agent's safe SHUTDOWN frame; a VM stall longer than
# the bound (2 x watchdog + 10 cycles) makes it the watchdog or the bound
grep -q 'stopping without a launcher: ' "$logs/qiki-sim.log" ||
  fail "the sim did not stop by itself: $(grep launcher "$logs/qiki-sim.log")"
grep -q 'stopping without a launcher: the agent signed off' "$logs/qiki-sim.log" ||
  echo "note: the sim stopped by $(sed -n 's/.*stopping without a launcher: //p' "$logs/qiki-sim.log")"
ctl status >"$out/st" 2>&1; [ $? = 2 ] && grep -q stale "$out/st" || fail "the orphaned segment is not stale: $(cat "$out/st")"
"$bin/qiki" run -i "$inst" -q --duration 1 >"$out/again.out" 2>&1 || fail "the next qiki run failed: $(cat "$out/again.out")"
grep -q reclaimed "$out/again.out" || fail "the next qiki run did not reclaim the segment"

# ---- qikictl stop: the whole instance, launcher and all
"$bin/qiki" run -i "$inst" -q --duration 60 >"$out/stop.out" 2>&1 &
q=$!
wait_idle
s=$(pid_of "$inst" sim); a=$(pid_of "$inst" agent)
ctl stop >"$out/ctl-stop" 2>&1 || fail "qikictl stop exit $?: $(cat "$out/ctl-stop")"
wait $q || fail "the launcher ended with $? after qikictl stop"
gone "$s" "$a" || fail "qikictl stop left sim $s / agent $a running"
[ -e "/dev/shm/qiki.$inst" ] && fail "the segment is left after qikictl stop"

# ... and with the launcher frozen: the loop stops all the same
"$bin/qiki" run -i "$inst" -q --duration 60 >"$out/stop.out" 2>&1 &
q=$!
wait_idle
s=$(pid_of "$inst" sim); a=$(pid_of "$inst" agent)
kill -STOP $q
ctl stop >"$out/ctl-stop" 2>&1 || fail "qikictl stop (frozen launcher) exit $?: $(cat "$out/ctl-stop")"
gone "$s" "$a" || fail "qikictl stop left sim $s / agent $a running beside a frozen launcher"
grep -q "the launcher (pid $q) has not finished yet" "$out/ctl-stop" || fail "qikictl stop: $(cat "$out/ctl-stop")"
kill -CONT $q
wait $q || fail "the thawed launcher ended with $?"
[ -e "/dev/shm/qiki.$inst" ] && fail "the segment is left after the thawed launcher ended"

# ---- qikictl status judges a loop process by its heartbeat (defect 10):
# a frozen agent holds its lock but is not alive, and status says so
"$bin/qiki" run -i "$inst" -q --duration 60 >"$out/st.out" 2>&1 &
q=$!
wait_idle
a=$(pid_of "$inst" agent)
ctl status >"$out/s0" 2>&1 || fail "status of a healthy loop: exit $?: $(cat "$out/s0")"
kill -STOP "$a"
sleep 1
ctl status >"$out/s1" 2>&1; rc=$?
[ $rc = 5 ] || fail "status with a frozen agent: exit $rc, expected 5"
grep -q "^agent .* STUCK heartbeat" "$out/s1" || fail "status does not show the frozen agent stuck: $(cat "$out/s1")"
ctl status --json >"$out/s1.json" 2>/dev/null
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); a=d["processes"]["agent"]
assert a["stuck"] and not a["alive"] and not d["healthy"], d' "$out/s1.json" || fail "status --json does not say stuck"
kill -CONT "$a"
ok=0
for _ in $(seq 50); do ctl status >/dev/null 2>&1 && { ok=1; break; }; sleep 0.1; done
[ $ok = 1 ] || fail "status stays unhealthy after the agent resumed"
kill -9 "$a"
gone "$a"
ctl status >"$out/s2" 2>&1; rc=$?
[ $rc = 5 ] && grep -q "^agent .* DEAD" "$out/s2" || fail "status with a dead agent: exit $rc: $(cat "$out/s2")"
kill -INT $q; wait $q

# ---- the summary keeps what replaced processes counted (defect 10): the
# first sim's watchdog trip survives its replacement
js() { ctl status --json 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)$1)" 2>/dev/null; }
until_js() {	# EXPR VALUE: within 20 s
  for _ in $(seq 200); do [ "$(js "$1")" = "$2" ] && return 0; sleep 0.1; done
  fail "status$1 never became $2"; return 1
}
logs="$out/rs"
"$bin/qiki" run -i "$inst" -q --duration 120 --log-dir "$logs" >"$out/rs.out" 2>"$out/rs.err" &
q=$!
wait_idle
kill -9 "$(pid_of "$inst" agent)"
until_js '["watchdog_safe"]' True			# trip 1, in the first sim
"$bin/qiki-agent" -i "$inst" --log-dir "$logs" 2>"$out/agent2.err" &
until_js '["watchdog_safe"]' False			# actuation back
s1=$(pid_of "$inst" sim)
# overruns, in the first sim: 300 ms stopped is some 300 cycles skipped
kill -STOP "$s1"; sleep 0.3; kill -CONT "$s1"
for _ in $(seq 50); do o1=$(js '["processes"]["sim"]["overruns"]'); [ "${o1:-0}" -gt 0 ] && break; sleep 0.1; done
sleep 0.2						# the launcher samples every 20 ms
kill -9 "$s1"; gone "$s1"
"$bin/qiki-sim" -i "$inst" --log-dir "$logs" 2>"$out/sim2.err" &
until_js '["processes"]["sim"]["alive"]' True
kill -INT $q; wait $q; rc=$?
[ $rc = 4 ] || fail "a run whose processes were killed: exit $rc, expected 4"
# at least the first sim's trip (a VM stall may add one in either sim)
trips=$(sed -n 's/.*watchdog trips \([0-9]*\),.*/\1/p' "$out/rs.out")
[ "${trips:-0}" -ge 1 ] || fail "the summary lost the replaced sim's trip: $(grep trips "$out/rs.out")"
# ... and its overruns (defect 10: the summary showed the last process's only)
o=$(sed -n 's/^  sim   cycles [0-9]*  overruns \([0-9]*\) .*/\1/p' "$out/rs.out")
[ "${o1:-0}" -gt 0 ] || fail "a sim stopped for 300 ms counted no overrun"
[ "${o:-0}" -ge "${o1:-1}" ] || fail "the summary lost the replaced sim's $o1 overruns: $(grep '^  sim ' "$out/rs.out")"
grep -q '^  sim .*(1 replaced, their counts included)' "$out/rs.out" || fail "the summary does not say the sim was replaced"
grep -q '^  agent .*(1 replaced, their counts included)' "$out/rs.out" || fail "the summary does not say the agent was replaced"
wait

finish
