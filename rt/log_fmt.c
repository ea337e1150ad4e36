/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/log_fmt.c - formatting of logged arguments without snprintf per
 * argument (see rt/log_fmt.h), and the text and JSON lines around them.
 *
 * %f is exact because the double is an integer m times 2^e: the digits are
 * those of round(m * 10^prec / 2^-e), with the tie going to the even
 * quotient, computed in 128 bits.  That covers |x| < 2^63 and prec <= 19,
 * which is every figure a control loop logs; outside it (and for inf, nan)
 * snprintf does it.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rt/log_fmt.h"

enum { F_MINUS = 1, F_PLUS = 2, F_SPACE = 4, F_ZERO = 8, F_HASH = 16, F_QUOTE = 32 };
enum { L_INT, L_HH, L_H, L_64 };

void qk_log_fmt_parse(struct qk_log_fmt *f, const char *fmt)
{
	const char *p = fmt, *lit = fmt;

	memset(f, 0, sizeof(*f));
	f->fmt = fmt;
	while (*p && f->n < QK_LOG_FMT_SPECS) {
		if (*p != '%') {
			p++;
			continue;
		}
		if (p[1] == '%') {	/* a literal %: text up to and including one % */
			struct qk_log_spec *s = &f->s[f->n++];

			*s = (struct qk_log_spec){ (uint32_t)(lit - fmt), (uint32_t)(p + 1 - lit), -1, -1,
						   0, 0, 0, 0, '%' };
			p += 2;
			lit = p;
			continue;
		}
		struct qk_log_spec *s = &f->s[f->n];
		const char *q = p + 1;

		*s = (struct qk_log_spec){ (uint32_t)(lit - fmt), (uint32_t)(p - lit), -1, -1, 0, 0, 0, 0, 0 };
		for (;; q++) {
			if (*q == '-') s->flags |= F_MINUS;
			else if (*q == '+') s->flags |= F_PLUS;
			else if (*q == ' ') s->flags |= F_SPACE;
			else if (*q == '0') s->flags |= F_ZERO;
			else if (*q == '#') s->flags |= F_HASH;
			else if (*q == '\'') s->flags |= F_QUOTE;
			else break;
		}
		if (*q == '*') {
			s->wstar = 1;
			q++;
		} else if (*q >= '0' && *q <= '9') {
			s->width = 0;
			while (*q >= '0' && *q <= '9' && s->width < 100000)
				s->width = s->width * 10 + (*q++ - '0');
		}
		if (*q == '.') {
			q++;
			s->prec = 0;
			if (*q == '*') {
				s->pstar = 1;
				q++;
			} else {
				while (*q >= '0' && *q <= '9' && s->prec < 100000)
					s->prec = s->prec * 10 + (*q++ - '0');
			}
		}
		if (q[0] == 'h' && q[1] == 'h') {
			s->lenmod = L_HH;
			q += 2;
		} else if (*q == 'h') {
			s->lenmod = L_H;
			q++;
		} else {
			while (*q && strchr("ljztLq", *q)) {
				s->lenmod = L_64;
				q++;
			}
		}
		s->conv = *q ? *q++ : '?';
		f->n++;
		p = q;
		lit = q;
	}
	/* the rest of the format: text (also past QK_LOG_FMT_SPECS conversions) */
	f->s[f->n++] = (struct qk_log_spec){ (uint32_t)(lit - fmt), (uint32_t)strlen(lit), -1, -1,
					     0, 0, 0, 0, 0 };
}

/* ---- numbers --------------------------------------------------------------- */

static const char pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Digits of v in base (10, 8, 16) backwards from end; returns the start. */
static char *utoa_rev(char *end, uint64_t v, unsigned base, bool upper)
{
	const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	if (base == 10) {
		while (v >= 100) {	/* two digits per division, from a table */
			unsigned r = (unsigned)(v % 100);

			v /= 100;
			end -= 2;
			memcpy(end, pairs + 2 * r, 2);
		}
		if (v >= 10) {
			*--end = (char)('0' + v % 10);
			v /= 10;
		}
		*--end = (char)('0' + v);
		return end;
	}
	do {
		*--end = dig[v % base];
		v /= base;
	} while (v);
	return end;
}

struct out {
	char *b;
	size_t o, n;			/* used, capacity (the NUL's byte excluded) */
};

static inline void put(struct out *w, const char *s, size_t k)
{
	if (k > w->n - w->o)
		k = w->n - w->o;
	memcpy(w->b + w->o, s, k);
	w->o += k;
}

