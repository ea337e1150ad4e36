/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/agent/test_wake.c - the futex deadline's grid arithmetic and the
 * timer phase's window, refusal included. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rt/agent/wake.h"

#define P 1000000ll	/* 1 kHz */
#define E 5000000000ll	/* the segment's epoch */

static void test_wake_grid_after_is_strictly_after(void **state)
{
	(void)state;
	assert_true(qk_wake_grid_after(E, P, E) == E + P);
	assert_true(qk_wake_grid_after(E, P, E + 1) == E + P);
	assert_true(qk_wake_grid_after(E, P, E + P - 1) == E + P);
	assert_true(qk_wake_grid_after(E, P, E + 7 * P) == E + 8 * P);
	/* before the epoch too */
	assert_true(qk_wake_grid_after(E, P, E - 1) == E);
	assert_true(qk_wake_grid_after(E, P, E - P) == E);
	assert_true(qk_wake_grid_after(E, P, E - P - 1) == E - P);
}

static void test_wake_next_due_follows_the_cycle_handled(void **state)
{
	int64_t due = E + 10 * P;

	(void)state;
	/* a fresh frame 40 us into its cycle: wait for the next one */
	assert_true(qk_wake_next_due(E, P, due, due + 40000) == due + P);
	/* a stale tick at the deadline: the next cycle, not this one again */
	assert_true(qk_wake_next_due(E, P, due, qk_wake_deadline(P, due) + 3000) == due + P);
	/* a frame more than a cycle late: the next cycle's deadline is still ahead */
	assert_true(qk_wake_next_due(E, P, due, due + P + 100000) == due + P);
	/* five cycles behind: skip to the first whose deadline has not passed */
	assert_true(qk_wake_next_due(E, P, due, due + 5 * P + 700000) == due + 6 * P);
	assert_true(qk_wake_deadline(P, due + 6 * P) > due + 5 * P + 700000);
}

static void test_wake_cycle_due_distrusts_the_frame(void **state)
{
	int64_t end = E + 10 * P + 50000;

	(void)state;
	assert_true(qk_wake_cycle_due(E, P, 10, end, -1) == E + 10 * P);
	assert_true(qk_wake_cycle_due(E, P, 3, end, -1) == E + 3 * P);
	/* not yet due, or nonsense from a damaged segment: the fallback */
	assert_true(qk_wake_cycle_due(E, P, 11, end, -1) == -1);
	assert_true(qk_wake_cycle_due(E, P, UINT64_MAX, end, -1) == -1);
	assert_true(qk_wake_cycle_due(E, P, 0, E - 1, -1) == -1);
}

static void test_wake_timer_phase_is_the_middle_never_scaled(void **state)
{
	struct qk_wake_figures none = { 0 };
	struct qk_wake_figures f = { .sim_wake = 60000, .sim_compute = 20000,
				     .agent_wake = 50000, .agent_compute = 10000 };
	int64_t ph;
	char why[512];

	(void)state;
	/* no data: the middle of the period */
	assert_int_equal(qk_wake_timer_phase(P, &none, &ph, why, sizeof(why)), 0);
	assert_true(ph == P / 2);
	/* window [80 us, 940 us]: its middle */
	assert_int_equal(qk_wake_timer_phase(P, &f, &ph, why, sizeof(why)), 0);
	assert_true(ph == 510000);
	/* at 10 kHz the same latencies give [80, 40]: empty, refused with figures */
	assert_int_equal(qk_wake_timer_phase(P / 10, &f, &ph, why, sizeof(why)), -ERANGE);
	assert_non_null(strstr(why, "100.0 us period"));
	assert_non_null(strstr(why, "80.0 us after its due time"));
	assert_non_null(strstr(why, "wake p99 60.0 + compute p99 20.0"));
	assert_non_null(strstr(why, "needs 60.0 us"));
	assert_non_null(strstr(why, "--wake futex"));
	/* at 5 kHz [80, 140]: 110, not a fifth of 1 kHz's phase */
	assert_int_equal(qk_wake_timer_phase(P / 5, &f, &ph, why, sizeof(why)), 0);
	assert_true(ph == 110000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wake_grid_after_is_strictly_after),
		cmocka_unit_test(test_wake_next_due_follows_the_cycle_handled),
		cmocka_unit_test(test_wake_cycle_due_distrusts_the_frame),
		cmocka_unit_test(test_wake_timer_phase_is_the_middle_never_scaled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
