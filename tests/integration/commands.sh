#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The command path against a real `qiki run` (issue 14):
# - a sender that died between claiming a cell of the sim's queue and
#   filling it stalls the queue only until the sim gives the cell up, and
#   the give-up is counted (sim_abandoned);
# - a request that timed out because the agent was frozen is never applied
#   when the agent resumes (strict expiry), and qikictl says so.
# usage: tests/integration/commands.sh BUILD_DIR
name=commands
. "$(dirname "$0")/lib.sh"

"$bin/qiki" run --instance "$inst" --no-rt --duration 60 -q --log-dir "$out/logs" >"$out/run.out" 2>&1 &
lpid=$!
wait_idle || { cat "$out/run.out"; exit 1; }
seg=/dev/shm/qiki.$inst
json() { ctl status --json | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# --- the sim's queue: a claimed cell nobody fills (tail + 1, as a dead sender leaves it)
# qk_seg_hdr.region_off follows 64 bytes of fixed fields, struct_size[] and
# a pad (8-aligned); the counts come from shm/seg.h
enum_index() { sed -n "/^enum $1 {/,/$2_COUNT/p" shm/seg.h | grep -o "$2_[A-Z_]*" | grep -n "^$3\$" | cut -d: -f1; }
nstructs=$(( $(enum_index qk_struct_id QK_S QK_S_COUNT) - 1 ))
at=$(( (64 + 4 * nstructs + 4 + 7) / 8 * 8 + 8 * ($(enum_index qk_region QK_R QK_R_SIM_CMDQ) - 1) ))
python3 - "$seg" "$at" <<'PY'
import mmap, struct, sys
with open(sys.argv[1], "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    q = struct.unpack_from("<Q", m, int(sys.argv[2]))[0]	# region_off[QK_R_SIM_CMDQ]
    tail = struct.unpack_from("<Q", m, q)[0]
    struct.pack_into("<Q", m, q, tail + 1)
PY
ctl --timeout 10 fault clear all >"$out/o" 2>&1 || fail "sim command after a dead sender's cell: $(cat "$out/o")"
[ "$(json "d['commands']['sim_abandoned']")" = 1 ] || fail "sim_abandoned is not 1: $(json "d['commands']")"
ctl --timeout 2 fault clear all >/dev/null 2>&1 || fail "the sim's queue did not recover"

# --- a frozen agent: the request expires in the queue and is never applied
agent=$(json "d['processes']['agent']['pid']")
tr '\0' ' ' <"/proc/$agent/cmdline" | grep -q -- "$inst" || fail "pid $agent is not our agent"
ctl setpoint 1 1 1 >/dev/null || fail "setpoint 1 1 1"
kill -STOP "$agent"
ctl --timeout 0.3 setpoint 4 5 6 >"$out/o" 2>"$out/e"
rc=$?
kill -CONT "$agent"
[ $rc = 4 ] || fail "frozen agent: qikictl exit $rc, expected 4"
grep -q "can no longer be applied" "$out/e" || fail "the timeout message does not say: $(cat "$out/e")"
for _ in $(seq 50); do	# the agent takes the stale request (and refuses it) on resuming
  grep -q "refused: expired" "$out/logs/qiki-agent.log" 2>/dev/null && break; sleep 0.1
done
grep -q "refused: expired" "$out/logs/qiki-agent.log" || fail "the agent did not refuse the expired request"
sp=$(ctl status --json | python3 -c "import json,sys; print([float(x) for x in json.load(sys.stdin)['setpoint_m']])")
[ "$sp" = "[1.0, 1.0, 1.0]" ] || fail "the expired setpoint was applied: $sp"

kill -TERM $lpid
wait $lpid || fail "the launcher's exit: $? $(tail -3 "$out/run.out")"
finish
