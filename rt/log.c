/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/log.c - the logger thread: drains the ring, formats lines (the message
 * through rt/log_fmt.c) and writes them through io_uring; see rt/log.h for
 * the contract.
 *
 * Writing.  Lines are formatted into a small set of registered buffers.  A
 * full buffer (or, after a drain pass, a partly filled one) joins a FIFO of
 * pending buffers; when no write is in flight, every pending buffer goes
 * out in one submission as a linked chain of WRITE_FIXED on the registered
 * O_APPEND file, with an fsync linked at its end when one is due.  One
 * chain at a time keeps the file in log order whatever io_uring punts to
 * its workers.  A short write breaks the chain: the rest is cancelled and
 * goes again, from where it stopped, in the next chain; a failed write
 * (ENOSPC, EIO) loses that buffer, counted and reported once per error.
 *
 * Housekeeping happens between chains: the file removed under us (its link
 * count fell to 0) is opened again, and a file past rotate_bytes is rotated.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt/log.h"

#define NBUF 8
#define BUF_BYTES (64 * 1024)
#define LINE_MAX_BYTES 2048
#define MSG_MAX_BYTES 1024
#define UD_FSYNC ((uint64_t)NBUF)
#define N_ERRKINDS 6

enum buf_state { B_FREE, B_FILL, B_PEND, B_FLIGHT };

struct lbuf {
	char *p;
	uint32_t len;		/* bytes formatted */
	uint32_t off;		/* bytes already written */
	uint32_t state;
	uint64_t upto;		/* ring position after its last record */
	uint64_t records;
};

struct qk_log {
	struct qk__log_ring ring;	/* first: the inline hot path's view */

	/* logger thread only */
	_Alignas(QK_CACHELINE) uint64_t tail;
	struct lbuf buf[NBUF];
	int fill;			/* buffer being filled, -1 none */
	int pend[NBUF], n_pend;		/* FIFO of buffers awaiting a write */
	int inflight;			/* writes of the chain in flight */
	bool fsync_inflight;		/* an fsync, apart from the chain */
	struct io_uring uring;
	bool uring_ok, fixed_bufs;
	int fd;
	bool is_reg;
	uint64_t file_bytes;		/* size of the current file */
	uint64_t unsynced, sync_mark;	/* bytes written since an fsync; at its submission */
	int64_t last_fsync_ns, last_check_ns, drops_since_ns;
	uint64_t drops_reported;
	int64_t wall_off_ns;		/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	int last_err[N_ERRKINDS];	/* errno reported per kind, 0 none */
	bool failing;
	char msg[MSG_MAX_BYTES];
	char ts[32];			/* the calendar part of ts_sec */
	time_t ts_sec;

