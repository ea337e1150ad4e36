/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* proto/mcap.c - MCAP writer and reader; see proto/mcap.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "proto/mcap.h"

static const uint8_t magic[8] = { 0x89, 'M', 'C', 'A', 'P', 0x30, '\r', '\n' };

enum op {
	OP_HEADER = 0x01, OP_FOOTER = 0x02, OP_SCHEMA = 0x03, OP_CHANNEL = 0x04,
	OP_MESSAGE = 0x05, OP_CHUNK = 0x06, OP_MESSAGE_INDEX = 0x07, OP_CHUNK_INDEX = 0x08,
	OP_ATTACHMENT = 0x09, OP_ATTACHMENT_INDEX = 0x0a,
	OP_STATISTICS = 0x0b, OP_METADATA = 0x0c, OP_METADATA_INDEX = 0x0d,
	OP_SUMMARY_OFFSET = 0x0e, OP_DATA_END = 0x0f,
};

uint32_t qk_crc32(uint32_t crc, const void *p, size_t n)
{
	static uint32_t table[256];
	const uint8_t *b = p;

	if (!table[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	crc = ~crc;
	while (n--)
		crc = table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- a growable byte buffer, reused ---------------------------------------- */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int reserve(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;

	while (cap < b->len + more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);

	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* callers reserve first: these cannot fail */
static void put(struct buf *b, const void *d, size_t n)
{
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void put8(struct buf *b, uint8_t v) { put(b, &v, 1); }
static void put16(struct buf *b, uint16_t v) { put(b, &v, 2); }	/* little-endian hosts */
static void put32(struct buf *b, uint32_t v) { put(b, &v, 4); }
static void put64(struct buf *b, uint64_t v) { put(b, &v, 8); }

static void put_str(struct buf *b, const char *s)
{
	put32(b, (uint32_t)strlen(s));
	put(b, s, strlen(s));
}

/* Opens a record: opcode and a length to patch by end_rec(). */
static size_t begin_rec(struct buf *b, uint8_t op)
{
	put8(b, op);
	put64(b, 0);
	return b->len;
}

static void end_rec(struct buf *b, size_t start)
{
	uint64_t len = b->len - start;

	memcpy(b->p + start - 8, &len, 8);
}

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "MCAP is little-endian; so is this writer");

/* ---- the writer ------------------------------------------------------------ */

struct idx {			/* one channel's message index in the chunk */
	uint64_t *pairs;	/* log_time, offset */
	size_t n, cap;
};

struct chunk_index {
	uint64_t start, end, offset, length, mi_len, compressed, uncompressed;
	uint64_t mi_offset[QK_MCAP_MAX_CHANNELS];
	uint32_t mi_mask;
};

/* The summary's chunk indexes grow with the run (one record a chunk: some
 * 70 MB a day at 1 kHz if kept in memory).  They are written, as finished
 * records, to an unlinked spill file beside the output instead, and copied
 * into the summary at close: the writer's memory stays bounded however long
 * it runs. */
#define SPILL_BLOCK (64 * 1024)

struct qk_mcap {
	int fd;
	uint64_t off;			/* file offset */
	struct qk_mcap_opts o;
	struct buf chunk, out, zbuf, defs;	/* defs: schema and channel records */
	uint64_t chunk_start, chunk_end, chunk_msgs;
	struct idx idx[QK_MCAP_MAX_CHANNELS];
	int spill_fd;			/* the chunk index records, see SPILL_BLOCK */
	uint64_t spill_len;
	size_t n_ci;
	int n_schemas, n_channels;
	uint32_t seq[QK_MCAP_MAX_CHANNELS];
	uint64_t count[QK_MCAP_MAX_CHANNELS], total, first, last;
	ZSTD_CCtx *zc;
	struct {			/* Metadata and Attachment records, for the summary */
		uint64_t off, len, log_time, size;
		char name[128], media_type[64];
	} meta[QK_MCAP_MAX_METADATA], att[QK_MCAP_MAX_ATTACH];
	int n_meta, n_att;
	int failed;			/* -errno once a write failed */
	char err[512];
};

static int fail(struct qk_mcap *m, int e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct qk_mcap *m, int e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->err, sizeof(m->err), fmt, ap);
	va_end(ap);
	m->failed = e;
	return e;
}

const char *qk_mcap_error(const struct qk_mcap *m)
{
	return m->err;
}

static int out_bytes(struct qk_mcap *m, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (m->failed)
		return m->failed;
	while (n) {
		ssize_t w = write(m->fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return fail(m, w < 0 ? -errno : -EIO, "writing %s failed: %s", m->o.path,
				    strerror(w < 0 ? errno : EIO));
		b += w;
		n -= (size_t)w;
		m->off += (uint64_t)w;
	}
	return 0;
}

/* An unlinked file in the output's directory (same disk, gone at exit
 * however we exit), else in /tmp.  The fd, or -errno. */
static int open_spill(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

/* Appends one finished Chunk Index record to the spill file. */
static int spill_chunk_index(struct qk_mcap *m, const struct chunk_index *ci)
{
	struct buf *b = &m->out;
	uint32_t nmi = (uint32_t)__builtin_popcount(ci->mi_mask);
	size_t r, at = 0;

	b->len = 0;
	if (reserve(b, 128 + 10 * QK_MCAP_MAX_CHANNELS))
		return fail(m, -ENOMEM, "out of memory");
	r = begin_rec(b, OP_CHUNK_INDEX);
	put64(b, ci->start);
	put64(b, ci->end);
	put64(b, ci->offset);
	put64(b, ci->length);
	put32(b, nmi * 10);
	for (int c = 0; c < m->n_channels; c++)
		if (ci->mi_mask & (1u << c)) {
			put16(b, (uint16_t)c);
			put64(b, ci->mi_offset[c]);
		}
	put64(b, ci->mi_len);
	put_str(b, m->zc ? "zstd" : "");
	put64(b, ci->compressed);
	put64(b, ci->uncompressed);
	end_rec(b, r);
	while (at < b->len) {
		ssize_t w = pwrite(m->spill_fd, b->p + at, b->len - at, (off_t)(m->spill_len + at));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return fail(m, w < 0 ? -errno : -EIO, "writing the chunk index scratch file "
				    "failed: %s", strerror(w < 0 ? errno : EIO));
		at += (size_t)w;
	}
	m->spill_len += b->len;
	m->n_ci++;
	return 0;
}

/* Copies the spilled chunk indexes into the file, in bounded blocks. */
static int copy_spill(struct qk_mcap *m)
{
	struct buf *b = &m->out;
	uint64_t at = 0;
	int ret;

	b->len = 0;
	if (reserve(b, SPILL_BLOCK))
		return fail(m, -ENOMEM, "out of memory");
	while (at < m->spill_len) {
		size_t want = m->spill_len - at < SPILL_BLOCK ? (size_t)(m->spill_len - at) : SPILL_BLOCK;
		ssize_t got = pread(m->spill_fd, b->p, want, (off_t)at);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return fail(m, got < 0 ? -errno : -EIO, "reading the chunk index scratch "
				    "file failed: %s", strerror(got < 0 ? errno : EIO));
		if ((ret = out_bytes(m, b->p, (size_t)got)))
			return ret;
		at += (uint64_t)got;
	}
	return 0;
}

struct qk_mcap *qk_mcap_open(const struct qk_mcap_opts *o, char *err, size_t n)
{
	struct qk_mcap *m = calloc(1, sizeof(*m));
	size_t r;

	if (!m) {
		snprintf(err, n, "out of memory");
		return NULL;
	}
	m->o = *o;
	if (!m->o.chunk_bytes)
		m->o.chunk_bytes = 512 * 1024;
	m->fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (m->fd < 0) {
		snprintf(err, n, "cannot create %s: %s", o->path, strerror(errno));
		free(m);
		return NULL;
	}
	m->spill_fd = open_spill(o->path);
	if (m->spill_fd < 0) {
		snprintf(err, n, "cannot create a scratch file beside %s: %s", o->path,
			 strerror(-m->spill_fd));
		close(m->fd);
		free(m);
		return NULL;
	}
	if (o->zstd && !(m->zc = ZSTD_createCCtx())) {
		snprintf(err, n, "cannot set up zstd");
		goto fail;
	}
	if (reserve(&m->chunk, m->o.chunk_bytes + 4096) || reserve(&m->out, 4096)) {
		snprintf(err, n, "out of memory");
		goto fail;
	}
	put(&m->out, magic, 8);
	r = begin_rec(&m->out, OP_HEADER);
	put_str(&m->out, "");				/* profile: none */
	put_str(&m->out, o->library ? o->library : "qiki");
	end_rec(&m->out, r);
	if (out_bytes(m, m->out.p, m->out.len)) {
		snprintf(err, n, "%s", m->err);
		goto fail;
	}
	m->out.len = 0;
	return m;
fail:
	if (m->zc)
		ZSTD_freeCCtx(m->zc);
	free(m->chunk.p);
	free(m->out.p);
	close(m->spill_fd);
	close(m->fd);
	free(m);
	return NULL;
}

int qk_mcap_schema(struct qk_mcap *m, const char *name, const char *encoding,
		   const void *data, size_t len)
{
	size_t r, at = m->defs.len;

	if (m->n_schemas == QK_MCAP_MAX_SCHEMAS)
		return -ENOSPC;
	if (reserve(&m->defs, 64 + strlen(name) + strlen(encoding) + len))
		return -ENOMEM;
	r = begin_rec(&m->defs, OP_SCHEMA);
	put16(&m->defs, (uint16_t)(m->n_schemas + 1));
	put_str(&m->defs, name);
	put_str(&m->defs, encoding);
	put32(&m->defs, (uint32_t)len);
	put(&m->defs, data, len);
	end_rec(&m->defs, r);
	/* in the data section too, before any message that needs it */
	int ret = out_bytes(m, m->defs.p + at, m->defs.len - at);

	return ret ? ret : ++m->n_schemas;
}

int qk_mcap_channel(struct qk_mcap *m, int schema_id, const char *topic, const char *encoding)
{
	size_t r, at = m->defs.len;

	if (m->n_channels == QK_MCAP_MAX_CHANNELS)
		return -ENOSPC;
	if (reserve(&m->defs, 64 + strlen(topic) + strlen(encoding)))
		return -ENOMEM;
	r = begin_rec(&m->defs, OP_CHANNEL);
	put16(&m->defs, (uint16_t)m->n_channels);
	put16(&m->defs, (uint16_t)schema_id);
	put_str(&m->defs, topic);
	put_str(&m->defs, encoding);
	put32(&m->defs, 0);			/* metadata: none */
	end_rec(&m->defs, r);
	int ret = out_bytes(m, m->defs.p + at, m->defs.len - at);

	return ret ? ret : m->n_channels++;
}

int qk_mcap_metadata(struct qk_mcap *m, const char *name, const char *const *keys,
		     const char *const *values, size_t n)
{
	struct buf b = { 0 };
	size_t r, map = 0;
	int ret;

	if (m->n_meta == QK_MCAP_MAX_METADATA)
		return -ENOSPC;
	for (size_t i = 0; i < n; i++)
		map += 8 + strlen(keys[i]) + strlen(values[i]);
	if (reserve(&b, 64 + strlen(name) + map))
		return -ENOMEM;
	r = begin_rec(&b, OP_METADATA);
	put_str(&b, name);
	put32(&b, (uint32_t)map);
	for (size_t i = 0; i < n; i++) {
		put_str(&b, keys[i]);
		put_str(&b, values[i]);
	}
	end_rec(&b, r);
	m->meta[m->n_meta].off = m->off;
	m->meta[m->n_meta].len = b.len;
	snprintf(m->meta[m->n_meta].name, sizeof(m->meta[0].name), "%s", name);
	ret = out_bytes(m, b.p, b.len);
	free(b.p);
	if (!ret)
		m->n_meta++;
	return ret;
}

int qk_mcap_attachment(struct qk_mcap *m, const char *name, const char *media_type,
		       uint64_t log_time, const void *data, size_t len)
{
	struct buf b = { 0 };
	size_t r;
	int ret;

	if (m->n_att == QK_MCAP_MAX_ATTACH)
		return -ENOSPC;
	if (reserve(&b, 64 + strlen(name) + strlen(media_type) + len))
		return -ENOMEM;
	r = begin_rec(&b, OP_ATTACHMENT);
	put64(&b, log_time);
	put64(&b, log_time);		/* create_time */
	put_str(&b, name);
	put_str(&b, media_type);
	put64(&b, len);
	put(&b, data, len);
	/* the CRC covers every field before it in the record */
	put32(&b, qk_crc32(0, b.p + r, b.len - r));
	end_rec(&b, r);
	m->att[m->n_att].off = m->off;
	m->att[m->n_att].len = b.len;
	m->att[m->n_att].log_time = log_time;
	m->att[m->n_att].size = len;
	snprintf(m->att[m->n_att].name, sizeof(m->att[0].name), "%s", name);
	snprintf(m->att[m->n_att].media_type, sizeof(m->att[0].media_type), "%s", media_type);
	ret = out_bytes(m, b.p, b.len);
	free(b.p);
	if (!ret)
		m->n_att++;
	return ret;
}

/* Writes the chunk being filled, and its message indexes. */
int qk_mcap_flush(struct qk_mcap *m)
{
	struct chunk_index ci = { .start = m->chunk_start, .end = m->chunk_end };
	const uint8_t *recs = m->chunk.p;
	size_t recs_len = m->chunk.len, r;
	int ret;

	if (m->failed)
		return m->failed;
	if (!m->chunk_msgs)
		return 0;
	if (m->zc) {
		size_t bound = ZSTD_compressBound(m->chunk.len);

		m->zbuf.len = 0;
		if (reserve(&m->zbuf, bound))
			return fail(m, -ENOMEM, "out of memory");
		size_t z = ZSTD_compressCCtx(m->zc, m->zbuf.p, bound, m->chunk.p, m->chunk.len, 1);

		if (ZSTD_isError(z))
			return fail(m, -EIO, "zstd: %s", ZSTD_getErrorName(z));
		recs = m->zbuf.p;
		recs_len = z;
	}
	m->out.len = 0;
	if (reserve(&m->out, 128))
		return fail(m, -ENOMEM, "out of memory");
	ci.offset = m->off;
	ci.uncompressed = m->chunk.len;
	ci.compressed = recs_len;
	put8(&m->out, OP_CHUNK);
	put64(&m->out, 8 + 8 + 8 + 4 + 4 + (m->zc ? 4 : 0) + 8 + recs_len);
	put64(&m->out, m->chunk_start);
	put64(&m->out, m->chunk_end);
	put64(&m->out, m->chunk.len);
	put32(&m->out, qk_crc32(0, m->chunk.p, m->chunk.len));
	put_str(&m->out, m->zc ? "zstd" : "");
	put64(&m->out, recs_len);
	if ((ret = out_bytes(m, m->out.p, m->out.len)) || (ret = out_bytes(m, recs, recs_len)))
		return ret;
	ci.length = m->off - ci.offset;
	/* one Message Index per channel in the chunk */
	uint64_t mi_start = m->off;

	for (int c = 0; c < m->n_channels; c++) {
		struct idx *x = &m->idx[c];

		if (!x->n)
			continue;
		m->out.len = 0;
		if (reserve(&m->out, 32 + x->n * 16))
			return fail(m, -ENOMEM, "out of memory");
		ci.mi_offset[c] = m->off;
		ci.mi_mask |= 1u << c;
		r = begin_rec(&m->out, OP_MESSAGE_INDEX);
		put16(&m->out, (uint16_t)c);
		put32(&m->out, (uint32_t)(x->n * 16));
		put(&m->out, x->pairs, x->n * 16);
		end_rec(&m->out, r);
		if ((ret = out_bytes(m, m->out.p, m->out.len)))
			return ret;
		x->n = 0;
	}
	ci.mi_len = m->off - mi_start;
	if ((ret = spill_chunk_index(m, &ci)))
		return ret;
	m->chunk.len = 0;
	m->chunk_msgs = 0;
	return 0;
}

int qk_mcap_write(struct qk_mcap *m, int channel, uint64_t log_time, uint64_t publish_time,
		  const void *data, size_t len)
{
	struct idx *x = &m->idx[channel];
	size_t r;
	int ret;

	if (m->failed)
		return m->failed;
	if (channel < 0 || channel >= m->n_channels)
		return -EINVAL;
	if (m->chunk.len + len + 64 > m->o.chunk_bytes && (ret = qk_mcap_flush(m)))
		return ret;
	if (reserve(&m->chunk, len + 64))
		return fail(m, -ENOMEM, "out of memory");
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 1024;
		uint64_t *p = realloc(x->pairs, cap * 16);

		if (!p)
			return fail(m, -ENOMEM, "out of memory");
		x->pairs = p;
		x->cap = cap;
	}
	x->pairs[2 * x->n] = log_time;
	x->pairs[2 * x->n + 1] = m->chunk.len;
	x->n++;
	r = begin_rec(&m->chunk, OP_MESSAGE);
	put16(&m->chunk, (uint16_t)channel);
	put32(&m->chunk, m->seq[channel]++);
	put64(&m->chunk, log_time);
	put64(&m->chunk, publish_time);
	put(&m->chunk, data, len);
	end_rec(&m->chunk, r);
	if (!m->chunk_msgs++ || log_time < m->chunk_start)
		m->chunk_start = log_time;
	if (m->chunk_msgs == 1 || log_time > m->chunk_end)
		m->chunk_end = log_time;
	if (!m->total++ || log_time < m->first)
		m->first = log_time;
	if (m->total == 1 || log_time > m->last)
		m->last = log_time;
	m->count[channel]++;
	return 0;
}

static void free_all(struct qk_mcap *m)
{
	if (m->zc)
		ZSTD_freeCCtx(m->zc);
	for (int c = 0; c < QK_MCAP_MAX_CHANNELS; c++)
		free(m->idx[c].pairs);
	free(m->chunk.p);
	free(m->out.p);
	free(m->zbuf.p);
	free(m->defs.p);
	close(m->spill_fd);
	free(m);
}

int qk_mcap_close(struct qk_mcap *m)
{
	uint64_t summary_start, groups[6][3];	/* opcode, start, length */
	int ng = 0, ret;
	size_t r;
	struct buf *b = &m->out;

	if (!m)
		return 0;
	ret = qk_mcap_flush(m);
	b->len = 0;
	if (!ret && reserve(b, 256 + m->defs.len + 64 * QK_MCAP_MAX_CHANNELS +
			    256 * (QK_MCAP_MAX_METADATA + QK_MCAP_MAX_ATTACH)))
		ret = fail(m, -ENOMEM, "out of memory");
	if (ret)
		goto out;
	r = begin_rec(b, OP_DATA_END);
	put32(b, 0);		/* data section CRC: not computed */
	end_rec(b, r);
	summary_start = m->off + b->len;
	/* summary: schemas and channels, statistics, chunk indexes */
	for (int g = 0; g < 2; g++) {	/* a group of schemas, then one of channels */
		uint8_t op = g ? OP_CHANNEL : OP_SCHEMA;

		groups[ng][0] = op;
		groups[ng][1] = m->off + b->len;
		for (size_t at = 0; at < m->defs.len;) {
			uint64_t len;

			memcpy(&len, m->defs.p + at + 1, 8);
			if (m->defs.p[at] == op)
				put(b, m->defs.p + at, 9 + len);
			at += 9 + len;
		}
		groups[ng][2] = m->off + b->len - groups[ng][1];
		ng++;
	}
	if (m->n_meta) {
		groups[ng][0] = OP_METADATA_INDEX;
		groups[ng][1] = m->off + b->len;
		for (int i = 0; i < m->n_meta; i++) {
			r = begin_rec(b, OP_METADATA_INDEX);
			put64(b, m->meta[i].off);
			put64(b, m->meta[i].len);
			put_str(b, m->meta[i].name);
			end_rec(b, r);
		}
		groups[ng][2] = m->off + b->len - groups[ng][1];
		ng++;
	}
	if (m->n_att) {
		groups[ng][0] = OP_ATTACHMENT_INDEX;
		groups[ng][1] = m->off + b->len;
		for (int i = 0; i < m->n_att; i++) {
			r = begin_rec(b, OP_ATTACHMENT_INDEX);
			put64(b, m->att[i].off);
			put64(b, m->att[i].len);
			put64(b, m->att[i].log_time);
			put64(b, m->att[i].log_time);
			put64(b, m->att[i].size);
			put_str(b, m->att[i].name);
			put_str(b, m->att[i].media_type);
			end_rec(b, r);
		}
		groups[ng][2] = m->off + b->len - groups[ng][1];
		ng++;
	}
	groups[ng][0] = OP_STATISTICS;
	groups[ng][1] = m->off + b->len;
	r = begin_rec(b, OP_STATISTICS);
	put64(b, m->total);
	put16(b, (uint16_t)m->n_schemas);
	put32(b, (uint32_t)m->n_channels);
	put32(b, (uint32_t)m->n_att);
	put32(b, (uint32_t)m->n_meta);
	put32(b, (uint32_t)m->n_ci);
	put64(b, m->total ? m->first : 0);
	put64(b, m->total ? m->last : 0);
	put32(b, (uint32_t)(m->n_channels * 10));
	for (int c = 0; c < m->n_channels; c++) {
		put16(b, (uint16_t)c);
		put64(b, m->count[c]);
	}
	end_rec(b, r);
	groups[ng][2] = m->off + b->len - groups[ng][1];
	ng++;
	if (m->n_ci) {
		/* what the summary holds so far goes out first; then the spill */
		if ((ret = out_bytes(m, b->p, b->len)))
			goto out;
		b->len = 0;
		groups[ng][0] = OP_CHUNK_INDEX;
		groups[ng][1] = m->off;
		if ((ret = copy_spill(m)))
			goto out;
		groups[ng][2] = m->off - groups[ng][1];
		ng++;
		b->len = 0;
	}
	uint64_t offsets_start = m->off + b->len;

	for (int g = 0; g < ng; g++) {
		r = begin_rec(b, OP_SUMMARY_OFFSET);
		put8(b, (uint8_t)groups[g][0]);
		put64(b, groups[g][1]);
		put64(b, groups[g][2]);
		end_rec(b, r);
	}
	r = begin_rec(b, OP_FOOTER);
	put64(b, summary_start);
	put64(b, offsets_start);
	put32(b, 0);		/* summary CRC: not computed */
	end_rec(b, r);
	put(b, magic, 8);
	ret = out_bytes(m, b->p, b->len);
	if (!ret && fsync(m->fd) && errno != EINVAL)
		ret = fail(m, -errno, "fsync of %s failed: %s", m->o.path, strerror(errno));
out:
	if (close(m->fd) && !ret)
		ret = fail(m, -errno, "closing %s failed: %s", m->o.path, strerror(errno));
	free_all(m);
	return ret;
}

uint64_t qk_mcap_messages(const struct qk_mcap *m, int channel)
{
	return channel < 0 ? m->total : m->count[channel];
}

uint64_t qk_mcap_bytes(const struct qk_mcap *m)
{
	return m->off;
}

uint32_t qk_mcap_chunks(const struct qk_mcap *m)
{
	return (uint32_t)m->n_ci;
}

/* ---- the reader --------------------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t len, at;
	bool bad;
};

static uint64_t get(struct rd *r, int n)
{
	uint64_t v = 0;

	if (r->at + (size_t)n > r->len) {
		r->bad = true;
		return 0;
	}
	memcpy(&v, r->p + r->at, (size_t)n);
	r->at += (size_t)n;
	return v;
}

static void get_str(struct rd *r, char *out, size_t n)
{
	uint32_t len = (uint32_t)get(r, 4);

	if (r->bad || r->at + len > r->len) {
		r->bad = true;
		out[0] = 0;
		return;
	}
	snprintf(out, n, "%.*s", (int)len, (const char *)r->p + r->at);
	r->at += len;
}

typedef int (*msg_fn)(void *, const struct qk_mcap_info *, int, uint64_t, const uint8_t *, size_t);

/* Walks a sequence of records (the file, or a chunk's). */
static int walk(struct rd *r, struct qk_mcap_info *in, msg_fn fn, void *ctx, bool top,
		char *err, size_t n)
{
	while (r->at + 9 <= r->len) {
		uint8_t op = r->p[r->at];
		uint64_t len;

		memcpy(&len, r->p + r->at + 1, 8);
		if (len > r->len - r->at - 9)
			break;			/* cut short: stop at the last whole record */
		struct rd c = { r->p + r->at + 9, len, 0, false };

		r->at += 9 + len;
		switch (op) {
		case OP_HEADER:
			get_str(&c, in->library, sizeof(in->library));	/* profile */
			get_str(&c, in->library, sizeof(in->library));
			break;
		case OP_SCHEMA: {
			uint16_t id = (uint16_t)get(&c, 2);
			char name[128], enc[32];

			get_str(&c, name, sizeof(name));
			get_str(&c, enc, sizeof(enc));
			uint32_t dl = (uint32_t)get(&c, 4);

			if (!c.bad && id <= QK_MCAP_MAX_SCHEMAS && c.at + dl <= c.len) {
				in->schema_data[id] = c.p + c.at;
				in->schema_len[id] = dl;
				snprintf(in->schema_name[id], sizeof(in->schema_name[id]), "%s", name);
			}
			break;
		}
		case OP_CHANNEL: {
			struct qk_mcap_channel_info ci = { 0 };

			ci.id = (int)get(&c, 2);
			ci.schema_id = (int)get(&c, 2);
			get_str(&c, ci.topic, sizeof(ci.topic));
			get_str(&c, ci.encoding, sizeof(ci.encoding));
			bool seen = false;

			for (uint32_t k = 0; k < in->n_channels; k++)
				seen |= in->ch[k].id == ci.id;
			if (!c.bad && !seen && in->n_channels < QK_MCAP_MAX_CHANNELS) {
				if (ci.schema_id >= 0 && ci.schema_id <= QK_MCAP_MAX_SCHEMAS)
					snprintf(ci.schema_name, sizeof(ci.schema_name), "%s",
						 in->schema_name[ci.schema_id]);
				in->ch[in->n_channels++] = ci;
			}
			break;
		}
		case OP_MESSAGE: {
			int ch = (int)get(&c, 2);
			uint64_t t;

			get(&c, 4);
			t = get(&c, 8);
			get(&c, 8);
			if (c.bad)
				break;
			for (uint32_t k = 0; k < in->n_channels; k++)
				if (in->ch[k].id == ch)
					in->ch[k].count++;
			if (!in->messages++ || t < in->first_time)
				in->first_time = t;
			if (in->messages == 1 || t > in->last_time)
				in->last_time = t;
			if (fn && fn(ctx, in, ch, t, c.p + c.at, c.len - c.at))
				return 1;
			break;
		}
		case OP_CHUNK: {
			char comp[16];

			get(&c, 8);
			get(&c, 8);
			uint64_t usize = get(&c, 8);

			get(&c, 4);
			get_str(&c, comp, sizeof(comp));
			uint64_t rl = get(&c, 8);

			if (c.bad || rl > c.len - c.at)
				break;
			in->chunks++;
			snprintf(in->compression, sizeof(in->compression), "%s", comp[0] ? comp : "none");
			if (!comp[0]) {
				struct rd sub = { c.p + c.at, rl, 0, false };

				if (walk(&sub, in, fn, ctx, false, err, n))
					return 1;
			} else if (!strcmp(comp, "zstd")) {
				uint8_t *u = malloc(usize ? usize : 1);

				if (!u)
					return snprintf(err, n, "out of memory"), -ENOMEM;
				size_t got = ZSTD_decompress(u, usize, c.p + c.at, rl);

				if (ZSTD_isError(got)) {
					free(u);
					snprintf(err, n, "a chunk does not decompress: %s", ZSTD_getErrorName(got));
					return -EBADMSG;
				}
				struct rd sub = { u, got, 0, false };
				int ret = walk(&sub, in, fn, ctx, false, err, n);

				free(u);
				if (ret)
					return ret;
			} else {
				snprintf(err, n, "chunk compression '%s' is not supported", comp);
				return -ENOTSUP;
			}
			break;
		}
		case OP_METADATA: {
			char rec[64];

			get_str(&c, rec, sizeof(rec));
			uint32_t ml = (uint32_t)get(&c, 4);

			if (c.bad || ml > c.len - c.at)
				break;
			struct rd mr = { c.p + c.at, ml, 0, false };

			while (!mr.bad && mr.at < mr.len && in->n_pairs < QK_MCAP_MAX_PAIRS) {
				struct qk_mcap_pair_info *pi = &in->pair[in->n_pairs];

				snprintf(pi->record, sizeof(pi->record), "%s", rec);
				get_str(&mr, pi->key, sizeof(pi->key));
				get_str(&mr, pi->value, sizeof(pi->value));
				if (!mr.bad)
					in->n_pairs++;
			}
			break;
		}
		case OP_ATTACHMENT: {
			struct qk_mcap_attach_info *ai = &in->attach[in->n_attach];

			if (in->n_attach == QK_MCAP_MAX_ATTACH)
				break;
			ai->log_time = get(&c, 8);
			get(&c, 8);
			get_str(&c, ai->name, sizeof(ai->name));
			get_str(&c, ai->media_type, sizeof(ai->media_type));
			ai->size = get(&c, 8);
			if (c.bad || ai->size > c.len - c.at || c.len - c.at - ai->size < 4)
				break;
			uint32_t crc;

			memcpy(&crc, c.p + c.at + ai->size, 4);
			ai->crc_ok = !crc || crc == qk_crc32(0, c.p, c.at + ai->size);
			ai->kept = ai->size < QK_MCAP_ATTACH_COPY ? ai->size : QK_MCAP_ATTACH_COPY;
			memcpy(ai->data, c.p + c.at, ai->kept);
			in->n_attach++;
			break;
		}
		case OP_DATA_END:
			if (top)
				return 0;	/* the summary repeats what we have */
			break;
		case OP_FOOTER:
			return 0;
		default:
			break;
		}
	}
	return 0;
}

int qk_mcap_read_mem(const void *buf, size_t len, const char *name, struct qk_mcap_info *info,
		     msg_fn fn, void *ctx, char *err, size_t n)
{
	const uint8_t *p = buf;

	memset(info, 0, sizeof(*info));
	snprintf(info->compression, sizeof(info->compression), "none");
	if (len < 8) {
		snprintf(err, n, "%s is not an MCAP file (too short)", name);
		return -EBADMSG;
	}
	if (memcmp(p, magic, 8)) {
		snprintf(err, n, "%s is not an MCAP file (no magic)", name);
		return -EBADMSG;
	}
	info->has_summary = len >= 16 && !memcmp(p + len - 8, magic, 8);
	struct rd r = { p, len - (info->has_summary ? 8 : 0), 8, false };
	int ret = walk(&r, info, fn, ctx, true, err, n);

	return ret < 0 ? ret : 0;
}

int qk_mcap_read(const char *path, struct qk_mcap_info *info, msg_fn fn, void *ctx,
		 char *err, size_t n)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;
	uint8_t *p;

	memset(info, 0, sizeof(*info));
	snprintf(info->compression, sizeof(info->compression), "none");
	if (fd < 0) {
		snprintf(err, n, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) || st.st_size < 8) {
		close(fd);
		snprintf(err, n, "%s is not an MCAP file (too short)", path);
		return -EBADMSG;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(err, n, "cannot map %s: %s", path, strerror(errno));
		return -errno;
	}
	ret = qk_mcap_read_mem(p, (size_t)st.st_size, path, info, fn, ctx, err, n);
	munmap(p, (size_t)st.st_size);
	return ret;
}
