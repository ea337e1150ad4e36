/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * proto/mcap.h - an MCAP writer and reader (https://mcap.dev/spec, major
 * version 0), written for qiki-telemetry.
 *
 * Writer.  Schemas and channels go to the data section first (and any
 * Metadata and Attachment records, which the summary indexes), then
 * messages are gathered into chunks (optionally zstd-compressed), each
 * followed by one Message Index record per channel in it.  Closing writes
 * Data End, a summary (schemas, channels, statistics, chunk indexes), the
 * summary offsets, the footer and the closing magic, so indexed readers
 * open the file at once.  A file cut short (the process killed) is still
 * readable, without a summary, up to its last complete chunk.
 *
 * Memory: the chunk buffer, its compression buffer and the per-channel
 * index arrays are reused from chunk to chunk; they grow (amortised) only
 * when a chunk holds more than any before it.  Nothing is allocated per
 * message.
 *
 * Not thread-safe: one writer per file.  Errors are -errno, with the
 * message in qk_mcap_error().
 */
#ifndef QK_PROTO_MCAP_H
#define QK_PROTO_MCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QK_MCAP_MAX_SCHEMAS 16
#define QK_MCAP_MAX_CHANNELS 32
#define QK_MCAP_MAX_METADATA 8		/* Metadata records a writer indexes */
#define QK_MCAP_MAX_ATTACH 4		/* Attachment records a writer indexes */
#define QK_MCAP_MAX_PAIRS 48		/* metadata key/value pairs a reader keeps */
#define QK_MCAP_ATTACH_COPY 32768	/* bytes of an attachment a reader keeps */

struct qk_mcap_opts {
	const char *path;
	bool zstd;			/* compress chunks */
	size_t chunk_bytes;		/* uncompressed chunk size; 0: 512 KiB */
	const char *library;		/* Header.library */
};

struct qk_mcap;

struct qk_mcap *qk_mcap_open(const struct qk_mcap_opts *o, char *err, size_t n);
/* Returns the schema id (>= 1), or -errno. */
int qk_mcap_schema(struct qk_mcap *m, const char *name, const char *encoding,
		   const void *data, size_t len);
/* Returns the channel id (>= 0), or -errno. */
int qk_mcap_channel(struct qk_mcap *m, int schema_id, const char *topic, const char *encoding);
/* One message; log_time in nanoseconds.  0, or -errno (the file is then
 * readable up to its last complete chunk). */
int qk_mcap_write(struct qk_mcap *m, int channel, uint64_t log_time, uint64_t publish_time,
		  const void *data, size_t len);
/* A Metadata record (a name and n key/value pairs) in the data section,
 * indexed in the summary; before the first message, so that a file cut
 * short still describes itself.  0, or -errno (-ENOSPC past
 * QK_MCAP_MAX_METADATA). */
int qk_mcap_metadata(struct qk_mcap *m, const char *name, const char *const *keys,
		     const char *const *values, size_t n);
/* An Attachment record (a named file, with its CRC-32), indexed in the
 * summary.  0, or -errno (-ENOSPC past QK_MCAP_MAX_ATTACH). */
int qk_mcap_attachment(struct qk_mcap *m, const char *name, const char *media_type,
		       uint64_t log_time, const void *data, size_t len);
/* Writes the chunk being filled now (so that a reader sees it). */
int qk_mcap_flush(struct qk_mcap *m);
/* Finishes the file (summary, footer) and frees.  0, or -errno. */
int qk_mcap_close(struct qk_mcap *m);
const char *qk_mcap_error(const struct qk_mcap *m);
uint64_t qk_mcap_messages(const struct qk_mcap *m, int channel);	/* -1: all */
uint64_t qk_mcap_bytes(const struct qk_mcap *m);	/* written to the file so far */
uint32_t qk_mcap_chunks(const struct qk_mcap *m);

/* ---- reading: every message of a file, in file order ---------------------- */

struct qk_mcap_channel_info {
	int id, schema_id;
	char topic[128], encoding[32], schema_name[128];
	uint64_t count;
};

struct qk_mcap_pair_info {		/* one key of a Metadata record */
	char record[64], key[64], value[256];
};

struct qk_mcap_attach_info {
	char name[128], media_type[64];
	uint64_t log_time, size;
	bool crc_ok;			/* its CRC-32 matches (or it carries none) */
	size_t kept;			/* bytes in data: size, at most QK_MCAP_ATTACH_COPY */
	uint8_t data[QK_MCAP_ATTACH_COPY];
};

struct qk_mcap_info {
	bool has_summary;		/* finished properly */
	uint32_t n_pairs, n_attach;	/* metadata pairs and attachments kept */
	struct qk_mcap_pair_info pair[QK_MCAP_MAX_PAIRS];
	struct qk_mcap_attach_info attach[QK_MCAP_MAX_ATTACH];
	uint64_t messages, first_time, last_time;
	uint32_t chunks, n_channels;
	char library[128], compression[16];
	struct qk_mcap_channel_info ch[QK_MCAP_MAX_CHANNELS];
	char schema_name[QK_MCAP_MAX_SCHEMAS + 1][128];		/* by schema id */
	const uint8_t *schema_data[QK_MCAP_MAX_SCHEMAS + 1];	/* valid in the callback */
	size_t schema_len[QK_MCAP_MAX_SCHEMAS + 1];
};

/* Calls fn for every message (return non-zero to stop); fills *info.  Reads
 * a file cut short up to its last complete record.  0, or -errno with err. */
int qk_mcap_read(const char *path, struct qk_mcap_info *info,
		 int (*fn)(void *ctx, const struct qk_mcap_info *info, int channel,
			   uint64_t log_time, const uint8_t *data, size_t len),
		 void *ctx, char *err, size_t n);

/* The same over a file already in memory (name for messages): the fuzzer's
 * way in. */
int qk_mcap_read_mem(const void *buf, size_t len, const char *name, struct qk_mcap_info *info,
		     int (*fn)(void *ctx, const struct qk_mcap_info *info, int channel,
			       uint64_t log_time, const uint8_t *data, size_t len),
		     void *ctx, char *err, size_t n);

uint32_t qk_crc32(uint32_t crc, const void *p, size_t n);

#endif
