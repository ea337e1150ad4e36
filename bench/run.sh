#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# make bench: runs every benchmark in build/bench/bin, one after the other on
# an otherwise idle machine, and writes build/bench/<timestamp>/: each
# bench's <name>.json and <name>.txt, then report.json, report.md and the
# PNG plots (bench/report.py, gnuplot).  BENCH_QUICK=1 passes --quick to
# every bench (about a minute in all); the default takes under ten minutes.
# BASELINE=build/bench/<timestamp> (make bench BASELINE=...) prints each
# headline figure beside that run's, as a ratio (report.py compare).
# BENCH_ONLY="log" (make bench BENCH_ONLY=log) runs only the benches named.
# Without SCHED_FIFO the suite still runs: ring, loop and tick get --no-rt
# and the report says the figures are not real-time.
set -uo pipefail
B=${1:-build}
if [ -n "${BASELINE:-}" ] && [ ! -f "$BASELINE/report.json" ]; then
  echo "bench: BASELINE=$BASELINE has no report.json: pass the directory of a finished run, e.g. $(ls -d "$B"/bench/2* 2>/dev/null | tail -1)" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
out="$B/bench/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
quick=()
[ "${BENCH_QUICK:-0}" = 1 ] && quick=(--quick)

# Can this user run SCHED_FIFO at all?  (root, CAP_SYS_NICE or rtprio)
if chrt -f 1 true 2>/dev/null; then export BENCH_RT=1; else export BENCH_RT=0; fi
nort=()
if [ "$BENCH_RT" = 0 ]; then
  nort=(--no-rt)
  echo "bench: SCHED_FIFO is not allowed here: running without real time, figures marked so"
fi

echo "bench: reports in $out${quick:+ (quick)}"
t_all=$(date +%s.%N)
QK_QIKI=$B/bin/qiki /usr/bin/python3 "$here/report.py" machine "$out"

# The loop-sensitive benches first, in a fixed order; then any other.
order=()
for n in ring loop tick; do [ -x "$B/bench/bin/$n" ] && order+=("$n"); done
for b in "$B"/bench/bin/*; do
  n=$(basename "$b")
  [ -x "$b" ] || continue
  case " ${order[*]} " in *" $n "*) continue ;; esac
  order+=("$n")
done
if [ -n "${BENCH_ONLY:-}" ]; then
  only=()
  for n in "${order[@]}"; do
    case " $BENCH_ONLY " in *" $n "*) only+=("$n") ;; esac
  done
  order=("${only[@]}")
fi

: >"$out/benches"
fail=0
for n in "${order[@]}"; do
  args=("${quick[@]}")
  case $n in ring | loop | tick) args+=("${nort[@]}") ;; esac
  echo "== $n"
  t0=$(date +%s.%N)
  "$B/bench/bin/$n" "${args[@]}" --json "$out/$n.json" 2>&1 | tee "$out/$n.txt"
  rc=${PIPESTATUS[0]}
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  echo "$n $rc $secs" >>"$out/benches"
  echo "== $n: exit $rc, $secs s"
  [ "$rc" = 0 ] || fail=1
done

# A segment of ours left behind would be a bug in the loop bench or in qiki.
for s in /dev/shm/qiki.bench-*; do
  [ -e "$s" ] || continue
  owner=${s##*bench-}
  if ! kill -0 "$owner" 2>/dev/null; then
    echo "bench: WARNING: $s left behind, removed"
    rm -f "$s"
  fi
done

echo "== report"
/usr/bin/python3 "$here/report.py" report "$out" || fail=1
if [ -n "${BASELINE:-}" ]; then
  echo "== against $BASELINE"
  /usr/bin/python3 "$here/report.py" compare "$out" "$BASELINE" | tee "$out/compare.txt" || fail=1
fi
secs=$(awk -v a="$t_all" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
echo "bench: $out/report.md ($secs s)"
exit $fail
