/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/sim/test_plant.c - the plant simulator core: physics laws, sensors and
 * their noise, determinism, faults, POST and commands.
 *
 * The configuration is built here with the values of the "bot" profile, so
 * that the test does not depend on rt/config/config.c.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rt/sim/plant.h"
#include "rt/sim/rng.h"

#define DT 0.01			/* 100 Hz */

enum { THR_PX, THR_NX, THR_PY, THR_NY, THR_PZ, THR_NZ };
enum { N_AVIONICS, N_PROPULSION, N_BATTERY };

static void name(char *dst, const char *src)
{
	snprintf(dst, QK_NAME_LEN, "%s", src);
}

static void device(struct qk_config *c, const char *n, uint32_t type, uint32_t sensor,
		   uint32_t index, uint32_t critical)
{
	struct qk_device_cfg *d = &c->device[c->n_devices++];

	name(d->name, n);
	d->type = type;
	d->sensor = sensor;
	d->index = index;
	d->critical = critical;
}

/* The "bot" profile. */
static void bot_config(struct qk_config *c)
{
	static const char *const thr[6] = { "thr_px", "thr_nx", "thr_py", "thr_ny",
					    "thr_pz", "thr_nz" };
	static const struct { const char *n; double cap, area, absorbed, share; } node[3] = {
		{ "avionics", 3000.0, 0.10, 18.1, 0.7 },
		{ "propulsion", 5000.0, 0.08, 23.7, 0.1 },
		{ "battery", 4000.0, 0.05, 12.0, 0.2 },
	};

	memset(c, 0, sizeof(*c));
	name(c->profile, "bot");
	c->rate_hz = 100;
	c->seed = 1;
	c->dry_mass_kg = 20.0;
	c->n_thrusters = 6;
	for (unsigned i = 0; i < 6; i++) {
		struct qk_thruster_cfg *t = &c->thruster[i];
		double s = (i & 1) ? -1.0 : 1.0;

		name(t->name, thr[i]);
		t->dir[i / 2] = s;		/* thr_px pushes the bot along +x */
		t->pos_m[i / 2] = -0.3 * s;
		t->max_thrust_n = 20.0;
		t->power_w = 5.0;
	}
	c->n_thermal = 3;
	for (unsigned i = 0; i < 3; i++) {
		struct qk_thermal_cfg *t = &c->thermal[i];

		name(t->name, node[i].n);
		t->capacity_j_per_k = node[i].cap;
		t->radiator_area_m2 = node[i].area;
		t->emissivity = 0.8;
		t->absorbed_w = node[i].absorbed;
		t->load_share = node[i].share;
		t->heater_w = 10.0;
		t->initial_k = 290.0;
		t->min_k = 250.0;
		t->max_k = 330.0;
	}
	c->coupling_w_per_k[0][1] = c->coupling_w_per_k[1][0] = 0.5;
	c->coupling_w_per_k[0][2] = c->coupling_w_per_k[2][0] = 1.0;
	c->coupling_w_per_k[1][2] = c->coupling_w_per_k[2][1] = 0.3;
	c->tank = (struct qk_tank_cfg){ .propellant_kg = 5.0, .p_full_bar = 20.0,
					.p_empty_bar = 2.0, .isp_s = 70.0,
					.min_bar = 1.5, .max_bar = 25.0 };
	c->battery = (struct qk_battery_cfg){ .capacity_wh = 100.0, .v_full = 25.2,
					      .v_empty = 19.8, .r_internal_ohm = 0.05,
					      .initial_soc = 0.9, .electronics_w = 20.0,
					      .soc_min = 0.2 };
	c->noise = (struct qk_noise_cfg){ .accel_mps2 = 0.01, .pos_m = 0.05, .vel_mps = 0.01,
					  .temp_k = 0.1, .pressure_bar = 0.05,
					  .voltage_v = 0.02, .soc = 0.002,
					  .accel_bias_mps2 = 0.002 };
	device(c, "imu", QK_DEV_SENSOR, QK_SK_IMU, 0, 1);
	device(c, "nav", QK_DEV_SENSOR, QK_SK_NAV, 0, 1);
	device(c, "tank_pressure", QK_DEV_SENSOR, QK_SK_TANK, 0, 1);
	device(c, "battery_monitor", QK_DEV_SENSOR, QK_SK_BATTERY, 0, 1);
	device(c, "temp_avionics", QK_DEV_SENSOR, QK_SK_THERMAL, 0, 0);
	device(c, "temp_propulsion", QK_DEV_SENSOR, QK_SK_THERMAL, 1, 0);
	device(c, "temp_battery", QK_DEV_SENSOR, QK_SK_THERMAL, 2, 0);
	for (unsigned i = 0; i < 6; i++)
		device(c, thr[i], QK_DEV_ACTUATOR, QK_SK_NONE, i, 1);
	device(c, "power_unit", QK_DEV_POWER, QK_SK_NONE, 0, 1);
	device(c, "comms", QK_DEV_COMMS, QK_SK_NONE, 0, 0);
	device(c, "controller", QK_DEV_CONTROLLER, QK_SK_NONE, 0, 1);
	c->limits = (struct qk_limits_cfg){ .sensor_stale_cycles = 10,
					    .actuator_watchdog_cycles = 10, .clear_ticks = 100,
					    .confidence_min = 0.5, .health_min = 0.8 };
}

static void quiet(struct qk_config *c)
{
	memset(&c->noise, 0, sizeof(c->noise));
}

static void make(struct qk_plant *p, const struct qk_config *c, uint64_t seed)
{
	char why[256];
	int ret = qk_plant_init(p, c, seed, why, sizeof(why));

	if (ret)
		fail_msg("qk_plant_init: %s", why);
}

static void make_bot(struct qk_plant *p, bool noisy)
{
	struct qk_config c;

	bot_config(&c);
	if (!noisy)
		quiet(&c);
	make(p, &c, 42);
}

static void run(struct qk_plant *p, const struct qk_actuator_frame *a, double seconds)
{
	long n = lround(seconds / DT);

	for (long i = 0; i < n; i++)
		qk_plant_step(p, a, DT);
}

static struct qk_actuator_frame throttle(int thr, double t)
{
	struct qk_actuator_frame a;

	memset(&a, 0, sizeof(a));
	if (thr >= 0)
		a.throttle[thr] = t;
	return a;
}

