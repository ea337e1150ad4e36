#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# qiki-rtlat against a real `qiki run`: a higher-priority SCHED_FIFO spinner
# on the loop's CPU is named, by comm and pid, as the cause of late wake-ups;
# a run without it names no such thread; with the tracer attached the loop
# threads still make only their wait syscall and allocate nothing; missing
# capabilities, a missing instance and a missing tracepoint are said clearly.
# Asserts on names and counts, never on microseconds.
# usage: tests/integration/rtlat.sh BUILD_DIR
name=rtlat
. "$(dirname "$0")/lib.sh"
rtlat=$bin/qiki-rtlat

# Only a machine where eBPF truly cannot load skips: no BTF, or no root to
# hold CAP_BPF/CAP_PERFMON.  A built tracer that then fails is a failure.
if [ ! -r /sys/kernel/btf/vmlinux ]; then
  echo "SKIP: rtlat: this kernel has no BTF (/sys/kernel/btf/vmlinux): qiki-rtlat cannot load"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: rtlat: needs root (CAP_BPF and CAP_PERFMON) to load eBPF"
  exit 0
fi
[ -x "$rtlat" ] || { echo "FAIL: $rtlat not built although the kernel has BTF"; exit 1; }
cpu=$(($(nproc) - 1))
# The loop is up once the agent has booted.  Not lib.sh's wait_idle: on a
# loaded shared machine booting has taken over 10 s, and a stale-sensor
# guard has taken the agent from IDLE to SAFE between two polls.
boot() {
  for _ in $(seq 300); do
    case $(ctl state 2>/dev/null) in IDLE | ACTIVE | SAFE) return 0 ;; esac
    sleep 0.1
  done
  fail "the loop did not boot in 30 s"; return 1
}

# ---- bad environments: exit codes and messages, before any loop runs
"$rtlat" -i "$inst" -d 1 >"$out/o" 2>"$out/e"; rc=$?
[ $rc = 2 ] || fail "no instance: exit $rc, expected 2"
grep -q "no such instance\|does not exist\|$inst" "$out/e" || fail "no instance: message: $(cat "$out/e")"
"$rtlat" -i "$inst" --threshold-us 0 >/dev/null 2>"$out/e"; rc=$?
[ $rc = 1 ] || fail "--threshold-us 0: exit $rc, expected 1"
"$rtlat" -i "$inst" -o /nonexistent/dir/report >/dev/null 2>"$out/e"; rc=$?
[ $rc = 1 ] && grep -q -- "--output '/nonexistent/dir/report'" "$out/e" || fail "bad --output: exit $rc: $(cat "$out/e")"
"$rtlat" -i "$inst" --stop >/dev/null 2>"$out/e"; rc=$?
[ $rc = 1 ] && grep -q -- '--stop needs --threshold-us' "$out/e" || fail "--stop alone: exit $rc: $(cat "$out/e")"

"$bin/qiki" run -i "$inst" -q --duration 60 >"$out/run.out" 2>"$out/run.err" &
qiki=$!
boot || { cat "$out/run.err"; exit 1; }

attached() {	# FILE: the tracer says it traces (it has loaded) within 30 s
  for _ in $(seq 300); do grep -qs '^qiki-rtlat: tracing' "$1" && return 0; sleep 0.1; done
  fail "the tracer did not attach within 30 s: $(cat "$1")"; return 1
}
caps() {	# capsh DROP: exit 3, the missing capability named, how to grant it
  capsh --drop="$1" -- -c "exec $rtlat -i $inst -d 1" >"$out/o" 2>"$out/e"; local rc=$?
  [ $rc = 3 ] || fail "capsh --drop=$1: exit $rc, expected 3: $(cat "$out/e")"
  grep -q "missing $2" "$out/e" || fail "capsh --drop=$1: '$2' not named: $(cat "$out/e")"
  grep -q "setcap cap_bpf,cap_perfmon+ep" "$out/e" || fail "capsh --drop=$1: no way to grant said"
}
caps cap_bpf,cap_perfmon,cap_sys_admin "CAP_BPF and CAP_PERFMON"
caps cap_perfmon,cap_sys_admin "CAP_PERFMON"
caps cap_bpf,cap_sys_admin "CAP_BPF"

