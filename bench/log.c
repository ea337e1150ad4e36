/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * bench/log.c - the logger against the loggers a user would otherwise write,
 * in the same run: fprintf to a file (stdio, buffered) and a plain write(2)
 * per line (snprintf + write).
 *
 * 1. Cost per call on the calling thread: each call timed alone with
 *    clock_gettime (the timer's own cost is measured and reported beside
 *    it), at a pace the logger keeps up with, pinned to the loop's CPU
 *    under SCHED_FIFO when allowed.  min, p50, p99, p99.9, max.
 * 2. The drain: records/s from the logger's ring into the file, binary
 *    (no formatting), text and JSON, beside fprintf and snprintf + write(2)
 *    doing the same records in the same run (their whole cost is their
 *    drain).  Our ring is filled while the logger is paused, then the clock
 *    runs until every record is written.
 * 3. Sustained: 1 M records/s offered for 10 s (2 s quick) into the default
 *    ring, binary and text, by a SCHED_FIFO producer on the loop's CPU that
 *    sleeps to each batch's deadline as a loop does (a batch more than 1 ms
 *    late is skipped and counted, never caught up in a burst); the logger
 *    at SCHED_FIFO 1 (opts.prio), and binary once more as an ordinary
 *    thread and once on tmpfs.  Beside it, in the same run: the disk's
 *    write floor (the same bytes with O_DIRECT), the host's steal time, and
 *    how long the logger thread waited on the run queue.
 * 4. Anatomy of the slow calls: each call timed with a TSC pair (lfence,
 *    rdtsc ... rdtscp, lfence); the same pair around nothing, and around the
 *    same call into a ring no other core reads (the machine's floor for the
 *    call: its own stores, interrupts, preemption), beside the real one; a
 *    store that must take a cache line back from the other core (what the
 *    producer pays after a logger pass); the slow calls sorted by whether
 *    the logger passed since the call before, and by whether it is the
 *    first after the pacing pause; the loop CPU's timer interrupts, the
 *    caller's involuntary switches and page faults; and the CPU the machine
 *    takes from a thread that spins at SCHED_FIFO (gaps between two TSC
 *    reads over 1 us, as hwlatdetect and osnoise count them).
 *
 * usage: log [--quick] [--no-rt] [--json FILE] [--dir DIR]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench/bench.h"
#include "rt/log.h"
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#define FMT "state %s -> %s at cycle %llu, x=%.3f m, tank %.2f bar"

struct dist {
	double min, p50, p99, p999, max;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static struct dist summarize(int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp64);
	return (struct dist){ (double)v[0], (double)v[n / 2], (double)v[n * 99 / 100],
			      (double)v[n * 999 / 1000], (double)v[n - 1] };
}

enum kind { K_QIKI, K_FPRINTF, K_WRITE, K_COUNT };
static const char *const kind_name[K_COUNT] = { "qiki logger (io_uring)", "fprintf to a file",
						 "snprintf + write(2)" };
static const char *const kind_key[K_COUNT] = { "qiki", "fprintf", "write" };

struct sink {
	enum kind k;
	struct qk_log *lg;
	FILE *f;
	int fd;
	char line[512];
};

static const char *const names[] = { "IDLE", "ACTIVE", "SAFE", "BOOTING" };

static inline void one(struct sink *s, uint64_t i)
{
	const char *a = names[i & 3], *b = names[(i + 1) & 3];
	double x = (double)i * 0.001, p = 20.0 - (double)(i & 1023) * 0.01;

	switch (s->k) {
	case K_QIKI:
		QK_INFO(s->lg, FMT, a, b, (unsigned long long)i, x, p);
		break;
	case K_FPRINTF:
		fprintf(s->f, "%lld INFO bench/log.c:%d: " FMT "\n", (long long)now_ns(), __LINE__,
			a, b, (unsigned long long)i, x, p);
		break;
	default: {
		int n = snprintf(s->line, sizeof(s->line), "%lld INFO bench/log.c:%d: " FMT "\n",
				 (long long)now_ns(), __LINE__, a, b, (unsigned long long)i, x, p);

		if (write(s->fd, s->line, (size_t)n) < 0)
			abort();
	}
	}
}

