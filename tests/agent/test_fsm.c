/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/agent/test_fsm.c - the FSM table, every cell, and the transition ring. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "rt/agent/fsm.h"

#define B QK_ST_BOOTING
#define I QK_ST_IDLE
#define A QK_ST_ACTIVE
#define S QK_ST_SAFE
#define E QK_ST_ERROR
#define D QK_ST_SHUTDOWN
#define X (-1)			/* refused */

/* expected[state][event]: the state after, or X.  A copy of the design, so
 * a changed cell in rt/agent/fsm.c fails here until it is changed on purpose. */
static const int expected[QK_ST_COUNT][QK_EV_COUNT] = {
	/*        BIOS_OK BIOS_FAIL GUARD REQ_BOOT REQ_IDLE REQ_ACTIVE REQ_SAFE REQ_ERROR RESET SHUTDOWN */
	[B] = {   I,      E,        S,    B,       X,       X,         S,       X,        X,    D },
	[I] = {   I,      I,        S,    B,       I,       A,         S,       X,        X,    D },
	[A] = {   A,      A,        S,    X,       I,       A,         S,       X,        X,    D },
	[S] = {   S,      S,        S,    B,       X,       X,         S,       X,        I,    D },
	[E] = {   E,      E,        E,    B,       X,       X,         X,       X,        I,    D },
	[D] = {   D,      D,        D,    X,       X,       X,         X,       X,        X,    D },
};

static void test_fsm_every_cell_allowed_or_refused_with_reason(void **state)
{
	(void)state;
	for (int s = 0; s < QK_ST_COUNT; s++) {
		for (int e = 0; e < QK_EV_COUNT; e++) {
			struct qk_fsm f;
			const char *why = NULL;

			qk_fsm_init(&f, 0);
			f.state = (uint32_t)s;
			assert_int_equal(qk_fsm_allows(&f, e, NULL), expected[s][e] != X);
			int ret = qk_fsm_fire(&f, e, QK_TRG_OPERATOR, 42, 100, 7, &why);

			if (expected[s][e] == X) {
				assert_int_equal(ret, -EPERM);
				assert_non_null(why);
				/* a reason that fits a reply, and says something */
				assert_true(strlen(why) > 10 && strlen(why) < QK_REASON_LEN);
				assert_int_equal(f.state, s);
				assert_int_equal(f.n_transitions, 0);
				assert_int_equal(qk_fsm_next((uint32_t)s, (uint32_t)e, NULL), QK_FSM_NO);
				continue;
			}
			assert_int_equal(f.state, expected[s][e]);
			assert_int_equal(ret, expected[s][e] != s);
			assert_int_equal(f.n_transitions, expected[s][e] != s);
			if (expected[s][e] != s) {
				const struct qk_transition *t = qk_fsm_last(&f);

				assert_int_equal(t->from, s);
				assert_int_equal(t->to, expected[s][e]);
				assert_int_equal(t->trigger, QK_TRG_OPERATOR);
				assert_int_equal(t->who, 42);
				assert_int_equal(t->time_ns, 100);
				assert_int_equal(t->cycle, 7);
				assert_int_equal(f.since_ns, 100);
				assert_int_equal(f.reason, QK_TRG_OPERATOR);
			} else {
				assert_null(qk_fsm_last(&f));
				assert_int_equal(qk_fsm_next((uint32_t)s, (uint32_t)e, NULL), QK_FSM_SAME);
			}
		}
	}
}

static void test_fsm_refusals_name_the_way_out(void **state)
{
	const char *why = NULL;

	(void)state;
	assert_int_equal(qk_fsm_next(QK_ST_SAFE, QK_EV_REQ_ACTIVE, &why), QK_FSM_NO);
	assert_string_equal(why, "ACTIVE is not reachable from SAFE: RESET first");
	qk_fsm_next(QK_ST_BOOTING, QK_EV_REQ_ACTIVE, &why);
	assert_non_null(strstr(why, "BOOTING"));
	qk_fsm_next(QK_ST_IDLE, QK_EV_RESET, &why);
	assert_non_null(strstr(why, "nothing to reset"));
	qk_fsm_next(QK_ST_SHUTDOWN, QK_EV_REQ_BOOT, &why);
	assert_string_equal(why, "SHUTDOWN is final");
	qk_fsm_next(QK_ST_ACTIVE, QK_EV_REQ_BOOT, &why);
	assert_non_null(strstr(why, "IDLE first"));
	/* out of range is refused, not read past the table */
	assert_int_equal(qk_fsm_next(QK_ST_COUNT, 0, &why), QK_FSM_NO);
	assert_int_equal(qk_fsm_next(0, QK_EV_COUNT, &why), QK_FSM_NO);
	assert_non_null(why);
}

static void test_fsm_guard_records_its_trigger(void **state)
{
	struct qk_fsm f;

	(void)state;
	qk_fsm_init(&f, 5);
	assert_int_equal(f.state, QK_ST_BOOTING);
	assert_int_equal(f.since_ns, 5);
	assert_int_equal(qk_fsm_fire(&f, QK_EV_BIOS_OK, QK_TRG_BIOS_OK, 0, 10, 1, NULL), 1);
	assert_int_equal(qk_fsm_fire(&f, QK_EV_GUARD, QK_TRG_GUARD_THERMAL, 0, 20, 2, NULL), 1);
	assert_int_equal(f.state, QK_ST_SAFE);
	assert_int_equal(f.reason, QK_TRG_GUARD_THERMAL);
	/* a second guard in SAFE changes nothing: the first reason stands */
	assert_int_equal(qk_fsm_fire(&f, QK_EV_GUARD, QK_TRG_GUARD_BATTERY, 0, 30, 3, NULL), 0);
	assert_int_equal(f.reason, QK_TRG_GUARD_THERMAL);
	assert_int_equal(f.n_transitions, 2);
	assert_int_equal(qk_fsm_fire(&f, QK_EV_RESET, QK_TRG_RESET, 77, 40, 4, NULL), 1);
	assert_int_equal(qk_fsm_last(&f)->who, 77);
	assert_int_equal(qk_fsm_last(&f)->trigger, QK_TRG_RESET);
	assert_int_equal(f.state, QK_ST_IDLE);
}

