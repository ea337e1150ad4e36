/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/sim/plant.c - the plant: configuration check, physics step and sensors.
 * The laws and the fault semantics are in rt/sim/plant.h; faults, POST and
 * commands are in rt/sim/post.c.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rt/sim/plant.h"

/* Gaussians per sense, in a fixed order so the stream never depends on
 * faults: IMU 0..2, NAV 3..8, TANK 9..10, BATTERY 11..13, THERMAL 14..
 * (plan_groups() lays them out). */
#define G_TEMP  14

static void plan_groups(struct qk_plant *p);

__attribute__((format(printf, 3, 4)))
static int bad(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (why && n) {
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool named(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL && s[0] != '\0';
}

static bool nonneg(double x)
{
	return isfinite(x) && x >= 0.0;
}

static int check_thrusters(const struct qk_config *c, char *why, size_t n)
{
	if (c->n_thrusters == 0)
		return bad(why, n, "no thrusters (n_thrusters = 0)");
	if (c->n_thrusters > QK_MAX_THRUSTERS)
		return bad(why, n, "n_thrusters %u > %d", c->n_thrusters, QK_MAX_THRUSTERS);
	for (unsigned i = 0; i < c->n_thrusters; i++) {
		const struct qk_thruster_cfg *t = &c->thruster[i];
		double d = sqrt(t->dir[0] * t->dir[0] + t->dir[1] * t->dir[1] +
				t->dir[2] * t->dir[2]);

		if (!named(t->name, sizeof(t->name)))
			return bad(why, n, "thruster %u: empty or unterminated name", i);
		if (!isfinite(d) || d < 1e-9)
			return bad(why, n, "thruster '%s': direction is not a vector", t->name);
		if (!nonneg(t->max_thrust_n) || !nonneg(t->power_w))
			return bad(why, n, "thruster '%s': max_thrust_n and power_w must be >= 0",
				   t->name);
	}
	return 0;
}

static int check_thermal(const struct qk_config *c, char *why, size_t n)
{
	if (c->n_thermal > QK_MAX_THERMAL)
		return bad(why, n, "n_thermal %u > %d", c->n_thermal, QK_MAX_THERMAL);
	for (unsigned i = 0; i < c->n_thermal; i++) {
		const struct qk_thermal_cfg *t = &c->thermal[i];

		if (!named(t->name, sizeof(t->name)))
			return bad(why, n, "thermal node %u: empty or unterminated name", i);
		if (!(isfinite(t->capacity_j_per_k) && t->capacity_j_per_k > 0.0))
			return bad(why, n, "thermal node '%s': capacity_j_per_k must be > 0", t->name);
		if (!nonneg(t->radiator_area_m2) || !nonneg(t->emissivity) || t->emissivity > 1.0)
			return bad(why, n, "thermal node '%s': need area >= 0 and emissivity in 0..1",
				   t->name);
		if (!isfinite(t->absorbed_w) || !nonneg(t->heater_w) ||
		    !nonneg(t->load_share) || t->load_share > 1.0)
			return bad(why, n, "thermal node '%s': need heater_w >= 0, load_share in 0..1",
				   t->name);
		if (!(isfinite(t->initial_k) && t->initial_k > 0.0))
			return bad(why, n, "thermal node '%s': initial_k must be > 0 K", t->name);
		for (unsigned j = 0; j < c->n_thermal; j++) {
			double g = c->coupling_w_per_k[i][j];

			if (i == j)
				continue;
			if (!nonneg(g))
				return bad(why, n, "coupling_w_per_k[%u][%u] must be >= 0", i, j);
			if (g != c->coupling_w_per_k[j][i])
				return bad(why, n, "coupling_w_per_k[%u][%u] != [%u][%u]: "
					   "conductances must be symmetric", i, j, j, i);
		}
	}
	return 0;
}

static int check_devices(const struct qk_config *c, char *why, size_t n)
{
	if (c->n_devices > QK_MAX_DEVICES)
		return bad(why, n, "n_devices %u > %d", c->n_devices, QK_MAX_DEVICES);
	for (unsigned i = 0; i < c->n_devices; i++) {
		const struct qk_device_cfg *d = &c->device[i];

		if (!named(d->name, sizeof(d->name)))
			return bad(why, n, "device %u: empty or unterminated name", i);
		if (!strcmp(d->name, "all"))
			return bad(why, n, "device %u: 'all' is reserved", i);
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(d->name, c->device[j].name))
				return bad(why, n, "device '%s' named twice", d->name);
		if (d->type >= QK_DEV_TYPE_COUNT)
			return bad(why, n, "device '%s': unknown type %u", d->name, d->type);
		if (d->type == QK_DEV_ACTUATOR && d->index >= c->n_thrusters)
			return bad(why, n, "device '%s': thruster index %u, only %u thrusters",
				   d->name, d->index, c->n_thrusters);
		if (d->type != QK_DEV_SENSOR)
			continue;
		if (d->sensor > QK_SK_THERMAL)
			return bad(why, n, "device '%s': unknown sensor kind %u", d->name, d->sensor);
		if (d->sensor == QK_SK_THERMAL && d->index >= c->n_thermal)
			return bad(why, n, "device '%s': thermal node %u, only %u nodes",
				   d->name, d->index, c->n_thermal);
	}
	return 0;
}

static int check(const struct qk_config *c, char *why, size_t n)
{
	const struct qk_tank_cfg *t = &c->tank;
	const struct qk_battery_cfg *b = &c->battery;
	const struct qk_noise_cfg *z = &c->noise;
	int ret;

	if (!(isfinite(c->dry_mass_kg) && c->dry_mass_kg > 0.0))
		return bad(why, n, "dry_mass_kg must be > 0 (got %g)", c->dry_mass_kg);
	if (!nonneg(t->propellant_kg))
		return bad(why, n, "tank.propellant_kg must be >= 0 (got %g)", t->propellant_kg);
	if (!(isfinite(t->isp_s) && t->isp_s > 0.0))
		return bad(why, n, "tank.isp_s must be > 0 (got %g)", t->isp_s);
	if (!(isfinite(t->p_full_bar) && t->p_full_bar > 0.0) || !nonneg(t->p_empty_bar) ||
	    t->p_empty_bar > t->p_full_bar)
		return bad(why, n, "tank: need p_full_bar > 0 and 0 <= p_empty_bar <= p_full_bar "
			   "(got %g, %g)", t->p_full_bar, t->p_empty_bar);
	if (!(isfinite(b->capacity_wh) && b->capacity_wh > 0.0))
		return bad(why, n, "battery.capacity_wh must be > 0 (got %g)", b->capacity_wh);
	if (!(isfinite(b->v_empty) && b->v_empty > 0.0) || !isfinite(b->v_full) ||
	    b->v_full < b->v_empty)
		return bad(why, n, "battery: need 0 < v_empty <= v_full (got %g, %g)",
			   b->v_empty, b->v_full);
	if (!nonneg(b->r_internal_ohm) || !nonneg(b->electronics_w) ||
	    !nonneg(b->initial_soc) || b->initial_soc > 1.0)
		return bad(why, n, "battery: need r_internal_ohm >= 0, electronics_w >= 0, "
			   "initial_soc in 0..1");
	if (!nonneg(z->accel_mps2) || !nonneg(z->pos_m) || !nonneg(z->vel_mps) ||
	    !nonneg(z->temp_k) || !nonneg(z->pressure_bar) || !nonneg(z->voltage_v) ||
	    !nonneg(z->soc) || !isfinite(z->accel_bias_mps2))
		return bad(why, n, "noise: every sigma must be >= 0");
	ret = check_thrusters(c, why, n);
	if (!ret)
		ret = check_thermal(c, why, n);
	if (!ret)
		ret = check_devices(c, why, n);
	return ret;
}

static int node_named(const struct qk_config *c, const char *name)
{
	for (unsigned i = 0; i < c->n_thermal; i++)
		if (!strcmp(c->thermal[i].name, name))
			return (int)i;
	return -1;
}

double qk_plant_tank_pressure(const struct qk_plant *p, double propellant_kg)
{
	const struct qk_tank_cfg *t = &p->cfg.tank;
	double u;

	if (p->ullage_k < 0.0)
		return t->p_full_bar;
	if (p->propellant0_kg <= 0.0)
		return t->p_empty_bar;
	u = 1.0 - propellant_kg / p->propellant0_kg;
	u = u < 0.0 ? 0.0 : u > 1.0 ? 1.0 : u;
	if (u >= 1.0)
		return t->p_empty_bar;	/* exact at empty, whatever the rounding */
	if (p->ullage_k == 0.0)
		return u > 0.0 ? 0.0 : t->p_full_bar;
	return t->p_full_bar * p->ullage_k / (p->ullage_k + u);
}

/* Solves P = (OCV - I R) I for the smaller root; see plant.h. */
static void battery(struct qk_plant *p, double load_w)
{
	const struct qk_battery_cfg *b = &p->cfg.battery;
	double ocv = b->v_empty + p->soc * (b->v_full - b->v_empty);
	double r = b->r_internal_ohm;
	double disc = ocv * ocv - 4.0 * r * load_w;
	double i;

	if (disc >= 0.0)
		i = 2.0 * load_w / (ocv + sqrt(disc));
	else
		i = ocv / (2.0 * r);	/* past maximum power: disc < 0 implies r > 0 */
	p->load_w = load_w;
	p->batt_a = i;
	p->batt_v = ocv - i * r;
}

int qk_plant_init(struct qk_plant *p, const struct qk_config *cfg, uint64_t seed,
		  char *why, size_t n)
{
	const struct qk_tank_cfg *t;
	double r;
	int ret;

	memset(p, 0, sizeof(*p));
	if (why && n)
		why[0] = '\0';
	ret = check(cfg, why, n);
	if (ret)
		return ret;
	p->cfg = *cfg;
	for (unsigned i = 0; i < cfg->n_thrusters; i++) {
		double *d = p->cfg.thruster[i].dir;
		double m = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);

		for (int k = 0; k < 3; k++)
			d[k] /= m;
	}
	qk_rng_seed(&p->rng, seed);

	t = &p->cfg.tank;
	r = t->p_empty_bar / t->p_full_bar;
	p->ullage_k = r >= 1.0 ? -1.0 : r / (1.0 - r);
	p->propellant0_kg = t->propellant_kg;
	p->propellant_kg = t->propellant_kg;
	p->tank_bar = qk_plant_tank_pressure(p, p->propellant_kg);

	p->soc = p->cfg.battery.initial_soc;
	battery(p, p->cfg.battery.electronics_w);

	for (unsigned i = 0; i < cfg->n_thermal; i++)
		p->temp_k[i] = cfg->thermal[i].initial_k;
	p->prop_node = node_named(cfg, "propulsion");
	p->batt_node = node_named(cfg, "battery");
	plan_groups(p);
	return 0;
}