static void set_fault(struct qk_plant *p, const char *dev, enum qk_fault_kind k, double v)
{
	char why[256];
	int ret = qk_plant_fault_set(p, dev, k, v, why, sizeof(why));

	if (ret)
		fail_msg("fault_set %s: %d %s", dev, ret, why);
}

static void clear_fault(struct qk_plant *p, const char *dev)
{
	char why[256];

	assert_int_equal(qk_plant_fault_clear(p, dev, why, sizeof(why)), 0);
}

struct stats { double n, sum, sum2; };

static void add(struct stats *s, double x)
{
	s->n += 1.0;
	s->sum += x;
	s->sum2 += x * x;
}

static double mean(const struct stats *s)
{
	return s->sum / s->n;
}

static double stddev(const struct stats *s)
{
	double m = mean(s);

	return sqrt(s->sum2 / s->n - m * m);
}

#define assert_near(a, b, tol) do { \
	double a_ = (a), b_ = (b), t_ = (tol); \
	if (!(fabs(a_ - b_) <= t_)) \
		fail_msg("%s = %.9g, expected %s = %.9g within %g", #a, a_, #b, b_, t_); \
} while (0)

/* ---- configuration ----------------------------------------------------- */

static void expect_refused(struct qk_config *c, const char *what)
{
	struct qk_plant p;
	char why[256] = "";

	assert_int_equal(qk_plant_init(&p, c, 1, why, sizeof(why)), -EINVAL);
	if (!strstr(why, what))
		fail_msg("why '%s' does not mention '%s'", why, what);
}

static void test_plant_init_rejects_bad_config(void **state)
{
	struct qk_config c;
	struct qk_plant p;
	char why[256];

	(void)state;
	bot_config(&c);
	assert_int_equal(qk_plant_init(&p, &c, 1, why, sizeof(why)), 0);
	bot_config(&c);
	c.n_thrusters = 0;
	expect_refused(&c, "no thrusters");
	bot_config(&c);
	c.dry_mass_kg = -1.0;
	expect_refused(&c, "dry_mass_kg");
	bot_config(&c);
	c.tank.propellant_kg = -0.5;
	expect_refused(&c, "propellant_kg");
	bot_config(&c);
	c.tank.p_empty_bar = 30.0;
	expect_refused(&c, "p_empty_bar");
	bot_config(&c);
	c.tank.isp_s = 0.0;
	expect_refused(&c, "isp_s");
	bot_config(&c);
	c.thruster[2].dir[1] = 0.0;
	expect_refused(&c, "thr_py");
	bot_config(&c);
	c.coupling_w_per_k[1][0] = 0.0;
	expect_refused(&c, "symmetric");
	bot_config(&c);
	c.thermal[1].capacity_j_per_k = 0.0;
	expect_refused(&c, "propulsion");
	bot_config(&c);
	c.battery.v_empty = 30.0;
	expect_refused(&c, "v_empty");
	bot_config(&c);
	name(c.device[1].name, "imu");
	expect_refused(&c, "named twice");
	bot_config(&c);
	c.device[7].index = 6;
	expect_refused(&c, "thr_px");
	bot_config(&c);
	c.device[4].index = 3;
	expect_refused(&c, "temp_avionics");
	bot_config(&c);
	name(c.device[15].name, "all");
	expect_refused(&c, "reserved");
}

/* A non-unit direction is normalised. */
static void test_plant_init_normalises_directions(void **state)
{
	struct qk_config c;
	struct qk_plant p;
	struct qk_actuator_frame a = throttle(THR_PX, 1.0);

	(void)state;
	bot_config(&c);
	quiet(&c);
	c.thruster[THR_PX].dir[0] = 7.0;
	make(&p, &c, 1);
	qk_plant_step(&p, &a, DT);
	assert_near(p.acc[0], 20.0 / 25.0, 1e-12);
}

/* ---- translation and the tank ---------------------------------------- */

/* Full +x thrust for 1 s against an independent fine integration of the
 * documented laws (blow-down, thrust ~ pressure, mass flow). */
static void test_plant_thrust_x_velocity(void **state)
{
	struct qk_plant p;
	struct qk_actuator_frame a = throttle(THR_PX, 1.0);
	struct qk_sensor_frame f;
	double k = 0.1 / 0.9, mp = 5.0, v = 0.0, x = 0.0, h = 1e-5;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		double u = 1.0 - mp / 5.0;
		double thrust = 20.0 * k / (k + u);

		v += thrust / (20.0 + mp) * h;
		x += v * h;
		mp -= thrust / (70.0 * QK_PLANT_G0) * h;
	}
	make_bot(&p, false);
	run(&p, &a, 1.0);
	assert_near(p.vel[0], v, 0.01 * v);
	assert_near(p.pos[0], x, 0.02 * x);
	assert_near(p.propellant_kg, mp, 1e-3 * (5.0 - mp));
	assert_true(v > 0.75 && v < 0.8);	/* 20 N / 25 kg, less the blow-down */
	assert_true(p.vel[1] == 0.0 && p.vel[2] == 0.0);
	assert_true(p.pos[1] == 0.0 && p.pos[2] == 0.0);
	memset(&f, 0, sizeof(f));
	qk_plant_sense(&p, &f);
	assert_near(f.vel_mps[0], p.vel[0], 1e-12);
	assert_near(f.accel_mps2[0], p.acc[0], 1e-12);
	assert_near(f.mass_kg, 20.0 + p.propellant_kg, 1e-12);
}

static void test_plant_coast_keeps_position(void **state)
{
	struct qk_plant p;
	struct qk_actuator_frame a = throttle(THR_PY, 1.0);

	(void)state;
	make_bot(&p, false);
	run(&p, NULL, 10.0);
	for (int k = 0; k < 3; k++) {
		assert_true(p.pos[k] == 0.0);
		assert_true(p.vel[k] == 0.0);
	}
	assert_true(p.propellant_kg == 5.0);
	/* opposite thrusters cancel exactly */
	a.throttle[THR_NY] = 1.0;
	run(&p, &a, 10.0);
	for (int k = 0; k < 3; k++)
		assert_true(p.pos[k] == 0.0);
	assert_true(p.propellant_kg < 5.0);
	/* a moving bot coasts at constant velocity */
	run(&p, &(struct qk_actuator_frame){ .throttle = { [THR_PZ] = 1.0 } }, 1.0);
	double v = p.vel[2], z = p.pos[2];

	run(&p, NULL, 2.0);
	assert_true(p.vel[2] == v);
	assert_near(p.pos[2], z + 2.0 * v, 1e-9);
}

