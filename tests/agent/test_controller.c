/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/agent/test_controller.c - the controller interface: version and
 * description checks, loading shared objects (a wrong version, not a
 * controller, a good one), parameters, the agent's clamp of raw throttles,
 * and the built-in PD through the interface against the direct calls. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt/agent/control.h"
#include "rt/agent/controller.h"
#include "tests/agent/fixture.h"

static struct qk_config bot;
static struct qk_ctl_setup setup_bot;
static char fixdir[PATH_MAX];

static int setup(void **state)
{
	(void)state;
	fx_bot(&bot);
	qk_controller_setup(&setup_bot, &bot, 1000000);
	/* the fixtures are built beside this program */
	ssize_t n = readlink("/proc/self/exe", fixdir, sizeof(fixdir) - 1);

	if (n <= 0)
		return -1;
	fixdir[n] = 0;
	*strrchr(fixdir, '/') = 0;
	return 0;
}

static void fixture(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s.so", fixdir, name);
}

static void test_controller_refuses_another_version(void **state)
{
	struct qk_controller c = *qk_controller_builtin_pd();
	char why[400];

	(void)state;
	c.abi = QK_CONTROLLER_ABI + 1;
	assert_int_equal(qk_controller_check(&c, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "controller interface version 2, but this qiki-agent speaks "
				    "version 1"));
	c.abi = QK_CONTROLLER_ABI;
	c.size = sizeof(c) - 8;
	assert_int_equal(qk_controller_check(&c, why, sizeof(why)), -EPROTO);
	c.size = sizeof(c);
	assert_int_equal(qk_controller_check(&c, why, sizeof(why)), 0);
}

static void test_controller_refuses_malformed(void **state)
{
	struct qk_controller c = *qk_controller_builtin_pd();
	struct qk_ctl_param bad = { "", 1, 0, 0 };
	char why[400];

	(void)state;
	assert_int_equal(qk_controller_check(NULL, why, sizeof(why)), -EINVAL);
	c.tick = NULL;
	assert_int_equal(qk_controller_check(&c, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "no tick"));
	c = *qk_controller_builtin_pd();
	c.n_params = QK_CTL_MAX_PARAMS + 1;
	assert_int_equal(qk_controller_check(&c, why, sizeof(why)), -EINVAL);
	c.n_params = 1;
	c.params = &bad;
	assert_int_equal(qk_controller_check(&c, why, sizeof(why)), -EINVAL);
}

static void test_controller_load_refuses_v2_object(void **state)
{
	struct qk_ctl_instance ci;
	char path[PATH_MAX + 32], why[512];

	(void)state;
	fixture(path, sizeof(path), "fixture_ctl_v2");
	assert_int_equal(qk_controller_load(&ci, path, &setup_bot, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, path));
	assert_non_null(strstr(why, "version 2"));
	assert_non_null(strstr(why, "speaks version 1"));
	assert_null(ci.c);
	assert_null(ci.dl);
	qk_controller_unload(&ci);
}

static void test_controller_load_refuses_non_controller(void **state)
{
	struct qk_ctl_instance ci;
	char path[PATH_MAX + 32], why[512];

	(void)state;
	fixture(path, sizeof(path), "fixture_ctl_nosym");
	assert_int_equal(qk_controller_load(&ci, path, &setup_bot, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "not a qiki controller"));
	assert_int_equal(qk_controller_load(&ci, "/nonexistent/ctl.so", &setup_bot, why,
					    sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "cannot load controller /nonexistent/ctl.so"));
	qk_controller_unload(&ci);
}

static void test_controller_clamps_raw_throttles(void **state)
{
	struct qk_ctl_instance ci;
	struct qk_sensor_frame f;
	double sp[3] = { 0 }, u[QK_MAX_THRUSTERS];
	char path[PATH_MAX + 32], why[512];

	(void)state;
	fx_frame(&bot, &f, 1);
	fixture(path, sizeof(path), "fixture_ctl_bang");
	assert_int_equal(qk_controller_load(&ci, path, &setup_bot, why, sizeof(why)), 0);
	assert_string_equal(ci.c->name, "bang");
	assert_true(ci.param[0] == 1.5);

	struct qk_ctl_in in = { .f = &f, .setpoint = sp, .fresh = 1, .first = 1 };

	qk_controller_tick(&ci, &bot, &in, u);
	for (uint32_t i = 0; i < QK_MAX_THRUSTERS; i++) {
		double want = i < bot.n_thrusters && i % 3 == 0 ? 1 : 0;

		assert_true(u[i] == want);	/* 1.5 -> 1, -1 -> 0, NaN -> 0, past n -> 0 */
	}
	assert_int_equal(qk_controller_set(&ci, "level", 0.25, why, sizeof(why)), 0);
	qk_controller_tick(&ci, &bot, &in, u);
	assert_true(u[0] == 0.25);
	assert_int_equal(qk_controller_set(&ci, "level", 3, why, sizeof(why)), -ERANGE);
	assert_non_null(strstr(why, "outside 0..2"));
	assert_int_equal(qk_controller_set(&ci, "gain", 1, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "(it has: level)"));
	qk_controller_unload(&ci);
	assert_null(ci.state);
}

static void test_controller_builtin_pd_matches_direct_calls(void **state)
{
	struct qk_ctl_instance ci;
	struct qk_sensor_frame f;
	double sp[3] = { 3, -2, 0.5 }, force[3], want[QK_MAX_THRUSTERS], got[QK_MAX_THRUSTERS];
	char why[512];

	(void)state;
	fx_frame(&bot, &f, 1);
	assert_int_equal(qk_controller_load(&ci, NULL, &setup_bot, why, sizeof(why)), 0);
	assert_string_equal(ci.c->name, "pd");
	assert_null(ci.dl);

	struct qk_ctl_in in = { .f = &f, .setpoint = sp, .fresh = 1 };

	for (int step = 0; step < 5; step++) {
		f.vel_mps[0] = 0.1 * step;
		qk_control_force(&bot, &f, sp, force);
		qk_control_allocate(&bot, qk_control_tank_bar(&bot, &f), force, want);
		qk_controller_tick(&ci, &bot, &in, got);
		assert_memory_equal(want, got, sizeof(want));
	}
	/* a gain change reaches the next tick, and only the controller's copy */
	double kp = bot.control.kp;

	assert_int_equal(qk_controller_set(&ci, "kp", 0, why, sizeof(why)), 0);
	assert_int_equal(qk_controller_set(&ci, "kd", 0, why, sizeof(why)), 0);
	qk_controller_tick(&ci, &bot, &in, got);
	for (int i = 0; i < QK_MAX_THRUSTERS; i++)
		assert_true(got[i] == 0);
	assert_true(bot.control.kp == kp);
	qk_controller_unload(&ci);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_controller_refuses_another_version),
		cmocka_unit_test(test_controller_refuses_malformed),
		cmocka_unit_test(test_controller_load_refuses_v2_object),
		cmocka_unit_test(test_controller_load_refuses_non_controller),
		cmocka_unit_test(test_controller_clamps_raw_throttles),
		cmocka_unit_test(test_controller_builtin_pd_matches_direct_calls),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
