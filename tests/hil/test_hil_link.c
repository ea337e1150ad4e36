/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/hil/test_hil_link.c - the bridge's session logic without a network:
 * HELLO cadence, the ACK's session and profile checks, SENSORS taken in
 * order with gaps counted as lost, strangers and bad frames counted and
 * never taken, the device going stale, refusals naming both sides, and the
 * clock offset and round trip from four timestamps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rt/hil/link.h"

static struct qk_hil_link l;
static uint8_t buf[QK_HIL_MAX_FRAME];

static void init(void)
{
	struct qk_hil_link_cfg c = { .profile = "bot", .rate_hz = 1000, .n_thrusters = 4,
				     .n_thermal = 3, .n_devices = 16, .stale_cycles = 5,
				     .hello_cycles = 10, .version = QK_HIL_VERSION,
				     .session_seed = 42 };

	qk_hil_link_init(&l, &c);
}

/* A frame from the device, encoded as the device would. */
static size_t from_device(unsigned type, uint32_t seq, uint64_t session, const char *profile,
			  uint8_t version)
{
	static struct qk_hil_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.version = version;
	m.hdr.type = (uint8_t)type;
	m.hdr.seq = seq;
	if (type == QK_HIL_HELLO_ACK) {
		m.u.ack.session = session;
		m.u.ack.rate_hz = 1000;
		snprintf(m.u.ack.profile, sizeof(m.u.ack.profile), "%s", profile);
		m.u.ack.n_devices = 2;
		strcpy(m.u.ack.device[0].name, "imu");
		strcpy(m.u.ack.device[1].name, "nav");
	} else if (type == QK_HIL_SENSORS) {
		m.u.sensors.cycle = seq;
		m.u.sensors.pos_m[0] = seq;
	}
	return qk_hil_encode(&m, buf, sizeof(buf));
}

static void up(void)
{
	init();
	assert_int_equal(qk_hil_link_cycle(&l), 0);
	assert_true(qk_hil_link_tx(&l, NULL, 1, buf, sizeof(buf)) > 0);	/* HELLO */
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_HELLO_ACK, 100, 42, "bot", QK_HIL_VERSION),
		       true, 2);
	assert_int_equal(qk_hil_link_cycle(&l), QK_HIL_EV_UP);
	assert_int_equal(l.state, QK_HIL_LINK_UP);
}

static void test_hil_link_hello_every_n_cycles_until_acked(void **state)
{
	struct qk_hil_msg m;
	int hellos = 0;

	(void)state;
	init();
	for (int c = 0; c < 25; c++) {
		qk_hil_link_cycle(&l);
		size_t n = qk_hil_link_tx(&l, NULL, c, buf, sizeof(buf));

		if (!n)
			continue;
		assert_int_equal(qk_hil_decode(buf, n, &m), QK_HIL_OK);
		assert_int_equal(m.hdr.type, QK_HIL_HELLO);
		assert_string_equal(m.u.hello.profile, "bot");
		assert_int_equal(m.u.hello.session, 42);
		assert_int_equal(m.u.hello.n_devices, 16);
		hellos++;
	}
	assert_int_equal(hellos, 3);	/* cycles 1, 11, 21 */
	/* an ACK to another session is not taken */
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_HELLO_ACK, 1, 41, "bot", QK_HIL_VERSION), true, 5);
	assert_int_equal(qk_hil_link_cycle(&l), 0);
	assert_int_equal(l.st.unexpected, 1);
	/* nor one from a stranger */
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_HELLO_ACK, 1, 42, "bot", QK_HIL_VERSION), false, 5);
	assert_int_equal(qk_hil_link_cycle(&l), 0);
	assert_int_equal(l.st.wrong_peer, 1);
}

