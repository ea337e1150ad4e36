/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * bench/loop.c - the real loop (qiki-sim + qiki-agent under `qiki run`)
 * beside cyclictest, the machine's own floor, in the same invocation.
 *
 * For each rate: cyclictest at the loop's period, priority and CPU; then the
 * loop in each wake mode; then cyclictest again.  The floor before and after
 * brackets the loop, so a machine that changed during the run shows it.
 *
 * For each loop run the histograms come from the processes' own stats
 * mailboxes (every cycle of the run, start-up included, nothing dropped),
 * copied just before SIGINT.  Beside them, an ordinary reader on CPU 0
 * follows the sensor and actuator rings and keeps, per 10 ms window, the
 * worst sim wake-up latency and sensor-to-actuation latency: the latency
 * over time.  Reading the rings cannot move the loop's timing (the design's
 * contract), and a window the reader missed is simply absent.
 *
 * cyclictest's histogram (1 us buckets) is folded into the same log-linear
 * histogram as the loop's, so both go through one quantile function.
 *
 * The default wake mode (futex) runs first.  --runs N repeats every loop run
 * and prints the medians of the headline figures: the agent's overruns and
 * lost frames (beside cyclictest's spikes over 100 us, scaled to a run's
 * length), sensor-to-actuation, and the front and back margins.
 *
 * Spin mode is run only when asked (--modes): `qiki run --cpu` puts both
 * loop processes on one CPU, where a SCHED_FIFO agent spinning at 100% meets
 * RT throttling and starves the sim.  It needs a CPU of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rt/rt.h"
#include "bench/bench.h"
#include "shm/hist.h"
#include "shm/layout.h"
#include "shm/ring.h"
#include "shm/seg.h"

#define WINDOW_NS 10000000ll	/* one timeline point per 10 ms */
#define SPIKE_NS 100000ll	/* a floor sample over this is a spike */
#define MAX_RUNS 9
#define CT_HIST_US 20000	/* cyclictest histogram range */

extern char **environ;

struct opts {
	const char *json, *qiki, *outdir;
	int loop_s, ct_s, prio, cpu, n_runs;
	bool no_rt;
	int rates[4], n_rates;
	const char *modes[3];
	int n_modes;
	const char *skipped;	/* why a mode was left out */
};

struct timeline {
	int n;
	int64_t *sim_wake, *s2a, *agent_compute;	/* max per window, -1 none */
};

struct run {
	int rate, repeat;
	const char *mode;
	int exit_code;
	struct qk_proc_stats st[2];	/* sim, agent */
	uint64_t reader_lost;
	struct timeline tl;
};

struct ct {
	bool ok;
	bool builtin;		/* cyclictest could not run: builtin_floor() */
	char err[256];
	uint64_t cycles, overflows;
	uint64_t spikes;	/* samples over SPIKE_NS */
	struct qk_hist h;
};

/* ---- child processes -------------------------------------------------------- */

static pid_t spawn(char *const argv[], const char *log)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);

	posix_spawn_file_actions_destroy(&fa);
	return e ? -e : pid;
}

