/*
 * rt/rules.h - rules turn the configured thresholds into proposals, and the
 * evaluator picks one: SAFETY before PLANNING before DIAGNOSTICS before
 * EXPLORATION, then higher priority, then higher confidence; proposals under
 * the confidence threshold are dropped.
 *
 * Fixed arrays, no allocation, no syscall: real-time safe (the `why` texts
 * are formatted with snprintf into the fixed proposal).
 */
#ifndef QK_RT_RULES_H
#define QK_RT_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/bios.h"
#include "shm/layout.h"

#define QK_MAX_PROPOSALS 16

struct qk_rule_in {
	const struct qk_config *cfg;
	const struct qk_sensor_frame *f;	/* the last frame, NULL before the first */
	uint32_t stale_ticks;			/* ticks since a new frame */
	bool watchdog;				/* the sim says our frames stopped */
	const struct qk_bios_eval *bios;
	uint32_t state;
	const double *setpoint;			/* [3] */
};

/* Raises every proposal that applies; returns how many (<= max). */
int qk_rules_run(const struct qk_rule_in *in, struct qk_proposal *out, int max);

/* Drops the proposals under min_confidence, sorts the rest in evaluator
 * order and returns how many are left: the winner is p[0] when that is > 0. */
int qk_evaluate(struct qk_proposal *p, int n, double min_confidence);

#endif
