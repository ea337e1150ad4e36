/*
 * rt/control.h - the ACTIVE controller and the outputs of the other states.
 *
 * PD on the position error with velocity damping, acceleration clamped,
 * force = mass * acceleration, then thrust allocation: min |B u - F|^2 over
 * throttles u in [0, 1], B's columns the thrusters' force at the current
 * tank pressure, solved by projected gradient with a fixed iteration count
 * (bounded time, works for any thruster layout, never fires opposing pairs
 * from a cold start).  Heaters: a proportional thermostat per node.
 * Pure, allocation-free, real-time safe.
 */
#ifndef QK_RT_CONTROL_H
#define QK_RT_CONTROL_H

#include "shm/layout.h"

#define QK_ALLOC_ITERS 60

/* The force (N) the PD law asks for; zero when nav is invalid. */
void qk_control_force(const struct qk_config *cfg, const struct qk_sensor_frame *f,
		      const double setpoint[3], double force[3]);
/* Throttles for `force` at tank pressure p_bar; unused slots are zero. */
void qk_control_allocate(const struct qk_config *cfg, double p_bar, const double force[3],
			 double throttle[QK_MAX_THRUSTERS]);
/* Heater commands that keep each node above min_k with a margin. */
void qk_control_heaters(const struct qk_config *cfg, const struct qk_sensor_frame *f,
			double heater[QK_MAX_THERMAL]);

#endif
