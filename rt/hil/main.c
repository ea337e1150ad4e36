/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * qiki-hil: the hardware-in-the-loop bridge.  It takes qiki-sim's place in
 * the segment (its process slot, rings, POST report, status and watchdog)
 * and puts a device on UDP where the plant was.
 *
 * The bridge is the cycle master.  Each cycle it wakes once, when the wait of
 * its io_uring_enter times out at the cycle's due time: it takes what the
 * device sent during the cycle before (receives stay armed all along),
 * publishes the newest SENSORS frame, reads the agent's newest actuator frame
 * and queues it as ACTUATORS with the re-armed receives, and enters the
 * kernel once to submit all of it and sleep until the next due time (the
 * wait asks for more completions than a cycle can have, so only its timeout
 * ends it).  So the real-time thread makes exactly one syscall per cycle,
 * io_uring_enter; the receive times come from the kernel (SO_TIMESTAMPNS),
 * not from when we looked.
 *
 * Link faults are the FSM's business: N cycles without SENSORS make every
 * device of the device's POST table ERROR / TIMEOUT_RESPONSE (the agent goes
 * SAFE on its BIOS guard) and HELLO starts again; the HELLO-ACK brings a new
 * POST table, and the operator's RESET returns to IDLE once that is good.
 */
#include <errno.h>
#include <liburing.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rt/cli.h"
#include "rt/hil/link.h"
#include "rt/hil/net.h"
#include "rt/hil/stream.h"
#include "rt/hil/wake.h"
#include "rt/proc.h"

#define PROG "qiki-hil"
#define NRX 8				/* receives kept armed */
#define WAIT_NR 64			/* more than a cycle's completions: the timeout wakes us */
#define CMDS_PER_CYCLE 4
#define SENT_MEMORY 64			/* cycles whose ACTUATORS we remember */
_Static_assert(QK_HIL_E_COUNT - 1 == QK_LINK_DROP_REASONS, "the segment counts every drop reason");

#define UD_RX 0x100u
#define UD_TX 0x200u
#define UD_WAKE 0x300u

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct rxbuf {
	uint8_t data[QK_HIL_MAX_FRAME + 64];	/* room to see an oversized datagram */
	struct sockaddr_in6 from;
	struct iovec iov;
	struct msghdr mh;
	uint8_t ctrl[CMSG_SPACE(sizeof(struct timespec))];
};

struct sent {				/* what went out in one cycle */
	uint64_t cycle, act_seq, answers;
};

struct hil_opts {
	const char *peer, *bind, *stats_file;
	uint32_t stale_cycles, hello_ms;
	int version;
};

struct hil {
	struct qk_proc_ctx p;
	struct hil_opts ho;
	struct sockaddr_in6 peer, bind;
	int fd;
	struct io_uring ring;
	struct rxbuf rx[NRX];
	uint8_t tx[2][QK_HIL_MAX_FRAME];
	struct iovec txiov[2];
	struct msghdr txmh[2];
	unsigned txi;
	struct qk_hil_link link;
	struct qk_hil_actuators out;
	struct sent sent[SENT_MEMORY];
	/* the sim's side of the segment */
	struct qk_ring_reader act_rd;
	struct qk_actuator_frame act;
	struct qk_sensor_frame frame;
	struct qk_bios_report bios;
	struct qk_sim_status status;
	uint64_t act_age;
	bool have_act, have_post;
	bool uring_wake;		/* the agent's wake goes in the cycle's submission */
	uint64_t wakes, wake_errors, logged_wake_errors;
	char refusal[QK_LINK_REFUSAL_LEN];
	struct qk_hil_stream stream;	/* the sensor stream hash (rt/hil/stream.h) */
	uint64_t last_published, answer_due, late_answers, overruns;
	bool wake_due;
	uint64_t published;
	uint32_t logged_watchdog;
	uint64_t logged_overruns;
	int64_t real_minus_mono;
};

static void arm_rx(struct hil *h, unsigned i)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&h->ring);
	struct rxbuf *b = &h->rx[i];

	b->iov = (struct iovec){ b->data, sizeof(b->data) };
	b->mh = (struct msghdr){ .msg_name = &b->from, .msg_namelen = sizeof(b->from),
				 .msg_iov = &b->iov, .msg_iovlen = 1,
				 .msg_control = b->ctrl, .msg_controllen = sizeof(b->ctrl) };
	io_uring_prep_recvmsg(sqe, h->fd, &b->mh, 0);
	io_uring_sqe_set_data64(sqe, UD_RX | i);
}

