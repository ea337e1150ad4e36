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
 * struct qk_proc_stats instead, as independent monotonic words.
 *
 * The segment is untrusted: calls go through a process-local struct
 * qk_mbox_port whose size was checked once by qk_mbox_open(); the shared
 * size field is never used again.  qk_mbox_read() copies only when the
 * port's size equals both the value's and the scratch's (it takes them from
 * the types of its arguments), so a copy out is bounded by its destination.
 */
#ifndef QK_SHM_MBOX_H
#define QK_SHM_MBOX_H

#include <errno.h>

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

/* Process-local: this process's handle on one mailbox. */
struct qk_mbox_port {
	struct qk_mbox *m;
	uint32_t size;			/* private copy, checked by qk_mbox_open() */
	uint32_t pad;
};

static inline size_t qk_mbox_footprint(uint32_t size)
{
	return sizeof(struct qk_mbox) + ((size + QK_CACHELINE - 1) & ~(size_t)(QK_CACHELINE - 1));
}

/* The creator.  With a port (may be NULL), also opens it. */
static inline void qk_mbox_init(struct qk_mbox *m, uint32_t size, struct qk_mbox_port *port)
{
	memset(m, 0, qk_mbox_footprint(size));
	m->size = size;
	if (port)
		*port = (struct qk_mbox_port){ .m = m, .size = size };
}

/* Everyone else: 0, or -EPROTO when the mailbox is not of the expected size. */
static inline int qk_mbox_open(struct qk_mbox_port *port, struct qk_mbox *m, uint32_t size)
{
	*port = (struct qk_mbox_port){ 0 };
	if (!size || size % 8 || m->size != size)
		return -EPROTO;
	*port = (struct qk_mbox_port){ .m = m, .size = size };
	return 0;
}

static inline bool qk_mbox_intact(const struct qk_mbox_port *p)
{
	return ((const volatile struct qk_mbox *)p->m)->size == p->size;
}

static inline void qk_mbox_write(struct qk_mbox_port *p, const void *value)
{
	struct qk_mbox *m = p->m;

	qk_seq_write_begin(&m->ver);
	qk_seq_store(m->data, value, p->size / 8);
	qk_seq_write_end(&m->ver);
	qk_store_relaxed(&m->writes, qk_load_relaxed(&m->writes) + 1);
}

/* True when a whole value was copied into *value; false leaves *value as it
 * was (the caller's last good copy), and so does a value or scratch whose
 * size is not the mailbox's.  Reads into the scratch buffer first. */
static inline bool qk_mbox_read_sized(const struct qk_mbox_port *p, void *value, size_t value_size,
				      void *scratch, size_t scratch_size)
{
	const struct qk_mbox *m = p->m;

	if (value_size != p->size || scratch_size != p->size)
		return false;
	for (int i = 0; i < QK_MBOX_RETRIES; i++) {
		uint32_t v = qk_seq_read_begin(&m->ver);

		if (!(v & 1)) {
			qk_seq_load(scratch, m->data, p->size / 8);
			if (qk_seq_read_end(&m->ver, v)) {
				memcpy(value, scratch, p->size);
				return true;
			}
		}
		qk_cpu_relax();
	}
	return false;
}
#define qk_mbox_read(p, value, scratch) \
	qk_mbox_read_sized((p), (value), sizeof(*(value)), (scratch), sizeof(*(scratch)))

/* Completed writes so far; relaxed: a hint, not a barrier. */
static inline uint64_t qk_mbox_writes(const struct qk_mbox_port *p)
{
	return qk_load_relaxed((_Atomic uint64_t *)&p->m->writes);
}

#endif
