/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tools/log/main.c - qiki-log: prints binary log files (--log-format
 * binary) as the text or JSON lines the logger would have written; follows
 * a growing file across rotation; filters by level and time.  A file cut
 * short by a crash prints up to its last whole record.  See qiki-log.1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rt/log_file.h"
#include "rt/log_read.h"
#include "rt/proc.h"

#define PROG "qiki-log"

struct opts {
	bool follow, json;
	int level;
	bool has_since, has_until;
	bool since_wall, until_wall;
	int64_t since, until;		/* ns: wall (CLOCK_REALTIME) or monotonic */
};

struct out {
	const struct opts *o;
	struct qk_log_linectx line;
	uint64_t headers;		/* the header the line context was made from */
	char msg[4096], buf[8192];
	uint64_t printed;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [OPTIONS] FILE...\n"
		"Prints qiki binary log files (written with --log-format binary) as text lines,\n"
		"the same as --log-format text writes, or as JSON.\n"
		"  -f, --follow        keep printing as the file grows; follows rotation (one FILE)\n"
		"  -j, --json          one JSON object per line\n"
		"  -l, --level LEVEL   only records at LEVEL or above: debug, info, warn, error\n"
		"      --since TIME    only records at or after TIME\n"
		"      --until TIME    only records before TIME\n"
		"  -h, --help          this help\n"
		"  -V, --version       the version\n"
		"TIME is UTC as the lines print it (2026-11-28T05:30:00[.123][Z]), or seconds of\n"
		"CLOCK_MONOTONIC as the lines' second column prints them (1234.5).\n"
		"Exit: 0 done; 1 a file could not be read or is not a qiki binary log; 2 usage.\n");
}

/* TIME -> ns; wall set when it was a calendar time.  -1 when it does not parse. */
static int parse_time(const char *s, int64_t *ns, bool *wall)
{
	char *end;

	if (strchr(s, 'T')) {
		struct tm tm = { 0 };
		const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
		double frac = 0;

		if (!p)
			return -1;
		if (*p == '.') {
			frac = strtod(p, &end);
			p = end;
		}
		if (*p == 'Z')
			p++;
		if (*p)
			return -1;
		*ns = (int64_t)timegm(&tm) * 1000000000 + (int64_t)(frac * 1e9 + 0.5);
		*wall = true;
		return 0;
	}
	double x = strtod(s, &end);

	if (end == s || *end || x < 0)
		return -1;
	*ns = (int64_t)(x * 1e9 + 0.5);
	*wall = false;
	return 0;
}

static int print_rec(void *ctx, const struct qk_logr *r, const struct qk_logr_rec *rec)
{
	struct out *w = ctx;
	const struct qk_logr_proc *pr = qk_logr_proc(r);
	const struct qk_logr_site *s = rec->site;
	int level = s ? s->level : QK_LOG_ERROR;
	size_t ml, k;

	if (level < w->o->level)
		return 0;
	if (w->o->has_since &&
	    (w->o->since_wall ? rec->ns + pr->wall_off_ns : rec->ns) < w->o->since)
		return 0;
	if (w->o->has_until &&
	    (w->o->until_wall ? rec->ns + pr->wall_off_ns : rec->ns) >= w->o->until)
		return 0;
	if (w->headers != pr->headers) {
		qk_log_line_init(&w->line, w->o->json ? QK_LOG_JSON : QK_LOG_TEXT, pr->proc, pr->pid,
				 pr->wall_off_ns);
		w->headers = pr->headers;
	}
	if (s) {
		ml = qk_log_fmt_render(&s->pf, rec->a, rec->nargs, w->msg, sizeof(w->msg));
		k = qk_log_line(&w->line, w->buf, sizeof(w->buf), rec->ns,
				w->o->json ? s->jprefix : s->prefix, w->o->json ? s->jplen : s->plen,
				w->msg, ml);
	} else {
		char pre[96];
		size_t pl = qk_log_site_prefix(pre, sizeof(pre), w->o->json ? QK_LOG_JSON : QK_LOG_TEXT,
					       level, "?", 0);

		ml = (size_t)snprintf(w->msg, sizeof(w->msg),
				      "<a record of site %u, whose definition was lost>", rec->site_id);
		k = qk_log_line(&w->line, w->buf, sizeof(w->buf), rec->ns, pre, pl, w->msg, ml);
	}
	if (fwrite(w->buf, 1, k, stdout) != k)
		return -EIO;
	w->printed++;
	return 0;
}

struct file {
	const char *path;
	int fd;
	ino_t ino;
	uint8_t *data;
	size_t len, cap;
};