static void queue_send(struct hil *h, size_t n)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&h->ring);
	unsigned i = h->txi;

	h->txiov[i] = (struct iovec){ h->tx[i], n };
	h->txmh[i] = (struct msghdr){ .msg_name = &h->peer, .msg_namelen = sizeof(h->peer),
				      .msg_iov = &h->txiov[i], .msg_iovlen = 1 };
	io_uring_prep_sendmsg(sqe, h->fd, &h->txmh[i], 0);
	io_uring_sqe_set_data64(sqe, UD_TX | i);
	h->txi ^= 1;
	h->link.st.sent++;
}

/* The kernel's receive time, on our monotonic clock. */
static int64_t rx_time(const struct hil *h, struct msghdr *mh, int64_t fallback)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			return qk_ts_ns(&ts) - h->real_minus_mono;
		}
	return fallback;
}

/* The sender's sequence number of a datagram (docs/hil-protocol.md: bytes
 * 8..11, little-endian), whatever else it holds: only an order key. */
static uint32_t wire_seq(const struct rxbuf *b, int res)
{
	const uint8_t *p = b->data + 8;

	return res >= 12 ? p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24 : 0;
}

/* Everything that completed since the last wake.  Receives kept armed side
 * by side may complete out of order (io_uring does not promise the order of
 * several requests on one socket), so the cycle's datagrams are handed to
 * the link in the order their sender numbered them, as they left it. */
static void harvest(struct hil *h, int64_t wake)
{
	struct io_uring_cqe *cqe;
	unsigned idx[NRX], n = 0;
	int res_of[NRX];

	while (!io_uring_peek_cqe(&h->ring, &cqe)) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&h->ring, cqe);
		switch (ud & ~0xffull) {
		case UD_TX:
			if (res < 0)
				h->link.st.send_errors++;
			break;
		case UD_WAKE:
			if (res < 0 && !h->wake_errors++)
				h->uring_wake = false;	/* the futex syscall from now on */
			break;
		case UD_RX:
			if ((ud & 0xff) < NRX && n < NRX) {
				idx[n] = (unsigned)(ud & 0xff);
				res_of[idx[n]] = res;
				n++;
			}
			break;
		}
	}
	/* insertion sort by serial-number order from the first: at most NRX */
	uint32_t base = n ? wire_seq(&h->rx[idx[0]], res_of[idx[0]]) : 0;

	for (unsigned i = 1; i < n; i++) {
		unsigned k = idx[i], j = i;
		int32_t key = (int32_t)(wire_seq(&h->rx[k], res_of[k]) - base);

		while (j > 0 && (int32_t)(wire_seq(&h->rx[idx[j - 1]], res_of[idx[j - 1]]) - base) > key) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = k;
	}
	for (unsigned i = 0; i < n; i++) {
		struct rxbuf *b = &h->rx[idx[i]];

		uint64_t taken = h->link.st.taken;

		if (res_of[idx[i]] >= 0)
			qk_hil_link_rx(&h->link, b->data, (size_t)res_of[idx[i]],
				       qk_hil_addr_eq(&b->from, &h->peer),
				       rx_time(h, &b->mh, wake));
		if (h->link.st.taken != taken) {
			struct qk_hil_stream_loop lp = { h->link.st.lost, h->link.st.sessions,
							 h->overruns, h->late_answers };

			qk_hil_stream_take(&h->stream, &h->link.sensors, !h->p.rt.rt, &lp);
		}
	}
	for (unsigned i = 0; i < n; i++)
		arm_rx(h, idx[i]);
}

/* Refused (rt/hil/link.h): every device of our profile is ERROR /
 * HIL_REFUSED, so the agent stays SAFE for the BIOS guard and says why. */
static void publish_refused_post(struct hil *h)
{
	const struct qk_config *c = &h->p.cfg;
	uint32_t n = c->n_devices < QK_MAX_DEVICES ? c->n_devices : QK_MAX_DEVICES;

	h->bios.post_count++;
	h->bios.time_ns = qk_now_ns();
	h->bios.firmware_version = 0;
	h->bios.n_devices = n;
	for (uint32_t i = 0; i < n; i++) {
		struct qk_device_status *d = &h->bios.device[i];

		memcpy(d->name, c->device[i].name, QK_NAME_LEN);
		d->name[QK_NAME_LEN - 1] = 0;
		d->type = c->device[i].type;
		d->status = QK_DS_ERROR;
		d->code = QK_PC_HIL_REFUSED;
	}
	qk_mbox_write(h->p.seg.bios, &h->bios);
	h->have_post = true;
}

/* A refusal unlike the one before: in words, once, for the operator (stderr,
 * the log, and the segment for qikictl link).  Rare and off the nominal
 * path: there is no device to run the loop with until it is corrected. */
