/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/sim/plant.h - the plant simulator core: a pure, deterministic,
 * allocation-free model of the bot, its sensors and its faults.
 *
 * Contract
 * - Process-local: one struct qk_plant per simulator, used by one thread.
 *   It holds a private copy of the configuration and fixed arrays only.
 * - qk_plant_init() validates the configuration; everything else assumes a
 *   plant that init accepted.
 * - qk_plant_step() and qk_plant_sense() are real-time safe: no allocation,
 *   no syscall, no stdio, bounded work (O(thrusters + nodes^2 + devices)).
 *   The fault, POST and command functions are also allocation-free; they
 *   format their one-line reasons with snprintf.
 * - Deterministic: the same configuration, seed and sequence of calls
 *   (steps with the same actuator frames, senses, faults) give bit-identical
 *   sensor frames.  Every sense draws the same number of gaussians whatever
 *   the faults, so a fault on one device never shifts the noise of another.
 *
 * Physics (SI units, kelvin, bar; no gravity, no attitude: body = inertial)
 * - Thrust of thruster i: F_i = clamp(throttle_i, 0, 1) * max_thrust_n_i *
 *   p_tank / p_full along dir_i (normalised at init).  Mass flow:
 *   sum F_i / (isp * g0).  Within a step that would use more propellant
 *   than is left, every thrust is scaled down so that the tank ends exactly
 *   empty; an empty tank gives no thrust.  Mass = dry mass + propellant.
 * - Integration: semi-implicit Euler with the state at the start of the
 *   step: a = F / m, v += a dt, x += v dt.  The IMU measures a (specific
 *   force; there is no gravity).
 * - Tank blow-down, isothermal ullage gas over an incompressible liquid:
 *   p = p_full * k / (k + u), u = used / initial propellant (0..1), and
 *   k = V_ullage0 / V_propellant0 = r / (1 - r) with r = p_empty / p_full,
 *   so that p = p_empty exactly at empty.  r = 1 gives a constant pressure.
 * - Battery: OCV = v_empty + soc (v_full - v_empty); the load is
 *   P = electronics_w + sum power_w_i * valve_i + sum heater_w_j * heater_j,
 *   and the current solves P = (OCV - I R) I exactly:
 *   I = 2P / (OCV + sqrt(OCV^2 - 4 R P)) (past the maximum-power point,
 *   I = OCV / 2R).  Bus voltage V = OCV - I R.  SoC falls by the chemical
 *   energy OCV * I * dt over capacity_wh * 3600, and stops at 0 (the model
 *   does not brown out).  valve_i is the effective throttle: a thruster that
 *   is dropped out or failed draws nothing; one with an empty tank still
 *   draws its valve power.
 * - Thermal node i (explicit Euler, all nodes from the same start state):
 *   C_i dT_i/dt = absorbed_w_i + load_share_i * electronics_w
 *   + heater_w_i * heater_i + sum_j coupling[i][j] (T_j - T_i)
 *   - emissivity_i * sigma * area_i * T_i^4
 *   + (node named "propulsion") sum power_w_k * valve_k of the thrusters
 *   + (node named "battery") I^2 R of the battery.
 *   coupling must be symmetric (init refuses it otherwise); its diagonal is
 *   ignored.  Radiation is to deep space at 0 K.
 *
 * Sensors and devices
 * - Each device of type QK_DEV_SENSOR measures one group (cfg.sensor):
 *   IMU -> accel_mps2; NAV -> pos_m, vel_mps; TANK -> tank_bar,
 *   propellant_kg, mass_kg (dry + propellant); BATTERY -> batt_v, batt_a,
 *   batt_soc; THERMAL (index = node) -> temp_k[index].  A group is measured
 *   by the first device of its kind that is neither dropped out nor failed;
 *   with none, its valid bit is clear and its fields are 0.
 * - Reading = truth + configured bias + N(0, 1) * hypot(sigma, fault sigma)
 *   + fault bias.  Noise sigmas per field from cfg.noise (accel bias applies
 *   to each axis); current, propellant and mass have no configured noise.
 * - Fault values are in the unit of the device's primary quantity: IMU
 *   accel (all axes), NAV position and velocity (each in its own unit),
 *   TANK pressure, BATTERY voltage, THERMAL temperature.
 *   stuck: every field of the group frozen at its last reading when the
 *          fault was set (truth if it had none); a non-zero value replaces
 *          the primary quantity.  No noise while stuck.
 *   noise: extra 1-sigma = value (>= 0) on the primary quantity.
 *   bias: + value on the primary quantity.
 *   dropout, post-fail: the device is not used (see above).
 * - Thrusters are devices of type QK_DEV_ACTUATOR, index = thruster:
 *   stuck (valve at value in 0..1 whatever the command, NULL included),
 *   dropout and post-fail (no thrust, no power).
 * - POWER, COMMS and CONTROLLER devices take dropout and post-fail, which
 *   show in POST only.
 * - POST (qk_plant_post): OK, or: post-fail -> ERROR with the code in the
 *   fault value (0: CRITICAL_BOOT_FAILURE; COMPONENT_NOT_FOUND: NOT_FOUND);
 *   dropout -> ERROR TIMEOUT_RESPONSE; noise above the device's configured
 *   sigma (any noise when that is 0) -> WARNING UNSTABLE_READINGS.  Stuck
 *   and bias are silent, as they are in real hardware.
 */