static inline void pad(struct out *w, char c, long k)
{
	if (k <= 0)
		return;
	if ((size_t)k > w->n - w->o)
		k = (long)(w->n - w->o);
	memset(w->b + w->o, c, (size_t)k);
	w->o += (size_t)k;
}

/* sign/prefix, zeros, digits, padded to width as printf does */
static void put_num(struct out *w, const char *pre, size_t plen, long zeros, const char *dig,
		    size_t dlen, int width, unsigned flags)
{
	long body = (long)plen + (zeros > 0 ? zeros : 0) + (long)dlen;
	long fill = width > body ? width - body : 0;

	if (fill == 0 && zeros <= 0) {	/* the common case: no padding */
		put(w, pre, plen);
		put(w, dig, dlen);
		return;
	}
	if (!(flags & F_MINUS) && !(flags & F_ZERO))
		pad(w, ' ', fill);
	put(w, pre, plen);
	if (!(flags & F_MINUS) && (flags & F_ZERO))
		pad(w, '0', fill);
	pad(w, '0', zeros);
	put(w, dig, dlen);
	if (flags & F_MINUS)
		pad(w, ' ', fill);
}

static void put_int(struct out *w, const struct qk_log_spec *s, uint64_t v, bool sgn, int width,
		    int prec, unsigned flags)
{
	char buf[32], *end = buf + sizeof(buf), *d;
	char pre[3];
	size_t pl = 0;
	unsigned base = s->conv == 'o' ? 8 : (s->conv == 'x' || s->conv == 'X') ? 16 : 10;
	bool neg = false;

	switch (s->lenmod) {	/* what printf would have read */
	case L_HH: v = sgn ? (uint64_t)(int64_t)(signed char)v : (unsigned char)v; break;
	case L_H: v = sgn ? (uint64_t)(int64_t)(short)v : (unsigned short)v; break;
	case L_INT: v = sgn ? (uint64_t)(int64_t)(int)v : (unsigned)v; break;
	default: break;
	}
	if (sgn && (int64_t)v < 0) {
		neg = true;
		v = 0 - v;
	}
	d = (prec == 0 && v == 0) ? end : utoa_rev(end, v, base, s->conv == 'X');
	if (neg)
		pre[pl++] = '-';
	else if (sgn && (flags & F_PLUS))
		pre[pl++] = '+';
	else if (sgn && (flags & F_SPACE))
		pre[pl++] = ' ';
	long dl = end - d, zeros = prec > dl ? prec - dl : 0;

	if ((flags & F_HASH) && base == 8 && zeros == 0 && (dl == 0 || *d != '0'))
		zeros = 1;
	if ((flags & F_HASH) && base == 16 && v) {
		pre[pl++] = '0';
		pre[pl++] = s->conv;
	}
	if (prec >= 0)
		flags &= ~(unsigned)F_ZERO;	/* a precision turns off 0 */
	put_num(w, pre, pl, zeros, d, (size_t)dl, width, flags);
}

static const uint64_t pow10_u64[20] = {
	1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
	100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
	10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
	100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
};

static size_t f_by_snprintf(char *buf, size_t n, double x, int prec, unsigned flags, int width,
			   char conv)
{
	char spec[16];
	size_t k = 0;

	spec[k++] = '%';
	if (flags & F_MINUS) spec[k++] = '-';
	if (flags & F_PLUS) spec[k++] = '+';
	if (flags & F_SPACE) spec[k++] = ' ';
	if (flags & F_ZERO) spec[k++] = '0';
	if (flags & F_HASH) spec[k++] = '#';
	memcpy(spec + k, "*.*f", 5);
	spec[k + 3] = conv;
	int r = snprintf(buf, n, spec, width < 0 ? 0 : width, prec, x);

	return r < 0 ? 0 : (size_t)r < n ? (size_t)r : n - 1;
}

