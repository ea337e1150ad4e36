#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# A hostile member of the segment's group (issue 14): random bytes written
# over every region of a live segment (header, config, rings, mailboxes,
# command queues, stats), region by region, a fresh instance for each, while
# qikictl keeps asking.  No process may die by a signal, none may hang, and
# the launcher must end in order with the segment unlinked.  A qiki-telemetry
# writing an MCAP file and serving a connected Foxglove client watches each
# attack: it must end by itself (0 at the shutdown, or 6 naming what it found
# overwritten), never by a signal nor hang, and leave a finished file.
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

# tele_start AS... : the exporter on instance $i as that user, and a
# Foxglove client connected to it; sets tpid, fpid
tele_start() {
  local port=
  "$@" "$bin/qiki-telemetry" -i "$i" -o "$logs/$i/t.mcap" --foxglove 0 --avoid-cpu -1 -q \
    >"$out/$i.tele" 2>&1 &
  tpid=$!
  for _ in $(seq 100); do
    port=$(grep -o 'WebSocket on port [0-9]*' "$out/$i.tele" | grep -o '[0-9]*$') && break; sleep 0.05
  done
  fpid=
  if [ -z "$port" ]; then fail "$region: qiki-telemetry did not start"; cat "$out/$i.tele"; return; fi
  timeout 60 /usr/bin/python3 tests/integration/foxglove/watch.py "$port" 50 "$out/$i.ready" \
    >"$out/$i.fox" 2>&1 &
  fpid=$!
  for _ in $(seq 100); do [ -e "$out/$i.ready" ] && return; sleep 0.05; done
  fail "$region: the Foxglove client did not subscribe: $(cat "$out/$i.fox")"
}

# tele_check: it ended by itself (0 or 6), its file is finished, and when it
# stopped on the segment it said which region, on stderr, in the file and to
# the Foxglove client
tele_check() {
  local rc why
  for _ in $(seq 100); do kill -0 "$tpid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$tpid" 2>/dev/null; then
    fail "$region: qiki-telemetry hangs 10 s after the launcher ended"; kill -KILL "$tpid"
  fi
  wait "$tpid"; rc=$?
  case $rc in
    0) ;;
    6) why=$(grep -o 'the [a-z ]* region\|truncated' "$out/$i.tele" | head -1)
       [ -n "$why" ] || fail "$region: qiki-telemetry exit 6 without naming the region: $(cat "$out/$i.tele")"
       "$bin/qiki-telemetry" cat "$logs/$i/t.mcap" --topic /log 2>/dev/null | grep -q 'stopped reading' ||
         fail "$region: the file's /log does not say why telemetry stopped" ;;
    *) fail "$region: qiki-telemetry exit $rc$([ $rc -ge 128 ] && echo " (signal $((rc - 128)))"): $(tail -n 2 "$out/$i.tele")" ;;
  esac
  grep -qi "sanitizer\|segmentation\|core dumped" "$out/$i.tele" && fail "$region: qiki-telemetry: $(head -2 "$out/$i.tele")"
  "$bin/qiki-telemetry" info "$logs/$i/t.mcap" >"$out/$i.info" 2>&1 ||
    fail "$region: qiki-telemetry info cannot read the file: $(cat "$out/$i.info")"
  grep -q "not finished" "$out/$i.info" && fail "$region: the MCAP file was left unfinished"
  if [ -n "$fpid" ]; then
    wait "$fpid" || fail "$region: the Foxglove client: $(cat "$out/$i.fox")"
    grep -q "close -1" "$out/$i.fox" && fail "$region: the Foxglove client was never closed"
    [ $rc = 6 ] && ! grep -q "statuses \['2:" "$out/$i.fox" &&
      fail "$region: the Foxglove client was not told why: $(cat "$out/$i.fox")"
  fi
  tele="telemetry exit $rc$([ $rc = 6 ] && echo " ($why)")"
}

attack() {	# PASS REGION_INDEX
  local pass=$1 idx=$2 i=$inst-$1-$2 seg run=() lpid rc b tpid fpid tele
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
  tele_start "${run[@]}"
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
  tele_check
  # what the launcher found overwritten in the header, the exporter must have
  # found too (a queue's indices, once consumed, may read consistent again
  # by the exporter's next check: only the header's damage is sure to stay)
  [ "${names[$idx]}" = header ] && grep -q 'region was overwritten' "$out/$i.out" && [[ $tele != *"exit 6"* ]] &&
    fail "$region: the launcher found the segment overwritten, qiki-telemetry did not ($tele)"
  echo "  $region: launcher exit $rc$(grep -o 'the [a-z ]*region[a-z ]*' "$out/$i.out" | head -1 | sed 's/^/, /'); $tele"
}