#ifndef QK_RT_PLANT_H
#define QK_RT_PLANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt/sim/rng.h"
#include "shm/layout.h"

#define QK_PLANT_G0        9.80665		/* m/s^2, for isp */
#define QK_PLANT_SIGMA     5.670374419e-8	/* Stefan-Boltzmann, W/m^2/K^4 */
#define QK_PLANT_FIRMWARE  0x00010000u		/* reported in POST: 1.0.0 */
#define QK_PLANT_HELD      6			/* fields of the widest group (NAV) */
#define QK_PLANT_GROUPS    (4 + QK_MAX_THERMAL)	/* IMU, NAV, TANK, BATTERY, a node each */

/* A sensor group as init plans it, so that a sense is a walk over a table:
 * where its true values and its readings live, its configured noise, and
 * which devices measure it. */
struct qk_plant_group {
	uint32_t valid;			/* its QK_VALID_* bit */
	uint8_t n;			/* fields */
	uint8_t primary;		/* the first `primary` take fault noise and bias */
	uint8_t gauss;			/* its first gaussian of a sense's draw */
	uint8_t n_dev;			/* devices measuring it, in profile order */
	uint16_t truth[QK_PLANT_HELD];	/* byte offsets of the truth in struct qk_plant */
	uint16_t field[QK_PLANT_HELD];	/* ... of the reading in struct qk_sensor_frame */
	double sigma[QK_PLANT_HELD];
	double bias[QK_PLANT_HELD];
	uint8_t dev[QK_MAX_DEVICES];
};

struct qk_plant {
	struct qk_config cfg;		/* private copy, thruster dirs normalised */
	struct qk_rng rng;
	double time_s;
	uint64_t steps;
	/* translation */
	double pos[3], vel[3], acc[3];
	/* tank */
	double propellant0_kg;		/* at init: "full" */
	double propellant_kg;
	double tank_bar;
	double ullage_k;		/* k of the blow-down law; < 0: constant */
	/* battery */
	double soc, batt_v, batt_a, load_w;
	/* thermal */
	double temp_k[QK_MAX_THERMAL];
	int prop_node, batt_node;	/* -1 when the config has no such node */
	/* last step's effective actuation */
	double valve[QK_MAX_THRUSTERS];	/* throttle after faults */
	double thrust_n[QK_MAX_THRUSTERS];
	double heater[QK_MAX_THERMAL];
	/* faults, by device index */
	uint32_t fault[QK_MAX_DEVICES];	/* enum qk_fault_kind */
	double fault_value[QK_MAX_DEVICES];
	double held[QK_MAX_DEVICES][QK_PLANT_HELD];	/* stuck readings */
	/* the sensor groups, planned at init; the group of each device, -1 none */
	struct qk_plant_group group[QK_PLANT_GROUPS];
	uint32_t n_groups;
	int8_t dev_group[QK_MAX_DEVICES];
	uint8_t act_dev[QK_MAX_DEVICES];	/* the thrusters' devices, for their faults */
	uint32_t n_act_dev;
	/* the last frame sense produced: what a stuck sensor freezes */
	struct qk_sensor_frame last;
	bool sensed;
};

