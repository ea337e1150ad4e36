/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/log.c - the logger thread: drains every thread's ring, writes binary
 * records (rt/log_file.h) or formats lines (rt/log_fmt.c), and writes them
 * through io_uring; see rt/log.h for the contract.
 *
 * Draining.  A pass visits every ring once and takes all it holds up to the
 * head it read; a ring's tail is released after its records are copied
 * out.  Binary: a record is copied as it is, its header turned into the
 * file's (site id, time in ns) and its static-string pointers into string
 * ids; the site and the string are defined in the file before their first
 * use.  No formatting.  Text and JSON: the site's format is parsed once and
 * kept with the site.  TSC times become CLOCK_MONOTONIC ns here, by a fit
 * against clock_gettime taken at start and again every second.
 *
 * Writing.  Output goes into large registered buffers; a full buffer (or,
 * when the rings are empty, a partly filled one) is written at its own
 * offset in the file, so several writes are in flight at once and the file
 * is in log order whatever io_uring's workers do.  A short write goes again
 * for its rest; a failed write (ENOSPC, EIO) loses that buffer, counted and
 * reported once per error, and the next write goes where it would have
 * gone when nothing after it was written.
 *
 * Housekeeping happens when no write is in flight: the file removed under
 * us (its link count fell to 0) is opened again, a file past rotate_bytes
 * is rotated.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt/log.h"
#include "rt/log_file.h"
#include "rt/log_fmt.h"

#define NBUF 8
#define BUF_BYTES (256 * 1024)
#define ROOM_BYTES (16 * 1024)		/* the most one record may add, defs included */
#define MSG_BYTES 2048
#define SITE_SLOTS 8192			/* power of two; 3/4 usable */
#define STR_SLOTS 4096
#define STATIC_STR_MAX 1023
#define N_ERRKINDS 6
#define UD_OLD_FSYNC (NBUF + 1)
#define UD_UNLINK (NBUF + 2)

__thread struct qk__log_tls qk__log_tls;

/* Loggers of one process are told apart by id (a thread's cached ring names
 * its logger): the one mutable global of the logger. */
static _Atomic uint32_t next_id = 1;

enum buf_state { B_FREE, B_FILL, B_PEND, B_FLIGHT };

struct lbuf {
	uint8_t *p;
	uint32_t len;		/* bytes filled */
	uint32_t off;		/* bytes written */
	uint32_t state;
	uint64_t foff;		/* file offset of byte 0 (regular files) */
	uint64_t bseq;		/* order of filling */
	uint64_t records;
	bool placed;		/* foff given: a retry keeps it */
	int64_t since_ns;	/* when filling began */
	uint32_t file_no;	/* the file it is for */
};

struct site_ent {
	const struct qk_log_site *site;
	uint32_t id, gen;	/* id in the files; file generation it was defined in */
	uint32_t str_mask;	/* the string arguments, a bit each */
	bool parsed;
	uint16_t plen;
	char prefix[320];
	struct qk_log_fmt fmt;
};

struct str_ent {
	uintptr_t p;
	uint32_t id, gen;
};

struct ring_note {
	uint64_t last_head;		/* head at the pass before */
	int64_t moved_ns;		/* when head last moved */
	uint64_t in_bytes;		/* logged between the last two passes */
	uint64_t win_bytes;		/* logged since win_ns */
	double rate;			/* bytes/ns lately: decays by half in 100 ms */
	uint64_t drops_reported;
	int64_t since_ns;
};

struct qk_log {
	struct qk__log_head h;		/* first: the inline hot path's view */
	struct qk__log_ring *rings;
	uint32_t n_rings, ring_bytes;
	_Atomic uint64_t no_ring;	/* records of threads that found no ring */

	/* logger thread only */
	struct ring_note *notes;
	struct lbuf buf[NBUF];
	int fill;
	uint64_t next_bseq;
	int inflight;
	bool fsync_inflight;
	uint32_t fsync_file;		/* the file the fsync in flight is for */
	int old_syncs;			/* rotated files' fsyncs in flight */
	enum { UL_NONE, UL_FLIGHT } unlinking;	/* a rotated-out file, by io_uring */
	char unlink_path[4096 + 16];
	struct io_uring uring;
	bool uring_ok, fixed_bufs;
	int fd;
	bool is_reg;
	uint64_t file_off, max_ok_end, rewind_to;
	uint64_t chunk_seq;
	uint32_t gen;			/* definitions: bumped per file and per lost write */
	uint32_t fill_file, cur_file;	/* file new buffers are for; the open one */
	enum { SW_NONE, SW_ROTATE, SW_REOPEN } switching;
	uint64_t unsynced, sync_mark;
	int64_t last_fsync_ns, last_check_ns, last_cal_ns;
	int64_t last_pass_ns, win_ns;
	int64_t pass_cpu_ns;		/* this thread's CPU time when the pass began */
	_Atomic bool fifo;		/* the logger runs at SCHED_FIFO o.prio */
	int last_err[N_ERRKINDS];
	bool failing;
	struct site_ent **sites, *last_site;
	uint32_t n_sites;
	struct str_ent *strs;
	uint32_t n_strs;
	struct qk_log_linectx line;
	char msg[MSG_BYTES];
	/* TSC -> ns: ns = cal_ns + (tsc - cal_tsc) * cal_rate */
	int64_t tsc0, ns0, cal_tsc, cal_ns;
	double cal_rate;
	uint64_t flush_seen, flush_bseq;
	bool flush_wait;

	/* shared with the creating thread */
	_Atomic uint64_t flush_req, flush_done;
	_Atomic int stop, paused;
	_Atomic uint64_t st_written, st_bytes, st_lost, st_errors, st_reopens,
		st_rotations, st_fsyncs, st_submits, st_passes, st_max_gap, st_max_fill,
		st_buf_waits, st_max_buf_wait;
	pthread_t thread;

	struct qk_log_opts o;
	char path[4096], proc[64];
	int pid;
};

enum errkind { E_WRITE, E_FSYNC, E_REOPEN, E_ROTATE, E_URING, E_GONE };

static const char *const level_names[QK_LOG_LEVELS] = { "DEBUG", "INFO", "WARN", "ERROR" };
static const char *const level_lower[QK_LOG_LEVELS] = { "debug", "info", "warn", "error" };

const char *qk_log_level_name(enum qk_log_level lvl)
{
	return (unsigned)lvl < QK_LOG_LEVELS ? level_names[lvl] : "?";
}

int qk_log_level_parse(const char *s)
{
	for (int i = 0; i < QK_LOG_LEVELS; i++)
		if (!strcmp(s, level_lower[i]))
			return i;
	return -1;
}

