/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/shm/test_ring.c - the SPMC seqlock ring, in one process. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rt/rt.h"
#include "shm/ring.h"

struct frame {
	uint64_t seq, check[3];
};

/* The port first, the ring (the shared part) one line after it: one free(). */
static struct qk_ring_port *new_ring(uint32_t cap, uint64_t first)
{
	struct qk_ring_port *p = aligned_alloc(64, 64 + qk_ring_footprint(cap, sizeof(struct frame)));

	assert_non_null(p);
	assert_int_equal(qk_ring_init((struct qk_ring *)((unsigned char *)p + 64), cap,
				      sizeof(struct frame), first, p), 0);
	return p;
}

static struct frame mk(uint64_t s)
{
	return (struct frame){ s, { s * 3, ~s, s ^ 0x5a5a5a5a5a5a5a5aull } };
}

static void pub(struct qk_ring_port *r, uint64_t s)
{
	struct frame f = mk(s);

	assert_int_equal(qk_ring_publish(r, &f), s);
}

static void check(const struct frame *f)
{
	struct frame want = mk(f->seq);

	assert_memory_equal(f, &want, sizeof(want));
}

static void test_ring_init_rejects_bad_shapes(void **state)
{
	static _Alignas(64) unsigned char buf[4096];

	(void)state;
	assert_int_equal(qk_ring_init((void *)buf, 3, 8, 0, NULL), -EINVAL);
	assert_int_equal(qk_ring_init((void *)buf, 1, 8, 0, NULL), -EINVAL);
	assert_int_equal(qk_ring_init((void *)buf, 4, 12, 0, NULL), -EINVAL);
	assert_int_equal(qk_ring_init((void *)buf, 4, 0, 0, NULL), -EINVAL);
	assert_int_equal(qk_ring_init((void *)buf, 4, 8, 0, NULL), 0);
}

static void test_ring_empty_reads_nothing(void **state)
{
	struct qk_ring_port *r = new_ring(8, 0);
	struct qk_ring_reader rd;
	struct frame f;

	(void)state;
	qk_ring_reader_init(&rd, r, QK_RING_FROM_OLDEST);
	assert_false(qk_ring_read_next(&rd, &f));
	assert_false(qk_ring_read_newest(&rd, &f));
	assert_int_equal(qk_ring_pending(&rd), 0);
	free(r);
}

static void test_ring_next_in_order_and_newest_skips(void **state)
{
	struct qk_ring_port *r = new_ring(8, 0);
	struct qk_ring_reader a, b;
	struct frame f;

	(void)state;
	qk_ring_reader_init(&a, r, QK_RING_FROM_OLDEST);
	qk_ring_reader_init(&b, r, QK_RING_FROM_OLDEST);
	for (uint64_t s = 0; s < 5; s++)
		pub(r, s);
	for (uint64_t s = 0; s < 5; s++) {
		assert_true(qk_ring_read_next(&a, &f));
		assert_int_equal(f.seq, s);
		check(&f);
	}
	assert_false(qk_ring_read_next(&a, &f));
	assert_true(qk_ring_read_newest(&b, &f));
	assert_int_equal(f.seq, 4);
	assert_int_equal(b.lost, 4);	/* newest jumps over four: counted */
	assert_false(qk_ring_read_newest(&b, &f));
	pub(r, 5);
	assert_true(qk_ring_read_newest(&b, &f));
	assert_int_equal(f.seq, 5);
	assert_int_equal(b.nread + b.lost, 6);
	free(r);
}

static void test_ring_from_now_sees_only_new(void **state)
{
	struct qk_ring_port *r = new_ring(8, 0);
	struct qk_ring_reader rd;
	struct frame f;

	(void)state;
	pub(r, 0);
	pub(r, 1);
	qk_ring_reader_init(&rd, r, QK_RING_FROM_NOW);
	assert_false(qk_ring_read_next(&rd, &f));
	pub(r, 2);
	assert_true(qk_ring_read_next(&rd, &f));
	assert_int_equal(f.seq, 2);
	free(r);
}

/* published = read + lost, exactly, for a reader lapped many times */
static void test_ring_lapped_reader_counts_losses_exactly(void **state)
{
	struct qk_ring_port *r = new_ring(16, 0);
	struct qk_ring_reader rd;
	struct frame f;
	uint64_t s = 0, last = 0;
	bool first = true;

	(void)state;
	qk_ring_reader_init(&rd, r, QK_RING_FROM_OLDEST);
	for (int round = 0; round < 1000; round++) {
		int burst = (round * 7) % 53;	/* sometimes under, often over capacity */

		for (int i = 0; i < burst; i++)
			pub(r, s++);
		for (int i = 0; i < 3 && qk_ring_read_next(&rd, &f); i++) {
			check(&f);
			assert_true(first || f.seq > last);
			last = f.seq;
			first = false;
		}
	}
	while (qk_ring_read_next(&rd, &f)) {
		check(&f);
		assert_true(f.seq > last);
		last = f.seq;
	}
	assert_int_equal(rd.nread + rd.lost, s);
	assert_true(rd.lost > 0);
	assert_int_equal(qk_ring_published(r), s);
	free(r);
}

