/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/rt/test_log_fmt.c - the log formatter (rt/log_fmt.h) against
 * snprintf: %.Nf exact on random doubles of every magnitude and on ties,
 * integers with every flag, strings, pointers; %e %g %a are delegated to
 * snprintf and checked only for being passed through.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rt/log_fmt.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)	/* xorshift64*: a fixed sequence, so a failure repeats */
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static struct qk_log_arg dbl(double x)
{
	struct qk_log_arg a = { 0, NULL, 0, QK_LA_DBL };

	memcpy(&a.v, &x, 8);
	return a;
}

static struct qk_log_arg num(long long v, int t)
{
	return (struct qk_log_arg){ (uint64_t)v, NULL, 0, (uint8_t)t };
}

static struct qk_log_arg str(const char *s)
{
	return (struct qk_log_arg){ 0, s, s ? (uint32_t)strlen(s) : 0, QK_LA_STR };
}

/* Formats fmt with one double both ways; fails with the value on a difference. */
static void check_f(const char *fmt, double x)
{
	struct qk_log_fmt f;
	struct qk_log_arg a = dbl(x);
	char got[512], want[512];

	qk_log_fmt_parse(&f, fmt);
	qk_log_fmt_render(&f, &a, 1, got, sizeof(got));
	snprintf(want, sizeof(want), fmt, x);
	if (strcmp(got, want))
		fail_msg("format \"%s\" of %a (%.17g): got \"%s\", snprintf \"%s\"", fmt, x, x, got, want);
}

static void test_log_fmt_f_is_exact_on_random_doubles(void **state)
{
	char fmt[16];

	(void)state;
	for (int i = 0; i < 200000; i++) {
		uint64_t r = next();
		int prec = (int)(r % 21);		/* 0..20: 20 goes to snprintf */
		double x;

		switch ((r >> 8) % 4) {
		case 0: {	/* any exponent in the exact range, random mantissa */
			int e = (int)((r >> 16) % 140) - 75;

			x = ldexp((double)(next() >> 11), e - 53);
			break;
		}
		case 1:		/* figures a loop logs: a few units with decimals */
			x = (double)(int64_t)(next() % 2000000001ull - 1000000000) / 1e6;
			break;
		case 2: {	/* any bit pattern: subnormals, huge, inf, nan */
			uint64_t b = next();

			memcpy(&x, &b, 8);
			break;
		}
		default:	/* near a rounding boundary of the precision */
			x = (double)(int64_t)(next() % 20000001ull - 10000000) / pow(10, prec) +
			    5 / pow(10, prec + 1);
			break;
		}
		if (r & (1ull << 40))
			x = -x;
		snprintf(fmt, sizeof(fmt), "%%.%df", prec);
		check_f(fmt, x);
	}
}

static void test_log_fmt_f_ties_go_to_even_as_printf(void **state)
{
	static const char *const fmts[] = { "%.0f", "%.1f", "%.2f", "%.3f", "%.5f", "%.10f", "%f" };

	(void)state;
	check_f("%.2f", 0.125);		/* 0.12: the tie goes to even */
	check_f("%.2f", 0.375);		/* 0.38 */
	check_f("%.0f", 0.5);
	check_f("%.0f", 1.5);
	check_f("%.0f", 2.5);
	check_f("%.1f", 0.25);
	check_f("%.1f", -0.25);
	check_f("%.3f", 1.0005);	/* not a tie in binary: below it */
	/* every k / 2^j is exact in binary: ties at precision j - 1 */
	for (int j = 1; j <= 20; j++)
		for (int k = -300; k <= 300; k++)
			for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
				check_f(fmts[i], ldexp(k, -j));
	for (int i = 0; i < 100000; i++) {	/* big numerators, ties at random places */
		int j = (int)(next() % 60) + 1;
		double x = ldexp((double)(next() >> 12), -j);
		char fmt[16];

		snprintf(fmt, sizeof(fmt), "%%.%df", (int)(next() % 20));
		check_f(fmt, x);
	}
}

static void test_log_fmt_f_flags_and_edges(void **state)
{
	static const char *const fmts[] = {
		"%f", "%10.3f", "%-10.3f|", "%+.2f", "% .2f", "%010.2f", "%-+010.1f|", "%#.0f",
		"%.19f", "%.20f", "%25.19f", "%F", "%.3F",
	};
	const double xs[] = { 0.0, -0.0, 1.0, -1.0, 0.1, 1e-300, 5e-324, DBL_MIN, 9.2233720368547e18,
			      9.3e18, 1e19, DBL_MAX, INFINITY, -INFINITY, NAN, 123456.789, 0.9999999,
			      0.99999999999999999, 2.675, 1e-7 };

	(void)state;
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
		for (size_t k = 0; k < sizeof(xs) / sizeof(xs[0]); k++)
			check_f(fmts[i], xs[k]);
}

