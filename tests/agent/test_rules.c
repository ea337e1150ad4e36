/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/agent/test_rules.c - thresholds to proposals, and the evaluator's order. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "rt/agent/rules.h"
#include "tests/agent/fixture.h"

static struct qk_config bot;

static int setup(void **state)
{
	(void)state;
	fx_bot(&bot);
	return 0;
}

/* Everything the rules read, healthy: IDLE, all go, at the setpoint. */
struct world {
	struct qk_sensor_frame f;
	struct qk_bios_report post;
	struct qk_bios_eval bios;
	double setpoint[3];
	struct qk_rule_in in;
	struct qk_rules_out out;
	char words[QK_MAX_PROPOSALS][QK_REASON_LEN];	/* each proposal's hit, worded */
};

static void world(struct world *w)
{
	memset(w, 0, sizeof(*w));
	fx_frame(&bot, &w->f, 1);
	fx_post(&bot, &w->post);
	qk_bios_check(&bot, &w->post, &w->bios);
	w->in = (struct qk_rule_in){ .cfg = &bot, .f = &w->f, .stale_armed = true,
				     .bios = &w->bios, .state = QK_ST_IDLE, .setpoint = w->setpoint };
}

static int run(struct world *w)
{
	qk_rules_run(&w->in, &w->out);
	for (int i = 0; i < w->out.n; i++)
		qk_rules_why(w->in.cfg, &w->out.p[i].hit, w->words[i]);
	return w->out.n;
}

static int count_type(const struct world *w, uint32_t type)
{
	int n = 0;

	for (int i = 0; i < w->out.n; i++)
		n += w->out.p[i].type == type;
	return n;
}

/* The one SAFETY proposal: its trigger and words. */
static void expect_safety(struct world *w, uint32_t trigger, const char *why)
{
	run(w);
	assert_int_equal(count_type(w, QK_PROP_SAFETY), 1);
	int win = qk_evaluate(w->out.p, w->out.n, 0.6);

	assert_true(win >= 0);
	const struct qk_proposal *p = &w->out.p[win];

	assert_int_equal(p->type, QK_PROP_SAFETY);
	assert_int_equal(p->trigger, trigger);
	assert_int_equal(p->target_state, QK_ST_SAFE);
	assert_true(p->confidence >= 0.6);
	if (why)
		assert_string_equal(w->words[win], why);
}

static void test_rules_healthy_raise_no_safety(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	run(&w);
	assert_int_equal(count_type(&w, QK_PROP_SAFETY), 0);
	/* IDLE with nothing asked: only the idle suggestion */
	assert_int_equal(w.out.n, 1);
	assert_int_equal(w.out.p[0].type, QK_PROP_EXPLORATION);
	assert_string_equal(w.words[0], "idle: set a setpoint, go ACTIVE");
	assert_int_equal(qk_evaluate(w.out.p, w.out.n, 0.6), 0);
}

static void test_rules_battery_low_asks_safe(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	w.f.batt_soc = 0.15;
	expect_safety(&w, QK_TRG_GUARD_BATTERY, "battery SoC 15% < 20%");
	/* exactly at the limit is not under it (a DIAGNOSTICS note only) */
	w.f.batt_soc = 0.2;
	run(&w);
	assert_int_equal(count_type(&w, QK_PROP_SAFETY), 0);
	assert_int_equal(count_type(&w, QK_PROP_DIAGNOSTICS), 1);
}

static void test_rules_thermal_outside_range_asks_safe(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	w.f.temp_k[0] = 341.2;
	expect_safety(&w, QK_TRG_GUARD_THERMAL, "avionics 341.2 K > 330.0 K");
	world(&w);
	w.f.temp_k[2] = 240.04;
	expect_safety(&w, QK_TRG_GUARD_THERMAL, "battery 240.0 K < 250.0 K");
	world(&w);
	w.f.temp_k[1] = 330.0;	/* the limits are inside the range */
	w.f.temp_k[2] = 250.0;
	run(&w);
	assert_int_equal(count_type(&w, QK_PROP_SAFETY), 0);
	/* two nodes out: one proposal each */
	w.f.temp_k[0] = 400;
	w.f.temp_k[1] = 100;
	run(&w);
	assert_int_equal(count_type(&w, QK_PROP_SAFETY), 2);
}

