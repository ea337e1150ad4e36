/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/log.h - the logger: printf-style logging that the real-time path may
 * call, formatted and written to disk by a thread of its own through
 * io_uring.
 *
 * Contract.  Any number of threads of one process log into one bounded MPSC
 * ring of fixed-size records; one logger thread (SCHED_OTHER, pinned away
 * from the loop's CPU) drains it.  A log call is lock-free and real-time
 * safe: it takes the time (clock_gettime, a vDSO call), claims a cell with
 * one CAS, stores the call site's address and the raw arguments (strings
 * are copied, up to QK_LOG_STR_BYTES per record) and publishes the cell.
 * No allocation, no syscall, no formatting, no waiting: when the ring is
 * full the record is dropped and counted, and the logger writes how many
 * were dropped and when.  Formatting (as printf would, from the call site's
 * format) happens on the logger thread.
 *
 * A producer preempted between claim and publish holds the logger back
 * until it runs again (never the other producers, who drop once the ring is
 * full).  Records come out in the order their cells were claimed.
 *
 * Durability.  qk_log_destroy() drains the ring, writes everything logged
 * before it and fsyncs.  While running, the file is fsynced every
 * fsync_ms; a crash of the process loses what the logger had not yet
 * written (at most the ring and one poll interval of records), and a crash
 * of the machine what was not yet fsynced.
 *
 * Errors of the logger itself (a full disk, the file removed, io_uring not
 * available) never reach the loop: the logger reports each kind once
 * through opts.on_error, says what to do, and carries on (a removed file is
 * opened again; without io_uring it writes with write(2)).
 *
 * Usage:
 *	struct qk_log *lg = qk_log_create(&opts, err, sizeof(err));
 *	QK_INFO(lg, "state %s -> %s", from_name, to_name);
 *	qk_log_destroy(lg);
 * Every macro accepts lg == NULL (a no-op), so library code can log
 * unconditionally.  Arguments: integers, double/float, C strings, pointers;
 * at most QK_LOG_MAX_ARGS.  The format is checked by the compiler.
 */
#ifndef QK_RT_LOG_H
#define QK_RT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shm/atomic.h"

enum qk_log_level { QK_LOG_DEBUG, QK_LOG_INFO, QK_LOG_WARN, QK_LOG_ERROR, QK_LOG_LEVELS };
enum qk_log_format { QK_LOG_TEXT, QK_LOG_JSON };

#define QK_LOG_MAX_ARGS 8
#define QK_LOG_REC_SIZE 256
#define QK_LOG_STR_BYTES 160	/* copied string bytes per record, NULs included */

/* A call site: static, one per QK_LOG() in the program. */
struct qk_log_site {
	const char *fmt;
	const char *file;
	int line;
	int level;
};

/* How an argument was stored, 4 bits each in qk_log_rec.types. */
enum qk_log_argt { QK_LA_NONE, QK_LA_INT, QK_LA_UINT, QK_LA_DBL, QK_LA_STR, QK_LA_PTR, QK_LA_NULLSTR };

struct qk_log_rec {
	_Atomic uint64_t seq;		/* cell sequence (Vyukov) */
	int64_t t_ns;			/* CLOCK_MONOTONIC */
	const struct qk_log_site *site;
	uint32_t types;			/* enum qk_log_argt per argument */
	uint16_t nargs;
	uint16_t str_used;		/* bytes of str[] taken */
	uint64_t arg[QK_LOG_MAX_ARGS];	/* integers widened to 64 bits, double bits, str offsets */
	char str[QK_LOG_STR_BYTES];
};
_Static_assert(sizeof(struct qk_log_rec) == QK_LOG_REC_SIZE, "log record size");

struct qk_log_opts {
	const char *path;		/* the log file; opened O_APPEND|O_CREAT */
	const char *proc;		/* process name in every line */
	enum qk_log_format format;
	enum qk_log_level level;	/* records below it are not taken */
	uint32_t ring_records;		/* power of two; 0: 8192 */
	int avoid_cpu;			/* the loop's CPU; the logger runs elsewhere; -1 none */
	int poll_ms;			/* logger's sleep when idle; 0: 5 */
	int fsync_ms;			/* fsync cadence; 0: 1000; < 0 only at shutdown */
	uint64_t rotate_bytes;		/* rotate past this size; 0: 64 MiB */
	int keep;			/* rotated files kept (path.1 ..); 0: 4 */
	bool no_uring;			/* write with write(2) (tests, benchmarks) */
	bool paused;			/* the logger waits for qk_log_resume() (tests) */
	/* the logger's own trouble, one message per kind; NULL: stderr */
	void (*on_error)(void *ctx, const char *msg);
	void *ctx;
};

