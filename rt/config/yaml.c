/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/config/yaml.c - qk_config_load(): a YAML file on top of a configuration.
 *
 * libyaml's document API gives a tree whose nodes carry their line and
 * column.  The file is applied to a working copy; references by name (a
 * device's node or thruster, a coupling's two nodes) are resolved once the
 * whole file is read, then the copy is validated and only then copied out,
 * so a bad file leaves the caller's configuration as it was.  Every path a
 * file sets is remembered with its position, so that a cross-field error
 * found by the validator still points at the line that caused it.
 */
#include "rt/config/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_PAIRS (QK_MAX_THERMAL * QK_MAX_THERMAL)
#define NAME_EXP  "a name of 1..23 letters, digits, '_', '.', '-'"

enum ref_kind { REF_NONE, REF_THRUSTER, REF_NODE };

struct mark {
	char path[40];
	yaml_mark_t at;
};

struct ld {
	yaml_document_t doc;
	const char *file;
	char *why;
	size_t n;
	struct qk_config w;		/* what the file builds */
	struct qk_config old;		/* before it replaced any list */
	bool set_thr, set_th, set_dev, set_cpl;
	yaml_mark_t root_at, thr_at, th_at;
	unsigned ncpl;
	struct {
		char a[QK_NAME_LEN], b[QK_NAME_LEN];
		double g;
		yaml_mark_t at;
	} cpl[MAX_PAIRS];
	struct {
		unsigned kind;		/* enum ref_kind */
		char name[QK_NAME_LEN];
		yaml_mark_t at;
	} ref[QK_MAX_DEVICES];
	struct mark *marks;
	unsigned nmarks, capmarks;
};

__attribute__((format(printf, 4, 5)))
static int fail(struct ld *l, yaml_mark_t at, const char *path, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l->why && l->n) {
		if (path)
			snprintf(l->why, l->n, "%s:%zu:%zu: field '%s': %s", l->file,
				 at.line + 1, at.column + 1, path, msg);
		else
			snprintf(l->why, l->n, "%s:%zu:%zu: %s", l->file, at.line + 1,
				 at.column + 1, msg);
	}
	return -EINVAL;
}

static void remember(struct ld *l, const char *path, yaml_mark_t at)
{
	if (l->nmarks == l->capmarks) {
		unsigned cap = l->capmarks ? 2 * l->capmarks : 128;
		struct mark *m = realloc(l->marks, cap * sizeof(*m));

		if (!m)
			return;		/* only the error's position gets coarser */
		l->marks = m;
		l->capmarks = cap;
	}
	snprintf(l->marks[l->nmarks].path, sizeof(l->marks[0].path), "%s", path);
	l->marks[l->nmarks++].at = at;
}

/* Where the file set path, or the nearest enclosing thing it set:
 * "thermal[1].max_k", then "thermal[1]", then "thermal". */
static bool where(const struct ld *l, const char *path, yaml_mark_t *at)
{
	char p[64];

	snprintf(p, sizeof(p), "%s", path);
	while (p[0]) {
		char *dot = strrchr(p, '.'), *br = strrchr(p, '[');
		char *cut = !dot ? br : !br ? dot : dot > br ? dot : br;

		for (unsigned i = l->nmarks; i-- > 0;) {
			if (!strcmp(l->marks[i].path, p)) {
				*at = l->marks[i].at;
				return true;
			}
		}
		if (!cut)
			break;
		*cut = '\0';
	}
	return false;
}

static yaml_node_t *node(struct ld *l, int i)
{
	return yaml_document_get_node(&l->doc, i);
}

static const char *text(const yaml_node_t *v)
{
	return v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
}

/* "got ..." for a message */
static const char *got(const yaml_node_t *v, char *buf, size_t n)
{
	if (v->type == YAML_SCALAR_NODE)
		snprintf(buf, n, "'%.40s%s'", text(v), v->data.scalar.length > 40 ? "..." : "");
	else
		snprintf(buf, n, "%s", v->type == YAML_MAPPING_NODE ? "a mapping" : "a list");
	return buf;
}