static void test_plant_blowdown_monotone(void **state)
{
	struct qk_plant p;
	struct qk_actuator_frame a = throttle(-1, 0.0);
	double used = 0.0;
	int i;

	(void)state;
	make_bot(&p, false);
	assert_near(p.tank_bar, 20.0, 0.0);
	for (i = 0; i < 6; i++)
		a.throttle[i] = 1.0;
	/* all six to empty: about 110 s, thrust falling to a tenth */
	for (i = 0; p.propellant_kg > 0.0 && i < 100000; i++) {
		double bar = p.tank_bar, prop = p.propellant_kg, sum = 0.0;

		qk_plant_step(&p, &a, DT);
		assert_true(p.propellant_kg < prop);
		assert_true(p.tank_bar < bar);
		for (int t = 0; t < 6; t++) {	/* thrust follows the pressure */
			if (p.propellant_kg > 0.0)
				assert_near(p.thrust_n[t], 20.0 * bar / 20.0, 1e-12);
			else	/* the last, partial step */
				assert_true(p.thrust_n[t] <= 20.0 * bar / 20.0);
			sum += p.thrust_n[t];
		}
		used += sum / (70.0 * QK_PLANT_G0) * DT;
		assert_near(p.tank_bar, qk_plant_tank_pressure(&p, p.propellant_kg), 0.0);
	}
	assert_true(i > 5000 && i < 50000);
	assert_near(5.0 - p.propellant_kg, used, 1e-9);
	assert_near(p.tank_bar, 2.0, 0.0);
	/* the law's end points and a midpoint: p = 20 k / (k + u), k = 1/9 */
	assert_near(qk_plant_tank_pressure(&p, 5.0), 20.0, 1e-12);
	assert_near(qk_plant_tank_pressure(&p, 0.0), 2.0, 1e-12);
	assert_near(qk_plant_tank_pressure(&p, 2.5), 20.0 * (1.0 / 9) / (1.0 / 9 + 0.5), 1e-12);
}

static void test_plant_empty_tank_no_thrust(void **state)
{
	struct qk_config c;
	struct qk_plant p;
	struct qk_actuator_frame a = throttle(THR_PX, 1.0);
	struct qk_sensor_frame f;
	int i;

	(void)state;
	bot_config(&c);
	quiet(&c);
	c.tank.propellant_kg = 0.1;
	make(&p, &c, 1);
	for (i = 0; i < 100000 && p.propellant_kg > 0.0; i++)
		qk_plant_step(&p, &a, DT);
	assert_true(p.propellant_kg == 0.0);
	assert_near(p.tank_bar, 2.0, 0.0);
	double v = p.vel[0];

	run(&p, &a, 5.0);
	assert_true(p.thrust_n[THR_PX] == 0.0);
	assert_true(p.acc[0] == 0.0);
	assert_true(p.vel[0] == v);
	qk_plant_sense(&p, &f);
	assert_true(f.propellant_kg == 0.0);
	assert_near(f.mass_kg, 20.0, 0.0);

	/* a tank empty from the start */
	c.tank.propellant_kg = 0.0;
	make(&p, &c, 1);
	assert_near(p.tank_bar, 2.0, 0.0);
	run(&p, &a, 1.0);
	assert_true(p.vel[0] == 0.0);
}

/* ---- battery and thermal -------------------------------------------- */

static void test_plant_battery_sags_under_load(void **state)
{
	struct qk_plant idle, busy;
	struct qk_actuator_frame a = throttle(-1, 0.0);
	double ocv;

	(void)state;
	make_bot(&idle, false);
	make_bot(&busy, false);
	for (int i = 0; i < 6; i++)
		a.throttle[i] = 1.0;
	for (int i = 0; i < 3; i++)
		a.heater[i] = 1.0;
	run(&idle, NULL, 60.0);
	run(&busy, &a, 60.0);
	assert_true(idle.soc < 0.9);
	assert_true(busy.soc < idle.soc);
	/* 20 W for 60 s out of 100 Wh, plus the I^2 R loss */
	assert_near(0.9 - idle.soc, 20.0 * 60.0 / 360000.0, 1e-5);
	assert_near(busy.load_w, 20.0 + 6 * 5.0 + 3 * 10.0, 1e-12);
	assert_true(busy.batt_v < idle.batt_v);
	assert_true(busy.batt_a > idle.batt_a);
	ocv = 19.8 + busy.soc * 5.4;
	/* the step computed V from the SoC before its own draw: allow that */
	assert_near(busy.batt_v, ocv - busy.batt_a * 0.05, 1e-3);
	assert_near(busy.batt_v * busy.batt_a, busy.load_w, 1e-9);
	assert_near(busy.batt_a, 80.0 / busy.batt_v, 1e-9);
}

static void test_plant_thermal_equilibrium_at_defaults(void **state)
{
	struct qk_plant p;

	(void)state;
	make_bot(&p, false);
	run(&p, NULL, 60.0);
	for (int i = 0; i < 3; i++)
		assert_near(p.temp_k[i], 290.0, 0.1);
	run(&p, NULL, 3600.0);
	for (int i = 0; i < 3; i++)
		assert_near(p.temp_k[i], 290.0, 1.0);
}

static void test_plant_thermal_heater_and_relax(void **state)
{
	struct qk_plant p, ref;
	struct qk_actuator_frame a = throttle(-1, 0.0);
	double peak, prev;

	(void)state;
	make_bot(&p, false);
	make_bot(&ref, false);
	a.heater[N_AVIONICS] = 1.0;
	run(&p, &a, 600.0);
	run(&ref, NULL, 600.0);
	/* 10 W into 3000 J/K for 600 s: a little under 2 K */
	assert_true(p.temp_k[N_AVIONICS] > ref.temp_k[N_AVIONICS] + 1.2);
	assert_true(p.temp_k[N_AVIONICS] < ref.temp_k[N_AVIONICS] + 2.0);
	/* coupled nodes warm too, less */
	assert_true(p.temp_k[N_BATTERY] > ref.temp_k[N_BATTERY]);
	assert_true(p.temp_k[N_BATTERY] - ref.temp_k[N_BATTERY] <
		    p.temp_k[N_AVIONICS] - ref.temp_k[N_AVIONICS]);
	/* heater off: relaxes monotonically toward the equilibrium */
	peak = prev = p.temp_k[N_AVIONICS];
	for (int i = 0; i < 360000; i++) {
		qk_plant_step(&p, NULL, DT);
		assert_true(p.temp_k[N_AVIONICS] <= prev);
		prev = p.temp_k[N_AVIONICS];
	}
	assert_true(prev < peak - 1.0);
	assert_near(prev, 290.0, 0.5);

	/* firing thrusters puts their valve power into the propulsion node */
	make_bot(&p, false);
	make_bot(&ref, false);
	a = throttle(THR_PX, 1.0);
	a.throttle[THR_NX] = 1.0;
	run(&p, &a, 300.0);
	run(&ref, NULL, 300.0);
	assert_true(p.temp_k[N_PROPULSION] > ref.temp_k[N_PROPULSION] + 0.2);
}

