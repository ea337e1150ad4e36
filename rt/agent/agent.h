/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/agent/agent.h - the controller agent's whole tick as one call, so the same
 * code runs in the real-time process (qiki-agent), in lockstep and in unit
 * tests, and a recorded run can be replayed.
 *
 * Contract: process-local, one thread; deterministic: time comes in as an
 * argument, nothing reads a clock, no allocation, no syscall, and no text
 * formatting: the winning proposal and the guards' hits are data (struct
 * qk_rule_hit), worded by readers.  Only the command path formats (a
 * refusal's reason).  What depends only on the configuration (the
 * controller's geometry and heater bands, the rules' masks) is planned at
 * init.
 *
 * One tick:
 *   1. frame: a new one resets the stale count, none increments it;
 *   2. BIOS: a report passed in is checked (the caller passes one only
 *      when its mailbox changed); NULL keeps the last verdict;
 *   3. rules raise proposals (rt/agent/rules.h), the evaluator picks a winner;
 *   4. decision, through the FSM table only: BOOTING with a POST seen gets
 *      its verdict (ERROR, or IDLE once a sensor frame has come: IDLE means
 *      ready for ACTIVE); then a winning SAFETY proposal is a guard
 *      (-> SAFE, its trigger recorded; ERROR and SAFE stay); a winning
 *      PLANNING proposal moves IDLE <-> ACTIVE (trigger PLAN) only when
 *      plan_auto is set, which it is not by default: the operator decides;
 *   5. every guard's clear count: ticks since its condition last stood.
 *      Conditions read from sensor frames only count fresh frames;
 *   6. outputs: ACTIVE drives to the setpoint (rt/agent/control.h); BOOTING and
 *      IDLE hold thrusters off; SAFE, ERROR and SHUTDOWN command thrusters
 *      off with QK_ACTF_SAFE; heaters run their thermostat in every state.
 *
 * Guards and RESET: SAFE/ERROR -> IDLE needs every guard clear for
 * limits.clear_ticks consecutive ticks; otherwise the refusal names the
 * standing guard ("guard active: avionics 341.2 K > 330.0 K") or the one
 * cleared last ("guard cleared only 1 of 3 ticks ago").  ERROR's condition is
 * the BIOS guard, so leaving ERROR needs a good POST.
 *
 * Stale sensors: limits.sensor_stale_cycles ticks without a new frame ->
 * SAFE, except while BOOTING before the first frame: the sim may start after
 * us, or take long to go real time, and BOOTING holds the thrusters off.
 * Ticks spent so do not count: the count starts when the guard is armed.
 *
 * The sim's watchdog flag (QK_SIMF_WATCHDOG_SAFE: our actuator frames
 * stopped reaching it) is a guard only in a fresh frame and only once we
 * have published for 2 * limits.actuator_watchdog_cycles ticks: a restarted
 * agent first sees the flag its predecessor's death raised, and the sim
 * clears it a cycle after our first frame.  Seen later, our frames are not
 * getting through (or we stalled that long), and SAFE is right.
 */
#ifndef QK_RT_AGENT_H
#define QK_RT_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/agent/bios.h"
#include "rt/agent/controller.h"
#include "rt/agent/control.h"
#include "rt/agent/fsm.h"
#include "rt/agent/param.h"
#include "rt/agent/rules.h"

#define QK_GUARD_COUNT (QK_TRG_GUARD_SENSOR_INVALID - QK_TRG_GUARD_BIOS + 1)
#define QK_SETPOINT_MAX_M 1e6

struct qk_agent {
	const struct qk_config *cfg;
	struct qk_control_plan plan;	/* what the controller derives from cfg, once */
	struct qk_fsm fsm;
	bool plan_auto;			/* a PLANNING winner may move IDLE <-> ACTIVE */

	/* inputs as last seen */
	struct qk_sensor_frame last;
	bool have_frame;
	uint32_t stale_ticks;		/* saturates */
	struct qk_bios_eval bios;		/* the verdict on the last report passed */
	int64_t now_ns;			/* of the last tick */
	uint64_t ticks;			/* ticks run, i.e. frames published */

	/* the operator's */
	double setpoint[3];
	bool go_asked;			/* a setpoint came while IDLE, no ACTIVE since */

	/* guards: consecutive ticks each has been clear, and why it last stood */
	uint32_t guard_clear[QK_GUARD_COUNT];
	struct qk_rule_hit guard_hit[QK_GUARD_COUNT];

	/* this tick's proposals, and the winner */
	struct qk_rules_plan rules_plan;	/* from cfg, once */
	struct qk_rules_out rules;
	int winner;			/* index in rules.p[], -1 none */
	struct qk_proposal active;	/* type EXPLORATION + 1 when none */

	uint8_t heat_on[QK_MAX_THERMAL];	/* thermostat states */

	/* the ACTIVE controller (rt/agent/controller.h); NULL: the built-in PD
	 * called directly (unit tests); qiki-agent always sets one */
	struct qk_ctl_instance *ctl;
	bool ctl_was_active;		/* for qk_ctl_in.first */

	/* runtime parameters (rt/agent/param.h), built on the same
	 * configuration as cfg; NULL: QK_CMD_PARAM is refused */
	struct qk_params *params;
};

/* 0, or -EINVAL for a configuration the agent cannot run (no thrusters,
 * counts beyond the arrays). */
int qk_agent_init(struct qk_agent *a, const struct qk_config *cfg, int64_t now_ns);

/* Drives ACTIVE with `ci` from the next tick on (NULL: the built-in PD
 * called directly); the agent does not own it. */
void qk_agent_use_controller(struct qk_agent *a, struct qk_ctl_instance *ci);

/* One tick.  f: the newest sensor frame, NULL when none arrived this tick;
 * bios: a POST report to check, when its mailbox changed since the last
 * one passed (NULL: none new, the last verdict stands; passing the same
 * report again is harmless, only slower); now_ns: the tick's
 * CLOCK_MONOTONIC time.  Fills *out (answers_cycle and sensor_publish_ns name
 * the newest frame seen; wake_ns = publish_ns = now_ns for the caller to
 * overwrite).  Returns true when *out is to be published: always, so the
 * sim's watchdog sees us even while BOOTING or SAFE. */
bool qk_agent_tick(struct qk_agent *a, const struct qk_sensor_frame *f,
		   const struct qk_bios_report *bios, int64_t now_ns, struct qk_actuator_frame *out);

/* An operator command: QK_CMD_STATE (u[0] a state, QK_ST_COUNT = RESET),
 * QK_CMD_SETPOINT (arg[0..2] m, finite, |x| <= QK_SETPOINT_MAX_M),
 * QK_CMD_PING, QK_CMD_PARAM (u[0] the name's qk_param_hash(), arg[0] the
 * value: applied now, between ticks, through a->params; refused -ENOENT or
 * -ERANGE with the reason).  The reply copies the id; ACCEPTED with code 0, or REFUSED
 * with the reason and -EPERM (the table or a guard says no) or -EINVAL (a
 * malformed request, a command the agent does not take).  An accepted state
 * request takes effect at once, recorded with who = c->sender_pid and
 * trigger OPERATOR (RESET for a reset, SHUTDOWN for a shutdown). */
void qk_agent_command(struct qk_agent *a, const struct qk_cmd *c, int64_t now_ns,
		      struct qk_reply *r);

/* The status mailbox value. */
void qk_agent_status(const struct qk_agent *a, struct qk_agent_status *st);

/* Why a RESET would be refused now, into buf; NULL when it would not be. */
const char *qk_agent_reset_blocker(const struct qk_agent *a, char buf[QK_REASON_LEN]);

#endif