void qk_log_set_level(struct qk_log *lg, enum qk_log_level lvl)
{
	if (lg)
		qk_store_relaxed(&lg->h.level, (int)lvl);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The calling thread's CPU time: what a pass ran, not what it waited. */
static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the calling thread's ring ------------------------------------------- */

struct qk__log_ring *qk__log_attach(struct qk_log *lg)
{
	uintptr_t self = (uintptr_t)pthread_self(), none = 0;
	struct qk__log_ring *r = NULL;

	for (uint32_t i = 0; i < lg->n_rings && !r; i++)
		if (qk_load_relaxed(&lg->rings[i].owner) == self)
			r = &lg->rings[i];	/* ours, or a dead thread's of the same id */
	for (uint32_t i = 0; i < lg->n_rings && !r; i++, none = 0)
		if (qk_cas_relaxed(&lg->rings[i].owner, &none, self))
			r = &lg->rings[i];
	if (!r) {
		qk_fetch_add_relaxed(&lg->no_ring, 1);
		return NULL;
	}
	/* this thread is the ring's only writer: its head and count are
	 * current in the ring, also when the thread logged elsewhere since */
	qk__log_tls = (struct qk__log_tls){
		.id = lg->h.id, .r = r, .buf = r->buf, .mask = r->mask,
		.head = qk_load_relaxed(&r->head), .logged = qk_load_relaxed(&r->logged),
		/* pairs with the logger's release of tail */
		.tail_seen = qk_load_acquire(&r->tail),
	};
	return r;
}

bool qk_log_register_thread(struct qk_log *lg)
{
	return lg && qk__log_attach(lg);
}

/* ---- the logger's own trouble -------------------------------------------- */

static void say(struct qk_log *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct qk_log *lg, const char *fmt, ...)
{
	char m[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	if (lg->o.on_error)
		lg->o.on_error(lg->o.ctx, m);
	else
		fprintf(stderr, "%s: %s\n", lg->proc, m);
}

static const char *advice(int err)
{
	switch (err) {
	case ENOSPC: case EDQUOT:
		return "free space on that file system or pass --log-dir on another one";
	case EFBIG:
		return "lower the rotation size or raise the file size limit (ulimit -f)";
	case EROFS: case EACCES: case EPERM:
		return "make the directory writable or pass --log-dir elsewhere";
	default:
		return "check the file system (dmesg) or pass --log-dir elsewhere";
	}
}

/* Reports an error of one kind once (again only when the errno changes). */
static void trouble(struct qk_log *lg, enum errkind kind, int err, const char *what)
{
	if (lg->last_err[kind] == err)
		return;
	lg->last_err[kind] = err;
	say(lg, "log: %s %s failed: %s; log lines are being lost (the loop keeps running): %s",
	    what, lg->path, strerror(err), advice(err));
}

/* ---- buffers and writing -------------------------------------------------- */

static bool buf_empty(struct qk_log *lg, const struct lbuf *b);
static void housekeeping(struct qk_log *lg, int64_t now);

static void buf_finished(struct qk_log *lg, struct lbuf *b, int err)
{
	if (err) {
		qk_fetch_add_relaxed(&lg->st_lost, b->len - b->off);
		qk_fetch_add_relaxed(&lg->st_errors, 1);
		trouble(lg, E_WRITE, err, "writing");
		lg->failing = true;
		lg->gen++;	/* its definitions may be lost: define again */
		if (lg->is_reg && b->foff + b->off < lg->rewind_to)
			lg->rewind_to = b->foff + b->off;
	} else {
		qk_fetch_add_relaxed(&lg->st_written, b->records);
		if (lg->is_reg && b->foff + b->len > lg->max_ok_end)
			lg->max_ok_end = b->foff + b->len;
		if (lg->failing) {
			lg->failing = false;
			memset(lg->last_err, 0, sizeof(lg->last_err));
			say(lg, "log: writing %s works again (%" PRIu64 " bytes were lost)",
			    lg->path, qk_load_relaxed(&lg->st_lost));
		}
	}
	b->state = B_FREE;
	b->len = b->off = 0;
	b->records = 0;
}

/* After failed writes, once none is in flight: the next write goes where
 * the first lost one went, unless something after it reached the file. */
static void settle_rewind(struct qk_log *lg)
{
	if (lg->inflight || lg->rewind_to == UINT64_MAX)
		return;
	if (lg->max_ok_end <= lg->rewind_to)
		lg->file_off = lg->rewind_to;
	lg->rewind_to = UINT64_MAX;
}

static void account(struct qk_log *lg, uint64_t w)
{
	lg->unsynced += w;
	qk_fetch_add_relaxed(&lg->st_bytes, w);
}

static void write_plain(struct qk_log *lg, struct lbuf *b)
{
	int err = 0;

	while (b->off < b->len) {
		ssize_t w = lg->is_reg ? pwrite(lg->fd, b->p + b->off, b->len - b->off,
						(off_t)(b->foff + b->off)) :
					 write(lg->fd, b->p + b->off, b->len - b->off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? errno : ENOSPC;
			break;
		}
		b->off += (uint32_t)w;
		account(lg, (uint64_t)w);
	}
	buf_finished(lg, b, err);
}

static void prep_write(struct qk_log *lg, int bi)
{
	struct lbuf *b = &lg->buf[bi];
	struct io_uring_sqe *sqe = io_uring_get_sqe(&lg->uring);	/* SQ holds 2 * NBUF */
	uint64_t at = lg->is_reg ? b->foff + b->off : (uint64_t)-1;

	if (lg->fixed_bufs)
		io_uring_prep_write_fixed(sqe, 0, b->p + b->off, b->len - b->off, at, bi);
	else
		io_uring_prep_write(sqe, 0, b->p + b->off, b->len - b->off, at);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, (uint64_t)bi);
	b->state = B_FLIGHT;
	lg->inflight++;
}

/* The oldest pending buffer, -1 none. */
static int oldest_pending(struct qk_log *lg)
{
	int best = -1;

	for (int i = 0; i < NBUF; i++)
		if (lg->buf[i].state == B_PEND && (best < 0 || lg->buf[i].bseq < lg->buf[best].bseq))
			best = i;
	return best;
}

/* Sends pending buffers, in filling order, each at its offset; and an
 * fsync if asked.  A stream (pipe, device) takes one write at a time. */
static void submit(struct qk_log *lg, bool want_fsync)
{
	int bi, queued = 0;

	while ((bi = oldest_pending(lg)) >= 0) {
		struct lbuf *b = &lg->buf[bi];

		if (!b->placed) {
			if (lg->rewind_to != UINT64_MAX || b->file_no != lg->cur_file)
				break;	/* settle the failed writes, or the file switch, first */
			b->foff = lg->is_reg ? lg->file_off : 0;
			lg->file_off += b->len;
			b->placed = true;
		}
		if (!lg->uring_ok) {
			write_plain(lg, b);
			continue;
		}
		if (!lg->is_reg && lg->inflight)
			break;
		prep_write(lg, bi);
		queued++;
	}
	if (want_fsync && !lg->is_reg)
		lg->unsynced = 0;	/* a pipe or device: nothing to sync */
	bool fs = want_fsync && lg->unsynced && !lg->fsync_inflight;

	if (!lg->uring_ok) {
		if (fs) {
			if (fsync(lg->fd))
				trouble(lg, E_FSYNC, errno, "fsync of");
			else
				qk_fetch_add_relaxed(&lg->st_fsyncs, 1);
			lg->unsynced = 0;
		}
		settle_rewind(lg);
		return;
	}
	if (fs) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&lg->uring);

		io_uring_prep_fsync(sqe, 0, 0);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, (uint64_t)NBUF);
		lg->fsync_inflight = true;
		lg->fsync_file = lg->cur_file;
		lg->sync_mark = lg->unsynced;
	}
	if (!queued && !fs)
		return;
	int ret = io_uring_submit(&lg->uring);

	qk_fetch_add_relaxed(&lg->st_submits, 1);
	if (ret >= 0)
		return;
	/* nothing went out: those buffers are lost, not left hanging */
	trouble(lg, E_URING, -ret, "submitting writes to");
	for (int i = 0; i < NBUF; i++)
		if (lg->buf[i].state == B_FLIGHT) {
			lg->inflight--;
			buf_finished(lg, &lg->buf[i], -ret);
		}
	lg->fsync_inflight = false;
	lg->unsynced = 0;
	settle_rewind(lg);
}