size_t qk_log_fmt_f(char *buf, size_t n, double x, int prec, unsigned flags, int width)
{
	uint64_t bits, m;
	int e;

	if (prec < 0)
		prec = 6;
	memcpy(&bits, &x, 8);
	unsigned bexp = (unsigned)(bits >> 52) & 0x7ff;
	bool neg = bits >> 63;

	if (bexp == 0x7ff || prec > 19 || (bexp >= 1023 + 63) || n < 64)
		return f_by_snprintf(buf, n, x, prec, flags, width, 'f');
	m = bits & ((1ull << 52) - 1);
	if (bexp) {
		m |= 1ull << 52;
		e = (int)bexp - 1075;
	} else {
		e = -1074;
	}
	/* q = round(|x| * 10^prec), ties to even */
	unsigned __int128 q;
	uint64_t p10 = pow10_u64[prec];

	if (e >= 0) {
		q = (unsigned __int128)(m << e) * p10;	/* |x| < 2^63: no bit lost */
	} else {
		unsigned k = (unsigned)-e;
		unsigned __int128 num = (unsigned __int128)m * p10;	/* < 2^117 */

		if (k >= 118) {
			q = 0;	/* below half a unit of the last place */
		} else {
			unsigned __int128 half = (unsigned __int128)1 << (k - 1);
			unsigned __int128 r = num & (((unsigned __int128)1 << k) - 1);

			q = num >> k;
			if (r > half || (r == half && (q & 1)))
				q++;
		}
	}
	uint64_t ip, fp;

	if (q >> 64) {
		ip = (uint64_t)(q / p10);
		fp = (uint64_t)(q % p10);
	} else {	/* most figures: 64-bit division, no library call */
		ip = (uint64_t)q / p10;
		fp = (uint64_t)q % p10;
	}
	char dig[48], *end = dig + sizeof(dig), *d = end;

	if (prec) {
		char *stop = end - prec;

		while (d > stop) {
			*--d = (char)('0' + fp % 10);
			fp /= 10;
		}
		*--d = '.';
	} else if (flags & F_HASH) {
		*--d = '.';
	}
	d = utoa_rev(d, ip, 10, false);

	char pre[1];
	size_t pl = 0;
	struct out w = { buf, 0, n - 1 };

	if (neg)
		pre[pl++] = '-';
	else if (flags & F_PLUS)
		pre[pl++] = '+';
	else if (flags & F_SPACE)
		pre[pl++] = ' ';
	put_num(&w, pre, pl, 0, d, (size_t)(end - d), width, flags);
	buf[w.o] = '\0';
	return w.o;
}

/* ---- rendering ------------------------------------------------------------- */

static bool is_int(unsigned t)
{
	return t == QK_LA_INT || t == QK_LA_UINT;
}

/* %e %g %a, and the ' flag: snprintf for this argument */
static void put_delegated(struct out *w, const struct qk_log_spec *s, const struct qk_log_arg *a,
			  int width, int prec, unsigned flags)
{
	char spec[32], tmp[512];
	size_t k = 0;
	int r = -1;

	spec[k++] = '%';
	if (flags & F_MINUS) spec[k++] = '-';
	if (flags & F_PLUS) spec[k++] = '+';
	if (flags & F_SPACE) spec[k++] = ' ';
	if (flags & F_ZERO) spec[k++] = '0';
	if (flags & F_HASH) spec[k++] = '#';
	if (flags & F_QUOTE) spec[k++] = '\'';
	if (width >= 0)
		k += (size_t)snprintf(spec + k, 12, "%d", width);
	if (prec >= 0)
		k += (size_t)snprintf(spec + k, 13, ".%d", prec);
	if (a->t == QK_LA_DBL) {
		double x;

		memcpy(&x, &a->v, 8);
		spec[k++] = s->conv;
		spec[k] = '\0';
		r = snprintf(tmp, sizeof(tmp), spec, x);
	} else if (is_int(a->t)) {
		bool sgn = s->conv == 'd' || s->conv == 'i';
		uint64_t v = a->v;

		switch (s->lenmod) {
		case L_HH: v = sgn ? (uint64_t)(int64_t)(signed char)v : (unsigned char)v; break;
		case L_H: v = sgn ? (uint64_t)(int64_t)(short)v : (unsigned short)v; break;
		case L_INT: v = sgn ? (uint64_t)(int64_t)(int)v : (unsigned)v; break;
		default: break;
		}
		spec[k++] = 'l';
		spec[k++] = 'l';
		spec[k++] = s->conv;
		spec[k] = '\0';
		r = sgn ? snprintf(tmp, sizeof(tmp), spec, (long long)v) :
			  snprintf(tmp, sizeof(tmp), spec, (unsigned long long)v);
	}
	if (r < 0)
		put(w, "<?>", 3);
	else
		put(w, tmp, (size_t)r < sizeof(tmp) ? (size_t)r : sizeof(tmp) - 1);
}

