/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/agent/test_bios.c - the POST report against the hardware profile. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "rt/agent/bios.h"
#include "tests/agent/fixture.h"

static struct qk_config bot;

/* The verdict in words, as a reader would print it. */
static const char *why_of(const struct qk_bios_eval *e)
{
	static char why[QK_REASON_LEN];

	qk_bios_why(&bot, e, why);
	return why;
}

static int setup(void **state)
{
	(void)state;
	fx_bot(&bot);
	return 0;
}

static void near(double got, double want)
{
	assert_true(fabs(got - want) < 1e-12);
}

/* Drops a device from the report, keeping the rest in order. */
static void drop(struct qk_bios_report *r, const char *name)
{
	struct qk_device_status *d = fx_post_dev(r, name);

	assert_non_null(d);
	memmove(d, d + 1, (size_t)(&r->device[r->n_devices] - (d + 1)) * sizeof(*d));
	r->n_devices--;
}

static void test_bios_all_ok_is_go(void **state)
{
	struct qk_bios_report r;
	struct qk_bios_eval e;

	(void)state;
	fx_post(&bot, &r);
	qk_bios_check(&bot, &r, &e);
	assert_true(e.seen);
	assert_true(e.all_systems_go);
	near(e.health, 1.0);
	assert_int_equal(e.n_ok, bot.n_devices);
	assert_int_equal(e.n_warning + e.n_error + e.n_missing + e.critical_fail, 0);
	assert_int_equal(e.first_bad, -1);
	assert_string_equal(why_of(&e), "");
}

static void test_bios_no_post_yet(void **state)
{
	struct qk_bios_report r;
	struct qk_bios_eval e;

	(void)state;
	memset(&r, 0, sizeof(r));
	qk_bios_check(&bot, &r, &e);
	assert_false(e.seen);
	assert_false(e.all_systems_go);
	assert_non_null(strstr(why_of(&e), "no POST"));
	qk_bios_check(&bot, NULL, &e);
	assert_false(e.seen);
	assert_false(e.all_systems_go);
}

static void test_bios_missing_device_is_an_error(void **state)
{
	struct qk_bios_report r;
	struct qk_bios_eval e;

	(void)state;
	/* a non-critical device missing: an error that costs health only */
	fx_post(&bot, &r);
	drop(&r, "comms");
	qk_bios_check(&bot, &r, &e);
	assert_int_equal(e.n_missing, 1);
	assert_int_equal(e.critical_fail, 0);
	near(e.health, (bot.n_devices - 1.0) / bot.n_devices);
	assert_true(e.all_systems_go);
	assert_int_equal(e.first_bad, fx_dev(&bot, "comms"));
	assert_int_equal(e.first_status, QK_BIOS_MISSING);
	/* a critical one missing: not go, and the why says which */
	fx_post(&bot, &r);
	drop(&r, "imu");
	qk_bios_check(&bot, &r, &e);
	assert_int_equal(e.n_missing, 1);
	assert_int_equal(e.critical_fail, 1);
	assert_false(e.all_systems_go);
	assert_string_equal(why_of(&e), "imu missing from POST");
	/* a POST that lists nothing: everything missing */
	fx_post(&bot, &r);
	r.n_devices = 0;
	qk_bios_check(&bot, &r, &e);
	assert_true(e.seen);
	assert_int_equal(e.n_missing, bot.n_devices);
	near(e.health, 0);
	assert_false(e.all_systems_go);
}

