/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * qiki-hil-device: the far side of a HIL link for rigs without hardware.  It
 * runs qiki-sim's plant (rt/plant.c) behind the HIL codec on UDP, as a
 * microcontroller would run its firmware: it answers HELLO with its POST
 * table, each ACTUATORS frame with one SENSORS frame, and applies safe
 * actuation (everything off) when actuator frames stop.
 *
 * It follows the cycle numbers it is sent: for a frame of cycle c after one
 * of cycle p it steps the plant c - p times (the missing cycles with the
 * actuation it held), so the same frames give the same trajectory whatever
 * the timing, and a lost frame costs one cycle of stale actuation, not time.
 * Not a real-time program: it is the rig's stand-in, not the loop.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rt/cli.h"
#include "rt/config/config.h"
#include "rt/hil/net.h"
#include "rt/hil/wire.h"
#include "rt/sim/plant.h"
#include "rt/rt.h"

#define PROG "qiki-hil-device"
#define MAX_CATCH_UP 1000		/* steps for one frame after a gap */
#define PEER_QUIET_NS (1000 * 1000000ll)	/* another bridge may take over after this */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct stats {
	uint64_t received, taken, lost, wrong_peer, unexpected, sessions, refused, byes;
	uint64_t dropped[QK_HIL_E_COUNT], steps, watchdog_trips, sent;
};

struct dev {
	struct qk_config cfg;
	struct qk_plant plant;
	struct qk_bios_report post;
	int fd, version;
	uint32_t watchdog_cycles;
	double dt;
	int64_t period_ns;
	bool quiet;
	/* session */
	bool in_session, have_act, watchdog;
	struct sockaddr_in6 peer;
	struct qk_hil_seq rx_seq;
	uint32_t tx_seq, peer_seq;
	int64_t peer_tx_ns, peer_rx_ns, last_rx_ns;
	uint64_t last_cycle;
	struct qk_actuator_frame act;	/* what the plant is held at */
	struct qk_sensor_frame frame;
	struct qk_hil_msg in, out;
	uint8_t buf[QK_HIL_MAX_FRAME + 64];
	struct stats st;
};