static double clamp01(double x)
{
	return x > 0.0 ? (x < 1.0 ? x : 1.0) : 0.0;	/* NaN -> 0 */
}

/* Throttle and heater commands after the faults; valve power in *valve_w. */
static void actuation(struct qk_plant *p, const struct qk_actuator_frame *act, double *valve_w)
{
	const struct qk_config *c = &p->cfg;

	for (unsigned i = 0; i < c->n_thrusters; i++)
		p->valve[i] = act ? clamp01(act->throttle[i]) : 0.0;
	for (unsigned i = 0; i < c->n_thermal; i++)
		p->heater[i] = act ? clamp01(act->heater[i]) : 0.0;
	for (unsigned j = 0; j < p->n_act_dev; j++) {
		unsigned d = p->act_dev[j];
		uint32_t k = p->fault[d];

		if (k == QK_FAULT_NONE)
			continue;
		if (k == QK_FAULT_STUCK)
			p->valve[c->device[d].index] = clamp01(p->fault_value[d]);
		else if (k == QK_FAULT_DROPOUT || k == QK_FAULT_POST_FAIL)
			p->valve[c->device[d].index] = 0.0;
	}
	*valve_w = 0.0;
	for (unsigned i = 0; i < c->n_thrusters; i++)
		*valve_w += c->thruster[i].power_w * p->valve[i];
}