/* ---- sensors ----------------------------------------------------------- */

static void test_plant_sensor_noise_statistics(void **state)
{
	struct qk_plant p;
	struct qk_sensor_frame f;
	struct stats ax = { 0 }, az = { 0 }, px = { 0 }, vx = { 0 }, t1 = { 0 }, bar = { 0 },
		     volt = { 0 }, soc = { 0 };
	const int n = 40000;

	(void)state;
	make_bot(&p, true);
	for (int i = 0; i < n; i++) {
		qk_plant_sense(&p, &f);
		assert_int_equal(f.valid, QK_VALID_IMU | QK_VALID_NAV | QK_VALID_TANK |
				 QK_VALID_BATTERY | QK_VALID_TEMP(0) | QK_VALID_TEMP(1) |
				 QK_VALID_TEMP(2));
		assert_int_equal(f.n_thermal, 3);
		add(&ax, f.accel_mps2[0]);
		add(&az, f.accel_mps2[2]);
		add(&px, f.pos_m[0]);
		add(&vx, f.vel_mps[0]);
		add(&t1, f.temp_k[1]);
		add(&bar, f.tank_bar);
		add(&volt, f.batt_v);
		add(&soc, f.batt_soc);
	}
	/* means within 5 standard errors, sigmas within 3% */
#define CHECK(s, truth, sigma) do { \
	assert_near(mean(&(s)), (truth), 5.0 * (sigma) / sqrt(n)); \
	assert_near(stddev(&(s)), (sigma), 0.03 * (sigma)); \
} while (0)
	CHECK(ax, 0.002, 0.01);
	CHECK(az, 0.002, 0.01);
	CHECK(px, 0.0, 0.05);
	CHECK(vx, 0.0, 0.01);
	CHECK(t1, 290.0, 0.1);
	CHECK(bar, 20.0, 0.05);
	CHECK(volt, p.batt_v, 0.02);
	CHECK(soc, 0.9, 0.002);
#undef CHECK
}

static void fill_act(struct qk_actuator_frame *a, uint64_t *x)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < 6; i++) {
		*x = *x * 6364136223846793005ull + 1442695040888963407ull;
		a->throttle[i] = (double)(*x >> 40) / (double)(1ull << 24) * 1.2 - 0.1;
	}
	a->heater[0] = (*x >> 20) & 1;
}

static void test_plant_deterministic(void **state)
{
	static struct qk_plant a, b, c;
	struct qk_sensor_frame fa, fb, fc;
	struct qk_actuator_frame act;
	uint64_t x = 7;
	bool differ = false;

	(void)state;
	make_bot(&a, true);
	make_bot(&b, true);
	struct qk_config cfg;

	bot_config(&cfg);
	make(&c, &cfg, 43);
	for (int i = 0; i < 5000; i++) {
		fill_act(&act, &x);
		if (i == 1000) {
			set_fault(&a, "imu", QK_FAULT_NOISE, 0.3);
			set_fault(&b, "imu", QK_FAULT_NOISE, 0.3);
		}
		if (i == 2000) {
			set_fault(&a, "nav", QK_FAULT_STUCK, 0.0);
			set_fault(&b, "nav", QK_FAULT_STUCK, 0.0);
		}
		qk_plant_step(&a, i % 100 == 99 ? NULL : &act, DT);
		qk_plant_step(&b, i % 100 == 99 ? NULL : &act, DT);
		qk_plant_step(&c, i % 100 == 99 ? NULL : &act, DT);
		memset(&fa, 0, sizeof(fa));
		memset(&fb, 0, sizeof(fb));
		memset(&fc, 0, sizeof(fc));
		qk_plant_sense(&a, &fa);
		qk_plant_sense(&b, &fb);
		qk_plant_sense(&c, &fc);
		if (memcmp(&fa, &fb, sizeof(fa)))
			fail_msg("frames differ at step %d", i);
		differ |= memcmp(&fa, &fc, sizeof(fa)) != 0;
		if (i == 0)
			assert_true(differ);
	}
	assert_true(memcmp(&a.pos, &b.pos, sizeof(a.pos)) == 0);
	assert_true(a.propellant_kg < 5.0);
}

/* A fault on one device leaves the noise of the others where it was. */
static void test_plant_fault_keeps_other_streams(void **state)
{
	struct qk_plant a, b;
	struct qk_sensor_frame fa, fb;

	(void)state;
	make_bot(&a, true);
	make_bot(&b, true);
	set_fault(&b, "imu", QK_FAULT_DROPOUT, 0.0);
	set_fault(&b, "temp_avionics", QK_FAULT_STUCK, 0.0);
	for (int i = 0; i < 100; i++) {
		qk_plant_sense(&a, &fa);
		qk_plant_sense(&b, &fb);
		assert_true(memcmp(fa.pos_m, fb.pos_m, sizeof(fa.pos_m)) == 0);
		assert_true(fa.temp_k[2] == fb.temp_k[2]);
	}
}

