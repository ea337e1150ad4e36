/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/log_fmt.c - qk_log_format_msg(): a record's message as printf would have
 * written it, by walking the format and converting each raw argument; the
 * logger thread (rt/log.c) and the tests call it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rt/log.h"

static unsigned argt(const struct qk_log_rec *r, unsigned i)
{
	return i < r->nargs ? (r->types >> (4 * i)) & 15 : QK_LA_NONE;
}

static bool is_int(unsigned t)
{
	return t == QK_LA_INT || t == QK_LA_UINT;
}

/* An integer argument as the conversion's length modifier would have read
 * it (printf truncates an int passed to %hhd, so do we). */
static long long int_as(uint64_t v, const char *len, bool sgn)
{
	if (!strcmp(len, "hh"))
		return sgn ? (long long)(signed char)v : (long long)(unsigned char)v;
	if (!strcmp(len, "h"))
		return sgn ? (long long)(short)v : (long long)(unsigned short)v;
	if (!len[0])
		return sgn ? (long long)(int)v : (long long)(unsigned)v;
	return (long long)v;	/* l ll j z t: 64 bits here */
}

size_t qk_log_format_msg(const struct qk_log_rec *r, char *buf, size_t n)
{
	const char *f = r->site->fmt;
	size_t o = 0;
	unsigned ai = 0;

	if (n == 0)
		return 0;
#define PUT(s_, k_) do { size_t k__ = (k_); \
		if (o + k__ >= n) k__ = n - 1 - o; \
		memcpy(buf + o, (s_), k__); o += k__; } while (0)
	while (*f && o + 1 < n) {
		const char *pct = strchr(f, '%');

		if (!pct) {
			PUT(f, strlen(f));
			break;
		}
		PUT(f, (size_t)(pct - f));
		f = pct + 1;
		if (*f == '%') {
			PUT("%", 1);
			f++;
			continue;
		}
		/* %[flags][width][.prec][len]conv; '*' takes an int argument */
		char spec[48], len[3] = "";
		size_t sl = 0;
		int star[2], nstar = 0;

		spec[sl++] = '%';
		while (strchr("-+ #0'", *f) && *f && sl < 20)
			spec[sl++] = *f++;
		for (int part = 0; part < 2; part++) {
			if (part == 1) {
				if (*f != '.')
					break;
				spec[sl++] = *f++;
			}
			if (*f == '*') {
				unsigned t = argt(r, ai);

				star[nstar++] = is_int(t) ? (int)r->arg[ai] : 0;
				ai++;
				spec[sl++] = *f++;
			} else {
				while (*f >= '0' && *f <= '9' && sl < 40)
					spec[sl++] = *f++;
			}
		}
		while (strchr("hljztLq", *f) && *f && strlen(len) < 2)
			len[strlen(len)] = *f++;
		char conv = *f ? *f++ : '\0';
		unsigned t = argt(r, ai);
		uint64_t v = ai < r->nargs ? r->arg[ai] : 0;
		char tmp[512];
		int k = -1;

		if (conv != 'n')
			ai++;
		else
			ai++;	/* %n writes nothing here */
		if (t == QK_LA_NONE && conv != 'n') {
			PUT("<missing>", 9);
			continue;
		}
#define EMIT(...) (nstar == 0 ? snprintf(tmp, sizeof(tmp), spec, __VA_ARGS__) : \
		   nstar == 1 ? snprintf(tmp, sizeof(tmp), spec, star[0], __VA_ARGS__) : \
		   snprintf(tmp, sizeof(tmp), spec, star[0], star[1], __VA_ARGS__))
		switch (conv) {
		case 'd': case 'i':
			if (!is_int(t))
				break;
			memcpy(spec + sl, "ll", 2);
			spec[sl + 2] = conv;
			spec[sl + 3] = '\0';
			k = EMIT(int_as(v, len, true));
			break;
		case 'u': case 'o': case 'x': case 'X':
			if (!is_int(t))
				break;
			memcpy(spec + sl, "ll", 2);
			spec[sl + 2] = conv;
			spec[sl + 3] = '\0';
			k = EMIT((unsigned long long)int_as(v, len, false));
			break;
		case 'c':
			if (!is_int(t))
				break;
			spec[sl] = 'c';
			spec[sl + 1] = '\0';
			k = EMIT((int)(unsigned char)v);
			break;
		case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A': {
			union { uint64_t u; double d; } b = { .u = v };

			if (t != QK_LA_DBL)
				break;
			spec[sl] = conv;
			spec[sl + 1] = '\0';
			k = EMIT(b.d);
			break;
		}
		case 's':
			if (t != QK_LA_STR && t != QK_LA_NULLSTR)
				break;
			spec[sl] = 's';
			spec[sl + 1] = '\0';
			k = EMIT(t == QK_LA_STR ? r->str + (v < QK_LOG_STR_BYTES ? v : 0) : "(null)");
			break;
		case 'p':
			if (t != QK_LA_PTR && t != QK_LA_STR && t != QK_LA_NULLSTR)
				break;
			spec[sl] = 'p';
			spec[sl + 1] = '\0';
			k = EMIT((void *)(uintptr_t)(t == QK_LA_PTR ? v : 0));
			break;
		case 'n':
			k = 0;
			break;
		default:
			break;
		}
#undef EMIT
		if (k < 0)
			PUT("<?>", 3);	/* a conversion this argument does not fit */
		else
			PUT(tmp, (size_t)k < sizeof(tmp) ? (size_t)k : sizeof(tmp) - 1);
	}
#undef PUT
	buf[o] = '\0';
	return o;
}
