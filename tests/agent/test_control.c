/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/agent/test_control.c - the PD law, thrust allocation for the bot and a
 * ship, a closed loop on a double integrator, and the heaters. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rt/agent/control.h"
#include "tests/agent/fixture.h"

static struct qk_config bot, ship;

static int setup(void **state)
{
	(void)state;
	fx_bot(&bot);
	fx_ship(&ship);
	return 0;
}

/* What the thrusters make, and the box each axis can reach. */
static void made_by(const struct qk_config *c, double ratio, const double u[QK_MAX_THRUSTERS],
		    double made[3], double lo[3], double hi[3])
{
	for (int a = 0; a < 3; a++)
		made[a] = lo[a] = hi[a] = 0;
	for (uint32_t i = 0; i < c->n_thrusters; i++) {
		for (int a = 0; a < 3; a++) {
			double b = c->thruster[i].dir[a] * c->thruster[i].max_thrust_n * ratio;

			made[a] += u[i] * b;
			if (b > 0)
				hi[a] += b;
			else
				lo[a] += b;
		}
	}
}

/* Allocates `want`; the thrusters make the closest force they can: for
 * these axis-aligned layouts, each axis clamped to what it has. */
static void check_alloc(const struct qk_config *c, double p_bar, const double want[3])
{
	double u[QK_MAX_THRUSTERS], made[3], lo[3], hi[3], made2[3];
	double ratio = p_bar / c->tank.p_full_bar;

	qk_control_allocate_made(c, p_bar, want, u, made2);
	for (uint32_t i = 0; i < QK_MAX_THRUSTERS; i++) {
		assert_true(u[i] >= 0 && u[i] <= 1);
		if (i >= c->n_thrusters)
			assert_true(u[i] == 0);
	}
	made_by(c, ratio, u, made, lo, hi);
	for (int a = 0; a < 3; a++) {
		double target = want[a] < lo[a] ? lo[a] : want[a] > hi[a] ? hi[a] : want[a];

		if (fabs(made[a] - target) > 1e-6 * (1 + fabs(target)))
			fail_msg("%s axis %d: asked %g, made %g, expected %g", c->profile, a,
				 want[a], made[a], target);
		assert_true(fabs(made2[a] - made[a]) < 1e-9);
	}
	/* never both of an opposing pair */
	for (uint32_t i = 0; i < c->n_thrusters; i++)
		for (uint32_t j = 0; j < c->n_thrusters; j++) {
			double dot = 0;

			for (int a = 0; a < 3; a++)
				dot += c->thruster[i].dir[a] * c->thruster[j].dir[a];
			if (dot < -0.99)
				assert_true(u[i] == 0 || u[j] == 0);
		}
}

static void test_control_allocation_matches_feasible_force_bot(void **state)
{
	double u[QK_MAX_THRUSTERS];

	(void)state;
	check_alloc(&bot, 20, (double[3]){ 12, -3.5, 0.25 });
	check_alloc(&bot, 20, (double[3]){ 0, 0, -19.9 });
	check_alloc(&bot, 20, (double[3]){ 20, 20, -20 });
	/* exact throttles for an axis-aligned layout */
	qk_control_allocate(&bot, 20, (double[3]){ 12, -3.5, 0 }, u);
	assert_true(fabs(u[0] - 0.6) < 1e-9 && u[1] == 0);
	assert_true(fabs(u[3] - 0.175) < 1e-9 && u[2] == 0);
	assert_true(u[4] == 0 && u[5] == 0);
	/* half the tank pressure, half the thrust: twice the throttle */
	qk_control_allocate(&bot, 10, (double[3]){ 8, 0, 0 }, u);
	assert_true(fabs(u[0] - 0.8) < 1e-9);
	check_alloc(&bot, 10, (double[3]){ 8, -9.9, 3 });
}

