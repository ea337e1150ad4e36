/* rt/rules.c - rules and the evaluator; see rt/rules.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "rt/rules.h"

struct sink {
	struct qk_proposal *p;
	int n, max;
};

static void raise_(struct sink *s, uint32_t type, uint32_t prio, double conf, uint32_t trigger,
		   uint32_t target, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void raise_(struct sink *s, uint32_t type, uint32_t prio, double conf, uint32_t trigger,
		   uint32_t target, const char *fmt, ...)
{
	va_list ap;

	if (s->n == s->max)
		return;
	struct qk_proposal *p = &s->p[s->n++];

	*p = (struct qk_proposal){ .type = type, .priority = prio, .confidence = conf,
				   .trigger = trigger, .target_state = target };
	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
}

/* The valid bit a device of the profile vouches for, 0 if none. */
static uint32_t valid_bit(const struct qk_device_cfg *d)
{
	switch (d->sensor) {
	case QK_SK_IMU: return QK_VALID_IMU;
	case QK_SK_NAV: return QK_VALID_NAV;
	case QK_SK_TANK: return QK_VALID_TANK;
	case QK_SK_BATTERY: return QK_VALID_BATTERY;
	case QK_SK_THERMAL: return QK_VALID_TEMP(d->index);
	default: return 0;
	}
}

static void safety(const struct qk_rule_in *in, struct sink *s)
{
	const struct qk_config *c = in->cfg;
	const struct qk_sensor_frame *f = in->f;

	if (in->bios->seen && !in->bios->all_systems_go && in->state != QK_ST_BOOTING)
		raise_(s, QK_PROP_SAFETY, 90, 1.0, QK_TRG_GUARD_BIOS, QK_ST_SAFE,
		       "BIOS: %s", in->bios->why);
	if (in->stale_ticks >= c->limits.sensor_stale_cycles)
		raise_(s, QK_PROP_SAFETY, 100, 1.0, QK_TRG_GUARD_SENSORS_STALE, QK_ST_SAFE,
		       "no sensor frame for %u ticks (limit %u)", in->stale_ticks,
		       c->limits.sensor_stale_cycles);
	if (in->watchdog)
		raise_(s, QK_PROP_SAFETY, 95, 1.0, QK_TRG_GUARD_WATCHDOG, QK_ST_SAFE,
		       "sim's actuator watchdog holds safe outputs");
	if (!f)
		return;
	for (uint32_t i = 0; i < c->n_devices && i < QK_MAX_DEVICES; i++) {
		uint32_t bit = valid_bit(&c->device[i]);

		if (bit && c->device[i].critical && !(f->valid & bit)) {
			raise_(s, QK_PROP_SAFETY, 85, 1.0, QK_TRG_GUARD_SENSOR_INVALID, QK_ST_SAFE,
			       "sensor %.24s invalid", c->device[i].name);
			break;
		}
	}
	if ((f->valid & QK_VALID_TANK) &&
	    (f->tank_bar < c->tank.min_bar || f->tank_bar > c->tank.max_bar))
		raise_(s, QK_PROP_SAFETY, 80, 1.0, QK_TRG_GUARD_PRESSURE, QK_ST_SAFE,
		       "tank %.2f bar outside %.1f..%.1f bar", f->tank_bar, c->tank.min_bar,
		       c->tank.max_bar);
	for (uint32_t i = 0; i < c->n_thermal && i < QK_MAX_THERMAL; i++) {
		const struct qk_thermal_cfg *t = &c->thermal[i];

		if ((f->valid & QK_VALID_TEMP(i)) && (f->temp_k[i] > t->max_k || f->temp_k[i] < t->min_k)) {
			raise_(s, QK_PROP_SAFETY, 75, 1.0, QK_TRG_GUARD_THERMAL, QK_ST_SAFE,
			       "%.16s %.1f K outside %.0f..%.0f K", t->name, f->temp_k[i],
			       t->min_k, t->max_k);
			break;
		}
	}
	if ((f->valid & QK_VALID_BATTERY) && f->batt_soc < c->battery.soc_min)
		raise_(s, QK_PROP_SAFETY, 70, 1.0, QK_TRG_GUARD_BATTERY, QK_ST_SAFE,
		       "battery %.0f%% < %.0f%%", 100 * f->batt_soc, 100 * c->battery.soc_min);
}

int qk_rules_run(const struct qk_rule_in *in, struct qk_proposal *out, int max)
{
	struct sink s = { .p = out, .max = max };
	const struct qk_sensor_frame *f = in->f;

	safety(in, &s);
	if (in->state == QK_ST_ACTIVE && f) {
		double d = 0;

		for (int i = 0; i < 3; i++)
			d += (in->setpoint[i] - f->pos_m[i]) * (in->setpoint[i] - f->pos_m[i]);
		d = sqrt(d);
		if (d > 0.5)
			raise_(&s, QK_PROP_PLANNING, 50, 0.9, QK_TRG_PLAN, QK_ST_ACTIVE,
			       "drive to setpoint, %.2f m away", d);
		else
			raise_(&s, QK_PROP_PLANNING, 40, 0.95, QK_TRG_PLAN, QK_ST_ACTIVE,
			       "hold at setpoint (%.3f m)", d);
	}
	if (in->bios->seen && in->bios->all_systems_go && in->bios->health < 1.0)
		raise_(&s, QK_PROP_DIAGNOSTICS, 30, 0.8, QK_TRG_NONE, in->state,
		       "degraded: health %.2f (%u warning, %u error)", in->bios->health,
		       in->bios->n_warning, in->bios->n_error + in->bios->n_missing);
	if (in->state == QK_ST_IDLE)
		raise_(&s, QK_PROP_EXPLORATION, 10, 0.5, QK_TRG_NONE, QK_ST_IDLE,
		       "idle: awaiting a setpoint and ACTIVE");
	return s.n;
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

int qk_evaluate(struct qk_proposal *p, int n, double min_confidence)
{
	int kept = 0;

	for (int i = 0; i < n; i++)	/* drop the unsure, keep the order stable */
		if (p[i].confidence >= min_confidence)
			p[kept++] = p[i];
	for (int i = 1; i < kept; i++) {	/* insertion sort: n <= 16 */
		struct qk_proposal x = p[i];
		int j = i;

		for (; j > 0 && before(&x, &p[j - 1]); j--)
			p[j] = p[j - 1];
		p[j] = x;
	}
	return kept;
}
