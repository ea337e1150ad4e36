/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/config/test_config.c - built-in profiles, YAML loading, checks, dump.
 *
 * Fixtures are the YAML files in tests/config/yaml/ and rt/config/profiles/, found from the
 * repository root (the runner's working directory) or $QK_SRCDIR.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt/config/config.h"

static const char *src(const char *rel, char *buf, size_t n)
{
	const char *dir = getenv("QK_SRCDIR");

	snprintf(buf, n, "%s/%s", dir && *dir ? dir : ".", rel);
	return buf;
}

/* Zeroed first, so that padding and unused slots compare equal. */
static void profile(struct qk_config *c, const char *name)
{
	char why[256];

	memset(c, 0, sizeof(*c));
	assert_int_equal(qk_config_profile(c, name, why, sizeof(why)), 0);
}

static char *dump_text(const struct qk_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(qk_config_dump(c, f), 0);
	fclose(f);
	return buf;
}

static char *read_text(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len), *in = fopen(path, "r");
	char chunk[4096];
	size_t got;

	assert_non_null(out);
	if (!in)
		fail_msg("cannot open %s (run from the repo root or set QK_SRCDIR)", path);
	while ((got = fread(chunk, 1, sizeof(chunk), in)) > 0)
		fwrite(chunk, 1, got, out);
	fclose(in);
	fclose(out);
	return buf;
}

/* A temporary file holding text; the caller unlinks it. */
static void write_tmp(char *path, size_t n, const char *text)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, n, "%s/qk_config_%d_XXXXXX", dir && *dir ? dir : "/tmp", (int)getpid());
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int load_text(struct qk_config *c, const char *text, char *why, size_t n)
{
	char path[256];
	int ret;

	write_tmp(path, sizeof(path), text);
	ret = qk_config_load(c, path, why, n);
	unlink(path);
	return ret;
}

static void assert_has(const char *s, const char *sub)
{
	if (!strstr(s, sub))
		fail_msg("'%s' does not contain '%s'", s, sub);
}

static void test_config_profiles_validate(void **state)
{
	struct qk_config c;
	char why[256];

	(void)state;
	profile(&c, "bot");
	assert_int_equal(qk_config_validate(&c, why, sizeof(why)), 0);
	assert_string_equal(c.profile, "bot");
	assert_int_equal(c.rate_hz, 1000);
	assert_int_equal(c.wake_mode, QK_WAKE_FUTEX);
	assert_int_equal(c.agent_phase_ns, 0);	/* timer mode derives it */
	assert_int_equal(c.n_thrusters, 6);
	assert_int_equal(c.n_thermal, 3);
	assert_int_equal(c.n_devices, 16);
	assert_true(c.coupling_w_per_k[0][1] == 0.5 && c.coupling_w_per_k[2][0] == 0.5);
	assert_true(c.coupling_w_per_k[1][2] == 0.0);

	profile(&c, "ship");
	assert_int_equal(qk_config_validate(&c, why, sizeof(why)), 0);
	assert_string_equal(c.profile, "ship");
	assert_int_equal(c.n_thrusters, 12);
	assert_int_equal(c.n_thermal, 5);
	assert_int_equal(c.n_devices, 4 + 5 + 12 + 3);
	assert_true(c.dry_mass_kg == 400.0 && c.tank.propellant_kg == 100.0);
	assert_true(c.control.kp == 0.5 && c.control.kd == 1.4);
	assert_string_equal(c.thruster[1].name, "thr_px2");

	profile(&c, NULL);	/* the default */
	assert_string_equal(c.profile, "bot");
	assert_int_equal(qk_config_profile(&c, "rover", why, sizeof(why)), -ENOENT);
	assert_has(why, "rover");
	assert_has(why, "bot, ship");
}

/* Each node radiates exactly its share of the electronics plus what it
 * absorbs, at 293 K: the plant starts at rest. */
