/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/agent/agent.c - the agent's tick and its operator commands; see rt/agent/agent.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rt/agent/agent.h"
#include "rt/agent/control.h"

#define CLEAR_NEVER_RAISED UINT32_MAX

static uint32_t guard_of(uint32_t trigger)
{
	return trigger - QK_TRG_GUARD_BIOS;	/* callers check the range */
}

static bool is_guard(uint32_t trigger)
{
	return trigger >= QK_TRG_GUARD_BIOS && trigger <= QK_TRG_GUARD_SENSOR_INVALID;
}

/* Guards read from sensor frames: a tick without a new frame says nothing
 * about them, so it neither clears nor raises them. */
static bool from_frames(uint32_t trigger)
{
	return trigger != QK_TRG_GUARD_BIOS && trigger != QK_TRG_GUARD_SENSORS_STALE;
}

static double confidence_min(const struct qk_config *c)
{
	return c->limits.confidence_min > 0 ? c->limits.confidence_min : QK_CONFIDENCE_MIN_DEFAULT;
}

int qk_agent_init(struct qk_agent *a, const struct qk_config *cfg, int64_t now_ns)
{
	if (!a || !cfg || !cfg->n_thrusters || cfg->n_thrusters > QK_MAX_THRUSTERS ||
	    cfg->n_thermal > QK_MAX_THERMAL || cfg->n_devices > QK_MAX_DEVICES)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->now_ns = now_ns;
	a->winner = -1;
	a->active.type = QK_PROP_EXPLORATION + 1;
	qk_control_plan_init(&a->plan, cfg);
	qk_rules_plan_init(&a->rules_plan, cfg);
	qk_fsm_init(&a->fsm, now_ns);
	qk_bios_check(cfg, NULL, &a->bios);
	for (int g = 0; g < QK_GUARD_COUNT; g++)
		a->guard_clear[g] = CLEAR_NEVER_RAISED;
	return 0;
}

static void take_bios(struct qk_agent *a, const struct qk_bios_report *bios)
{
	if (bios)	/* the caller passes a report when its mailbox changed */
		qk_bios_check(a->cfg, bios, &a->bios);
}

static bool watchdog_ours(const struct qk_agent *a, bool fresh)
{
	uint64_t n = a->cfg->limits.actuator_watchdog_cycles;

	return fresh && (a->last.flags & QK_SIMF_WATCHDOG_SAFE) && a->ticks > 2 * n;
}

static void decide(struct qk_agent *a, int64_t now)
{
	const struct qk_proposal *w = a->winner >= 0 ? &a->rules.p[a->winner] : NULL;
	uint64_t cycle = a->last.cycle;

	/* IDLE means ready to be sent ACTIVE, which needs a frame to act on:
	 * a good POST seen before the first sensor frame waits for it */
	if (a->fsm.state == QK_ST_BOOTING && a->bios.seen && (a->have_frame || !a->bios.all_systems_go)) {
		bool ok = a->bios.all_systems_go;

		qk_fsm_fire(&a->fsm, ok ? QK_EV_BIOS_OK : QK_EV_BIOS_FAIL,
			    ok ? QK_TRG_BIOS_OK : QK_TRG_BIOS_FAIL, 0, now, cycle, NULL);
	}
	if (!w)
		return;
	if (w->type == QK_PROP_SAFETY) {
		qk_fsm_fire(&a->fsm, QK_EV_GUARD, w->trigger, 0, now, cycle, NULL);
	} else if (w->type == QK_PROP_PLANNING && a->plan_auto && w->target_state != a->fsm.state &&
		   (w->target_state == QK_ST_ACTIVE || w->target_state == QK_ST_IDLE)) {
		enum qk_fsm_event ev = w->target_state == QK_ST_ACTIVE ? QK_EV_REQ_ACTIVE
								       : QK_EV_REQ_IDLE;

		if (qk_fsm_fire(&a->fsm, ev, QK_TRG_PLAN, 0, now, cycle, NULL) > 0 &&
		    ev == QK_EV_REQ_ACTIVE)
			a->go_asked = false;
	}
}

static void count_guards(struct qk_agent *a, bool fresh)
{
	bool raised[QK_GUARD_COUNT] = { false };
	double cmin = confidence_min(a->cfg);

	for (int i = 0; i < a->rules.n; i++) {
		const struct qk_proposal *p = &a->rules.p[i];

		if (p->type != QK_PROP_SAFETY || !is_guard(p->trigger) || !(p->confidence >= cmin))
			continue;
		uint32_t g = guard_of(p->trigger);

		/* the first raised is the worst of its kind: keep its words */
		if (!raised[g])
			a->guard_hit[g] = p->hit;
		raised[g] = true;
	}
	for (uint32_t g = 0; g < QK_GUARD_COUNT; g++) {
		if (raised[g])
			a->guard_clear[g] = 0;
		else if ((fresh || !from_frames(g + QK_TRG_GUARD_BIOS)) &&
			 a->guard_clear[g] != CLEAR_NEVER_RAISED)
			a->guard_clear[g]++;
	}
}

