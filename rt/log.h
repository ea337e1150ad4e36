/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/log.h - the logger: printf-style logging that the real-time path may
 * call; a thread of its own writes the records to disk through io_uring,
 * as binary records that qiki-log formats when the log is read (NanoLog's
 * design), or as text or JSON lines formatted by that thread.
 *
 * Contract.  Each thread that logs owns one byte ring of the logger (SPSC;
 * 2 MiB by default: 37 ms at 1 M records/s; a logger thread at SCHED_FIFO 1
 * was seen not to run for 20-30 ms on a busy shared VM; the caller touches
 * only the line or two it writes, prefetched, so the ring's size is not its
 * cache footprint; that thread produces, the logger thread consumes).  A thread gets its
 * ring once, when it first logs or calls qk_log_register_thread() (do that
 * at start-up: it is a search of a small fixed table, no allocation, no
 * syscall).  A log call is wait-free and real-time safe: it reads the TSC
 * (or, where the kernel does not trust the TSC, CLOCK_MONOTONIC through the
 * vDSO), stores a 16-byte header (call site, size, time) and the raw
 * arguments, 8 bytes each, into its own ring and publishes the new head
 * with one release store.  It reads the consumer's index only when the ring
 * looks full.  No CAS, no allocation, no syscall, no formatting: when the
 * ring is full the record is dropped and counted, and the logger writes how
 * many were dropped and when.
 *
 * The logger thread runs on every CPU but opts.avoid_cpu, and so do
 * io_uring's workers: at SCHED_FIFO opts.prio (at most half a CPU; the
 * workers inherit it) or as an ordinary thread at nice -10.  It passes
 * over the rings when the fullest would be an eighth full at its recent
 * rate (50 us to poll_ms): a pass costs the producer one cache miss.
 *
 * Strings.  A string in the program's read-only image (a literal, a table of
 * state names) is stored by pointer; so is one passed through
 * QK_LOG_STATIC(s), which promises that s lives as long as the logger and
 * never changes.  Any other string is copied, up to QK_LOG_STR_MAX bytes.
 *
 * Order.  Each thread's records come out in the order it logged them; the
 * records of different threads are interleaved by drain pass, not by time
 * (their timestamps order them; qiki-log prints them as written).
 *
 * Durability.  qk_log_destroy() drains every ring, writes everything logged
 * before it and fsyncs.  While running, the file is fsynced every
 * fsync_ms; a crash of the process loses what the logger had not yet
 * written (at most the rings and one poll interval of records), and a crash
 * of the machine what was not yet fsynced.  A binary file cut short by a
 * crash reads up to its last whole record.
 *
 * Errors of the logger itself (a full disk, the file removed, io_uring not
 * available) never reach the loop: the logger reports each kind once
 * through opts.on_error, says what to do, and carries on (a removed file is
 * opened again; without io_uring it writes with pwrite(2)).
 *
 * Usage:
 *	struct qk_log *lg = qk_log_create(&opts, err, sizeof(err));
 *	QK_INFO(lg, "state %s -> %s", from_name, QK_LOG_STATIC(to_name));
 *	qk_log_destroy(lg);
 * Every macro accepts lg == NULL (a no-op), so library code can log
 * unconditionally.  Arguments: integers, double/float, C strings, pointers;
 * at most QK_LOG_MAX_ARGS.  The format is checked by the compiler.
 * The binary file format is in rt/log_file.h.
 */
#ifndef QK_RT_LOG_H
#define QK_RT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "shm/atomic.h"

enum qk_log_level { QK_LOG_DEBUG, QK_LOG_INFO, QK_LOG_WARN, QK_LOG_ERROR, QK_LOG_LEVELS };
enum qk_log_format { QK_LOG_TEXT, QK_LOG_JSON, QK_LOG_BINARY };

#define QK_LOG_MAX_ARGS 8
#define QK_LOG_STR_MAX 255		/* bytes kept of a copied string argument */
#define QK_LOG_REC_MAX (16 + 8 * QK_LOG_MAX_ARGS * 2 + QK_LOG_MAX_ARGS * (QK_LOG_STR_MAX + 1))