static void test_config_profiles_thermal_equilibrium(void **state)
{
	static const char *const names[] = { "bot", "ship" };
	struct qk_config c;

	(void)state;
	for (unsigned p = 0; p < 2; p++) {
		profile(&c, names[p]);
		for (unsigned i = 0; i < c.n_thermal; i++) {
			const struct qk_thermal_cfg *t = &c.thermal[i];
			double T = t->initial_k, q;

			q = t->absorbed_w + t->load_share * c.battery.electronics_w -
			    t->emissivity * 5.670374419e-8 * t->radiator_area_m2 * T * T * T * T;
			assert_true(fabs(q) < 1e-9);
			assert_true(t->absorbed_w >= 0.0);
			assert_true(T == 293.0);
		}
	}
	profile(&c, "bot");
	assert_true(c.thermal[0].radiator_area_m2 == 0.05 && c.thermal[0].load_share == 0.6);
}

static void test_config_profiles_thrusters_push_their_way(void **state)
{
	struct qk_config c;

	(void)state;
	profile(&c, "bot");
	assert_string_equal(c.thruster[0].name, "thr_px");
	assert_true(c.thruster[0].dir[0] == 1.0 && c.thruster[0].pos_m[0] == -0.3);
	assert_string_equal(c.thruster[5].name, "thr_nz");
	assert_true(c.thruster[5].dir[2] == -1.0 && c.thruster[5].pos_m[2] == 0.3);
	for (unsigned i = 0; i < c.n_thrusters; i++)
		assert_true(c.thruster[i].max_thrust_n == 20.0 && c.thruster[i].power_w == 5.0);
	/* every thruster is a critical actuator device of the same name */
	for (unsigned i = 0; i < c.n_thrusters; i++) {
		int d = qk_config_device(&c, c.thruster[i].name);

		assert_true(d >= 0);
		assert_int_equal(c.device[d].type, QK_DEV_ACTUATOR);
		assert_int_equal(c.device[d].index, i);
		assert_int_equal(c.device[d].critical, 1);
	}
}

static void test_config_lookups(void **state)
{
	struct qk_config c;
	int d;

	(void)state;
	profile(&c, "bot");
	d = qk_config_device(&c, "temp_battery");
	assert_true(d >= 0);
	assert_int_equal(c.device[d].sensor, QK_SK_THERMAL);
	assert_int_equal(c.device[d].index, 2);
	assert_int_equal(c.device[d].critical, 0);
	assert_int_equal(qk_config_device(&c, "imu"), 0);
	assert_int_equal(qk_config_device(&c, "warp_drive"), -1);
	assert_int_equal(c.device[qk_config_device(&c, "comms")].critical, 0);
	assert_int_equal(c.device[qk_config_device(&c, "controller")].type, QK_DEV_CONTROLLER);

	for (unsigned m = QK_WAKE_TIMER; m <= QK_WAKE_LOCKSTEP; m++)
		assert_int_equal(qk_wake_mode_parse(qk_wake_mode_name(m)), (int)m);
	assert_string_equal(qk_wake_mode_name(QK_WAKE_FUTEX), "futex");
	assert_string_equal(qk_wake_mode_name(99), "unknown");
	assert_int_equal(qk_wake_mode_parse("Timer"), -1);
	assert_int_equal(qk_wake_mode_parse(""), -1);
	assert_int_equal(qk_wake_mode_parse(NULL), -1);
}