/* The winner, published as data: readers word its hit. */
static void take_winner(struct qk_agent *a)
{
	if (a->winner >= 0) {
		a->active = a->rules.p[a->winner];
		return;
	}
	memset(&a->active, 0, sizeof(a->active));
	a->active.type = QK_PROP_EXPLORATION + 1;
}

void qk_agent_use_controller(struct qk_agent *a, struct qk_ctl_instance *ci)
{
	a->ctl = ci;
	a->ctl_was_active = false;
}

static void outputs(struct qk_agent *a, bool fresh, struct qk_actuator_frame *out)
{
	const struct qk_config *c = a->cfg;
	uint32_t st = a->fsm.state;

	memset(out->throttle, 0, sizeof(out->throttle));
	memset(out->heater, 0, sizeof(out->heater));
	out->state = st;
	out->flags = st == QK_ST_SAFE || st == QK_ST_ERROR || st == QK_ST_SHUTDOWN ? QK_ACTF_SAFE : 0;
	if (!a->have_frame) {
		a->ctl_was_active = false;
		return;		/* nothing measured: everything off */
	}
	if (st == QK_ST_ACTIVE && a->ctl) {
		struct qk_ctl_in in = { .f = &a->last, .setpoint = a->setpoint, .now_ns = a->now_ns,
					.fresh = fresh, .first = !a->ctl_was_active };

		/* a stale tick recomputes from the last frame: the command holds */
		qk_controller_tick(a->ctl, c, &in, out->throttle);
	} else if (st == QK_ST_ACTIVE) {
		double force[3];

		/* a stale tick recomputes from the last frame: the command holds */
		qk_control_force(c, &a->last, a->setpoint, force);
		qk_control_allocate_plan(&a->plan, qk_control_tank_bar(c, &a->last), force,
					 out->throttle, NULL);
	}
	a->ctl_was_active = st == QK_ST_ACTIVE;
	qk_control_heaters_plan(&a->plan, &a->last, a->heat_on, out->heater);
}

bool qk_agent_tick(struct qk_agent *a, const struct qk_sensor_frame *f,
		   const struct qk_bios_report *bios, int64_t now_ns, struct qk_actuator_frame *out)
{
	bool fresh = f != NULL;

	a->now_ns = now_ns;
	if (fresh) {
		a->last = *f;
		a->have_frame = true;
		a->stale_ticks = 0;
	} else if (!a->have_frame && a->fsm.state == QK_ST_BOOTING) {
		a->stale_ticks = 0;	/* not armed yet: count from when it is */
	} else if (a->stale_ticks != UINT32_MAX) {
		a->stale_ticks++;
	}
	take_bios(a, bios);

	struct qk_rule_in in = {
		.cfg = a->cfg, .plan = &a->rules_plan, .f = a->have_frame ? &a->last : NULL,
		.stale_ticks = a->stale_ticks,
		.stale_armed = a->have_frame || a->fsm.state != QK_ST_BOOTING,
		.watchdog = watchdog_ours(a, fresh), .bios = &a->bios, .state = a->fsm.state,
		.setpoint = a->setpoint, .go_asked = a->go_asked,
	};

	qk_rules_run(&in, &a->rules);
	a->winner = qk_evaluate(a->rules.p, a->rules.n, confidence_min(a->cfg));
	decide(a, now_ns);
	count_guards(a, fresh);
	take_winner(a);

	memset(out, 0, sizeof(*out));
	out->answers_cycle = a->last.cycle;
	out->sensor_publish_ns = a->last.publish_ns;
	out->wake_ns = now_ns;
	out->publish_ns = now_ns;
	outputs(a, fresh, out);
	a->ticks++;
	return true;
}

static void reply(struct qk_reply *r, uint64_t id, int code, const char *why)
{
	size_t n = why ? strlen(why) : 0;

	memset(r, 0, sizeof(*r));
	r->id = id;
	r->status = code ? QK_REPLY_REFUSED : QK_REPLY_ACCEPTED;
	r->code = code;
	if (n >= sizeof(r->reason))
		n = sizeof(r->reason) - 1;
	memcpy(r->reason, why ? why : "", n);
}