static void test_rules_tank_pressure_outside_range_asks_safe(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	w.f.tank_bar = 50.04;
	expect_safety(&w, QK_TRG_GUARD_PRESSURE, "tank 50.0 bar > 25.0 bar");
	w.f.tank_bar = 4.2;
	expect_safety(&w, QK_TRG_GUARD_PRESSURE, "tank 4.2 bar < 5.0 bar");
	/* just under the guard: the reason still shows the difference */
	w.f.tank_bar = 4.98;
	expect_safety(&w, QK_TRG_GUARD_PRESSURE, "tank 4.98 bar < 5.00 bar");
	w.f.tank_bar = 4.99996;
	expect_safety(&w, QK_TRG_GUARD_PRESSURE, "tank 5.0000 bar < 5.0000 bar");
	w.f.tank_bar = 5.0;
	run(&w);
	assert_int_equal(count_type(&w, QK_PROP_SAFETY), 0);
}

static void test_rules_invalid_sensor_asks_safe_and_is_not_compared(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	w.f.valid &= ~QK_VALID_IMU;
	expect_safety(&w, QK_TRG_GUARD_SENSOR_INVALID, "imu reading invalid");
	/* an invalid tank reading is not compared with its limits */
	world(&w);
	w.f.valid &= ~QK_VALID_TANK;
	w.f.tank_bar = 100;
	expect_safety(&w, QK_TRG_GUARD_SENSOR_INVALID, "tank_pressure reading invalid");
	/* a non-critical sensor: a DIAGNOSTICS note, and its node is not compared */
	world(&w);
	w.f.valid &= ~QK_VALID_TEMP(1);
	w.f.temp_k[1] = 1000;
	run(&w);
	assert_int_equal(count_type(&w, QK_PROP_SAFETY), 0);
	assert_int_equal(count_type(&w, QK_PROP_DIAGNOSTICS), 1);
	int win = qk_evaluate(w.out.p, w.out.n, 0.6);

	assert_string_equal(w.words[win], "temp_propulsion reading invalid");
}

static void test_rules_stale_sensors_ask_safe(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	w.in.stale_ticks = 49;
	run(&w);
	assert_int_equal(count_type(&w, QK_PROP_SAFETY), 0);
	w.in.stale_ticks = 50;
	expect_safety(&w, QK_TRG_GUARD_SENSORS_STALE, "no sensor frame for 50 ticks");
	/* the words do not change tick by tick while it stands */
	w.in.stale_ticks = 51;
	expect_safety(&w, QK_TRG_GUARD_SENSORS_STALE, "no sensor frame for 50 ticks");
	/* before the first frame while BOOTING the caller disarms it */
	w.in.stale_armed = false;
	w.in.f = NULL;
	run(&w);
	assert_int_equal(count_type(&w, QK_PROP_SAFETY), 0);
}

static void test_rules_watchdog_and_bios_ask_safe(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	w.in.watchdog = true;
	expect_safety(&w, QK_TRG_GUARD_WATCHDOG, "sim watchdog: our frames lost");
	world(&w);
	fx_post_dev(&w.post, "power_unit")->status = QK_DS_ERROR;
	qk_bios_check(&bot, &w.post, &w.bios);
	expect_safety(&w, QK_TRG_GUARD_BIOS, "BIOS: power_unit failed");
	world(&w);
	w.post.n_devices--;	/* controller, the last: missing */
	qk_bios_check(&bot, &w.post, &w.bios);
	expect_safety(&w, QK_TRG_GUARD_BIOS, "BIOS: controller missing");
	/* no critical failure, health too low */
	world(&w);
	fx_post_dev(&w.post, "comms")->status = QK_DS_ERROR;
	fx_post_dev(&w.post, "temp_avionics")->status = QK_DS_ERROR;
	fx_post_dev(&w.post, "temp_battery")->status = QK_DS_ERROR;
	fx_post_dev(&w.post, "temp_propulsion")->status = QK_DS_ERROR;
	qk_bios_check(&bot, &w.post, &w.bios);
	expect_safety(&w, QK_TRG_GUARD_BIOS, "BIOS: health 0.75 < 0.80");
	/* no POST yet: nothing to say */
	world(&w);
	qk_bios_check(&bot, NULL, &w.bios);
	run(&w);
	assert_int_equal(count_type(&w, QK_PROP_SAFETY), 0);
}

