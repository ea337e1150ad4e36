#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The segment's readers under a hostile writer (issue 14): qikictl stats,
# watch, history, link, status and devices while the statistics region (the
# histograms every reader draws) flips between two patterns as fast as a
# writer can, so that a reader that reads a word twice sees two values.
# `stats` once sized a histogram bar by a bucket read after the peak it was
# scaled by, and wrote past its 41-byte bar.  Each reader must exit with a
# documented status, never by a signal, and never hang.  Last, a ring's
# geometry is overwritten: qikictl exits 2 naming the region (issue 14,
# defect 1), and the launcher stops the instance saying the same.
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
# a signal or a hang; with ok130=1, 130 too: the SIGINT that stops watch,
# when it comes before watch has set its handler (a loaded machine)
runs=0 ok130=0
run() {
  timeout 10 "$@" >/dev/null 2>>"$out/ctl.err"
  local rc=$?
  runs=$((runs + 1))
  [ $ok130 = 1 ] && [ $rc = 130 ] && rc=0
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
  ok130=1; run timeout --preserve-status -s INT 0.5 "$bin/qikictl" -i "$inst" watch --interval 0.05; ok130=0
done
wait $wpid
echo "  $runs reader runs under the writer, $fails failed"

# a region's geometry overwritten (the sensors ring's capacity, its second
# cache line): qikictl exits 2 naming the region, and so does a new attach
for k in "${!regions[@]}"; do [ "${regions[$k]}" = QK_R_SENSORS ] && si=$k; done
s_off=$(od -An -t u8 -j $((roff + 8 * si)) -N 8 -v "$seg" | tr -d ' ')
kill -STOP $lpid	# so that it does not end the instance (and unlink it) first
printf '\x03\x00\x00\x00' | dd of="$seg" bs=1 seek=$((s_off + 64)) conv=notrunc status=none
for cmd in status stats watch; do
  timeout 10 "$bin/qikictl" -i "$inst" $cmd >/dev/null 2>"$out/bad.err"; rc=$?
  [ $rc = 2 ] && grep -q 'sensors ring region' "$out/bad.err" ||
    fail "qikictl $cmd on an overwritten ring: exit $rc, $(cat "$out/bad.err")"
done
kill -CONT $lpid
for _ in $(seq 100); do kill -0 $lpid 2>/dev/null || break; sleep 0.1; done
kill -TERM $lpid 2>/dev/null
wait $lpid; rc=$?
[ $rc = 4 ] && grep -q 'sensors ring region' "$out/run.out" ||
  fail "the launcher on an overwritten ring: exit $rc, $(tail -n 3 "$out/run.out")"
finish
