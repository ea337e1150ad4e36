/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/agent/test_agent.c - the agent's tick in lockstep: boot, guards, RESET,
 * commands, outputs, status, determinism. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rt/agent/agent.h"
#include "tests/agent/fixture.h"

static struct qk_config bot;

/* A proposal's hit in words, as qikictl prints it. */
static const char *words(const struct qk_proposal *p)
{
	static char why[QK_REASON_LEN];

	qk_rules_why(&bot, &p->hit, why);
	return why;
}

static int setup(void **state)
{
	(void)state;
	fx_bot(&bot);
	return 0;
}

/* An agent fed with frames it is handed, one 1 ms tick at a time. */
struct rig {
	struct qk_agent a;
	struct qk_sensor_frame f;	/* the next frame to deliver */
	struct qk_bios_report post;
	const struct qk_bios_report *bios;	/* NULL: no POST yet */
	struct qk_actuator_frame act;
	struct qk_reply rep;
	uint64_t cycle;
	bool published;
};

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(qk_agent_init(&r->a, &bot, 0), 0);
	fx_frame(&bot, &r->f, 0);
	fx_post(&bot, &r->post);
	r->bios = &r->post;
}

static int64_t now(const struct rig *r)
{
	return (int64_t)r->cycle * 1000000;
}

/* One tick; deliver false: no new frame arrived. */
static void tick(struct rig *r, bool deliver)
{
	r->f.cycle = r->cycle;
	r->f.publish_ns = now(r) + 1000;
	r->published = qk_agent_tick(&r->a, deliver ? &r->f : NULL, r->bios, now(r), &r->act);
	r->cycle++;
}

static void ticks(struct rig *r, int n, bool deliver)
{
	for (int i = 0; i < n; i++)
		tick(r, deliver);
}

static uint32_t request(struct rig *r, uint32_t target)
{
	struct qk_cmd c = { .id = 1000 + target, .type = QK_CMD_STATE, .u = { target },
			    .sender_pid = 77 };

	qk_agent_command(&r->a, &c, now(r), &r->rep);
	assert_int_equal(r->rep.id, c.id);
	assert_true(memchr(r->rep.reason, '\0', sizeof(r->rep.reason)) != NULL);
	if (r->rep.status == QK_REPLY_ACCEPTED)
		assert_int_equal(r->rep.code, 0);
	else
		assert_true(r->rep.code == -EPERM || r->rep.code == -EINVAL);
	return r->rep.status;
}

static void setpoint(struct rig *r, double x, double y, double z)
{
	struct qk_cmd c = { .id = 5, .type = QK_CMD_SETPOINT, .arg = { x, y, z } };

	qk_agent_command(&r->a, &c, now(r), &r->rep);
}

static const struct qk_transition *last(const struct rig *r)
{
	return qk_fsm_last(&r->a.fsm);
}

static void assert_safe_outputs(const struct rig *r)
{
	assert_true(r->act.flags & QK_ACTF_SAFE);
	for (int i = 0; i < QK_MAX_THRUSTERS; i++)
		assert_true(r->act.throttle[i] == 0.0);
}

static void test_agent_boots_idle_with_a_good_post(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	assert_int_equal(r.a.fsm.state, QK_ST_BOOTING);
	tick(&r, true);
	assert_true(r.published);
	assert_int_equal(r.a.fsm.state, QK_ST_IDLE);
	assert_int_equal(last(&r)->from, QK_ST_BOOTING);
	assert_int_equal(last(&r)->trigger, QK_TRG_BIOS_OK);
	assert_int_equal(last(&r)->who, 0);
	assert_int_equal(r.act.state, QK_ST_IDLE);
	assert_int_equal(r.act.flags, 0);
	assert_int_equal(r.act.answers_cycle, 0);
	assert_int_equal(r.act.sensor_publish_ns, 1000);
}