static void test_control_allocation_saturates_sensibly(void **state)
{
	double u[QK_MAX_THRUSTERS];

	(void)state;
	/* each axis gives what it has, the others are still met */
	check_alloc(&bot, 20, (double[3]){ 100, -100, 5 });
	check_alloc(&bot, 5, (double[3]){ 100, 0.5, 0 });
	check_alloc(&ship, 20, (double[3]){ 1000, 0, 0 });
	check_alloc(&ship, 20, (double[3]){ -1e6, 1e6, 10 });
	qk_control_allocate(&bot, 20, (double[3]){ 1e9, 0, 0 }, u);
	assert_true(u[0] == 1.0);
	/* under the deadband nothing fires; nonsense fires nothing */
	qk_control_allocate(&bot, 20, (double[3]){ 0.03, 0.03, 0 }, u);
	for (int i = 0; i < QK_MAX_THRUSTERS; i++)
		assert_true(u[i] == 0);
	qk_control_allocate(&bot, 20, (double[3]){ NAN, 1, 0 }, u);
	for (int i = 0; i < QK_MAX_THRUSTERS; i++)
		assert_true(u[i] == 0);
	qk_control_allocate(&bot, 0, (double[3]){ 5, 0, 0 }, u);
	for (int i = 0; i < QK_MAX_THRUSTERS; i++)
		assert_true(u[i] == 0);
}

static void test_control_allocation_ship_shares_between_unequal_pairs(void **state)
{
	double u[QK_MAX_THRUSTERS];

	(void)state;
	check_alloc(&ship, 20, (double[3]){ 150, 40, -155 });
	check_alloc(&ship, 20, (double[3]){ 0.6, 0, 0 });
	/* 100 N: equal shares of 50 N -> thr_px1 (100 N) 0.5, thr_px2 (60 N) 5/6 */
	qk_control_allocate(&ship, 20, (double[3]){ 100, 0, 0 }, u);
	assert_true(fabs(u[0] - 0.5) < 1e-9);
	assert_true(fabs(u[1] - 50.0 / 60) < 1e-9);
	/* 150 N: the 60 N one saturates, the 100 N one takes the rest */
	qk_control_allocate(&ship, 20, (double[3]){ 150, 0, 0 }, u);
	assert_true(fabs(u[1] - 1) < 1e-9);
	assert_true(fabs(u[0] - 0.9) < 1e-9);
}

static void test_control_allocation_sweep_stays_in_bounds(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	/* a deterministic sweep of forces inside and far outside the box */
	for (int k = 0; k < 2000; k++) {
		double f[3], p_bar;

		for (int a = 0; a < 3; a++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			f[a] = ((double)(x >> 11) / 9007199254740992.0 - 0.5) * (k % 2 ? 80 : 600);
		}
		p_bar = 2 + (double)(k % 19);
		check_alloc(k % 3 ? &bot : &ship, p_bar, f);
	}
}

static double rnd(uint64_t *x)
{
	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(*x >> 11) / 9007199254740992.0;
}

/* Random axis-separable layouts (1 to 3 thrusters per direction, some
 * directions empty, unequal capacities, direction vectors not unit):
 * the closed form and the projected gradient give the same throttles, to
 * within what the iteration's stopping rule leaves (QK_THROTTLE_RES per
 * iteration, shrinking at least by 1 - 1/lambda per iteration). */
