/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/shm/stress_ring.c - one producer and three readers (one slow on purpose)
 * over the sensors ring of a real segment, as separate processes pinned to
 * the two CPUs.  Every frame read must be whole and in order, and for every
 * reader  published = read + lost  exactly.  QK_STRESS_FRAMES sets the
 * count (default 10 million).  The TSan build runs the same with threads
 * (TSan checks threads, not processes) and fewer frames.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt/config/config.h"
#include "shm/seg.h"

#if defined(__SANITIZE_THREAD__)
#define THREADS 1
/* TSan finds a race by the accesses it instruments, not by volume; the
 * slowest reader is lapped within the first few thousand frames, so every
 * path (whole frame, torn and retried, lapped and counted) runs many times
 * over in 500 k frames, about 10 s under TSan here (2 M took 40-50 s) */
#define DEFAULT_FRAMES 500000ull
#else
#define THREADS 0
#define DEFAULT_FRAMES 10000000ull
#endif
#define NREADERS 3
#define WORDS (sizeof(struct qk_sensor_frame) / 8)

struct result {
	uint64_t nread, lost, bad, disorder;
};

static char name[32];
static uint64_t frames;
static struct qk_seg seg;

static void fill(uint64_t seq, uint64_t w[WORDS])
{
	uint64_t h = seq * 0x9e3779b97f4a7c15ull;

	w[0] = seq;
	for (size_t i = 1; i < WORDS - 1; i++)
		w[i] = h ^ (i * 0xff51afd7ed558ccdull);
	w[WORDS - 1] = h + seq;	/* the checksum of the sequence number */
}

static bool intact(const uint64_t w[WORDS])
{
	uint64_t want[WORDS];

	fill(w[0], want);
	return !memcmp(w, want, sizeof(want));
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % sysconf(_SC_NPROCESSORS_ONLN), &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void produce(void)
{
	uint64_t w[WORDS];

	pin(0);
	for (uint64_t s = 0; s < frames; s++) {
		fill(s, w);
		qk_ring_publish(seg.sensors, w);
	}
}

static struct result consume(int id)
{
	struct qk_ring_reader rd;
	struct result r = { 0 };
	uint64_t w[WORDS], last = 0;
	bool any = false;

	pin(id + 1);
	qk_ring_reader_init(&rd, seg.sensors, QK_RING_FROM_OLDEST);
	/* reader 2 is slow: it starts two laps behind, so it is lapped however
	 * the machine schedules us, and then dawdles */
	while (id == 2 && qk_ring_pending(&rd) < 2ull * QK_SENSOR_RING_CAP &&
	       qk_ring_published(seg.sensors) < frames)
		sched_yield();
	while (rd.next != frames) {
		if (!qk_ring_read_next(&rd, w)) {
			sched_yield();
			continue;
		}
		if (!intact(w) || w[0] != rd.last)
			r.bad++;
		if (any && w[0] <= last)
			r.disorder++;
		last = w[0];
		any = true;
		if (id == 2 && (rd.nread & 1023) == 0)
			usleep(200);
	}
	r.nread = rd.nread;
	r.lost = rd.lost;
	return r;
}

struct job {
	int id;
	struct result r;
};

static void *thread_main(void *p)
{
	struct job *j = p;

	if (j->id < 0)
		produce();
	else
		j->r = consume(j->id);
	return NULL;
}

static void run_threads(struct result out[NREADERS])
{
	struct job jobs[NREADERS + 1];
	pthread_t t[NREADERS + 1];

	for (int i = 0; i <= NREADERS; i++) {
		jobs[i].id = i - 1;	/* -1: the producer */
		pthread_create(&t[i], NULL, thread_main, &jobs[i]);
	}
	for (int i = 0; i <= NREADERS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NREADERS; i++)
		out[i] = jobs[i + 1].r;
}

static void run_processes(struct result out[NREADERS])
{
	int p[NREADERS][2];
	pid_t pid[NREADERS + 1];

	for (int i = 0; i < NREADERS; i++) {
		assert_int_equal(pipe(p[i]), 0);
		pid[i] = fork();
		if (!pid[i]) {
			/* each process maps it itself (a qk_seg is never copied:
			 * its ports point into it) */
			if (qk_seg_attach(&seg, name, 0))
				_exit(2);
			struct result r = consume(i);

			_exit(write(p[i][1], &r, sizeof(r)) == sizeof(r) ? 0 : 3);
		}
	}
	pid[NREADERS] = fork();
	if (!pid[NREADERS]) {
		if (qk_seg_attach(&seg, name, 0))
			_exit(2);
		produce();
		_exit(0);
	}
	for (int i = 0; i <= NREADERS; i++) {
		int st;

		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	for (int i = 0; i < NREADERS; i++)
		assert_int_equal(read(p[i][0], &out[i], sizeof(out[i])), sizeof(out[i]));
}

static void test_stress_ring_readers_get_whole_frames_and_exact_losses(void **state)
{
	struct qk_config cfg;
	struct result r[NREADERS];
	char why[256];

	(void)state;
	snprintf(name, sizeof(name), "t-stress-%d", (int)getpid());
	assert_int_equal(qk_config_profile(&cfg, "bot", why, sizeof(why)), 0);
	assert_int_equal(qk_seg_create(&seg, name, &cfg, 0), 0);
	qk_seg_publish(&seg);
	if (THREADS)
		run_threads(r);
	else
		run_processes(r);
	assert_int_equal(qk_ring_published(seg.sensors), frames);
	for (int i = 0; i < NREADERS; i++) {
		printf("reader %d: read %llu lost %llu (published %llu)\n", i,
		       (unsigned long long)r[i].nread, (unsigned long long)r[i].lost,
		       (unsigned long long)frames);
		assert_int_equal(r[i].bad, 0);
		assert_int_equal(r[i].disorder, 0);
		assert_int_equal(r[i].nread + r[i].lost, frames);
	}
	assert_true(r[2].lost > 0);	/* the slow one really was lapped */
	qk_seg_detach(&seg);
	qk_seg_unlink(name);
}

static int teardown(void **state)
{
	(void)state;
	qk_seg_unlink(name);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_stress_ring_readers_get_whole_frames_and_exact_losses, teardown),
	};
	const char *n = getenv("QK_STRESS_FRAMES");

	frames = n ? strtoull(n, NULL, 10) : DEFAULT_FRAMES;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
