/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/agent/rules.h - rules turn the configured thresholds into proposals; the
 * evaluator picks one.
 *
 * Contract: pure functions of their inputs, fixed arrays, no allocation, no
 * syscall, no clock: real-time safe.
 *
 * A rule raises a struct qk_proposal (type, priority, confidence, the
 * trigger it would fire, the state it asks for) carrying a qk_rule_hit:
 * which rule, about what (a node, a device), the value and the limit.  The
 * tick never words a hit: the hit is published as data, and readers
 * (qikictl, the exporter, a refusal on the command path) call
 * qk_rules_why() with the configuration.
 *
 * What depends only on the configuration (which valid bits the profile's
 * critical and non-critical sensors vouch for, and which device each is)
 * is computed once by qk_rules_plan_init(); a healthy frame then costs one
 * mask compare per kind instead of a walk over the devices.
 *
 * SAFETY proposals (all ask for SAFE, one per offending item):
 *   stale        no new sensor frame for limits.sensor_stale_cycles ticks
 *                (not while BOOTING before the first frame: the sim may
 *                start after us)                    SENSORS_STALE   prio 100
 *   watchdog     the sim says it holds safe outputs because our frames
 *                stopped (the caller decides when the flag is ours)
 *                                                   WATCHDOG        prio 95
 *   bios         the POST is not all-systems-go     GUARD_BIOS      prio 90
 *   invalid      a critical sensor of the profile reads invalid
 *                                                   SENSOR_INVALID  prio 85
 *   pressure     tank outside [tank.min_bar, max_bar]  PRESSURE     prio 80
 *   thermal      a node outside [min_k, max_k]      THERMAL         prio 75
 *   battery      SoC below battery.soc_min          BATTERY         prio 70
 * A reading whose valid bit is clear is not compared with its limits (the
 * invalid rule speaks for it).  A non-critical sensor reading invalid is a
 * DIAGNOSTICS proposal, not a SAFETY one: the profile says it may fail.
 * PLANNING: "go ACTIVE" (IDLE, the operator set a setpoint away from here),
 * "drive to the setpoint" and "hold: setpoint reached" (ACTIVE).
 * DIAGNOSTICS: BIOS degraded (warnings, non-critical failures), a
 * non-critical sensor invalid, the battery nearing its limit.
 * EXPLORATION: IDLE, nothing asked: a low-priority suggestion.
 *
 * The evaluator orders by type (SAFETY, PLANNING, DIAGNOSTICS, EXPLORATION),
 * then priority (higher first), then confidence (higher first), earlier
 * raised first on a full tie; it drops proposals under the confidence
 * threshold.  qk_evaluate() is one pass for the winner; qk_evaluate_order()
 * an insertion sort of indices: the proposals do not move.
 */
#ifndef QK_RT_RULES_H
#define QK_RT_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/agent/bios.h"
#include "shm/layout.h"

#define QK_MAX_PROPOSALS	16
#define QK_CONFIDENCE_MIN_DEFAULT 0.6	/* when limits.confidence_min is 0 */
#define QK_REACHED_M		0.5	/* "setpoint reached": within this ... */
#define QK_REACHED_MPS		0.05	/* ... and slower than this */
#define QK_BATTERY_WARN_SOC	0.1	/* DIAGNOSTICS this far above soc_min */

/* Sensors of the profile that vouch for a valid bit, in device order. */
struct qk_rules_plan {
	uint32_t critical_bits;			/* bits some critical sensor vouches for */
	uint32_t plain_bits;			/* ... some non-critical one */
	uint32_t n;
	uint32_t bit[QK_MAX_DEVICES];
	uint8_t dev[QK_MAX_DEVICES];
	uint8_t critical[QK_MAX_DEVICES];
};

struct qk_rule_in {
	const struct qk_config *cfg;
	const struct qk_rules_plan *plan;	/* from cfg; NULL: made on the spot */
	const struct qk_sensor_frame *f;	/* the newest frame, NULL before the first */
	uint32_t stale_ticks;			/* ticks since a new frame */
	bool stale_armed;			/* false: the stale rule does not apply yet */
	bool watchdog;				/* the sim holds safe outputs for lack of ours */
	const struct qk_bios_eval *bios;
	uint32_t state;				/* enum qk_fsm_state */
	const double *setpoint;			/* [3], metres */
	bool go_asked;				/* a setpoint came while IDLE */
};

struct qk_rules_out {
	int n;
	uint32_t dropped;			/* raised beyond QK_MAX_PROPOSALS */
	struct qk_proposal p[QK_MAX_PROPOSALS];
};

void qk_rules_plan_init(struct qk_rules_plan *plan, const struct qk_config *cfg);

/* Raises every proposal that applies; returns out->n. */
int qk_rules_run(const struct qk_rule_in *in, struct qk_rules_out *out);

/* The words for a hit ("avionics 341.2 K > 330.0 K"), <= 33 characters for
 * every rule with the built-in names, so a refusal can say "guard active: "
 * before it.  Empty for QK_RULE_NONE; names past the configuration's
 * arrays print as "?" (a reader may hold a hit from a damaged segment). */
void qk_rules_why(const struct qk_config *cfg, const struct qk_rule_hit *h,
		  char why[QK_REASON_LEN]);

/* Evaluator order of the proposals that pass the confidence cut, as indices
 * into p[] (n is capped at QK_MAX_PROPOSALS); returns how many passed. */
int qk_evaluate_order(const struct qk_proposal *p, int n, double confidence_min,
		      uint8_t order[QK_MAX_PROPOSALS]);
/* The winner's index in p[], or -1 when none passes the cut. */
int qk_evaluate(const struct qk_proposal *p, int n, double confidence_min);

#endif
