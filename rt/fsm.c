/* rt/fsm.c - the FSM table; see rt/fsm.h. */
#include <errno.h>
#include <strings.h>

#include "rt/fsm.h"

#define NO  -1			/* forbidden */
#define SAME -2			/* allowed, state unchanged */

struct cell {
	int to;
	const char *why;	/* the refusal, for NO */
};

/* The whole behaviour of the agent's modes in one place. */
static const struct cell table[QK_ST_COUNT][QK_EV_COUNT] = {
	[QK_ST_BOOTING] = {
		[QK_EV_BIOS_OK] = { QK_ST_IDLE }, [QK_EV_BIOS_FAIL] = { QK_ST_ERROR },
		[QK_EV_REQ_IDLE] = { NO, "still BOOTING: wait for the BIOS check" },
		[QK_EV_REQ_ACTIVE] = { NO, "still BOOTING: wait for the BIOS check" },
		[QK_EV_REQ_SAFE] = { QK_ST_SAFE }, [QK_EV_REQ_BOOT] = { SAME },
		[QK_EV_RESET] = { NO, "nothing to reset: not in SAFE or ERROR" },
		[QK_EV_GUARD] = { QK_ST_SAFE }, [QK_EV_SHUTDOWN] = { QK_ST_SHUTDOWN },
	},
	[QK_ST_IDLE] = {
		[QK_EV_BIOS_OK] = { SAME }, [QK_EV_BIOS_FAIL] = { QK_ST_ERROR },
		[QK_EV_REQ_IDLE] = { SAME }, [QK_EV_REQ_ACTIVE] = { QK_ST_ACTIVE },
		[QK_EV_REQ_SAFE] = { QK_ST_SAFE }, [QK_EV_REQ_BOOT] = { QK_ST_BOOTING },
		[QK_EV_RESET] = { NO, "nothing to reset: not in SAFE or ERROR" },
		[QK_EV_GUARD] = { QK_ST_SAFE }, [QK_EV_SHUTDOWN] = { QK_ST_SHUTDOWN },
	},
	[QK_ST_ACTIVE] = {
		[QK_EV_BIOS_OK] = { SAME }, [QK_EV_BIOS_FAIL] = { QK_ST_ERROR },
		[QK_EV_REQ_IDLE] = { QK_ST_IDLE }, [QK_EV_REQ_ACTIVE] = { SAME },
		[QK_EV_REQ_SAFE] = { QK_ST_SAFE },
		[QK_EV_REQ_BOOT] = { NO, "BOOTING is not reachable from ACTIVE: go IDLE first" },
		[QK_EV_RESET] = { NO, "nothing to reset: not in SAFE or ERROR" },
		[QK_EV_GUARD] = { QK_ST_SAFE }, [QK_EV_SHUTDOWN] = { QK_ST_SHUTDOWN },
	},
	[QK_ST_SAFE] = {
		[QK_EV_BIOS_OK] = { SAME }, [QK_EV_BIOS_FAIL] = { QK_ST_ERROR },
		[QK_EV_REQ_IDLE] = { NO, "IDLE is reached from SAFE only by RESET" },
		[QK_EV_REQ_ACTIVE] = { NO, "ACTIVE is not reachable from SAFE: RESET first" },
		[QK_EV_REQ_SAFE] = { SAME }, [QK_EV_REQ_BOOT] = { QK_ST_BOOTING },
		[QK_EV_RESET] = { QK_ST_IDLE }, [QK_EV_GUARD] = { SAME },
		[QK_EV_SHUTDOWN] = { QK_ST_SHUTDOWN },
	},
	[QK_ST_ERROR] = {
		[QK_EV_BIOS_OK] = { SAME }, [QK_EV_BIOS_FAIL] = { SAME },
		[QK_EV_REQ_IDLE] = { NO, "IDLE is reached from ERROR only by RESET" },
		[QK_EV_REQ_ACTIVE] = { NO, "ACTIVE is not reachable from ERROR: RESET first" },
		[QK_EV_REQ_SAFE] = { NO, "ERROR already commands safe outputs" },
		[QK_EV_REQ_BOOT] = { QK_ST_BOOTING }, [QK_EV_RESET] = { QK_ST_IDLE },
		[QK_EV_GUARD] = { SAME }, [QK_EV_SHUTDOWN] = { QK_ST_SHUTDOWN },
	},
	[QK_ST_SHUTDOWN] = {
		[QK_EV_BIOS_OK] = { SAME }, [QK_EV_BIOS_FAIL] = { SAME },
		[QK_EV_REQ_IDLE] = { NO, "SHUTDOWN is final" },
		[QK_EV_REQ_ACTIVE] = { NO, "SHUTDOWN is final" },
		[QK_EV_REQ_SAFE] = { NO, "SHUTDOWN is final" },
		[QK_EV_REQ_BOOT] = { NO, "SHUTDOWN is final" },
		[QK_EV_RESET] = { NO, "SHUTDOWN is final" }, [QK_EV_GUARD] = { SAME },
		[QK_EV_SHUTDOWN] = { SAME },
	},
};

void qk_fsm_init(struct qk_fsm *f, int64_t now_ns)
{
	*f = (struct qk_fsm){ .state = QK_ST_BOOTING, .since_ns = now_ns };
}

bool qk_fsm_allows(const struct qk_fsm *f, enum qk_fsm_event ev, const char **why)
{
	const struct cell *c = &table[f->state][ev];

	if (c->to == NO && why)
		*why = c->why;
	return c->to != NO;
}

int qk_fsm_fire(struct qk_fsm *f, enum qk_fsm_event ev, uint32_t trigger, int32_t who,
		int64_t now_ns, uint64_t cycle, const char **why)
{
	const struct cell *c = &table[f->state][ev];

	if (c->to == NO) {
		if (why)
			*why = c->why;
		return -EPERM;
	}
	if (c->to == SAME || (uint32_t)c->to == f->state)
		return 0;
	f->trans[f->n_transitions % QK_MAX_TRANSITIONS] = (struct qk_transition){
		.time_ns = now_ns, .cycle = cycle, .from = f->state, .to = (uint32_t)c->to,
		.trigger = trigger, .who = who,
	};
	f->n_transitions++;
	f->state = (uint32_t)c->to;
	f->reason = trigger;
	f->since_ns = now_ns;
	return 1;
}

static const char *const state_names[QK_ST_COUNT] = {
	"BOOTING", "IDLE", "ACTIVE", "SAFE", "ERROR", "SHUTDOWN"
};

const char *qk_fsm_state_name(uint32_t s)
{
	return s < QK_ST_COUNT ? state_names[s] : "UNKNOWN";
}

int qk_fsm_state_parse(const char *s)
{
	for (int i = 0; i < QK_ST_COUNT; i++)
		if (!strcasecmp(s, state_names[i]))
			return i;
	return !strcasecmp(s, "RESET") ? QK_ST_COUNT : -1;
}

const char *qk_trigger_name(uint32_t t)
{
	static const char *const names[QK_TRG_COUNT] = {
		"none", "bios-ok", "bios-fail", "operator", "plan", "reset",
		"guard-bios", "sensors-stale", "actuator-watchdog", "battery-low",
		"thermal", "tank-pressure", "sensor-invalid", "shutdown",
	};

	return t < QK_TRG_COUNT ? names[t] : "unknown";
}
