/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ctl/report.h - what `qiki run` prints about its loop: the live status line
 * and the final summary, read from the segment's statistics and mailboxes.
 * Not real-time safe (stdio); the launcher calls it beside the loop.
 */
#ifndef QK_CTL_REPORT_H
#define QK_CTL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rt/config/config.h"
#include "shm/seg.h"

/* What replaced loop processes counted.  A process restarted in a slot
 * starts its overrun and lost-frame counts (and the sim its watchdog trips)
 * from zero, so the launcher samples the slots as it runs and keeps what a
 * holder had counted when another took its place.  What a process counted
 * in its last sampling interval (20 ms) before it died is not seen. */
struct qk_report_acc {
	int32_t pid[2];				/* by QK_PROC_SIM, QK_PROC_AGENT */
	uint64_t last_overruns[2], base_overruns[2];
	uint64_t last_lost[2], base_lost[2];
	uint64_t last_trips, base_trips;	/* the sim's watchdog */
	unsigned replaced[2];
};

/* Call every launcher tick. */
void qk_report_sample(struct qk_report_acc *a, struct qk_seg *s);

/* The status line's width: it fits an 80-column terminal with the cursor
 * after it. */
#define QK_REPORT_COLS 80

/* What the status line shows, apart from where it comes from. */
struct qk_report_line {
	double t_s;				/* since the run started */
	uint32_t state;				/* enum qk_fsm_state */
	uint64_t overruns_sim, overruns_agent;
	int64_t wake_p99_sim_ns, wake_p99_agent_ns;
	double pos_m[3];
};

/* Formats v into b (n bytes): at most QK_REPORT_COLS - 1 characters, the
 * sim's and the agent's overruns labelled apart; what does not fit is left
 * out whole (the position, the wake-up latencies).  The length written. */
size_t qk_report_format_line(char *b, size_t n, const struct qk_report_line *v);

/* One status line on stdout: "\r"-refreshed on a terminal, one line a call
 * otherwise.  t0: the run's start (CLOCK_MONOTONIC ns). */
void qk_report_status_line(struct qk_seg *s, bool tty, int64_t t0);

/* The summary's POST line: "POST failed: " and each device not OK (its
 * status and POST code, and whether the profile calls it critical) or
 * missing from the report; or that all were OK, or that none ran.  The
 * number of devices named. */
int qk_report_post(FILE *out, const struct qk_bios_report *b, const struct qk_config *cfg);

/* The summary after the loop stopped.  rt_note: "" or ", NOT real-time (...)". */
void qk_report_summary(struct qk_seg *s, const struct qk_report_acc *a, const char *instance,
		       const struct qk_config *cfg, const char *rt_note);

#endif
