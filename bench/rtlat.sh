#!/usr/bin/env bash
# bench/rtlat.sh - qiki-rtlat beside the loop (installed by mk/rtlat.mk as
# build/bench/bin/rtlat, so bench/run.sh runs it when the tracer is built).
#
# Three runs; in each, on the loop's CPU at the sim's priority:
#   1. cyclictest for T s: the machine's floor;
#   2. a live loop, T s without the tracer: the loop's own wake-up histograms;
#   3. the same loop, T s with qiki-rtlat attached: the loop's histograms over
#      exactly the tracer's window, beside the tracer's for the same threads,
#      and the tracer's own cost (BPF run time per program run, per cycle).
# Figures are the medians of the three runs; a ratio is with / without.
# usage: rtlat [--quick] --json FILE
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$here/../../bin" 2>/dev/null && pwd)
T=10 json=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) T=3 ;;
    --json) json=$2; shift ;;
    *) echo "usage: rtlat [--quick] --json FILE" >&2; exit 1 ;;
  esac
  shift
done
[ -n "$json" ] || { echo "rtlat: --json FILE is required" >&2; exit 1; }
[ -x "$bin/qiki-rtlat" ] || { echo "rtlat: $bin/qiki-rtlat not built" >&2; exit 1; }
work=$(mktemp -d)
cpu=$(($(nproc) - 1))
inst="bench-rtlat-$$"
qiki=""
cleanup() {
  [ -n "$qiki" ] && kill -INT "$qiki" 2>/dev/null && wait "$qiki" 2>/dev/null
  rm -f "/dev/shm/qiki.$inst"
  rm -rf "$work"
}
trap cleanup EXIT
export QIKI_LOG_DIR=${QIKI_LOG_DIR:-$work/logs}
ctl() { "$bin/qikictl" -i "$inst" "$@"; }

echo "rtlat: 3 runs of ${T} s each: cyclictest, the loop alone, the loop traced (CPU $cpu)"
for r in 1 2 3; do
  cyclictest -m -q -t1 -p80 -a"$cpu" -i1000 -D"$T" -h 20000 --json="$work/ct$r.json" >/dev/null 2>&1 ||
    echo "rtlat: cyclictest failed (run $r): the floor is missing from this run"
  "$bin/qiki" run -i "$inst" -q --duration $((2 * T + 10)) >"$work/run$r.out" 2>&1 &
  qiki=$!
  for _ in $(seq 100); do [ "$(ctl state 2>/dev/null)" = IDLE ] && break; sleep 0.1; done
  sleep 1
  ctl stats --json >"$work/s0.$r.json"
  sleep "$T"
  ctl stats --json >"$work/s1.$r.json"
  "$bin/qiki-rtlat" -i "$inst" -d "$T" --json -o "$work/rt$r.json" 2>"$work/rt$r.err" &
  tracer=$!
  for _ in $(seq 100); do grep -q '^qiki-rtlat: tracing' "$work/rt$r.err" && break; sleep 0.05; done
  ctl stats --json >"$work/s2.$r.json"
  wait $tracer || { echo "rtlat: qiki-rtlat failed: $(cat "$work/rt$r.err")"; exit 1; }
  ctl stats --json >"$work/s3.$r.json"
  kill -INT "$qiki"; wait "$qiki"; qiki=""
done

python3 - "$work" "$json" "$T" "$cpu" <<'PY'
import json, os, platform, statistics, sys
work, out, T, cpu = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])

def upper(lo):
    return lo if lo < 16 else lo + (1 << (lo.bit_length() - 5)) - 1

def hist(buckets, mx=None):
    """bench JSON histogram from {lower_ns: count}."""
    b = sorted((k, v) for k, v in buckets.items() if v > 0)
    n = sum(v for _, v in b)
    h = {"count": n, "histogram": [[k, v] for k, v in b]}
    if not n:
        return dict(h, min_ns=0, p50_ns=0, p99_ns=0, p999_ns=0, max_ns=0)
    h["min_ns"] = b[0][0]
    h["max_ns"] = mx if mx is not None else upper(b[-1][0])
    for key, q in (("p50_ns", .5), ("p99_ns", .99), ("p999_ns", .999)):
        rank, seen = max(1, int(q * n + .5)), 0
        for lo, c in b:
            seen += c
            if seen >= rank:
                h[key] = min(upper(lo), h["max_ns"])
                break
    return h

def delta(a, b, proc):
    """the loop's own wake-up histogram between two `qikictl stats --json`."""
    ha = {lo: c for lo, c in a[proc]["wake_latency"]["buckets"]}
    return hist({lo: c - ha.get(lo, 0) for lo, c in b[proc]["wake_latency"]["buckets"]})

def ct(path):
    try:
        d = json.load(open(path))
    except (OSError, ValueError):
        return None
    th = d["thread"]["0"]
    b = {}
    for us_, c in th["histogram"].items():   # 1 us buckets, folded like bench/loop.c
        v = int(us_) * 1000 + 500
        lo = v if v < 16 else (v >> (v.bit_length() - 5)) << (v.bit_length() - 5)
        b[lo] = b.get(lo, 0) + c
    return hist(b, th["max"] * 1000 + 500)

