/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * bench/ring.c - what the ring costs, beside the machine's floor and beside
 * what a user would otherwise pick, all measured in the same run.
 *
 *  1. Single-thread cost: ns per publish, read_next, read_newest and frames/s
 *     for the qiki ring; enqueue and dequeue for Concurrency Kit's ck_ring
 *     (spsc, frames copied by value, the same 256-byte sensor frame).
 *  2. One-way handoff of a 256-byte frame between two processes pinned to
 *     CPU 0 and CPU 1: a ping-pong, half of each round trip is one sample.
 *     Transports: a plain cache-line ping-pong (the floor: nothing can hand
 *     data across faster), the qiki ring (spin, and with its own futex
 *     wait), ck_ring (spin), a futex wake, an eventfd, a pipe, a Unix
 *     datagram socket and a POSIX message queue.  Where the kernel object
 *     carries no data (futex, eventfd) the frame goes through a shared slot.
 *
 *  3. The headline comparison: qiki ring (spin) against ck_ring (spin) in
 *     PAIRS same-run pairs, the order alternating; the medians of the
 *     per-pair p50 and p99 ratios are the figures to quote (a shared VM
 *     drifts between runs, a pair does not).
 *  4. Instructions per qk_ring_publish() and per qk_ring_read_next() of the
 *     256-byte frame, counted by callgrind: the program runs itself under
 *     `valgrind --tool=callgrind --toggle-collect=FN` (--inner-ins).
 *
 * Spinning SCHED_FIFO threads would meet the kernel's RT throttling
 * (sched_rt_runtime_us, 95% of each second) and show its 50 ms stall as a
 * maximum that belongs to the benchmark, not to the transport: the measuring
 * side rests every 300 ms and the first round after a rest is not recorded;
 * the echo side naps while it has spun for over 5 ms without a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ck_ring.h>

#include "rt/rt.h"
#include "bench/bench.h"
#include "shm/hist.h"
#include "shm/layout.h"
#include "shm/ring.h"

#define CAP 1024
#define PRIO 50
#define PAIRS 5

extern char **environ;

CK_RING_PROTOTYPE(frame, qk_sensor_frame)

enum xport {
	X_FLOOR, X_QK_SPIN, X_CK_SPIN, X_QK_FUTEX, X_FUTEX, X_EVENTFD, X_PIPE,
	X_UNIX, X_MQ, X_COUNT
};

static const char *const xname[X_COUNT] = {
	"floor_cacheline", "qiki_ring", "ck_ring", "qiki_ring_futex", "futex",
	"eventfd", "pipe", "unix_socket", "mqueue",
};

static const char *const xwhat[X_COUNT] = {
	"cache-line ping-pong (floor)", "qiki ring, spin", "ck_ring spsc, spin",
	"qiki ring, futex wait", "futex wake + slot", "eventfd + slot", "pipe",
	"Unix datagram socket", "POSIX message queue",
};

/* Everything both processes touch, in one MAP_SHARED mapping made before
 * fork().  ck_ring copies the frames by value (CK_RING_PROTOTYPE), as the
 * qiki ring does, so neither holds a pointer into the other's memory. */
struct shared {
	_Alignas(64) _Atomic uint64_t ping;
	_Alignas(64) _Atomic uint64_t pong;
	_Alignas(64) _Atomic uint32_t fut_ab;
	_Alignas(64) _Atomic uint32_t fut_ba;
	_Alignas(64) struct qk_sensor_frame slot_ab;
	_Alignas(64) struct qk_sensor_frame slot_ba;
	_Alignas(64) struct ck_ring ck_ab;
	_Alignas(64) struct ck_ring ck_ba;
	struct qk_sensor_frame ckbuf_ab[CAP], ckbuf_ba[CAP];
	_Alignas(64) unsigned char rings[];	/* qk_ab then qk_ba, ring_bytes each */
};

