/* rt/hil/wire.c - the HIL wire codec; see rt/hil/wire.h and docs/hil-protocol.md.
 * Freestanding: no library calls, no struct copies the compiler could turn
 * into memcpy, no floating-point arithmetic (doubles travel as bit patterns). */
#include "rt/hil/wire.h"

/* CRC32C, four bits at a time: table[i] is the CRC of nibble i. */
static const uint32_t crc_nibble[16] = {
	0x00000000u, 0x105ec76fu, 0x20bd8edeu, 0x30e349b1u,
	0x417b1dbcu, 0x5125dad3u, 0x61c69362u, 0x7198540du,
	0x82f63b78u, 0x92a8fc17u, 0xa24bb5a6u, 0xb21572c9u,
	0xc38d26c4u, 0xd3d3e1abu, 0xe330a81au, 0xf36e6f75u,
};

uint32_t qk_hil_crc32c(uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = data;

	crc = ~crc;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
	}
	return ~crc;
}

/* A bounded cursor: a write or read past the end marks it bad instead. */
struct cur {
	uint8_t *w;
	const uint8_t *r;
	size_t off, cap;
	bool bad;
};

/* Field by field: an initialiser may become a call to memset. */
static void cur_init(struct cur *c, uint8_t *w, const uint8_t *r, size_t cap)
{
	c->w = w;
	c->r = r;
	c->off = 0;
	c->cap = cap;
	c->bad = false;
}

static bool room(struct cur *c, size_t n)
{
	if (c->bad || c->cap - c->off < n) {
		c->bad = true;
		return false;
	}
	return true;
}

static void put_u8(struct cur *c, uint8_t v)
{
	if (room(c, 1))
		c->w[c->off++] = v;
}

static void put_u16(struct cur *c, uint16_t v)
{
	put_u8(c, (uint8_t)v);
	put_u8(c, (uint8_t)(v >> 8));
}

static void put_u32(struct cur *c, uint32_t v)
{
	put_u16(c, (uint16_t)v);
	put_u16(c, (uint16_t)(v >> 16));
}

static void put_u64(struct cur *c, uint64_t v)
{
	put_u32(c, (uint32_t)v);
	put_u32(c, (uint32_t)(v >> 32));
}

static void put_f64(struct cur *c, double d)
{
	union { double d; uint64_t u; } b = { .d = d };

	put_u64(c, b.u);
}

static void put_name(struct cur *c, const char *s)
{
	bool end = false;	/* bytes after the first NUL go out as NUL */

	for (unsigned i = 0; i < QK_HIL_NAME_LEN; i++) {
		end = end || !s[i];
		put_u8(c, end ? 0 : (uint8_t)s[i]);
	}
}

static uint8_t get_u8(struct cur *c)
{
	return room(c, 1) ? c->r[c->off++] : 0;
}

static uint16_t get_u16(struct cur *c)
{
	uint16_t lo = get_u8(c);

	return (uint16_t)(lo | (uint16_t)get_u8(c) << 8);
}

static uint32_t get_u32(struct cur *c)
{
	uint32_t lo = get_u16(c);

	return lo | (uint32_t)get_u16(c) << 16;
}

static uint64_t get_u64(struct cur *c)
{
	uint64_t lo = get_u32(c);

	return lo | (uint64_t)get_u32(c) << 32;
}

static double get_f64(struct cur *c)
{
	union { uint64_t u; double d; } b = { .u = get_u64(c) };

	return b.d;
}

static void get_name(struct cur *c, char *s)
{
	for (unsigned i = 0; i < QK_HIL_NAME_LEN; i++)
		s[i] = (char)get_u8(c);
	s[QK_HIL_NAME_LEN - 1] = 0;	/* a peer's name is always terminated here */
}

static void put_f64s(struct cur *c, const double *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		put_f64(c, v[i]);
}

static void get_f64s(struct cur *c, double *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		v[i] = get_f64(c);
}

/* The payload length a type must have; 0 for none allowed, -1 for unknown. */
static long payload_len(unsigned type, uint32_t n_devices)
{
	switch (type) {
	case QK_HIL_HELLO: return QK_HIL_HELLO_LEN;
	case QK_HIL_HELLO_ACK:
		return n_devices <= QK_HIL_MAX_DEV ? (long)QK_HIL_ACK_LEN(n_devices) : -1;
	case QK_HIL_SENSORS: return QK_HIL_SENSORS_LEN;
	case QK_HIL_ACTUATORS: return QK_HIL_ACT_LEN;
	case QK_HIL_HEARTBEAT: return 0;
	case QK_HIL_BYE: return QK_HIL_BYE_LEN;
	default: return -1;
	}
}

