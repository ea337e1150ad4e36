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
 * by projected gradient in the thrusters' own force units (w_i = |b_i| u_i,
 * step 1 / lambda_max(sum d_i d_i'), d_i the unit directions: a 3x3
 * eigenvalue in closed form).  That scaling makes parallel thrusters move
 * together (two per direction share the load, equal force each until the
 * weaker saturates) and makes axis-aligned layouts converge by half the
 * error per iteration, so QK_ALLOC_ITERS bounds it to ~1e-12 for the bot
 * and the ship.  Starting from zero, the thruster opposite to the force
 * never opens.  When F is out of reach the result is the closest force the
 * thrusters can make: each saturated axis gives what it has, the others
 * are still met.  A request under deadband_n fires nothing (the deadband is
 * on the request, not per thruster: two thrusters sharing a force just over
 * it still fire).
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

/* Thermostat: `on` holds each node's heater state between calls (zero it
 * at start); heater[] gets 0 or 1. */
void qk_control_heaters(const struct qk_config *cfg, const struct qk_sensor_frame *f,
			uint8_t on[QK_MAX_THERMAL], double heater[QK_MAX_THERMAL]);

/* The thermostat's band for node i: on below *lo_k, off above *hi_k. */
void qk_control_heater_band(const struct qk_thermal_cfg *t, double *lo_k, double *hi_k);

#endif
