/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/agent/fixture.h - the bot and ship configurations, a healthy sensor
 * frame and POST report, for the agent's unit tests (test_bios, test_fsm,
 * test_rules, test_control, test_agent).  Built here rather than taken from
 * rt/config/config.c so these tests pin the values they assert on.
 */
#ifndef QK_TESTS_AGENT_FIXTURE_H
#define QK_TESTS_AGENT_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "shm/layout.h"

static inline void fx_name(char dst[QK_NAME_LEN], const char *src)
{
	size_t n = strnlen(src, QK_NAME_LEN - 1);

	memset(dst, 0, QK_NAME_LEN);
	memcpy(dst, src, n);
}

static inline void fx_device(struct qk_config *c, const char *name, uint32_t type,
			     uint32_t sensor, uint32_t index, uint32_t critical)
{
	struct qk_device_cfg *d = &c->device[c->n_devices++];

	fx_name(d->name, name);
	d->type = type;
	d->sensor = sensor;
	d->index = index;
	d->critical = critical;
}

static inline void fx_thruster(struct qk_config *c, const char *name, int axis, double sign,
			       double thrust_n)
{
	struct qk_thruster_cfg *t = &c->thruster[c->n_thrusters++];

	fx_name(t->name, name);
	t->dir[axis] = sign;
	t->pos_m[axis] = -0.3 * sign;
	t->max_thrust_n = thrust_n;
	t->power_w = 5;
}

static inline void fx_node(struct qk_config *c, const char *name)
{
	struct qk_thermal_cfg *t = &c->thermal[c->n_thermal++];

	fx_name(t->name, name);
	t->capacity_j_per_k = 2000;
	t->heater_w = 10;
	t->initial_k = 290;
	t->min_k = 250;
	t->max_k = 330;
}

/* The bot: the values of qk_config_profile(cfg, "bot"). */
static inline void fx_bot(struct qk_config *c)
{
	static const char *const thr[6] = { "thr_px", "thr_nx", "thr_py", "thr_ny", "thr_pz", "thr_nz" };
	static const char *const node[3] = { "avionics", "propulsion", "battery" };
	char name[QK_NAME_LEN + 8];

	memset(c, 0, sizeof(*c));
	fx_name(c->profile, "bot");
	c->rate_hz = 1000;
	c->dry_mass_kg = 20;
	c->tank = (struct qk_tank_cfg){ .propellant_kg = 5, .p_full_bar = 20, .p_empty_bar = 2,
					.isp_s = 70, .min_bar = 5, .max_bar = 25 };
	c->battery = (struct qk_battery_cfg){ .capacity_wh = 100, .v_full = 25.2, .v_empty = 19.8,
					      .initial_soc = 0.9, .soc_min = 0.2 };
	c->control = (struct qk_control_cfg){ .kp = 1.0, .kd = 2.0, .max_accel_mps2 = 0.5,
					      .deadband_n = 0.05 };
	c->limits = (struct qk_limits_cfg){ .sensor_stale_cycles = 50,
		.actuator_watchdog_cycles = 50, .clear_ticks = 3, .confidence_min = 0.6,
		.health_min = 0.8 };
	for (int i = 0; i < 6; i++)
		fx_thruster(c, thr[i], i / 2, i % 2 ? -1.0 : 1.0, 20);
	for (int i = 0; i < 3; i++)
		fx_node(c, node[i]);
	fx_device(c, "imu", QK_DEV_SENSOR, QK_SK_IMU, 0, 1);
	fx_device(c, "nav", QK_DEV_SENSOR, QK_SK_NAV, 0, 1);
	fx_device(c, "tank_pressure", QK_DEV_SENSOR, QK_SK_TANK, 0, 1);
	fx_device(c, "battery_monitor", QK_DEV_SENSOR, QK_SK_BATTERY, 0, 1);
	for (uint32_t i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "temp_%s", node[i]);
		fx_device(c, name, QK_DEV_SENSOR, QK_SK_THERMAL, i, 0);
	}
	for (uint32_t i = 0; i < 6; i++)
		fx_device(c, thr[i], QK_DEV_ACTUATOR, QK_SK_NONE, i, 1);
	fx_device(c, "power_unit", QK_DEV_POWER, QK_SK_NONE, 0, 1);
	fx_device(c, "comms", QK_DEV_COMMS, QK_SK_NONE, 0, 0);
	fx_device(c, "controller", QK_DEV_CONTROLLER, QK_SK_NONE, 0, 1);
}