static void say_refusal(struct hil *h)
{
	struct qk_link_stats *ls = h->p.seg.link;

	qk_hil_link_refusal(&h->link, h->refusal, sizeof(h->refusal));
	fprintf(stderr, PROG ": %s (HELLO again with a backoff until the device is corrected)\n",
		h->refusal);
	QK_ERROR(h->p.log, "%s", h->refusal);
	memcpy(ls->refusal, h->refusal, sizeof(ls->refusal));
}

static void publish_post(struct hil *h, bool stale)
{
	const struct qk_hil_hello_ack *a = &h->link.ack;
	uint32_t n = a->n_devices < QK_MAX_DEVICES ? a->n_devices : QK_MAX_DEVICES;

	h->bios.post_count++;
	h->bios.time_ns = qk_now_ns();
	h->bios.firmware_version = a->firmware_version;
	h->bios.n_devices = n;
	for (uint32_t i = 0; i < n; i++) {
		struct qk_device_status *d = &h->bios.device[i];

		memcpy(d->name, a->device[i].name, QK_NAME_LEN);
		d->name[QK_NAME_LEN - 1] = 0;
		d->type = a->device[i].type;
		/* a stale device answers nothing: every part of it timed out */
		d->status = stale ? QK_DS_ERROR : a->device[i].status;
		d->code = stale ? QK_PC_TIMEOUT_RESPONSE : a->device[i].code;
	}
	qk_mbox_write(h->p.seg.bios, &h->bios);
	h->have_post = true;
}

/* The agent, if it may be asleep on the sensor ring: in the cycle's one
 * io_uring_enter when the kernel can (rt/hil/wake.h), else the futex syscall. */
static void wake_agent(struct hil *h)
{
	struct io_uring_sqe *sqe;

	if (!h->uring_wake) {
		qk_ring_wake(h->p.seg.sensors);
		return;
	}
	if (!qk_ring_wake_wanted(h->p.seg.sensors))
		return;
	sqe = io_uring_get_sqe(&h->ring);
	if (!sqe) {
		qk_ring_wake(h->p.seg.sensors);	/* cannot happen: 64 entries, a handful a cycle */
		return;
	}
	qk_hil_wake_prep(sqe, h->p.seg.sensors);
	io_uring_sqe_set_data64(sqe, UD_WAKE);
	h->wakes++;
}

static void publish_sensors(struct hil *h, uint64_t n, int64_t due, int64_t wake)
{
	const struct qk_hil_sensors *s = &h->link.sensors;
	const struct sent *sn = &h->sent[s->cycle % SENT_MEMORY];
	struct qk_sensor_frame *f = &h->frame;

	f->cycle = n;
	f->sim_time_ns = (int64_t)n * h->p.seg.period_ns;
	f->sched_ns = due;
	f->wake_ns = wake;
	f->applied_seq = sn->cycle == s->cycle ? sn->act_seq : QK_NO_FRAME;
	f->applied_answers = sn->cycle == s->cycle ? sn->answers : QK_NO_FRAME;
	qk_hil_sensor_frame(s, !h->p.rt.rt, f);
	f->publish_ns = qk_now_ns();
	qk_ring_publish(h->p.seg.sensors, f);
	/* the agent is woken once this cycle's ACTUATORS are built, so they
	 * always carry its answer to the frame before, never this one's */
	h->wake_due = true;
	h->last_published = n;
	h->published++;
}

/* The sim's watchdog, unchanged: after actuator_watchdog_cycles without a
 * new frame from the agent, the device is sent safe actuation. */
static const struct qk_actuator_frame *actuation(struct hil *h)
{
	struct qk_proc_stats *st = h->p.st;

	bool fresh = qk_ring_read_newest(&h->act_rd, &h->act);

	/* the newest answer should be to the frame published the cycle before:
	 * one older (or none new) is an agent late for its cycle */
	if (h->answer_due && h->have_act && h->act.answers_cycle < h->answer_due)
		h->late_answers++;
	if (fresh) {
		h->have_act = true;
		h->act_age = 0;
	} else if (h->have_act && h->act.state == QK_ST_SHUTDOWN) {
		return NULL;
	} else if (h->have_act) {
		h->act_age++;
		qk__stat_inc(&st->frames_stale, 1);
	}
	qk_store_relaxed(&st->frames_lost, h->act_rd.lost);
	if (h->have_act && h->act_age < h->p.cfg.limits.actuator_watchdog_cycles) {
		h->status.watchdog_safe = 0;
		return &h->act;
	}
	if (h->have_act && !h->status.watchdog_safe)
		h->status.watchdog_trips++;
	h->status.watchdog_safe = h->have_act;
	return NULL;
}

