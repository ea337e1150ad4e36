/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/log_read.c - binary log files back into records; see rt/log_read.h.
 * Every length read from the file is checked against the entry, the chunk
 * and the bytes held before it is used: the file may be cut anywhere.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rt/log_file.h"
#include "rt/log_read.h"

struct sstr {
	char *s;
	uint32_t len;
};

struct qk_logr {
	size_t pos, chunk_end;
	bool in_chunk, started;
	struct qk_logr_site **sites;
	uint32_t n_sites;
	struct sstr *strs;
	uint32_t n_strs;
	struct qk_logr_proc proc;
	struct qk_logr_stats st;
};

struct qk_logr *qk_logr_create(void)
{
	return calloc(1, sizeof(struct qk_logr));
}

/* A new file header: ids start again. */
static void reset_tables(struct qk_logr *r)
{
	for (uint32_t i = 0; i < r->n_sites; i++)
		if (r->sites[i]) {
			free(r->sites[i]->fmt);
			free(r->sites[i]->file);
			free(r->sites[i]);
			r->sites[i] = NULL;
		}
	for (uint32_t i = 0; i < r->n_strs; i++) {
		free(r->strs[i].s);
		r->strs[i].s = NULL;
	}
}

void qk_logr_destroy(struct qk_logr *r)
{
	if (!r)
		return;
	reset_tables(r);
	free(r->sites);
	free(r->strs);
	free(r);
}

size_t qk_logr_pos(const struct qk_logr *r)
{
	return r->pos;
}

const struct qk_logr_proc *qk_logr_proc(const struct qk_logr *r)
{
	return &r->proc;
}

void qk_logr_get_stats(const struct qk_logr *r, struct qk_logr_stats *s)
{
	*s = r->st;
}

