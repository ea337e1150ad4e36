#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The operator's small things (issue 12), against real `qiki run`s:
# `qikictl list` (text and JSON) and a missing instance naming the live ones;
# `qikictl watch --json` as JSON lines; the status line within 80 columns with
# the sim's and the agent's overruns apart; `qikictl status` with a killed
# agent saying the state is the last seen, and when, with exit 5; averages
# beside percentiles in the summary and `qikictl stats`; the summary of a
# failed POST naming the device and code; --profile with --config warning.
# usage: tests/integration/operator.sh BUILD_DIR
name=operator
. "$(dirname "$0")/lib.sh"

py=/usr/bin/python3
"$bin/qiki" run -i "$inst" --duration 60 --log-dir "$out/logs" >"$out/run.out" 2>"$out/run.err" &
launcher=$!
wait_idle || { cat "$out/run.err"; finish; exit 1; }

# ---- list: our instance, healthy, with its rate, profile and pids
# (a loaded machine may starve a heartbeat past the stuck limit for a moment)
for _ in $(seq 20); do
  "$bin/qikictl" list >"$out/list.txt" || fail "list exit $?"
  grep -qE "^$inst +ok +1000 +bot +IDLE " "$out/list.txt" && break
  sleep 0.2
done
grep -E "^$inst +ok +1000 +bot +IDLE " "$out/list.txt" >/dev/null ||
  { fail "list does not show $inst as ok, 1000 Hz, bot, IDLE"; cat "$out/list.txt"; }
"$bin/qikictl" list --json >"$out/list.json" || fail "list --json exit $?"
$py - "$out/list.json" "$inst" <<'PY' || fail "list --json lacks the instance or its fields"
import json, sys
d = json.load(open(sys.argv[1]))
me = [i for i in d["instances"] if i["instance"] == sys.argv[2]]
assert len(me) == 1, me
me = me[0]
assert me["health"] == "ok" and me["stale"] is False, me
assert me["rate_hz"] == 1000 and me["profile"] == "bot" and me["state"] == "IDLE", me
assert me["pids"]["sim"] > 0 and me["pids"]["agent"] > 0 and me["pids"]["launcher"] > 0, me
assert me["uptime_s"] > 0, me
PY

# ---- a name that does not exist: exit 2, and the live one is named
"$bin/qikictl" -i "$inst-typo" status >/dev/null 2>"$out/typo.err"
[ $? = 2 ] || fail "status of a missing instance: exit 2 expected"
grep -q "instances here: .*$inst\|instances here: .*\.\.\." "$out/typo.err" ||
  { fail "the missing-instance message does not name the existing ones"; cat "$out/typo.err"; }

# ---- watch --json: one parseable object a line, the text's fields
timeout -s INT 1.5 "$bin/qikictl" -i "$inst" watch --json --interval 0.1 >"$out/watch.jsonl"
$py - "$out/watch.jsonl" <<'PY' || fail "watch --json is not JSON lines with the fields"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) >= 5, len(lines)
for l in lines:
    o = json.loads(l)
    for k in ("instance", "cycle", "state", "position_m", "setpoint_m", "tank_bar", "thermal_k",
              "s2a_p99_us", "proposal"):
        assert k in o, k
    assert "overruns" in o["sim"] and "overruns" in o["agent"] and "wake_avg_us" in o["agent"], o
assert json.loads(lines[-1])["cycle"] > json.loads(lines[0])["cycle"]
PY
"$bin/qikictl" -i "$inst" watch --interval 0.1 >"$out/watch.txt" & w=$!
sleep 0.5; kill -INT $w; wait $w
awk 'length($0) > 80 { bad = 1; print "too wide: " $0 } END { exit bad }' "$out/watch.txt" ||
  fail "a watch line is wider than 80 columns"
grep -q "^sim  *overruns" "$out/watch.txt" && grep -q "^agent  *overruns" "$out/watch.txt" ||
  fail "watch does not show the sim's and the agent's overruns apart"

# ---- stats: the mean beside the percentiles
"$bin/qikictl" -i "$inst" stats | grep -q "us min [0-9.]* avg [0-9.]* p50" ||
  fail "stats shows no avg beside the percentiles"
"$bin/qikictl" -i "$inst" stats --json | $py -c '
import json, sys
d = json.load(sys.stdin)
h = d["agent"]["wake_latency"]
assert h["min_ns"] <= h["avg_ns"] <= h["max_ns"], h' || fail "stats --json avg_ns missing or outside min..max"

# ---- a dead agent: status says the state is the last seen, and when; exit 5
agent=$("$bin/qikictl" -i "$inst" status --json | $py -c 'import json,sys; print(json.load(sys.stdin)["processes"]["agent"]["pid"])')
kill -KILL "$agent"
# until the kernel dropped its slot's lock (STUCK, exit 5, comes first)
for _ in $(seq 50); do
  "$bin/qikictl" -i "$inst" status >"$out/dead.txt" 2>&1; rc=$?
  grep -q "^agent .* DEAD " "$out/dead.txt" && break
  sleep 0.1