static void join(char *buf, size_t n, const char *const *names, unsigned count)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < count && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", names[i]);
}

/* Strict numbers: the whole text, decimal, finite, no overflow or underflow. */
static bool parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s || isspace((unsigned char)*s) || strpbrk(s, "xX"))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno || !isfinite(v))
		return false;
	*out = v;
	return true;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno || v > max)
		return false;
	*out = v;
	return true;
}

static int set_name(struct ld *l, char *dst, const yaml_node_t *v, const char *path,
		    const char *expect)
{
	const char *s = text(v);
	char g[64];

	if (!s || !qk__config_name_ok(s))
		return fail(l, v->start_mark, path, "expected %s, got %s", expect, got(v, g, sizeof(g)));
	memset(dst, 0, QK_NAME_LEN);
	memcpy(dst, s, strlen(s));
	return 0;
}

/* One field of a table, into the struct at base. */
static int parse_field(struct ld *l, const struct qk__field *f, void *base,
		       yaml_node_t *v, const char *path)
{
	char *p = (char *)base + f->off, exp[96], g[64];
	const char *s = text(v);
	double d[3];
	uint64_t u;
	bool ok = true;

	qk__config_expect(f, exp, sizeof(exp));
	switch (f->type) {
	case QK__F_NAME:
		return set_name(l, p, v, path, exp);
	case QK__F_NUM:
		ok = parse_double(s, &d[0]);
		if (ok)
			memcpy(p, d, sizeof(double));
		break;
	case QK__F_VEC3:
		ok = v->type == YAML_SEQUENCE_NODE &&
		     v->data.sequence.items.top - v->data.sequence.items.start == 3;
		for (int i = 0; ok && i < 3; i++)
			ok = parse_double(text(node(l, v->data.sequence.items.start[i])), &d[i]);
		if (ok && f->cons == QK__C_DIR) {
			double m = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);

			ok = isfinite(m) && m > 1e-9;
			/* leave a unit vector bit for bit as it is: the dump round-trips */
			for (int i = 0; ok && fabs(m - 1.0) > 1e-12 && i < 3; i++)
				d[i] /= m;
		}
		if (ok)
			memcpy(p, d, sizeof(d));
		break;
	case QK__F_U32:
		ok = parse_u64(s, UINT32_MAX, &u);
		if (ok)
			memcpy(p, &(uint32_t){ (uint32_t)u }, sizeof(uint32_t));
		break;
	case QK__F_I64:
		ok = parse_u64(s, INT64_MAX, &u);
		if (ok)
			memcpy(p, &(int64_t){ (int64_t)u }, sizeof(int64_t));
		break;
	case QK__F_U64:
		ok = parse_u64(s, UINT64_MAX, &u);
		if (ok)
			memcpy(p, &u, sizeof(u));
		break;
	case QK__F_WAKE:
		ok = qk_wake_mode_parse(s) >= 0;
		if (ok)
			memcpy(p, &(uint32_t){ (uint32_t)qk_wake_mode_parse(s) }, sizeof(uint32_t));
		break;
	}
	if (!ok || !qk__config_field_ok(f, base))
		return fail(l, v->start_mark, path, "expected %s, got %s", exp, got(v, g, sizeof(g)));
	return 0;
}

/* Names the key and lists the valid ones at that level (section NULL: top). */
static int unknown_key(struct ld *l, const yaml_node_t *k, const char *section,
		       const char *const *valid, unsigned count)
{
	char list[512], path[80];
	const char *s = text(k) ? text(k) : "?";

	join(list, sizeof(list), valid, count);
	snprintf(path, sizeof(path), "%s%s%.40s", section ? section : "", section ? "." : "", s);
	return fail(l, k->start_mark, path, "unknown key; valid keys %s%s%s: %s",
		    section ? "in '" : "at the top level", section ? section : "",
		    section ? "'" : "", list);
}

static int need(struct ld *l, const yaml_node_t *v, yaml_node_type_t type, const char *path,
		const char *what)
{
	char g[64];

	if (v->type == type)
		return 0;
	return fail(l, v->start_mark, path, "expected %s, got %s", what, got(v, g, sizeof(g)));
}

