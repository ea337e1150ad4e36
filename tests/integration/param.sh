#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Runtime parameters against the real loop (rt/agent/param.h, ctl/param.h):
# - qikictl param list|get|set; an out-of-range value is refused by the
#   agent with exit 3 and the reason, an unknown name is exit 1 with the
#   names, and nothing changes;
# - every change is in the agent's log and in qikictl history;
# - qikictl config prints the effective configuration, changed gain in it,
#   and `qiki run --config` reads it back to the same configuration;
# - in lockstep, a scenario that sets a gain gives another sensor stream
#   than the same scenario without it, and each, played twice, the same.
# usage: tests/integration/param.sh BUILD_DIR
name=param
. "$(dirname "$0")/lib.sh"

# ---- real time: qikictl against a running instance
"$bin/qiki" run --instance "$inst" --no-rt --duration 60 -q --log-dir "$out/logs" \
  --telemetry "$out/rt.mcap" >"$out/run.out" 2>&1 &
lpid=$!
wait_idle || { cat "$out/run.out"; exit 1; }

ctl param list >"$out/list" || fail "param list: exit $?"
for p in controller.kp controller.kd limits.confidence_min tank.min_bar thermal.avionics.max_k; do
  grep -q "^$p " "$out/list" || fail "param list lacks $p"
done
kp0=$(ctl param get controller.kp)
[ "$kp0" = 1 ] || fail "controller.kp is '$kp0', the bot profile says 1"

ctl param set controller.kp 1e9 >"$out/o" 2>"$out/e"; rc=$?
[ $rc = 3 ] || fail "an out-of-range gain: exit $rc, expected 3"
grep -q "refused: controller.kp 1e+09 outside (0, 10000]" "$out/e" ||
  fail "the refusal does not say why: $(cat "$out/e")"
ctl param set tank.min_bar 30 >"$out/o" 2>"$out/e"; rc=$?
[ $rc = 3 ] && grep -q "refused: tank.min_bar: expected < max_bar (25)" "$out/e" ||
  fail "a threshold above its partner: exit $rc, $(cat "$out/e")"
ctl param set controller.kpp 2 >"$out/o" 2>"$out/e"; rc=$?
[ $rc = 1 ] && grep -q "no parameter 'controller.kpp'; parameters: controller.kp" "$out/e" ||
  fail "an unknown parameter: exit $rc, $(cat "$out/e")"
ctl param set controller.kp abc >"$out/o" 2>"$out/e"; rc=$?
[ $rc = 1 ] || fail "a value that is no number: exit $rc"
[ "$(ctl param get controller.kp)" = 1 ] || fail "a refused value was applied"

ctl param set controller.kp 4 >"$out/o" || fail "param set controller.kp 4: exit $?"
grep -q "^controller.kp 4 (was 1)" "$out/o" || fail "param set says: $(cat "$out/o")"
[ "$(ctl param get controller.kp)" = 4 ] || fail "param get after set: $(ctl param get controller.kp)"
ctl param set limits.clear_ticks 5 >/dev/null || fail "param set limits.clear_ticks 5"
ctl --json param get limits.clear_ticks | grep -q '"value":5' || fail "param get --json"

# history: the change, with who asked, among the transitions
ctl history >"$out/hist"
grep -q "param controller.kp *pid [0-9]" "$out/hist" || { fail "history lacks the change"; cat "$out/hist"; }
grep -qE '^[0-9.]+ +[0-9]+ +1 +4 +param controller.kp' "$out/hist" || fail "history's old and new values"
ctl --json history | grep -q '"param":"controller.kp","from":1,"to":4' || fail "history --json lacks the change"
for _ in $(seq 30); do grep -q "param controller.kp: 1 -> 4" "$out/logs/qiki-agent.log" 2>/dev/null && break; sleep 0.1; done
grep -q "param controller.kp: 1 -> 4 (asked by pid" "$out/logs/qiki-agent.log" || fail "the agent's log lacks the change"
grep -q "param request .* refused: controller.kp 1e+09 outside" "$out/logs/qiki-agent.log" ||
  fail "the agent's log lacks the refusal"

# the effective configuration, read back by the loader to the same
ctl param set thermal.propulsion.max_k 335.5 >/dev/null || fail "param set thermal.propulsion.max_k"
ctl config >"$out/eff.yaml" || fail "qikictl config: exit $?"
grep -q '^    max_k: 335.5 ' "$out/eff.yaml" || fail "qikictl config lacks the node's changed limit"
grep -q '^  kp: 4 ' "$out/eff.yaml" || fail "qikictl config lacks the changed gain"
grep -q '^  clear_ticks: 5 ' "$out/eff.yaml" || fail "qikictl config lacks the changed limit"
"$bin/qiki" run --config "$out/eff.yaml" --print-config >"$out/back.yaml" 2>"$out/e" ||
  fail "qiki run --config of qikictl config's output: $(cat "$out/e")"