static void propulsion(struct qk_plant *p, double dt)
{
	const struct qk_config *c = &p->cfg;
	double pf = p->tank_bar / c->tank.p_full_bar;
	double mass = c->dry_mass_kg + p->propellant_kg;
	double f[3] = { 0.0, 0.0, 0.0 };
	double thrust = 0.0, used, scale = 1.0;

	for (unsigned i = 0; i < c->n_thrusters; i++) {
		p->thrust_n[i] = p->propellant_kg > 0.0 ?
				 p->valve[i] * c->thruster[i].max_thrust_n * pf : 0.0;
		thrust += p->thrust_n[i];
	}
	used = thrust / (c->tank.isp_s * QK_PLANT_G0) * dt;
	if (used > p->propellant_kg) {
		/* the tank runs dry within this step: burn what is left */
		scale = p->propellant_kg / used;
		used = p->propellant_kg;
	}
	for (unsigned i = 0; i < c->n_thrusters; i++) {
		p->thrust_n[i] *= scale;
		for (int k = 0; k < 3; k++)
			f[k] += p->thrust_n[i] * c->thruster[i].dir[k];
	}
	for (int k = 0; k < 3; k++) {
		p->acc[k] = f[k] / mass;
		p->vel[k] += p->acc[k] * dt;
		p->pos[k] += p->vel[k] * dt;
	}
	p->propellant_kg = scale < 1.0 ? 0.0 : p->propellant_kg - used;
	if (p->propellant_kg < 0.0)
		p->propellant_kg = 0.0;
	p->tank_bar = qk_plant_tank_pressure(p, p->propellant_kg);
}

