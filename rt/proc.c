/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/proc.c - loop process shell; see rt/proc.h. */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt/cli.h"
#include "rt/proc.h"

static void usage(FILE *f, const char *prog, enum qk_proc which)
{
	fprintf(f,
		"usage: %s [options]\n"
		"Runs the %s of a qiki instance created by 'qiki run' (or started by hand\n"
		"against an existing segment).\n\n"
		"  -i, --instance NAME  instance to attach to (default: default)\n"
		"      --no-rt          run without SCHED_FIFO/mlockall (figures marked so)\n"
		"      --prio N         SCHED_FIFO priority 1..99 (default %d)\n"
		"      --cpu N          pin to CPU N, -1 for none (default: the last CPU)\n"
		"%s"
		"      --strict         exit 5 if the loop allocated (under the alloc probe)\n"
		"      --log-dir DIR    write DIR/%s.log (default: $QIKI_LOG_DIR, else\n"
		"                       /var/log/qiki/INSTANCE as root, ~/.local/state/qiki/INSTANCE)\n"
		"      --log-level L    debug, info (default), warn, error\n"
		"      --log-format F   text (default), json (one object per line) or binary\n"
		"                       (formatted when read, by qiki-log)\n"
		"      --log-fsync-ms MS  fsync the log every MS ms (default 1000; -1: at exit only)\n"
		"      --log-rotate-mb MB rotate the log past MB MiB, keeping 4 (default 64)\n",
		prog, which == QK_PROC_SIM ? "plant simulator" : "controller agent",
		which == QK_PROC_SIM ? 80 : 79,
		which == QK_PROC_SIM ? "      --cycles N       stop after N cycles\n" : "", prog);
	if (which == QK_PROC_SIM)
		fprintf(f, "      --fault DEV:KIND[:VALUE]  inject a fault before POST "
			"(KIND: stuck noise bias dropout post-fail)\n"
			"      --gated          lockstep: hold before each cycle until a run-until\n"
			"                       command lets the sim on (qiki run --scenario)\n");
	else
		fprintf(f, "      --wake MODE      timer, futex or spin (default: the instance's)\n");
	fprintf(f, "  -h, --help           this help\n      --version        print the version\n\n"
		"Exit status: 0 stopped; 1 usage or start-up error; 2 no segment to attach to;\n"
		"3 no real-time privilege; 5 the loop allocated (--strict); 6 the segment was\n"
		"overwritten or truncated under us (the message names the region; output safe).\n");
}

