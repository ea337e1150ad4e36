/*
 * ctl/report.h - what `qiki run` prints about its loop: the live status line
 * and the final summary, read from the segment's statistics and mailboxes.
 * Not real-time safe (stdio); the launcher calls it beside the loop.
 */
#ifndef QK_CTL_REPORT_H
#define QK_CTL_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/config/config.h"
#include "shm/seg.h"

/* One status line on stdout: "\r"-refreshed on a terminal, one line a call
 * otherwise.  t0: the run's start (CLOCK_MONOTONIC ns). */
void qk_report_status_line(struct qk_seg *s, bool tty, int64_t t0);

/* The summary after the loop stopped.  rt_note: "" or ", NOT real-time (...)". */
void qk_report_summary(struct qk_seg *s, const char *instance, const struct qk_config *cfg,
		       const char *rt_note);

#endif