static void test_plant_sensor_faults(void **state)
{
	struct qk_plant p;
	struct qk_sensor_frame f, held;
	struct qk_actuator_frame a = throttle(THR_PX, 1.0);
	struct stats s = { 0 };
	const uint32_t all = QK_VALID_IMU | QK_VALID_NAV | QK_VALID_TANK | QK_VALID_BATTERY |
			     QK_VALID_TEMP(0) | QK_VALID_TEMP(1) | QK_VALID_TEMP(2);

	(void)state;
	make_bot(&p, true);

	/* stuck: frozen at the last reading while the truth moves */
	qk_plant_step(&p, &a, DT);
	qk_plant_sense(&p, &held);
	set_fault(&p, "imu", QK_FAULT_STUCK, 0.0);
	set_fault(&p, "nav", QK_FAULT_STUCK, 0.0);
	for (int i = 0; i < 50; i++) {
		qk_plant_step(&p, i < 25 ? &a : NULL, DT);
		qk_plant_sense(&p, &f);
		assert_int_equal(f.valid, all);
		assert_memory_equal(f.accel_mps2, held.accel_mps2, sizeof(f.accel_mps2));
		assert_memory_equal(f.vel_mps, held.vel_mps, sizeof(f.vel_mps));
	}
	assert_true(p.vel[0] > 2.0 * held.vel_mps[0]);
	/* stuck at a given value: the primary quantity */
	set_fault(&p, "imu", QK_FAULT_STUCK, 3.5);
	set_fault(&p, "temp_battery", QK_FAULT_STUCK, 400.0);
	qk_plant_sense(&p, &f);
	for (int k = 0; k < 3; k++)
		assert_true(f.accel_mps2[k] == 3.5);
	assert_true(f.temp_k[N_BATTERY] == 400.0);
	clear_fault(&p, "imu");
	clear_fault(&p, "nav");
	clear_fault(&p, "temp_battery");
	qk_plant_sense(&p, &f);
	assert_near(f.vel_mps[0], p.vel[0], 0.1);
	assert_near(f.temp_k[N_BATTERY], p.temp_k[N_BATTERY], 1.0);

	/* noise: the extra sigma adds in quadrature */
	set_fault(&p, "imu", QK_FAULT_NOISE, 0.5);
	for (int i = 0; i < 20000; i++) {
		qk_plant_sense(&p, &f);
		add(&s, f.accel_mps2[1]);
	}
	assert_near(stddev(&s), hypot(0.01, 0.5), 0.03 * 0.5);

	/* bias: + value on the primary quantity only */
	set_fault(&p, "temp_propulsion", QK_FAULT_BIAS, 5.0);
	set_fault(&p, "battery_monitor", QK_FAULT_BIAS, -1.0);
	memset(&s, 0, sizeof(s));
	struct stats sv = { 0 }, ss = { 0 };

	for (int i = 0; i < 5000; i++) {
		qk_plant_sense(&p, &f);
		add(&s, f.temp_k[N_PROPULSION]);
		add(&sv, f.batt_v);
		add(&ss, f.batt_soc);
	}
	assert_near(mean(&s), p.temp_k[N_PROPULSION] + 5.0, 0.01);
	assert_near(mean(&sv), p.batt_v - 1.0, 0.002);
	assert_near(mean(&ss), p.soc, 0.0002);

	/* dropout and post-fail: invalid, zero, the rest untouched */
	clear_fault(&p, "all");
	set_fault(&p, "imu", QK_FAULT_DROPOUT, 0.0);
	set_fault(&p, "temp_propulsion", QK_FAULT_POST_FAIL, 0.0);
	set_fault(&p, "tank_pressure", QK_FAULT_DROPOUT, 0.0);
	qk_plant_sense(&p, &f);
	assert_int_equal(f.valid, all & ~(QK_VALID_IMU | QK_VALID_TEMP(1) | QK_VALID_TANK));
	assert_true(f.accel_mps2[0] == 0.0 && f.accel_mps2[1] == 0.0 && f.accel_mps2[2] == 0.0);
	assert_true(f.temp_k[N_PROPULSION] == 0.0);
	assert_true(f.tank_bar == 0.0 && f.propellant_kg == 0.0 && f.mass_kg == 0.0);
	assert_near(f.temp_k[N_AVIONICS], 290.0, 1.0);
	clear_fault(&p, "all");
	qk_plant_sense(&p, &f);
	assert_int_equal(f.valid, all);
	assert_near(f.tank_bar, p.tank_bar, 0.5);
}

/* A second device of the same kind takes over when the first drops out. */
static void test_plant_redundant_sensor(void **state)
{
	struct qk_config c;
	struct qk_plant p;
	struct qk_sensor_frame f;

	(void)state;
	bot_config(&c);
	quiet(&c);
	device(&c, "imu_b", QK_DEV_SENSOR, QK_SK_IMU, 0, 0);
	make(&p, &c, 1);
	set_fault(&p, "imu_b", QK_FAULT_BIAS, 1.0);
	qk_plant_sense(&p, &f);
	assert_true(f.accel_mps2[0] == 0.0);
	set_fault(&p, "imu", QK_FAULT_POST_FAIL, 0.0);
	qk_plant_sense(&p, &f);
	assert_true(f.valid & QK_VALID_IMU);
	assert_true(f.accel_mps2[0] == 1.0);
	set_fault(&p, "imu_b", QK_FAULT_DROPOUT, 0.0);
	qk_plant_sense(&p, &f);
	assert_false(f.valid & QK_VALID_IMU);
}

