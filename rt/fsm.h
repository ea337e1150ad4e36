/*
 * rt/fsm.h - the agent's state machine, as a table of (state, event) -> state.
 *
 * Contract: process-local, one thread (the agent's loop).  Wait-free, no
 * allocation, no syscall: real-time safe.  A transition the table forbids is
 * refused with the table's reason and changes nothing.  The last
 * QK_MAX_TRANSITIONS transitions are kept in a fixed ring with who asked.
 */
#ifndef QK_RT_FSM_H
#define QK_RT_FSM_H

#include <stdbool.h>
#include <stdint.h>

#include "shm/layout.h"

enum qk_fsm_event {
	QK_EV_BIOS_OK, QK_EV_BIOS_FAIL, QK_EV_REQ_IDLE, QK_EV_REQ_ACTIVE, QK_EV_REQ_SAFE,
	QK_EV_REQ_BOOT, QK_EV_RESET, QK_EV_GUARD, QK_EV_SHUTDOWN, QK_EV_COUNT
};

struct qk_fsm {
	uint32_t state;			/* enum qk_fsm_state */
	uint32_t reason;		/* trigger that entered it */
	int64_t since_ns;
	uint64_t n_transitions;
	struct qk_transition trans[QK_MAX_TRANSITIONS];
};

void qk_fsm_init(struct qk_fsm *f, int64_t now_ns);

/* Whether the table allows `ev` in the current state; if not, *why gets the
 * table's reason.  A permitted event that keeps the state is a no-op. */
bool qk_fsm_allows(const struct qk_fsm *f, enum qk_fsm_event ev, const char **why);

/* Applies `ev`: 1 moved, 0 allowed but no change, -EPERM refused (*why). */
int qk_fsm_fire(struct qk_fsm *f, enum qk_fsm_event ev, uint32_t trigger, int32_t who,
		int64_t now_ns, uint64_t cycle, const char **why);

const char *qk_fsm_state_name(uint32_t s);
/* Case-insensitive state name, or "RESET" -> QK_ST_COUNT; -1 if unknown. */
int qk_fsm_state_parse(const char *s);
const char *qk_trigger_name(uint32_t t);

#endif
