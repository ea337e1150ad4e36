#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Determinism over HIL: the full loop (qiki run --hil: bridge and agent;
# qiki-hil-relay; qiki-hil-device), in three network namespaces of our own
# joined by veth pairs, run twice with the same device seed gives the same
# sensor stream hash over the first 1000 SENSORS frames, and another seed
# gives another; and so does a relay that drops 5 % of the data frames by a
# seeded pattern: the same frames are lost in both runs.
#   bridge ns  10.78.1.1 --- 10.78.1.2  relay ns  10.78.2.1 --- 10.78.2.2  device ns
# The hash (qk_proc_frame_hash over every SENSORS frame the bridge takes, its
# cycle counted from the first) holds only when the loop did what
# docs/hil-protocol.md ("Determinism") asks: one session, no overrun of the
# bridge, every agent answer in its cycle.  The bridge says per checkpoint
# whether that held (stream_clean_N); a run in which it did not (a VM stall)
# is not compared, and another is made, at most 5 in all for two that held;
# when not even two held, the script says NOT VERIFIED and does not fail.
# Needs root (ip netns); skips, saying why, without it.
name=hil-determinism
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
  echo "$name: SKIP: needs root and iproute2 for network namespaces"; exit 0
fi
. "$(dirname "$0")/hil/rig.sh"
pids=()
trap 'hil_rig_down; cleanup' EXIT
hil_rig 78 x

export QIKI_LOG_DIR=$out/logs
cat >"$out/hil.yaml" <<EOF
limits:
  sensor_stale_cycles: 500
EOF
rt=(); [ -n "${QK_NO_RT:-}" ] && rt=(--no-rt)
fifo=(); command -v chrt >/dev/null && chrt -f 1 true 2>/dev/null && fifo=(chrt -f 60)
stat() { sed -n "s/^$2=//p" "$1"; }
# 100 Hz: a 10 ms period, so that a VM stall of several milliseconds (this
# machine is shared; at 250 Hz most runs here had an overrun in the window)
# is neither an overrun nor a late answer
RATE=100
N=500	# SENSORS frames hashed: 5 s

# one run: device seed, run tag, relay options...; the loop for 6 s; prints
# the bridge's "hash clean lost" for the first N frames
run() {
  local seed=$1 i="t-hil-det-$$-$2"; shift 2
  ip netns exec $nsD "${fifo[@]}" "$bin/qiki-hil-device" --bind 10.78.2.2:7713 --seed "$seed" \
    --rate $RATE --stats-file "$out/device.stats" -q &
  local dev=$!; pids+=($dev)
  ip netns exec $nsR "${fifo[@]}" "$bin/qiki-hil-relay" --listen 10.78.1.2:7711 \
    --device 10.78.2.2:7713 --device-bind 10.78.2.1:7712 --stats-file "$out/relay.stats" "$@" &
  local relay=$!; pids+=($relay)
  sleep 0.3	# listening before the first HELLO
  ip netns exec $nsB "$bin/qiki" run -i "$i" --quiet -c "$out/hil.yaml" "${rt[@]}" \
    --hil udp://10.78.1.2:7711 --hil-bind 10.78.1.1:7710 --rate $RATE --duration 6 \
    >"$out/run.out" 2>"$out/run.err"
  kill -TERM $dev $relay; wait $dev $relay 2>/dev/null
  local bs=$QIKI_LOG_DIR/$i/qiki-hil.stats
  if [ ! -s "$bs" ] || [ -z "$(stat "$bs" stream_hash_$N)" ]; then
    echo "$name: seed $seed: fewer than $N frames: $(cat "$out/run.err")" >&2
    echo "none 0 -"; return
  fi
  echo "$(stat "$bs" stream_hash_$N) $(stat "$bs" stream_clean_$N) $(stat "$bs" stream_lost_$N)"
  echo "$name: seed $seed${1:+ ($*)}: hash $(stat "$bs" stream_hash_$N) over $N frames, $(stat "$bs" stream_lost_$N) lost," \
    "the loop held: $(stat "$bs" stream_clean_$N); whole run: device lost $(stat "$out/device.stats" lost)," \
    "overruns $(stat "$bs" overruns), late answers $(stat "$bs" late_answers) (the agent stops answering at shutdown)" >&2
}

# runs with one seed and one link until two of them had a loop that held,
# at most 5: prints the hashes of the runs that held, and the frames they lost
group() {
  local seed=$1 tag=$1-$RANDOM; shift
  local held=() lost=() h c l
  for try in 1 2 3 4 5; do
    read -r h c l < <(run "$seed" "$tag-$try" "$@")
    if [ "$c" = 1 ]; then
      held+=("$h"); lost+=("$l")
      [ ${#held[@]} = 2 ] && break
    else
      echo "$name: seed $seed${1:+ ($*)}, run $try: the loop did not hold (an overrun or a late answer in the window): not compared" >&2
    fi
  done
  echo "${held[*]:-} / ${lost[*]:-}"
}

# 2 of at most 5 runs must have held; a machine so loaded that they did not
# (10 ms stalls, again and again) proves nothing either way: said, not failed
verdict() {	# what, "h1 h2 / l1 l2"
  local what=$1; shift
  local hs=${1%% / *} ls=${1##* / }
  set -- $hs
  if [ $# -lt 2 ]; then
    echo "$name: NOT VERIFIED ($what): fewer than 2 of 5 runs without an overrun or a late answer (load $(cut -d' ' -f1 /proc/loadavg))"
    return 1
  fi
  [ "$1" = "$2" ] || fail "$what: $1 vs $2: the same seed and link gave another trajectory"
  set -- $ls
  [ "$1" = "$2" ] || fail "$what: lost $1 and $2 frames: the loss pattern did not repeat"
  return 0
}

# a lossless link (the relay without impairments)
r7=$(group 7)
if verdict "seed 7, lossless" "$r7"; then
  h7=${r7%% *}
  [ "$(echo "$r7" | awk '{print $NF}')" = 0 ] || fail "a lossless link lost frames: $r7"
  read -r h8 c8 l8 < <(run 8 8)
  [ "$h8" != none ] || fail "the seed-8 run hashed fewer than $N frames"
  [ "$h8" != "$h7" ] || fail "seed 8 gave the hash of seed 7 ($h8): the hash does not see the plant"
  echo "$name: lossless: seed 7 twice: $h7; seed 8: $h8"
fi

# 5 % of the data frames dropped, by the relay's seed: the same frames each run
rl=$(group 7 --data-only --loss 0.05 --seed 11)
if verdict "seed 7, 5 % seeded loss" "$rl"; then
  hl=${rl%% *} ll=$(echo "$rl" | awk '{print $NF}')
  [ "$ll" -gt 0 ] 2>/dev/null || fail "the relay lost no SENSORS frame ($ll)"
  [ "$hl" != "${h7:-}" ] || fail "5 % loss left the trajectory as it was ($hl)"
  echo "$name: 5 % seeded loss: seed 7 twice: $hl, $ll SENSORS lost each"
fi
finish