runs = []
for r in (1, 2, 3):
    s = [json.load(open(os.path.join(work, "s%d.%d.json" % (i, r)))) for i in range(4)]
    rt = [json.loads(l) for l in open(os.path.join(work, "rt%d.json" % r))][-1]
    run = {"cyclictest": ct(os.path.join(work, "ct%d.json" % r)), "cost": rt["cost"],
           "tracer_seconds": rt["seconds"], "loop_cycles": rt["loop_cycles"], "threads": {}}
    for proc in ("sim", "agent"):
        t = next(x for x in rt["threads"] if x["proc"] == proc)
        run["threads"][proc] = {
            "loop_alone": delta(s[0], s[1], proc),
            "loop_traced": delta(s[2], s[3], proc),
            "tracer": t["wake"], "timer_late": t["timer_late"], "due_to_run": t["due_to_run"],
            "preempted": t["preempted"], "irq_ns_per_cycle": (t["irq_ns"] + t["softirq_ns"]) / max(1, t["cycles"])}
    runs.append(run)

med = lambda xs: statistics.median(xs) if xs else None
res = {"bench": "rtlat", "kernel": platform.release(), "cpu": cpu, "seconds_per_phase": T,
       "preempt_rt": os.path.exists("/sys/kernel/realtime"), "runs": runs, "median": {}}
m = res["median"]
ctp = [r["cyclictest"] for r in runs if r["cyclictest"]]
m["cyclictest_p50_ns"] = med([c["p50_ns"] for c in ctp])
m["cyclictest_p99_ns"] = med([c["p99_ns"] for c in ctp])
m["tracer_ns_per_prog_run"] = med([r["cost"]["ns_per_run"] for r in runs])
m["tracer_ns_per_loop_cycle"] = med([r["cost"]["ns_per_loop_cycle"] for r in runs])
m["tracer_prog_runs_per_loop_cycle"] = med([r["cost"]["prog_runs"] / max(1, r["loop_cycles"]) for r in runs])
for proc in ("sim", "agent"):
    th = [r["threads"][proc] for r in runs]
    p = m[proc] = {}
    for k in ("loop_alone", "loop_traced", "tracer", "timer_late", "due_to_run"):
        p[k + "_p50_ns"] = med([t[k]["p50_ns"] for t in th])
        p[k + "_p99_ns"] = med([t[k]["p99_ns"] for t in th])
    p["p99_ratio_traced_to_alone"] = med([t["loop_traced"]["p99_ns"] / max(1, t["loop_alone"]["p99_ns"]) for t in th])
    p["p50_loop_minus_tracer_ns"] = med([t["loop_traced"]["p50_ns"] - t["tracer"]["p50_ns"] for t in th])
    p["p50_loop_minus_due_to_run_ns"] = med([t["loop_traced"]["p50_ns"] - t["due_to_run"]["p50_ns"] for t in th])
    # the last run's histograms, for the report's table and plot
    res["%s_loop_traced" % proc] = th[-1]["loop_traced"]
    res["%s_tracer" % proc] = th[-1]["tracer"]
    res["%s_timer_late" % proc] = th[-1]["timer_late"]
    res["%s_due_to_run" % proc] = th[-1]["due_to_run"]
    res["%s_loop_alone" % proc] = th[-1]["loop_alone"]
if ctp:
    res["cyclictest"] = ctp[-1]
json.dump(res, open(out, "w"), indent=1)

us = lambda ns: "%.1f" % (ns / 1000) if ns is not None else "-"
print("medians of 3 runs, us (the machine is shared: see the floor)")
print("  cyclictest (floor)      p50 %s  p99 %s" % (us(m["cyclictest_p50_ns"]), us(m["cyclictest_p99_ns"])))
for proc in ("sim", "agent"):
    p = m[proc]
    print("  %-5s loop alone       p50 %6s  p99 %7s" % (proc, us(p["loop_alone_p50_ns"]), us(p["loop_alone_p99_ns"])))
    print("  %-5s loop traced      p50 %6s  p99 %7s   p99 traced/alone %.2fx" % (
        proc, us(p["loop_traced_p50_ns"]), us(p["loop_traced_p99_ns"]), p["p99_ratio_traced_to_alone"]))
    print("  %-5s tracer: wake->run p50 %6s  p99 %7s   loop p50 - tracer p50 %s" % (
        proc, us(p["tracer_p50_ns"]), us(p["tracer_p99_ns"]), us(p["p50_loop_minus_tracer_ns"])))
    print("  %-5s tracer: timer    p50 %6s  p99 %7s   (expiry to sched_waking)" % (
        proc, us(p["timer_late_p50_ns"]), us(p["timer_late_p99_ns"])))
    print("  %-5s tracer: due->run p50 %6s  p99 %7s   loop p50 - tracer due->run p50 %s" % (
        proc, us(p["due_to_run_p50_ns"]), us(p["due_to_run_p99_ns"]), us(p["p50_loop_minus_due_to_run_ns"])))
print("  tracer cost: %.0f ns per program run, %.1f runs and %.0f ns per loop cycle" % (
    m["tracer_ns_per_prog_run"], m["tracer_prog_runs_per_loop_cycle"], m["tracer_ns_per_loop_cycle"]))
PY
