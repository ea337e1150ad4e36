#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The HIL rig end to end: qiki run --hil (bridge and agent), qiki-hil-relay
# and qiki-hil-device as separate processes in three network namespaces of
# our own, joined by veth pairs:
#   bridge ns  10.77.1.1 --- 10.77.1.2 (.3: a stranger)  relay ns  10.77.2.1 --- 10.77.2.2  device ns
# (and the same over IPv6: fd00:77:1::1 --- fd00:77:1::2 (::3)  fd00:77:2::1 --- fd00:77:2::2)
# Every assertion counts frames and states, never microseconds.
# Needs root (ip netns); skips, saying why, without it.
name=hil
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
  echo "hil: SKIP: needs root and iproute2 for network namespaces"; exit 0
fi
. "$(dirname "$0")/hil/rig.sh"
pids=()
trap 'hil_rig_down; cleanup' EXIT
hil_rig 77 q

export QIKI_LOG_DIR=$out/logs
# The guards' thresholds are raised so that a VM stall of a few tens of
# milliseconds is not a link loss; the link goes stale (2/5 of 1500 cycles)
# 900 cycles before the agent's own stale-sensor guard, whose words would
# then take the place of the link's in the live proposal (a loaded machine
# may take a few hundred milliseconds to read it).
cat >"$out/hil.yaml" <<EOF
limits:
  sensor_stale_cycles: 1500
EOF
rt=(); [ -n "${QK_NO_RT:-}" ] && rt=(--no-rt)
fifo=(); command -v chrt >/dev/null && chrt -f 1 true 2>/dev/null && fifo=(chrt -f 60)

