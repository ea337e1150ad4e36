/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/agent/fsm.h - the agent's state machine, as a table of (state, event) -> state.
 *
 * Contract: process-local, one thread (the agent's loop).  Wait-free, no
 * allocation, no syscall: real-time safe.  Every behaviour of the modes is
 * one cell of the table in rt/agent/fsm.c; the agent never assigns a state itself.
 * A cell is a next state, "same" (allowed, nothing happens, nothing is
 * recorded) or "no" with the reason the request is refused (short enough for
 * a qk_reply, <= 47 characters).
 *
 * The event says what happened; the trigger (enum qk_trigger) says why, and
 * is what a transition records: QK_EV_GUARD carries QK_TRG_GUARD_THERMAL and
 * so on, QK_EV_REQ_ACTIVE carries QK_TRG_OPERATOR or QK_TRG_PLAN.  Conditions
 * outside the table (a RESET waits until the guards have been clear for
 * limits.clear_ticks ticks) belong to the caller, rt/agent/agent.c.
 *
 * The last QK_MAX_TRANSITIONS transitions are kept in a ring with time,
 * cycle, from, to, trigger and who asked (a pid, 0 for the agent itself):
 * trans[(n_transitions - 1) % QK_MAX_TRANSITIONS] is the newest.
 */
#ifndef QK_RT_FSM_H
#define QK_RT_FSM_H

#include <stdbool.h>
#include <stdint.h>

#include "shm/layout.h"

enum qk_fsm_event {
	QK_EV_BIOS_OK,		/* BOOTING's verdict: all systems go */
	QK_EV_BIOS_FAIL,	/* ... not go */
	QK_EV_GUARD,		/* a critical guard stands (trigger: which) */
	QK_EV_REQ_BOOT,		/* request BOOTING: check the BIOS again */
	QK_EV_REQ_IDLE,
	QK_EV_REQ_ACTIVE,
	QK_EV_REQ_SAFE,
	QK_EV_REQ_ERROR,	/* never granted: ERROR is a BIOS verdict */
	QK_EV_RESET,		/* leave SAFE or ERROR for IDLE */
	QK_EV_SHUTDOWN,
	QK_EV_COUNT
};

#define QK_FSM_SAME (-2)	/* qk_fsm_next(): allowed, state unchanged */
#define QK_FSM_NO   (-1)	/* qk_fsm_next(): refused */

struct qk_fsm {
	uint32_t state;			/* enum qk_fsm_state */
	uint32_t reason;		/* the trigger that entered it */
	int64_t since_ns;
	uint64_t n_transitions;		/* all time */
	struct qk_transition trans[QK_MAX_TRANSITIONS];
};

void qk_fsm_init(struct qk_fsm *f, int64_t now_ns);

/* The table itself: the next state, QK_FSM_SAME or QK_FSM_NO (then *why, if
 * why is not NULL, gets the reason).  Out-of-range arguments are refused. */
int qk_fsm_next(uint32_t state, uint32_t ev, const char **why);

/* Whether the table allows `ev` in the current state. */
bool qk_fsm_allows(const struct qk_fsm *f, enum qk_fsm_event ev, const char **why);

/* Applies `ev`: 1 moved (and recorded), 0 allowed but no change, -EPERM
 * refused (*why). */
int qk_fsm_fire(struct qk_fsm *f, enum qk_fsm_event ev, uint32_t trigger, int32_t who,
		int64_t now_ns, uint64_t cycle, const char **why);

/* The newest transition, NULL before the first. */
const struct qk_transition *qk_fsm_last(const struct qk_fsm *f);

/* The event an operator's QK_CMD_STATE asks for: target a state, or
 * QK_ST_COUNT for RESET; QK_EV_COUNT when the target is not a state. */
enum qk_fsm_event qk_fsm_request_event(uint32_t target);

const char *qk_fsm_state_name(uint32_t s);
/* Case-insensitive state name, or "RESET" -> QK_ST_COUNT; -1 if unknown. */
int qk_fsm_state_parse(const char *s);
const char *qk_trigger_name(uint32_t t);
const char *qk_fsm_event_name(uint32_t ev);

#endif
