#!/usr/bin/python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""bench/report.py - the machine record and the report of one `make bench` run.

    report.py machine OUT   before the run: what the machine is and how busy
    report.py report OUT    after it: OUT/report.json, report.md, *.png
    report.py compare OUT BASE   each headline figure of OUT beside BASE's, as
                            a ratio (make bench BASELINE=build/bench/<ts>)

Every bench program writes OUT/<name>.json; histograms there are lists of
[lower_ns, count] on qiki's log-linear buckets (shm/hist.h), so percentiles
of merged histograms (cyclictest before + after) are computed here the same
way qk_hist_quantile() does.  A bench this script does not know is kept in
report.json as it is, and any histogram in it gets a row and a plot.
Standard library only.
"""
import json
import os
import platform
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))



def run_label(lp, x):
    """A loop run's name: its wake mode, and its repeat when the bench repeated runs."""
    if lp.get("repeats", 1) > 1:
        return "%s-%d" % (x["wake"], x.get("repeat", 0) + 1)
    return x["wake"]

def read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


# ---- the machine --------------------------------------------------------------

def cpu_busy(seconds=1.0):
    """Per-CPU busy fraction over `seconds`, from /proc/stat."""
    def snap():
        out = {}
        for line in read("/proc/stat").splitlines():
            f = line.split()
            if re.match(r"cpu\d+$", f[0]):
                v = [int(x) for x in f[1:]]
                idle = v[3] + (v[4] if len(v) > 4 else 0)
                out[f[0]] = (sum(v), idle)
        return out
    a = snap()
    time.sleep(seconds)
    b = snap()
    return {c: round(1 - (b[c][1] - a[c][1]) / max(1, b[c][0] - a[c][0]), 3) for c in b if c in a}


def cpu_stat():
    """Raw /proc/stat counters per CPU: user nice system idle iowait irq softirq steal."""
    return {f[0]: [int(x) for x in f[1:9]] for f in (l.split() for l in read("/proc/stat").splitlines())
            if re.match(r"cpu\d+$", f[0])}


def steal(before, after):
    """Per CPU, the share of time the hypervisor took (steal) between two cpu_stat()s."""
    out = {}
    for c, a in after.items():
        b = before.get(c)
        if b and len(a) >= 8:
            total = sum(a) - sum(b)
            out[c] = round((a[7] - b[7]) / total, 4) if total > 0 else 0.0
    return out


def machine(rt_ok):
    u = platform.uname()
    model = "unknown"
    flags = ""
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name") and model == "unknown":
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = line
    cmdline = read("/proc/cmdline")
    vm = run("systemd-detect-virt", "--vm") or "none"
    if vm == "none" and " hypervisor" in flags:
        vm = "hypervisor (cpuinfo flag)"
    ct = run("systemd-detect-virt", "--container") or "none"
    virt = "none" if vm == "none" and ct == "none" else ", ".join(
        x for x in ("VM: " + vm if vm != "none" else "", "container: " + ct if ct != "none" else "") if x)
    m = {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "hostname": u.node,
        "kernel": u.release,
        "kernel_version": u.version,
        "preempt_rt": read("/sys/kernel/realtime") == "1" or "PREEMPT_RT" in u.version,
        "preempt": next((p for p in ("PREEMPT_RT", "PREEMPT_DYNAMIC", "PREEMPT") if p in u.version), "none"),
        "cpu_model": model,
        "cpus_online": os.cpu_count(),
        "clocksource": read("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
        "clocksources_available": read("/sys/devices/system/clocksource/clocksource0/available_clocksource"),
        "virtualization": virt,
        "cmdline_isolation": {k: v for k, v in (re.findall(r"\b(isolcpus|nohz_full|irqaffinity|rcu_nocbs)=(\S+)", cmdline))},
        "cpufreq_governor": read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "n/a"),
        "sched_rt_runtime_us": read("/proc/sys/kernel/sched_rt_runtime_us"),
        "sched_fifo_allowed": rt_ok,
        "loadavg_start": read("/proc/loadavg"),
        "cpu_busy_before": cpu_busy(),
        "git": run("git", "-C", HERE, "describe", "--always", "--dirty"),
        "cpu_stat_start": cpu_stat(),
    }
    # qiki doctor's checks, when bench/run.sh names the binary (QK_QIKI)
    doc = run(os.environ.get("QK_QIKI", ""), "doctor", "--json") if os.environ.get("QK_QIKI") else ""
    try:
        m["doctor"] = json.loads(doc)
    except ValueError:
        pass
    return m