static void say(const struct dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct dev *d, const char *fmt, ...)
{
	va_list ap;

	if (d->quiet)
		return;
	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void send_msg(struct dev *d, const struct sockaddr_in6 *to, unsigned type, int version)
{
	uint8_t b[QK_HIL_MAX_FRAME];

	d->out.hdr.version = (uint8_t)version;
	d->out.hdr.type = (uint8_t)type;
	d->out.hdr.seq = ++d->tx_seq;
	d->out.hdr.ack = d->peer_seq;
	d->out.hdr.tx_ns = qk_now_ns();
	d->out.hdr.echo_tx_ns = d->peer_tx_ns;
	d->out.hdr.echo_rx_ns = d->peer_rx_ns;
	size_t n = qk_hil_encode(&d->out, b, sizeof(b));

	if (n && sendto(d->fd, b, n, 0, (const struct sockaddr *)to, sizeof(*to)) == (ssize_t)n)
		d->st.sent++;
}

static void answer_hello(struct dev *d, const struct sockaddr_in6 *from, int64_t rx_ns)
{
	const struct qk_hil_hello *h = &d->in.u.hello;
	struct qk_hil_hello_ack *a = &d->out.u.ack;
	char who[64];
	bool ok = !strncmp(h->profile, d->cfg.profile, QK_HIL_NAME_LEN) &&
		  h->rate_hz == d->cfg.rate_hz && h->n_thrusters == d->cfg.n_thrusters &&
		  h->n_thermal == d->cfg.n_thermal && h->n_devices == d->cfg.n_devices;

	qk_hil_addr_str(from, who, sizeof(who));
	if (d->in_session && !qk_hil_addr_eq(from, &d->peer) && rx_ns - d->last_rx_ns < PEER_QUIET_NS) {
		d->st.wrong_peer++;	/* a second bridge while ours is alive */
		return;
	}
	memset(a, 0, sizeof(*a));
	a->status = ok ? QK_HIL_ACCEPT : QK_HIL_REFUSE_PROFILE;
	a->firmware_version = d->post.firmware_version;
	memcpy(a->profile, d->cfg.profile, QK_HIL_NAME_LEN);
	a->profile[QK_HIL_NAME_LEN - 1] = 0;
	a->session = h->session;
	a->rate_hz = d->cfg.rate_hz;
	/* a fresh POST each session: what the device is now */
	qk_plant_post(&d->plant, &d->post);
	a->n_devices = d->post.n_devices < QK_HIL_MAX_DEV ? d->post.n_devices : QK_HIL_MAX_DEV;
	for (uint32_t i = 0; i < a->n_devices; i++) {
		memcpy(a->device[i].name, d->post.device[i].name, QK_HIL_NAME_LEN);
		a->device[i].type = (uint8_t)d->post.device[i].type;
		a->device[i].status = (uint8_t)d->post.device[i].status;
		a->device[i].code = (uint8_t)d->post.device[i].code;
	}
	d->peer_seq = d->in.hdr.seq;
	d->peer_tx_ns = d->in.hdr.tx_ns;
	d->peer_rx_ns = rx_ns;
	if (!ok) {
		d->st.refused++;
		say(d, "HELLO from %s refused: the bridge has profile '%.24s' at %u Hz (%u thrusters, "
		    "%u thermal nodes, %u devices), this device '%s' at %u Hz (%u, %u, %u)", who,
		    h->profile, h->rate_hz, h->n_thrusters, h->n_thermal, h->n_devices,
		    d->cfg.profile, d->cfg.rate_hz, d->cfg.n_thrusters, d->cfg.n_thermal,
		    d->cfg.n_devices);
		send_msg(d, from, QK_HIL_HELLO_ACK, d->version);
		return;
	}
	d->in_session = true;
	d->peer = *from;
	d->rx_seq = (struct qk_hil_seq){ .last = d->in.hdr.seq, .any = true };
	d->last_rx_ns = rx_ns;
	d->st.sessions++;
	say(d, "session %llu with %s: POST %u devices", (unsigned long long)h->session, who,
	    a->n_devices);
	send_msg(d, from, QK_HIL_HELLO_ACK, d->version);
}

/* A bridge of another version: refused, in our version, so it can say so. */
static void refuse_version(struct dev *d, const struct sockaddr_in6 *from)
{
	char who[64];

	d->st.refused++;
	say(d, "HELLO from %s refused: the bridge speaks HIL protocol version %u, this device "
	    "version %d", qk_hil_addr_str(from, who, sizeof(who)), d->in.hdr.version, d->version);
	memset(&d->out.u.ack, 0, sizeof(d->out.u.ack));
	d->out.u.ack.status = QK_HIL_REFUSE_VERSION;
	memcpy(d->out.u.ack.profile, d->cfg.profile, QK_HIL_NAME_LEN);
	d->out.u.ack.profile[QK_HIL_NAME_LEN - 1] = 0;
	d->out.u.ack.rate_hz = d->cfg.rate_hz;
	send_msg(d, from, QK_HIL_HELLO_ACK, d->version);
}

static void apply(struct dev *d, const struct qk_hil_actuators *a)
{
	d->act.state = a->state;
	d->act.flags = a->flags & ~QK_HIL_ACTF_OFF;
	memcpy(d->act.throttle, a->throttle, sizeof(d->act.throttle));
	memcpy(d->act.heater, a->heater, sizeof(d->act.heater));
	d->have_act = !(a->flags & QK_HIL_ACTF_OFF);
}

static void step(struct dev *d)
{
	qk_plant_step(&d->plant, d->have_act && !d->watchdog ? &d->act : NULL, d->dt);
	d->st.steps++;
}

static void take_actuators(struct dev *d, int64_t rx_ns)
{
	const struct qk_hil_actuators *a = &d->in.u.act;
	struct qk_hil_sensors *s = &d->out.u.sensors;
	enum qk_hil_err e = qk_hil_seq_check(&d->rx_seq, d->in.hdr.seq, &d->st.lost);

	if (e) {
		d->st.dropped[e]++;
		return;
	}
	d->st.taken++;
	uint64_t gap = d->last_cycle && a->cycle > d->last_cycle ? a->cycle - d->last_cycle : 1;

	if (d->last_cycle && a->cycle <= d->last_cycle)
		gap = 1;	/* a bridge that restarted its count: no catch-up */
	if (gap > MAX_CATCH_UP)
		gap = MAX_CATCH_UP;
	for (uint64_t i = 1; i < gap; i++)
		step(d);	/* the cycles whose frames were lost: held actuation */
	if (d->watchdog)
		say(d, "actuator frames again: actuation restored");
	d->watchdog = false;
	apply(d, a);
	step(d);
	d->last_cycle = a->cycle;
	qk_plant_sense(&d->plant, &d->frame);
	memset(s, 0, sizeof(*s));
	s->cycle = a->cycle;
	s->valid = d->frame.valid;
	s->flags = 0;
	memcpy(s->accel_mps2, d->frame.accel_mps2, sizeof(s->accel_mps2));
	memcpy(s->pos_m, d->frame.pos_m, sizeof(s->pos_m));
	memcpy(s->vel_mps, d->frame.vel_mps, sizeof(s->vel_mps));
	s->tank_bar = d->frame.tank_bar;
	s->propellant_kg = d->frame.propellant_kg;
	s->mass_kg = d->frame.mass_kg;
	s->batt_v = d->frame.batt_v;
	s->batt_a = d->frame.batt_a;
	s->batt_soc = d->frame.batt_soc;
	s->n_thermal = d->frame.n_thermal;
	memcpy(s->temp_k, d->frame.temp_k, sizeof(s->temp_k));
	d->peer_seq = d->in.hdr.seq;
	d->peer_tx_ns = d->in.hdr.tx_ns;
	d->peer_rx_ns = rx_ns;
	d->last_rx_ns = rx_ns;
	send_msg(d, &d->peer, QK_HIL_SENSORS, d->version);
}

static void datagram(struct dev *d, size_t n, const struct sockaddr_in6 *from, int64_t rx_ns)
{
	enum qk_hil_err e = qk_hil_decode(d->buf, n, &d->in);

	d->st.received++;
	if (!e && d->in.hdr.version != d->version)
		e = QK_HIL_E_VERSION;	/* we were told to speak another (tests) */
	if (e == QK_HIL_E_VERSION && d->in.hdr.type == QK_HIL_HELLO) {
		d->st.dropped[e]++;
		refuse_version(d, from);
		return;
	}
	if (e) {
		d->st.dropped[e]++;
		return;
	}
	if (d->in.hdr.type == QK_HIL_HELLO) {
		answer_hello(d, from, rx_ns);
		return;
	}
	if (!d->in_session || !qk_hil_addr_eq(from, &d->peer)) {
		d->st.wrong_peer++;
		return;
	}
	switch (d->in.hdr.type) {
	case QK_HIL_ACTUATORS:
		take_actuators(d, rx_ns);
		break;
	case QK_HIL_BYE:
		d->st.byes++;
		d->in_session = false;
		d->have_act = false;	/* safe now, not on the watchdog */
		say(d, "BYE from the bridge: actuation off, waiting for HELLO");
		break;
	case QK_HIL_HEARTBEAT:
		d->last_rx_ns = rx_ns;
		break;
	default:
		d->st.unexpected++;
		break;
	}
}

static void write_stats(const struct dev *d, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, PROG ": --stats-file %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(f, "received=%llu\ntaken=%llu\nlost=%llu\nwrong_peer=%llu\nunexpected=%llu\n"
		"sessions=%llu\nrefused=%llu\nbyes=%llu\nsteps=%llu\nwatchdog_trips=%llu\nsent=%llu\n",
		(unsigned long long)d->st.received, (unsigned long long)d->st.taken,
		(unsigned long long)d->st.lost, (unsigned long long)d->st.wrong_peer,
		(unsigned long long)d->st.unexpected, (unsigned long long)d->st.sessions,
		(unsigned long long)d->st.refused, (unsigned long long)d->st.byes,
		(unsigned long long)d->st.steps, (unsigned long long)d->st.watchdog_trips,
		(unsigned long long)d->st.sent);
	for (int e = 1; e < QK_HIL_E_COUNT; e++)
		fprintf(f, "dropped_%s=%llu\n", qk_hil_err_name(e), (unsigned long long)d->st.dropped[e]);
	fprintf(f, "pos_m=%.6f,%.6f,%.6f\n", d->plant.pos[0], d->plant.pos[1], d->plant.pos[2]);
	fclose(f);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --bind ADDR:PORT [options]\n"
		"Runs qiki's plant behind the HIL protocol (docs/hil-protocol.md) on UDP: the device\n"
		"end of a HIL rig without hardware.\n\n"
		"  -b, --bind ADDR:PORT      where to listen\n"
		"  -p, --profile NAME        hardware profile: bot (default), ship\n"
		"  -c, --config FILE         YAML configuration on top of the profile\n"
		"  -r, --rate HZ             cycle rate (must match the bridge's instance)\n"
		"  -s, --seed N              plant noise seed\n"
		"      --watchdog-cycles N   cycles without ACTUATORS before actuation goes off\n"
		"                            (default: the profile's actuator_watchdog_cycles)\n"
		"      --stats-file PATH     write counters there at exit (key=value)\n"
		"      --protocol-version N  speak another protocol version (tests only)\n"
		"  -q, --quiet               no messages on stderr\n"
		"  -h, --help, --version\n\n"
		"Exit status: 0 stopped by SIGINT/SIGTERM; 1 usage or configuration error.\n");
}

