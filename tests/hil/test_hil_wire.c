/*
 * tests/hil/test_hil_wire.c - the HIL wire codec: round trips of every
 * message, the bytes on the wire, and every bad input refused with its
 * reason (short, corrupted, foreign magic or version, unknown type, wrong
 * length, stale and duplicate sequence numbers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rt/hil/wire.h"

static void hdr(struct qk_hil_msg *m, unsigned type, uint32_t seq)
{
	memset(m, 0, sizeof(*m));
	m->hdr.version = QK_HIL_VERSION;
	m->hdr.type = (uint8_t)type;
	m->hdr.seq = seq;
	m->hdr.ack = seq ^ 0x55aa;
	m->hdr.tx_ns = 1234567890123ll;
	m->hdr.echo_tx_ns = -42;
	m->hdr.echo_rx_ns = INT64_MAX;
}

static void sensors(struct qk_hil_msg *m, uint32_t seq)
{
	hdr(m, QK_HIL_SENSORS, seq);
	m->u.sensors.cycle = 0x0102030405060708ull;
	m->u.sensors.valid = 0xf0f;
	m->u.sensors.flags = 1;
	for (int i = 0; i < 3; i++) {
		m->u.sensors.accel_mps2[i] = 0.1 * i - 3e-300;
		m->u.sensors.pos_m[i] = 1.5 + i;
		m->u.sensors.vel_mps[i] = -2.25 * i;
	}
	m->u.sensors.tank_bar = 18.0;
	m->u.sensors.batt_soc = 0.97;
	m->u.sensors.n_thermal = 3;
	for (unsigned i = 0; i < QK_HIL_MAX_TEMP; i++)
		m->u.sensors.temp_k[i] = 290 + i / 7.0;
}

/* Rewrites the trailing CRC after a test changed bytes on purpose. */
static void recrc(uint8_t *b, size_t n)
{
	uint32_t c = qk_hil_crc32c(0, b, n - 4);

	b[n - 4] = (uint8_t)c;
	b[n - 3] = (uint8_t)(c >> 8);
	b[n - 2] = (uint8_t)(c >> 16);
	b[n - 1] = (uint8_t)(c >> 24);
}