int qk_proc_parse(int argc, char **argv, const char *prog, enum qk_proc which,
		  struct qk_proc_opts *o)
{
	enum { O_NORT = 256, O_PRIO, O_CPU, O_CYCLES, O_WAKE, O_FAULT, O_STRICT, O_VERSION,
	       O_LOGDIR, O_LOGLEVEL, O_LOGFMT, O_LOGFSYNC, O_LOGROTATE, O_GATED };
	static const struct option lo[] = {
		{ "instance", required_argument, NULL, 'i' },
		{ "no-rt", no_argument, NULL, O_NORT },
		{ "prio", required_argument, NULL, O_PRIO },
		{ "cpu", required_argument, NULL, O_CPU },
		{ "cycles", required_argument, NULL, O_CYCLES },
		{ "wake", required_argument, NULL, O_WAKE },
		{ "fault", required_argument, NULL, O_FAULT },
		{ "strict", no_argument, NULL, O_STRICT },
		{ "gated", no_argument, NULL, O_GATED },
		{ "log-dir", required_argument, NULL, O_LOGDIR },
		{ "log-level", required_argument, NULL, O_LOGLEVEL },
		{ "log-format", required_argument, NULL, O_LOGFMT },
		{ "log-fsync-ms", required_argument, NULL, O_LOGFSYNC },
		{ "log-rotate-mb", required_argument, NULL, O_LOGROTATE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 }
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int c;

	*o = (struct qk_proc_opts){ .instance = "default", .wake = -1, .log_level = QK_LOG_INFO,
		.priority = which == QK_PROC_SIM ? 80 : 79, .cpu = (int)(ncpu - 1) };
	while ((c = getopt_long(argc, argv, "i:h", lo, NULL)) != -1) {
		int ret = 0;

		switch (c) {
		case 'i': o->instance = optarg; break;
		case O_NORT: o->no_rt = true; break;
		case O_PRIO:
			if ((ret = qk_parse_int(optarg, 1, 99, &o->priority)))
				fprintf(stderr, "%s: --prio '%s': expected a priority 1..99\n", prog, optarg);
			break;
		case O_CPU:
			if ((ret = qk_parse_int(optarg, -1, (int)ncpu - 1, &o->cpu)))
				fprintf(stderr, "%s: --cpu '%s': expected -1 or a CPU 0..%ld\n",
					prog, optarg, ncpu - 1);
			break;
		case O_CYCLES:
			if (which != QK_PROC_SIM) { ret = -1; fprintf(stderr, "%s: --cycles is a simulator option\n", prog); break; }
			if ((ret = qk_parse_u64(optarg, 1, UINT64_MAX / 2, &o->cycles)))
				fprintf(stderr, "%s: --cycles '%s': expected a positive count\n", prog, optarg);
			break;
		case O_WAKE:
			if (which != QK_PROC_AGENT) { ret = -1; fprintf(stderr, "%s: --wake is an agent option\n", prog); break; }
			o->wake = !strcmp(optarg, "timer") ? QK_WAKE_TIMER :
				  !strcmp(optarg, "futex") ? QK_WAKE_FUTEX :
				  !strcmp(optarg, "spin") ? QK_WAKE_SPIN : -1;
			if (o->wake < 0) {
				ret = -1;
				fprintf(stderr, "%s: --wake '%s': expected timer, futex or spin\n", prog, optarg);
			}
			break;
		case O_FAULT:
			if (which != QK_PROC_SIM) { ret = -1; fprintf(stderr, "%s: --fault is a simulator option\n", prog); break; }
			if (o->n_faults == QK_MAX_FAULT_OPTS) {
				ret = -1;
				fprintf(stderr, "%s: at most %d --fault options\n", prog, QK_MAX_FAULT_OPTS);
				break;
			}
			o->fault[o->n_faults++] = optarg;
			break;
		case O_STRICT: o->strict = true; break;
		case O_GATED:
			if (which != QK_PROC_SIM) { ret = -1; fprintf(stderr, "%s: --gated is a simulator option\n", prog); break; }
			o->gated = true;
			break;
		case O_LOGDIR: o->log_dir = optarg; break;
		case O_LOGLEVEL:
			if ((o->log_level = qk_log_level_parse(optarg)) < 0) {
				ret = -1;
				fprintf(stderr, "%s: --log-level '%s': expected debug, info, warn or error\n",
					prog, optarg);
			}
			break;
		case O_LOGFSYNC:
			if ((ret = qk_parse_int(optarg, -1, 3600000, &o->log_fsync_ms)) || !o->log_fsync_ms) {
				ret = -1;
				fprintf(stderr, "%s: --log-fsync-ms '%s': expected 1..3600000, or -1 for "
					"at exit only\n", prog, optarg);
			}
			break;
		case O_LOGROTATE:
			if ((ret = qk_parse_int(optarg, 1, 1 << 20, &o->log_rotate_mb)))
				fprintf(stderr, "%s: --log-rotate-mb '%s': expected 1..1048576\n", prog, optarg);
			break;
		case O_LOGFMT:
			if ((o->log_format = qk_proc_log_format_parse(optarg)) < 0) {
				ret = -1;
				fprintf(stderr, "%s: --log-format '%s': expected text, json or binary\n", prog, optarg);
			}
			break;
		case 'h': usage(stdout, prog, which); return 1;
		case O_VERSION: printf("%s %s (layout %u)\n", prog, QK_VERSION, QK_LAYOUT_VERSION); return 1;
		default: usage(stderr, prog, which); return -1;
		}
		if (ret)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", prog, argv[optind]);
		return -1;
	}
	if (!qk_seg_name_ok(o->instance)) {
		fprintf(stderr, "%s: bad instance name '%s': use 1-31 of [A-Za-z0-9_.-]\n",
			prog, o->instance);
		return -1;
	}
	return 0;
}

int qk_proc_log_format_parse(const char *s)
{
	return !strcmp(s, "text") ? QK_LOG_TEXT : !strcmp(s, "json") ? QK_LOG_JSON :
	       !strcmp(s, "binary") ? QK_LOG_BINARY : -1;
}

static int mkdir_p(char *path)
{
	for (char *p = path + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;

		*p = '\0';
		int ret = mkdir(path, 0750) && errno != EEXIST ? -errno : 0;

		*p = c;
		if (ret || !c)
			return ret;
	}
}

int qk_proc_log_dir(const char *given, const char *instance, char *out, size_t n,
		    char *why, size_t wn)
{
	const char *env = getenv("QIKI_LOG_DIR"), *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int k, ret;

	if (given && *given)
		k = snprintf(out, n, "%s", given);
	else if (env && *env)
		k = snprintf(out, n, "%s/%s", env, instance);
	else if (geteuid() == 0)
		k = snprintf(out, n, "/var/log/qiki/%s", instance);
	else if (state && *state)
		k = snprintf(out, n, "%s/qiki/%s", state, instance);
	else
		k = snprintf(out, n, "%s/.local/state/qiki/%s", home ? home : "/tmp", instance);
	if (k < 0 || (size_t)k >= n) {
		snprintf(why, wn, "log directory path too long");
		return -ENAMETOOLONG;
	}
	ret = mkdir_p(out);
	if (ret)
		snprintf(why, wn, "cannot create log directory %s: %s; pass --log-dir DIR "
			 "(a writable directory)", out, strerror(-ret));
	return ret;
}

int qk_proc_log_open(struct qk_proc_ctx *p, const struct qk_proc_opts *o, const char *prog,
		     char *why, size_t n)
{
	char dir[3072], path[4096], err[512];
	struct qk_log_opts lo = { .path = path, .proc = prog, .format = o->log_format,
				  .level = o->log_level, .avoid_cpu = o->cpu,
				  .fsync_ms = o->log_fsync_ms,
				  .rotate_bytes = (uint64_t)o->log_rotate_mb << 20,
				  /* a loop process logs events, not a stream: 8 rings of
				   * 256 KiB (2 MiB, mapped, pre-faulted and locked) hold
				   * thousands of records between two passes; the logger's
				   * 2 MiB default (16 MiB a process) is for 1 M records/s */
				  .ring_bytes = 256u << 10 };
	int ret = qk_proc_log_dir(o->log_dir, o->instance, dir, sizeof(dir), why, n);

	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/%s.log", dir, prog);
	p->log = qk_log_create(&lo, err, sizeof(err));
	if (!p->log) {
		snprintf(why, n, "%s; pass --log-dir DIR (a writable directory)", err);
		return -EIO;
	}
	return 0;
}

const char *qk_cmd_name(uint32_t type)
{
	static const char *const names[QK_CMD_COUNT] = {
		[QK_CMD_NONE] = "none", [QK_CMD_STATE] = "state", [QK_CMD_SETPOINT] = "setpoint",
		[QK_CMD_FAULT_SET] = "fault", [QK_CMD_FAULT_CLEAR] = "fault clear",
		[QK_CMD_POST] = "post", [QK_CMD_PING] = "ping",
		[QK_CMD_RUN_UNTIL] = "run-until", [QK_CMD_PARAM] = "param",
	};

	return type < QK_CMD_COUNT && names[type] ? names[type] : "unknown";
}

/* The SIGBUS plan, fixed before the handler is installed. */
static struct {
	char msg[256];
	size_t len;
	char path[80];			/* for unlink(): /dev/shm/qiki.<instance> */
	int status;
	bool unlink_it;
	pid_t stop[4];
} bus;

static void on_sigbus(int sig)
{
	(void)sig;
	/* async-signal-safe only: write, kill, unlink, _exit */
	(void)!write(STDERR_FILENO, bus.msg, bus.len);
	for (int i = 0; i < 4; i++)
		if (bus.stop[i] > 0)
			kill(bus.stop[i], SIGTERM);
	if (bus.unlink_it)
		unlink(bus.path);
	_exit(bus.status);
}

void qk_proc_catch_sigbus(const struct qk_sigbus_plan *plan)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	int n = snprintf(bus.msg, sizeof(bus.msg), "%s: /dev/shm%s was truncated under us (SIGBUS): "
			 "stopping%s; nothing more is read from it\n", plan->prog, plan->shm_name,
			 plan->unlink_it ? " the instance" : "");

