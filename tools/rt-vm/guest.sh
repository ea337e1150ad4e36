#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Runs inside the rt-vm guest (tools/rt-vm/boot.sh), from the worktree, as
# root on Debian's PREEMPT_RT kernel.  Writes its results to /rtvm-out:
# results.tsv (check, PASS/FAIL/SKIP, detail) and one file per figure; the
# host turns them into report.md.  Exit status: 0 when nothing FAILed.
# usage: guest.sh MODE HOST_HASH CYCLES SEED
#   MODE full  PREEMPT_RT, doctor, lockstep hash, unit tests, 1 kHz run with
#              a setpoint, cyclictest, rtla timerlat
#        ci    PREEMPT_RT, doctor, lockstep hash, a short 1 kHz run
#        hpet  the kernel booted with clocksource=hpet: doctor and qiki run
#              must warn; the hot-path checks say what they skip
#        bench bench/run.sh with BENCH_QUICK=1
set -uo pipefail
mode=$1 host_hash=${2:-} cycles=${3:-20000} seed=${4:-7}
B=${QK_RTVM_B:-build}
bin=$B/bin
o=/rtvm-out
res=$o/results.tsv
: > "$res"
fails=0
export QIKI_LOG_DIR=/tmp/qiki-logs QK_SRCDIR=$PWD
# Under TCG every instruction is emulated: the latencies are the
# emulator's, and tests that measure speed or wait on the wall clock say
# they are skipped (tests read QK_EMULATED).
[ "${QK_RTVM_ACCEL:-tcg}" = tcg ] && export QK_EMULATED="QEMU TCG emulation"
# stress_ring's 10 million frames take most of an hour emulated: a tenth
# there (every frame still checked whole and in order, losses exact)
stress_note=""
if [ -n "${QK_EMULATED:-}" ] && [ -z "${QK_STRESS_FRAMES:-}" ]; then
  export QK_STRESS_FRAMES=1000000
  stress_note="emulated: 1 million frames, not 10"
fi
cpu=$(($(nproc) - 1))
# rtla 6.1 leaves its own (SCHED_OTHER) reader wherever the scheduler puts
# it; beside an emulated loop that keeps the loop's CPU 95% busy it starved
# there and never ended.  It runs on the other CPUs (its timerlat threads
# stay per-CPU), under a limit that stops it as Ctrl-C would.
hk=$(seq -s, 0 $((cpu - 1)))
rtla_() {	# seconds args...
  local secs=$1
  shift
  timeout -s INT -k 30 $((secs + 600)) taskset -c "${hk:-0}" rtla timerlat top "$@" -d "$secs"
}

result() {	# name status detail
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$res"
  printf 'rt-vm: [%4ds] %-4s %-22s %s\n' "$SECONDS" "$2" "$1" "$3"
  [ "$2" = FAIL ] && fails=$((fails + 1))
  return 0
}

# --- the kernel and the machine ------------------------------------------
uname -rv > "$o/kernel"
cat /sys/devices/system/clocksource/clocksource0/current_clocksource > "$o/clocksource"
if uname -v | grep -q PREEMPT_RT && [ "$(cat /sys/kernel/realtime 2>/dev/null)" = 1 ]; then
  result preempt-rt PASS "uname -v: $(uname -v); /sys/kernel/realtime 1"
else
  result preempt-rt FAIL "not PREEMPT_RT: uname -v: $(uname -v)"
fi
"$bin/qiki" doctor --cpu "$cpu" > "$o/doctor.txt"
drc=$?
"$bin/qiki" doctor --cpu "$cpu" --json > "$o/doctor.json"
if grep -q '^OK   preemption *PREEMPT_RT' "$o/doctor.txt"; then
  result doctor PASS "exit $drc; $(tail -n1 "$o/doctor.txt"); preemption OK"
else
  result doctor FAIL "doctor does not say PREEMPT_RT: $(grep preemption "$o/doctor.txt")"
fi

lockstep() {	# the same binary, another kernel: the same sensor stream
  local inst=rtvm-ls-$$ h
  "$bin/qiki" run --instance "$inst" --lockstep --cycles "$cycles" --seed "$seed" -q \
    > "$o/lockstep.txt" 2>&1
  h=$(sed -n 's/.*sensor stream hash \([0-9a-f]*\) over.*/\1/p' "$o/lockstep.txt")
  if [ -n "$h" ] && [ "$h" = "$host_hash" ]; then
    result lockstep-hash PASS "$h over $cycles cycles, seed $seed: equal to the host's"
  else
    result lockstep-hash FAIL "guest ${h:-none} != host $host_hash ($cycles cycles, seed $seed)"
  fi
}