static void test_hil_link_sensors_in_order_gaps_lost_bad_dropped(void **state)
{
	(void)state;
	up();
	assert_int_equal(l.ack.n_devices, 2);
	assert_string_equal(l.ack.device[1].name, "nav");
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_SENSORS, 101, 0, NULL, QK_HIL_VERSION), true, 3);
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_SENSORS, 104, 0, NULL, QK_HIL_VERSION), true, 3);
	assert_int_equal(qk_hil_link_cycle(&l), QK_HIL_EV_SENSORS);
	assert_true(l.sensors.pos_m[0] == 104);	/* the newest */
	assert_int_equal(l.st.taken, 2);
	assert_int_equal(l.st.superseded, 1);
	assert_int_equal(l.st.lost, 2);		/* 102 and 103 */
	/* late, repeated, corrupted, foreign: counted, never taken */
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_SENSORS, 103, 0, NULL, QK_HIL_VERSION), true, 4);
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_SENSORS, 104, 0, NULL, QK_HIL_VERSION), true, 4);
	size_t n = from_device(QK_HIL_SENSORS, 105, 0, NULL, QK_HIL_VERSION);

	buf[50] ^= 0x40;
	qk_hil_link_rx(&l, buf, n, true, 4);
	qk_hil_link_rx(&l, buf, 10, true, 4);
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_SENSORS, 106, 0, NULL, QK_HIL_VERSION), false, 4);
	assert_int_equal(qk_hil_link_cycle(&l), 0);
	assert_int_equal(l.st.dropped[QK_HIL_E_STALE], 1);
	assert_int_equal(l.st.dropped[QK_HIL_E_DUPLICATE], 1);
	assert_int_equal(l.st.dropped[QK_HIL_E_CRC], 1);
	assert_int_equal(l.st.dropped[QK_HIL_E_SHORT], 1);
	assert_int_equal(l.st.wrong_peer, 1);
	assert_int_equal(l.st.taken, 2);
	assert_int_equal(l.st.received, 8);
}

static void test_hil_link_stale_after_n_cycles_then_hello_again(void **state)
{
	(void)state;
	up();
	for (int c = 1; c < 5; c++)
		assert_int_equal(qk_hil_link_cycle(&l), 0);
	assert_int_equal(qk_hil_link_cycle(&l), QK_HIL_EV_STALE);
	assert_int_equal(l.state, QK_HIL_LINK_HELLO);
	assert_int_equal(l.st.link_losses, 1);
	/* a late ACK to the old session is not taken; the new one is */
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_HELLO_ACK, 200, 42, "bot", QK_HIL_VERSION), true, 9);
	assert_int_equal(qk_hil_link_cycle(&l), 0);
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_HELLO_ACK, 201, 43, "bot", QK_HIL_VERSION), true, 9);
	assert_int_equal(qk_hil_link_cycle(&l), QK_HIL_EV_UP);
	assert_int_equal(l.st.sessions, 2);
	/* the sequence memory starts again from the ACK */
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_SENSORS, 202, 0, NULL, QK_HIL_VERSION), true, 9);
	assert_int_equal(qk_hil_link_cycle(&l), QK_HIL_EV_SENSORS);
	assert_int_equal(l.st.lost, 0);
}

static void test_hil_link_refusals_name_both_sides(void **state)
{
	char why[512];

	(void)state;
	init();
	qk_hil_link_cycle(&l);
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_HELLO_ACK, 1, 42, "ship", QK_HIL_VERSION), true, 1);
	assert_int_equal(qk_hil_link_cycle(&l), QK_HIL_EV_REFUSED | QK_HIL_EV_REFUSAL_NEW);
	qk_hil_link_refusal(&l, why, sizeof(why));
	assert_non_null(strstr(why, "profile 'ship'"));
	assert_non_null(strstr(why, "bridge 'bot'"));

	init();
	qk_hil_link_cycle(&l);
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_HELLO_ACK, 1, 42, "bot", QK_HIL_VERSION + 1),
		       true, 1);
	assert_int_equal(qk_hil_link_cycle(&l), QK_HIL_EV_REFUSED | QK_HIL_EV_REFUSAL_NEW);
	qk_hil_link_refusal(&l, why, sizeof(why));
	assert_non_null(strstr(why, "the device speaks HIL protocol version 2, this bridge version 1"));
	assert_int_equal(l.st.dropped[QK_HIL_E_VERSION], 1);
}

/* The cycles (from now) at which the link sends its next `n` HELLOs. */
static void next_hellos(int n, int within, int *at)
{
	struct qk_hil_msg m;
	int k = 0;

	for (int c = 0; c < within && k < n; c++) {
		unsigned ev = qk_hil_link_cycle(&l);
		size_t len = qk_hil_link_tx(&l, NULL, c, buf, sizeof(buf));

		assert_int_equal(ev, 0);
		if (!len)
			continue;
		assert_int_equal(qk_hil_decode(buf, len, &m), QK_HIL_OK);
		assert_int_equal(m.hdr.type, QK_HIL_HELLO);
		assert_int_equal(m.u.hello.session, l.session);
		at[k++] = c;
	}
	assert_int_equal(k, n);
}

