/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/agent/fsm.c - the FSM table; see rt/agent/fsm.h. */
#include <errno.h>
#include <stddef.h>
#include <strings.h>

#include "rt/agent/fsm.h"

#define NO   QK_FSM_NO
#define SAME QK_FSM_SAME

struct cell {
	int to;			/* a state, SAME or NO */
	const char *why;	/* the refusal, for NO */
};

/* Refusals shared by several cells. */
#define BOOTING_WAIT   { NO, "still BOOTING: wait for the BIOS check" }
#define NOT_BY_REQUEST { NO, "ERROR is entered by a failed BIOS check only" }
#define NOTHING_TO_RESET { NO, "nothing to reset: not in SAFE or ERROR" }
#define FINAL          { NO, "SHUTDOWN is final" }

/*
 * The whole behaviour of the agent's modes.  BIOS_OK/BIOS_FAIL are BOOTING's
 * verdict and mean nothing elsewhere (a BIOS gone bad later is a guard).
 * ERROR absorbs guards (it already commands safe outputs, and a SAFE there
 * would hide that the hardware failed its POST); SHUTDOWN absorbs everything.
 */
static const struct cell table[QK_ST_COUNT][QK_EV_COUNT] = {
	[QK_ST_BOOTING] = {
		[QK_EV_BIOS_OK] = { QK_ST_IDLE, NULL },	[QK_EV_BIOS_FAIL] = { QK_ST_ERROR, NULL },
		[QK_EV_GUARD] = { QK_ST_SAFE, NULL },		[QK_EV_REQ_BOOT] = { SAME, NULL },
		[QK_EV_REQ_IDLE] = BOOTING_WAIT,	[QK_EV_REQ_ACTIVE] = BOOTING_WAIT,
		[QK_EV_REQ_SAFE] = { QK_ST_SAFE, NULL },	[QK_EV_REQ_ERROR] = NOT_BY_REQUEST,
		[QK_EV_RESET] = NOTHING_TO_RESET,	[QK_EV_SHUTDOWN] = { QK_ST_SHUTDOWN, NULL },
	},
	[QK_ST_IDLE] = {
		[QK_EV_BIOS_OK] = { SAME, NULL },		[QK_EV_BIOS_FAIL] = { SAME, NULL },
		[QK_EV_GUARD] = { QK_ST_SAFE, NULL },		[QK_EV_REQ_BOOT] = { QK_ST_BOOTING, NULL },
		[QK_EV_REQ_IDLE] = { SAME, NULL },		[QK_EV_REQ_ACTIVE] = { QK_ST_ACTIVE, NULL },
		[QK_EV_REQ_SAFE] = { QK_ST_SAFE, NULL },	[QK_EV_REQ_ERROR] = NOT_BY_REQUEST,
		[QK_EV_RESET] = NOTHING_TO_RESET,	[QK_EV_SHUTDOWN] = { QK_ST_SHUTDOWN, NULL },
	},
	[QK_ST_ACTIVE] = {
		[QK_EV_BIOS_OK] = { SAME, NULL },		[QK_EV_BIOS_FAIL] = { SAME, NULL },
		[QK_EV_GUARD] = { QK_ST_SAFE, NULL },
		[QK_EV_REQ_BOOT] = { NO, "BOOTING not reachable from ACTIVE: IDLE first" },
		[QK_EV_REQ_IDLE] = { QK_ST_IDLE, NULL },	[QK_EV_REQ_ACTIVE] = { SAME, NULL },
		[QK_EV_REQ_SAFE] = { QK_ST_SAFE, NULL },	[QK_EV_REQ_ERROR] = NOT_BY_REQUEST,
		[QK_EV_RESET] = NOTHING_TO_RESET,	[QK_EV_SHUTDOWN] = { QK_ST_SHUTDOWN, NULL },
	},
	[QK_ST_SAFE] = {
		[QK_EV_BIOS_OK] = { SAME, NULL },		[QK_EV_BIOS_FAIL] = { SAME, NULL },
		[QK_EV_GUARD] = { SAME, NULL },		[QK_EV_REQ_BOOT] = { QK_ST_BOOTING, NULL },
		[QK_EV_REQ_IDLE] = { NO, "IDLE is reached from SAFE only by RESET" },
		[QK_EV_REQ_ACTIVE] = { NO, "ACTIVE is not reachable from SAFE: RESET first" },
		[QK_EV_REQ_SAFE] = { SAME, NULL },		[QK_EV_REQ_ERROR] = NOT_BY_REQUEST,
		[QK_EV_RESET] = { QK_ST_IDLE, NULL },		[QK_EV_SHUTDOWN] = { QK_ST_SHUTDOWN, NULL },
	},
	[QK_ST_ERROR] = {
		[QK_EV_BIOS_OK] = { SAME, NULL },		[QK_EV_BIOS_FAIL] = { SAME, NULL },
		[QK_EV_GUARD] = { SAME, NULL },		[QK_EV_REQ_BOOT] = { QK_ST_BOOTING, NULL },
		[QK_EV_REQ_IDLE] = { NO, "IDLE is reached from ERROR only by RESET" },
		[QK_EV_REQ_ACTIVE] = { NO, "ACTIVE is not reachable from ERROR: RESET first" },
		[QK_EV_REQ_SAFE] = { NO, "ERROR already commands safe outputs" },
		[QK_EV_REQ_ERROR] = NOT_BY_REQUEST,
		[QK_EV_RESET] = { QK_ST_IDLE, NULL },		[QK_EV_SHUTDOWN] = { QK_ST_SHUTDOWN, NULL },
	},
	[QK_ST_SHUTDOWN] = {
		[QK_EV_BIOS_OK] = { SAME, NULL },		[QK_EV_BIOS_FAIL] = { SAME, NULL },
		[QK_EV_GUARD] = { SAME, NULL },		[QK_EV_REQ_BOOT] = FINAL,
		[QK_EV_REQ_IDLE] = FINAL,		[QK_EV_REQ_ACTIVE] = FINAL,
		[QK_EV_REQ_SAFE] = FINAL,		[QK_EV_REQ_ERROR] = FINAL,
		[QK_EV_RESET] = FINAL,			[QK_EV_SHUTDOWN] = { SAME, NULL },
	},
};

