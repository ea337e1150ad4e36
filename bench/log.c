/*
 * bench/log.c - the logger against the loggers a user would otherwise write,
 * in the same run: fprintf to a file (stdio, buffered) and a plain write(2)
 * per line (snprintf + write).
 *
 * 1. Cost per call on the calling thread: each call timed alone with
 *    clock_gettime (the timer's own cost is measured and reported beside
 *    it), at a pace the logger keeps up with, pinned to the loop's CPU
 *    under SCHED_FIFO when allowed.  min, p50, p99, p99.9, max.
 * 2. Sustained throughput to a file: one thread logs as fast as it can for
 *    a fixed count; records/s and bytes/s reach the file (our logger: until
 *    qk_log_destroy() returns, i.e. written and fsynced; the others: until
 *    fflush/fsync).  Our logger drops what its ring cannot hold; the drop
 *    count is reported, never hidden.  Both with io_uring and with the
 *    logger's write(2) fallback.
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

struct thru {
	double recs_s, bytes_s, secs;
	uint64_t n, written, dropped, bytes;
};

static struct thru throughput(enum kind k, const char *dir, uint64_t n, bool no_uring)
{
	struct sink s;
	struct thru t = { .n = n };
	int64_t t0;

	open_sink(&s, k, dir, no_uring ? "thru-plain" : "thru", no_uring, 1u << 16);
	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++)
		one(&s, i);
	t.bytes = close_sink(&s, dir, no_uring ? "thru-plain" : "thru", &t.dropped);
	t.secs = (double)(now_ns() - t0) / 1e9;
	t.written = n - t.dropped;
	t.recs_s = (double)t.written / t.secs;
	t.bytes_s = (double)t.bytes / t.secs;
	return t;
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
	struct thru th[K_COUNT], plain;
	struct dist tf;
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
			       "The logger's cost per call and throughput beside fprintf and write(2).\n");
			return 0;
		default: return 1;
		}
	}
	if (!dir && !(dir = mkdtemp(tmpl))) {
		perror("log: mkdtemp");
		return 1;
	}
	uint64_t n_call = quick ? 100000 : 1000000, n_thru = quick ? 300000 : 2000000;
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
		locked = fifo && mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
	}
	bench_cpu_model(cpu, sizeof(cpu));
	preempt_rt = bench_preempt_rt();
	uname(&u);
	timer_floor(v, n_call, &tf);
	for (int k = 0; k < K_COUNT; k++)
		pc[k] = per_call(k, dir, n_call, v);
	/* throughput as an ordinary thread: a flat-out producer under
	 * SCHED_FIFO would starve the logger sharing its CPU */
	if (fifo) {
		struct sched_param sp = { 0 };

		sched_setscheduler(0, SCHED_OTHER, &sp);
	}
	CPU_ZERO(&set);
	for (int i = 0; i <= last; i++)
		CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
	for (int k = 0; k < K_COUNT; k++)
		th[k] = throughput(k, dir, n_thru, false);
	plain = throughput(K_QIKI, dir, n_thru, true);
	if (dir == tmpl)
		rmdir(dir);

	printf("logger benchmark: %s, %s%s, %s, %s\n", u.release, cpu,
	       preempt_rt ? " (PREEMPT_RT)" : "", fifo ? "SCHED_FIFO 50" : "NOT real-time",
	       locked ? "mlockall" : "no mlockall");
	printf("cost per call on the caller, ns (%llu calls each; clock_gettime pair p50 %.0f ns "
	       "included)\n", (unsigned long long)n_call, tf.p50);
	printf("  %-24s %8s %8s %8s %8s %10s %8s\n", "", "min", "p50", "p99", "p99.9", "max", "x qiki");
	for (int k = 0; k < K_COUNT; k++)
		printf("  %-24s %8.0f %8.0f %8.0f %8.0f %10.0f %7.1fx%s\n", kind_name[k], pc[k].d.min,
		       pc[k].d.p50, pc[k].d.p99, pc[k].d.p999, pc[k].d.max,
		       pc[k].d.p50 / pc[K_QIKI].d.p50, k == K_QIKI && pc[k].dropped ? " (drops!)" : "");
	printf("  %-24s %8.0f %8.0f %8.0f %8.0f %10.0f\n", "(timer alone)", tf.min, tf.p50, tf.p99,
	       tf.p999, tf.max);
	printf("sustained to a file, %llu records offered flat out, until on disk (fsync)\n",
	       (unsigned long long)n_thru);
	printf("  %-24s %12s %10s %10s %10s\n", "", "records/s", "MB/s", "dropped", "x qiki");
	for (int k = 0; k < K_COUNT; k++)
		printf("  %-24s %12.0f %10.1f %10llu %9.2fx\n", kind_name[k], th[k].recs_s,
		       th[k].bytes_s / 1e6, (unsigned long long)th[k].dropped,
		       th[k].recs_s / th[K_QIKI].recs_s);
	printf("  %-24s %12.0f %10.1f %10llu %9.2fx\n", "qiki logger, write(2)", plain.recs_s,
	       plain.bytes_s / 1e6, (unsigned long long)plain.dropped, plain.recs_s / th[K_QIKI].recs_s);
	printf("  (our logger drops what its %u-record ring cannot hold while the caller runs flat "
	       "out; the others make the caller wait instead)\n", 1u << 16);

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
		fprintf(j, "},\n \"throughput\": {");
		for (int k = 0; k <= K_COUNT; k++) {
			const struct thru *t = k < K_COUNT ? &th[k] : &plain;

			fprintf(j, "%s\n  \"%s\": {\"records_per_s\": %.0f, \"bytes_per_s\": %.0f, "
				"\"offered\": %llu, \"dropped\": %llu}", k ? "," : "",
				k < K_COUNT ? kind_key[k] : "qiki_write2", t->recs_s, t->bytes_s,
				(unsigned long long)t->n, (unsigned long long)t->dropped);
		}
		fprintf(j, "},\n \"ratios\": {\"per_call_p50_fprintf_over_qiki\": %.2f, "
			"\"per_call_p50_write_over_qiki\": %.2f, \"per_call_p99_fprintf_over_qiki\": %.2f, "
			"\"per_call_p99_write_over_qiki\": %.2f}}\n",
			pc[K_FPRINTF].d.p50 / pc[K_QIKI].d.p50, pc[K_WRITE].d.p50 / pc[K_QIKI].d.p50,
			pc[K_FPRINTF].d.p99 / pc[K_QIKI].d.p99, pc[K_WRITE].d.p99 / pc[K_QIKI].d.p99);
		fclose(j);
	}
	free(v);
	return 0;
}