static void test_control_closed_form_agrees_with_iterative(void **state)
{
	uint64_t x = 12345;
	double worst = 0;

	(void)state;
	for (int k = 0; k < 3000; k++) {
		struct qk_config c;
		struct qk_control_plan p;
		double f[3], u1[QK_MAX_THRUSTERS], u2[QK_MAX_THRUSTERS], m1[3], m2[3];
		int count[3] = { 0 };

		fx_bot(&c);
		memset(c.thruster, 0, sizeof(c.thruster));
		c.n_thrusters = 0;
		for (int a = 0; a < 3; a++)
			for (int s = 0; s < 2; s++) {
				int n = (int)(rnd(&x) * 4);	/* 0..3 */

				for (int i = 0; i < n && c.n_thrusters < QK_MAX_THRUSTERS; i++) {
					struct qk_thruster_cfg *t = &c.thruster[c.n_thrusters++];

					t->dir[a] = (s ? -1 : 1) * (0.5 + rnd(&x));
					t->max_thrust_n = rnd(&x) < 0.1 ? 0 : 1 + 99 * rnd(&x);
					count[a]++;
				}
			}
		if (!c.n_thrusters)
			continue;
		c.control.deadband_n = rnd(&x) < 0.5 ? 0 : 0.05;
		qk_control_plan_init(&p, &c);
		assert_true(p.separable);
		for (int a = 0; a < 3; a++)
			f[a] = (rnd(&x) - 0.5) * (k % 2 ? 100 : 600) * (rnd(&x) < 0.1 ? 1e-9 : 1);
		double p_bar = 1 + 30 * rnd(&x);
		int lambda = count[0] > count[1] ? count[0] : count[1];

		lambda = count[2] > lambda ? count[2] : lambda;
		qk_control_allocate_plan(&p, p_bar, f, u1, m1);
		int it = qk_control_allocate_iterative(&p, p_bar, f, u2, m2);

		assert_true(it < QK_ALLOC_ITERS);	/* it settled, not ran out */
		for (int i = 0; i < QK_MAX_THRUSTERS; i++) {
			double d = fabs(u1[i] - u2[i]);

			worst = d > worst ? d : worst;
			if (d > 2 * QK_THROTTLE_RES * lambda)
				fail_msg("layout %d thruster %d: closed form %.9f, iterative %.9f (%d its)",
					 k, i, u1[i], u2[i], it);
		}
		check_alloc(&c, p_bar, f);
	}
	printf("closed form vs iterative: worst throttle difference %.2g\n", worst);
}

/* A layout that is not separable (thrusters at 30 degrees off the axes,
 * a skew one): the projected gradient's answer meets the optimality
 * conditions of the box-constrained least squares: a thruster between its
 * bounds has no gradient left, one at 0 would not help by opening, one at
 * full would not help by closing.  A solve that ran out of iterations (an
 * ill-conditioned active set converges slowly) is held to 5% of capacity;
 * those stay a minority. */
static void test_control_general_layout_is_optimal(void **state)
{
	struct qk_config c;
	struct qk_control_plan p;
	uint64_t x = 99;
	static const double dirs[][3] = {
		{ 0.866, 0.5, 0 }, { -0.866, -0.5, 0 }, { -0.5, 0.866, 0 }, { 0.5, -0.866, 0 },
		{ 0, 0.3, 0.954 }, { 0, -0.3, -0.954 }, { 0.577, 0.577, 0.577 },
	};

	(void)state;
	fx_bot(&c);
	memset(c.thruster, 0, sizeof(c.thruster));
	c.n_thrusters = 7;
	for (int i = 0; i < 7; i++) {
		memcpy(c.thruster[i].dir, dirs[i], sizeof(dirs[i]));
		c.thruster[i].max_thrust_n = 10 + 3 * i;
	}
	qk_control_plan_init(&p, &c);
	assert_false(p.separable);
	int capped = 0;

	for (int k = 0; k < 500; k++) {
		double f[3], u[QK_MAX_THRUSTERS], made[3], r[3], u2[QK_MAX_THRUSTERS];

		for (int a = 0; a < 3; a++)
			f[a] = (rnd(&x) - 0.5) * (k % 2 ? 20 : 120);
		qk_control_allocate_made(&c, 20, f, u, made);
		int it = qk_control_allocate_iterative(&p, 20, f, u2, NULL);

		assert_memory_equal(u, u2, sizeof(u));	/* the general path is the iteration */
		capped += it == QK_ALLOC_ITERS;
		for (int a = 0; a < 3; a++)
			r[a] = made[a] - f[a];
		for (uint32_t i = 0; i < c.n_thrusters; i++) {
			double g = 0, cap = c.thruster[i].max_thrust_n;

			for (int a = 0; a < 3; a++)
				g += p.d[i][a] * r[a];
			/* gradient in force units, against what one resolution step moves */
			double tol = (it == QK_ALLOC_ITERS ? 5e-2 : 1e-3) * cap;

			assert_true(u[i] >= 0 && u[i] <= 1);
			if (u[i] > 0 && u[i] < 1 && fabs(g) > tol)
				fail_msg("case %d thruster %u at %.4f: gradient %g", k, i, u[i], g);
			if (u[i] == 0 && g < -tol)
				fail_msg("case %d thruster %u closed, would help: %g", k, i, g);
			if (u[i] == 1 && g > tol)
				fail_msg("case %d thruster %u full, too much: %g", k, i, g);
		}
	}
	printf("general layout: %d of 500 solves ran out of iterations\n", capped);
	assert_true(capped < 50);
}