static void complete(struct qk_log *lg, uint64_t ud, int res)
{
	if (ud == UD_UNLINK) {	/* a rotated-out file is gone (or was not there) */
		lg->unlinking = UL_NONE;
		return;
	}
	if ((uint32_t)ud == UD_OLD_FSYNC) {	/* a rotated file's last fsync */
		lg->old_syncs--;
		close((int)(ud >> 32));
		if (res == 0)
			qk_fetch_add_relaxed(&lg->st_fsyncs, 1);
		else
			trouble(lg, E_FSYNC, -res, "fsync of the file rotated from");
		return;
	}
	if (ud == NBUF) {
		lg->fsync_inflight = false;
		if (lg->fsync_file != lg->cur_file) {
			/* the file rotated away while this ran: its own last
			 * fsync (swap_fd) reports; the new file's count stays */
			if (res == 0)
				qk_fetch_add_relaxed(&lg->st_fsyncs, 1);
			return;
		}
		if (res == 0) {
			/* what was written when it was submitted is durable */
			lg->unsynced -= lg->sync_mark < lg->unsynced ? lg->sync_mark : lg->unsynced;
			qk_fetch_add_relaxed(&lg->st_fsyncs, 1);
		} else {
			lg->unsynced = 0;	/* reported; retrying would not help */
			trouble(lg, E_FSYNC, -res, "fsync of");
		}
		return;
	}
	struct lbuf *b = &lg->buf[ud];

	lg->inflight--;
	if (res > 0) {
		b->off += (uint32_t)res;
		account(lg, (uint64_t)res);
	}
	if (b->off >= b->len)
		buf_finished(lg, b, 0);
	else if (res > 0 || res == -EAGAIN || res == -EINTR)
		b->state = B_PEND;	/* the rest goes again, at its place */
	else
		buf_finished(lg, b, res == 0 ? ENOSPC : -res);
	settle_rewind(lg);
}

/* Collects completions; with `wait`, at least one. */
static void reap(struct qk_log *lg, bool wait)
{
	struct io_uring_cqe *cqe;

	if (!lg->uring_ok)
		return;
	while (lg->inflight || lg->fsync_inflight || lg->old_syncs || lg->unlinking == UL_FLIGHT) {
		int ret = wait ? io_uring_wait_cqe(&lg->uring, &cqe) : io_uring_peek_cqe(&lg->uring, &cqe);

		if (ret == -EINTR)
			continue;
		if (ret)
			break;
		complete(lg, io_uring_cqe_get_data64(cqe), cqe->res);
		io_uring_cqe_seen(&lg->uring, cqe);
		wait = false;
	}
}

/* Queues the buffer being filled, if it holds anything. */
static void queue_fill(struct qk_log *lg)
{
	struct lbuf *b;

	if (lg->fill < 0)
		return;
	b = &lg->buf[lg->fill];
	if (buf_empty(lg, b))
		return;
	if (lg->o.format == QK_LOG_BINARY) {
		struct qk_logf_chunk ch = { QK_LOGF_CHUNK_MAGIC, b->len - (uint32_t)sizeof(ch),
					    lg->chunk_seq++ };

		memcpy(b->p, &ch, sizeof(ch));
	}
	b->state = B_PEND;
	lg->fill = -1;
}

/* A free buffer to fill; waits for a write if there is none.  A file past
 * its size rotates here, so the new file starts with this buffer: never
 * empty, and its sites and strings defined again. */
static int take_buffer(struct qk_log *lg)
{
	if (!lg->switching && lg->is_reg) {
		uint64_t size = lg->file_off;

		for (int i = 0; i < NBUF; i++)
			if (lg->buf[i].state == B_PEND && !lg->buf[i].placed)
				size += lg->buf[i].len;
		if (size >= lg->o.rotate_bytes) {
			lg->switching = SW_ROTATE;
			lg->fill_file++;
			lg->gen++;
		}
	}
	for (;;) {
		for (int i = 0; i < NBUF; i++)
			if (lg->buf[i].state == B_FREE) {
				struct lbuf *b = &lg->buf[i];

				b->state = B_FILL;
				b->placed = false;
				b->file_no = lg->fill_file;
				b->bseq = lg->next_bseq++;
				b->since_ns = mono_ns();
				b->len = lg->o.format == QK_LOG_BINARY ? sizeof(struct qk_logf_chunk) : 0;
				return i;
			}
		/* the buffers may be waiting for the new file: switch first (it
		 * waits for the old file's writes, not for its fsync), then send */
		if (lg->switching)
			housekeeping(lg, mono_ns());
		submit(lg, false);
		if (lg->inflight || lg->fsync_inflight) {
			int64_t t0 = mono_ns(), w;

			reap(lg, true);	/* a write, or an fsync */
			w = mono_ns() - t0;
			qk_store_relaxed(&lg->st_buf_waits, qk_load_relaxed(&lg->st_buf_waits) + 1);
			if ((uint64_t)w > qk_load_relaxed(&lg->st_max_buf_wait))
				qk_store_relaxed(&lg->st_max_buf_wait, (uint64_t)w);
		}
	}
}

/* The buffer being filled, with at least ROOM_BYTES left. */
static struct lbuf *room(struct qk_log *lg)
{
	if (lg->fill >= 0 && BUF_BYTES - lg->buf[lg->fill].len < ROOM_BYTES) {
		queue_fill(lg);
		submit(lg, false);	/* out at once: more than one write in flight */
	}
	if (lg->fill < 0)
		lg->fill = take_buffer(lg);
	return &lg->buf[lg->fill];
}

/* ---- sites and strings ------------------------------------------------------ */

static uint32_t hash_ptr(uintptr_t p)
{
	uint64_t x = (uint64_t)p * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(x >> 32);
}

static struct site_ent *site_of(struct qk_log *lg, const struct qk_log_site *s)
{
	uint32_t i = hash_ptr((uintptr_t)s) & (SITE_SLOTS - 1);
	struct site_ent *e;

	if (lg->last_site && lg->last_site->site == s)	/* a loop logs one site often */
		return lg->last_site;

	for (; lg->sites[i]; i = (i + 1) & (SITE_SLOTS - 1))
		if (lg->sites[i]->site == s)
			return lg->last_site = lg->sites[i];
	if (lg->n_sites >= SITE_SLOTS / 4 * 3 || !(e = calloc(1, sizeof(*e))))
		return NULL;
	e->site = s;
	for (uint32_t k = 0; k < s->nargs && k < QK_LOG_MAX_ARGS; k++)
		if (((s->types >> (4 * k)) & 15) == QK_LA_STR)
			e->str_mask |= 1u << k;
	e->id = lg->n_sites++;
	e->gen = UINT32_MAX;
	lg->sites[i] = e;
	return lg->last_site = e;
}

static void put_bytes(struct lbuf *b, const void *p, size_t n)
{
	memcpy(b->p + b->len, p, n);
	b->len += (uint32_t)n;
}

static void put_pad(struct lbuf *b)
{
	while (b->len & 7)
		b->p[b->len++] = 0;
}

static void define_site(struct qk_log *lg, struct lbuf *b, struct site_ent *e)
{
	const struct qk_log_site *s = e->site;
	size_t fl = strnlen(s->fmt, 2047), il = strnlen(s->file, 2047);
	struct qk_logf_site d = { e->id, s->level, s->line, s->types, s->nargs, (uint16_t)fl,
				  (uint16_t)il };
	uint32_t at = b->len;
	struct qk_logf_ent h = { 0, QK_LOGF_SITE };

	put_bytes(b, &h, sizeof(h));
	put_bytes(b, &d, sizeof(d));
	put_bytes(b, s->fmt, fl);
	put_bytes(b, "", 1);
	put_bytes(b, s->file, il);
	put_bytes(b, "", 1);
	put_pad(b);
	h.bytes = b->len - at;
	memcpy(b->p + at, &h, sizeof(h));
	e->gen = lg->gen;
}

