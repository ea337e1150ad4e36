/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/agent/rules.c - rules and the evaluator; see rt/agent/rules.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rt/agent/rules.h"

static void raise_(struct qk_rules_out *o, uint32_t type, uint32_t prio, double conf,
		   uint32_t trigger, uint32_t target, uint32_t rule, uint32_t index,
		   double value, double limit)
{
	if (o->n == QK_MAX_PROPOSALS) {
		o->dropped++;
		return;
	}
	o->p[o->n++] = (struct qk_proposal){
		.type = type, .priority = prio, .confidence = conf, .trigger = trigger,
		.target_state = target,
		.hit = { .rule = rule, .index = index, .value = value, .limit = limit },
	};
}

static void safety(struct qk_rules_out *o, uint32_t prio, double conf, uint32_t trigger,
		   uint32_t rule, uint32_t index, double value, double limit)
{
	raise_(o, QK_PROP_SAFETY, prio, conf, trigger, QK_ST_SAFE, rule, index, value, limit);
}

/* The valid bit a sensor of the profile vouches for, 0 if none. */
static uint32_t valid_bit(const struct qk_device_cfg *d)
{
	if (d->type != QK_DEV_SENSOR)
		return 0;
	switch (d->sensor) {
	case QK_SK_IMU: return QK_VALID_IMU;
	case QK_SK_NAV: return QK_VALID_NAV;
	case QK_SK_TANK: return QK_VALID_TANK;
	case QK_SK_BATTERY: return QK_VALID_BATTERY;
	case QK_SK_THERMAL: return d->index < QK_MAX_THERMAL ? QK_VALID_TEMP(d->index) : 0;
	default: return 0;
	}
}

void qk_rules_plan_init(struct qk_rules_plan *pl, const struct qk_config *c)
{
	uint32_t nd = c->n_devices < QK_MAX_DEVICES ? c->n_devices : QK_MAX_DEVICES;

	memset(pl, 0, sizeof(*pl));
	for (uint32_t i = 0; i < nd; i++) {
		uint32_t bit = valid_bit(&c->device[i]);

		if (!bit)
			continue;
		pl->bit[pl->n] = bit;
		pl->dev[pl->n] = (uint8_t)i;
		pl->critical[pl->n] = c->device[i].critical != 0;
		if (c->device[i].critical)
			pl->critical_bits |= bit;
		else
			pl->plain_bits |= bit;
		pl->n++;
	}
}

/* The sensors of one kind (critical or not) that read invalid, in order. */
static void invalid_sensors(const struct qk_rules_plan *pl, uint32_t valid, bool critical,
			    uint32_t st, struct qk_rules_out *o)
{
	for (uint32_t i = 0; i < pl->n; i++) {
		if (pl->critical[i] != critical || (valid & pl->bit[i]))
			continue;
		if (critical)
			safety(o, 85, 1.0, QK_TRG_GUARD_SENSOR_INVALID, QK_RULE_SENSOR_INVALID,
			       pl->dev[i], 0, 0);
		else
			raise_(o, QK_PROP_DIAGNOSTICS, 25, 0.9, QK_TRG_NONE, st,
			       QK_RULE_DIAG_SENSOR, pl->dev[i], 0, 0);
	}
}

static void frame_guards(const struct qk_rule_in *in, const struct qk_rules_plan *pl,
			 struct qk_rules_out *o)
{
	const struct qk_config *c = in->cfg;
	const struct qk_sensor_frame *f = in->f;
	uint32_t nt = c->n_thermal < QK_MAX_THERMAL ? c->n_thermal : QK_MAX_THERMAL;

