/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/agent/fixture_ctl_bang.c - a version-1 controller that answers
 * with raw throttles, some out of range or NaN, to check the agent's clamp,
 * and one parameter. */
#include <math.h>

#include "rt/agent/controller.h"

struct bang {
	double level;
	int ticks;
};

static const struct qk_ctl_param params[] = { { "level", 0, 2, 1.5 } };

static int bang_init(void *state, const struct qk_ctl_setup *s, char *why, size_t n)
{
	(void)why;
	(void)n;
	((struct bang *)state)->level = s->n_thrusters ? 1.5 : 0;
	return 0;
}

static void bang_tick(void *state, const struct qk_ctl_in *in, struct qk_ctl_out *out)
{
	struct bang *b = state;

	(void)in;
	b->ticks++;
	out->kind = QK_CTL_OUT_THROTTLE;
	for (int i = 0; i < QK_MAX_THRUSTERS; i++)
		out->throttle[i] = i % 3 == 0 ? b->level : i % 3 == 1 ? -1 : NAN;
}

static void bang_set(void *state, uint32_t index, double v)
{
	(void)index;
	((struct bang *)state)->level = v;
}

static const struct qk_controller desc = {
	.abi = QK_CONTROLLER_ABI, .size = sizeof(struct qk_controller), .name = "bang",
	.state_size = sizeof(struct bang), .params = params, .n_params = 1,
	.init = bang_init, .tick = bang_tick, .set_param = bang_set,
};

QK_CONTROLLER_EXPORT(desc)
