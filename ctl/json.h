/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ctl/json.h - a small streaming JSON writer for the tools' --json output.
 * Strings are escaped per RFC 8259; non-finite numbers become null.  Not for
 * the hot path (stdio).
 */
#ifndef QK_CTL_JSON_H
#define QK_CTL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define QK_JSON_DEPTH 8

struct qk_json {
	FILE *f;
	int depth;
	bool first[QK_JSON_DEPTH];	/* no member written yet at this depth */
	char kind[QK_JSON_DEPTH];	/* '{' or '[' */
};

void qk_json_begin(struct qk_json *j, FILE *f);		/* opens the top object */
void qk_json_end(struct qk_json *j);			/* closes it, newline */
void qk_json_obj(struct qk_json *j, const char *key);	/* key NULL inside arrays */
void qk_json_arr(struct qk_json *j, const char *key);
void qk_json_close(struct qk_json *j);
void qk_json_str(struct qk_json *j, const char *key, const char *v);
void qk_json_strn(struct qk_json *j, const char *key, const char *v, size_t max);
void qk_json_u64(struct qk_json *j, const char *key, uint64_t v);
void qk_json_i64(struct qk_json *j, const char *key, int64_t v);
void qk_json_f64(struct qk_json *j, const char *key, double v);
void qk_json_bool(struct qk_json *j, const char *key, bool v);
void qk_json_vec(struct qk_json *j, const char *key, const double v[3]);
void qk_json_pair(struct qk_json *j, int64_t a, uint64_t b);	/* [a, b] in an array */

#endif