	if ((f->valid & pl->critical_bits) != pl->critical_bits)
		invalid_sensors(pl, f->valid, true, in->state, o);
	if (f->valid & QK_VALID_TANK) {
		if (f->tank_bar < c->tank.min_bar)
			safety(o, 80, 0.95, QK_TRG_GUARD_PRESSURE, QK_RULE_PRESSURE_LOW, 0,
			       f->tank_bar, c->tank.min_bar);
		else if (f->tank_bar > c->tank.max_bar)
			safety(o, 80, 0.95, QK_TRG_GUARD_PRESSURE, QK_RULE_PRESSURE_HIGH, 0,
			       f->tank_bar, c->tank.max_bar);
	}
	for (uint32_t i = 0; i < nt; i++) {
		const struct qk_thermal_cfg *t = &c->thermal[i];

		if (!(f->valid & QK_VALID_TEMP(i)))
			continue;
		if (f->temp_k[i] > t->max_k)
			safety(o, 75, 0.95, QK_TRG_GUARD_THERMAL, QK_RULE_THERMAL_HIGH, i,
			       f->temp_k[i], t->max_k);
		else if (f->temp_k[i] < t->min_k)
			safety(o, 75, 0.95, QK_TRG_GUARD_THERMAL, QK_RULE_THERMAL_LOW, i,
			       f->temp_k[i], t->min_k);
	}
	if ((f->valid & QK_VALID_BATTERY) && f->batt_soc < c->battery.soc_min)
		safety(o, 70, 0.95, QK_TRG_GUARD_BATTERY, QK_RULE_BATTERY_LOW, 0,
		       100 * f->batt_soc, 100 * c->battery.soc_min);
}

static void planning(const struct qk_rule_in *in, struct qk_rules_out *o)
{
	const struct qk_sensor_frame *f = in->f;
	double d = 0, v = 0;

	if (!f || !(f->valid & QK_VALID_NAV))
		return;
	for (int i = 0; i < 3; i++) {
		d += (in->setpoint[i] - f->pos_m[i]) * (in->setpoint[i] - f->pos_m[i]);
		v += f->vel_mps[i] * f->vel_mps[i];
	}
	bool reached = d < QK_REACHED_M * QK_REACHED_M && v < QK_REACHED_MPS * QK_REACHED_MPS;

	d = sqrt(d);	/* the distance is in the hit */

	if (in->state == QK_ST_IDLE && in->go_asked && !reached)
		raise_(o, QK_PROP_PLANNING, 50, 0.8, QK_TRG_PLAN, QK_ST_ACTIVE, QK_RULE_PLAN_GO, 0,
		       d, 0);
	else if (in->state == QK_ST_ACTIVE && !reached)
		raise_(o, QK_PROP_PLANNING, 50, 0.9, QK_TRG_PLAN, QK_ST_ACTIVE, QK_RULE_PLAN_DRIVE,
		       0, d, 0);
	else if (in->state == QK_ST_ACTIVE)
		raise_(o, QK_PROP_PLANNING, 40, 0.95, QK_TRG_PLAN, QK_ST_ACTIVE, QK_RULE_PLAN_HOLD,
		       0, 0, 0);
}

static void diagnostics(const struct qk_rule_in *in, const struct qk_rules_plan *pl,
			struct qk_rules_out *o)
{
	const struct qk_config *c = in->cfg;
	const struct qk_bios_eval *b = in->bios;
	const struct qk_sensor_frame *f = in->f;
	uint32_t st = in->state;

	if (b->seen && b->all_systems_go && (b->n_warning || b->n_error || b->n_missing))
		raise_(o, QK_PROP_DIAGNOSTICS, 30, 0.9, QK_TRG_NONE, st, QK_RULE_DIAG_BIOS,
		       b->n_warning, b->health, c->limits.health_min);
	if (!f)
		return;
	if ((f->valid & pl->plain_bits) != pl->plain_bits)
		invalid_sensors(pl, f->valid, false, st, o);
	if ((f->valid & QK_VALID_BATTERY) && f->batt_soc >= c->battery.soc_min &&
	    f->batt_soc < c->battery.soc_min + QK_BATTERY_WARN_SOC)
		raise_(o, QK_PROP_DIAGNOSTICS, 20, 0.7, QK_TRG_NONE, st, QK_RULE_DIAG_BATTERY, 0,
		       100 * f->batt_soc, 100 * c->battery.soc_min);
}