/* How an argument is stored, 4 bits each in qk_log_site.types: known at
 * compile time from the argument's type. */
enum qk_log_argt { QK_LA_NONE, QK_LA_INT, QK_LA_UINT, QK_LA_DBL, QK_LA_STR, QK_LA_PTR };

/* A call site: static, one per QK_LOG() in the program. */
struct qk_log_site {
	const char *fmt;
	const char *file;
	int line;
	int level;
	uint32_t types;			/* enum qk_log_argt per argument */
	uint32_t nargs;
};

struct qk_log_opts {
	const char *path;		/* the log file; created, appended to */
	const char *proc;		/* process name in every line */
	enum qk_log_format format;
	enum qk_log_level level;	/* records below it are not taken */
	uint32_t ring_bytes;		/* per thread; power of two >= 4096; 0: 2 MiB */
	uint32_t threads;		/* threads that may log; 0: 8 */
	int avoid_cpu;			/* the loop's CPU; the logger runs elsewhere; -1 none */
	/* > 0: the logger thread at SCHED_FIFO prio (1, the lowest, is below
	 * every loop and IRQ thread and above all ordinary work), at most half
	 * a CPU; 0 or not allowed: an ordinary thread at nice -10 */
	int prio;
	int poll_ms;			/* logger's sleep when idle; 0: 5 */
	int fsync_ms;			/* fsync cadence; 0: 1000; < 0 only at shutdown */
	uint64_t rotate_bytes;		/* rotate past this size; 0: 64 MiB */
	int keep;			/* rotated files kept (path.1 ..); 0: 4 */
	bool no_uring;			/* write with pwrite(2) (tests, benchmarks) */
	bool no_tsc;			/* time every call with clock_gettime */
	bool paused;			/* the logger waits for qk_log_resume() (tests) */
	/* the logger's own trouble, one message per kind; NULL: stderr */
	void (*on_error)(void *ctx, const char *msg);
	void *ctx;
};

struct qk_log_stats {
	uint64_t logged;		/* records taken by the rings */
	uint64_t dropped;		/* records a full ring refused */
	uint64_t written;		/* records written to the file */
	uint64_t bytes;			/* bytes the file system took */
	uint64_t bytes_lost;		/* bytes a failed write lost */
	uint64_t write_errors;
	uint64_t reopens;		/* the file was removed and opened again */
	uint64_t rotations;
	uint64_t fsyncs;
	uint64_t submits;		/* io_uring_submit calls */
	uint64_t passes;		/* the logger's drain passes */
	uint64_t max_gap_ns;		/* longest time between two passes */
	uint64_t max_fill;		/* most bytes a ring held at a pass */
	uint64_t buf_waits;		/* times every buffer was in flight */
	uint64_t max_buf_wait_ns;	/* the longest of those waits */
	uint32_t threads;		/* rings taken by threads */
	bool uring;			/* writing through io_uring */
	bool fixed_bufs;		/* with registered buffers */
	bool tsc;			/* calls read the TSC */
	bool fifo;			/* the logger thread runs at SCHED_FIFO */
};

struct qk_log;

/* Opens the file, sets up io_uring, calibrates the TSC (a few ms) and
 * starts the logger thread; the calling thread is registered.  NULL with
 * err filled when the file cannot be opened or memory is short. */
struct qk_log *qk_log_create(const struct qk_log_opts *o, char *err, size_t n);
/* Drains, writes and fsyncs everything logged before it, then frees. */
void qk_log_destroy(struct qk_log *lg);
/* Gives the calling thread its ring now (start-up), not at its first log
 * call.  false when every ring is taken: that thread's records are then
 * dropped and counted. */
bool qk_log_register_thread(struct qk_log *lg);
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

/* ---- the hot path -------------------------------------------------------- */

/* A thread's ring.  head, logged, dropped: the producer's line; tail: the
 * logger's.  Positions are free-running byte counts; a record never wraps:
 * the buffer has QK_LOG_REC_MAX bytes of slack past its end, which a record
 * that starts near the end runs into.  The producer only stores to head and
 * logged (its own copies are in its thread's struct qk__log_tls). */