static void put_payload(struct cur *c, const struct qk_hil_msg *m)
{
	switch (m->hdr.type) {
	case QK_HIL_HELLO: {
		const struct qk_hil_hello *h = &m->u.hello;

		put_name(c, h->profile);
		put_u32(c, h->rate_hz);
		put_u32(c, h->n_thrusters);
		put_u32(c, h->n_thermal);
		put_u32(c, h->n_devices);
		put_u64(c, h->session);
		break;
	}
	case QK_HIL_HELLO_ACK: {
		const struct qk_hil_hello_ack *a = &m->u.ack;

		put_u32(c, a->status);
		put_u32(c, a->firmware_version);
		put_name(c, a->profile);
		put_u64(c, a->session);
		put_u32(c, a->n_devices);
		put_u32(c, a->rate_hz);
		for (uint32_t i = 0; i < a->n_devices; i++) {
			put_name(c, a->device[i].name);
			put_u8(c, a->device[i].type);
			put_u8(c, a->device[i].status);
			put_u8(c, a->device[i].code);
			put_u8(c, 0);
		}
		break;
	}
	case QK_HIL_SENSORS: {
		const struct qk_hil_sensors *s = &m->u.sensors;

		put_u64(c, s->cycle);
		put_u32(c, s->valid);
		put_u32(c, s->flags);
		put_f64s(c, s->accel_mps2, 3);
		put_f64s(c, s->pos_m, 3);
		put_f64s(c, s->vel_mps, 3);
		put_f64(c, s->tank_bar);
		put_f64(c, s->propellant_kg);
		put_f64(c, s->mass_kg);
		put_f64(c, s->batt_v);
		put_f64(c, s->batt_a);
		put_f64(c, s->batt_soc);
		put_u32(c, s->n_thermal);
		put_u32(c, 0);
		put_f64s(c, s->temp_k, QK_HIL_MAX_TEMP);
		break;
	}
	case QK_HIL_ACTUATORS: {
		const struct qk_hil_actuators *a = &m->u.act;

		put_u64(c, a->cycle);
		put_u32(c, a->state);
		put_u32(c, a->flags);
		put_f64s(c, a->throttle, QK_HIL_MAX_THR);
		put_f64s(c, a->heater, QK_HIL_MAX_HEAT);
		break;
	}
	case QK_HIL_BYE:
		put_u32(c, m->u.bye.reason);
		break;
	default:	/* HEARTBEAT: no payload */
		break;
	}
}

size_t qk_hil_encode(const struct qk_hil_msg *m, void *buf, size_t cap)
{
	struct cur c;
	long len = payload_len(m->hdr.type,
			       m->hdr.type == QK_HIL_HELLO_ACK ? m->u.ack.n_devices : 0);

	if (len < 0 || cap < QK_HIL_HDR_LEN + (size_t)len + QK_HIL_CRC_LEN)
		return 0;
	cur_init(&c, buf, NULL, cap);
	put_u32(&c, QK_HIL_MAGIC);
	put_u8(&c, m->hdr.version);
	put_u8(&c, m->hdr.type);
	put_u16(&c, (uint16_t)len);
	put_u32(&c, m->hdr.seq);
	put_u32(&c, m->hdr.ack);
	put_u64(&c, (uint64_t)m->hdr.tx_ns);
	put_u64(&c, (uint64_t)m->hdr.echo_tx_ns);
	put_u64(&c, (uint64_t)m->hdr.echo_rx_ns);
	put_payload(&c, m);
	if (c.bad || c.off != QK_HIL_HDR_LEN + (size_t)len)
		return 0;
	put_u32(&c, qk_hil_crc32c(0, buf, c.off));
	return c.bad ? 0 : c.off;
}

static void get_payload(struct cur *c, struct qk_hil_msg *m)
{
	switch (m->hdr.type) {
	case QK_HIL_HELLO: {
		struct qk_hil_hello *h = &m->u.hello;

		get_name(c, h->profile);
		h->rate_hz = get_u32(c);
		h->n_thrusters = get_u32(c);
		h->n_thermal = get_u32(c);
		h->n_devices = get_u32(c);
		h->session = get_u64(c);
		break;
	}
	case QK_HIL_HELLO_ACK: {
		struct qk_hil_hello_ack *a = &m->u.ack;

		a->status = get_u32(c);
		a->firmware_version = get_u32(c);
		get_name(c, a->profile);
		a->session = get_u64(c);
		a->n_devices = get_u32(c);
		a->rate_hz = get_u32(c);
		/* the length check already tied n_devices to the bytes there */
		for (uint32_t i = 0; i < a->n_devices && i < QK_HIL_MAX_DEV; i++) {
			get_name(c, a->device[i].name);
			a->device[i].type = get_u8(c);
			a->device[i].status = get_u8(c);
			a->device[i].code = get_u8(c);
			a->device[i].pad = get_u8(c);
		}
		break;
	}
	case QK_HIL_SENSORS: {
		struct qk_hil_sensors *s = &m->u.sensors;

		s->cycle = get_u64(c);
		s->valid = get_u32(c);
		s->flags = get_u32(c);
		get_f64s(c, s->accel_mps2, 3);
		get_f64s(c, s->pos_m, 3);
		get_f64s(c, s->vel_mps, 3);
		s->tank_bar = get_f64(c);
		s->propellant_kg = get_f64(c);
		s->mass_kg = get_f64(c);
		s->batt_v = get_f64(c);
		s->batt_a = get_f64(c);
		s->batt_soc = get_f64(c);
		s->n_thermal = get_u32(c);
		s->pad = get_u32(c);
		get_f64s(c, s->temp_k, QK_HIL_MAX_TEMP);
		break;
	}
	case QK_HIL_ACTUATORS: {
		struct qk_hil_actuators *a = &m->u.act;

		a->cycle = get_u64(c);
		a->state = get_u32(c);
		a->flags = get_u32(c);
		get_f64s(c, a->throttle, QK_HIL_MAX_THR);
		get_f64s(c, a->heater, QK_HIL_MAX_HEAT);
		break;
	}
	case QK_HIL_BYE:
		m->u.bye.reason = get_u32(c);
		break;
	default:
		break;
	}
}