int qk_rules_run(const struct qk_rule_in *in, struct qk_rules_out *o)
{
	const struct qk_config *c = in->cfg;
	const struct qk_bios_eval *b = in->bios;
	const struct qk_rules_plan *pl = in->plan;
	struct qk_rules_plan mine;

	if (!pl) {
		qk_rules_plan_init(&mine, c);
		pl = &mine;
	}
	o->n = 0;
	o->dropped = 0;
	/* SAFETY, raised in priority order so a full array keeps the worst */
	if (in->stale_armed && c->limits.sensor_stale_cycles &&
	    in->stale_ticks >= c->limits.sensor_stale_cycles)
		safety(o, 100, 1.0, QK_TRG_GUARD_SENSORS_STALE, QK_RULE_STALE, 0,
		       c->limits.sensor_stale_cycles, c->limits.sensor_stale_cycles);
	if (in->watchdog)
		safety(o, 95, 0.95, QK_TRG_GUARD_WATCHDOG, QK_RULE_WATCHDOG, 0, 0, 0);
	if (b->seen && !b->all_systems_go) {
		if (b->critical_fail && b->first_bad >= 0)
			safety(o, 90, 1.0, QK_TRG_GUARD_BIOS, QK_RULE_BIOS_DEVICE,
			       (uint32_t)b->first_bad, b->first_status, b->first_code);
		else
			safety(o, 90, 1.0, QK_TRG_GUARD_BIOS, QK_RULE_BIOS_HEALTH, 0,
			       b->health, c->limits.health_min);
	}
	if (in->f)
		frame_guards(in, pl, o);
	planning(in, o);
	diagnostics(in, pl, o);
	if (in->state == QK_ST_IDLE && !in->go_asked)
		raise_(o, QK_PROP_EXPLORATION, 10, 0.7, QK_TRG_NONE, QK_ST_IDLE,
		       QK_RULE_EXPLORE_IDLE, 0, 0, 0);
	return o->n;
}

static const char *device_name(const struct qk_config *c, uint32_t i)
{
	return i < QK_MAX_DEVICES ? c->device[i].name : "?";
}

static const char *bios_problem(double status)
{
	switch ((int)status) {
	case QK_DS_ERROR: return "failed";
	case QK_DS_NOT_FOUND: return "not found";
	case QK_DS_WARNING: return "warning";
	default: return "missing";
	}
}

/*
 * Decimals for "value < limit": one, or as many (up to four) as it takes for
 * the two to print differently, so a tank just under its 5 bar guard reads
 * "4.98 bar < 5.00 bar" and not "5.0 bar < 5.0 bar".
 */
static int cmp_digits(double value, double limit)
{
	int d = 1;
	double scale = 10.0;

	while (d < 4 && (long long)(value * scale + (value < 0 ? -0.5 : 0.5)) ==
			(long long)(limit * scale + (limit < 0 ? -0.5 : 0.5))) {
		d++;
		scale *= 10.0;
	}
	return d;
}

