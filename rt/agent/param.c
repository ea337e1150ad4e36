/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/agent/param.c - runtime parameters; see rt/agent/param.h. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rt/agent/param.h"
#include "rt/config/config.h"

uint32_t qk_param_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

/* The built-in PD's parameters are the configuration's control.* fields. */
static bool builtin(const struct qk_ctl_instance *ci)
{
	return !ci || !ci->c || ci->c == qk_controller_builtin_pd();
}

static int add(struct qk_params *ps, const char *name, char *why, size_t n)
{
	struct qk_param_status *st = &ps->st;

	if (st->n == QK_MAX_PARAMS) {
		snprintf(why, n, "more than %d runtime parameters (at '%s')", QK_MAX_PARAMS, name);
		return -E2BIG;
	}
	memset(&st->p[st->n], 0, sizeof(st->p[0]));
	memset(&ps->d[st->n], 0, sizeof(ps->d[0]));
	snprintf(st->p[st->n].name, QK_PARAM_NAME_LEN, "%s", name);
	ps->d[st->n].hash = qk_param_hash(st->p[st->n].name);
	ps->d[st->n].ctl_index = QK_PARAM_NO_CTL;
	for (uint32_t i = 0; i < st->n; i++) {
		if (ps->d[i].hash == ps->d[st->n].hash) {
			if (!strcmp(st->p[i].name, st->p[st->n].name))
				snprintf(why, n, "runtime parameter '%s' declared twice", name);
			else
				snprintf(why, n, "runtime parameters '%s' and '%s' share a hash: "
					 "rename one", st->p[i].name, name);
			return -EEXIST;
		}
	}
	st->n++;
	return 0;
}

static double field_value(const struct qk_params *ps, const struct qk_param_def *d)
{
	const struct qk__field *f = d->field;
	const char *at = (const char *)ps->cfg + d->base + f->off;
	double v;
	uint32_t u;

	if (f->type == QK__F_U32) {
		memcpy(&u, at, sizeof(u));
		return u;
	}
	memcpy(&v, at, sizeof(v));
	return v;
}

/* A configuration field as a parameter: its range from the field table. */
static int add_field(struct qk_params *ps, const char *name, unsigned section, size_t base,
		     const char *key, char *why, size_t n)
{
	const struct qk__field *f = qk__config_field(section, key);
	int ret;

	if (!f) {	/* a programming error: the names below are the table's */
		snprintf(why, n, "no configuration field '%s' for '%s'", key, name);
		return -ENOENT;
	}
	if ((ret = add(ps, name, why, n)))
		return ret;
	struct qk_param_info *p = &ps->st.p[ps->st.n - 1];
	struct qk_param_def *d = &ps->d[ps->st.n - 1];

	d->src = QK_PS_CONFIG;
	p->flags = QK_PARAMF_CONFIG;
	d->section = section;
	d->field = f;
	d->base = base;
	if (f->type == QK__F_U32) {
		p->type = QK_PT_U32;
		p->min = f->lo;
		p->max = f->hi;
	} else {
		p->type = QK_PT_NUM;
		p->max = f->cons == QK__C_FRAC || f->cons == QK__C_CONF ? 1 : f->max;
		p->min = f->cons == QK__C_ANY ? -f->max : 0;
		if (f->cons == QK__C_POS || f->cons == QK__C_CONF)
			p->flags |= QK_PARAMF_MIN_OPEN;
	}
	p->value = p->initial = field_value(ps, d);
	return 0;
}

static int controller_params(struct qk_params *ps, struct qk_ctl_instance *ci, char *why, size_t n)
{
	const struct qk_controller *c = ci && ci->c ? ci->c : qk_controller_builtin_pd();
	char name[QK_PARAM_NAME_LEN + 16];
	int ret;

	for (uint32_t i = 0; i < c->n_params && i < QK_CTL_MAX_PARAMS; i++) {
		const struct qk_ctl_param *cp = &c->params[i];

		snprintf(name, sizeof(name), "controller.%.*s", QK_CTL_NAME_LEN, cp->name);
		if (builtin(ci)) {
			/* --controller-param set the PD's copy: the configuration follows */
			if (ci && ci->c && isfinite(ci->param[i])) {
				const struct qk__field *f = qk__config_field(QK__S_CONTROL, cp->name);

				if (f && f->type == QK__F_NUM)
					memcpy((char *)&ps->cfg->control + f->off, &ci->param[i],
					       sizeof(double));
			}
			ret = add_field(ps, name, QK__S_CONTROL, offsetof(struct qk_config, control),
					cp->name, why, n);
		} else {
			ret = add(ps, name, why, n);
			if (!ret) {
				struct qk_param_info *p = &ps->st.p[ps->st.n - 1];

				ps->d[ps->st.n - 1].src = QK_PS_CONTROLLER;
				p->type = QK_PT_NUM;
				p->min = cp->min;
				p->max = cp->max;
				p->value = p->initial = ci->param[i];
			}
		}
		if (ret)
			return ret;
		ps->d[ps->st.n - 1].ctl_index = (uint16_t)i;
	}
	return 0;
}

