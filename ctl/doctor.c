/* ctl/doctor.c - `qiki doctor`; see ctl/doctor.h. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ctl/doctor.h"
#include "ctl/json.h"
#include "rt/rt.h"

/* capability bits (linux/capability.h) */
#define CAP_IPC_LOCK_BIT 14
#define CAP_SYS_ADMIN_BIT 21
#define CAP_SYS_NICE_BIT 23
#define CAP_PERFMON_BIT 38
#define CAP_BPF_BIT 39

#define LOOP_PRIO 80			/* qiki run's default SCHED_FIFO priority */
#define MEMLOCK_NEED (64ull << 20)	/* the loop's locked memory, with room */
#define SHM_WARN (64ull << 20)
#define SHM_FAIL (8ull << 20)
#define DEEP_CSTATE_US 10		/* exit latency that costs a 1 kHz loop */

/* Reads the file root+path into buf (NUL-terminated, trailing newline cut).
 * false when it cannot be read. */
static bool readf(const struct qk_doctor *d, const char *path, char *buf, size_t n)
{
	char p[2048];
	FILE *f;
	size_t got;

	snprintf(p, sizeof(p), "%s%s", d->root, path);
	f = fopen(p, "re");
	if (!f)
		return false;
	got = fread(buf, 1, n - 1, f);
	fclose(f);
	buf[got] = 0;
	while (got && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		buf[--got] = 0;
	return true;
}

static bool exists(const struct qk_doctor *d, const char *path, int mode)
{
	char p[2048];

	snprintf(p, sizeof(p), "%s%s", d->root, path);
	return access(p, mode) == 0;
}

/* Is `cpu` in a CPU list such as "1,3-5"?  Leading flags of isolcpus=
 * ("managed_irq,domain,2-3") are skipped. */
static bool cpulist_has(const char *list, int cpu)
{
	const char *s = list;

	while (*s) {
		char *end;
		long a, b;

		if (*s < '0' || *s > '9') {	/* a flag word, or junk: skip it */
			s += strcspn(s, ",");
			s += *s == ',';
			continue;
		}
		a = strtol(s, &end, 10);
		b = a;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		if (cpu >= a && cpu <= b)
			return true;
		s = end + strcspn(end, ",");
		s += *s == ',';
	}
	return false;
}

/* The value of `key=` on the kernel command line, or NULL. */
static const char *cmdline_arg(const char *cmdline, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);

	for (const char *s = cmdline; s && *s; s += strcspn(s, " ")) {
		s += strspn(s, " ");
		if (!strncmp(s, key, kl) && s[kl] == '=') {
			size_t l = strcspn(s + kl + 1, " ");

			snprintf(out, n, "%.*s", (int)l, s + kl + 1);
			return out;
		}
	}
	return NULL;
}

/* A hex capability set from /proc/self/status; 0 when absent. */
static uint64_t cap_eff(const struct qk_doctor *d)
{
	char buf[4096], *p;

	if (!readf(d, "/proc/self/status", buf, sizeof(buf)) || !(p = strstr(buf, "CapEff:")))
		return 0;
	return strtoull(p + 7, NULL, 16);
}

static bool has_cap(uint64_t caps, int bit)
{
	return caps >> bit & 1;
}

/* The soft limit of a /proc/self/limits row: UINT64_MAX for unlimited,
 * false when the row is missing. */
static bool limit_of(const struct qk_doctor *d, const char *row, uint64_t *v)
{
	char buf[4096], *p;

	if (!readf(d, "/proc/self/limits", buf, sizeof(buf)) || !(p = strstr(buf, row)))
		return false;
	p += strlen(row);
	p += strspn(p, " ");
	*v = !strncmp(p, "unlimited", 9) ? UINT64_MAX : strtoull(p, NULL, 10);
	return true;
}

static void fmt_bytes(uint64_t v, char *out, size_t n)
{
	if (v == UINT64_MAX)
		snprintf(out, n, "unlimited");
	else if (v >= 1ull << 30)
		snprintf(out, n, "%.1f GiB", (double)v / (1ull << 30));
	else if (v >= 1ull << 20)
		snprintf(out, n, "%.1f MiB", (double)v / (1ull << 20));
	else
		snprintf(out, n, "%llu KiB", (unsigned long long)(v >> 10));
}