static void test_log_fmt_integers_with_every_flag(void **state)
{
	static const char *const convs[] = { "d", "i", "u", "x", "X", "o" };
	static const char *const lens[] = { "", "hh", "h", "l", "ll", "z", "j" };
	static const char *const flags[] = { "", "-", "+", " ", "0", "#", "-#", "+0", "- ", "0#" };
	struct qk_log_fmt f;
	char fmt[32], got[128], want[128];

	(void)state;
	for (int i = 0; i < 100000; i++) {
		const char *c = convs[next() % 6], *l = lens[next() % 7], *fl = flags[next() % 10];
		int w = (int)(next() % 25) - 2, p = (int)(next() % 25) - 2;
		long long v = (long long)next() >> (next() % 64);
		char ws[8] = "", ps[8] = "";

		if (w > 0)
			snprintf(ws, sizeof(ws), "%d", w);
		if (p >= 0)
			snprintf(ps, sizeof(ps), ".%d", p);
		snprintf(fmt, sizeof(fmt), "<%%%s%s%s%s%s>", fl, ws, ps, l, c);
		struct qk_log_arg a = num(v, (c[0] == 'd' || c[0] == 'i') ? QK_LA_INT : QK_LA_UINT);

		qk_log_fmt_parse(&f, fmt);
		qk_log_fmt_render(&f, &a, 1, got, sizeof(got));
		/* printf reads the argument as the length modifier says */
		if (!strcmp(l, "") || !strcmp(l, "hh") || !strcmp(l, "h"))
			snprintf(want, sizeof(want), fmt, (int)v);
		else
			snprintf(want, sizeof(want), fmt, v);
		if (strcmp(got, want))
			fail_msg("format \"%s\" of %lld: got \"%s\", snprintf \"%s\"", fmt, v, got, want);
	}
}

static void test_log_fmt_strings_pointers_and_the_rest(void **state)
{
	struct qk_log_fmt f;
	char got[256], want[256];
	const char *volatile null = NULL;	/* glibc prints "(null)"; gcc would warn */
	int x;
	struct qk_log_arg a[4];

	(void)state;
	a[0] = str("abcdef");
	a[1] = str(NULL);
	a[2] = (struct qk_log_arg){ (uint64_t)(uintptr_t)&x, NULL, 0, QK_LA_PTR };
	a[3] = (struct qk_log_arg){ 0, NULL, 0, QK_LA_PTR };
	qk_log_fmt_parse(&f, "%s|%.3s|%10.2s|%-8s|%s|%p|%20p|%-8p|%% %c");
	qk_log_fmt_render(&f, (struct qk_log_arg[]){ a[0], a[0], a[0], a[0], a[1], a[2], a[2], a[3],
						    num('z', QK_LA_INT) }, 9, got, sizeof(got));
	snprintf(want, sizeof(want), "%s|%.3s|%10.2s|%-8s|%s|%p|%20p|%-8p|%% %c", "abcdef", "abcdef",
		 "abcdef", "abcdef", null, (void *)&x, (void *)&x, (void *)0, 'z');
	assert_string_equal(got, want);

	/* delegated to snprintf: %e %g %a and the ' flag */
	qk_log_fmt_parse(&f, "%e %.3E %g %G %a %'d");
	qk_log_fmt_render(&f, (struct qk_log_arg[]){ dbl(12345.678), dbl(-0.5), dbl(1e-7), dbl(1e20),
						    dbl(1.0), num(1234567, QK_LA_INT) }, 6, got,
			  sizeof(got));
	snprintf(want, sizeof(want), "%e %.3E %g %G %a %'d", 12345.678, -0.5, 1e-7, 1e20, 1.0, 1234567);
	assert_string_equal(got, want);

	/* stars, a missing argument, a mismatched one, a truncated output */
	qk_log_fmt_parse(&f, "%*d|%-*d|%.*f|%d|%s");
	qk_log_fmt_render(&f, (struct qk_log_arg[]){ num(6, QK_LA_INT), num(7, QK_LA_INT),
						    num(-6, QK_LA_INT), num(7, QK_LA_INT),
						    num(2, QK_LA_INT), dbl(3.14159), dbl(1.0) }, 7,
			  got, sizeof(got));
	assert_string_equal(got, "     7|7     |3.14|<?>|<missing>");
	qk_log_fmt_parse(&f, "0123456789%d");
	assert_int_equal(qk_log_fmt_render(&f, (struct qk_log_arg[]){ num(42, QK_LA_INT) }, 1, got, 8), 7);
	assert_string_equal(got, "0123456");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_fmt_f_is_exact_on_random_doubles),
		cmocka_unit_test(test_log_fmt_f_ties_go_to_even_as_printf),
		cmocka_unit_test(test_log_fmt_f_flags_and_edges),
		cmocka_unit_test(test_log_fmt_integers_with_every_flag),
		cmocka_unit_test(test_log_fmt_strings_pointers_and_the_rest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