static void test_agent_booting_waits_for_a_post(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	r.bios = NULL;
	ticks(&r, 10, true);
	assert_int_equal(r.a.fsm.state, QK_ST_BOOTING);
	/* an empty report is no POST either */
	memset(&r.post, 0, sizeof(r.post));
	r.bios = &r.post;
	ticks(&r, 10, true);
	assert_int_equal(r.a.fsm.state, QK_ST_BOOTING);
	/* no frames yet while BOOTING: the sim may start after us, not stale */
	rig_init(&r);
	r.bios = NULL;
	ticks(&r, 500, false);
	assert_int_equal(r.a.fsm.state, QK_ST_BOOTING);
	assert_true(r.published);
	assert_int_equal(r.act.flags, 0);
	fx_post(&bot, &r.post);
	r.bios = &r.post;
	tick(&r, true);
	assert_int_equal(r.a.fsm.state, QK_ST_IDLE);
}

static void test_agent_failed_critical_device_goes_error(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	fx_post_dev(&r.post, "power_unit")->status = QK_DS_ERROR;
	tick(&r, true);
	assert_int_equal(r.a.fsm.state, QK_ST_ERROR);
	assert_int_equal(r.a.fsm.reason, QK_TRG_BIOS_FAIL);
	assert_safe_outputs(&r);
	assert_int_equal(request(&r, QK_ST_ACTIVE), QK_REPLY_REFUSED);
	assert_string_equal(r.rep.reason, "ACTIVE is not reachable from ERROR: RESET first");
	assert_int_equal(request(&r, QK_ST_SAFE), QK_REPLY_REFUSED);
	/* RESET waits for a good POST, then clear_ticks clear ticks */
	ticks(&r, 5, true);
	assert_int_equal(request(&r, QK_ST_COUNT), QK_REPLY_REFUSED);
	assert_int_equal(r.rep.code, -EPERM);
	assert_string_equal(r.rep.reason, "guard active: BIOS: power_unit failed");
	fx_post(&bot, &r.post);
	r.post.post_count = 2;
	tick(&r, true);
	assert_int_equal(r.a.fsm.state, QK_ST_ERROR);
	assert_int_equal(request(&r, QK_ST_COUNT), QK_REPLY_REFUSED);
	assert_string_equal(r.rep.reason, "guard cleared only 1 of 3 ticks ago");
	ticks(&r, 2, true);
	assert_int_equal(request(&r, QK_ST_COUNT), QK_REPLY_ACCEPTED);
	assert_int_equal(r.a.fsm.state, QK_ST_IDLE);
	assert_int_equal(last(&r)->trigger, QK_TRG_RESET);
	assert_int_equal(last(&r)->who, 77);
}

static void test_agent_refuses_active_while_booting(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	assert_int_equal(request(&r, QK_ST_ACTIVE), QK_REPLY_REFUSED);
	assert_int_equal(r.rep.code, -EPERM);
	assert_string_equal(r.rep.reason, "still BOOTING: wait for the BIOS check");
	assert_int_equal(request(&r, QK_ST_IDLE), QK_REPLY_REFUSED);
	assert_int_equal(request(&r, QK_ST_COUNT), QK_REPLY_REFUSED);
	assert_non_null(strstr(r.rep.reason, "nothing to reset"));
	assert_int_equal(request(&r, QK_ST_ERROR), QK_REPLY_REFUSED);
	assert_int_equal(r.a.fsm.state, QK_ST_BOOTING);
	assert_int_equal(r.a.fsm.n_transitions, 0);
}

static void test_agent_stale_sensors_go_safe(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	tick(&r, true);
	ticks(&r, (int)bot.limits.sensor_stale_cycles - 1, false);
	assert_int_equal(r.a.fsm.state, QK_ST_IDLE);
	tick(&r, false);
	assert_int_equal(r.a.fsm.state, QK_ST_SAFE);
	assert_int_equal(r.a.fsm.reason, QK_TRG_GUARD_SENSORS_STALE);
	assert_safe_outputs(&r);
	/* the frame it answers is still the last one seen */
	assert_int_equal(r.act.answers_cycle, 0);
	assert_int_equal(request(&r, QK_ST_COUNT), QK_REPLY_REFUSED);
	assert_string_equal(r.rep.reason, "guard active: no sensor frame for 50 ticks");
	/* frames again: clear after clear_ticks ticks */
	tick(&r, true);
	assert_int_equal(request(&r, QK_ST_COUNT), QK_REPLY_REFUSED);
	assert_string_equal(r.rep.reason, "guard cleared only 1 of 3 ticks ago");
	ticks(&r, 2, true);
	assert_int_equal(request(&r, QK_ST_COUNT), QK_REPLY_ACCEPTED);
	assert_int_equal(r.a.fsm.state, QK_ST_IDLE);
	/* a POST but no frame yet: BOOTING, thrusters off, however long (IDLE
	 * needs a frame; the stale guard counts from the first one) */
	rig_init(&r);
	ticks(&r, 200, false);
	assert_int_equal(r.a.fsm.state, QK_ST_BOOTING);
	assert_int_equal(r.act.throttle[0], 0);
	tick(&r, true);
	assert_int_equal(r.a.fsm.state, QK_ST_IDLE);
	ticks(&r, 50, false);
	assert_int_equal(r.a.fsm.state, QK_ST_SAFE);
	assert_int_equal(r.a.fsm.reason, QK_TRG_GUARD_SENSORS_STALE);
}