def warnings(m, benches):
    w = []
    if m["virtualization"] != "none":
        w.append("virtualised (%s): a hypervisor can stop the whole guest; spikes of milliseconds are its own, "
                 "and cyclictest in the same run shows them too" % m["virtualization"])
    if not m["preempt_rt"]:
        w.append("kernel is not PREEMPT_RT (%s): worst cases are the stock kernel's" % m["preempt"])
    if not m["cmdline_isolation"]:
        w.append("no isolated CPUs (isolcpus/nohz_full/irqaffinity not on the kernel command line)")
    if not m["sched_fifo_allowed"]:
        w.append("SCHED_FIFO not allowed: every figure is NOT real-time")
    for name, b in benches.items():
        if isinstance(b, dict) and b.get("sched_fifo") is False and m["sched_fifo_allowed"]:
            w.append("%s ran without SCHED_FIFO" % name)
        if isinstance(b, dict) and b.get("mlockall") is False:
            w.append("%s ran without mlockall" % name)
    for r in benches.get("loop", {}).get("rates", []) if isinstance(benches.get("loop"), dict) else []:
        for when, c in r.get("cyclictest", {}).items():
            if c.get("error"):
                w.append("%d Hz floor %s: %s" % (r["rate_hz"], when, c["error"]))
    stolen = {c: v for c, v in m.get("steal_during_run", {}).items() if v >= 0.001}
    if stolen:
        w.append("the hypervisor stole CPU time during the run: " +
                 ", ".join("%s %.2f%%" % (c, 100 * v) for c, v in stolen.items()))
    busy = {c: v for c, v in m.get("cpu_busy_before", {}).items() if v > 0.10}
    if busy:
        w.append("other load before the run: " + ", ".join("%s %.0f%% busy" % (c, 100 * v) for c, v in busy.items()))
    try:
        if float(m["loadavg_start"].split()[0]) > 0.5 * (m["cpus_online"] or 1):
            w.append("load average %s at start" % m["loadavg_start"].split()[0])
    except (ValueError, IndexError):
        pass
    if m["sched_rt_runtime_us"] not in ("-1", ""):
        w.append("RT throttling on (sched_rt_runtime_us=%s): a SCHED_FIFO task spinning past it is stopped"
                 % m["sched_rt_runtime_us"])
    if m["cpufreq_governor"] not in ("performance", "n/a"):
        w.append("cpufreq governor is %s, not performance" % m["cpufreq_governor"])
    doc = m.get("doctor", {}).get("checks", [])
    bad = [c["check"] for c in doc if c.get("status") in ("WARN", "FAIL")]
    if bad:
        w.append("qiki doctor: %d WARN/FAIL (%s): `qiki doctor` says why and how to fix"
                 % (len(bad), ", ".join(bad)))
    if m["clocksource"] not in ("tsc", "arch_sys_counter"):
        w.append("clock source is %s: clock_gettime may be a system call" % m["clocksource"])
    return w


# ---- histograms ---------------------------------------------------------------

def upper(lo):
    """The last value of the bucket starting at lo (shm/hist.h, 4 sub-bits)."""
    if lo < 16:
        return lo
    return lo + (1 << (lo.bit_length() - 1 - 4)) - 1


def merge(*hs):
    hs = [h for h in hs if h and h.get("count")]
    if not hs:
        return None
    b = {}
    for h in hs:
        for lo, n in h["histogram"]:
            b[lo] = b.get(lo, 0) + n
    out = {"count": sum(h["count"] for h in hs), "min_ns": min(h["min_ns"] for h in hs),
           "max_ns": max(h["max_ns"] for h in hs), "histogram": sorted([k, v] for k, v in b.items())}
    for key, q in (("p50_ns", 0.5), ("p99_ns", 0.99), ("p999_ns", 0.999)):
        out[key] = quantile(out, q)
    return out


def quantile(h, q):
    n = sum(c for _, c in h["histogram"])
    if not n:
        return 0
    rank = max(1, int(q * n + 0.5))
    seen = 0
    for lo, c in h["histogram"]:
        seen += c
        if seen >= rank:
            return max(h["min_ns"], min(h["max_ns"], upper(lo)))
    return h["max_ns"]


def is_hist(h):
    return isinstance(h, dict) and "histogram" in h and "p50_ns" in h


def is_dist(h):
    """A distribution in any bench's JSON: p50 and p99, in ns (key suffix _ns or the bench's unit)."""
    return isinstance(h, dict) and all(k in h or k + "_ns" in h for k in ("p50", "p99"))


def dist_cells(h, unit):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}.get(unit, 1)
    cells = []
    for k in ("min", "p50", "p99", "p999", "max"):
        v = h.get(k + "_ns")
        if v is None and isinstance(h.get(k), (int, float)):
            v = h[k] * scale
        cells.append(us(v) if isinstance(v, (int, float)) else "-")
    n = h.get("count", sum(c for _, c in h.get("histogram", [])) if is_hist(h) else "-")
    return cells + [str(n)]


def us(ns):
    return "%.2f" % (ns / 1e3) if ns < 10000 else "%.1f" % (ns / 1e3)


def ratio(a, b):
    return round(a / b, 2) if b else None


def rx(r):
    return "-" if r is None else "%.2fx" % r


