/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * shm/seg.h - the qiki segment: /dev/shm/qiki.<instance>.
 *
 * Contract
 * - One creator (qiki run, or a test) per instance.  It sizes and initialises
 *   every region, then publishes the magic last with a release store
 *   (qk_seg_publish), so an attacher never sees a half-built segment.
 * - Any process attaches; attach checks magic, layout version, segment size,
 *   the size of every shared struct and the offset of every region, and
 *   refuses with a message (in seg->err) naming what differs and what to do:
 *   -EPROTO another layout, -ENOTSUP not a qiki segment, -EAGAIN still
 *   initialising, -ENOENT no such instance, -ESTALE its creator is dead.
 * - Liveness comes from the kernel, not from a heartbeat: each live process
 *   holds an open-file-description lock on one byte of the segment file
 *   (byte 0 the creator, byte 1 + enum qk_proc the loop processes).  The
 *   kernel drops it when the process dies, so a segment on which nobody holds
 *   a lock is stale and can be reclaimed.
 * - struct qk_seg is a process-local view (pointers into this process's
 *   mapping); it is never shared, nor copied (its ports point into it).
 *   Not real-time safe: call it at start-up.
 * - The segment is untrusted input: any member of its group can write any
 *   byte at any time.  Attach checks the header, the geometry of every ring,
 *   queue and mailbox and the configuration's counts and strings, and keeps
 *   private copies: the configuration (s->config points at the copy), the
 *   period and epoch, and a port per ring, queue and mailbox.  Nothing is
 *   indexed, sized or looped over by a value read from shared memory after
 *   that.  qk_seg_verify() (real-time safe: loads and compares only) tells a
 *   running process whether the shared copies still agree, naming the first
 *   region that does not, so it can go safe and say so.
 */
#ifndef QK_SHM_SEG_H
#define QK_SHM_SEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/cmdq.h"
#include "shm/layout.h"
#include "shm/mbox.h"
#include "shm/ring.h"

enum qk_seg_state { QK_SEG_INITIALISING = 1, QK_SEG_READY, QK_SEG_SHUTTING_DOWN };

enum qk_region {
	QK_R_CONFIG, QK_R_SENSORS, QK_R_ACTUATORS, QK_R_BIOS, QK_R_AGENT_STATUS,
	QK_R_SIM_STATUS, QK_R_AGENT_CMDQ, QK_R_AGENT_REPLIES, QK_R_SIM_CMDQ,
	QK_R_SIM_REPLIES, QK_R_STATS, QK_R_LINK, QK_R_PARAMS, QK_R_COUNT
};

/* The structs whose size the header records (the ABI check). */
enum qk_struct_id {
	QK_S_HDR, QK_S_CONFIG, QK_S_SENSOR_FRAME, QK_S_ACTUATOR_FRAME,
	QK_S_BIOS_REPORT, QK_S_AGENT_STATUS, QK_S_SIM_STATUS, QK_S_CMD, QK_S_REPLY,
	QK_S_PROC_STATS, QK_S_RING, QK_S_CMDQ, QK_S_MBOX, QK_S_LINK_STATS,
	QK_S_PARAM_STATUS, QK_S_COUNT
};

struct qk_seg_hdr {
	_Atomic uint64_t magic;		/* QK_SEG_MAGIC, stored last by the creator */
	uint32_t version;		/* QK_LAYOUT_VERSION */
	uint32_t hdr_size;
	uint64_t seg_size;
	uint64_t generation;		/* new each time the segment is created */
	int32_t creator_pid;
	_Atomic uint32_t state;		/* enum qk_seg_state */
	int64_t period_ns;		/* the cycle */
	int64_t epoch_ns;		/* CLOCK_MONOTONIC time of cycle 0 */
	_Atomic uint64_t next_cmd_id;
	uint32_t struct_size[QK_S_COUNT];
	uint32_t pad;
	uint64_t region_off[QK_R_COUNT];
};

/* qk_seg_verify()'s answer when the segment header itself changed. */
#define QK_R_HEADER QK_R_COUNT

