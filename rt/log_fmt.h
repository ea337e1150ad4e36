/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/log_fmt.h - printf formatting of logged arguments, for the logger
 * thread's text output and for qiki-log: a format is parsed once into a
 * qk_log_fmt (each call site's is cached by its user), then rendered per
 * record from the raw arguments, without snprintf for the common
 * conversions (d i u o x X c s p, and f F exactly: correctly rounded as
 * glibc's printf, ties to even).  %e %E %g %G %a %A and the ' flag are
 * delegated to snprintf, one call for that argument.
 *
 * Contract: no global state; qk_log_fmt_parse() and qk_log_fmt_render()
 * are pure functions of their arguments, callable from any thread.
 */
#ifndef QK_RT_LOG_FMT_H
#define QK_RT_LOG_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "rt/log.h"

#define QK_LOG_FMT_SPECS 24	/* conversions parsed per format; the rest is text */

/* One argument as logged: v holds integers (widened), double bits, pointers;
 * s (len bytes, NUL-terminated) strings, NULL for a NULL string. */
struct qk_log_arg {
	uint64_t v;
	const char *s;
	uint32_t len;
	uint8_t t;			/* enum qk_log_argt */
};

struct qk_log_spec {
	uint32_t lit_off, lit_len;	/* the text before the conversion */
	int width, prec;		/* -1: none; stars resolved at render */
	uint8_t flags, lenmod, wstar, pstar;
	char conv;			/* 0: the text only (the format's end) */
};

struct qk_log_fmt {
	const char *fmt;
	unsigned n;			/* specs, the last one conv 0 */
	struct qk_log_spec s[QK_LOG_FMT_SPECS + 1];
};

void qk_log_fmt_parse(struct qk_log_fmt *f, const char *fmt);
/* The message as printf would have written it; returns its length,
 * truncated to n - 1, NUL-terminated. */
size_t qk_log_fmt_render(const struct qk_log_fmt *f, const struct qk_log_arg *a, unsigned nargs,
			 char *buf, size_t n);

/* %.*f of x into buf (n >= 352 covers every case); exact; returns the length. */
size_t qk_log_fmt_f(char *buf, size_t n, double x, int prec, unsigned flags, int width);

/* The parts of a text or JSON line that do not change per record. */
struct qk_log_linectx {
	enum qk_log_format format;
	int64_t wall_off_ns;		/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	char who[96];			/* "proc[pid]", JSON: "\"proc\":\"x\",\"pid\":N" */
	int64_t cal_sec;		/* the cached calendar second */
	char cal[24];
};

void qk_log_line_init(struct qk_log_linectx *c, enum qk_log_format fmt, const char *proc, int pid,
		      int64_t wall_off_ns);
/* The line's fixed part after the times for one site: text "INFO  file:12: ",
 * JSON "\"level\":\"info\",\"file\":\"file\",\"line\":12,\"msg\":\"". */
size_t qk_log_site_prefix(char *d, size_t n, enum qk_log_format fmt, int level, const char *file,
			  int line);
/* One whole line, newline included, into d (n bytes); returns its length
 * (0 when n is too small). prefix: qk_log_site_prefix()'s, in c's format. */
size_t qk_log_line(struct qk_log_linectx *c, char *d, size_t n, int64_t mono_ns,
		   const char *prefix, size_t plen, const char *msg, size_t mlen);
/* JSON string escaping of s (len bytes) into d; returns the length. */
size_t qk_log_json_str(char *d, size_t n, const char *s, size_t len);

#endif