static void test_hil_wire_crc32c_check_value(void **state)
{
	(void)state;
	assert_int_equal(qk_hil_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(qk_hil_crc32c(0, "", 0), 0);
	/* incremental: the CRC of a whole equals the CRC continued */
	assert_int_equal(qk_hil_crc32c(qk_hil_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}

static void test_hil_wire_sensors_round_trip_little_endian(void **state)
{
	struct qk_hil_msg m, d;
	uint8_t b[QK_HIL_MAX_FRAME];
	size_t n;

	(void)state;
	sensors(&m, 0x11223344);
	n = qk_hil_encode(&m, b, sizeof(b));
	assert_int_equal(n, QK_HIL_HDR_LEN + QK_HIL_SENSORS_LEN + QK_HIL_CRC_LEN);
	assert_memory_equal(b, "QKHL", 4);
	assert_int_equal(b[4], QK_HIL_VERSION);
	assert_int_equal(b[5], QK_HIL_SENSORS);
	assert_int_equal(b[6] | b[7] << 8, QK_HIL_SENSORS_LEN);
	assert_int_equal(b[8], 0x44);		/* seq, little-endian */
	assert_int_equal(b[11], 0x11);
	assert_int_equal(b[QK_HIL_HDR_LEN], 0x08);	/* cycle, little-endian */
	assert_int_equal(qk_hil_decode(b, n, &d), QK_HIL_OK);
	assert_int_equal(d.hdr.seq, m.hdr.seq);
	assert_int_equal(d.hdr.ack, m.hdr.ack);
	assert_true(d.hdr.tx_ns == m.hdr.tx_ns && d.hdr.echo_tx_ns == -42 &&
		    d.hdr.echo_rx_ns == INT64_MAX);
	assert_int_equal(d.hdr.len, QK_HIL_SENSORS_LEN);
	d.u.sensors.pad = 0;
	/* every field bit for bit: doubles travel as their bit patterns */
	assert_memory_equal(&d.u.sensors, &m.u.sensors, sizeof(m.u.sensors));
}

static void test_hil_wire_every_type_round_trips(void **state)
{
	struct qk_hil_msg m, d;
	uint8_t b[QK_HIL_MAX_FRAME];
	size_t n;

	(void)state;
	hdr(&m, QK_HIL_ACTUATORS, 7);
	m.u.act.cycle = 99;
	m.u.act.state = 2;
	m.u.act.flags = 1;
	for (unsigned i = 0; i < QK_HIL_MAX_THR; i++)
		m.u.act.throttle[i] = i / 16.0;
	m.u.act.heater[7] = 0.5;
	n = qk_hil_encode(&m, b, sizeof(b));
	assert_int_equal(n, QK_HIL_HDR_LEN + QK_HIL_ACT_LEN + QK_HIL_CRC_LEN);
	assert_int_equal(qk_hil_decode(b, n, &d), QK_HIL_OK);
	assert_memory_equal(&d.u.act, &m.u.act, sizeof(m.u.act));

	hdr(&m, QK_HIL_HELLO, 8);
	strcpy(m.u.hello.profile, "bot");
	m.u.hello.rate_hz = 1000;
	m.u.hello.n_thrusters = 4;
	m.u.hello.n_thermal = 3;
	m.u.hello.n_devices = 13;
	m.u.hello.session = 0xdeadbeefcafef00dull;
	n = qk_hil_encode(&m, b, sizeof(b));
	assert_int_equal(n, QK_HIL_HDR_LEN + QK_HIL_HELLO_LEN + QK_HIL_CRC_LEN);
	assert_int_equal(qk_hil_decode(b, n, &d), QK_HIL_OK);
	assert_memory_equal(&d.u.hello, &m.u.hello, sizeof(m.u.hello));

	for (uint32_t nd = 0; nd <= QK_HIL_MAX_DEV; nd += 16) {
		hdr(&m, QK_HIL_HELLO_ACK, 9);
		m.u.ack.status = QK_HIL_REFUSE_PROFILE;
		m.u.ack.firmware_version = 0x10000;
		strcpy(m.u.ack.profile, "ship");
		m.u.ack.session = 77;
		m.u.ack.n_devices = nd;
		m.u.ack.rate_hz = 500;
		for (uint32_t i = 0; i < nd; i++) {
			snprintf(m.u.ack.device[i].name, QK_HIL_NAME_LEN, "dev%u", i);
			m.u.ack.device[i].type = (uint8_t)(i % 5);
			m.u.ack.device[i].status = (uint8_t)(i % 4);
			m.u.ack.device[i].code = (uint8_t)(i % 5);
		}
		n = qk_hil_encode(&m, b, sizeof(b));
		assert_int_equal(n, QK_HIL_HDR_LEN + QK_HIL_ACK_LEN(nd) + QK_HIL_CRC_LEN);
		assert_true(n <= QK_HIL_MAX_FRAME);
		assert_int_equal(qk_hil_decode(b, n, &d), QK_HIL_OK);
		assert_memory_equal(&d.u.ack, &m.u.ack, offsetof(struct qk_hil_hello_ack, device) +
				    nd * sizeof(m.u.ack.device[0]));
	}

	hdr(&m, QK_HIL_HEARTBEAT, 10);
	n = qk_hil_encode(&m, b, sizeof(b));
	assert_int_equal(n, QK_HIL_HDR_LEN + QK_HIL_CRC_LEN);
	assert_int_equal(qk_hil_decode(b, n, &d), QK_HIL_OK);
	assert_int_equal(d.hdr.type, QK_HIL_HEARTBEAT);

	hdr(&m, QK_HIL_BYE, 11);
	m.u.bye.reason = QK_HIL_BYE_REFUSED;
	n = qk_hil_encode(&m, b, sizeof(b));
	assert_int_equal(qk_hil_decode(b, n, &d), QK_HIL_OK);
	assert_int_equal(d.u.bye.reason, QK_HIL_BYE_REFUSED);
}

static void test_hil_wire_encode_refuses_what_it_cannot_send(void **state)
{
	struct qk_hil_msg m;
	uint8_t b[QK_HIL_MAX_FRAME];

	(void)state;
	sensors(&m, 1);
	assert_int_equal(qk_hil_encode(&m, b, QK_HIL_HDR_LEN + QK_HIL_SENSORS_LEN + 3), 0);
	hdr(&m, 0, 1);
	assert_int_equal(qk_hil_encode(&m, b, sizeof(b)), 0);
	hdr(&m, QK_HIL_TYPE_MAX + 1, 1);
	assert_int_equal(qk_hil_encode(&m, b, sizeof(b)), 0);
	hdr(&m, QK_HIL_HELLO_ACK, 1);
	m.u.ack.n_devices = QK_HIL_MAX_DEV + 1;
	assert_int_equal(qk_hil_encode(&m, b, sizeof(b)), 0);
}

static void test_hil_wire_short_frames_are_refused(void **state)
{
	struct qk_hil_msg m, d;
	uint8_t b[QK_HIL_MAX_FRAME];
	size_t n;

	(void)state;
	sensors(&m, 1);
	n = qk_hil_encode(&m, b, sizeof(b));
	assert_int_equal(qk_hil_decode(b, 0, &d), QK_HIL_E_SHORT);
	/* every cut of a frame: short below a header and a CRC, corrupted above */
	for (size_t k = 1; k < n; k++) {
		enum qk_hil_err e = qk_hil_decode(b, k, &d);

		assert_int_equal(e, k < QK_HIL_HDR_LEN + QK_HIL_CRC_LEN ? QK_HIL_E_SHORT : QK_HIL_E_CRC);
	}
}

static void test_hil_wire_any_flipped_bit_is_a_crc_error(void **state)
{
	struct qk_hil_msg m, d;
	uint8_t b[QK_HIL_MAX_FRAME];
	size_t n;

	(void)state;
	sensors(&m, 1);
	n = qk_hil_encode(&m, b, sizeof(b));
	for (size_t i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(qk_hil_decode(b, n, &d), QK_HIL_E_CRC);
			b[i] ^= (uint8_t)(1u << bit);
		}
	/* and a byte replaced by any other value */
	for (size_t i = 0; i < n; i += 7)
		for (unsigned v = 1; v < 256; v++) {
			b[i] ^= (uint8_t)v;
			assert_int_equal(qk_hil_decode(b, n, &d), QK_HIL_E_CRC);
			b[i] ^= (uint8_t)v;
		}
	assert_int_equal(qk_hil_decode(b, n, &d), QK_HIL_OK);
}

static void test_hil_wire_foreign_frames_are_refused_by_reason(void **state)
{
	struct qk_hil_msg m, d;
	uint8_t b[QK_HIL_MAX_FRAME], c[QK_HIL_MAX_FRAME];
	size_t n;

	(void)state;
	sensors(&m, 1);
	n = qk_hil_encode(&m, b, sizeof(b));

	memcpy(c, b, n);
	c[0] = 'X';
	recrc(c, n);
	assert_int_equal(qk_hil_decode(c, n, &d), QK_HIL_E_MAGIC);

	/* another version: refused, and the peer's version and type are named */
	m.hdr.version = QK_HIL_VERSION + 1;
	n = qk_hil_encode(&m, c, sizeof(c));
	assert_int_equal(qk_hil_decode(c, n, &d), QK_HIL_E_VERSION);
	assert_int_equal(d.hdr.version, QK_HIL_VERSION + 1);
	assert_int_equal(d.hdr.type, QK_HIL_SENSORS);
	m.hdr.version = QK_HIL_VERSION;

	memcpy(c, b, n);
	c[5] = 0;
	recrc(c, n);
	assert_int_equal(qk_hil_decode(c, n, &d), QK_HIL_E_TYPE);
	c[5] = QK_HIL_TYPE_MAX + 1;
	recrc(c, n);
	assert_int_equal(qk_hil_decode(c, n, &d), QK_HIL_E_TYPE);

	/* a SENSORS frame claiming the length of something else */
	memcpy(c, b, n);
	c[5] = QK_HIL_HELLO;
	recrc(c, n);
	assert_int_equal(qk_hil_decode(c, n, &d), QK_HIL_E_LENGTH);
	memcpy(c, b, n);
	c[6] = 0xff;
	recrc(c, n);
	assert_int_equal(qk_hil_decode(c, n, &d), QK_HIL_E_LENGTH);

	/* trailing bytes after a well-formed frame */
	memcpy(c, b, n - 4);
	memset(c + n - 4, 0, 8);
	recrc(c, n + 4);
	assert_int_equal(qk_hil_decode(c, n + 4, &d), QK_HIL_E_LENGTH);

	/* a HELLO-ACK with more devices than the protocol allows */
	hdr(&m, QK_HIL_HELLO_ACK, 1);
	m.u.ack.n_devices = QK_HIL_MAX_DEV;
	n = qk_hil_encode(&m, c, sizeof(c));
	c[QK_HIL_HDR_LEN + 40] = QK_HIL_MAX_DEV + 1;
	recrc(c, n);
	assert_int_equal(qk_hil_decode(c, n, &d), QK_HIL_E_LENGTH);
	/* one whose count disagrees with its length */
	c[QK_HIL_HDR_LEN + 40] = 3;
	recrc(c, n);
	assert_int_equal(qk_hil_decode(c, n, &d), QK_HIL_E_LENGTH);
}

static void test_hil_wire_peer_names_are_terminated(void **state)
{
	struct qk_hil_msg m, d;
	uint8_t b[QK_HIL_MAX_FRAME];
	size_t n;

	(void)state;
	hdr(&m, QK_HIL_HELLO, 1);
	n = qk_hil_encode(&m, b, sizeof(b));
	memset(b + QK_HIL_HDR_LEN, 'A', QK_HIL_NAME_LEN);
	recrc(b, n);
	assert_int_equal(qk_hil_decode(b, n, &d), QK_HIL_OK);
	assert_int_equal(strlen(d.u.hello.profile), QK_HIL_NAME_LEN - 1);
}

static void test_hil_wire_seq_stale_duplicate_wrap_and_gaps(void **state)
{
	struct qk_hil_seq s = { 0 };
	uint64_t lost = 0;

	(void)state;
	assert_int_equal(qk_hil_seq_check(&s, 100, &lost), QK_HIL_OK);
	assert_int_equal(lost, 0);
	assert_int_equal(qk_hil_seq_check(&s, 100, &lost), QK_HIL_E_DUPLICATE);
	assert_int_equal(qk_hil_seq_check(&s, 99, &lost), QK_HIL_E_STALE);
	assert_int_equal(qk_hil_seq_check(&s, 104, &lost), QK_HIL_OK);
	assert_int_equal(lost, 3);
	assert_int_equal(qk_hil_seq_check(&s, 102, &lost), QK_HIL_E_STALE);
	assert_int_equal(lost, 3);
	/* across the wrap */
	s = (struct qk_hil_seq){ .last = UINT32_MAX - 1, .any = true };
	assert_int_equal(qk_hil_seq_check(&s, UINT32_MAX, &lost), QK_HIL_OK);
	assert_int_equal(qk_hil_seq_check(&s, 1, &lost), QK_HIL_OK);
	assert_int_equal(lost, 4);
	assert_int_equal(qk_hil_seq_check(&s, UINT32_MAX, &lost), QK_HIL_E_STALE);
	assert_int_equal(qk_hil_seq_check(&s, 1, &lost), QK_HIL_E_DUPLICATE);
	assert_string_equal(qk_hil_err_name(QK_HIL_E_CRC), "crc");
	assert_string_equal(qk_hil_type_name(QK_HIL_HELLO_ACK), "HELLO-ACK");
	assert_string_equal(qk_hil_type_name(200), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hil_wire_crc32c_check_value),
		cmocka_unit_test(test_hil_wire_sensors_round_trip_little_endian),
		cmocka_unit_test(test_hil_wire_every_type_round_trips),
		cmocka_unit_test(test_hil_wire_encode_refuses_what_it_cannot_send),
		cmocka_unit_test(test_hil_wire_short_frames_are_refused),
		cmocka_unit_test(test_hil_wire_any_flipped_bit_is_a_crc_error),
		cmocka_unit_test(test_hil_wire_foreign_frames_are_refused_by_reason),
		cmocka_unit_test(test_hil_wire_peer_names_are_terminated),
		cmocka_unit_test(test_hil_wire_seq_stale_duplicate_wrap_and_gaps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
