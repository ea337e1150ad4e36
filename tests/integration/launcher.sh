#!/usr/bin/env bash
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
wait_pid() {	# INSTANCE SLOT: until the slot holds a live pid (10 s)
  local p
  for _ in $(seq 100); do
    p=$(pid_of "$1" "$2")
    [ -n "$p" ] && [ "$p" != 0 ] && kill -0 "$p" 2>/dev/null && { echo "$p"; return 0; }
    sleep 0.1
  done
  return 1
}
gone() {	# PID...: until none of them runs (10 s)
  for _ in $(seq 100); do
    local any=0
    for p; do kill -0 "$p" 2>/dev/null && any=1; done
    [ $any = 0 ] && return 0
    sleep 0.1
  done
  return 1
}
ncpu=$(nproc)
live="$inst-live"
trap 'cleanup; pkill -f -- "--instance $live( |\$)" 2>/dev/null; rm -f /dev/shm/qiki.$live' EXIT

# ---- defect 3: lockstep beside a live real-time loop pinned to the last CPU
"$bin/qiki" run -i "$live" -q --duration 60 --cpu $((ncpu - 1)) >"$out/live.out" 2>&1 &
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

if [ "$ncpu" -ge 2 ] && [ "$(policy "$lsim")" = SCHED_FIFO ]; then
  "$bin/qiki" run -i "$inst" -q --lockstep-rt --duration 30 >"$out/ls.out" 2>"$out/ls.err" &
  ls=$!
  s=$(wait_pid "$inst" sim) || fail "lockstep-rt run did not start"
  if [ -n "${s:-}" ]; then
    [ "$(policy "$s")" = SCHED_FIFO ] || fail "--lockstep-rt sim runs $(policy "$s")"
    chrt -p "$s" | grep -q 'priority: 2$' || fail "--lockstep-rt sim not at priority 2: $(chrt -p "$s")"
    taskset -cp "$s" | grep -q ": $((ncpu - 1))\$" && fail "--lockstep-rt took the live loop's CPU $((ncpu - 1))"
  fi
  grep -q 'lockstep at SCHED_FIFO priority 2 (sim) and 1 (agent) on CPU' "$out/ls.err" ||
    fail "--lockstep-rt did not say where it runs: $(cat "$out/ls.err")"
  kill -INT $ls; wait $ls || fail "lockstep-rt run exit $?"
fi
"$bin/qikictl" -i "$live" state >/dev/null || fail "the live loop does not answer"
kill -INT $livepid; wait $livepid || fail "live loop exit $?"

finish
