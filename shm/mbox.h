/*
 * shm/mbox.h - mailbox: the latest value of a slowly changing struct.
 *
 * Contract: one writer, any number of readers in any process.  Writing is
 * wait-free and overwrites; reading is lock-free with a retry budget and
 * copies only a whole value, so a writer that died mid-write (or one that is
 * writing right now, every try) makes qk_mbox_read() return false and the
 * caller keeps its last good copy: a dead peer never hangs a live one.
 * Real-time safe, no syscalls.  Intended for values written at most once per
 * cycle and read by ordinary processes; the loop's per-cycle counters live in
 * shm/stats.h instead, as independent monotonic words.
 */
#ifndef QK_SHM_MBOX_H
#define QK_SHM_MBOX_H

#include "shm/seqlock.h"

#define QK_MBOX_RETRIES 256

struct qk_mbox {
	_Atomic uint32_t ver;		/* seqlock version, odd while written */
	uint32_t size;			/* payload bytes, a multiple of 8 */
	_Atomic uint64_t writes;	/* completed writes, for "has it changed?" */
	uint8_t pad[QK_CACHELINE - 16];
	qk_word data[];
};
_Static_assert(sizeof(struct qk_mbox) == QK_CACHELINE, "mailbox header is one line");

static inline size_t qk_mbox_footprint(uint32_t size)
{
	return sizeof(struct qk_mbox) + ((size + QK_CACHELINE - 1) & ~(size_t)(QK_CACHELINE - 1));
}

static inline void qk_mbox_init(struct qk_mbox *m, uint32_t size)
{
	memset(m, 0, qk_mbox_footprint(size));
	m->size = size;
}

static inline void qk_mbox_write(struct qk_mbox *m, const void *value)
{
	qk_seq_write_begin(&m->ver);
	qk_seq_store(m->data, value, m->size / 8);
	qk_seq_write_end(&m->ver);
	qk_store_relaxed(&m->writes, qk_load_relaxed(&m->writes) + 1);
}

/* True when a whole value was copied into *value; false leaves *value as it
 * was (the caller's last good copy). Reads into a scratch buffer first. */
static inline bool qk_mbox_read(const struct qk_mbox *m, void *value, void *scratch)
{
	for (int i = 0; i < QK_MBOX_RETRIES; i++) {
		uint32_t v = qk_seq_read_begin(&m->ver);

		if (!(v & 1)) {
			qk_seq_load(scratch, m->data, m->size / 8);
			if (qk_seq_read_end(&m->ver, v)) {
				memcpy(value, scratch, m->size);
				return true;
			}
		}
		qk_cpu_relax();
	}
	return false;
}

/* Completed writes so far; relaxed: a hint, not a barrier. */
static inline uint64_t qk_mbox_writes(const struct qk_mbox *m)
{
	return qk_load_relaxed((_Atomic uint64_t *)&m->writes);
}

#endif
