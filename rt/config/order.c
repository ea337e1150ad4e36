/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/config/order.c - what a --config file changed of the --profile chosen
 * with it, for the warning qk_config_from_options() gives (config.h).  The
 * field tables say each field's name, type and place, so every field the
 * loader knows is compared, and a new one is without a change here.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rt/config/config.h"

/* An append to a bounded buffer that ends in "..." once it is full. */
struct out {
	char *b;
	size_t n, k;
	unsigned count;
	bool full;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	char tmp[160];
	va_list ap;
	int w;

	if (o->full || !o->n)
		return;
	va_start(ap, fmt);
	w = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	if (o->k + (size_t)w + 5 > o->n) {	/* room for ", ..." and the NUL */
		o->full = true;
		snprintf(o->b + o->k, o->n - o->k, ", ...");
		return;
	}
	memcpy(o->b + o->k, tmp, (size_t)w + 1);
	o->k += (size_t)w;
}

static size_t field_size(const struct qk__field *f)
{
	switch (f->type) {
	case QK__F_VEC3: return 3 * sizeof(double);
	case QK__F_U32: case QK__F_WAKE: return sizeof(uint32_t);
	case QK__F_NAME: return QK_NAME_LEN;
	default: return 8;	/* double, int64_t, uint64_t */
	}
}

static void value(char *b, size_t n, const struct qk__field *f, const char *p)
{
	double d[3];
	uint64_t u;
	uint32_t w;

	switch (f->type) {
	case QK__F_NUM: memcpy(d, p, 8); snprintf(b, n, "%g", d[0]); break;
	case QK__F_VEC3: memcpy(d, p, 24); snprintf(b, n, "[%g, %g, %g]", d[0], d[1], d[2]); break;
	case QK__F_U32: memcpy(&w, p, 4); snprintf(b, n, "%" PRIu32, w); break;
	case QK__F_WAKE: memcpy(&w, p, 4); snprintf(b, n, "%s", qk_wake_mode_name(w)); break;
	case QK__F_I64: memcpy(&u, p, 8); snprintf(b, n, "%" PRId64, (int64_t)u); break;
	case QK__F_U64: memcpy(&u, p, 8); snprintf(b, n, "%" PRIu64, u); break;
	default: snprintf(b, n, "%.*s", QK_NAME_LEN, p); break;
	}
}

static void scalars(struct out *o, const struct qk_config *a, const struct qk_config *b,
		    unsigned section)
{
	const struct qk__section_desc *s = qk__config_section(section);

	for (unsigned i = 0; i < s->count; i++) {
		const struct qk__field *f = &s->f[i];
		const char *pa = (const char *)a + s->base + f->off;
		const char *pb = (const char *)b + s->base + f->off;
		char va[80], vb[80];

		if (!memcmp(pa, pb, field_size(f)))
			continue;
		value(va, sizeof(va), f, pa);
		value(vb, sizeof(vb), f, pb);
		put(o, "%s%s%s%s %s -> %s", o->count++ ? ", " : "", s->key ? s->key : "",
		    s->key ? "." : "", f->key, va, vb);
	}
}

/* The lists are replaced whole by a file: named whole. */
static void list(struct out *o, const char *key, bool differ)
{
	if (differ)
		put(o, "%s%s (the whole list)", o->count++ ? ", " : "", key);
}

unsigned qk__config_overrides(const struct qk_config *profile, const struct qk_config *file,
			      char *buf, size_t n)
{
	struct out o = { buf, n, 0, 0, false };

	if (n)
		buf[0] = 0;
	for (unsigned s = QK__S_TOP; s <= QK__S_LIMITS; s++)
		scalars(&o, profile, file, s);
	list(&o, "thrusters", profile->n_thrusters != file->n_thrusters ||
	     memcmp(profile->thruster, file->thruster, sizeof(profile->thruster)));
	list(&o, "thermal", profile->n_thermal != file->n_thermal ||
	     memcmp(profile->thermal, file->thermal, sizeof(profile->thermal)));
	list(&o, "coupling", memcmp(profile->coupling_w_per_k, file->coupling_w_per_k,
				    sizeof(profile->coupling_w_per_k)));
	list(&o, "devices", profile->n_devices != file->n_devices ||
	     memcmp(profile->device, file->device, sizeof(profile->device)));
	return o.count;
}
