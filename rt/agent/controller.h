/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/agent/controller.h - the controller interface, version 1: how a
 * controller (the built-in PD or a user's shared object) plugs into
 * qiki-agent.  Installed as <rt/agent/controller.h> (pkg-config qiki).
 *
 * Contract:
 *  - The agent calls a controller from one thread only.  init() runs once at
 *    start-up, before the loop goes real time; it may allocate nothing
 *    either: its state lives in `state_size` bytes the agent allocates,
 *    zeroes and locks in memory.  init() may fail (return -errno and say why).
 *  - tick() runs every cycle while the agent is ACTIVE, on the real-time
 *    path: no allocation, no syscall, no lock, no stdio, bounded time.  It
 *    gets the newest sensor frame (or the last one, when this cycle's did
 *    not arrive) and the setpoint, and fills either a force (the agent's
 *    thrust allocator turns it into throttles) or the throttles themselves.
 *    Outside ACTIVE the agent holds thrusters off (or safe) itself; the
 *    heaters' thermostat is the agent's, in every state.
 *  - Parameters are doubles, named and range-checked by the agent against
 *    the controller's table before set_param() sees them; set_param() runs
 *    at a tick boundary, never during a tick.
 *
 * A shared object exports one function, QK_CONTROLLER_SYMBOL, returning a
 * pointer to its struct qk_controller.  The agent reads `abi` first and
 * refuses any other version with a message naming both; then `size`.
 * Version 1 is this header; a change to any struct here is a new version.
 *
 * Units: SI (m, m/s, N, s), times in CLOCK_MONOTONIC ns, as the frames.
 */
#ifndef QK_RT_AGENT_CONTROLLER_H
#define QK_RT_AGENT_CONTROLLER_H

#include <stddef.h>
#include <stdint.h>

#include "shm/layout.h"

#define QK_CONTROLLER_ABI 1
#define QK_CONTROLLER_SYMBOL "qk_controller_v1"	/* dlsym name; see below */
#define QK_CTL_MAX_PARAMS 16
#define QK_CTL_NAME_LEN 32

/* What the controller knows about the vehicle, from the profile. */
struct qk_ctl_setup {
	const struct qk_config *cfg;	/* the whole profile (read-only) */
	int64_t period_ns;		/* the loop's period */
	double dry_mass_kg;
	double max_accel_mps2;		/* the profile's limit */
	uint32_t n_thrusters;
	uint32_t pad;
};

/* One tick's input. */
struct qk_ctl_in {
	const struct qk_sensor_frame *f;	/* newest frame (never NULL in tick) */
	const double *setpoint;			/* [3], m */
	int64_t now_ns;				/* this tick's time */
	uint32_t fresh;				/* 1: f arrived this tick; 0: stale */
	uint32_t first;				/* 1: first tick since entering ACTIVE */
};

enum qk_ctl_out_kind {
	QK_CTL_OUT_FORCE = 1,		/* force_n[] is allocated to the thrusters */
	QK_CTL_OUT_THROTTLE = 2,	/* throttle[] goes out as it is (clamped to 0..1) */
};

/* One tick's output; the agent zeroes it before each tick. */
struct qk_ctl_out {
	uint32_t kind;			/* enum qk_ctl_out_kind */
	uint32_t pad;
	double force_n[3];
	double throttle[QK_MAX_THRUSTERS];
};

struct qk_ctl_param {
	char name[QK_CTL_NAME_LEN];
	double min, max, def;		/* set_param() only ever sees min..max */
};

struct qk_controller {
	uint32_t abi;			/* QK_CONTROLLER_ABI the object was built with */
	uint32_t size;			/* sizeof(struct qk_controller) */
	const char *name;
	size_t state_size;		/* bytes of private state, zeroed, 64-byte aligned */
	const struct qk_ctl_param *params;	/* table, n_params entries (may be NULL) */
	uint32_t n_params;		/* <= QK_CTL_MAX_PARAMS */
	uint32_t pad;
	/* start-up: 0, or -errno with why filled (a NUL-terminated sentence) */
	int (*init)(void *state, const struct qk_ctl_setup *s, char *why, size_t why_len);
	/* the real-time path: see the contract above */
	void (*tick)(void *state, const struct qk_ctl_in *in, struct qk_ctl_out *out);
	/* a parameter by index into params[], value already range-checked */
	void (*set_param)(void *state, uint32_t index, double value);
};

/* A shared object's entry point: QK_CONTROLLER_EXPORT(my_desc) defines it. */
#define QK_CONTROLLER_EXPORT(desc) \
	const struct qk_controller *qk_controller_v1(void); \
	__attribute__((visibility("default"))) const struct qk_controller *qk_controller_v1(void) \
	{ return &(desc); }

/* ---- in qiki-agent (libqiki): loading and running a controller ---------- */

struct qk_ctl_instance {
	const struct qk_controller *c;
	void *state;			/* state_size bytes, owned */
	void *dl;			/* dlopen handle, NULL for the built-in */
	double param[QK_CTL_MAX_PARAMS];
};

/* The built-in PD with thrust allocation (rt/agent/control.h) behind this
 * interface. */
const struct qk_controller *qk_controller_builtin_pd(void);

/* Checks a controller's description: 0, or -EPROTO (another interface
 * version) / -EINVAL (a malformed description) with `why` saying which. */
int qk_controller_check(const struct qk_controller *c, char *why, size_t n);

/* Loads a shared object (path as given to dlopen; "./x.so" for a relative
 * one), checks it, allocates its state and runs its init.  NULL path: the
 * built-in PD.  0, or -errno with `why`: -ENOENT (no such object, or no
 * QK_CONTROLLER_SYMBOL in it), -EPROTO (another interface version),
 * -EINVAL, -ENOMEM, or what its init returned. */
int qk_controller_load(struct qk_ctl_instance *ci, const char *path, const struct qk_ctl_setup *s,
		       char *why, size_t n);

/* Sets a parameter by name: 0, -ENOENT (no such name: why lists them) or
 * -ERANGE (outside min..max: why says the range).  Not on the hot path's
 * tick: call between ticks. */
int qk_controller_set(struct qk_ctl_instance *ci, const char *name, double value,
		      char *why, size_t n);

/* One tick through the interface: zeroes the output, calls tick(), then
 * allocates a force to throttle[] (rt/agent/control.h) or clamps the
 * controller's throttles to 0..1 (NaN -> 0); slots past n_thrusters are 0.
 * Real-time safe when the controller's tick() is. */
void qk_controller_tick(struct qk_ctl_instance *ci, const struct qk_config *cfg,
			const struct qk_ctl_in *in, double throttle[QK_MAX_THRUSTERS]);

/* Fills the setup from a profile. */
void qk_controller_setup(struct qk_ctl_setup *s, const struct qk_config *cfg, int64_t period_ns);

/* Releases the state and the object.  Accepts a zeroed instance. */
void qk_controller_unload(struct qk_ctl_instance *ci);

#endif
