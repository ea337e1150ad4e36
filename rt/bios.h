/*
 * rt/bios.h - the agent's check of the POST report against the hardware
 * profile.  Pure, allocation-free, real-time safe.
 *
 * A device the profile expects but the report lacks counts as an error
 * (missing).  Health = mean over the profile's devices of OK 1, WARNING 0.5,
 * anything else 0.  All-systems-go = no critical device failed or missing and
 * health >= limits.health_min.
 */
#ifndef QK_RT_BIOS_H
#define QK_RT_BIOS_H

#include <stdbool.h>
#include <stdint.h>

#include "shm/layout.h"

struct qk_bios_eval {
	bool seen;			/* a POST report has arrived */
	bool all_systems_go;
	double health;			/* 0..1 */
	uint32_t n_ok, n_warning, n_error, n_missing;
	uint32_t critical_fail;		/* critical devices failed or missing */
	char why[QK_REASON_LEN];	/* the first problem, for the proposal */
};

void qk_bios_check(const struct qk_config *cfg, const struct qk_bios_report *r,
		   struct qk_bios_eval *out);

#endif
