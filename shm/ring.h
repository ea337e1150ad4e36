/*
 * shm/ring.h - broadcast ring: one producer, any number of readers (SPMC).
 *
 * Contract
 * - One producer (qk_ring_publish, qk_ring_producer_recover) at a time.
 *   It is wait-free: a fixed number of stores, never blocked by readers,
 *   never fails.  When the ring is full it overwrites the oldest frame.
 * - Any number of readers in any process, each with its own process-local
 *   struct qk_ring_reader.  Readers only load from the segment, so they can
 *   never slow the producer.  A reader is lock-free and bounded: each call
 *   retries a torn slot at most QK_RING_RETRIES times and then returns false.
 * - A reader never returns a torn frame: every slot is a seqlock cell that
 *   also stores the frame's sequence number.  A reader that was lapped skips
 *   to the oldest frame still whole and adds what it skipped to `lost`, so
 *   for every reader  published = read + lost  exactly.
 * - Sequence numbers are free-running uint64_t compared by difference, so
 *   they wrap correctly (first_seq lets tests start near the wrap).
 * - Real-time safe: no allocation, no syscall (qk_ring_wait/qk_ring_wake are
 *   the exceptions and are the futex wait/wake of the loop).
 * - The segment is untrusted: any member of its group can write any byte.
 *   So every call goes through a process-local struct qk_ring_port whose
 *   geometry (capacity, payload size, stride, first sequence number) was
 *   checked against what the caller expects once, by qk_ring_open(), and is
 *   never read from shared memory again.  A slot index is always masked with
 *   the private capacity, every copy is the private payload size, so a
 *   hostile head or header can make a reader see garbage or nothing, never
 *   touch memory outside the ring.  qk_ring_intact() tells whether the
 *   shared header still agrees with the private copy (a cheap check a loop
 *   can make every cycle to notice corruption and go safe).
 */
#ifndef QK_SHM_RING_H
#define QK_SHM_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/atomic.h"
#include "shm/seqlock.h"

#define QK_RING_RETRIES 64
#define QK_RING_NOSEQ   UINT64_MAX	/* a slot holding no valid frame */

struct qk_ring {
	/* producer line: written by the producer only */
	_Atomic uint64_t head;		/* sequence number of the next frame */
	_Atomic uint32_t futex;		/* low 32 bits of head, for futex waiters */
	_Atomic uint32_t waiters;	/* readers inside qk_ring_wait() */
	uint8_t pad0[QK_CACHELINE - 16];
	/* read-only after qk_ring_init() */
	uint32_t capacity;		/* slots, a power of two */
	uint32_t payload_size;		/* bytes, a multiple of 8 */
	uint32_t slot_stride;		/* bytes, a multiple of 64 */
	uint32_t pad1;
	uint64_t first_seq;
	uint8_t pad2[QK_CACHELINE - 24];
	/* capacity slots of slot_stride bytes follow */
};
_Static_assert(sizeof(struct qk_ring) == 2 * QK_CACHELINE, "ring header is two lines");
_Static_assert(offsetof(struct qk_ring, capacity) == QK_CACHELINE, "params on their own line");

struct qk_ring_slot {
	_Atomic uint32_t ver;		/* seqlock version, odd while written */
	uint32_t pad;
	qk_word seq;			/* the frame's sequence number */
	qk_word data[];
};

/* Process-local: this process's handle on one ring in the segment. */
struct qk_ring_port {
	struct qk_ring *r;
	uint32_t capacity;		/* private copies, checked by qk_ring_open() */
	uint32_t payload_size;
	uint32_t slot_stride;
	uint32_t pad;
	uint64_t first_seq;
};

/* Process-local reader state; never in the segment. */
struct qk_ring_reader {
	struct qk_ring_port port;	/* a copy: the reader stands alone */
	uint64_t next;			/* sequence number wanted next */
	uint64_t last;			/* sequence number of the last frame returned */
	uint64_t nread;			/* frames returned */
	uint64_t lost;			/* frames skipped because the producer lapped us */
};

