/* tests/test_agent.c - the agent's tick: BIOS check, rules and evaluator,
 * thrust allocation, and the whole agent closing the loop on the plant. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rt/agent.h"
#include "rt/config.h"
#include "rt/control.h"
#include "rt/plant.h"

static struct qk_config bot, ship;

static int setup(void **state)
{
	char why[256];

	(void)state;
	return qk_config_profile(&bot, "bot", why, sizeof(why)) ||
	       qk_config_profile(&ship, "ship", why, sizeof(why));
}

/* A plant and an agent stepping in turn, as --lockstep does. */
struct rig {
	struct qk_plant plant;
	struct qk_agent agent;
	struct qk_bios_report bios;
	struct qk_sensor_frame f;
	struct qk_actuator_frame act;
	uint64_t cycle;
};

static void rig_init(struct rig *r, const struct qk_config *cfg)
{
	char why[128];

	memset(r, 0, sizeof(*r));
	assert_int_equal(qk_plant_init(&r->plant, cfg, 1, why, sizeof(why)), 0);
	assert_int_equal(qk_agent_init(&r->agent, cfg, 0), 0);
	qk_plant_post(&r->plant, &r->bios);
}

static void rig_step(struct rig *r, bool deliver)
{
	qk_plant_step(&r->plant, r->cycle ? &r->act : NULL, 0.001);
	qk_plant_sense(&r->plant, &r->f);
	r->f.cycle = r->cycle++;
	qk_agent_tick(&r->agent, deliver ? &r->f : NULL, &r->bios, (int64_t)r->cycle * 1000000, &r->act);
}

static uint32_t request(struct rig *r, uint32_t target, char *why)
{
	struct qk_cmd c = { .id = 1, .type = QK_CMD_STATE, .u = { target }, .sender_pid = 77 };
	struct qk_reply rep;

	qk_agent_command(&r->agent, &c, 0, &rep);
	if (why)
		strcpy(why, rep.reason);
	return rep.status;
}

static void test_agent_bios_missing_device_is_an_error(void **state)
{
	struct qk_bios_report r = { .post_count = 1, .n_devices = bot.n_devices };
	struct qk_bios_eval e;

	(void)state;
	for (uint32_t i = 0; i < bot.n_devices; i++)
		memcpy(r.device[i].name, bot.device[i].name, QK_NAME_LEN);
	qk_bios_check(&bot, &r, &e);
	assert_true(e.all_systems_go);
	assert_true(e.health == 1.0);
	/* a non-critical warning lowers health only */
	int comms = qk_config_device(&bot, "comms");

	r.device[comms].status = QK_DS_WARNING;
	qk_bios_check(&bot, &r, &e);
	assert_true(e.all_systems_go);
	assert_true(fabs(e.health - (bot.n_devices - 0.5) / bot.n_devices) < 1e-12);
	/* a critical device dropped from the report: missing, not go */
	int imu = qk_config_device(&bot, "imu");

	r.device[imu].name[0] = 'X';
	qk_bios_check(&bot, &r, &e);
	assert_false(e.all_systems_go);
	assert_int_equal(e.n_missing, 1);
	assert_int_equal(e.critical_fail, 1);
	assert_non_null(strstr(e.why, "imu missing"));
	/* no report yet */
	qk_bios_check(&bot, NULL, &e);
	assert_false(e.seen);
}

static void test_agent_evaluator_orders_type_priority_confidence(void **state)
{
	struct qk_proposal p[] = {
		{ .type = QK_PROP_EXPLORATION, .priority = 99, .confidence = 0.9, .why = "e" },
		{ .type = QK_PROP_PLANNING, .priority = 5, .confidence = 0.7, .why = "p5" },
		{ .type = QK_PROP_SAFETY, .priority = 1, .confidence = 0.61, .why = "s1" },
		{ .type = QK_PROP_PLANNING, .priority = 5, .confidence = 0.9, .why = "p5b" },
		{ .type = QK_PROP_SAFETY, .priority = 9, .confidence = 0.5, .why = "unsure" },
		{ .type = QK_PROP_DIAGNOSTICS, .priority = 50, .confidence = 1.0, .why = "d" },
	};

	(void)state;
	assert_int_equal(qk_evaluate(p, 6, 0.6), 5);
	assert_string_equal(p[0].why, "s1");
	assert_string_equal(p[1].why, "p5b");
	assert_string_equal(p[2].why, "p5");
	assert_string_equal(p[3].why, "d");
	assert_string_equal(p[4].why, "e");
	assert_int_equal(qk_evaluate(p, 5, 1.01), 0);
}