static void test_plant_thruster_faults(void **state)
{
	struct qk_plant p;
	struct qk_actuator_frame a = throttle(THR_PX, 1.0);
	char why[256];

	(void)state;
	make_bot(&p, false);
	/* stuck open at half: fires even under NULL (everything off) */
	set_fault(&p, "thr_px", QK_FAULT_STUCK, 0.5);
	qk_plant_step(&p, NULL, DT);
	assert_near(p.thrust_n[THR_PX], 10.0, 1e-12);
	assert_near(p.load_w, 20.0 + 2.5, 1e-12);
	assert_true(p.vel[0] > 0.0);
	/* stuck closed */
	set_fault(&p, "thr_px", QK_FAULT_STUCK, 0.0);
	qk_plant_step(&p, &a, DT);
	assert_true(p.thrust_n[THR_PX] == 0.0);
	/* dropout and post-fail: no thrust, no valve power */
	set_fault(&p, "thr_px", QK_FAULT_DROPOUT, 0.0);
	qk_plant_step(&p, &a, DT);
	assert_true(p.thrust_n[THR_PX] == 0.0);
	assert_near(p.load_w, 20.0, 0.0);
	set_fault(&p, "thr_px", QK_FAULT_POST_FAIL, 0.0);
	qk_plant_step(&p, &a, DT);
	assert_true(p.thrust_n[THR_PX] == 0.0);
	/* others unaffected, and clear restores */
	a.throttle[THR_PY] = 1.0;
	qk_plant_step(&p, &a, DT);
	assert_true(p.thrust_n[THR_PY] > 19.9);
	clear_fault(&p, "thr_px");
	qk_plant_step(&p, &a, DT);
	assert_true(p.thrust_n[THR_PX] > 19.9);

	/* faults that do not apply, and bad values */
	assert_int_equal(qk_plant_fault_set(&p, "thr_px", QK_FAULT_NOISE, 1.0, why,
					    sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "noise"));
	assert_non_null(strstr(why, "stuck dropout post-fail"));
	assert_int_equal(qk_plant_fault_set(&p, "thr_nz", QK_FAULT_BIAS, 1.0, why,
					    sizeof(why)), -EINVAL);
	assert_int_equal(qk_plant_fault_set(&p, "thr_px", QK_FAULT_STUCK, 1.5, why,
					    sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "0..1"));
	assert_int_equal(qk_plant_fault_set(&p, "comms", QK_FAULT_STUCK, 0.0, why,
					    sizeof(why)), -EINVAL);
	assert_int_equal(qk_plant_fault_set(&p, "power_unit", QK_FAULT_NOISE, 1.0, why,
					    sizeof(why)), -EINVAL);
	assert_int_equal(qk_plant_fault_set(&p, "imu", QK_FAULT_NOISE, -1.0, why,
					    sizeof(why)), -EINVAL);
	assert_int_equal(qk_plant_fault_set(&p, "imu", QK_FAULT_POST_FAIL, 7.0, why,
					    sizeof(why)), -EINVAL);
	assert_int_equal(qk_plant_fault_set(&p, "imu", QK_FAULT_POST_FAIL, 1.5, why,
					    sizeof(why)), -EINVAL);
	assert_int_equal(qk_plant_fault_set(&p, "imu", QK_FAULT_BIAS, NAN, why,
					    sizeof(why)), -EINVAL);
	for (unsigned i = 0; i < QK_MAX_DEVICES; i++)
		assert_true(p.fault[i] == QK_FAULT_NONE);
}

/* ---- POST, faults, commands --------------------------------------------- */

static const struct qk_device_status *entry(const struct qk_bios_report *r, const char *n)
{
	for (unsigned i = 0; i < r->n_devices; i++)
		if (!strcmp(r->device[i].name, n))
			return &r->device[i];
	fail_msg("no POST entry for %s", n);
	return NULL;
}

static void expect_post(const struct qk_bios_report *r, const char *n, uint32_t status,
			uint32_t code)
{
	const struct qk_device_status *d = entry(r, n);

	if (d->status != status || d->code != code)
		fail_msg("%s: status %u code %u, expected %u %u", n, d->status, d->code,
			 status, code);
}

static void test_plant_post_table(void **state)
{
	struct qk_plant p;
	struct qk_bios_report r;
	struct qk_sim_status st;

	(void)state;
	make_bot(&p, true);
	memset(&r, 0, sizeof(r));
	qk_plant_post(&p, &r);
	assert_int_equal(r.post_count, 1);
	assert_int_equal(r.firmware_version, QK_PLANT_FIRMWARE);
	assert_int_equal(r.n_devices, 16);
	for (unsigned i = 0; i < r.n_devices; i++) {
		assert_string_equal(r.device[i].name, p.cfg.device[i].name);
		assert_int_equal(r.device[i].type, p.cfg.device[i].type);
		assert_int_equal(r.device[i].status, QK_DS_OK);
		assert_int_equal(r.device[i].code, QK_PC_NONE);
	}
	assert_int_equal(entry(&r, "thr_nz")->type, QK_DEV_ACTUATOR);
	assert_int_equal(entry(&r, "comms")->type, QK_DEV_COMMS);

	set_fault(&p, "imu", QK_FAULT_POST_FAIL, 0.0);
	set_fault(&p, "nav", QK_FAULT_POST_FAIL, QK_PC_COMPONENT_NOT_FOUND);
	set_fault(&p, "controller", QK_FAULT_POST_FAIL, QK_PC_TIMEOUT_RESPONSE);
	set_fault(&p, "tank_pressure", QK_FAULT_NOISE, 1.0);	/* > 0.05 bar */
	set_fault(&p, "battery_monitor", QK_FAULT_NOISE, 0.001);	/* < 0.02 V */
	set_fault(&p, "comms", QK_FAULT_DROPOUT, 0.0);
	set_fault(&p, "thr_py", QK_FAULT_DROPOUT, 0.0);
	set_fault(&p, "power_unit", QK_FAULT_POST_FAIL, 0.0);
	set_fault(&p, "temp_avionics", QK_FAULT_STUCK, 0.0);
	set_fault(&p, "temp_battery", QK_FAULT_BIAS, 3.0);
	qk_plant_post(&p, &r);
	assert_int_equal(r.post_count, 2);
	expect_post(&r, "imu", QK_DS_ERROR, QK_PC_CRITICAL_BOOT_FAILURE);
	expect_post(&r, "nav", QK_DS_NOT_FOUND, QK_PC_COMPONENT_NOT_FOUND);
	expect_post(&r, "controller", QK_DS_ERROR, QK_PC_TIMEOUT_RESPONSE);
	expect_post(&r, "tank_pressure", QK_DS_WARNING, QK_PC_UNSTABLE_READINGS);
	expect_post(&r, "battery_monitor", QK_DS_OK, QK_PC_NONE);
	expect_post(&r, "comms", QK_DS_ERROR, QK_PC_TIMEOUT_RESPONSE);
	expect_post(&r, "thr_py", QK_DS_ERROR, QK_PC_TIMEOUT_RESPONSE);
	expect_post(&r, "power_unit", QK_DS_ERROR, QK_PC_CRITICAL_BOOT_FAILURE);
	expect_post(&r, "temp_avionics", QK_DS_OK, QK_PC_NONE);	/* silent faults */
	expect_post(&r, "temp_battery", QK_DS_OK, QK_PC_NONE);
	expect_post(&r, "thr_px", QK_DS_OK, QK_PC_NONE);

	qk_plant_fault_status(&p, &st);
	assert_int_equal(st.n_faults, 10);
	assert_int_equal(st.fault[1], QK_FAULT_POST_FAIL);
	assert_true(st.fault_value[1] == QK_PC_COMPONENT_NOT_FOUND);
	assert_int_equal(st.fault[2], QK_FAULT_NOISE);
	assert_true(st.fault_value[2] == 1.0);
	assert_int_equal(st.fault[7], QK_FAULT_NONE);

	clear_fault(&p, "all");
	qk_plant_post(&p, &r);
	assert_int_equal(r.post_count, 3);
	for (unsigned i = 0; i < r.n_devices; i++)
		assert_int_equal(r.device[i].status, QK_DS_OK);
	qk_plant_fault_status(&p, &st);
	assert_int_equal(st.n_faults, 0);
}