static void open_sink(struct sink *s, enum kind k, const char *dir, const char *tag, bool no_uring,
		      uint32_t ring)
{
	char path[512], err[256];

	memset(s, 0, sizeof(*s));
	s->k = k;
	snprintf(path, sizeof(path), "%s/%s-%s.log", dir, kind_key[k], tag);
	unlink(path);
	if (k == K_QIKI) {
		struct qk_log_opts o = { .path = path, .proc = "bench", .level = QK_LOG_INFO,
					 .format = QK_LOG_BINARY,
					 .avoid_cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1,
					 .no_uring = no_uring, .ring_bytes = ring,
					 .rotate_bytes = 1ull << 40 };

		s->lg = qk_log_create(&o, err, sizeof(err));
		if (!s->lg) {
			fprintf(stderr, "log: %s\n", err);
			exit(1);
		}
	} else if (k == K_FPRINTF) {
		s->f = fopen(path, "a");
	} else {
		s->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	}
	if ((k == K_FPRINTF && !s->f) || (k == K_WRITE && s->fd < 0)) {
		fprintf(stderr, "log: cannot open %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* Closes, with everything on disk; returns the bytes in the file. */
static uint64_t close_sink(struct sink *s, const char *dir, const char *tag, uint64_t *dropped)
{
	char path[512];
	struct stat st;

	*dropped = 0;
	if (s->k == K_QIKI) {
		struct qk_log_stats ls;

		qk_log_get_stats(s->lg, &ls);
		*dropped = ls.dropped;
		qk_log_destroy(s->lg);	/* drains, writes, fsyncs */
	} else if (s->k == K_FPRINTF) {
		fflush(s->f);
		fsync(fileno(s->f));
		fclose(s->f);
	} else {
		fsync(s->fd);
		close(s->fd);
	}
	snprintf(path, sizeof(path), "%s/%s-%s.log", dir, kind_key[s->k], tag);
	if (stat(path, &st))
		return 0;
	unlink(path);
	return (uint64_t)st.st_size;
}

struct percall {
	struct dist d;
	uint64_t n, dropped;
	double group_p50;		/* ns a burst of GROUP calls took, p50 */
};

#define GROUP 1000
#define STR_(x) #x
#define STR(x) STR_(x)

static void pause_ns(int64_t ns)
{
	struct timespec ts = { 0, ns };

	nanosleep(&ts, NULL);
}

/* After call i: every 64 calls a 128 us pause (under 500 k records/s, the
 * logger's pace), spun so that the caller's caches stay its own; every
 * 4096 a 4 ms sleep, so that the spinning takes at most ~70 % of the CPU: a
 * SCHED_FIFO spin of seconds would use up the CPU's real-time budget (950
 * ms a second) and throttle every other real-time thread there. */
static void pace(uint64_t i)
{
	if ((i & 4095) == 4095) {
		pause_ns(4000000);
	} else if ((i & 63) == 63) {
		int64_t until = now_ns() + 128000;

		while (now_ns() < until)
			;
	}
}

/* Each call timed alone; a pause every 64 calls lets our logger keep up
 * (no drops: a drop is cheaper than a record and would flatter us), as a
 * loop logging a few lines per cycle would. */
static struct percall per_call(enum kind k, const char *dir, uint64_t n, int64_t *v)
{
	struct sink s;
	struct percall r = { .n = n };
	uint64_t bytes;

	open_sink(&s, k, dir, "percall", false, 0);
	for (uint64_t i = 0; i < 2000; i++)	/* warm: caches, first pages */
		one(&s, i);
	if (k == K_QIKI)
		qk_log_flush(s.lg);
	for (uint64_t i = 0; i < n; i++) {
		int64_t t0 = now_ns();

		one(&s, i);
		v[i] = now_ns() - t0;
		pace(i);
	}
	r.d = summarize(v, n);
	/* Then the same calls back to back, GROUP at a time, each burst timed
	 * whole and followed by a 1 ms sleep (the logger drains it): what a
	 * call costs warm, as NanoLog and ck_ring are measured.  The clock moves
	 * in 10 ns steps on this machine, too coarse for one call alone. */
	for (uint64_t g = 0; g < n / GROUP; g++) {
		int64_t t0 = now_ns();

		for (int i = 0; i < GROUP; i++)
			one(&s, n + g * GROUP + (uint64_t)i);
		v[g] = now_ns() - t0;
		pause_ns(1000000);
	}
	r.group_p50 = summarize(v, n / GROUP).p50;
	bytes = close_sink(&s, dir, "percall", &r.dropped);
	(void)bytes;
	return r;
}

/* ---- the drain: records/s from a full ring to the file ---------------------- */

struct drain {
	double recs_s, bytes_s, secs;
	uint64_t n, dropped, bytes;
};

/* Our logger: n records logged into one ring big enough to hold them all
 * while the logger is paused; then the clock runs from resume until every
 * record is in the file (written, not fsynced).  The caller's cost is not
 * in it: that is the per-call figure. */
static struct drain drain_qiki(enum qk_log_format fmt, const char *dir, uint64_t n, bool no_uring)
{
	char path[512], err[256];
	struct qk_log_opts o = { .path = path, .proc = "bench", .level = QK_LOG_INFO,
				 .format = fmt, .avoid_cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1,
				 .no_uring = no_uring, .threads = 1, .paused = true,
				 .ring_bytes = 1u << 26, .rotate_bytes = 1ull << 40, .fsync_ms = -1 };
	struct drain d = { .n = n };
	struct qk_log_stats ls;
	struct sink s = { .k = K_QIKI };
	struct stat st;

	snprintf(path, sizeof(path), "%s/drain-%d%s.log", dir, (int)fmt, no_uring ? "-plain" : "");
	unlink(path);
	if (!(s.lg = qk_log_create(&o, err, sizeof(err)))) {
		fprintf(stderr, "log: %s\n", err);
		exit(1);
	}
	for (uint64_t i = 0; i < n; i++)
		one(&s, i);
	int64_t t0 = now_ns();

	qk_log_resume(s.lg);
	qk_log_flush(s.lg);
	d.secs = (double)(now_ns() - t0) / 1e9;
	qk_log_get_stats(s.lg, &ls);
	qk_log_destroy(s.lg);
	d.dropped = ls.dropped;
	if (stat(path, &st) == 0)
		d.bytes = (uint64_t)st.st_size;
	unlink(path);
	d.recs_s = (double)(n - d.dropped) / d.secs;
	d.bytes_s = (double)d.bytes / d.secs;
	return d;
}

#define DRAIN_RUNS 3
_Static_assert(DRAIN_RUNS == 3, "drain_median() picks the middle of three");

/* The run of column c with the median records/s. */
static struct drain drain_median(struct drain r[DRAIN_RUNS][6], int c)
{
	int lo = 0, hi = 0;

	for (int k = 1; k < DRAIN_RUNS; k++) {
		lo = r[k][c].recs_s < r[lo][c].recs_s ? k : lo;
		hi = r[k][c].recs_s > r[hi][c].recs_s ? k : hi;
	}
	return r[lo == hi ? 0 : 3 - lo - hi][c];
}

/* fprintf and snprintf + write(2): their whole cost is the "drain". */
static struct drain drain_stdio(enum kind k, const char *dir, uint64_t n)
{
	struct sink s;
	struct drain d = { .n = n };
	uint64_t dropped;

	open_sink(&s, k, dir, "drain", false, 0);
	int64_t t0 = now_ns();

	for (uint64_t i = 0; i < n; i++)
		one(&s, i);
	if (k == K_FPRINTF)
		fflush(s.f);
	d.secs = (double)(now_ns() - t0) / 1e9;
	d.bytes = close_sink(&s, dir, "drain", &dropped);
	d.recs_s = (double)n / d.secs;
	d.bytes_s = (double)d.bytes / d.secs;
	return d;
}

/* ---- sustained: a paced producer, default ring, for secs ------------------- */

struct sustained {
	double rate, secs;
	uint64_t offered, dropped, written, skipped, passes, max_gap_ns, max_fill, bytes;
	double steal_ms, run_ms, wait_ms;	/* host steal on the logger's CPUs; the logger thread */
	bool fifo;				/* the logger ran at SCHED_FIFO */
};

/* The steal time of every CPU but `skip`, ms (/proc/stat, USER_HZ). */
static double steal_ms(int skip)
{
	char l[512];
	double ms = 0;
	FILE *f = fopen("/proc/stat", "r");

	while (f && fgets(l, sizeof(l), f)) {
		unsigned long long v[8] = { 0 };
		int cpu;

		if (strncmp(l, "cpu", 3) || l[3] == ' ' ||
		    sscanf(l, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &v[6], &v[7]) != 9 || cpu == skip)
			continue;
		ms += (double)v[7] * 1000.0 / (double)sysconf(_SC_CLK_TCK);
	}
	if (f)
		fclose(f);
	return ms;
}

/* The logger thread's time on a CPU and waiting for one, ms
 * (/proc/self/task/<tid>/schedstat); false when not found. */
static bool logger_sched_ms(double *run, double *wait)
{
	char p[300], l[128];
	bool ok = false;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	while (d && !ok && (e = readdir(d))) {
		FILE *f;

		snprintf(p, sizeof(p), "/proc/self/task/%s/comm", e->d_name);
		if (e->d_name[0] == '.' || !(f = fopen(p, "r")))
			continue;
		ok = fgets(l, sizeof(l), f) && !strcmp(l, "qk-log\n");
		fclose(f);
		snprintf(p, sizeof(p), "/proc/self/task/%s/schedstat", e->d_name);
		if (ok && (f = fopen(p, "r"))) {
			unsigned long long r = 0, w = 0;

			ok = fscanf(f, "%llu %llu", &r, &w) == 2;
			*run = (double)r / 1e6;
			*wait = (double)w / 1e6;
			fclose(f);
		}
	}
	if (d)
		closedir(d);
	return ok;
}

/* 1 M records/s as a loop would log them: 64 records every 64 us, the
 * producer asleep to each deadline (SCHED_FIFO on the loop's CPU when
 * allowed); a batch found more than 1 ms late is skipped and counted, not
 * caught up (a burst of the missed ones would be a test of the ring's
 * size, not of the logger's pace). */
static struct sustained sustain(enum qk_log_format fmt, const char *dir, double rate, double secs,
				int prio, bool rt)
{
	char path[512], err[256];
	struct qk_log_opts o = { .path = path, .proc = "bench", .level = QK_LOG_INFO,
				 .format = fmt, .avoid_cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1,
				 .rotate_bytes = 64ull << 20, .keep = 1, .prio = prio };
	struct sustained r = { .rate = rate, .secs = secs };
	struct sink s = { .k = K_QIKI };
	struct qk_log_stats ls;
	int64_t t0, step = (int64_t)(1e9 / rate * 64);
	double st0, run0 = 0, wait0 = 0, run1 = 0, wait1 = 0;
	uint64_t i = 0;

	snprintf(path, sizeof(path), "%s/sustain-%d.log", dir, (int)fmt);
	if (!(s.lg = qk_log_create(&o, err, sizeof(err)))) {
		fprintf(stderr, "log: %s\n", err);
		exit(1);
	}
	/* the producer on the loop's CPU, the logger off it: as in the loop */
	cpu_set_t set, old;
	struct sched_param sp = { .sched_priority = 50 };

	sched_getaffinity(0, sizeof(old), &old);
	CPU_ZERO(&set);
	CPU_SET(o.avoid_cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	if (rt)
		sched_setscheduler(0, SCHED_FIFO, &sp);
	st0 = steal_ms(o.avoid_cpu);
	logger_sched_ms(&run0, &wait0);
	t0 = now_ns() + 1000000;
	for (int64_t due = t0; due - t0 < (int64_t)(secs * 1e9); due += step) {
		struct timespec ts = { due / 1000000000, due % 1000000000 };

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		if (now_ns() - due > 1000000) {
			r.skipped++;
			continue;
		}
		for (int k = 0; k < 64; k++)
			one(&s, i++);
	}
	r.steal_ms = steal_ms(o.avoid_cpu) - st0;
	logger_sched_ms(&run1, &wait1);
	r.run_ms = run1 - run0;
	r.wait_ms = wait1 - wait0;
	sp.sched_priority = 0;
	if (rt)
		sched_setscheduler(0, SCHED_OTHER, &sp);
	sched_setaffinity(0, sizeof(old), &old);
	qk_log_get_stats(s.lg, &ls);
	qk_log_destroy(s.lg);
	r.offered = i;
	r.dropped = ls.dropped;
	r.written = r.offered - r.dropped;
	r.passes = ls.passes;
	r.max_gap_ns = ls.max_gap_ns;
	r.max_fill = ls.max_fill;
	r.bytes = ls.bytes;
	r.fifo = ls.fifo;
	unlink(path);
	snprintf(path, sizeof(path), "%s/sustain-%d.log.1", dir, (int)fmt);
	unlink(path);
	return r;
}

/* The disk's own floor: `bytes` written with O_DIRECT in 1 MiB blocks and
 * fdatasync'd, MB/s; 0 when the file system refuses O_DIRECT (tmpfs). */
static double disk_floor(const char *dir, uint64_t bytes)
{
	char path[512];
	void *buf;
	double mbs = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/direct.bin", dir);
	if (posix_memalign(&buf, 1 << 20, 1 << 20))
		return 0;
	memset(buf, 0x5a, 1 << 20);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		int64_t t0 = now_ns();
		uint64_t done = 0;

		while (done < bytes && write(fd, buf, 1 << 20) == 1 << 20)
			done += 1 << 20;
		fdatasync(fd);
		if (done >= bytes)
			mbs = (double)done / 1e6 / ((double)(now_ns() - t0) / 1e9);
		close(fd);
		unlink(path);
	}
	free(buf);
	return mbs;
}

/* ---- anatomy of the slow calls ---------------------------------------------- */

enum amode { A_EMPTY, A_PRIVATE, A_SHARED, A_MODES };

struct anat {
	struct dist d;			/* ns, net of the empty pair's p50 */
	uint64_t n, slow;		/* calls; calls over 100 ns net */
	uint64_t after_pass, slow_after_pass;
	uint64_t after_pause, slow_after_pause;	/* the first call after pace()'s pause */
	struct dist rest;		/* the calls that do not follow a pause */
	long irqs, nivcsw, minflt;	/* on the loop's CPU during the run */
};

/* The CPU taken from a thread that never lets go of it: `secs` of a
 * SCHED_FIFO spin on the loop's CPU reading the TSC, and every step between
 * two reads longer than 1 us (an interrupt, the host running something
 * else: hwlatdetect's and osnoise's measure).  A call that follows such a
 * gap finds its cache lines and TLB entries gone. */
struct gaps {
	double secs;
	uint64_t over_1us, over_20us;
	double lost_ms, max_us;
};

#if defined(__x86_64__)
static struct gaps cpu_gaps(double secs, double tpn)
{
	struct gaps g = { .secs = secs };
	uint64_t one_us = (uint64_t)(1000 * tpn), max = 0, lost = 0;

	/* 100 ms pieces with a 20 ms sleep between (not counted): one spin of
	 * a second would use up the CPU's real-time budget (950 ms a second)
	 * and count the kernel's own throttling, 50 ms, as the machine's */
	for (int piece = 0; piece < (int)(secs * 10 + 0.5); piece++) {
		uint64_t t = __rdtsc(), end = t + (uint64_t)(0.1 * 1e9 * tpn);

		while (t < end) {
			uint64_t u = __rdtsc(), d = u - t;

			t = u;
			if (d <= one_us)
				continue;
			g.over_1us++;
			g.over_20us += d > 20 * one_us;
			lost += d;
			max = d > max ? d : max;
		}
		pause_ns(20000000);
	}
	g.lost_ms = (double)lost / tpn / 1e6;
	g.max_us = (double)max / tpn / 1e3;
	return g;
}
#endif

#if defined(__x86_64__)
static inline uint64_t tsc_begin(void)
{
	_mm_lfence();
	uint64_t t = __rdtsc();

	_mm_lfence();
	return t;
}

static inline uint64_t tsc_end(void)
{
	unsigned aux;
	uint64_t t = __rdtscp(&aux);

	_mm_lfence();
	return t;
}

static double tsc_per_ns(void)
{
	int64_t n0 = now_ns();
	uint64_t t0 = __rdtsc();

	pause_ns(50000000);
	return (double)(__rdtsc() - t0) / (double)(now_ns() - n0);
}

/* The loop CPU's local timer interrupts so far (/proc/interrupts LOC). */
static long timer_irqs(int cpu)
{
	char l[4096];
	long v = -1;
	FILE *f = fopen("/proc/interrupts", "r");

	while (f && fgets(l, sizeof(l), f)) {
		char *p = strstr(l, "LOC:");

		if (!p)
			continue;
		p += 4;
		for (int c = 0; c <= cpu; c++)
			v = strtol(p, &p, 10);
	}
	if (f)
		fclose(f);
	return v;
}

/* n calls, paced as per_call(); `empty` is the
 * pair's own p50 in cycles (0 when measuring it). */
static struct anat anatomy(enum amode m, const char *dir, uint64_t n, uint64_t *v, double tpn,
			   double empty, int cpu)
{
	char path[512], err[256];
	struct qk_log_opts o = { .path = path, .proc = "bench", .level = QK_LOG_INFO,
				 .format = QK_LOG_BINARY, .avoid_cpu = cpu, .rotate_bytes = 1ull << 40,
				 .paused = m == A_PRIVATE };
	struct anat a = { .n = n };
	struct sink s = { .k = K_QIKI };
	struct rusage r0, r1;
	uint64_t last_tail = 0, thr = (uint64_t)(empty + 100 * tpn);

	snprintf(path, sizeof(path), "%s/anatomy-%d.log", dir, (int)m);
	unlink(path);
	if (m != A_EMPTY && !(s.lg = qk_log_create(&o, err, sizeof(err)))) {
		fprintf(stderr, "log: %s\n", err);
		exit(1);
	}
	struct qk__log_ring *r = s.lg ? qk__log_tls.r : NULL;

	for (uint64_t i = 0; i < 2000 && s.lg; i++)	/* warm, as per_call() */
		one(&s, i);
	if (m == A_SHARED)
		qk_log_flush(s.lg);
	else if (r)	/* the producer takes its own records back: no other core reads */
		qk_store_release(&r->tail, qk_load_relaxed(&r->head));
	a.irqs = timer_irqs(cpu);
	getrusage(RUSAGE_THREAD, &r0);
	for (uint64_t i = 0; i < n; i++) {
		bool passed = false;

		if (m == A_SHARED) {	/* outside the pair: did the logger pass? */
			uint64_t t = qk_load_relaxed(&r->tail);

			passed = t != last_tail;
			last_tail = t;
		}
		uint64_t t0 = tsc_begin();

		if (m != A_EMPTY)
			one(&s, i);
		v[i] = tsc_end() - t0;
		if (passed) {
			a.after_pass++;
			a.slow_after_pass += v[i] > thr;
		}
		if (i && !(i & 63)) {
			a.after_pause++;
			a.slow_after_pause += v[i] > thr;
		}
		a.slow += v[i] > thr;
		if ((i & 63) == 63 && m == A_PRIVATE)
			qk_store_release(&r->tail, qk_load_relaxed(&r->head));
		pace(i);
	}
	getrusage(RUSAGE_THREAD, &r1);
	a.irqs = timer_irqs(cpu) - a.irqs;
	a.nivcsw = r1.ru_nivcsw - r0.ru_nivcsw;
	a.minflt = r1.ru_minflt - r0.ru_minflt;
	if (s.lg)
		qk_log_destroy(s.lg);
	unlink(path);
	/* the calls that do not follow a pause, apart (before v is sorted) */
	int64_t *rest = malloc(n * sizeof(*rest));
	size_t nr = 0;

	for (uint64_t i = 0; rest && i < n; i++)
		if (!i || (i & 63))
			rest[nr++] = (int64_t)v[i];
	if (nr) {
		a.rest = summarize(rest, nr);
		a.rest = (struct dist){ (a.rest.min - empty) / tpn, (a.rest.p50 - empty) / tpn,
					(a.rest.p99 - empty) / tpn, (a.rest.p999 - empty) / tpn,
					(a.rest.max - empty) / tpn };
	}
	free(rest);
	a.d = summarize((int64_t *)v, n);
	a.d = (struct dist){ (a.d.min - empty) / tpn, (a.d.p50 - empty) / tpn, (a.d.p99 - empty) / tpn,
			     (a.d.p999 - empty) / tpn, (a.d.max - empty) / tpn };
	return a;
}

/* A cache line another core keeps reading, and one it never touches. */
struct pingpong {
	_Alignas(64) _Atomic uint64_t shared;
	_Alignas(64) _Atomic uint64_t private_;
	_Alignas(64) _Atomic int stop;
	_Alignas(64) _Atomic uint64_t seen;
};

static void *reader(void *arg)
{
	struct pingpong *pp = arg;
	uint64_t x = 0;

	while (!atomic_load_explicit(&pp->stop, memory_order_relaxed))
		x += atomic_load_explicit(&pp->shared, memory_order_relaxed);
	atomic_store_explicit(&pp->seen, x, memory_order_relaxed);
	return NULL;
}

/* What a store costs that must take its line back from the other core (a
 * locked exchange: it waits for the line, a plain store would hide the
 * wait in the store buffer), beside one on a private line; ns p50, p99. */
static void line_floor(int cpu, uint64_t *v, size_t n, double tpn, double empty, struct dist *shared,
		       struct dist *private_)
{
	static struct pingpong pp;
	pthread_t t;
	pthread_attr_t at;
	cpu_set_t set;

	pthread_attr_init(&at);
	CPU_ZERO(&set);
	for (int c = 0; c < (int)sysconf(_SC_NPROCESSORS_ONLN); c++)
		if (c != cpu)
			CPU_SET(c, &set);
	pthread_attr_setaffinity_np(&at, sizeof(set), &set);
	atomic_store(&pp.stop, 0);
	int ret = pthread_create(&t, &at, reader, &pp);

	pthread_attr_destroy(&at);
	if (ret) {
		*shared = *private_ = (struct dist){ 0 };
		return;
	}
	pause_ns(1000000);
	for (int k = 0; k < 2; k++) {
		_Atomic uint64_t *w = k ? &pp.private_ : &pp.shared;

		for (size_t i = 0; i < n; i++) {
			uint64_t until = __rdtsc() + (uint64_t)(2000 * tpn);

			while (__rdtsc() < until)	/* 2 us: the reader takes the line */
				;
			uint64_t t0 = tsc_begin();

			atomic_exchange(w, i);
			v[i] = tsc_end() - t0;
		}
		struct dist d = summarize((int64_t *)v, n);

		d = (struct dist){ (d.min - empty) / tpn, (d.p50 - empty) / tpn, (d.p99 - empty) / tpn,
				   (d.p999 - empty) / tpn, (d.max - empty) / tpn };
		*(k ? private_ : shared) = d;
	}
	atomic_store(&pp.stop, 1);
	pthread_join(t, NULL);
}
#endif

static double timer_floor(int64_t *v, size_t n, struct dist *d)
{
	for (size_t i = 0; i < n; i++) {
		int64_t t0 = now_ns();

		v[i] = now_ns() - t0;
	}
	*d = summarize(v, n);
	return d->p50;
}

static void put_dist(FILE *j, const char *key, const struct dist *d)
{
	fprintf(j, "\"%s\": {\"min\": %.0f, \"p50\": %.0f, \"p99\": %.0f, \"p999\": %.0f, \"max\": %.0f}",
		key, d->min, d->p50, d->p99, d->p999, d->max);
}

/* A row of the drain table. */
static void put_drain(const char *name, const struct drain *d, double fprintf_rate)
{
	printf("  %-30s %12.0f %9.1f %9llu %9.2fx\n", name, d->recs_s, d->bytes_s / 1e6,
	       (unsigned long long)d->dropped, d->recs_s / fprintf_rate);
}

static void put_sustained(const char *name, const struct sustained *r)
{
	printf("  %-34s %9llu %8llu %8llu %7llu %8.1f %8.0f %8.0f %8.0f %8.0f%s\n", name,
	       (unsigned long long)r->offered, (unsigned long long)r->skipped,
	       (unsigned long long)r->dropped, (unsigned long long)r->passes, (double)r->max_gap_ns / 1e6,
	       (double)r->max_fill / 1024, r->run_ms, r->wait_ms, r->steal_ms,
	       r->fifo ? "" : " (ordinary)");
}

static void json_sustained(FILE *j, const char *key, const struct sustained *r)
{
	fprintf(j, ", \"%s\": {\"offered\": %llu, \"skipped_batches\": %llu, \"dropped\": %llu, "
		"\"passes\": %llu, \"max_gap_ns\": %llu, \"max_fill\": %llu, \"bytes\": %llu, "
		"\"logger_run_ms\": %.1f, \"logger_wait_ms\": %.1f, \"steal_ms\": %.1f, \"logger_fifo\": %s}",
		key, (unsigned long long)r->offered, (unsigned long long)r->skipped,
		(unsigned long long)r->dropped, (unsigned long long)r->passes,
		(unsigned long long)r->max_gap_ns, (unsigned long long)r->max_fill,
		(unsigned long long)r->bytes, r->run_ms, r->wait_ms, r->steal_ms,
		r->fifo ? "true" : "false");
}

static void put_anat(const char *name, const struct anat *a)
{
	printf("  %-34s %7.0f %7.0f %7.0f %9.0f %7.2f%% %7ld %7ld %6ld\n", name, a->d.p50, a->d.p99,
	       a->d.p999, a->d.max, 100.0 * (double)a->slow / (double)a->n, a->irqs, a->nivcsw,
	       a->minflt);
}

static void json_anat(FILE *j, const char *key, const struct anat *a)
{
	put_dist(j, key, &a->d);
	fprintf(j, ", \"%s_over_100ns\": %llu, \"%s_irqs\": %ld, \"%s_nivcsw\": %ld, "
		"\"%s_faults\": %ld", key, (unsigned long long)a->slow, key, a->irqs, key, a->nivcsw,
		key, a->minflt);
}

static void json_drain(FILE *j, const char *key, const struct drain *d, const char *sep)
{
	fprintf(j, "%s\n  \"%s\": {\"records_per_s\": %.0f, \"bytes_per_s\": %.0f, \"records\": %llu, "
		"\"dropped\": %llu}", sep, key, d->recs_s, d->bytes_s, (unsigned long long)d->n,
		(unsigned long long)d->dropped);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' }, { "no-rt", no_argument, NULL, 'n' },
		{ "json", required_argument, NULL, 'j' }, { "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' }, { 0 }
	};
	bool quick = false, no_rt = false, fifo = false, locked = false, preempt_rt;
	const char *json = NULL, *dir = NULL;
	char tmpl[] = "/tmp/qk-bench-log.XXXXXX", cpu[128];
	struct percall pc[K_COUNT];
	struct drain dq_bin, dq_text, dq_json, dq_plain, d_fprintf, d_write;
	struct sustained su_bin, su_text, su_other, su_tmpfs;
	double disk_mbs;
	bool anat_ok = false;
	struct anat an[A_MODES];
	struct dist lf_shared = { 0 }, lf_private = { 0 };
	struct gaps cg = { 0 };
	double tpn = 0, empty = 0;
	struct dist tf, net[K_COUNT];
	double group_net[K_COUNT];
	struct utsname u;
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'q': quick = true; break;
		case 'n': no_rt = true; break;
		case 'j': json = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: log [--quick] [--no-rt] [--json FILE] [--dir DIR]\n"
			       "The logger's cost per call, its drain's records/s in binary and text,\n"
			       "and a sustained 1 M records/s, beside fprintf and write(2).\n");
			return 0;
		default: return 1;
		}
	}
	if (!dir && !(dir = mkdtemp(tmpl))) {
		perror("log: mkdtemp");
		return 1;
	}
	uint64_t n_call = quick ? 100000 : 1000000, n_drain = quick ? 200000 : 1000000;
	double sus_secs = quick ? 2 : 10;
	int64_t *v = malloc(n_call * sizeof(*v));

	if (!v)
		return 1;
	/* the caller on the loop's CPU, real time if we may: as in the loop */
	cpu_set_t set;
	int last = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;

	CPU_ZERO(&set);
	CPU_SET(last, &set);
	sched_setaffinity(0, sizeof(set), &set);
	if (!no_rt) {
		struct sched_param sp = { .sched_priority = 50 };

		fifo = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
		if (!fifo)
			fprintf(stderr, "log: no SCHED_FIFO (%s): figures are not real-time\n",
				strerror(errno));
		/* locked only with the privilege: under a small RLIMIT_MEMLOCK,
		 * MCL_FUTURE would make the rings' maps fail later */
		locked = fifo && mlockall(MCL_CURRENT) == 0;
	}
	bench_cpu_model(cpu, sizeof(cpu));
	preempt_rt = bench_preempt_rt();
	uname(&u);
	timer_floor(v, n_call, &tf);
	for (int k = 0; k < K_COUNT; k++) {
		pc[k] = per_call(k, dir, n_call, v);
		/* net of the timer pair: its p50 off every percentile */
		net[k] = (struct dist){ pc[k].d.min - tf.p50, pc[k].d.p50 - tf.p50, pc[k].d.p99 - tf.p50,
					pc[k].d.p999 - tf.p50, pc[k].d.max - tf.p50 };
		group_net[k] = (pc[k].group_p50 - tf.p50) / GROUP;
	}
#if defined(__x86_64__)
	/* the anatomy, still on the loop's CPU: the TSC pair alone first */
	tpn = tsc_per_ns();
	an[A_EMPTY] = anatomy(A_EMPTY, dir, n_call, (uint64_t *)v, tpn, 0, last);
	empty = an[A_EMPTY].d.p50 * tpn;	/* in cycles: net of nothing yet */
	an[A_EMPTY] = anatomy(A_EMPTY, dir, n_call, (uint64_t *)v, tpn, empty, last);
	an[A_PRIVATE] = anatomy(A_PRIVATE, dir, n_call, (uint64_t *)v, tpn, empty, last);
	an[A_SHARED] = anatomy(A_SHARED, dir, n_call, (uint64_t *)v, tpn, empty, last);
	line_floor(last, (uint64_t *)v, quick ? 5000 : 20000, tpn, empty, &lf_shared, &lf_private);
	cg = cpu_gaps(quick ? 0.2 : 1.0, tpn);
	anat_ok = true;
#endif
	/* the rest as an ordinary thread: a producer under SCHED_FIFO would
	 * starve the logger sharing its CPU */
	if (fifo) {
		struct sched_param sp = { 0 };

		sched_setscheduler(0, SCHED_OTHER, &sp);
	}
	CPU_ZERO(&set);
	for (int i = 0; i <= last; i++)
		CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
	/* each drain three times, in turn, and its median run: one run of
	 * under a second moved fprintf's rate by 1.7x on this machine */
	struct drain r[DRAIN_RUNS][6];

	for (int k = 0; k < DRAIN_RUNS; k++) {
		r[k][0] = drain_stdio(K_FPRINTF, dir, n_drain);
		r[k][1] = drain_stdio(K_WRITE, dir, n_drain);
		r[k][2] = drain_qiki(QK_LOG_BINARY, dir, n_drain, false);
		r[k][3] = drain_qiki(QK_LOG_BINARY, dir, n_drain, true);
		r[k][4] = drain_qiki(QK_LOG_TEXT, dir, n_drain, false);
		r[k][5] = drain_qiki(QK_LOG_JSON, dir, n_drain, false);
	}
	d_fprintf = drain_median(r, 0);
	d_write = drain_median(r, 1);
	dq_bin = drain_median(r, 2);
	dq_plain = drain_median(r, 3);
	dq_text = drain_median(r, 4);
	dq_json = drain_median(r, 5);
	su_bin = sustain(QK_LOG_BINARY, dir, 1e6, sus_secs, 1, fifo);
	su_text = sustain(QK_LOG_TEXT, dir, 1e6, sus_secs, 1, fifo);
	su_other = sustain(QK_LOG_BINARY, dir, 1e6, sus_secs, 0, fifo);
	su_tmpfs = sustain(QK_LOG_BINARY, "/dev/shm", 1e6, sus_secs, 1, fifo);
	disk_mbs = disk_floor(dir, su_bin.bytes);
	if (dir == tmpl)
		rmdir(dir);

	printf("logger benchmark: %s, %s%s, %s, %s\n", u.release, cpu,
	       preempt_rt ? " (PREEMPT_RT)" : "", fifo ? "SCHED_FIFO 50" : "NOT real-time",
	       locked ? "mlockall" : "no mlockall");
	printf("cost per call on the caller, ns, net of the timer pair (clock_gettime pair p50 "
	       "%.0f ns taken off; %llu calls each)\n", tf.p50, (unsigned long long)n_call);
	printf("  %-24s %8s %8s %8s %8s %10s %8s %10s\n", "", "min", "p50", "p99", "p99.9", "max",
	       "x qiki", "p50 /" STR(GROUP));
	for (int k = 0; k < K_COUNT; k++)
		printf("  %-24s %8.0f %8.0f %8.0f %8.0f %10.0f %7.1fx %10.1f%s\n", kind_name[k],
		       net[k].min, net[k].p50, net[k].p99, net[k].p999, net[k].max,
		       net[k].p50 / (net[K_QIKI].p50 > 1 ? net[K_QIKI].p50 : 1), group_net[k],
		       k == K_QIKI && pc[k].dropped ? " (drops!)" : "");
	printf("  (p50 /%d: bursts of %d calls back to back, each timed whole; the p50 burst, net of "
	       "the pair, per call)\n", GROUP, GROUP);
	printf("  %-24s %8.0f %8.0f %8.0f %8.0f %10.0f\n", "(timer pair alone)", tf.min, tf.p50,
	       tf.p99, tf.p999, tf.max);
	printf("drain: %llu records, from a full ring (ours) or the caller (theirs) into the file "
	       "(page cache); the median of %d runs each, in turn\n", (unsigned long long)n_drain,
	       DRAIN_RUNS);
	printf("  %-30s %12s %9s %9s %10s\n", "", "records/s", "MB/s", "dropped", "x fprintf");
	put_drain("qiki binary (io_uring)", &dq_bin, d_fprintf.recs_s);
	put_drain("qiki binary (pwrite)", &dq_plain, d_fprintf.recs_s);
	put_drain("qiki text (io_uring)", &dq_text, d_fprintf.recs_s);
	put_drain("qiki json (io_uring)", &dq_json, d_fprintf.recs_s);
	put_drain("fprintf to a file", &d_fprintf, d_fprintf.recs_s);
	put_drain("snprintf + write(2)", &d_write, d_fprintf.recs_s);
	printf("sustained: 1 M records/s, 64 records every 64 us for %.0f s (a batch > 1 ms late skipped),"
	       " default 2 MiB ring, into %s\n", sus_secs, dir);
	printf("  %-34s %9s %8s %8s %7s %8s %8s %8s %8s %8s\n", "", "offered", "skipped", "dropped",
	       "passes", "max gap", "max fill", "log run", "log wait", "steal");
	put_sustained("qiki binary, logger SCHED_FIFO 1", &su_bin);
	put_sustained("qiki text, logger SCHED_FIFO 1", &su_text);
	put_sustained("qiki binary, logger ordinary", &su_other);
	put_sustained("qiki binary, FIFO 1, on tmpfs", &su_tmpfs);
	printf("  (skipped: 64-record batches; max gap: ms between two logger passes; max fill: KiB in a\n"
	       "  ring at a pass; log run/wait: ms the logger thread ran / waited runnable; steal: ms the\n"
	       "  host took from the logger's CPUs)\n");
	printf("  the disk's floor: the binary run's %.0f MB written with O_DIRECT: %.0f MB/s "
	       "(the binary log needs %.0f MB/s)\n", (double)su_bin.bytes / 1e6, disk_mbs,
	       (double)su_bin.bytes / 1e6 / sus_secs);
	if (anat_ok) {
		printf("anatomy of a call: TSC pair (lfence rdtsc .. rdtscp lfence), ns net of the pair's p50 "
		       "(%.0f ns); %llu calls each, paced as above\n", empty / tpn,
		       (unsigned long long)n_call);
		printf("  %-34s %7s %7s %7s %9s %8s %7s %7s %6s\n", "", "p50", "p99", "p99.9", "max",
		       ">100 ns", "irqs", "nivcsw", "faults");
		put_anat("the pair around nothing", &an[A_EMPTY]);
		put_anat("a ring no other core reads", &an[A_PRIVATE]);
		put_anat("qiki logger, logger draining", &an[A_SHARED]);
		printf("  calls right after a logger pass: %llu, %.1f %% over 100 ns; the other calls: "
		       "%.2f %% over 100 ns\n", (unsigned long long)an[A_SHARED].after_pass,
		       100.0 * (double)an[A_SHARED].slow_after_pass /
		       (double)(an[A_SHARED].after_pass ? an[A_SHARED].after_pass : 1),
		       100.0 * (double)(an[A_SHARED].slow - an[A_SHARED].slow_after_pass) /
		       (double)(an[A_SHARED].n - an[A_SHARED].after_pass));
		printf("  calls right after the pacing pause: %llu, %.1f %% over 100 ns; without them the "
		       "call's p99 %.0f p99.9 %.0f ns (into a ring no other core reads: p99 %.0f p99.9 %.0f)\n",
		       (unsigned long long)an[A_SHARED].after_pause,
		       100.0 * (double)an[A_SHARED].slow_after_pause /
		       (double)(an[A_SHARED].after_pause ? an[A_SHARED].after_pause : 1),
		       an[A_SHARED].rest.p99, an[A_SHARED].rest.p999, an[A_PRIVATE].rest.p99,
		       an[A_PRIVATE].rest.p999);
		printf("  a locked store that takes its line back from the other core: p50 %.0f p99 %.0f ns; "
		       "on a private line: p50 %.0f p99 %.0f ns\n", lf_shared.p50, lf_shared.p99,
		       lf_private.p50, lf_private.p99);
		printf("  the CPU taken from a spinning SCHED_FIFO thread (the machine's floor for every\n"
		       "  call's tail), %.1f s on CPU %d: %.0f gaps/s over 1 us, %.0f/s over 20 us, %.1f ms/s "
		       "lost, longest %.0f us\n", cg.secs, last, (double)cg.over_1us / cg.secs,
		       (double)cg.over_20us / cg.secs, cg.lost_ms / cg.secs, cg.max_us);
	}

	if (json) {
		FILE *j = fopen(json, "w");

		if (!j) {
			perror(json);
			return 1;
		}
		fprintf(j, "{\"bench\": \"log\", \"kernel\": \"%s\", \"preempt_rt\": %s, \"cpu\": \"%s\", "
			"\"sched_fifo\": %s, \"mlockall\": %s, \"quick\": %s,\n", u.release,
			preempt_rt ? "true" : "false", cpu, fifo ? "true" : "false",
			locked ? "true" : "false", quick ? "true" : "false");
		fprintf(j, " \"unit\": \"ns\", ");
		put_dist(j, "timer", &tf);
		fprintf(j, ",\n \"per_call\": {");
		for (int k = 0; k < K_COUNT; k++) {
			fprintf(j, "%s\n  ", k ? "," : "");
			put_dist(j, kind_key[k], &pc[k].d);
		}
		fprintf(j, "},\n \"per_call_net\": {");
		for (int k = 0; k < K_COUNT; k++) {
			fprintf(j, "%s\n  ", k ? "," : "");
			put_dist(j, kind_key[k], &net[k]);
		}
		fprintf(j, "},\n \"per_call_group_p50_net\": {\"group\": %d", GROUP);
		for (int k = 0; k < K_COUNT; k++)
			fprintf(j, ", \"%s\": %.2f", kind_key[k], group_net[k]);
		fprintf(j, "},\n \"drain\": {");
		json_drain(j, "qiki_binary", &dq_bin, "");
		json_drain(j, "qiki_binary_pwrite", &dq_plain, ",");
		json_drain(j, "qiki_text", &dq_text, ",");
		json_drain(j, "qiki_json", &dq_json, ",");
		json_drain(j, "fprintf", &d_fprintf, ",");
		json_drain(j, "write", &d_write, ",");
		fprintf(j, "},\n \"sustained\": {\"rate\": %.0f, \"secs\": %.0f, \"disk_direct_mb_s\": %.0f",
			su_bin.rate, su_bin.secs, disk_mbs);
		json_sustained(j, "binary", &su_bin);
		json_sustained(j, "text", &su_text);
		json_sustained(j, "binary_ordinary_logger", &su_other);
		json_sustained(j, "binary_tmpfs", &su_tmpfs);
		fprintf(j, "},\n");
		if (anat_ok) {
			fprintf(j, " \"anatomy\": {\"unit\": \"ns\", \"pair_p50_ns\": %.1f, ", empty / tpn);
			json_anat(j, "empty", &an[A_EMPTY]);
			fprintf(j, ", ");
			json_anat(j, "private_ring", &an[A_PRIVATE]);
			fprintf(j, ", ");
			json_anat(j, "qiki", &an[A_SHARED]);
			fprintf(j, ", \"after_pass\": %llu, \"slow_after_pass\": %llu, ",
				(unsigned long long)an[A_SHARED].after_pass,
				(unsigned long long)an[A_SHARED].slow_after_pass);
			fprintf(j, "\"after_pause\": %llu, \"slow_after_pause\": %llu, ",
				(unsigned long long)an[A_SHARED].after_pause,
				(unsigned long long)an[A_SHARED].slow_after_pause);
			put_dist(j, "qiki_not_after_pause", &an[A_SHARED].rest);
			fprintf(j, ", ");
			put_dist(j, "private_ring_not_after_pause", &an[A_PRIVATE].rest);
			fprintf(j, ", \"cpu_gaps\": {\"secs\": %.1f, \"over_1us\": %llu, \"over_20us\": %llu, "
				"\"lost_ms\": %.2f, \"max_us\": %.1f}, ", cg.secs,
				(unsigned long long)cg.over_1us, (unsigned long long)cg.over_20us,
				cg.lost_ms, cg.max_us);
			put_dist(j, "line_from_other_core", &lf_shared);
			fprintf(j, ", ");
			put_dist(j, "line_private", &lf_private);
			fprintf(j, "},\n");
		}
		fprintf(j, " \"ratios\": {\"drain_binary_over_fprintf\": %.2f, "
			"\"drain_text_over_fprintf\": %.2f, \"per_call_p50_fprintf_over_qiki\": %.2f}}\n",
			dq_bin.recs_s / d_fprintf.recs_s, dq_text.recs_s / d_fprintf.recs_s,
			pc[K_FPRINTF].d.p50 / pc[K_QIKI].d.p50);
		fclose(j);
	}
	free(v);
	return 0;
}