void qk_fsm_init(struct qk_fsm *f, int64_t now_ns)
{
	*f = (struct qk_fsm){ .state = QK_ST_BOOTING, .since_ns = now_ns };
}

int qk_fsm_next(uint32_t state, uint32_t ev, const char **why)
{
	if (state >= QK_ST_COUNT || ev >= QK_EV_COUNT) {
		if (why)
			*why = "no such state or event";
		return NO;
	}
	const struct cell *c = &table[state][ev];

	if (c->to == NO && why)
		*why = c->why;
	/* a cell naming the state it is in is the same as SAME */
	return c->to == (int)state ? SAME : c->to;
}

bool qk_fsm_allows(const struct qk_fsm *f, enum qk_fsm_event ev, const char **why)
{
	return qk_fsm_next(f->state, ev, why) != NO;
}

int qk_fsm_fire(struct qk_fsm *f, enum qk_fsm_event ev, uint32_t trigger, int32_t who,
		int64_t now_ns, uint64_t cycle, const char **why)
{
	int to = qk_fsm_next(f->state, ev, why);

	if (to == NO)
		return -EPERM;
	if (to == SAME)
		return 0;
	f->trans[f->n_transitions % QK_MAX_TRANSITIONS] = (struct qk_transition){
		.time_ns = now_ns, .cycle = cycle, .from = f->state, .to = (uint32_t)to,
		.trigger = trigger, .who = who,
	};
	f->n_transitions++;
	f->state = (uint32_t)to;
	f->reason = trigger;
	f->since_ns = now_ns;
	return 1;
}

const struct qk_transition *qk_fsm_last(const struct qk_fsm *f)
{
	return f->n_transitions ? &f->trans[(f->n_transitions - 1) % QK_MAX_TRANSITIONS] : NULL;
}

enum qk_fsm_event qk_fsm_request_event(uint32_t target)
{
	static const enum qk_fsm_event ev[QK_ST_COUNT + 1] = {
		[QK_ST_BOOTING] = QK_EV_REQ_BOOT, [QK_ST_IDLE] = QK_EV_REQ_IDLE,
		[QK_ST_ACTIVE] = QK_EV_REQ_ACTIVE, [QK_ST_SAFE] = QK_EV_REQ_SAFE,
		[QK_ST_ERROR] = QK_EV_REQ_ERROR, [QK_ST_SHUTDOWN] = QK_EV_SHUTDOWN,
		[QK_ST_COUNT] = QK_EV_RESET,
	};

	return target <= QK_ST_COUNT ? ev[target] : QK_EV_COUNT;
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
	if (!s)
		return -1;
	for (int i = 0; i < QK_ST_COUNT; i++)
		if (!strcasecmp(s, state_names[i]))
			return i;
	return !strcasecmp(s, "RESET") ? QK_ST_COUNT : -1;
}

/* These names are what qikictl prints and scripts match: keep them stable. */
const char *qk_trigger_name(uint32_t t)
{
	static const char *const names[QK_TRG_COUNT] = {
		"none", "bios-ok", "bios-fail", "operator", "plan", "reset",
		"guard-bios", "sensors-stale", "actuator-watchdog", "battery-low",
		"thermal", "tank-pressure", "sensor-invalid", "shutdown",
	};

	return t < QK_TRG_COUNT ? names[t] : "unknown";
}

const char *qk_fsm_event_name(uint32_t ev)
{
	static const char *const names[QK_EV_COUNT] = {
		"bios-ok", "bios-fail", "guard", "request-booting", "request-idle",
		"request-active", "request-safe", "request-error", "reset", "shutdown",
	};

	return ev < QK_EV_COUNT ? names[ev] : "unknown";
}
