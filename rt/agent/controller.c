/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/agent/controller.c - checking, running and tuning a controller behind
 * the interface; see rt/agent/controller.h.  Loading a shared object is in
 * rt/agent/plugin.c, the built-in PD in rt/agent/pd.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/agent/control.h"
#include "rt/agent/controller.h"

int qk_controller_check(const struct qk_controller *c, char *why, size_t n)
{
	if (!c) {
		snprintf(why, n, "no controller description (the entry point returned NULL)");
		return -EINVAL;
	}
	/* abi first: nothing else in the struct means anything in another version */
	if (c->abi != QK_CONTROLLER_ABI) {
		snprintf(why, n, "controller interface version %u, but this qiki-agent speaks "
			 "version %u: rebuild the controller against this qiki's headers "
			 "(pkg-config --cflags qiki)", c->abi, QK_CONTROLLER_ABI);
		return -EPROTO;
	}
	if (c->size != sizeof(*c)) {
		snprintf(why, n, "controller description of %u bytes, expected %zu for interface "
			 "version %u: rebuild it against this qiki's headers", c->size, sizeof(*c),
			 QK_CONTROLLER_ABI);
		return -EPROTO;
	}
	const char *name = c->name ? c->name : "(unnamed)";

	if (!c->tick) {
		snprintf(why, n, "controller '%s' has no tick function", name);
		return -EINVAL;
	}
	if (c->n_params > QK_CTL_MAX_PARAMS || (c->n_params && (!c->params || !c->set_param))) {
		snprintf(why, n, "controller '%s': %u parameters (at most %d, each needs the table "
			 "and set_param)", name, c->n_params, QK_CTL_MAX_PARAMS);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < c->n_params; i++) {
		const struct qk_ctl_param *p = &c->params[i];

		if (!memchr(p->name, 0, sizeof(p->name)) || !p->name[0] || !(p->min <= p->max)) {
			snprintf(why, n, "controller '%s': parameter %u has no name or an empty range",
				 name, i);
			return -EINVAL;
		}
	}
	if (c->state_size > (64u << 20)) {
		snprintf(why, n, "controller '%s' asks for %zu bytes of state (at most 64 MiB)",
			 name, c->state_size);
		return -EINVAL;
	}
	return 0;
}

void qk_controller_setup(struct qk_ctl_setup *s, const struct qk_config *cfg, int64_t period_ns)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->period_ns = period_ns;
	s->dry_mass_kg = cfg->dry_mass_kg;
	s->max_accel_mps2 = cfg->control.max_accel_mps2;
	s->n_thrusters = cfg->n_thrusters;
}

/* Start-up half of qk_controller_load(), shared with the built-in. */
int qk__controller_start(struct qk_ctl_instance *ci, const struct qk_controller *c,
			 const struct qk_ctl_setup *s, char *why, size_t n);
int qk__controller_start(struct qk_ctl_instance *ci, const struct qk_controller *c,
			 const struct qk_ctl_setup *s, char *why, size_t n)
{
	int ret = qk_controller_check(c, why, n);

	if (ret)
		return ret;
	ci->c = c;
	if (c->state_size) {
		size_t sz = (c->state_size + 63) & ~(size_t)63;

		ci->state = aligned_alloc(64, sz);
		if (!ci->state) {
			snprintf(why, n, "controller '%s': no memory for %zu bytes of state",
				 c->name ? c->name : "(unnamed)", sz);
			return -ENOMEM;
		}
		memset(ci->state, 0, sz);	/* touched now: no page fault in tick */
	}
	for (uint32_t i = 0; i < c->n_params; i++)
		ci->param[i] = c->params[i].def;
	if (c->init) {
		why[0] = 0;
		ret = c->init(ci->state, s, why, n);
		if (ret) {
			if (!why[0])
				snprintf(why, n, "controller '%s': init failed (%s)",
					 c->name ? c->name : "(unnamed)", strerror(-ret));
			free(ci->state);
			ci->state = NULL;
			ci->c = NULL;
			return ret < 0 ? ret : -EINVAL;
		}
	}
	return 0;
}

int qk_controller_set(struct qk_ctl_instance *ci, const char *name, double value,
		      char *why, size_t n)
{
	const struct qk_controller *c = ci->c;
	size_t used = 0;

	for (uint32_t i = 0; i < c->n_params; i++) {
		const struct qk_ctl_param *p = &c->params[i];

		if (strcmp(p->name, name))
			continue;
		if (!(value >= p->min && value <= p->max)) {
			snprintf(why, n, "controller '%s': %s = %g is outside %g..%g", c->name, name,
				 value, p->min, p->max);
			return -ERANGE;
		}
		c->set_param(ci->state, i, value);
		ci->param[i] = value;
		return 0;
	}
	used = (size_t)snprintf(why, n, "controller '%s' has no parameter '%s' (it has:", c->name,
				name);
	for (uint32_t i = 0; i < c->n_params && used < n; i++)
		used += (size_t)snprintf(why + used, n - used, " %s", c->params[i].name);
	if (used < n)
		snprintf(why + used, n - used, c->n_params ? ")" : " none)");
	return -ENOENT;
}

void qk_controller_tick(struct qk_ctl_instance *ci, const struct qk_config *cfg,
			const struct qk_ctl_in *in, double throttle[QK_MAX_THRUSTERS])
{
	struct qk_ctl_out out;

	memset(&out, 0, sizeof(out));
	ci->c->tick(ci->state, in, &out);
	if (out.kind == QK_CTL_OUT_FORCE) {
		for (int i = 0; i < 3; i++)
			if (!isfinite(out.force_n[i]))
				out.force_n[i] = 0;	/* a NaN force fires nothing */
		qk_control_allocate(cfg, qk_control_tank_bar(cfg, in->f), out.force_n, throttle);
		return;
	}
	for (uint32_t i = 0; i < QK_MAX_THRUSTERS; i++) {
		double u = out.throttle[i];

		/* !(u > 0) also catches NaN; an unknown kind fires nothing */
		throttle[i] = out.kind != QK_CTL_OUT_THROTTLE || i >= cfg->n_thrusters || !(u > 0) ? 0
			    : u > 1 ? 1 : u;
	}
}