struct qk__log_ring {
	_Alignas(QK_CACHELINE) _Atomic uint64_t head;
	_Atomic uint64_t logged, dropped;
	_Atomic int64_t last_drop;	/* time of the last drop, in the ring's clock */
	uint8_t *buf;
	uint64_t mask;
	_Alignas(QK_CACHELINE) _Atomic uint64_t tail;
	_Atomic uintptr_t owner;	/* pthread_self() of the producer, 0 free */
};

/* The logger is opaque except for its first member, which the inline hot
 * path needs. */
struct qk__log_head {
	_Atomic int level;
	uint32_t id;			/* unique per logger in the process */
	bool tsc;
	uintptr_t ro_lo, ro_hi;		/* the executable's read-only image */
};

/* The calling thread's ring of the logger it logged to last, and what the
 * call needs of it, so that a call loads one line of its own (this one)
 * before it can store the record: after the CPU was taken away (an
 * interrupt, the host) every line a call loads is a miss, and the ring's
 * line behind this one was a second miss in a row.  head and logged are
 * the ring's values (this thread is their only writer), tail_seen the
 * logger's tail as last read.  One cache line, aligned: 56 bytes at the
 * TLS block's 8-byte alignment could straddle two. */
struct qk__log_tls {
	_Alignas(QK_CACHELINE) uint32_t id;
	struct qk__log_ring *r;
	uint8_t *buf;
	uint64_t mask;
	uint64_t head, tail_seen, logged;
};
extern __thread struct qk__log_tls qk__log_tls;

/* Out of line, once per thread and logger: finds or takes the ring. */
struct qk__log_ring *qk__log_attach(struct qk_log *lg);

#define QK__SSTR (1ull << 63)		/* a string slot holding a pointer */
/* n and types are constants at every call: unrolled, the type tests fold */
#define QK__UNROLL _Pragma("GCC unroll 8")

static inline int64_t qk__log_clock(const struct qk__log_head *h)
{
#if defined(__x86_64__)
	if (h->tsc)
		return (int64_t)__rdtsc();
#endif
	struct timespec ts;

	(void)h;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A prefetch for writing: the line comes exclusive.  GCC makes
 * __builtin_prefetch(p, 1) a prefetcht0 (a read: the line comes shared,
 * and the store still waits for the other core to let go of it) unless
 * -mprfchw; PREFETCHW runs on every x86-64 that has it and is a NOP on
 * those that do not. */
static inline void qk__log_prefetchw(const void *p)
{
#if defined(__x86_64__)
	__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1);
#endif
}

static inline bool qk__log_on(struct qk_log *lg, int lvl)
{
	return lg && lvl >= qk_load_relaxed(&((struct qk__log_head *)lg)->level);
}

/* One record: v[i] is the argument's bits (strings: the pointer); types and
 * n are constants, so the loops unroll and the switches fold. */