static size_t ring_bytes;
static struct shared *sh;
static struct qk_ring_port ab_port, ba_port, *qk_ab = &ab_port, *qk_ba = &ba_port;
static int pipe_ab[2], pipe_ba[2], sock[2], efd_ab, efd_ba;
static mqd_t mq_ab, mq_ba;
static bool want_rt = true;

/* Held open for the whole run, as cyclictest and the loop do: the CPUs stay
 * out of deep C-states, so every transport meets the same wake-up cost. */
static bool hold_dma_latency(void)
{
	int32_t zero = 0;
	int fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC);

	return fd >= 0 && write(fd, &zero, sizeof(zero)) == sizeof(zero);
}

static int pin(int cpu)
{
	cpu_set_t set;
	struct sched_param sp = { .sched_priority = PRIO };

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	if (want_rt && sched_setscheduler(0, SCHED_FIFO, &sp))
		return -errno;
	return 0;
}

/* Shared futexes (no FUTEX_PRIVATE_FLAG): the word lives in a mapping two
 * processes share. */
static void futex_wait(_Atomic uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void full_read(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r <= 0 && errno != EINTR)
			_exit(3);
		if (r > 0)
			got += (size_t)r;
	}
}

/* Spinning wait with a nap after 5 ms of nothing: used by the echo side. */
struct spin {
	int64_t since;
	unsigned n;
};

static void spin_wait(struct spin *s)
{
	if ((++s->n & 1023) == 0) {
		int64_t now = qk_now_ns();

		if (!s->since)
			s->since = now;
		else if (now - s->since > 5000000)
			usleep(200);
	}
	qk_cpu_relax();
}

/* One message from a to b (dir 0) or from b to a (dir 1). */
static void send_msg(enum xport x, int dir, struct qk_sensor_frame *f, uint64_t i)
{
	f->cycle = i;
	switch (x) {
	case X_FLOOR:
		qk_store_release(dir ? &sh->pong : &sh->ping, i);	/* pairs with recv's acquire */
		break;
	case X_QK_SPIN:
		qk_ring_publish(dir ? qk_ba : qk_ab, f);
		break;
	case X_QK_FUTEX:
		qk_ring_publish(dir ? qk_ba : qk_ab, f);
		qk_ring_wake(dir ? qk_ba : qk_ab);
		break;
	case X_CK_SPIN:
		while (!ck_ring_enqueue_spsc_frame(dir ? &sh->ck_ba : &sh->ck_ab,
						   dir ? sh->ckbuf_ba : sh->ckbuf_ab, f))
			qk_cpu_relax();
		break;
	case X_FUTEX: {
		_Atomic uint32_t *w = dir ? &sh->fut_ba : &sh->fut_ab;

		memcpy(dir ? &sh->slot_ba : &sh->slot_ab, f, sizeof(*f));
		qk_store_release(w, (uint32_t)i);	/* pairs with recv: slot before word */
		futex_wake(w);
		break;
	}
	case X_EVENTFD: {
		uint64_t one = 1;

		memcpy(dir ? &sh->slot_ba : &sh->slot_ab, f, sizeof(*f));
		if (write(dir ? efd_ba : efd_ab, &one, 8) != 8)	/* the syscall orders the slot */
			_exit(3);
		break;
	}
	case X_PIPE:
		if (write(dir ? pipe_ba[1] : pipe_ab[1], f, sizeof(*f)) != sizeof(*f))
			_exit(3);
		break;
	case X_UNIX:
		if (send(sock[dir ? 1 : 0], f, sizeof(*f), 0) != sizeof(*f))
			_exit(3);
		break;
	case X_MQ:
		if (mq_send(dir ? mq_ba : mq_ab, (const char *)f, sizeof(*f), 0))
			_exit(3);
		break;
	case X_COUNT:
		break;
	}
}

