/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ctl/stop.c - the launcher's orderly stop; see ctl/stop.h. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl/client.h"
#include "ctl/stop.h"
#include "rt/rt.h"

/* Waits up to ms for process slot p to be free (its holder gone), and reaps
 * our own child; true when both happened. */
static bool gone(struct qk_seg *s, int p, pid_t child, bool reaped, int ms)
{
	int st;

	for (int i = 0; i <= ms / 5; i++) {
		if (!qk_seg_alive(s, p)) {
			/* the kernel drops the lock as the process exits */
			return reaped || child <= 0 || waitpid(child, &st, 0) == child;
		}
		usleep(5000);
	}
	return false;
}

/* Only our own child: the pid in the segment's stats is anyone's word (any
 * group member can write it), and a root launcher must not kill by it. */
static void kill_slot(struct qk_seg *s, int p, pid_t child)
{
	if (child > 0)
		kill(child, SIGKILL);
	else
		fprintf(stderr, "qiki: slot %d is held by a process we did not start; stop it "
			"by hand (pid %d, says the segment)\n", p,
			(int)qk_load_relaxed(&s->stats[p].pid));
}

/* The orderly stop: the agent goes to SHUTDOWN and publishes safe actuation
 * as its last frame, the sim applies it and stops.  Works on whichever
 * agent and sim hold the slots, ours or replacements started by hand. */
int qk_stop_loop(struct qk_seg *s, pid_t agent, pid_t sim, bool agent_reaped, bool sim_reaped,
		 struct qk_log *lg)
{
	struct qk_cmd c = { .type = QK_CMD_STATE, .u = { QK_ST_SHUTDOWN } };
	struct qk_reply r;
	int ret = 0;

	if (qk_seg_alive(s, QK_PROC_AGENT)) {
		int e = qk_ctl_request(s, QK_CTL_AGENT, &c, 2 * QK_NSEC, &r);

		if (e || r.status != QK_REPLY_ACCEPTED) {
			fprintf(stderr, "qiki: the agent did not accept SHUTDOWN (%s); stopping it\n",
				e ? strerror(-e) : r.reason);
			QK_WARN(lg, "the agent did not accept SHUTDOWN (%s); stopping it",
				e ? strerror(-e) : r.reason);
			ret = -1;
		}
	}
	if (!gone(s, QK_PROC_AGENT, agent, agent_reaped, 3000)) {
		QK_WARN(lg, "the agent did not stop within 3 s: killed");
		kill_slot(s, QK_PROC_AGENT, agent);
		gone(s, QK_PROC_AGENT, agent, agent_reaped, 1000);
		ret = -1;
	}
	/* give the sim a few cycles to apply the agent's last, safe frame */
	usleep(20000);
	qk_seg_set_state(s, QK_SEG_SHUTTING_DOWN);
	if (!gone(s, QK_PROC_SIM, sim, sim_reaped, 3000)) {
		QK_WARN(lg, "the sim did not stop within 3 s: killed");
		kill_slot(s, QK_PROC_SIM, sim);
		gone(s, QK_PROC_SIM, sim, sim_reaped, 1000);
		ret = -1;
	}
	return ret;
}
