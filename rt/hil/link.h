/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/hil/link.h - the bridge's side of a HIL session, apart from sockets and
 * io_uring: what to send each cycle, what to make of each datagram, when the
 * device is up, stale or refused, and the link's statistics.
 *
 * Contract
 * - Process-local, one thread (the bridge's loop).  No allocation, no
 *   syscall, no clock of its own (times are passed in): real-time safe and
 *   unit-testable without a network.  Only qk_hil_link_refusal() formats text,
 *   and the loop calls it only when a refusal differs from the one before
 *   (QK_HIL_EV_REFUSAL_NEW).
 * - A refusal (version or profile, by either side) is not the end: the link
 *   stays REFUSED, counts it, and says HELLO again after a backoff that
 *   doubles from hello_cycles up to retry_max_cycles, so a device that is
 *   corrected (reflashed, restarted with the right profile) is taken
 *   without restarting the bridge.
 * - Every datagram goes through qk_hil_link_rx(): a frame from anyone but the
 *   peer, or one the codec or the sequence check refuses, is counted by
 *   reason and never reaches the loop.
 * - Per cycle: qk_hil_link_rx() for what arrived, then qk_hil_link_cycle()
 *   once (which says what happened), then qk_hil_link_tx() once.
 */
#ifndef QK_RT_HIL_LINK_H
#define QK_RT_HIL_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt/hil/wire.h"
#include "shm/hist.h"

enum qk_hil_link_state {
	QK_HIL_LINK_HELLO,		/* no session: HELLO every hello_cycles */
	QK_HIL_LINK_UP,			/* session up: ACTUATORS every cycle */
	QK_HIL_LINK_REFUSED,		/* the last HELLO was refused: HELLO again after a backoff */
};

struct qk_hil_link_cfg {
	char profile[QK_HIL_NAME_LEN];
	uint32_t rate_hz, n_thrusters, n_thermal, n_devices;
	uint32_t stale_cycles;		/* cycles without SENSORS -> device stale */
	uint32_t hello_cycles;		/* between HELLOs while no session */
	uint32_t retry_max_cycles;	/* the longest backoff after a refusal (0: 16 x hello) */
	uint8_t version;		/* QK_HIL_VERSION; another only in tests */
	uint64_t session_seed;		/* first session nonce */
};

/* Counters (the link's, not the codec's): single writer, the loop. */
struct qk_hil_link_stats {
	uint64_t sent;			/* frames handed to the socket */
	uint64_t received;		/* datagrams seen, whatever they were */
	uint64_t taken;			/* SENSORS frames accepted */
	uint64_t lost;			/* SENSORS frames never seen (sequence gaps) */
	uint64_t superseded;		/* accepted, but a newer one came in the same cycle */
	uint64_t wrong_peer;		/* from another address */
	uint64_t dropped[QK_HIL_E_COUNT];	/* by codec/sequence reason */
	uint64_t unexpected;		/* well-formed, but not for this state (old ACK, ...) */
	uint64_t hellos, sessions, link_losses;
	uint64_t refusals;		/* HELLO-ACKs that refused (or that we refused) */
	uint64_t send_errors;
	int64_t rtt_ns, offset_ns;	/* of the newest exchange */
	uint64_t samples;		/* exchanges measured */
};

/* What qk_hil_link_cycle() reports (bits). */
#define QK_HIL_EV_SENSORS  (1u << 0)	/* l->sensors holds a new frame */
#define QK_HIL_EV_UP       (1u << 1)	/* a session started: l->ack holds the POST table */
#define QK_HIL_EV_STALE    (1u << 2)	/* the device went stale */
#define QK_HIL_EV_REFUSED  (1u << 3)	/* refused: qk_hil_link_refusal() says why */
#define QK_HIL_EV_REFUSAL_NEW (1u << 4)	/* ... and not for the same reason as before */

struct qk_hil_link {
	struct qk_hil_link_cfg cfg;
	enum qk_hil_link_state state;
	uint64_t session;
	uint32_t tx_seq;
	uint64_t cycle;			/* cycles seen by qk_hil_link_cycle() */
	uint32_t missed;		/* cycles in a row without SENSORS */
	uint64_t hello_due;		/* the cycle of the next HELLO while no session */
	uint32_t backoff;		/* cycles before the HELLO after a refusal */
	bool refused_now, refusal_new;	/* this cycle's arrivals refused us */
	struct qk_hil_seq rx_seq;
	/* the echo: the device's newest frame taken */
	uint32_t peer_seq;
	int64_t peer_tx_ns, peer_rx_ns;
	/* this cycle's arrivals */
	bool have_sensors, have_ack;
	struct qk_hil_sensors sensors;
	struct qk_hil_hello_ack ack;
	/* why the session was refused */
	uint32_t refused_by;		/* 0 us, 1 the device (the newest refusal) */
	uint32_t refused_status;	/* enum qk_hil_status */
	uint8_t peer_version;
	struct qk_hil_hello_ack refused_ack;
	struct qk_hil_msg scratch;
	struct qk_hil_link_stats st;
	struct qk_hist rtt;		/* ns */
	struct qk_hist *shared_rtt;	/* also recorded here when set (the segment's) */
};

void qk_hil_link_init(struct qk_hil_link *l, const struct qk_hil_link_cfg *cfg);

/* One datagram of n bytes, from the peer or not, that arrived at rx_ns (the
 * bridge's CLOCK_MONOTONIC). */
void qk_hil_link_rx(struct qk_hil_link *l, const void *buf, size_t n, bool from_peer,
		    int64_t rx_ns);

/* The end of a cycle's arrivals: QK_HIL_EV_* bits. */
unsigned qk_hil_link_cycle(struct qk_hil_link *l);

/* The frame to send this cycle into buf: ACTUATORS when up (act, with
 * hdr fields filled here), a HELLO when one is due, else nothing (0). */
size_t qk_hil_link_tx(struct qk_hil_link *l, const struct qk_hil_actuators *act, int64_t now_ns,
		      void *buf, size_t cap);

/* A BYE to send when the bridge stops. */
size_t qk_hil_link_bye(struct qk_hil_link *l, int64_t now_ns, void *buf, size_t cap);

/* Why we were refused, in a sentence that names both sides' values. */
void qk_hil_link_refusal(const struct qk_hil_link *l, char *buf, size_t n);

const char *qk_hil_link_state_name(enum qk_hil_link_state s);

#endif