/* Waits for message i; rd reads the ring it arrives on. */
static void recv_msg(enum xport x, int dir, struct qk_ring_reader *rd, struct qk_sensor_frame *f,
		     uint64_t i)
{
	struct spin s = { 0, 0 };

	switch (x) {
	case X_FLOOR:
		while (qk_load_acquire(dir ? &sh->pong : &sh->ping) != i)	/* pairs with send */
			spin_wait(&s);
		break;
	case X_QK_SPIN:
		while (!qk_ring_read_next(rd, f))
			spin_wait(&s);
		break;
	case X_QK_FUTEX:
		for (;;) {
			struct qk_ring_port *r = &rd->port;
			/* head before the read: a publish in between makes the wait
			 * return at once (pairs with qk_ring_publish's release) */
			uint64_t seen = qk_ring_head(r);

			if (qk_ring_read_next(rd, f))
				break;
			qk_ring_wait(r, seen, QK_NSEC);
		}
		break;
	case X_CK_SPIN:
		while (!ck_ring_dequeue_spsc_frame(dir ? &sh->ck_ba : &sh->ck_ab,
						   dir ? sh->ckbuf_ba : sh->ckbuf_ab, f))
			spin_wait(&s);
		break;
	case X_FUTEX: {
		_Atomic uint32_t *w = dir ? &sh->fut_ba : &sh->fut_ab;
		uint32_t v;

		while ((v = qk_load_acquire(w)) != (uint32_t)i)	/* pairs with send's release */
			futex_wait(w, v);
		memcpy(f, dir ? &sh->slot_ba : &sh->slot_ab, sizeof(*f));
		break;
	}
	case X_EVENTFD: {
		uint64_t n;

		full_read(dir ? efd_ba : efd_ab, &n, 8);
		memcpy(f, dir ? &sh->slot_ba : &sh->slot_ab, sizeof(*f));
		break;
	}
	case X_PIPE:
		full_read(dir ? pipe_ba[0] : pipe_ab[0], f, sizeof(*f));
		break;
	case X_UNIX:
		if (recv(sock[dir ? 0 : 1], f, sizeof(*f), 0) != sizeof(*f))
			_exit(3);
		break;
	case X_MQ:
		if (mq_receive(dir ? mq_ba : mq_ab, (char *)f, sizeof(*f), NULL) != sizeof(*f))
			_exit(3);
		break;
	case X_COUNT:
		break;
	}
}

static bool spins(enum xport x)
{
	return x == X_FLOOR || x == X_QK_SPIN || x == X_CK_SPIN;
}

/* The echo process on CPU 1: answers `rounds` messages then exits. */
static void echo(enum xport x, uint64_t rounds)
{
	struct qk_ring_reader rd;
	struct qk_sensor_frame f = { 0 };

	if (pin(1))
		_exit(2);
	qk_ring_reader_init(&rd, qk_ab, QK_RING_FROM_OLDEST);
	for (uint64_t i = 1; i <= rounds; i++) {
		recv_msg(x, 0, &rd, &f, i);
		send_msg(x, 1, &f, i);
	}
	_exit(0);
}

static void reset_objects(void)
{
	memset(sh, 0, sizeof(*sh));
	qk_ring_init((struct qk_ring *)sh->rings, CAP, sizeof(struct qk_sensor_frame), 0, qk_ab);
	qk_ring_init((struct qk_ring *)(sh->rings + ring_bytes), CAP,
		     sizeof(struct qk_sensor_frame), 0, qk_ba);
	ck_ring_init(&sh->ck_ab, CAP);
	ck_ring_init(&sh->ck_ba, CAP);
}