	bus.len = n < 0 ? 0 : (size_t)n < sizeof(bus.msg) ? (size_t)n : sizeof(bus.msg) - 1;
	snprintf(bus.path, sizeof(bus.path), "/dev/shm%s", plan->shm_name);
	bus.status = plan->status;
	bus.unlink_it = plan->unlink_it;
	memcpy(bus.stop, plan->stop, sizeof(bus.stop));
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

bool qk_cmd_expired(const struct qk_cmd *c, struct qk_reply *r)
{
	/* pairs with the fence in qk_ctl_request() before it reads the
	 * queue's head: our pop's head store is visible before our clock read */
	qk_fence_seq_cst();
	if (c->expires_ns > 0 && qk_now_ns() <= c->expires_ns)
		return false;
	*r = (struct qk_reply){ .id = c->id, .status = QK_REPLY_REFUSED, .code = -ETIME };
	snprintf(r->reason, sizeof(r->reason), "%s", "expired");
	return true;
}

int qk_proc_attach(struct qk_proc_ctx *p, const struct qk_proc_opts *o, enum qk_proc which,
		   char *why, size_t n)
{
	int ret;

	memset(p, 0, sizeof(*p));
	p->which = which;
	char shm_name[64];
	struct qk_sigbus_plan plan = {
		.prog = which == QK_PROC_SIM ? "qiki-sim" : which == QK_PROC_AGENT ? "qiki-agent" :
			"qiki",
		.shm_name = shm_name, .status = QK_EXIT_SEGMENT,
	};

	/* the sim's plant is ours: stopping is its safe actuation; the agent's
	 * silence trips the sim's watchdog, had the sim survived */
	snprintf(shm_name, sizeof(shm_name), "/qiki.%s", o->instance);
	qk_proc_catch_sigbus(&plan);
	for (int tries = 0;; tries++) {
		ret = qk_seg_attach(&p->seg, o->instance, QK_SEG_POPULATE);
		if (ret != -EAGAIN || tries == 200)
			break;
		usleep(10000);
	}
	if (ret) {
		snprintf(why, n, "%s", p->seg.err);
		return ret;
	}
	ret = qk_seg_claim(&p->seg, which);
	if (ret) {
		snprintf(why, n, "%s", p->seg.err);
		qk_seg_detach(&p->seg);
		return ret;
	}
	p->st = &p->seg.stats[which];
	p->cfg = *p->seg.config;
	qk_store_relaxed(&p->st->loop_allocs, -1);
	/* the test's allocation probe, if it was preloaded */
	*(void **)&p->alloc_probe = dlsym(RTLD_DEFAULT, "qk_alloc_probe_count");
	return 0;
}

/* Said once at start-up, on stderr and in the log: with this clocksource
 * every clock read of the loop is a syscall, which the loop cannot avoid. */
static void warn_clocksource(struct qk_proc_ctx *p, const char *prog)
{
	char cs[64];

	if (qk_rt_clocksource(qk_rt_sysroot(), cs, sizeof(cs)))
		return;
	fprintf(stderr, "%s: warning: clocksource '%s' cannot be read by the vDSO: every clock "
		"read of the loop is a syscall (slower, and seen by seccomp and strace); fix: "
		QK_RT_CLOCK_FIX "\n", prog, cs);
	QK_WARN(p->log, "clocksource '%s' cannot be read by the vDSO: every clock read is a "
		"syscall; fix: " QK_RT_CLOCK_FIX, cs);
}

int qk_proc_go_rt(struct qk_proc_ctx *p, const struct qk_proc_opts *o, char *why, size_t n)
{
	struct qk_rt_opts ro = { .no_rt = o->no_rt, .priority = o->priority, .cpu = o->cpu,
				 .dma_latency = true };
	int ret = qk_rt_setup(&p->rt, &ro, why, n);

	if (ret)
		return ret;
	qk_store_relaxed(&p->st->flags, p->rt.rt ? QK_PROCF_RT : QK_PROCF_NO_RT);
	if (p->rt.rt)
		QK_INFO(p->log, "real time: SCHED_FIFO priority %d, CPU %d, memory locked",
			p->rt.priority, p->rt.cpu);
	else
		QK_WARN(p->log, "NOT real time (--no-rt): figures are not real-time figures");
	warn_clocksource(p, p->which == QK_PROC_SIM ? "qiki-sim" : "qiki-agent");
	if (p->alloc_probe)
		p->allocs0 = p->alloc_probe();
	return 0;
}

uint64_t qk_proc_frame_hash(uint64_t h, const struct qk_sensor_frame *f)
{
	const unsigned char *p = (const unsigned char *)&f->valid;
	size_t n = sizeof(*f) - offsetof(struct qk_sensor_frame, valid);

	h = (h ^ f->cycle) * 0x100000001b3ull;
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
	}
	return h;
}

