/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/agent/test_param.c - runtime parameters (rt/agent/param.h): the
 * table's names, types and bounds come from the configuration's field
 * table (and the built-in PD's agree with it), a change is range- and
 * relation-checked, applied to the configuration and the controller,
 * recorded, and a refusal changes nothing; the agent takes QK_CMD_PARAM. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rt/agent/agent.h"
#include "rt/agent/param.h"
#include "rt/config/config.h"

static struct qk_config cfg;
static struct qk_ctl_instance ci;
static struct qk_params ps;

static int setup(void **state)
{
	struct qk_ctl_setup s;
	char why[256];

	(void)state;
	if (qk_config_profile(&cfg, "bot", why, sizeof(why)))
		return -1;
	qk_controller_setup(&s, &cfg, 1000000);
	if (qk_controller_load(&ci, NULL, &s, why, sizeof(why)))
		return -1;
	return qk_params_build(&ps, &cfg, &ci, why, sizeof(why)) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	qk_controller_unload(&ci);
	return 0;
}

static const struct qk_param_info *info(const char *name)
{
	int i = qk_params_find(&ps, name);

	assert_true(i >= 0);
	return &ps.st.p[i];
}

static int set(const char *name, double v, char why[QK_REASON_LEN])
{
	return qk_params_set(&ps, qk_param_hash(name), v, 1000, 7, 42, why);
}

static void test_param_table_from_the_config_fields(void **state)
{
	const struct qk__field *kp = qk__config_field(QK__S_CONTROL, "kp");
	const struct qk__field *stale = qk__config_field(QK__S_LIMITS, "sensor_stale_cycles");
	const struct qk_param_info *p;

	(void)state;
	p = info("controller.kp");
	assert_int_equal(p->type, QK_PT_NUM);
	assert_true(p->flags & QK_PARAMF_MIN_OPEN);	/* kp > 0, as the loader says */
	assert_true(p->flags & QK_PARAMF_CONFIG);
	assert_true(p->min == 0 && p->max == kp->max);
	assert_true(p->value == cfg.control.kp && p->initial == cfg.control.kp);
	p = info("limits.sensor_stale_cycles");
	assert_int_equal(p->type, QK_PT_U32);
	assert_true(p->min == stale->lo && p->max == stale->hi);
	p = info("limits.confidence_min");
	assert_true(p->min == 0 && p->max == 1 && (p->flags & QK_PARAMF_MIN_OPEN));
	assert_true(qk_params_find(&ps, "thermal.avionics.max_k") >= 0);
	assert_true(qk_params_find(&ps, "thermal.battery.min_k") >= 0);
	assert_true(qk_params_find(&ps, "tank.min_bar") >= 0);
	assert_true(qk_params_find(&ps, "battery.soc_min") >= 0);
	/* what the sim reads too is not a runtime parameter */
	assert_int_equal(qk_params_find(&ps, "limits.actuator_watchdog_cycles"), -1);
	assert_int_equal(ps.st.n, 4 + 3 + 3 + 2 * cfg.n_thermal);
}

/* One table: the PD's own bounds are the configuration's, so a value
 * --controller-param takes at start-up is one a runtime set takes. */
static void test_param_pd_bounds_agree_with_config(void **state)
{
	const struct qk_controller *pd = qk_controller_builtin_pd();

	(void)state;
	for (uint32_t i = 0; i < pd->n_params; i++) {
		const struct qk__field *f = qk__config_field(QK__S_CONTROL, pd->params[i].name);

		assert_non_null(f);
		assert_true(pd->params[i].max == f->max);
		assert_true(pd->params[i].min == 0);
	}
}

static void test_param_set_applies_and_records(void **state)
{
	char why[QK_REASON_LEN];

	(void)state;
	assert_int_equal(set("controller.kp", 2.5, why), 0);
	assert_true(cfg.control.kp == 2.5);
	assert_true(ci.param[0] == 2.5);		/* the PD's own copy too */
	assert_true(info("controller.kp")->value == 2.5);
	assert_true(info("controller.kp")->initial == 1);
	assert_int_equal(ps.st.n_changes, 1);
	const struct qk_param_change *c = &ps.st.changes[0];

	assert_int_equal(c->index, qk_params_find(&ps, "controller.kp"));
	assert_true(c->old_value == 1 && c->value == 2.5);
	assert_int_equal(c->who, 42);
	assert_int_equal(c->cycle, 7);
	assert_int_equal(c->time_ns, 1000);
	assert_int_equal(set("limits.clear_ticks", 7, why), 0);
	assert_int_equal(cfg.limits.clear_ticks, 7);
	assert_int_equal(set("thermal.propulsion.max_k", 340, why), 0);
	assert_true(cfg.thermal[1].max_k == 340);
	assert_int_equal(qk_config_validate(&cfg, why, sizeof(why)), 0);
}

static void refused(const char *name, double v, int code, const char *words)
{
	static struct qk_config before;
	uint64_t n = ps.st.n_changes;
	char why[QK_REASON_LEN];

	before = cfg;
	assert_int_equal(set(name, v, why), code);
	if (!strstr(why, words))
		fail_msg("%s %g: reason '%s' lacks '%s'", name, v, why, words);
	assert_memory_equal(&before, &cfg, sizeof(cfg));	/* nothing changed */
	assert_int_equal(ps.st.n_changes, n);
}

static void test_param_refuses_out_of_range(void **state)
{
	(void)state;
	refused("controller.kp", 2e4, -ERANGE, "controller.kp 20000 outside (0, 10000]");
	refused("controller.kp", 0, -ERANGE, "outside (0, 10000]");	/* open below */
	refused("controller.kp", NAN, -ERANGE, "controller.kp");
	refused("controller.kd", -1, -ERANGE, "[0, 10000]");
	refused("limits.confidence_min", 1.5, -ERANGE, "(0, 1]");
	refused("limits.clear_ticks", 1.5, -ERANGE, "integer");
	refused("limits.clear_ticks", 5.7e250, -ERANGE, "integer");	/* no conversion first */
	refused("limits.clear_ticks", -1, -ERANGE, "integer");
	refused("limits.sensor_stale_cycles", 0, -ERANGE, "integer 1..1000000");
	refused("battery.soc_min", 1, -ERANGE, "expected < 1");
	refused("no.such", 1, -ENOENT, "no such parameter");
}

/* The validator's relations hold after a change, from either side. */
static void test_param_refuses_a_broken_relation(void **state)
{
	(void)state;
	refused("tank.min_bar", cfg.tank.max_bar + 1, -ERANGE, "tank.min_bar: expected < max_bar (25)");
	refused("tank.max_bar", cfg.tank.min_bar - 1, -ERANGE, "tank.max_bar: expected > min_bar (5)");
	refused("thermal.avionics.min_k", 400, -ERANGE, "expected < max_k (330 K)");
	refused("thermal.propulsion.min_k", 1e6, -ERANGE, "1e+06 outside (0, 10000]");
}

static void test_param_history_wraps(void **state)
{
	char why[QK_REASON_LEN];
	uint64_t n0 = ps.st.n_changes;

	(void)state;
	for (int i = 1; i <= 40; i++)
		assert_int_equal(set("controller.kd", i, why), 0);
	assert_int_equal(ps.st.n_changes, n0 + 40);
	assert_true(ps.st.changes[(n0 + 39) % QK_PARAM_HISTORY].value == 40);
	assert_true(ps.st.changes[(n0 + 39) % QK_PARAM_HISTORY].old_value == 39);
	assert_true(ps.st.changes[(n0 + 8) % QK_PARAM_HISTORY].value == 9);
}

/* A plug-in controller declares its own: they come with its bounds. */
static double seen_gain;
static void fake_tick(void *s, const struct qk_ctl_in *in, struct qk_ctl_out *out)
{
	(void)s, (void)in, (void)out;
}
static void fake_set(void *s, uint32_t i, double v)
{
	(void)s;
	if (i == 1)
		seen_gain = v;
}

static void test_param_plugin_declares_its_own(void **state)
{
	static const struct qk_ctl_param params[] = { { "kp", -1, 1, 0 }, { "gain", 0, 5, 2 } };
	static const struct qk_controller fake = {
		.abi = QK_CONTROLLER_ABI, .size = sizeof(struct qk_controller), .name = "fake",
		.params = params, .n_params = 2, .tick = fake_tick, .set_param = fake_set,
	};
	static struct qk_params mine;
	static struct qk_config c2;
	struct qk_ctl_instance fi = { .c = &fake, .param = { 0, 2 } };
	char why[QK_REASON_LEN];
	int i;

	(void)state;
	c2 = cfg;
	assert_int_equal(qk_params_build(&mine, &c2, &fi, why, sizeof(why)), 0);
	i = qk_params_find(&mine, "controller.gain");
	assert_true(i >= 0);
	assert_false(mine.st.p[i].flags & QK_PARAMF_CONFIG);
	assert_true(mine.st.p[i].min == 0 && mine.st.p[i].max == 5 && mine.st.p[i].value == 2);
	/* the plug-in's kp is its own: not the configuration's control.kp */
	i = qk_params_find(&mine, "controller.kp");
	assert_true(i >= 0 && mine.st.p[i].min == -1);
	assert_int_equal(qk_params_set(&mine, qk_param_hash("controller.gain"), 6, 0, 0, 1, why),
			 -ERANGE);
	assert_non_null(strstr(why, "[0, 5]"));
	assert_int_equal(qk_params_set(&mine, qk_param_hash("controller.gain"), 3, 0, 0, 1, why), 0);
	assert_true(seen_gain == 3 && fi.param[1] == 3);
	assert_true(c2.control.kp == cfg.control.kp);
}

/* A controller that declares a name twice is refused, said so. */
static void test_param_refuses_a_name_twice(void **state)
{
	static const struct qk_ctl_param params[] = { { "gain", 0, 5, 2 }, { "gain", 0, 1, 0 } };
	static const struct qk_controller twice = {
		.abi = QK_CONTROLLER_ABI, .size = sizeof(struct qk_controller), .name = "twice",
		.params = params, .n_params = 2, .tick = fake_tick, .set_param = fake_set,
	};
	static struct qk_params mine;
	static struct qk_config c2;
	struct qk_ctl_instance fi = { .c = &twice };
	char why[256];

	(void)state;
	c2 = cfg;
	assert_int_equal(qk_params_build(&mine, &c2, &fi, why, sizeof(why)), -EEXIST);
	assert_non_null(strstr(why, "'controller.gain' declared twice"));
}

/* Through the agent's command path, and re-planned: the heater band
 * follows a node's new limits. */
static void test_param_agent_command(void **state)
{
	static struct qk_agent a;
	static struct qk_config c3;
	static struct qk_params mine;
	struct qk_cmd c = { .type = QK_CMD_PARAM, .id = 5, .sender_pid = 9 };
	struct qk_reply r;
	char why[256];

	(void)state;
	c3 = cfg;
	assert_int_equal(qk_agent_init(&a, &c3, 0), 0);
	c.u[0] = qk_param_hash("thermal.avionics.min_k");
	c.arg[0] = 270;
	qk_agent_command(&a, &c, 10, &r);
	assert_int_equal(r.status, QK_REPLY_REFUSED);	/* no table: refused, said why */
	assert_int_equal(r.code, -EINVAL);
	assert_int_equal(qk_params_build(&mine, &c3, NULL, why, sizeof(why)), 0);
	a.params = &mine;
	double lo = a.plan.heat_lo[0];

	qk_agent_command(&a, &c, 10, &r);
	assert_int_equal(r.status, QK_REPLY_ACCEPTED);
	assert_int_equal(r.id, 5);
	assert_true(c3.thermal[0].min_k == 270);
	assert_true(a.plan.heat_lo[0] > lo);
	assert_int_equal(mine.st.changes[0].who, 9);
	c.arg[0] = 1e9;
	qk_agent_command(&a, &c, 11, &r);
	assert_int_equal(r.status, QK_REPLY_REFUSED);
	assert_int_equal(r.code, -ERANGE);
	assert_non_null(strstr(r.reason, "thermal.avionics.min_k"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_param_table_from_the_config_fields),
		cmocka_unit_test(test_param_pd_bounds_agree_with_config),
		cmocka_unit_test(test_param_set_applies_and_records),
		cmocka_unit_test(test_param_refuses_out_of_range),
		cmocka_unit_test(test_param_refuses_a_broken_relation),
		cmocka_unit_test(test_param_history_wraps),
		cmocka_unit_test(test_param_plugin_declares_its_own),
		cmocka_unit_test(test_param_refuses_a_name_twice),
		cmocka_unit_test(test_param_agent_command),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
