/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/agent/control.c - PD, thrust allocation, heaters; see rt/agent/control.h. */
#include <math.h>
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

void qk_control_allocate_made(const struct qk_config *cfg, double p_bar, const double force[3],
			      double throttle[QK_MAX_THRUSTERS], double made[3])
{
	uint32_t n = cfg->n_thrusters < QK_MAX_THRUSTERS ? cfg->n_thrusters : QK_MAX_THRUSTERS;
	double d[QK_MAX_THRUSTERS][3], cap[QK_MAX_THRUSTERS], w[QK_MAX_THRUSTERS] = { 0 };
	double m[3][3] = { { 0 } }, r[3];
	double ratio = cfg->tank.p_full_bar > 0 ? p_bar / cfg->tank.p_full_bar : 0;
	double fn = sqrt(force[0] * force[0] + force[1] * force[1] + force[2] * force[2]);
	double db = cfg->control.deadband_n;

	memset(throttle, 0, QK_MAX_THRUSTERS * sizeof(double));
	if (made)
		memset(made, 0, 3 * sizeof(double));
	if (!(ratio > 0) || !isfinite(fn) || fn < db || fn == 0)
		return;
	if (ratio > PRESSURE_RATIO_MAX)
		ratio = PRESSURE_RATIO_MAX;
	/* unit directions and the force each can make at this pressure */
	for (uint32_t i = 0; i < n; i++) {
		const struct qk_thruster_cfg *t = &cfg->thruster[i];
		double len = sqrt(t->dir[0] * t->dir[0] + t->dir[1] * t->dir[1] + t->dir[2] * t->dir[2]);

		cap[i] = len > 0 && t->max_thrust_n > 0 ? t->max_thrust_n * len * ratio : 0;
		for (int a = 0; a < 3; a++)
			d[i][a] = cap[i] > 0 ? t->dir[a] / len : 0;
		for (int a = 0; a < 3; a++)
			for (int b = 0; b < 3; b++)
				m[a][b] += d[i][a] * d[i][b];
	}
	double lip = lambda_max(m);

	if (!(lip > 0))
		return;
	double step = 1 / (lip * (1 + 1e-9));	/* strictly under 2/L: monotone */

	for (int it = 0; it < QK_ALLOC_ITERS; it++) {
		double moved = 0;

		for (int a = 0; a < 3; a++)
			r[a] = -force[a];
		for (uint32_t i = 0; i < n; i++)
			for (int a = 0; a < 3; a++)
				r[a] += d[i][a] * w[i];
		/* Jacobi, not Gauss-Seidel: equal thrusters get equal updates */
		for (uint32_t i = 0; i < n; i++) {
			double g = d[i][0] * r[0] + d[i][1] * r[1] + d[i][2] * r[2];
			double x = w[i] - step * g;

			x = x < 0 ? 0 : x > cap[i] ? cap[i] : x;
			moved = fmax(moved, fabs(x - w[i]));
			w[i] = x;
		}
		if (moved <= 1e-12 * (fn + 1))
			break;	/* converged: later iterations would not move */
	}
	for (uint32_t i = 0; i < n; i++) {
		if (!(w[i] > 1e-9 * cap[i]))
			continue;	/* rounding dust, not a command */
		double u = w[i] / cap[i];

		throttle[i] = u > 1 ? 1 : u;
		if (made)
			for (int a = 0; a < 3; a++)
				made[a] += d[i][a] * cap[i] * throttle[i];
	}
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

void qk_control_heaters(const struct qk_config *cfg, const struct qk_sensor_frame *f,
			uint8_t on[QK_MAX_THERMAL], double heater[QK_MAX_THERMAL])
{
	uint32_t nt = cfg->n_thermal < QK_MAX_THERMAL ? cfg->n_thermal : QK_MAX_THERMAL;

	memset(heater, 0, QK_MAX_THERMAL * sizeof(double));
	for (uint32_t i = 0; i < QK_MAX_THERMAL; i++) {
		double lo, hi, t = f->temp_k[i];

		if (i >= nt || !(f->valid & QK_VALID_TEMP(i)) || !isfinite(t)) {
			on[i] = 0;	/* no reading: do not heat blind */
			continue;
		}
		qk_control_heater_band(&cfg->thermal[i], &lo, &hi);
		if (t < lo)
			on[i] = 1;
		else if (t >= hi)
			on[i] = 0;
		heater[i] = on[i] ? 1.0 : 0.0;
	}
}