start_device() {	# extra options...
  ip netns exec $nsD "${fifo[@]}" "$bin/qiki-hil-device" --bind 10.77.2.2:7703 \
    --stats-file "$out/device.stats" "$@" 2>"$out/device.err" &
  pids+=($!); dev=$!
}
start_relay() {
  ip netns exec $nsR "${fifo[@]}" "$bin/qiki-hil-relay" --listen 10.77.1.2:7701 \
    --device 10.77.2.2:7703 --device-bind 10.77.2.1:7702 --stats-file "$out/relay.stats" "$@" &
  pids+=($!); relay=$!
}
start_loop() {	# instance, extra options...
  local i=$1; shift
  ${preload:+env LD_PRELOAD=$preload} ip netns exec $nsB "$bin/qiki" run -i "$i" --quiet -c "$out/hil.yaml" "${rt[@]}" \
    --hil udp://10.77.1.2:7701 --hil-bind 10.77.1.1:7700 "$@" >"$out/run.out" 2>"$out/run.err" &
  pids+=($!); loop=$!
}
stop_all() {	# stops the loop, then device and relay, and waits for their counters
  kill -TERM "$loop" 2>/dev/null; wait "$loop" 2>/dev/null
  kill -TERM "$dev" "$relay" 2>/dev/null; wait "$dev" "$relay" 2>/dev/null
}
stat() { sed -n "s/^$2=//p" "$1"; }
wait_state() {	# state seconds
  for _ in $(seq $(($2 * 10))); do [ "$(ctl state 2>/dev/null)" = "$1" ] && return 0; sleep 0.1; done
  fail "not $1 within $2 s (state $(ctl state 2>&1))"; return 1
}
status_field() { ctl status --json | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
link_field() { ctl link --json | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# --- 1. the setpoint over HIL, then 5% loss, 2 ms jitter and 1% corruption --
inst="t-hil-a-$$"
start_device --seed 7
start_relay --start-clean --data-only --loss 0.05 --jitter-ms 2 --corrupt 0.01 --seed 11
preload=$PWD/$B/rel/tests/libqkalloc.so	# the loops count their allocations
start_loop "$inst" --telemetry "$out/hil.mcap"
preload=
wait_state IDLE 10
ctl setpoint 1 0 0 >/dev/null || fail "setpoint refused"
ctl state ACTIVE >/dev/null || fail "ACTIVE refused"
reached=0
for _ in $(seq 150); do
  if [ "$(status_field 'int(abs(d["position_m"][0]-1)<0.05 and abs(d["velocity_mps"][0])<0.02)')" = 1 ]; then
    reached=1; break
  fi
  sleep 0.1
done
[ $reached = 1 ] || fail "setpoint 1 0 0 not reached over HIL in 15 s: $(ctl status | grep position)"
echo "hil: setpoint reached over HIL"

# the bridge's loop thread: one syscall per cycle, io_uring_enter (strace
# attaching interrupts the wait in progress: restart_syscall is that wait).
# The agent waits for the sensor frame on a futex (its default wake): its
# wake rides in the same submission (IORING_OP_FUTEX_WAKE) when the kernel
# has it; only when the bridge said at start-up that it has not may there be
# a futex syscall besides, at most one a cycle.
bpid=$(ctl status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["processes"]["sim"]["pid"])')
c0=$(sim_cycles)
strace -c -U name,calls -o "$out/strace" -p "$bpid" 2>/dev/null &
tracer=$!; sleep 2; kill -INT $tracer; wait $tracer
c1=$(sim_cycles)
enters=$(awk '$1 == "io_uring_enter" { print $2 }' "$out/strace")
wakes=$(awk '$1 == "futex" { print $2 }' "$out/strace")
others=$(awk '$1 != "io_uring_enter" && $1 != "futex" && $1 != "restart_syscall" && $1 != "total" && $2 ~ /^[0-9]+$/' "$out/strace")
[ -z "$others" ] || fail "the bridge's loop made other syscalls: $others"
if grep -q "io_uring has no FUTEX_WAKE" "$out/run.err"; then
  [ "${wakes:-0}" -le $((c1 - c0 + 2)) ] || fail "$wakes futex wakes for $((c1 - c0)) cycles"
else
  [ "${wakes:-0}" = 0 ] || fail "$wakes futex syscalls beside io_uring_enter: the wake is in the submission"
fi
# (a traced loop runs slower, and the cycles counted include strace's attach
# and detach: the lower bound only says strace saw the loop's thread)
[ "${enters:-0}" -ge 200 ] && [ $((c1 - c0)) -gt 0 ] ||
  fail "only ${enters:-0} io_uring_enter for $((c1 - c0)) cycles: strace saw another thread"
[ "${enters:-0}" -le $((c1 - c0 + 2)) ] || fail "$enters io_uring_enter for $((c1 - c0)) cycles"
echo "hil: bridge loop: $enters io_uring_enter, ${wakes:-0} futex wakes, nothing else, over $((c1 - c0)) cycles"

c0=$(sim_cycles)
kill -USR1 "$relay"	# impairments on
# a stranger on the bridge's wire: counted, ignored
ip netns exec $nsR python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.77.1.3", 0))
for i in range(25):
    s.sendto(b"QKHL" + bytes(60), ("10.77.1.1", 7700))'
sleep 5
kill -USR1 "$relay"	# clean again: the last gaps close before the counters are read
c1=$(sim_cycles)
sleep 0.5
[ "$(ctl state)" = ACTIVE ] || fail "the loop left ACTIVE under 5% loss: $(ctl status | grep state)"
[ $((c1 - c0)) -ge 2500 ] || fail "only $((c1 - c0)) cycles in 5 s under loss"
# qikictl shows the link live, from the segment
ctl link | sed 's/^/hil: qikictl link: /'
[ "$(link_field 'd["state"], d["peer"], d["wrong_peer"], d["lost"] > 0, d["dropped"]["crc"] > 0, d["rtt_samples"] > 1000')" = \
  "UP udp://10.77.1.2:7701 25 True True True" ] || fail "qikictl link: $(ctl link --json)"
ctl history | grep -q SAFE && fail "a SAFE transition under 5% loss: $(ctl history)"
ctl link --json >"$out/link.json"	# the impairments are off: most counters stand still
sleep 0.5	# /link snapshots (10 Hz) after that reading, before the exporter stops
stop_all
[ "$(grep -c 'allocations in the loop after start-up: 0$' "$out/run.out")" = 2 ] ||
  fail "a loop allocated after start-up: $(grep allocations "$out/run.out")"
bs=$QIKI_LOG_DIR/$inst/qiki-hil.stats
[ -s "$bs" ] || fail "the bridge wrote no counters ($bs)"
rs=$out/relay.stats ds=$out/device.stats
echo "hil: bridge: $(grep -v '^stream_' "$bs" | tr '\n' ' ')"	# not the hash's checkpoints
echo "hil: relay: $(tr '\n' ' ' <"$rs")"
echo "hil: device: $(tr '\n' ' ' <"$ds")"
[ "$(stat "$bs" sessions)" = 1 ] || fail "the link was lost under 5% loss ($(stat "$bs" sessions) sessions)"
# every frame the bridge (device) missed was dropped or corrupted by the
# relay, lost in its full delay line, or dropped by the receiver's kernel
# (its socket buffer full while the reader was held off the CPU); these
# namespaces are this run's alone, so their UDP counters are this run's
udp_drops() { ip netns exec "$1" awk '/^Udp:/ && ++n == 2 { print $4 }' /proc/net/snmp; }
d2b_lost=$(( $(stat "$rs" d2b_dropped) + $(stat "$rs" d2b_corrupted) + $(stat "$rs" d2b_overflow) +
             $(udp_drops $nsB) ))
b2d_lost=$(( $(stat "$rs" b2d_dropped) + $(stat "$rs" b2d_corrupted) + $(stat "$rs" b2d_overflow) +
             $(udp_drops $nsD) ))
[ "$(stat "$rs" d2b_dropped)" -gt 0 ] && [ "$(stat "$rs" d2b_corrupted)" -gt 0 ] ||
  fail "the relay impaired nothing"
rdrops=$(udp_drops $nsR)	# the relay's own kernel: one socket per side, no direction
if [ "$rdrops" = 0 ]; then
  [ "$(stat "$bs" lost)" = "$d2b_lost" ] ||
    fail "bridge counted $(stat "$bs" lost) SENSORS lost, the wire lost $d2b_lost"
  [ "$(stat "$ds" lost)" = "$b2d_lost" ] ||
    fail "device counted $(stat "$ds" lost) ACTUATORS lost, the wire lost $b2d_lost"
else
  [ $(( $(stat "$bs" lost) + $(stat "$ds" lost) )) = $((d2b_lost + b2d_lost + rdrops)) ] ||
    fail "bridge and device counted $(stat "$bs" lost) + $(stat "$ds" lost) lost, the wire lost $d2b_lost + $b2d_lost + $rdrops"
fi
[ "$(stat "$bs" dropped_crc)" = "$(stat "$rs" d2b_corrupted)" ] ||
  fail "bridge refused $(stat "$bs" dropped_crc) by CRC, the relay corrupted $(stat "$rs" d2b_corrupted)"
[ "$(stat "$ds" dropped_crc)" = "$(stat "$rs" b2d_corrupted)" ] ||
  fail "device refused $(stat "$ds" dropped_crc) by CRC, the relay corrupted $(stat "$rs" b2d_corrupted)"
[ "$(stat "$bs" wrong_peer)" = 25 ] || fail "bridge counted $(stat "$bs" wrong_peer) stranger packets, not 25"
[ "$(stat "$bs" rtt_samples)" -gt 1000 ] || fail "no round trips measured"
[ "$(stat "$ds" byes)" = 1 ] || fail "the device did not get the bridge's BYE"
# telemetry: the link on its own channel, /link, agreeing with qikictl link
# (taken after the impairments stopped) and with the bridge's final counters
"$bin/qiki-telemetry" info "$out/hil.mcap" | grep -E "/link +qiki.v1.LinkStats" |
  sed 's/^ */hil: mcap: /' || fail "no /link channel in the MCAP: $("$bin/qiki-telemetry" info "$out/hil.mcap")"
"$bin/qiki-telemetry" cat "$out/hil.mcap" --topic /link >"$out/link.txt" || fail "cannot read /link back"
echo "hil: last /link: $(tail -n 1 "$out/link.txt" | cut -c1-400)..."
/usr/bin/python3 - "$out/link.json" "$out/link.txt" "$bs" <<'PY' || fail "/link disagrees with qikictl link or the bridge"
import json, re, sys
ctl = json.load(open(sys.argv[1]))
lines = open(sys.argv[2]).read().splitlines()
last = lines[-1]
fin = dict(l.split("=", 1) for l in open(sys.argv[3]).read().split())
def f(name, text=last):
    m = re.search(r"[{ ]" + name + r": (-?\d+)", text)
    return int(m.group(1)) if m else None
bad = []
if len(lines) < 20: bad.append(f"only {len(lines)} /link messages")
if f'peer: "{ctl["peer"]}"' not in last: bad.append("peer")
if "state: LINK_STATE_UP" not in last: bad.append("state")
# counters only the impairments or strangers move stand still since qikictl
for k in ("wrong_peer", "sessions", "link_losses", "refusals"):
    if f(k) != ctl[k] or f(k) != int(fin[k]): bad.append(f"{k}: /link {f(k)} qikictl {ctl[k]} final {fin[k]}")
if f("crc") != ctl["dropped"]["crc"] or f("crc") != int(fin["dropped_crc"]):
    bad.append(f"crc: /link {f('crc')} qikictl {ctl['dropped']['crc']} final {fin['dropped_crc']}")
# the moving ones lie between what qikictl saw and the final count
for k, fk in (("sent", "sent"), ("taken", "taken"), ("lost", "lost"), ("rtt_samples", "rtt_samples")):
    if not ctl[k] <= f(k) <= int(fin[fk]): bad.append(f"{k}: qikictl {ctl[k]} /link {f(k)} final {fin[fk]}")
# and each message's counters never go back
prev = {}
for l in lines:
    for k in ("sent", "taken", "lost", "wrong_peer"):
        if f(k, l) < prev.get(k, 0): bad.append(f"{k} went back")
        prev[k] = f(k, l)
print("hil: /link agrees with qikictl link and the bridge" if not bad else "hil: /link: " + "; ".join(bad))
sys.exit(1 if bad else 0)
PY
if ! grep -q "io_uring has no FUTEX_WAKE" "$out/run.err"; then
  [ "$(stat "$bs" wake_errors)" = 0 ] || fail "$(stat "$bs" wake_errors) io_uring FUTEX_WAKEs failed"
  [ "$(stat "$bs" uring_wakes)" -gt 1000 ] ||
    fail "only $(stat "$bs" uring_wakes) agent wakes went in the submission: was the agent waiting?"
fi

# --- 2. duplicates and reordering dropped as such; a cut link: SAFE naming
# the link; restored: HELLO, RESET, IDLE ------------------------------------
inst="t-hil-b-$$"
start_device --seed 7
start_relay --start-clean --data-only --dup 0.05 --reorder 0.05 --seed 5
start_loop "$inst"
wait_state IDLE 10
kill -USR1 "$relay"; sleep 2; kill -USR1 "$relay"; sleep 0.3
[ "$(link_field 'd["dropped"]["duplicate"] > 0, d["dropped"]["stale"] > 0, d["link_losses"]')" = \
  "True True 0" ] || fail "duplicates and late frames not dropped as such: $(ctl link --json)"
[ "$(ctl state)" = IDLE ] || fail "duplicates and reordering moved the agent: $(ctl status | grep state)"
kill -USR2 "$relay"	# cut
wait_state SAFE 5
why=$(status_field 'd["reason"] + " / " + d["proposal"]')
echo "hil: cut: $why"
# the trigger is what sent it SAFE: the BIOS guard, on the link's POST table;
# the proposal is what is live when read (on a loaded machine, late enough
# for the agent's own stale guard to outrank it: still SAFE for the link)
case $why in
  guard-bios*"no response (link down)"*|guard-bios*"no sensor frame"*) ;;
  *) fail "SAFE, but not for the link: $why";;