static void fill_out(struct hil *h, uint64_t n, const struct qk_actuator_frame *a)
{
	struct qk_hil_actuators *o = &h->out;
	struct sent *sn = &h->sent[n % SENT_MEMORY];

	memset(o, 0, sizeof(*o));
	o->cycle = n;
	if (a) {
		o->state = a->state;
		o->flags = a->flags;
		memcpy(o->throttle, a->throttle, sizeof(o->throttle));
		memcpy(o->heater, a->heater, sizeof(o->heater));
	} else {
		o->state = h->have_act ? h->act.state : QK_ST_BOOTING;
		o->flags = QK_ACTF_SAFE | QK_HIL_ACTF_OFF;
	}
	*sn = (struct sent){ n, a ? h->act_rd.last : QK_NO_FRAME, a ? a->answers_cycle : QK_NO_FRAME };
}

static void take_commands(struct hil *h)
{
	struct qk_cmd c;
	struct qk_reply r;

	for (int i = 0; i < CMDS_PER_CYCLE && qk_cmdq_pop(h->p.seg.sim_cmdq, &c); i++) {
		memset(&r, 0, sizeof(r));
		r.id = c.id;
		if (c.type == QK_CMD_POST || c.type == QK_CMD_PING) {
			r.status = QK_REPLY_ACCEPTED;
			if (c.type == QK_CMD_POST && h->have_post)
				qk_mbox_write(h->p.seg.bios, &h->bios);
		} else {
			r.status = QK_REPLY_REFUSED;
			r.code = -ENOTSUP;
			snprintf(r.reason, sizeof(r.reason), "HIL: inject faults on the device");
		}
		qk_ring_publish(h->p.seg.sim_replies, &r);
		QK_INFO(h->p.log, "%s request %llu from pid %d %s", qk_cmd_name(c.type),
			(unsigned long long)c.id, (int)c.sender_pid,
			r.status == QK_REPLY_ACCEPTED ? "accepted" : "refused: not over HIL");
	}
}

/* The link's counters into the segment for qikictl: single writer, relaxed
 * stores; a reader's snapshot may be a cycle apart between words. */
static void publish_link(struct hil *h)
{
	struct qk_link_stats *ls = h->p.seg.link;
	const struct qk_hil_link_stats *s = &h->link.st;
	static const uint32_t states[] = { [QK_HIL_LINK_HELLO] = QK_LINK_HELLO,
		[QK_HIL_LINK_UP] = QK_LINK_UP, [QK_HIL_LINK_REFUSED] = QK_LINK_REFUSED };

	qk_store_relaxed(&ls->state, states[h->link.state]);
	qk_store_relaxed(&ls->sent, s->sent);
	qk_store_relaxed(&ls->received, s->received);
	qk_store_relaxed(&ls->taken, s->taken);
	qk_store_relaxed(&ls->lost, s->lost);
	qk_store_relaxed(&ls->superseded, s->superseded);
	qk_store_relaxed(&ls->wrong_peer, s->wrong_peer);
	qk_store_relaxed(&ls->unexpected, s->unexpected);
	qk_store_relaxed(&ls->sessions, s->sessions);
	qk_store_relaxed(&ls->link_losses, s->link_losses);
	qk_store_relaxed(&ls->send_errors, s->send_errors);
	for (int i = 0; i < QK_LINK_DROP_REASONS; i++)
		qk_store_relaxed(&ls->dropped[i], s->dropped[i + 1]);
	qk_store_relaxed(&ls->offset_ns, s->offset_ns);
	qk_store_relaxed(&ls->samples, s->samples);
	qk_store_relaxed(&ls->refusals, s->refusals);
}

static void link_start(struct hil *h)
{
	struct qk_link_stats *ls = h->p.seg.link;
	char a[64];

	/* a bridge restarted by hand starts its counters again */
	qk_store_relaxed(&ls->state, QK_LINK_NONE);
	memset(ls->peer, 0, sizeof(ls->peer));
	memset(ls->refusal, 0, sizeof(ls->refusal));
	snprintf(ls->peer, sizeof(ls->peer), "udp://%s", qk_hil_addr_str(&h->peer, a, sizeof(a)));
	ls->stale_cycles = h->link.cfg.stale_cycles;
	qk_hist_reset(&ls->rtt);
	h->link.shared_rtt = &ls->rtt;
	publish_link(h);
}

