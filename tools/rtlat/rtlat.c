/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * qiki-rtlat: why was the loop late?  Traces the wake-up-to-run latency of
 * a running instance's real-time threads with eBPF and names what held their
 * CPU: other threads (with their policy and priority), IRQs, softirqs.
 *
 * It finds the threads itself, from the segment's process slots (the sim and
 * the agent), attaches like qikictl does (it only reads), and moves itself
 * off the loop's CPUs before it loads anything.
 *
 * Exit codes: 0 done; 1 usage or an output file problem; 2 no such instance,
 * or no loop process running in it; 3 a privilege is missing; 4 eBPF cannot
 * run here (no BTF, or the kernel refused the programs).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <linux/capability.h>
#include <linux/types.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "rt/cli.h"
#include "rt/proc.h"
#include "shm/seg.h"
#include "tools/rtlat/report.h"
#include "tools/rtlat/rtlat.h"
#include "rtlat.skel.h"

#define PROG "qiki-rtlat"

enum { EX_OK, EX_USAGE, EX_INSTANCE, EX_PRIV, EX_BPF };

struct opts {
	const char *instance, *output;
	double duration;		/* 0: until SIGINT or the loop ends */
	uint64_t threshold_us;		/* 0: no chains printed */
	bool json, stop, quiet;
	double wait_s;			/* for the loop's threads to appear */
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-i NAME] [options]\n"
		"Traces the wake-up-to-run latency of a running qiki instance's real-time\n"
		"threads (eBPF) and names what held their CPU: threads, IRQs, softirqs.\n\n"
		"  -i, --instance NAME    the instance (default: default)\n"
		"  -d, --duration S       stop after S seconds (default: until SIGINT/SIGTERM\n"
		"                         or the loop ends)\n"
		"  -t, --threshold-us N   print the causal chain of each wake-up over N us\n"
		"                         (without it, a wake-up over half the period is late)\n"
		"      --stop             stop at the first late wake-up (with -t)\n"
		"  -o, --output FILE      write the chains and the summary to FILE\n"
		"      --json             one JSON object per line: chains, then the summary\n"
		"  -q, --quiet            no summary at the end\n"
		"      --wait S           wait up to S s for the loop's threads (default 5)\n"
		"  -h, --help, --version\n\n"
		"Needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) and a kernel with BTF.\n"
		"Exit status: 0 done; 1 usage or output file; 2 no such instance or no loop\n"
		"running in it; 3 a capability is missing; 4 eBPF cannot run on this kernel.\n");
}

static int parse(int argc, char **argv, struct opts *o)
{
	enum { O_JSON = 256, O_STOP, O_WAIT, O_VERSION };
	static const struct option lo[] = {
		{ "instance", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "threshold-us", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, O_JSON },
		{ "stop", no_argument, NULL, O_STOP },
		{ "quiet", no_argument, NULL, 'q' },
		{ "wait", required_argument, NULL, O_WAIT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 }
	};
	int c;

	*o = (struct opts){ .instance = "default", .wait_s = 5 };
	while ((c = getopt_long(argc, argv, "i:d:t:o:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'i': o->instance = optarg; break;
		case 'o': o->output = optarg; break;
		case 'q': o->quiet = true; break;
		case O_JSON: o->json = true; break;
		case O_STOP: o->stop = true; break;
		case 'd':
			if (qk_parse_double(optarg, 0.001, 1e7, &o->duration)) {
				fprintf(stderr, PROG ": --duration '%s': expected seconds, 0.001..1e7\n", optarg);
				return -1;
			}
			break;
		case O_WAIT:
			if (qk_parse_double(optarg, 0, 3600, &o->wait_s)) {
				fprintf(stderr, PROG ": --wait '%s': expected seconds, 0..3600\n", optarg);
				return -1;
			}
			break;
		case 't':
			if (qk_parse_u64(optarg, 1, 60000000, &o->threshold_us)) {
				fprintf(stderr, PROG ": --threshold-us '%s': expected 1..60000000 us\n", optarg);
				return -1;
			}
			break;
		case 'h': usage(stdout); return 1;
		case O_VERSION: printf(PROG " " QK_VERSION "\n"); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (see --help)\n", argv[optind]);
		return -1;
	}
	if (o->stop && !o->threshold_us) {
		fprintf(stderr, PROG ": --stop needs --threshold-us N (stop at the first wake-up over N us)\n");
		return -1;
	}
	if (!qk_seg_name_ok(o->instance)) {
		fprintf(stderr, PROG ": --instance '%s': 1..31 of [A-Za-z0-9_.-], not starting with '.'\n",
			o->instance);
		return -1;
	}
	return 0;
}

/* ---- the environment --------------------------------------------------- */

/* Names the capabilities eBPF tracing needs that we lack; 0 when we have them. */
static int check_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2] = { 0 };
	bool have[64];

	if (syscall(SYS_capget, &h, d))
		return 0;	/* cannot tell: let the load say */
	for (int i = 0; i < 64; i++)
		have[i] = d[i / 32].effective & (1u << (i % 32));
	bool admin = have[CAP_SYS_ADMIN];
	bool bpf = have[CAP_BPF] || admin, perf = have[CAP_PERFMON] || admin;

	if (bpf && perf)
		return 0;
	fprintf(stderr, PROG ": missing %s%s%s (or CAP_SYS_ADMIN, which covers both): eBPF "
		"tracing needs them.\n  Run it as root, or grant them to the program: "
		"sudo setcap cap_bpf,cap_perfmon+ep $(command -v " PROG ")\n",
		bpf ? "" : "CAP_BPF", !bpf && !perf ? " and " : "", perf ? "" : "CAP_PERFMON");
	return -EPERM;
}

