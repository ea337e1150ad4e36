/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ctl/list.h - the instances on this machine, for `qikictl list`: each one's
 * processes, rate, profile, agent state, uptime and health.
 *
 * An instance's segment is attached only to be read (nothing is claimed or
 * sent), so listing cannot disturb a loop.  Not real-time safe.
 */
#ifndef QK_CTL_LIST_H
#define QK_CTL_LIST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "shm/seg.h"

enum qk_list_health {
	QK_LH_OK,	/* the sim and the agent hold their slots, heartbeats fresh */
	QK_LH_PARTIAL,	/* alive, but the sim or the agent is not running */
	QK_LH_STUCK,	/* a loop process holds its slot, its heartbeat stopped */
	QK_LH_STALE,	/* no process holds the segment: left by a run that died */
	QK_LH_UNREADABLE,	/* could not be attached (err says why) */
	QK_LH_COUNT
};

struct qk_list_entry {
	char name[QK_SEG_NAME_MAX];
	int err;			/* qk_seg_attach()'s, 0 when attached */
	char why[256];			/* its message */
	uint32_t health;		/* enum qk_list_health */
	int32_t pid[QK_PROC_COUNT];	/* 0: none holds the slot */
	int64_t heartbeat_age_ns[QK_PROC_COUNT];	/* -1: never beat */
	uint32_t rate_hz;
	char profile[QK_NAME_LEN];
	uint32_t state;			/* the agent's, last published */
	int64_t uptime_ns;		/* since cycle 0 */
};

/* Reads every instance (up to max; the count found, which may exceed max),
 * sorted by name. */
int qk_list_scan(struct qk_list_entry *v, int max);

/* One instance by name (attached and detached here): 0, or the attach error
 * with v->why set. */
int qk_list_read(struct qk_list_entry *v, const char *name);

/* "ok" "partial" "stuck" "stale" "unreadable". */
const char *qk_list_health_name(uint32_t h);

/* A table, or with json one object {"instances": [...]}. */
void qk_list_print(FILE *out, const struct qk_list_entry *v, int n, bool json);

#endif
