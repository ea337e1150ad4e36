/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * qiki-hil-relay: a user-space UDP relay between a HIL bridge and its device
 * that injects loss, delay, jitter, duplication, reordering and byte
 * corruption at given rates, from a seeded generator.  This kernel has no
 * netem; the relay stands in for it, and counts everything it did so that a
 * test can compare the two ends' counters with the truth.
 *
 * The bridge sends to --listen; the relay forwards to --device from a second
 * socket and sends the device's answers back to whoever last spoke to
 * --listen.  Jitter keeps the order of a direction (a packet never overtakes
 * the one before it) unless --reorder asks for that: then a chosen packet is
 * held back behind the next ones.  SIGUSR1 turns the impairments off and on
 * (a clean link for the end of a test), SIGUSR2 cuts the link and restores it
 * (everything dropped, counted as cut), SIGINT/SIGTERM stop it and print or
 * write (--stats-file) the counters.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rt/cli.h"
#include "rt/hil/net.h"
#include "rt/hil/wire.h"
#include "rt/rt.h"

#define PROG "qiki-hil-relay"
#define QUEUE 4096			/* packets in flight through the relay */
#define MAXPKT 2048

static volatile sig_atomic_t stop, clean_toggles, cut_toggles;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		clean_toggles++;
	else if (sig == SIGUSR2)
		cut_toggles++;
	else
		stop = 1;
}

enum { B2D, D2B };			/* bridge -> device, device -> bridge */

struct dir_stats {
	uint64_t in, out, dropped, cut, duplicated, reordered, corrupted, overflow;
};

struct pkt {
	int64_t release_ns;
	int dir;
	uint16_t len;
	uint8_t data[MAXPKT];
};

struct relay {
	double loss, dup, reorder, corrupt;
	int64_t delay_ns, jitter_ns;
	bool data_only, clean, cut;
	uint64_t rng;
	int fd[2];			/* [B2D] faces the bridge, [D2B] the device */
	struct sockaddr_in6 device, bridge;
	bool have_bridge;
	int64_t last_release[2];
	struct pkt q[QUEUE];
	unsigned nq;
	struct dir_stats st[2];
};

static uint64_t rnd(struct relay *r)	/* xorshift64* */
{
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return r->rng * 0x2545f4914f6cdd1dull;
}

static double uni(struct relay *r)
{
	return (double)(rnd(r) >> 11) / 9007199254740992.0;
}

static bool is_data(const uint8_t *p, size_t n)
{
	return n >= 6 && !memcmp(p, "QKHL", 4) && (p[5] == QK_HIL_SENSORS || p[5] == QK_HIL_ACTUATORS);
}

static void enqueue(struct relay *r, int dir, const uint8_t *p, size_t n, int64_t release)
{
	if (r->nq == QUEUE) {
		r->st[dir].overflow++;
		return;
	}
	struct pkt *k = &r->q[r->nq++];

	k->dir = dir;
	k->len = (uint16_t)n;
	k->release_ns = release;
	memcpy(k->data, p, n);
}

/* One packet in: decide its fate with the generator, in a fixed order of
 * draws, so a seed gives the same fates for the same packets. */
static void take(struct relay *r, int dir, uint8_t *p, size_t n, int64_t now)
{
	struct dir_stats *s = &r->st[dir];
	bool impair = !r->clean && (!r->data_only || is_data(p, n));
	double u_loss = uni(r), u_dup = uni(r), u_reo = uni(r), u_cor = uni(r), u_jit = uni(r);
	uint64_t where = rnd(r), what = rnd(r);
	int64_t release;

	s->in++;
	if (r->cut) {
		s->cut++;
		return;
	}
	if (impair && u_loss < r->loss) {
		s->dropped++;
		return;
	}
	if (impair && u_cor < r->corrupt && n) {
		p[where % n] ^= (uint8_t)(1 + what % 255);	/* never xor 0 */
		s->corrupted++;
	}
	release = now + (impair ? r->delay_ns + (int64_t)(u_jit * (double)r->jitter_ns) : 0);
	if (impair && u_reo < r->reorder) {
		/* held back past the packets that follow it */
		release += r->jitter_ns + 2 * 1000000;
		s->reordered++;
	} else {
		if (release < r->last_release[dir])
			release = r->last_release[dir];	/* jitter keeps the order */
		r->last_release[dir] = release;
	}
	enqueue(r, dir, p, n, release);
	if (impair && u_dup < r->dup) {
		enqueue(r, dir, p, n, release);
		s->duplicated++;
	}
}