	/* shared with the creating thread */
	_Atomic uint64_t done;		/* ring position written (or lost) */
	_Atomic int stop, paused;
	_Atomic uint64_t st_written, st_bytes, st_lost, st_errors, st_reopens,
		st_rotations, st_fsyncs, st_submits;
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
		qk_store_relaxed(&lg->ring.level, (int)lvl);
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

static int take_buffer(struct qk_log *lg);

static void reap(struct qk_log *lg, bool wait);
static void reap_some(struct qk_log *lg, bool wait, bool all);

static void release_done(struct qk_log *lg, struct lbuf *b)
{
	if (b->upto > qk_load_relaxed(&lg->done))
		qk_store_release(&lg->done, b->upto);	/* pairs with qk_log_flush() */
}

/* A buffer finished: written whole, or lost to an error. */
static void buf_finished(struct qk_log *lg, struct lbuf *b, int err)
{
	if (err) {
		qk_fetch_add_relaxed(&lg->st_lost, b->len - b->off);
		qk_fetch_add_relaxed(&lg->st_errors, 1);
		trouble(lg, E_WRITE, err, "writing");
		lg->failing = true;
	} else {
		qk_fetch_add_relaxed(&lg->st_written, b->records);
		if (lg->failing) {
			lg->failing = false;
			memset(lg->last_err, 0, sizeof(lg->last_err));
			say(lg, "log: writing %s works again (%" PRIu64 " bytes were lost)",
			    lg->path, qk_load_relaxed(&lg->st_lost));
		}
	}
	release_done(lg, b);
	b->state = B_FREE;
	b->len = b->off = 0;
	b->records = 0;
}

/* Without io_uring: write the pending buffers now. */
static void write_plain(struct qk_log *lg)
{
	for (int i = 0; i < lg->n_pend; i++) {
		struct lbuf *b = &lg->buf[lg->pend[i]];
		int err = 0;

		while (b->off < b->len) {
			ssize_t w = write(lg->fd, b->p + b->off, b->len - b->off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				err = w < 0 ? errno : EIO;
				break;
			}
			b->off += (uint32_t)w;
			lg->file_bytes += (uint64_t)w;
			lg->unsynced += (uint64_t)w;
			qk_fetch_add_relaxed(&lg->st_bytes, (uint64_t)w);
		}
		buf_finished(lg, b, err);
	}
	lg->n_pend = 0;
}

/* Submits every pending buffer as one linked chain, and an fsync if due.
 * The fsync is not linked: a slow one (tens of ms on a busy disk) must not
 * hold the next chain back while the ring fills.  It makes durable what was
 * written before it; shutdown waits for the writes, then syncs. */
static void submit_chain(struct qk_log *lg, bool want_fsync)
{
	struct io_uring_sqe *sqe = NULL;

	if (lg->inflight)
		return;
	if (!lg->uring_ok) {
		write_plain(lg);
		if (want_fsync && lg->unsynced) {
			if (!lg->is_reg)
				;	/* a pipe or device: nothing to sync */
			else if (fsync(lg->fd))
				trouble(lg, E_FSYNC, errno, "fsync of");
			else
				qk_fetch_add_relaxed(&lg->st_fsyncs, 1);
			lg->unsynced = 0;
		}
		return;
	}
	for (int i = 0; i < lg->n_pend; i++) {
		int bi = lg->pend[i];
		struct lbuf *b = &lg->buf[bi];

		sqe = io_uring_get_sqe(&lg->uring);	/* the SQ holds 2 * NBUF */
		if (lg->fixed_bufs)
			io_uring_prep_write_fixed(sqe, 0, b->p + b->off, b->len - b->off, -1, bi);
		else
			io_uring_prep_write(sqe, 0, b->p + b->off, b->len - b->off, -1);
		sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
		io_uring_sqe_set_data64(sqe, (uint64_t)bi);
		b->state = B_FLIGHT;
		lg->inflight++;
	}
	lg->n_pend = 0;
	if (sqe)
		sqe->flags &= (uint8_t)~IOSQE_IO_LINK;	/* the chain ends here */
	if (want_fsync && !lg->is_reg)
		lg->unsynced = 0;	/* a pipe or device: nothing to sync */
	bool fs = want_fsync && lg->unsynced && !lg->fsync_inflight;

	if (fs) {
		sqe = io_uring_get_sqe(&lg->uring);
		io_uring_prep_fsync(sqe, 0, 0);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, UD_FSYNC);
		lg->fsync_inflight = true;
		lg->sync_mark = lg->unsynced;
	}
	if (!lg->inflight && !fs)
		return;
	int ret = io_uring_submit(&lg->uring);

	qk_fetch_add_relaxed(&lg->st_submits, 1);
	if (ret >= 0)
		return;
	/* nothing went out: the chain's buffers are lost, not left hanging */
	trouble(lg, E_URING, -ret, "submitting writes to");
	for (int i = 0; i < NBUF; i++)
		if (lg->buf[i].state == B_FLIGHT)
			buf_finished(lg, &lg->buf[i], -ret);
	lg->inflight = 0;
	lg->fsync_inflight = false;
	lg->unsynced = 0;
}

