/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ctl/gate.c - a gated lockstep run's gate; see ctl/gate.h. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/gate.h"
#include "rt/rt.h"
#include "shm/cmdq.h"
#include "shm/mbox.h"

#define EXPIRY_NS (10 * QK_NSEC)	/* the sim takes it within a cycle */
#define STATUS_NAP_NS 20000

void qk_gate_init(struct qk_gate *g, struct qk_seg *seg)
{
	memset(g, 0, sizeof(*g));
	g->seg = seg;
	qk_ring_reader_init(&g->rd, seg->sim_replies, QK_RING_FROM_NOW);
}

int qk_gate_raise(struct qk_gate *g, uint64_t cycle)
{
	struct qk_cmd c = { .type = QK_CMD_RUN_UNTIL, .sender_pid = getpid(),
			    .u = { (uint32_t)cycle, (uint32_t)(cycle >> 32) } };
	int ret;

	if (!qk_seg_alive(g->seg, QK_PROC_SIM))
		return -ESRCH;
	c.id = qk_seg_next_cmd_id(g->seg);
	c.expires_ns = qk_now_ns() + EXPIRY_NS;
	ret = qk_cmdq_push(g->seg->sim_cmdq, &c);
	if (ret)
		return ret;
	qk_cmdq_wake(g->seg->sim_cmdq);	/* a held sim sleeps on the doorbell */
	g->id = c.id;
	g->cycle = cycle;
	g->held = false;
	return 0;
}

/* The agent's status is that of cycle g-1 (it writes it right after its
 * answer, which is what let the sim on), or the agent is gone.  Its status
 * says cycle 0 before its first tick too, so the count of its ticks decides:
 * in lockstep it ticks once per frame, and counts a tick after writing the
 * tick's status. */
static bool agent_caught_up(struct qk_gate *g, int64_t deadline)
{
	struct qk_agent_status st, scratch;
	struct timespec nap = { 0, STATUS_NAP_NS };

	for (;;) {
		/* the count first, the mailbox (a seqlock) after it; the count
		 * is a relaxed store, so the status must say the cycle too */
		uint64_t ticks = qk_load_acquire(&g->seg->stats[QK_PROC_AGENT].cycles);

		memset(&st, 0, sizeof(st));
		qk_mbox_read(g->seg->agent_status, &st, &scratch);
		if ((ticks >= g->cycle && st.cycle + 1 >= g->cycle) ||
		    st.state == QK_ST_SHUTDOWN || !qk_seg_alive(g->seg, QK_PROC_AGENT))
			return true;
		if (qk_now_ns() > deadline)
			return false;
		nanosleep(&nap, NULL);
	}
}

int qk_gate_wait(struct qk_gate *g, int64_t timeout_ns)
{
	int64_t deadline = qk_now_ns() + timeout_ns;
	struct qk_reply r;

	if (g->held)
		return 1;
	for (;;) {
		/* a lap of the reply ring at most: its head is not ours */
		for (uint32_t n = 0; g->id && n < QK_REPLY_RING_CAP && qk_ring_read_next(&g->rd, &r); n++) {
			if (r.id != g->id)
				continue;
			if (r.status != QK_REPLY_ACCEPTED)
				return -EPROTO;
			g->id = 0;
		}
		if (!g->id) {
			g->held = agent_caught_up(g, deadline);
			return g->held;
		}
		int64_t left = deadline - qk_now_ns();

		if (left <= 0)
			return 0;
		/* pairs with the sim's qk_ring_wake() after its answer */
		qk_ring_wait(g->seg->sim_replies, g->rd.next, left);
	}
}
