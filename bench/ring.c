/*
 * bench/ring.c - what the ring costs, beside the machine's own floor.
 *
 *  1. ns per publish, per read_next, per read_newest, frames/s (one thread,
 *     256-byte sensor frames).
 *  2. One-way cross-core handoff through the ring: a ping-pong over two
 *     rings between threads pinned to CPU 0 and CPU 1, half the round trip.
 *  3. The floor, in the same run: the same ping-pong over two plain cache
 *     lines.  The ratio ring/floor is what the ring adds.
 * Percentiles are of per-round-trip samples; a histogram goes to the JSON.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "rt/rt.h"
#include "shm/hist.h"
#include "shm/layout.h"
#include "shm/ring.h"

#define CAP 1024

static uint64_t rounds = 1000000;
static bool fifo = true;	/* tried; the report says if it was refused */

static int pin_self(int cpu, bool rt)
{
	cpu_set_t set;
	struct sched_param sp = { .sched_priority = 50 };

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	return rt ? pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) : 0;
}

static struct qk_ring *ring_new(void)
{
	struct qk_ring *r = aligned_alloc(64, qk_ring_footprint(CAP, sizeof(struct qk_sensor_frame)));

	qk_ring_init(r, CAP, sizeof(struct qk_sensor_frame), 0);
	return r;
}

/* ---- 1. single-thread costs ------------------------------------------- */

struct costs {
	double publish_ns, read_next_ns, read_newest_ns, frames_per_s;
};

static void single(struct costs *c)
{
	struct qk_ring *r = ring_new();
	struct qk_ring_reader rd, nw;
	struct qk_sensor_frame f = { 0 };
	uint64_t n = rounds * 4;
	int64_t t0, t1;

	qk_ring_reader_init(&rd, r, QK_RING_FROM_NOW);
	qk_ring_reader_init(&nw, r, QK_RING_FROM_NOW);
	t0 = qk_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		f.cycle = i;
		qk_ring_publish(r, &f);
	}
	t1 = qk_now_ns();
	c->publish_ns = (double)(t1 - t0) / (double)n;
	c->frames_per_s = 1e9 / c->publish_ns;
	/* read_next: publish one, read one (the reader keeps up) */
	t0 = qk_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		qk_ring_publish(r, &f);
		qk_ring_read_next(&rd, &f);
	}
	t1 = qk_now_ns();
	c->read_next_ns = (double)(t1 - t0) / (double)n - c->publish_ns;
	t0 = qk_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		qk_ring_publish(r, &f);
		qk_ring_read_newest(&nw, &f);
	}
	t1 = qk_now_ns();
	c->read_newest_ns = (double)(t1 - t0) / (double)n - c->publish_ns;
	free(r);
}

/* ---- 2 and 3. ping-pong ------------------------------------------------- */

struct pp {
	struct qk_ring *ab, *ba;		/* ring mode */
	_Alignas(64) _Atomic uint64_t ping;	/* line mode */
	_Alignas(64) _Atomic uint64_t pong;
	bool ring;
	int rt_err;
	_Atomic int ready;
};

static void *echo(void *p)
{
	struct pp *x = p;
	struct qk_sensor_frame f;
	struct qk_ring_reader rd;

	x->rt_err = pin_self(1, fifo);
	atomic_store(&x->ready, 1);
	if (x->ring) {
		qk_ring_reader_init(&rd, x->ab, QK_RING_FROM_OLDEST);
		for (uint64_t i = 0; i < rounds; i++) {
			while (!qk_ring_read_next(&rd, &f))
				qk_cpu_relax();
			qk_ring_publish(x->ba, &f);
		}
	} else {
		for (uint64_t i = 1; i <= rounds; i++) {
			while (qk_load_acquire(&x->ping) != i)
				qk_cpu_relax();
			qk_store_release(&x->pong, i);
		}
	}
	return NULL;
}

/* Fills h with one-way latencies (round trip / 2). */
static int pingpong(bool ring, struct qk_hist *h)
{
	static struct pp x;
	struct qk_sensor_frame f = { 0 };
	struct qk_ring_reader rd;
	pthread_t t;

	memset(&x, 0, sizeof(x));
	x.ring = ring;
	if (ring) {
		x.ab = ring_new();
		x.ba = ring_new();
		qk_ring_reader_init(&rd, x.ba, QK_RING_FROM_OLDEST);
	}
	qk_hist_reset(h);
	/* the echo thread moves to CPU 1 before we spin on CPU 0: at equal
	 * SCHED_FIFO priority it could never run here to move itself */
	pthread_create(&t, NULL, echo, &x);
	while (!atomic_load(&x.ready))
		sched_yield();
	int err = pin_self(0, fifo);

	for (uint64_t i = 1; i <= rounds; i++) {
		int64_t t0 = qk_now_ns();

		if (ring) {
			f.cycle = i;
			qk_ring_publish(x.ab, &f);
			while (!qk_ring_read_next(&rd, &f))
				qk_cpu_relax();
		} else {
			qk_store_release(&x.ping, i);
			while (qk_load_acquire(&x.pong) != i)
				qk_cpu_relax();
		}
		qk_hist_record(h, (qk_now_ns() - t0) / 2);
	}
	pthread_join(t, NULL);
	pin_self(0, false);
	if (ring) {
		free(x.ab);
		free(x.ba);
	}
	return err ? err : x.rt_err;
}

