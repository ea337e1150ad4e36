/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/agent/pd.c - the built-in PD with thrust allocation (rt/agent/control.h)
 * behind the controller interface (rt/agent/controller.h).  It keeps its
 * own copy of the profile so that its gains can be tuned at a tick
 * boundary without touching the agent's. */
#include <string.h>

#include "rt/agent/control.h"
#include "rt/agent/controller.h"

struct pd {
	struct qk_config cfg;
};

enum { P_KP, P_KD, P_MAX_ACCEL, P_DEADBAND };

/* defaults are the profile's: init() copies them; `def` is NaN for "profile".
 * These are the configuration's control.* fields: their bounds are the
 * configuration's (rt/config/config.c), which runtime parameters check
 * (rt/agent/param.h); tests/agent/test_param.c keeps the two equal. */
static const struct qk_ctl_param pd_params[] = {
	[P_KP] = { "kp", 0, 1e4, __builtin_nan("") },
	[P_KD] = { "kd", 0, 1e4, __builtin_nan("") },
	[P_MAX_ACCEL] = { "max_accel_mps2", 0, 1e3, __builtin_nan("") },
	[P_DEADBAND] = { "deadband_n", 0, 1e4, __builtin_nan("") },
};

static int pd_init(void *state, const struct qk_ctl_setup *s, char *why, size_t n)
{
	struct pd *pd = state;

	(void)why;
	(void)n;
	pd->cfg = *s->cfg;
	return 0;
}

static void pd_tick(void *state, const struct qk_ctl_in *in, struct qk_ctl_out *out)
{
	struct pd *pd = state;

	/* the allocation is the PD's own: it is part of the built-in controller,
	 * and needs the gains' copy of the profile (deadband) */
	double force[3];

	qk_control_force(&pd->cfg, in->f, in->setpoint, force);
	qk_control_allocate(&pd->cfg, qk_control_tank_bar(&pd->cfg, in->f), force, out->throttle);
	out->kind = QK_CTL_OUT_THROTTLE;
}

static void pd_set(void *state, uint32_t index, double v)
{
	struct qk_control_cfg *k = &((struct pd *)state)->cfg.control;

	switch (index) {
	case P_KP: k->kp = v; break;
	case P_KD: k->kd = v; break;
	case P_MAX_ACCEL: k->max_accel_mps2 = v; break;
	case P_DEADBAND: k->deadband_n = v; break;
	}
}

static const struct qk_controller pd_desc = {
	.abi = QK_CONTROLLER_ABI,
	.size = sizeof(struct qk_controller),
	.name = "pd",
	.state_size = sizeof(struct pd),
	.params = pd_params,
	.n_params = sizeof(pd_params) / sizeof(pd_params[0]),
	.init = pd_init,
	.tick = pd_tick,
	.set_param = pd_set,
};

const struct qk_controller *qk_controller_builtin_pd(void)
{
	return &pd_desc;
}
