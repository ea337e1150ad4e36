/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/config/profiles.c - the built-in profiles, bot and ship: configurations
 * built in code, so a run needs no file (the files in rt/config/profiles/ are their dumps).
 */
#include "rt/config/config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGMA 5.670374419e-8	/* Stefan-Boltzmann, W/m^2/K^4, as the plant's */
#define N(a) (unsigned)(sizeof(a) / sizeof((a)[0]))

static void set_name(char *dst, const char *s)
{
	memset(dst, 0, QK_NAME_LEN);
	memcpy(dst, s, strnlen(s, QK_NAME_LEN - 1));
}

static void add_thruster(struct qk_config *c, const char *name, const double pos[3],
			 const double dir[3], double thrust_n, double power_w)
{
	struct qk_thruster_cfg *t = &c->thruster[c->n_thrusters++];

	set_name(t->name, name);
	memcpy(t->pos_m, pos, sizeof(t->pos_m));
	memcpy(t->dir, dir, sizeof(t->dir));
	t->max_thrust_n = thrust_n;
	t->power_w = power_w;
}

/* A node in equilibrium at 293 K: what it radiates = its share of the
 * electronics + what it absorbs from outside. */
static void add_node(struct qk_config *c, const char *name, double cap_j_per_k,
		     double area_m2, double share, double heater_w)
{
	struct qk_thermal_cfg *t = &c->thermal[c->n_thermal++];
	const double T = 293.0, eps = 0.8;

	set_name(t->name, name);
	t->capacity_j_per_k = cap_j_per_k;
	t->radiator_area_m2 = area_m2;
	t->emissivity = eps;
	t->absorbed_w = eps * SIGMA * area_m2 * T * T * T * T - share * c->battery.electronics_w;
	t->load_share = share;
	t->heater_w = heater_w;
	t->initial_k = T;
	t->min_k = 250.0;
	t->max_k = 330.0;
}

static void couple(struct qk_config *c, unsigned a, unsigned b, double w_per_k)
{
	c->coupling_w_per_k[a][b] = w_per_k;
	c->coupling_w_per_k[b][a] = w_per_k;
}

static void add_device(struct qk_config *c, const char *name, unsigned type,
		       unsigned sensor, unsigned index, bool critical)
{
	struct qk_device_cfg *d = &c->device[c->n_devices++];

	set_name(d->name, name);
	d->type = type;
	d->sensor = sensor;
	d->index = index;
	d->critical = critical;
}

/* Thrusters at +-arm along each axis, pushing toward +x, -x, +y, ...; with
 * `per` > 1 the copies are spread along the next axis by +-spread. */
static void add_thruster_set(struct qk_config *c, unsigned per, double arm_m,
			     double spread_m, double thrust_n, double power_w)
{
	static const char axis[] = "xyz";

	for (unsigned a = 0; a < 3; a++) {
		for (unsigned s = 0; s < 2; s++) {
			for (unsigned k = 0; k < per; k++) {
				double pos[3] = { 0, 0, 0 }, dir[3] = { 0, 0, 0 };
				char name[QK_NAME_LEN];

				dir[a] = s ? -1.0 : 1.0;
				pos[a] = s ? arm_m : -arm_m;	/* behind, pushing */
				if (per > 1)
					pos[(a + 1) % 3] = k ? -spread_m : spread_m;
				if (per > 1)
					snprintf(name, sizeof(name), "thr_%c%c%u", s ? 'n' : 'p',
						 axis[a], k + 1);
				else
					snprintf(name, sizeof(name), "thr_%c%c", s ? 'n' : 'p', axis[a]);
				add_thruster(c, name, pos, dir, thrust_n, power_w);
			}
		}
	}
}

/* Devices every profile has, then one per node and per thruster. */
static void add_devices(struct qk_config *c)
{
	char name[QK_NAME_LEN + 8];

	add_device(c, "imu", QK_DEV_SENSOR, QK_SK_IMU, 0, true);
	add_device(c, "nav", QK_DEV_SENSOR, QK_SK_NAV, 0, true);
	add_device(c, "tank_pressure", QK_DEV_SENSOR, QK_SK_TANK, 0, true);
	add_device(c, "battery_monitor", QK_DEV_SENSOR, QK_SK_BATTERY, 0, true);
	for (unsigned i = 0; i < c->n_thermal; i++) {
		snprintf(name, sizeof(name), "temp_%s", c->thermal[i].name);
		add_device(c, name, QK_DEV_SENSOR, QK_SK_THERMAL, i, false);
	}
	for (unsigned i = 0; i < c->n_thrusters; i++)
		add_device(c, c->thruster[i].name, QK_DEV_ACTUATOR, QK_SK_NONE, i, true);
	add_device(c, "power_unit", QK_DEV_POWER, QK_SK_NONE, 0, true);
	add_device(c, "comms", QK_DEV_COMMS, QK_SK_NONE, 0, false);
	add_device(c, "controller", QK_DEV_CONTROLLER, QK_SK_NONE, 0, true);
}