static void thermal(struct qk_plant *p, double valve_w, double dt)
{
	const struct qk_config *c = &p->cfg;
	double q[QK_MAX_THERMAL];

	for (unsigned i = 0; i < c->n_thermal; i++) {
		const struct qk_thermal_cfg *t = &c->thermal[i];
		double T = p->temp_k[i], T4 = T * T * T * T;

		q[i] = t->absorbed_w + t->load_share * c->battery.electronics_w +
		       t->heater_w * p->heater[i] -
		       t->emissivity * QK_PLANT_SIGMA * t->radiator_area_m2 * T4;
		for (unsigned j = 0; j < c->n_thermal; j++)
			if (j != i)
				q[i] += c->coupling_w_per_k[i][j] * (p->temp_k[j] - T);
		if ((int)i == p->prop_node)
			q[i] += valve_w;
		if ((int)i == p->batt_node)
			q[i] += p->batt_a * p->batt_a * c->battery.r_internal_ohm;
	}
	for (unsigned i = 0; i < c->n_thermal; i++) {
		p->temp_k[i] += q[i] / c->thermal[i].capacity_j_per_k * dt;
		if (p->temp_k[i] < 0.0)
			p->temp_k[i] = 0.0;	/* only a far too long step gets here */
	}
}

void qk_plant_step(struct qk_plant *p, const struct qk_actuator_frame *act, double dt)
{
	const struct qk_config *c = &p->cfg;
	const struct qk_battery_cfg *b = &c->battery;
	double valve_w, load;

	if (!(dt > 0.0) || !isfinite(dt))
		return;
	actuation(p, act, &valve_w);
	propulsion(p, dt);

	load = b->electronics_w + valve_w;
	for (unsigned i = 0; i < c->n_thermal; i++)
		load += c->thermal[i].heater_w * p->heater[i];
	battery(p, load);
	/* thermal sees this step's current, then the charge is drawn */
	thermal(p, valve_w, dt);
	p->soc -= (p->batt_v + p->batt_a * b->r_internal_ohm) * p->batt_a * dt /
		  (b->capacity_wh * 3600.0);
	if (p->soc < 0.0)
		p->soc = 0.0;

	p->steps++;
	p->time_s += dt;
}

