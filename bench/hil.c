/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * bench/hil.c - the HIL round trip beside its floor, in one run.
 *
 * Two network namespaces of our own joined by a veth pair.  First the floor:
 * a plain UDP ping-pong between them, one ping per millisecond as the loop
 * sends, the round trip measured as the bridge measures it (our send time to
 * the kernel's receive time stamp of the answer).  Then the same wire under
 * qiki: `qiki run --hil` in one namespace, qiki-hil-device in the other; the
 * bridge's round-trip histogram is read from the segment (the four-timestamp
 * round trip, the device's own processing left out).  The report gives both
 * and their ratio, and the agent's sensor-to-actuation over HIL.  The echo,
 * the floor's client and the device run SCHED_FIFO 60, as the bridge runs
 * SCHED_FIFO: both measure the wire and the code, not the scheduler.
 * Needs root (ip netns); without it, says so and exits 0.
 * usage: hil [--quick] [--json FILE]
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "rt/rt.h"
#include "shm/seg.h"

extern char **environ;

static char ns_b[32], ns_d[32], veth[32];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void teardown(void)
{
	sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", ns_b, ns_d);
}

static void on_signal(int sig)
{
	(void)sig;
	exit(1);	/* teardown() removes the namespaces */
}

static pid_t spawn(const char *const *argv)
{
	pid_t pid;

	return posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ) ? -1 : pid;
}

static int enter(const char *ns)
{
	char path[64];
	int fd, ret;

	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = setns(fd, CLONE_NEWNET) ? -errno : 0;
	close(fd);
	return ret;
}

/* The echo side of the floor, in the device's namespace. */
static int echo(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7800) }, from;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	char buf[2048];

	inet_pton(AF_INET, "10.78.0.2", &a.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)))
		return 1;
	for (;;) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n > 0)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
}

/* The floor: n pings, one per millisecond, each 256 bytes (a SENSORS frame). */
static int floor_rtt(int n, struct qk_hist *h)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(7800) };
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, got = 0;
	char buf[256] = { 0 }, ctrl[CMSG_SPACE(sizeof(struct timespec))];

	inet_pton(AF_INET, "10.78.0.2", &to.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int64_t next = qk_now_ns();

	for (int i = 0; i < n + 50; i++) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl,
				     .msg_controllen = sizeof(ctrl) };
		struct timespec rt, req;

		next += 1000000;
		req = qk_ns_ts(next);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &req, NULL);
		int64_t t1 = qk_now_ns();

		clock_gettime(CLOCK_REALTIME, &rt);
		int64_t real_minus_mono = qk_ts_ns(&rt) - qk_now_ns();

		sendto(fd, buf, sizeof(buf), 0, (struct sockaddr *)&to, sizeof(to));
		if (recvmsg(fd, &mh, 0) <= 0)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				if (i >= 50)	/* the first: ARP and cold caches */
					qk_hist_record(h, qk_ts_ns(&ts) - real_minus_mono - t1), got++;
			}
	}
	close(fd);
	return got;
}

