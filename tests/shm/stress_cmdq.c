/*
 * tests/shm/stress_cmdq.c - many producers, one consumer, over the agent's
 * command queue in a real segment: every command arrives exactly once, and
 * each producer's commands arrive in the order it sent them.  Producers are
 * processes (threads in the TSan build).
 */
#include <errno.h>
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
#define PER 20000u
#else
#define THREADS 0
#define PER 200000u
#endif
#define NPROD 6

static char name[32];
static struct qk_seg seg;

static void produce(struct qk_seg *s, uint32_t who)
{
	for (uint32_t i = 0; i < PER; i++) {
		struct qk_cmd c = { .id = ((uint64_t)who << 32) | i, .type = QK_CMD_PING,
				    .u = { who, i } };

		while (qk_cmdq_push(s->agent_cmdq, &c) == -EAGAIN)
			sched_yield();
	}
}

static void *prod_thread(void *p)
{
	produce(&seg, (uint32_t)(uintptr_t)p);
	return NULL;
}

static void test_stress_cmdq_no_command_lost_or_duplicated(void **state)
{
	static uint32_t next[NPROD];
	struct qk_config cfg;
	char why[256];
	pthread_t t[NPROD];
	pid_t pid[NPROD];
	uint64_t got = 0;

	(void)state;
	snprintf(name, sizeof(name), "t-cmdq-%d", (int)getpid());
	assert_int_equal(qk_config_profile(&cfg, "bot", why, sizeof(why)), 0);
	assert_int_equal(qk_seg_create(&seg, name, &cfg, 0), 0);
	qk_seg_publish(&seg);
	for (uint32_t p = 0; p < NPROD; p++) {
		if (THREADS) {
			pthread_create(&t[p], NULL, prod_thread, (void *)(uintptr_t)p);
			continue;
		}
		pid[p] = fork();
		if (!pid[p]) {
			struct qk_seg mine;

			if (qk_seg_attach(&mine, name, 0))
				_exit(2);
			produce(&mine, p);
			_exit(0);
		}
	}
	while (got < (uint64_t)NPROD * PER) {
		struct qk_cmd c;

		if (!qk_cmdq_pop(seg.agent_cmdq, &c)) {
			sched_yield();
			continue;
		}
		uint32_t who = c.u[0], i = c.u[1];

		assert_true(who < NPROD);
		assert_int_equal(c.id, ((uint64_t)who << 32) | i);
		assert_int_equal(i, next[who]);	/* once, and in the sender's order */
		next[who]++;
		got++;
	}
	for (uint32_t p = 0; p < NPROD; p++) {
		if (THREADS) {
			pthread_join(t[p], NULL);
		} else {
			int st;

			waitpid(pid[p], &st, 0);
			assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		}
		assert_int_equal(next[p], PER);
	}
	struct qk_cmd extra;

	assert_false(qk_cmdq_pop(seg.agent_cmdq, &extra));	/* nothing duplicated */
	assert_int_equal(qk_load_relaxed(&seg.agent_cmdq->q->corrupt), 0);
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
		cmocka_unit_test_teardown(test_stress_cmdq_no_command_lost_or_duplicated, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
