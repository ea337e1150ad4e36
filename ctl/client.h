/*
 * ctl/client.h - sending a command to a loop process and waiting for its
 * answer.  Used by qikictl, by `qiki run` for the orderly shutdown, and by
 * tests.
 *
 * Contract: any number of senders in any processes at once (the queues are
 * MPSC).  A sender starts reading the reply ring at its current head before
 * it pushes, so it sees its reply however many others are answered
 * meanwhile, as long as fewer than the ring's capacity come in between.
 * Blocking (it sleeps while it waits); never call it from the loop.
 */
#ifndef QK_CTL_CLIENT_H
#define QK_CTL_CLIENT_H

#include <stdint.h>

#include "shm/seg.h"

enum qk_ctl_target { QK_CTL_AGENT, QK_CTL_SIM };

/* Fills in c->id, c->sender_pid and c->expires_ns (now + timeout), queues c
 * and waits for the reply; no loop in here runs past the deadline.  The
 * expiry is strict: a consumer refuses the command ("expired") after it.
 * 0 with *r filled (accepted or refused: look at r->status; r->reason is
 * terminated); -ETIMEDOUT no reply in time and the command was never taken
 * (the queue stayed full, or it still sits there expired: it will be
 * refused, never applied); -EINPROGRESS no reply in time although the
 * consumer took the command before it expired (it may have been applied,
 * or be applied yet); -EPROTO
 * when the segment turned out inconsistent (qk_seg_verify(), s->err names
 * the region); -ESRCH when the target process is not running. */
int qk_ctl_request(struct qk_seg *s, enum qk_ctl_target t, struct qk_cmd *c,
		   int64_t timeout_ns, struct qk_reply *r);

#endif
