/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/hil/link.c - the bridge's HIL session; see rt/hil/link.h and
 * docs/hil-protocol.md. */
#include <stdio.h>
#include <string.h>

#include "rt/hil/link.h"

void qk_hil_link_init(struct qk_hil_link *l, const struct qk_hil_link_cfg *cfg)
{
	memset(l, 0, sizeof(*l));
	l->cfg = *cfg;
	if (!l->cfg.stale_cycles)
		l->cfg.stale_cycles = 1;
	if (!l->cfg.hello_cycles)
		l->cfg.hello_cycles = 1;
	if (l->cfg.retry_max_cycles < l->cfg.hello_cycles)
		l->cfg.retry_max_cycles = 16 * l->cfg.hello_cycles;
	l->hello_due = 1;	/* the first cycle */
	l->session = cfg->session_seed;
	l->state = QK_HIL_LINK_HELLO;
	qk_hist_reset(&l->rtt);
}

/* Refused, by the device (by) or by us: counted, and HELLO again after a
 * backoff that doubles up to retry_max_cycles.  Whether it is news decides
 * whether the loop formats and says it again. */
static void refuse(struct qk_hil_link *l, uint32_t by, uint32_t status, uint8_t peer_version)
{
	bool same = l->st.refusals && l->refused_by == by && l->refused_status == status &&
		    l->peer_version == peer_version &&
		    !memcmp(&l->refused_ack, &l->ack, sizeof(l->ack));

	l->refused_by = by;
	l->refused_status = status;
	l->peer_version = peer_version;
	l->refused_ack = l->ack;
	l->st.refusals++;
	l->refused_now = true;
	l->refusal_new |= !same;
	l->backoff = l->backoff ? l->backoff * 2 : l->cfg.hello_cycles;
	if (l->backoff > l->cfg.retry_max_cycles)
		l->backoff = l->cfg.retry_max_cycles;
	l->hello_due = l->cycle + l->backoff;
	l->session++;		/* an ACK to the refused HELLO is not taken again */
	l->state = QK_HIL_LINK_REFUSED;
}

static void drop(struct qk_hil_link *l, enum qk_hil_err e)
{
	l->st.dropped[e < QK_HIL_E_COUNT ? e : QK_HIL_OK]++;
}

/* The four timestamps: t1 our send (echoed), t2 the device's receive, t3
 * its send, t4 our receive.  Offset is the device's clock minus ours. */
static void measure(struct qk_hil_link *l, const struct qk_hil_hdr *h, int64_t t4)
{
	int64_t t1 = h->echo_tx_ns, t2 = h->echo_rx_ns, t3 = h->tx_ns;
	int64_t rtt = (t4 - t1) - (t3 - t2);

	if (!t1 || t1 > t4 || t3 < t2 || rtt < 0)
		return;		/* nothing echoed yet, or clocks we cannot use */
	l->st.rtt_ns = rtt;
	l->st.offset_ns = ((t2 - t1) + (t3 - t4)) / 2;
	l->st.samples++;
	qk_hist_record(&l->rtt, rtt);
	if (l->shared_rtt)
		qk_hist_record(l->shared_rtt, rtt);
}

