/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/proc.h - the shell shared by the loop processes (qiki-sim, qiki-agent):
 * options, attaching to the segment, claiming the process slot, going real
 * time, and per-cycle accounting into the shared statistics.
 *
 * Start-up functions are not real-time safe (they print nothing, but attach,
 * map and lock memory); qk_proc_account() is, and is called every cycle.
 */
#ifndef QK_RT_PROC_H
#define QK_RT_PROC_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/log.h"
#include "rt/rt.h"
#include "shm/seg.h"

#define QK_VERSION "0.1.0"
#define QK_MAX_FAULT_OPTS 8

struct qk_proc_opts {
	const char *instance;
	bool no_rt;
	int priority;
	int cpu;			/* -1: do not pin */
	uint64_t cycles;		/* stop after this many cycles, 0: run on */
	int wake;			/* agent: enum qk_wake_mode, -1 from config */
	bool strict;			/* exit non-zero if the loop allocated */
	int n_faults;			/* sim: --fault DEVICE:KIND[:VALUE] */
	const char *fault[QK_MAX_FAULT_OPTS];
	bool gated;			/* sim, lockstep: hold before each cycle until
					 * a RUN_UNTIL lets it on (ctl/gate.h) */
	const char *log_dir;		/* NULL: qk_proc_log_dir()'s default */
	int log_level;			/* enum qk_log_level */
	int log_format;			/* enum qk_log_format */
	int log_fsync_ms;		/* 0: the logger's default (1000); -1: only at exit */
	int log_rotate_mb;		/* 0: the logger's default (64) */
};


/* Parses argv for `prog`; prints help, version or a usage error itself
 * (it is only called from main).  Returns 0 to run, 1 to exit 0, -1 to exit
 * with status 1. */
int qk_proc_parse(int argc, char **argv, const char *prog, enum qk_proc which,
		  struct qk_proc_opts *o);

struct qk_proc_ctx {
	struct qk_seg seg;
	struct qk_rt rt;
	enum qk_proc which;
	struct qk_proc_stats *st;
	struct qk_config cfg;		/* a private copy: read once */
	int64_t (*alloc_probe)(void);	/* from the test's preload library */
	int64_t allocs0;
	struct qk_log *log;		/* the process's logger, NULL before it opens */
};

/* The log directory: `given`, else $QIKI_LOG_DIR, else /var/log/qiki/<instance>
 * for root and $XDG_STATE_HOME/qiki/<instance> (~/.local/state/...) for
 * others; created (mkdir -p) if missing.  0, or -errno with `why`. */
int qk_proc_log_dir(const char *given, const char *instance, char *out, size_t n,
		    char *why, size_t wn);
/* Parses --log-level / --log-format values; -1 when unknown. */
int qk_proc_log_format_parse(const char *s);

/* Opens <log dir>/<prog>.log and starts the logger thread, pinned away from
 * the loop's CPU.  0, or -errno with `why` (say it and exit 1). */
int qk_proc_log_open(struct qk_proc_ctx *p, const struct qk_proc_opts *o, const char *prog,
		     char *why, size_t n);

/* The name of a command type, for logs. */
const char *qk_cmd_name(uint32_t type);

/* A consumer calls this on each command it took, before acting on it: true
 * when the command's expiry has passed (or it carries none), with *r filled
 * as a refusal with reason "expired"; the command must then not be applied.
 * It reads the clock after a full fence, so the queue's head (stored by the
 * pop) is visible before the time is read: a sender that still sees its
 * command queued after the expiry knows it will be refused.  Real-time
 * safe: a fence and a vDSO clock read. */
bool qk_cmd_expired(const struct qk_cmd *c, struct qk_reply *r);

/* The exit status of a loop process that found the segment inconsistent
 * (qk_seg_verify()) or truncated under it (SIGBUS). */
#define QK_EXIT_SEGMENT 6
/* The loops check the segment (qk_seg_verify) once in this many cycles. */
#define QK_VERIFY_EVERY 16

/* What to do when the segment is truncated under us: an access to the lost
 * pages raises SIGBUS, which cannot be returned from.  The handler writes
 * "<prog>: <shm_name> was truncated under us (SIGBUS) ...", sends SIGTERM
 * to each non-zero pid of stop[], unlinks the segment if asked, and exits
 * with `status`: a reported stop, never a silent death by signal.  Only
 * async-signal-safe calls; installing it again replaces the plan. */
struct qk_sigbus_plan {
	const char *prog;
	const char *shm_name;		/* "/qiki.<instance>" */
	int status;
	bool unlink_it;
	pid_t stop[4];
};
void qk_proc_catch_sigbus(const struct qk_sigbus_plan *plan);

/* Attaches (waiting up to 2 s for a segment still initialising) and claims
 * the process slot; a truncated segment is caught (exit QK_EXIT_SEGMENT).
 * 0, or -errno with `why` filled. */
int qk_proc_attach(struct qk_proc_ctx *p, const struct qk_proc_opts *o, enum qk_proc which,
		   char *why, size_t n);
/* Goes real time (or not, with --no-rt) and marks the slot; the loop starts
 * right after.  0, or -errno with `why`. */
int qk_proc_go_rt(struct qk_proc_ctx *p, const struct qk_proc_opts *o, char *why, size_t n);
/* After the loop: records (and reports on stderr) how often the loop
 * allocated, when the allocation probe is preloaded, then leaves the
 * segment.  Returns the exit status: 5 under --strict if it allocated. */
int qk_proc_finish(struct qk_proc_ctx *p, const struct qk_proc_opts *o, const char *prog);

/* The sensor stream's hash, one frame further: word-wise FNV-1a over the
 * measured part of the frame (its time stamps left out, so real-time,
 * lockstep and HIL runs compare).  Real-time safe. */
uint64_t qk_proc_frame_hash(uint64_t h, const struct qk_sensor_frame *f);
void qk_proc_exit(struct qk_proc_ctx *p);

static inline void qk__stat_inc(_Atomic uint64_t *w, uint64_t by)
{
	qk_store_relaxed(w, qk_load_relaxed(w) + by);	/* single writer */
}

/* One cycle's accounting: scheduled wake, actual wake, end of work. */
static inline void qk_proc_account(struct qk_proc_stats *st, int64_t due, int64_t wake,
				   int64_t end, uint64_t overruns)
{
	qk_hist_record(&st->wake_latency, wake - due);
	qk_hist_record(&st->compute, end - wake);
	qk_store_relaxed(&st->overruns, overruns);
	qk_store_relaxed(&st->heartbeat_ns, end);
	qk__stat_inc(&st->cycles, 1);
}

#endif
