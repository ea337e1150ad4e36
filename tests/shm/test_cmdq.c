/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/shm/test_cmdq.c - the MPSC command queue and the request/reply protocol. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm/cmdq.h"
#include "shm/layout.h"
#include "shm/ring.h"

struct msg {
	uint64_t id, payload[2];
};

/* The port first, the queue (the shared part) one line after it. */
static struct qk_cmdq_port *new_q(uint32_t cap)
{
	struct qk_cmdq_port *p = aligned_alloc(64, 64 + qk_cmdq_footprint(cap, sizeof(struct msg)));

	assert_non_null(p);
	assert_int_equal(qk_cmdq_init((struct qk_cmdq *)((unsigned char *)p + 64), cap,
				      sizeof(struct msg), p), 0);
	return p;
}

/* The doorbell (a held lockstep sim's sleep): a consumer that read the tail
 * before a push never sleeps through it, whether the push comes before its
 * wait (the word changed) or during it (the wake).  A lost wake-up would
 * show as a wait that timed out. */
struct bell {
	struct qk_cmdq_port *q;
	int timeouts, got;
};

static void *bell_consumer(void *arg)
{
	struct bell *b = arg;
	struct msg m;

	while (b->got < 200) {
		uint64_t tail = qk_cmdq_tail(b->q);

		if (qk_cmdq_pop(b->q, &m)) {
			b->got++;
			continue;
		}
		if (qk_cmdq_wait(b->q, tail, 30 * 1000000000ll) == -ETIMEDOUT)
			b->timeouts++;
	}
	return NULL;
}

