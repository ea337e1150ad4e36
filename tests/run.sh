#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The test runner behind `make test`: every cmocka program of every build
# variant (build/<variant>/tests/<room>/, mirroring tests/<room>/), the
# integration scripts, then a check that no qiki segment was left in /dev/shm.
# usage: tests/run.sh BUILD_DIR [unit]
set -uo pipefail
B=${1:-build}
only=${2:-all}
cd "$(dirname "$0")/.."

before=$(ls /dev/shm 2>/dev/null | grep '^qiki\.' | sort)
pass=0 fail=0 failed=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
export QK_SRCDIR=$PWD
# the loop's own log files (qiki run's default is /var/log/qiki as root)
export QIKI_LOG_DIR=${QIKI_LOG_DIR:-$PWD/$B/test-logs/qiki}

run() {	# variant program [timeout]
  local v=$1 p=$2 t=${3:-300} log start rc name=${2##*/tests/}
  log="$B/test-logs/$v-${name//\//-}.log"
  mkdir -p "$B/test-logs"
  start=$EPOCHREALTIME
  timeout "$t" "$p" >"$log" 2>&1
  rc=$?
  local secs
  secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1)); printf 'PASS %-6s %-34s %6ss\n' "$v" "$name" "$secs"
  else
    fail=$((fail + 1)); failed+=("$v/$name")
    printf 'FAIL %-6s %-34s %6ss (exit %d, log %s)\n' "$v" "$name" "$secs" "$rc" "$log"
    tail -n 30 "$log" | sed 's/^/    /'
  fi
}

# the cmocka programs of a variant, room by room: the rooms bottom up, then
# any other folder of tests/, with integration last
programs() {	# variant
  local room p rooms=(shm rt config agent sim hil ctl proto tools)
  for p in tests/*/; do
    p=${p%/}; p=${p#tests/}
    [[ " ${rooms[*]} integration " == *" $p "* ]] || rooms+=("$p")
  done
  for room in "${rooms[@]}" integration; do
    for p in "$B/$1/tests/$room"/test_* "$B/$1/tests/$room"/stress_*; do
      [ -x "$p" ] && [ -f "$p" ] && echo "$p"
    done
  done
}

for p in $(programs rel); do run rel "$p" 600; done
if [ "$only" != unit ]; then
  for p in $(programs asan); do
    [[ $(basename "$p") != test_loop ]] && run asan "$p" 600
  done
  # TSan: the lock-free code and its stress tests
  for name in shm/test_ring shm/test_cmdq shm/test_mbox rt/test_log rt/test_log_read shm/stress_ring shm/stress_cmdq; do
    p="$B/tsan/tests/$name"
    [ -x "$p" ] && run tsan "$p" 600
  done
fi

# integration scripts: the real programs, started as a user would
if [ "$only" != unit ]; then
  for p in tests/integration/*.sh; do
    [ -x "$p" ] || continue
    log="$B/test-logs/integration-$(basename "$p").log"
    start=$EPOCHREALTIME
    if timeout 900 "$p" "$B" >"$log" 2>&1; then
      pass=$((pass + 1)); printf 'PASS %-6s %-34s %6ss\n' integ "$(basename "$p")" \
        "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
    else
      fail=$((fail + 1)); failed+=("integration/$(basename "$p")")
      printf 'FAIL %-6s %-34s (log %s)\n' integ "$(basename "$p")" "$log"
      tail -n 30 "$log" | sed 's/^/    /'
    fi
  done
fi

# A new segment that no process still maps was left by a test; one that a
# live process maps belongs to a loop running beside this run, and stays.
after=$(ls /dev/shm 2>/dev/null | grep '^qiki\.' | sort)
left=""
for s in $(comm -13 <(echo "$before") <(echo "$after") | grep . || true); do
  grep -qs " /dev/shm/$s\( (deleted)\)\?$" /proc/[0-9]*/maps || left="$left $s"
done
if [ -n "$left" ]; then
  fail=$((fail + 1)); failed+=("left segments")
  echo "FAIL segments left in /dev/shm: $(echo $left)"
  for s in $left; do rm -f "/dev/shm/$s"; done
fi
echo "tests: $pass passed, $fail failed${failed:+: ${failed[*]}}"
[ $fail -eq 0 ]