/* A mapping of a table's fields.  Items of a list must give every key. */
static int parse_struct(struct ld *l, unsigned section, void *base, yaml_node_t *m,
			const char *path, bool all)
{
	const char *names[16], *key;
	const struct qk__field *f;
	unsigned count, seen = 0;
	char sub[64];
	size_t off;
	int ret;

	f = qk__config_fields(section, &count, &key, &off);
	for (unsigned i = 0; i < count; i++)
		names[i] = f[i].key;
	ret = need(l, m, YAML_MAPPING_NODE, path, "a mapping");
	if (ret)
		return ret;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
		unsigned i = 0;

		while (i < count && !(text(k) && !strcmp(text(k), f[i].key)))
			i++;
		if (i == count)
			return unknown_key(l, k, path, names, count);
		snprintf(sub, sizeof(sub), "%s.%s", path, f[i].key);
		if (seen & (1u << i))
			return fail(l, k->start_mark, sub, "given twice");
		seen |= 1u << i;
		remember(l, sub, k->start_mark);
		ret = parse_field(l, &f[i], base, v, sub);
		if (ret)
			return ret;
	}
	for (unsigned i = 0; all && i < count; i++) {
		char list[256];

		if (seen & (1u << i))
			continue;
		join(list, sizeof(list), names, count);
		return fail(l, m->start_mark, path, "missing key '%s' (an item gives all of: %s)",
			    f[i].key, list);
	}
	return 0;
}

/* thrusters: and thermal: replace the profile's list. */
static int parse_list(struct ld *l, unsigned section, yaml_node_t *s, const char *key)
{
	const unsigned max = section == QK__S_THRUSTER ? QK_MAX_THRUSTERS : QK_MAX_THERMAL;
	const size_t size = section == QK__S_THRUSTER ? sizeof(struct qk_thruster_cfg) :
							sizeof(struct qk_thermal_cfg);
	char *arr = section == QK__S_THRUSTER ? (char *)l->w.thruster : (char *)l->w.thermal;
	unsigned n = 0;
	char path[40];
	int ret;

	ret = need(l, s, YAML_SEQUENCE_NODE, key, "a list");
	if (ret)
		return ret;
	memset(arr, 0, max * size);
	for (yaml_node_item_t *it = s->data.sequence.items.start; it < s->data.sequence.items.top; it++) {
		yaml_node_t *v = node(l, *it);

		snprintf(path, sizeof(path), "%s[%u]", key, n);
		if (n == max)
			return fail(l, v->start_mark, path, "expected at most %u %s, got %u", max,
				    key, (unsigned)(s->data.sequence.items.top -
						    s->data.sequence.items.start));
		remember(l, path, v->start_mark);
		ret = parse_struct(l, section, arr + n * size, v, path, true);
		if (ret)
			return ret;
		n++;
	}
	if (section == QK__S_THRUSTER)
		l->w.n_thrusters = n;
	else
		l->w.n_thermal = n;
	return 0;
}

/* coupling: [[node, node, W/K], ...]; names are resolved in finish(). */
static int parse_coupling(struct ld *l, yaml_node_t *s)
{
	char path[32], g[64];
	int ret;

	ret = need(l, s, YAML_SEQUENCE_NODE, "coupling", "a list of [node, node, W/K]");
	if (ret)
		return ret;
	l->ncpl = 0;
	for (yaml_node_item_t *it = s->data.sequence.items.start; it < s->data.sequence.items.top; it++) {
		yaml_node_t *v = node(l, *it);
		yaml_node_item_t *e = v->data.sequence.items.start;

		snprintf(path, sizeof(path), "coupling[%u]", l->ncpl);
		if (l->ncpl == MAX_PAIRS)
			return fail(l, v->start_mark, path, "expected at most %d pairs", MAX_PAIRS);
		if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top - e != 3)
			return fail(l, v->start_mark, path, "expected [node, node, W/K], got %s",
				    got(v, g, sizeof(g)));
		remember(l, path, v->start_mark);
		ret = set_name(l, l->cpl[l->ncpl].a, node(l, e[0]), path, "a thermal node name");
		if (!ret)
			ret = set_name(l, l->cpl[l->ncpl].b, node(l, e[1]), path, "a thermal node name");
		if (ret)
			return ret;
		if (!parse_double(text(node(l, e[2])), &l->cpl[l->ncpl].g) || l->cpl[l->ncpl].g < 0)
			return fail(l, node(l, e[2])->start_mark, path, "expected a conductance "
				    "in W/K >= 0, got %s", got(node(l, e[2]), g, sizeof(g)));
		l->cpl[l->ncpl++].at = v->start_mark;
	}
	return 0;
}