static void test_plant_unknown_device(void **state)
{
	struct qk_plant p;
	char why[512];

	(void)state;
	make_bot(&p, false);
	assert_int_equal(qk_plant_fault_set(&p, "foo", QK_FAULT_STUCK, 0.0, why, sizeof(why)),
			 -ENOENT);
	assert_non_null(strstr(why, "unknown device 'foo' (devices: imu nav tank_pressure"));
	assert_non_null(strstr(why, " controller)"));
	assert_int_equal(qk_plant_fault_clear(&p, "foo", why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "unknown device 'foo'"));
	assert_int_equal(qk_plant_fault_set(&p, NULL, QK_FAULT_STUCK, 0.0, why, sizeof(why)),
			 -ENOENT);
	/* a short buffer truncates, still terminated */
	char small[16];

	assert_int_equal(qk_plant_fault_set(&p, "foo", QK_FAULT_STUCK, 0.0, small,
					    sizeof(small)), -ENOENT);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(qk_plant_fault_set(&p, "foo", QK_FAULT_STUCK, 0.0, NULL, 0), -ENOENT);
	assert_int_equal(qk_plant_device_find(&p, "thr_nz"), 12);
	assert_int_equal(qk_plant_device_find(&p, "THR_NZ"), -ENOENT);
	assert_string_equal(qk_plant_fault_name(QK_FAULT_POST_FAIL), "post-fail");
}

static struct qk_cmd cmd(uint64_t id, uint32_t type, const char *n, uint32_t kind, double v)
{
	struct qk_cmd c;

	memset(&c, 0, sizeof(c));
	c.id = id;
	c.type = type;
	c.u[0] = kind;
	c.arg[0] = v;
	if (n)
		name(c.name, n);
	return c;
}

static void test_plant_command_replies(void **state)
{
	struct qk_plant p;
	struct qk_reply r;
	struct qk_cmd c;
	struct qk_sim_status st;

	(void)state;
	make_bot(&p, false);

	c = cmd(11, QK_CMD_FAULT_SET, "imu", QK_FAULT_POST_FAIL, 0.0);
	assert_true(qk_plant_command(&p, &c, &r));
	assert_int_equal(r.id, 11);
	assert_int_equal(r.status, QK_REPLY_ACCEPTED);
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.reason, "imu"));
	/* the same again: POST unchanged */
	c.id = 12;
	assert_false(qk_plant_command(&p, &c, &r));
	assert_int_equal(r.status, QK_REPLY_ACCEPTED);
	/* a silent fault replaces it: POST changes back to OK */
	c = cmd(13, QK_CMD_FAULT_SET, "imu", QK_FAULT_BIAS, 0.5);
	assert_true(qk_plant_command(&p, &c, &r));
	qk_plant_fault_status(&p, &st);
	assert_int_equal(st.fault[0], QK_FAULT_BIAS);
	/* a silent fault on a healthy device: accepted, POST unchanged */
	c = cmd(14, QK_CMD_FAULT_SET, "nav", QK_FAULT_STUCK, 0.0);
	assert_false(qk_plant_command(&p, &c, &r));
	assert_int_equal(r.status, QK_REPLY_ACCEPTED);

	/* unknown device: refused, the reason names it and is cut to fit */
	c = cmd(15, QK_CMD_FAULT_SET, "foo", QK_FAULT_STUCK, 0.0);
	assert_false(qk_plant_command(&p, &c, &r));
	assert_int_equal(r.id, 15);
	assert_int_equal(r.status, QK_REPLY_REFUSED);
	assert_int_equal(r.code, -ENOENT);
	assert_memory_equal(r.reason, "unknown device 'foo' (devices: imu", 34);
	assert_int_equal(strlen(r.reason), QK_REASON_LEN - 1);
	assert_string_equal(r.reason + QK_REASON_LEN - 4, "...");

	/* a name that fills the field with no terminator */
	c = cmd(16, QK_CMD_FAULT_SET, NULL, QK_FAULT_STUCK, 0.0);
	memset(c.name, 'x', sizeof(c.name));
	assert_false(qk_plant_command(&p, &c, &r));
	assert_int_equal(r.code, -ENOENT);

	/* bad kind, inapplicable kind, bad value */
	c = cmd(17, QK_CMD_FAULT_SET, "imu", 99, 0.0);
	assert_false(qk_plant_command(&p, &c, &r));
	assert_int_equal(r.status, QK_REPLY_REFUSED);
	assert_int_equal(r.code, -EINVAL);
	assert_non_null(strstr(r.reason, "fault kind 99"));
	c = cmd(18, QK_CMD_FAULT_SET, "comms", QK_FAULT_NOISE, 1.0);
	assert_false(qk_plant_command(&p, &c, &r));
	assert_int_equal(r.code, -EINVAL);
	assert_non_null(strstr(r.reason, "noise fault does not apply"));

	/* dropout on comms changes POST; clear all changes it back */
	c = cmd(19, QK_CMD_FAULT_SET, "comms", QK_FAULT_DROPOUT, 0.0);
	assert_true(qk_plant_command(&p, &c, &r));
	c = cmd(20, QK_CMD_FAULT_CLEAR, "comms", 0, 0.0);
	assert_true(qk_plant_command(&p, &c, &r));
	assert_int_equal(r.status, QK_REPLY_ACCEPTED);
	c = cmd(21, QK_CMD_FAULT_CLEAR, "all", 0, 0.0);
	assert_false(qk_plant_command(&p, &c, &r));	/* bias and stuck: silent */
	assert_int_equal(r.status, QK_REPLY_ACCEPTED);
	assert_string_equal(r.reason, "cleared 2 faults");
	qk_plant_fault_status(&p, &st);
	assert_int_equal(st.n_faults, 0);
	c = cmd(22, QK_CMD_FAULT_CLEAR, "bar", 0, 0.0);
	assert_false(qk_plant_command(&p, &c, &r));
	assert_int_equal(r.code, -ENOENT);

	/* PING and POST: accepted, nothing changed */
	c = cmd(23, QK_CMD_PING, NULL, 0, 0.0);
	assert_false(qk_plant_command(&p, &c, &r));
	assert_int_equal(r.status, QK_REPLY_ACCEPTED);
	assert_int_equal(r.id, 23);
	c = cmd(24, QK_CMD_POST, NULL, 0, 0.0);
	assert_false(qk_plant_command(&p, &c, &r));
	assert_int_equal(r.status, QK_REPLY_ACCEPTED);
	/* not a simulator command */
	c = cmd(25, QK_CMD_STATE, NULL, 0, 0.0);
	assert_false(qk_plant_command(&p, &c, &r));
	assert_int_equal(r.status, QK_REPLY_REFUSED);
	assert_int_equal(r.code, -EOPNOTSUPP);
}

