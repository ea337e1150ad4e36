/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/hil/test_hil_stream.c - the bridge's sensor stream hash
 * (rt/hil/stream.h): the same measurements give the same hash whatever the
 * absolute cycle numbers, another measurement another; the fold is the
 * simulator's qk_proc_frame_hash(); checkpoints keep the hash, the frames
 * lost so far and whether the loop held (one session, no overrun, no late
 * answer since the first frame).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "rt/hil/stream.h"
#include "rt/proc.h"

static struct qk_hil_stream a, b;

static void frame(struct qk_hil_sensors *s, uint64_t cycle, double x)
{
	memset(s, 0, sizeof(*s));
	s->cycle = cycle;
	s->valid = 7;
	s->pos_m[0] = x;
	s->n_thermal = 2;
	s->temp_k[0] = 290.0 + x;
}

static void feed(struct qk_hil_stream *st, uint64_t first_cycle, int n, double bump_at,
		 const struct qk_hil_stream_loop *loop)
{
	struct qk_hil_sensors s;

	for (int i = 0; i < n; i++) {
		frame(&s, first_cycle + (uint64_t)i, i * 0.001 + (i == bump_at ? 1e-9 : 0));
		qk_hil_stream_take(st, &s, false, loop);
	}
}

static void test_hil_stream_same_measurements_same_hash_at_any_cycle(void **state)
{
	struct qk_hil_stream_loop loop = { .sessions = 1 };

	(void)state;
	qk_hil_stream_init(&a);
	qk_hil_stream_init(&b);
	feed(&a, 1000, 600, -1, &loop);
	feed(&b, 987654321, 600, -1, &loop);	/* another run started at another time */
	assert_int_equal(a.frames, 600);
	assert_true(a.hash == b.hash);
	assert_true(a.hash_at[0] == b.hash_at[0]);
	assert_true(a.clean_at[0]);
	qk_hil_stream_init(&b);
	feed(&b, 1000, 600, 321, &loop);		/* one reading differs by 1e-9 m */
	assert_true(a.hash != b.hash);
	assert_true(a.hash_at[0] != b.hash_at[0]);
}

static void test_hil_stream_a_gap_in_cycles_is_another_stream(void **state)
{
	struct qk_hil_stream_loop loop = { .sessions = 1 };
	struct qk_hil_sensors s;

	(void)state;
	qk_hil_stream_init(&a);
	qk_hil_stream_init(&b);
	frame(&s, 10, 1.0);
	qk_hil_stream_take(&a, &s, false, &loop);
	qk_hil_stream_take(&b, &s, false, &loop);
	frame(&s, 11, 1.0);
	qk_hil_stream_take(&a, &s, false, &loop);
	frame(&s, 12, 1.0);	/* the same values, a cycle later: an overrun's gap */
	qk_hil_stream_take(&b, &s, false, &loop);
	assert_true(a.hash != b.hash);
}

static void test_hil_stream_is_the_simulators_fold(void **state)
{
	struct qk_hil_stream_loop loop = { .sessions = 1 };
	struct qk_hil_sensors s;
	struct qk_sensor_frame f;

	(void)state;
	qk_hil_stream_init(&a);
	frame(&s, 42, 0.5);
	qk_hil_stream_take(&a, &s, true, &loop);
	memset(&f, 0, sizeof(f));
	qk_hil_sensor_frame(&s, true, &f);
	f.cycle = 0;
	assert_true(f.flags & QK_SIMF_NO_RT);
	assert_true(a.hash == qk_proc_frame_hash(0xcbf29ce484222325ull, &f));
}

static void test_hil_stream_checkpoints_say_whether_the_loop_held(void **state)
{
	struct qk_hil_stream_loop loop = { .sessions = 1, .overruns = 3, .late_answers = 2 };

	(void)state;
	qk_hil_stream_init(&a);
	feed(&a, 1, 500, -1, &loop);	/* overruns and late answers before the first frame: fine */
	assert_true(a.clean_at[0]);
	loop.lost = 4;
	feed(&a, 501, 500, -1, &loop);
	assert_true(a.clean_at[1]);	/* loss is said apart: a seeded pattern repeats */
	assert_int_equal(a.lost_at[1], 4);
	loop.overruns++;
	feed(&a, 1001, 500, -1, &loop);
	assert_false(a.clean_at[2]);
	loop.overruns--;
	loop.sessions = 2;
	feed(&a, 1501, 500, -1, &loop);
	assert_false(a.clean_at[3]);
	assert_int_equal(a.frames, 2000);
	/* past the last checkpoint the hash still runs, the checkpoints stay */
	qk_hil_stream_init(&b);
	feed(&b, 1, QK_HIL_STREAM_EVERY * QK_HIL_STREAM_POINTS + 7, -1, &loop);
	assert_int_equal(b.frames, QK_HIL_STREAM_EVERY * QK_HIL_STREAM_POINTS + 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hil_stream_same_measurements_same_hash_at_any_cycle),
		cmocka_unit_test(test_hil_stream_a_gap_in_cycles_is_another_stream),
		cmocka_unit_test(test_hil_stream_is_the_simulators_fold),
		cmocka_unit_test(test_hil_stream_checkpoints_say_whether_the_loop_held),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
