#!/usr/bin/env bash
# qiki doctor as a user runs it: this machine's checks (text and JSON),
# usage errors, and a fake /sys on hpet (QIKI_SYSROOT) that doctor, qiki run's
# digest and both loop processes must warn about, with the fix.
name=doctor
. "$(dirname "$0")/lib.sh"

"$bin/qiki" doctor > "$out/doc.txt"; rc=$?
[ $rc = 0 ] || [ $rc = 2 ] || fail "qiki doctor exit $rc (0 or 2 expected)"
n=$(grep -cE '^(OK|WARN|FAIL) ' "$out/doc.txt")
[ "$n" = 17 ] || fail "qiki doctor printed $n check lines, not 17"
[ $rc = 2 ] && ! grep -q '^FAIL ' "$out/doc.txt" && fail "exit 2 without a FAIL line"
grep '^WARN ' "$out/doc.txt" | grep -v '; fix: ' && fail "a WARN line without a fix"
"$bin/qiki" doctor --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert len(d["checks"]) == 17, d
assert {c["status"] for c in d["checks"]} <= {"OK", "WARN", "FAIL"}
assert d["ok"] + d["warn"] + d["fail"] == 17
' || fail "qiki doctor --json is not the documented object"
"$bin/qiki" doctor --cpu x > /dev/null 2>&1; [ $? = 1 ] || fail "--cpu x: exit 1 expected"
"$bin/qiki" doctor extra > /dev/null 2>&1; [ $? = 1 ] || fail "an extra argument: exit 1 expected"

# a fake /sys whose clocksource is hpet
fake=$out/root
mkdir -p "$fake/sys/devices/system/clocksource/clocksource0"
echo hpet > "$fake/sys/devices/system/clocksource/clocksource0/current_clocksource"
echo "hpet acpi_pm" > "$fake/sys/devices/system/clocksource/clocksource0/available_clocksource"
QIKI_SYSROOT=$fake "$bin/qiki" doctor > "$out/fake.txt"
grep -q '^WARN clocksource *hpet: the vDSO cannot read it.*fix: boot with .clocksource=tsc tsc=reliable' \
  "$out/fake.txt" || fail "doctor on a hpet tree did not warn with the fix: $(grep clocksource "$out/fake.txt")"
QIKI_SYSROOT=$fake "$bin/qiki" run --instance "$inst" --lockstep --cycles 100 --log-dir "$out/log" \
  > "$out/run.out" 2> "$out/run.err" || fail "qiki run on the fake tree failed: $(tail -3 "$out/run.err")"
for p in qiki-sim qiki-agent; do
  grep -q "^$p: warning: clocksource 'hpet' cannot be read by the vDSO.*clocksource=tsc tsc=reliable" \
    "$out/run.err" || fail "$p did not warn about hpet at start-up"
done
grep -q "^qiki: doctor: .*clocksource" "$out/run.out" || fail "qiki run's digest does not name the clocksource"
grep -q "clocksource 'hpet' cannot be read" "$out/log/qiki-sim.log" || fail "the warning is not in qiki-sim.log"
# on this machine's own clocksource, no warning unless doctor gives one
if grep -q '^OK   clocksource' "$out/doc.txt"; then
  "$bin/qiki" run --instance "$inst" --lockstep --cycles 50 --log-dir "$out/log2" -q 2> "$out/run2.err" >/dev/null
  grep -q "clocksource" "$out/run2.err" && fail "a clocksource warning on a vDSO clocksource"
fi
finish
