/* ctl/client.c - request/reply over the command queues; see ctl/client.h. */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "ctl/client.h"
#include "rt/rt.h"

#define POLL_NS 200000

static void nap(void)
{
	struct timespec ts = { 0, POLL_NS };

	nanosleep(&ts, NULL);
}

int qk_ctl_request(struct qk_seg *s, enum qk_ctl_target t, struct qk_cmd *c,
		   int64_t timeout_ns, struct qk_reply *r)
{
	struct qk_cmdq_port *q = t == QK_CTL_SIM ? s->sim_cmdq : s->agent_cmdq;
	struct qk_ring_port *replies = t == QK_CTL_SIM ? s->sim_replies : s->agent_replies;
	struct qk_ring_reader rd;
	int64_t deadline = qk_now_ns() + timeout_ns;
	uint64_t pos;
	int ret;

	if (!qk_seg_alive(s, t == QK_CTL_SIM ? QK_PROC_SIM : QK_PROC_AGENT))
		return -ESRCH;
	c->id = qk_seg_next_cmd_id(s);
	c->sender_pid = getpid();
	c->expires_ns = deadline;	/* strict: refused, never applied, after it */
	qk_ring_reader_init(&rd, replies, QK_RING_FROM_NOW);
	/* full (-EAGAIN) or contended (-EBUSY: every claim is bounded) */
	while ((ret = qk_cmdq_push_at(q, c, &pos)) == -EAGAIN || ret == -EBUSY) {
		if (qk_now_ns() > deadline)
			return qk_seg_verify(s) >= 0 ? -EPROTO : -ETIMEDOUT;
		nap();
	}
	if (ret)
		return ret;
	for (;;) {
		/* a lap of the reply ring at most: the ring's head is not ours */
		for (uint32_t n = 0; n < QK_REPLY_RING_CAP && qk_ring_read_next(&rd, r); n++) {
			if (r->id == c->id) {
				r->reason[sizeof(r->reason) - 1] = '\0';	/* untrusted */
				return 0;
			}
		}
		if (qk_now_ns() > deadline) {
			if (qk_seg_verify(s) >= 0)
				return -EPROTO;
			/* pairs with the fence in qk_cmd_expired(): our clock
			 * read is done before we look at the head */
			qk_fence_seq_cst();
			return qk_cmdq_taken(q, pos) ? -EINPROGRESS : -ETIMEDOUT;
		}
		nap();
	}
}
