/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/agent/control.h - the ACTIVE controller, thrust allocation, and the heaters.
 *
 * Contract: pure functions of their inputs (the heaters' on/off state is
 * passed in and out); no allocation, no syscall, no clock: real-time safe,
 * bounded time (fixed iteration counts).
 *
 * Position: PD on the position error e with velocity damping,
 *   a = kp e - kd vel = kd (v_des - vel),  v_des = (kp / kd) e,
 * |a| clamped to max_accel_mps2 (the vector, so the direction is kept),
 *   F = mass a  (mass from the frame, dry mass when the tank reads invalid).
 * Far from the setpoint a clamped PD builds more speed than the clamped
 * acceleration can take off again, and overshoots (about 1 m from 10 m for
 * the bot); so |v_des| is also capped at sqrt(2 * 0.8 max_accel * |e|), the
 * speed that 80% of the acceleration can stop in the distance left.  Near
 * the setpoint (|e| < 1.6 max_accel kd^2 / kp^2, 3.2 m for the bot) the law
 * is the plain PD.
 * Allocation: thruster i at full throttle pushes b_i = dir_i max_thrust_n_i
 * p / p_full (thrust follows tank pressure).  We solve
 *   min |B u - F|^2  over u in [0, 1]^n
 * in the thrusters' own force units (w_i = |b_i| u_i).  Two solvers, one
 * answer:
 *  - Axis-separable layouts (every thruster along +-x, +-y or +-z; both
 *    built-in profiles are): the problem splits per axis, and on an axis
 *    only the thrusters pushing the way F points fire.  Their forces are
 *    water-filled: every one at the same level L, or at its capacity when
 *    that is less, with the sum = |F_a| (all at capacity when |F_a| is out
 *    of reach).  Closed form, no iteration: the thrusters are sorted by
 *    capacity once, at plan time (pressure scales them all alike).
 *  - Any other layout: projected gradient, step 1 / lambda_max(sum d_i d_i'),
 *    d_i the unit directions (a 3x3 eigenvalue in closed form, at plan
 *    time).  Jacobi updates from zero: parallel thrusters move together, so
 *    on a separable layout this converges to the same water-filled answer,
 *    which the randomised test in tests/agent/test_control.c checks.  It
 *    stops when no throttle moved by more than QK_THROTTLE_RES in an
 *    iteration, or after QK_ALLOC_ITERS.
 * Starting from zero, the thruster opposite to the force never opens.  When
 * F is out of reach the result is the closest force the thrusters can make:
 * each saturated axis gives what it has, the others are still met.  A
 * request under deadband_n fires nothing (the deadband is on the request,
 * not per thruster: two thrusters sharing a force just over it still fire).
 * Throttles under 1e-9 of a thruster's capacity are rounding dust: zero.
 *
 * Everything that depends only on the configuration (unit directions,
 * capacities, the axis lists, the step, the heater bands) is computed once
 * by qk_control_plan_init(); the qk_control_*_plan() calls use it.  The
 * calls taking a struct qk_config build a plan on their stack each time:
 * the same answers, for callers that do not keep one.
 *
 * Heaters: a thermostat per node with hysteresis: on below
 * min_k + margin, off above min_k + 3 margin (never above max_k - margin),
 * margin = 10% of the node's range, between 1 and 10 K.  An invalid
 * reading turns the heater off: we do not heat blind.
 */
#ifndef QK_RT_CONTROL_H
#define QK_RT_CONTROL_H

#include <stdint.h>

#include "shm/layout.h"

#define QK_ALLOC_ITERS 96
#define QK_THROTTLE_RES 1e-6	/* finer than a valve driver resolves (16-bit PWM: 1.5e-5) */

/* What the controller needs from the configuration, computed once. */
struct qk_control_plan {
	uint32_t n;				/* thrusters */
	uint32_t separable;			/* every thruster along one axis */
	double d[QK_MAX_THRUSTERS][3];		/* unit directions, 0 for a dead thruster */
	double cap[QK_MAX_THRUSTERS];		/* N at the full-tank pressure, 0 when dead */
	double step;				/* 1 / lambda_max; 0: nothing can push */
	double p_full_bar, deadband_n;
	/* separable: per axis and sign (0 +, 1 -), who pushes that way, weakest first */
	uint8_t n_push[3][2];
	uint8_t push[3][2][QK_MAX_THRUSTERS];
	uint32_t n_thermal;
	double heat_lo[QK_MAX_THERMAL], heat_hi[QK_MAX_THERMAL];	/* thermostat bands */
};

/* The force (N) the PD law asks for; zero when nav reads invalid. */
void qk_control_force(const struct qk_config *cfg, const struct qk_sensor_frame *f,
		      const double setpoint[3], double force[3]);

/* The tank pressure the thrusters see: the reading, or p_full_bar when the
 * tank sensor reads invalid. */
double qk_control_tank_bar(const struct qk_config *cfg, const struct qk_sensor_frame *f);

/* Throttles in [0, 1] for `force` at tank pressure p_bar; slots past
 * n_thrusters are zero.  Returns the force they make in *made (may be NULL). */
void qk_control_allocate(const struct qk_config *cfg, double p_bar, const double force[3],
			 double throttle[QK_MAX_THRUSTERS]);
void qk_control_allocate_made(const struct qk_config *cfg, double p_bar, const double force[3],
			      double throttle[QK_MAX_THRUSTERS], double made[3]);

/* The plan for cfg (any configuration the agent accepts). */
void qk_control_plan_init(struct qk_control_plan *p, const struct qk_config *cfg);

/* qk_control_allocate_made() on a plan: the closed form on a separable
 * layout, the projected gradient otherwise.  made may be NULL. */
void qk_control_allocate_plan(const struct qk_control_plan *p, double p_bar,
			      const double force[3], double throttle[QK_MAX_THRUSTERS],
			      double made[3]);
/* The projected gradient whatever the layout (the closed form's referee in
 * tests); returns the iterations it took. */
int qk_control_allocate_iterative(const struct qk_control_plan *p, double p_bar,
				  const double force[3], double throttle[QK_MAX_THRUSTERS],
				  double made[3]);

/* qk_control_heaters() on a plan's bands. */
void qk_control_heaters_plan(const struct qk_control_plan *p, const struct qk_sensor_frame *f,
			     uint8_t on[QK_MAX_THERMAL], double heater[QK_MAX_THERMAL]);

/* Thermostat: `on` holds each node's heater state between calls (zero it
 * at start); heater[] gets 0 or 1. */
void qk_control_heaters(const struct qk_config *cfg, const struct qk_sensor_frame *f,
			uint8_t on[QK_MAX_THERMAL], double heater[QK_MAX_THERMAL]);

/* The thermostat's band for node i: on below *lo_k, off above *hi_k. */
void qk_control_heater_band(const struct qk_thermal_cfg *t, double *lo_k, double *hi_k);

#endif