/* Reads what the file has beyond f->len; 0, or -errno. */
static int read_more(struct file *f)
{
	for (;;) {
		if (f->cap - f->len < 65536) {
			size_t cap = f->cap ? f->cap * 2 : 1 << 20;
			uint8_t *d = realloc(f->data, cap);

			if (!d)
				return -ENOMEM;
			f->data = d;
			f->cap = cap;
		}
		ssize_t n = pread(f->fd, f->data + f->len, f->cap - f->len, (off_t)f->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		f->len += (size_t)n;
	}
}

static int open_file(struct file *f, const char *path)
{
	struct stat st;

	f->path = path;
	f->len = 0;
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	if (fstat(f->fd, &st) == 0)
		f->ino = st.st_ino;
	return 0;
}

static void report(const char *path, struct qk_logr *r, size_t len)
{
	struct qk_logr_stats st;

	qk_logr_get_stats(r, &st);
	if (qk_logr_pos(r) < len)
		fprintf(stderr, PROG ": %s: the last %zu bytes are a record cut short (the writer "
			"stopped mid-write); everything before it was printed\n", path,
			len - qk_logr_pos(r));
	if (st.skipped_bytes)
		fprintf(stderr, PROG ": %s: skipped %" PRIu64 " bytes of holes or damage (writes "
			"the logger lost; it said so in its own messages)\n", path, st.skipped_bytes);
	if (st.unknown)
		fprintf(stderr, PROG ": %s: %" PRIu64 " records name a call site whose definition "
			"was lost\n", path, st.unknown);
}

static int not_ours(const char *path)
{
	fprintf(stderr, PROG ": %s is not a qiki binary log (it does not start with "
		"\"" QK_LOGF_MAGIC "\"); a text log (--log-format text or json) is read as it is\n",
		path);
	return 1;
}

/* Whole files, one after another. */
static int print_file(const char *path, struct out *w)
{
	struct file f = { 0 };
	struct qk_logr *r = qk_logr_create();
	int ret = open_file(&f, path), rc = 0;

	if (ret || (ret = read_more(&f))) {
		fprintf(stderr, PROG ": cannot read %s: %s\n", path, strerror(-ret));
		rc = 1;
	} else if ((ret = qk_logr_feed(r, f.data, f.len, true, print_rec, w)) == -EPROTO) {
		rc = not_ours(path);
	} else if (ret) {
		fprintf(stderr, PROG ": writing the output: %s\n", strerror(-ret));
		rc = 1;
	} else {
		report(path, r, f.len);
	}
	if (f.fd >= 0)
		close(f.fd);
	free(f.data);
	qk_logr_destroy(r);
	return rc;
}

static int follow(const char *path, struct out *w)
{
	struct file f = { 0 };
	struct qk_logr *r = qk_logr_create();
	int ret, rc = 0;
	size_t stuck_at = SIZE_MAX;
	int stuck_polls = 0;

	while ((ret = open_file(&f, path)) == -ENOENT && !stop)
		usleep(200000);	/* not there yet: wait for it */
	if (ret && !stop) {
		fprintf(stderr, PROG ": cannot read %s: %s\n", path, strerror(-ret));
		qk_logr_destroy(r);
		return 1;
	}
	while (!stop) {
		struct stat st;

		if ((ret = read_more(&f))) {
			fprintf(stderr, PROG ": reading %s: %s\n", path, strerror(-ret));
			rc = 1;
			break;
		}
		/* a hole that stays for 2 s is a lost write, not one in flight */
		bool final = stuck_polls >= 10;

		ret = qk_logr_feed(r, f.data, f.len, final, print_rec, w);
		if (ret == -EPROTO) {
			rc = not_ours(path);
			break;
		}
		fflush(stdout);
		if (qk_logr_pos(r) < f.len && qk_logr_pos(r) == stuck_at) {
			stuck_polls++;
		} else {
			stuck_at = qk_logr_pos(r);
			stuck_polls = 0;
		}
		/* rotated or removed and made again: finish this one, take the new */
		if (stat(path, &st) == 0 && st.st_ino != f.ino) {
			read_more(&f);
			qk_logr_feed(r, f.data, f.len, true, print_rec, w);
			close(f.fd);
			qk_logr_destroy(r);
			r = qk_logr_create();
			if (open_file(&f, path))
				f.fd = -1;
			continue;
		}
		usleep(200000);
	}
	fflush(stdout);
	if (f.fd >= 0)
		close(f.fd);
	free(f.data);
	qk_logr_destroy(r);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "level", required_argument, NULL, 'l' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "version", no_argument, NULL, 'V' },
		{ 0, 0, 0, 0 },
	};
	struct opts o = { .level = QK_LOG_DEBUG };
	static struct out w;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "fhjl:V", lo, NULL)) != -1) {
		switch (c) {
		case 'f': o.follow = true; break;
		case 'j': o.json = true; break;
		case 'l':
			if ((o.level = qk_log_level_parse(optarg)) < 0) {
				fprintf(stderr, PROG ": --level '%s': expected debug, info, warn or error\n",
					optarg);
				return 2;
			}
			break;
		case 'S': case 'U': {
			int64_t t;
			bool wall;

			if (parse_time(optarg, &t, &wall)) {
				fprintf(stderr, PROG ": --%s '%s': expected a UTC time like "
					"2026-11-28T05:30:00 or monotonic seconds like 1234.5\n",
					c == 'S' ? "since" : "until", optarg);
				return 2;
			}
			if (c == 'S') {
				o.has_since = true, o.since = t, o.since_wall = wall;
			} else {
				o.has_until = true, o.until = t, o.until_wall = wall;
			}
			break;
		}
		case 'h': usage(stdout); return 0;
		case 'V': printf(PROG " %s (log format %d)\n", QK_VERSION, QK_LOGF_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, PROG ": no FILE given\n");
		usage(stderr);
		return 2;
	}
	if (o.follow && argc - optind != 1) {
		fprintf(stderr, PROG ": --follow takes exactly one FILE\n");
		return 2;
	}
	w.o = &o;
	w.headers = UINT64_MAX;
	if (o.follow) {
		struct sigaction sa = { .sa_handler = on_signal };

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		return follow(argv[optind], &w);
	}
	for (int i = optind; i < argc; i++)
		rc |= print_file(argv[i], &w);
	if (fflush(stdout)) {
		fprintf(stderr, PROG ": writing the output: %s\n", strerror(errno));
		rc = 1;
	}
	return rc;
}