def stat_cells(h):
    n = h.get("count", sum(c for _, c in h.get("histogram", [])))
    # the mean beside the percentiles, as cyclictest prints it ("-" in a
    # file written before the histograms kept a sum)
    avg = us(h["avg_ns"]) if "avg_ns" in h else "-"
    return [us(h.get(k, 0)) for k in ("min_ns",)] + [avg] + \
        [us(h.get(k, 0)) for k in ("p50_ns", "p99_ns", "p999_ns", "max_ns")] + [str(n)]


STAT_HEAD = ["min", "avg", "p50", "p99", "p99.9", "max", "samples"]


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


# ---- plots ----------------------------------------------------------------------

class Plots:
    def __init__(self, out):
        self.out, self.files, self.errors = out, [], []

    def _gnuplot(self, script, data, png, **var):
        if not os.path.exists("/usr/bin/gnuplot") and not run("sh", "-c", "command -v gnuplot"):
            self.errors.append("gnuplot not installed (apt-get install gnuplot-nox)")
            return
        e = "; ".join("%s=%s" % (k, ("'%s'" % v.replace("'", "")) if isinstance(v, str) else v)
                      for k, v in dict(var, data=data, out=os.path.join(self.out, png)).items())
        r = subprocess.run(["gnuplot", "-e", e, os.path.join(HERE, script)], capture_output=True, text=True)
        if r.returncode:
            self.errors.append("%s: %s" % (png, r.stderr.strip()[-300:]))
        else:
            self.files.append(png)
        os.unlink(data)

    def hist(self, png, title, series):
        """series: (label, histogram[, resolution_ns]); cyclictest's is 1000."""
        series = [(x[0], x[1], x[2] if len(x) > 2 else 0) for x in series if x[1] and x[1].get("count")]
        if not series:
            return
        data = os.path.join(self.out, "." + png + ".dat")
        with open(data, "w") as f:
            for label, h, res in series:
                total = sum(c for _, c in h["histogram"]) or 1
                # zero does not go on a log axis: said in the label instead
                zero = sum(c for lo, c in h["histogram"] if lo <= 0)
                if zero:
                    label += " (+%d at 0)" % zero
                f.write('"%s" x\n' % label.replace('"', "'"))
                b = [x for x in h["histogram"] if x[0] > 0]
                # empty buckets (wider than the source's resolution) break
                # the line; a bucket alone between gaps also gets a dot
                gap = [i == 0 or b[i][0] - upper(b[i - 1][0]) > res + 1 for i in range(len(b))] + [True]
                for i, (lo, c) in enumerate(b):
                    if i and gap[i]:
                        f.write("\n")
                    dot = "%.6g" % (c / total) if gap[i] and gap[i + 1] else "?"
                    f.write("%.4f %.6g %s\n" % (lo / 1e3, c / total, dot))
                    f.write("%.4f %.6g ?\n" % ((upper(lo) + 1) / 1e3, c / total))
                f.write("\n\n")
        self._gnuplot("hist.gp", data, png, ttl=title, n=len(series))

    def timeline(self, png, title, tl, window_ms, ct):
        data = os.path.join(self.out, "." + png + ".dat")
        cols = [tl.get("sim_wake_max_ns", []), tl.get("agent_compute_max_ns", []), tl.get("s2a_max_ns", [])]
        with open(data, "w") as f:
            for i in range(max(len(c) for c in cols)):
                vals = ["?" if i >= len(c) or c[i] < 0 else "%.3f" % (c[i] / 1e3) for c in cols]
                if all(v == "?" for v in vals):
                    continue
                f.write("%.3f %s\n" % (i * window_ms / 1e3, " ".join(vals)))
        self._gnuplot("timeline.gp", data, png, ttl=title,
                      ct99=(ct["p99_ns"] / 1e3) if ct else 1, ctmax=(ct["max_ns"] / 1e3) if ct else 1)


# ---- the report -------------------------------------------------------------------

