/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* shm/hist.c - histogram reading; recording is inline in shm/hist.h. */
#include "shm/hist.h"

int64_t qk_hist_quantile(const struct qk_hist *h, double q)
{
	uint64_t n = 0, seen = 0;
	uint64_t b[QK_HIST_BUCKETS];

	for (uint32_t i = 0; i < QK_HIST_BUCKETS; i++)
		n += b[i] = qk_load_relaxed((_Atomic uint64_t *)&h->bucket[i]);
	if (!n)
		return 0;
	int64_t max = qk_load_relaxed((_Atomic int64_t *)&h->max);
	int64_t min = qk_load_relaxed((_Atomic int64_t *)&h->min);
	uint64_t rank = (uint64_t)(q * (double)n + 0.5);

	if (rank < 1)
		rank = 1;
	for (uint32_t i = 0; i < QK_HIST_BUCKETS; i++) {
		seen += b[i];
		if (seen >= rank) {
			int64_t v = i + 1 < QK_HIST_BUCKETS ? qk_hist_lower(i + 1) - 1 : max;

			if (v > max)
				v = max;
			return v < min ? min : v;
		}
	}
	return max;
}