const char *qk_agent_reset_blocker(const struct qk_agent *a, char buf[QK_REASON_LEN])
{
	uint32_t need = a->cfg->limits.clear_ticks, least = CLEAR_NEVER_RAISED;
	char why[QK_REASON_LEN];

	/* a standing guard first, the worst (lowest trigger) first */
	for (uint32_t g = 0; g < QK_GUARD_COUNT; g++) {
		if (a->guard_clear[g] == 0) {
			qk_rules_why(a->cfg, &a->guard_hit[g], why);
			snprintf(buf, QK_REASON_LEN, "guard active: %.33s", why);
			return buf;
		}
		if (a->guard_clear[g] < least)
			least = a->guard_clear[g];
	}
	if (least < need) {
		char text[64];	/* two 10-digit counts would not fit a reason */

		snprintf(text, sizeof(text), "guard cleared only %u of %u ticks ago", least, need);
		size_t n = strnlen(text, QK_REASON_LEN - 1);

		memcpy(buf, text, n);
		buf[n] = '\0';
		return buf;
	}
	return NULL;
}

static void state_request(struct qk_agent *a, const struct qk_cmd *c, int64_t now,
			  struct qk_reply *r)
{
	enum qk_fsm_event ev = qk_fsm_request_event(c->u[0]);
	const char *why = NULL;
	char buf[QK_REASON_LEN];

	if (ev == QK_EV_COUNT)
		return reply(r, c->id, -EINVAL, "no such state");
	if (!qk_fsm_allows(&a->fsm, ev, &why))
		return reply(r, c->id, -EPERM, why);
	if (ev == QK_EV_RESET && (why = qk_agent_reset_blocker(a, buf)))
		return reply(r, c->id, -EPERM, why);
	if (ev == QK_EV_REQ_ACTIVE && a->fsm.state != QK_ST_ACTIVE) {
		if (!a->have_frame)
			return reply(r, c->id, -EPERM, "no sensor frame yet");
		if (!(a->last.valid & QK_VALID_NAV))
			return reply(r, c->id, -EPERM, "nav reads invalid: cannot drive");
	}
	uint32_t trig = ev == QK_EV_RESET ? QK_TRG_RESET
		      : ev == QK_EV_SHUTDOWN ? QK_TRG_SHUTDOWN : QK_TRG_OPERATOR;

	qk_fsm_fire(&a->fsm, ev, trig, c->sender_pid, now, a->last.cycle, NULL);
	if (a->fsm.state != QK_ST_IDLE)
		a->go_asked = false;	/* answered (ACTIVE) or moot */
	reply(r, c->id, 0, NULL);
}

/* A parameter changes between two ticks; what the agent derived from the
 * configuration at init (heater bands, deadband) is derived again. */
static void param_request(struct qk_agent *a, const struct qk_cmd *c, int64_t now,
			  struct qk_reply *r)
{
	char why[QK_REASON_LEN];
	int ret;

	if (!a->params)
		return reply(r, c->id, -EINVAL, "this agent takes no runtime parameters");
	ret = qk_params_set(a->params, c->u[0], c->arg[0], now, a->last.cycle, c->sender_pid, why);
	if (ret)
		return reply(r, c->id, ret, why);
	qk_control_plan_init(&a->plan, a->cfg);
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
			if (!isfinite(c->arg[i]) || fabs(c->arg[i]) > QK_SETPOINT_MAX_M)
				return reply(r, c->id, -EINVAL, "setpoint: finite metres within 1e6");
		memcpy(a->setpoint, c->arg, sizeof(a->setpoint));
		a->go_asked = a->fsm.state == QK_ST_IDLE;
		return reply(r, c->id, 0, NULL);
	case QK_CMD_PING:
		return reply(r, c->id, 0, NULL);
	case QK_CMD_PARAM:
		return param_request(a, c, now_ns, r);
	default:
		return reply(r, c->id, -EINVAL, "not a command for the agent");
	}
}

void qk_agent_status(const struct qk_agent *a, struct qk_agent_status *st)
{
	memset(st, 0, sizeof(*st));
	st->cycle = a->last.cycle;
	st->time_ns = a->now_ns;
	st->state = a->fsm.state;
	st->safe_reason = a->fsm.reason;
	st->state_since_ns = a->fsm.since_ns;
	st->all_systems_go = a->bios.all_systems_go;
	st->n_proposals = (uint32_t)a->rules.n;
	st->health = a->bios.health;
	memcpy(st->setpoint_m, a->setpoint, sizeof(st->setpoint_m));
	st->active = a->active;
	st->n_transitions = a->fsm.n_transitions;
	memcpy(st->trans, a->fsm.trans, sizeof(st->trans));
}