int qk_proc_finish(struct qk_proc_ctx *p, const struct qk_proc_opts *o, const char *prog)
{
	int64_t n = p->alloc_probe ? p->alloc_probe() - p->allocs0 : 0;

	if (p->alloc_probe)
		qk_store_relaxed(&p->st->loop_allocs, n);
	if (n) {
		fprintf(stderr, "%s: the loop allocated %lld times after start-up\n", prog, (long long)n);
		QK_ERROR(p->log, "the loop allocated %lld times after start-up", (long long)n);
	}
	QK_INFO(p->log, "stopped after %llu cycles, %llu overruns",
		(unsigned long long)qk_load_relaxed(&p->st->cycles),
		(unsigned long long)qk_load_relaxed(&p->st->overruns));
	qk_proc_exit(p);
	return n && o->strict ? 5 : 0;
}

void qk_proc_exit(struct qk_proc_ctx *p)
{
	struct qk_log_stats ls;

	qk_log_get_stats(p->log, &ls);
	if (ls.dropped)
		QK_WARN(p->log, "%llu log records were dropped (ring full)",
			(unsigned long long)ls.dropped);
	qk_log_destroy(p->log);	/* everything logged so far reaches the file */
	p->log = NULL;
	qk_rt_teardown(&p->rt);
	qk_seg_release(&p->seg, p->which);
	qk_seg_detach(&p->seg);
}