enum { D_NAME, D_TYPE, D_SENSOR, D_NODE, D_THRUSTER, D_INDEX, D_CRITICAL, D_COUNT };
static const char *const dev_keys[D_COUNT] = {
	"name", "type", "sensor", "node", "thruster", "index", "critical"
};

static int parse_device(struct ld *l, unsigned i, yaml_node_t *m, const char *path)
{
	struct qk_device_cfg *d = &l->w.device[i];
	yaml_node_t *v[D_COUNT] = { NULL };
	char sub[48], g[64];
	uint64_t u;
	int ret, t, k;

	ret = need(l, m, YAML_MAPPING_NODE, path, "a mapping");
	if (ret)
		return ret;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *key = node(l, p->key);

		k = qk__config_lookup(dev_keys, D_COUNT, text(key));
		if (k < 0)
			return unknown_key(l, key, path, dev_keys, D_COUNT);
		snprintf(sub, sizeof(sub), "%s.%s", path, dev_keys[k]);
		if (v[k])
			return fail(l, key->start_mark, sub, "given twice");
		v[k] = node(l, p->value);
		remember(l, sub, key->start_mark);
	}
	for (k = 0; k < D_COUNT; k++) {
		if (v[k] || k == D_SENSOR || k == D_NODE || k == D_THRUSTER || k == D_INDEX)
			continue;
		return fail(l, m->start_mark, path, "missing key '%s' (a device gives name, type, "
			    "critical, and sensor for a sensor)", dev_keys[k]);
	}