static void check_alloc(const struct qk_config *cfg, const double want[3], bool feasible)
{
	double u[QK_MAX_THRUSTERS], got[3] = { 0 };

	qk_control_allocate(cfg, cfg->tank.p_full_bar, want, u);
	for (uint32_t i = 0; i < QK_MAX_THRUSTERS; i++) {
		assert_true(u[i] >= 0 && u[i] <= 1);
		if (i >= cfg->n_thrusters)
			assert_true(u[i] == 0);
		for (int a = 0; a < 3 && i < cfg->n_thrusters; a++)
			got[a] += u[i] * cfg->thruster[i].max_thrust_n * cfg->thruster[i].dir[a];
	}
	for (int a = 0; a < 3; a++) {
		if (feasible)
			assert_true(fabs(got[a] - want[a]) < 1e-3 * (1 + fabs(want[a])));
		else	/* saturated: same sign, no more than asked */
			assert_true(got[a] * want[a] >= 0 && fabs(got[a]) <= fabs(want[a]) + 1e-9);
	}
}

static void test_agent_allocation_matches_the_force_for_bot_and_ship(void **state)
{
	(void)state;
	check_alloc(&bot, (double[3]){ 12, -3.5, 0.25 }, true);
	check_alloc(&bot, (double[3]){ 0, 0, -19.9 }, true);
	check_alloc(&bot, (double[3]){ 100, -100, 5 }, false);
	check_alloc(&ship, (double[3]){ 150, 40, -199 }, true);
	check_alloc(&ship, (double[3]){ 1000, 0, 0 }, false);
	/* under the deadband: nothing fires */
	double u[QK_MAX_THRUSTERS];

	qk_control_allocate(&bot, 20, (double[3]){ 0.01, 0, 0 }, u);
	for (int i = 0; i < QK_MAX_THRUSTERS; i++)
		assert_true(u[i] == 0);
}

static void test_agent_boots_idle_and_refuses_active_while_booting(void **state)
{
	struct rig r;
	char why[64];

	(void)state;
	rig_init(&r, &bot);
	assert_int_equal(r.agent.fsm.state, QK_ST_BOOTING);
	assert_int_equal(request(&r, QK_ST_ACTIVE, why), QK_REPLY_REFUSED);
	assert_non_null(strstr(why, "BOOTING"));
	rig_step(&r, true);
	assert_int_equal(r.agent.fsm.state, QK_ST_IDLE);
	assert_int_equal(r.agent.fsm.trans[0].trigger, QK_TRG_BIOS_OK);
}

static void test_agent_failed_critical_device_goes_error(void **state)
{
	struct rig r;
	char why[128];

	(void)state;
	rig_init(&r, &bot);
	assert_int_equal(qk_plant_fault_set(&r.plant, "power_unit", QK_FAULT_POST_FAIL, 0, why, sizeof(why)), 0);
	qk_plant_post(&r.plant, &r.bios);
	rig_step(&r, true);
	assert_int_equal(r.agent.fsm.state, QK_ST_ERROR);
	assert_true(r.act.flags & QK_ACTF_SAFE);
	assert_int_equal(request(&r, QK_ST_COUNT, why), QK_REPLY_REFUSED);	/* BIOS still bad */
	assert_non_null(strstr(why, "BIOS"));
}