/* ---- the loop's threads --------------------------------------------------- */

struct tracer {
	struct opts o;
	struct qk_seg seg;
	bool attached;
	struct rtlat_bpf *skel;
	struct ring_buffer *rb;
	int stats_fd;
	FILE *out;
	uint64_t cpu_mask;
	struct btf *vmlinux;
	struct rtlat_report r;
};

static bool read_comm(int pid, int tid, char *b, size_t n)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	if (!(f = fopen(path, "r")))
		return false;
	if (!fgets(b, (int)n, f))
		b[0] = 0;
	fclose(f);
	b[strcspn(b, "\n")] = 0;
	return true;
}

/* Adds pid's SCHED_FIFO/RR threads (or its main thread, if it has none:
 * a --no-rt loop) to the list. */
static void add_threads(struct tracer *t, int pid, const char *proc)
{
	struct rtlat_report *r = &t->r;
	char path[64];
	struct dirent *de;
	DIR *d;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return;
	for (int pass = 0; pass < 2 && !found; pass++) {
		rewinddir(d);
		while ((de = readdir(d)) && r->n_threads < RTLAT_MAX_THREADS) {
			int tid = atoi(de->d_name);
			int pol = tid > 0 ? sched_getscheduler(tid) : -1;
			struct sched_param sp = { 0 };
			cpu_set_t set;

			if (tid <= 0 || pol < 0)
				continue;
			if (pass == 0 ? pol != SCHED_FIFO && pol != SCHED_RR : tid != pid)
				continue;
			struct rtlat_loop_thread *lt = &r->thread[r->n_threads];

			memset(lt, 0, sizeof(*lt));
			lt->tid = tid;
			lt->pid = pid;
			lt->proc = proc;
			lt->policy = pol;
			sched_getparam(tid, &sp);
			lt->prio = sp.sched_priority;
			if (!read_comm(pid, tid, lt->comm, sizeof(lt->comm)))
				continue;
			lt->cpu = -1;
			if (!sched_getaffinity(tid, sizeof(set), &set)) {
				int n = CPU_COUNT(&set);

				for (int c = 0; c < CPU_SETSIZE && c < 64; c++)
					if (CPU_ISSET(c, &set)) {
						t->cpu_mask |= 1ull << c;
						if (n == 1)
							lt->cpu = c;
					}
			}
			r->n_threads++;
			found++;
		}
	}
	closedir(d);
}

/* Waits for the sim and the agent to be up (slot held, real time set), then
 * takes their threads.  0, or -ESRCH when no loop process runs. */
