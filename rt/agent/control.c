/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/agent/control.c - PD, thrust allocation, heaters; see rt/agent/control.h. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "rt/agent/control.h"

#define PRESSURE_RATIO_MAX 2.0	/* a tank reading above this is not believed */
#define BRAKE_SHARE 0.8		/* of max_accel planned for braking: margin for noise */

void qk_control_force(const struct qk_config *cfg, const struct qk_sensor_frame *f,
		      const double setpoint[3], double force[3])
{
	const struct qk_control_cfg *k = &cfg->control;
	double e[3], a[3], en = 0, norm = 0, vcap = INFINITY;

	memset(force, 0, 3 * sizeof(double));
	if (!(f->valid & QK_VALID_NAV))
		return;
	for (int i = 0; i < 3; i++) {
		e[i] = setpoint[i] - f->pos_m[i];
		en += e[i] * e[i];
	}
	en = sqrt(en);
	/* a = kp e - kd v = kd (v_des - v) with v_des = (kp / kd) e; far out,
	 * v_des is capped to what BRAKE_SHARE of max_accel can stop in |e| */
	if (k->kd > 0)
		vcap = sqrt(2 * BRAKE_SHARE * k->max_accel_mps2 * en);
	double vd = k->kd > 0 ? k->kp / k->kd * en : 0;
	double vscale = vd > vcap ? vcap / vd : 1.0;

	for (int i = 0; i < 3; i++) {
		a[i] = k->kp * e[i] * vscale - k->kd * f->vel_mps[i];
		norm += a[i] * a[i];
	}
	norm = sqrt(norm);
	if (!isfinite(norm))
		return;
	/* clamp the vector, not each axis: the direction is kept */
	double scale = norm > k->max_accel_mps2 ? k->max_accel_mps2 / norm : 1.0;
	double mass = f->mass_kg > 0 && isfinite(f->mass_kg) ? f->mass_kg : cfg->dry_mass_kg;

	for (int i = 0; i < 3; i++)
		force[i] = mass * a[i] * scale;
}

double qk_control_tank_bar(const struct qk_config *cfg, const struct qk_sensor_frame *f)
{
	return (f->valid & QK_VALID_TANK) ? f->tank_bar : cfg->tank.p_full_bar;
}

/* Largest eigenvalue of a symmetric 3x3 matrix, in closed form. */
static double lambda_max(const double m[3][3])
{
	double p1 = m[0][1] * m[0][1] + m[0][2] * m[0][2] + m[1][2] * m[1][2];
	double q = (m[0][0] + m[1][1] + m[2][2]) / 3;

	if (p1 < 1e-30 * (q * q + 1e-300))
		return fmax(m[0][0], fmax(m[1][1], m[2][2]));
	double p2 = (m[0][0] - q) * (m[0][0] - q) + (m[1][1] - q) * (m[1][1] - q) +
		    (m[2][2] - q) * (m[2][2] - q) + 2 * p1;
	double p = sqrt(p2 / 6), b[3][3];

	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			b[i][j] = (m[i][j] - (i == j ? q : 0)) / p;
	double r = (b[0][0] * (b[1][1] * b[2][2] - b[1][2] * b[2][1]) -
		    b[0][1] * (b[1][0] * b[2][2] - b[1][2] * b[2][0]) +
		    b[0][2] * (b[1][0] * b[2][1] - b[1][1] * b[2][0])) / 2;
	double phi = r <= -1 ? M_PI / 3 : r >= 1 ? 0 : acos(r) / 3;

	return q + 2 * p * cos(phi);
}