static inline __attribute__((always_inline)) void
qk__log_write(struct qk_log *lg, const struct qk_log_site *site, uint32_t types, unsigned n,
	      const uint64_t *v)
{
	const struct qk__log_head *h = (const struct qk__log_head *)lg;
	struct qk__log_tls *t = &qk__log_tls;
	uint32_t len[QK_LOG_MAX_ARGS];
	uint64_t size = 16 + 8 * (uint64_t)n;

	if (__builtin_expect(t->id != h->id, 0) && !qk__log_attach(lg))
		return;
	QK__UNROLL
	for (unsigned i = 0; i < n; i++) {
		if (((types >> (4 * i)) & 15) != QK_LA_STR)
			continue;
		const char *s = (const char *)(uintptr_t)v[i];

		len[i] = UINT32_MAX;	/* by pointer: NULL, read-only or static */
		if (s && !(v[i] & QK__SSTR) && (uintptr_t)s - h->ro_lo >= h->ro_hi - h->ro_lo) {
			len[i] = (uint32_t)strnlen(s, QK_LOG_STR_MAX);
			size += (len[i] + 8) & ~7u;
		}
	}
	int64_t ts = qk__log_clock(h);
	uint64_t head = t->head;

	if (__builtin_expect(head + size - t->tail_seen > t->mask + 1, 0)) {
		struct qk__log_ring *r = t->r;

		/* pairs with the logger's release of tail: its reads of the
		 * bytes we are about to overwrite are done */
		t->tail_seen = qk_load_acquire(&r->tail);
		if (head + size - t->tail_seen > t->mask + 1) {
			qk_store_relaxed(&r->dropped, qk_load_relaxed(&r->dropped) + 1);
			qk_store_relaxed(&r->last_drop, ts);
			return;
		}
	}
	uint8_t *p = t->buf + (head & t->mask), *sp = p + 16 + 8 * n;
	uint64_t w0 = (uint64_t)(uintptr_t)site | size << 48;

	memcpy(p, &w0, 8);
	memcpy(p + 8, &ts, 8);
	QK__UNROLL
	for (unsigned i = 0; i < n; i++) {
		uint64_t x = v[i];

		if (((types >> (4 * i)) & 15) == QK_LA_STR) {
			if (len[i] == UINT32_MAX) {
				x |= QK__SSTR;
			} else {
				x = len[i];
				memcpy(sp, (const char *)(uintptr_t)v[i], len[i]);
				sp[len[i]] = '\0';
				sp += (len[i] + 8) & ~7u;
			}
		}
		memcpy(p + 16 + 8 * i, &x, 8);
	}
	t->head = head + size;
	/* pairs with the logger's acquire of head: the record before it */
	qk_store_release(&t->r->head, head + size);
	/* the next record's lines, for writing: their misses (the logger
	 * read them last) start now, not at the next call */
	qk__log_prefetchw(p + size);
	qk__log_prefetchw(p + size + 64);
	qk_store_relaxed(&t->r->logged, ++t->logged);
}

/* Each argument as 8 bytes, by its type. */
static inline uint64_t qk__lv_int(long long x) { return (uint64_t)x; }
static inline uint64_t qk__lv_uint(unsigned long long x) { return x; }
static inline uint64_t qk__lv_dbl(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline uint64_t qk__lv_str(const char *s) { return (uint64_t)(uintptr_t)s; }
static inline uint64_t qk__lv_sstr(const volatile char *s)
{
	return s ? (uint64_t)(uintptr_t)s | QK__SSTR : 0;
}
static inline uint64_t qk__lv_ptr(const volatile void *p) { return (uint64_t)(uintptr_t)p; }

/* A string that outlives the logger and never changes: logged by pointer. */
#define QK_LOG_STATIC(s) ((const volatile char *)(s))

#define QK__LV(x) _Generic((x), \
	_Bool: qk__lv_uint, char: qk__lv_int, signed char: qk__lv_int, \
	unsigned char: qk__lv_uint, short: qk__lv_int, unsigned short: qk__lv_uint, \
	int: qk__lv_int, unsigned: qk__lv_uint, long: qk__lv_int, \
	unsigned long: qk__lv_uint, long long: qk__lv_int, unsigned long long: qk__lv_uint, \
	float: qk__lv_dbl, double: qk__lv_dbl, \
	char *: qk__lv_str, const char *: qk__lv_str, \
	volatile char *: qk__lv_sstr, const volatile char *: qk__lv_sstr, \
	default: qk__lv_ptr)(x)
#define QK__LT(x) _Generic((x), \
	_Bool: QK_LA_UINT, char: QK_LA_INT, signed char: QK_LA_INT, \
	unsigned char: QK_LA_UINT, short: QK_LA_INT, unsigned short: QK_LA_UINT, \
	int: QK_LA_INT, unsigned: QK_LA_UINT, long: QK_LA_INT, \
	unsigned long: QK_LA_UINT, long long: QK_LA_INT, unsigned long long: QK_LA_UINT, \
	float: QK_LA_DBL, double: QK_LA_DBL, \
	char *: QK_LA_STR, const char *: QK_LA_STR, \
	volatile char *: QK_LA_STR, const volatile char *: QK_LA_STR, \
	default: QK_LA_PTR)

