/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * shm/cmdq.h - bounded command queue: many producers, one consumer (MPSC).
 *
 * Contract
 * - Any number of producers in any process (qikictl, the launcher, tests).
 *   Enqueue is lock-free (a CAS on the tail; a producer is never blocked by
 *   another one that stopped, only possibly retried) and fails fast with
 *   false when the queue is full: bounded memory, nothing waits.
 * - One consumer (the loop process that owns the queue).  Dequeue is
 *   wait-free and real-time safe: a few loads and stores, no syscall.
 * - Per-cell sequence numbers (Vyukov's bounded queue): a cell carries the
 *   position it is free for (pos), is claimed by the CAS on tail, and is
 *   published as pos + 1.  The consumer frees it for the next lap as
 *   pos + capacity.
 * - A producer that dies between its claim and its publish would stall the
 *   consumer at that cell forever.  The consumer can abandon such a cell
 *   (qk_cmdq_abandon_stalled(), after the owner decided it waited long
 *   enough); a producer that was only slow then finds its publish refused
 *   (-ETIMEDOUT) because publish is a CAS.  Each payload carries a checksum,
 *   so the one race left (a zombie writing into a re-claimed cell) is
 *   detected, not executed.
 * - The segment is untrusted.  Every call goes through a process-local
 *   struct qk_cmdq_port holding the geometry checked once by qk_cmdq_open(),
 *   never re-read; cell indices are masked with the private capacity, copies
 *   are the private payload size.  Every claim loop is bounded: a push that
 *   cannot claim a cell in QK_CMDQ_CLAIM_TRIES tries (a tail that moves all
 *   the time, or one that was overwritten) returns -EBUSY, and the caller
 *   retries until its own deadline.  The consumer keeps its head privately;
 *   a cell at its head whose sequence number no healthy queue could hold is
 *   counted (port->bad, q->corrupt), freed and skipped, so a scribbled cell
 *   never stops the queue; qk_cmdq_intact() reports it.
 */
#ifndef QK_SHM_CMDQ_H
#define QK_SHM_CMDQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/atomic.h"
#include "shm/seqlock.h"

struct qk_cmdq {
	_Atomic uint64_t tail;		/* producers: next position to claim */
	uint8_t pad0[QK_CACHELINE - 8];
	_Atomic uint64_t head;		/* consumer: next position to take */
	_Atomic uint64_t taken;		/* commands dequeued */
	_Atomic uint64_t abandoned;	/* cells given up by the consumer */
	_Atomic uint64_t corrupt;	/* payloads whose checksum failed */
	uint8_t pad1[QK_CACHELINE - 32];
	uint32_t capacity;		/* cells, a power of two */
	uint32_t payload_size;		/* bytes, a multiple of 8 */
	uint32_t cell_stride;
	uint32_t pad2;
	uint8_t pad3[QK_CACHELINE - 16];
	/* capacity cells follow */
};
_Static_assert(sizeof(struct qk_cmdq) == 3 * QK_CACHELINE, "cmdq header is three lines");

#define QK_CMDQ_CLAIM_TRIES 64

/* Process-local: this process's handle on one queue in the segment. */
struct qk_cmdq_port {
	struct qk_cmdq *q;
	uint32_t capacity;		/* private copies, checked by qk_cmdq_open() */
	uint32_t payload_size;
	uint32_t cell_stride;
	uint32_t pad;
	uint64_t head;			/* consumer: next position, ours alone */
	uint64_t bad;			/* consumer: impossible cells met */
};

struct qk_cmdq_cell {
	_Atomic uint64_t seq;
	qk_word check;			/* checksum of the payload words */
	qk_word data[];
};

static inline uint32_t qk_cmdq_stride(uint32_t payload_size)
{
	uint32_t s = (uint32_t)sizeof(struct qk_cmdq_cell) + payload_size;

	return (s + QK_CACHELINE - 1) & ~(uint32_t)(QK_CACHELINE - 1);
}

static inline size_t qk_cmdq_footprint(uint32_t capacity, uint32_t payload_size)
{
	return sizeof(struct qk_cmdq) + (size_t)capacity * qk_cmdq_stride(payload_size);
}

/* The creator: 0 or -EINVAL (capacity not a power of two, size not a
 * multiple of 8).  With a port (may be NULL), also opens it. */
int qk_cmdq_init(struct qk_cmdq *q, uint32_t capacity, uint32_t payload_size,
		 struct qk_cmdq_port *port);

/* Everyone else: 0 when the queue at q has the expected geometry (kept
 * privately in *port), -EPROTO otherwise (port zeroed). */
int qk_cmdq_open(struct qk_cmdq_port *port, struct qk_cmdq *q, uint32_t capacity,
		 uint32_t payload_size);

/* Whether the shared header still holds the geometry opened, the tail lies
 * where a healthy queue's could, and the consumer met no impossible cell. */
bool qk_cmdq_intact(const struct qk_cmdq_port *p);

/* Producer: 0 queued, -EAGAIN full, -EBUSY no cell claimed within
 * QK_CMDQ_CLAIM_TRIES (retry until your deadline), -ETIMEDOUT the consumer
 * abandoned our cell while we were stopped between claim and publish. */
int qk_cmdq_push(struct qk_cmdq_port *p, const void *cmd);
/* The same, telling the position the command took (for qk_cmdq_taken()). */
int qk_cmdq_push_at(struct qk_cmdq_port *p, const void *cmd, uint64_t *pos);
/* Whether the consumer has taken (or given up) position pos: the shared
 * head passed it.  A hint from shared memory, for messages only. */
bool qk_cmdq_taken(const struct qk_cmdq_port *p, uint64_t pos);

/* Consumer: true when a command was copied into *cmd (payload_size bytes).
 * A command whose checksum fails is counted in q->corrupt and skipped; at
 * most capacity cells are looked at per call. */
bool qk_cmdq_pop(struct qk_cmdq_port *p, void *cmd);

/* Consumer: true when the next cell was claimed by a producer but is not yet
 * published (the owner times this to decide on abandoning it). */
bool qk_cmdq_stalled(const struct qk_cmdq_port *p);

/* Consumer: gives up the claimed-but-unpublished cell at the head.  True if
 * it was abandoned, false if it got published meanwhile or there was none. */
bool qk_cmdq_abandon_stalled(struct qk_cmdq_port *p);

/* Commands queued and not yet taken (approximate while producers run). */
uint64_t qk_cmdq_depth(const struct qk_cmdq_port *p);

/* The doorbell, for a consumer that has nothing else to wait on (a lockstep
 * sim held at its gate, rt/sim/main.c): it reads the tail, finds the queue
 * empty, and sleeps on the tail's low 32 bits until a producer claims a cell
 * (the futex word changes: no wake-up is lost) or calls qk_cmdq_wake() after
 * publishing it, or the timeout passes.  The wake is a syscall that the
 * producers of an ordinary queue never make: only a producer that knows its
 * consumer may sleep (the launcher's gate, ctl/gate.h) rings.  0 woken (or
 * the tail had moved, or a signal), -ETIMEDOUT, or another -errno. */
uint64_t qk_cmdq_tail(const struct qk_cmdq_port *p);
int qk_cmdq_wait(struct qk_cmdq_port *p, uint64_t tail, int64_t timeout_ns);
void qk_cmdq_wake(struct qk_cmdq_port *p);

#endif