# A real-time run at 1 kHz: IDLE, then ACTIVE to a setpoint.  The deadline
# is counted in sim cycles (simulated time), not in wall-clock seconds.
rt_run() {	# setpoint-x max-cycles duration [trace-seconds]
  local inst=rtvm-rt-$$ x=$1 max=$2 dur=$3 trace=${4:-0} st=none js="" arrived=0 c=0 c0="" pid cfg=() note=""
  # An emulated CPU on a shared host misses many periods in a row: the
  # stale-sensor guard (50 cycles) would send the agent SAFE on the
  # emulator's stalls.  Under emulation both guards are widened, and said.
  if [ -n "${QK_EMULATED:-}" ]; then
    printf 'limits:\n  sensor_stale_cycles: 2000\n  actuator_watchdog_cycles: 2000\n' > /tmp/rtvm-emu.yaml
    cfg=(--config /tmp/rtvm-emu.yaml)
    note=" (emulated: stale-sensor guard and actuator watchdog widened from 50 to 2000 cycles)"
  fi
  "$bin/qiki" run --instance "$inst" --duration "$dur" "${cfg[@]}" > "$o/rt-run.txt" 2> "$o/rt-run.err" &
  pid=$!
  for _ in $(seq 300); do
    st=$("$bin/qikictl" -i "$inst" --timeout 5 state 2>/dev/null) && [ "$st" = IDLE ] && break
    sleep 0.2
  done
  if [ "$st" != IDLE ]; then
    result rt-1khz-idle FAIL "the agent did not reach IDLE (state ${st:-none})"
    wait "$pid"; return
  fi
  result rt-1khz-idle PASS "SCHED_FIFO at 1 kHz, IDLE$note"
  [ "$trace" -gt 0 ] && tracers_start "$inst" "$trace"
  "$bin/qikictl" -i "$inst" --timeout 10 setpoint "$x" 0 0 > /dev/null &&
    "$bin/qikictl" -i "$inst" --timeout 10 state ACTIVE > /dev/null ||
    result rt-1khz-setpoint FAIL "setpoint or ACTIVE refused"
  while kill -0 "$pid" 2>/dev/null; do
    js=$("$bin/qikictl" -i "$inst" --timeout 10 --json status 2>/dev/null) || { sleep 0.5; continue; }
    # (awk, not python: under emulation a python start costs seconds)
    read -r arrived c < <(echo "$js" | awk -v x="$x" '{
      p = $0; sub(/.*"position_m":\[/, "", p); sub(/\].*/, "", p); split(p, P, ",")
      v = $0; sub(/.*"velocity_mps":\[/, "", v); sub(/\].*/, "", v); split(v, V, ",")
      c = $0; sub(/.*"sim":\{[^}]*"cycles":/, "", c); sub(/[^0-9].*/, "", c)
      e = sqrt((P[1] - x)^2 + P[2]^2 + P[3]^2); sp = sqrt(V[1]^2 + V[2]^2 + V[3]^2)
      print (e < 0.5 && sp < 0.05 && $0 ~ /"state":"ACTIVE"/) ? 1 : 0, c + 0 }')
    # the deadline counts the sim's cycles from the setpoint on
    [ -n "$c0" ] || c0=$c
    c=$((c - c0))
    [ "$arrived" = 1 ] && break
    [ "$c" -gt "$max" ] && break
    case $js in *'"state":"SAFE"'* | *'"state":"ERROR"'*) break ;; esac
    sleep 1
  done
  echo "$js" > "$o/rt-status.json"
  [ "$trace" -gt 0 ] && rtlat_end
  if [ "$arrived" = 1 ]; then
    result rt-1khz-setpoint PASS "at ($x, 0, 0) m within 0.5 m, < 0.05 m/s, $c sim cycles after the setpoint$note"
  else
    result rt-1khz-setpoint FAIL "not at the setpoint $c sim cycles after it (limit $max): state $(echo "$js" |
      sed -n 's/.*"state":"\([A-Z]*\)".*"reason":"\([^"]*\)".*/\1, reason \2/p')"
  fi
  "$bin/qikictl" -i "$inst" --timeout 10 state SHUTDOWN > /dev/null 2>&1
  wait "$pid"
  local rc=$?
  [ "$trace" -gt 0 ] && rtla_end
  [ $rc = 0 ] || result rt-1khz-exit FAIL "qiki run exit $rc: $(tail -n 3 "$o/rt-run.err")"
}