/* dump -> load gives the same bytes, whatever the struct held before. */
static void test_config_dump_load_round_trip(void **state)
{
	static const char *const names[] = { "bot", "ship" };
	struct qk_config a, b;
	char why[512];

	(void)state;
	for (unsigned p = 0; p < 2; p++) {
		char *text;

		profile(&a, names[p]);
		text = dump_text(&a);
		memset(&b, 0, sizeof(b));
		assert_int_equal(load_text(&b, text, why, sizeof(why)), 0);
		assert_memory_equal(&a, &b, sizeof(a));
		profile(&b, names[1 - p]);	/* `profile:` starts again */
		assert_int_equal(load_text(&b, text, why, sizeof(why)), 0);
		assert_memory_equal(&a, &b, sizeof(a));
		free(text);
	}

	/* and with awkward numbers and a normalised oblique thruster */
	profile(&a, "bot");
	a.seed = UINT64_MAX;
	a.tank.isp_s = 0.1 + 0.2;
	a.noise.accel_bias_mps2 = -1e-7;
	a.thermal[1].absorbed_w = 1.0 / 3.0;
	a.agent_phase_ns = 0;
	a.wake_mode = QK_WAKE_LOCKSTEP;
	a.thruster[2].dir[0] = a.thruster[2].dir[1] = sqrt(0.5);
	a.thruster[2].dir[2] = 0.0;
	assert_int_equal(qk_config_validate(&a, why, sizeof(why)), 0);
	{
		char *text = dump_text(&a);

		profile(&b, "ship");
		assert_int_equal(load_text(&b, text, why, sizeof(why)), 0);
		assert_memory_equal(&a, &b, sizeof(a));
		free(text);
	}
}

/* rt/config/profiles/ are the documented examples: exactly the dump. */
static void test_config_profile_files_in_sync(void **state)
{
	static const char *const names[] = { "bot", "ship" };
	struct qk_config c, f;
	char path[512], why[512];

	(void)state;
	for (unsigned p = 0; p < 2; p++) {
		char rel[64], *want, *have;

		snprintf(rel, sizeof(rel), "rt/config/profiles/%s.yaml", names[p]);
		profile(&c, names[p]);
		want = dump_text(&c);
		have = read_text(src(rel, path, sizeof(path)));
		if (strcmp(want, have))
			fail_msg("%s differs from the dump of the built-in profile; regenerate it "
				 "with `qiki run --profile %s --print-config > %s`", rel, names[p], rel);
		memset(&f, 0, sizeof(f));
		assert_int_equal(qk_config_load(&f, path, why, sizeof(why)), 0);
		assert_memory_equal(&c, &f, sizeof(c));
		free(want);
		free(have);
	}
}

static void test_config_override_one_field(void **state)
{
	struct qk_config c, want;
	char path[512], why[512];

	(void)state;
	profile(&c, "bot");
	profile(&want, "bot");
	want.rate_hz = 500;
	want.tank.isp_s = 80.0;
	assert_int_equal(qk_config_load(&c, src("tests/config/yaml/override.yaml", path,
						sizeof(path)), why, sizeof(why)), 0);
	assert_memory_equal(&c, &want, sizeof(c));

	/* `profile: ship` first starts from the ship */
	profile(&c, "bot");
	profile(&want, "ship");
	want.rate_hz = 250;
	want.wake_mode = QK_WAKE_FUTEX;
	assert_int_equal(qk_config_load(&c, src("tests/config/yaml/ship_from_bot.yaml", path,
						sizeof(path)), why, sizeof(why)), 0);
	assert_memory_equal(&c, &want, sizeof(c));

	/* an empty file, or one with only comments, changes nothing */
	profile(&c, "ship");
	profile(&want, "ship");
	assert_int_equal(load_text(&c, "# nothing\n", why, sizeof(why)), 0);
	assert_memory_equal(&c, &want, sizeof(c));
}

