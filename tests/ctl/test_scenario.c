/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/ctl/test_scenario.c - loading scenarios (ctl/scenario.h): the shipped
 * examples load against the profiles they are written for, and every kind
 * of mistake is refused with the file, line and column and what to write.
 * Playing them against a real loop is tests/integration/scenario.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl/scenario.h"
#include "rt/agent/fsm.h"
#include "shm/seg.h"

static const char *src(const char *rel, char *buf, size_t n)
{
	const char *dir = getenv("QK_SRCDIR");

	snprintf(buf, n, "%s/%s", dir ? dir : ".", rel);
	return buf;
}

static void test_scenario_examples_load(void **state)
{
	static const struct { const char *file, *profile; } ex[] = {
		{ "examples/scenarios/demo.yaml", "bot" },
		{ "examples/scenarios/thermal-runaway.yaml", "bot" },
		{ "examples/scenarios/sensor-dropout.yaml", "bot" },
		{ "examples/scenarios/ship-manoeuvre.yaml", "ship" },
		{ "examples/scenarios/gain-tuning.yaml", "bot" },
	};
	char path[512], why[512];

	(void)state;
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		struct qk_config c;
		struct qk_scenario *s;

		assert_int_equal(qk_config_profile(&c, ex[i].profile, why, sizeof(why)), 0);
		s = qk_scenario_load(src(ex[i].file, path, sizeof(path)), &c, why, sizeof(why));
		if (!s)
			fail_msg("%s: %s", ex[i].file, why);
		assert_int_equal(qk_scenario_result(s), QK_SCN_RUNNING);
		qk_scenario_destroy(s);
	}
}

static void test_scenario_mistakes_are_refused_with_their_place(void **state)
{
	static const struct { const char *file, *where, *what; } bad[] = {
		{ "bad_state.yaml", ":2:11:", "unknown state 'IDEL'" },
		{ "bad_device.yaml", ":2:9:", "no device 'gyro' in the profile" },
		{ "two_triggers.yaml", ":2:5:", "one trigger" },
		{ "refused_no_action.yaml", ":2:5:", "needs an action" },
		{ "unknown_key.yaml", ":3:5:", "unknown key 'frobnicate'" },
		{ "bad_quantity.yaml", ":2:11:", "unknown quantity 'position.q'" },
		{ "syntax.yaml", ":2:1:", "" },
		{ "no_steps.yaml", ":1:1:", "expected 'steps:'" },
		{ "bad_within.yaml", ":2:13:", "expected" },
		{ "param.yaml", ":2:9:", "no parameter 'kp'" },
	};
	char path[512], rel[128], why[512];
	struct qk_config c;

	(void)state;
	assert_int_equal(qk_config_profile(&c, "bot", why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(rel, sizeof(rel), "tests/ctl/scenarios/%s", bad[i].file);
		why[0] = 0;
		assert_null(qk_scenario_load(src(rel, path, sizeof(path)), &c, why, sizeof(why)));
		if (!strstr(why, bad[i].file) || !strstr(why, bad[i].where) || !strstr(why, bad[i].what))
			fail_msg("%s: expected '%s' and '%s' in: %s", bad[i].file, bad[i].where,
				 bad[i].what, why);
	}
	assert_null(qk_scenario_load("/nonexistent/x.yaml", &c, why, sizeof(why)));
	assert_non_null(strstr(why, "No such file"));
}

/* The segment is untrusted: a transition count that jumps to the top of its
 * range (a hostile writer, or a torn agent) is looked at only as far as the
 * history keeps, so the poll returns at once instead of counting to 2^64
 * (the old loop skipped the overwritten entries one by one), and still
 * finds the transition it expects in the kept window. */
static void test_scenario_transition_count_from_the_segment_is_bounded(void **state)
{
	struct qk_config c;
	struct qk_seg seg;
	struct qk_agent_status st;
	struct qk_scenario *s;
	char path[512], why[512], name[32];

	(void)state;
	snprintf(name, sizeof(name), "t-scn-%d", (int)getpid());
	assert_int_equal(qk_config_profile(&c, "bot", why, sizeof(why)), 0);
	assert_int_equal(qk_seg_create(&seg, name, &c, 0), 0);
	qk_seg_publish(&seg);
	s = qk_scenario_load(src("tests/ctl/scenarios/within_safe.yaml", path, sizeof(path)), &c,
			     why, sizeof(why));
	if (!s)
		fail_msg("%s", why);
	memset(&st, 0, sizeof(st));
	st.state = QK_ST_IDLE;
	st.time_ns = 1;
	st.cycle = 10;
	qk_mbox_write(seg.agent_status, &st);
	assert_int_equal(qk_scenario_poll(s, &seg, 1, NULL, false), QK_SCN_RUNNING);
	st.cycle = 20;
	st.n_transitions = UINT64_MAX - 3;
	st.trans[(st.n_transitions - 1) % QK_MAX_TRANSITIONS] =
		(struct qk_transition){ .cycle = 15, .from = QK_ST_IDLE, .to = QK_ST_SAFE };
	qk_mbox_write(seg.agent_status, &st);
	alarm(10);	/* the old loop: a test killed by SIGALRM, not a hung run */
	assert_int_equal(qk_scenario_poll(s, &seg, 2, NULL, false), QK_SCN_PASSED);
	alarm(0);
	qk_scenario_destroy(s);
	qk_seg_detach(&seg);
	qk_seg_unlink(name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenario_examples_load),
		cmocka_unit_test(test_scenario_mistakes_are_refused_with_their_place),
		cmocka_unit_test(test_scenario_transition_count_from_the_segment_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
