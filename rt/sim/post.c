/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/sim/post.c - fault injection, the POST table and the simulator's
 * commands.  The fault semantics are in rt/sim/plant.h.  Nothing here
 * allocates; reasons are formatted with vsnprintf into the caller's buffer.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rt/sim/plant.h"

#define FBIT(k) (1u << (k))

/* Which faults each device type takes, and how to say so. */
static const struct {
	const char *name;
	uint32_t faults;
	const char *list;
} dev_types[QK_DEV_TYPE_COUNT] = {
	[QK_DEV_SENSOR] = { "sensor", FBIT(QK_FAULT_STUCK) | FBIT(QK_FAULT_NOISE) |
			    FBIT(QK_FAULT_BIAS) | FBIT(QK_FAULT_DROPOUT) | FBIT(QK_FAULT_POST_FAIL),
			    "stuck noise bias dropout post-fail" },
	[QK_DEV_ACTUATOR] = { "actuator", FBIT(QK_FAULT_STUCK) | FBIT(QK_FAULT_DROPOUT) |
			      FBIT(QK_FAULT_POST_FAIL), "stuck dropout post-fail" },
	[QK_DEV_POWER] = { "power", FBIT(QK_FAULT_DROPOUT) | FBIT(QK_FAULT_POST_FAIL),
			   "dropout post-fail" },
	[QK_DEV_COMMS] = { "comms", FBIT(QK_FAULT_DROPOUT) | FBIT(QK_FAULT_POST_FAIL),
			   "dropout post-fail" },
	[QK_DEV_CONTROLLER] = { "controller", FBIT(QK_FAULT_DROPOUT) | FBIT(QK_FAULT_POST_FAIL),
				"dropout post-fail" },
};

static const char *const fault_names[QK_FAULT_COUNT] = {
	[QK_FAULT_NONE] = "none", [QK_FAULT_STUCK] = "stuck", [QK_FAULT_NOISE] = "noise",
	[QK_FAULT_BIAS] = "bias", [QK_FAULT_DROPOUT] = "dropout",
	[QK_FAULT_POST_FAIL] = "post-fail",
};

const char *qk_plant_fault_name(enum qk_fault_kind kind)
{
	return (unsigned)kind < QK_FAULT_COUNT ? fault_names[kind] : "?";
}

/* Appends to buf at offset `at`; returns the new offset, which may pass n
 * (then the text was truncated and later appends do nothing). */
__attribute__((format(printf, 4, 5)))
static size_t put(char *buf, size_t n, size_t at, const char *fmt, ...)
{
	va_list ap;
	int ret;

	if (!buf || at >= n)
		return at;
	va_start(ap, fmt);
	ret = vsnprintf(buf + at, n - at, fmt, ap);
	va_end(ap);
	return ret < 0 ? at : at + (size_t)ret;
}

int qk_plant_device_find(const struct qk_plant *p, const char *name)
{
	if (!name)
		return -ENOENT;
	for (unsigned i = 0; i < p->cfg.n_devices; i++)
		if (!strcmp(p->cfg.device[i].name, name))
			return (int)i;
	return -ENOENT;
}

/* -ENOENT, naming the devices there are. */
static int unknown(const struct qk_plant *p, const char *name, char *why, size_t n)
{
	size_t at = put(why, n, 0, "unknown device '%s' (devices:", name ? name : "");

	for (unsigned i = 0; i < p->cfg.n_devices; i++)
		at = put(why, n, at, " %s", p->cfg.device[i].name);
	put(why, n, at, "%s)", p->cfg.n_devices ? "" : " none");
	return -ENOENT;
}