static int parse(int argc, char **argv, struct dev *d, const char **stats_file)
{
	const char *bind_s = NULL, *profile = NULL, *config = NULL, *rate = NULL, *seed = NULL;
	char why[512];
	struct sockaddr_in6 bind_to;
	int wd = 0;

	d->version = QK_HIL_VERSION;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(a, "--version")) {
			printf(PROG " (HIL protocol %u)\n", QK_HIL_VERSION);
			return 1;
		}
		if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			d->quiet = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, PROG ": %s: %s (see --help)\n", a,
				a[0] == '-' ? "needs a value, or is unknown" : "unexpected argument");
			return -1;
		}
		i++;
		if (!strcmp(a, "-b") || !strcmp(a, "--bind")) bind_s = v;
		else if (!strcmp(a, "-p") || !strcmp(a, "--profile")) profile = v;
		else if (!strcmp(a, "-c") || !strcmp(a, "--config")) config = v;
		else if (!strcmp(a, "-r") || !strcmp(a, "--rate")) rate = v;
		else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) seed = v;
		else if (!strcmp(a, "--stats-file")) *stats_file = v;
		else if (!strcmp(a, "--watchdog-cycles")) {
			if (qk_parse_int(v, 1, 1000000, &wd)) {
				fprintf(stderr, PROG ": --watchdog-cycles '%s': expected 1..1000000\n", v);
				return -1;
			}
		} else if (!strcmp(a, "--protocol-version")) {
			if (qk_parse_int(v, 0, 255, &d->version)) {
				fprintf(stderr, PROG ": --protocol-version '%s': expected 0..255\n", v);
				return -1;
			}
		} else {
			fprintf(stderr, PROG ": unknown option '%s' (see --help)\n", a);
			return -1;
		}
	}
	if (!bind_s) {
		fprintf(stderr, PROG ": --bind ADDR:PORT is required: where the bridge finds us\n");
		return -1;
	}
	if (qk_hil_addr_parse(bind_s, false, &bind_to, why, sizeof(why))) {
		fprintf(stderr, PROG ": --bind %s\n", why);
		return -1;
	}
	char warn[512];
	struct qk_config_opts co = { profile, config, rate, seed, warn, sizeof(warn) };

	if (qk_config_from_options(&d->cfg, &co, why, sizeof(why))) {
		fprintf(stderr, PROG ": %s\n", why);
		return -1;
	}
	if (warn[0])
		fprintf(stderr, PROG ": warning: %s\n", warn);
	if (qk_config_validate(&d->cfg, why, sizeof(why)) ||
	    qk_plant_init(&d->plant, &d->cfg, d->cfg.seed, why, sizeof(why))) {
		fprintf(stderr, PROG ": bad configuration: %s\n", why);
		return -1;
	}
	d->watchdog_cycles = wd ? (uint32_t)wd : d->cfg.limits.actuator_watchdog_cycles;
	d->period_ns = QK_NSEC / d->cfg.rate_hz;
	d->dt = (double)d->period_ns / 1e9;
	d->fd = qk_hil_udp_open(&bind_to, false, why, sizeof(why));
	if (d->fd < 0) {
		fprintf(stderr, PROG ": %s\n", why);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct dev d;
	const char *stats_file = NULL;
	int ret = parse(argc, argv, &d, &stats_file);

	if (ret)
		return ret > 0 ? 0 : 1;
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	qk_plant_post(&d.plant, &d.post);
	say(&d, "listening: profile %s, %u Hz, protocol v%d, watchdog %u cycles", d.cfg.profile,
	    d.cfg.rate_hz, d.version, d.watchdog_cycles);
	while (!stop) {
		struct pollfd pfd = { .fd = d.fd, .events = POLLIN };
		int timeout_ms = (int)(d.period_ns / 1000000) ? (int)(d.period_ns / 1000000) : 1;
		int r = poll(&pfd, 1, timeout_ms);
		int64_t now = qk_now_ns();

		if (r > 0) {
			struct sockaddr_in6 from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(d.fd, d.buf, sizeof(d.buf), 0, (struct sockaddr *)&from, &fl);

			if (n >= 0)
				datagram(&d, (size_t)n, &from, now);
		}
		/* the watchdog: actuator frames stopped -> everything off */
		if (d.have_act && !d.watchdog &&
		    now - d.last_rx_ns > (int64_t)d.watchdog_cycles * d.period_ns) {
			d.watchdog = true;
			d.st.watchdog_trips++;
			say(&d, "watchdog: no ACTUATORS for %u cycles: actuation off", d.watchdog_cycles);
		}
	}
	if (stats_file)
		write_stats(&d, stats_file);
	close(d.fd);
	return 0;
}