static void test_agent_reset_refused_while_thermal_guard_stands(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	tick(&r, true);
	setpoint(&r, 5, 0, 0);
	assert_int_equal(request(&r, QK_ST_ACTIVE), QK_REPLY_ACCEPTED);
	r.f.temp_k[0] = 341.2;
	tick(&r, true);
	assert_int_equal(r.a.fsm.state, QK_ST_SAFE);
	assert_int_equal(r.a.fsm.reason, QK_TRG_GUARD_THERMAL);
	assert_int_equal(last(&r)->from, QK_ST_ACTIVE);
	assert_int_equal(last(&r)->who, 0);
	assert_safe_outputs(&r);
	assert_int_equal(request(&r, QK_ST_COUNT), QK_REPLY_REFUSED);
	assert_string_equal(r.rep.reason, "guard active: avionics 341.2 K > 330.0 K");
	assert_int_equal(request(&r, QK_ST_ACTIVE), QK_REPLY_REFUSED);
	assert_string_equal(r.rep.reason, "ACTIVE is not reachable from SAFE: RESET first");
	assert_int_equal(request(&r, QK_ST_IDLE), QK_REPLY_REFUSED);
	ticks(&r, 20, true);
	assert_int_equal(request(&r, QK_ST_COUNT), QK_REPLY_REFUSED);
	/* back in range: one clear tick is not enough */
	r.f.temp_k[0] = 300;
	tick(&r, true);
	assert_int_equal(request(&r, QK_ST_COUNT), QK_REPLY_REFUSED);
	assert_string_equal(r.rep.reason, "guard cleared only 1 of 3 ticks ago");
	/* ticks without a new frame say nothing about a sensor guard */
	ticks(&r, 10, false);
	assert_int_equal(request(&r, QK_ST_COUNT), QK_REPLY_REFUSED);
	assert_string_equal(r.rep.reason, "guard cleared only 1 of 3 ticks ago");
	ticks(&r, 2, true);
	assert_int_equal(request(&r, QK_ST_COUNT), QK_REPLY_ACCEPTED);
	assert_int_equal(r.a.fsm.state, QK_ST_IDLE);
	assert_int_equal(last(&r)->from, QK_ST_SAFE);
	assert_int_equal(last(&r)->trigger, QK_TRG_RESET);
	assert_int_equal(last(&r)->who, 77);
	/* the whole story, in the ring */
	assert_int_equal(r.a.fsm.n_transitions, 4);
	assert_int_equal(r.a.fsm.trans[1].trigger, QK_TRG_OPERATOR);
	assert_int_equal(r.a.fsm.trans[1].who, 77);
}