static void wrap_at(uint64_t first)
{
	struct qk_ring_port *r = new_ring(8, first);
	struct qk_ring_reader rd, nw;
	struct frame f;
	uint64_t s = first;

	qk_ring_reader_init(&rd, r, QK_RING_FROM_OLDEST);
	qk_ring_reader_init(&nw, r, QK_RING_FROM_OLDEST);
	for (int i = 0; i < 40; i++) {
		pub(r, s++);
		if (i % 3 == 0) {
			assert_true(qk_ring_read_newest(&nw, &f));
			assert_int_equal(f.seq, s - 1);
		}
		if (i % 2 == 0) {
			assert_true(qk_ring_read_next(&rd, &f));
			check(&f);
		}
	}
	while (qk_ring_read_next(&rd, &f))
		check(&f);
	assert_int_equal(f.seq, s - 1);
	assert_int_equal(rd.nread + rd.lost, 40);
	assert_int_equal(qk_ring_published(r), 40);
	free(r);
}

static void test_ring_wraps_past_2_32(void **state)
{
	(void)state;
	wrap_at(UINT32_MAX - 17);
}

static void test_ring_wraps_past_2_64(void **state)
{
	(void)state;
	wrap_at(UINT64_MAX - 17);
}

/* A reader that starts from the oldest after the ring wrapped: what was
 * overwritten before it came counts as lost (issue 17's stress_ring
 * shortfall), so published = read + lost from the first frame. */
static void test_ring_from_oldest_after_wrap_counts_overwritten_as_lost(void **state)
{
	uint64_t first = UINT64_MAX - 9;	/* across the wrap of the counter too */
	struct qk_ring_port *r = new_ring(8, first);
	struct qk_ring_reader rd, now;
	struct frame f;

	(void)state;
	for (uint64_t s = first; s != first + 29; s++)
		pub(r, s);
	qk_ring_reader_init(&rd, r, QK_RING_FROM_OLDEST);
	qk_ring_reader_init(&now, r, QK_RING_FROM_NOW);
	assert_int_equal(rd.lost, 29 - 7);
	while (qk_ring_read_next(&rd, &f))
		check(&f);
	assert_int_equal(rd.nread, 7);
	assert_int_equal(rd.nread + rd.lost, qk_ring_published(r));
	assert_int_equal(now.lost, 0);
	assert_false(qk_ring_read_next(&now, &f));
	free(r);
}

/* A writer that died in the middle of a frame: it was writing frame 10 into
 * the slot of frame 2, which readers no longer read; nothing to repair. */
static void test_ring_dead_writer_slot_is_never_returned(void **state)
{
	struct qk_ring_port *r = new_ring(8, 0);
	struct qk_ring_reader rd;
	struct frame f;

	(void)state;
	for (uint64_t s = 0; s < 10; s++)
		pub(r, s);
	memset((unsigned char *)(r->r + 1) + 2 * r->slot_stride, 0xee, 16);	/* half of frame 10 */
	qk_ring_reader_init(&rd, r, QK_RING_FROM_OLDEST);
	assert_int_equal(rd.lost, 3);
	for (uint64_t s = 3; s < 10; s++) {
		assert_true(qk_ring_read_next(&rd, &f));
		assert_int_equal(f.seq, s);
		check(&f);
	}
	assert_false(qk_ring_read_next(&rd, &f));
	/* a new producer carries on where head says */
	assert_int_equal(qk_ring_producer_recover(r), 0);
	pub(r, 10);
	assert_true(qk_ring_read_next(&rd, &f));
	assert_int_equal(f.seq, 10);
	check(&f);
	assert_int_equal(rd.nread + rd.lost, qk_ring_published(r));
	free(r);
}

/* Payloads that are not a multiple of 16 or 64 bytes: the copies move
 * exactly payload_size bytes each way (the vectorised copy's tails). */
static void test_ring_copies_exactly_payload_size(void **state)
{
	(void)state;
	/* both copies where the CPU has the wide one: 256-, 128-, 32- and
	 * 16-byte steps, up to two whole 256-byte steps and a tail */
	for (uint32_t run = 0; run < 2 * 70; run++) {
		uint32_t size = 8 + 8 * (run % 70);
		struct qk_ring_port *p = aligned_alloc(64, 64 + qk_ring_footprint(4, size));
		unsigned char in[560], out[560 + 8];
		struct qk_ring_reader rd;

		assert_non_null(p);
		assert_int_equal(qk_ring_init((struct qk_ring *)((unsigned char *)p + 64), 4, size,
					      0, p), 0);
		if (run >= 70)
			p->flags &= ~QK_RING_WIDE;
		assert_int_equal(p->slot_stride % 64, 0);
		assert_true(p->slot_stride >= size && p->slot_stride < size + 64);
		qk_ring_reader_init(&rd, p, QK_RING_FROM_OLDEST);
		for (int k = 0; k < 6; k++) {	/* past the wrap of 4 slots */
			for (uint32_t i = 0; i < size; i++)
				in[i] = (unsigned char)(i * 7 + (unsigned)k * 31 + size);
			memset(out, 0xa5, sizeof(out));
			qk_ring_publish(p, in);
			assert_true(qk_ring_read_next(&rd, out));
			assert_memory_equal(out, in, size);
			for (uint32_t i = size; i < sizeof(out); i++)
				assert_int_equal(out[i], 0xa5);
		}
		free(p);
	}
}