/* A replaced list: the profile's devices and couplings follow by name. */
static void test_config_list_replaces_and_remaps(void **state)
{
	struct qk_config c;
	char path[512], why[512];
	int d;

	(void)state;
	profile(&c, "bot");
	assert_int_equal(qk_config_load(&c, src("tests/config/yaml/reorder_thermal.yaml", path,
						sizeof(path)), why, sizeof(why)), 0);
	assert_string_equal(c.thermal[0].name, "battery");
	assert_true(c.thermal[0].min_k == 260.0);
	d = qk_config_device(&c, "temp_battery");
	assert_int_equal(c.device[d].index, 0);
	assert_int_equal(c.device[qk_config_device(&c, "temp_avionics")].index, 1);
	assert_int_equal(c.device[qk_config_device(&c, "temp_propulsion")].index, 2);
	/* avionics (now 1) is coupled to battery (0) and propulsion (2) */
	assert_true(c.coupling_w_per_k[0][1] == 0.5 && c.coupling_w_per_k[1][0] == 0.5);
	assert_true(c.coupling_w_per_k[1][2] == 0.5 && c.coupling_w_per_k[2][1] == 0.5);
	assert_true(c.coupling_w_per_k[0][2] == 0.0);

	profile(&c, "bot");
	assert_int_equal(qk_config_load(&c, src("tests/config/yaml/four_thrusters.yaml", path,
						sizeof(path)), why, sizeof(why)), 0);
	assert_int_equal(c.n_thrusters, 4);
	assert_int_equal(c.n_devices, 6);
	assert_true(c.thruster[0].dir[0] == 1.0);	/* [2, 0, 0] normalised */
	assert_true(fabs(c.thruster[2].dir[0] - sqrt(0.5)) < 1e-15);
	assert_true(c.thruster[4].max_thrust_n == 0.0 && c.thruster[4].name[0] == '\0');
	assert_int_equal(c.device[qk_config_device(&c, "valve_c")].index, 2);
	assert_int_equal(c.device[qk_config_device(&c, "temp_propulsion")].index, 1);
	assert_true(c.coupling_w_per_k[0][1] == 0.0);	/* coupling: [] */
	assert_int_equal(qk_config_validate(&c, why, sizeof(why)), 0);
}

struct bad {
	const char *file;
	const char *has[3];
};

static void test_config_bad_files(void **state)
{
	static const struct bad bad[] = {
		{ "bad_syntax.yaml", { "bad_syntax.yaml:3:5: ", "YAML syntax error" } },
		{ "bad_unknown_key.yaml", { "bad_unknown_key.yaml:4:3: ", "'battery.colour'",
					    "valid keys in 'battery': capacity_wh, v_full" } },
		{ "bad_number.yaml", { "bad_number.yaml:6:13: ", "field 'thermal[1].max_k'",
				       "expected a number in kelvin > 0, at most 10000, got 'abc'" } },
		{ "bad_range.yaml", { "bad_range.yaml:2:10: ", "field 'rate_hz'",
				      "1..100000, got '200000'" } },
		{ "bad_dup_device.yaml", { "bad_dup_device.yaml:7:6: ", "field 'devices[5].name'",
					   "unique name, got 'imu'" } },
		{ "bad_no_thermal_sensor.yaml", { "bad_no_thermal_sensor.yaml:2:1: ",
						  "field 'devices'", "thermal sensor for node 'battery'" } },
		{ "bad_too_many_thrusters.yaml", { "bad_too_many_thrusters.yaml:19:5: ",
						   "field 'thrusters[16]'", "at most 16" } },
		{ "bad_phase.yaml", { "bad_phase.yaml:", "field 'agent_phase_ns'",
				      "less than the period (100000 ns at 10000 Hz)" } },
		{ "bad_tank.yaml", { "bad_tank.yaml:1:1: ", "field 'tank.p_empty_bar'",
				     "< p_full_bar (1.5), got 2" } },
		{ "bad_profile_late.yaml", { "bad_profile_late.yaml:2:1: ", "field 'profile'",
					     "first key" } },
		{ "bad_coupling.yaml", { "bad_coupling.yaml:3:5: ", "field 'coupling[1]'",
					 "got 'payload'" } },
		{ "bad_missing_key.yaml", { "bad_missing_key.yaml:2:5: ", "field 'thrusters[0]'",
					    "missing key 'dir'" } },
		{ "bad_drop_node.yaml", { "bad_drop_node.yaml:2:1: ", "field 'thermal'",
					  "'propulsion'" } },
		{ "bad_two_docs.yaml", { "bad_two_docs.yaml:3:1: ", "one YAML document" } },
	};
	struct qk_config c, before;
	char rel[128], path[512], why[512];

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		profile(&c, "bot");
		before = c;
		snprintf(rel, sizeof(rel), "tests/config/yaml/%s", bad[i].file);
		why[0] = '\0';
		if (qk_config_load(&c, src(rel, path, sizeof(path)), why, sizeof(why)) != -EINVAL)
			fail_msg("%s: expected -EINVAL, got '%s'", bad[i].file, why);
		for (unsigned k = 0; k < 3 && bad[i].has[k]; k++)
			assert_has(why, bad[i].has[k]);
		assert_memory_equal(&c, &before, sizeof(c));	/* untouched on error */
	}
}