/* 0, or -EINVAL with a message in why (bad config: no thrusters, negative
 * mass, ...). */
int qk_plant_init(struct qk_plant *p, const struct qk_config *cfg, uint64_t seed,
		  char *why, size_t n);
/* One fixed step of dt seconds (dt <= 0 or not finite: nothing happens).
 * act == NULL means everything off (thrusters and heaters); a thruster stuck
 * open stays open. */
void qk_plant_step(struct qk_plant *p, const struct qk_actuator_frame *act, double dt);
/* Fills the measured fields of f (accel_mps2, pos_m, vel_mps, tank_bar,
 * propellant_kg, mass_kg, batt_v, batt_a, batt_soc, temp_k[], n_thermal,
 * valid); leaves the time, cycle and flags fields alone.  Consumes the RNG:
 * 14 + n_thermal gaussians per call. */
void qk_plant_sense(struct qk_plant *p, struct qk_sensor_frame *f);

/* The POST table, one entry per configured device.  post_count becomes
 * r->post_count + 1, so keep r between calls (zero it first); time_ns is 0
 * for the caller to set. */
void qk_plant_post(const struct qk_plant *p, struct qk_bios_report *r);
/* Fault injection by device name: 0, -ENOENT unknown device, -EINVAL a
 * fault that does not apply to that device or a bad value.  A new fault on
 * a device replaces its old one; kind QK_FAULT_NONE clears it.  why gets a
 * one-line reason (or what was done). */
int qk_plant_fault_set(struct qk_plant *p, const char *device, enum qk_fault_kind kind,
		       double value, char *why, size_t n);
/* Clears one device's fault, or every fault with "all". */
int qk_plant_fault_clear(struct qk_plant *p, const char *device_or_all, char *why, size_t n);
/* Fills n_faults, fault[] and fault_value[] (by device index). */
void qk_plant_fault_status(const struct qk_plant *p, struct qk_sim_status *st);
/* Applies a command from the sim's queue and fills the reply (id copied,
 * ACCEPTED, or REFUSED with code -errno and a reason).  FAULT_SET: name,
 * u[0] kind, arg[0] value; FAULT_CLEAR: name or "all"; POST, PING: accepted
 * (the caller republishes POST).  Returns true if the POST table changed. */
bool qk_plant_command(struct qk_plant *p, const struct qk_cmd *c, struct qk_reply *r);

/* Helpers */
/* Device index by name, or -ENOENT. */
int qk_plant_device_find(const struct qk_plant *p, const char *name);
/* "none", "stuck", "noise", "bias", "dropout", "post-fail", or "?". */
const char *qk_plant_fault_name(enum qk_fault_kind kind);
/* The blow-down law: tank pressure with this much propellant left. */
double qk_plant_tank_pressure(const struct qk_plant *p, double propellant_kg);
/* The POST entry of one device (used by qk_plant_post and to tell whether
 * a fault changed the table). */
void qk_plant_device_post(const struct qk_plant *p, unsigned dev, uint32_t *status,
			  uint32_t *code);
/* Internal, shared by plant.c and plant_post.c: freezes a device's current
 * readings into held[dev] for a stuck fault. */
void qk__plant_hold(struct qk_plant *p, unsigned dev);

#endif