static void test_agent_each_guard_sends_safe(void **state)
{
	static const uint32_t want[] = { QK_TRG_GUARD_BATTERY, QK_TRG_GUARD_PRESSURE,
		QK_TRG_GUARD_SENSOR_INVALID, QK_TRG_GUARD_THERMAL };
	struct rig r;

	(void)state;
	/* battery, pressure, invalid sensor, cold: each its trigger */
	for (int k = 0; k < 4; k++) {
		rig_init(&r);
		tick(&r, true);
		switch (k) {
		case 0: r.f.batt_soc = 0.1; break;
		case 1: r.f.tank_bar = 3; break;
		case 2: r.f.valid &= ~QK_VALID_NAV; break;
		default: r.f.temp_k[2] = 200; break;
		}
		tick(&r, true);
		assert_int_equal(r.a.fsm.state, QK_ST_SAFE);
		assert_int_equal(r.a.fsm.reason, want[k]);
	}
	/* a POST gone bad while IDLE: SAFE, not ERROR */
	rig_init(&r);
	tick(&r, true);
	fx_post_dev(&r.post, "imu")->status = QK_DS_NOT_FOUND;
	r.post.post_count = 2;
	tick(&r, true);
	assert_int_equal(r.a.fsm.state, QK_ST_SAFE);
	assert_int_equal(r.a.fsm.reason, QK_TRG_GUARD_BIOS);
	/* the operator's SAFE with nothing wrong: RESET at once */
	rig_init(&r);
	ticks(&r, 5, true);
	assert_int_equal(request(&r, QK_ST_SAFE), QK_REPLY_ACCEPTED);
	assert_int_equal(r.a.fsm.reason, QK_TRG_OPERATOR);
	tick(&r, true);
	assert_safe_outputs(&r);
	assert_int_equal(request(&r, QK_ST_COUNT), QK_REPLY_ACCEPTED);
}

static void test_agent_watchdog_flag_counts_only_once_we_fed_the_sim(void **state)
{
	struct rig r;
	int n = (int)bot.limits.actuator_watchdog_cycles;

	(void)state;
	/* a restarted agent sees its predecessor's watchdog: not ours */
	rig_init(&r);
	r.f.flags = QK_SIMF_WATCHDOG_SAFE;
	ticks(&r, 2 * n, true);
	assert_int_equal(r.a.fsm.state, QK_ST_IDLE);
	r.f.flags = 0;
	ticks(&r, 10, true);
	assert_int_equal(r.a.fsm.state, QK_ST_IDLE);
	/* after we have fed it 2 n ticks, the flag means our frames are lost */
	r.f.flags = QK_SIMF_WATCHDOG_SAFE;
	tick(&r, true);
	assert_int_equal(r.a.fsm.state, QK_ST_SAFE);
	assert_int_equal(r.a.fsm.reason, QK_TRG_GUARD_WATCHDOG);
}

static void test_agent_active_drives_idle_holds_off(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	tick(&r, true);
	setpoint(&r, 10, 0, -2);
	assert_int_equal(r.rep.status, QK_REPLY_ACCEPTED);
	tick(&r, true);
	for (int i = 0; i < QK_MAX_THRUSTERS; i++)
		assert_true(r.act.throttle[i] == 0.0);	/* IDLE: off */
	assert_int_equal(r.a.fsm.state, QK_ST_IDLE);	/* the operator decides */
	assert_string_equal(words(&r.a.active), "go ACTIVE: setpoint 10.2 m away");
	assert_int_equal(request(&r, QK_ST_ACTIVE), QK_REPLY_ACCEPTED);
	tick(&r, true);
	assert_int_equal(r.act.state, QK_ST_ACTIVE);
	assert_int_equal(r.act.flags, 0);
	assert_true(r.act.throttle[0] > 0 && r.act.throttle[1] == 0);	/* +x */
	assert_true(r.act.throttle[5] > 0 && r.act.throttle[4] == 0);	/* -z */
	for (int i = 0; i < QK_MAX_THRUSTERS; i++)
		assert_true(r.act.throttle[i] >= 0 && r.act.throttle[i] <= 1);
	assert_string_equal(words(&r.a.active), "drive to setpoint, 10.2 m away");
	assert_int_equal(request(&r, QK_ST_IDLE), QK_REPLY_ACCEPTED);
	tick(&r, true);
	for (int i = 0; i < QK_MAX_THRUSTERS; i++)
		assert_true(r.act.throttle[i] == 0.0);
	/* heaters work in every state */
	r.f.temp_k[1] = 255;
	tick(&r, true);
	assert_true(r.act.heater[1] == 1.0 && r.act.heater[0] == 0.0);
}