static void complete(struct qk_log *lg, uint64_t ud, int res)
{
	if (ud == UD_FSYNC) {
		lg->fsync_inflight = false;
		if (res == 0) {
			/* what was written when it was submitted is durable */
			lg->unsynced -= lg->sync_mark < lg->unsynced ? lg->sync_mark : lg->unsynced;
			qk_fetch_add_relaxed(&lg->st_fsyncs, 1);
		} else if (res != -ECANCELED) {
			lg->unsynced = 0;	/* reported; retrying would not help */
			trouble(lg, E_FSYNC, -res, "fsync of");
		}
		return;
	}
	struct lbuf *b = &lg->buf[ud];

	lg->inflight--;
	if (res > 0) {
		b->off += (uint32_t)res;
		lg->file_bytes += (uint64_t)res;
		lg->unsynced += (uint64_t)res;
		qk_fetch_add_relaxed(&lg->st_bytes, (uint64_t)res);
	}
	if (b->off >= b->len) {
		buf_finished(lg, b, 0);
	} else if (res == -ECANCELED || res > 0 || res == -EAGAIN || res == -EINTR) {
		b->state = B_PEND;	/* the rest goes in the next chain, in order */
	} else {
		buf_finished(lg, b, res == 0 ? ENOSPC : -res);
	}
}

/* Collects completions; with `wait`, until the chain in flight is done
 * (and with `all`, the fsync too). */
static void reap_some(struct qk_log *lg, bool wait, bool all)
{
	struct io_uring_cqe *cqe;

	if (!lg->uring_ok)
		return;
	while (lg->inflight || lg->fsync_inflight) {
		bool block = wait && (lg->inflight || all);
		int ret = block ? io_uring_wait_cqe(&lg->uring, &cqe) :
				  io_uring_peek_cqe(&lg->uring, &cqe);

		if (ret == -EINTR)
			continue;
		if (ret)
			break;
		complete(lg, io_uring_cqe_get_data64(cqe), cqe->res);
		io_uring_cqe_seen(&lg->uring, cqe);
	}
	if (lg->inflight)
		return;
	/* cancelled or partly written buffers go first in the next chain, in
	 * their original order (ring positions ascend with buffer upto) */
	int again[NBUF], na = 0;

	for (int i = 0; i < NBUF; i++) {
		bool queued = false;

		for (int j = 0; j < lg->n_pend; j++)
			queued |= lg->pend[j] == i;
		if (lg->buf[i].state == B_PEND && !queued)
			again[na++] = i;
	}
	if (!na)
		return;
	/* sort the returners by upto, then put them before the queued ones */
	for (int i = 1; i < na; i++)
		for (int j = i; j > 0 && lg->buf[again[j]].upto < lg->buf[again[j - 1]].upto; j--) {
			int t = again[j];

			again[j] = again[j - 1];
			again[j - 1] = t;
		}
	memmove(lg->pend + na, lg->pend, (size_t)lg->n_pend * sizeof(int));
	memcpy(lg->pend, again, (size_t)na * sizeof(int));
	lg->n_pend += na;
}

static void reap(struct qk_log *lg, bool wait)
{
	reap_some(lg, wait, false);
}

/* Queues the buffer being filled, if it holds anything. */
static void queue_fill(struct qk_log *lg)
{
	if (lg->fill < 0 || lg->buf[lg->fill].len == 0)
		return;
	lg->buf[lg->fill].state = B_PEND;
	lg->pend[lg->n_pend++] = lg->fill;
	lg->fill = -1;
}

/* A free buffer to fill; waits for the chain in flight if there is none. */
static int take_buffer(struct qk_log *lg)
{
	for (;;) {
		for (int i = 0; i < NBUF; i++)
			if (lg->buf[i].state == B_FREE) {
				lg->buf[i].state = B_FILL;
				return i;
			}
		if (lg->inflight)
			reap(lg, true);
		submit_chain(lg, false);
		if (lg->inflight)
			reap(lg, true);
	}
}

/* Room for one more line in the buffer being filled. */
static struct lbuf *room(struct qk_log *lg)
{
	if (lg->fill >= 0 && BUF_BYTES - lg->buf[lg->fill].len < LINE_MAX_BYTES)
		queue_fill(lg);
	if (lg->fill < 0)
		lg->fill = take_buffer(lg);
	return &lg->buf[lg->fill];
}

static size_t put_json_str(char *d, size_t n, const char *s)
{
	size_t o = 0;

	for (; *s && o + 7 < n; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			d[o++] = '\\';
			d[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(d + o, n - o, c == '\n' ? "\\n" : c == '\t' ? "\\t" :
					      "\\u%04x", c);
		} else {
			d[o++] = (char)c;
		}
	}
	d[o] = '\0';
	return o;
}