static void release_due(struct relay *r, int64_t now)
{
	unsigned w = 0;

	for (unsigned i = 0; i < r->nq; i++) {
		struct pkt *k = &r->q[i];

		if (k->release_ns > now) {
			if (w != i)
				r->q[w] = *k;
			w++;
			continue;
		}
		int fd = r->fd[k->dir == B2D ? D2B : B2D];
		const struct sockaddr_in6 *to = k->dir == B2D ? &r->device : &r->bridge;

		if ((k->dir == B2D || r->have_bridge) &&
		    sendto(fd, k->data, k->len, 0, (const struct sockaddr *)to, sizeof(*to)) == k->len)
			r->st[k->dir].out++;
	}
	r->nq = w;
}

static int64_t next_release(const struct relay *r)
{
	int64_t t = INT64_MAX;

	for (unsigned i = 0; i < r->nq; i++)
		if (r->q[i].release_ns < t)
			t = r->q[i].release_ns;
	return t;
}

static void print_stats(const struct relay *r, FILE *f)
{
	static const char *const names[2] = { "b2d", "d2b" };

	for (int d = 0; d < 2; d++) {
		const struct dir_stats *s = &r->st[d];

		fprintf(f, "%s_in=%llu\n%s_out=%llu\n%s_dropped=%llu\n%s_cut=%llu\n%s_duplicated=%llu\n"
			"%s_reordered=%llu\n%s_corrupted=%llu\n%s_overflow=%llu\n",
			names[d], (unsigned long long)s->in, names[d], (unsigned long long)s->out,
			names[d], (unsigned long long)s->dropped, names[d], (unsigned long long)s->cut,
			names[d], (unsigned long long)s->duplicated, names[d],
			(unsigned long long)s->reordered, names[d], (unsigned long long)s->corrupted,
			names[d], (unsigned long long)s->overflow);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --listen ADDR:PORT --device HOST:PORT [impairments]\n"
		"Relays UDP between a HIL bridge (which sends to --listen) and its device, and\n"
		"injects faults at the given rates (0..1), drawn from a seeded generator.\n\n"
		"      --listen ADDR:PORT     where the bridge sends\n"
		"      --device HOST:PORT     where the device listens\n"
		"      --device-bind ADDR:PORT  the relay's address toward the device (default any)\n"
		"      --loss P               drop a packet\n"
		"      --delay-ms MS          add a fixed delay\n"
		"      --jitter-ms MS         add a uniform 0..MS delay (order kept)\n"
		"      --dup P                send a packet twice\n"
		"      --reorder P            hold a packet back behind the next ones\n"
		"      --corrupt P            change one byte of a packet\n"
		"      --data-only            impair SENSORS and ACTUATORS frames only\n"
		"      --start-clean          impairments off until the first USR1\n"
		"      --seed N               the generator's seed (default 1)\n"
		"      --stats-file PATH      write the counters there at exit (key=value)\n"
		"  -h, --help\n\n"
		"Signals: USR1 impairments off/on, USR2 cut/restore the link, INT/TERM stop.\n"
		"Exit status: 0 stopped by a signal; 1 usage error or a socket that cannot be opened.\n");
}

