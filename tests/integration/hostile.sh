#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# A hostile member of the segment's group (issue 14): random bytes written
# over every region of a live segment (header, config, rings, mailboxes,
# command queues, stats), region by region, a fresh instance for each, while
# qikictl keeps asking.  No process may die by a signal, none may hang, and
# the launcher must end in order with the segment unlinked.
#
# Two passes: root's instance attacked by an unprivileged member of the
# segment's group (a throwaway uid/gid, nothing created in /etc), and an
# instance run by that unprivileged user itself.  Each region is attacked
# for HOSTILE_SECS (default 1) seconds.  Last, the segment is truncated under
# a live instance: SIGBUS everywhere, each process must say so and stop.
# usage: tests/integration/hostile.sh BUILD_DIR
name=hostile
. "$(dirname "$0")/lib.sh"

secs=${HOSTILE_SECS:-1}
ugid=$((40000 + $$ % 20000))	# no such user or group: nothing to clean up
member=(setpriv --reuid="$ugid" --regid="$ugid" --clear-groups)
logs=$(mktemp -d /tmp/qk-hostile-logs.XXXXXX)
chmod 1777 "$logs"
trap 'cleanup; rm -rf "$logs"' EXIT
# The regions, in enum qk_region order, and where qk_seg_hdr.region_off
# starts (after 64 bytes of fixed fields, struct_size[QK_S_COUNT] and a pad,
# 8-aligned), read from shm/seg.h so that a new region is attacked too.
enum_names() { sed -n "/^enum $1 {/,/$2_COUNT/p" shm/seg.h | grep -o "$2_[A-Z_]*" | grep -v "$2_COUNT"; }
mapfile -t names < <(enum_names qk_region QK_R | sed 's/^QK_R_//' | tr 'A-Z' 'a-z')
names=(header "${names[@]}")
nstructs=$(enum_names qk_struct_id QK_S | wc -l)
roff=$(( (64 + 4 * nstructs + 4 + 7) / 8 * 8 ))

# region_bounds SEG INDEX -> "start length"; index 0 is the header
region_bounds() {
  local seg=$1 i=$2 size offs
  size=$(stat -c %s "$seg")
  read -r -a offs <<<"$(od -An -t u8 -j "$roff" -N $(( 8 * (${#names[@]} - 1) )) -v "$seg" | tr -s ' \n' ' ')"
  offs=(0 "${offs[@]}" "$size")
  echo "${offs[$i]} $((offs[i + 1] - offs[i]))"
}

# scribble AS SEG START LEN SECS: random bytes at random places in [START, START+LEN)
scribble() {
  local as=$1 seg=$2 start=$3 len=$4 until=$((SECONDS + $5)) n off span
  while [ $SECONDS -lt $until ]; do
    n=$((1 + RANDOM % 64)); [ $n -gt "$len" ] && n=$len
    # every other write in the region's first lines, where its own header
    # (indices, capacity, stride, size) lives; the rest anywhere in it
    span=$((len - n + 1)); [ $((RANDOM % 2)) = 0 ] && [ $span -gt 256 ] && span=256
    off=$((start + (RANDOM * 32768 + RANDOM) % span))
    # nocreat: once the launcher has unlinked it, the attack is over
    $as dd if=/dev/urandom of="$seg" bs="$n" count=1 seek="$off" oflag=seek_bytes \
      conv=notrunc,nocreat status=none 2>/dev/null || return 0
  done
}

# ask: qikictl while under attack: any documented exit, never a signal or a hang
ask() {
  timeout 10 "$bin/qikictl" -i "$1" --timeout 0.5 "${@:2}" >/dev/null 2>>"$out/ctl.err"
  local rc=$?
  case $rc in
    0|2|3|4|5) ;;	# 5: status saw a loop process dead or stuck
    124) fail "$region: qikictl ${*:2} hung (killed after 10 s)" ;;
    *) fail "$region: qikictl ${*:2} exit $rc (a signal?)"; tail -n 3 "$out/ctl.err" ;;
  esac
}

attack() {	# PASS REGION_INDEX
  local pass=$1 idx=$2 i=$inst-$1-$2 seg run=() lpid rc b
  region="$pass/${names[$idx]}"
  seg=/dev/shm/qiki.$i
  if [ "$pass" = member ]; then run=("${member[@]}"); fi
  mkdir -p "$logs/$i" && chmod 1777 "$logs/$i"
  "${run[@]}" "$bin/qiki" run --instance "$i" --no-rt --duration 60 -q --log-dir "$logs/$i" \
    >"$out/$i.out" 2>&1 &
  lpid=$!
  for _ in $(seq 100); do [ "$("$bin/qikictl" -i "$i" state 2>/dev/null)" = IDLE ] && break; sleep 0.05; done
  if [ ! -e "$seg" ]; then fail "$region: the instance did not start"; cat "$out/$i.out"; return; fi
  # root's segment, group-owned by the member's group (mode 0660)
  [ "$pass" = root ] && chgrp "$ugid" "$seg"
  read -r b len <<<"$(region_bounds "$seg" "$idx")"
  scribble "${member[*]}" "$seg" "$b" "$len" "$secs" &
  local spid=$!
  while kill -0 $spid 2>/dev/null; do
    ask "$i" status; ask "$i" setpoint 1 2 3; ask "$i" fault clear all; sleep 0.1
  done
  wait $spid
  kill -TERM $lpid 2>/dev/null
  for _ in $(seq 200); do kill -0 $lpid 2>/dev/null || break; sleep 0.1; done
  if kill -0 $lpid 2>/dev/null; then
    fail "$region: the launcher hangs 20 s after SIGTERM"; kill -KILL $lpid; wait $lpid; return
  fi
  wait $lpid; rc=$?
  [ $rc -ge 128 ] && fail "$region: the launcher died by signal $((rc - 128))"
  grep -q "killed by signal" "$out/$i.out" && fail "$region: a loop process died by a signal: $(grep 'killed by signal' "$out/$i.out")"
  grep -qi "sanitizer\|segmentation\|core dumped" "$out/$i.out" && fail "$region: $(grep -i 'sanitizer\|segmentation\|core dumped' "$out/$i.out" | head -2)"
  [ -e "$seg" ] && { fail "$region: the segment was left behind"; rm -f "$seg"; }
  pgrep -f -- "--instance $i( |\$)" >/dev/null && fail "$region: a process of the instance outlived the launcher"
  echo "  $region: launcher exit $rc$(grep -o 'the [a-z ]*region[a-z ]*' "$out/$i.out" | head -1 | sed 's/^/, /')"
}

