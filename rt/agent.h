/*
 * rt/agent.h - the agent's tick as one call, so that the same code runs in
 * the real-time process, in lockstep and in unit tests.
 *
 * Tick: the newest sensor frame (or none: stale) -> BIOS check of the latest
 * POST report -> rules raise proposals -> the evaluator orders them -> the
 * FSM steps (a winning SAFETY proposal is a guard; BOOTING ends on the BIOS
 * verdict) -> one actuator frame: ACTIVE drives to the setpoint, IDLE and
 * BOOTING hold thrusters off, SAFE/ERROR/SHUTDOWN command safe outputs.
 *
 * Contract: process-local, one thread; deterministic (time comes in as an
 * argument); no allocation, no syscall: real-time safe.  A guard's condition
 * must have been clear for limits.clear_ticks consecutive ticks before a
 * RESET is accepted.
 */
#ifndef QK_RT_AGENT_H
#define QK_RT_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/bios.h"
#include "rt/fsm.h"
#include "rt/rules.h"

struct qk_agent {
	const struct qk_config *cfg;
	struct qk_fsm fsm;
	struct qk_bios_eval bios;
	double setpoint[3];
	struct qk_sensor_frame last;
	bool have_frame;
	uint32_t stale_ticks;
	uint64_t ticks;
	uint64_t published;		/* actuator frames produced */
	uint32_t clear_run;		/* consecutive ticks without a SAFETY proposal */
	char guard_why[QK_REASON_LEN];	/* the last SAFETY proposal's text */
	struct qk_proposal prop[QK_MAX_PROPOSALS];
	int n_prop, n_kept;
};

int qk_agent_init(struct qk_agent *a, const struct qk_config *cfg, int64_t now_ns);
/* f: the newest sensor frame, NULL when none arrived this tick; bios: the
 * latest POST report, NULL before the first.  Fills *out; true when it is to
 * be published (always, today: the sim's watchdog feeds on it). */
bool qk_agent_tick(struct qk_agent *a, const struct qk_sensor_frame *f,
		   const struct qk_bios_report *bios, int64_t now_ns, struct qk_actuator_frame *out);
/* An operator command; the reply says accepted, or refused with the reason. */
void qk_agent_command(struct qk_agent *a, const struct qk_cmd *c, int64_t now_ns,
		      struct qk_reply *r);
void qk_agent_status(const struct qk_agent *a, struct qk_agent_status *st);

#endif
