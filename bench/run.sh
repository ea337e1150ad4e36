#!/usr/bin/env bash
# make bench: runs every benchmark in build/bench/bin and keeps their JSON
# reports in build/bench/<timestamp>/.  BENCH_QUICK=1 passes --quick.
set -euo pipefail
B=${1:-build}
out="$B/bench/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
quick=()
[ "${BENCH_QUICK:-0}" = 1 ] && quick=(--quick)
echo "bench: reports in $out"
for b in "$B"/bench/bin/*; do
  [ -x "$b" ] || continue
  name=$(basename "$b")
  echo "== $name"
  "$b" "${quick[@]}" --json "$out/$name.json" | tee "$out/$name.txt"
done
