/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/rt/test_log_read.c - binary log files (rt/log_file.h): every
 * argument type round-trips through the logger and the reader as printf
 * would have printed it; a file cut at every byte reads to its last whole
 * record; a hole left by a lost write is skipped; rotation defines the
 * sites again in the new file.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <cmocka.h>

#include "rt/log.h"
#include "rt/log_file.h"
#include "rt/log_read.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/qk-logr-test.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static struct qk_log *create(const char *name, char *path, size_t n, uint64_t rotate)
{
	char err[256] = "";
	struct qk_log_opts o = { .path = path, .proc = "test", .level = QK_LOG_DEBUG,
				 .format = QK_LOG_BINARY, .avoid_cpu = -1, .rotate_bytes = rotate,
				 .keep = 2 };
	struct qk_log *lg;

	snprintf(path, n, "%s/%s", dir, name);
	lg = qk_log_create(&o, err, sizeof(err));
	if (!lg)
		fail_msg("qk_log_create: %s", err);
	return lg;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *d;
	long sz;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	d = malloc((size_t)sz + 1);
	assert_int_equal(fread(d, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	*len = (size_t)sz;
	return d;
}

/* The records of a file as messages, with where each one ends. */
struct got {
	int n;
	char msg[256][320];
	int level[256];
	size_t end[256];
	int64_t ns[256];
};

static int collect(void *ctx, const struct qk_logr *r, const struct qk_logr_rec *rec)
{
	struct got *g = ctx;

	if (g->n >= 256)
		return -E2BIG;
	if (rec->site) {
		qk_log_fmt_render(&rec->site->pf, rec->a, rec->nargs, g->msg[g->n], sizeof(g->msg[0]));
		g->level[g->n] = rec->site->level;
	} else {
		snprintf(g->msg[g->n], sizeof(g->msg[0]), "<site %u>", rec->site_id);
	}
	g->end[g->n] = qk_logr_pos(r);
	g->ns[g->n] = rec->ns;
	g->n++;
	return 0;
}

static int read_all(const uint8_t *d, size_t len, struct got *g, struct qk_logr_stats *st)
{
	struct qk_logr *r = qk_logr_create();
	int ret;

	assert_non_null(r);
	memset(g, 0, sizeof(*g));
	ret = qk_logr_feed(r, d, len, true, collect, g);
	if (st)
		qk_logr_get_stats(r, st);
	qk_logr_destroy(r);
	return ret;
}

#define CASE(...) do { \
		QK_INFO(lg, __VA_ARGS__); \
		snprintf(want[n], sizeof(want[0]), __VA_ARGS__); \
		n++; \
	} while (0)

static void test_log_read_every_argument_type_round_trips(void **state)
{
	static char want[64][320], path[128];
	static struct got g;
	struct qk_log *lg = create("types.qlog", path, sizeof(path), 0);
	char stack[32], big[400];
	static char mutable_name[16] = "mutable";
	const char *null = NULL;
	int n = 0, x = 7;
	signed char sc = -5;
	unsigned char uc = 250;
	short sh = -1234;
	unsigned short us = 65000;
	long l = -1234567890123l;
	unsigned long ul = 18446744073709551615ul;
	long long ll = LLONG_MIN;
	unsigned long long ull = ULLONG_MAX;
	size_t z = 123456789;
	ptrdiff_t pd = -42;
	float fl = 3.25f;
	bool b = true;
	char c = 'q';
	size_t len;
	int64_t t0;
	struct timespec ts;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	snprintf(stack, sizeof(stack), "on the stack");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CASE("plain text, no arguments");
	CASE("%d %i %u %x %X %o", -17, 42, 3000000000u, 0xbeef, 0xbeef, 8);
	CASE("%c%c %hhd %hhu %hd %hu", 'o', 'k', sc, uc, sh, us);
	CASE("%ld %lu %lld %llu %llx", l, ul, ll, ull, ull);
	CASE("%zu %zd %td", z, (ssize_t)-3, pd);
	CASE("%5d|%-5d|%05d|%+d|% d|%#x|%#o", 42, 42, 42, 42, 42, 255, 8);
	CASE("%f %.3f %10.2e %g %G %E", 3.14159265, 2.0 / 3, 12345.678, 1e-7, 1e20, -0.5);
	CASE("float %f, bool %d, char %c", fl, b, c);
	CASE("%s|%.3s|%10s|%-10s|%s", "literal", "truncated", "right", "left", stack);
	CASE("%s %s", mutable_name, QK_LOG_STATIC(mutable_name));
	CASE("%*d|%.*f|", 6, 7, 2, 3.14159);
	CASE("%p %p", (void *)&x, (void *)0);
	CASE("eight: %d %d %d %d %d %d %d %s", 1, 2, 3, 4, 5, 6, 7, "8");
	CASE("%s and %s", "", stack);
	QK_WARN(lg, "null %s", null);
	snprintf(want[n++], sizeof(want[0]), "null (null)");
	QK_ERROR(lg, "<%s>", big);	/* a copied string keeps QK_LOG_STR_MAX bytes */
	snprintf(want[n++], sizeof(want[0]), "<%.*s>", QK_LOG_STR_MAX, big);
	/* a static string seen again later in the file is defined once */
	CASE("again: %s %s", "literal", "right");
	qk_log_destroy(lg);

	uint8_t *d = slurp(path, &len);
	struct qk_logr_stats st;

	assert_int_equal(read_all(d, len, &g, &st), 0);
	assert_int_equal(g.n, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(g.msg[i], want[i]);
	assert_int_equal(g.level[0], QK_LOG_INFO);
	assert_int_equal(g.level[n - 3], QK_LOG_WARN);
	assert_int_equal(g.level[n - 2], QK_LOG_ERROR);
	for (int i = 0; i < n; i++) {	/* monotonic ns, after we started */
		assert_true(g.ns[i] >= t0);
		assert_true(i == 0 || g.ns[i] >= g.ns[i - 1]);
	}
	assert_int_equal(st.skipped_bytes, 0);
	assert_int_equal(st.unknown, 0);
	assert_int_equal(st.bad, 0);
	free(d);
}

static void test_log_read_a_file_cut_anywhere_reads_to_its_last_whole_record(void **state)
{
	static char path[128];
	static struct got full, g;
	struct qk_log *lg = create("cut.qlog", path, sizeof(path), 0);
	char name[40];
	size_t len;

	(void)state;
	for (int i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "%.*s", i % 37, "a string whose length varies by record");
		QK_INFO(lg, "record %d %s %.2f", i, name, i * 0.25);
		if (i % 20 == 19)
			qk_log_flush(lg);	/* several chunks */
	}
	qk_log_destroy(lg);

	uint8_t *d = slurp(path, &len);

	assert_int_equal(read_all(d, len, &full, NULL), 0);
	assert_int_equal(full.n, 60);
	assert_int_equal(full.end[59], len);
	for (size_t cut = 0; cut <= len; cut++) {
		int want = 0;

		while (want < full.n && full.end[want] <= cut)
			want++;
		assert_int_equal(read_all(d, cut, &g, NULL), 0);
		if (g.n != want)
			fail_msg("cut at %zu of %zu: %d records, expected %d", cut, len, g.n, want);
		for (int i = 0; i < want; i++)
			assert_string_equal(g.msg[i], full.msg[i]);
	}
	free(d);
}

static void test_log_read_skips_a_hole_and_reads_on(void **state)
{
	static char path[128];
	static struct got full, g;
	struct qk_log *lg = create("hole.qlog", path, sizeof(path), 0);
	struct qk_logr_stats st;
	size_t len;

	(void)state;
	for (int i = 0; i < 30; i++) {
		QK_INFO(lg, "r%d", i);
		if (i % 10 == 9)
			qk_log_flush(lg);	/* three chunks of ten */
	}
	qk_log_destroy(lg);

	uint8_t *d = slurp(path, &len);

	assert_int_equal(read_all(d, len, &full, NULL), 0);
	assert_int_equal(full.n, 30);
	/* the second chunk never reached the disk: zeros where it was */
	size_t from = full.end[9], to = full.end[19];

	memset(d + from, 0, to - from);
	struct qk_logr *r = qk_logr_create();

	memset(&g, 0, sizeof(g));
	/* not final: a write may still be in flight, so the reader waits there */
	assert_int_equal(qk_logr_feed(r, d, len, false, collect, &g), 0);
	assert_int_equal(g.n, 10);
	assert_int_equal(qk_logr_pos(r), from);
	/* final: it skips the hole */
	assert_int_equal(qk_logr_feed(r, d, len, true, collect, &g), 0);
	qk_logr_get_stats(r, &st);
	qk_logr_destroy(r);
	assert_int_equal(g.n, 20);
	assert_string_equal(g.msg[9], "r9");
	assert_string_equal(g.msg[10], "r20");
	assert_string_equal(g.msg[19], "r29");
	assert_int_equal(st.skipped_bytes, to - from);
	free(d);
}

static void test_log_read_rotated_files_each_define_their_sites(void **state)
{
	static char path[128], p1[160];
	static struct got g, g1;
	struct qk_log *lg = create("rot.qlog", path, sizeof(path), 4096);
	struct qk_log_stats ls;
	size_t len, len1;

	(void)state;
	for (int i = 0; i < 400; i++) {
		QK_INFO(lg, "line %d of %s", i, "the rotation test");
		if (i % 50 == 49)
			qk_log_flush(lg);
	}
	qk_log_get_stats(lg, &ls);
	qk_log_destroy(lg);
	assert_true(ls.rotations >= 1);
	snprintf(p1, sizeof(p1), "%s.1", path);

	uint8_t *d = slurp(path, &len), *d1 = slurp(p1, &len1);

	assert_int_equal(read_all(d, len, &g, NULL), 0);
	assert_int_equal(read_all(d1, len1, &g1, NULL), 0);
	assert_true(g.n > 0 && g1.n > 0);
	assert_string_equal(g.msg[g.n - 1], "line 399 of the rotation test");
	/* the newest file starts where the one before ended */
	int k;

	assert_int_equal(sscanf(g1.msg[g1.n - 1], "line %d", &k), 1);
	char want[64];

	snprintf(want, sizeof(want), "line %d of the rotation test", k + 1);
	assert_string_equal(g.msg[0], want);
	free(d);
	free(d1);
}

static void test_log_read_refuses_what_is_not_a_binary_log(void **state)
{
	const char *text = "2026-11-24T18:55:30.123456Z 1.000000 a[1] INFO  x.c:1: text\n";
	struct qk_logr *r = qk_logr_create();

	(void)state;
	assert_int_equal(qk_logr_feed(r, (const uint8_t *)text, strlen(text), true, NULL, NULL),
			 -EPROTO);
	qk_logr_destroy(r);
	r = qk_logr_create();
	assert_int_equal(qk_logr_feed(r, (const uint8_t *)"QIKI", 4, true, NULL, NULL), 0);
	qk_logr_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_read_every_argument_type_round_trips),
		cmocka_unit_test(test_log_read_a_file_cut_anywhere_reads_to_its_last_whole_record),
		cmocka_unit_test(test_log_read_skips_a_hole_and_reads_on),
		cmocka_unit_test(test_log_read_rotated_files_each_define_their_sites),
		cmocka_unit_test(test_log_read_refuses_what_is_not_a_binary_log),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