/* A static string's id in this file, defined here when new; UINT32_MAX
 * when the table is full (the string is then copied). */
static uint32_t string_id(struct qk_log *lg, struct lbuf *b, const char *p)
{
	uint32_t i = hash_ptr((uintptr_t)p) & (STR_SLOTS - 1);
	struct str_ent *e;

	for (; lg->strs[i].p && lg->strs[i].p != (uintptr_t)p; i = (i + 1) & (STR_SLOTS - 1))
		;
	e = &lg->strs[i];
	if (!e->p) {
		if (lg->n_strs >= STR_SLOTS / 4 * 3)
			return UINT32_MAX;
		e->p = (uintptr_t)p;
		e->id = lg->n_strs++;
		e->gen = UINT32_MAX;
	}
	if (e->gen != lg->gen) {
		uint32_t len = (uint32_t)strnlen(p, STATIC_STR_MAX);
		uint32_t hd[2] = { e->id, len };
		uint32_t at = b->len;
		struct qk_logf_ent h = { 0, QK_LOGF_STR };

		put_bytes(b, &h, sizeof(h));
		put_bytes(b, hd, sizeof(hd));
		put_bytes(b, p, len);
		put_bytes(b, "", 1);
		put_pad(b);
		h.bytes = b->len - at;
		memcpy(b->p + at, &h, sizeof(h));
		e->gen = lg->gen;
	}
	return e->id;
}

/* ---- records ---------------------------------------------------------------- */

static int64_t to_ns(struct qk_log *lg, int64_t t)
{
	if (!lg->h.tsc)
		return t;
	return lg->cal_ns + (int64_t)((double)(t - lg->cal_tsc) * lg->cal_rate);
}

/* A record in the ring's layout at p (size bytes): into the file. */
static void put_binary(struct qk_log *lg, struct site_ent *e, const uint8_t *p, uint32_t size,
		       int64_t ns)
{
	struct lbuf *b = room(lg);
	uint64_t ref[QK_LOG_MAX_ARGS];

	if (e->gen != lg->gen)
		define_site(lg, b, e);
	/* strings by pointer become ids, defined before the record */
	for (uint32_t m = e->str_mask; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctz(m);
		uint64_t x;

		memcpy(&x, p + 16 + 8 * i, 8);
		if (!(x & QK__SSTR))
			continue;	/* copied: its length stays */
		const char *str = (const char *)(uintptr_t)(x & ~QK__SSTR);
		uint32_t id = str ? string_id(lg, b, str) : UINT32_MAX;

		/* a full table (never in a real program) says (null) */
		ref[i] = id != UINT32_MAX ? QK_LOGF_SREF | id : QK_LOGF_NULL;
	}
	uint8_t *o = b->p + b->len;
	struct qk_logf_ent h = { size, e->id };

	memcpy(o, &h, 8);
	memcpy(o + 8, &ns, 8);
	memcpy(o + 16, p + 16, size - 16);
	for (uint32_t m = e->str_mask; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctz(m);

		if (o[16 + 8 * i + 7] & 0x80)	/* QK__SSTR: the top bit */
			memcpy(o + 16 + 8 * i, &ref[i], 8);
	}
	b->len += size;
	b->records++;
}

/* The record's arguments, for formatting. */
static unsigned decode_args(const struct qk_log_site *s, const uint8_t *p, struct qk_log_arg *a)
{
	unsigned n = s->nargs <= QK_LOG_MAX_ARGS ? s->nargs : QK_LOG_MAX_ARGS;
	const uint8_t *sp = p + 16 + 8 * n;

	for (unsigned i = 0; i < n; i++) {
		uint64_t x;

		memcpy(&x, p + 16 + 8 * i, 8);
		a[i] = (struct qk_log_arg){ x, NULL, 0, (uint8_t)((s->types >> (4 * i)) & 15) };
		if (a[i].t != QK_LA_STR)
			continue;
		if (x & QK__SSTR) {
			a[i].s = (const char *)(uintptr_t)(x & ~QK__SSTR);
			a[i].v = x & ~QK__SSTR;
			a[i].len = a[i].s ? (uint32_t)strnlen(a[i].s, STATIC_STR_MAX) : 0;
		} else {
			a[i].s = (const char *)sp;
			a[i].len = (uint32_t)x;
			a[i].v = 0;
			sp += (x + 8) & ~7ull;
		}
	}
	return n;
}

static void put_text(struct qk_log *lg, struct site_ent *e, const uint8_t *p, int64_t ns)
{
	const struct qk_log_site *s = e->site;
	struct qk_log_arg a[QK_LOG_MAX_ARGS];
	struct lbuf *b = room(lg);
	int lvl = (unsigned)s->level < QK_LOG_LEVELS ? s->level : QK_LOG_ERROR;

	if (!e->parsed) {
		qk_log_fmt_parse(&e->fmt, s->fmt);
		e->plen = (uint16_t)qk_log_site_prefix(e->prefix, sizeof(e->prefix), lg->o.format, lvl,
						       s->file, s->line);
		e->parsed = true;
	}
	unsigned n = decode_args(s, p, a);
	size_t ml = qk_log_fmt_render(&e->fmt, a, n, lg->msg, sizeof(lg->msg));

	b->len += (uint32_t)qk_log_line(&lg->line, (char *)b->p + b->len, BUF_BYTES - b->len, ns,
					e->prefix, e->plen, lg->msg, ml);
	b->records++;
}

static void put_record(struct qk_log *lg, const struct qk_log_site *s, const uint8_t *p,
		       uint32_t size, int64_t ns)
{
	struct site_ent *e = site_of(lg, s);

	if (!e)
		return;	/* more sites than the table holds: never in this program */
	if (lg->o.format == QK_LOG_BINARY)
		put_binary(lg, e, p, size, ns);
	else
		put_text(lg, e, p, ns);
}

/* Takes what ring r holds; returns the count.  While its producer is
 * writing, only the records that end before the cache line it writes in:
 * reading that line would take it from the producer, which would pay a
 * miss to take it back.  All of it when the producer paused (its head did
 * not move for 10 ms), and for a flush or at the end. */
static uint64_t drain_ring(struct qk_log *lg, struct qk__log_ring *r, struct ring_note *nt, bool all,
			  int64_t now)
{
	/* pairs with qk__log_write()'s release of head: the records before it */
	uint64_t head = qk_load_acquire(&r->head), tail = qk_load_relaxed(&r->tail), n = 0;

	nt->in_bytes = head - nt->last_head;
	if (head - tail > qk_load_relaxed(&lg->st_max_fill))
		qk_store_relaxed(&lg->st_max_fill, head - tail);
	if (head != nt->last_head) {
		nt->last_head = head;
		nt->moved_ns = now;
	}
	uint64_t lim = all || now - nt->moved_ns >= 10000000 ? head :
		       head & ~(uint64_t)(QK_CACHELINE - 1);

	while (tail < lim) {
		const uint8_t *p = r->buf + (tail & r->mask);
		uint64_t w0;
		int64_t ts;

		memcpy(&w0, p, 8);
		memcpy(&ts, p + 8, 8);
		uint32_t size = (uint32_t)(w0 >> 48);
		const struct qk_log_site *s = (const struct qk_log_site *)(uintptr_t)(w0 & ((1ull << 48) - 1));

		if (tail + size > lim)
			break;

		put_record(lg, s, p, size, to_ns(lg, ts));
		tail += size;
		n++;
		if (n % 4096 == 0)	/* room for the producer in a long pass */
			qk_store_release(&r->tail, tail);
	}
	/* pairs with the producer's acquire of tail: our reads are done */
	qk_store_release(&r->tail, tail);
	return n;
}