static int find_threads(struct tracer *t)
{
	static const char *const names[] = { [QK_PROC_SIM] = "sim", [QK_PROC_AGENT] = "agent" };
	static const int procs[] = { QK_PROC_SIM, QK_PROC_AGENT };
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	int64_t until = qk_now_ns() + (int64_t)(t->o.wait_s * 1e9);

	for (;;) {
		int up = 0;

		for (int i = 0; i < 2; i++) {
			struct qk_proc_stats *p = &t->seg.stats[procs[i]];

			if (qk_seg_alive(&t->seg, procs[i]) && qk_load_acquire(&p->pid) > 0 &&
			    (qk_load_acquire(&p->flags) & (QK_PROCF_RT | QK_PROCF_NO_RT)))
				up++;
		}
		if (up == 2 || qk_now_ns() >= until || stop_flag)
			break;
		nanosleep(&nap, NULL);
	}
	for (int i = 0; i < 2; i++) {
		/* the slot's pid is shared data: only a live slot's, and only if /proc has it */
		int pid = qk_load_acquire(&t->seg.stats[procs[i]].pid);

		if (pid > 0 && qk_seg_alive(&t->seg, procs[i]))
			add_threads(t, pid, names[procs[i]]);
	}
	return t->r.n_threads ? 0 : -ESRCH;
}

/* Off the loop's CPUs, where there is another. */
static void avoid_loop_cpus(uint64_t mask)
{
	cpu_set_t set;
	int left = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (int c = 0; c < 64; c++)
		if (mask & (1ull << c))
			CPU_CLR(c, &set);
	left = CPU_COUNT(&set);
	if (left)
		sched_setaffinity(0, sizeof(set), &set);
}

/* ---- eBPF ----------------------------------------------------------------- */

/* libbpf's own messages (and the verifier's log) only when asked: ours say
 * what went wrong in the user's terms. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return getenv("QIKI_RTLAT_VERBOSE") ? vfprintf(stderr, fmt, ap) : 0;
}

/* A tracepoint this kernel lacks (or QIKI_RTLAT_SKIP_TP names, for tests)
 * loses its program and what it gave, said once. */
static bool tp_present(struct tracer *t, const char *tp)
{
	const char *skip = getenv("QIKI_RTLAT_SKIP_TP");
	char name[96];

	if (skip) {
		size_t n = strlen(tp);

		for (const char *s = strstr(skip, tp); s; s = strstr(s + 1, tp))
			if ((s == skip || s[-1] == ',') && (s[n] == ',' || !s[n]))
				return false;
	}
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return btf__find_by_name_kind(t->vmlinux, name, BTF_KIND_TYPEDEF) >= 0;
}

static int optional_tp(struct tracer *t, struct bpf_program *a, struct bpf_program *b,
		       const char *tp, const char *loss)
{
	if (tp_present(t, tp))
		return 0;
	if (a)
		bpf_program__set_autoload(a, false);
	if (b)
		bpf_program__set_autoload(b, false);
	if (t->r.n_lost < 8)
		t->r.lost[t->r.n_lost++] = loss;
	fprintf(stderr, PROG ": this kernel has no tracepoint %s: %s\n", tp, loss);
	return 1;
}