size_t qk_log_fmt_render(const struct qk_log_fmt *f, const struct qk_log_arg *a, unsigned nargs,
			 char *buf, size_t n)
{
	struct out w = { buf, 0, n ? n - 1 : 0 };
	unsigned ai = 0;

	if (n == 0)
		return 0;
	for (unsigned i = 0; i < f->n; i++) {
		const struct qk_log_spec *s = &f->s[i];
		int width = s->width, prec = s->prec;
		unsigned flags = s->flags;

		put(&w, f->fmt + s->lit_off, s->lit_len);
		if (s->conv == 0 || s->conv == '%')
			continue;
		if (s->wstar) {
			width = ai < nargs && is_int(a[ai].t) ? (int)a[ai].v : 0;
			ai++;
			if (width < 0) {
				flags |= F_MINUS;
				width = -width;
			}
		}
		if (s->pstar) {
			prec = ai < nargs && is_int(a[ai].t) ? (int)a[ai].v : 0;
			ai++;
			if (prec < 0)
				prec = -1;
		}
		if (s->conv == 'n') {
			ai++;
			continue;
		}
		if (ai >= nargs) {
			put(&w, "<missing>", 9);
			continue;
		}
		const struct qk_log_arg *x = &a[ai++];

		switch (s->conv) {
		case 'd': case 'i': case 'u': case 'o': case 'x': case 'X':
			if (!is_int(x->t))
				break;
			if (flags & F_QUOTE)
				put_delegated(&w, s, x, width, prec, flags);
			else
				put_int(&w, s, x->v, s->conv == 'd' || s->conv == 'i', width, prec, flags);
			continue;
		case 'c': {
			char c = (char)x->v;

			if (!is_int(x->t))
				break;
			put_num(&w, "", 0, 0, &c, 1, width, flags & F_MINUS);
			continue;
		}
		case 's': {
			const char *str = x->s ? x->s : "(null)";
			size_t len = x->s ? x->len : 6;

			if (x->t != QK_LA_STR)
				break;
			if (!x->s && prec >= 0 && prec < 6)
				len = 0;	/* glibc: "(null)" or nothing */
			if (prec >= 0 && (size_t)prec < len)
				len = (size_t)prec;
			put_num(&w, "", 0, 0, str, len, width, flags & F_MINUS);
			continue;
		}
		case 'p': {
			char b[24], *end = b + sizeof(b), *d;

			if (x->t != QK_LA_PTR && x->t != QK_LA_STR)
				break;
			if (x->v == 0) {
				put_num(&w, "", 0, 0, "(nil)", 5, width, flags & F_MINUS);
				continue;
			}
			d = utoa_rev(end, x->v, 16, false);
			put_num(&w, "0x", 2, 0, d, (size_t)(end - d), width, flags & F_MINUS);
			continue;
		}
		case 'f': case 'F': {
			char b[400];
			double v;

			if (x->t != QK_LA_DBL)
				break;
			memcpy(&v, &x->v, 8);
			size_t k = s->conv == 'F' ? f_by_snprintf(b, sizeof(b), v, prec < 0 ? 6 : prec,
								 flags, width, 'F') :
						    qk_log_fmt_f(b, sizeof(b), v, prec, flags, width);
			put(&w, b, k);
			continue;
		}
		case 'e': case 'E': case 'g': case 'G': case 'a': case 'A':
			if (x->t != QK_LA_DBL)
				break;
			put_delegated(&w, s, x, width, prec, flags);
			continue;
		default:
			break;
		}
		put(&w, "<?>", 3);	/* a conversion this argument does not fit */
	}
	buf[w.o] = '\0';
	return w.o;
}

/* ---- lines ----------------------------------------------------------------- */

static const char *const level_pad[QK_LOG_LEVELS] = { "DEBUG ", "INFO  ", "WARN  ", "ERROR " };
static const char *const level_lower[QK_LOG_LEVELS] = { "debug", "info", "warn", "error" };

size_t qk_log_json_str(char *d, size_t n, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < len && o + 7 < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			d[o++] = '\\';
			d[o++] = (char)c;
		} else if (c == '\n') {
			d[o++] = '\\';
			d[o++] = 'n';
		} else if (c == '\t') {
			d[o++] = '\\';
			d[o++] = 't';
		} else if (c < 0x20) {
			memcpy(d + o, "\\u00", 4);
			d[o + 4] = hex[c >> 4];
			d[o + 5] = hex[c & 15];
			o += 6;
		} else {
			d[o++] = (char)c;
		}
	}
	return o;
}