static void take_ack(struct qk_hil_link *l, const struct qk_hil_msg *m)
{
	const struct qk_hil_hello_ack *a = &m->u.ack;
	const struct qk_hil_link_cfg *c = &l->cfg;

	if (l->state == QK_HIL_LINK_UP || a->session != l->session) {
		l->st.unexpected++;	/* an answer to an older HELLO, or a replay */
		return;
	}
	/* the ACK is not a copy: byte by byte, as the codec does */
	l->ack.status = a->status;
	l->ack.firmware_version = a->firmware_version;
	memcpy(l->ack.profile, a->profile, sizeof(l->ack.profile));
	l->ack.session = a->session;
	l->ack.n_devices = a->n_devices;
	l->ack.rate_hz = a->rate_hz;
	memcpy(l->ack.device, a->device, a->n_devices * sizeof(a->device[0]));
	if (a->status != QK_HIL_ACCEPT || strncmp(a->profile, c->profile, QK_HIL_NAME_LEN) ||
	    a->rate_hz != c->rate_hz) {
		refuse(l, a->status != QK_HIL_ACCEPT,
		       a->status != QK_HIL_ACCEPT ? a->status : QK_HIL_REFUSE_PROFILE, 0);
		return;
	}
	l->backoff = 0;
	l->have_ack = true;
	l->have_sensors = false;
	l->rx_seq = (struct qk_hil_seq){ .last = m->hdr.seq, .any = true };
	l->peer_seq = m->hdr.seq;
	l->peer_tx_ns = m->hdr.tx_ns;
	l->state = QK_HIL_LINK_UP;
	l->missed = 0;
	l->st.sessions++;
}

void qk_hil_link_rx(struct qk_hil_link *l, const void *buf, size_t n, bool from_peer,
		    int64_t rx_ns)
{
	struct qk_hil_msg *m = &l->scratch;
	enum qk_hil_err e;

	l->st.received++;
	if (!from_peer) {
		l->st.wrong_peer++;
		return;
	}
	e = qk_hil_decode(buf, n, m);
	if (e == QK_HIL_E_VERSION && m->hdr.type == QK_HIL_HELLO_ACK &&
	    l->state != QK_HIL_LINK_UP && !l->refused_now) {
		/* the device answered our HELLO in its own version: refused */
		memset(&l->ack, 0, sizeof(l->ack));
		refuse(l, 1, QK_HIL_REFUSE_VERSION, m->hdr.version);
	}
	if (e) {
		drop(l, e);
		return;
	}
	switch (m->hdr.type) {
	case QK_HIL_HELLO_ACK:
		take_ack(l, m);
		return;
	case QK_HIL_SENSORS:
		if (l->state != QK_HIL_LINK_UP) {
			l->st.unexpected++;
			return;
		}
		e = qk_hil_seq_check(&l->rx_seq, m->hdr.seq, &l->st.lost);
		if (e) {
			drop(l, e);
			return;
		}
		l->st.taken++;
		if (l->have_sensors)
			l->st.superseded++;
		l->sensors = m->u.sensors;
		l->have_sensors = true;
		l->peer_seq = m->hdr.seq;
		l->peer_tx_ns = m->hdr.tx_ns;
		l->peer_rx_ns = rx_ns;
		measure(l, &m->hdr, rx_ns);
		return;
	case QK_HIL_HEARTBEAT:
		return;		/* alive; the cycle's SENSORS say more */
	case QK_HIL_BYE:
		if (l->state == QK_HIL_LINK_UP) {
			l->missed = l->cfg.stale_cycles;	/* stale now, not later */
		}
		return;
	default:
		l->st.unexpected++;	/* HELLO and ACTUATORS are ours to send */
		return;
	}
}

unsigned qk_hil_link_cycle(struct qk_hil_link *l)
{
	unsigned ev = 0;

	l->cycle++;
	if (l->refused_now) {
		ev |= QK_HIL_EV_REFUSED | (l->refusal_new ? QK_HIL_EV_REFUSAL_NEW : 0);
		l->refused_now = l->refusal_new = false;
	}
	if (l->have_ack) {
		ev |= QK_HIL_EV_UP;
		l->have_ack = false;
	}
	if (l->state != QK_HIL_LINK_UP)
		return ev;
	if (l->have_sensors) {
		ev |= QK_HIL_EV_SENSORS;
		l->have_sensors = false;
		l->missed = 0;
	} else if (!(ev & QK_HIL_EV_UP) && ++l->missed >= l->cfg.stale_cycles) {
		ev |= QK_HIL_EV_STALE;
		l->state = QK_HIL_LINK_HELLO;
		l->hello_due = l->cycle + 1;	/* HELLO from the next cycle on */
		l->st.link_losses++;
		l->session++;		/* a late ACK to an old HELLO is not taken */
	}
	return ev;
}