/* Fills h with one-way latencies; returns 0, or -1 when the echo failed. */
static int handoff(enum xport x, uint64_t rounds, struct qk_hist *h)
{
	struct qk_ring_reader rd;
	struct qk_sensor_frame f = { 0 };
	int64_t rest = qk_now_ns() + 300000000;
	bool skip = true;	/* the first round warms the path up */
	int st;

	reset_objects();
	qk_hist_reset(h);
	qk_ring_reader_init(&rd, qk_ba, QK_RING_FROM_OLDEST);
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		echo(x, rounds);
	pin(0);
	for (uint64_t i = 1; i <= rounds; i++) {
		int64_t t0 = qk_now_ns();

		send_msg(x, 0, &f, i);
		recv_msg(x, 1, &rd, &f, i);
		int64_t t1 = qk_now_ns();

		if (!skip)
			qk_hist_record(h, (t1 - t0) / 2);
		skip = false;
		if (spins(x) && t1 > rest) {
			usleep(50000);
			rest = qk_now_ns() + 300000000;
			skip = true;
		}
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ---- single-thread costs ------------------------------------------------- */

struct costs {
	double publish_ns, read_next_ns, read_newest_ns, frames_per_s;
	double ck_enqueue_ns, ck_dequeue_ns;
	/* medians of 1000-call batches: what a call costs when the shared
	 * machine leaves us alone for a microsecond or so */
	double b_publish_ns, b_read_next_ns, b_ck_enqueue_ns, b_ck_dequeue_ns;
};

#define BATCH 1000
#define MAX_BATCHES 4000

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double batch_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_dbl);
	return n ? v[n / 2] : 0;
}

/* Per-call ns, batch by batch, qiki then ck_ring, then the medians. */
static void batches(struct costs *c, uint64_t n)
{
	static double pub[MAX_BATCHES], both[MAX_BATCHES], enq[MAX_BATCHES], deq[MAX_BATCHES];
	size_t nb = n / BATCH < MAX_BATCHES ? n / BATCH : MAX_BATCHES;
	struct qk_ring_reader rd;
	struct qk_sensor_frame f = { 0 };

	reset_objects();
	qk_ring_reader_init(&rd, qk_ab, QK_RING_FROM_NOW);
	for (size_t b = 0; b < nb; b++) {
		int64_t t0 = qk_now_ns();

		for (int i = 0; i < BATCH; i++)
			qk_ring_publish(qk_ab, &f);
		int64_t t1 = qk_now_ns();

		qk_ring_reader_init(&rd, qk_ab, QK_RING_FROM_NOW);
		for (int i = 0; i < BATCH; i++) {
			qk_ring_publish(qk_ab, &f);
			qk_ring_read_next(&rd, &f);
		}
		int64_t t2 = qk_now_ns();

		ck_ring_init(&sh->ck_ab, CAP);	/* BATCH < CAP: never full */
		for (int i = 0; i < BATCH; i++)
			ck_ring_enqueue_spsc_frame(&sh->ck_ab, sh->ckbuf_ab, &f);
		int64_t t3 = qk_now_ns();

		for (int i = 0; i < BATCH; i++)
			ck_ring_dequeue_spsc_frame(&sh->ck_ab, sh->ckbuf_ab, &f);
		int64_t t4 = qk_now_ns();

		pub[b] = (double)(t1 - t0) / BATCH;
		both[b] = (double)(t2 - t1) / BATCH;
		enq[b] = (double)(t3 - t2) / BATCH;
		deq[b] = (double)(t4 - t3) / BATCH;
	}
	c->b_publish_ns = batch_median(pub, nb);
	c->b_read_next_ns = batch_median(both, nb) - c->b_publish_ns;
	c->b_ck_enqueue_ns = batch_median(enq, nb);
	c->b_ck_dequeue_ns = batch_median(deq, nb);
}

static double per(int64_t t0, uint64_t n)
{
	return (double)(qk_now_ns() - t0) / (double)n;
}

