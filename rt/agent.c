/* rt/agent.c - the agent's tick and its operator commands; see rt/agent.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rt/agent.h"
#include "rt/control.h"

int qk_agent_init(struct qk_agent *a, const struct qk_config *cfg, int64_t now_ns)
{
	if (!cfg->n_thrusters || cfg->n_thrusters > QK_MAX_THRUSTERS ||
	    cfg->n_thermal > QK_MAX_THERMAL || cfg->n_devices > QK_MAX_DEVICES)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	qk_fsm_init(&a->fsm, now_ns);
	return 0;
}

/* The sim flags safe actuation while our frames are missing; only a flag
 * seen after we have been feeding it for a full watchdog period is ours to
 * act on (a restarted agent first sees its predecessor's absence). */
static bool watchdog_seen(const struct qk_agent *a)
{
	return a->have_frame && (a->last.flags & QK_SIMF_WATCHDOG_SAFE) &&
	       a->published > 2ull * a->cfg->limits.actuator_watchdog_cycles;
}

static void step_fsm(struct qk_agent *a, int64_t now, uint64_t cycle)
{
	const struct qk_proposal *win = a->n_kept > 0 ? &a->prop[0] : NULL;

	if (a->fsm.state == QK_ST_BOOTING && a->bios.seen && !(win && win->type == QK_PROP_SAFETY)) {
		bool ok = a->bios.all_systems_go;

		qk_fsm_fire(&a->fsm, ok ? QK_EV_BIOS_OK : QK_EV_BIOS_FAIL,
			    ok ? QK_TRG_BIOS_OK : QK_TRG_BIOS_FAIL, 0, now, cycle, NULL);
		return;
	}
	if (win && win->type == QK_PROP_SAFETY) {
		/* a BIOS verdict gone bad while running is an ERROR, the rest SAFE */
		enum qk_fsm_event ev = win->trigger == QK_TRG_GUARD_BIOS ? QK_EV_BIOS_FAIL : QK_EV_GUARD;

		qk_fsm_fire(&a->fsm, ev, win->trigger, 0, now, cycle, NULL);
	}
}

static void outputs(struct qk_agent *a, struct qk_actuator_frame *out)
{
	const struct qk_config *c = a->cfg;
	uint32_t st = a->fsm.state;

	memset(out->throttle, 0, sizeof(out->throttle));
	memset(out->heater, 0, sizeof(out->heater));
	out->flags = 0;
	if (!a->have_frame)
		return;
	if (st == QK_ST_ACTIVE) {
		double force[3];

		qk_control_force(c, &a->last, a->setpoint, force);
		qk_control_allocate(c, (a->last.valid & QK_VALID_TANK) ? a->last.tank_bar
									 : c->tank.p_full_bar,
				    force, out->throttle);
	}
	if (st == QK_ST_SAFE || st == QK_ST_ERROR || st == QK_ST_SHUTDOWN)
		out->flags |= QK_ACTF_SAFE;
	if (st != QK_ST_SHUTDOWN)
		qk_control_heaters(c, &a->last, out->heater);
}

bool qk_agent_tick(struct qk_agent *a, const struct qk_sensor_frame *f,
		   const struct qk_bios_report *bios, int64_t now_ns, struct qk_actuator_frame *out)
{
	a->ticks++;
	if (f) {
		a->last = *f;
		a->have_frame = true;
		a->stale_ticks = 0;
	} else {
		a->stale_ticks++;
	}
	if (bios)
		qk_bios_check(a->cfg, bios, &a->bios);

	struct qk_rule_in in = {
		.cfg = a->cfg, .f = a->have_frame ? &a->last : NULL, .stale_ticks = a->stale_ticks,
		.watchdog = watchdog_seen(a), .bios = &a->bios, .state = a->fsm.state,
		.setpoint = a->setpoint,
	};
	bool safety = false;

	a->n_prop = qk_rules_run(&in, a->prop, QK_MAX_PROPOSALS);
	for (int i = 0; i < a->n_prop; i++) {
		if (a->prop[i].type == QK_PROP_SAFETY && !safety) {
			safety = true;
			memcpy(a->guard_why, a->prop[i].why, sizeof(a->guard_why));
		}
	}
	a->clear_run = safety ? 0 : a->clear_run + 1;
	a->n_kept = qk_evaluate(a->prop, a->n_prop, a->cfg->limits.confidence_min);
	step_fsm(a, now_ns, a->last.cycle);

	out->answers_cycle = a->last.cycle;
	out->sensor_publish_ns = a->last.publish_ns;
	out->state = a->fsm.state;
	outputs(a, out);
	a->published++;
	return true;
}