def report(out):
    m = json.load(open(os.path.join(out, "machine.json")))
    runs = []  # (name, status, seconds) in run order
    for line in read(os.path.join(out, "benches")).splitlines():
        f = line.split()
        if len(f) >= 3:
            runs.append((f[0], int(f[1]), float(f[2])))
    benches = {}
    for name, _, _ in runs:
        try:
            benches[name] = json.load(open(os.path.join(out, name + ".json")))
        except (OSError, ValueError) as e:
            benches[name] = {"error": "no report: %s" % e}
    m["loadavg_end"] = read("/proc/loadavg")
    m["steal_during_run"] = steal(m.pop("cpu_stat_start", {}), cpu_stat())
    warn = warnings(m, benches)
    plots = Plots(out)
    headline = {}
    md = ["# qiki benchmark report\n",
          "Run %s on `%s`, %s. Everything below was measured in this one run on this one machine.\n"
          % (m["date_utc"], m["hostname"], "quick mode (BENCH_QUICK=1)" if m.get("quick") else "full mode"),
          "## Machine\n",
          table(["", ""], [
              ["kernel", "%s (%s)" % (m["kernel"], m["kernel_version"])],
              ["PREEMPT_RT", "yes" if m["preempt_rt"] else "no (%s)" % m["preempt"]],
              ["CPU", "%s, %s cores online" % (m["cpu_model"], m["cpus_online"])],
              ["clock source", "%s (available: %s)" % (m["clocksource"], m["clocksources_available"])],
              ["virtualization", m["virtualization"]],
              ["isolation", ", ".join("%s=%s" % kv for kv in m["cmdline_isolation"].items()) or "none"],
              ["SCHED_FIFO", "allowed" if m["sched_fifo_allowed"] else "NOT allowed: figures are not real-time"],
              ["mlockall", ", ".join("%s %s" % (n, "yes" if b.get("mlockall") else "no")
                                     for n, b in benches.items() if isinstance(b, dict) and "mlockall" in b)
               + "; loop processes: see SCHED_FIFO+mlockall flag in the loop table"],
              ["cpufreq governor", m["cpufreq_governor"]],
              ["RT throttling", "sched_rt_runtime_us = %s" % m["sched_rt_runtime_us"]],
              ["load", "start %s, end %s" % (m["loadavg_start"], m["loadavg_end"])],
              ["steal time during the run", ", ".join("%s %.2f%%" % (c, 100 * v)
                                                      for c, v in m["steal_during_run"].items()) or "n/a"],
              ["source", m["git"] or "?"],
          ])]
    md.append("\n**Warnings**\n\n" + ("".join("- %s\n" % x for x in warn) if warn else "- none\n"))

    # 1-3: the loop suite holds cyclictest
    lp = benches.get("loop", {})
    floor_rows, loop_rows, s2a_rows, ct_by_rate, ct_tool = [], [], [], {}, {}
    for r in lp.get("rates", []):
        rate = r["rate_hz"]
        ctb, cta = r["cyclictest"]["before"], r["cyclictest"]["after"]
        ct = merge(ctb["latency"] if ctb["ok"] else None, cta["latency"] if cta["ok"] else None)
        ct_by_rate[rate] = ct
        ct_tool[rate] = "built-in floor" if "builtin" in (ctb.get("tool"), cta.get("tool")) else "cyclictest"
        series = []
        for label, c in (("before", ctb), ("after", cta)):
            builtin = c.get("tool") == "builtin"
            tool = "built-in floor" if builtin else "cyclictest"
            if c["ok"]:
                floor_rows.append(["%s %d Hz, %s" % (tool, rate, label)] + stat_cells(c["latency"]))
                series.append(("%s %s" % (tool, label), c["latency"], 0 if builtin else 1000))
            else:
                floor_rows.append(["%s %d Hz, %s" % (tool, rate, label), "failed: " + c["error"]] + [""] * 5)

        s2a_series = []
        for x in r["runs"]:
            w = run_label(lp, x)
            for who in ("sim", "agent"):
                p = x[who]
                h = p["wake_latency"]
                series.append(("%s wake-up, %s" % (who, w), h))
                loop_rows.append(["%d Hz %s" % (rate, w), who] + stat_cells(h)[:6] + [
                    rx(ratio(h["p99_ns"], ct["p99_ns"]) if ct else None),
                    rx(ratio(h["max_ns"], ct["max_ns"]) if ct else None),
                    us(p["compute"]["p50_ns"]) + " / " + us(p["compute"]["p99_ns"]) + " / " + us(p["compute"]["max_ns"]),
                    p["overruns"], p["frames_lost"], p["cycles"],
                    "yes" if p["real_time"] else "NO"])
                headline["loop %d Hz %s %s wake-up" % (rate, w, who)] = {
                    "p99_us": h["p99_ns"] / 1e3, "max_us": h["max_ns"] / 1e3,
                    "ratio_p99_to_cyclictest": ratio(h["p99_ns"], ct["p99_ns"]) if ct else None,
                    "ratio_max_to_cyclictest": ratio(h["max_ns"], ct["max_ns"]) if ct else None}
            s = x["agent"]["sensor_to_actuation"]
            s2a_series.append(("sensor-to-actuation, %s" % w, s))
            s2a_rows.append(["%d Hz %s" % (rate, w)] + stat_cells(s) + [
                x["agent"]["missed_cycle"], x["sim"]["frames_lost"], x["agent"]["frames_lost"],
                x["reader_lost"], "ok" if x["qiki_exit"] == 0 else "exit %d" % x["qiki_exit"]])
            headline["loop %d Hz %s sensor-to-actuation" % (rate, w)] = {
                "p50_us": s["p50_ns"] / 1e3, "p99_us": s["p99_ns"] / 1e3, "max_us": s["max_ns"] / 1e3}
            plots.timeline("loop_%d_%s_timeline.png" % (rate, w),
                           "qiki %d Hz, wake %s: worst per %d ms window" % (rate, w, lp["window_ms"]),
                           x["timeline"], lp["window_ms"], ct)
        plots.hist("loop_%d_wake_hist.png" % rate, "wake-up latency at %d Hz: the loop beside cyclictest" % rate, series)
        plots.hist("loop_%d_s2a_hist.png" % rate, "sensor-to-actuation latency at %d Hz" % rate, s2a_series)
        if ct:
            headline["cyclictest %d Hz" % rate] = {"p99_us": ct["p99_ns"] / 1e3, "max_us": ct["max_ns"] / 1e3}

    rg = benches.get("ring", {})
    ho = rg.get("handoff", {})
    fl = ho.get("floor_cacheline")
    if fl:
        floor_rows.append(["cache-line ping-pong CPU 0 <-> 1 (one way)"] + stat_cells(fl))
        headline["floor cache-line one-way"] = {"p50_ns": fl["p50_ns"], "p99_ns": fl["p99_ns"]}

    md.append("\n## Headline\n")
    rows = []
    for rate, ct in ct_by_rate.items():
        if ct:
            rows.append(["%s at %d Hz (before + after)" % (ct_tool[rate], rate), us(ct["p50_ns"]), us(ct["p99_ns"]),
                         us(ct["p999_ns"]), us(ct["max_ns"])])
    if fl:
        rows.append(["cache-line ping-pong, one way", us(fl["p50_ns"]), us(fl["p99_ns"]), us(fl["p999_ns"]),
                     us(fl["max_ns"])])
    if rows:
        md.append("The floor: what this machine allows (us).\n\n")
        md.append(table(["floor", "p50", "p99", "p99.9", "max"], rows) + "\n")
    hl = []
    for rate, ct in ct_by_rate.items():
        for x in next(r for r in lp["rates"] if r["rate_hz"] == rate)["runs"]:
            for who in ("sim", "agent"):
                k = headline["loop %d Hz %s %s wake-up" % (rate, run_label(lp, x), who)]
                hl.append(["%d Hz %s, %s wake-up" % (rate, run_label(lp, x), who),
                           "%.1f / %.1f" % (k["p99_us"], k["max_us"]),
                           "%.1f / %.1f" % (ct["p99_ns"] / 1e3, ct["max_ns"] / 1e3) if ct else "-",
                           rx(k["ratio_p99_to_cyclictest"]), rx(k["ratio_max_to_cyclictest"])])
    if hl:
        md.append("The loop's wake-up latency against cyclictest at the same period, priority and CPU, "
                  "in the same invocation (cyclictest before and after merged). "
                  "A ratio near 1 means the loop wakes as well as the machine allows.\n\n")
        md.append(table(["loop", "loop p99 / max (us)", "%s p99 / max (us)" % "/".join(sorted(set(ct_tool.values()))),
                         "p99 ratio", "max ratio"], hl))
        md.append("\nSensor-to-actuation and deadline accounting (us; overruns and frames lost, sim / agent).\n\n")
        md.append(table(["loop", "s2a p50", "s2a p99", "s2a max", "overruns", "frames lost"], [
            [r[0], r[2], r[3], r[5], "%s / %s" % (o["sim"]["overruns"], o["agent"]["overruns"]),
             "%s / %s" % (o["sim"]["frames_lost"], o["agent"]["frames_lost"])]
            for r, o in zip(s2a_rows, [x for rr in lp["rates"] for x in rr["runs"]])]))
    qr = ho.get("qiki_ring")
    if qr:
        rows = []
        for k, h in ho.items():
            rows.append([rg.get("handoff_label", {}).get(k, k), us(h["p50_ns"]), us(h["p99_ns"]), us(h["max_ns"]),
                         rx(ratio(h["p50_ns"], qr["p50_ns"])), rx(ratio(h["p99_ns"], qr["p99_ns"])),
                         rx(ratio(h["p50_ns"], fl["p50_ns"]) if fl else None)])
            headline["handoff " + k] = {"p50_ns": h["p50_ns"], "p99_ns": h["p99_ns"], "max_ns": h["max_ns"],
                                        "ratio_p50_to_qiki_ring": ratio(h["p50_ns"], qr["p50_ns"]),
                                        "ratio_p99_to_qiki_ring": ratio(h["p99_ns"], qr["p99_ns"]),
                                        "ratio_p50_to_floor": ratio(h["p50_ns"], fl["p50_ns"]) if fl else None}
        md.append("\nOne-way handoff of a %s-byte frame between two processes on CPU 0 and CPU 1 (us); "
                  "ratios are to the qiki ring (how much slower the alternative is) and to the cache-line floor.\n\n"
                  % rg.get("frame_bytes", "?"))
        md.append(table(["transport", "p50", "p99", "max", "p50 / qiki ring", "p99 / qiki ring", "p50 / floor"], rows))
    pr = rg.get("pairs")
    if pr and pr.get("n"):
        headline["ring vs ck_ring, same-run pairs"] = {
            "p50_ratio_median": pr["p50_ratio_median"], "p99_ratio_median": pr["p99_ratio_median"], "pairs": pr["n"]}
        md.append("\nqiki ring against ck_ring (both spinning), %d same-run pairs, the order alternating: "
                  "medians of the per-pair ratios p50 %.3fx, p99 %.3fx (1.0 = as fast as ck_ring).\n\n"
                  % (pr["n"], pr["p50_ratio_median"], pr["p99_ratio_median"]))
        md.append(table(["pair", "qiki p50 (ns)", "ck p50 (ns)", "p50 ratio", "qiki p99 (ns)", "ck p99 (ns)", "p99 ratio"],
                        [[str(i + 1), "%.0f" % pr["qiki_p50_ns"][i], "%.0f" % pr["ck_p50_ns"][i], "%.3f" % pr["p50_ratio"][i],
                          "%.0f" % pr["qiki_p99_ns"][i], "%.0f" % pr["ck_p99_ns"][i], "%.3f" % pr["p99_ratio"][i]]
                         for i in range(pr["n"])]))
    ins = rg.get("instructions")
    if ins and ins.get("publish", -1) >= 0:
        headline["ring instructions"] = {"publish": ins["publish"], "read_next": ins["read_next"]}
    if rg.get("cost"):
        headline["ring single thread"] = {"publish_ns": rg["cost"]["qiki_publish_ns"],
                                          "read_next_ns": rg["cost"]["qiki_read_next_ns"]}
        bp = rg["cost"].get("batch_p50")
        if bp:
            headline["ring single thread, median of 1000-call batches"] = dict(bp)
    tk = benches.get("tick", {})
    if tk.get("agent_tick"):
        rows = []
        for k, label in (("agent_tick", "agent tick (qk_agent_tick)"), ("sim_step", "sim step (qk_plant_step + sense)")):
            t = tk[k]
            ins = t["instructions"]
            rows.append([label, "%.0f" % ins if ins >= 0 else t["instructions_error"], us(t["time"]["p50_ns"]),
                         us(t["time"]["p99_ns"]), us(t["time"]["max_ns"])])
            headline[k] = {"instructions": ins, "p50_us": t["time"]["p50_ns"] / 1e3, "p99_us": t["time"]["p99_ns"] / 1e3}
        sc = tk.get("sim_cycle")
        if sc:	# qiki-sim's whole loop cycle but its wait: instructions only
            ins = sc["instructions"]
            rows.append(["sim cycle (qiki-sim's loop, all but the wait)",
                         "%.0f" % ins if ins >= 0 else sc["instructions_error"], "", "", ""])
            headline["sim_cycle"] = {"instructions": ins}
        md.append("\nCost of one tick: instructions counted by callgrind (repeatable), time measured here.\n\n")
        md.append(table(["unit", "instructions / call", "p50 (us)", "p99 (us)", "max (us)"], rows))

    lg = benches.get("log", {})
    headline.update(log_headline(lg))

    md.append("\n## 1. Floor\n\ncyclictest (`-m -p%s -a%s -t1 -i<period>`, %s s each) just before and just after "
              "each rate's loop runs, and a cache-line ping-pong between the two CPUs. Latencies in us.\n\n"
              % (lp.get("priority", "?"), lp.get("cpu", "?"), lp.get("cyclictest_seconds", "?")))
    md.append(table(["measurement"] + STAT_HEAD, floor_rows))

    md.append("\n## 2. Ring\n\n")
    if rg.get("cost"):
        c = rg["cost"]
        md.append(table(["single thread", "ns"], [
            ["qiki ring publish", "%.1f" % c["qiki_publish_ns"]], ["qiki ring read_next", "%.1f" % c["qiki_read_next_ns"]],
            ["qiki ring read_newest", "%.1f" % c["qiki_read_newest_ns"]],
            ["qiki ring frames/s (publish only)", "%.3g" % c["qiki_frames_per_s"]],
            ["ck_ring enqueue (spsc, by value)", "%.1f" % c["ck_enqueue_ns"]],
            ["ck_ring dequeue (spsc, by value)", "%.1f" % c["ck_dequeue_ns"]]] +
            ([["median of 1000-call batches: qiki publish / read_next", "%.1f / %.1f" % (
                c["batch_p50"]["qiki_publish_ns"], c["batch_p50"]["qiki_read_next_ns"])],
              ["median of 1000-call batches: ck_ring enqueue / dequeue", "%.1f / %.1f" % (
                c["batch_p50"]["ck_enqueue_ns"], c["batch_p50"]["ck_dequeue_ns"])]] if c.get("batch_p50") else [])))
        ins = rg.get("instructions", {})
        if ins.get("publish", -1) >= 0:
            md.append("\nInstructions per call (callgrind, 256-byte frame): publish %.0f, read_next %.0f.\n"
                      % (ins["publish"], ins["read_next"]))
        md.append("\nOne-way handoff, %s, %s; spin transports %s round trips, kernel ones %s. Latencies in us.\n\n" % (
            "SCHED_FIFO %s" % rg["priority"] if rg.get("sched_fifo") else "NOT real-time",
            "mlockall" if rg.get("mlockall") else "no mlockall", rg.get("spin_rounds"), rg.get("syscall_rounds")))
        md.append(table(["transport"] + STAT_HEAD,
                        [[rg["handoff_label"].get(k, k)] + stat_cells(h) for k, h in ho.items()]))
        plots.hist("ring_handoff_hist.png", "one-way handoff CPU 0 -> CPU 1, %d-byte frames" % rg["frame_bytes"],
                   [(rg["handoff_label"].get(k, k), h) for k, h in ho.items()])
    else:
        md.append("ring: %s\n" % rg.get("error", "not run"))

    md.append("\n## 3. Loop\n\n`qiki run` at each rate and wake mode, %s s each, CPU %s, sim priority %s "
              "(agent one below). Wake-up latency = actual wake minus scheduled wake; in futex mode the "
              "agent's is measured from the sim's publish. Ratios are to cyclictest at the same rate in this run. "
              "Latencies in us; compute is p50 / p99 / max.\n\n" % (lp.get("seconds"), lp.get("cpu"), lp.get("priority")))
    md.append(table(["run", "process"] + STAT_HEAD[:6] + ["p99 / cyclictest", "max / cyclictest", "compute",
                                                          "overruns", "frames lost", "cycles", "SCHED_FIFO+mlockall"],
                    loop_rows))
    md.append("\nSensor-to-actuation (the sim's sensor publish to the agent's actuator publish), us. In timer mode "
              "the agent wakes on its own timer a phase after the sim, so the phase is in this figure.\n\n")
    md.append(table(["run"] + STAT_HEAD + ["actuator frames late", "sim frames lost", "agent frames lost",
                                          "timeline reader lost", "qiki"], s2a_rows))
    for s in lp.get("skipped", []):
        md.append("\nNot run: %s\n" % s)

    md.append("\n## 4. Tick cost\n\n")
    if tk.get("agent_tick"):
        md.append("%s lockstep cycles timed (%s), %s under callgrind; the agent ends %s.\n\n" % (
            tk["ticks"], "SCHED_FIFO" if tk["sched_fifo"] else "NOT real-time", tk["callgrind_ticks"], tk["final_state"]))
        md.append(table(["unit", "instructions"] + STAT_HEAD, [
            ["agent tick", "%.0f" % tk["agent_tick"]["instructions"]] + stat_cells(tk["agent_tick"]["time"]),
            ["sim step", "%.0f" % tk["sim_step"]["instructions"]] + stat_cells(tk["sim_step"]["time"])] +
            ([["sim cycle (all but the wait; %s and %s cycles at %s Hz, the difference)" % (
                tuple(tk["sim_cycle"]["cycles"]) + (tk["sim_cycle"]["rate_hz"],)),
               "%.0f" % tk["sim_cycle"]["instructions"]] + [""] * len(STAT_HEAD)]
             if tk.get("sim_cycle", {}).get("instructions", -1) >= 0 else [])))
        plots.hist("tick_hist.png", "time per call, lockstep",
                   [("agent tick", tk["agent_tick"]["time"]), ("sim step", tk["sim_step"]["time"])])
    else:
        md.append("tick: %s\n" % tk.get("error", "not run"))

    # anything else, generically
    for name, b in benches.items():
        if name in ("ring", "loop", "tick"):
            continue
        md.append("\n## %s\n\n" % name)
        hists, scalars = [], []

        unit = b.get("unit", "ns") if isinstance(b, dict) else "ns"

        def walk(prefix, v):
            if is_dist(v):
                hists.append((prefix, v))
            elif isinstance(v, dict):
                for k, x in v.items():
                    walk(prefix + "." + k if prefix else k, x)
            elif isinstance(v, (int, float, str, bool)) and len(scalars) < 80:
                scalars.append([prefix, json.dumps(v) if isinstance(v, bool) else v])
        try:
            walk("", b)
        except (TypeError, ValueError, KeyError) as e:
            md.append("(could not read: %s)\n" % e)
            continue
        if hists:
            md.append("Latencies in us.\n\n")
            md.append(table(["measurement"] + STAT_HEAD, [[k] + dist_cells(h, unit) for k, h in hists]) + "\n")
            plots.hist("%s_hist.png" % name, name, [(k, h) for k, h in hists if is_hist(h)])
        if scalars:
            md.append(table(["field", "value"], scalars))

    md.append("\n## Run\n\n" + table(["bench", "exit", "seconds"], [[n, s, "%.1f" % t] for n, s, t in runs]
                                       + [["all", max([s for _, s, _ in runs] or [0]), "%.1f" % sum(t for _, _, t in runs)]]))
    md.append("\nPlots: " + ", ".join("[%s](%s)" % (p, p) for p in plots.files) + "\n")
    if plots.errors:
        md.append("\nPlot errors: " + "; ".join(plots.errors) + "\n")
    md.append("\nHow to read this and how to run it on a PREEMPT_RT machine: bench/README.md.\n")

    rep = {"machine": m, "warnings": warn, "headline": headline, "runs": [
        {"bench": n, "exit": s, "seconds": t} for n, s, t in runs], "plots": plots.files, "benches": benches}
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(rep, f, indent=1)
    text = re.sub(r"^(#+ .*)\n(?!\n)", r"\1\n\n", "".join(md), flags=re.M)
    text = re.sub(r"([^\n])\n(#+ )", r"\1\n\n\2", text)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(text)
    # the headline to the terminal
    text = re.sub(r"^(#+ .*)\n(?!\n)", r"\1\n\n", "".join(md), flags=re.M)
    a = text.find("## Headline")
    b = text.find("## 1. Floor")
    print(text[a:b].strip())
    print("\nwarnings:\n" + "".join("  - %s\n" % x for x in warn))
    return 0