/* Numbers are strict: the whole text, finite, in range. */
/* A value no bot or ship has (issue 14: a sensor noise of 1e300 was
 * accepted and turned the plant's arithmetic to inf) is refused, the field
 * and its bound named, and the configuration is left as it was. */
static void test_config_implausible_values_are_refused(void **state)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "noise: {accel_mps2: 1e300}\n",
		  "field 'noise.accel_mps2': expected a number in m/s^2 >= 0, at most 100, got '1e300'" },
		{ "noise: {accel_bias_mps2: -1e300}\n", "field 'noise.accel_bias_mps2'" },
		{ "noise: {temp_k: 1e6}\n", "field 'noise.temp_k'" },
		{ "control: {kp: 1e300}\n", "field 'control.kp': expected a number in 1/s^2 > 0, at most 10000" },
		{ "control: {kd: 1e12}\n", "field 'control.kd'" },
		{ "tank: {isp_s: 1e9}\n", "field 'tank.isp_s'" },
		{ "agent_phase_ns: 1000000000000\n", "field 'agent_phase_ns': expected an integer in ns, 0..1000000000" },
		{ "thrusters:\n  - {name: t, pos_m: [1e300, 0, 0], dir: [1, 0, 0], max_thrust_n: 1, power_w: 1}\n",
		  "field 'thrusters[0].pos_m'" },
	};
	struct qk_config c, before;
	char why[512];

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		profile(&c, "bot");
		before = c;
		if (load_text(&c, bad[i].text, why, sizeof(why)) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i].text);
		assert_has(why, bad[i].want);
		assert_memory_equal(&c, &before, sizeof(c));
	}
	/* the bound is a bound, not a step: the largest plausible value loads */
	profile(&c, "bot");
	assert_int_equal(load_text(&c, "noise: {accel_mps2: 100}\n", why, sizeof(why)), 0);
}

/* Bounds before the tree (issue 14: a 200 kB file of nesting took 28 s to
 * reject, the loader being quadratic in depth): too deep, too large and
 * aliases are refused by the streaming pre-pass, which names the limit. */
static void test_config_limits_size_depth_aliases(void **state)
{
	size_t half = 100 * 1000;
	char *deep = malloc(2 * half + 2), *big = malloc(QK_CONFIG_MAX_BYTES + 64);
	struct qk_config c, before;
	char why[512];

	(void)state;
	assert_non_null(deep);
	assert_non_null(big);
	memset(deep, '[', half);
	memset(deep + half, ']', half);
	strcpy(deep + 2 * half, "\n");
	profile(&c, "bot");
	before = c;
	assert_int_equal(qk_config_load_mem(&c, "deep.yaml", deep, 2 * half + 1, why, sizeof(why)),
			 -EINVAL);
	assert_has(why, "deep.yaml:1:17: nested more than 16 deep");
	assert_memory_equal(&c, &before, sizeof(c));

	/* the same shape as a block mapping: depth counts there too */
	char blk[4096] = "";
	size_t at = 0;

	for (int i = 0; i < 20; i++)
		at += (size_t)snprintf(blk + at, sizeof(blk) - at, "%*sk%d:\n", 2 * i, "", i);
	assert_int_equal(load_text(&c, blk, why, sizeof(why)), -EINVAL);
	assert_has(why, "nested more than 16 deep");

	/* one byte over the size limit, all of it a comment */
	memset(big, ' ', QK_CONFIG_MAX_BYTES + 1);
	big[0] = '#';
	big[QK_CONFIG_MAX_BYTES + 1] = 0;
	assert_int_equal(load_text(&c, big, why, sizeof(why)), -EFBIG);
	assert_has(why, "larger than 262144 bytes");
	assert_int_equal(qk_config_load_mem(&c, "big.yaml", big, QK_CONFIG_MAX_BYTES + 1, why,
					    sizeof(why)), -EFBIG);
	/* ... and at the limit it is read */
	assert_int_equal(qk_config_load_mem(&c, "big.yaml", big, QK_CONFIG_MAX_BYTES, why,
					    sizeof(why)), 0);

	assert_int_equal(load_text(&c, "tank: &t {isp_s: 70}\nbattery: *t\n", why, sizeof(why)),
			 -EINVAL);
	assert_has(why, ":2:10: YAML aliases (*name) are not supported");
	assert_memory_equal(&c, &before, sizeof(c));
	free(deep);
	free(big);
}