/* counts the arguments after the format; more than 8 does not compile */
#define QK__LOG_N(...) QK__LOG_N_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0, qk__too_many)
#define QK__LOG_N_(f, a1, a2, a3, a4, a5, a6, a7, a8, n, ...) n
#define QK__LOG_FMT(f, ...) f
#define QK__CAT(a, b) QK__CAT_(a, b)
#define QK__CAT_(a, b) a##b
/* the values, each followed by a comma; the types, or'ed */
#define QK__LV0(f)
#define QK__LV1(f, a) QK__LV(a),
#define QK__LV2(f, a, b) QK__LV1(f, a) QK__LV(b),
#define QK__LV3(f, a, b, c) QK__LV2(f, a, b) QK__LV(c),
#define QK__LV4(f, a, b, c, d) QK__LV3(f, a, b, c) QK__LV(d),
#define QK__LV5(f, a, b, c, d, e) QK__LV4(f, a, b, c, d) QK__LV(e),
#define QK__LV6(f, a, b, c, d, e, g) QK__LV5(f, a, b, c, d, e) QK__LV(g),
#define QK__LV7(f, a, b, c, d, e, g, h) QK__LV6(f, a, b, c, d, e, g) QK__LV(h),
#define QK__LV8(f, a, b, c, d, e, g, h, j) QK__LV7(f, a, b, c, d, e, g, h) QK__LV(j),
#define QK__LT0(f) 0u
#define QK__LT1(f, a) (uint32_t)QK__LT(a)
#define QK__LT2(f, a, b) QK__LT1(f, a) | (uint32_t)QK__LT(b) << 4
#define QK__LT3(f, a, b, c) QK__LT2(f, a, b) | (uint32_t)QK__LT(c) << 8
#define QK__LT4(f, a, b, c, d) QK__LT3(f, a, b, c) | (uint32_t)QK__LT(d) << 12
#define QK__LT5(f, a, b, c, d, e) QK__LT4(f, a, b, c, d) | (uint32_t)QK__LT(e) << 16
#define QK__LT6(f, a, b, c, d, e, g) QK__LT5(f, a, b, c, d, e) | (uint32_t)QK__LT(g) << 20
#define QK__LT7(f, a, b, c, d, e, g, h) QK__LT6(f, a, b, c, d, e, g) | (uint32_t)QK__LT(h) << 24
#define QK__LT8(f, a, b, c, d, e, g, h, j) QK__LT7(f, a, b, c, d, e, g, h) | (uint32_t)QK__LT(j) << 28

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
			QK__LOG_FMT(__VA_ARGS__, 0), __FILE__, __LINE__, (lvl), \
			QK__CAT(QK__LT, QK__LOG_N(__VA_ARGS__))(__VA_ARGS__), \
			QK__LOG_N(__VA_ARGS__) }; \
		const uint64_t qk__v[QK__LOG_N(__VA_ARGS__) + 1] = { \
			QK__CAT(QK__LV, QK__LOG_N(__VA_ARGS__))(__VA_ARGS__) 0 }; \
		qk__log_write(qk__lg, &qk__site, \
			      QK__CAT(QK__LT, QK__LOG_N(__VA_ARGS__))(__VA_ARGS__), \
			      QK__LOG_N(__VA_ARGS__), qk__v); \
	} \
} while (0)

#define QK_DEBUG(lg, ...) QK_LOG(lg, QK_LOG_DEBUG, __VA_ARGS__)
#define QK_INFO(lg, ...)  QK_LOG(lg, QK_LOG_INFO, __VA_ARGS__)
#define QK_WARN(lg, ...)  QK_LOG(lg, QK_LOG_WARN, __VA_ARGS__)
#define QK_ERROR(lg, ...) QK_LOG(lg, QK_LOG_ERROR, __VA_ARGS__)

#endif