static void single(struct costs *c, uint64_t n)
{
	struct qk_ring_reader rd, nw;
	struct qk_sensor_frame f = { 0 };
	int64_t t0;

	reset_objects();
	qk_ring_reader_init(&rd, qk_ab, QK_RING_FROM_NOW);
	qk_ring_reader_init(&nw, qk_ab, QK_RING_FROM_NOW);
	/* The frame is not changed between calls, here or for ck_ring: a store
	 * into it just before the call makes the copy's first load wait for
	 * that store (a 32-byte load cannot be forwarded from an 8-byte store),
	 * which times the caller's loop, not the ring: 10.5 ns a publish with
	 * `f.cycle = i` in the loop, 7-8 without, on this machine. */
	t0 = qk_now_ns();
	for (uint64_t i = 0; i < n; i++)
		qk_ring_publish(qk_ab, &f);
	c->publish_ns = per(t0, n);
	c->frames_per_s = 1e9 / c->publish_ns;
	/* reads are timed with a publish each (the reader keeps up); the
	 * publish cost is taken off */
	t0 = qk_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		qk_ring_publish(qk_ab, &f);
		qk_ring_read_next(&rd, &f);
	}
	c->read_next_ns = per(t0, n) - c->publish_ns;
	t0 = qk_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		qk_ring_publish(qk_ab, &f);
		qk_ring_read_newest(&nw, &f);
	}
	c->read_newest_ns = per(t0, n) - c->publish_ns;
	/* ck_ring: fill half, then enqueue one / dequeue one */
	for (int i = 0; i < CAP / 2; i++)
		ck_ring_enqueue_spsc_frame(&sh->ck_ab, sh->ckbuf_ab, &f);
	t0 = qk_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		ck_ring_enqueue_spsc_frame(&sh->ck_ab, sh->ckbuf_ab, &f);
		ck_ring_dequeue_spsc_frame(&sh->ck_ab, sh->ckbuf_ab, &f);
	}
	double pair = per(t0, n);

	/* split the pair as the qiki figures are split: enqueue timed alone */
	reset_objects();
	t0 = qk_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		if ((i & (CAP - 1)) == CAP - 1)
			ck_ring_init(&sh->ck_ab, CAP);	/* never full: cheap reset */
		ck_ring_enqueue_spsc_frame(&sh->ck_ab, sh->ckbuf_ab, &f);
	}
	c->ck_enqueue_ns = per(t0, n);
	c->ck_dequeue_ns = pair - c->ck_enqueue_ns;
}

/* ---- same-run pairs against ck_ring ----------------------------------------- */

struct pairs {
	int n;				/* pairs that both ran */
	double qk_p50[PAIRS], qk_p99[PAIRS], ck_p50[PAIRS], ck_p99[PAIRS];
	double r50[PAIRS], r99[PAIRS];	/* qiki / ck, per pair */
	double r50_med, r99_med;
};