static int parse(int argc, char **argv, struct relay *r, const char **stats_file)
{
	const char *listen = NULL, *device = NULL, *dbind = ":0";
	char why[512];
	struct sockaddr_in6 a;
	uint64_t seed = 1;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		double x;

		if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(o, "--data-only")) {
			r->data_only = true;
			continue;
		}
		if (!strcmp(o, "--start-clean")) {
			r->clean = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, PROG ": %s: needs a value, or is unknown (see --help)\n", o);
			return -1;
		}
		i++;
		if (!strcmp(o, "--listen")) listen = v;
		else if (!strcmp(o, "--device")) device = v;
		else if (!strcmp(o, "--device-bind")) dbind = v;
		else if (!strcmp(o, "--stats-file")) *stats_file = v;
		else if (!strcmp(o, "--seed")) {
			if (qk_parse_u64(v, 0, UINT64_MAX, &seed)) {
				fprintf(stderr, PROG ": --seed '%s': expected a non-negative integer\n", v);
				return -1;
			}
		} else if (!strcmp(o, "--delay-ms") || !strcmp(o, "--jitter-ms")) {
			if (qk_parse_double(v, 0, 10000, &x)) {
				fprintf(stderr, PROG ": %s '%s': expected 0..10000 ms\n", o, v);
				return -1;
			}
			*(!strcmp(o, "--delay-ms") ? &r->delay_ns : &r->jitter_ns) = (int64_t)(x * 1e6);
		} else if (!strcmp(o, "--loss") || !strcmp(o, "--dup") || !strcmp(o, "--reorder") ||
			   !strcmp(o, "--corrupt")) {
			if (qk_parse_double(v, 0, 1, &x)) {
				fprintf(stderr, PROG ": %s '%s': expected a rate 0..1\n", o, v);
				return -1;
			}
			*(!strcmp(o, "--loss") ? &r->loss : !strcmp(o, "--dup") ? &r->dup :
			  !strcmp(o, "--reorder") ? &r->reorder : &r->corrupt) = x;
		} else {
			fprintf(stderr, PROG ": unknown option '%s' (see --help)\n", o);
			return -1;
		}
	}
	if (!listen || !device) {
		fprintf(stderr, PROG ": --listen ADDR:PORT and --device HOST:PORT are required\n");
		return -1;
	}
	r->rng = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
	if (qk_hil_addr_parse(device, false, &r->device, why, sizeof(why))) {
		fprintf(stderr, PROG ": --device %s\n", why);
		return -1;
	}
	if (qk_hil_addr_parse(listen, false, &a, why, sizeof(why)) ||
	    (r->fd[B2D] = qk_hil_udp_open(&a, false, why, sizeof(why))) < 0) {
		fprintf(stderr, PROG ": --listen %s\n", why);
		return -1;
	}
	if (qk_hil_addr_parse(dbind, false, &a, why, sizeof(why)) ||
	    (r->fd[D2B] = qk_hil_udp_open(&a, false, why, sizeof(why))) < 0) {
		fprintf(stderr, PROG ": --device-bind %s\n", why);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct relay r;
	const char *stats_file = NULL;
	int ret = parse(argc, argv, &r, &stats_file);
	sig_atomic_t clean_seen = 0, cut_seen = 0;

	if (ret)
		return ret > 0 ? 0 : 1;
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	while (!stop) {
		struct pollfd pfd[2] = { { .fd = r.fd[B2D], .events = POLLIN },
					 { .fd = r.fd[D2B], .events = POLLIN } };
		int64_t now = qk_now_ns(), next = next_release(&r);
		int64_t wait = next == INT64_MAX ? 100 * 1000000ll : next <= now ? 0 : next - now;
		struct timespec ts = qk_ns_ts(wait);

		if (clean_seen != clean_toggles) {
			clean_seen = clean_toggles;
			r.clean = !r.clean;
		}
		if (cut_seen != cut_toggles) {
			cut_seen = cut_toggles;
			r.cut = !r.cut;
		}
		if (ppoll(pfd, 2, &ts, NULL) < 0 && errno != EINTR)
			break;
		now = qk_now_ns();
		for (int d = 0; d < 2; d++) {
			uint8_t buf[MAXPKT];
			struct sockaddr_in6 from;
			socklen_t fl = sizeof(from);

			if (!(pfd[d].revents & POLLIN))
				continue;
			ssize_t n = recvfrom(r.fd[d], buf, sizeof(buf), MSG_DONTWAIT,
					     (struct sockaddr *)&from, &fl);

			if (n < 0)
				continue;
			if (d == B2D) {
				r.bridge = from;
				r.have_bridge = true;
			} else if (!qk_hil_addr_eq(&from, &r.device)) {
				continue;	/* only the device speaks on this side */
			}
			take(&r, d, buf, (size_t)n, now);
		}
		release_due(&r, qk_now_ns());
	}
	if (stats_file) {
		FILE *f = fopen(stats_file, "w");

		if (!f) {
			fprintf(stderr, PROG ": --stats-file %s: %s\n", stats_file, strerror(errno));
			return 1;
		}
		print_stats(&r, f);
		fclose(f);
	} else {
		print_stats(&r, stdout);
	}
	return 0;
}
