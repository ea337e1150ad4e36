#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Scenarios in lockstep (qiki run --lockstep --scenario, ctl/gate.h): every
# shipped scenario, twice, passes every step at the same cycles and gives
# the same sensor stream hash; a failed expectation exits 6 naming the step,
# judged in cycles exactly.
# usage: tests/integration/lockstep.sh BUILD_DIR   (LS_ONLY=FILE: that scenario only)
name=lockstep
. "$(dirname "$0")/lib.sh"

play() {	# file profile tag [args] -> exit status, output in $out/$3.out
  local f=$1 p=$2 t=$3
  shift 3
  "$bin/qiki" run --quiet --lockstep --instance "$inst" --profile "$p" --log-dir "$out/log" \
    --scenario "$f" "$@" >"$out/$t.out" 2>&1
}
hash_of() { sed -n 's/.*sensor stream hash \([0-9a-f]*\) over \([0-9]*\) cycles.*/\1 \2/p' "$1"; }
steps_of() { grep '^scenario: step' "$1" | sed 's/ at [0-9.]* s / /'; }

for file in ${LS_ONLY:-examples/scenarios/*.yaml}; do
  # a scenario names its profile in a comment ("run it with --profile ship")
  profile=$(sed -n 's/.*--profile \([a-z0-9_-]*\).*/\1/p' "$file" | head -1)
  profile=${profile:-bot}
  steps=$(grep -c '^  - ' "$file")
  for run in 1 2; do
    play "$file" "$profile" "run$run" --seed 7; rc=$?
    if [ $rc != 0 ] || ! grep -q "^scenario $file: passed ($steps of $steps steps)" "$out/run$run.out"; then
      fail "$file (lockstep, run $run): exit $rc"; tail -20 "$out/run$run.out"
    fi
  done
  h1=$(hash_of "$out/run1.out") h2=$(hash_of "$out/run2.out")
  [ -n "$h1" ] || fail "$file: no hash in the summary"
  [ "$h1" = "$h2" ] || fail "$file: two lockstep runs differ: $h1 / $h2"
  # the steps, at their cycles, as the scenario saw them
  diff <(steps_of "$out/run1.out") <(steps_of "$out/run2.out") >/dev/null ||
    fail "$file: the steps passed at other cycles: $(diff <(steps_of "$out/run1.out") <(steps_of "$out/run2.out"))"
  [ "$h1" = "$h2" ] && [ -n "$h1" ] && echo "ok   $file ($profile): hash $h1 cycles, twice"
done

# another seed, another stream: the hash is of the run, not a constant
play examples/scenarios/thermal-runaway.yaml bot seed8 --seed 8
[ "$(hash_of "$out/seed8.out")" != "$(hash_of "$out/run1.out")" ] || fail "seed 8 gave seed 7's hash"

# a failed expectation, judged in cycles exactly: the fault sends the agent
# to SAFE, never ACTIVE
cat >"$out/fails.yaml" <<'YAML'
steps:
  - when: state == IDLE
  - do: fault tank_pressure bias 30
  - expect: state == ACTIVE within 30 cycles
  - do: state SHUTDOWN
YAML
play "$out/fails.yaml" bot fails; rc=$?
[ $rc = 6 ] || fail "a failed expect in lockstep exits $rc, not 6"
grep -q "scenario failed: $out/fails.yaml:4: step 3 (expect: state == ACTIVE within 30 cycles): expected state == ACTIVE within 30 cycles; state SAFE for 30 cycles" "$out/fails.out" ||
  { fail "the lockstep failure does not name the step and what was seen"; cat "$out/fails.out"; }
[ -e "/dev/shm/qiki.$inst" ] && fail "a failed scenario left the segment"
# ... and the same failure, at the same cycle, every time
grep '^scenario' "$out/fails.out" >"$out/f1"
play "$out/fails.yaml" bot fails2
grep '^scenario' "$out/fails2.out" | diff - "$out/f1" >/dev/null || fail "the failure differs between two runs"
finish