static const struct qk_log_site drop_site = {
	"log ring full: %llu records dropped between %lld.%06lld and %lld.%06lld "
	"(%llu in all; ring of %llu bytes)",
	__FILE__, __LINE__, QK_LOG_WARN,
	QK_LA_UINT | QK_LA_INT << 4 | QK_LA_INT << 8 | QK_LA_INT << 12 | QK_LA_INT << 16 |
	QK_LA_UINT << 20 | QK_LA_UINT << 24, 7 };
static const struct qk_log_site noring_site = {
	"log: %llu records of threads that found no log ring were dropped (%u rings; "
	"raise qk_log_opts.threads)", __FILE__, __LINE__, QK_LOG_WARN,
	QK_LA_UINT | QK_LA_UINT << 4, 2 };

static void put_internal(struct qk_log *lg, const struct qk_log_site *s, const uint64_t *v,
			 int64_t ns)
{
	uint8_t rec[16 + 8 * QK_LOG_MAX_ARGS];

	memset(rec, 0, 16);
	memcpy(rec + 16, v, 8 * s->nargs);
	put_record(lg, s, rec, 16 + 8 * s->nargs, ns);
}

static void note_drops(struct qk_log *lg, int64_t now)
{
	for (uint32_t i = 0; i < lg->n_rings; i++) {
		struct qk__log_ring *r = &lg->rings[i];
		struct ring_note *nt = &lg->notes[i];
		uint64_t d = qk_load_relaxed(&r->dropped);

		if (d == nt->drops_reported)
			continue;
		int64_t last = to_ns(lg, qk_load_relaxed(&r->last_drop));
		uint64_t v[7] = { d - nt->drops_reported, (uint64_t)(nt->since_ns / 1000000000),
				  (uint64_t)(nt->since_ns % 1000000000 / 1000), (uint64_t)(last / 1000000000),
				  (uint64_t)(last % 1000000000 / 1000), d, lg->ring_bytes };

		put_internal(lg, &drop_site, v, now);
		nt->drops_reported = d;
		nt->since_ns = now;
	}
	uint64_t nr = qk_load_relaxed(&lg->no_ring);

	if (nr && nr != lg->notes[lg->n_rings].drops_reported) {
		uint64_t v[2] = { nr, lg->n_rings };

		put_internal(lg, &noring_site, v, now);
		lg->notes[lg->n_rings].drops_reported = nr;
	}
}

/* ---- time ------------------------------------------------------------------- */

#if defined(__x86_64__)
/* One (TSC, ns) pair, the tightest of a few reads. */
static void tsc_pair(int64_t *tsc, int64_t *ns)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 5; i++) {
		uint64_t a = __rdtsc();
		int64_t t = mono_ns();
		uint64_t b = __rdtsc();

		if (b - a < best) {
			best = b - a;
			*tsc = (int64_t)(a + (b - a) / 2);
			*ns = t;
		}
	}
}
#endif

/* The TSC only where the kernel itself keeps CLOCK_MONOTONIC on it: then it
 * is invariant and in step across CPUs. */
static bool tsc_usable(void)
{
#if defined(__x86_64__)
	char cs[32] = "";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");

	if (!f)
		return false;
	if (!fgets(cs, sizeof(cs), f))
		cs[0] = '\0';
	fclose(f);
	return !strcmp(cs, "tsc\n");
#else
	return false;
#endif
}

static void calibrate(struct qk_log *lg, int64_t now)
{
#if defined(__x86_64__)
	int64_t t, ns;

	if (!lg->h.tsc || now - lg->last_cal_ns < 1000000000)
		return;
	lg->last_cal_ns = now;
	tsc_pair(&t, &ns);
	if (t > lg->tsc0) {
		lg->cal_rate = (double)(ns - lg->ns0) / (double)(t - lg->tsc0);
		lg->cal_tsc = t;
		lg->cal_ns = ns;
	}
#else
	(void)lg;
	(void)now;
#endif
}

/* ---- the file -------------------------------------------------------------- */

static int64_t wall_offset(void)
{
	struct timespec rt, mo;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mo);
	return ((int64_t)rt.tv_sec - mo.tv_sec) * 1000000000 + (rt.tv_nsec - mo.tv_nsec);
}

/* Opens path; a binary file gets its header (at an 8-byte boundary). */
static int open_file(struct qk_log *lg)
{
	struct stat st;
	int fd = open(lg->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	lg->is_reg = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	if (!lg->is_reg) {
		lg->file_off = 0;
	} else {
		lg->file_off = (uint64_t)st.st_size;
		if (lg->o.format == QK_LOG_BINARY)
			lg->file_off = (lg->file_off + 7) & ~7ull;
	}
	lg->max_ok_end = lg->file_off;
	lg->rewind_to = UINT64_MAX;
	lg->cur_file = lg->fill_file;
	lg->chunk_seq = 0;
	if (lg->o.format == QK_LOG_BINARY) {
		struct qk_logf_hdr h = { QK_LOGF_MAGIC, QK_LOGF_VERSION, sizeof(h), wall_offset(),
					 lg->pid, 0, "" };
		ssize_t w;

		snprintf(h.proc, sizeof(h.proc), "%.31s", lg->proc);
		w = lg->is_reg ? pwrite(fd, &h, sizeof(h), (off_t)lg->file_off) : write(fd, &h, sizeof(h));
		if (w == (ssize_t)sizeof(h)) {
			lg->file_off += sizeof(h);
			lg->max_ok_end = lg->file_off;
			account(lg, sizeof(h));
		}
	}
	return fd;
}

/* Puts a new descriptor in place of the old (nothing in flight). */
/* Puts fd in place of the old descriptor, which is closed, or with
 * sync_old (io_uring only) fsynced in the background and closed when that
 * is done: a rotation does not wait for the old file's fsync. */
static void swap_fd(struct qk_log *lg, int fd, bool sync_old)
{
	int old = lg->fd;

	if (lg->uring_ok) {
		int ret = io_uring_register_files_update(&lg->uring, 0, &fd, 1);

		if (ret < 0) {
			trouble(lg, E_URING, -ret, "registering the new");
			close(fd);
			return;
		}
	}
	lg->fd = fd;
	if (sync_old && lg->uring_ok && lg->is_reg) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&lg->uring);

		if (sqe) {
			io_uring_prep_fsync(sqe, old, 0);
			io_uring_sqe_set_data64(sqe, UD_OLD_FSYNC | (uint64_t)(uint32_t)old << 32);
			if (io_uring_submit(&lg->uring) >= 0) {
				lg->old_syncs++;
				return;
			}
		}
		fsync(old);	/* no room in the ring: at once, as before */
	}
	close(old);
}