struct qk_seg {
	char path[64];			/* shm name, "/qiki.<instance>" */
	int fd;
	size_t size;
	void *base;
	struct qk_seg_hdr *hdr;		/* shared: only for its atomics */
	const struct qk_config *config;	/* = &cfg, the private copy */
	int64_t period_ns, epoch_ns;	/* private copies of the header's */
	struct qk_ring_port *sensors, *actuators;	/* into the ports below */
	struct qk_mbox_port *bios, *agent_status, *sim_status;
	struct qk_mbox_port *params;	/* the agent's runtime parameters */
	struct qk_cmdq_port *agent_cmdq, *sim_cmdq;
	struct qk_ring_port *agent_replies, *sim_replies;
	struct qk_proc_stats *stats;	/* [QK_PROC_COUNT] */
	struct qk_link_stats *link;	/* the HIL bridge's, when one runs */
	bool reclaimed;			/* create replaced a stale segment */
	char err[256];			/* why the last call failed */
	/* private: what attach checked */
	struct qk_config cfg;
	uint64_t generation;
	uint64_t region_off[QK_R_COUNT];	/* this build's layout */
	struct qk_ring_port ring_port[4];
	struct qk_cmdq_port cmdq_port[2];
	struct qk_mbox_port mbox_port[4];
};

#define QK_SEG_RECLAIM  (1u << 0)	/* create: replace a stale segment */
#define QK_SEG_POPULATE (1u << 1)	/* map with every page faulted in */

/* Instance names: 1..31 of [A-Za-z0-9_.-], not starting with '.'. */
bool qk_seg_name_ok(const char *instance);

/* The instances that have a segment in /dev/shm (live or stale), sorted by
 * name into names[0..max): the count found, which may exceed max.  For
 * messages and `qikictl list`; reads a directory, not real-time safe. */
#define QK_SEG_NAME_MAX 32
int qk_seg_names(char (*names)[QK_SEG_NAME_MAX], int max);
/* The same as "a, b, c" in buf (n bytes, "" for none), cut with "..." when
 * it does not fit: the length written. */
size_t qk_seg_names_text(char *buf, size_t n);

/* Creates and initialises the segment and takes the creator's lock.  The
 * config is copied in; period and epoch come from it and the clock.  Returns
 * 0; -EEXIST a live instance has it (or a stale one without RECLAIM); -EINVAL
 * a bad name or config; -errno from the system.  Call qk_seg_publish() when
 * the creator's own set-up is done. */
int qk_seg_create(struct qk_seg *s, const char *instance, const struct qk_config *cfg,
		  unsigned flags);
void qk_seg_publish(struct qk_seg *s);

/* 0; -ENOENT no such instance; -EAGAIN still initialising; -ESTALE left
 * half-built; -ENOTSUP not a qiki segment; -EPROTO another layout, or a
 * region inconsistent (s->err names it).  Any error: nothing stays mapped. */
int qk_seg_attach(struct qk_seg *s, const char *instance, unsigned flags);

/* -1 while the segment agrees with what attach (or create) checked; else the
 * first region that does not (enum qk_region, QK_R_HEADER for the header),
 * with s->err saying what and what to do.  Loads and compares only. */
int qk_seg_verify(struct qk_seg *s);
const char *qk_seg_region_name(int region);
void qk_seg_detach(struct qk_seg *s);
/* 0, or -ENOENT. */
int qk_seg_unlink(const char *instance);

/* Takes the liveness lock of process slot p and records our pid there:
 * 0, or -EBUSY when a live process holds it. */
int qk_seg_claim(struct qk_seg *s, enum qk_proc p);
void qk_seg_release(struct qk_seg *s, enum qk_proc p);
/* Whether a live process holds slot p (QK_PROC_COUNT: the creator). */
bool qk_seg_alive(const struct qk_seg *s, int p);
/* Whether any process at all holds a lock on the segment. */
bool qk_seg_any_alive(const struct qk_seg *s);

static inline uint64_t qk_seg_next_cmd_id(struct qk_seg *s)
{
	return qk_fetch_add_relaxed(&s->hdr->next_cmd_id, 1);
}

static inline uint32_t qk_seg_state(const struct qk_seg *s)
{
	/* pairs with the release store in qk_seg_set_state() */
	return qk_load_acquire((_Atomic uint32_t *)&s->hdr->state);
}

static inline void qk_seg_set_state(struct qk_seg *s, enum qk_seg_state st)
{
	qk_store_release(&s->hdr->state, st);
}

#endif
