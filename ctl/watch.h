/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ctl/watch.h - `qikictl watch`: a live view of one instance, as text (a
 * screen redrawn on a terminal, blocks of lines otherwise) or as JSON lines
 * (one object per sample, the same fields as the text), and the "last seen"
 * note that `qikictl status` adds when the agent is not running.
 * Reads only; not real-time safe (stdio).
 */
#ifndef QK_CTL_WATCH_H
#define QK_CTL_WATCH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl/json.h"
#include "shm/seg.h"

/* Samples s every interval_s until *stop is set or no process holds the
 * segment any more (said on the output: a line, or {"stopped": true}).  0,
 * or -EPROTO when the segment stopped agreeing with what attach checked
 * (s->err names the region). */
int qk_ctl_watch(struct qk_seg *s, const char *instance, bool json, double interval_s,
		 volatile sig_atomic_t *stop);

/* age_ns: how long ago the agent last beat when it is not running (-2: it
 * never ran), or -1 when it runs, in which case they write nothing (text)
 * or "state_is_last_seen": false. */
void qk_ctl_last_seen_text(FILE *out, int64_t age_ns);
void qk_ctl_last_seen_json(struct qk_json *j, int64_t age_ns);

#endif
