/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * shm/seqlock.h - a single-writer seqlock cell over word-atomic data.
 *
 * Contract: one writer at a time (the owner of the cell), any number of
 * readers in any process.  The writer is wait-free; a reader is lock-free and
 * takes a retry budget, so a writer that died in the middle of a write (the
 * version left odd) can never hang it: the read fails, the caller keeps its
 * last good copy.  Real-time safe, no syscalls.
 *
 * The payload is an array of _Atomic uint64_t: the writer stores each word
 * with release, a reader loads each with acquire.  This is the fence-free
 * seqlock of Boehm ("Can seqlocks get along with programming language memory
 * models?"): a reader whose data load saw a word of a newer write also sees
 * that write's odd version, so its closing version check fails.  No data
 * race and no fence, so ThreadSanitizer (which does not model fences) checks
 * it; on x86-64 release stores and acquire loads are plain moves.
 */
#ifndef QK_SHM_SEQLOCK_H
#define QK_SHM_SEQLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "shm/atomic.h"

typedef _Atomic uint64_t qk_word;	/* the one typedef: a shared data word */

/* Seqlock copies: each word pairs with its twin in the other function. */
static inline void qk_seq_store(qk_word *dst, const void *src, size_t nwords)
{
	const unsigned char *s = src;

	for (size_t i = 0; i < nwords; i++) {
		uint64_t w;

		memcpy(&w, s + i * 8, 8);
		/* pairs with the acquire load in qk_seq_load(): the odd
		 * version stored before this word is visible with it */
		qk_store_release(&dst[i], w);
	}
}

static inline void qk_seq_load(void *dst, const qk_word *src, size_t nwords)
{
	unsigned char *d = dst;

	for (size_t i = 0; i < nwords; i++) {
		/* pairs with the release store in qk_seq_store() */
		uint64_t w = qk_load_acquire((qk_word *)&src[i]);

		memcpy(d + i * 8, &w, 8);
	}
}

/* Writer side: open (version goes odd), store, close (version goes even). */
static inline void qk_seq_write_begin(_Atomic uint32_t *ver)
{
	uint32_t v = qk_load_relaxed(ver);

	/* ordered before the data by the release stores of qk_seq_store() */
	qk_store_relaxed(ver, v + 1);
}

static inline void qk_seq_write_end(_Atomic uint32_t *ver)
{
	uint32_t v = qk_load_relaxed(ver);

	/* pairs with the acquire load in qk_seq_read_begin(): data before the
	 * even version. */
	qk_store_release(ver, v + 1);
}

/* A restarted writer calls this once: a cell its dead predecessor left open
 * (odd) is closed, so the next write opens it properly.  The caller must
 * also invalidate whatever identifies the data (the ring does). */
static inline bool qk_seq_writer_recover(_Atomic uint32_t *ver)
{
	uint32_t v = qk_load_relaxed(ver);

	if (!(v & 1))
		return false;
	qk_store_release(ver, v + 1);
	return true;
}

static inline uint32_t qk_seq_read_begin(const _Atomic uint32_t *ver)
{
	/* pairs with the release store in qk_seq_write_end() */
	return qk_load_acquire((_Atomic uint32_t *)ver);
}

/* True when the data read since qk_seq_read_begin() returned v is whole. */
static inline bool qk_seq_read_end(const _Atomic uint32_t *ver, uint32_t v)
{
	/* the acquire data loads of qk_seq_load() order this load after them:
	 * if one saw a newer write, this sees its version (odd or moved on) */
	return !(v & 1) && qk_load_relaxed((_Atomic uint32_t *)ver) == v;
}

#endif