# Two tracers at once on the running loop: qiki-rtlat (ours, eBPF) on the
# loop threads themselves for `seconds`, and rtla timerlat (the kernel's, a
# tool we did not write) on their CPU over the whole of it.  rtla 6.1 has no
# user-space mode (-u came later): it measures its own timerlat thread
# (SCHED_FIFO 95) woken by a timer on the loop's CPU, beside the loop.
# rtla starts first, and is stopped (SIGINT: it prints its summary) once
# the loop has shut down.  It is started with timeout itself as the
# background job, so that $! is timeout's pid and the SIGINT reaches rtla
# (timeout passes it on): started as `rtla_ ... &`, $! was a subshell that
# kept the signal, and rtla ran its whole 1800 s (the "hang" of three boots).
tracers_start() {	# instance seconds
  local inst=$1 secs=$2
  timeout -s INT -k 30 2400 taskset -c "${hk:-0}" rtla timerlat top -c "$cpu" -q -P f:95 -d 1800 \
    > "$o/timerlat-loop.txt" 2>&1 &
  rtla_pid=$!
  sleep 2
  "$bin/qiki-rtlat" -i "$inst" -d "$secs" -o "$o/rtlat.txt" 2> "$o/rtlat.err" &
  rtlat_pid=$!
  # the verifier takes minutes under emulation: wait until it traces
  for _ in $(seq 1800); do
    grep -qs '^qiki-rtlat: tracing' "$o/rtlat.err" && break
    kill -0 "$rtlat_pid" 2>/dev/null || break
    sleep 0.5
  done
}

rtlat_end() {
  local rc l
  wait "$rtlat_pid"
  rc=$?
  if [ $rc = 0 ] && grep -q '^qiki-rtlat summary' "$o/rtlat.txt"; then
    l=$(awk '$1 ~ /^qiki-(sim|agent)$/ { printf "%s wake-ups %s p50 %s p99 %s max %s us; ", $1, $4, $5, $6, $7 }' "$o/rtlat.txt")
    result qiki-rtlat PASS "the loop threads, CPU $cpu, beside rtla: ${l%; }${QK_EMULATED:+ (emulated)}"
  else
    result qiki-rtlat FAIL "exit $rc: $(grep -v '^libbpf' "$o/rtlat.err" | tail -n 3 | tr '\n' ' ')"
  fi
}

rtla_end() {	# after the loop has stopped (see above)
  local rc l
  kill -INT "$rtla_pid" 2>/dev/null	# (timeout passes it on to rtla)
  wait "$rtla_pid"
  rc=$?
  [ $rc = 130 ] && rc=0	# SIGINT: our stop, not a failure
  l=$(sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$o/timerlat-loop.txt" | awk -v c="$cpu" '$1 == c {
    printf "IRQ min %s avg %s max %s us, thread min %s avg %s max %s us", $5, $6, $7, $10, $11, $12 }')
  if [ $rc = 0 ] && [ -n "$l" ]; then
    result rtla-timerlat-loop PASS "CPU $cpu beside the loop, from before qiki-rtlat attached to the loop's end: $l${QK_EMULATED:+ (emulated)}"
  else
    result rtla-timerlat-loop FAIL "rtla timerlat exit $rc: $(tail -n 2 "$o/timerlat-loop.txt")"
  fi
}

cyclic() {	# seconds
  cyclictest -m -p 95 -i 1000 -a "$cpu" -t 1 -D "$1" -q -h 400 > "$o/cyclictest.txt" 2>&1
  local l
  l=$(grep -E '^# (Min|Avg|Max) Latencies' "$o/cyclictest.txt" | tr -s ' ' | tr '\n' ' ')
  if [ -n "$l" ]; then
    result cyclictest PASS "CPU $cpu, 1 ms, ${1} s: $l(us)"
  else
    result cyclictest FAIL "cyclictest gave no figures: $(tail -n 2 "$o/cyclictest.txt")"
  fi
}

timerlat() {	# seconds
  if ! grep -qw timerlat /sys/kernel/tracing/available_tracers 2>/dev/null; then
    result rtla-timerlat SKIP "this kernel has no timerlat tracer"
    return
  fi
  rtla_ "$1" -c "$cpu" -q -P f:95 > "$o/timerlat.txt" 2>&1
  local rc=$?
  if [ $rc = 0 ] && grep -q "^ *$cpu " "$o/timerlat.txt"; then
    result rtla-timerlat PASS "CPU $cpu, ${1} s (see timerlat.txt)"
  else
    result rtla-timerlat FAIL "rtla timerlat exit $rc: $(tail -n 2 "$o/timerlat.txt")"
  fi
}

