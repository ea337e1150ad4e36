/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/agent/bios.h - the agent's check of the POST report against the hardware
 * profile (cfg->device[], matched by name).
 *
 * Contract: pure function of its inputs; no allocation, no syscall, no clock:
 * real-time safe, and formats nothing: qk_bios_why() words a verdict for a
 * reader.  It compares every device name, so callers run it when the report
 * changed, not every tick (qiki-agent does: on a new mailbox write).
 *
 * Scoring, per device the profile expects: OK 1, WARNING 0.5, ERROR,
 * NOT_FOUND or absent from the report ("missing") 0; health is the mean, in
 * [0, 1] (1 for a profile without devices).  A critical device that is not OK
 * or WARNING is a critical failure.  All-systems-go = a POST has run, no
 * critical failure, and health >= limits.health_min.  Devices the report
 * lists but the profile does not know are counted and otherwise ignored.
 * A report with post_count 0 (or none at all) means "no POST yet": seen is
 * false and nothing is go.
 */
#ifndef QK_RT_BIOS_H
#define QK_RT_BIOS_H

#include <stdbool.h>
#include <stdint.h>

#include "shm/layout.h"

/* first_status for a device the report lacks (beyond enum qk_device_status_code) */
#define QK_BIOS_MISSING QK_DS_COUNT

struct qk_bios_eval {
	bool seen;			/* a POST has run (post_count > 0) */
	bool all_systems_go;
	double health;			/* 0..1 */
	uint64_t post_count;		/* of the report checked */
	uint32_t n_ok, n_warning;
	uint32_t n_error;		/* ERROR or NOT_FOUND in the report */
	uint32_t n_missing;		/* expected, absent from the report */
	uint32_t n_unexpected;		/* reported, not in the profile */
	uint32_t critical_fail;		/* critical devices in error, not found or missing */
	int32_t first_bad;		/* profile index of the first failed device, -1 */
	uint32_t first_status;		/* its QK_DS_* or QK_BIOS_MISSING */
	uint32_t first_code;		/* its QK_PC_* (TIMEOUT_RESPONSE: it went silent) */
};

void qk_bios_check(const struct qk_config *cfg, const struct qk_bios_report *r,
		   struct qk_bios_eval *out);
/* The first problem in words ("imu missing from POST"), "" when all is OK. */
void qk_bios_why(const struct qk_config *cfg, const struct qk_bios_eval *e,
		 char why[QK_REASON_LEN]);

#endif
