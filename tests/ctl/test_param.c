/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/ctl/test_param.c - the operator's side of runtime parameters
 * (ctl/param.h): qikictl's argument checks before it attaches, and the
 * scenario action checked against a profile, as the command it sends. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/param.h"
#include "rt/agent/param.h"
#include "rt/config/config.h"

static int args(const char *a0, const char *a1, const char *a2, char *err, size_t n)
{
	char *argv[3] = { (char *)a0, (char *)a1, (char *)a2 };
	int argc = a2 ? 3 : a1 ? 2 : a0 ? 1 : 0;

	return qk_ctl_param_args(argc, argv, err, n);
}

static void test_param_ctl_args(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(args("list", NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(args("get", "controller.kp", NULL, err, sizeof(err)), 0);
	assert_int_equal(args("set", "controller.kp", "-2.5e-1", err, sizeof(err)), 0);
	assert_int_equal(args("set", "controller.kp", NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "param set: expected NAME VALUE"));
	assert_int_equal(args("set", "controller.kp", "nan", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'nan' is not a number"));
	assert_int_equal(args("set", "controller.kp", "1e999", err, sizeof(err)), -EINVAL);
	assert_int_equal(args("list", "x", NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(args("frob", NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "expected list, get NAME or set NAME VALUE"));
	assert_int_equal(args("get", "", NULL, err, sizeof(err)), -EINVAL);
}

static void test_param_ctl_action_as_a_command(void **state)
{
	struct qk_config cfg;
	struct qk_cmd c;
	char err[1024];

	(void)state;
	assert_int_equal(qk_config_profile(&cfg, "bot", err, sizeof(err)), 0);
	assert_int_equal(qk_ctl_param_action(&cfg, "thermal.propulsion.max_k", "340", &c, err,
					     sizeof(err)), 0);
	assert_int_equal(c.type, QK_CMD_PARAM);
	assert_int_equal(c.u[0], qk_param_hash("thermal.propulsion.max_k"));
	assert_true(c.arg[0] == 340);
	assert_string_equal(c.name, "thermal.propulsion.max_");	/* 23 characters, for logs */
	/* a plug-in controller's, known only when it runs: passes */
	assert_int_equal(qk_ctl_param_action(&cfg, "controller.gain", "1", &c, err, sizeof(err)), 0);
	assert_int_equal(qk_ctl_param_action(&cfg, "controller.", "1", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(qk_ctl_param_action(&cfg, "kp", "2", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no parameter 'kp' (controller.kp, controller.kd"));
	assert_non_null(strstr(err, "thermal.battery.max_k, or a plug-in's controller.NAME)"));
	/* a node of the ship, not of the bot */
	assert_int_equal(qk_ctl_param_action(&cfg, "thermal.engine.max_k", "2", &c, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(qk_ctl_param_action(&cfg, "controller.kp", "x", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'x' is not a number"));
	/* the range is the agent's to judge: a step may expect the refusal */
	assert_int_equal(qk_ctl_param_action(&cfg, "controller.kp", "1e9", &c, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_param_ctl_args),
		cmocka_unit_test(test_param_ctl_action_as_a_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