static void test_agent_plan_auto_goes_active_on_a_setpoint(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	r.a.plan_auto = true;
	tick(&r, true);
	tick(&r, true);
	assert_int_equal(r.a.fsm.state, QK_ST_IDLE);
	setpoint(&r, 3, 0, 0);
	tick(&r, true);
	assert_int_equal(r.a.fsm.state, QK_ST_ACTIVE);
	assert_int_equal(last(&r)->trigger, QK_TRG_PLAN);
	assert_int_equal(last(&r)->who, 0);
}

static void test_agent_commands_validate_and_reply(void **state)
{
	struct rig r;
	struct qk_cmd c = { .id = 42, .type = QK_CMD_SETPOINT, .arg = { 1, 2, 3 } };

	(void)state;
	rig_init(&r);
	tick(&r, true);
	qk_agent_command(&r.a, &c, 0, &r.rep);
	assert_int_equal(r.rep.status, QK_REPLY_ACCEPTED);
	assert_int_equal(r.rep.id, 42);
	assert_true(r.a.setpoint[2] == 3);
	double bad[] = { NAN, INFINITY, -INFINITY, 1e6 + 1, -2e9 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c.arg[1] = bad[i];
		qk_agent_command(&r.a, &c, 0, &r.rep);
		assert_int_equal(r.rep.status, QK_REPLY_REFUSED);
		assert_int_equal(r.rep.code, -EINVAL);
		assert_true(r.a.setpoint[1] == 2);	/* unchanged */
	}
	c.arg[1] = -1e6;	/* the limit itself is fine */
	qk_agent_command(&r.a, &c, 0, &r.rep);
	assert_int_equal(r.rep.status, QK_REPLY_ACCEPTED);
	c = (struct qk_cmd){ .id = 43, .type = QK_CMD_PING };
	qk_agent_command(&r.a, &c, 0, &r.rep);
	assert_int_equal(r.rep.status, QK_REPLY_ACCEPTED);
	assert_int_equal(r.rep.id, 43);
	c.type = QK_CMD_FAULT_SET;
	qk_agent_command(&r.a, &c, 0, &r.rep);
	assert_int_equal(r.rep.status, QK_REPLY_REFUSED);
	assert_int_equal(r.rep.code, -EINVAL);
	assert_int_equal(request(&r, QK_ST_COUNT + 1), QK_REPLY_REFUSED);
	assert_int_equal(r.rep.code, -EINVAL);
	/* IDLE -> BOOTING checks the BIOS again */
	assert_int_equal(request(&r, QK_ST_BOOTING), QK_REPLY_ACCEPTED);
	assert_int_equal(r.a.fsm.state, QK_ST_BOOTING);
	tick(&r, true);
	assert_int_equal(r.a.fsm.state, QK_ST_IDLE);
	assert_int_equal(last(&r)->trigger, QK_TRG_BIOS_OK);
	/* SHUTDOWN is final */
	assert_int_equal(request(&r, QK_ST_SHUTDOWN), QK_REPLY_ACCEPTED);
	assert_int_equal(last(&r)->trigger, QK_TRG_SHUTDOWN);
	assert_int_equal(last(&r)->who, 77);
	tick(&r, true);
	assert_safe_outputs(&r);
	for (uint32_t t = 0; t <= QK_ST_COUNT; t++) {
		if (t == QK_ST_SHUTDOWN)
			continue;
		assert_int_equal(request(&r, t), QK_REPLY_REFUSED);
		assert_string_equal(r.rep.reason, "SHUTDOWN is final");
	}
	r.f.batt_soc = 0;	/* guards do not move it either */
	tick(&r, true);
	assert_int_equal(r.a.fsm.state, QK_ST_SHUTDOWN);
}