#define SUB(key) (snprintf(sub, sizeof(sub), "%s.%s", path, key), sub)
	ret = set_name(l, d->name, v[D_NAME], SUB("name"), "a device " NAME_EXP);
	if (ret)
		return ret;
	t = qk__config_lookup(qk__dev_type_names, QK_DEV_TYPE_COUNT, text(v[D_TYPE]));
	if (t < 0)
		return fail(l, v[D_TYPE]->start_mark, SUB("type"), "expected sensor, actuator, "
			    "power, comms or controller, got %s", got(v[D_TYPE], g, sizeof(g)));
	d->type = (uint32_t)t;
	if ((t == QK_DEV_SENSOR) != (v[D_SENSOR] != NULL))
		return fail(l, v[D_SENSOR] ? v[D_SENSOR]->start_mark : m->start_mark, SUB("sensor"),
			    t == QK_DEV_SENSOR ? "expected a sensor kind (imu, nav, tank, battery, "
			    "thermal) for a device of type sensor, got none" :
			    "expected no sensor kind for a device of type %s", qk__dev_type_names[t]);
	if (v[D_SENSOR]) {
		k = qk__config_lookup(qk__sensor_names + 1, QK_SK_THERMAL, text(v[D_SENSOR]));
		if (k < 0)
			return fail(l, v[D_SENSOR]->start_mark, sub, "expected imu, nav, tank, "
				    "battery or thermal, got %s", got(v[D_SENSOR], g, sizeof(g)));
		d->sensor = (uint32_t)k + 1;
	}
	if (v[D_NODE] && !(t == QK_DEV_SENSOR && d->sensor == QK_SK_THERMAL))
		return fail(l, v[D_NODE]->start_mark, SUB("node"), "expected only for a thermal sensor");
	if (v[D_THRUSTER] && t != QK_DEV_ACTUATOR)
		return fail(l, v[D_THRUSTER]->start_mark, SUB("thruster"),
			    "expected only for an actuator");
	if (v[D_INDEX] && (v[D_NODE] || v[D_THRUSTER]))
		return fail(l, v[D_INDEX]->start_mark, SUB("index"),
			    "expected either index or a name (node, thruster), got both");
	l->ref[i].kind = v[D_NODE] ? REF_NODE : v[D_THRUSTER] ? REF_THRUSTER : REF_NONE;
	if (l->ref[i].kind != REF_NONE) {
		yaml_node_t *r = v[D_NODE] ? v[D_NODE] : v[D_THRUSTER];

		ret = set_name(l, l->ref[i].name, r, SUB(v[D_NODE] ? "node" : "thruster"),
			       v[D_NODE] ? "a thermal node name" : "a thruster name");
		if (ret)
			return ret;
		l->ref[i].at = r->start_mark;
	} else if (v[D_INDEX]) {
		if (!parse_u64(text(v[D_INDEX]), QK_MAX_DEVICES, &u))
			return fail(l, v[D_INDEX]->start_mark, SUB("index"), "expected an integer "
				    "0..%d, got %s", QK_MAX_DEVICES, got(v[D_INDEX], g, sizeof(g)));
		d->index = (uint32_t)u;
	} else if (t == QK_DEV_ACTUATOR || d->sensor == QK_SK_THERMAL) {
		return fail(l, m->start_mark, path, "expected %s", t == QK_DEV_ACTUATOR ?
			    "'thruster: NAME' for an actuator" : "'node: NAME' for a thermal sensor");
	}
	if (!text(v[D_CRITICAL]) || (strcmp(text(v[D_CRITICAL]), "true") &&
				     strcmp(text(v[D_CRITICAL]), "false")))
		return fail(l, v[D_CRITICAL]->start_mark, SUB("critical"),
			    "expected true or false, got %s", got(v[D_CRITICAL], g, sizeof(g)));
	d->critical = !strcmp(text(v[D_CRITICAL]), "true");
#undef SUB
	return 0;
}

static int parse_devices(struct ld *l, yaml_node_t *s)
{
	unsigned n = 0;
	char path[32];
	int ret;

	ret = need(l, s, YAML_SEQUENCE_NODE, "devices", "a list");
	if (ret)
		return ret;
	memset(l->w.device, 0, sizeof(l->w.device));
	memset(l->ref, 0, sizeof(l->ref));
	for (yaml_node_item_t *it = s->data.sequence.items.start; it < s->data.sequence.items.top; it++) {
		yaml_node_t *v = node(l, *it);

		snprintf(path, sizeof(path), "devices[%u]", n);
		if (n == QK_MAX_DEVICES)
			return fail(l, v->start_mark, path, "expected at most %d devices",
				    QK_MAX_DEVICES);
		remember(l, path, v->start_mark);
		ret = parse_device(l, n, v, path);
		if (ret)
			return ret;
		n++;
	}
	l->w.n_devices = n;
	return 0;
}

static int find(const char *names, size_t stride, unsigned count, const char *name)
{
	for (unsigned i = 0; i < count; i++)
		if (!strncmp(names + i * stride, name, QK_NAME_LEN))
			return (int)i;
	return -1;
}

static int node_index(const struct qk_config *c, const char *name)
{
	return find(c->thermal[0].name, sizeof(c->thermal[0]), c->n_thermal, name);
}

static int thruster_index(const struct qk_config *c, const char *name)
{
	return find(c->thruster[0].name, sizeof(c->thruster[0]), c->n_thrusters, name);
}

static void node_names(const struct qk_config *c, char *buf, size_t n)
{
	const char *names[QK_MAX_THERMAL];

	for (unsigned i = 0; i < c->n_thermal && i < QK_MAX_THERMAL; i++)
		names[i] = c->thermal[i].name;
	join(buf, n, names, c->n_thermal < QK_MAX_THERMAL ? c->n_thermal : QK_MAX_THERMAL);
}

