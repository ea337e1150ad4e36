/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/config/config.c - names, the field tables and the checks.
 * Built-in profiles are in profiles.c, the dump in dump.c, the YAML reader in
 * yaml.c; the format is described in config.h.
 */
#include "rt/config/config.h"
#include "rt/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGMA 5.670374419e-8	/* Stefan-Boltzmann, W/m^2/K^4, as the plant's */

/* ---- names -------------------------------------------------------------- */

static const char *const wake_names[] = { "timer", "futex", "spin", "lockstep" };

const char *const qk__dev_type_names[QK_DEV_TYPE_COUNT] = {
	"sensor", "actuator", "power", "comms", "controller"
};

const char *const qk__sensor_names[QK_SK_THERMAL + 1] = {
	"none", "imu", "nav", "tank", "battery", "thermal"
};

int qk__config_lookup(const char *const *names, unsigned count, const char *s)
{
	for (unsigned i = 0; s && i < count; i++)
		if (!strcmp(names[i], s))
			return (int)i;
	return -1;
}

const char *qk_wake_mode_name(unsigned mode)
{
	return mode < 4 ? wake_names[mode] : "unknown";
}

int qk_wake_mode_parse(const char *s)
{
	return qk__config_lookup(wake_names, 4, s);
}

int qk_config_device(const struct qk_config *c, const char *name)
{
	for (unsigned i = 0; name && i < c->n_devices && i < QK_MAX_DEVICES; i++)
		if (!strncmp(c->device[i].name, name, QK_NAME_LEN))
			return (int)i;
	return -1;
}

