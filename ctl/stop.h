/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ctl/stop.h - the launcher's orderly stop of a loop: the agent to SHUTDOWN
 * (its last frame is safe actuation), a few cycles for the sim to apply it,
 * the segment marked shutting down, the sim gone; whoever does not leave in
 * time is killed.  Blocking; the launcher's main thread calls it once.
 */
#ifndef QK_CTL_STOP_H
#define QK_CTL_STOP_H

#include <stdbool.h>
#include <sys/types.h>

#include "rt/log.h"
#include "shm/seg.h"

/* agent, sim: our children (or -1), reaped already or not.  Works on
 * whichever processes hold the slots, replacements started by hand too.
 * 0, or -1 when a process had to be killed or refused SHUTDOWN. */
int qk_stop_loop(struct qk_seg *s, pid_t agent, pid_t sim, bool agent_reaped, bool sim_reaped,
		 struct qk_log *lg);

#endif