static void test_config_numbers_strict(void **state)
{
	static const char *const bad[] = {
		"dry_mass_kg: 1e999\n", "dry_mass_kg: abc\n", "dry_mass_kg: ''\n",
		"dry_mass_kg:\n", "dry_mass_kg: nan\n", "dry_mass_kg: inf\n",
		"dry_mass_kg: 0x10\n", "dry_mass_kg: 12kg\n", "dry_mass_kg: 1e-999\n",
		"dry_mass_kg: ' 12'\n", "dry_mass_kg: 0\n", "dry_mass_kg: -5\n",
		"dry_mass_kg: [1]\n",
	};
	static const char *const bad_int[] = {
		"rate_hz: 1.5\n", "rate_hz: -1\n", "rate_hz: 0\n", "rate_hz: 1e3\n",
		"rate_hz: 99999999999999999999\n", "rate_hz: +5\n",
	};
	struct qk_config c;
	char why[512];

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		profile(&c, "bot");
		if (load_text(&c, bad[i], why, sizeof(why)) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		assert_has(why, ":1:");
		assert_has(why, "field 'dry_mass_kg': expected a number in kg > 0, at most 1000000, got ");
	}
	for (unsigned i = 0; i < sizeof(bad_int) / sizeof(bad_int[0]); i++) {
		profile(&c, "bot");
		if (load_text(&c, bad_int[i], why, sizeof(why)) != -EINVAL)
			fail_msg("'%s' was accepted", bad_int[i]);
		assert_has(why, "field 'rate_hz': expected an integer in Hz, 1..100000");
	}
	profile(&c, "bot");
	assert_int_equal(load_text(&c, "dry_mass_kg: 2.5e1\nseed: 18446744073709551615\n"
				   "noise: {accel_bias_mps2: -0.01}\n", why, sizeof(why)), 0);
	assert_true(c.dry_mass_kg == 25.0 && c.seed == UINT64_MAX);
	assert_true(c.noise.accel_bias_mps2 == -0.01);
	assert_int_equal(load_text(&c, "seed: 18446744073709551616\n", why, sizeof(why)), -EINVAL);
	assert_has(why, "field 'seed'");
}