void qk_rules_why(const struct qk_config *c, const struct qk_rule_hit *h, char why[QK_REASON_LEN])
{
	const char *node = h->index < QK_MAX_THERMAL ? c->thermal[h->index].name : "?";
	const size_t n = QK_REASON_LEN;
	int d;

	switch (h->rule) {
	case QK_RULE_STALE:
		snprintf(why, n, "no sensor frame for %.0f ticks", h->value);
		break;
	case QK_RULE_WATCHDOG:
		snprintf(why, n, "sim watchdog: our frames lost");
		break;
	case QK_RULE_BIOS_DEVICE:
		/* a device that stopped answering: over HIL, the link is down */
		if (h->limit == QK_PC_TIMEOUT_RESPONSE)
			snprintf(why, n, "BIOS: %.16s no response (link down)", device_name(c, h->index));
		else
			snprintf(why, n, "BIOS: %.16s %s", device_name(c, h->index), bios_problem(h->value));
		break;
	case QK_RULE_BIOS_HEALTH:
		snprintf(why, n, "BIOS: health %.2f < %.2f", h->value, h->limit);
		break;
	case QK_RULE_SENSOR_INVALID:
	case QK_RULE_DIAG_SENSOR:
		snprintf(why, n, "%.16s reading invalid", device_name(c, h->index));
		break;
	case QK_RULE_PRESSURE_LOW:
	case QK_RULE_PRESSURE_HIGH:
		d = cmp_digits(h->value, h->limit);
		snprintf(why, n, "tank %.*f bar %c %.*f bar", d, h->value,
			 h->rule == QK_RULE_PRESSURE_LOW ? '<' : '>', d, h->limit);
		break;
	case QK_RULE_THERMAL_LOW:
	case QK_RULE_THERMAL_HIGH:
		d = cmp_digits(h->value, h->limit);
		snprintf(why, n, "%.12s %.*f K %c %.*f K", node, d, h->value,
			 h->rule == QK_RULE_THERMAL_LOW ? '<' : '>', d, h->limit);
		break;
	case QK_RULE_BATTERY_LOW:
		snprintf(why, n, "battery SoC %.0f%% < %.0f%%", h->value, h->limit);
		break;
	case QK_RULE_PLAN_GO:
		snprintf(why, n, "go ACTIVE: setpoint %.1f m away", h->value);
		break;
	case QK_RULE_PLAN_DRIVE:
		snprintf(why, n, "drive to setpoint, %.1f m away", h->value);
		break;
	case QK_RULE_PLAN_HOLD:
		snprintf(why, n, "hold: setpoint reached");
		break;
	case QK_RULE_DIAG_BIOS:
		snprintf(why, n, "BIOS degraded: health %.2f", h->value);
		break;
	case QK_RULE_DIAG_BATTERY:
		snprintf(why, n, "battery SoC %.0f%% nearing %.0f%%", h->value, h->limit);
		break;
	case QK_RULE_EXPLORE_IDLE:
		snprintf(why, n, "idle: set a setpoint, go ACTIVE");
		break;
	default:
		why[0] = '\0';
		break;
	}
}

/* True when a goes before b. */
static bool before(const struct qk_proposal *a, const struct qk_proposal *b)
{
	if (a->type != b->type)
		return a->type < b->type;
	if (a->priority != b->priority)
		return a->priority > b->priority;
	return a->confidence > b->confidence;
}

int qk_evaluate_order(const struct qk_proposal *p, int n, double confidence_min,
		      uint8_t order[QK_MAX_PROPOSALS])
{
	int kept = 0;

	if (n > QK_MAX_PROPOSALS)
		n = QK_MAX_PROPOSALS;
	for (int i = 0; i < n; i++) {
		/* NaN confidence fails the cut too */
		if (!(p[i].confidence >= confidence_min))
			continue;
		int j = kept++;

		/* insertion sort, stable: a tie keeps the order of raising */
		for (; j > 0 && before(&p[i], &p[order[j - 1]]); j--)
			order[j] = order[j - 1];
		order[j] = (uint8_t)i;
	}
	return kept;
}

int qk_evaluate(const struct qk_proposal *p, int n, double confidence_min)
{
	int best = -1;

	if (n > QK_MAX_PROPOSALS)
		n = QK_MAX_PROPOSALS;
	/* the first of the best: a tie keeps the order of raising, as the sort does */
	for (int i = 0; i < n; i++)
		if (p[i].confidence >= confidence_min && (best < 0 || before(&p[i], &p[best])))
			best = i;
	return best;
}