int qk__config_name_ok(const char *s)
{
	size_t len = strnlen(s, QK_NAME_LEN);

	/* A plain YAML scalar that needs no quoting, and a name qikictl can type. */
	if (len == 0 || len >= QK_NAME_LEN || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

/* ---- the field tables ----------------------------------------------------- */

/* Every number has a plausible magnitude, mx: far beyond any bot or ship
 * this loop drives, but a typo's 1e300 (which would make the plant's
 * arithmetic overflow to inf and nan) is refused with the field named. */
#define NUM(s, k, c, mx, u, cm) { #k, QK__F_NUM, QK__C_##c, offsetof(struct s, k), u, 0, 0, cm, mx }
#define VEC(s, k, c, mx, u, cm) { #k, QK__F_VEC3, QK__C_##c, offsetof(struct s, k), u, 0, 0, cm, mx }
#define U32(s, k, l, h, u, cm) { #k, QK__F_U32, 0, offsetof(struct s, k), u, l, h, cm, 0 }

static const struct qk__field top_fields[] = {
	U32(qk_config, rate_hz, 1, 100000, "Hz", "the cycle rate of sim and agent"),
	{ "wake", QK__F_WAKE, 0, offsetof(struct qk_config, wake_mode), NULL, 0, 0,
	  "how the agent wakes: timer, futex, spin, lockstep", 0 },
	{ "agent_phase_ns", QK__F_I64, 0, offsetof(struct qk_config, agent_phase_ns), "ns", 0, 0,
	  "timer mode: the agent wakes this long after the sim; 0 derives it", 1e9 },
	{ "seed", QK__F_U64, 0, offsetof(struct qk_config, seed), NULL, 0, 0,
	  "sensor noise; the same seed replays bit for bit", 0 },
	NUM(qk_config, dry_mass_kg, POS, 1e6, "kg", "without propellant"),
};

static const struct qk__field tank_fields[] = {
	NUM(qk_tank_cfg, propellant_kg, NONNEG, 1e6, "kg", "initial load"),
	NUM(qk_tank_cfg, p_full_bar, POS, 1e3, "bar", "blow-down: pressure when full"),
	NUM(qk_tank_cfg, p_empty_bar, NONNEG, 1e3, "bar", "... falling to this when empty"),
	NUM(qk_tank_cfg, isp_s, POS, 1e4, "s", "specific impulse"),
	NUM(qk_tank_cfg, min_bar, NONNEG, 1e3, "bar", "guard: below -> SAFE"),
	NUM(qk_tank_cfg, max_bar, POS, 1e3, "bar", "guard: above -> SAFE"),
};

static const struct qk__field battery_fields[] = {
	NUM(qk_battery_cfg, capacity_wh, POS, 1e7, "Wh", NULL),
	NUM(qk_battery_cfg, v_full, POS, 1e3, "V", "open-circuit voltage at 100%"),
	NUM(qk_battery_cfg, v_empty, POS, 1e3, "V", "... and at 0%"),
	NUM(qk_battery_cfg, r_internal_ohm, NONNEG, 1e3, "ohm", NULL),
	NUM(qk_battery_cfg, initial_soc, FRAC, 1, NULL, "state of charge at start"),
	NUM(qk_battery_cfg, electronics_w, NONNEG, 1e6, "W", "constant bus load, heats the nodes"),
	NUM(qk_battery_cfg, soc_min, FRAC, 1, NULL, "guard: below -> SAFE"),
};

static const struct qk__field noise_fields[] = {
	NUM(qk_noise_cfg, accel_mps2, NONNEG, 100, "m/s^2", "1-sigma white noise"),
	NUM(qk_noise_cfg, pos_m, NONNEG, 1e3, "m", NULL),
	NUM(qk_noise_cfg, vel_mps, NONNEG, 100, "m/s", NULL),
	NUM(qk_noise_cfg, temp_k, NONNEG, 100, "kelvin", NULL),
	NUM(qk_noise_cfg, pressure_bar, NONNEG, 100, "bar", NULL),
	NUM(qk_noise_cfg, voltage_v, NONNEG, 100, "V", NULL),
	NUM(qk_noise_cfg, soc, NONNEG, 1, NULL, NULL),
	NUM(qk_noise_cfg, accel_bias_mps2, ANY, 100, "m/s^2", "constant, on each axis"),
};

static const struct qk__field control_fields[] = {
	NUM(qk_control_cfg, kp, POS, 1e4, "1/s^2", "PD gain on the position error"),
	NUM(qk_control_cfg, kd, NONNEG, 1e4, "1/s", "... and on the velocity"),
	NUM(qk_control_cfg, max_accel_mps2, POS, 1e3, "m/s^2", "commanded acceleration limit"),
	NUM(qk_control_cfg, deadband_n, NONNEG, 1e4, "N", "forces below this are not fired"),
};

static const struct qk__field limits_fields[] = {
	U32(qk_limits_cfg, sensor_stale_cycles, 1, 1000000, "cycles",
	    "agent: no new sensor frame this long -> SAFE"),
	U32(qk_limits_cfg, actuator_watchdog_cycles, 1, 1000000, "cycles",
	    "sim: no new actuator frame this long -> thrusters off"),
	U32(qk_limits_cfg, clear_ticks, 0, 1000000, "cycles",
	    "a guard must be clear this long before RESET"),
	NUM(qk_limits_cfg, confidence_min, CONF, 1, NULL, "evaluator drops proposals below it"),
	NUM(qk_limits_cfg, health_min, FRAC, 1, NULL, "BIOS health below it: not all-systems-go"),
};

static const struct qk__field thruster_fields[] = {
	{ "name", QK__F_NAME, 0, offsetof(struct qk_thruster_cfg, name), NULL, 0, 0, NULL, 0 },
	VEC(qk_thruster_cfg, pos_m, ANY, 1e3, "m", NULL),
	VEC(qk_thruster_cfg, dir, DIR, 1, NULL, NULL),
	NUM(qk_thruster_cfg, max_thrust_n, POS, 1e7, "N", NULL),
	NUM(qk_thruster_cfg, power_w, NONNEG, 1e7, "W", NULL),
};

static const struct qk__field thermal_fields[] = {
	{ "name", QK__F_NAME, 0, offsetof(struct qk_thermal_cfg, name), NULL, 0, 0, NULL, 0 },
	NUM(qk_thermal_cfg, capacity_j_per_k, POS, 1e9, "J/K", NULL),
	NUM(qk_thermal_cfg, radiator_area_m2, NONNEG, 1e4, "m^2", NULL),
	NUM(qk_thermal_cfg, emissivity, FRAC, 1, NULL, NULL),
	NUM(qk_thermal_cfg, absorbed_w, NONNEG, 1e7, "W", NULL),
	NUM(qk_thermal_cfg, load_share, FRAC, 1, NULL, NULL),
	NUM(qk_thermal_cfg, heater_w, NONNEG, 1e7, "W", NULL),
	NUM(qk_thermal_cfg, initial_k, POS, 1e4, "kelvin", NULL),
	NUM(qk_thermal_cfg, min_k, POS, 1e4, "kelvin", NULL),
	NUM(qk_thermal_cfg, max_k, POS, 1e4, "kelvin", NULL),
};

#define N(a) (unsigned)(sizeof(a) / sizeof((a)[0]))

static const struct qk__section_desc sections[QK__S_COUNT] = {
	[QK__S_TOP] = { top_fields, N(top_fields), NULL, NULL, 0 },
	[QK__S_TANK] = { tank_fields, N(tank_fields), "tank",
			 "propellant tank; thrust follows its pressure",
			 offsetof(struct qk_config, tank) },
	[QK__S_BATTERY] = { battery_fields, N(battery_fields), "battery", NULL,
			    offsetof(struct qk_config, battery) },
	[QK__S_NOISE] = { noise_fields, N(noise_fields), "noise", "sensor noise and bias",
			  offsetof(struct qk_config, noise) },
	[QK__S_CONTROL] = { control_fields, N(control_fields), "control", NULL,
			    offsetof(struct qk_config, control) },
	[QK__S_LIMITS] = { limits_fields, N(limits_fields), "limits", "guards and thresholds",
			   offsetof(struct qk_config, limits) },
	[QK__S_THRUSTER] = { thruster_fields, N(thruster_fields), "thrusters",
			     "force max_thrust_n along dir, at pos_m from the centre of mass",
			     offsetof(struct qk_config, thruster) },
	[QK__S_THERMAL] = { thermal_fields, N(thermal_fields), "thermal",
			    "nodes radiate to space; min_k/max_k are the guard's limits",
			    offsetof(struct qk_config, thermal) },
};

const struct qk__section_desc *qk__config_section(unsigned section)
{
	return section < QK__S_COUNT ? &sections[section] : NULL;
}

const struct qk__field *qk__config_fields(unsigned section, unsigned *count,
					  const char **key, size_t *base)
{
	if (section >= QK__S_COUNT)
		return NULL;
	*count = sections[section].count;
	*key = sections[section].key;
	*base = sections[section].base;
	return sections[section].f;
}

void qk__config_expect(const struct qk__field *f, char *buf, size_t n)
{
	static const char *const cons[] = {
		[QK__C_ANY] = "", [QK__C_POS] = " > 0", [QK__C_NONNEG] = " >= 0",
		[QK__C_FRAC] = " in 0..1", [QK__C_CONF] = " in (0, 1]",
		[QK__C_DIR] = ", a non-zero direction",
	};
	const char *in = f->unit ? " in " : "", *unit = f->unit ? f->unit : "";
	char most[48] = "";

	/* the plausibility bound, where the domain does not already say it */
	if (f->max > 0 && f->cons != QK__C_FRAC && f->cons != QK__C_CONF && f->cons != QK__C_DIR)
		snprintf(most, sizeof(most), ", at most %s%.15g", f->cons == QK__C_ANY ? "+-" : "", f->max);
	switch (f->type) {
	case QK__F_NUM:
		snprintf(buf, n, "a number%s%s%s%s", in, unit, cons[f->cons], most);
		break;
	case QK__F_VEC3:
		snprintf(buf, n, "a list of 3 numbers%s%s%s%s", in, unit, cons[f->cons], most);
		break;
	case QK__F_U32:
		snprintf(buf, n, "an integer%s%s, %u..%u", in, unit, f->lo, f->hi);
		break;
	case QK__F_I64:
		snprintf(buf, n, "an integer%s%s, 0..%.0f", in, unit, f->max);
		break;
	case QK__F_U64:
		snprintf(buf, n, "an integer, 0..18446744073709551615");
		break;
	case QK__F_NAME:
		snprintf(buf, n, "a name of 1..%d letters, digits, '_', '.', '-'",
			 QK_NAME_LEN - 1);
		break;
	case QK__F_WAKE:
		snprintf(buf, n, "one of timer, futex, spin, lockstep");
		break;
	}
}

static bool num_ok(unsigned cons, double v, double max)
{
	if (max > 0 && !(fabs(v) <= max))
		return false;
	switch (cons) {
	case QK__C_POS: return isfinite(v) && v > 0.0;
	case QK__C_NONNEG: return isfinite(v) && v >= 0.0;
	case QK__C_FRAC: return isfinite(v) && v >= 0.0 && v <= 1.0;
	case QK__C_CONF: return isfinite(v) && v > 0.0 && v <= 1.0;
	default: return isfinite(v);
	}
}

int qk__config_field_ok(const struct qk__field *f, const void *base)
{
	const char *p = (const char *)base + f->off;
	const double *d = (const double *)(const void *)p;
	uint32_t u;
	int64_t i;

	switch (f->type) {
	case QK__F_NUM:
		return num_ok(f->cons, d[0], f->max);
	case QK__F_VEC3:
		if (f->cons == QK__C_DIR) {
			double m = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);

			/* normalised, to well within what the plant would notice */
			return isfinite(m) && fabs(m - 1.0) <= 1e-6;
		}
		return num_ok(f->cons, d[0], f->max) && num_ok(f->cons, d[1], f->max) &&
		       num_ok(f->cons, d[2], f->max);
	case QK__F_U32:
		memcpy(&u, p, sizeof(u));
		return u >= f->lo && u <= f->hi;
	case QK__F_I64:
		memcpy(&i, p, sizeof(i));
		return i >= 0 && (double)i <= f->max;
	case QK__F_NAME:
		return memchr(p, '\0', QK_NAME_LEN) && qk__config_name_ok(p);
	case QK__F_WAKE:
		memcpy(&u, p, sizeof(u));
		return u < 4;
	default:
		return 1;
	}
}

/* ---- checks ----------------------------------------------------------------- */

struct chk {
	char *path, *msg;
	size_t pn, mn;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct chk *k, const char *path, const char *fmt, ...)
{
	va_list ap;

	snprintf(k->path, k->pn, "%s", path);
	va_start(ap, fmt);
	vsnprintf(k->msg, k->mn, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The value a field holds, as text, for "got ...". */
static void field_text(const struct qk__field *f, const void *base, char *buf, size_t n)
{
	const char *p = (const char *)base + f->off;
	const double *d = (const double *)(const void *)p;
	uint32_t u;
	int64_t i;

	switch (f->type) {
	case QK__F_NUM: snprintf(buf, n, "%.17g", d[0]); break;
	case QK__F_VEC3: snprintf(buf, n, "[%.17g, %.17g, %.17g]", d[0], d[1], d[2]); break;
	case QK__F_I64: memcpy(&i, p, sizeof(i)); snprintf(buf, n, "%lld", (long long)i); break;
	case QK__F_NAME: snprintf(buf, n, "'%.*s'", QK_NAME_LEN, p); break;
	default: memcpy(&u, p, sizeof(u)); snprintf(buf, n, "%u", u); break;
	}
}

static int check_fields(struct chk *k, unsigned section, const void *base, const char *prefix)
{
	const struct qk__field *f = sections[section].f;
	char path[64], exp[96], got[96];

	for (unsigned i = 0; i < sections[section].count; i++) {
		if (qk__config_field_ok(&f[i], base))
			continue;
		snprintf(path, sizeof(path), "%s%s%s", prefix ? prefix : "", prefix ? "." : "",
			 f[i].key);
		qk__config_expect(&f[i], exp, sizeof(exp));
		if (f[i].cons == QK__C_DIR)
			snprintf(exp, sizeof(exp), "a unit vector");
		field_text(&f[i], base, got, sizeof(got));
		return fail(k, path, "expected %s, got %s", exp, got);
	}
	return 0;
}

/* ---- relations between fields ------------------------------------------------ */

static const struct qk__relation relations[] = {
	{ QK__S_TANK, "p_empty_bar", "p_full_bar" },
	{ QK__S_TANK, "min_bar", "max_bar" },
	{ QK__S_BATTERY, "v_empty", "v_full" },
	{ QK__S_BATTERY, "soc_min", NULL },
	{ QK__S_THERMAL, "min_k", "max_k" },
};

const struct qk__field *qk__config_field(unsigned section, const char *key)
{
	for (unsigned i = 0; key && section < QK__S_COUNT && i < sections[section].count; i++)
		if (!strcmp(sections[section].f[i].key, key))
			return &sections[section].f[i];
	return NULL;
}

static double num_at(const struct qk__field *f, const void *base)
{
	double v;

	memcpy(&v, (const char *)base + f->off, sizeof(v));
	return v;
}

static bool relation_holds(const struct qk__relation *r, const void *base)
{
	const struct qk__field *a = qk__config_field(r->section, r->key);
	const struct qk__field *b = qk__config_field(r->section, r->other);

	return num_at(a, base) < (b ? num_at(b, base) : 1.0);
}

const struct qk__relation *qk__config_relation_broken(unsigned section, const struct qk__field *f,
						      const void *base)
{
	for (unsigned i = 0; i < N(relations); i++) {
		const struct qk__relation *r = &relations[i];

		if (r->section != section || (strcmp(r->key, f->key) &&
					      (!r->other || strcmp(r->other, f->key))))
			continue;
		if (!relation_holds(r, base))
			return r;
	}
	return NULL;
}

void qk__config_relation_words(const struct qk__relation *r, const struct qk__field *f,
			       const void *base, char *buf, size_t n)
{
	bool mine = !strcmp(r->key, f->key);	/* f is the one that must stay below */
	const struct qk__field *o = qk__config_field(r->section, mine ? r->other : r->key);
	const char *unit = f->unit && !strcmp(f->unit, "kelvin") ? " K" : "";

	if (!o)
		snprintf(buf, n, "expected < 1");
	else
		snprintf(buf, n, "expected %c %s (%g%s)", mine ? '<' : '>', o->key, num_at(o, base), unit);
}

/* The relations of one struct, reported from the side of their first key. */
static int check_relations(struct chk *k, unsigned section, const void *base, const char *prefix)
{
	char path[64], words[96];

	for (unsigned i = 0; i < N(relations); i++) {
		const struct qk__relation *r = &relations[i];
		const struct qk__field *f = qk__config_field(section, r->key);

		if (r->section != section || relation_holds(r, base))
			continue;
		snprintf(path, sizeof(path), "%s.%s", prefix, r->key);
		qk__config_relation_words(r, f, base, words, sizeof(words));
		return fail(k, path, "%s, got %g", words, num_at(f, base));
	}
	return 0;
}

static int check_scalars(const struct qk_config *c, struct chk *k)
{
	int64_t period = 1000000000 / (c->rate_hz ? c->rate_hz : 1);
	int ret;

	if (!memchr(c->profile, '\0', QK_NAME_LEN) || !qk__config_name_ok(c->profile))
		return fail(k, "profile", "expected a name, got '%.*s'", QK_NAME_LEN, c->profile);
	ret = check_fields(k, QK__S_TOP, c, NULL);
	if (ret)
		return ret;
	if (c->agent_phase_ns >= period)
		return fail(k, "agent_phase_ns", "expected less than the period (%lld ns at %u Hz), "
			    "got %lld", (long long)period, c->rate_hz, (long long)c->agent_phase_ns);
	for (unsigned s = QK__S_TANK; s <= QK__S_LIMITS; s++) {
		ret = check_fields(k, s, (const char *)c + sections[s].base, sections[s].key);
		if (ret)
			return ret;
	}
	for (unsigned s = QK__S_TANK; s <= QK__S_LIMITS; s++) {
		ret = check_relations(k, s, (const char *)c + sections[s].base, sections[s].key);
		if (ret)
			return ret;
	}
	return 0;
}

static int check_thrusters(const struct qk_config *c, struct chk *k)
{
	char path[32];
	int ret;

	if (c->n_thrusters < 1 || c->n_thrusters > QK_MAX_THRUSTERS)
		return fail(k, "thrusters", "expected 1..%d thrusters, got %u",
			    QK_MAX_THRUSTERS, c->n_thrusters);
	for (unsigned i = 0; i < c->n_thrusters; i++) {
		snprintf(path, sizeof(path), "thrusters[%u]", i);
		ret = check_fields(k, QK__S_THRUSTER, &c->thruster[i], path);
		if (ret)
			return ret;
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(c->thruster[i].name, c->thruster[j].name))
				return fail(k, strcat(path, ".name"), "expected a unique name, "
					    "got '%s' as thrusters[%u] is", c->thruster[i].name, j);
	}
	return 0;
}

static int check_thermal(const struct qk_config *c, struct chk *k)
{
	const unsigned nt = c->n_thermal;
	double share = 0.0;
	char path[32];
	int ret;

	if (nt > QK_MAX_THERMAL)
		return fail(k, "thermal", "expected at most %d nodes, got %u", QK_MAX_THERMAL, nt);
	for (unsigned i = 0; i < nt; i++) {
		const struct qk_thermal_cfg *t = &c->thermal[i];

		snprintf(path, sizeof(path), "thermal[%u]", i);
		ret = check_fields(k, QK__S_THERMAL, t, path);
		if (ret)
			return ret;
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(t->name, c->thermal[j].name))
				return fail(k, strcat(path, ".name"), "expected a unique name, "
					    "got '%s' as thermal[%u] is", t->name, j);
		ret = check_relations(k, QK__S_THERMAL, t, path);
		if (ret)
			return ret;
		share += t->load_share;
	}
	if (share > 1.0 + 1e-9)
		return fail(k, "thermal", "expected load_share summing to at most 1, got %g", share);
	for (unsigned i = 0; i < QK_MAX_THERMAL; i++) {
		for (unsigned j = 0; j < QK_MAX_THERMAL; j++) {
			double g = c->coupling_w_per_k[i][j];

			if ((i >= nt || j >= nt || i == j) && g != 0.0)
				return fail(k, "coupling", "expected 0 at coupling_w_per_k[%u][%u] "
					    "(%s), got %g", i, j, i == j ? "a node to itself" :
					    "beyond the nodes", g);
			if (i < nt && j < nt && !(isfinite(g) && g >= 0.0 &&
						  g == c->coupling_w_per_k[j][i]))
				return fail(k, "coupling", "expected a symmetric conductance "
					    ">= 0 W/K between '%s' and '%s', got %g and %g",
					    c->thermal[i].name, c->thermal[j].name, g,
					    c->coupling_w_per_k[j][i]);
		}
	}
	return 0;
}

static int check_device(const struct qk_config *c, unsigned i, struct chk *k)
{
	const struct qk_device_cfg *d = &c->device[i];
	char path[32];
	int l = snprintf(path, sizeof(path), "devices[%u]", i);

	if (!memchr(d->name, '\0', QK_NAME_LEN) || !qk__config_name_ok(d->name) ||
	    !strcmp(d->name, "all"))
		return fail(k, strcat(path, ".name"), "expected a name other than 'all', got '%.*s'",
			    QK_NAME_LEN, d->name);
	for (unsigned j = 0; j < i; j++)
		if (!strcmp(d->name, c->device[j].name))
			return fail(k, strcat(path, ".name"), "expected a unique name, got '%s' "
				    "as devices[%u] is", d->name, j);
	snprintf(path + l, sizeof(path) - (size_t)l, ".type");
	if (d->type >= QK_DEV_TYPE_COUNT)
		return fail(k, path, "expected sensor, actuator, power, comms or controller, "
			    "got %u", d->type);
	snprintf(path + l, sizeof(path) - (size_t)l, ".sensor");
	if (d->type == QK_DEV_SENSOR && (d->sensor == QK_SK_NONE || d->sensor > QK_SK_THERMAL))
		return fail(k, path, "expected imu, nav, tank, battery or thermal, got %u", d->sensor);
	if (d->type != QK_DEV_SENSOR && d->sensor != QK_SK_NONE)
		return fail(k, path, "expected none for a device of type %s, got %u",
			    qk__dev_type_names[d->type], d->sensor);
	snprintf(path + l, sizeof(path) - (size_t)l, ".index");
	if (d->type == QK_DEV_ACTUATOR && d->index >= c->n_thrusters)
		return fail(k, path, "expected a thruster, 0..%u, got %u",
			    c->n_thrusters - 1, d->index);
	if (d->type == QK_DEV_SENSOR && d->sensor == QK_SK_THERMAL && d->index >= c->n_thermal)
		return fail(k, path, "expected a thermal node, 0..%d, got %u",
			    (int)c->n_thermal - 1, d->index);
	snprintf(path + l, sizeof(path) - (size_t)l, ".critical");
	if (d->critical > 1)
		return fail(k, path, "expected 0 or 1, got %u", d->critical);
	return 0;
}

static int check_devices(const struct qk_config *c, struct chk *k)
{
	int ret;

	if (c->n_devices > QK_MAX_DEVICES)
		return fail(k, "devices", "expected at most %d devices, got %u",
			    QK_MAX_DEVICES, c->n_devices);
	for (unsigned i = 0; i < c->n_devices; i++) {
		ret = check_device(c, i, k);
		if (ret)
			return ret;
	}
	/* Without a sensor the thermal guard of a node could never fire. */
	for (unsigned t = 0; t < c->n_thermal; t++) {
		unsigned i;

		for (i = 0; i < c->n_devices; i++)
			if (c->device[i].type == QK_DEV_SENSOR &&
			    c->device[i].sensor == QK_SK_THERMAL && c->device[i].index == t)
				break;
		if (i == c->n_devices)
			return fail(k, "devices", "expected a thermal sensor for node '%s' "
				    "(thermal[%u]), found none", c->thermal[t].name, t);
	}
	return 0;
}

int qk__config_check(const struct qk_config *c, char *path, size_t pn, char *msg, size_t mn)
{
	struct chk k = { path, msg, pn, mn };
	int ret = check_scalars(c, &k);

	if (!ret)
		ret = check_thrusters(c, &k);
	if (!ret)
		ret = check_thermal(c, &k);
	if (!ret)
		ret = check_devices(c, &k);
	return ret;
}

int qk_config_validate(const struct qk_config *c, char *why, size_t n)
{
	char path[64], msg[256];
	int ret = qk__config_check(c, path, sizeof(path), msg, sizeof(msg));

	if (ret && why && n)
		snprintf(why, n, "field '%s': %s", path, msg);
	return ret;
}

/* The file was read on top of the profile the user chose: say where the two
 * disagree, as the user meant both. */
static void config_order_warning(const struct qk_config *c, const struct qk_config_opts *o)
{
	struct qk_config chosen;
	char fields[384];

	if (qk_config_profile(&chosen, o->profile, NULL, 0))
		return;
	if (strncmp(c->profile, chosen.profile, QK_NAME_LEN)) {
		snprintf(o->warn, o->warn_n, "--config %s: its 'profile: %.*s' replaces --profile %s "
			 "(the file starts again from %.*s)", o->file, QK_NAME_LEN, c->profile,
			 o->profile, QK_NAME_LEN, c->profile);
		return;
	}
	if (qk__config_overrides(&chosen, c, fields, sizeof(fields)))
		snprintf(o->warn, o->warn_n, "--config %s overrides --profile %s: %s", o->file,
			 o->profile, fields);
}

int qk_config_from_options(struct qk_config *c, const struct qk_config_opts *o, char *why,
			   size_t n)
{
	char msg[512];
	uint64_t hz;
	int ret;

	if ((ret = qk_config_profile(c, o->profile ? o->profile : "bot", msg, sizeof(msg)))) {
		snprintf(why, n, "--profile: %s", msg);
		return ret;
	}
	if (o->warn && o->warn_n)
		o->warn[0] = 0;
	if (o->file && (ret = qk_config_load(c, o->file, why, n)))
		return ret;
	if (o->file && o->profile && o->warn && o->warn_n)
		config_order_warning(c, o);
	if (o->rate) {
		if (qk_parse_u64(o->rate, 1, 100000, &hz)) {
			snprintf(why, n, "--rate '%s': expected a rate in Hz, 1..100000", o->rate);
			return -EINVAL;
		}
		/* a timer phase is never scaled with the rate: the agent derives
		 * it from measured latencies (rt/agent/wake.h) */
		c->rate_hz = (uint32_t)hz;
	}
	if (o->seed && qk_parse_u64(o->seed, 0, UINT64_MAX, &c->seed)) {
		snprintf(why, n, "--seed '%s': expected a non-negative integer", o->seed);
		return -EINVAL;
	}
	return 0;
}