/* More of the loader's refusals, each naming the field. */
static void test_config_bad_structure(void **state)
{
	static const struct { const char *text, *has; } bad[] = {
		{ "- 1\n- 2\n", "mapping of keys at the top level" },
		{ "rate_hz: 500\nrate_hz: 600\n", "field 'rate_hz': given twice" },
		{ "tank: 5\n", "field 'tank': expected a mapping, got '5'" },
		{ "tank: {isp_s: 1, isp_s: 2}\n", "field 'tank.isp_s': given twice" },
		{ "thrusters: {a: 1}\n", "field 'thrusters': expected a list" },
		{ "wake: sleepy\n", "field 'wake': expected one of timer, futex, spin, lockstep" },
		{ "profile: rover\n", "field 'profile': expected a built-in profile (bot, ship)" },
		{ "thrusters:\n  - {name: a, pos_m: [0, 0], dir: [1, 0, 0], max_thrust_n: 1, "
		  "power_w: 0}\n", "field 'thrusters[0].pos_m': expected a list of 3 numbers in m" },
		{ "thrusters:\n  - {name: a, pos_m: [0, 0, 0], dir: [0, 0, 0], max_thrust_n: 1, "
		  "power_w: 0}\n", "field 'thrusters[0].dir'" },
		{ "thrusters:\n  - {name: a b, pos_m: [0, 0, 0], dir: [1, 0, 0], max_thrust_n: 1, "
		  "power_w: 0}\n", "field 'thrusters[0].name': expected a name" },
		{ "thrusters:\n  - {name: a, pos_m: [0, 0, 0], dir: [1, 0, 0], max_thrust_n: 1, "
		  "power_w: 0, colour: red}\n", "field 'thrusters[0].colour': unknown key" },
		{ "thrusters: []\n", "field 'thrusters': expected a thruster 'thr_px' for the "
		  "profile's device 'thr_px', or a devices list too" },
		{ "thrusters: []\ndevices: []\n", "field 'thrusters': expected 1..16 thrusters, got 0" },
		{ "devices:\n  - {name: x, type: robot, critical: true}\n",
		  "field 'devices[0].type': expected sensor, actuator" },
		{ "devices:\n  - {name: x, type: power, sensor: imu, critical: true}\n",
		  "field 'devices[0].sensor': expected no sensor kind" },
		{ "devices:\n  - {name: x, type: sensor, critical: true}\n",
		  "field 'devices[0].sensor': expected a sensor kind" },
		{ "devices:\n  - {name: x, type: actuator, critical: true}\n",
		  "'thruster: NAME' for an actuator" },
		{ "devices:\n  - {name: x, type: actuator, thruster: thr_qq, critical: true}\n",
		  "field 'devices[0].thruster': expected a thruster name, got 'thr_qq'" },
		{ "devices:\n  - {name: x, type: comms, critical: maybe}\n",
		  "field 'devices[0].critical': expected true or false, got 'maybe'" },
		{ "devices:\n  - {name: x, type: comms}\n", "missing key 'critical'" },
		{ "devices:\n  - {name: all, type: comms, critical: true}\n",
		  "field 'devices[0].name': expected a name other than 'all'" },
		{ "coupling:\n  - [avionics, avionics, 1]\n", "two different nodes" },
		{ "coupling:\n  - [avionics, battery, 1]\n  - [battery, avionics, 2]\n",
		  "field 'coupling[1]': expected each pair once" },
		{ "coupling:\n  - [avionics, battery, -1]\n", "conductance in W/K >= 0, got '-1'" },
		{ "limits: {confidence_min: 0}\n",
		  "field 'limits.confidence_min': expected a number in (0, 1], got '0'" },
		{ "thermal:\n  - {name: a, capacity_j_per_k: 1, radiator_area_m2: 0, emissivity: 0, "
		  "absorbed_w: 0, load_share: 0, heater_w: 0, initial_k: 293, min_k: 300, "
		  "max_k: 200}\ndevices: [{name: t, type: sensor, sensor: thermal, node: a, "
		  "critical: false}]\n", "field 'thermal[0].min_k': expected < max_k (200 K), got 300" },
	};
	struct qk_config c;
	char why[512];

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		profile(&c, "bot");
		if (load_text(&c, bad[i].text, why, sizeof(why)) != -EINVAL)
			fail_msg("accepted:\n%s", bad[i].text);
		if (!strstr(why, bad[i].has))
			fail_msg("for\n%s'%s' lacks '%s'", bad[i].text, why, bad[i].has);
		assert_has(why, "qk_config_");	/* the file, line and column */
	}
}

static void test_config_missing_file(void **state)
{
	struct qk_config c;
	char why[256];

	(void)state;
	profile(&c, "bot");
	assert_int_equal(qk_config_load(&c, "/nonexistent/qiki.yaml", why, sizeof(why)), -ENOENT);
	assert_has(why, "/nonexistent/qiki.yaml");
	assert_int_equal(qk_config_load(&c, "/nonexistent/qiki.yaml", NULL, 0), -ENOENT);
}