def log_headline(lg):
    """The logger's headline figures from log.json, this format or the one
    before it (per_call and timer only), so an older run compares too."""
    out = {}
    if not isinstance(lg, dict) or "per_call" not in lg or "timer" not in lg:
        return out
    net = lg.get("per_call_net", {}).get("qiki")
    if not net:
        q, t = lg["per_call"].get("qiki", {}), lg["timer"]
        net = {k: q[k] - t["p50"] for k in ("p50", "p999") if k in q}
    out["log call, net of timer"] = {"p50_ns": net.get("p50"), "p999_ns": net.get("p999")}
    grp = lg.get("per_call_group_p50_net", {}).get("qiki")
    if grp is not None:	# the p50 the clock's 10 ns steps cannot resolve
        out["log call, net of timer"]["group_p50_ns"] = grp
    dr = lg.get("drain")
    if dr:
        f = dr["fprintf"]["records_per_s"]
        out["log drain"] = {"binary_records_per_s": dr["qiki_binary"]["records_per_s"],
                            "text_records_per_s": dr["qiki_text"]["records_per_s"],
                            "fprintf_records_per_s": f,
                            "binary_over_fprintf": ratio(dr["qiki_binary"]["records_per_s"], f),
                            "text_over_fprintf": ratio(dr["qiki_text"]["records_per_s"], f)}
    su = lg.get("sustained")
    if su:
        out["log sustained %.0f M/s" % (su["rate"] / 1e6)] = {
            "binary_dropped": su["binary"]["dropped"], "text_dropped": su["text"]["dropped"]}
    return out