static int resolve_coupling(struct ld *l)
{
	struct qk_config *w = &l->w;
	char list[256], path[32];

	memset(w->coupling_w_per_k, 0, sizeof(w->coupling_w_per_k));
	if (!l->set_cpl) {
		/* the profile's couplings follow their nodes by name */
		for (unsigned i = 0; i < w->n_thermal; i++) {
			for (unsigned j = 0; j < w->n_thermal; j++) {
				int a = node_index(&l->old, w->thermal[i].name);
				int b = node_index(&l->old, w->thermal[j].name);

				if (a >= 0 && b >= 0 && i != j)
					w->coupling_w_per_k[i][j] = l->old.coupling_w_per_k[a][b];
			}
		}
		return 0;
	}
	node_names(w, list, sizeof(list));
	for (unsigned k = 0; k < l->ncpl; k++) {
		int a = node_index(w, l->cpl[k].a), b = node_index(w, l->cpl[k].b);

		snprintf(path, sizeof(path), "coupling[%u]", k);
		if (a < 0 || b < 0)
			return fail(l, l->cpl[k].at, path, "expected thermal node names (%s), got '%s'",
				    list, a < 0 ? l->cpl[k].a : l->cpl[k].b);
		if (a == b)
			return fail(l, l->cpl[k].at, path, "expected two different nodes, got '%s' twice",
				    l->cpl[k].a);
		for (unsigned e = 0; e < k; e++) {
			int ea = node_index(w, l->cpl[e].a), eb = node_index(w, l->cpl[e].b);

			if ((ea == a && eb == b) || (ea == b && eb == a))
				return fail(l, l->cpl[k].at, path, "expected each pair once, got "
					    "'%s'-'%s' again (coupling[%u])", l->cpl[k].a,
					    l->cpl[k].b, e);
		}
		w->coupling_w_per_k[a][b] = w->coupling_w_per_k[b][a] = l->cpl[k].g;
	}
	return 0;
}

static int resolve_devices(struct ld *l)
{
	struct qk_config *w = &l->w;
	char list[256], path[48];

	for (unsigned i = 0; i < w->n_devices; i++) {
		struct qk_device_cfg *d = &w->device[i];
		bool node = d->type == QK_DEV_SENSOR && d->sensor == QK_SK_THERMAL;
		int x;

		if (l->set_dev && l->ref[i].kind != REF_NONE) {
			x = node ? node_index(w, l->ref[i].name) : thruster_index(w, l->ref[i].name);
			snprintf(path, sizeof(path), "devices[%u].%s", i, node ? "node" : "thruster");
			if (x < 0 && node)
				node_names(w, list, sizeof(list));
			if (x < 0)
				return fail(l, l->ref[i].at, path, "expected a %s name%s%s%s, got '%s'",
					    node ? "thermal node" : "thruster", node ? " (" : "",
					    node ? list : "", node ? ")" : "", l->ref[i].name);
			d->index = (uint32_t)x;
		} else if (!l->set_dev && node && l->set_th && d->index < l->old.n_thermal) {
			x = node_index(w, l->old.thermal[d->index].name);
			if (x < 0)
				return fail(l, l->th_at, "thermal", "expected a node '%s' for the "
					    "profile's device '%s', or a devices list too",
					    l->old.thermal[d->index].name, d->name);
			d->index = (uint32_t)x;
		} else if (!l->set_dev && d->type == QK_DEV_ACTUATOR && l->set_thr &&
			   d->index < l->old.n_thrusters) {
			x = thruster_index(w, l->old.thruster[d->index].name);
			if (x < 0)
				return fail(l, l->thr_at, "thrusters", "expected a thruster '%s' for "
					    "the profile's device '%s', or a devices list too",
					    l->old.thruster[d->index].name, d->name);
			d->index = (uint32_t)x;
		}
	}
	return 0;
}

static const char *const top_keys[] = {
	"profile", "rate_hz", "wake", "agent_phase_ns", "seed", "dry_mass_kg", "tank",
	"battery", "noise", "control", "limits", "thrusters", "thermal", "coupling", "devices",
};
enum { K_PROFILE, K_TANK = 6, K_THRUSTERS = 11, K_THERMAL, K_COUPLING, K_DEVICES, K_COUNT };