# truncate [bus]: every process touching the lost pages gets SIGBUS; each
# must say so and stop (exit status, not death by signal), the segment
# unlinked.  The exporter checks the size first and so sees it coming;
# with `bus` it is made blind to the size (tests/preload/stalesize.c) and
# meets SIGBUS itself, which it must catch and report the same
truncated() {
  local i=$inst-trunc$1 seg=/dev/shm/qiki.$inst-trunc$1 lpid rc tpid fpid tele pre=()
  region=truncate$1
  [ -n "$1" ] && pre=(env "LD_PRELOAD=$stalesize")
  mkdir -p "$logs/$i" && chmod 1777 "$logs/$i"
  "$bin/qiki" run --instance "$i" --no-rt --duration 60 -q --log-dir "$logs/$i" >"$out/$i.out" 2>&1 &
  lpid=$!
  for _ in $(seq 100); do [ "$("$bin/qikictl" -i "$i" state 2>/dev/null)" = IDLE ] && break; sleep 0.05; done
  tele_start "${pre[@]}"
  chgrp "$ugid" "$seg" && "${member[@]}" truncate -s 4096 "$seg"	# a group member may
  ask "$i" status
  for _ in $(seq 100); do kill -0 $lpid 2>/dev/null || break; sleep 0.1; done
  if kill -0 $lpid 2>/dev/null; then fail "truncate: the launcher hangs"; kill -TERM $lpid; fi
  wait $lpid; rc=$?
  [ $rc -ge 128 ] && fail "truncate: the launcher died by signal $((rc - 128))"
  grep -q "killed by signal" "$out/$i.out" && fail "truncate: $(grep 'killed by signal' "$out/$i.out")"
  grep -q "truncated under us" "$out/$i.out" || fail "truncate: nobody said the segment was truncated"
  [ -e "$seg" ] && { fail "truncate: the segment was left behind"; rm -f "$seg"; }
  tele_check
  [[ $tele == *truncated* ]] || fail "$region: qiki-telemetry did not say the segment was truncated ($tele)"
  [ -n "$1" ] && ! grep -q 'truncated under us (SIGBUS)' "$out/$i.tele" &&
    fail "$region: qiki-telemetry did not meet the truncation as SIGBUS: $(cat "$out/$i.tele")"
  echo "  $region: launcher exit $rc, $(grep -c 'truncated under us' "$out/$i.out") processes said so; $tele"
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
truncated ""
# hil: qiki-hil, which takes the sim's place, checks the segment as the sim
# does: a ring's geometry overwritten (the launcher held still, so that the
# bridge finds it first), the bridge names the region, exits 6 and sends the
# device its BYE (the device goes safe at once, not on its watchdog)
hil_pass() {
  local i=$inst-hil seg=/dev/shm/qiki.$inst-hil lpid dpid bpid rc port bport off si
  region=hil
  read -r port bport < <(python3 -c 'import socket
s = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
p = [x.getsockname()[1] for x in s]
for x in s: x.close()
print(*p)')
  mkdir -p "$logs/$i"
  "$bin/qiki-hil-device" --bind 127.0.0.1:$port --stats-file "$out/dev.stats" 2>"$out/dev.err" &
  dpid=$!
  "$bin/qiki" run --instance "$i" --no-rt --duration 60 -q --log-dir "$logs/$i" \
    --hil udp://127.0.0.1:$port --hil-bind 127.0.0.1:$bport >"$out/$i.out" 2>&1 &
  lpid=$!
  for _ in $(seq 100); do [ "$("$bin/qikictl" -i "$i" state 2>/dev/null)" = IDLE ] && break; sleep 0.1; done
  bpid=$("$bin/qikictl" -i "$i" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["processes"]["sim"]["pid"])')
  for k in "${!names[@]}"; do [ "${names[$k]}" = sensors ] && si=$k; done
  read -r off _ <<<"$(region_bounds "$seg" "$si")"
  kill -STOP $lpid
  printf '\x03\x00\x00\x00' | dd of="$seg" bs=1 seek=$((off + 64)) conv=notrunc status=none
  for _ in $(seq 100); do kill -0 "$bpid" 2>/dev/null || break; sleep 0.05; done
  kill -CONT $lpid
  for _ in $(seq 100); do kill -0 $lpid 2>/dev/null || break; sleep 0.1; done
  kill -TERM $lpid 2>/dev/null; wait $lpid; rc=$?
  # the device takes the BYE in its own time (its stats are written at exit)
  for _ in $(seq 100); do grep -q 'BYE from the bridge' "$out/dev.err" && break; sleep 0.05; done
  kill -TERM $dpid; wait $dpid
  grep -q '^qiki-hil: .*the sensors ring region was overwritten' "$out/$i.out" ||
    fail "hil: the bridge did not name the overwritten region: $(head -n 3 "$out/$i.out")"
  grep -q 'qiki-hil .* ended: exit 6' "$out/$i.out" || fail "hil: the bridge did not exit 6: $(grep -i 'qiki-hil' "$out/$i.out" | head -3)"
  [ "$(sed -n 's/^byes=//p' "$out/dev.stats")" = 1 ] || fail "hil: the device did not get the bridge's BYE: $(cat "$out/dev.err")"
  [ $rc -ge 128 ] && fail "hil: the launcher died by signal $((rc - 128))"
  [ -e "$seg" ] && { fail "hil: the segment was left behind"; rm -f "$seg"; }
  echo "  hil: launcher exit $rc, the bridge said which region and exited 6, the device got its BYE"
}
hil_pass

stalesize=$(realpath "$B/rel/tests/libqkstalesize.so") || fail "no $B/rel/tests/libqkstalesize.so: make tests builds it"
truncated -bus
for w in timer spin futex; do hostile_waiters "$w"; done
finish
