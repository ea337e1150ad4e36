/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/log_file.h - the binary log file (--log-format binary), written by the
 * logger thread (rt/log.c) and read by qiki-log through rt/log_read.c.
 *
 * Layout, little-endian, every entry 8-byte aligned:
 *   file header (64 bytes, struct qk_logf_hdr)
 *   chunks: struct qk_logf_chunk, then `bytes` of entries.  A chunk is one
 *     write of the logger; writes go to explicit offsets, several at once,
 *     so a crash can leave the last chunks short or a hole of zeros
 *     between them.  A reader takes the whole entries of a short chunk and
 *     finds the next chunk by its magic.
 *   entries: struct qk_logf_ent, then its payload; `bytes` counts both.
 *     kind QK_LOGF_SITE: a call site, before its first record in the file:
 *       struct qk_logf_site, then fmt and file, each NUL-terminated.
 *     kind QK_LOGF_STR: a string logged by pointer, before its first use:
 *       u32 id, u32 len, then len bytes and a NUL.
 *     any other kind is a record of the site with that id: i64 time
 *       (CLOCK_MONOTONIC ns), then one 8-byte slot per argument (integer,
 *       double bits, pointer), strings as: slot = QK_LOGF_SREF | string id,
 *       or slot = length (QK_LOGF_NULL: a NULL string) with the bytes, a NUL
 *       and padding to 8 after the slots, in argument order.
 * Each file (a rotated one too) defines every site and string it uses.
 */
#ifndef QK_RT_LOG_FILE_H
#define QK_RT_LOG_FILE_H

#include <stdint.h>

#define QK_LOGF_MAGIC "QIKILOG1"
#define QK_LOGF_VERSION 1
#define QK_LOGF_CHUNK_MAGIC 0x4b4e4843u	/* "CHNK" */
#define QK_LOGF_SITE 0xffffffffu
#define QK_LOGF_STR 0xfffffffeu
#define QK_LOGF_MAX_ID 0xffff0000u
#define QK_LOGF_SREF (1ull << 63)
#define QK_LOGF_NULL 0xffffffffull

struct qk_logf_hdr {
	char magic[8];
	uint32_t version;
	uint32_t hdr_bytes;		/* 64 */
	int64_t wall_off_ns;		/* CLOCK_REALTIME - CLOCK_MONOTONIC at open */
	int32_t pid;
	uint32_t reserved;
	char proc[32];
};
_Static_assert(sizeof(struct qk_logf_hdr) == 64, "log file header");

struct qk_logf_chunk {
	uint32_t magic;
	uint32_t bytes;			/* of entries after this header */
	uint64_t seq;			/* chunks of one file count up from 0 */
};
_Static_assert(sizeof(struct qk_logf_chunk) == 16, "log chunk header");

struct qk_logf_ent {
	uint32_t bytes;			/* this header included; multiple of 8 */
	uint32_t kind;			/* site id, or QK_LOGF_SITE, QK_LOGF_STR */
};

struct qk_logf_site {
	uint32_t id;
	int32_t level;
	int32_t line;
	uint32_t types;			/* enum qk_log_argt, 4 bits per argument */
	uint32_t nargs;
	uint16_t fmt_len, file_len;	/* NULs not counted */
};
_Static_assert(sizeof(struct qk_logf_site) == 24, "log site entry");

#endif