struct qk_log_stats {
	uint64_t logged;		/* records taken by the ring */
	uint64_t dropped;		/* records the full ring refused */
	uint64_t written;		/* records formatted into the file */
	uint64_t bytes;			/* bytes the file system took */
	uint64_t bytes_lost;		/* bytes a failed write lost */
	uint64_t write_errors;
	uint64_t reopens;		/* the file was removed and opened again */
	uint64_t rotations;
	uint64_t fsyncs;
	uint64_t submits;		/* io_uring_submit calls (batches) */
	bool uring;			/* writing through io_uring */
	bool fixed_bufs;		/* with registered buffers */
};

struct qk_log;

/* Opens the file, sets up io_uring and starts the logger thread.  NULL with
 * err filled when the file cannot be opened or memory is short. */
struct qk_log *qk_log_create(const struct qk_log_opts *o, char *err, size_t n);
/* Drains, writes and fsyncs everything logged before it, then frees. */
void qk_log_destroy(struct qk_log *lg);
/* Lets a logger created paused start draining. */
void qk_log_resume(struct qk_log *lg);
/* Waits until every record logged before the call is written (tests). */
void qk_log_flush(struct qk_log *lg);
void qk_log_get_stats(const struct qk_log *lg, struct qk_log_stats *s);
/* The minimum level taken; may change while running. */
void qk_log_set_level(struct qk_log *lg, enum qk_log_level lvl);
const char *qk_log_level_name(enum qk_log_level lvl);
/* "debug", "info", "warn", "error" -> level; -1 otherwise. */
int qk_log_level_parse(const char *s);

/* Formats a record's message as printf would have; returns its length
 * (truncated to n - 1).  The logger's own; exposed for tests. */
size_t qk_log_format_msg(const struct qk_log_rec *r, char *buf, size_t n);

/* ---- the hot path -------------------------------------------------------- */

struct qk__log_ring {
	_Alignas(QK_CACHELINE) _Atomic uint64_t head;	/* producers claim here */
	_Alignas(QK_CACHELINE) _Atomic uint64_t dropped;
	_Atomic int64_t last_drop_ns;
	_Atomic int level;
	uint64_t mask;
	struct qk_log_rec *cells;
};

/* The logger is opaque except for its first member, which the inline hot
 * path needs. */
struct qk__log_head {
	struct qk__log_ring ring;
};

static inline int64_t qk__log_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Claims a cell, or counts a drop and returns NULL. */
static inline struct qk_log_rec *qk__log_claim(struct qk_log *lg, const struct qk_log_site *site,
					       unsigned nargs)
{
	struct qk__log_ring *r = &((struct qk__log_head *)lg)->ring;
	uint64_t pos = qk_load_relaxed(&r->head);
	struct qk_log_rec *c;

	for (;;) {
		c = &r->cells[pos & r->mask];
		/* pairs with the logger's release of the cell: its reads of the
		 * old record are done before we overwrite it */
		int64_t d = (int64_t)(qk_load_acquire(&c->seq) - pos);

		if (d == 0) {
			if (qk_cas_relaxed(&r->head, &pos, pos + 1))
				break;
		} else if (d < 0) {
			qk_fetch_add_relaxed(&r->dropped, 1);
			qk_store_relaxed(&r->last_drop_ns, qk__log_now());
			return NULL;
		} else {
			pos = qk_load_relaxed(&r->head);
		}
	}
	c->t_ns = qk__log_now();
	c->site = site;
	c->types = 0;
	c->nargs = (uint16_t)nargs;
	c->str_used = 0;
	return c;
}

static inline void qk__log_commit(struct qk_log_rec *c)
{
	uint64_t seq = qk_load_relaxed(&c->seq);

	/* pairs with the logger's acquire: the record before its sequence */
	qk_store_release(&c->seq, seq + 1);
}

static inline bool qk__log_on(struct qk_log *lg, int lvl)
{
	return lg && lvl >= qk_load_relaxed(&((struct qk__log_head *)lg)->ring.level);
}

static inline void qk__la_int(struct qk_log_rec *c, unsigned i, long long v)
{
	c->arg[i] = (uint64_t)v;
	c->types |= (uint32_t)QK_LA_INT << (4 * i);
}

static inline void qk__la_uint(struct qk_log_rec *c, unsigned i, unsigned long long v)
{
	c->arg[i] = v;
	c->types |= (uint32_t)QK_LA_UINT << (4 * i);
}

static inline void qk__la_dbl(struct qk_log_rec *c, unsigned i, double v)
{
	union { double d; uint64_t u; } b = { .d = v };

	c->arg[i] = b.u;
	c->types |= (uint32_t)QK_LA_DBL << (4 * i);
}

