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
 *    ring, binary and text: the drops, if any, are reported.
 *
 * usage: log [--quick] [--no-rt] [--json FILE] [--dir DIR]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench/bench.h"
#include "rt/log.h"

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
};

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
		if ((i & 63) == 63) {	/* 500 k records/s: under the logger's pace */
			int64_t until = now_ns() + 128000;

			while (now_ns() < until)
				;
		}
	}
	bytes = close_sink(&s, dir, "percall", &r.dropped);
	(void)bytes;
	r.d = summarize(v, n);
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
	uint64_t offered, dropped, written;
};

static struct sustained sustain(enum qk_log_format fmt, const char *dir, double rate, double secs)
{
	char path[512], err[256];
	struct qk_log_opts o = { .path = path, .proc = "bench", .level = QK_LOG_INFO,
				 .format = fmt, .avoid_cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1,
				 .rotate_bytes = 64ull << 20, .keep = 1 };
	struct sustained r = { .rate = rate, .secs = secs };
	struct sink s = { .k = K_QIKI };
	struct qk_log_stats ls;
	int64_t t0, step = (int64_t)(1e9 / rate * 64);
	uint64_t i = 0;

	snprintf(path, sizeof(path), "%s/sustain-%d.log", dir, (int)fmt);
	if (!(s.lg = qk_log_create(&o, err, sizeof(err)))) {
		fprintf(stderr, "log: %s\n", err);
		exit(1);
	}
	/* the producer on the loop's CPU, the logger off it: as in the loop */
	cpu_set_t set, old;

	sched_getaffinity(0, sizeof(old), &old);
	CPU_ZERO(&set);
	CPU_SET(o.avoid_cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	t0 = now_ns();
	/* 64 records, then wait for their turn: 1 M/s is 64 records per 64 us */
	for (int64_t due = t0; due - t0 < (int64_t)(secs * 1e9); due += step) {
		while (now_ns() < due)
			;
		for (int k = 0; k < 64; k++)
			one(&s, i++);
	}
	sched_setaffinity(0, sizeof(old), &old);
	qk_log_get_stats(s.lg, &ls);
	qk_log_destroy(s.lg);
	r.offered = i;
	r.dropped = ls.dropped;
	r.written = r.offered - r.dropped;
	unlink(path);
	snprintf(path, sizeof(path), "%s/sustain-%d.log.1", dir, (int)fmt);
	unlink(path);
	return r;
}

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
	struct sustained su_bin, su_text;
	struct dist tf, net[K_COUNT];
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
	}
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
	d_fprintf = drain_stdio(K_FPRINTF, dir, n_drain);
	d_write = drain_stdio(K_WRITE, dir, n_drain);
	dq_bin = drain_qiki(QK_LOG_BINARY, dir, n_drain, false);
	dq_plain = drain_qiki(QK_LOG_BINARY, dir, n_drain, true);
	dq_text = drain_qiki(QK_LOG_TEXT, dir, n_drain, false);
	dq_json = drain_qiki(QK_LOG_JSON, dir, n_drain, false);
	su_bin = sustain(QK_LOG_BINARY, dir, 1e6, sus_secs);
	su_text = sustain(QK_LOG_TEXT, dir, 1e6, sus_secs);
	if (dir == tmpl)
		rmdir(dir);

	printf("logger benchmark: %s, %s%s, %s, %s\n", u.release, cpu,
	       preempt_rt ? " (PREEMPT_RT)" : "", fifo ? "SCHED_FIFO 50" : "NOT real-time",
	       locked ? "mlockall" : "no mlockall");
	printf("cost per call on the caller, ns, net of the timer pair (clock_gettime pair p50 "
	       "%.0f ns taken off; %llu calls each)\n", tf.p50, (unsigned long long)n_call);
	printf("  %-24s %8s %8s %8s %8s %10s %8s\n", "", "min", "p50", "p99", "p99.9", "max", "x qiki");
	for (int k = 0; k < K_COUNT; k++)
		printf("  %-24s %8.0f %8.0f %8.0f %8.0f %10.0f %7.1fx%s\n", kind_name[k], net[k].min,
		       net[k].p50, net[k].p99, net[k].p999, net[k].max,
		       net[k].p50 / (net[K_QIKI].p50 > 1 ? net[K_QIKI].p50 : 1),
		       k == K_QIKI && pc[k].dropped ? " (drops!)" : "");
	printf("  %-24s %8.0f %8.0f %8.0f %8.0f %10.0f\n", "(timer pair alone)", tf.min, tf.p50,
	       tf.p99, tf.p999, tf.max);
	printf("drain: %llu records, from a full ring (ours) or the caller (theirs) into the file "
	       "(page cache)\n", (unsigned long long)n_drain);
	printf("  %-30s %12s %9s %9s %10s\n", "", "records/s", "MB/s", "dropped", "x fprintf");
	put_drain("qiki binary (io_uring)", &dq_bin, d_fprintf.recs_s);
	put_drain("qiki binary (pwrite)", &dq_plain, d_fprintf.recs_s);
	put_drain("qiki text (io_uring)", &dq_text, d_fprintf.recs_s);
	put_drain("qiki json (io_uring)", &dq_json, d_fprintf.recs_s);
	put_drain("fprintf to a file", &d_fprintf, d_fprintf.recs_s);
	put_drain("snprintf + write(2)", &d_write, d_fprintf.recs_s);
	printf("sustained: 1 M records/s offered in bursts of 64 for %.0f s, default 256 KiB ring\n",
	       sus_secs);
	printf("  qiki binary: %llu offered, %llu dropped\n", (unsigned long long)su_bin.offered,
	       (unsigned long long)su_bin.dropped);
	printf("  qiki text:   %llu offered, %llu dropped\n", (unsigned long long)su_text.offered,
	       (unsigned long long)su_text.dropped);

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
		fprintf(j, "},\n \"drain\": {");
		json_drain(j, "qiki_binary", &dq_bin, "");
		json_drain(j, "qiki_binary_pwrite", &dq_plain, ",");
		json_drain(j, "qiki_text", &dq_text, ",");
		json_drain(j, "qiki_json", &dq_json, ",");
		json_drain(j, "fprintf", &d_fprintf, ",");
		json_drain(j, "write", &d_write, ",");
		fprintf(j, "},\n \"sustained\": {\"rate\": %.0f, \"secs\": %.0f, "
			"\"binary\": {\"offered\": %llu, \"dropped\": %llu}, "
			"\"text\": {\"offered\": %llu, \"dropped\": %llu}},\n", su_bin.rate, su_bin.secs,
			(unsigned long long)su_bin.offered, (unsigned long long)su_bin.dropped,
			(unsigned long long)su_text.offered, (unsigned long long)su_text.dropped);
		fprintf(j, " \"ratios\": {\"drain_binary_over_fprintf\": %.2f, "
			"\"drain_text_over_fprintf\": %.2f, \"per_call_p50_fprintf_over_qiki\": %.2f}}\n",
			dq_bin.recs_s / d_fprintf.recs_s, dq_text.recs_s / d_fprintf.recs_s,
			pc[K_FPRINTF].d.p50 / pc[K_QIKI].d.p50);
		fclose(j);
	}
	free(v);
	return 0;
}