/* ---- the generator ------------------------------------------------------ */

static void test_plant_rng(void **state)
{
	struct qk_rng a, b;
	struct stats u = { 0 }, g = { 0 };
	double lo = 1.0, hi = 0.0;

	(void)state;
	qk_rng_seed(&a, 0);
	qk_rng_seed(&b, 0);
	for (int i = 0; i < 1000; i++)
		assert_true(qk_rng_next(&a) == qk_rng_next(&b));
	qk_rng_seed(&b, 1);
	assert_true(qk_rng_next(&a) != qk_rng_next(&b));
	for (int i = 0; i < 100000; i++) {
		double x = qk_rng_uniform(&a);

		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
		add(&u, x);
		add(&g, qk_rng_gauss(&a));
	}
	assert_true(lo >= 0.0 && hi < 1.0);
	assert_near(mean(&u), 0.5, 0.005);
	assert_near(mean(&g), 0.0, 0.02);
	assert_near(stddev(&g), 1.0, 0.01);
}

/* The ziggurat's layers close at the top, and its gaussians have the normal
 * distribution: a chi-square over 40 bins of 2,000,000 draws (the tails
 * past +-4 and +-3.44, where the tail method takes over, included) stays
 * far under what even a 1-in-10^6 fluke would give (39 degrees of freedom:
 * ~95), and so does each bin's own deviation. */
static void test_plant_rng_gauss_is_normal(void **state)
{
	enum { BINS = 40, N = 2000000 };
	static struct qk_rng r;
	double count[BINS + 2] = { 0 }, chi2 = 0, edge[BINS + 1];
	uint64_t tail = 0;

	(void)state;
	qk_rng_seed(&r, 7);
	/* the top layer's area is what is left: the recursion ends at f = 1 */
	double top = 9.91256303526217e-3 / r.x[QK_RNG_LAYERS - 1] + r.f[QK_RNG_LAYERS - 1];

	assert_near(top, 1.0, 1e-6);
	for (int i = 0; i < QK_RNG_LAYERS; i++)
		assert_true(r.x[i + 1] < r.x[i]);
	for (int b = 0; b <= BINS; b++)
		edge[b] = -4.0 + 8.0 * b / BINS;
	for (int i = 0; i < N; i++) {
		double x = qk_rng_gauss(&r);
		int b = x < -4 ? BINS : x >= 4 ? BINS + 1 : (int)((x + 4.0) / 8.0 * BINS);

		count[b]++;
		tail += fabs(x) > 3.442619855899;
	}
	for (int b = 0; b < BINS + 2; b++) {
		double lo = b < BINS ? edge[b] : b == BINS ? -INFINITY : 4.0;
		double hi = b < BINS ? edge[b + 1] : b == BINS ? -4.0 : INFINITY;
		double want = N * 0.5 * (erf(hi / M_SQRT2) - erf(lo / M_SQRT2));
		double d = (count[b] - want) / sqrt(want);

		if (fabs(d) > 5)
			fail_msg("bin %d [%g, %g): %g draws, %g expected", b, lo, hi, count[b], want);
		chi2 += d * d;
	}
	printf("gaussians: chi-square %.1f over %d bins; %llu past the ziggurat's tail start\n",
	       chi2, BINS + 2, (unsigned long long)tail);
	assert_true(chi2 < 95);
	/* the tail method is used and right: P(|x| > r) = 5.761e-4 */
	assert_true(fabs((double)tail / N - 5.761e-4) < 5 * sqrt(5.761e-4 / N));
}

/* dt <= 0 or NaN does nothing. */
static void test_plant_bad_dt_is_ignored(void **state)
{
	struct qk_plant p, q;
	struct qk_actuator_frame a = throttle(THR_PX, 1.0);

	(void)state;
	make_bot(&p, false);
	q = p;
	qk_plant_step(&p, &a, 0.0);
	qk_plant_step(&p, &a, -1.0);
	qk_plant_step(&p, &a, NAN);
	assert_memory_equal(&p, &q, sizeof(p));
	/* a NaN throttle is off */
	a.throttle[THR_PX] = NAN;
	qk_plant_step(&p, &a, DT);
	assert_true(p.thrust_n[THR_PX] == 0.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plant_init_rejects_bad_config),
		cmocka_unit_test(test_plant_init_normalises_directions),
		cmocka_unit_test(test_plant_thrust_x_velocity),
		cmocka_unit_test(test_plant_coast_keeps_position),
		cmocka_unit_test(test_plant_blowdown_monotone),
		cmocka_unit_test(test_plant_empty_tank_no_thrust),
		cmocka_unit_test(test_plant_battery_sags_under_load),
		cmocka_unit_test(test_plant_thermal_equilibrium_at_defaults),
		cmocka_unit_test(test_plant_thermal_heater_and_relax),
		cmocka_unit_test(test_plant_sensor_noise_statistics),
		cmocka_unit_test(test_plant_deterministic),
		cmocka_unit_test(test_plant_fault_keeps_other_streams),
		cmocka_unit_test(test_plant_sensor_faults),
		cmocka_unit_test(test_plant_redundant_sensor),
		cmocka_unit_test(test_plant_thruster_faults),
		cmocka_unit_test(test_plant_post_table),
		cmocka_unit_test(test_plant_unknown_device),
		cmocka_unit_test(test_plant_command_replies),
		cmocka_unit_test(test_plant_rng),
		cmocka_unit_test(test_plant_rng_gauss_is_normal),
		cmocka_unit_test(test_plant_bad_dt_is_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