/* The validator on structs built in code: each mistake, by field. */
static void test_config_validate_names_the_field(void **state)
{
	struct qk_config c;
	char why[256];

#define BAD(mutation, field)                                                  \
	do {                                                                  \
		profile(&c, "bot");                                           \
		mutation;                                                     \
		assert_int_equal(qk_config_validate(&c, why, sizeof(why)), -EINVAL); \
		assert_has(why, "field '" field "'");                         \
	} while (0)

	(void)state;
	BAD(c.rate_hz = 0, "rate_hz");
	BAD(c.rate_hz = 100001, "rate_hz");
	BAD(c.wake_mode = 4, "wake");
	BAD(c.agent_phase_ns = -1, "agent_phase_ns");
	BAD(c.agent_phase_ns = 1000000, "agent_phase_ns");
	BAD(c.dry_mass_kg = 0, "dry_mass_kg");
	BAD(c.tank.p_empty_bar = 20, "tank.p_empty_bar");
	BAD(c.tank.min_bar = 30, "tank.min_bar");
	BAD(c.tank.isp_s = NAN, "tank.isp_s");
	BAD(c.battery.capacity_wh = -1, "battery.capacity_wh");
	BAD(c.battery.v_empty = 26, "battery.v_empty");
	BAD(c.battery.initial_soc = 1.5, "battery.initial_soc");
	BAD(c.limits.confidence_min = 0, "limits.confidence_min");
	BAD(c.limits.confidence_min = 1.01, "limits.confidence_min");
	BAD(c.limits.sensor_stale_cycles = 0, "limits.sensor_stale_cycles");
	BAD(c.control.kp = 0, "control.kp");
	BAD(c.n_thrusters = 0, "thrusters");
	BAD(c.n_thrusters = QK_MAX_THRUSTERS + 1, "thrusters");
	BAD(c.thruster[3].dir[0] = 0.5, "thrusters[3].dir");
	BAD(strcpy(c.thruster[4].name, "thr_px"), "thrusters[4].name");
	BAD(c.n_thermal = QK_MAX_THERMAL + 1, "thermal");
	BAD(c.thermal[1].max_k = 200, "thermal[1].min_k");
	BAD(c.thermal[2].emissivity = 1.2, "thermal[2].emissivity");
	BAD(c.thermal[0].load_share = 0.9, "thermal");
	BAD(c.coupling_w_per_k[0][1] = 0.7, "coupling");
	BAD(c.coupling_w_per_k[1][1] = 0.7, "coupling");
	BAD(c.coupling_w_per_k[5][6] = 0.7, "coupling");
	BAD(c.n_devices = QK_MAX_DEVICES + 1, "devices");
	BAD(strcpy(c.device[3].name, "imu"), "devices[3].name");
	BAD(c.device[0].name[0] = '\0', "devices[0].name");
	BAD(c.device[7].index = 6, "devices[7].index");
	BAD(c.device[6].index = 3, "devices[6].index");
	BAD(c.device[6].index = 1, "devices");	/* battery lost its sensor */
	BAD(c.device[0].sensor = QK_SK_NONE, "devices[0].sensor");
	BAD(c.device[13].sensor = QK_SK_IMU, "devices[13].sensor");
	BAD(c.device[0].type = QK_DEV_TYPE_COUNT, "devices[0].type");
	BAD(c.device[0].critical = 2, "devices[0].critical");
#undef BAD
	assert_has(why, "expected 0 or 1, got 2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_profiles_validate),
		cmocka_unit_test(test_config_profiles_thermal_equilibrium),
		cmocka_unit_test(test_config_profiles_thrusters_push_their_way),
		cmocka_unit_test(test_config_lookups),
		cmocka_unit_test(test_config_dump_load_round_trip),
		cmocka_unit_test(test_config_profile_files_in_sync),
		cmocka_unit_test(test_config_override_one_field),
		cmocka_unit_test(test_config_list_replaces_and_remaps),
		cmocka_unit_test(test_config_bad_files),
		cmocka_unit_test(test_config_numbers_strict),
		cmocka_unit_test(test_config_implausible_values_are_refused),
		cmocka_unit_test(test_config_limits_size_depth_aliases),
		cmocka_unit_test(test_config_bad_structure),
		cmocka_unit_test(test_config_missing_file),
		cmocka_unit_test(test_config_validate_names_the_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