static void __attribute__((format(printf, 4, 5)))
add(struct qk_doctor *d, const char *name, enum qk_doctor_status st, const char *ev, ...)
{
	struct qk_doctor_check *c;
	va_list ap;

	if (d->n == QK_DOCTOR_MAX)
		return;
	c = &d->c[d->n++];
	c->name = name;
	c->status = st;
	c->fix[0] = 0;
	va_start(ap, ev);
	vsnprintf(c->evidence, sizeof(c->evidence), ev, ap);
	va_end(ap);
	d->n_warn += st == QK_DOCTOR_WARN;
	d->n_fail += st == QK_DOCTOR_FAIL;
}

/* The fix of the check added last. */
static void __attribute__((format(printf, 2, 3))) fix(struct qk_doctor *d, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(d->c[d->n - 1].fix, sizeof(d->c[0].fix), f, ap);
	va_end(ap);
}

static void check_preemption(struct qk_doctor *d)
{
	char ver[256] = "", rt[16] = "", dyn[128] = "";
	const char *model;

	readf(d, "/proc/sys/kernel/version", ver, sizeof(ver));
	readf(d, "/sys/kernel/realtime", rt, sizeof(rt));
	if (strstr(ver, "PREEMPT_RT") || !strcmp(rt, "1")) {
		add(d, "preemption", QK_DOCTOR_OK, "PREEMPT_RT (uname -v: %s)", ver);
		return;
	}
	if (strstr(ver, "PREEMPT_DYNAMIC")) {
		/* the mode in force is the parenthesised one, when debugfs shows it */
		char *open = readf(d, "/sys/kernel/debug/sched/preempt", dyn, sizeof(dyn)) ?
			     strchr(dyn, '(') : NULL;
		char *close = open ? strchr(open, ')') : NULL;

		if (close)
			*close = 0;
		model = open ? open + 1 : "mode unknown";
		add(d, "preemption", QK_DOCTOR_WARN, "PREEMPT_DYNAMIC (%s), not PREEMPT_RT (uname -v: %s): "
		    "IRQ handlers and spinlock sections are not preemptible", model, ver);
	} else if (strstr(ver, "PREEMPT")) {
		add(d, "preemption", QK_DOCTOR_WARN, "PREEMPT, not PREEMPT_RT (uname -v: %s)", ver);
	} else {
		add(d, "preemption", QK_DOCTOR_WARN, "no kernel preemption (uname -v: %s): a system "
		    "call of another task can hold the CPU for milliseconds", ver[0] ? ver : "unreadable");
	}
	fix(d, "boot a PREEMPT_RT kernel (Debian: apt install linux-image-rt-amd64; "
	    "mainline 6.12+: CONFIG_PREEMPT_RT=y); see docs/preempt-rt.md");
}

static void check_isolation(struct qk_doctor *d)
{
	static const char *const keys[] = { "isolcpus", "nohz_full", "rcu_nocbs" };
	char cmd[4096] = "", v[256], have[128] = "", miss[128] = "";

	readf(d, "/proc/cmdline", cmd, sizeof(cmd));
	for (int i = 0; i < 3; i++) {
		bool in = cmdline_arg(cmd, keys[i], v, sizeof(v)) && cpulist_has(v, d->cpu);

		/* the kernel's own view, where it exports one */
		if (!in && i == 0 && readf(d, "/sys/devices/system/cpu/isolated", v, sizeof(v)))
			in = cpulist_has(v, d->cpu);
		if (!in && i == 1 && readf(d, "/sys/devices/system/cpu/nohz_full", v, sizeof(v)))
			in = cpulist_has(v, d->cpu);
		char *to = in ? have : miss;

		snprintf(to + strlen(to), sizeof(have) - strlen(to), "%s%s", *to ? " " : "", keys[i]);
	}
	if (!miss[0]) {
		add(d, "isolation", QK_DOCTOR_OK, "CPU %d is in isolcpus, nohz_full and rcu_nocbs", d->cpu);
		return;
	}
	add(d, "isolation", QK_DOCTOR_WARN, "CPU %d is not in %s%s%s (/proc/cmdline): other tasks, "
	    "the tick or RCU callbacks run there", d->cpu, miss, have[0] ? "; it is in " : "", have);
	fix(d, "boot with isolcpus=managed_irq,domain,%d nohz_full=%d rcu_nocbs=%d and run the loop "
	    "there (qiki run --cpu %d)", d->cpu, d->cpu, d->cpu, d->cpu);
}

