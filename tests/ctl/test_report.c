/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ctl/report.c: the launcher's status line fits 80 columns and names whose
 * overruns it counts; the summary names the devices a failed POST found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/report.h"
#include "rt/agent/fsm.h"

static void test_report_line_typical_shows_everything(void **state)
{
	struct qk_report_line v = { .t_s = 12.3, .state = QK_ST_ACTIVE, .overruns_sim = 3,
				    .overruns_agent = 7, .wake_p99_sim_ns = 12400,
				    .wake_p99_agent_ns = 45600, .pos_m = { 10, -0.5, 0 } };
	char b[256];
	size_t k;

	(void)state;
	k = qk_report_format_line(b, sizeof(b), &v);
	assert_int_equal(k, strlen(b));
	assert_true(k <= QK_REPORT_COLS - 1);
	assert_non_null(strstr(b, "ACTIVE"));
	assert_non_null(strstr(b, "overruns sim 3 agent 7"));
	assert_non_null(strstr(b, "  10.0 -0.5 0.0 m  "));
	assert_non_null(strstr(b, "p99us sim 12 agent 46"));
}

/* Whatever the figures, the line never passes column 79, and the overrun
 * counts are the last thing to go. */
static void test_report_line_fits_80_columns_at_extremes(void **state)
{
	struct qk_report_line v = { .t_s = 99999999.9, .state = QK_ST_SHUTDOWN,
				    .overruns_sim = 123456789, .overruns_agent = 987654321,
				    .wake_p99_sim_ns = INT64_MAX, .wake_p99_agent_ns = 68000000000,
				    .pos_m = { -123456.789, 99999.9, -1e12 } };
	char b[256];

	(void)state;
	assert_true(qk_report_format_line(b, sizeof(b), &v) <= QK_REPORT_COLS - 1);
	assert_non_null(strstr(b, "overruns sim 123456789 agent 987654321"));
	assert_null(strstr(b, "p99us"));	/* left out whole, not cut */
	v.overruns_sim = v.overruns_agent = UINT64_MAX;
	v.state = 12345;	/* from shared memory: anything */
	assert_true(qk_report_format_line(b, sizeof(b), &v) <= QK_REPORT_COLS - 1);
	assert_true(strlen(b) <= QK_REPORT_COLS - 1);
	/* a small buffer is respected too */
	assert_true(qk_report_format_line(b, 10, &v) <= 9);
	assert_int_equal(strlen(b), qk_report_format_line(b, 10, &v));
}

static struct qk_config cfg;
static struct qk_bios_report rep;

static void two_devices(void)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(&rep, 0, sizeof(rep));
	cfg.n_devices = 2;
	strcpy(cfg.device[0].name, "imu");
	cfg.device[0].critical = 1;
	strcpy(cfg.device[1].name, "comms");
	rep.post_count = 1;
	rep.n_devices = 2;
	strcpy(rep.device[0].name, "imu");
	strcpy(rep.device[1].name, "comms");
}

static char *post_text(int *bad)
{
	static char buf[1024];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	assert_non_null(f);
	*bad = qk_report_post(f, &rep, &cfg);
	fclose(f);
	return buf;
}

static void test_report_post_names_failed_device_and_code(void **state)
{
	int bad;
	char *t;

	(void)state;
	two_devices();
	t = post_text(&bad);
	assert_int_equal(bad, 0);
	assert_non_null(strstr(t, "all 2 devices OK"));

	rep.device[0].status = QK_DS_ERROR;
	rep.device[0].code = QK_PC_CRITICAL_BOOT_FAILURE;
	t = post_text(&bad);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(t, "POST #1 failed: imu ERROR CRITICAL_BOOT_FAILURE (critical)"));
	assert_null(strstr(t, "comms"));

	rep.device[1].status = QK_DS_WARNING;
	rep.device[1].code = QK_PC_UNSTABLE_READINGS;
	t = post_text(&bad);
	assert_int_equal(bad, 2);
	assert_non_null(strstr(t, ", comms WARNING UNSTABLE_READINGS"));
}

static void test_report_post_missing_and_hostile(void **state)
{
	int bad;
	char *t;

	(void)state;
	two_devices();
	rep.n_devices = 1;	/* comms never answered */
	t = post_text(&bad);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(t, "comms missing from the report"));

	two_devices();
	rep.n_devices = 100000;	/* written by anyone: bounded */
	rep.device[0].status = 77;
	rep.device[0].code = 99;
	memset(rep.device[0].name, 'x', QK_NAME_LEN);	/* no NUL */
	t = post_text(&bad);
	assert_true(bad >= 1);
	assert_non_null(strstr(t, "? ?"));

	two_devices();
	rep.post_count = 0;
	t = post_text(&bad);
	assert_int_equal(bad, 0);
	assert_non_null(strstr(t, "none ran"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_line_typical_shows_everything),
		cmocka_unit_test(test_report_line_fits_80_columns_at_extremes),
		cmocka_unit_test(test_report_post_names_failed_device_and_code),
		cmocka_unit_test(test_report_post_missing_and_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