/* One line into the buffer being filled. */
/* One line into the buffer being filled: the message is `msg`, or record
 * `r` formatted (in text, straight into the buffer: no copy). */
static void emit(struct qk_log *lg, int64_t t_ns, int level, const char *file, int line,
		 const char *msg, const struct qk_log_rec *r, uint64_t upto)
{
	struct lbuf *b = room(lg);
	char *d = b->p + b->len;
	size_t n = LINE_MAX_BYTES;
	int64_t wall = t_ns + lg->wall_off_ns;
	time_t secs = (time_t)(wall / 1000000000);
	const char *ts = lg->ts;
	int k;

	if (secs != lg->ts_sec) {	/* the calendar part changes once a second */
		struct tm tm;

		gmtime_r(&secs, &tm);
		strftime(lg->ts, sizeof(lg->ts), "%Y-%m-%dT%H:%M:%S", &tm);
		lg->ts_sec = secs;
	}
	if (lg->o.format == QK_LOG_JSON) {
		char esc[MSG_MAX_BYTES + 64];

		if (r) {
			qk_log_format_msg(r, lg->msg, sizeof(lg->msg));
			msg = lg->msg;
		}
		put_json_str(esc, sizeof(esc), msg);
		k = snprintf(d, n, "{\"time\":\"%s.%06ldZ\",\"mono_ns\":%" PRId64 ",\"proc\":\"%s\","
			     "\"pid\":%d,\"level\":\"%s\",\"file\":\"%s\",\"line\":%d,\"msg\":\"%s\"}\n",
			     ts, (long)(wall % 1000000000 / 1000), t_ns, lg->proc, lg->pid,
			     level_lower[level], file, line, esc);
	} else {
		k = snprintf(d, n, "%s.%06ldZ %" PRId64 ".%06ld %s[%d] %-5s %s:%d: ",
			     ts, (long)(wall % 1000000000 / 1000), t_ns / 1000000000,
			     (long)(t_ns % 1000000000 / 1000), lg->proc, lg->pid, level_names[level],
			     file, line);
		if (k < 0 || (size_t)k >= n - 1)
			return;
		if (r) {
			k += (int)qk_log_format_msg(r, d + k, n - 1 - (size_t)k);
		} else {
			size_t m = strnlen(msg, n - 2 - (size_t)k);

			memcpy(d + k, msg, m);
			k += (int)m;
		}
		d[k++] = '\n';
	}
	if (k < 0)
		return;
	if ((size_t)k >= n) {	/* cut: keep the newline */
		k = (int)n - 1;
		d[k - 1] = '\n';
	}
	b->len += (uint32_t)k;
	b->records++;
	b->upto = upto;
}

/* ---- draining ------------------------------------------------------------- */

static void note_drops(struct qk_log *lg, int64_t now)
{
	uint64_t d = qk_load_relaxed(&lg->ring.dropped);

	if (d == lg->drops_reported)
		return;
	int64_t last = qk_load_relaxed(&lg->ring.last_drop_ns);

	snprintf(lg->msg, sizeof(lg->msg),
		 "log ring full: %" PRIu64 " records dropped between %" PRId64 ".%06ld and %"
		 PRId64 ".%06ld (%" PRIu64 " in all; ring of %" PRIu64 ")",
		 d - lg->drops_reported, lg->drops_since_ns / 1000000000,
		 (long)(lg->drops_since_ns % 1000000000 / 1000), last / 1000000000,
		 (long)(last % 1000000000 / 1000), d, lg->ring.mask + 1);
	emit(lg, now, QK_LOG_WARN, __FILE__, __LINE__, lg->msg, NULL, lg->tail);
	lg->drops_reported = d;
	lg->drops_since_ns = now;
}

