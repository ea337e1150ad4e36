/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ctl/gate.h - the launcher's side of a gated lockstep run (qiki run
 * --lockstep --scenario): it lets the sim (started with --gated) run up to a
 * cycle and waits until the sim is held there.
 *
 * Held at cycle g means: frames 0..g-1 are published, the agent answered
 * each of them, and its status mailbox is that of cycle g-1; the sim runs
 * nothing more until the gate is raised.  What the launcher queues now is
 * applied before frame g in every run: the sim takes its commands while
 * held, the agent before its tick on frame g.  So a scenario looks at the
 * loop, and acts on it, at exact cycles, and the same seed and scenario
 * give the same sensor stream, bit for bit.
 *
 * Raising sends RUN_UNTIL (shm/layout.h) through the sim's command queue
 * and rings the queue's doorbell (qk_cmdq_wake()); the sim answers it once
 * held, and wakes us on its reply ring.  Nobody spins: both sides sleep on
 * futexes, with bounds.
 *
 * Contract: one thread (the launcher's); blocking, bounded by its timeout;
 * never for the loop.  One gate per run.
 */
#ifndef QK_CTL_GATE_H
#define QK_CTL_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include "shm/ring.h"
#include "shm/seg.h"

struct qk_gate {
	struct qk_seg *seg;
	struct qk_ring_reader rd;	/* the sim's replies */
	uint64_t id;			/* the RUN_UNTIL not yet answered, 0: none */
	uint64_t cycle;			/* the gate: where the sim holds */
	bool held;			/* ... and it is held there now */
};

/* Before the sim runs (it starts held at cycle 0, unanswered). */
void qk_gate_init(struct qk_gate *g, struct qk_seg *seg);

/* Lets the sim run up to `cycle` (held before it).  0, or -EAGAIN/-EBUSY
 * (the queue is full: retry), -ESRCH (no sim). */
int qk_gate_raise(struct qk_gate *g, uint64_t cycle);

/* Waits at most timeout_ns for the sim to be held at the gate: 1 held (the
 * agent's status is that of the cycle before, unless the agent has left),
 * 0 not yet, -EPROTO the sim refused RUN_UNTIL (not --gated). */
int qk_gate_wait(struct qk_gate *g, int64_t timeout_ns);

#endif
