/* tests/shm/test_mbox.c - the seqlock mailbox. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rt/rt.h"
#include "shm/mbox.h"

struct value {
	uint64_t n, words[30], sum;	/* sum: a self-check over the rest */
};

static struct value mk(uint64_t n)
{
	struct value v = { .n = n };

	for (int i = 0; i < 30; i++) {
		v.words[i] = n * 1000003 + (uint64_t)i;
		v.sum += v.words[i];
	}
	v.sum ^= n;
	return v;
}

static bool whole(const struct value *v)
{
	struct value w = mk(v->n);

	return !memcmp(v, &w, sizeof(w));
}

/* The port first, the mailbox (the shared part) one line after it. */
static struct qk_mbox_port *new_mbox(void)
{
	struct qk_mbox_port *p = aligned_alloc(64, 64 + qk_mbox_footprint(sizeof(struct value)));

	assert_non_null(p);
	qk_mbox_init((struct qk_mbox *)((unsigned char *)p + 64), sizeof(struct value), p);
	return p;
}

static void test_mbox_write_then_read(void **state)
{
	struct qk_mbox_port *m = new_mbox();
	struct value v = mk(7), out, scratch;

	(void)state;
	assert_int_equal(qk_mbox_writes(m), 0);
	qk_mbox_write(m, &v);
	assert_true(qk_mbox_read(m, &out, &scratch));
	assert_memory_equal(&out, &v, sizeof(v));
	assert_int_equal(qk_mbox_writes(m), 1);
	free(m);
}

struct writer {
	struct qk_mbox_port *m;
	_Atomic int stop;
};

static void *write_loop(void *p)
{
	struct writer *w = p;

	for (uint64_t n = 1; !atomic_load(&w->stop); n++) {
		struct value v = mk(n);

		qk_mbox_write(w->m, &v);
	}
	return NULL;
}

static void test_mbox_reader_never_sees_a_torn_value(void **state)
{
	struct writer w = { .m = new_mbox() };
	struct value out, scratch, first = mk(0);
	pthread_t t;
	uint64_t good = 0, last = 0;

	(void)state;
	qk_mbox_write(w.m, &first);
	pthread_create(&t, NULL, write_loop, &w);
	for (int i = 0; i < 200000; i++) {
		if (qk_mbox_read(w.m, &out, &scratch)) {
			assert_true(whole(&out));
			assert_true(out.n >= last);	/* never goes back */
			last = out.n;
			good++;
		}
	}
	atomic_store(&w.stop, 1);
	pthread_join(t, NULL);
	assert_true(good > 0);
	free(w.m);
}

/* A writer that died mid-write: the read fails in bounded time, and the
 * caller's last good copy is untouched. */
static void test_mbox_dead_writer_keeps_last_good_copy(void **state)
{
	struct qk_mbox_port *m = new_mbox();
	struct value v = mk(3), out, scratch;

	(void)state;
	qk_mbox_write(m, &v);
	assert_true(qk_mbox_read(m, &out, &scratch));
	qk_seq_write_begin(&m->m->ver);	/* and the writer is gone */
	qk_store_relaxed(&m->m->data[0], 99);
	int64_t t0 = qk_now_ns();

	assert_false(qk_mbox_read(m, &out, &scratch));
	assert_true(qk_now_ns() - t0 < QK_NSEC);
	assert_memory_equal(&out, &v, sizeof(v));
	/* a restarted writer recovers the cell */
	assert_true(qk_seq_writer_recover(&m->m->ver));
	v = mk(4);
	qk_mbox_write(m, &v);
	assert_true(qk_mbox_read(m, &out, &scratch));
	assert_int_equal(out.n, 4);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mbox_write_then_read),
		cmocka_unit_test(test_mbox_reader_never_sees_a_torn_value),
		cmocka_unit_test(test_mbox_dead_writer_keeps_last_good_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