static void line(const char *what, const struct qk_hist *h)
{
	printf("  %-22s min %6lld  p50 %6lld  p99 %6lld  p99.9 %7lld  max %8lld ns\n", what,
	       (long long)qk_hist_min(h),
	       (long long)qk_hist_quantile(h, 0.5), (long long)qk_hist_quantile(h, 0.99),
	       (long long)qk_hist_quantile(h, 0.999),
	       (long long)qk_hist_max(h));
}

static void json_hist(FILE *f, const char *name, const struct qk_hist *h)
{
	fprintf(f, "\"%s\":{\"min_ns\":%lld,\"p50_ns\":%lld,\"p99_ns\":%lld,\"p999_ns\":%lld,"
		"\"max_ns\":%lld,\"histogram\":[", name,
		(long long)qk_hist_min(h),
		(long long)qk_hist_quantile(h, 0.5), (long long)qk_hist_quantile(h, 0.99),
		(long long)qk_hist_quantile(h, 0.999),
		(long long)qk_hist_max(h));
	bool first = true;

	for (uint32_t i = 0; i < QK_HIST_BUCKETS; i++) {
		uint64_t b = qk_load_relaxed((_Atomic uint64_t *)&h->bucket[i]);

		if (b) {
			fprintf(f, "%s[%lld,%llu]", first ? "" : ",", (long long)qk_hist_lower(i),
				(unsigned long long)b);
			first = false;
		}
	}
	fprintf(f, "]}");
}

static void cpu_model(char *b, size_t n)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char l[256];

	snprintf(b, n, "unknown");
	while (f && fgets(l, sizeof(l), f)) {
		if (!strncmp(l, "model name", 10)) {
			char *p = strchr(l, ':');

			snprintf(b, n, "%.100s", p ? p + 2 : l);
			b[strcspn(b, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	const char *json = NULL;
	static struct qk_hist ring_h, floor_h;
	struct costs c;
	struct utsname u;
	char cpu[128];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			rounds = 200000;
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else if (!strcmp(argv[i], "--no-rt"))
			fifo = false;
		else {
			fprintf(stderr, "usage: ring [--quick] [--no-rt] [--json FILE]\n");
			return 1;
		}
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "ring: needs two CPUs for the cross-core figures\n");
		return 1;
	}
	uname(&u);
	cpu_model(cpu, sizeof(cpu));
	bool preempt_rt = strstr(u.version, "PREEMPT_RT") || access("/sys/kernel/realtime", F_OK) == 0;

	single(&c);
	int e1 = pingpong(false, &floor_h);
	int e2 = pingpong(true, &ring_h);
	bool rt = fifo && !e1 && !e2;
	double ratio = (double)qk_hist_quantile(&ring_h, 0.5) / (double)qk_hist_quantile(&floor_h, 0.5);
	double ratio99 = (double)qk_hist_quantile(&ring_h, 0.99) / (double)qk_hist_quantile(&floor_h, 0.99);

	printf("ring bench: %s, kernel %s%s, %ld CPUs, %llu round trips, %s\n", cpu, u.release,
	       preempt_rt ? " (PREEMPT_RT)" : "", sysconf(_SC_NPROCESSORS_ONLN),
	       (unsigned long long)rounds, rt ? "SCHED_FIFO 50" : fifo ? "SCHED_FIFO refused: SCHED_OTHER" : "SCHED_OTHER");
	printf("  publish %.1f ns, read_next %.1f ns, read_newest %.1f ns, %.1f M frames/s (%zu-byte frames)\n",
	       c.publish_ns, c.read_next_ns, c.read_newest_ns, c.frames_per_s / 1e6,
	       sizeof(struct qk_sensor_frame));
	printf("  one-way handoff, CPU 0 -> CPU 1:\n");
	line("cache-line ping-pong", &floor_h);
	line("qiki ring", &ring_h);
	printf("  ring / floor: p50 %.2fx, p99 %.2fx\n", ratio, ratio99);
	if (json) {
		FILE *f = fopen(json, "w");

		if (!f) {
			perror(json);
			return 1;
		}
		fprintf(f, "{\"bench\":\"ring\",\"kernel\":\"%s\",\"preempt_rt\":%s,\"cpu\":\"%s\","
			"\"ncpu\":%ld,\"sched_fifo\":%s,\"rounds\":%llu,\"frame_bytes\":%zu,"
			"\"publish_ns\":%.2f,\"read_next_ns\":%.2f,\"read_newest_ns\":%.2f,"
			"\"frames_per_s\":%.0f,\"ratio_p50\":%.3f,\"ratio_p99\":%.3f,",
			u.release, preempt_rt ? "true" : "false", cpu, sysconf(_SC_NPROCESSORS_ONLN),
			rt ? "true" : "false", (unsigned long long)rounds, sizeof(struct qk_sensor_frame),
			c.publish_ns, c.read_next_ns, c.read_newest_ns, c.frames_per_s, ratio, ratio99);
		json_hist(f, "floor_pingpong", &floor_h);
		fputc(',', f);
		json_hist(f, "ring_handoff", &ring_h);
		fprintf(f, "}\n");
		fclose(f);
	}
	return 0;
}