static void log_events(struct hil *h, unsigned ev, uint64_t overruns, int64_t late)
{
	const struct qk_hil_link_stats *s = &h->link.st;

	if (ev & QK_HIL_EV_UP)
		QK_INFO(h->p.log, "link up: session %llu, device firmware %#x, %u devices in POST",
			(unsigned long long)h->link.session, h->link.ack.firmware_version,
			h->link.ack.n_devices);
	if (ev & QK_HIL_EV_STALE)
		QK_WARN(h->p.log, "link lost: no SENSORS for %u cycles; POST marks every device "
			"TIMEOUT_RESPONSE; HELLO again (loss %llu)", h->link.cfg.stale_cycles,
			(unsigned long long)s->link_losses);
	if (h->status.watchdog_safe != h->logged_watchdog) {
		if (h->status.watchdog_safe)
			QK_WARN(h->p.log, "watchdog: no actuator frame for %u cycles; the device is "
				"sent safe actuation", h->p.cfg.limits.actuator_watchdog_cycles);
		else
			QK_INFO(h->p.log, "watchdog: actuator frames again");
		h->logged_watchdog = h->status.watchdog_safe;
	}
	if (h->wake_errors != h->logged_wake_errors) {
		QK_WARN(h->p.log, "io_uring FUTEX_WAKE failed (%llu times): the agent's wake is a "
			"futex syscall from now on", (unsigned long long)h->wake_errors);
		h->logged_wake_errors = h->wake_errors;
	}
	if (overruns != h->logged_overruns) {
		QK_WARN(h->p.log, "overrun: woke %.1f us late, %llu cycles skipped (%llu in all)",
			(double)late / 1e3, (unsigned long long)(overruns - h->logged_overruns),
			(unsigned long long)overruns);
		h->logged_overruns = overruns;
	}
}

/* 0 stopped; -errno; QK_EXIT_SEGMENT the segment turned out inconsistent. */
static int run(struct hil *h, const struct qk_proc_opts *o)
{
	struct qk_seg *seg = &h->p.seg;
	int64_t period = seg->period_ns, epoch = seg->epoch_ns;	/* checked at attach */
	int64_t now = qk_now_ns();
	uint64_t n = (uint64_t)((now - epoch) / period + 1), overruns = 0;
	int64_t due = epoch + (int64_t)n * period;
	uint32_t checks = 0;

	for (unsigned i = 0; i < NRX; i++)
		arm_rx(h, i);
	while (!stop && qk_seg_state(seg) != QK_SEG_SHUTTING_DOWN) {
		/* the cycle's one syscall: submit the send and the re-armed
		 * receives, and sleep until the next due time */
		int64_t rel = due - qk_now_ns();
		struct __kernel_timespec ts = { .tv_sec = rel > 0 ? rel / QK_NSEC : 0,
						.tv_nsec = rel > 0 ? rel % QK_NSEC : 0 };
		struct io_uring_cqe *cqe;
		int ret = io_uring_submit_and_wait_timeout(&h->ring, &cqe, WAIT_NR, &ts, NULL);

		if (ret < 0 && ret != -EINTR && ret != -ETIME && ret != -EAGAIN)
			return ret;
		int64_t wake = qk_now_ns();
		struct timespec rt;

		clock_gettime(CLOCK_REALTIME, &rt);	/* vDSO */
		h->real_minus_mono = qk_ts_ns(&rt) - qk_now_ns();
		harvest(h, wake);
		if (wake < due)
			continue;	/* a signal: the cycle is not due yet */
		/* as the sim: the segment checked every QK_VERIFY_EVERY cycles;
		 * overwritten, it is left, and the device told to go safe (BYE) */
		if (!(++checks % QK_VERIFY_EVERY) && qk_seg_verify(seg) >= 0)
			return QK_EXIT_SEGMENT;
		unsigned ev = qk_hil_link_cycle(&h->link);

		if (ev & QK_HIL_EV_REFUSAL_NEW)
			say_refusal(h);
		if (ev & QK_HIL_EV_REFUSED)
			publish_refused_post(h);
		if (ev & QK_HIL_EV_UP)
			publish_post(h, false);
		if (ev & QK_HIL_EV_STALE)
			publish_post(h, true);
		h->answer_due = h->published > 1 ? h->last_published : 0;
		if (ev & QK_HIL_EV_SENSORS)
			publish_sensors(h, n, due, wake);
		take_commands(h);
		fill_out(h, n, actuation(h));
		size_t len = qk_hil_link_tx(&h->link, &h->out, qk_now_ns(), h->tx[h->txi],
					    sizeof(h->tx[0]));

		if (len)
			queue_send(h, len);
		if (h->wake_due)
			wake_agent(h);
		h->wake_due = false;
		h->status.cycle = n;
		h->status.time_ns = wake;
		h->status.stream_hash = h->stream.hash;
		qk_mbox_write(seg->sim_status, &h->status);
		publish_link(h);
		qk_proc_account(h->p.st, due, wake, qk_now_ns(), overruns);
		log_events(h, ev, overruns, wake - due);
		/* the next point of the grid still ahead: late cycles are skipped
		 * and counted, never run in a burst */
		n++;
		due += period;
		now = qk_now_ns();
		if (due <= now) {
			uint64_t skip = (uint64_t)((now - due) / period) + 1;

			n += skip;
			due += (int64_t)skip * period;
			overruns += skip;
		}
		h->overruns = overruns;
		if (o->cycles && qk_load_relaxed(&h->p.st->cycles) >= o->cycles)
			break;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --peer udp://HOST:PORT [options]\n"
		"Runs the HIL bridge of a qiki instance in the simulator's place: a device on UDP\n"
		"(docs/hil-protocol.md) takes the plant's part.\n\n"
		"      --peer udp://HOST:PORT  the device\n"
		"      --bind ADDR:PORT        local address (default any, a free port)\n"
		"      --link-stale-cycles N   cycles without SENSORS before the device is stale\n"
		"                              (default 2/5 of the profile's sensor_stale_cycles)\n"
		"      --hello-ms MS           HELLO interval while no session (default 100)\n"
		"      --stats-file PATH       write the link's counters there at exit (key=value;\n"
		"                              default: qiki-hil.stats beside the log)\n"
		"      --protocol-version N    speak another protocol version (tests only)\n"
		"and the loop process options (qiki-sim's, without --fault):\n");
}

