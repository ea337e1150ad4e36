/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/agent/param.h - runtime parameters: what an operator may change in a
 * running agent (qikictl param set, a scenario's `do: param NAME VALUE`),
 * as halcmd's setp and `ros2 param set` do.
 *
 * Contract: process-local, one thread (the agent's loop).  qk_params_build()
 * runs at start-up (it formats the names); qk_params_set() runs on the
 * command path, between two ticks (a tick boundary): no allocation, no
 * syscall, no lock, and no formatting unless it refuses (the refusal's
 * reason), as the rest of the command path.  qk_params_build() is also a
 * pure function of the configuration and the controller, so readers
 * (qikictl, the scenario loader) can build the same table to check names.
 *
 * One table of bounds.  A parameter backed by the configuration takes its
 * type and range from the configuration's field table (rt/config/config.c,
 * the one the YAML loader, the validator and the dump use), and a new value
 * must also keep the validator's relations (tank.min_bar < max_bar, a node's
 * min_k < max_k, battery.soc_min < 1).  A plug-in controller's parameters
 * take theirs from the controller's own table (rt/agent/controller.h): the
 * interface lets a controller declare its parameters, and they appear here
 * as controller.NAME.
 *
 * The parameters, in this order (a profile's thermal nodes by name):
 *   controller.NAME           the controller's; the built-in PD's kp, kd,
 *                             max_accel_mps2 and deadband_n are the
 *                             configuration's control.* (and so dumped)
 *   limits.sensor_stale_cycles, limits.clear_ticks    integers, cycles
 *   limits.confidence_min     the evaluator's cut
 *   tank.min_bar, tank.max_bar, battery.soc_min       guard thresholds
 *   thermal.NODE.min_k, thermal.NODE.max_k            guard thresholds
 * Not here: what the sim also reads (actuator_watchdog_cycles, the plant),
 * and health_min (the BIOS verdict is taken once per POST report).
 *
 * A command names its parameter by qk_param_hash() of the name (struct
 * qk_cmd.name holds only 23 characters); the table refuses to build two
 * names with one hash.  An accepted change is recorded (time, cycle, old
 * and new value, who) in the published struct qk_param_status, which
 * qikictl (param, history, config) and the exporter (/params) read.  A
 * restarted agent takes the values its predecessor published (main.c),
 * each through qk_params_set()'s checks, recorded as changes by pid 0.
 */
#ifndef QK_RT_AGENT_PARAM_H
#define QK_RT_AGENT_PARAM_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/agent/controller.h"
#include "shm/layout.h"

enum qk_param_src { QK_PS_CONFIG, QK_PS_CONTROLLER };

#define QK_PARAM_NO_CTL 0xffffu

struct qk_param_def {
	uint32_t hash;			/* qk_param_hash(info.name) */
	uint16_t src;			/* enum qk_param_src */
	uint16_t ctl_index;		/* the controller's parameter, or QK_PARAM_NO_CTL */
	unsigned section;		/* QK_PS_CONFIG: enum qk__section */
	const void *field;		/* QK_PS_CONFIG: its struct qk__field */
	size_t base;			/* QK_PS_CONFIG: offset of its struct in qk_config */
};

struct qk_params {
	struct qk_config *cfg;		/* the agent's own copy, changed in place */
	struct qk_ctl_instance *ctl;	/* the running controller, or NULL */
	struct qk_param_def d[QK_MAX_PARAMS];
	struct qk_param_status st;	/* what the agent publishes */
};

/* FNV-1a, 32 bits, of a NUL-terminated name. */
uint32_t qk_param_hash(const char *name);

/* Builds the table for cfg and the controller ci (NULL: the built-in PD,
 * as qiki-agent runs without --controller; ci->c NULL likewise).
 * 0, or -E2BIG (more parameters than QK_MAX_PARAMS) / -EEXIST (two names
 * with one hash) with why saying which. */
int qk_params_build(struct qk_params *ps, struct qk_config *cfg, struct qk_ctl_instance *ci,
		    char *why, size_t n);

/* The index of a parameter by name, or -1. */
int qk_params_find(const struct qk_params *ps, const char *name);

/* Sets the parameter whose name hashes to `hash` to v at time now_ns (the
 * tick boundary), cycle and who recorded with it.  0 when applied; else
 * -ENOENT (no such parameter), -ERANGE (outside its range or a relation,
 * or not a whole number for an integer) with why (<= QK_REASON_LEN) saying
 * which and the range.  On a refusal nothing changed. */
int qk_params_set(struct qk_params *ps, uint32_t hash, double v, int64_t now_ns, uint64_t cycle,
		  int32_t who, char why[QK_REASON_LEN]);

/* Writes parameter `index` without checks or a record: for readers that
 * rebuild an effective configuration from published values (qikictl
 * config).  Not for the agent, which uses qk_params_set(). */
void qk_params_write(struct qk_params *ps, uint32_t index, double v);

/* Whether v lies in info's range: the check a reader can make before it
 * sends (the agent's is the one that counts). */
bool qk_param_in_range(const struct qk_param_info *p, double v);

/* "a number in 1/s^2 > 0, at most 10000": the range in words. */
void qk_param_range_words(const struct qk_param_info *p, char *buf, size_t n);

#endif
