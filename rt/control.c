/* rt/control.c - PD, thrust allocation, heaters; see rt/control.h. */
#include <math.h>
#include <string.h>

#include "rt/control.h"

#define HEAT_MARGIN_K 10.0	/* heaters full on this far above min_k ... */
#define HEAT_BAND_K   5.0	/* ... and off this much above that */

void qk_control_force(const struct qk_config *cfg, const struct qk_sensor_frame *f,
		      const double setpoint[3], double force[3])
{
	const struct qk_control_cfg *k = &cfg->control;
	double a[3], norm = 0;

	memset(force, 0, 3 * sizeof(double));
	if (!(f->valid & QK_VALID_NAV))
		return;
	for (int i = 0; i < 3; i++) {
		a[i] = k->kp * (setpoint[i] - f->pos_m[i]) - k->kd * f->vel_mps[i];
		norm += a[i] * a[i];
	}
	norm = sqrt(norm);
	double scale = norm > k->max_accel_mps2 ? k->max_accel_mps2 / norm : 1.0;
	double mass = f->mass_kg > 0 ? f->mass_kg : cfg->dry_mass_kg;

	for (int i = 0; i < 3; i++)
		force[i] = mass * a[i] * scale;
}

void qk_control_allocate(const struct qk_config *cfg, double p_bar, const double force[3],
			 double throttle[QK_MAX_THRUSTERS])
{
	uint32_t n = cfg->n_thrusters < QK_MAX_THRUSTERS ? cfg->n_thrusters : QK_MAX_THRUSTERS;
	double b[QK_MAX_THRUSTERS][3], lip = 0;
	double fn = sqrt(force[0] * force[0] + force[1] * force[1] + force[2] * force[2]);
	double ratio = cfg->tank.p_full_bar > 0 ? p_bar / cfg->tank.p_full_bar : 0;

	memset(throttle, 0, QK_MAX_THRUSTERS * sizeof(double));
	if (fn < cfg->control.deadband_n || ratio <= 0)
		return;
	for (uint32_t i = 0; i < n; i++)
		for (int a = 0; a < 3; a++) {
			b[i][a] = cfg->thruster[i].dir[a] * cfg->thruster[i].max_thrust_n * ratio;
			lip += b[i][a] * b[i][a];	/* trace(B'B) >= its largest eigenvalue */
		}
	if (lip <= 0)
		return;
	for (int it = 0; it < QK_ALLOC_ITERS; it++) {
		double r[3] = { -force[0], -force[1], -force[2] };

		for (uint32_t i = 0; i < n; i++)
			for (int a = 0; a < 3; a++)
				r[a] += b[i][a] * throttle[i];
		for (uint32_t i = 0; i < n; i++) {
			double g = b[i][0] * r[0] + b[i][1] * r[1] + b[i][2] * r[2];
			double u = throttle[i] - g / lip;

			throttle[i] = u < 0 ? 0 : u > 1 ? 1 : u;
		}
	}
}

void qk_control_heaters(const struct qk_config *cfg, const struct qk_sensor_frame *f,
			double heater[QK_MAX_THERMAL])
{
	memset(heater, 0, QK_MAX_THERMAL * sizeof(double));
	for (uint32_t i = 0; i < cfg->n_thermal && i < QK_MAX_THERMAL; i++) {
		if (!(f->valid & QK_VALID_TEMP(i)))
			continue;	/* no reading: do not heat blind */
		double on_below = cfg->thermal[i].min_k + HEAT_MARGIN_K;
		double h = (on_below + HEAT_BAND_K - f->temp_k[i]) / HEAT_BAND_K;

		heater[i] = h < 0 ? 0 : h > 1 ? 1 : h;
	}
}
