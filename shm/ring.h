/* SPDX-License-Identifier: MIT OR Apache-2.0 */
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
 * - A reader never returns a torn frame.  The whole ring is one seqlock whose
 *   version is head: frame n lies whole in its slot while n < head and the
 *   producer has not begun frame n + capacity, i.e. while head - n <= capacity
 *   - 1.  A reader checks that before its copy and again after it, and
 *   discards the copy if the producer came round in between (shm/ring.c has
 *   the argument).  So a slot is payload only: a 256-byte frame is exactly
 *   four cache lines, and the only metadata a publish writes is head.  A
 *   reader that was lapped skips to the oldest frame still whole and adds
 *   what it skipped to `lost`, so for every reader  published = read + lost
 *   exactly.  A producer that died mid-write leaves nothing to repair: the
 *   slot it was writing is outside what readers may read.
 * - Sequence numbers are free-running uint64_t compared by difference, so
 *   they wrap correctly (first_seq lets tests start near the wrap).
 * - Real-time safe: no allocation, no syscall (qk_ring_wait/qk_ring_wake are
 *   the exceptions and are the futex wait/wake of the loop).  A publish is
 *   plain stores (no locked instruction, no fence); the StoreLoad fence that
 *   futex waiters need is paid in qk_ring_wake(), and only by a producer
 *   whose port says that someone may wait (qk_ring_set_waking()).
 * - Futex wake-ups and the untrusted `waiters` word: a producer whose port
 *   does not wake never reads the word, so a group member who writes it
 *   changes nothing for a timer- or spin-mode loop.  A waking producer makes
 *   at most one FUTEX_WAKE per qk_ring_wake() call, i.e. per publish, which
 *   is what an honest futex-mode reader costs every cycle anyway: a hostile
 *   non-zero word can keep that cost when nobody waits, never add to it, and
 *   FUTEX_WAKE never blocks.  A hostile zero can only delay a waiter to its
 *   own timeout (the agent's deadline, then a stale tick).
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

struct qk_ring {
	/* producer line: head is written by the producer only */
	_Atomic uint64_t head;		/* sequence number of the next frame; its low
					 * 32 bits are the futex word (futex_word() in shm/ring.c) */
	_Atomic uint32_t waiters;	/* readers inside qk_ring_wait() (untrusted) */
	uint8_t pad0[QK_CACHELINE - 12];
	/* read-only after qk_ring_init() */
	uint32_t capacity;		/* slots, a power of two */
	uint32_t payload_size;		/* bytes, a multiple of 8 */
	uint32_t slot_stride;		/* bytes: payload_size rounded up to 64 */
	uint32_t pad1;
	uint64_t first_seq;
	uint8_t pad2[QK_CACHELINE - 24];
	/* capacity slots of slot_stride bytes follow: payload only */
};
_Static_assert(sizeof(struct qk_ring) == 2 * QK_CACHELINE, "ring header is two lines");
_Static_assert(offsetof(struct qk_ring, capacity) == QK_CACHELINE, "params on their own line");

#define QK_RING_WAKING 1u		/* qk_ring_wake() may wake futex waiters */
#define QK_RING_WIDE   2u		/* x86-64 with AVX: 32-byte copies */

/* Process-local: this process's handle on one ring in the segment. */
struct qk_ring_port {
	struct qk_ring *r;
	uint32_t capacity;		/* private copies, checked by qk_ring_open() */
	uint32_t payload_size;
	uint32_t slot_stride;
	uint32_t flags;			/* QK_RING_WAKING, QK_RING_WIDE */
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
	return (payload_size + QK_CACHELINE - 1) & ~(uint32_t)(QK_CACHELINE - 1);
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

/* A producer that takes over from a dead one may call this before its first
 * publish.  Since layout 5 there is nothing to repair (the slot a dead
 * producer was writing is never readable); it returns 0, the slots repaired. */
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

/* Futex support for the loop's `futex` (and lockstep) wake mode.
 * qk_ring_set_waking() is the producer's attach-time choice, from its private
 * configuration: whether any reader of this ring waits on its futex.  Ports
 * start waking (the safe default); a port that does not wake makes
 * qk_ring_wake() return at once, with no fence and no load of `waiters`.
 * A waking port's qk_ring_wake() fences and makes a syscall only when the
 * waiters word is non-zero, at most one per call.  qk_ring_wait() sleeps
 * until head differs from `seen` or timeout_ns passes: 0, -ETIMEDOUT or
 * -EINTR; a reader of a ring whose producer does not wake sleeps to its
 * timeout. */
static inline void qk_ring_set_waking(struct qk_ring_port *p, bool waking)
{
	p->flags = waking ? p->flags | QK_RING_WAKING : p->flags & ~QK_RING_WAKING;
}
void qk_ring_wake(struct qk_ring_port *p);
/* For a producer that submits the wake itself (the HIL bridge, in its
 * cycle's io_uring submission): qk_ring_wake()'s decision, fence included,
 * without the syscall, and the futex word to wake (shared, 32 bits). */
bool qk_ring_wake_wanted(const struct qk_ring_port *p);
uint32_t *qk_ring_futex_word(const struct qk_ring_port *p);
int qk_ring_wait(struct qk_ring_port *p, uint64_t seen, int64_t timeout_ns);

#endif