# ---- a missing tracepoint loses only its feature, said once
QIKI_RTLAT_SKIP_TP=hrtimer_expire_entry "$rtlat" -i "$inst" -d 1 --json >"$out/skip.json" 2>"$out/e" ||
  fail "without hrtimer_expire_entry: exit $?: $(cat "$out/e")"
[ "$(grep -c 'no tracepoint hrtimer_expire_entry' "$out/e")" = 1 ] ||
  fail "the missing tracepoint is not said exactly once: $(cat "$out/e")"
python3 - "$out/skip.json" <<'PY' || fail "without hrtimer_expire_entry the wake-ups were not traced"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])][-1]
assert s["event"] == "summary" and s["missing_tracepoints"], s
assert all(t["wakeups"] > 100 for t in s["threads"]), s["threads"]
PY

# ---- quiet CPU: the tracer attached, the loop threads make only their wait
"$rtlat" -i "$inst" -d 60 --json -t 1000 >"$out/quiet.json" 2>"$out/quiet.err" &
tracer=$!
attached "$out/quiet.err"
# the slots' pids, as the launcher's children: the tracer must find the same
sim=$(pgrep -f -- "^qiki-sim .*--instance $inst( |\$)" | head -1)
agent=$(pgrep -f -- "^qiki-agent .*--instance $inst( |\$)" | head -1)
grep -q "tracing 2 threads of instance $inst: qiki-sim/$sim (sim, cpu $cpu) qiki-agent/$agent (agent, cpu $cpu)" \
  "$out/quiet.err" || fail "the loop's threads (sim $sim, agent $agent) were not found: $(cat "$out/quiet.err")"
only_wait() {	# pid who: strace the loop thread for 1.5 s; only its wait may show
  strace -c -U name,calls -o "$out/strace.$1" -p "$1" & local st=$!
  sleep 1.5; kill -INT $st; wait $st
  local bad
  bad=$(awk 'NR>2 && $1 !~ /^-/ && $1 != "total" && $1 != "clock_nanosleep" && $1 != "restart_syscall" && $1 != "futex" { print }' "$out/strace.$1")
  [ -z "$bad" ] || fail "$2 made syscalls other than its wait with the tracer attached: $bad"
  # (a count that proves the loop ran under strace; strace and a loaded machine slow it;
  # the agent's wait is the futex in its default wake mode)
  awk '($1 == "clock_nanosleep" || $1 == "futex") && $2 >= 100 { ok = 1 } END { exit !ok }' "$out/strace.$1" ||
    fail "$2 waited too rarely under strace: $(cat "$out/strace.$1")"
}
only_wait "$sim" qiki-sim
only_wait "$agent" qiki-agent
kill -0 $tracer 2>/dev/null || fail "the tracer was gone before strace was done"
kill -INT $tracer
wait $tracer || fail "tracer (quiet) exit $?: $(cat "$out/quiet.err")"
grep -q 'qk-spin' "$out/quiet.json" && fail "a run without the spinner names one: $(grep qk-spin "$out/quiet.json")"
python3 - "$out/quiet.json" <<'PY' || fail "the quiet run's summary is wrong"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])][-1]
assert s["event"] == "summary", s
assert [t["comm"] for t in s["threads"]] == ["qiki-sim", "qiki-agent"], s["threads"]
assert all(t["wakeups"] > 1000 for t in s["threads"]), s["threads"]
assert s["loop_cycles"] > 1000 and s["cost"]["prog_runs"] > 0, s
PY

# ---- a SCHED_FIFO spinner above the loop, on its CPU: named as the cause
# (durations are bounds: each is stopped once the spinner is done, which on
# a loaded machine may take seconds to even start)
"$rtlat" -i "$inst" -d 60 --json -t 1000 >"$out/spin.json" 2>"$out/spin.err" &
tracer=$!
# and beside it, threshold mode with --stop: it ends by itself at one chain
"$rtlat" -i "$inst" -d 60 --json -t 1000 --stop >"$out/stop.json" 2>"$out/stop.err" &
stopper=$!
attached "$out/spin.err"
attached "$out/stop.err"
python3 tests/integration/rtlat/spin.py "$cpu" 95 4 4 &
spin=$!
wait $spin || fail "the spinner failed (exit $?)"
kill -INT $tracer
wait $tracer || fail "tracer (spinner) exit $?: $(cat "$out/spin.err")"
for _ in $(seq 50); do kill -0 $stopper 2>/dev/null || break; sleep 0.1; done
if kill -0 $stopper 2>/dev/null; then
  fail "--stop: still running after the spinner's late cycles"; kill -INT $stopper