diff "$out/eff.yaml" "$out/back.yaml" >"$out/d" || { fail "the configuration does not round-trip"; cat "$out/d"; }
ctl stop >/dev/null || fail "stop"
wait $lpid || fail "the launcher's exit: $?"

# the /params channel: every start-up value, then the changes
"$bin/qiki-telemetry" cat "$out/rt.mcap" --topic /params >"$out/params.txt" || fail "cat /params: exit $?"
grep -q 'name: "controller.kp", old_value: 1, value: 1, requested_by_pid: 0, initial: true' "$out/params.txt" ||
  fail "/params lacks the start-up value"
grep -q 'index: 1, .*name: "controller.kp", old_value: 1, value: 4, requested_by_pid: [1-9][0-9]*, initial: false' \
  "$out/params.txt" || { fail "/params lacks the change"; cat "$out/params.txt"; }
grep -q 'name: "controller.kp", old_value: 1, value: 1e+09' "$out/params.txt" && fail "/params shows a refused value"

# ---- a plug-in controller declares its own parameters, with its own ranges
if ${CC:-cc} -std=c11 -O2 -fPIC -shared -I. -o "$out/pid.so" examples/controller/pid.c -lm 2>"$out/e"; then
  "$bin/qiki" run --instance "$inst" --no-rt --duration 60 -q --log-dir "$out/logs2" \
    --controller "$out/pid.so" >"$out/run2.out" 2>&1 &
  lpid=$!
  wait_idle || cat "$out/run2.out"
  ctl param list | grep -qE '^controller.ki +0.02 +\[0, 100\]' || fail "the plug-in's ki is not listed"
  ctl param set controller.ki 500 >/dev/null 2>"$out/e"; rc=$?
  [ $rc = 3 ] && grep -q "refused: controller.ki 500 outside \[0, 100\]" "$out/e" ||
    fail "the plug-in's range: exit $rc, $(cat "$out/e")"
  ctl param set controller.ki 0.4 >/dev/null || fail "param set controller.ki 0.4"
  ctl param set controller.kp 7 >/dev/null || fail "param set controller.kp 7 (the plug-in's)"
  ctl config >"$out/eff2.yaml"
  grep -q '^#   ki=0.4$' "$out/eff2.yaml" || fail "qikictl config lacks the plug-in's parameter"
  grep -q '^#   kp=7$' "$out/eff2.yaml" && grep -q '^  kp: 1 ' "$out/eff2.yaml" ||
    fail "the plug-in's kp is not its own (or leaked into control.kp)"
  ctl stop >/dev/null || fail "stop (plug-in)"
  wait $lpid || fail "the launcher's exit (plug-in): $?"
else
  echo "skip: no C compiler for examples/controller/pid.c: $(head -1 "$out/e")"
fi

# ---- lockstep: the same scenario, with and without a gain changed, each
# twice.  Both set it at the same cycle (to the profile's value, 1, or to
# 4), so the steps fall on the same cycles and only the gain differs.
cat >"$out/base.yaml" <<'YAML'
steps:
  - when: state == IDLE
  - do: param controller.kp 1e9
    expect: refused
  - param: controller.kp 1
  - do: setpoint 3 0 0
  - do: state ACTIVE
  - after: 2s
  - expect: position.x > 0.5
  - do: state SHUTDOWN
YAML
sed 's/param: controller.kp 1$/param: controller.kp 4/' "$out/base.yaml" >"$out/gain.yaml"
grep -q 'param: controller.kp 4' "$out/gain.yaml" || fail "the scenario with a gain was not made"
play() {	# file tag -> the hash in $out/tag.out
  "$bin/qiki" run --quiet --lockstep --seed 7 --instance "$inst" --log-dir "$out/ls" \
    --scenario "$1" >"$out/$2.out" 2>&1 || { fail "$2: exit $?"; tail -5 "$out/$2.out"; }
  sed -n 's/.*sensor stream hash \([0-9a-f]*\) over \([0-9]*\) cycles.*/\1 \2/p' "$out/$2.out"
}
b1=$(play "$out/base.yaml" base1) b2=$(play "$out/base.yaml" base2)
g1=$(play "$out/gain.yaml" gain1) g2=$(play "$out/gain.yaml" gain2)
[ -n "$b1" ] && [ -n "$g1" ] || fail "no hash in the lockstep summaries"
[ "$b1" = "$b2" ] || fail "the scenario without the gain, twice: $b1 / $b2"
[ "$g1" = "$g2" ] || fail "the scenario with the gain, twice: $g1 / $g2"
[ "$b1" != "$g1" ] || fail "setting controller.kp did not change the trajectory ($b1)"
grep -qE '^  cycle [0-9]+ +param controller.kp 1 -> 4$' "$out/gain1.out" ||
  { fail "the scenario's summary lacks the change"; cat "$out/gain1.out"; }
echo "lockstep: without the gain $b1, with it $g1 (each twice)"
finish