static void check_irq_affinity(struct qk_doctor *d)
{
	char p[2048], v[256], list[200] = "";
	struct dirent *e;
	int n = 0, on = 0;
	DIR *dir;

	snprintf(p, sizeof(p), "%s/proc/irq", d->root);
	dir = opendir(p);
	if (!dir) {
		add(d, "irq-affinity", QK_DOCTOR_WARN, "cannot read /proc/irq (%s)", strerror(errno));
		fix(d, "run qiki doctor as root to see the IRQs");
		return;
	}
	while ((e = readdir(dir))) {
		char f[300];

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		n++;
		/* where it runs (effective), else where it may run */
		snprintf(f, sizeof(f), "/proc/irq/%s/effective_affinity_list", e->d_name);
		if (!readf(d, f, v, sizeof(v)) || !v[0]) {
			snprintf(f, sizeof(f), "/proc/irq/%s/smp_affinity_list", e->d_name);
			if (!readf(d, f, v, sizeof(v)))
				continue;
		}
		if (cpulist_has(v, d->cpu)) {
			if (on++ < 12)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%.12s",
					 on > 1 ? "," : "", e->d_name);
		}
	}
	closedir(dir);
	if (!on) {
		add(d, "irq-affinity", QK_DOCTOR_OK, "none of %d IRQs is routed to CPU %d", n, d->cpu);
		return;
	}
	add(d, "irq-affinity", QK_DOCTOR_WARN, "%d of %d IRQs may run on CPU %d (IRQ %s%s)", on, n,
	    d->cpu, list, on > 12 ? ",..." : "");
	fix(d, "route them away: for each, echo <other CPUs> > /proc/irq/N/smp_affinity_list (or boot "
	    "with irqaffinity=<other CPUs>; managed queues follow isolcpus=managed_irq); stop irqbalance "
	    "or ban CPU %d in it", d->cpu);
}

static void check_clocksource(struct qk_doctor *d)
{
	char cs[64], avail[256] = "";
	int r = qk_rt_clocksource(d->root, cs, sizeof(cs));

	readf(d, "/sys/devices/system/clocksource/clocksource0/available_clocksource", avail,
	      sizeof(avail));
	if (r == 1) {
		add(d, "clocksource", QK_DOCTOR_OK, "%s: the vDSO reads it (clock_gettime is no syscall)", cs);
	} else if (r == 0) {
		add(d, "clocksource", QK_DOCTOR_WARN, "%s: the vDSO cannot read it: every clock_gettime "
		    "of the loop is a syscall (available: %s)", cs, avail[0] ? avail : "?");
		fix(d, QK_RT_CLOCK_FIX);
	} else if (r == -EPROTO) {
		add(d, "clocksource", QK_DOCTOR_WARN, "%s: not known to qiki; the vDSO may not read it "
		    "(available: %s)", cs, avail);
		fix(d, "check with strace -e clock_gettime that the loop makes no clock syscall");
	} else {
		add(d, "clocksource", QK_DOCTOR_WARN, "cannot read /sys/devices/system/clocksource/"
		    "clocksource0/current_clocksource");
		fix(d, "mount sysfs on /sys");
	}
}

static void check_cpufreq(struct qk_doctor *d)
{
	char f[256], gov[64];

	snprintf(f, sizeof(f), "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_governor", d->cpu);
	if (!readf(d, f, gov, sizeof(gov))) {
		add(d, "cpufreq", QK_DOCTOR_OK, "no cpufreq on CPU %d: the kernel does not scale its "
		    "frequency (fixed, firmware-controlled or virtual)", d->cpu);
	} else if (!strcmp(gov, "performance")) {
		add(d, "cpufreq", QK_DOCTOR_OK, "governor performance on CPU %d", d->cpu);
	} else {
		add(d, "cpufreq", QK_DOCTOR_WARN, "governor %s on CPU %d: the clock ramps up only after "
		    "load is seen, so wake-up and compute times vary", gov, d->cpu);
		fix(d, "cpupower frequency-set -g performance (or echo performance > %s)", f);
	}
}

