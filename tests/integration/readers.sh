#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The segment's readers under a hostile writer (issue 14): qikictl stats,
# watch, history, link, status and devices while the statistics region (the
# histograms every reader draws) flips between two patterns as fast as a
# writer can, so that a reader that reads a word twice sees two values.
# `stats` once sized a histogram bar by a bucket read after the peak it was
# scaled by, and wrote past its 41-byte bar.  Each reader must exit with a
# documented status, never by a signal, and never hang.
# usage: tests/integration/readers.sh BUILD_DIR
name=readers
. "$(dirname "$0")/lib.sh"

secs=${READERS_SECS:-4}
"$bin/qiki" run --instance "$inst" --no-rt --duration 60 -q --log-dir "$out" >"$out/run.out" 2>&1 &
lpid=$!
wait_idle || { cat "$out/run.out"; finish; exit; }
seg=/dev/shm/qiki.$inst

# the stats region's bounds, from the header's region offsets (shm/seg.h)
enum_names() { sed -n "/^enum $1 {/,/$2_COUNT/p" shm/seg.h | grep -o "$2_[A-Z_]*" | grep -v "$2_COUNT"; }
mapfile -t regions < <(enum_names qk_region QK_R)
nstructs=$(enum_names qk_struct_id QK_S | wc -l)
roff=$(( (64 + 4 * nstructs + 4 + 7) / 8 * 8 ))
for k in "${!regions[@]}"; do [ "${regions[$k]}" = QK_R_STATS ] && ri=$k; done
read -r s_start s_end <<<"$(od -An -t u8 -j $((roff + 8 * ri)) -N 16 -v "$seg" | tr -s ' \n' ' ')"

# every word of the region 1, then every word 1,000,000, over and over
/usr/bin/python3 - "$seg" "$s_start" "$s_end" "$secs" <<'EOF' &
import mmap, os, struct, sys, time
path, a, b, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
fd = os.open(path, os.O_RDWR)
m = mmap.mmap(fd, 0)
n = (b - a) // 8
lo, hi = struct.pack("<Q", 1) * n, struct.pack("<Q", 1000000) * n
end = time.monotonic() + secs
while time.monotonic() < end:
    for _ in range(200):
        m[a:b] = lo
        m[a:b] = hi
EOF
wpid=$!

# run CMD...: a documented exit (0, 2 the segment inconsistent, 4, 5), never
# a signal or a hang
runs=0
run() {
  timeout 10 "$@" >/dev/null 2>>"$out/ctl.err"
  local rc=$?
  runs=$((runs + 1))
  case $rc in
    0|2|4|5) ;;
    124) fail "$* hung (killed after 10 s)" ;;
    *) fail "$* exit $rc$([ $rc -ge 128 ] && echo " (signal $((rc - 128)))")" ;;
  esac
}
q() { run "$bin/qikictl" -i "$inst" "$@"; }
while kill -0 $wpid 2>/dev/null; do
  for _ in 1 2 3 4 5; do q stats; done
  q stats --json
  q status
  q history
  q link
  q devices
  run timeout --preserve-status -s INT 0.3 "$bin/qikictl" -i "$inst" watch --interval 0.05
done
wait $wpid
echo "  $runs reader runs under the writer, $fails failed"
kill -TERM $lpid 2>/dev/null
wait $lpid
finish
