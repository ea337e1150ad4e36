/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/log_read.h - reading binary log files (rt/log_file.h) back into
 * records: qiki-log and the tests use it.
 *
 * Contract.  One reader per file, one thread.  The caller holds the file's
 * bytes from offset 0 in memory (growing, for follow mode) and feeds them;
 * the reader keeps its place and calls back once per whole record, in file
 * order.  It never reads past `len`: a record cut short (a crash, a write
 * in flight) is not delivered until its last byte is there.  A hole (zeros
 * where a lost or unfinished write should be) stops the reader until the
 * caller says the file is final; then the reader skips to the next chunk
 * and counts what it skipped.  Not real-time code: it allocates.
 */
#ifndef QK_RT_LOG_READ_H
#define QK_RT_LOG_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt/log.h"
#include "rt/log_fmt.h"

struct qk_logr_site {
	uint32_t id;
	int level, line;
	uint32_t types, nargs;
	char *fmt, *file;
	struct qk_log_fmt pf;		/* fmt, parsed */
	char prefix[192], jprefix[320];	/* the line's site part: text, JSON */
	size_t plen, jplen;
};

struct qk_logr_rec {
	int64_t ns;			/* CLOCK_MONOTONIC */
	const struct qk_logr_site *site;	/* NULL: its definition was lost */
	uint32_t site_id;
	unsigned nargs;
	struct qk_log_arg a[QK_LOG_MAX_ARGS];
};

/* What the file says about the process that wrote it (the latest header). */
struct qk_logr_proc {
	char proc[33];
	int pid;
	int64_t wall_off_ns;
	uint64_t headers;		/* file headers seen (a file appended to has more) */
};

struct qk_logr_stats {
	uint64_t records, chunks;
	uint64_t skipped_bytes;		/* holes and damage jumped over */
	uint64_t unknown;		/* records whose site was not defined */
	uint64_t bad;			/* entries that did not parse */
};

struct qk_logr;
typedef int (*qk_logr_fn)(void *ctx, const struct qk_logr *r, const struct qk_logr_rec *rec);

struct qk_logr *qk_logr_create(void);
void qk_logr_destroy(struct qk_logr *r);
/* Parses data[..len) from where it stopped; calls fn per whole record (a
 * non-zero return stops it and is returned).  final: no more bytes will
 * come, so a hole is skipped rather than waited for.  Returns 0, fn's
 * value, or -EPROTO when the data is not a qiki binary log. */
int qk_logr_feed(struct qk_logr *r, const uint8_t *data, size_t len, bool final, qk_logr_fn fn,
		 void *ctx);
/* The offset up to which everything was taken (whole entries only). */
size_t qk_logr_pos(const struct qk_logr *r);
const struct qk_logr_proc *qk_logr_proc(const struct qk_logr *r);
void qk_logr_get_stats(const struct qk_logr *r, struct qk_logr_stats *s);

#endif