static void test_agent_drives_the_plant_to_the_setpoint(void **state)
{
	struct rig r;
	struct qk_cmd sp = { .id = 2, .type = QK_CMD_SETPOINT, .arg = { 10, 0, 0 } };
	struct qk_reply rep;
	int ticks = 0;

	(void)state;
	rig_init(&r, &bot);
	rig_step(&r, true);
	qk_agent_command(&r.agent, &sp, 0, &rep);
	assert_int_equal(rep.status, QK_REPLY_ACCEPTED);
	assert_int_equal(request(&r, QK_ST_ACTIVE, NULL), QK_REPLY_ACCEPTED);
	for (; ticks < 60000; ticks++) {
		rig_step(&r, true);
		double e = fabs(r.plant.pos[0] - 10) + fabs(r.plant.pos[1]) + fabs(r.plant.pos[2]);
		double v = fabs(r.plant.vel[0]) + fabs(r.plant.vel[1]) + fabs(r.plant.vel[2]);

		if (e < 0.5 && v < 0.05)
			break;
	}
	printf("reached the setpoint after %d ticks (%.1f s)\n", ticks, ticks / 1000.0);
	assert_true(ticks < 60000);
	assert_int_equal(r.agent.fsm.state, QK_ST_ACTIVE);
	sp.arg[0] = NAN;
	qk_agent_command(&r.agent, &sp, 0, &rep);
	assert_int_equal(rep.status, QK_REPLY_REFUSED);
}

static void test_agent_stale_sensors_go_safe(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, &bot);
	rig_step(&r, true);
	for (uint32_t i = 0; i < bot.limits.sensor_stale_cycles - 1; i++)
		rig_step(&r, false);
	assert_int_equal(r.agent.fsm.state, QK_ST_IDLE);
	rig_step(&r, false);
	assert_int_equal(r.agent.fsm.state, QK_ST_SAFE);
	assert_int_equal(r.agent.fsm.reason, QK_TRG_GUARD_SENSORS_STALE);
}

static void test_agent_reset_waits_until_the_guard_is_clear(void **state)
{
	struct rig r;
	char why[128];

	(void)state;
	rig_init(&r, &bot);
	rig_step(&r, true);
	assert_int_equal(qk_plant_fault_set(&r.plant, "temp_avionics", QK_FAULT_BIAS, 100, why, sizeof(why)), 0);
	rig_step(&r, true);
	assert_int_equal(r.agent.fsm.state, QK_ST_SAFE);
	assert_int_equal(r.agent.fsm.reason, QK_TRG_GUARD_THERMAL);
	assert_true(r.act.flags & QK_ACTF_SAFE);
	assert_int_equal(request(&r, QK_ST_COUNT, why), QK_REPLY_REFUSED);
	assert_non_null(strstr(why, "avionics"));
	assert_int_equal(request(&r, QK_ST_ACTIVE, why), QK_REPLY_REFUSED);
	assert_int_equal(qk_plant_fault_clear(&r.plant, "temp_avionics", why, sizeof(why)), 0);
	rig_step(&r, true);
	assert_int_equal(request(&r, QK_ST_COUNT, why), QK_REPLY_REFUSED);
	assert_non_null(strstr(why, "1 of 3"));
	rig_step(&r, true);
	rig_step(&r, true);
	assert_int_equal(request(&r, QK_ST_COUNT, why), QK_REPLY_ACCEPTED);
	assert_int_equal(r.agent.fsm.state, QK_ST_IDLE);
	const struct qk_transition *t = &r.agent.fsm.trans[r.agent.fsm.n_transitions - 1];

	assert_int_equal(t->trigger, QK_TRG_RESET);
	assert_int_equal(t->who, 77);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_bios_missing_device_is_an_error),
		cmocka_unit_test(test_agent_evaluator_orders_type_priority_confidence),
		cmocka_unit_test(test_agent_allocation_matches_the_force_for_bot_and_ship),
		cmocka_unit_test(test_agent_boots_idle_and_refuses_active_while_booting),
		cmocka_unit_test(test_agent_failed_critical_device_goes_error),
		cmocka_unit_test(test_agent_drives_the_plant_to_the_setpoint),
		cmocka_unit_test(test_agent_stale_sensors_go_safe),
		cmocka_unit_test(test_agent_reset_waits_until_the_guard_is_clear),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