static void test_rules_planning_diagnostics_exploration(void **state)
{
	struct world w;
	int win;

	(void)state;
	/* IDLE, the operator set a setpoint 10 m away */
	world(&w);
	w.setpoint[0] = 10;
	w.in.go_asked = true;
	run(&w);
	win = qk_evaluate(w.out.p, w.out.n, 0.6);
	assert_int_equal(w.out.p[win].type, QK_PROP_PLANNING);
	assert_int_equal(w.out.p[win].target_state, QK_ST_ACTIVE);
	assert_int_equal(w.out.p[win].trigger, QK_TRG_PLAN);
	assert_string_equal(w.words[win], "go ACTIVE: setpoint 10.0 m away");
	assert_int_equal(count_type(&w, QK_PROP_EXPLORATION), 0);
	/* ACTIVE on the way, then there */
	w.in.state = QK_ST_ACTIVE;
	run(&w);
	win = qk_evaluate(w.out.p, w.out.n, 0.6);
	assert_string_equal(w.words[win], "drive to setpoint, 10.0 m away");
	w.f.pos_m[0] = 9.7;
	w.f.vel_mps[0] = 0.06;	/* close, too fast */
	run(&w);
	win = qk_evaluate(w.out.p, w.out.n, 0.6);
	assert_string_equal(w.words[win], "drive to setpoint, 0.3 m away");
	w.f.vel_mps[0] = 0.01;
	run(&w);
	win = qk_evaluate(w.out.p, w.out.n, 0.6);
	assert_string_equal(w.words[win], "hold: setpoint reached");
	assert_int_equal(w.out.p[win].target_state, QK_ST_ACTIVE);
	/* a BIOS warning is a diagnosis, below planning */
	fx_post_dev(&w.post, "comms")->status = QK_DS_WARNING;
	qk_bios_check(&bot, &w.post, &w.bios);
	run(&w);
	assert_int_equal(count_type(&w, QK_PROP_DIAGNOSTICS), 1);
	for (int i = 0; i < w.out.n; i++)
		if (w.out.p[i].type == QK_PROP_DIAGNOSTICS)
			assert_string_equal(w.words[i], "BIOS degraded: health 0.97");
	win = qk_evaluate(w.out.p, w.out.n, 0.6);
	assert_int_equal(w.out.p[win].type, QK_PROP_PLANNING);
	/* battery nearing its limit */
	world(&w);
	w.f.batt_soc = 0.25;
	run(&w);
	win = qk_evaluate(w.out.p, w.out.n, 0.6);
	assert_string_equal(w.words[win], "battery SoC 25% nearing 20%");
}

static void test_rules_words_fit_a_refusal(void **state)
{
	struct world w;

	(void)state;
	/* everything wrong at once: every SAFETY rule's words fit after
	 * "guard active: " in a 47-character reason */
	world(&w);
	w.in.stale_ticks = 4000000000u;
	w.in.watchdog = true;
	fx_post_dev(&w.post, "battery_monitor")->status = QK_DS_NOT_FOUND;
	qk_bios_check(&bot, &w.post, &w.bios);
	w.f.valid &= ~(QK_VALID_IMU | QK_VALID_NAV);
	w.f.tank_bar = 1234.56;
	w.f.temp_k[0] = 1999.99;
	w.f.temp_k[1] = -273.1;
	w.f.batt_soc = 0.001;
	run(&w);
	assert_int_equal(count_type(&w, QK_PROP_SAFETY), 9);
	for (int i = 0; i < w.out.n; i++)
		assert_true(strlen(w.words[i]) <= 33);
	/* raised in priority order */
	for (int i = 1; i < count_type(&w, QK_PROP_SAFETY); i++)
		assert_true(w.out.p[i].priority <= w.out.p[i - 1].priority);
}