esac
ctl devices | grep -q TIMEOUT_RESPONSE || fail "POST does not show the devices timed out: $(ctl devices)"
ctl state RESET >/dev/null 2>&1 && fail "RESET accepted while the link is down"
[ "$(link_field 'd["state"], d["link_losses"]')" = "HELLO 1" ] || fail "qikictl link while cut: $(ctl link --json)"
kill -USR2 "$relay"	# restored
ok=0
for _ in $(seq 50); do ctl devices | grep -q TIMEOUT_RESPONSE || { ok=1; break; }; sleep 0.1; done
[ $ok = 1 ] || fail "POST still bad 5 s after the link came back"
ctl state RESET >/dev/null || fail "RESET refused after the link came back: $(ctl status | grep -i state)"
wait_state IDLE 5
[ "$(link_field 'd["state"], d["sessions"]')" = "UP 2" ] || fail "qikictl link after the cut: $(ctl link --json)"
stop_all
bs=$QIKI_LOG_DIR/$inst/qiki-hil.stats
[ "$(stat "$bs" link_losses)" = 1 ] || fail "link losses $(stat "$bs" link_losses), expected 1"
[ "$(stat "$bs" sessions)" = 2 ] || fail "sessions $(stat "$bs" sessions), expected 2 (HELLO again)"
[ "$(stat "$out/device.stats" sessions)" = 2 ] || fail "the device saw $(stat "$out/device.stats" sessions) sessions"