static void test_fsm_transition_ring_wraps_past_32(void **state)
{
	struct qk_fsm f;

	(void)state;
	qk_fsm_init(&f, 0);
	qk_fsm_fire(&f, QK_EV_BIOS_OK, QK_TRG_BIOS_OK, 0, 1, 1, NULL);
	for (int i = 0; i < 50; i++) {
		qk_fsm_fire(&f, QK_EV_REQ_ACTIVE, QK_TRG_OPERATOR, 100 + i, 10 + 2 * i, 2 * i, NULL);
		qk_fsm_fire(&f, QK_EV_REQ_IDLE, QK_TRG_PLAN, 200 + i, 11 + 2 * i, 2 * i + 1, NULL);
	}
	assert_int_equal(f.n_transitions, 101);
	const struct qk_transition *t = qk_fsm_last(&f);

	assert_ptr_equal(t, &f.trans[100 % QK_MAX_TRANSITIONS]);
	assert_int_equal(t->from, QK_ST_ACTIVE);
	assert_int_equal(t->to, QK_ST_IDLE);
	assert_int_equal(t->trigger, QK_TRG_PLAN);
	assert_int_equal(t->who, 249);
	assert_int_equal(t->cycle, 99);
	/* the ring holds exactly the last 32, oldest first from the slot after */
	for (uint64_t k = 0; k < QK_MAX_TRANSITIONS; k++) {
		uint64_t n = f.n_transitions - QK_MAX_TRANSITIONS + k;	/* transition #n */

		t = &f.trans[n % QK_MAX_TRANSITIONS];
		assert_int_equal(t->cycle, n - 1);
		assert_int_equal(t->from, n % 2 ? QK_ST_IDLE : QK_ST_ACTIVE);
	}
}

static void test_fsm_requests_map_to_events(void **state)
{
	(void)state;
	assert_int_equal(qk_fsm_request_event(QK_ST_BOOTING), QK_EV_REQ_BOOT);
	assert_int_equal(qk_fsm_request_event(QK_ST_IDLE), QK_EV_REQ_IDLE);
	assert_int_equal(qk_fsm_request_event(QK_ST_ACTIVE), QK_EV_REQ_ACTIVE);
	assert_int_equal(qk_fsm_request_event(QK_ST_SAFE), QK_EV_REQ_SAFE);
	assert_int_equal(qk_fsm_request_event(QK_ST_ERROR), QK_EV_REQ_ERROR);
	assert_int_equal(qk_fsm_request_event(QK_ST_SHUTDOWN), QK_EV_SHUTDOWN);
	assert_int_equal(qk_fsm_request_event(QK_ST_COUNT), QK_EV_RESET);
	assert_int_equal(qk_fsm_request_event(QK_ST_COUNT + 1), QK_EV_COUNT);
	assert_int_equal(qk_fsm_request_event(UINT32_MAX), QK_EV_COUNT);
}

static void test_fsm_names_parse_and_print(void **state)
{
	(void)state;
	for (uint32_t s = 0; s < QK_ST_COUNT; s++)
		assert_int_equal(qk_fsm_state_parse(qk_fsm_state_name(s)), s);
	assert_int_equal(qk_fsm_state_parse("active"), QK_ST_ACTIVE);
	assert_int_equal(qk_fsm_state_parse("ShutDown"), QK_ST_SHUTDOWN);
	assert_int_equal(qk_fsm_state_parse("Reset"), QK_ST_COUNT);
	assert_int_equal(qk_fsm_state_parse("FLYING"), -1);
	assert_int_equal(qk_fsm_state_parse(""), -1);
	assert_int_equal(qk_fsm_state_parse(NULL), -1);
	assert_string_equal(qk_fsm_state_name(QK_ST_SAFE), "SAFE");
	assert_string_equal(qk_fsm_state_name(99), "UNKNOWN");
	/* trigger names are an interface (qikictl history, scripts) */
	assert_string_equal(qk_trigger_name(QK_TRG_BIOS_OK), "bios-ok");
	assert_string_equal(qk_trigger_name(QK_TRG_OPERATOR), "operator");
	assert_string_equal(qk_trigger_name(QK_TRG_RESET), "reset");
	assert_string_equal(qk_trigger_name(QK_TRG_GUARD_PRESSURE), "tank-pressure");
	assert_string_equal(qk_trigger_name(QK_TRG_GUARD_SENSORS_STALE), "sensors-stale");
	assert_string_equal(qk_trigger_name(QK_TRG_COUNT), "unknown");
	for (uint32_t t = 0; t < QK_TRG_COUNT; t++)
		assert_string_not_equal(qk_trigger_name(t), "unknown");
	for (uint32_t e = 0; e < QK_EV_COUNT; e++)
		assert_string_not_equal(qk_fsm_event_name(e), "unknown");
	assert_string_equal(qk_fsm_event_name(QK_EV_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsm_every_cell_allowed_or_refused_with_reason),
		cmocka_unit_test(test_fsm_refusals_name_the_way_out),
		cmocka_unit_test(test_fsm_guard_records_its_trigger),
		cmocka_unit_test(test_fsm_transition_ring_wraps_past_32),
		cmocka_unit_test(test_fsm_requests_map_to_events),
		cmocka_unit_test(test_fsm_names_parse_and_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