void qk_control_plan_init(struct qk_control_plan *p, const struct qk_config *cfg)
{
	uint32_t n = cfg->n_thrusters < QK_MAX_THRUSTERS ? cfg->n_thrusters : QK_MAX_THRUSTERS;
	uint32_t nt = cfg->n_thermal < QK_MAX_THERMAL ? cfg->n_thermal : QK_MAX_THERMAL;
	double m[3][3] = { { 0 } };

	memset(p, 0, sizeof(*p));
	p->n = n;
	p->separable = 1;
	p->p_full_bar = cfg->tank.p_full_bar;
	p->deadband_n = cfg->control.deadband_n;
	for (uint32_t i = 0; i < n; i++) {
		const struct qk_thruster_cfg *t = &cfg->thruster[i];
		double len = sqrt(t->dir[0] * t->dir[0] + t->dir[1] * t->dir[1] + t->dir[2] * t->dir[2]);
		int axis = -1, axes = 0;

		p->cap[i] = len > 0 && t->max_thrust_n > 0 && isfinite(len * t->max_thrust_n) ?
			    t->max_thrust_n * len : 0;
		if (!(p->cap[i] > 0))
			continue;	/* a dead thruster: no direction, never fired */
		for (int a = 0; a < 3; a++) {
			p->d[i][a] = t->dir[a] / len;
			if (t->dir[a] != 0) {
				axis = a;
				axes++;
			}
		}
		for (int a = 0; a < 3; a++)
			for (int b = 0; b < 3; b++)
				m[a][b] += p->d[i][a] * p->d[i][b];
		if (axes != 1) {
			p->separable = 0;
			continue;
		}
		/* exactly on an axis: the unit direction is exactly +-1 there */
		p->d[i][axis] = t->dir[axis] > 0 ? 1.0 : -1.0;
		int s = t->dir[axis] > 0 ? 0 : 1;
		uint8_t *list = p->push[axis][s];
		int k = p->n_push[axis][s]++;

		/* insertion by capacity, weakest first; ties keep the index order */
		for (; k > 0 && p->cap[list[k - 1]] > p->cap[i]; k--)
			list[k] = list[k - 1];
		list[k] = (uint8_t)i;
	}
	double lip = lambda_max(m);

	p->step = lip > 0 ? 1 / (lip * (1 + 1e-9)) : 0;	/* strictly under 2/L: monotone */
	p->n_thermal = nt;
	for (uint32_t i = 0; i < nt; i++)
		qk_control_heater_band(&cfg->thermal[i], &p->heat_lo[i], &p->heat_hi[i]);
}

/* The pressure ratio thrust follows, 0 when nothing is to be fired. */
static double fire_ratio(const struct qk_control_plan *p, double p_bar, const double force[3])
{
	double ratio = p->p_full_bar > 0 ? p_bar / p->p_full_bar : 0;
	double f2 = force[0] * force[0] + force[1] * force[1] + force[2] * force[2];
	double db = p->deadband_n;

	/* |F| < deadband, compared squared; NaN and infinity fail too */
	if (!(ratio > 0) || !isfinite(f2) || f2 < db * db || f2 == 0 || !(p->step > 0))
		return 0;
	return ratio > PRESSURE_RATIO_MAX ? PRESSURE_RATIO_MAX : ratio;
}

/* Force units w[] (N at this pressure) to throttles, and what they make. */
static void finish(const struct qk_control_plan *p, double ratio, const double w[],
		   double throttle[QK_MAX_THRUSTERS], double made[3])
{
	for (uint32_t i = 0; i < p->n; i++) {
		double cap = p->cap[i] * ratio;

		if (!(w[i] > 1e-9 * cap))
			continue;	/* rounding dust, not a command */
		double u = w[i] / cap;

		throttle[i] = u > 1 ? 1 : u;
		if (made)
			for (int a = 0; a < 3; a++)
				made[a] += p->d[i][a] * cap * throttle[i];
	}
}

static void clear(double throttle[QK_MAX_THRUSTERS], double made[3])
{
	memset(throttle, 0, QK_MAX_THRUSTERS * sizeof(double));
	if (made)
		memset(made, 0, 3 * sizeof(double));
}

int qk_control_allocate_iterative(const struct qk_control_plan *p, double p_bar,
				  const double force[3], double throttle[QK_MAX_THRUSTERS],
				  double made[3])
{
	double w[QK_MAX_THRUSTERS] = { 0 }, cap[QK_MAX_THRUSTERS], r[3];
	double ratio = fire_ratio(p, p_bar, force), step = p->step;
	uint32_t n = p->n;
	int it = 0;

	clear(throttle, made);
	if (ratio == 0)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		cap[i] = p->cap[i] * ratio;
	while (it < QK_ALLOC_ITERS) {
		bool moved = false;

		it++;
		r[0] = -force[0];
		r[1] = -force[1];
		r[2] = -force[2];
		for (uint32_t i = 0; i < n; i++)
			for (int a = 0; a < 3; a++)
				r[a] += p->d[i][a] * w[i];
		/* Jacobi, not Gauss-Seidel: equal thrusters get equal updates */
		for (uint32_t i = 0; i < n; i++) {
			double g = p->d[i][0] * r[0] + p->d[i][1] * r[1] + p->d[i][2] * r[2];
			double x = w[i] - step * g;

			x = x < 0 ? 0 : x > cap[i] ? cap[i] : x;
			/* a throttle moving less than the resolution is settled */
			moved |= x - w[i] > QK_THROTTLE_RES * cap[i] ||
				 w[i] - x > QK_THROTTLE_RES * cap[i];
			w[i] = x;
		}
		if (!moved)
			break;
	}
	finish(p, ratio, w, throttle, made);
	return it;
}