/* A head that a hostile writer keeps moving: every read returns within its
 * retry budget and a reader never writes to the ring. */
struct flipper {
	struct qk_ring_port *r;
	_Atomic int done;
};

static void *flip_head(void *q)
{
	struct flipper *x = q;

	while (!qk_load_relaxed(&x->done)) {
		qk_store_relaxed(&x->r->r->head, 20);
		qk_store_relaxed(&x->r->r->head, 20 + 5000);
	}
	return NULL;
}

static void test_ring_torn_slot_read_is_bounded(void **state)
{
	struct flipper x = { .r = new_ring(8, 0) };
	size_t bytes = qk_ring_footprint(8, sizeof(struct frame)) - sizeof(struct qk_ring);
	unsigned char *slots = (unsigned char *)(x.r->r + 1), *copy = malloc(bytes);
	struct qk_ring_reader rd;
	struct frame f;
	pthread_t t;

	(void)state;
	for (uint64_t s = 0; s < 20; s++)
		pub(x.r, s);
	memcpy(copy, slots, bytes);
	qk_ring_reader_init(&rd, x.r, QK_RING_FROM_OLDEST);
	assert_int_equal(pthread_create(&t, NULL, flip_head, &x), 0);
	for (int i = 0; i < 20000; i++) {
		qk_ring_read_next(&rd, &f);
		qk_ring_read_newest(&rd, &f);
	}
	qk_store_relaxed(&x.done, 1);
	pthread_join(t, NULL);
	assert_memory_equal(slots, copy, bytes);
	free(copy);
	free(x.r);
}

struct waiter {
	struct qk_ring_port *r;
	int ret;
	int64_t woke;
};

static void *wait_thread(void *p)
{
	struct waiter *w = p;

	w->ret = qk_ring_wait(w->r, 0, 5 * QK_NSEC);
	w->woke = qk_now_ns();
	return NULL;
}

static void test_ring_futex_wait_wakes_on_publish_and_times_out(void **state)
{
	struct qk_ring_port *r = new_ring(8, 0);
	struct waiter w = { .r = r };
	pthread_t t;

	(void)state;
	assert_int_equal(qk_ring_wait(r, 0, 20 * 1000000), -ETIMEDOUT);
	assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
	while (!atomic_load(&r->r->waiters))
		;
	pub(r, 0);
	qk_ring_wake(r);
	pthread_join(t, NULL);
	assert_int_equal(w.ret, 0);
	/* a wait on a value already gone returns at once */
	assert_int_equal(qk_ring_wait(r, 0, 5 * QK_NSEC), 0);
	free(r);
}

/* One writer thread, one reader thread: nothing torn, order kept. */
struct race {
	struct qk_ring_port *r;
	uint64_t n;
};

static void *race_writer(void *p)
{
	struct race *x = p;

	for (uint64_t s = 0; s < x->n; s++) {
		struct frame f = mk(s);

		qk_ring_publish(x->r, &f);
	}
	return NULL;
}

static void test_ring_concurrent_reader_never_sees_a_torn_frame(void **state)
{
	struct race x = { .r = new_ring(8, 0), .n = 200000 };
	struct qk_ring_reader rd;
	struct frame f;
	pthread_t t;
	uint64_t last = 0;
	bool any = false;

	(void)state;
	qk_ring_reader_init(&rd, x.r, QK_RING_FROM_OLDEST);
	pthread_create(&t, NULL, race_writer, &x);
	while (rd.next < x.n) {
		if (qk_ring_read_next(&rd, &f)) {
			check(&f);
			assert_true(!any || f.seq > last);
			last = f.seq;
			any = true;
		}
	}
	pthread_join(t, NULL);
	assert_int_equal(rd.nread + rd.lost, x.n);
	free(x.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_init_rejects_bad_shapes),
		cmocka_unit_test(test_ring_empty_reads_nothing),
		cmocka_unit_test(test_ring_next_in_order_and_newest_skips),
		cmocka_unit_test(test_ring_from_now_sees_only_new),
		cmocka_unit_test(test_ring_lapped_reader_counts_losses_exactly),
		cmocka_unit_test(test_ring_wraps_past_2_32),
		cmocka_unit_test(test_ring_wraps_past_2_64),
		cmocka_unit_test(test_ring_from_oldest_after_wrap_counts_overwritten_as_lost),
		cmocka_unit_test(test_ring_dead_writer_slot_is_never_returned),
		cmocka_unit_test(test_ring_copies_exactly_payload_size),
		cmocka_unit_test(test_ring_torn_slot_read_is_bounded),
		cmocka_unit_test(test_ring_futex_wait_wakes_on_publish_and_times_out),
		cmocka_unit_test(test_ring_concurrent_reader_never_sees_a_torn_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
