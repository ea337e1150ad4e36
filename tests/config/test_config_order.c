/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* qk_config_from_options(): the built-in profile, then the file, then the
 * flags, and a warning where the file disagrees with a chosen --profile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "rt/config/config.h"

static char path[64];
static struct qk_config c;
static char warn[512], why[512];

static void file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int from(const char *profile, const char *rate)
{
	struct qk_config_opts o = { profile, path, rate, NULL, warn, sizeof(warn) };

	strcpy(warn, "stale text");
	return qk_config_from_options(&c, &o, why, sizeof(why));
}

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/qk-order-%d.yaml", (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void test_config_order_file_over_profile_warns_with_values(void **state)
{
	struct qk_config ship;

	(void)state;
	assert_int_equal(qk_config_profile(&ship, "ship", NULL, 0), 0);
	file("rate_hz: 250\ntank: {isp_s: 65}\n");
	assert_int_equal(from("ship", NULL), 0);
	assert_int_equal(c.rate_hz, 250);		/* the file over the profile */
	assert_true(c.tank.isp_s == 65);
	assert_true(c.tank.p_full_bar == ship.tank.p_full_bar);	/* the rest: ship's */
	assert_non_null(strstr(warn, "overrides --profile ship"));
	assert_non_null(strstr(warn, "rate_hz 1000 -> 250"));
	assert_non_null(strstr(warn, "tank.isp_s"));
	assert_null(strstr(warn, "p_full_bar"));
}

static void test_config_order_flags_last(void **state)
{
	(void)state;
	file("rate_hz: 250\n");
	assert_int_equal(from("ship", "300"), 0);
	assert_int_equal(c.rate_hz, 300);		/* --rate over the file */
	assert_int_equal(from(NULL, NULL), 0);
	assert_int_equal(c.rate_hz, 250);
}

/* Setting what the profile already has is no conflict; no --profile given
 * is none either (the default was not chosen). */
static void test_config_order_no_warning_without_conflict(void **state)
{
	(void)state;
	file("rate_hz: 1000\n");
	assert_int_equal(from("ship", NULL), 0);
	assert_string_equal(warn, "");
	file("rate_hz: 250\n");
	assert_int_equal(from(NULL, NULL), 0);
	assert_string_equal(warn, "");
}

static void test_config_order_file_profile_conflicts(void **state)
{
	(void)state;
	file("profile: bot\nrate_hz: 250\n");
	assert_int_equal(from("ship", NULL), 0);
	assert_string_equal(c.profile, "bot");	/* the file starts again from its own */
	assert_non_null(strstr(warn, "'profile: bot' replaces --profile ship"));
	file("profile: ship\n");
	assert_int_equal(from("ship", NULL), 0);
	assert_string_equal(warn, "");
}

static void test_config_order_lists_and_small_buffer(void **state)
{
	struct qk_config_opts o = { "bot", path, NULL, NULL, warn, 24 };

	(void)state;
	file("coupling:\n  - [avionics, propulsion, 0.9]\n");
	if (from("bot", NULL))
		fail_msg("%s", why);
	assert_non_null(strstr(warn, "coupling (the whole list)"));
	assert_null(strstr(warn, "thrusters"));
	memset(warn, 'x', sizeof(warn));
	assert_int_equal(qk_config_from_options(&c, &o, why, sizeof(why)), 0);
	assert_true(strlen(warn) < 24);
	assert_int_equal(warn[30], 'x');	/* nothing past warn_n */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_order_file_over_profile_warns_with_values),
		cmocka_unit_test(test_config_order_flags_last),
		cmocka_unit_test(test_config_order_no_warning_without_conflict),
		cmocka_unit_test(test_config_order_file_profile_conflicts),
		cmocka_unit_test(test_config_order_lists_and_small_buffer),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
