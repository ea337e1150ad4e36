/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * shm/hist.h - log-linear latency histogram in shared memory.
 *
 * Contract: one writer (the loop that owns it), any number of readers.  Every
 * field is an independent monotonic word written with relaxed stores (the
 * writer is alone, so no read-modify-write is needed); a reader's snapshot may
 * be a few samples apart between fields, never torn within one.  Recording is
 * O(1), wait-free, allocation-free and syscall-free: safe on the hot path.
 *
 * Buckets: values below 2^QK_HIST_SUB_BITS ns are exact; above, each power of
 * two is split into 2^QK_HIST_SUB_BITS linear buckets, so the relative error
 * of a bucket is at most 1/2^QK_HIST_SUB_BITS (6.25%).  The top bucket holds
 * everything from about 68 s up.
 */
#ifndef QK_SHM_HIST_H
#define QK_SHM_HIST_H

#include <stdint.h>

#include "shm/atomic.h"

#define QK_HIST_SUB_BITS 4
#define QK_HIST_SUB      (1u << QK_HIST_SUB_BITS)
#define QK_HIST_OCTAVES  33	/* 2^4 .. 2^36 ns */
#define QK_HIST_BUCKETS  (QK_HIST_SUB + QK_HIST_OCTAVES * QK_HIST_SUB)

struct qk_hist {
	_Atomic uint64_t count;
	_Atomic int64_t min;
	_Atomic int64_t max;
	_Atomic uint64_t sum;		/* ns, for the mean beside the percentiles;
					 * two's complement (margins go negative) */
	_Atomic uint64_t bucket[QK_HIST_BUCKETS];
};
_Static_assert(sizeof(struct qk_hist) % 8 == 0, "hist is whole words");

static inline uint32_t qk_hist_index(int64_t v)
{
	if (v < (int64_t)QK_HIST_SUB)
		return v < 0 ? 0 : (uint32_t)v;
	uint32_t e = 63 - (uint32_t)__builtin_clzll((uint64_t)v);	/* >= SUB_BITS */
	uint32_t sub = (uint32_t)((uint64_t)v >> (e - QK_HIST_SUB_BITS)) & (QK_HIST_SUB - 1);
	uint32_t i = QK_HIST_SUB + (e - QK_HIST_SUB_BITS) * QK_HIST_SUB + sub;

	return i < QK_HIST_BUCKETS ? i : QK_HIST_BUCKETS - 1;
}

/* Lowest value that falls in bucket i. */
static inline int64_t qk_hist_lower(uint32_t i)
{
	if (i < QK_HIST_SUB)
		return i;
	uint32_t e = (i - QK_HIST_SUB) / QK_HIST_SUB + QK_HIST_SUB_BITS;
	uint32_t sub = (i - QK_HIST_SUB) % QK_HIST_SUB;

	return (int64_t)(((uint64_t)QK_HIST_SUB + sub) << (e - QK_HIST_SUB_BITS));
}

static inline void qk_hist_reset(struct qk_hist *h)
{
	qk_store_relaxed(&h->count, 0);
	qk_store_relaxed(&h->min, INT64_MAX);
	qk_store_relaxed(&h->max, INT64_MIN);
	qk_store_relaxed(&h->sum, 0);
	for (uint32_t i = 0; i < QK_HIST_BUCKETS; i++)
		qk_store_relaxed(&h->bucket[i], 0);
}

/* Writer only. */
static inline void qk_hist_record(struct qk_hist *h, int64_t v)
{
	_Atomic uint64_t *b = &h->bucket[qk_hist_index(v)];

	qk_store_relaxed(b, qk_load_relaxed(b) + 1);
	if (v < qk_load_relaxed(&h->min))
		qk_store_relaxed(&h->min, v);
	if (v > qk_load_relaxed(&h->max))
		qk_store_relaxed(&h->max, v);
	qk_store_relaxed(&h->sum, qk_load_relaxed(&h->sum) + (uint64_t)v);
	qk_store_relaxed(&h->count, qk_load_relaxed(&h->count) + 1);
}

/* Reader: the extremes, 0 while the histogram is empty. */
static inline int64_t qk_hist_max(const struct qk_hist *h)
{
	return qk_load_relaxed((_Atomic uint64_t *)&h->count) ?
	       qk_load_relaxed((_Atomic int64_t *)&h->max) : 0;
}

static inline int64_t qk_hist_min(const struct qk_hist *h)
{
	return qk_load_relaxed((_Atomic uint64_t *)&h->count) ?
	       qk_load_relaxed((_Atomic int64_t *)&h->min) : 0;
}

/* Reader: the mean in ns (sum / count), 0 when empty.  The two words are
 * read apart, so a reader racing the writer may be off by one sample. */
static inline int64_t qk_hist_mean(const struct qk_hist *h)
{
	uint64_t n = qk_load_relaxed((_Atomic uint64_t *)&h->count);
	uint64_t s = qk_load_relaxed((_Atomic uint64_t *)&h->sum);

	return n ? (int64_t)s / (int64_t)n : 0;
}

/* Reader: the value below which a fraction q of the samples fall (the upper
 * edge of that bucket, clamped to max); 0 when empty. */
int64_t qk_hist_quantile(const struct qk_hist *h, double q);

#endif