static void test_control_pd_force_is_clamped_and_damped(void **state)
{
	struct qk_sensor_frame f;
	double sp[3] = { 10, 0, 0 }, F[3];

	(void)state;
	fx_frame(&bot, &f, 1);
	qk_control_force(&bot, &f, sp, F);
	/* 10 m out: a = 10 clamped to 0.5, times 25 kg */
	assert_true(fabs(F[0] - 12.5) < 1e-12 && F[1] == 0 && F[2] == 0);
	/* small error: the PD law itself, damping included */
	sp[0] = 0.1;
	f.vel_mps[0] = 0.02;
	qk_control_force(&bot, &f, sp, F);
	assert_true(fabs(F[0] - 25 * (1.0 * 0.1 - 2.0 * 0.02)) < 1e-12);
	/* the clamp keeps the direction */
	sp[0] = 30;
	sp[1] = -40;
	f.vel_mps[0] = 0;
	qk_control_force(&bot, &f, sp, F);
	assert_true(fabs(hypot(F[0], F[1]) - 12.5) < 1e-9);
	assert_true(fabs(F[1] / F[0] + 4.0 / 3) < 1e-9);
	/* no mass reading: the dry mass */
	f.mass_kg = 0;
	qk_control_force(&bot, &f, sp, F);
	assert_true(fabs(hypot(F[0], F[1]) - 10) < 1e-9);
	/* nav invalid: no force */
	f.valid &= ~QK_VALID_NAV;
	qk_control_force(&bot, &f, sp, F);
	assert_true(F[0] == 0 && F[1] == 0 && F[2] == 0);
	/* tank invalid: the full-tank pressure is assumed */
	fx_frame(&bot, &f, 1);
	f.tank_bar = 12;
	assert_true(qk_control_tank_bar(&bot, &f) == 12);
	f.valid &= ~QK_VALID_TANK;
	assert_true(qk_control_tank_bar(&bot, &f) == 20);
}

/* A double integrator F = m a driven by the allocated thrusts, 1 ms ticks;
 * the number of ticks to be within 0.5 m and 0.05 m/s, or -1. */
static int closed_loop(const struct qk_config *c, const double start[3], const double sp[3],
		       int max_ticks, double *worst_overshoot)
{
	struct qk_sensor_frame f;
	double pos[3], vel[3], u[QK_MAX_THRUSTERS], F[3], made[3], lo[3], hi[3];
	double mass = c->dry_mass_kg + c->tank.propellant_kg, dt = 0.001;

	fx_frame(c, &f, 0);
	memcpy(pos, start, sizeof(pos));
	memset(vel, 0, sizeof(vel));
	*worst_overshoot = 0;
	for (int t = 0; t < max_ticks; t++) {
		double e = 0, v = 0;

		memcpy(f.pos_m, pos, sizeof(pos));
		memcpy(f.vel_mps, vel, sizeof(vel));
		for (int a = 0; a < 3; a++) {
			e += (sp[a] - pos[a]) * (sp[a] - pos[a]);
			v += vel[a] * vel[a];
		}
		if (sqrt(e) < 0.5 && sqrt(v) < 0.05)
			return t;
		qk_control_force(c, &f, sp, F);
		qk_control_allocate(c, c->tank.p_full_bar, F, u);
		for (int i = 0; i < QK_MAX_THRUSTERS; i++)
			assert_true(u[i] >= 0 && u[i] <= 1);
		made_by(c, 1.0, u, made, lo, hi);
		for (int a = 0; a < 3; a++) {
			vel[a] += made[a] / mass * dt;	/* semi-implicit Euler */
			pos[a] += vel[a] * dt;
			double over = (pos[a] - sp[a]) * (sp[a] > start[a] ? 1 : -1);

			if (sp[a] != start[a] && over > *worst_overshoot)
				*worst_overshoot = over;
		}
	}
	return -1;
}