static void check_smt(struct qk_doctor *d)
{
	char f[256], sib[128];

	snprintf(f, sizeof(f), "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", d->cpu);
	if (!readf(d, f, sib, sizeof(sib))) {
		add(d, "smt", QK_DOCTOR_OK, "no topology for CPU %d (no SMT seen)", d->cpu);
		return;
	}
	char one[16];

	snprintf(one, sizeof(one), "%d", d->cpu);
	if (!strcmp(sib, one)) {
		add(d, "smt", QK_DOCTOR_OK, "CPU %d has no SMT sibling", d->cpu);
		return;
	}
	add(d, "smt", QK_DOCTOR_WARN, "CPU %d shares its core with CPUs %s: work there slows the loop",
	    d->cpu, sib);
	fix(d, "isolate the siblings too and keep them idle (isolcpus=%s), or boot with nosmt", sib);
}

static void check_cstates(struct qk_doctor *d)
{
	char f[256], v[64], deep[64] = "";
	bool dma = exists(d, "/dev/cpu_dma_latency", W_OK);
	long worst = -1;
	int n = 0;

	for (int i = 0; i < 16; i++) {
		long lat;

		snprintf(f, sizeof(f), "/sys/devices/system/cpu/cpu%d/cpuidle/state%d/latency", d->cpu, i);
		if (!readf(d, f, v, sizeof(v)))
			break;
		n++;
		lat = atol(v);
		snprintf(f, sizeof(f), "/sys/devices/system/cpu/cpu%d/cpuidle/state%d/disable", d->cpu, i);
		if (readf(d, f, v, sizeof(v)) && atoi(v))
			continue;
		if (lat > worst) {
			worst = lat;
			snprintf(f, sizeof(f), "/sys/devices/system/cpu/cpu%d/cpuidle/state%d/name", d->cpu, i);
			if (!readf(d, f, deep, sizeof(deep)))
				snprintf(deep, sizeof(deep), "state%d", i);
		}
	}
	if (worst <= DEEP_CSTATE_US) {
		add(d, "cstates", QK_DOCTOR_OK, "%s; /dev/cpu_dma_latency %s",
		    n ? "no idle state deeper than 10 us enabled" : "no cpuidle states",
		    dma ? "writable (qiki holds it at 0)" : "not writable");
	} else if (dma) {
		add(d, "cstates", QK_DOCTOR_OK, "idle states up to %s (exit %ld us) enabled; qiki holds "
		    "/dev/cpu_dma_latency at 0 while it runs, which keeps the CPU out of them", deep, worst);
	} else {
		add(d, "cstates", QK_DOCTOR_WARN, "idle states up to %s (exit %ld us) enabled and "
		    "/dev/cpu_dma_latency not writable: each wake-up may pay that exit", deep, worst);
		fix(d, "run qiki as root (it holds /dev/cpu_dma_latency at 0), or boot with "
		    "processor.max_cstate=1 intel_idle.max_cstate=1");
	}
}

static void check_rt_throttling(struct qk_doctor *d)
{
	char rt[32], per[32];

	if (!readf(d, "/proc/sys/kernel/sched_rt_runtime_us", rt, sizeof(rt))) {
		add(d, "rt-throttling", QK_DOCTOR_WARN, "cannot read /proc/sys/kernel/sched_rt_runtime_us");
		fix(d, "mount procfs on /proc");
		return;
	}
	if (!readf(d, "/proc/sys/kernel/sched_rt_period_us", per, sizeof(per)))
		snprintf(per, sizeof(per), "1000000");
	if (atol(rt) < 0) {
		add(d, "rt-throttling", QK_DOCTOR_OK, "off (sched_rt_runtime_us -1)");
	} else if ((double)atol(rt) >= 0.95 * (double)atol(per)) {
		add(d, "rt-throttling", QK_DOCTOR_OK, "real-time tasks may use %s of every %s us: a safety "
		    "net that only a spinning loop (--wake spin) can reach", rt, per);
	} else {
		add(d, "rt-throttling", QK_DOCTOR_WARN, "real-time tasks may use only %s of every %s us",
		    rt, per);
		fix(d, "sysctl kernel.sched_rt_runtime_us=950000 (the default), or -1 on a box whose "
		    "real-time tasks cannot run away");
	}
}