/* Formats every published record; returns how many. */
static uint64_t drain(struct qk_log *lg)
{
	struct timespec rt, mo;
	uint64_t n = 0;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mo);
	lg->wall_off_ns = ((int64_t)rt.tv_sec - mo.tv_sec) * 1000000000 + (rt.tv_nsec - mo.tv_nsec);
	/* at most a ring's worth per pass, so drops and housekeeping get a turn */
	while (n <= lg->ring.mask) {
		struct qk_log_rec *c = &lg->ring.cells[lg->tail & lg->ring.mask];

		/* pairs with qk__log_commit(): the record before its sequence */
		if (qk_load_acquire(&c->seq) != lg->tail + 1)
			break;
		int lvl = c->site->level;

		emit(lg, c->t_ns, (unsigned)lvl < QK_LOG_LEVELS ? lvl : QK_LOG_ERROR, c->site->file,
		     c->site->line, NULL, c, lg->tail + 1);
		/* pairs with the producers' acquire in qk__log_claim(): our reads
		 * are done before the cell is theirs again */
		qk_store_release(&c->seq, lg->tail + lg->ring.mask + 1);
		lg->tail++;
		n++;
	}
	return n;
}

/* ---- the file -------------------------------------------------------------- */

static int open_file(struct qk_log *lg)
{
	struct stat st;
	int fd = open(lg->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) == 0) {
		lg->is_reg = S_ISREG(st.st_mode);
		lg->file_bytes = (uint64_t)st.st_size;
	}
	return fd;
}

/* Puts a new descriptor in place of the old (nothing in flight). */
static void swap_fd(struct qk_log *lg, int fd)
{
	if (lg->uring_ok) {
		int ret = io_uring_register_files_update(&lg->uring, 0, &fd, 1);

		if (ret < 0) {
			trouble(lg, E_URING, -ret, "registering the new");
			close(fd);
			return;
		}
	}
	close(lg->fd);
	lg->fd = fd;
}

static void rotate(struct qk_log *lg)
{
	char from[sizeof(lg->path) + 16], to[sizeof(lg->path) + 16];
	int fd;

	if (fsync(lg->fd) == 0)
		lg->unsynced = 0;
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
	swap_fd(lg, fd);
	qk_fetch_add_relaxed(&lg->st_rotations, 1);
}

/* Between chains: the file removed under us, the size limit. */
static void housekeeping(struct qk_log *lg, int64_t now)
{
	struct stat st;

	if (!lg->is_reg)
		return;
	if (lg->file_bytes >= lg->o.rotate_bytes && lg->n_pend) {	/* never to leave it empty */
		rotate(lg);
		return;
	}
	if (now - lg->last_check_ns < 200 * 1000000ll)
		return;
	lg->last_check_ns = now;
	if (fstat(lg->fd, &st) || st.st_nlink > 0)
		return;
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
	swap_fd(lg, fd);
	qk_fetch_add_relaxed(&lg->st_reopens, 1);
}