/* The address of a kernel function (0 when /proc/kallsyms hides it). */
static uint64_t kaddr(const char *fn)
{
	char line[256], name[128], ty;
	unsigned long long a;
	uint64_t found = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	while (f && !found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %127s", &a, &ty, name) == 3 && !strcmp(name, fn))
			found = a;
	if (f)
		fclose(f);
	return found;
}

static const char *kernel_release(void)
{
	static struct utsname u;

	return uname(&u) ? "?" : u.release;
}

static int on_late(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;

	if (size < sizeof(struct rtlat_late) || (t->o.stop && stop_flag))
		return 0;	/* --stop: the first chain only, however many are queued */
	rtlat_report_late(&t->r, data);
	if (t->o.stop)
		stop_flag = 1;
	return 0;
}

static int load(struct tracer *t)
{
	struct rtlat_bpf *s;
	int err;

	if (!(t->vmlinux = btf__load_vmlinux_btf())) {
		fprintf(stderr, PROG ": this kernel has no BTF (/sys/kernel/btf/vmlinux: %s): "
			"qiki-rtlat needs a kernel built with CONFIG_DEBUG_INFO_BTF=y\n", strerror(errno));
		return -ENOENT;
	}
	for (const char *tp = "sched_waking"; tp; tp = strcmp(tp, "sched_waking") ? NULL : "sched_switch")
		if (!tp_present(t, tp)) {
			fprintf(stderr, PROG ": this kernel has no tracepoint %s: the wake-up latency "
				"cannot be measured without it\n", tp);
			return -ENOENT;
		}
	if (!(s = t->skel = rtlat_bpf__open())) {
		fprintf(stderr, PROG ": cannot open the eBPF object: %s\n", strerror(errno));
		return -errno;
	}
	s->rodata->n_tids = (__u32)t->r.n_threads;
	for (int i = 0; i < t->r.n_threads; i++)
		s->rodata->tids[i] = (__u32)t->r.thread[i].tid;
	s->rodata->cpu_mask = t->cpu_mask;
	s->rodata->late_ns = t->r.late_ns;
	s->rodata->hrtimer_wakeup_fn = kaddr("hrtimer_wakeup");
	optional_tp(t, s->progs.on_wakeup, NULL, "sched_wakeup",
		    "sched_wakeup (the CPU is taken at waking: exact for pinned threads)");
	optional_tp(t, s->progs.on_irq_entry, s->progs.on_irq_exit, "irq_handler_entry",
		    "irq_handler_entry/exit (IRQ handlers are not named or timed)");
	if (!tp_present(t, "irq_handler_exit"))
		optional_tp(t, s->progs.on_irq_entry, s->progs.on_irq_exit, "irq_handler_exit",
			    "irq_handler_exit (IRQ handlers are not named or timed)");
	optional_tp(t, s->progs.on_softirq_entry, s->progs.on_softirq_exit, "softirq_entry",
		    "softirq_entry/exit (softirqs are not named or timed)");
	if (!tp_present(t, "softirq_exit"))
		optional_tp(t, s->progs.on_softirq_entry, s->progs.on_softirq_exit, "softirq_exit",
			    "softirq_entry/exit (softirqs are not named or timed)");
	optional_tp(t, s->progs.on_hrtimer_entry, s->progs.on_hrtimer_exit, "hrtimer_expire_entry",
		    "hrtimer_expire_entry/exit (timer expiries are not shown in the chains)");
	if (!tp_present(t, "hrtimer_expire_exit"))
		optional_tp(t, s->progs.on_hrtimer_entry, s->progs.on_hrtimer_exit,
			    "hrtimer_expire_exit", "hrtimer_expire_exit (timer expiries are not shown)");
	if ((err = rtlat_bpf__load(s))) {
		/* with the capabilities checked, EACCES is the verifier's: a
		 * program it could not prove safe (an older kernel's verifier
		 * proves less), not a missing privilege */
		if (err == -EACCES)
			fprintf(stderr, PROG ": this kernel's verifier refused the eBPF programs "
				"(kernel %s): a bug of qiki-rtlat's on this kernel; QIKI_RTLAT_VERBOSE=1 "
				"shows the verifier's log\n", kernel_release());
		else
			fprintf(stderr, PROG ": the kernel refused the eBPF programs: %s "
				"(QIKI_RTLAT_VERBOSE=1 shows the verifier's log)\n", strerror(-err));
		return err == -EACCES ? -ENOEXEC : err;
	}
	if ((err = rtlat_bpf__attach(s))) {
		fprintf(stderr, PROG ": cannot attach to the tracepoints: %s\n", strerror(-err));
		return err;
	}
	t->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);	/* the cost; -1 is fine */
	if (!(t->rb = ring_buffer__new(bpf_map__fd(s->maps.late), on_late, t, NULL))) {
		fprintf(stderr, PROG ": cannot open the ring buffer: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Copies what the kernel side gathered into the report. */
static void collect(struct tracer *t)
{
	struct rtlat_bpf *s = t->skel;
	struct rtlat_report *r = &t->r;
	struct rtlat_key k, next, *prev = NULL;
	struct bpf_program *p;
	int fd = bpf_map__fd(s->maps.offenders);

	memcpy(r->stats, (const void *)s->bss->threads, sizeof(r->stats));
	r->late_dropped = s->bss->late_dropped;
	r->n_off = 0;
	while (r->n_off < RTLAT_MAX_OFFENDERS && !bpf_map_get_next_key(fd, prev, &next)) {
		if (!bpf_map_lookup_elem(fd, &next, &r->off[r->n_off]) && r->off[r->n_off].count) {
			r->off_key[r->n_off] = next;
			r->n_off++;
		}
		k = next;
		prev = &k;
	}
	r->n_progs = 0;
	bpf_object__for_each_program(p, s->obj) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_program__fd(p) < 0 || r->n_progs >= 16 ||
		    bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
			continue;
		r->prog[r->n_progs++] = (struct rtlat_prog_cost){
			bpf_program__name(p), info.run_cnt, info.run_time_ns
		};
	}
}

static void destroy(struct tracer *t)
{
	ring_buffer__free(t->rb);
	rtlat_bpf__destroy(t->skel);
	btf__free(t->vmlinux);
	if (t->stats_fd >= 0)
		close(t->stats_fd);
	if (t->out && t->out != stdout)
		fclose(t->out);
	if (t->attached)
		qk_seg_detach(&t->seg);
}

static bool loop_alive(struct tracer *t)
{
	return qk_seg_alive(&t->seg, QK_PROC_SIM) || qk_seg_alive(&t->seg, QK_PROC_AGENT);
}

int main(int argc, char **argv)
{
	static struct tracer t;
	struct sigaction sa = { .sa_handler = on_signal };
	int rc = EX_OK, ret;

	t.stats_fd = -1;
	if ((ret = parse(argc, argv, &t.o)))
		return ret > 0 ? EX_OK : EX_USAGE;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	libbpf_set_print(libbpf_print);

	t.out = stdout;	/* a bad --output is said before anything waits */
	if (t.o.output && !(t.out = fopen(t.o.output, "w"))) {
		fprintf(stderr, PROG ": --output '%s': %s\n", t.o.output, strerror(errno));
		return EX_USAGE;
	}
	t.r.out = t.out;
	if ((ret = qk_seg_attach(&t.seg, t.o.instance, 0))) {
		fprintf(stderr, PROG ": %s\n", t.seg.err);
		rc = EX_INSTANCE;
		goto out;
	}
	t.attached = true;
	if (check_caps()) {
		rc = EX_PRIV;
		goto out;
	}
	if (find_threads(&t)) {
		fprintf(stderr, PROG ": instance '%s' has no loop process running (no sim or agent "
			"holds its slot); start it with 'qiki run --instance %s'\n", t.o.instance,
			t.o.instance);
		rc = EX_INSTANCE;
		goto out;
	}
	t.r.instance = t.o.instance;
	t.r.json = t.o.json;
	t.r.print_chains = t.o.threshold_us > 0;
	int64_t period = t.seg.period_ns;	/* the attach-checked private copy */

	t.r.late_ns = t.o.threshold_us ? t.o.threshold_us * 1000 :
		      period > 0 && period <= 10 * QK_NSEC ? (uint64_t)period / 2 : 500000;
	avoid_loop_cpus(t.cpu_mask);
	if ((ret = load(&t))) {
		rc = ret == -EPERM || ret == -EACCES ? EX_PRIV : EX_BPF;
		if (rc == EX_PRIV)
			fprintf(stderr, PROG ": permission denied: run as root or grant CAP_BPF and "
				"CAP_PERFMON (sudo setcap cap_bpf,cap_perfmon+ep $(command -v " PROG "))\n");
		goto out;
	}
	if (!t.o.quiet) {	/* on stderr: scripts wait for it */
		fprintf(stderr, PROG ": tracing %d thread%s of instance %s:", t.r.n_threads,
			t.r.n_threads == 1 ? "" : "s", t.o.instance);
		for (int i = 0; i < t.r.n_threads; i++)
			fprintf(stderr, " %s/%d (%s, cpu %d)", t.r.thread[i].comm, t.r.thread[i].tid,
				t.r.thread[i].proc, t.r.thread[i].cpu);
		fprintf(stderr, "\n");
	}

	uint64_t c0 = qk_load_relaxed(&t.seg.stats[QK_PROC_SIM].cycles);
	int64_t t0 = qk_now_ns(), end = t.o.duration > 0 ? t0 + (int64_t)(t.o.duration * 1e9) : 0;

	while (!stop_flag && (!end || qk_now_ns() < end)) {
		ret = ring_buffer__poll(t.rb, 100);
		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, PROG ": reading the ring buffer: %s\n", strerror(-ret));
			break;
		}
		if (!loop_alive(&t))
			break;	/* the loop ended: summarise what it did */
	}
	ring_buffer__consume(t.rb);
	t.r.seconds = (double)(qk_now_ns() - t0) / 1e9;
	t.r.cycles = qk_load_relaxed(&t.seg.stats[QK_PROC_SIM].cycles) - c0;
	collect(&t);
	if (!t.o.quiet)
		rtlat_report_summary(&t.r);
out:
	destroy(&t);
	return rc;
}
