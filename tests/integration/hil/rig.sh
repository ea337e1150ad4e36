# SPDX-License-Identifier: MIT OR Apache-2.0
# tests/integration/hil/rig.sh - the HIL rig's network, sourced by hil.sh and
# hil-determinism.sh (not run by itself: not executable).
#
# hil_rig NET P: three namespaces, $nsB (bridge) - $nsR (relay) - $nsD
# (device), joined by two veth pairs named P{b,r,s,d}<pid>:
#   bridge 10.NET.1.1  relay 10.NET.1.2 (and .3, for a stranger)
#   relay  10.NET.2.1  device 10.NET.2.2
# and the same over IPv6 in fd00:NET:1::/64 and fd00:NET:2::/64 (nodad:
# usable at once).  hil_rig_down stops the processes in pids[] and removes
# the namespaces (and so the links).
hil_rig() {	# NET P; sets nsB nsR nsD and tag (the pid)
  local net=$1 p=$2 n
  tag=$$
  nsB=${p}kb$tag nsR=${p}kr$tag nsD=${p}kd$tag
  ip netns add "$nsB" && ip netns add "$nsR" && ip netns add "$nsD" ||
    { echo "$name: cannot create network namespaces"; exit 1; }
  ip link add "${p}b$tag" netns "$nsB" type veth peer name "${p}r$tag" netns "$nsR"
  ip link add "${p}s$tag" netns "$nsR" type veth peer name "${p}d$tag" netns "$nsD"
  ip -n "$nsB" addr add "10.$net.1.1/24" dev "${p}b$tag"
  ip -n "$nsR" addr add "10.$net.1.2/24" dev "${p}r$tag"
  ip -n "$nsR" addr add "10.$net.1.3/24" dev "${p}r$tag"
  ip -n "$nsR" addr add "10.$net.2.1/24" dev "${p}s$tag"
  ip -n "$nsD" addr add "10.$net.2.2/24" dev "${p}d$tag"
  ip -n "$nsB" addr add "fd00:$net:1::1/64" dev "${p}b$tag" nodad
  ip -n "$nsR" addr add "fd00:$net:1::2/64" dev "${p}r$tag" nodad
  ip -n "$nsR" addr add "fd00:$net:1::3/64" dev "${p}r$tag" nodad
  ip -n "$nsR" addr add "fd00:$net:2::1/64" dev "${p}s$tag" nodad
  ip -n "$nsD" addr add "fd00:$net:2::2/64" dev "${p}d$tag" nodad
  for n in "$nsB" "$nsR" "$nsD"; do ip -n "$n" link set lo up; done
  ip -n "$nsB" link set "${p}b$tag" up; ip -n "$nsR" link set "${p}r$tag" up
  ip -n "$nsR" link set "${p}s$tag" up; ip -n "$nsD" link set "${p}d$tag" up
}

hil_rig_down() {	# the processes in pids[] (TERM, then KILL), then the namespaces
  local p n
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for n in $nsB $nsR $nsD; do ip netns del "$n" 2>/dev/null; done
}