static void check_thp(struct qk_doctor *d)
{
	char v[128], *open, *close;

	if (!readf(d, "/sys/kernel/mm/transparent_hugepage/enabled", v, sizeof(v))) {
		add(d, "thp", QK_DOCTOR_OK, "no transparent huge pages");
		return;
	}
	open = strchr(v, '[');
	close = open ? strchr(open, ']') : NULL;
	if (close)
		*close = 0;
	if (open && !strcmp(open + 1, "always")) {
		add(d, "thp", QK_DOCTOR_WARN, "transparent huge pages: always: page faults may compact "
		    "memory and khugepaged collapses pages under running tasks");
		fix(d, "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled (or boot with "
		    "transparent_hugepage=madvise)");
	} else {
		add(d, "thp", QK_DOCTOR_OK, "transparent huge pages: %s", open ? open + 1 : v);
	}
}

static void check_swap(struct qk_doctor *d)
{
	char v[4096];
	int n = 0;

	if (!readf(d, "/proc/swaps", v, sizeof(v))) {
		add(d, "swap", QK_DOCTOR_WARN, "cannot read /proc/swaps");
		return;
	}
	for (char *s = strchr(v, '\n'); s; s = strchr(s + 1, '\n'))
		n += s[1] != 0;
	if (!n) {
		add(d, "swap", QK_DOCTOR_OK, "no swap");
		return;
	}
	add(d, "swap", QK_DOCTOR_WARN, "%d swap area%s: the loop is locked in memory, but the tools "
	    "beside it (qikictl, the exporter) can stall on swap-in", n, n > 1 ? "s" : "");
	fix(d, "swapoff -a on a real-time box (and remove it from /etc/fstab)");
}

static void check_limits(struct qk_doctor *d, uint64_t caps)
{
	char a[32];
	uint64_t v = 0;
	bool have = limit_of(d, "Max locked memory", &v);

	fmt_bytes(v, a, sizeof(a));
	if (has_cap(caps, CAP_IPC_LOCK_BIT))
		add(d, "memlock", QK_DOCTOR_OK, "CAP_IPC_LOCK held (RLIMIT_MEMLOCK %s does not apply)",
		    have ? a : "?");
	else if (have && v >= MEMLOCK_NEED)
		add(d, "memlock", QK_DOCTOR_OK, "RLIMIT_MEMLOCK %s", a);
	else {
		add(d, "memlock", QK_DOCTOR_FAIL, "RLIMIT_MEMLOCK %s and no CAP_IPC_LOCK: mlockall of the "
		    "loop fails (qiki run exits 3) unless qiki-sim and qiki-agent carry file capabilities",
		    have ? a : "unreadable");
		fix(d, "run as root, or setcap cap_sys_nice,cap_ipc_lock+ep build/bin/qiki-sim "
		    "build/bin/qiki-agent, or 'memlock unlimited' for your user in "
		    "/etc/security/limits.conf");
	}
	have = limit_of(d, "Max realtime priority", &v);
	if (has_cap(caps, CAP_SYS_NICE_BIT))
		add(d, "rtprio", QK_DOCTOR_OK, "CAP_SYS_NICE held (RLIMIT_RTPRIO %s does not apply)",
		    !have ? "?" : v == UINT64_MAX ? "unlimited" : (snprintf(a, sizeof(a), "%llu",
		    (unsigned long long)v), a));
	else if (have && v >= LOOP_PRIO)
		add(d, "rtprio", QK_DOCTOR_OK, "RLIMIT_RTPRIO %llu (the loop asks for %d)",
		    (unsigned long long)v, LOOP_PRIO);
	else {
		add(d, "rtprio", QK_DOCTOR_FAIL, "RLIMIT_RTPRIO %llu and no CAP_SYS_NICE: SCHED_FIFO "
		    "priority %d is refused (qiki run exits 3)", have ? (unsigned long long)v : 0ull,
		    LOOP_PRIO);
		fix(d, "run as root, or setcap cap_sys_nice,cap_ipc_lock+ep on the loop binaries, or "
		    "'rtprio 99' for your user in /etc/security/limits.conf");
	}
	if (has_cap(caps, CAP_SYS_NICE_BIT)) {
		add(d, "cap-sys-nice", QK_DOCTOR_OK, "held (CapEff %llx)", (unsigned long long)caps);
	} else {
		add(d, "cap-sys-nice", QK_DOCTOR_WARN, "not held (CapEff %llx): SCHED_FIFO only up to "
		    "RLIMIT_RTPRIO, and no SCHED_FIFO for a user whose limit is 0", (unsigned long long)caps);
		fix(d, "sudo setcap cap_sys_nice,cap_ipc_lock+ep build/bin/qiki-sim build/bin/qiki-agent");
	}
}