# --- 3. a version or profile mismatch is refused on both sides, with clear
# messages; the bridge keeps its place, holds the agent SAFE naming the
# refusal, counts refusals and says HELLO again with a backoff, so that a
# corrected device is taken without restarting it; RESET -> IDLE ----------
inst="t-hil-c-$$"
start_device --protocol-version 2
start_relay
start_loop "$inst"
# a refused device never passes POST: the agent leaves BOOTING for ERROR on
# the BIOS (the FSM's rule for a failed boot), every device HIL_REFUSED
ok=0
for _ in $(seq 100); do
  case $(ctl state 2>/dev/null) in SAFE|ERROR) ok=1; break;; esac; sleep 0.1
done
[ $ok = 1 ] || fail "the agent is $(ctl state) with the device refused"
why=$(status_field 'd["state"] + " / " + d["reason"]')
echo "hil: refused: $why; $(ctl devices | grep -c HIL_REFUSED) devices HIL_REFUSED"
case $why in *bios*) ;; *) fail "not held for the BIOS: $why";; esac
[ "$(ctl devices --json | python3 -c 'import json,sys; d=json.load(sys.stdin)["devices"]
print(len(d) > 0 and all(x["code"] == "HIL_REFUSED" for x in d))')" = True ] ||
  fail "POST does not show the refusal: $(ctl devices)"
ok=0
for _ in $(seq 50); do [ "$(link_field 'd["refusals"]')" -ge 3 ] && { ok=1; break; }; sleep 0.1; done
[ $ok = 1 ] || fail "the bridge did not HELLO again after the refusal: $(ctl link --json)"
ctl link | grep -q "^refused .* times, the newest: the device speaks HIL protocol version 2, this bridge version 1" ||
  fail "qikictl link does not name the refusal: $(ctl link)"
[ "$(link_field 'd["state"]')" = REFUSED ] || fail "qikictl link state: $(ctl link --json)"
ctl state RESET >/dev/null 2>&1 && fail "RESET accepted while the device is refused"
[ "$(grep -c "qiki-hil: the device speaks HIL protocol version 2, this bridge version 1: refused" "$out/run.err")" = 1 ] ||
  fail "the bridge did not name both versions, once: $(cat "$out/run.err")"
grep -q "refused: the bridge speaks HIL protocol version 1, this device version 2" "$out/device.err" ||
  fail "the device did not name both versions: $(cat "$out/device.err")"
kill -TERM "$dev"; wait "$dev" 2>/dev/null
start_device --seed 7	# corrected: the same address, our version
ok=0
for _ in $(seq 50); do [ "$(link_field 'd["state"], d["sessions"]')" = "UP 1" ] && { ok=1; break; }; sleep 0.1; done
[ $ok = 1 ] || fail "the corrected device was not taken within 5 s: $(ctl link --json)"
ok=0
for _ in $(seq 50); do ctl devices | grep -q HIL_REFUSED || { ok=1; break; }; sleep 0.1; done
[ $ok = 1 ] || fail "POST still shows the refusal after the device was corrected"
ctl state RESET >/dev/null || fail "RESET refused after the device was corrected: $(ctl status | grep -i state)"
wait_state IDLE 5
[ "$(link_field 'd["bridge_alive"]')" = True ] || fail "the bridge was restarted"
stop_all
bs=$QIKI_LOG_DIR/$inst/qiki-hil.stats
echo "hil: refusal then corrected: $(grep -E '^(refusals|sessions|hellos)=' "$bs" | tr '\n' ' ')"
[ "$(stat "$bs" sessions)" = 1 ] || fail "sessions $(stat "$bs" sessions), expected 1"
[ "$(stat "$bs" refusals)" -ge 3 ] || fail "refusals $(stat "$bs" refusals), expected at least 3"

inst="t-hil-d-$$"
start_device --profile ship
start_relay
start_loop "$inst"
ok=0
for _ in $(seq 50); do grep -q "the device refused the session" "$out/run.err" && { ok=1; break; }; sleep 0.1; done
[ $ok = 1 ] || fail "no refusal from a device of another profile within 5 s"
grep -q "the device refused the session: the device has profile 'ship'.*this bridge 'bot'" "$out/run.err" ||
  fail "the bridge did not name both profiles: $(cat "$out/run.err")"
grep -q "refused: the bridge has profile 'bot'.*this device 'ship'" "$out/device.err" ||
  fail "the device did not name both profiles: $(cat "$out/device.err")"
stop_all
# --- 4. the same rig over IPv6: udp://[ADDR]:PORT end to end -------------
inst="t-hil-e-$$"
ip netns exec $nsD "${fifo[@]}" "$bin/qiki-hil-device" --bind '[fd00:77:2::2]:7703' \
  --stats-file "$out/device.stats" 2>"$out/device.err" &
pids+=($!); dev=$!
ip netns exec $nsR "${fifo[@]}" "$bin/qiki-hil-relay" --listen '[fd00:77:1::2]:7701' \
  --device '[fd00:77:2::2]:7703' --device-bind '[fd00:77:2::1]:7702' --stats-file "$out/relay.stats" &
pids+=($!); relay=$!
ip netns exec $nsB "$bin/qiki" run -i "$inst" --quiet -c "$out/hil.yaml" "${rt[@]}" \
  --hil 'udp://[fd00:77:1::2]:7701' --hil-bind '[fd00:77:1::1]:7700' >"$out/run.out" 2>"$out/run.err" &
pids+=($!); loop=$!
wait_state IDLE 10
ip netns exec $nsR python3 -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("fd00:77:1::3", 0))
for i in range(7):
    s.sendto(b"QKHL" + bytes(60), ("fd00:77:1::1", 7700))'
sleep 1
[ "$(link_field 'd["state"], d["peer"], d["wrong_peer"], d["taken"] > 500')" = \
  "UP udp://[fd00:77:1::2]:7701 7 True" ] || fail "qikictl link over IPv6: $(ctl link --json)"
ctl link | head -1 | sed 's/^/hil: IPv6: /'
stop_all
finish
