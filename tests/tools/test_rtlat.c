/*
 * tests/tools/test_rtlat.c - what qiki-rtlat's kernel side and the loop must
 * agree on: the tracer buckets a latency exactly as shm/hist.h does (the
 * bench compares the two histograms bucket for bucket), without clz.
 */
#include <linux/types.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shm/hist.h"
#include "tools/rtlat/rtlat.h"

static void test_rtlat_hist_index_matches_shm_hist(void **state)
{
	(void)state;
	/* every exact value, every bucket edge and its neighbours, up to the top */
	for (int64_t v = -3; v < 4096; v++)
		assert_int_equal(rtlat_hist_index(v), qk_hist_index(v));
	for (uint32_t i = 0; i < QK_HIST_BUCKETS; i++) {
		int64_t lo = qk_hist_lower(i);

		for (int64_t d = -1; d <= 1; d++)
			assert_int_equal(rtlat_hist_index(lo + d), qk_hist_index(lo + d));
	}
	assert_int_equal(rtlat_hist_index(INT64_MAX), qk_hist_index(INT64_MAX));
	assert_int_equal(rtlat_hist_index(INT64_MAX), RTLAT_HIST_BUCKETS - 1);
}

static void test_rtlat_hist_index_stays_in_range(void **state)
{
	(void)state;
	for (int s = 0; s < 63; s++) {
		int64_t v = (int64_t)1 << s;

		assert_true(rtlat_hist_index(v) < RTLAT_HIST_BUCKETS);
		assert_true(rtlat_hist_index(v - 1) <= rtlat_hist_index(v));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtlat_hist_index_matches_shm_hist),
		cmocka_unit_test(test_rtlat_hist_index_stays_in_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