static inline void qk__la_ptr(struct qk_log_rec *c, unsigned i, const void *p)
{
	c->arg[i] = (uint64_t)(uintptr_t)p;
	c->types |= (uint32_t)QK_LA_PTR << (4 * i);
}

/* Copies the string into the record; what does not fit is cut. */
static inline void qk__la_str(struct qk_log_rec *c, unsigned i, const char *s)
{
	unsigned at = c->str_used, k = 0, room = QK_LOG_STR_BYTES - at;

	if (!s) {
		c->types |= (uint32_t)QK_LA_NULLSTR << (4 * i);
		return;
	}
	if (room == 0) {	/* no byte left: an empty string */
		at = QK_LOG_STR_BYTES - 1;
		room = 1;
	}
	while (k + 1 < room && s[k]) {
		c->str[at + k] = s[k];
		k++;
	}
	c->str[at + k] = '\0';
	c->str_used = (uint16_t)(at + k + 1 > QK_LOG_STR_BYTES ? QK_LOG_STR_BYTES : at + k + 1);
	c->arg[i] = at;
	c->types |= (uint32_t)QK_LA_STR << (4 * i);
}

#define QK__LA(c, i, x) _Generic((x), \
	_Bool: qk__la_uint, char: qk__la_int, signed char: qk__la_int, \
	unsigned char: qk__la_uint, short: qk__la_int, unsigned short: qk__la_uint, \
	int: qk__la_int, unsigned: qk__la_uint, long: qk__la_int, \
	unsigned long: qk__la_uint, long long: qk__la_int, unsigned long long: qk__la_uint, \
	float: qk__la_dbl, double: qk__la_dbl, \
	char *: qk__la_str, const char *: qk__la_str, \
	default: qk__la_ptr)((c), (i), (x))

/* counts the arguments after the format; more than 8 does not compile */
#define QK__LOG_N(...) QK__LOG_N_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0, qk__too_many)
#define QK__LOG_N_(f, a1, a2, a3, a4, a5, a6, a7, a8, n, ...) n
#define QK__LOG_FMT(f, ...) f
#define QK__CAT(a, b) QK__CAT_(a, b)
#define QK__CAT_(a, b) a##b
#define QK__LA0(c, f)
#define QK__LA1(c, f, a) QK__LA(c, 0, a)
#define QK__LA2(c, f, a, b) QK__LA1(c, f, a); QK__LA(c, 1, b)
#define QK__LA3(c, f, a, b, d) QK__LA2(c, f, a, b); QK__LA(c, 2, d)
#define QK__LA4(c, f, a, b, d, e) QK__LA3(c, f, a, b, d); QK__LA(c, 3, e)
#define QK__LA5(c, f, a, b, d, e, g) QK__LA4(c, f, a, b, d, e); QK__LA(c, 4, g)
#define QK__LA6(c, f, a, b, d, e, g, h) QK__LA5(c, f, a, b, d, e, g); QK__LA(c, 5, h)
#define QK__LA7(c, f, a, b, d, e, g, h, j) QK__LA6(c, f, a, b, d, e, g, h); QK__LA(c, 6, j)
#define QK__LA8(c, f, a, b, d, e, g, h, j, k) QK__LA7(c, f, a, b, d, e, g, h, j); QK__LA(c, 7, k)

__attribute__((format(printf, 1, 2)))
static inline void qk__log_fmtcheck(const char *fmt, ...)
{
	(void)fmt;
}

/* QK_LOG(lg, level, "format", args...): see the contract above. */
#define QK_LOG(lg, lvl, ...) do { \
	struct qk_log *qk__lg = (lg); \
	if (0) \
		qk__log_fmtcheck(__VA_ARGS__); \
	if (qk__log_on(qk__lg, (lvl))) { \
		static const struct qk_log_site qk__site = { \
			QK__LOG_FMT(__VA_ARGS__, 0), __FILE__, __LINE__, (lvl) }; \
		struct qk_log_rec *qk__c = qk__log_claim(qk__lg, &qk__site, \
							  QK__LOG_N(__VA_ARGS__)); \
		if (qk__c) { \
			QK__CAT(QK__LA, QK__LOG_N(__VA_ARGS__))(qk__c, __VA_ARGS__); \
			qk__log_commit(qk__c); \
		} \
	} \
} while (0)

#define QK_DEBUG(lg, ...) QK_LOG(lg, QK_LOG_DEBUG, __VA_ARGS__)
#define QK_INFO(lg, ...)  QK_LOG(lg, QK_LOG_INFO, __VA_ARGS__)
#define QK_WARN(lg, ...)  QK_LOG(lg, QK_LOG_WARN, __VA_ARGS__)
#define QK_ERROR(lg, ...) QK_LOG(lg, QK_LOG_ERROR, __VA_ARGS__)

#endif