static double median(const double *v, int n)
{
	double t[PAIRS];

	if (n <= 0)
		return 0;
	memcpy(t, v, (size_t)n * sizeof(*t));
	qsort(t, (size_t)n, sizeof(*t), cmp_dbl);
	return n & 1 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static void run_pairs(struct pairs *p, uint64_t rounds)
{
	static struct qk_hist hq, hc;

	p->n = 0;
	for (int k = 0; k < PAIRS; k++) {
		/* alternate who goes first: a drift in the machine's state
		 * during the pair favours neither */
		bool ok = k & 1 ? handoff(X_CK_SPIN, rounds, &hc) == 0 &&
				  handoff(X_QK_SPIN, rounds, &hq) == 0 :
				  handoff(X_QK_SPIN, rounds, &hq) == 0 &&
				  handoff(X_CK_SPIN, rounds, &hc) == 0;

		if (!ok)
			continue;
		int i = p->n++;

		p->qk_p50[i] = (double)qk_hist_quantile(&hq, 0.5);
		p->qk_p99[i] = (double)qk_hist_quantile(&hq, 0.99);
		p->ck_p50[i] = (double)qk_hist_quantile(&hc, 0.5);
		p->ck_p99[i] = (double)qk_hist_quantile(&hc, 0.99);
		p->r50[i] = p->ck_p50[i] > 0 ? p->qk_p50[i] / p->ck_p50[i] : 0;
		p->r99[i] = p->ck_p99[i] > 0 ? p->qk_p99[i] / p->ck_p99[i] : 0;
	}
	p->r50_med = median(p->r50, p->n);
	p->r99_med = median(p->r99, p->n);
}

/* ---- instructions (callgrind) ------------------------------------------------ */

/* Under callgrind: n publishes, each read by read_next, nothing else. */
static int inner_ins(uint64_t n)
{
	struct qk_ring_reader rd;
	struct qk_sensor_frame f = { 0 };

	reset_objects();
	qk_ring_reader_init(&rd, qk_ab, QK_RING_FROM_NOW);
	for (uint64_t i = 0; i < n; i++) {
		f.cycle = i;
		qk_ring_publish(qk_ab, &f);
		if (!qk_ring_read_next(&rd, &f))
			return 1;
	}
	return 0;
}

/* Instructions inside fn per call, or -1 when valgrind is missing or failed. */
static double callgrind(const char *self, const char *fn, uint64_t n)
{
	char out[64], tog[96], a_out[96], a_n[32];
	char *argv[] = { "valgrind", "--tool=callgrind", "--collect-atstart=no", tog, a_out,
			 (char *)self, "--inner-ins", a_n, NULL };
	posix_spawn_file_actions_t fa;
	unsigned long long total = 0;
	bool found = false;
	char l[512];
	pid_t pid;
	int st;

	snprintf(out, sizeof(out), "/tmp/qiki-bench-ring-%d.%s.cg", (int)getpid(), fn);
	snprintf(tog, sizeof(tog), "--toggle-collect=%s", fn);
	snprintf(a_out, sizeof(a_out), "--callgrind-out-file=%s", out);
	snprintf(a_n, sizeof(a_n), "%llu", (unsigned long long)n);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	int e = posix_spawnp(&pid, "valgrind", &fa, NULL, argv, environ);

	posix_spawn_file_actions_destroy(&fa);
	if (e)
		return -1;
	waitpid(pid, &st, 0);
	FILE *f = WIFEXITED(st) && !WEXITSTATUS(st) ? fopen(out, "r") : NULL;

	while (f && fgets(l, sizeof(l), f))
		if (sscanf(l, "totals: %llu", &total) == 1 || sscanf(l, "summary: %llu", &total) == 1)
			found = true;
	if (f)
		fclose(f);
	unlink(out);
	return found ? (double)total / (double)n : -1;
}

/* ---- output ---------------------------------------------------------------- */


static void line(const char *what, const struct qk_hist *h)
{
	printf("  %-30s min %7.2f  p50 %7.2f  p99 %7.2f  p99.9 %8.2f  max %9.1f us\n", what,
	       qk_hist_min(h) / 1e3, qk_hist_quantile(h, 0.5) / 1e3,
	       qk_hist_quantile(h, 0.99) / 1e3, qk_hist_quantile(h, 0.999) / 1e3,
	       qk_hist_max(h) / 1e3);
}

static int open_objects(void)
{
	struct mq_attr a = { .mq_maxmsg = 4, .mq_msgsize = sizeof(struct qk_sensor_frame) };
	char n1[64], n2[64];

	if (pipe(pipe_ab) || pipe(pipe_ba) || socketpair(AF_UNIX, SOCK_DGRAM, 0, sock))
		return -errno;
	efd_ab = eventfd(0, 0);
	efd_ba = eventfd(0, 0);
	if (efd_ab < 0 || efd_ba < 0)
		return -errno;
	snprintf(n1, sizeof(n1), "/qiki-bench-%d-ab", (int)getpid());
	snprintf(n2, sizeof(n2), "/qiki-bench-%d-ba", (int)getpid());
	mq_ab = mq_open(n1, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
	mq_ba = mq_open(n2, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
	/* unlinked at once: the descriptors survive fork, nothing is left behind */
	mq_unlink(n1);
	mq_unlink(n2);
	return mq_ab == (mqd_t)-1 || mq_ba == (mqd_t)-1 ? -errno : 0;
}

int main(int argc, char **argv)
{
	const char *json = NULL;
	uint64_t spin_rounds = 1000000, sys_rounds = 200000, cost_n = 4000000;
	static struct qk_hist h[X_COUNT];
	int ok[X_COUNT];
	struct costs c;

	bool inner = false;
	uint64_t inner_n = 0;
	char self[PATH_MAX];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--inner-ins") && i + 1 < argc) {
			inner = true;
			inner_n = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--quick")) {
			spin_rounds = 200000;
			sys_rounds = 20000;
			cost_n = 1000000;
		} else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
			json = argv[++i];
		} else if (!strcmp(argv[i], "--no-rt")) {
			want_rt = false;
		} else {
			fprintf(stderr, "usage: ring [--quick] [--no-rt] [--json FILE]\n");
			return 1;
		}
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "ring: needs two CPUs for the cross-core figures\n");
		return 1;
	}
	ring_bytes = qk_ring_footprint(CAP, sizeof(struct qk_sensor_frame));
	sh = mmap(NULL, sizeof(*sh) + 2 * ring_bytes, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || open_objects()) {
		perror("ring: set-up");
		return 1;
	}
	if (inner)
		return inner_ins(inner_n);
	/* instructions first, while this process is still ordinary */
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	double ins_pub = -1, ins_read = -1;

	if (sl > 0) {
		self[sl] = 0;
		ins_pub = callgrind(self, "qk_ring_publish", 20000);
		ins_read = callgrind(self, "qk_ring_read_next", 20000);
	}
	bool locked = mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
	bool dma = hold_dma_latency();
	int rt_err = want_rt ? pin(0) : 0;

	if (rt_err) {
		fprintf(stderr, "ring: SCHED_FIFO refused (%s): figures are NOT real-time\n",
			strerror(-rt_err));
		want_rt = false;
	}
	single(&c, cost_n);
	batches(&c, cost_n);
	for (int x = 0; x < X_COUNT; x++)
		ok[x] = handoff(x, spins(x) ? spin_rounds : sys_rounds, &h[x]) == 0;
	static struct pairs pr;

	run_pairs(&pr, spin_rounds);

	printf("ring bench: %s, %s, %s, %zu-byte frames\n",
	       want_rt ? "SCHED_FIFO 50" : "SCHED_OTHER (NOT real-time)",
	       locked ? "mlockall" : "no mlockall",
	       dma ? "cpu_dma_latency 0" : "cpu_dma_latency not held", sizeof(struct qk_sensor_frame));
	printf("  qiki ring: publish %.1f ns, read_next %.1f ns, read_newest %.1f ns, %.1f M frames/s\n",
	       c.publish_ns, c.read_next_ns, c.read_newest_ns, c.frames_per_s / 1e6);
	printf("  ck_ring:   enqueue %.1f ns, dequeue %.1f ns\n", c.ck_enqueue_ns, c.ck_dequeue_ns);
	printf("  medians of %d-call batches: qiki publish %.1f ns, read_next %.1f ns; "
	       "ck_ring enqueue %.1f ns, dequeue %.1f ns\n", BATCH, c.b_publish_ns, c.b_read_next_ns,
	       c.b_ck_enqueue_ns, c.b_ck_dequeue_ns);
	if (ins_pub >= 0 && ins_read >= 0)
		printf("  instructions (callgrind): publish %.0f, read_next %.0f\n", ins_pub, ins_read);
	else
		printf("  instructions: valgrind missing or failed (apt-get install valgrind)\n");
	printf("  one-way handoff between two processes, CPU 0 <-> CPU 1:\n");
	for (int x = 0; x < X_COUNT; x++) {
		if (ok[x])
			line(xwhat[x], &h[x]);
		else
			printf("  %-30s FAILED\n", xwhat[x]);
	}
	printf("  qiki ring / ck_ring, spin handoff, %d same-run pairs (order alternating):\n", pr.n);
	for (int i = 0; i < pr.n; i++)
		printf("    pair %d: p50 %6.0f / %6.0f ns = %.3f   p99 %6.0f / %6.0f ns = %.3f\n", i + 1,
		       pr.qk_p50[i], pr.ck_p50[i], pr.r50[i], pr.qk_p99[i], pr.ck_p99[i], pr.r99[i]);
	printf("    median ratio: p50 %.3fx  p99 %.3fx\n", pr.r50_med, pr.r99_med);
	if (!json)
		return 0;
	FILE *f = bench_json_open(json, "ring");

	if (!f)
		return 1;
	fprintf(f, "\"sched_fifo\":%s,\"mlockall\":%s,\"cpu_dma_latency_0\":%s,"
		"\"priority\":%d,\"cpus\":[0,1],\"frame_bytes\":%zu,\"spin_rounds\":%llu,\"syscall_rounds\":%llu,"
		"\"cost\":{\"qiki_publish_ns\":%.2f,\"qiki_read_next_ns\":%.2f,"
		"\"qiki_read_newest_ns\":%.2f,\"qiki_frames_per_s\":%.0f,"
		"\"ck_enqueue_ns\":%.2f,\"ck_dequeue_ns\":%.2f,\"batch_p50\":{\"qiki_publish_ns\":%.2f,"
		"\"qiki_read_next_ns\":%.2f,\"ck_enqueue_ns\":%.2f,\"ck_dequeue_ns\":%.2f}},\"handoff\":{",
		want_rt ? "true" : "false", locked ? "true" : "false", dma ? "true" : "false",
		want_rt ? PRIO : 0,
		sizeof(struct qk_sensor_frame), (unsigned long long)spin_rounds,
		(unsigned long long)sys_rounds, c.publish_ns, c.read_next_ns, c.read_newest_ns,
		c.frames_per_s, c.ck_enqueue_ns, c.ck_dequeue_ns, c.b_publish_ns, c.b_read_next_ns,
		c.b_ck_enqueue_ns, c.b_ck_dequeue_ns);
	const char *sep = "";

	for (int x = 0; x < X_COUNT; x++) {
		if (!ok[x])
			continue;
		fputs(sep, f);
		bench_json_hist(f, xname[x], &h[x]);
		sep = ",";
	}
	fprintf(f, "},\"handoff_label\":{");
	for (int x = 0; x < X_COUNT; x++)
		fprintf(f, "%s\"%s\":\"%s\"", x ? "," : "", xname[x], xwhat[x]);
	fprintf(f, "},\"instructions\":{\"publish\":%.1f,\"read_next\":%.1f},\"pairs\":{\"n\":%d,",
		ins_pub, ins_read, pr.n);
	const char *const pk[] = { "qiki_p50_ns", "ck_p50_ns", "qiki_p99_ns", "ck_p99_ns",
				   "p50_ratio", "p99_ratio" };
	const double *const pv[] = { pr.qk_p50, pr.ck_p50, pr.qk_p99, pr.ck_p99, pr.r50, pr.r99 };

	for (int k = 0; k < 6; k++) {
		fprintf(f, "\"%s\":[", pk[k]);
		for (int i = 0; i < pr.n; i++)
			fprintf(f, "%s%.3f", i ? "," : "", pv[k][i]);
		fprintf(f, "],");
	}
	fprintf(f, "\"p50_ratio_median\":%.4f,\"p99_ratio_median\":%.4f}}\n", pr.r50_med,
		pr.r99_med);
	fclose(f);
	return 0;
}