static void rotate(struct qk_log *lg)
{
	char from[sizeof(lg->path) + 16], to[sizeof(lg->path) + 16];
	int fd;

	if (!lg->uring_ok && fsync(lg->fd) == 0)
		lg->unsynced = 0;	/* with io_uring: in the background, in swap_fd() */
	/* Freeing the oldest kept file is the slow part: renaming over it took
	 * this thread 63-95 ms on ext4 mounted with discard (the rings of a
	 * loop logging 1 M records/s fill in 5).  It moves aside to a free
	 * name, the renames below land on free names (microseconds), and
	 * io_uring's worker unlinks it. */
	bool aside = false;

	if (lg->uring_ok && lg->unlinking == UL_NONE) {
		snprintf(from, sizeof(from), "%s.%d", lg->path, lg->o.keep);
		snprintf(lg->unlink_path, sizeof(lg->unlink_path), "%s.%d.del", lg->path, lg->o.keep);
		aside = rename(from, lg->unlink_path) == 0;
	}
	for (int k = lg->o.keep; k >= 1; k--) {
		if (k == 1)
			snprintf(from, sizeof(from), "%s", lg->path);
		else
			snprintf(from, sizeof(from), "%s.%d", lg->path, k - 1);
		snprintf(to, sizeof(to), "%s.%d", lg->path, k);
		if (rename(from, to) && errno != ENOENT) {
			trouble(lg, E_ROTATE, errno, "rotating");
			return;
		}
	}
	fd = open_file(lg);
	if (fd < 0) {
		trouble(lg, E_ROTATE, -fd, "opening the rotated");
		return;
	}
	swap_fd(lg, fd, true);
	struct io_uring_sqe *sqe = aside ? io_uring_get_sqe(&lg->uring) : NULL;

	if (sqe) {
		io_uring_prep_unlinkat(sqe, AT_FDCWD, lg->unlink_path, 0);
		io_uring_sqe_set_data64(sqe, UD_UNLINK);
		if (io_uring_submit(&lg->uring) >= 0)
			lg->unlinking = UL_FLIGHT;
	} else if (aside) {
		unlink(lg->unlink_path);	/* no room in the ring: here, slowly */
	}
	lg->unsynced = 0;
	qk_fetch_add_relaxed(&lg->st_rotations, 1);
}

static void reopen(struct qk_log *lg)
{
	int fd = open_file(lg);

	if (fd < 0) {
		trouble(lg, E_REOPEN, -fd, "reopening the removed");
		return;
	}
	if (!lg->last_err[E_GONE]) {
		say(lg, "log: %s was removed while in use; opened a new one there "
		    "(lines written since the removal went with the old file)", lg->path);
		lg->last_err[E_GONE] = ENOENT;
	}
	lg->last_err[E_GONE] = 0;
	swap_fd(lg, fd, false);
	qk_fetch_add_relaxed(&lg->st_reopens, 1);
}

/* A file switch: what was filled so far goes to the old file; what is
 * filled from now on, with its sites and strings defined again, to the new
 * one.  The switch itself waits until no write to the old file is left. */
static void begin_switch(struct qk_log *lg, int kind)
{
	if (lg->switching)
		return;
	if (lg->fill >= 0 && !buf_empty(lg, &lg->buf[lg->fill]))
		queue_fill(lg);
	else if (lg->fill >= 0)
		lg->buf[lg->fill].file_no = lg->fill_file + 1;
	lg->switching = kind;
	lg->fill_file++;
	lg->gen++;
}

/* Writes to the old file still to finish.  Not its fsync: one in flight
 * holds the old file itself (io_uring took it at submission), so the slot
 * can take the new file, and swap_fd() syncs the old one once more in the
 * background; waiting for it here stalled the drain for a device flush
 * (68 ms seen on ext4), and the rings of a 1 M records/s loop overflowed. */
static bool old_file_busy(struct qk_log *lg)
{
	if (lg->inflight)
		return true;
	for (int i = 0; i < NBUF; i++)
		if (lg->buf[i].state == B_PEND && lg->buf[i].file_no == lg->cur_file)
			return true;
	return false;
}

/* The file removed under us, the size limit. */
static void housekeeping(struct qk_log *lg, int64_t now)
{
	struct stat st;

	if (lg->switching) {
		if (old_file_busy(lg))
			return;
		if (lg->switching == SW_ROTATE)
			rotate(lg);
		else
			reopen(lg);
		lg->cur_file = lg->fill_file;	/* also when it failed: the old one goes on */
		lg->switching = SW_NONE;
		return;
	}
	if (!lg->is_reg)
		return;
	if (now - lg->last_check_ns < 200 * 1000000ll)
		return;
	lg->last_check_ns = now;
	if (fstat(lg->fd, &st) == 0 && st.st_nlink == 0)
		begin_switch(lg, SW_REOPEN);
}

/* Every CPU but the loop's; false when there is no other. */
static bool cpus_but(int avoid, cpu_set_t *set)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	int left = 0;

	if (avoid < 0 || n < 2)
		return false;
	CPU_ZERO(set);
	for (int c = 0; c < n && c < CPU_SETSIZE; c++)
		if (c != avoid) {
			CPU_SET(c, set);
			left++;
		}
	return left > 0;
}

/* ---- the logger thread -------------------------------------------------------- */

static bool buf_empty(struct qk_log *lg, const struct lbuf *b)
{
	return b->len <= (lg->o.format == QK_LOG_BINARY ? sizeof(struct qk_logf_chunk) : 0);
}

static bool buffers_idle(struct qk_log *lg)
{
	for (int i = 0; i < NBUF; i++)
		if (lg->buf[i].state == B_PEND || lg->buf[i].state == B_FLIGHT)
			return false;
	return lg->fill < 0 || buf_empty(lg, &lg->buf[lg->fill]);
}

/* Flush requests: done once every buffer filled before the request is out. */
static void check_flush(struct qk_log *lg)
{
	if (!lg->flush_wait)
		return;
	for (int i = 0; i < NBUF; i++) {
		struct lbuf *b = &lg->buf[i];

		if (b->state != B_FREE && b->bseq < lg->flush_bseq && !buf_empty(lg, b))
			return;
	}
	lg->flush_wait = false;
	/* pairs with qk_log_flush(): the records are in the file */
	qk_store_release(&lg->flush_done, lg->flush_seen);
}

/* How long the logger may sleep: until the fullest ring would be an
 * eighth full at the rate its producer logged at lately, between 50 us
 * and poll_ms; the other 7/8 are for the times the logger does not get its
 * CPU when it should (host steal, higher real-time threads: 20-50 ms seen
 * on a shared VM).  A pass costs its producer a cache miss (the logger
 * reads the line its head is on, which the producer writes next): at 1 M
 * records/s and the default ring a pass every ~5 ms, not every 50 us,
 * makes that one call in five thousand, and the drain takes bigger
 * batches.  Records come in bursts:
 * the rate decays by half in 100 ms, so a loop that paused for a few ms is
 * still polled at its pace.  At SCHED_FIFO the logger naps at least as
 * long as its last pass ran on the CPU: at most half of a CPU, whatever is
 * logged, so that it cannot starve the ordinary work beside it.  CPU time,
 * not the pass's wall time: a pass that waited (for a write, a CPU) used
 * no CPU meanwhile, and napping that long again let a ring overflow. */
static long next_nap(struct qk_log *lg, int64_t now)
{
	int64_t dt = now - lg->win_ns, ran = mono_ns() - now;
	int64_t cpu = qk_load_relaxed(&lg->fifo) ? thread_cpu_ns() - lg->pass_cpu_ns : 0;
	double eighth = lg->ring_bytes / 8.0, nap = lg->o.poll_ms * 1e6;
	bool sample = dt >= 1000000;	/* rates over 1 ms at least: bursts */

	for (uint32_t i = 0; i < lg->n_rings; i++) {
		struct ring_note *nt = &lg->notes[i];

		nt->win_bytes += nt->in_bytes;
		if (sample) {
			double r = (double)nt->win_bytes / (double)dt, keep = 1.0 - (double)dt / 1.44e8;

			nt->rate *= keep > 0 ? keep : 0;
			if (r > nt->rate)
				nt->rate = r;
			nt->win_bytes = 0;
		}
		/* what came in this window counts against the eighth too */
		double left = eighth - (double)nt->win_bytes;

		if (nt->rate > 0 && left / nt->rate - (double)ran < nap)
			nap = left / nt->rate - (double)ran;
		else if (left <= 0)
			nap = 0;
	}
	if (sample)
		lg->win_ns = now;
	if (nap < 50000)
		nap = 50000;
	if (nap < (double)cpu)
		nap = (double)cpu;
	return (long)nap;
}