static void test_hil_link_refused_hello_again_with_backoff_then_accepted(void **state)
{
	int at[3];

	(void)state;
	init();
	qk_hil_link_cycle(&l);
	assert_true(qk_hil_link_tx(&l, NULL, 0, buf, sizeof(buf)) > 0);
	/* a device of another version: refused, HELLO again after 10 cycles */
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_HELLO_ACK, 1, 42, "bot", QK_HIL_VERSION + 1),
		       true, 1);
	assert_int_equal(qk_hil_link_cycle(&l), QK_HIL_EV_REFUSED | QK_HIL_EV_REFUSAL_NEW);
	assert_int_equal(l.state, QK_HIL_LINK_REFUSED);
	assert_int_equal(l.st.refusals, 1);
	next_hellos(1, 50, at);
	assert_int_equal(at[0], 8);	/* the backoff counts from the refusal's cycle */
	/* the same refusal again: counted, not news; the backoff doubles */
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_HELLO_ACK, 2, 0, "bot", QK_HIL_VERSION + 1),
		       true, 1);
	assert_int_equal(qk_hil_link_cycle(&l), QK_HIL_EV_REFUSED);
	assert_int_equal(l.st.refusals, 2);
	next_hellos(1, 50, at);
	assert_int_equal(at[0], 18);
	/* no answer: HELLO at the same backoff, never sooner */
	next_hellos(2, 100, at);
	assert_int_equal(at[1] - at[0], 20);
	/* the corrected device: the newest HELLO's session is taken */
	qk_hil_link_rx(&l, buf, from_device(QK_HIL_HELLO_ACK, 3, l.session, "bot", QK_HIL_VERSION),
		       true, 1);
	assert_int_equal(qk_hil_link_cycle(&l), QK_HIL_EV_UP);
	assert_int_equal(l.state, QK_HIL_LINK_UP);
	assert_int_equal(l.st.sessions, 1);
	assert_int_equal(l.st.refusals, 2);
	/* and a later loss says HELLO at the plain cadence again */
	assert_int_equal(l.backoff, 0);
}

static void test_hil_link_offset_and_round_trip_from_four_stamps(void **state)
{
	static struct qk_hil_msg m;

	(void)state;
	up();
	/* device clock 10 us ahead, 100 ns each way, 50 ns in the device */
	memset(&m, 0, sizeof(m));
	m.hdr.version = QK_HIL_VERSION;
	m.hdr.type = QK_HIL_SENSORS;
	m.hdr.seq = 101;
	m.hdr.echo_tx_ns = 1000;	/* t1 */
	m.hdr.echo_rx_ns = 11100;	/* t2 */
	m.hdr.tx_ns = 11150;		/* t3 */
	qk_hil_link_rx(&l, buf, qk_hil_encode(&m, buf, sizeof(buf)), true, 1250 /* t4 */);
	assert_int_equal(l.st.rtt_ns, 200);
	assert_int_equal(l.st.offset_ns, 10000);
	assert_int_equal(l.st.samples, 1);
	/* the ACTUATORS that follow echo the device's stamps */
	struct qk_hil_actuators a = { .cycle = 7 };

	qk_hil_link_cycle(&l);
	size_t n = qk_hil_link_tx(&l, &a, 2000, buf, sizeof(buf));

	assert_int_equal(qk_hil_decode(buf, n, &m), QK_HIL_OK);
	assert_int_equal(m.hdr.type, QK_HIL_ACTUATORS);
	assert_int_equal(m.hdr.ack, 101);
	assert_int_equal(m.hdr.echo_tx_ns, 11150);
	assert_int_equal(m.hdr.echo_rx_ns, 1250);
	assert_int_equal(m.u.act.cycle, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hil_link_hello_every_n_cycles_until_acked),
		cmocka_unit_test(test_hil_link_sensors_in_order_gaps_lost_bad_dropped),
		cmocka_unit_test(test_hil_link_stale_after_n_cycles_then_hello_again),
		cmocka_unit_test(test_hil_link_refusals_name_both_sides),
		cmocka_unit_test(test_hil_link_refused_hello_again_with_backoff_then_accepted),
		cmocka_unit_test(test_hil_link_offset_and_round_trip_from_four_stamps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