static void check_timer_slack(struct qk_doctor *d)
{
	char v[32];
	long ns = -1;

	if (readf(d, "/proc/self/timerslack_ns", v, sizeof(v)))
		ns = atol(v);
	else if (!d->root[0])
		ns = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (ns < 0) {
		add(d, "timer-slack", QK_DOCTOR_WARN, "cannot read the timer slack");
	} else if (ns <= 50000) {
		add(d, "timer-slack", QK_DOCTOR_OK, "%ld ns; SCHED_FIFO threads get none, it applies to "
		    "--no-rt runs only", ns);
	} else {
		add(d, "timer-slack", QK_DOCTOR_WARN, "%ld ns (raised: a service manager's TimerSlackNSec?): "
		    "--no-rt runs and the tools beside the loop wake that late", ns);
		fix(d, "start qiki from a shell with the default slack (50000 ns), or unset TimerSlackNSec");
	}
}

static void check_shm(struct qk_doctor *d)
{
	char p[2048], a[32];
	struct statvfs sv;
	uint64_t free_b;

	snprintf(p, sizeof(p), "%s/dev/shm", d->root);
	if (statvfs(p, &sv) < 0) {
		add(d, "dev-shm", QK_DOCTOR_FAIL, "no /dev/shm (%s): qiki's segments live there",
		    strerror(errno));
		fix(d, "mount -t tmpfs -o mode=1777 tmpfs /dev/shm");
		return;
	}
	free_b = (uint64_t)sv.f_bavail * sv.f_frsize;
	fmt_bytes(free_b, a, sizeof(a));
	if (free_b < SHM_FAIL) {
		add(d, "dev-shm", QK_DOCTOR_FAIL, "/dev/shm has %s free: too little for a segment", a);
		fix(d, "mount -o remount,size=256m /dev/shm");
	} else if (free_b < SHM_WARN) {
		add(d, "dev-shm", QK_DOCTOR_WARN, "/dev/shm has %s free: room for few instances", a);
		fix(d, "mount -o remount,size=256m /dev/shm");
	} else {
		add(d, "dev-shm", QK_DOCTOR_OK, "/dev/shm has %s free", a);
	}
}

static void check_bpf(struct qk_doctor *d, uint64_t caps)
{
	bool priv = has_cap(caps, CAP_SYS_ADMIN_BIT) ||
		    (has_cap(caps, CAP_BPF_BIT) && has_cap(caps, CAP_PERFMON_BIT));
	bool btf = exists(d, "/sys/kernel/btf/vmlinux", R_OK);
	bool tracefs = exists(d, "/sys/kernel/tracing/trace", F_OK) ||
		       exists(d, "/sys/kernel/debug/tracing/trace", F_OK);

	if (priv && btf) {
		add(d, "bpf", QK_DOCTOR_OK, "CAP_BPF+CAP_PERFMON (or CAP_SYS_ADMIN) held, kernel BTF "
		    "present, tracefs %s: qiki-rtlat and rtla can trace", tracefs ? "mounted" : "not mounted");
		if (!tracefs)
			fix(d, "mount -t tracefs tracefs /sys/kernel/tracing for rtla");
		return;
	}
	add(d, "bpf", QK_DOCTOR_WARN, "%s%s%s: qiki-rtlat cannot trace the loop's wake-ups",
	    priv ? "" : "no CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN", priv || btf ? "" : "; ",
	    btf ? "" : "no /sys/kernel/btf/vmlinux (kernel built without BTF)");
	fix(d, "%s", !priv ? "run the tracer as root (or with cap_bpf,cap_perfmon+ep)" :
	    "boot a kernel with CONFIG_DEBUG_INFO_BTF=y");
}