/* SCHED_FIFO at o.prio when asked and allowed, else nice -10. */
static void logger_sched(struct qk_log *lg)
{
	if (lg->o.prio > 0) {
		struct sched_param sp = { .sched_priority = lg->o.prio };
		int ret = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);

		if (ret == 0) {
			qk_store_relaxed(&lg->fifo, true);
			return;
		}
		say(lg, "log: the logger thread cannot run at SCHED_FIFO %d (%s); it runs as an "
		    "ordinary thread, which a busy machine can keep waiting long enough for the "
		    "rings to fill: allow real-time priority (CAP_SYS_NICE or an rtprio limit)",
		    lg->o.prio, strerror(ret));
	}
	/* ahead of the machine's ordinary work where we may (CAP_SYS_NICE);
	 * only within this session's group where autogroup is on */
	setpriority(PRIO_PROCESS, (id_t)gettid(), -10);
}

static void *logger_main(void *arg)
{
	struct qk_log *lg = arg;

	pthread_setname_np(pthread_self(), "qk-log");
	/* a logger that waits for a CPU lets the rings fill; it uses CPU only
	 * in proportion to what is logged */
	logger_sched(lg);
	lg->last_pass_ns = lg->win_ns = mono_ns();
	while (qk_load_relaxed(&lg->paused) && !qk_load_relaxed(&lg->stop)) {
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL);
	}
	for (;;) {
		/* pairs with qk_log_destroy() and qk_log_flush(): what was logged
		 * before them is visible in the rings */
		bool stopping = qk_load_acquire(&lg->stop);
		uint64_t fr = qk_load_acquire(&lg->flush_req), n = 0;
		int64_t now = mono_ns();

		if (qk_load_relaxed(&lg->fifo))
			lg->pass_cpu_ns = thread_cpu_ns();

		reap(lg, false);
		calibrate(lg, now);
		for (uint32_t i = 0; i < lg->n_rings; i++)
			n += drain_ring(lg, &lg->rings[i], &lg->notes[i],
					stopping || fr != lg->flush_seen, now);
		note_drops(lg, now);
		/* a buffer goes out when it is full, when the rings ran dry, or
		 * 20 ms after its first record: what is logged reaches the file
		 * within about that, even from a loop that never pauses */
		if (n == 0 || stopping || fr != lg->flush_seen ||
		    (lg->fill >= 0 && now - lg->buf[lg->fill].since_ns >= 20000000))
			queue_fill(lg);
		if (fr != lg->flush_seen) {
			lg->flush_seen = fr;
			lg->flush_bseq = lg->next_bseq;
			lg->flush_wait = true;
		}
		bool fsync_due = lg->o.fsync_ms > 0 && now - lg->last_fsync_ns >= lg->o.fsync_ms * 1000000ll;

		housekeeping(lg, now);
		if (fsync_due)
			lg->last_fsync_ns = now;
		submit(lg, fsync_due && lg->is_reg);
		check_flush(lg);
		if (stopping && n == 0 && buffers_idle(lg)) {
			reap(lg, true);
			while (lg->fsync_inflight || lg->old_syncs || lg->unlinking == UL_FLIGHT)
				reap(lg, true);
			if (lg->unsynced && lg->is_reg) {
				if (fsync(lg->fd))
					trouble(lg, E_FSYNC, errno, "fsync of");
				else
					qk_fetch_add_relaxed(&lg->st_fsyncs, 1);
			}
			check_flush(lg);
			break;
		}
		long nap = next_nap(lg, now);

		if ((uint64_t)(now - lg->last_pass_ns) > qk_load_relaxed(&lg->st_max_gap))
			qk_store_relaxed(&lg->st_max_gap, (uint64_t)(now - lg->last_pass_ns));
		qk_store_relaxed(&lg->st_passes, qk_load_relaxed(&lg->st_passes) + 1);
		lg->last_pass_ns = now;
		if (nap > 0 && !stopping) {
			if (lg->inflight || lg->fsync_inflight) {
				struct io_uring_cqe *cqe;
				struct __kernel_timespec ts = { 0, nap };

				io_uring_wait_cqe_timeout(&lg->uring, &cqe, &ts);
			} else if (!lg->flush_wait && qk_load_relaxed(&lg->flush_req) == lg->flush_seen) {
				struct timespec ts = { 0, nap };

				nanosleep(&ts, NULL);
			}
		} else if (n == 0 && (lg->inflight || lg->fsync_inflight)) {
			reap(lg, true);
		}
	}
	return NULL;
}

/* ---- create, destroy -------------------------------------------------------- */

static void setup_uring(struct qk_log *lg)
{
	struct iovec iov[NBUF];
	int ret;

	if (lg->o.no_uring)
		return;
	ret = io_uring_queue_init(2 * NBUF + 2, &lg->uring, 0);
	if (ret < 0) {
		say(lg, "log: io_uring is not available (%s); writing the log with write(2) "
		    "from the logger thread instead, which the loop does not notice. To use "
		    "io_uring: sysctl kernel.io_uring_disabled=0, or allow io_uring_setup in "
		    "the container's seccomp profile", strerror(-ret));
		return;
	}
	/* io_uring's own workers (a write that would block goes to one) stay
	 * off the loop's CPU too: behind a real-time thread that spins there
	 * they would never run, and the logger would wait on them forever */
	cpu_set_t set;

	if (cpus_but(lg->o.avoid_cpu, &set))
		io_uring_register_iowq_aff(&lg->uring, sizeof(set), &set);
	ret = io_uring_register_files(&lg->uring, &lg->fd, 1);
	if (ret < 0) {
		say(lg, "log: io_uring cannot register the log file (%s); writing with write(2)",
		    strerror(-ret));
		io_uring_queue_exit(&lg->uring);
		return;
	}
	for (int i = 0; i < NBUF; i++)
		iov[i] = (struct iovec){ lg->buf[i].p, BUF_BYTES };
	lg->fixed_bufs = io_uring_register_buffers(&lg->uring, iov, NBUF) == 0;
	lg->uring_ok = true;
}

/* The executable's read-only image: strings there are logged by pointer. */
static int find_ro(struct dl_phdr_info *info, size_t size, void *ctx)
{
	struct qk__log_head *h = ctx;
	uintptr_t lo = UINTPTR_MAX, hi = 0, wlo = UINTPTR_MAX;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_flags & PF_W) {
			if (a < wlo)
				wlo = a;
		} else {
			if (a < lo)
				lo = a;
			if (a + ph->p_memsz > hi)
				hi = a + ph->p_memsz;
		}
	}
	if (lo < hi && hi <= wlo) {	/* read-only segments before any writable one */
		h->ro_lo = lo;
		h->ro_hi = hi;
	}
	return 1;	/* the first object is the executable */
}