/* Takes the bridge's own options out of argv, leaving the shell's. */
static int parse_hil(int *argc, char **argv, struct hil_opts *ho)
{
	int w = 1;

	*ho = (struct hil_opts){ .hello_ms = 100, .version = QK_HIL_VERSION };
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i], *v = i + 1 < *argc ? argv[i + 1] : NULL;
		int x;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			argv[w++] = argv[i];
			continue;
		}
		if (strcmp(a, "--peer") && strcmp(a, "--bind") && strcmp(a, "--link-stale-cycles") &&
		    strcmp(a, "--hello-ms") && strcmp(a, "--stats-file") &&
		    strcmp(a, "--protocol-version")) {
			argv[w++] = argv[i];
			continue;
		}
		if (!v) {
			fprintf(stderr, PROG ": %s needs a value (see --help)\n", a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--peer")) {
			ho->peer = v;
		} else if (!strcmp(a, "--bind")) {
			ho->bind = v;
		} else if (!strcmp(a, "--stats-file")) {
			ho->stats_file = v;
		} else if (!strcmp(a, "--link-stale-cycles")) {
			if (qk_parse_int(v, 1, 1000000, &x)) {
				fprintf(stderr, PROG ": --link-stale-cycles '%s': expected 1..1000000\n", v);
				return -1;
			}
			ho->stale_cycles = (uint32_t)x;
		} else if (!strcmp(a, "--hello-ms")) {
			if (qk_parse_int(v, 1, 60000, &x)) {
				fprintf(stderr, PROG ": --hello-ms '%s': expected 1..60000\n", v);
				return -1;
			}
			ho->hello_ms = (uint32_t)x;
		} else {
			if (qk_parse_int(v, 0, 255, &ho->version)) {
				fprintf(stderr, PROG ": --protocol-version '%s': expected 0..255\n", v);
				return -1;
			}
		}
	}
	argv[w] = NULL;
	*argc = w;
	return 0;
}