static void profile_bot(struct qk_config *c)
{
	set_name(c->profile, "bot");
	c->rate_hz = 1000;
	c->wake_mode = QK_WAKE_FUTEX;
	c->agent_phase_ns = 0;		/* timer mode: derived from measured latencies */
	c->seed = 1;
	c->dry_mass_kg = 20.0;
	c->tank = (struct qk_tank_cfg){ .propellant_kg = 5.0, .p_full_bar = 20.0,
		.p_empty_bar = 2.0, .isp_s = 70.0, .min_bar = 5.0, .max_bar = 25.0 };
	c->battery = (struct qk_battery_cfg){ .capacity_wh = 100.0, .v_full = 25.2,
		.v_empty = 19.8, .r_internal_ohm = 0.05, .initial_soc = 0.9,
		.electronics_w = 20.0, .soc_min = 0.2 };
	c->noise = (struct qk_noise_cfg){ .accel_mps2 = 0.002, .pos_m = 0.005,
		.vel_mps = 0.002, .temp_k = 0.05, .pressure_bar = 0.01, .voltage_v = 0.01,
		.soc = 0.001, .accel_bias_mps2 = 0.0 };
	c->control = (struct qk_control_cfg){ .kp = 1.0, .kd = 2.0, .max_accel_mps2 = 0.5,
		.deadband_n = 0.05 };
	c->limits = (struct qk_limits_cfg){ .sensor_stale_cycles = 50,
		.actuator_watchdog_cycles = 50, .clear_ticks = 3, .confidence_min = 0.6,
		.health_min = 0.8 };
	add_thruster_set(c, 1, 0.3, 0.0, 20.0, 5.0);
	add_node(c, "avionics", 2000.0, 0.05, 0.6, 10.0);
	add_node(c, "propulsion", 1500.0, 0.03, 0.2, 10.0);
	add_node(c, "battery", 3000.0, 0.03, 0.2, 10.0);
	couple(c, 0, 1, 0.5);
	couple(c, 0, 2, 0.5);
	add_devices(c);
}

/* The bot grown up: the same system as data, bigger and doubled. */
static void profile_ship(struct qk_config *c)
{
	profile_bot(c);
	memset(c->thruster, 0, sizeof(c->thruster));
	memset(c->thermal, 0, sizeof(c->thermal));
	memset(c->device, 0, sizeof(c->device));
	memset(c->coupling_w_per_k, 0, sizeof(c->coupling_w_per_k));
	c->n_thrusters = c->n_thermal = c->n_devices = 0;

	set_name(c->profile, "ship");
	c->dry_mass_kg = 400.0;
	c->tank.propellant_kg = 100.0;
	c->tank.isp_s = 220.0;
	c->battery.capacity_wh = 2000.0;
	c->battery.r_internal_ohm = 0.01;
	c->battery.electronics_w = 150.0;
	c->control.kp = 0.5;
	c->control.kd = 1.4;
	c->control.max_accel_mps2 = 0.2;
	c->control.deadband_n = 0.5;
	add_thruster_set(c, 2, 1.5, 0.5, 100.0, 15.0);
	/* shares 0.4/0.1/0.15/0.3/0.05 of 150 W; the structure is the big
	 * sunlit radiator the rest leans on */
	add_node(c, "avionics", 20000.0, 0.25, 0.40, 50.0);
	add_node(c, "propulsion", 15000.0, 0.10, 0.10, 50.0);
	add_node(c, "battery", 30000.0, 0.10, 0.15, 50.0);
	add_node(c, "payload", 25000.0, 0.20, 0.30, 50.0);
	add_node(c, "structure", 80000.0, 0.50, 0.05, 0.0);
	for (unsigned i = 0; i < 4; i++)
		couple(c, i, 4, 2.0);
	couple(c, 0, 1, 1.0);
	couple(c, 0, 2, 1.0);
	couple(c, 0, 3, 1.0);
	add_devices(c);
}

static const struct {
	const char *name;
	void (*fill)(struct qk_config *c);
} profiles[] = {
	{ "bot", profile_bot },
	{ "ship", profile_ship },
};

int qk_config_profile(struct qk_config *c, const char *name, char *why, size_t n)
{
	if (!name)
		name = "bot";
	for (unsigned i = 0; i < N(profiles); i++) {
		if (!strcmp(profiles[i].name, name)) {
			memset(c, 0, sizeof(*c));
			profiles[i].fill(c);
			return 0;
		}
	}
	if (why && n)
		snprintf(why, n, "unknown profile '%s'; known profiles: bot, ship", name);
	return -ENOENT;
}