enum qk_ring_from {
	QK_RING_FROM_OLDEST,		/* every frame still in the ring */
	QK_RING_FROM_NOW,		/* only frames published after attach */
};

static inline uint32_t qk_ring_stride(uint32_t payload_size)
{
	uint32_t s = (uint32_t)sizeof(struct qk_ring_slot) + payload_size;

	return (s + QK_CACHELINE - 1) & ~(uint32_t)(QK_CACHELINE - 1);
}

/* Bytes of segment a ring needs, header included. */
static inline size_t qk_ring_footprint(uint32_t capacity, uint32_t payload_size)
{
	return sizeof(struct qk_ring) + (size_t)capacity * qk_ring_stride(payload_size);
}

/* The creator: 0, or -EINVAL when capacity is not a power of two or
 * payload_size is not a non-zero multiple of 8.  The memory must be
 * qk_ring_footprint() bytes.  With a port, also opens it (port may be NULL). */
int qk_ring_init(struct qk_ring *r, uint32_t capacity, uint32_t payload_size,
		 uint64_t first_seq, struct qk_ring_port *port);

/* Everyone else: checks that the ring at r has the geometry the caller
 * expects and keeps a private copy in *port.  0, or -EPROTO (port zeroed). */
int qk_ring_open(struct qk_ring_port *port, struct qk_ring *r, uint32_t capacity,
		 uint32_t payload_size);

/* Whether the shared header still holds the geometry opened. */
bool qk_ring_intact(const struct qk_ring_port *p);

/* Publishes one frame of payload_size bytes; returns its sequence number. */
uint64_t qk_ring_publish(struct qk_ring_port *p, const void *frame);

/* A producer that takes over from a dead one calls this once before its first
 * publish: a slot left open mid-write is closed and marked invalid.  Returns
 * the number of slots repaired. */
unsigned qk_ring_producer_recover(struct qk_ring_port *p);

/* The shared head: the sequence number of the next frame. */
static inline uint64_t qk_ring_head(const struct qk_ring_port *p)
{
	/* pairs with the release store of head in qk_ring_publish() */
	return qk_load_acquire((_Atomic uint64_t *)&p->r->head);
}

/* Frames published so far (head - first_seq). */
static inline uint64_t qk_ring_published(const struct qk_ring_port *p)
{
	return qk_ring_head(p) - p->first_seq;
}

/* FROM_OLDEST starts at the oldest frame still whole and counts every frame
 * published before it (overwritten before we came) as lost, so that
 * published = read + lost  holds from the ring's first frame.  FROM_NOW
 * starts at the head, with nothing lost. */
void qk_ring_reader_init(struct qk_ring_reader *rd, const struct qk_ring_port *p,
			 enum qk_ring_from from);

/* The next frame in order.  False when there is none (or the slot stayed torn
 * for QK_RING_RETRIES tries: the producer died mid-write). */
bool qk_ring_read_next(struct qk_ring_reader *rd, void *frame);

/* The newest frame, if newer than the last one returned; frames jumped over
 * count as lost. */
bool qk_ring_read_newest(struct qk_ring_reader *rd, void *frame);

/* Frames published and not yet read by this reader. */
static inline uint64_t qk_ring_pending(const struct qk_ring_reader *rd)
{
	return qk_ring_head(&rd->port) - rd->next;
}

/* Futex support for the loop's `futex` wake mode.  qk_ring_wake() makes a
 * syscall only when a reader is waiting.  qk_ring_wait() sleeps until head
 * differs from `seen` or timeout_ns passes: 0, -ETIMEDOUT or -EINTR. */
void qk_ring_wake(struct qk_ring_port *p);
int qk_ring_wait(struct qk_ring_port *p, uint64_t seen, int64_t timeout_ns);

#endif