void qk_log_line_init(struct qk_log_linectx *c, enum qk_log_format fmt, const char *proc, int pid,
		      int64_t wall_off_ns)
{
	char esc[64];

	memset(c, 0, sizeof(*c));
	c->format = fmt;
	c->wall_off_ns = wall_off_ns;
	c->cal_sec = INT64_MIN;
	if (fmt == QK_LOG_JSON) {
		size_t k = qk_log_json_str(esc, sizeof(esc) - 1, proc, strnlen(proc, 40));

		esc[k] = '\0';
		snprintf(c->who, sizeof(c->who), "\"proc\":\"%s\",\"pid\":%d,", esc, pid);
	} else {
		snprintf(c->who, sizeof(c->who), "%.63s[%d] ", proc, pid);
	}
}

size_t qk_log_site_prefix(char *d, size_t n, enum qk_log_format fmt, int level, const char *file,
			  int line)
{
	unsigned lv = (unsigned)level < QK_LOG_LEVELS ? (unsigned)level : 3;
	int k;

	if (fmt == QK_LOG_JSON) {
		char esc[160];
		size_t e = qk_log_json_str(esc, sizeof(esc) - 1, file, strnlen(file, 100));

		esc[e] = '\0';
		k = snprintf(d, n, "\"level\":\"%s\",\"file\":\"%s\",\"line\":%d,\"msg\":\"",
			     level_lower[lv], esc, line);
	} else {
		k = snprintf(d, n, "%s%s:%d: ", level_pad[lv], file, line);
	}

	return k < 0 ? 0 : (size_t)k < n ? (size_t)k : n - 1;
}

/* "2026-11-24T18:55:30.123456Z": the calendar part changes once a second */
static size_t put_wall(struct qk_log_linectx *c, char *d, int64_t mono_ns)
{
	int64_t wall = mono_ns + c->wall_off_ns;
	int64_t sec = wall >= 0 ? wall / 1000000000 : (wall - 999999999) / 1000000000;
	char us[8], *p;

	if (sec != c->cal_sec) {
		time_t t = (time_t)sec;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(c->cal, sizeof(c->cal), "%Y-%m-%dT%H:%M:%S.", &tm);
		c->cal_sec = sec;
	}
	size_t k = strlen(c->cal);

	memcpy(d, c->cal, k);
	p = utoa_rev(us + 7, (uint64_t)(wall - sec * 1000000000) / 1000 + 1000000, 10, false);
	memcpy(d + k, p + 1, 6);	/* the leading 1 keeps the zeros */
	d[k + 6] = 'Z';
	return k + 7;
}

size_t qk_log_line(struct qk_log_linectx *c, char *d, size_t n, int64_t mono_ns,
		   const char *prefix, size_t plen, const char *msg, size_t mlen)
{
	char num[24], *p, *end = num + sizeof(num);
	size_t o = 0, wl = strlen(c->who);

	if (n < 160 + wl + plen)
		return 0;
	if (c->format == QK_LOG_JSON) {
		memcpy(d, "{\"time\":\"", 9);
		o = 9 + put_wall(c, d + 9, mono_ns);
		memcpy(d + o, "\",\"mono_ns\":", 12);
		o += 12;
		p = utoa_rev(end, (uint64_t)(mono_ns < 0 ? 0 : mono_ns), 10, false);
		memcpy(d + o, p, (size_t)(end - p));
		o += (size_t)(end - p);
		d[o++] = ',';
		memcpy(d + o, c->who, wl);
		o += wl;
		memcpy(d + o, prefix, plen);
		o += plen;
		o += qk_log_json_str(d + o, n - o - 4, msg, mlen);
		memcpy(d + o, "\"}\n", 3);
		return o + 3;
	}
	o = put_wall(c, d, mono_ns);
	d[o++] = ' ';
	p = utoa_rev(end, (uint64_t)(mono_ns < 0 ? 0 : mono_ns) / 1000 % 1000000 + 1000000, 10, false);
	char *q = utoa_rev(p, (uint64_t)(mono_ns < 0 ? 0 : mono_ns) / 1000000000, 10, false);

	p[0] = '.';	/* overwrites the leading 1 */
	memcpy(d + o, q, (size_t)(end - q));
	o += (size_t)(end - q);
	d[o++] = ' ';
	memcpy(d + o, c->who, wl);
	o += wl;
	memcpy(d + o, prefix, plen);
	o += plen;
	if (mlen > n - o - 1)
		mlen = n - o - 1;
	memcpy(d + o, msg, mlen);
	o += mlen;
	d[o++] = '\n';
	return o;
}