# truncate: every process touching the lost pages gets SIGBUS; each must
# say so and stop (exit status, not death by signal), the segment unlinked
truncated() {
  local i=$inst-trunc seg=/dev/shm/qiki.$inst-trunc lpid rc
  region=truncate
  mkdir -p "$logs/$i" && chmod 1777 "$logs/$i"
  "$bin/qiki" run --instance "$i" --no-rt --duration 60 -q --log-dir "$logs/$i" >"$out/$i.out" 2>&1 &
  lpid=$!
  for _ in $(seq 100); do [ "$("$bin/qikictl" -i "$i" state 2>/dev/null)" = IDLE ] && break; sleep 0.05; done
  chgrp "$ugid" "$seg" && "${member[@]}" truncate -s 4096 "$seg"	# a group member may
  ask "$i" status
  for _ in $(seq 100); do kill -0 $lpid 2>/dev/null || break; sleep 0.1; done
  if kill -0 $lpid 2>/dev/null; then fail "truncate: the launcher hangs"; kill -TERM $lpid; fi
  wait $lpid; rc=$?
  [ $rc -ge 128 ] && fail "truncate: the launcher died by signal $((rc - 128))"
  grep -q "killed by signal" "$out/$i.out" && fail "truncate: $(grep 'killed by signal' "$out/$i.out")"
  grep -q "truncated under us" "$out/$i.out" || fail "truncate: nobody said the segment was truncated"
  [ -e "$seg" ] && { fail "truncate: the segment was left behind"; rm -f "$seg"; }
  echo "  truncate: launcher exit $rc, $(grep -c 'truncated under us' "$out/$i.out") processes said so"
}

# The sensors ring's waiters word (8 bytes into the ring: after head), held
# at 0xffffffff by a group member while the sim is traced.  A timer- or
# spin-mode sim decided at attach that nobody waits: it makes no futex call
# at all, whatever the word says.  A futex-mode sim makes at most one wake
# per cycle, the cost an honest waiting agent has anyway.
hostile_waiters() {	# WAKE
  local w=$1 i=$inst-wt-$1 seg=/dev/shm/qiki.$inst-wt-$1 lpid b len sim spid c0 c1 calls
  region="waiters/$w"
  mkdir -p "$logs/$i" && chmod 1777 "$logs/$i"
  "$bin/qiki" run --instance "$i" --no-rt --wake "$w" --duration 60 -q --log-dir "$logs/$i" \
    >"$out/$i.out" 2>&1 &
  lpid=$!
  for _ in $(seq 100); do [ "$("$bin/qikictl" -i "$i" state 2>/dev/null)" = IDLE ] && break; sleep 0.05; done
  sim=$("$bin/qikictl" -i "$i" status --json 2>/dev/null |
        /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['processes']['sim']['pid'])" 2>/dev/null)
  if [ -z "$sim" ] || [ "$sim" = 0 ]; then fail "$region: the instance did not start"; kill -TERM $lpid; wait $lpid; return; fi
  chgrp "$ugid" "$seg"
  read -r b len <<<"$(region_bounds "$seg" "$(printf '%s\n' "${names[@]}" | grep -nx sensors | cut -d: -f1 | awk '{print $1 - 1}')")"
  ( until=$((SECONDS + 4)); while [ $SECONDS -lt $until ]; do
      printf '\377\377\377\377' | "${member[@]}" dd of="$seg" bs=4 count=1 seek=$((b + 8)) oflag=seek_bytes \
        conv=notrunc,nocreat status=none 2>/dev/null || break
      sleep 0.01
    done ) &
  spid=$!
  sleep 0.5
  c0=$("$bin/qikictl" -i "$i" status --json 2>/dev/null | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['processes']['sim']['cycles'])" 2>/dev/null)
  # the loop thread only (the main thread), as test_loop traces it
  timeout -s INT 2 strace -c -e trace=futex -p "$sim" -o "$out/$i.strace" 2>/dev/null
  c1=$("$bin/qikictl" -i "$i" status --json 2>/dev/null | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['processes']['sim']['cycles'])" 2>/dev/null)
  wait $spid
  kill -TERM $lpid 2>/dev/null; wait $lpid
  calls=$(awk '$NF == "futex" { print $4 }' "$out/$i.strace" 2>/dev/null)
  calls=${calls:-0}
  case $w in
    timer|spin) [ "$calls" = 0 ] || fail "$region: the sim made $calls futex calls under a hostile waiters word" ;;
    futex) [ "$calls" -le $((c1 - c0 + 2)) ] || fail "$region: $calls futex calls in $((c1 - c0)) cycles" ;;
  esac
  echo "  $region: $calls futex calls by the sim over ~$((c1 - c0)) cycles, waiters word held at 0xffffffff"
}

for pass in root member; do
  for idx in "${!names[@]}"; do attack "$pass" "$idx"; done
done
truncated
for w in timer spin futex; do hostile_waiters "$w"; done
finish