/* Waits up to timeout_s, then SIGKILLs; returns the exit code, or 128+sig. */
static int reap(pid_t pid, int timeout_s)
{
	int st;

	for (int i = 0; i < timeout_s * 20; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return 128 + SIGKILL;
}

/* ---- cyclictest -------------------------------------------------------------- */

/* Folds cyclictest's JSON histogram ("us": count) into h. */
static int ct_parse(const char *path, struct ct *c)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0;

	if (!f)
		return -errno;
	ssize_t len = getdelim(&buf, &n, '\0', f);

	fclose(f);
	if (len <= 0) {
		free(buf);
		return -EINVAL;
	}
	char *p = strstr(buf, "\"histogram\"");
	char *cy = strstr(buf, "\"cycles\"");
	char *mx = strstr(buf, "\"max\"");
	long long max_us = 0;

	if (!p || !cy || !mx || !strchr(p, '}')) {
		free(buf);
		return -EINVAL;
	}
	sscanf(cy, "\"cycles\": %llu", (unsigned long long *)&c->cycles);
	sscanf(mx, "\"max\": %lld", &max_us);
	char *end = strchr(p, '}');
	uint64_t seen = 0;

	for (p = strchr(p, '{') + 1; p < end;) {
		long long us;
		unsigned long long cnt;

		if (sscanf(p, " \"%lld\": %llu", &us, &cnt) != 2)
			break;
		/* cyclictest truncates to the microsecond: take the middle */
		for (unsigned long long k = 0; k < cnt; k++)
			qk_hist_record(&c->h, us * 1000 + 500);
		if (us * 1000 >= SPIKE_NS)	/* truncated: us >= 100 is over 100 us */
			c->spikes += cnt;
		seen += cnt;
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	/* beyond the histogram's range: counted at the maximum */
	for (c->overflows = 0; seen + c->overflows < c->cycles; c->overflows++)
		qk_hist_record(&c->h, max_us * 1000 + 500);
	c->spikes += c->overflows;	/* beyond 20 ms */
	free(buf);
	return 0;
}

/* The floor when cyclictest cannot run (it refuses without the privilege
 * to set a scheduling policy): the same measurement, done here.  A periodic
 * clock_nanosleep(TIMER_ABSTIME) on the loop's CPU at the loop's period,
 * recording actual minus scheduled wake, as cyclictest does. */
static void builtin_floor(const struct opts *o, int rate, struct ct *c)
{
	cpu_set_t old, one;
	int64_t period = QK_NSEC / rate, due = qk_now_ns() + period;
	int64_t end = due + (int64_t)o->ct_s * QK_NSEC;

	sched_getaffinity(0, sizeof(old), &old);
	CPU_ZERO(&one);
	CPU_SET(o->cpu, &one);
	sched_setaffinity(0, sizeof(one), &one);
	for (; due < end; due += period) {
		struct timespec ts = qk_ns_ts(due);

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		int64_t lat = qk_now_ns() - due;

		qk_hist_record(&c->h, lat);
		c->cycles++;
		c->spikes += lat > SPIKE_NS;
		if (lat > period)	/* late: skip to the grid, as the loop does */
			due += (lat / period) * period;
	}
	sched_setaffinity(0, sizeof(old), &old);
	c->ok = true;
	c->builtin = true;
}

static void cyclictest(const struct opts *o, int rate, const char *when, struct ct *c)
{
	char js[PATH_MAX], hf[PATH_MAX], log[PATH_MAX], a_i[32], a_p[32], a_a[32], a_d[32],
	     a_j[PATH_MAX + 8], a_h[PATH_MAX + 16];
	char *argv[] = { "cyclictest", "-m", "-q", "-t1", a_p, a_a, a_i, a_d, "-h", "20000",
			 a_h, a_j, o->no_rt ? "--policy=other" : NULL, NULL };

	memset(c, 0, sizeof(*c));
	qk_hist_reset(&c->h);
	snprintf(js, sizeof(js), "%s/cyclictest-%d-%s.json", o->outdir, rate, when);
	snprintf(hf, sizeof(hf), "%s/.cyclictest-hist", o->outdir);
	snprintf(log, sizeof(log), "%s/cyclictest-%d-%s.log", o->outdir, rate, when);
	snprintf(a_p, sizeof(a_p), "-p%d", o->no_rt ? 0 : o->prio);
	snprintf(a_a, sizeof(a_a), "-a%d", o->cpu);
	snprintf(a_i, sizeof(a_i), "-i%d", 1000000 / rate);
	snprintf(a_d, sizeof(a_d), "-D%d", o->ct_s);
	snprintf(a_j, sizeof(a_j), "--json=%s", js);
	snprintf(a_h, sizeof(a_h), "--histfile=%s", hf);
	pid_t pid = spawn(argv, log);

	if (pid < 0) {
		snprintf(c->err, sizeof(c->err), "cannot run cyclictest (%s; apt-get install rt-tests): "
			 "built-in clock_nanosleep loop used instead", strerror((int)-pid));
		builtin_floor(o, rate, c);
		return;
	}
	int rc = reap(pid, o->ct_s + 30);

	unlink(hf);
	if (rc) {
		snprintf(c->err, sizeof(c->err), "cyclictest exited %d (see %.100s): built-in "
			 "clock_nanosleep loop used instead", rc, strrchr(log, '/') + 1);
		builtin_floor(o, rate, c);
		return;
	}
	if (ct_parse(js, c)) {
		snprintf(c->err, sizeof(c->err), "cannot read %.120s", strrchr(js, '/') + 1);
		return;
	}
	unlink(log);
	c->ok = true;
}

/* ---- one loop run -------------------------------------------------------------- */

static void window_max(int64_t *w, int n, int64_t t, int64_t v)
{
	if (t >= 0 && t < n && v > w[t])
		w[t] = v;
}

static void follow(struct qk_seg *s, struct run *r, int64_t t0, int64_t until)
{
	struct qk_ring_reader sr, ar;
	struct qk_sensor_frame sf;
	struct qk_actuator_frame af;

	qk_ring_reader_init(&sr, s->sensors, QK_RING_FROM_NOW);
	qk_ring_reader_init(&ar, s->actuators, QK_RING_FROM_NOW);
	while (qk_now_ns() < until) {
		while (qk_ring_read_next(&sr, &sf))
			window_max(r->tl.sim_wake, r->tl.n, (sf.sched_ns - t0) / WINDOW_NS,
				   sf.wake_ns - sf.sched_ns);
		while (qk_ring_read_next(&ar, &af)) {
			int64_t w = (af.wake_ns - t0) / WINDOW_NS;

			window_max(r->tl.s2a, r->tl.n, w, af.publish_ns - af.sensor_publish_ns);
			window_max(r->tl.agent_compute, r->tl.n, w, af.publish_ns - af.wake_ns);
		}
		usleep(2000);	/* 20 cycles at 10 kHz: far from the ring's 1024 */
	}
	r->reader_lost = sr.lost + ar.lost;
}

static int loop_run(const struct opts *o, struct run *r)
{
	char inst[32], rate_s[16], prio_s[16], cpu_s[16], log[PATH_MAX], path[64];
	char *argv[] = { (char *)o->qiki, "run", "-q", "-i", inst, "--rate", rate_s, "--wake",
			 (char *)r->mode, "--prio", prio_s, "--cpu", cpu_s,
			 o->no_rt ? "--no-rt" : NULL, NULL };
	struct qk_seg s;

	snprintf(inst, sizeof(inst), "bench-%d", (int)getpid());	/* one run at a time */
	snprintf(rate_s, sizeof(rate_s), "%d", r->rate);
	snprintf(prio_s, sizeof(prio_s), "%d", o->prio);
	snprintf(cpu_s, sizeof(cpu_s), "%d", o->cpu);
	snprintf(log, sizeof(log), "%s/loop-%d-%s-%d.log", o->outdir, r->rate, r->mode, r->repeat);
	r->tl.n = o->loop_s * (int)(QK_NSEC / WINDOW_NS) + 1;
	r->tl.sim_wake = malloc(3 * sizeof(int64_t) * (size_t)r->tl.n);
	if (!r->tl.sim_wake)
		return -ENOMEM;
	r->tl.s2a = r->tl.sim_wake + r->tl.n;
	r->tl.agent_compute = r->tl.s2a + r->tl.n;
	for (int i = 0; i < 3 * r->tl.n; i++)
		r->tl.sim_wake[i] = -1;

	pid_t pid = spawn(argv, log);

	if (pid < 0) {
		fprintf(stderr, "loop: cannot run %s: %s\n", o->qiki, strerror((int)-pid));
		return -1;
	}
	/* the launcher publishes the segment once both processes are set up */
	int64_t give_up = qk_now_ns() + 10 * QK_NSEC;
	int e, st;

	while ((e = qk_seg_attach(&s, inst, 0)) && qk_now_ns() < give_up) {
		if (waitpid(pid, &st, WNOHANG) == pid) {	/* qiki gave up: say why */
			r->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			fprintf(stderr, "loop: qiki exited %d before the loop ran, see %s\n",
				r->exit_code, log);
			qk_seg_unlink(inst);
			return -1;
		}
		usleep(20000);
	}
	if (e) {
		fprintf(stderr, "loop: %s did not come up: %s (see %s)\n", inst, s.err, log);
		kill(pid, SIGINT);
		r->exit_code = reap(pid, 10);
		qk_seg_unlink(inst);
		return -1;
	}
	int64_t t0 = qk_now_ns();

	follow(&s, r, t0, t0 + (int64_t)o->loop_s * QK_NSEC);
	memcpy(&r->st[0], &s.stats[QK_PROC_SIM], sizeof(r->st[0]));
	memcpy(&r->st[1], &s.stats[QK_PROC_AGENT], sizeof(r->st[1]));
	qk_seg_detach(&s);
	kill(pid, SIGINT);
	r->exit_code = reap(pid, 15);
	snprintf(path, sizeof(path), "/dev/shm/qiki.%s", inst);
	if (access(path, F_OK) == 0) {	/* a launcher that died leaves it */
		fprintf(stderr, "loop: %s left behind by qiki (exit %d): removed\n", path, r->exit_code);
		qk_seg_unlink(inst);
	}
	return r->exit_code ? -1 : 0;
}

/* ---- output ----------------------------------------------------------------------- */


static void json_proc(FILE *f, const char *name, const struct qk_proc_stats *p, bool agent)
{
	fprintf(f, "\"%s\":{\"cycles\":%llu,\"overruns\":%llu,\"frames_lost\":%llu,"
		"\"frames_stale\":%llu,\"missed_cycle\":%llu,\"real_time\":%s,", name,
		(unsigned long long)p->cycles, (unsigned long long)p->overruns,
		(unsigned long long)p->frames_lost, (unsigned long long)p->frames_stale,
		(unsigned long long)p->missed_cycle, p->flags & QK_PROCF_RT ? "true" : "false");
	bench_json_hist(f, "wake_latency", &p->wake_latency);
	fputc(',', f);
	bench_json_hist(f, "compute", &p->compute);
	if (agent) {
		fputc(',', f);
		bench_json_hist(f, "sensor_to_actuation", &p->s2a);
		fputc(',', f);
		bench_json_hist(f, "front_margin", &p->front);
		fputc(',', f);
		bench_json_hist(f, "back_margin", &p->back);
	}
	fputc('}', f);
}

static void json_series(FILE *f, const char *name, const int64_t *v, int n)
{
	fprintf(f, "\"%s\":[", name);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%lld", i ? "," : "", (long long)v[i]);
	fputc(']', f);
}

static void line(const char *what, const struct qk_hist *h)
{
	printf("  %-34s avg %8.1f  p50 %8.1f  p99 %8.1f  p99.9 %8.1f  max %9.1f us\n", what,
	       qk_hist_mean(h) / 1e3, qk_hist_quantile(h, 0.5) / 1e3, qk_hist_quantile(h, 0.99) / 1e3,
	       qk_hist_quantile(h, 0.999) / 1e3, qk_hist_max(h) / 1e3);
}

/* Timer mode refuses a rate whose margins do not fit: the agent never ran.
 * That is the answer, not a failure of the bench. */
static bool refused(const struct run *r)
{
	return !strcmp(r->mode, "timer") && r->st[1].cycles == 0 && r->st[0].cycles > 0;
}

static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)	/* insertion sort: n <= MAX_RUNS */
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The medians over a mode's repeats of the figures the issue asks for. */
static void medians(const struct opts *o, struct run *rs, const struct ct ct[2])
{
	double ov[MAX_RUNS], lost[MAX_RUNS], savg[MAX_RUNS], s50[MAX_RUNS], s99[MAX_RUNS], f50[MAX_RUNS],
	       fmin[MAX_RUNS], b50[MAX_RUNS], bmin[MAX_RUNS];
	int n = 0;

	for (int k = 0; k < o->n_runs; k++) {
		const struct qk_proc_stats *a = &rs[k].st[1];

		if (refused(&rs[k]))
			continue;
		n++;

		ov[n - 1] = (double)a->overruns;
		lost[n - 1] = (double)a->frames_lost;
		savg[n - 1] = qk_hist_mean(&a->s2a) / 1e3;
		s50[n - 1] = qk_hist_quantile(&a->s2a, 0.5) / 1e3;
		s99[n - 1] = qk_hist_quantile(&a->s2a, 0.99) / 1e3;
		f50[n - 1] = qk_hist_quantile(&a->front, 0.5) / 1e3;
		fmin[n - 1] = qk_hist_min(&a->front) / 1e3;
		b50[n - 1] = qk_hist_quantile(&a->back, 0.5) / 1e3;
		bmin[n - 1] = qk_hist_min(&a->back) / 1e3;
	}
	if (!n) {
		printf("  %-5s the agent ran in none of the %d runs (refused: see qiki-logs)\n",
		       rs[0].mode, o->n_runs);
		return;
	}
	/* the floor's spikes, scaled to one run's length */
	double ct_secs = 0, spikes = 0;

	for (int k = 0; k < 2; k++)
		if (ct[k].ok) {
			ct_secs += o->ct_s;
			spikes += (double)ct[k].spikes;
		}
	printf("  median of %d, %-5s agent overruns %.0f, frames lost %.0f; floor spikes > 100 us "
	       "%.1f per %d s (%.0f in %.0f s); s2a avg %.1f p50 %.1f p99 %.1f us; front margin p50 %.1f "
	       "min %.1f us; back margin p50 %.1f min %.1f us\n", n, rs[0].mode, median(ov, n),
	       median(lost, n), ct_secs > 0 ? spikes * o->loop_s / ct_secs : -1.0, o->loop_s, spikes,
	       ct_secs, median(savg, n), median(s50, n), median(s99, n), median(f50, n), median(fmin, n),
	       median(b50, n), median(bmin, n));
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static char qiki[PATH_MAX], dir[PATH_MAX];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	bool quick = false;
	const char *modes = NULL;

	*o = (struct opts){ .prio = 80, .cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1 };
	self[n > 0 ? n : 0] = 0;
	/* build/bench/bin/loop -> build/bin/qiki */
	char *slash = strrchr(self, '/');

	if (slash)
		*slash = 0;
	snprintf(qiki, sizeof(qiki), "%.4000s/../../bin/qiki", slash ? self : ".");
	o->qiki = getenv("QIKI_BIN") ? getenv("QIKI_BIN") : qiki;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--no-rt"))
			o->no_rt = true;
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			o->json = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			o->loop_s = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--modes") && i + 1 < argc)
			modes = argv[++i];
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			o->n_runs = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: loop [--quick] [--no-rt] [--seconds S] [--runs N] "
				"[--modes futex,timer,spin] [--json FILE]\n");
			return -1;
		}
	}
	if (!o->loop_s)
		o->loop_s = quick ? 6 : 20;
	if (o->n_runs < 1 || o->n_runs > MAX_RUNS)
		o->n_runs = quick ? 1 : 3;
	o->rates[o->n_rates++] = 1000;
	o->rates[o->n_rates++] = 10000;
	if (!modes) {
		modes = "futex,timer";
		o->skipped = "spin: not run by default; qiki run --cpu pins sim and agent to one CPU, "
			     "where a spinning SCHED_FIFO agent meets RT throttling (--modes to force)";
	}
	static const char *const all[] = { "futex", "timer", "spin" };	/* the default first */

	for (int m = 0; m < 3; m++)
		if (strstr(modes, all[m]))
			o->modes[o->n_modes++] = all[m];
	/* cyclictest gets as much time as the loop (half before, half after),
	 * so a rare spike of the machine has the same chance to hit either */
	o->ct_s = o->loop_s * o->n_runs * (o->n_modes ? o->n_modes : 1) / 2;
	if (o->ct_s < 2)
		o->ct_s = 2;
	/* files beside the JSON: cyclictest's, qiki's logs */
	snprintf(dir, sizeof(dir), "%s", o->json ? o->json : "");
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	o->outdir = slash && dir[0] ? dir : ".";
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	static struct ct ct[4][2];
	static struct run runs[4][3][MAX_RUNS];
	int fails = 0;

	if (parse_args(argc, argv, &o))
		return 1;
	if (access(o.qiki, X_OK)) {
		fprintf(stderr, "loop: %s not built (make all)\n", o.qiki);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* qiki's own log files go beside the report, not to /var/log/qiki */
	char logdir[PATH_MAX + 16];

	snprintf(logdir, sizeof(logdir), "%s/qiki-logs", o.outdir);
	setenv("QIKI_LOG_DIR", logdir, 0);
	/* this process (the ring follower) keeps off the loop's CPU; qiki and
	 * cyclictest pin their measuring threads themselves */
	cpu_set_t others;

	CPU_ZERO(&others);
	for (int c = 0; c < (int)sysconf(_SC_NPROCESSORS_ONLN); c++)
		if (c != o.cpu)
			CPU_SET(c, &others);
	if (CPU_COUNT(&others))
		sched_setaffinity(0, sizeof(others), &others);
	printf("loop bench: %s, CPU %d, priority %d, %d s per run, %d run%s per mode, cyclictest "
	       "%d s before and after\n", o.no_rt ? "NOT real-time (--no-rt)" : "SCHED_FIFO", o.cpu,
	       o.prio, o.loop_s, o.n_runs, o.n_runs > 1 ? "s" : "", o.ct_s);
	for (int ri = 0; ri < o.n_rates; ri++) {
		int rate = o.rates[ri];

		printf("== %d Hz\n", rate);
		fflush(stdout);
		cyclictest(&o, rate, "before", &ct[ri][0]);
		for (int m = 0; m < o.n_modes; m++) {
			for (int k = 0; k < o.n_runs; k++) {
				struct run *r = &runs[ri][m][k];
				char what[64];

				r->rate = rate;
				r->mode = o.modes[m];
				r->repeat = k;
				if (loop_run(&o, r) && refused(r)) {
					printf("  %d Hz timer #%d: the agent refused the rate (its reason, with "
					       "the figures, is in %s/qiki-logs)\n", rate, k + 1, o.outdir);
					continue;
				} else if (r->exit_code) {
					fails++;
					fprintf(stderr, "loop: %d Hz %s: qiki exited %d\n", rate, r->mode,
						r->exit_code);
				}
				snprintf(what, sizeof(what), "sim wake-up, %s #%d", r->mode, k + 1);
				line(what, &r->st[0].wake_latency);
				snprintf(what, sizeof(what), "agent wake-up, %s #%d", r->mode, k + 1);
				line(what, &r->st[1].wake_latency);
				snprintf(what, sizeof(what), "sensor-to-actuation, %s #%d", r->mode, k + 1);
				line(what, &r->st[1].s2a);
				snprintf(what, sizeof(what), "front margin, %s #%d", r->mode, k + 1);
				line(what, &r->st[1].front);
				snprintf(what, sizeof(what), "back margin, %s #%d", r->mode, k + 1);
				line(what, &r->st[1].back);
				printf("  %-34s sim %llu/%llu  agent %llu/%llu (overruns/frames lost)\n", "",
				       (unsigned long long)r->st[0].overruns,
				       (unsigned long long)r->st[0].frames_lost,
				       (unsigned long long)r->st[1].overruns,
				       (unsigned long long)r->st[1].frames_lost);
				fflush(stdout);
			}
		}
		cyclictest(&o, rate, "after", &ct[ri][1]);
		for (int k = 0; k < 2; k++) {
			if (ct[ri][k].ok && ct[ri][k].builtin)
				line(k ? "floor after (built-in)" : "floor before (built-in)", &ct[ri][k].h);
			else if (ct[ri][k].ok)
				line(k ? "cyclictest after" : "cyclictest before", &ct[ri][k].h);
			else
				printf("  cyclictest %s: %s\n", k ? "after" : "before", ct[ri][k].err);
		}
		for (int m = 0; m < o.n_modes; m++)
			medians(&o, runs[ri][m], ct[ri]);
	}
	if (!o.json)
		return fails ? 1 : 0;
	FILE *f = bench_json_open(o.json, "loop");

	if (!f)
		return 1;
	fprintf(f, "\"sched_fifo\":%s,\"priority\":%d,\"cpu\":%d,\"repeats\":%d,"
		"\"seconds\":%d,\"cyclictest_seconds\":%d,\"window_ms\":%lld,\"skipped\":",
		o.no_rt ? "false" : "true", o.prio, o.cpu, o.n_runs, o.loop_s, o.ct_s,
		WINDOW_NS / 1000000);
	if (o.skipped)
		fprintf(f, "[\"%s\"]", o.skipped);
	else
		fprintf(f, "[]");
	fprintf(f, ",\"rates\":[");
	for (int ri = 0; ri < o.n_rates; ri++) {
		fprintf(f, "%s{\"rate_hz\":%d,\"period_us\":%d,\"cyclictest\":{", ri ? "," : "",
			o.rates[ri], 1000000 / o.rates[ri]);
		for (int k = 0; k < 2; k++) {
			struct ct *c = &ct[ri][k];

			fprintf(f, "%s\"%s\":{\"ok\":%s,\"tool\":\"%s\",\"error\":\"%s\",\"cycles\":%llu,"
				"\"overflows\":%llu,\"spikes_over_100us\":%llu,", k ? "," : "",
				k ? "after" : "before", c->ok ? "true" : "false",
				c->builtin ? "builtin" : "cyclictest", c->err,
				(unsigned long long)c->cycles, (unsigned long long)c->overflows,
				(unsigned long long)c->spikes);
			bench_json_hist(f, "latency", &c->h);
			fputc('}', f);
		}
		fprintf(f, "},\"runs\":[");
		for (int m = 0; m < o.n_modes; m++) {
			for (int k = 0; k < o.n_runs; k++) {
				struct run *r = &runs[ri][m][k];

				fprintf(f, "%s{\"wake\":\"%s\",\"repeat\":%d,\"refused\":%s,\"qiki_exit\":%d,"
					"\"reader_lost\":%llu,", m || k ? "," : "", r->mode, k,
					refused(r) ? "true" : "false",
					r->exit_code, (unsigned long long)r->reader_lost);
				json_proc(f, "sim", &r->st[0], false);
				fputc(',', f);
				json_proc(f, "agent", &r->st[1], true);
				fprintf(f, ",\"timeline\":{");
				json_series(f, "sim_wake_max_ns", r->tl.sim_wake, r->tl.n);
				fputc(',', f);
				json_series(f, "s2a_max_ns", r->tl.s2a, r->tl.n);
				fputc(',', f);
				json_series(f, "agent_compute_max_ns", r->tl.agent_compute, r->tl.n);
				fprintf(f, "}}");
				free(r->tl.sim_wake);
			}
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]}\n");
	fclose(f);
	return fails ? 1 : 0;
}