static void test_agent_status_mirrors_the_agent(void **state)
{
	struct rig r;
	struct qk_agent_status st;

	(void)state;
	rig_init(&r);
	qk_agent_status(&r.a, &st);
	assert_int_equal(st.state, QK_ST_BOOTING);
	assert_int_equal(st.active.type, QK_PROP_EXPLORATION + 1);
	ticks(&r, 3, true);
	setpoint(&r, 1, 2, 3);
	qk_agent_status(&r.a, &st);
	assert_int_equal(st.state, QK_ST_IDLE);
	assert_int_equal(st.cycle, 2);
	assert_int_equal(st.time_ns, 2000000);
	assert_int_equal(st.state_since_ns, 0);
	assert_true(st.all_systems_go);
	assert_true(st.health == 1.0);
	assert_true(st.setpoint_m[0] == 1 && st.setpoint_m[2] == 3);
	assert_int_equal(st.n_transitions, 1);
	assert_int_equal(st.trans[0].to, QK_ST_IDLE);
	assert_int_equal(st.active.type, QK_PROP_EXPLORATION);
	assert_string_equal(words(&st.active), "idle: set a setpoint, go ACTIVE");
	assert_int_equal(st.n_proposals, 1);
	/* a degraded POST shows as a diagnosis */
	fx_post_dev(&r.post, "comms")->status = QK_DS_WARNING;
	r.post.post_count = 2;
	tick(&r, true);
	qk_agent_status(&r.a, &st);
	assert_true(st.all_systems_go);
	assert_true(st.health < 1.0);
}

static void test_agent_is_deterministic(void **state)
{
	static struct rig r1, r2;
	struct qk_agent_status s1, s2;

	(void)state;
	rig_init(&r1);
	rig_init(&r2);
	for (int k = 0; k < 3000; k++) {
		struct rig *rs[2] = { &r1, &r2 };

		for (int j = 0; j < 2; j++) {
			struct rig *r = rs[j];

			if (k == 5) {
				setpoint(r, 4, -1, 0.5);
				request(r, QK_ST_ACTIVE);
			}
			/* a crude plant: the frame follows the thrust */
			for (int a = 0; a < 3; a++) {
				double F = 0;

				for (uint32_t i = 0; i < bot.n_thrusters; i++)
					F += r->act.throttle[i] * 20 * bot.thruster[i].dir[a];
				r->f.vel_mps[a] += F / 25 * 0.001;
				r->f.pos_m[a] += r->f.vel_mps[a] * 0.001;
			}
			r->f.temp_k[0] = k >= 2000 && k < 2100 ? 340 : 290;
			tick(r, k % 97 != 0);
		}
		assert_memory_equal(&r1.act, &r2.act, sizeof(r1.act));
	}
	qk_agent_status(&r1.a, &s1);
	qk_agent_status(&r2.a, &s2);
	assert_memory_equal(&s1, &s2, sizeof(s1));
	assert_int_equal(s1.state, QK_ST_SAFE);
	assert_int_equal(s1.safe_reason, QK_TRG_GUARD_THERMAL);
}

static void test_agent_init_rejects_what_it_cannot_run(void **state)
{
	static struct qk_config c;
	struct qk_agent a;

	(void)state;
	c = bot;
	c.n_thrusters = 0;
	assert_int_equal(qk_agent_init(&a, &c, 0), -EINVAL);
	c = bot;
	c.n_thermal = QK_MAX_THERMAL + 1;
	assert_int_equal(qk_agent_init(&a, &c, 0), -EINVAL);
	c = bot;
	c.n_devices = QK_MAX_DEVICES + 1;
	assert_int_equal(qk_agent_init(&a, &c, 0), -EINVAL);
	assert_int_equal(qk_agent_init(&a, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_boots_idle_with_a_good_post),
		cmocka_unit_test(test_agent_booting_waits_for_a_post),
		cmocka_unit_test(test_agent_failed_critical_device_goes_error),
		cmocka_unit_test(test_agent_refuses_active_while_booting),
		cmocka_unit_test(test_agent_stale_sensors_go_safe),
		cmocka_unit_test(test_agent_reset_refused_while_thermal_guard_stands),
		cmocka_unit_test(test_agent_each_guard_sends_safe),
		cmocka_unit_test(test_agent_watchdog_flag_counts_only_once_we_fed_the_sim),
		cmocka_unit_test(test_agent_active_drives_idle_holds_off),
		cmocka_unit_test(test_agent_plan_auto_goes_active_on_a_setpoint),
		cmocka_unit_test(test_agent_commands_validate_and_reply),
		cmocka_unit_test(test_agent_status_mirrors_the_agent),
		cmocka_unit_test(test_agent_is_deterministic),
		cmocka_unit_test(test_agent_init_rejects_what_it_cannot_run),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
