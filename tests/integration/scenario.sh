#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Scenarios against the real loop (qiki run --scenario): every shipped
# scenario passes in real time; a failed expectation exits 6 and names the
# step, what it expected and what it saw; a malformed file is refused with
# file:line:col before the loop starts.
# usage: tests/integration/scenario.sh BUILD_DIR
name=scenario
. "$(dirname "$0")/lib.sh"

play() {	# scenario-file profile -> exit status, output in $out/play.out
  "$bin/qiki" run --quiet --instance "$inst" --profile "$2" --scenario "$1" >"$out/play.out" 2>&1
}

for s in demo:bot thermal-runaway:bot sensor-dropout:bot ship-manoeuvre:ship gain-tuning:bot; do
  file=examples/scenarios/${s%%:*}.yaml
  play "$file" "${s#*:}"; rc=$?
  steps=$(grep -c '^  - ' "$file")
  if [ $rc = 0 ] && grep -q "^scenario $file: passed ($steps of $steps steps)" "$out/play.out"; then
    echo "ok   $file"
  else
    fail "$file: exit $rc"; tail -20 "$out/play.out"
  fi
done
grep -q 'reached in .* s, overshoot .* settled (5 %) in' "$out/play.out" ||
  fail "the summary gives no setpoint figures"

# a failed expectation: its own exit status, the step and both sides
cat >"$out/fails.yaml" <<'YAML'
steps:
  - when: state == IDLE
  - do: fault tank_pressure bias 30
  - expect: state == ACTIVE within 30 cycles
  - do: state SHUTDOWN
YAML
play "$out/fails.yaml" bot; rc=$?
[ $rc = 6 ] || fail "a failed expect exits $rc, not 6"
grep -q "scenario failed: $out/fails.yaml:4: step 3 (expect: state == ACTIVE within 30 cycles): expected state == ACTIVE within 30 cycles; state \(IDLE\|SAFE\) for 30 cycles" "$out/play.out" ||
  { fail "the failure does not name the step, the expectation and what was seen"; cat "$out/play.out"; }
[ -e "/dev/shm/qiki.$inst" ] && fail "a failed scenario left the segment"

# malformed: refused before anything starts, with the place
printf 'steps:\n  - do: setpoint 1 2\n' >"$out/bad.yaml"
play "$out/bad.yaml" bot; rc=$?
[ $rc = 1 ] && grep -q "bad scenario: $out/bad.yaml:2:9: action 'setpoint 1 2'" "$out/play.out" ||
  { fail "a malformed scenario: exit $rc"; cat "$out/play.out"; }
grep -q 'instance' "$out/play.out" && fail "the loop started for a malformed scenario"
# in --lockstep: tests/integration/lockstep.sh
finish
