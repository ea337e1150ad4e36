/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ctl/json.c - streaming JSON writer; see ctl/json.h. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ctl/json.h"

static void put_str(FILE *f, const char *s, size_t max)
{
	fputc('"', f);
	for (size_t i = 0; i < max && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* The separator and key before a member. */
static void member(struct qk_json *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
	if (key) {
		put_str(j->f, key, SIZE_MAX);
		fputc(':', j->f);
	}
}

static void open_(struct qk_json *j, const char *key, char ch)
{
	member(j, key);
	fputc(ch, j->f);
	if (j->depth + 1 < QK_JSON_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
	j->kind[j->depth] = ch;
}

void qk_json_begin(struct qk_json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first[0] = true;
	fputc('{', f);
	j->kind[0] = '{';
}

void qk_json_end(struct qk_json *j)
{
	fputs("}\n", j->f);
	fflush(j->f);
}

void qk_json_obj(struct qk_json *j, const char *key)
{
	open_(j, key, '{');
}

void qk_json_arr(struct qk_json *j, const char *key)
{
	open_(j, key, '[');
}

void qk_json_close(struct qk_json *j)
{
	fputc(j->kind[j->depth] == '[' ? ']' : '}', j->f);
	if (j->depth > 0)
		j->depth--;
}

void qk_json_str(struct qk_json *j, const char *key, const char *v)
{
	member(j, key);
	put_str(j->f, v ? v : "", SIZE_MAX);
}

void qk_json_strn(struct qk_json *j, const char *key, const char *v, size_t max)
{
	member(j, key);
	put_str(j->f, v, max);
}

void qk_json_u64(struct qk_json *j, const char *key, uint64_t v)
{
	member(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void qk_json_i64(struct qk_json *j, const char *key, int64_t v)
{
	member(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void qk_json_f64(struct qk_json *j, const char *key, double v)
{
	member(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.9g", v);
	else
		fputs("null", j->f);
}

void qk_json_bool(struct qk_json *j, const char *key, bool v)
{
	member(j, key);
	fputs(v ? "true" : "false", j->f);
}

void qk_json_vec(struct qk_json *j, const char *key, const double v[3])
{
	qk_json_arr(j, key);
	for (int i = 0; i < 3; i++)
		qk_json_f64(j, NULL, v[i]);
	qk_json_close(j);
}

void qk_json_pair(struct qk_json *j, int64_t a, uint64_t b)
{
	member(j, NULL);
	fprintf(j->f, "[%" PRId64 ",%" PRIu64 "]", a, b);
}