static char *dup_n(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* Grows a table of pointers-or-structs to hold index id. */
static int grow(void **tab, uint32_t *n, uint32_t id, size_t elem)
{
	if (id < *n)
		return 0;
	if (id >= QK_LOGF_MAX_ID)
		return -EPROTO;
	uint32_t m = *n ? *n : 64;

	while (m <= id)
		m *= 2;
	void *t = realloc(*tab, (size_t)m * elem);

	if (!t)
		return -ENOMEM;
	memset((char *)t + (size_t)*n * elem, 0, (size_t)(m - *n) * elem);
	*tab = t;
	*n = m;
	return 0;
}

static void def_site(struct qk_logr *r, const uint8_t *p, uint32_t bytes)
{
	struct qk_logf_site d;
	struct qk_logr_site *s;

	if (bytes < 8 + sizeof(d)) {
		r->st.bad++;
		return;
	}
	memcpy(&d, p + 8, sizeof(d));
	if (8 + sizeof(d) + (size_t)d.fmt_len + 1 + d.file_len + 1 > bytes ||
	    grow((void **)&r->sites, &r->n_sites, d.id, sizeof(*r->sites)) || !(s = calloc(1, sizeof(*s)))) {
		r->st.bad++;
		return;
	}
	const uint8_t *f = p + 8 + sizeof(d);

	s->id = d.id;
	s->level = d.level;
	s->line = d.line;
	s->types = d.types;
	s->nargs = d.nargs <= QK_LOG_MAX_ARGS ? d.nargs : QK_LOG_MAX_ARGS;
	s->fmt = dup_n(f, d.fmt_len);
	s->file = dup_n(f + d.fmt_len + 1, d.file_len);
	if (!s->fmt || !s->file) {
		free(s->fmt);
		free(s->file);
		free(s);
		r->st.bad++;
		return;
	}
	qk_log_fmt_parse(&s->pf, s->fmt);
	s->plen = qk_log_site_prefix(s->prefix, sizeof(s->prefix), QK_LOG_TEXT, s->level, s->file,
				     s->line);
	s->jplen = qk_log_site_prefix(s->jprefix, sizeof(s->jprefix), QK_LOG_JSON, s->level, s->file,
				      s->line);
	if (r->sites[d.id]) {
		free(r->sites[d.id]->fmt);
		free(r->sites[d.id]->file);
		free(r->sites[d.id]);
	}
	r->sites[d.id] = s;
}

static void def_str(struct qk_logr *r, const uint8_t *p, uint32_t bytes)
{
	uint32_t hd[2];

	if (bytes < 16) {
		r->st.bad++;
		return;
	}
	memcpy(hd, p + 8, 8);
	if (16 + (size_t)hd[1] + 1 > bytes || grow((void **)&r->strs, &r->n_strs, hd[0], sizeof(*r->strs))) {
		r->st.bad++;
		return;
	}
	free(r->strs[hd[0]].s);
	r->strs[hd[0]].s = dup_n(p + 16, hd[1]);
	r->strs[hd[0]].len = hd[1];
}

/* A record entry into rec; false when it does not hold together. */
static bool decode(struct qk_logr *r, const uint8_t *p, uint32_t bytes, uint32_t id,
		   struct qk_logr_rec *rec)
{
	const struct qk_logr_site *s = id < r->n_sites ? r->sites[id] : NULL;

	memset(rec, 0, sizeof(*rec));
	if (bytes < 16)
		return false;
	memcpy(&rec->ns, p + 8, 8);
	rec->site = s;
	rec->site_id = id;
	if (!s)
		return true;
	unsigned n = s->nargs;
	size_t at = 16 + 8 * (size_t)n;

	if (at > bytes)
		return false;
	rec->nargs = n;
	for (unsigned i = 0; i < n; i++) {
		struct qk_log_arg *a = &rec->a[i];
		uint64_t x;

		memcpy(&x, p + 16 + 8 * i, 8);
		a->t = (uint8_t)((s->types >> (4 * i)) & 15);
		a->v = x;
		if (a->t != QK_LA_STR)
			continue;
		a->v = 0;
		if (x == QK_LOGF_NULL) {
			a->s = NULL;
		} else if (x & QK_LOGF_SREF) {
			uint32_t sid = (uint32_t)x;

			if (sid < r->n_strs && r->strs[sid].s) {
				a->s = r->strs[sid].s;
				a->len = r->strs[sid].len;
			} else {
				a->s = "<lost string>";
				a->len = 13;
			}
		} else {
			if (x > QK_LOG_STR_MAX || at + x + 1 > bytes)
				return false;
			a->s = (const char *)p + at;
			a->len = (uint32_t)x;
			at += (x + 8) & ~7ull;
		}
	}
	return true;
}

/* Where the next chunk or file header starts at or after pos; len if none. */
static size_t resync(const uint8_t *d, size_t pos, size_t len)
{
	for (pos = (pos + 8) & ~(size_t)7; pos + 8 <= len; pos += 8) {
		uint32_t m;

		memcpy(&m, d + pos, 4);
		if (m == QK_LOGF_CHUNK_MAGIC || !memcmp(d + pos, QK_LOGF_MAGIC, 8))
			return pos;
	}
	return len;
}

static bool all_zero(const uint8_t *d, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (d[i])
			return false;
	return true;
}

int qk_logr_feed(struct qk_logr *r, const uint8_t *d, size_t len, bool final, qk_logr_fn fn,
		 void *ctx)
{
	while (r->pos < len) {
		if (!r->started) {	/* the file must open with our header */
			if (len < 8)	/* cut inside the magic: nothing to read yet */
				return memcmp(d, QK_LOGF_MAGIC, len) ? -EPROTO : 0;
			if (memcmp(d, QK_LOGF_MAGIC, 8))
				return -EPROTO;
			r->started = true;
		}
		if (r->in_chunk && r->pos >= r->chunk_end)
			r->in_chunk = false;
		if (r->in_chunk) {
			struct qk_logf_ent h;
			size_t lim = len < r->chunk_end ? len : r->chunk_end;

			if (r->pos + 8 > lim)
				break;	/* the rest is still to come */
			memcpy(&h, d + r->pos, 8);
			if (h.bytes < 8 || h.bytes % 8 || r->pos + h.bytes > r->chunk_end) {
				r->st.bad++;	/* damaged: look for the next chunk */
				r->in_chunk = false;
				size_t nx = resync(d, r->pos, len);

				r->st.skipped_bytes += nx - r->pos;
				r->pos = nx;
				continue;
			}
			if (r->pos + h.bytes > len)
				break;
			const uint8_t *p = d + r->pos;

			if (h.kind == QK_LOGF_SITE) {
				def_site(r, p, h.bytes);
			} else if (h.kind == QK_LOGF_STR) {
				def_str(r, p, h.bytes);
			} else {
				struct qk_logr_rec rec;

				if (!decode(r, p, h.bytes, h.kind, &rec)) {
					r->st.bad++;
				} else {
					r->st.records++;
					r->st.unknown += !rec.site;
					r->pos += h.bytes;
					int ret = fn ? fn(ctx, r, &rec) : 0;

					if (ret)
						return ret;
					continue;
				}
			}
			r->pos += h.bytes;
			continue;
		}
		if (r->pos + 8 > len)
			break;
		uint32_t m;

		memcpy(&m, d + r->pos, 4);
		if (!memcmp(d + r->pos, QK_LOGF_MAGIC, 8)) {
			struct qk_logf_hdr h;

			if (r->pos + sizeof(h) > len)
				break;
			memcpy(&h, d + r->pos, sizeof(h));
			reset_tables(r);
			memcpy(r->proc.proc, h.proc, 32);
			r->proc.proc[32] = '\0';
			r->proc.pid = h.pid;
			r->proc.wall_off_ns = h.wall_off_ns;
			r->proc.headers++;
			r->pos += h.hdr_bytes >= sizeof(h) && h.hdr_bytes % 8 == 0 ? h.hdr_bytes : sizeof(h);
			continue;
		}
		if (m == QK_LOGF_CHUNK_MAGIC) {
			struct qk_logf_chunk c;

			if (r->pos + sizeof(c) > len)
				break;
			memcpy(&c, d + r->pos, sizeof(c));
			r->st.chunks++;
			r->pos += sizeof(c);
			r->chunk_end = r->pos + c.bytes;
			r->in_chunk = true;
			continue;
		}
		/* a hole: a write still in flight, or lost */
		if (!final && all_zero(d, r->pos, len))
			break;
		if (!final && all_zero(d, r->pos, r->pos + 8))
			break;	/* data beyond: the hole may yet fill; the caller decides */
		size_t nx = resync(d, r->pos, len);

		r->st.skipped_bytes += nx - r->pos;
		r->pos = nx;
	}
	return 0;
}
