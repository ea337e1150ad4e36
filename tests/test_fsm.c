/* tests/test_fsm.c - the FSM table, every cell. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "rt/fsm.h"

/* expected[state][event]: the state after, or -1 refused. */
static const int expected[QK_ST_COUNT][QK_EV_COUNT] = {
	/*            BIOS_OK      BIOS_FAIL    REQ_IDLE     REQ_ACTIVE     REQ_SAFE     REQ_BOOT       RESET        GUARD        SHUTDOWN */
	[QK_ST_BOOTING] = { QK_ST_IDLE, QK_ST_ERROR, -1, -1, QK_ST_SAFE, QK_ST_BOOTING, -1, QK_ST_SAFE, QK_ST_SHUTDOWN },
	[QK_ST_IDLE] = { QK_ST_IDLE, QK_ST_ERROR, QK_ST_IDLE, QK_ST_ACTIVE, QK_ST_SAFE, QK_ST_BOOTING, -1, QK_ST_SAFE, QK_ST_SHUTDOWN },
	[QK_ST_ACTIVE] = { QK_ST_ACTIVE, QK_ST_ERROR, QK_ST_IDLE, QK_ST_ACTIVE, QK_ST_SAFE, -1, -1, QK_ST_SAFE, QK_ST_SHUTDOWN },
	[QK_ST_SAFE] = { QK_ST_SAFE, QK_ST_ERROR, -1, -1, QK_ST_SAFE, QK_ST_BOOTING, QK_ST_IDLE, QK_ST_SAFE, QK_ST_SHUTDOWN },
	[QK_ST_ERROR] = { QK_ST_ERROR, QK_ST_ERROR, -1, -1, -1, QK_ST_BOOTING, QK_ST_IDLE, QK_ST_ERROR, QK_ST_SHUTDOWN },
	[QK_ST_SHUTDOWN] = { QK_ST_SHUTDOWN, QK_ST_SHUTDOWN, -1, -1, -1, -1, -1, QK_ST_SHUTDOWN, QK_ST_SHUTDOWN },
};

static void test_fsm_every_cell_of_the_table(void **state)
{
	(void)state;
	for (int s = 0; s < QK_ST_COUNT; s++) {
		for (int e = 0; e < QK_EV_COUNT; e++) {
			struct qk_fsm f;
			const char *why = NULL;

			qk_fsm_init(&f, 0);
			f.state = (uint32_t)s;
			int ret = qk_fsm_fire(&f, e, QK_TRG_OPERATOR, 42, 100, 7, &why);

			if (expected[s][e] < 0) {
				assert_int_equal(ret, -EPERM);
				assert_non_null(why);
				assert_true(strlen(why) > 5);
				assert_int_equal(f.state, s);
				assert_int_equal(f.n_transitions, 0);
			} else {
				assert_int_equal(f.state, expected[s][e]);
				assert_int_equal(ret, expected[s][e] != s);
				assert_int_equal(f.n_transitions, expected[s][e] != s);
			}
		}
	}
}

static void test_fsm_refusal_names_the_way_out(void **state)
{
	struct qk_fsm f;
	const char *why = NULL;

	(void)state;
	qk_fsm_init(&f, 0);
	f.state = QK_ST_SAFE;
	assert_false(qk_fsm_allows(&f, QK_EV_REQ_ACTIVE, &why));
	assert_non_null(strstr(why, "RESET"));
}

static void test_fsm_transition_ring_keeps_the_last_32(void **state)
{
	struct qk_fsm f;

	(void)state;
	qk_fsm_init(&f, 0);
	qk_fsm_fire(&f, QK_EV_BIOS_OK, QK_TRG_BIOS_OK, 0, 1, 1, NULL);
	for (int i = 0; i < 50; i++) {
		qk_fsm_fire(&f, QK_EV_REQ_ACTIVE, QK_TRG_OPERATOR, 100 + i, 10 + 2 * i, 2 * i, NULL);
		qk_fsm_fire(&f, QK_EV_REQ_IDLE, QK_TRG_OPERATOR, 200 + i, 11 + 2 * i, 2 * i + 1, NULL);
	}
	assert_int_equal(f.n_transitions, 101);
	const struct qk_transition *t = &f.trans[(f.n_transitions - 1) % QK_MAX_TRANSITIONS];

	assert_int_equal(t->from, QK_ST_ACTIVE);
	assert_int_equal(t->to, QK_ST_IDLE);
	assert_int_equal(t->who, 249);
	assert_int_equal(t->cycle, 99);
	/* the oldest kept is 32 back */
	t = &f.trans[(f.n_transitions - QK_MAX_TRANSITIONS) % QK_MAX_TRANSITIONS];
	assert_int_equal(t->cycle, 101 - 32 - 1);
}

static void test_fsm_names_parse_and_print(void **state)
{
	(void)state;
	assert_int_equal(qk_fsm_state_parse("active"), QK_ST_ACTIVE);
	assert_int_equal(qk_fsm_state_parse("SHUTDOWN"), QK_ST_SHUTDOWN);
	assert_int_equal(qk_fsm_state_parse("Reset"), QK_ST_COUNT);
	assert_int_equal(qk_fsm_state_parse("FLYING"), -1);
	assert_string_equal(qk_fsm_state_name(QK_ST_SAFE), "SAFE");
	assert_string_equal(qk_fsm_state_name(99), "UNKNOWN");
	assert_string_equal(qk_trigger_name(QK_TRG_GUARD_PRESSURE), "tank-pressure");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsm_every_cell_of_the_table),
		cmocka_unit_test(test_fsm_refusal_names_the_way_out),
		cmocka_unit_test(test_fsm_transition_ring_keeps_the_last_32),
		cmocka_unit_test(test_fsm_names_parse_and_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