static void *map(size_t n)
{
	/* mapped, not malloc'd: pre-faulted here, locked by mlockall later */
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void free_log(struct qk_log *lg)
{
	for (int i = 0; i < NBUF; i++)
		if (lg->buf[i].p)
			munmap(lg->buf[i].p, BUF_BYTES);
	if (lg->rings) {
		for (uint32_t i = 0; i < lg->n_rings; i++)
			if (lg->rings[i].buf)
				munmap(lg->rings[i].buf, lg->ring_bytes + QK_LOG_REC_MAX);
		free(lg->rings);
	}
	if (lg->sites)
		for (uint32_t i = 0; i < SITE_SLOTS; i++)
			free(lg->sites[i]);
	free(lg->sites);
	free(lg->strs);
	free(lg->notes);
	free(lg);
}

struct qk_log *qk_log_create(const struct qk_log_opts *o, char *err, size_t n)
{
	struct qk_log *lg;
	uint32_t rb = o->ring_bytes ? o->ring_bytes : 2u << 20;
	uint32_t nt = o->threads ? o->threads : 8;
	sigset_t all, old;
	int ret;

	if (rb & (rb - 1) || rb < 4096) {
		snprintf(err, n, "log ring size %u is not a power of two of at least 4096", rb);
		return NULL;
	}
	if (posix_memalign((void **)&lg, QK_CACHELINE, sizeof(*lg))) {
		snprintf(err, n, "out of memory for the logger");
		return NULL;
	}
	memset(lg, 0, sizeof(*lg));
	lg->o = *o;
	if (!lg->o.poll_ms)
		lg->o.poll_ms = 5;
	if (!lg->o.fsync_ms)
		lg->o.fsync_ms = 1000;
	if (!lg->o.rotate_bytes)
		lg->o.rotate_bytes = 64ull << 20;
	if (!lg->o.keep)
		lg->o.keep = 4;
	snprintf(lg->path, sizeof(lg->path), "%s", o->path);
	snprintf(lg->proc, sizeof(lg->proc), "%s", o->proc ? o->proc : "qiki");
	lg->pid = (int)getpid();
	lg->fill = -1;
	lg->paused = o->paused;
	lg->h.level = o->level;
	lg->h.id = qk_fetch_add_relaxed(&next_id, 1);
	lg->n_rings = nt;
	lg->ring_bytes = rb;
	lg->rewind_to = UINT64_MAX;
	dl_iterate_phdr(find_ro, &lg->h);
	if (posix_memalign((void **)&lg->rings, QK_CACHELINE, nt * sizeof(*lg->rings)) ||
	    !(lg->sites = calloc(SITE_SLOTS, sizeof(*lg->sites))) ||
	    !(lg->strs = calloc(STR_SLOTS, sizeof(*lg->strs))) ||
	    !(lg->notes = calloc(nt + 1, sizeof(*lg->notes)))) {
		snprintf(err, n, "out of memory for the logger");
		goto fail;
	}
	memset(lg->rings, 0, nt * sizeof(*lg->rings));
	for (uint32_t i = 0; i < nt; i++) {
		lg->rings[i].mask = rb - 1;
		if (!(lg->rings[i].buf = map(rb + QK_LOG_REC_MAX))) {
			snprintf(err, n, "cannot map the log rings (%u of %u bytes): %s", nt, rb,
				 strerror(errno));
			goto fail;
		}
	}
	for (int i = 0; i < NBUF; i++)
		if (!(lg->buf[i].p = map(BUF_BYTES))) {
			snprintf(err, n, "cannot map log buffers: %s", strerror(errno));
			goto fail;
		}
	lg->fd = open_file(lg);
	if (lg->fd < 0) {
		snprintf(err, n, "cannot open log file %s: %s", lg->path, strerror(-lg->fd));
		goto fail;
	}
	qk_log_line_init(&lg->line, o->format, lg->proc, lg->pid, wall_offset());
	lg->h.tsc = !o->no_tsc && tsc_usable();
#if defined(__x86_64__)
	if (lg->h.tsc) {	/* a first rate from 2 ms; refined every second */
		struct timespec ts = { 0, 2000000 };

		tsc_pair(&lg->tsc0, &lg->ns0);
		nanosleep(&ts, NULL);
		tsc_pair(&lg->cal_tsc, &lg->cal_ns);
		lg->cal_rate = (double)(lg->cal_ns - lg->ns0) / (double)(lg->cal_tsc - lg->tsc0);
		lg->last_cal_ns = lg->cal_ns;
	}
#endif
	setup_uring(lg);
	lg->last_fsync_ns = mono_ns();
	for (uint32_t i = 0; i <= nt; i++)
		lg->notes[i].since_ns = lg->last_fsync_ns;
	/* the logger thread takes no signals: they are the loop's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t at;

	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 256 * 1024);	/* mlockall locks it whole */
	/* An ordinary thread, off the loop's CPU from its first instruction:
	 * inheriting a SCHED_FIFO caller's policy and CPU, it would wait behind
	 * a caller that spins there and never drain. */
	struct sched_param sp = { 0 };
	cpu_set_t away;

	pthread_attr_setinheritsched(&at, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&at, SCHED_OTHER);
	pthread_attr_setschedparam(&at, &sp);
	if (cpus_but(lg->o.avoid_cpu, &away))
		pthread_attr_setaffinity_np(&at, sizeof(away), &away);
	ret = pthread_create(&lg->thread, &at, logger_main, lg);
	pthread_attr_destroy(&at);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		snprintf(err, n, "cannot start the logger thread: %s", strerror(ret));
		if (lg->uring_ok)
			io_uring_queue_exit(&lg->uring);
		close(lg->fd);
		goto fail;
	}
	qk__log_attach(lg);
	return lg;
fail:
	free_log(lg);
	return NULL;
}

void qk_log_resume(struct qk_log *lg)
{
	if (lg)
		qk_store_relaxed(&lg->paused, 0);
}

void qk_log_flush(struct qk_log *lg)
{
	if (!lg)
		return;
	/* pairs with the logger's acquire: what we logged is seen before it */
	uint64_t req = qk_fetch_add_acq_rel(&lg->flush_req, 1) + 1;
	struct timespec ts = { 0, 200000 };

	/* pairs with check_flush(): the records are in the file */
	while (qk_load_acquire(&lg->flush_done) < req)
		nanosleep(&ts, NULL);
}

void qk_log_destroy(struct qk_log *lg)
{
	if (!lg)
		return;
	/* pairs with the logger's acquire: what we logged is seen before stop */
	qk_store_release(&lg->stop, 1);
	pthread_join(lg->thread, NULL);
	if (lg->uring_ok)
		io_uring_queue_exit(&lg->uring);
	close(lg->fd);
	if (qk__log_tls.id == lg->h.id)
		qk__log_tls = (struct qk__log_tls){ 0 };
	free_log(lg);
}

void qk_log_get_stats(const struct qk_log *lg, struct qk_log_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (!lg)
		return;
	for (uint32_t i = 0; i < lg->n_rings; i++) {
		s->logged += qk_load_relaxed(&lg->rings[i].logged);
		s->dropped += qk_load_relaxed(&lg->rings[i].dropped);
		s->threads += qk_load_relaxed(&lg->rings[i].owner) != 0;
	}
	s->dropped += qk_load_relaxed(&lg->no_ring);
	s->written = qk_load_relaxed(&lg->st_written);
	s->bytes = qk_load_relaxed(&lg->st_bytes);
	s->bytes_lost = qk_load_relaxed(&lg->st_lost);
	s->write_errors = qk_load_relaxed(&lg->st_errors);
	s->reopens = qk_load_relaxed(&lg->st_reopens);
	s->rotations = qk_load_relaxed(&lg->st_rotations);
	s->fsyncs = qk_load_relaxed(&lg->st_fsyncs);
	s->submits = qk_load_relaxed(&lg->st_submits);
	s->passes = qk_load_relaxed(&lg->st_passes);
	s->max_gap_ns = qk_load_relaxed(&lg->st_max_gap);
	s->max_fill = qk_load_relaxed(&lg->st_max_fill);
	s->buf_waits = qk_load_relaxed(&lg->st_buf_waits);
	s->max_buf_wait_ns = qk_load_relaxed(&lg->st_max_buf_wait);
	s->fifo = qk_load_relaxed(&lg->fifo);
	s->uring = lg->uring_ok;
	s->fixed_bufs = lg->fixed_bufs;
	s->tsc = lg->h.tsc;
}