done
[ "$rc" = 5 ] || fail "status with a dead agent: exit $rc, expected 5"
grep -q "last seen [0-9.]* s ago: the agent is not running" "$out/dead.txt" ||
  { fail "status does not say the state is the last seen"; cat "$out/dead.txt"; }
"$bin/qikictl" -i "$inst" status --json >"$out/dead.json"; rc=$?
[ "$rc" = 5 ] || fail "status --json with a dead agent: exit $rc, expected 5"
$py -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["state_is_last_seen"] is True and d["state_seen_age_s"] >= 0, d' "$out/dead.json" ||
  fail "status --json does not mark the last-seen state"
for _ in $(seq 20); do	# the sim may miss a heartbeat on a loaded machine: stuck
  "$bin/qikictl" list >"$out/list2.txt"
  grep -qE "^$inst +partial .*IDLE\?" "$out/list2.txt" && break
  sleep 0.2
done
grep -E "^$inst +partial .*IDLE\?" "$out/list2.txt" >/dev/null ||
  { fail "list does not show $inst as partial with a last-seen state"; cat "$out/list2.txt"; }

# ---- the run's status line and summary; watch --json ends with the run
"$bin/qikictl" -i "$inst" watch --json --interval 0.2 >"$out/end.jsonl" 2>&1 & w=$!
sleep 0.5
kill -INT $launcher; wait $launcher
for _ in $(seq 50); do kill -0 $w 2>/dev/null || break; sleep 0.1; done
kill -0 $w 2>/dev/null && { fail "watch --json did not end with the instance"; kill $w; }
wait $w || fail "watch --json exit $? when the instance stopped"
tail -n 1 "$out/end.jsonl" | $py -c 'import json, sys; assert json.load(sys.stdin)["stopped"] is True' ||
  fail "watch --json did not end with {\"stopped\": true}: $(tail -n 2 "$out/end.jsonl")"
awk '/^ *[0-9.]+s / { n++; if (length($0) > 79) { bad = 1; print "too wide: " $0 } }
     END { exit bad || !n }' "$out/run.out" || fail "qiki run's status lines are missing or too wide"
grep -qE "^ *[0-9.]+s [A-Z]+ +overruns sim [0-9]+ agent [0-9]+" "$out/run.out" ||
  fail "the status line does not label the sim's and the agent's overruns"
grep -q "wake-up latency us avg [0-9.]* p50" "$out/run.out" || fail "the summary shows no avg"
grep -q "POST #[0-9]*: all [0-9]* devices OK" "$out/run.out" || fail "the summary has no POST line"

# ---- on a terminal the line is rewritten in place: each, padded, still 79
if command -v script >/dev/null; then
  script -qec "$bin/qiki run -i $inst --duration 1.5 --log-dir $out/logs" /dev/null >"$out/tty.out" 2>&1
  $py - "$out/tty.out" <<'PY' || fail "qiki run's status line on a terminal is missing or wider than 79"
import re, sys
parts = [p for p in re.split(r"[\r\n]", open(sys.argv[1], errors="replace").read()) if "overruns sim" in p]
assert len(parts) >= 3, parts
assert all(len(p) <= 79 for p in parts), [p for p in parts if len(p) > 79]
PY
fi

# ---- a failed POST: the summary names the device and its code
"$bin/qiki" run -i "$inst" --duration 1.5 -q --log-dir "$out/logs" \
  --fault power_unit:post-fail >"$out/post.out" 2>&1
grep -qE "POST #[0-9]+ failed: power_unit [A-Z_]+ [A-Z_]+" "$out/post.out" ||
  { fail "the summary of a failed POST does not name power_unit and its code"; cat "$out/post.out"; }

# ---- --profile with a --config that disagrees: a warning naming the field
printf 'rate_hz: 250\n' >"$out/c.yaml"
"$bin/qiki" run --profile ship --config "$out/c.yaml" --print-config >/dev/null 2>"$out/c.err" ||
  fail "--profile ship --config: exit $?"
grep -q "warning: --config .* overrides --profile ship: rate_hz [0-9]* -> 250" "$out/c.err" ||
  { fail "no warning naming rate_hz"; cat "$out/c.err"; }
printf 'profile: bot\n' >"$out/p.yaml"
"$bin/qiki" run --profile ship --config "$out/p.yaml" --print-config 2>&1 >/dev/null |
  grep -q "'profile: bot' replaces --profile ship" || fail "no warning for the file's own profile:"
"$bin/qiki" run --config "$out/c.yaml" --print-config 2>&1 >/dev/null | grep -q warning &&
  fail "a warning without --profile"

finish