static void check_virt(struct qk_doctor *d)
{
	static char info[1 << 16];	/* a few CPUs' worth of /proc/cpuinfo */
	char vendor[64] = "", product[64] = "";
	char *flags;

	readf(d, "/sys/class/dmi/id/sys_vendor", vendor, sizeof(vendor));
	readf(d, "/sys/class/dmi/id/product_name", product, sizeof(product));
	if (!readf(d, "/proc/cpuinfo", info, sizeof(info))) {
		add(d, "virtualisation", QK_DOCTOR_WARN, "cannot read /proc/cpuinfo");
		return;
	}
	flags = strstr(info, "\nflags");
	if (flags && strstr(flags, " hypervisor")) {
		add(d, "virtualisation", QK_DOCTOR_WARN, "a virtual machine (cpuinfo flag hypervisor; "
		    "DMI %s%s%s): the hypervisor can stop a virtual CPU at any time, so latency "
		    "figures are the host's and the hypervisor's", vendor[0] ? vendor : "?",
		    product[0] ? " " : "", product);
		fix(d, "measure on bare metal, or give the VM dedicated, isolated host CPUs and a "
		    "real-time host");
	} else {
		add(d, "virtualisation", QK_DOCTOR_OK, "bare metal (no hypervisor flag; DMI %s%s%s)",
		    vendor[0] ? vendor : "?", product[0] ? " " : "", product);
	}
}

/* The last CPU of /sys/devices/system/cpu/online ("0-3" -> 3). */
static int last_cpu(const struct qk_doctor *d)
{
	char v[256], *s;

	if (!readf(d, "/sys/devices/system/cpu/online", v, sizeof(v)) || !v[0])
		return 0;
	s = v + strlen(v);
	while (s > v && s[-1] >= '0' && s[-1] <= '9')
		s--;
	return atoi(s);
}

int qk_doctor_run(struct qk_doctor *d, const char *root, int cpu)
{
	uint64_t caps;

	memset(d, 0, sizeof(*d));
	snprintf(d->root, sizeof(d->root), "%s", root && strcmp(root, "/") ? root : "");
	d->cpu = cpu >= 0 ? cpu : last_cpu(d);
	readf(d, "/proc/sys/kernel/osrelease", d->kernel, sizeof(d->kernel));
	caps = cap_eff(d);
	check_preemption(d);
	check_isolation(d);
	check_irq_affinity(d);
	check_clocksource(d);
	check_cpufreq(d);
	check_smt(d);
	check_cstates(d);
	check_rt_throttling(d);
	check_thp(d);
	check_swap(d);
	check_limits(d, caps);
	check_timer_slack(d);
	check_shm(d);
	check_bpf(d, caps);
	check_virt(d);
	return d->n_fail;
}

const struct qk_doctor_check *qk_doctor_find(const struct qk_doctor *d, const char *name)
{
	for (int i = 0; i < d->n; i++)
		if (!strcmp(d->c[i].name, name))
			return &d->c[i];
	return NULL;
}

const char *qk_doctor_status_name(enum qk_doctor_status s)
{
	return s == QK_DOCTOR_OK ? "OK" : s == QK_DOCTOR_WARN ? "WARN" : "FAIL";
}

