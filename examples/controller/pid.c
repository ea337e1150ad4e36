/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * examples/controller/pid.c - a third-party controller for qiki: a PID on
 * the position error with velocity feedback and integrator anti-windup,
 * built against the installed headers only (see Makefile) and loaded by
 *   qiki run --controller ./pid.so    (or qiki-agent --controller ./pid.so)
 *
 * Per axis: a = kp e + ki I - kd v, |a| clamped to max_accel (the vector,
 * so the direction holds); the force m a goes to the agent, whose thrust
 * allocator turns it into throttles.  Anti-windup, two ways: the integral
 * is clamped to |I| <= i_max, and it does not grow on a tick whose output
 * was clamped (conditional integration), so a long transit far from the
 * setpoint does not charge it.  It integrates only on fresh frames, and
 * starts from zero each time the agent enters ACTIVE.
 *
 * The contract of tick(): no allocation, no syscall, bounded time.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <rt/agent/controller.h>

enum { KP, KI, KD, MAX_ACCEL, I_MAX, N_PARAMS };

static const struct qk_ctl_param params[N_PARAMS] = {
	[KP] = { "kp", 0, 100, 1.0 },		/* 1/s^2 */
	[KI] = { "ki", 0, 100, 0.02 },		/* 1/s^3 */
	[KD] = { "kd", 0, 100, 2.0 },		/* 1/s */
	[MAX_ACCEL] = { "max_accel_mps2", 0, 100, 0.4 },
	[I_MAX] = { "i_max", 0, 1e3, 1.0 },	/* m s */
};

struct pid {
	double k[N_PARAMS];
	double integral[3];
	double dt_s;
	double dry_mass_kg;
	int saturated;			/* last tick's output was clamped */
};

static int pid_init(void *state, const struct qk_ctl_setup *s, char *why, size_t n)
{
	struct pid *p = state;

	if (s->period_ns <= 0 || !(s->dry_mass_kg > 0)) {
		/* the one place a controller may format text: start-up */
		strncpy(why, "pid: needs a period and a dry mass", n - 1);
		why[n - 1] = 0;
		return -EINVAL;
	}
	for (int i = 0; i < N_PARAMS; i++)
		p->k[i] = params[i].def;
	p->dt_s = (double)s->period_ns / 1e9;
	p->dry_mass_kg = s->dry_mass_kg;
	return 0;
}

static void pid_tick(void *state, const struct qk_ctl_in *in, struct qk_ctl_out *out)
{
	struct pid *p = state;
	const struct qk_sensor_frame *f = in->f;
	double e[3], a[3], norm = 0;

	out->kind = QK_CTL_OUT_FORCE;	/* zero force unless set below */
	if (in->first) {
		memset(p->integral, 0, sizeof(p->integral));
		p->saturated = 0;
	}
	if (!(f->valid & QK_VALID_NAV))
		return;			/* blind: push nothing */
	for (int i = 0; i < 3; i++) {
		e[i] = in->setpoint[i] - f->pos_m[i];
		if (in->fresh && !p->saturated) {
			double v = p->integral[i] + e[i] * p->dt_s;

			p->integral[i] = fmax(-p->k[I_MAX], fmin(p->k[I_MAX], v));
		}
		a[i] = p->k[KP] * e[i] + p->k[KI] * p->integral[i] - p->k[KD] * f->vel_mps[i];
		norm += a[i] * a[i];
	}
	norm = sqrt(norm);
	double scale = norm > p->k[MAX_ACCEL] ? p->k[MAX_ACCEL] / norm : 1.0;
	double m = f->mass_kg > 0 ? f->mass_kg : p->dry_mass_kg;

	p->saturated = scale < 1.0;
	for (int i = 0; i < 3; i++)
		out->force_n[i] = m * a[i] * scale;
}

static void pid_set(void *state, uint32_t index, double value)
{
	((struct pid *)state)->k[index] = value;	/* range-checked by the agent */
}

static const struct qk_controller pid = {
	.abi = QK_CONTROLLER_ABI,
	.size = sizeof(struct qk_controller),
	.name = "pid-antiwindup",
	.state_size = sizeof(struct pid),
	.params = params,
	.n_params = N_PARAMS,
	.init = pid_init,
	.tick = pid_tick,
	.set_param = pid_set,
};

QK_CONTROLLER_EXPORT(pid)