static void write_stats(const struct hil *h, const char *path, int ret)
{
	const struct qk_hil_link_stats *s = &h->link.st;
	FILE *f = path[0] ? fopen(path, "w") : NULL;

	if (!f) {
		if (path[0])
			fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(f, "state=%s\nexit=%lld\nsent=%llu\nreceived=%llu\ntaken=%llu\nlost=%llu\n"
		"superseded=%llu\nwrong_peer=%llu\nunexpected=%llu\nhellos=%llu\nsessions=%llu\n"
		"link_losses=%llu\nrefusals=%llu\nsend_errors=%llu\npublished=%llu\nrtt_samples=%llu\n"
		"rtt_p50_ns=%lld\nrtt_p99_ns=%lld\noffset_ns=%lld\nuring_wakes=%llu\nwake_errors=%llu\n",
		qk_hil_link_state_name(h->link.state), (long long)ret,
		(unsigned long long)s->sent, (unsigned long long)s->received,
		(unsigned long long)s->taken, (unsigned long long)s->lost,
		(unsigned long long)s->superseded, (unsigned long long)s->wrong_peer,
		(unsigned long long)s->unexpected, (unsigned long long)s->hellos,
		(unsigned long long)s->sessions, (unsigned long long)s->link_losses,
		(unsigned long long)s->refusals, (unsigned long long)s->send_errors, (unsigned long long)h->published,
		(unsigned long long)s->samples,
		(long long)qk_hist_quantile(&h->link.rtt, 0.50),
		(long long)qk_hist_quantile(&h->link.rtt, 0.99), (long long)s->offset_ns,
		(unsigned long long)h->wakes, (unsigned long long)h->wake_errors);
	for (int e = 1; e < QK_HIL_E_COUNT; e++)
		fprintf(f, "dropped_%s=%llu\n", qk_hil_err_name(e), (unsigned long long)s->dropped[e]);
	const struct qk_hil_stream *hs = &h->stream;

	/* from the first frame hashed: what determinism asks of the loop */
	fprintf(f, "late_answers=%llu\noverruns=%llu\nstream_frames=%llu\nstream_hash=%016llx\n",
		(unsigned long long)(h->late_answers - hs->at_first.late_answers),
		(unsigned long long)(h->overruns - hs->at_first.overruns),
		(unsigned long long)hs->frames, (unsigned long long)hs->hash);
	for (uint64_t k = 0; k < QK_HIL_STREAM_POINTS && (k + 1) * QK_HIL_STREAM_EVERY <= hs->frames; k++) {
		unsigned long long at = (k + 1) * QK_HIL_STREAM_EVERY;

		fprintf(f, "stream_hash_%llu=%016llx\nstream_clean_%llu=%d\nstream_lost_%llu=%llu\n",
			at, (unsigned long long)hs->hash_at[k], at, hs->clean_at[k], at,
			(unsigned long long)hs->lost_at[k]);
	}
	fclose(f);
}

static int setup(struct hil *h, const struct qk_proc_opts *o, char *why, size_t wn)
{
	const struct qk_config *c = &h->p.cfg;
	struct qk_hil_link_cfg lc = { .rate_hz = c->rate_hz, .n_thrusters = c->n_thrusters,
				      .n_thermal = c->n_thermal, .n_devices = c->n_devices,
				      .version = (uint8_t)h->ho.version };
	int ret;

	(void)o;
	if (c->wake_mode == QK_WAKE_LOCKSTEP) {
		snprintf(why, wn, "a lockstep instance cannot run over HIL (the device keeps real time)");
		return -EINVAL;
	}
	memcpy(lc.profile, c->profile, QK_HIL_NAME_LEN < QK_NAME_LEN ? QK_HIL_NAME_LEN : QK_NAME_LEN);
	lc.profile[QK_HIL_NAME_LEN - 1] = 0;
	lc.stale_cycles = h->ho.stale_cycles ? h->ho.stale_cycles :
			  c->limits.sensor_stale_cycles * 2 / 5 ? c->limits.sensor_stale_cycles * 2 / 5 : 1;
	if (lc.stale_cycles >= c->limits.sensor_stale_cycles)
		QK_WARN(h->p.log, "--link-stale-cycles %u >= the agent's sensor_stale_cycles %u: "
			"the agent will name stale sensors, not the link", lc.stale_cycles,
			c->limits.sensor_stale_cycles);
	lc.hello_cycles = (uint32_t)((int64_t)h->ho.hello_ms * c->rate_hz / 1000);
	lc.session_seed = (uint64_t)qk_now_ns() ^ ((uint64_t)getpid() << 32);
	qk_hil_link_init(&h->link, &lc);
	ret = qk_hil_udp_open(&h->bind, true, why, wn);
	if (ret < 0)
		return ret;
	h->fd = ret;
	ret = io_uring_queue_init(64, &h->ring, 0);
	if (ret) {
		snprintf(why, wn, "io_uring_queue_init: %s", strerror(-ret));
		close(h->fd);
		return ret;
	}
	h->uring_wake = qk_hil_wake_probe(&h->ring);
	if (!h->uring_wake) {
		fprintf(stderr, PROG ": this kernel's io_uring has no FUTEX_WAKE (Linux 6.7): the agent's "
			"wake is a futex syscall of its own, two syscalls per cycle\n");
		QK_WARN(h->p.log, "io_uring has no FUTEX_WAKE: the agent's wake is a futex syscall");
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct hil h;	/* large: keep it off the stack */
	struct qk_proc_opts o;
	char why[512], a1[64], a2[64];
	int ret = parse_hil(&argc, argv, &h.ho);

	if (ret)
		return 1;
	ret = qk_proc_parse(argc, argv, PROG, QK_PROC_SIM, &o);
	if (ret)
		return ret > 0 ? 0 : 1;
	if (o.n_faults) {
		fprintf(stderr, PROG ": --fault is a simulator option; inject faults on the device\n");
		return 1;
	}
	if (!h.ho.peer) {
		fprintf(stderr, PROG ": --peer udp://HOST:PORT is required: the device's address\n");
		return 1;
	}
	if (qk_hil_addr_parse(h.ho.peer, true, &h.peer, why, sizeof(why)) ||
	    qk_hil_addr_parse(h.ho.bind ? h.ho.bind : ":0", false, &h.bind, why, sizeof(why))) {
		fprintf(stderr, PROG ": %s %s\n", h.ho.bind && !strstr(why, "udp") ? "--bind" : "--peer", why);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	ret = qk_proc_attach(&h.p, &o, QK_PROC_SIM, why, sizeof(why));
	if (ret) {
		fprintf(stderr, PROG ": %s\n", why);
		return 2;
	}
	ret = qk_proc_log_open(&h.p, &o, PROG, why, sizeof(why));
	if (!ret)
		ret = setup(&h, &o, why, sizeof(why));
	if (ret) {
		fprintf(stderr, PROG ": %s\n", why);
		qk_proc_exit(&h.p);
		return 1;
	}
	qk_ring_producer_recover(h.p.seg.sensors);
	qk_ring_producer_recover(h.p.seg.sim_replies);
	/* as the sim: only a futex-mode agent waits on the sensor ring */
	qk_ring_set_waking(h.p.seg.sensors, h.p.cfg.wake_mode == QK_WAKE_FUTEX);
	qk_ring_reader_init(&h.act_rd, h.p.seg.actuators, QK_RING_FROM_NOW);
	link_start(&h);
	qk_hil_stream_init(&h.stream);
	QK_INFO(h.p.log, PROG " %s started: instance %s, %u Hz, device %s from %s, protocol v%d, "
		"stale after %u cycles, pid %d", QK_VERSION, o.instance, h.p.cfg.rate_hz,
		qk_hil_addr_str(&h.peer, a1, sizeof(a1)), qk_hil_addr_str(&h.bind, a2, sizeof(a2)),
		h.ho.version, h.link.cfg.stale_cycles, (int)getpid());
	QK_INFO(h.p.log, "the agent is woken by %s", h.uring_wake ? "an io_uring FUTEX_WAKE in the "
		"cycle's submission" : "a futex syscall");
	/* the counters outlive us: beside the log unless asked elsewhere */
	char dir[3072], stats[3200];

	if (h.ho.stats_file)
		snprintf(stats, sizeof(stats), "%s", h.ho.stats_file);
	else if (qk_proc_log_dir(o.log_dir, o.instance, dir, sizeof(dir), why, sizeof(why)) ||
		 snprintf(stats, sizeof(stats), "%s/" PROG ".stats", dir) >= (int)sizeof(stats))
		stats[0] = 0;
	ret = qk_proc_go_rt(&h.p, &o, why, sizeof(why));
	if (ret) {
		fprintf(stderr, PROG ": %s\n", why);
		ret = ret == -EPERM ? 3 : 1;
		goto out;
	}
	ret = run(&h, &o);
	/* the device is told, so it goes safe now rather than on its watchdog */
	size_t n = qk_hil_link_bye(&h.link, qk_now_ns(), h.tx[0], sizeof(h.tx[0]));

	sendto(h.fd, h.tx[0], n, 0, (struct sockaddr *)&h.peer, sizeof(h.peer));
	if (ret == QK_EXIT_SEGMENT) {
		fprintf(stderr, PROG ": %s\n", h.p.seg.err);
		QK_ERROR(h.p.log, "%s", h.p.seg.err);
	} else if (ret) {
		fprintf(stderr, PROG ": io_uring_enter: %s\n", strerror(-ret));
		QK_ERROR(h.p.log, "io_uring_enter: %s", strerror(-ret));
		ret = 1;
	} else {
		/* first: what the loop allocated, before stdio does */
		ret = qk_proc_finish(&h.p, &o, PROG);
		write_stats(&h, stats, 0);
		io_uring_queue_exit(&h.ring);
		close(h.fd);
		return ret;
	}
	write_stats(&h, stats, -1);
out:
	io_uring_queue_exit(&h.ring);
	close(h.fd);
	qk_proc_exit(&h.p);
	return ret;
}