/* ---- sensors ---------------------------------------------------------- */

#define TRUTH(m) offsetof(struct qk_plant, m)
#define FIELD(m) offsetof(struct qk_sensor_frame, m)

static void plan_field(struct qk_plant_group *g, size_t truth, size_t field, double sigma,
		       double bias)
{
	g->truth[g->n] = (uint16_t)truth;
	g->field[g->n] = (uint16_t)field;
	g->sigma[g->n] = sigma;
	g->bias[g->n] = bias;
	g->n++;
}

/* The groups in the order of their gaussians: IMU 0..2, NAV 3..8, TANK
 * 9..10, BATTERY 11..13, THERMAL 14..; then who measures each. */
static void plan_groups(struct qk_plant *p)
{
	const struct qk_config *c = &p->cfg;
	const struct qk_noise_cfg *z = &c->noise;
	struct qk_plant_group *g = p->group;
	unsigned gauss = 0;
	_Static_assert(sizeof(struct qk_plant) < 65536, "group offsets are 16-bit");

	memset(p->group, 0, sizeof(p->group));
	for (int k = 0; k < 3; k++)
		plan_field(&g[0], TRUTH(acc) + 8 * k, FIELD(accel_mps2) + 8 * k, z->accel_mps2,
			   z->accel_bias_mps2);
	g[0].valid = QK_VALID_IMU;
	for (int k = 0; k < 3; k++)
		plan_field(&g[1], TRUTH(pos) + 8 * k, FIELD(pos_m) + 8 * k, z->pos_m, 0);
	for (int k = 0; k < 3; k++)
		plan_field(&g[1], TRUTH(vel) + 8 * k, FIELD(vel_mps) + 8 * k, z->vel_mps, 0);
	g[1].valid = QK_VALID_NAV;
	plan_field(&g[2], TRUTH(tank_bar), FIELD(tank_bar), z->pressure_bar, 0);
	plan_field(&g[2], TRUTH(propellant_kg), FIELD(propellant_kg), 0, 0);
	g[2].valid = QK_VALID_TANK;
	plan_field(&g[3], TRUTH(batt_v), FIELD(batt_v), z->voltage_v, 0);
	plan_field(&g[3], TRUTH(batt_a), FIELD(batt_a), 0, 0);
	plan_field(&g[3], TRUTH(soc), FIELD(batt_soc), z->soc, 0);
	g[3].valid = QK_VALID_BATTERY;
	g[0].primary = 3;
	g[1].primary = 6;
	g[2].primary = g[3].primary = 1;
	p->n_groups = 4 + c->n_thermal;
	for (unsigned i = 0; i < c->n_thermal; i++) {
		plan_field(&g[4 + i], TRUTH(temp_k) + 8 * i, FIELD(temp_k) + 8 * i, z->temp_k, 0);
		g[4 + i].valid = QK_VALID_TEMP(i);
		g[4 + i].primary = 1;
	}
	for (unsigned i = 0; i < p->n_groups; i++) {
		g[i].gauss = (uint8_t)gauss;
		gauss += g[i].n;
	}
	for (unsigned d = 0; d < QK_MAX_DEVICES; d++)
		p->dev_group[d] = -1;
	for (unsigned d = 0; d < c->n_devices; d++) {
		const struct qk_device_cfg *dc = &c->device[d];
		int k = dc->type != QK_DEV_SENSOR ? -1 :
			dc->sensor == QK_SK_IMU ? 0 : dc->sensor == QK_SK_NAV ? 1 :
			dc->sensor == QK_SK_TANK ? 2 : dc->sensor == QK_SK_BATTERY ? 3 :
			dc->sensor == QK_SK_THERMAL ? 4 + (int)dc->index : -1;

		if (k < 0 || k >= (int)p->n_groups)
			continue;	/* init's check refuses a node out of range */
		p->dev_group[d] = (int8_t)k;
		g[k].dev[g[k].n_dev++] = (uint8_t)d;
	}
	p->n_act_dev = 0;
	for (unsigned d = 0; d < c->n_devices; d++)
		if (c->device[d].type == QK_DEV_ACTUATOR)
			p->act_dev[p->n_act_dev++] = (uint8_t)d;
}