fi
wait $stopper || fail "--stop: exit $?: $(cat "$out/stop.err")"
[ "$(grep -c '"event":"late"' "$out/stop.json")" = 1 ] && tail -1 "$out/stop.json" | grep -q '"event":"summary"' ||
  fail "--stop: not one chain then the summary: $(cut -c1-200 "$out/stop.json")"
python3 - "$out/spin.json" "$spin" <<'PY' || fail "the spinner qk-spin/$spin was not named"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
spin = "qk-spin/" + sys.argv[2]
s = lines[-1]
late = [l for l in lines if l["event"] == "late" and l["cause"] == spin]
assert late, "no late wake-up blamed on " + spin
assert any(c["kind"] == "thread" and c.get("pid") == int(sys.argv[2]) for c in late[0]["chain"]), late[0]
off = [o for o in s["offenders"] if o["name"] == spin]
assert off and off[0]["policy"] == "FIFO" and off[0]["prio"] == 95, s["offenders"]
assert any(c["name"] == spin for c in s["late_causes"]), s["late_causes"]
assert spin in s["verdict"], s["verdict"]
PY

# ---- qiki run --trace: the tracer's verdict in the launcher's summary
kill -INT $qiki
wait $qiki || fail "qiki run exit $?"
"$bin/qiki" run -i "$inst" -q --trace --duration 60 --log-dir "$out/tlogs" >"$out/trace.out" 2>"$out/trace.err" &
qiki=$!
boot || cat "$out/trace.err" "$out/trace.out"
attached "$out/trace.err"
# the tracer keeps off the loop's CPU (it moves itself before it loads)
rtpid=$(pgrep -f -- "^qiki-rtlat --instance $inst " | head -1)
allowed=$(awk '/^Cpus_allowed_list/ { print $2 }' "/proc/$rtpid/status" 2>/dev/null)
[ "$cpu" = 0 ] || [ "$allowed" = "0-$((cpu - 1))" ] || [ "$allowed" = 0 ] ||
  fail "qiki run --trace: the tracer (pid '$rtpid') may run on CPUs '$allowed', the loop's is $cpu"
python3 tests/integration/rtlat/spin.py "$cpu" 95 3 4 &
spin=$!
wait $spin || fail "the spinner failed (exit $?)"
kill -INT $qiki
wait $qiki || fail "qiki run --trace exit $?: $(cat "$out/trace.err")"
grep -q "^  tracer: [0-9]* late cycles\?:.* qk-spin/$spin (max [0-9]* us)" "$out/trace.out" ||
  fail "qiki run --trace: no verdict naming qk-spin/$spin: $(grep tracer: "$out/trace.out") $(cat "$out/trace.err")"
[ -s "$out/tlogs/qiki-rtlat.txt" ] || fail "qiki run --trace left no report in its log directory"

# ---- the loop allocated nothing (probe preloaded into a second, short run)
LD_PRELOAD=$PWD/$B/rel/tests/libqkalloc.so "$bin/qiki" run -i "$inst" -q --duration 8 \
  >"$out/run2.out" 2>"$out/run2.err" &
qiki=$!
boot || cat "$out/run2.err" "$out/run2.out"
"$rtlat" -i "$inst" -d 2 -q 2>"$out/e" || fail "tracer (alloc run) exit $?: $(cat "$out/e")"
wait $qiki || fail "qiki run (alloc) exit $?"
[ "$(grep -c 'allocations in the loop after start-up: 0$' "$out/run2.out")" = 2 ] ||
  fail "the loop allocated with the tracer attached: $(grep allocations "$out/run2.out")"
finish