void qk_doctor_print(const struct qk_doctor *d, FILE *f)
{
	fprintf(f, "qiki doctor: kernel %s, the loop's CPU %d%s%s\n", d->kernel[0] ? d->kernel : "?",
		d->cpu, d->root[0] ? ", root " : "", d->root);
	for (int i = 0; i < d->n; i++) {
		const struct qk_doctor_check *c = &d->c[i];

		fprintf(f, "%-4s %-14s %s%s%s\n", qk_doctor_status_name(c->status), c->name, c->evidence,
			c->fix[0] ? "; fix: " : "", c->fix);
	}
	fprintf(f, "%d OK, %d WARN, %d FAIL\n", d->n - d->n_warn - d->n_fail, d->n_warn, d->n_fail);
}

void qk_doctor_print_json(const struct qk_doctor *d, FILE *f)
{
	struct qk_json j;

	qk_json_begin(&j, f);
	qk_json_str(&j, "kernel", d->kernel);
	qk_json_i64(&j, "cpu", d->cpu);
	qk_json_str(&j, "root", d->root[0] ? d->root : "/");
	qk_json_i64(&j, "ok", d->n - d->n_warn - d->n_fail);
	qk_json_i64(&j, "warn", d->n_warn);
	qk_json_i64(&j, "fail", d->n_fail);
	qk_json_arr(&j, "checks");
	for (int i = 0; i < d->n; i++) {
		qk_json_obj(&j, NULL);
		qk_json_str(&j, "check", d->c[i].name);
		qk_json_str(&j, "status", qk_doctor_status_name(d->c[i].status));
		qk_json_str(&j, "evidence", d->c[i].evidence);
		qk_json_str(&j, "fix", d->c[i].fix);
		qk_json_close(&j);
	}
	qk_json_close(&j);
	qk_json_end(&j);
}

int qk_doctor_digest(const struct qk_doctor *d, char *buf, size_t n)
{
	size_t len = 0;

	if (!d->n_warn && !d->n_fail)
		return snprintf(buf, n, "all %d checks OK", d->n);
	for (int s = QK_DOCTOR_WARN; s <= QK_DOCTOR_FAIL; s++) {
		int k = 0;

		len += (size_t)snprintf(buf + (len < n ? len : n), len < n ? n - len : 0, "%s%d %s",
					s == QK_DOCTOR_FAIL ? ", " : "",
					s == QK_DOCTOR_FAIL ? d->n_fail : d->n_warn,
					qk_doctor_status_name((enum qk_doctor_status)s));
		for (int i = 0; i < d->n; i++) {
			if ((int)d->c[i].status != s)
				continue;
			len += (size_t)snprintf(buf + (len < n ? len : n), len < n ? n - len : 0, "%s%s",
						k++ ? ", " : " (", d->c[i].name);
		}
		if (k)
			len += (size_t)snprintf(buf + (len < n ? len : n), len < n ? n - len : 0, ")");
	}
	return (int)len;
}

int qk_doctor_cmd(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct qk_doctor d;
	const char *root = qk_rt_sysroot();
	bool json = false;
	int cpu = -1, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jc:r:h", lo, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'r': root = optarg; break;
		case 'c': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 0 || v > 4095) {
				fprintf(stderr, "qiki doctor: --cpu '%s': expected a CPU number\n", optarg);
				return 1;
			}
			cpu = (int)v;
			break;
		}
		case 'h':
			printf("usage: qiki doctor [--json] [--cpu N] [--root DIR]\n"
			       "Checks what this machine lacks for real time, one line per check:\n"
			       "OK, WARN or FAIL, the evidence and the fix.\n\n"
			       "      --json      one JSON object (checks[]: check, status, evidence, fix)\n"
			       "      --cpu N     the loop's CPU (default: the last one, as qiki run)\n"
			       "      --root DIR  read /proc, /sys and /dev under DIR (default $QIKI_SYSROOT, "
			       "else /)\n\n"
			       "Exit status: 0 no FAIL; 1 usage; 2 at least one check FAILed.\n");
			return 0;
		default:
			fprintf(stderr, "qiki doctor: see qiki doctor --help\n");
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "qiki doctor: unexpected argument '%s' (see qiki doctor --help)\n",
			argv[optind]);
		return 1;
	}
	qk_doctor_run(&d, root, cpu);
	if (json)
		qk_doctor_print_json(&d, stdout);
	else
		qk_doctor_print(&d, stdout);
	return d.n_fail ? 2 : 0;
}