static void test_bios_critical_failure_is_not_go(void **state)
{
	static const char *const critical[] = { "imu", "nav", "tank_pressure", "battery_monitor",
		"power_unit", "controller", "thr_px", "thr_nz" };
	struct qk_bios_report r;
	struct qk_bios_eval e;

	(void)state;
	for (size_t i = 0; i < sizeof(critical) / sizeof(critical[0]); i++) {
		for (uint32_t st = QK_DS_ERROR; st <= QK_DS_NOT_FOUND; st++) {
			fx_post(&bot, &r);
			fx_post_dev(&r, critical[i])->status = st;
			qk_bios_check(&bot, &r, &e);
			assert_false(e.all_systems_go);
			assert_int_equal(e.critical_fail, 1);
			assert_int_equal(e.n_error, 1);
			/* health alone would pass: the critical device decides */
			assert_true(e.health >= bot.limits.health_min);
			assert_int_equal(e.first_bad, fx_dev(&bot, critical[i]));
			assert_non_null(strstr(why_of(&e), critical[i]));
			assert_non_null(strstr(why_of(&e), st == QK_DS_ERROR ? "failed" : "not found"));
		}
	}
	/* a critical device with a warning is still go */
	fx_post(&bot, &r);
	fx_post_dev(&r, "imu")->status = QK_DS_WARNING;
	qk_bios_check(&bot, &r, &e);
	assert_true(e.all_systems_go);
	/* a status nobody knows is not OK */
	fx_post_dev(&r, "nav")->status = 99;
	qk_bios_check(&bot, &r, &e);
	assert_false(e.all_systems_go);
	assert_int_equal(e.critical_fail, 1);
}

static void test_bios_health_score_values(void **state)
{
	static const char *const minor[] = { "temp_avionics", "temp_propulsion", "temp_battery", "comms" };
	struct qk_bios_report r;
	struct qk_bios_eval e;
	double n = bot.n_devices;

	(void)state;
	fx_post(&bot, &r);
	fx_post_dev(&r, "comms")->status = QK_DS_WARNING;
	qk_bios_check(&bot, &r, &e);
	near(e.health, (n - 0.5) / n);
	assert_int_equal(e.n_warning, 1);
	assert_true(e.all_systems_go);
	assert_non_null(strstr(why_of(&e), "degraded"));
	fx_post_dev(&r, "temp_battery")->status = QK_DS_ERROR;
	qk_bios_check(&bot, &r, &e);
	near(e.health, (n - 1.5) / n);
	assert_int_equal(e.n_error, 1);
	assert_true(e.all_systems_go);
	/* every non-critical device failed: 12/16 < 0.8, no critical failure */
	fx_post(&bot, &r);
	for (size_t i = 0; i < 4; i++)
		fx_post_dev(&r, minor[i])->status = QK_DS_NOT_FOUND;
	qk_bios_check(&bot, &r, &e);
	near(e.health, (n - 4) / n);
	assert_int_equal(e.critical_fail, 0);
	assert_false(e.all_systems_go);
	assert_string_equal(why_of(&e), "health 0.75 < 0.80");
	/* the limit is inclusive */
	struct qk_config c = bot;

	c.limits.health_min = (n - 4) / n;
	qk_bios_check(&c, &r, &e);
	assert_true(e.all_systems_go);
}

static void test_bios_matches_by_name_in_any_order(void **state)
{
	struct qk_bios_report r;
	struct qk_bios_eval e;

	(void)state;
	fx_post(&bot, &r);
	for (uint32_t i = 0; i < r.n_devices / 2; i++) {
		struct qk_device_status t = r.device[i];

		r.device[i] = r.device[r.n_devices - 1 - i];
		r.device[r.n_devices - 1 - i] = t;
	}
	/* a device the profile does not know is counted, not scored */
	fx_name(r.device[r.n_devices].name, "flux_capacitor");
	r.device[r.n_devices++].status = QK_DS_ERROR;
	qk_bios_check(&bot, &r, &e);
	assert_true(e.all_systems_go);
	near(e.health, 1.0);
	assert_int_equal(e.n_unexpected, 1);
	assert_int_equal(e.post_count, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bios_all_ok_is_go),
		cmocka_unit_test(test_bios_no_post_yet),
		cmocka_unit_test(test_bios_missing_device_is_an_error),
		cmocka_unit_test(test_bios_critical_failure_is_not_go),
		cmocka_unit_test(test_bios_health_score_values),
		cmocka_unit_test(test_bios_matches_by_name_in_any_order),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