static void test_cmdq_doorbell_loses_no_wake_up(void **state)
{
	struct bell b = { .q = new_q(4) };
	pthread_t t;

	(void)state;
	/* a tail read before a push: no sleep at all */
	uint64_t tail = qk_cmdq_tail(b.q);
	struct msg x = { 1, { 0, 0 } };

	assert_int_equal(qk_cmdq_push(b.q, &x), 0);
	assert_int_equal(qk_cmdq_wait(b.q, tail, 30 * 1000000000ll), 0);
	assert_true(qk_cmdq_pop(b.q, &x));
	/* 200 pushes, each rung, against a consumer that sleeps between them */
	assert_int_equal(pthread_create(&t, NULL, bell_consumer, &b), 0);
	for (uint64_t i = 0; i < 200; i++) {
		struct msg m = { i, { i, i } };

		while (qk_cmdq_push(b.q, &m))
			sched_yield();
		qk_cmdq_wake(b.q);
		if (i % 8 == 0)
			usleep(200);	/* let it fall asleep now and then */
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(b.got, 200);
	assert_int_equal(b.timeouts, 0);
	free(b.q);
}

static void test_cmdq_init_rejects_bad_shapes(void **state)
{
	static _Alignas(64) unsigned char buf[4096];

	(void)state;
	assert_int_equal(qk_cmdq_init((void *)buf, 6, 8, NULL), -EINVAL);
	assert_int_equal(qk_cmdq_init((void *)buf, 4, 12, NULL), -EINVAL);
	assert_int_equal(qk_cmdq_init((void *)buf, 4, 8, NULL), 0);
}

static void test_cmdq_empty_fifo_full_and_wrap(void **state)
{
	struct qk_cmdq_port *q = new_q(4);
	struct msg m;
	uint64_t in = 0, out = 0;

	(void)state;
	assert_false(qk_cmdq_pop(q, &m));
	for (int lap = 0; lap < 100; lap++) {
		for (int i = 0; i < 4; i++) {
			struct msg x = { in, { in * 7, ~in } };

			assert_int_equal(qk_cmdq_push(q, &x), 0);
			in++;
		}
		struct msg x = { .id = 999 };

		assert_int_equal(qk_cmdq_push(q, &x), -EAGAIN);	/* full refuses */
		assert_int_equal(qk_cmdq_depth(q), 4);
		for (int i = 0; i < 4; i++) {
			assert_true(qk_cmdq_pop(q, &m));
			assert_int_equal(m.id, out);
			assert_int_equal(m.payload[0], out * 7);
			out++;
		}
		assert_false(qk_cmdq_pop(q, &m));
	}
	assert_int_equal(qk_load_relaxed(&q->q->taken), 400);
	free(q);
}

/* A producer that claimed a cell and died before publishing it. */
static void test_cmdq_abandons_a_stalled_cell(void **state)
{
	struct qk_cmdq_port *q = new_q(4);
	struct msg a = { .id = 1 }, b = { .id = 2 }, m;
	uint64_t pos = 0;

	(void)state;
	assert_false(qk_cmdq_stalled(q));
	assert_false(qk_cmdq_abandon_stalled(q));
	assert_true(qk_cas_relaxed(&q->q->tail, &pos, 1));	/* claimed, never published */
	assert_int_equal(qk_cmdq_push(q, &b), 0);	/* a live sender queues behind it */
	assert_false(qk_cmdq_pop(q, &m));		/* blocked at the dead cell */
	assert_true(qk_cmdq_stalled(q));
	assert_true(qk_cmdq_abandon_stalled(q));
	assert_true(qk_cmdq_pop(q, &m));
	assert_int_equal(m.id, 2);
	assert_int_equal(qk_load_relaxed(&q->q->abandoned), 1);
	/* the queue keeps working for laps after */
	for (int i = 0; i < 20; i++) {
		assert_int_equal(qk_cmdq_push(q, &a), 0);
		assert_true(qk_cmdq_pop(q, &m));
	}
	free(q);
}

static void test_cmdq_corrupt_payload_is_skipped_and_counted(void **state)
{
	struct qk_cmdq_port *q = new_q(4);
	struct msg a = { .id = 1 }, b = { .id = 2 }, m;

	(void)state;
	assert_int_equal(qk_cmdq_push(q, &a), 0);
	assert_int_equal(qk_cmdq_push(q, &b), 0);
	struct qk_cmdq_cell *c = (struct qk_cmdq_cell *)(q->q + 1);

	qk_store_relaxed(&c->data[1], 0xdead);		/* torn by a zombie writer */
	assert_true(qk_cmdq_pop(q, &m));
	assert_int_equal(m.id, 2);
	assert_int_equal(qk_load_relaxed(&q->q->corrupt), 1);
	free(q);
}

/* The protocol qikictl uses: command in, reply on a broadcast ring. */
struct server {
	struct qk_cmdq_port *q;
	struct qk_ring_port *replies;
	_Atomic int stop;
	bool mute;
};

static void *serve(void *p)
{
	struct server *s = p;
	struct qk_cmd c;

	while (!atomic_load(&s->stop)) {
		if (qk_cmdq_pop(s->q, &c) && !s->mute) {
			struct qk_reply r = { .id = c.id, .status = c.u[0] ? QK_REPLY_REFUSED : QK_REPLY_ACCEPTED };

			snprintf(r.reason, sizeof(r.reason), "%s", c.u[0] ? "no" : "");
			qk_ring_publish(s->replies, &r);
		}
	}
	return NULL;
}

static int ask(struct server *s, uint64_t id, uint32_t refuse, int spins, struct qk_reply *r)
{
	struct qk_cmd c = { .id = id, .type = QK_CMD_PING, .u = { refuse } };
	struct qk_ring_reader rd;

	qk_ring_reader_init(&rd, s->replies, QK_RING_FROM_NOW);	/* before sending */
	if (qk_cmdq_push(s->q, &c))
		return -EAGAIN;
	for (int i = 0; i < spins; i++)
		while (qk_ring_read_next(&rd, r))
			if (r->id == id)
				return 0;
	return -ETIMEDOUT;
}

static void test_cmdq_reply_protocol_answers_and_times_out(void **state)
{
	struct server s = { 0 };
	struct qk_cmdq_port qp;
	struct qk_ring_port rp;
	struct qk_reply r;
	pthread_t t;

	(void)state;
	struct qk_cmdq *q = aligned_alloc(64, qk_cmdq_footprint(16, sizeof(struct qk_cmd)));
	struct qk_ring *ring = aligned_alloc(64, qk_ring_footprint(64, sizeof(struct qk_reply)));

	assert_int_equal(qk_cmdq_init(q, 16, sizeof(struct qk_cmd), &qp), 0);
	assert_int_equal(qk_ring_init(ring, 64, sizeof(struct qk_reply), 0, &rp), 0);
	s.q = &qp;
	s.replies = &rp;
	pthread_create(&t, NULL, serve, &s);
	for (uint64_t id = 1; id <= 200; id++) {
		assert_int_equal(ask(&s, id, id % 5 == 0, 50000000, &r), 0);
		assert_int_equal(r.status, id % 5 == 0 ? QK_REPLY_REFUSED : QK_REPLY_ACCEPTED);
	}
	s.mute = true;
	assert_int_equal(ask(&s, 1000, 0, 100000, &r), -ETIMEDOUT);
	atomic_store(&s.stop, 1);
	pthread_join(t, NULL);
	free(q);
	free(ring);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmdq_init_rejects_bad_shapes),
		cmocka_unit_test(test_cmdq_empty_fifo_full_and_wrap),
		cmocka_unit_test(test_cmdq_abandons_a_stalled_cell),
		cmocka_unit_test(test_cmdq_corrupt_payload_is_skipped_and_counted),
		cmocka_unit_test(test_cmdq_reply_protocol_answers_and_times_out),
		cmocka_unit_test(test_cmdq_doorbell_loses_no_wake_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