static void header(struct qk_hil_link *l, struct qk_hil_msg *m, unsigned type, int64_t now)
{
	m->hdr.magic = QK_HIL_MAGIC;
	m->hdr.version = l->cfg.version;
	m->hdr.type = (uint8_t)type;
	m->hdr.seq = ++l->tx_seq;
	m->hdr.ack = l->peer_seq;
	m->hdr.tx_ns = now;
	m->hdr.echo_tx_ns = l->peer_tx_ns;
	m->hdr.echo_rx_ns = l->peer_rx_ns;
}

size_t qk_hil_link_tx(struct qk_hil_link *l, const struct qk_hil_actuators *act, int64_t now_ns,
		      void *buf, size_t cap)
{
	struct qk_hil_msg *m = &l->scratch;

	if (l->state == QK_HIL_LINK_UP) {
		header(l, m, QK_HIL_ACTUATORS, now_ns);
		m->u.act = *act;
		return qk_hil_encode(m, buf, cap);
	}
	if (l->cycle < l->hello_due)
		return 0;
	/* after a refusal the backoff set the due cycle; then every hello_cycles */
	l->hello_due = l->cycle + (l->state == QK_HIL_LINK_REFUSED && l->backoff ?
				   l->backoff : l->cfg.hello_cycles);
	header(l, m, QK_HIL_HELLO, now_ns);
	memset(&m->u.hello, 0, sizeof(m->u.hello));
	memcpy(m->u.hello.profile, l->cfg.profile, QK_HIL_NAME_LEN);
	m->u.hello.rate_hz = l->cfg.rate_hz;
	m->u.hello.n_thrusters = l->cfg.n_thrusters;
	m->u.hello.n_thermal = l->cfg.n_thermal;
	m->u.hello.n_devices = l->cfg.n_devices;
	m->u.hello.session = l->session;
	l->st.hellos++;
	return qk_hil_encode(m, buf, cap);
}

size_t qk_hil_link_bye(struct qk_hil_link *l, int64_t now_ns, void *buf, size_t cap)
{
	struct qk_hil_msg *m = &l->scratch;

	header(l, m, QK_HIL_BYE, now_ns);
	m->u.bye.reason = l->state == QK_HIL_LINK_REFUSED ? QK_HIL_BYE_REFUSED : QK_HIL_BYE_SHUTDOWN;
	return qk_hil_encode(m, buf, cap);
}

void qk_hil_link_refusal(const struct qk_hil_link *l, char *buf, size_t n)
{
	const struct qk_hil_hello_ack *a = &l->refused_ack;

	if (!l->st.refusals)
		snprintf(buf, n, "not refused");
	else if (l->refused_status == QK_HIL_REFUSE_VERSION)
		snprintf(buf, n, "the device speaks HIL protocol version %u, this bridge version %u: "
			 "refused; update one side (docs/hil-protocol.md)",
			 (unsigned)(l->peer_version ? l->peer_version : QK_HIL_VERSION),
			 (unsigned)l->cfg.version);
	else
		snprintf(buf, n, "%s the session: the device has profile '%.24s' at %u Hz, this "
			 "bridge '%.24s' at %u Hz (%u thrusters, %u thermal nodes, %u devices); "
			 "start both with the same profile", l->refused_by ? "the device refused" :
			 "this bridge refused", a->profile, a->rate_hz, l->cfg.profile, l->cfg.rate_hz,
			 l->cfg.n_thrusters, l->cfg.n_thermal, l->cfg.n_devices);
}

const char *qk_hil_link_state_name(enum qk_hil_link_state s)
{
	switch (s) {
	case QK_HIL_LINK_HELLO: return "hello";
	case QK_HIL_LINK_UP: return "up";
	case QK_HIL_LINK_REFUSED: return "refused";
	}
	return "?";
}
