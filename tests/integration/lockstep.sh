#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Scenarios in lockstep (qiki run --lockstep --scenario, ctl/gate.h): every
# shipped scenario, twice, passes every step at the same cycles and gives
# the same sensor stream hash; a failed expectation exits 6 naming the step,
# judged in cycles exactly; held at its gate (the launcher frozen) the sim
# runs no cycle and neither it nor the agent spins.  Telemetry in lockstep
# loses no frame and spans the simulated time; the file describes itself
# (metadata, config.yaml), read back by qiki-telemetry info and by an
# independent reader of the records (lockstep/mcap_records.py).
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
# ---- held at the gate, nobody spins: the launcher frozen (SIGSTOP) mid-
# scenario, the sim holds its cycle and sim and agent sleep (CPU ticks of a
# second, from /proc: a spinning process takes ~100 a second)
cat >"$out/long.yaml" <<'YAML'
steps:
  - when: state == IDLE
  - when: position.x > 1000
    timeout: 1000s
YAML
"$bin/qiki" run --quiet --lockstep --instance "$inst" --log-dir "$out/log" \
  --scenario "$out/long.yaml" >"$out/long.out" 2>&1 &
q=$!
slot() { ctl status --json 2>/dev/null | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['processes']['$1']['pid'])" 2>/dev/null; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
for _ in $(seq 100); do c=$(sim_cycles 2>/dev/null) && [ "${c:-0}" -gt 100 ] && break; sleep 0.1; done
s=$(slot sim) a=$(slot agent)
if [ -n "$s" ] && [ -n "$a" ] && [ "$s" != 0 ] && [ "$a" != 0 ]; then
  kill -STOP $q
  sleep 0.3	# the cycle under way ends; the sim holds at the next gate
  c1=$(sim_cycles) ts=$(ticks "$s") ta=$(ticks "$a")
  sleep 1
  c2=$(sim_cycles) ts2=$(ticks "$s") ta2=$(ticks "$a")
  kill -CONT $q
  [ "$c1" = "$c2" ] || fail "the sim ran on ($c1 -> $c2 cycles) with its launcher frozen"
  [ $((ts2 - ts)) -le 10 ] && [ $((ta2 - ta)) -le 10 ] ||
    fail "held, sim and agent took $((ts2 - ts)) and $((ta2 - ta)) CPU ticks in a second"
  echo "ok   held at cycle $c1 for a second: sim $((ts2 - ts)), agent $((ta2 - ta)) CPU ticks"
else
  fail "the long scenario did not start: $(cat "$out/long.out")"
fi
kill -INT $q; wait $q; rc=$?
[ $rc = 6 ] || fail "an interrupted scenario exits $rc, not 6 (not finished)"

# ---- telemetry: 20,000 cycles, every frame, stamped in simulated time
cycles=20000
"$bin/qiki" run --quiet --lockstep --instance "$inst" --log-dir "$out/log" --seed 7 \
  --cycles $cycles --telemetry "$out/run.mcap" >"$out/tele.out" 2>&1 || fail "telemetry run exit $?"
/usr/bin/python3 tests/integration/lockstep/mcap_records.py "$out/run.mcap" >"$out/rec.json" ||
  fail "the records of the file do not read"
/usr/bin/python3 - "$out/rec.json" "$cycles" "$inst" >"$out/check.txt" 2>&1 <<'PY' || { fail "telemetry file: $(cat "$out/check.txt")"; }
import json, sys
r, n, inst = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
st, bad = r["statistics"], []
for t in ("/sensors", "/actuators", "/timing"):
    if st["per_topic"].get(t) != n:
        bad.append("%s: %s messages of %d cycles" % (t, st["per_topic"].get(t), n))
# every message is stamped between cycle 0 and the last cycle: the span is
# the simulated time, (n - 1) periods, to the nanosecond
if st["end"] - st["start"] != (n - 1) * 1000000:
    bad.append("span %d ns, simulated %d ns" % (st["end"] - st["start"], (n - 1) * 1000000))
m = r["metadata"].get("qiki", {})
want = {"instance": inst, "profile": "bot", "rate_hz": "1000", "seed": "7", "wake": "lockstep"}
bad += ["metadata %s: %r, not %r" % (k, m.get(k), v) for k, v in want.items() if m.get(k) != v]
bad += ["metadata %s missing" % k for k in ("qiki_version", "git_revision", "kernel_release",
                                            "preemption", "clock") if not m.get(k)]
if st["metadata"] != 1 or r["metadata_index"] != ["qiki"]:
    bad.append("metadata not counted and indexed in the summary")
a = [x for x in r["attachments"] if x["name"] == "config.yaml"]
if len(a) != 1 or not a[0]["crc_ok"] or a[0]["media_type"] != "application/yaml":
    bad.append("config.yaml attachment: %s" % [(x["name"], x["crc_ok"]) for x in r["attachments"]])
if st["attachments"] != 1 or r["attachment_index"] != ["config.yaml"]:
    bad.append("the attachment not counted and indexed in the summary")
print("; ".join(bad) or "ok")
sys.exit(1 if bad else 0)
PY
[ "$(cat "$out/check.txt")" = ok ] && echo "ok   telemetry: $cycles of $cycles frames, $(( cycles - 1 )) ms span, metadata and config.yaml"
# qiki-telemetry's own reader shows them; the attachment is the effective configuration
"$bin/qiki-telemetry" info "$out/run.mcap" >"$out/info.txt" || fail "info exit $?"
for k in "qiki.instance *$inst" "qiki.wake *lockstep" "qiki.seed *7" "qiki.preemption *[A-Z]" \
         "qiki.git_revision *[0-9a-fu]" "config.yaml *application/yaml *[0-9]* bytes, CRC ok"; do
  grep -q "$k" "$out/info.txt" || fail "info does not show '$k'"
done
"$bin/qiki-telemetry" info --attachment config.yaml "$out/run.mcap" >"$out/config.yaml" || fail "info --attachment exit $?"
"$bin/qiki" run --lockstep --seed 7 --print-config | diff - "$out/config.yaml" >/dev/null ||
  fail "the attached configuration is not the run's (qiki run --print-config)"
"$bin/qiki-telemetry" info --attachment nope.yaml "$out/run.mcap" 2>"$out/e"; rc=$?
[ $rc = 1 ] && grep -q "no attachment 'nope.yaml' in .*: config.yaml" "$out/e" || fail "an unknown attachment: exit $rc"
finish
