/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/config/dump.c - qk_config_dump(): a configuration as the YAML file that
 * loads back to exactly it (shortest round-tripping numbers, comments with units).
 */
#include "rt/config/config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The shortest text strtod() turns back into exactly v. */
static void fmt_num(char *buf, size_t n, double v)
{
	if (v == trunc(v) && fabs(v) < 1e15) {	/* 20, not 2e+01 */
		snprintf(buf, n, "%.0f", v);
		return;
	}
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, n, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void fmt_field(const struct qk__field *f, const void *base, char *buf, size_t n)
{
	const char *p = (const char *)base + f->off;
	const double *d = (const double *)(const void *)p;
	char a[28], b[28], c[28];
	uint32_t u;
	int64_t i;
	uint64_t x;

	switch (f->type) {
	case QK__F_NUM:
		fmt_num(buf, n, d[0]);
		break;
	case QK__F_VEC3:
		fmt_num(a, sizeof(a), d[0]);
		fmt_num(b, sizeof(b), d[1]);
		fmt_num(c, sizeof(c), d[2]);
		snprintf(buf, n, "[%s, %s, %s]", a, b, c);
		break;
	case QK__F_U32:
		memcpy(&u, p, sizeof(u));
		snprintf(buf, n, "%u", u);
		break;
	case QK__F_I64:
		memcpy(&i, p, sizeof(i));
		snprintf(buf, n, "%lld", (long long)i);
		break;
	case QK__F_U64:
		memcpy(&x, p, sizeof(x));
		snprintf(buf, n, "%llu", (unsigned long long)x);
		break;
	case QK__F_NAME:
		snprintf(buf, n, "%.*s", QK_NAME_LEN, p);
		break;
	case QK__F_WAKE:
		memcpy(&u, p, sizeof(u));
		snprintf(buf, n, "%s", qk_wake_mode_name(u));
		break;
	}
}

/* "key: value", with the field's unit and comment after a '#'. */
static void dump_line(FILE *out, const char *indent, const struct qk__field *f,
		      const void *base)
{
	char val[96], kv[160];

	fmt_field(f, base, val, sizeof(val));
	snprintf(kv, sizeof(kv), "%s%s: %s", indent, f->key, val);
	if (f->unit || f->comment)
		fprintf(out, "%-36s # %s%s%s\n", kv, f->unit ? f->unit : "",
			f->unit && f->comment ? "; " : "", f->comment ? f->comment : "");
	else
		fprintf(out, "%s\n", kv);
}

static void dump_flow(FILE *out, unsigned section, const void *base)
{
	const struct qk__field *f = qk__config_section(section)->f;
	char val[96];

	fputs("  - {", out);
	for (unsigned i = 0; i < qk__config_section(section)->count; i++) {
		fmt_field(&f[i], base, val, sizeof(val));
		fprintf(out, "%s%s: %s", i ? ", " : "", f[i].key, val);
	}
	fputs("}\n", out);
}

static void dump_device(FILE *out, const struct qk_config *c, const struct qk_device_cfg *d)
{
	fprintf(out, "  - {name: %.*s, type: %s", QK_NAME_LEN, d->name,
		d->type < QK_DEV_TYPE_COUNT ? qk__dev_type_names[d->type] : "unknown");
	if (d->type == QK_DEV_SENSOR || d->sensor)
		fprintf(out, ", sensor: %s", d->sensor <= QK_SK_THERMAL ?
			qk__sensor_names[d->sensor] : "unknown");
	/* references by name, so that an edited list keeps its meaning */
	if (d->type == QK_DEV_ACTUATOR && d->index < c->n_thrusters &&
	    c->n_thrusters <= QK_MAX_THRUSTERS)
		fprintf(out, ", thruster: %.*s", QK_NAME_LEN, c->thruster[d->index].name);
	else if (d->type == QK_DEV_SENSOR && d->sensor == QK_SK_THERMAL &&
		 d->index < c->n_thermal && c->n_thermal <= QK_MAX_THERMAL)
		fprintf(out, ", node: %.*s", QK_NAME_LEN, c->thermal[d->index].name);
	else if (d->index)
		fprintf(out, ", index: %u", d->index);
	fprintf(out, ", critical: %s}\n", d->critical ? "true" : "false");
}

/* "key:  # comment" for a list or section, "key: []" for an empty list. */
static void dump_key(FILE *out, const char *key, bool empty, const char *comment)
{
	char k[64];

	snprintf(k, sizeof(k), "%s:%s", key, empty ? " []" : "");
	if (comment)
		fprintf(out, "%-36s # %s\n", k, comment);
	else
		fprintf(out, "%s\n", k);
}

int qk_config_dump(const struct qk_config *c, FILE *out)
{
	unsigned nthr = c->n_thrusters < QK_MAX_THRUSTERS ? c->n_thrusters : QK_MAX_THRUSTERS;
	unsigned nth = c->n_thermal < QK_MAX_THERMAL ? c->n_thermal : QK_MAX_THERMAL;
	unsigned ndev = c->n_devices < QK_MAX_DEVICES ? c->n_devices : QK_MAX_DEVICES;
	unsigned ncpl = 0;
	char val[48];

	fputs("# qiki configuration, as written by qk_config_dump() (qiki run --print-config).\n"
	      "# Read by `qiki run -c FILE` on top of a built-in profile: a file names only\n"
	      "# what it changes; a mapping overrides the keys it names, a list replaces the\n"
	      "# profile's list.  Units are SI, temperatures in kelvin, pressures in bar.\n"
	      "# Format and rules: rt/config/config.h.\n", out);
	snprintf(val, sizeof(val), "profile: %.*s", QK_NAME_LEN, c->profile);
	fprintf(out, "%-36s # %s\n", val, "the built-in profile this starts from: bot, ship");
	for (unsigned i = 0; i < qk__config_section(QK__S_TOP)->count; i++)
		dump_line(out, "", &qk__config_section(QK__S_TOP)->f[i], c);
	for (unsigned s = QK__S_TANK; s <= QK__S_LIMITS; s++) {
		dump_key(out, qk__config_section(s)->key, false, qk__config_section(s)->comment);
		for (unsigned i = 0; i < qk__config_section(s)->count; i++)
			dump_line(out, "  ", &qk__config_section(s)->f[i], (const char *)c + qk__config_section(s)->base);
	}
	dump_key(out, "thrusters", !nthr, qk__config_section(QK__S_THRUSTER)->comment);
	for (unsigned i = 0; i < nthr; i++)
		dump_flow(out, QK__S_THRUSTER, &c->thruster[i]);
	dump_key(out, "thermal", !nth, qk__config_section(QK__S_THERMAL)->comment);
	for (unsigned i = 0; i < nth; i++) {
		const struct qk__field *f = qk__config_section(QK__S_THERMAL)->f;

		for (unsigned k = 0; k < qk__config_section(QK__S_THERMAL)->count; k++)
			dump_line(out, k ? "    " : "  - ", &f[k], &c->thermal[i]);
	}
	for (unsigned i = 0; i < nth; i++)
		for (unsigned j = i + 1; j < nth; j++)
			ncpl += c->coupling_w_per_k[i][j] != 0.0;
	dump_key(out, "coupling", !ncpl, "[node, node, W/K] both ways; pairs not listed: 0");
	for (unsigned i = 0; i < nth; i++) {
		for (unsigned j = i + 1; j < nth; j++) {
			if (c->coupling_w_per_k[i][j] == 0.0)
				continue;
			fmt_num(val, sizeof(val), c->coupling_w_per_k[i][j]);
			fprintf(out, "  - [%.*s, %.*s, %s]\n", QK_NAME_LEN, c->thermal[i].name,
				QK_NAME_LEN, c->thermal[j].name, val);
		}
	}
	dump_key(out, "devices", !ndev, "the hardware profile POST must find;");
	fprintf(out, "%-36s # %s\n", "", "critical and not OK in POST -> ERROR");
	for (unsigned i = 0; i < ndev; i++)
		dump_device(out, c, &c->device[i]);
	return fflush(out) || ferror(out) ? -EIO : 0;
}