enum qk_hil_err qk_hil_decode(const void *buf, size_t n, struct qk_hil_msg *m)
{
	struct cur c;
	const uint8_t *p = buf;
	uint32_t crc, n_dev = 0;
	long want;

	if (n < QK_HIL_HDR_LEN + QK_HIL_CRC_LEN)
		return QK_HIL_E_SHORT;
	/* the CRC first, over every byte before it: corruption anywhere is
	 * counted as corruption, whichever field it happened to hit */
	crc = (uint32_t)p[n - 4] | (uint32_t)p[n - 3] << 8 | (uint32_t)p[n - 2] << 16 |
	      (uint32_t)p[n - 1] << 24;
	if (crc != qk_hil_crc32c(0, p, n - QK_HIL_CRC_LEN))
		return QK_HIL_E_CRC;
	cur_init(&c, NULL, buf, n - QK_HIL_CRC_LEN);
	m->hdr.magic = get_u32(&c);
	m->hdr.version = get_u8(&c);
	m->hdr.type = get_u8(&c);
	m->hdr.len = get_u16(&c);
	if (m->hdr.magic != QK_HIL_MAGIC)
		return QK_HIL_E_MAGIC;
	/* magic, version, type and the trailing CRC keep their place in every
	 * version: a peer of another version is named, not just dropped */
	if (m->hdr.version != QK_HIL_VERSION)
		return QK_HIL_E_VERSION;
	if (m->hdr.type < 1 || m->hdr.type > QK_HIL_TYPE_MAX)
		return QK_HIL_E_TYPE;
	if (m->hdr.type == QK_HIL_HELLO_ACK && n >= QK_HIL_HDR_LEN + QK_HIL_ACK_LEN(0))
		n_dev = (uint32_t)p[QK_HIL_HDR_LEN + 40] | (uint32_t)p[QK_HIL_HDR_LEN + 41] << 8 |
			(uint32_t)p[QK_HIL_HDR_LEN + 42] << 16 | (uint32_t)p[QK_HIL_HDR_LEN + 43] << 24;
	want = payload_len(m->hdr.type, n_dev);
	if (want < 0 || (long)m->hdr.len != want ||
	    n != QK_HIL_HDR_LEN + (size_t)m->hdr.len + QK_HIL_CRC_LEN)
		return QK_HIL_E_LENGTH;
	m->hdr.seq = get_u32(&c);
	m->hdr.ack = get_u32(&c);
	m->hdr.tx_ns = (int64_t)get_u64(&c);
	m->hdr.echo_tx_ns = (int64_t)get_u64(&c);
	m->hdr.echo_rx_ns = (int64_t)get_u64(&c);
	get_payload(&c, m);
	return c.bad || c.off != c.cap ? QK_HIL_E_LENGTH : QK_HIL_OK;
}

enum qk_hil_err qk_hil_seq_check(struct qk_hil_seq *s, uint32_t seq, uint64_t *lost)
{
	int32_t d = (int32_t)(seq - s->last);

	if (s->any && d == 0)
		return QK_HIL_E_DUPLICATE;
	if (s->any && d < 0)
		return QK_HIL_E_STALE;
	if (s->any && lost)
		*lost += (uint32_t)d - 1;
	s->last = seq;
	s->any = true;
	return QK_HIL_OK;
}

const char *qk_hil_err_name(enum qk_hil_err e)
{
	static const char *const names[QK_HIL_E_COUNT] = {
		"ok", "short", "crc", "magic", "version", "type", "length", "stale", "duplicate",
	};

	return (unsigned)e < QK_HIL_E_COUNT ? names[e] : "?";
}

const char *qk_hil_type_name(unsigned type)
{
	static const char *const names[QK_HIL_TYPE_MAX + 1] = {
		"?", "HELLO", "HELLO-ACK", "SENSORS", "ACTUATORS", "HEARTBEAT", "BYE",
	};

	return type <= QK_HIL_TYPE_MAX ? names[type] : "?";
}