static void test_control_closed_loop_reaches_the_setpoint(void **state)
{
	double over;
	int t;

	(void)state;
	t = closed_loop(&bot, (double[3]){ 0, 0, 0 }, (double[3]){ 10, 0, 0 }, 60000, &over);
	printf("bot: 10 m in %d ticks (%.1f s), overshoot %.3f m\n", t, t / 1000.0, over);
	assert_true(t > 0 && t < 40000);
	assert_true(over < 0.2);	/* the braking cap: a plain clamped PD overshoots ~1 m */
	t = closed_loop(&bot, (double[3]){ 3, -4, 2 }, (double[3]){ -7, 1, -3 }, 60000, &over);
	printf("bot: diagonal in %d ticks (%.1f s), overshoot %.3f m\n", t, t / 1000.0, over);
	assert_true(t > 0 && t < 40000);
	assert_true(over < 0.2);
	t = closed_loop(&ship, (double[3]){ 0, 0, 0 }, (double[3]){ 10, -5, 3 }, 90000, &over);
	printf("ship: in %d ticks (%.1f s), overshoot %.3f m\n", t, t / 1000.0, over);
	assert_true(t > 0 && t < 60000);
	assert_true(over < 0.2);
}

static void test_control_heaters_thermostat_with_hysteresis(void **state)
{
	struct qk_sensor_frame f;
	uint8_t on[QK_MAX_THERMAL] = { 0 };
	double h[QK_MAX_THERMAL], lo, hi;

	(void)state;
	qk_control_heater_band(&bot.thermal[0], &lo, &hi);
	assert_true(lo == 258 && hi == 274);	/* margin 8 K of 250..330 */
	fx_frame(&bot, &f, 1);
	f.temp_k[0] = 257;
	f.temp_k[1] = 300;
	f.temp_k[2] = 265;
	qk_control_heaters(&bot, &f, on, h);
	assert_true(h[0] == 1 && h[1] == 0 && h[2] == 0);
	f.temp_k[0] = 265;	/* inside the band: stays on */
	qk_control_heaters(&bot, &f, on, h);
	assert_true(h[0] == 1 && h[2] == 0);
	f.temp_k[0] = 274.5;	/* above it: off */
	qk_control_heaters(&bot, &f, on, h);
	assert_true(h[0] == 0);
	f.temp_k[0] = 265;	/* back inside: stays off */
	qk_control_heaters(&bot, &f, on, h);
	assert_true(h[0] == 0);
	/* no reading: off, and no node beyond the configured ones */
	f.temp_k[0] = 200;
	f.valid &= ~QK_VALID_TEMP(0);
	f.temp_k[5] = 1;
	f.valid |= QK_VALID_TEMP(5);
	qk_control_heaters(&bot, &f, on, h);
	for (int i = 0; i < QK_MAX_THERMAL; i++)
		assert_true(h[i] == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_allocation_matches_feasible_force_bot),
		cmocka_unit_test(test_control_allocation_saturates_sensibly),
		cmocka_unit_test(test_control_allocation_ship_shares_between_unequal_pairs),
		cmocka_unit_test(test_control_allocation_sweep_stays_in_bounds),
		cmocka_unit_test(test_control_closed_form_agrees_with_iterative),
		cmocka_unit_test(test_control_general_layout_is_optimal),
		cmocka_unit_test(test_control_pd_force_is_clamped_and_damped),
		cmocka_unit_test(test_control_closed_loop_reaches_the_setpoint),
		cmocka_unit_test(test_control_heaters_thermostat_with_hysteresis),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