static int parse_top(struct ld *l, yaml_node_t *key, yaml_node_t *v, unsigned k, bool first)
{
	const struct qk__field *f;
	unsigned count;
	const char *skey;
	size_t base;
	char g[64];

	switch (k) {
	case K_PROFILE:
		if (!first)
			return fail(l, key->start_mark, "profile", "expected as the first key "
				    "(it starts again from that profile), got it later");
		if (!text(v) || qk_config_profile(&l->w, text(v), NULL, 0))
			return fail(l, v->start_mark, "profile", "expected a built-in profile "
				    "(bot, ship), got %s", got(v, g, sizeof(g)));
		l->old = l->w;
		return 0;
	case K_THRUSTERS:
		l->set_thr = true;
		l->thr_at = key->start_mark;
		return parse_list(l, QK__S_THRUSTER, v, "thrusters");
	case K_THERMAL:
		l->set_th = true;
		l->th_at = key->start_mark;
		return parse_list(l, QK__S_THERMAL, v, "thermal");
	case K_COUPLING:
		l->set_cpl = true;
		return parse_coupling(l, v);
	case K_DEVICES:
		l->set_dev = true;
		return parse_devices(l, v);
	}
	if (k >= K_TANK) {
		qk__config_fields(QK__S_TANK + (k - K_TANK), &count, &skey, &base);
		return parse_struct(l, QK__S_TANK + (k - K_TANK), (char *)&l->w + base, v, skey, false);
	}
	f = qk__config_fields(QK__S_TOP, &count, &skey, &base);
	for (unsigned i = 0; i < count; i++)
		if (!strcmp(f[i].key, top_keys[k]))
			return parse_field(l, &f[i], &l->w, v, f[i].key);
	return -EINVAL;		/* the two tables disagree: a bug */
}

static int apply(struct ld *l, yaml_node_t *root)
{
	char path[64], msg[256];
	unsigned seen = 0;
	yaml_mark_t at;
	int ret;

	l->root_at = root->start_mark;
	if (root->type != YAML_MAPPING_NODE)
		return fail(l, root->start_mark, NULL, "expected a mapping of keys at the top level");
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
		int i = qk__config_lookup(top_keys, K_COUNT, text(k));

		if (i < 0)
			return unknown_key(l, k, NULL, top_keys, K_COUNT);
		if (seen & (1u << i))
			return fail(l, k->start_mark, top_keys[i], "given twice");
		seen |= 1u << i;
		remember(l, top_keys[i], k->start_mark);
		ret = parse_top(l, k, v, (unsigned)i, p == root->data.mapping.pairs.start);
		if (ret)
			return ret;
	}
	if (l->set_cpl || l->set_th)
		ret = resolve_coupling(l);
	if (!ret)
		ret = resolve_devices(l);
	if (ret)
		return ret;
	ret = qk__config_check(&l->w, path, sizeof(path), msg, sizeof(msg));
	if (ret && !where(l, path, &at))
		return fail(l, l->root_at, path, "%s (from profile '%s', not this file)",
			    msg, l->w.profile);
	if (ret)
		return fail(l, at, path, "%s", msg);
	return 0;
}

static int syntax(struct ld *l, const yaml_parser_t *ps)
{
	if (ps->error == YAML_MEMORY_ERROR) {
		snprintf(l->why, l->n, "%s: out of memory", l->file);
		return -ENOMEM;
	}
	return fail(l, ps->problem_mark, NULL, "YAML syntax error: %s%s%s",
		    ps->problem ? ps->problem : "unknown", ps->context ? " " : "",
		    ps->context ? ps->context : "");
}

/*
 * Bounds first, in one streaming pass that stops at the first excess: a
 * file's size, its nesting depth and its aliases.  libyaml's loader costs
 * time quadratic in the nesting depth (a 40 kB file of '[' took 12 s to
 * reject), and an alias would make apply() walk a shared subtree once per
 * reference (exponential in a chain of them); a configuration needs
 * neither deep nesting nor aliases.
 */