/* Says why (or what was done) into the caller's buffer; returns err. */
static int say(char *why, size_t n, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int say(char *why, size_t n, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && n) {
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* The configured 1-sigma of a sensor's primary quantity. */
static double base_sigma(const struct qk_plant *p, const struct qk_device_cfg *d)
{
	const struct qk_noise_cfg *z = &p->cfg.noise;

	switch (d->sensor) {
	case QK_SK_IMU:
		return z->accel_mps2;
	case QK_SK_NAV:
		return z->pos_m;
	case QK_SK_TANK:
		return z->pressure_bar;
	case QK_SK_BATTERY:
		return z->voltage_v;
	case QK_SK_THERMAL:
		return z->temp_k;
	default:
		return 0.0;
	}
}

static int check_value(const struct qk_device_cfg *d, enum qk_fault_kind kind, double v,
		       char *why, size_t n)
{
	if (!isfinite(v))
		return say(why, n, -EINVAL, "%s: value must be finite", d->name);
	switch (kind) {
	case QK_FAULT_STUCK:
		if (d->type == QK_DEV_ACTUATOR && (v < 0.0 || v > 1.0))
			return say(why, n, -EINVAL, "%s: stuck throttle %g not in 0..1",
				      d->name, v);
		break;
	case QK_FAULT_NOISE:
		if (v < 0.0)
			return say(why, n, -EINVAL, "%s: noise sigma %g < 0", d->name, v);
		break;
	case QK_FAULT_POST_FAIL:
		if (v != floor(v) || v < 0.0 || v >= QK_PC_COUNT)
			return say(why, n, -EINVAL, "%s: post-fail code %g not in 0..%d",
				      d->name, v, QK_PC_COUNT - 1);
		break;
	default:
		break;
	}
	return 0;
}

int qk_plant_fault_set(struct qk_plant *p, const char *device, enum qk_fault_kind kind,
		       double value, char *why, size_t n)
{
	int d = qk_plant_device_find(p, device);
	const struct qk_device_cfg *dc;
	int ret;

	if (d < 0)
		return unknown(p, device, why, n);
	dc = &p->cfg.device[d];
	if ((unsigned)kind >= QK_FAULT_COUNT)
		return say(why, n, -EINVAL, "unknown fault kind %u", (unsigned)kind);
	if (kind == QK_FAULT_NONE)
		return qk_plant_fault_clear(p, device, why, n);
	if (!(dev_types[dc->type].faults & FBIT(kind)))
		return say(why, n, -EINVAL, "%s fault does not apply to %s %s (takes: %s)",
			      fault_names[kind], dev_types[dc->type].name, dc->name,
			      dev_types[dc->type].list);
	ret = check_value(dc, kind, value, why, n);
	if (ret)
		return ret;
	p->fault[d] = kind;
	p->fault_value[d] = kind == QK_FAULT_DROPOUT ? 0.0 : value;
	if (kind == QK_FAULT_STUCK)
		qk__plant_hold(p, (unsigned)d);
	say(why, n, 0, "%s: %s %g", dc->name, fault_names[kind], p->fault_value[d]);
	return 0;
}

int qk_plant_fault_clear(struct qk_plant *p, const char *device_or_all, char *why, size_t n)
{
	unsigned cleared = 0;
	int d;

	if (device_or_all && !strcmp(device_or_all, "all")) {
		for (unsigned i = 0; i < QK_MAX_DEVICES; i++)
			cleared += p->fault[i] != QK_FAULT_NONE;
		memset(p->fault, 0, sizeof(p->fault));
		memset(p->fault_value, 0, sizeof(p->fault_value));
		return say(why, n, 0, "cleared %u fault%s", cleared, cleared == 1 ? "" : "s");
	}
	d = qk_plant_device_find(p, device_or_all);
	if (d < 0)
		return unknown(p, device_or_all, why, n);
	cleared = p->fault[d] != QK_FAULT_NONE;
	p->fault[d] = QK_FAULT_NONE;
	p->fault_value[d] = 0.0;
	return say(why, n, 0, "%s: %s", device_or_all, cleared ? "cleared" : "had no fault");
}

void qk_plant_fault_status(const struct qk_plant *p, struct qk_sim_status *st)
{
	st->n_faults = 0;
	for (unsigned i = 0; i < QK_MAX_DEVICES; i++) {
		st->fault[i] = p->fault[i];
		st->fault_value[i] = p->fault_value[i];
		st->n_faults += p->fault[i] != QK_FAULT_NONE;
	}
}

void qk_plant_device_post(const struct qk_plant *p, unsigned dev, uint32_t *status,
			  uint32_t *code)
{
	double v = p->fault_value[dev];

	*status = QK_DS_OK;
	*code = QK_PC_NONE;
	switch (p->fault[dev]) {
	case QK_FAULT_POST_FAIL:
		*code = v > 0.0 ? (uint32_t)v : QK_PC_CRITICAL_BOOT_FAILURE;
		*status = *code == QK_PC_COMPONENT_NOT_FOUND ? QK_DS_NOT_FOUND : QK_DS_ERROR;
		break;
	case QK_FAULT_DROPOUT:
		*status = QK_DS_ERROR;
		*code = QK_PC_TIMEOUT_RESPONSE;
		break;
	case QK_FAULT_NOISE:
		if (v > base_sigma(p, &p->cfg.device[dev])) {
			*status = QK_DS_WARNING;
			*code = QK_PC_UNSTABLE_READINGS;
		}
		break;
	default:
		break;
	}
}

void qk_plant_post(const struct qk_plant *p, struct qk_bios_report *r)
{
	uint64_t count = r->post_count;

	memset(r, 0, sizeof(*r));
	r->post_count = count + 1;
	r->firmware_version = QK_PLANT_FIRMWARE;
	r->n_devices = p->cfg.n_devices;
	for (unsigned i = 0; i < p->cfg.n_devices; i++) {
		struct qk_device_status *s = &r->device[i];

		memcpy(s->name, p->cfg.device[i].name, sizeof(s->name));
		s->type = p->cfg.device[i].type;
		qk_plant_device_post(p, i, &s->status, &s->code);
	}
}

/* Every device's POST entry as one word, to tell whether a command changed it. */
static void post_words(const struct qk_plant *p, uint32_t w[QK_MAX_DEVICES])
{
	for (unsigned i = 0; i < p->cfg.n_devices; i++) {
		uint32_t s, c;

		qk_plant_device_post(p, i, &s, &c);
		w[i] = s << 16 | c;
	}
}

bool qk_plant_command(struct qk_plant *p, const struct qk_cmd *c, struct qk_reply *r)
{
	uint32_t before[QK_MAX_DEVICES], after[QK_MAX_DEVICES];
	char name[QK_NAME_LEN + 1];
	char why[256] = "";
	size_t len;
	int ret;

	memcpy(name, c->name, QK_NAME_LEN);
	name[QK_NAME_LEN] = '\0';
	post_words(p, before);
	switch (c->type) {
	case QK_CMD_FAULT_SET:
		if (c->u[0] == QK_FAULT_NONE || c->u[0] >= QK_FAULT_COUNT)
			ret = say(why, sizeof(why), -EINVAL, "fault kind %u: expected 1..%d "
				     "(stuck noise bias dropout post-fail)", c->u[0],
				     QK_FAULT_COUNT - 1);
		else
			ret = qk_plant_fault_set(p, name, (enum qk_fault_kind)c->u[0], c->arg[0],
						 why, sizeof(why));
		break;
	case QK_CMD_FAULT_CLEAR:
		ret = qk_plant_fault_clear(p, name, why, sizeof(why));
		break;
	case QK_CMD_POST:
		ret = say(why, sizeof(why), 0, "post");
		break;
	case QK_CMD_PING:
		ret = say(why, sizeof(why), 0, "pong");
		break;
	default:
		ret = say(why, sizeof(why), -EOPNOTSUPP,
			     "command type %u is not for the simulator", c->type);
		break;
	}
	memset(r, 0, sizeof(*r));
	r->id = c->id;
	r->status = ret ? QK_REPLY_REFUSED : QK_REPLY_ACCEPTED;
	r->code = ret;
	len = strlen(why);
	if (len < sizeof(r->reason)) {
		memcpy(r->reason, why, len + 1);
	} else {
		/* too long: keep the start, which names what was wrong */
		memcpy(r->reason, why, sizeof(r->reason) - 4);
		memcpy(r->reason + sizeof(r->reason) - 4, "...", 4);
	}
	post_words(p, after);
	return memcmp(before, after, p->cfg.n_devices * sizeof(before[0])) != 0;
}