static double truth(const struct qk_plant *p, const struct qk_plant_group *g, unsigned i)
{
	double v;

	memcpy(&v, (const char *)p + g->truth[i], sizeof(v));
	return v;
}

static double *field(struct qk_sensor_frame *f, const struct qk_plant_group *g, unsigned i)
{
	return (double *)(void *)((char *)f + g->field[i]);
}

void qk__plant_hold(struct qk_plant *p, unsigned dev)
{
	int k = dev < QK_MAX_DEVICES ? p->dev_group[dev] : -1;

	if (k < 0)
		return;
	const struct qk_plant_group *g = &p->group[k];
	bool seen = p->sensed && (p->last.valid & g->valid);

	for (unsigned i = 0; i < g->n; i++) {
		p->held[dev][i] = seen ? *field(&p->last, g, i) : truth(p, g, i);
		if (i < g->primary && p->fault_value[dev] != 0.0)
			p->held[dev][i] = p->fault_value[dev];
	}
}

/* The first device of the group that answers, or -1. */
static int serving(const struct qk_plant *p, const struct qk_plant_group *g)
{
	for (unsigned j = 0; j < g->n_dev; j++) {
		unsigned d = g->dev[j];

		if (p->fault[d] != QK_FAULT_DROPOUT && p->fault[d] != QK_FAULT_POST_FAIL)
			return (int)d;
	}
	return -1;
}

static void sense_group(struct qk_plant *p, struct qk_sensor_frame *f,
			const struct qk_plant_group *g, const double *gauss)
{
	int d = serving(p, g);

	if (d < 0) {
		for (unsigned i = 0; i < g->n; i++)
			*field(f, g, i) = 0.0;
		return;
	}
	f->valid |= g->valid;
	uint32_t kind = p->fault[d];

	if (kind == QK_FAULT_NONE) {	/* the usual case, without the fault's terms */
		for (unsigned i = 0; i < g->n; i++)
			*field(f, g, i) = truth(p, g, i) + g->bias[i] + gauss[i] * g->sigma[i];
		return;
	}
	if (kind == QK_FAULT_STUCK) {
		for (unsigned i = 0; i < g->n; i++)
			*field(f, g, i) = p->held[d][i];
		return;
	}
	for (unsigned i = 0; i < g->n; i++) {
		double sigma = g->sigma[i], bias = g->bias[i];

		if (i < g->primary && kind == QK_FAULT_NOISE)
			sigma = hypot(sigma, p->fault_value[d]);
		if (i < g->primary && kind == QK_FAULT_BIAS)
			bias += p->fault_value[d];
		*field(f, g, i) = truth(p, g, i) + bias + gauss[i] * sigma;
	}
}

void qk_plant_sense(struct qk_plant *p, struct qk_sensor_frame *f)
{
	const struct qk_config *c = &p->cfg;
	double gauss[G_TEMP + QK_MAX_THERMAL];

	qk_rng_gauss_fill(&p->rng, gauss, G_TEMP + c->n_thermal);
	f->valid = 0;
	for (unsigned k = 0; k < p->n_groups; k++)
		sense_group(p, f, &p->group[k], gauss + p->group[k].gauss);
	f->mass_kg = (f->valid & QK_VALID_TANK) ? c->dry_mass_kg + f->propellant_kg : 0.0;
	for (unsigned i = c->n_thermal; i < QK_MAX_THERMAL; i++)
		f->temp_k[i] = 0.0;
	f->n_thermal = c->n_thermal;
	p->last = *f;
	p->sensed = true;
}