unit_tests() {
  local p n rc t0 log lim
  mkdir -p "$o/unit"
  for p in "$B"/rel/tests/*/test_* "$B"/rel/tests/*/stress_*; do
    [ -x "$p" ] && [[ $p != *.so ]] && [[ $p != *.d ]] && [[ $p != *.o ]] || continue
    n=${p#"$B"/rel/tests/}
    n=${n//\//-}
    log=$o/unit/$n.log
    t0=$EPOCHREALTIME
    # test_loop starts the loop a dozen times: three times the limit
    lim=${QK_RTVM_TEST_TIMEOUT:-600}
    [ "$n" = integration-test_loop ] && lim=$((lim * 3))
    timeout "$lim" "$p" > "$log" 2>&1
    rc=$?
    local secs
    secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
    local skipped
    skipped=$(grep -hoE '(SKIPPED|skipped)[^[]*' "$log" | head -n 2 | tr '\n' ' ' | cut -c1-200)
    [ "$n" = shm-stress_ring ] && [ -n "$stress_note" ] && skipped="${skipped:+$skipped; }$stress_note"
    if [ $rc = 0 ]; then
      result "unit/$n" PASS "${secs} s${skipped:+; $skipped}"
    elif [ $rc = 124 ] && [ -n "${QK_EMULATED:-}" ]; then
      # a wall-clock limit is not the test's verdict under emulation
      result "unit/$n" SKIP "did not finish in $lim s under $QK_EMULATED (a wall-clock limit, not a failure)"
    else
      result "unit/$n" FAIL "exit $rc after ${secs} s: $(grep -m2 -E 'ERROR|FAIL|fail' "$log" | tr '\n' ' ' | cut -c1-200)"
    fi
  done
}

case $mode in
  full)
    lockstep
    rt_run 5 60000 1500 30
    cyclic 20
    timerlat 20
    unit_tests
    ;;
  ci)
    lockstep
    rt_run 2 30000 400
    ;;
  trace)	# the tracers beside a 1 kHz run only (a check of this script)
    rt_run 2 30000 1500 30
    ;;
  hpet)
    cs=$(cat "$o/clocksource")
    [ "$cs" = hpet ] || result hpet-booted FAIL "clocksource=hpet asked, the kernel chose $cs"
    if grep -q "^WARN clocksource *hpet: the vDSO cannot read it.*clocksource=tsc tsc=reliable" "$o/doctor.txt"; then
      result hpet-doctor PASS "qiki doctor: $(grep -o '^WARN clocksource *hpet[^;]*' "$o/doctor.txt" | tr -s ' ')"
    else
      result hpet-doctor FAIL "no clocksource WARN: $(grep clocksource "$o/doctor.txt")"
    fi
    "$bin/qiki" run --instance "rtvm-hp-$$" --duration 2 > "$o/hpet-run.txt" 2> "$o/hpet-run.err"
    n=$(grep -c "warning: clocksource 'hpet' cannot be read by the vDSO.*clocksource=tsc tsc=reliable" \
        "$o/hpet-run.err")
    if [ "$n" = 2 ] && grep -q '^qiki: doctor: .*clocksource' "$o/hpet-run.txt"; then
      result hpet-run-warns PASS "qiki-sim and qiki-agent warned at start-up; qiki run's digest names it"
    else
      result hpet-run-warns FAIL "$n of 2 loop processes warned: $(head -c 300 "$o/hpet-run.err")"
    fi
    if [ "${QK_RTVM_HPET_TESTS:-0}" = 1 ]; then
      for t in rt/test_log integration/test_loop; do
        timeout 900 "$B/rel/tests/$t" > "$o/hpet-${t#*/}.log" 2>&1
        rc=$?
        msg=$(grep -m1 -o "${t#*/}: SKIPPED[^(]*" "$o/hpet-${t#*/}.log")
        if [ $rc = 0 ] && [ -n "$msg" ]; then
          result "hpet/$t" PASS "$msg"
        else
          result "hpet/$t" FAIL "exit $rc; ${msg:-no skip message}: $(grep -m2 ERROR "$o/hpet-${t#*/}.log" | tr '\n' ' ')"
        fi
      done
    fi
    ;;
  bench)
    cyclic 10
    BENCH_QUICK=1 ./bench/run.sh "$B" > "$o/bench.txt" 2>&1
    rc=$?
    d=$(ls -d "$B"/bench/2* 2>/dev/null | tail -n1)
    [ -n "$d" ] && cp -r "$d" "$o/bench"
    [ $rc = 0 ] && result bench PASS "bench/run.sh BENCH_QUICK=1 (reports in bench/)" ||
      result bench FAIL "bench/run.sh exit $rc: $(tail -n 3 "$o/bench.txt")"
    ;;
  *) result mode FAIL "unknown mode $mode" ;;
esac
[ $fails = 0 ]