int main(int argc, char **argv)
{
	static struct qk_hist h_floor, h_hil, h_s2a;
	const char *json = NULL;
	bool quick = false;
	char bindir[4096], dev[4200], qiki[4200], inst[32], dur[16];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = true;
		} else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
			json = argv[++i];
		} else if (!strcmp(argv[i], "--echo")) {
			return echo();
		} else {
			fprintf(stderr, "usage: hil [--quick] [--json FILE]\n");
			return 1;
		}
	}
	if (geteuid() != 0 || system("ip -V >/dev/null 2>&1")) {
		printf("hil: skipped: needs root and iproute2 for network namespaces\n");
		return 0;
	}
	ssize_t k = readlink("/proc/self/exe", bindir, sizeof(bindir) - 1);

	if (k < 0)
		return 1;
	bindir[k] = 0;
	*strrchr(bindir, '/') = 0;	/* build/bench/bin -> build/bin */
	snprintf(dev, sizeof(dev), "%s/../../bin/qiki-hil-device", bindir);
	snprintf(qiki, sizeof(qiki), "%s/../../bin/qiki", bindir);
	snprintf(ns_b, sizeof(ns_b), "qkbb%d", (int)getpid());
	snprintf(ns_d, sizeof(ns_d), "qkbd%d", (int)getpid());
	snprintf(veth, sizeof(veth), "qv%d", (int)getpid());
	snprintf(inst, sizeof(inst), "bench-%d", (int)getpid());
	atexit(teardown);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (sh("ip netns add %s && ip netns add %s && "
	       "ip link add %sb netns %s type veth peer name %sd netns %s && "
	       "ip -n %s addr add 10.78.0.1/24 dev %sb && ip -n %s addr add 10.78.0.2/24 dev %sd && "
	       "ip -n %s link set %sb up && ip -n %s link set %sd up && "
	       "ip -n %s link set lo up && ip -n %s link set lo up",
	       ns_b, ns_d, veth, ns_b, veth, ns_d, ns_b, veth, ns_d, veth, ns_b, veth, ns_d, veth,
	       ns_b, ns_d)) {
		fprintf(stderr, "hil: cannot set up the namespaces\n");
		return 1;
	}
	int n = quick ? 2000 : 10000;
	/* both ends real time on both wires, as the bridge is: what is measured
	 * is the path, not who waited for a CPU */
	const char *echo_argv[] = { "ip", "netns", "exec", ns_d, "chrt", "-f", "60", "/proc/self/exe",
				    "--echo", NULL };
	char self[4200];
	struct sched_param sp = { .sched_priority = 60 };

	snprintf(self, sizeof(self), "%s/hil", bindir);
	echo_argv[7] = self;
	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		fprintf(stderr, "hil: the floor's client runs without SCHED_FIFO: %s\n", strerror(errno));
	pid_t e = spawn(echo_argv);

	int st;

	usleep(300000);
	/* the floor, from the bridge's namespace (the segment is reachable
	 * from any network namespace) */
	if (enter(ns_b)) {
		fprintf(stderr, "hil: cannot enter %s\n", ns_b);
		kill(e, SIGTERM);
		return 1;
	}
	int got = floor_rtt(n, &h_floor);

	kill(e, SIGTERM);
	waitpid(e, NULL, 0);
	sp.sched_priority = 0;
	sched_setscheduler(0, SCHED_OTHER, &sp);
	if (got < n / 2) {
		fprintf(stderr, "hil: the UDP floor got %d answers of %d\n", got, n);
		return 1;
	}

	/* the same wire under qiki */
	int secs = quick ? 4 : 12;
	const char *dev_argv[] = { "ip", "netns", "exec", ns_d, "chrt", "-f", "60", dev, "--bind",
				   "10.78.0.2:7801", "-q", NULL };
	snprintf(dur, sizeof(dur), "%d", secs);
	const char *run_argv[] = { "ip", "netns", "exec", ns_b, qiki, "run", "-i", inst, "--quiet",
				   "--hil", "udp://10.78.0.2:7801", "--duration", dur, NULL };
	pid_t d = spawn(dev_argv), q;
	posix_spawn_file_actions_t fa;

	/* its summary is not ours to print */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&q, "ip", &fa, NULL, (char *const *)run_argv, environ))
		q = -1;
	posix_spawn_file_actions_destroy(&fa);
	struct qk_seg seg;
	bool attached = false;

	for (int i = 0; i < 300 && !attached; i++) {
		usleep(10000);
		attached = !qk_seg_attach(&seg, inst, 0);
	}
	if (attached) {
		usleep((useconds_t)(secs - 1) * 1000000);	/* a snapshot before it stops */
		memcpy(&h_hil, &seg.link->rtt, sizeof(h_hil));
		memcpy(&h_s2a, &seg.stats[QK_PROC_AGENT].s2a, sizeof(h_s2a));
		qk_seg_detach(&seg);
	}
	waitpid(q, &st, 0);
	kill(d, SIGTERM);
	waitpid(d, NULL, 0);
	if (!attached || !qk_load_relaxed(&h_hil.count)) {
		fprintf(stderr, "hil: the HIL loop did not run (status %#x)\n", st);
		return 1;
	}
	double f50 = (double)qk_hist_quantile(&h_floor, 0.5), f99 = (double)qk_hist_quantile(&h_floor, 0.99);
	double l50 = (double)qk_hist_quantile(&h_hil, 0.5), l99 = (double)qk_hist_quantile(&h_hil, 0.99);

	printf("hil: round trip over veth, us        avg     p50     p99    p99.9      max   count\n");
	printf("     UDP ping-pong (floor)      %7.1f %7.1f %7.1f %8.1f %8.1f %7llu\n",
	       qk_hist_mean(&h_floor) / 1e3, f50 / 1e3, f99 / 1e3,
	       qk_hist_quantile(&h_floor, 0.999) / 1e3, qk_hist_max(&h_floor) / 1e3,
	       (unsigned long long)h_floor.count);
	printf("     bridge <-> device (HIL)    %7.1f %7.1f %7.1f %8.1f %8.1f %7llu\n",
	       qk_hist_mean(&h_hil) / 1e3, l50 / 1e3, l99 / 1e3,
	       qk_hist_quantile(&h_hil, 0.999) / 1e3, qk_hist_max(&h_hil) / 1e3,
	       (unsigned long long)h_hil.count);
	printf("     ratio HIL / floor: p50 %.2f, p99 %.2f\n", l50 / f50, l99 / f99);
	printf("     agent sensor-to-actuation over HIL us: avg %.1f p50 %.1f p99 %.1f\n",
	       qk_hist_mean(&h_s2a) / 1e3, qk_hist_quantile(&h_s2a, 0.5) / 1e3, qk_hist_quantile(&h_s2a, 0.99) / 1e3);
	if (!json)
		return 0;
	FILE *f = bench_json_open(json, "hil");

	if (!f)
		return 1;
	bench_json_hist(f, "udp_floor_rtt", &h_floor);
	fputc(',', f);
	bench_json_hist(f, "hil_rtt", &h_hil);
	fputc(',', f);
	bench_json_hist(f, "hil_s2a", &h_s2a);
	fprintf(f, ",\"ratio_p50\":%.3f,\"ratio_p99\":%.3f}\n", l50 / f50, l99 / f99);
	return fclose(f) ? 1 : 0;
}