/* A ship: the bot's systems with twelve thrusters, two per direction and
 * not equal (100 N and 60 N), 400 kg. */
static inline void fx_ship(struct qk_config *c)
{
	static const char axis[] = "xyz";
	char name[QK_NAME_LEN];

	fx_bot(c);
	fx_name(c->profile, "ship");
	c->dry_mass_kg = 400;
	c->tank.propellant_kg = 100;
	c->control = (struct qk_control_cfg){ .kp = 0.5, .kd = 1.4, .max_accel_mps2 = 0.2,
					      .deadband_n = 0.5 };
	memset(c->thruster, 0, sizeof(c->thruster));
	c->n_thrusters = 0;
	for (int a = 0; a < 3; a++)
		for (int s = 0; s < 2; s++)
			for (int k = 0; k < 2; k++) {
				snprintf(name, sizeof(name), "thr_%c%c%d", s ? 'n' : 'p', axis[a], k + 1);
				fx_thruster(c, name, a, s ? -1.0 : 1.0, k ? 60 : 100);
			}
}

/* A frame in which everything reads valid and well inside its limits. */
static inline void fx_frame(const struct qk_config *c, struct qk_sensor_frame *f, uint64_t cycle)
{
	memset(f, 0, sizeof(*f));
	f->cycle = cycle;
	f->publish_ns = (int64_t)cycle * 1000000 + 1000;
	f->applied_seq = QK_NO_FRAME;
	f->applied_answers = QK_NO_FRAME;
	f->valid = QK_VALID_IMU | QK_VALID_NAV | QK_VALID_TANK | QK_VALID_BATTERY;
	for (uint32_t i = 0; i < c->n_thermal; i++) {
		f->valid |= QK_VALID_TEMP(i);
		f->temp_k[i] = 290;
	}
	f->n_thermal = c->n_thermal;
	f->tank_bar = c->tank.p_full_bar;
	f->propellant_kg = c->tank.propellant_kg;
	f->mass_kg = c->dry_mass_kg + c->tank.propellant_kg;
	f->batt_v = 24;
	f->batt_soc = 0.9;
}

/* A POST in which every device of the profile is OK. */
static inline void fx_post(const struct qk_config *c, struct qk_bios_report *r)
{
	memset(r, 0, sizeof(*r));
	r->post_count = 1;
	r->time_ns = 1;
	r->firmware_version = 1;
	r->n_devices = c->n_devices;
	for (uint32_t i = 0; i < c->n_devices; i++) {
		memcpy(r->device[i].name, c->device[i].name, QK_NAME_LEN);
		r->device[i].type = c->device[i].type;
		r->device[i].status = QK_DS_OK;
	}
}

/* The report entry for a device, by name. */
static inline struct qk_device_status *fx_post_dev(struct qk_bios_report *r, const char *name)
{
	for (uint32_t i = 0; i < r->n_devices; i++)
		if (!strncmp(r->device[i].name, name, QK_NAME_LEN))
			return &r->device[i];
	return NULL;
}

/* The profile index of a device, -1 if none. */
static inline int fx_dev(const struct qk_config *c, const char *name)
{
	for (uint32_t i = 0; i < c->n_devices; i++)
		if (!strncmp(c->device[i].name, name, QK_NAME_LEN))
			return (int)i;
	return -1;
}

#endif