/* Separable: per axis, water-fill |F_a| over the thrusters pushing its way. */
static void water_fill(const struct qk_control_plan *p, double ratio, const double force[3],
		       double w[QK_MAX_THRUSTERS])
{
	for (int a = 0; a < 3; a++) {
		int s = force[a] < 0;
		double rest = s ? -force[a] : force[a];
		const uint8_t *list = p->push[a][s];
		int k = p->n_push[a][s];

		/* weakest first: each either saturates or sets the level for the rest */
		for (int j = 0; j < k && rest > 0; j++) {
			double cap = p->cap[list[j]] * ratio, level = rest / (k - j);

			if (cap <= level) {
				w[list[j]] = cap;
				rest -= cap;
				continue;
			}
			for (; j < k; j++)
				w[list[j]] = level;
		}
	}
}

void qk_control_allocate_plan(const struct qk_control_plan *p, double p_bar,
			      const double force[3], double throttle[QK_MAX_THRUSTERS],
			      double made[3])
{
	double w[QK_MAX_THRUSTERS] = { 0 };
	double ratio;

	if (!p->separable) {
		qk_control_allocate_iterative(p, p_bar, force, throttle, made);
		return;
	}
	clear(throttle, made);
	ratio = fire_ratio(p, p_bar, force);
	if (ratio == 0)
		return;
	water_fill(p, ratio, force, w);
	finish(p, ratio, w, throttle, made);
}

void qk_control_allocate_made(const struct qk_config *cfg, double p_bar, const double force[3],
			      double throttle[QK_MAX_THRUSTERS], double made[3])
{
	struct qk_control_plan p;

	qk_control_plan_init(&p, cfg);
	qk_control_allocate_plan(&p, p_bar, force, throttle, made);
}

void qk_control_allocate(const struct qk_config *cfg, double p_bar, const double force[3],
			 double throttle[QK_MAX_THRUSTERS])
{
	qk_control_allocate_made(cfg, p_bar, force, throttle, NULL);
}

void qk_control_heater_band(const struct qk_thermal_cfg *t, double *lo_k, double *hi_k)
{
	double margin = 0.1 * (t->max_k - t->min_k);

	margin = margin < 1 ? 1 : margin > 10 ? 10 : margin;
	*lo_k = t->min_k + margin;
	*hi_k = t->min_k + 3 * margin;
	if (*hi_k > t->max_k - margin)
		*hi_k = t->max_k - margin;
	if (*hi_k < *lo_k)	/* a range too narrow for a band: a plain switch */
		*hi_k = *lo_k;
}

void qk_control_heaters_plan(const struct qk_control_plan *p, const struct qk_sensor_frame *f,
			     uint8_t on[QK_MAX_THERMAL], double heater[QK_MAX_THERMAL])
{
	for (uint32_t i = 0; i < QK_MAX_THERMAL; i++) {
		double t = f->temp_k[i];

		heater[i] = 0;
		if (i >= p->n_thermal || !(f->valid & QK_VALID_TEMP(i)) || !isfinite(t)) {
			on[i] = 0;	/* no reading: do not heat blind */
			continue;
		}
		if (t < p->heat_lo[i])
			on[i] = 1;
		else if (t >= p->heat_hi[i])
			on[i] = 0;
		heater[i] = on[i] ? 1.0 : 0.0;
	}
}

void qk_control_heaters(const struct qk_config *cfg, const struct qk_sensor_frame *f,
			uint8_t on[QK_MAX_THERMAL], double heater[QK_MAX_THERMAL])
{
	struct qk_control_plan p;

	qk_control_plan_init(&p, cfg);
	qk_control_heaters_plan(&p, f, on, heater);
}