static int bounded(struct ld *l, const void *buf, size_t len)
{
	yaml_parser_t ps;
	yaml_event_t ev;
	int depth = 0, ret = 0;
	bool done = false;

	if (!yaml_parser_initialize(&ps)) {
		snprintf(l->why, l->n, "%s: out of memory", l->file);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&ps, buf, len);
	while (!done && !ret) {
		if (!yaml_parser_parse(&ps, &ev)) {
			ret = syntax(l, &ps);
			break;
		}
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > QK_CONFIG_MAX_DEPTH)
				ret = fail(l, ev.start_mark, NULL, "nested more than %d deep: a "
					   "configuration is a few levels of mappings and lists",
					   QK_CONFIG_MAX_DEPTH);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_ALIAS_EVENT:
			ret = fail(l, ev.start_mark, NULL, "YAML aliases (*name) are not supported "
				   "in a configuration: write the value out");
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&ps);
	return ret;
}

int qk_config_load_mem(struct qk_config *c, const char *name, const void *buf, size_t len,
		       char *why, size_t n)
{
	char dummy[1];
	struct ld *l;
	yaml_parser_t ps;
	yaml_document_t more;
	yaml_node_t *root;
	int ret;

	if (!why || !n) {
		why = dummy;
		n = sizeof(dummy);
	}
	if (len > QK_CONFIG_MAX_BYTES) {
		snprintf(why, n, "%s: %zu bytes: a configuration file is at most %d bytes",
			 name, len, QK_CONFIG_MAX_BYTES);
		return -EFBIG;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(why, n, "%s: out of memory", name);
		return -ENOMEM;
	}
	*l = (struct ld){ .file = name, .why = why, .n = n, .w = *c, .old = *c };
	ret = bounded(l, buf, len);
	if (ret) {
		free(l);
		return ret;
	}
	if (!yaml_parser_initialize(&ps)) {
		free(l);
		snprintf(why, n, "%s: out of memory", name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&ps, buf, len);
	if (!yaml_parser_load(&ps, &l->doc)) {
		ret = syntax(l, &ps);
		goto out_parser;
	}
	root = yaml_document_get_root_node(&l->doc);
	ret = root ? apply(l, root) : 0;	/* an empty file changes nothing */
	if (!ret && root) {
		/* a second document would be silently ignored: refuse it */
		if (!yaml_parser_load(&ps, &more)) {
			ret = syntax(l, &ps);
		} else {
			if (yaml_document_get_root_node(&more))
				ret = fail(l, yaml_document_get_root_node(&more)->start_mark, NULL,
					   "expected one YAML document, found another");
			yaml_document_delete(&more);
		}
	}
	if (!ret)
		*c = l->w;
	yaml_document_delete(&l->doc);
out_parser:
	yaml_parser_delete(&ps);
	free(l->marks);
	free(l);
	return ret;
}

int qk_config_load(struct qk_config *c, const char *path, char *why, size_t n)
{
	char dummy[1], *buf;
	size_t len = 0;
	FILE *f;
	int ret;

	if (!why || !n) {
		why = dummy;
		n = sizeof(dummy);
	}
	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		snprintf(why, n, "%s: cannot open: %s", path, strerror(-ret));
		return ret;
	}
	/* one byte more than the limit tells a file too large (a pipe too) */
	buf = malloc(QK_CONFIG_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		snprintf(why, n, "%s: out of memory", path);
		return -ENOMEM;
	}
	len = fread(buf, 1, QK_CONFIG_MAX_BYTES + 1, f);
	if (ferror(f)) {
		ret = -EIO;
		snprintf(why, n, "%s: cannot read: %s", path, strerror(errno ? errno : EIO));
	} else if (len > QK_CONFIG_MAX_BYTES) {
		ret = -EFBIG;
		snprintf(why, n, "%s: larger than %d bytes, the most a configuration file may be",
			 path, QK_CONFIG_MAX_BYTES);
	} else {
		ret = qk_config_load_mem(c, path, buf, len, why, n);
	}
	free(buf);
	fclose(f);
	return ret;
}