# metrics where more is better: their ratio is read the other way round
MORE_IS_BETTER = re.compile(r"records_per_s|over_|frames_per_s")


def compare(out, base):
    """Prints each headline figure of run OUT beside baseline BASE's, with
    now / baseline; says which way is better.  A figure only one run has is
    shown with a dash."""
    def load(d):
        try:
            with open(os.path.join(d, "report.json")) as f:
                r = json.load(f)
        except (OSError, ValueError) as e:
            sys.stderr.write("report.py compare: %s has no readable report.json (%s); pass "
                             "BASELINE=build/bench/<timestamp> of a finished make bench\n" % (d, e))
            return None
        h = r.get("headline", {})
        for k, v in log_headline(r.get("benches", {}).get("log", {})).items():
            h.setdefault(k, v)	# a run from before the log headline
        return h
    now, old = load(out), load(base)
    if now is None or old is None:
        return 1
    rows = []
    for key in list(now) + [k for k in old if k not in now]:
        a, b = now.get(key) or {}, old.get(key) or {}
        for m in list(a) + [m for m in b if m not in a]:
            x, y = a.get(m), b.get(m)
            if not isinstance(x, (int, float, type(None))) or not isinstance(y, (int, float, type(None))):
                continue
            r = ratio(x, y) if x is not None and y is not None and y else None
            better = "more is better" if MORE_IS_BETTER.search(m) else "less is better"
            rows.append([key, m, "-" if y is None else "%.4g" % y, "-" if x is None else "%.4g" % x,
                         "-" if r is None else "%.3fx" % r, better])
    print("headline: %s against the baseline %s (now / baseline)\n" % (out, base))
    print(table(["figure", "metric", "baseline", "now", "ratio", ""], rows))
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "machine":
        m = machine(os.environ.get("BENCH_RT", "1") == "1")
        m["quick"] = os.environ.get("BENCH_QUICK", "0") == "1"
        with open(os.path.join(argv[2], "machine.json"), "w") as f:
            json.dump(m, f, indent=1)
        return 0
    if len(argv) >= 3 and argv[1] == "report":
        return report(argv[2])
    if len(argv) >= 4 and argv[1] == "compare":
        return compare(argv[2], argv[3])
    sys.stderr.write("usage: report.py machine|report OUTDIR | compare OUTDIR BASELINE\n")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