static void reply(struct qk_reply *r, uint64_t id, int code, const char *why)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->status = code ? QK_REPLY_REFUSED : QK_REPLY_ACCEPTED;
	r->code = code;
	if (why)
		snprintf(r->reason, sizeof(r->reason), "%s", why);
}

static void state_request(struct qk_agent *a, const struct qk_cmd *c, int64_t now,
			  struct qk_reply *r)
{
	static const enum qk_fsm_event ev_of[QK_ST_COUNT + 1] = {
		[QK_ST_BOOTING] = QK_EV_REQ_BOOT, [QK_ST_IDLE] = QK_EV_REQ_IDLE,
		[QK_ST_ACTIVE] = QK_EV_REQ_ACTIVE, [QK_ST_SAFE] = QK_EV_REQ_SAFE,
		[QK_ST_ERROR] = QK_EV_COUNT, [QK_ST_SHUTDOWN] = QK_EV_SHUTDOWN,
		[QK_ST_COUNT] = QK_EV_RESET,
	};
	uint32_t target = c->u[0];
	const char *why = NULL;
	char buf[QK_REASON_LEN];

	if (target > QK_ST_COUNT)
		return reply(r, c->id, -EINVAL, "no such state");
	enum qk_fsm_event ev = ev_of[target];

	if (ev == QK_EV_COUNT)
		return reply(r, c->id, -EPERM, "ERROR is entered by a failed BIOS check only");
	if (!qk_fsm_allows(&a->fsm, ev, &why))
		return reply(r, c->id, -EPERM, why);
	if (ev == QK_EV_RESET) {
		if (a->fsm.state == QK_ST_ERROR && !a->bios.all_systems_go) {
			snprintf(buf, sizeof(buf), "BIOS not OK: %.34s", a->bios.why);
			return reply(r, c->id, -EPERM, buf);
		}
		if (a->clear_run == 0)
			return reply(r, c->id, -EPERM, a->guard_why);
		if (a->clear_run < a->cfg->limits.clear_ticks) {
			snprintf(buf, sizeof(buf), "guard clear only %u of %u ticks", a->clear_run,
				 a->cfg->limits.clear_ticks);
			return reply(r, c->id, -EPERM, buf);
		}
	}
	if (ev == QK_EV_REQ_ACTIVE && !a->have_frame)
		return reply(r, c->id, -EPERM, "no sensor frame yet");
	uint32_t trig = ev == QK_EV_RESET ? QK_TRG_RESET : ev == QK_EV_SHUTDOWN ? QK_TRG_SHUTDOWN
										: QK_TRG_OPERATOR;

	qk_fsm_fire(&a->fsm, ev, trig, c->sender_pid, now, a->last.cycle, NULL);
	reply(r, c->id, 0, NULL);
}

void qk_agent_command(struct qk_agent *a, const struct qk_cmd *c, int64_t now_ns,
		      struct qk_reply *r)
{
	switch (c->type) {
	case QK_CMD_STATE:
		state_request(a, c, now_ns, r);
		return;
	case QK_CMD_SETPOINT:
		for (int i = 0; i < 3; i++)
			if (!isfinite(c->arg[i]) || fabs(c->arg[i]) > 1e6)
				return reply(r, c->id, -EINVAL, "setpoint: finite metres within 1e6");
		memcpy(a->setpoint, c->arg, sizeof(a->setpoint));
		return reply(r, c->id, 0, NULL);
	case QK_CMD_PING:
		return reply(r, c->id, 0, NULL);
	default:
		return reply(r, c->id, -EOPNOTSUPP, "not an agent command");
	}
}

void qk_agent_status(const struct qk_agent *a, struct qk_agent_status *st)
{
	memset(st, 0, sizeof(*st));
	st->cycle = a->last.cycle;
	st->time_ns = a->last.publish_ns;
	st->state = a->fsm.state;
	st->safe_reason = a->fsm.reason;
	st->state_since_ns = a->fsm.since_ns;
	st->all_systems_go = a->bios.all_systems_go;
	st->n_proposals = (uint32_t)a->n_prop;
	st->health = a->bios.health;
	memcpy(st->setpoint_m, a->setpoint, sizeof(st->setpoint_m));
	if (a->n_kept > 0)
		st->active = a->prop[0];
	else
		st->active.type = QK_PROP_EXPLORATION + 1;
	st->n_transitions = a->fsm.n_transitions;
	memcpy(st->trans, a->fsm.trans, sizeof(st->trans));
}