int qk_params_build(struct qk_params *ps, struct qk_config *cfg, struct qk_ctl_instance *ci,
		    char *why, size_t n)
{
	static const char *const limits[] = { "sensor_stale_cycles", "clear_ticks", "confidence_min" };
	const size_t lim = offsetof(struct qk_config, limits), tank = offsetof(struct qk_config, tank);
	char name[QK_PARAM_NAME_LEN + 16];
	int ret;

	memset(ps, 0, sizeof(*ps));
	ps->cfg = cfg;
	ps->ctl = ci;
	if ((ret = controller_params(ps, ci, why, n)))
		return ret;
	for (unsigned i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "limits.%s", limits[i]);
		if ((ret = add_field(ps, name, QK__S_LIMITS, lim, limits[i], why, n)))
			return ret;
	}
	if ((ret = add_field(ps, "tank.min_bar", QK__S_TANK, tank, "min_bar", why, n)) ||
	    (ret = add_field(ps, "tank.max_bar", QK__S_TANK, tank, "max_bar", why, n)) ||
	    (ret = add_field(ps, "battery.soc_min", QK__S_BATTERY,
			     offsetof(struct qk_config, battery), "soc_min", why, n)))
		return ret;
	for (uint32_t i = 0; i < cfg->n_thermal && i < QK_MAX_THERMAL; i++) {
		size_t base = offsetof(struct qk_config, thermal) + i * sizeof(cfg->thermal[0]);

		for (int k = 0; k < 2; k++) {
			snprintf(name, sizeof(name), "thermal.%.*s.%s", QK_NAME_LEN,
				 cfg->thermal[i].name, k ? "max_k" : "min_k");
			ret = add_field(ps, name, QK__S_THERMAL, base, k ? "max_k" : "min_k", why, n);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int qk_params_find(const struct qk_params *ps, const char *name)
{
	for (uint32_t i = 0; i < ps->st.n; i++)
		if (!strcmp(ps->st.p[i].name, name))
			return (int)i;
	return -1;
}

bool qk_param_in_range(const struct qk_param_info *p, double v)
{
	if (!isfinite(v) || v > p->max || v < p->min)
		return false;
	if ((p->flags & QK_PARAMF_MIN_OPEN) && v == p->min)
		return false;
	return p->type != QK_PT_U32 || v == floor(v);
}

void qk_param_range_words(const struct qk_param_info *p, char *buf, size_t n)
{
	if (p->type == QK_PT_U32)
		snprintf(buf, n, "integer %.0f..%.0f", p->min, p->max);
	else
		snprintf(buf, n, "%c%g, %g]", p->flags & QK_PARAMF_MIN_OPEN ? '(' : '[', p->min, p->max);
}

/* A refusal's reason, cut to what a reply holds. */
__attribute__((format(printf, 2, 3)))
static void reason(char why[QK_REASON_LEN], const char *fmt, ...)
{
	char text[160];
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	len = strnlen(text, QK_REASON_LEN - 1);
	memcpy(why, text, len);
	why[len] = '\0';
}

/* "NAME WORDS", or just the words when both do not fit a reply: the
 * sender knows what it asked for, the range it may not. */
static void named(char why[QK_REASON_LEN], const struct qk_param_info *p, const char *sep,
		  const char *words)
{
	if (strlen(p->name) + strlen(sep) + strlen(words) < QK_REASON_LEN)
		reason(why, "%s%s%s", p->name, sep, words);
	else
		reason(why, "%s", words);
}

static void out_of_range(const struct qk_param_info *p, double v, char why[QK_REASON_LEN])
{
	char range[64], words[96];

	qk_param_range_words(p, range, sizeof(range));
	snprintf(words, sizeof(words), "%g outside %s", v, range);
	named(why, p, " ", words);
}

/* Copies the reason without formatting when it is a literal. */
static int refuse(char why[QK_REASON_LEN], int code, const char *text)
{
	size_t len = strnlen(text, QK_REASON_LEN - 1);

	memcpy(why, text, len);
	why[len] = '\0';
	return code;
}

/* The configuration field's own checks on a scratch copy of its struct:
 * the table's domain and bound, then the validator's relations. */
static int check_field(const struct qk_params *ps, const struct qk_param_def *d,
		       const struct qk_param_info *p, double v, char why[QK_REASON_LEN])
{
	const struct qk__field *f = d->field;
	/* the largest struct a parameter lives in (a thermal node's, 96 bytes) */
	_Alignas(8) unsigned char scratch[128];
	size_t size = d->section == QK__S_THERMAL ? sizeof(struct qk_thermal_cfg)
		    : d->section == QK__S_TANK ? sizeof(struct qk_tank_cfg)
		    : d->section == QK__S_BATTERY ? sizeof(struct qk_battery_cfg)
		    : d->section == QK__S_LIMITS ? sizeof(struct qk_limits_cfg)
		    : sizeof(struct qk_control_cfg);
	char words[64];

	_Static_assert(sizeof(struct qk_thermal_cfg) <= 128 && sizeof(struct qk_battery_cfg) <= 128 &&
		       sizeof(struct qk_tank_cfg) <= 128 && sizeof(struct qk_limits_cfg) <= 128 &&
		       sizeof(struct qk_control_cfg) <= 128, "scratch too small");
	memcpy(scratch, (const char *)ps->cfg + d->base, size);
	if (f->type == QK__F_U32) {
		uint32_t u;

		if (!(v >= 0 && v <= UINT32_MAX && v == floor(v)))
			goto range;	/* before the conversion: out of range, it is undefined */
		u = (uint32_t)v;
		memcpy(scratch + f->off, &u, sizeof(u));
	} else {
		memcpy(scratch + f->off, &v, sizeof(v));
	}
	if (!qk__config_field_ok(f, scratch))
		goto range;
	const struct qk__relation *r = qk__config_relation_broken(d->section, f, scratch);

	if (r) {
		qk__config_relation_words(r, f, scratch, words, sizeof(words));
		named(why, p, ": ", words);
		return -ERANGE;
	}
	return 0;
range:
	out_of_range(p, v, why);
	return -ERANGE;
}

static void apply(struct qk_params *ps, const struct qk_param_def *d, double v)
{
	struct qk_ctl_instance *ci = ps->ctl;

	if (d->src == QK_PS_CONFIG) {
		const struct qk__field *f = d->field;
		char *at = (char *)ps->cfg + d->base + f->off;

		if (f->type == QK__F_U32) {
			uint32_t u = (uint32_t)v;

			memcpy(at, &u, sizeof(u));
		} else {
			memcpy(at, &v, sizeof(v));
		}
	}
	if (d->ctl_index != QK_PARAM_NO_CTL && ci && ci->c && ci->c->set_param) {
		ci->c->set_param(ci->state, d->ctl_index, v);
		ci->param[d->ctl_index] = v;
	}
}

void qk_params_write(struct qk_params *ps, uint32_t index, double v)
{
	if (index >= ps->st.n || index >= QK_MAX_PARAMS)
		return;
	apply(ps, &ps->d[index], v);
	ps->st.p[index].value = v;
}

int qk_params_set(struct qk_params *ps, uint32_t hash, double v, int64_t now_ns, uint64_t cycle,
		  int32_t who, char why[QK_REASON_LEN])
{
	struct qk_param_status *st = &ps->st;
	uint32_t i;
	int ret;

	for (i = 0; i < st->n && i < QK_MAX_PARAMS; i++)
		if (ps->d[i].hash == hash)
			break;
	if (i >= st->n || i >= QK_MAX_PARAMS)
		return refuse(why, -ENOENT, "no such parameter (qikictl param list)");

	struct qk_param_info *p = &st->p[i];
	const struct qk_param_def *d = &ps->d[i];

	if (d->src == QK_PS_CONFIG) {
		if ((ret = check_field(ps, d, p, v, why)))
			return ret;
	} else if (!qk_param_in_range(p, v)) {
		out_of_range(p, v, why);
		return -ERANGE;
	}
	struct qk_param_change *c = &st->changes[st->n_changes % QK_PARAM_HISTORY];

	c->time_ns = now_ns;
	c->cycle = cycle;
	c->index = i;
	c->who = who;
	c->old_value = p->value;
	c->value = v;
	apply(ps, d, v);
	p->value = v;
	st->n_changes++;
	why[0] = '\0';
	return 0;
}