static void pin_away(int avoid)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	int left = 0;

	if (avoid < 0 || n < 2)
		return;
	CPU_ZERO(&set);
	for (int c = 0; c < n && c < CPU_SETSIZE; c++)
		if (c != avoid) {
			CPU_SET(c, &set);
			left++;
		}
	if (left)
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *logger_main(void *arg)
{
	struct qk_log *lg = arg;

	pthread_setname_np(pthread_self(), "qk-log");
	pin_away(lg->o.avoid_cpu);
	while (qk_load_relaxed(&lg->paused) && !qk_load_relaxed(&lg->stop)) {
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL);
	}
	for (;;) {
		/* pairs with qk_log_destroy(): records logged before it are visible */
		bool stopping = qk_load_acquire(&lg->stop);
		int64_t now;
		uint64_t n;

		reap(lg, false);
		n = drain(lg);
		now = qk__log_now();
		note_drops(lg, now);
		queue_fill(lg);
		bool fsync_due = lg->o.fsync_ms > 0 && now - lg->last_fsync_ns >= lg->o.fsync_ms * 1000000ll;

		if (!lg->inflight) {
			if (!lg->fsync_inflight)	/* swapping the file: nothing may be on it */
				housekeeping(lg, now);
			if (fsync_due || stopping)
				lg->last_fsync_ns = now;
			if (lg->n_pend || ((fsync_due || stopping) && lg->unsynced))
				submit_chain(lg, fsync_due || stopping);
		}
		if (stopping && n == 0 && !lg->n_pend && (lg->fill < 0 || !lg->buf[lg->fill].len)) {
			reap_some(lg, true, true);
			if (!lg->n_pend && !lg->unsynced)
				break;
			continue;
		}
		if (n == 0) {
			if (lg->inflight || lg->fsync_inflight) {
				struct io_uring_cqe *cqe;
				struct __kernel_timespec ts = { 0, lg->o.poll_ms * 1000000ll };

				io_uring_wait_cqe_timeout(&lg->uring, &cqe, &ts);
			} else {
				struct timespec ts = { 0, lg->o.poll_ms * 1000000l };

				nanosleep(&ts, NULL);
			}
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

struct qk_log *qk_log_create(const struct qk_log_opts *o, char *err, size_t n)
{
	struct qk_log *lg;
	uint32_t cells = o->ring_records ? o->ring_records : 8192;
	size_t ring_bytes = (size_t)cells * sizeof(struct qk_log_rec);
	sigset_t all, old;
	int ret;

	if (cells & (cells - 1) || cells < 2) {
		snprintf(err, n, "log ring size %u is not a power of two", cells);
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
	lg->ts_sec = -1;
	lg->paused = o->paused;
	lg->ring.mask = cells - 1;
	lg->ring.level = o->level;
	/* mapped, not malloc'd: pre-faulted here, locked by mlockall later */
	lg->ring.cells = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (lg->ring.cells == MAP_FAILED) {
		snprintf(err, n, "cannot map the log ring (%zu bytes): %s", ring_bytes, strerror(errno));
		free(lg);
		return NULL;
	}
	for (uint32_t i = 0; i < cells; i++)
		lg->ring.cells[i].seq = i;
	for (int i = 0; i < NBUF; i++) {
		lg->buf[i].p = mmap(NULL, BUF_BYTES, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (lg->buf[i].p == MAP_FAILED) {
			lg->buf[i].p = NULL;
			snprintf(err, n, "cannot map log buffers: %s", strerror(errno));
			goto fail;
		}
	}
	lg->fd = open_file(lg);
	if (lg->fd < 0) {
		snprintf(err, n, "cannot open log file %s: %s", lg->path, strerror(-lg->fd));
		goto fail;
	}
	setup_uring(lg);
	lg->last_fsync_ns = lg->drops_since_ns = qk__log_now();
	/* the logger thread takes no signals: they are the loop's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t at;

	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 256 * 1024);	/* mlockall locks it whole */
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
	return lg;
fail:
	for (int i = 0; i < NBUF; i++)
		if (lg->buf[i].p)
			munmap(lg->buf[i].p, BUF_BYTES);
	munmap(lg->ring.cells, ring_bytes);
	free(lg);
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
	uint64_t upto = qk_load_relaxed(&lg->ring.head);
	struct timespec ts = { 0, 200000 };

	/* pairs with release_done(): the lines up to `upto` are in the file */
	while (qk_load_acquire(&lg->done) < upto)
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
	for (int i = 0; i < NBUF; i++)
		munmap(lg->buf[i].p, BUF_BYTES);
	munmap(lg->ring.cells, (lg->ring.mask + 1) * sizeof(struct qk_log_rec));
	free(lg);
}

void qk_log_get_stats(const struct qk_log *lg, struct qk_log_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (!lg)
		return;
	s->dropped = qk_load_relaxed(&lg->ring.dropped);
	s->logged = qk_load_relaxed(&lg->ring.head);
	s->written = qk_load_relaxed(&lg->st_written);
	s->bytes = qk_load_relaxed(&lg->st_bytes);
	s->bytes_lost = qk_load_relaxed(&lg->st_lost);
	s->write_errors = qk_load_relaxed(&lg->st_errors);
	s->reopens = qk_load_relaxed(&lg->st_reopens);
	s->rotations = qk_load_relaxed(&lg->st_rotations);
	s->fsyncs = qk_load_relaxed(&lg->st_fsyncs);
	s->submits = qk_load_relaxed(&lg->st_submits);
	s->uring = lg->uring_ok;
	s->fixed_bufs = lg->fixed_bufs;
}