static void test_rules_full_array_keeps_the_first_and_counts_the_rest(void **state)
{
	static struct qk_config many;
	struct world w;

	(void)state;
	many = bot;
	many.n_devices = 0;
	for (uint32_t i = 0; i < 20; i++)
		fx_device(&many, "temp_x", QK_DEV_SENSOR, QK_SK_THERMAL, i % 3, 1);
	world(&w);
	w.in.cfg = &many;
	w.f.valid = 0;
	qk_rules_run(&w.in, &w.out);
	assert_int_equal(w.out.n, QK_MAX_PROPOSALS);
	assert_true(w.out.dropped >= 4);
}

static void test_rules_evaluator_orders_type_priority_confidence(void **state)
{
	struct qk_proposal p[] = {
		{ .type = QK_PROP_EXPLORATION, .priority = 99, .confidence = 0.9, .hit.index = 1 },
		{ .type = QK_PROP_PLANNING, .priority = 5, .confidence = 0.7, .hit.index = 2 },
		{ .type = QK_PROP_SAFETY, .priority = 1, .confidence = 0.61, .hit.index = 3 },
		{ .type = QK_PROP_PLANNING, .priority = 5, .confidence = 0.9, .hit.index = 4 },
		{ .type = QK_PROP_SAFETY, .priority = 9, .confidence = 0.5, .hit.index = 5 },
		{ .type = QK_PROP_DIAGNOSTICS, .priority = 50, .confidence = 1.0, .hit.index = 6 },
		{ .type = QK_PROP_PLANNING, .priority = 6, .confidence = 0.6, .hit.index = 7 },
		{ .type = QK_PROP_PLANNING, .priority = 5, .confidence = 0.7, .hit.index = 8 },
	};
	static const uint32_t want[] = { 3, 7, 4, 2, 8, 6, 1 };	/* by label */
	uint8_t order[QK_MAX_PROPOSALS];

	(void)state;
	assert_int_equal(qk_evaluate_order(p, 8, 0.6, order), 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(p[order[i]].hit.index, want[i]);
	assert_int_equal(qk_evaluate(p, 8, 0.6), 2);
	/* the cut: the unsure SAFETY wins once the threshold lets it in */
	assert_int_equal(qk_evaluate(p, 8, 0.5), 4);
	/* nothing passes: -1 */
	assert_int_equal(qk_evaluate(p, 8, 1.01), -1);
	assert_int_equal(qk_evaluate(p, 0, 0.6), -1);
	/* the proposals themselves do not move */
	assert_int_equal(p[0].hit.index, 1);
	/* NaN confidence never passes */
	struct qk_proposal nan = { .type = QK_PROP_SAFETY, .priority = 100, .confidence = NAN };

	assert_int_equal(qk_evaluate(&nan, 1, 0.0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_healthy_raise_no_safety),
		cmocka_unit_test(test_rules_battery_low_asks_safe),
		cmocka_unit_test(test_rules_thermal_outside_range_asks_safe),
		cmocka_unit_test(test_rules_tank_pressure_outside_range_asks_safe),
		cmocka_unit_test(test_rules_invalid_sensor_asks_safe_and_is_not_compared),
		cmocka_unit_test(test_rules_stale_sensors_ask_safe),
		cmocka_unit_test(test_rules_watchdog_and_bios_ask_safe),
		cmocka_unit_test(test_rules_planning_diagnostics_exploration),
		cmocka_unit_test(test_rules_words_fit_a_refusal),
		cmocka_unit_test(test_rules_full_array_keeps_the_first_and_counts_the_rest),
		cmocka_unit_test(test_rules_evaluator_orders_type_priority_confidence),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
