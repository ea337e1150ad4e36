/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The histogram's readers: the mean beside the percentiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shm/hist.h"

static struct qk_hist h;

static void test_hist_mean_empty_is_zero(void **state)
{
	(void)state;
	qk_hist_reset(&h);
	assert_int_equal(qk_hist_mean(&h), 0);
}

static void test_hist_mean_is_exact(void **state)
{
	(void)state;
	qk_hist_reset(&h);
	/* far apart buckets: a mean from bucket edges would be off */
	qk_hist_record(&h, 1000);
	qk_hist_record(&h, 1017);
	qk_hist_record(&h, 250000);
	assert_int_equal(qk_hist_mean(&h), (1000 + 1017 + 250000) / 3);
	/* the median is the middle sample's bucket, the mean is not */
	assert_true(qk_hist_quantile(&h, 0.5) < qk_hist_mean(&h));
}

static void test_hist_mean_of_negative_margins(void **state)
{
	(void)state;
	qk_hist_reset(&h);
	qk_hist_record(&h, -3000);
	qk_hist_record(&h, 1000);
	assert_int_equal(qk_hist_mean(&h), -1000);
	assert_int_equal(qk_hist_min(&h), -3000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_mean_empty_is_zero),
		cmocka_unit_test(test_hist_mean_is_exact),
		cmocka_unit_test(test_hist_mean_of_negative_margins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
