/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/shm/test_untrusted.c - the segment is untrusted input (issue 14).
 *
 * Any member of the segment's group can write any byte of it.  These cases
 * write what such a member could and check that attach refuses it naming
 * the region, that nothing after attach is indexed, sized or looped over by
 * a value read back from shared memory, that every claim loop is bounded,
 * that expired commands are refused, and that stale reclaim never removes a
 * file that is not a qiki segment.  A case that would hang on a regression
 * is ended by alarm() instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl/client.h"
#include "rt/config/config.h"
#include "rt/proc.h"
#include "shm/seg.h"

static char name[32];
static struct qk_config cfg;
static struct qk_seg a;		/* the creator's view */

static int setup(void **state)
{
	char why[256];

	(void)state;
	snprintf(name, sizeof(name), "t-untr-%d", (int)getpid());
	assert_int_equal(qk_config_profile(&cfg, "bot", why, sizeof(why)), 0);
	assert_int_equal(qk_seg_create(&a, name, &cfg, 0), 0);
	qk_seg_publish(&a);
	alarm(20);	/* a claim loop that is not bounded ends the run, not CI */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	alarm(0);
	qk_seg_detach(&a);
	qk_seg_unlink(name);
	return 0;
}

static unsigned char *region(int r)
{
	return (unsigned char *)a.base + a.hdr->region_off[r];
}

/* The geometry words a hostile writer would aim at, per region. */
static const struct { int region; size_t off; const char *name; } geometry[] = {
	{ QK_R_SENSORS, offsetof(struct qk_ring, capacity), "sensors ring" },
	{ QK_R_ACTUATORS, offsetof(struct qk_ring, slot_stride), "actuators ring" },
	{ QK_R_AGENT_REPLIES, offsetof(struct qk_ring, payload_size), "agent replies ring" },
	{ QK_R_SIM_REPLIES, offsetof(struct qk_ring, capacity), "sim replies ring" },
	{ QK_R_AGENT_CMDQ, offsetof(struct qk_cmdq, capacity), "agent command queue" },
	{ QK_R_SIM_CMDQ, offsetof(struct qk_cmdq, cell_stride), "sim command queue" },
	{ QK_R_BIOS, offsetof(struct qk_mbox, size), "bios mailbox" },
	{ QK_R_AGENT_STATUS, offsetof(struct qk_mbox, size), "agent status mailbox" },
	{ QK_R_SIM_STATUS, offsetof(struct qk_mbox, size), "sim status mailbox" },
};
#define N_GEOMETRY (sizeof(geometry) / sizeof(geometry[0]))

static void test_untrusted_attach_names_each_inconsistent_region(void **state)
{
	struct qk_seg b;

	(void)state;
	for (size_t i = 0; i < N_GEOMETRY; i++) {
		uint32_t *w = (uint32_t *)(region(geometry[i].region) + geometry[i].off);
		uint32_t was = *w;

		*w = 0x7fffffc0;
		assert_int_equal(qk_seg_attach(&b, name, 0), -EPROTO);
		if (!strstr(b.err, geometry[i].name))
			fail_msg("corrupt %s: message does not name it: %s", geometry[i].name, b.err);
		*w = was;
		assert_int_equal(qk_seg_attach(&b, name, 0), 0);
		qk_seg_detach(&b);
	}
	/* a count beyond its array in the configuration */
	struct qk_config *c = (struct qk_config *)region(QK_R_CONFIG);

	c->n_devices = 1000;
	assert_int_equal(qk_seg_attach(&b, name, 0), -EPROTO);
	assert_non_null(strstr(b.err, "config"));
	c->n_devices = cfg.n_devices;
	memset(c->profile, 'x', sizeof(c->profile));	/* no terminator */
	assert_int_equal(qk_seg_attach(&b, name, 0), -EPROTO);
	memcpy(c->profile, cfg.profile, sizeof(c->profile));
	assert_int_equal(qk_seg_attach(&b, name, 0), 0);
	qk_seg_detach(&b);
}

/* After attach, hostile geometry changes nothing the process does; verify
 * notices and names the first region. */
static void test_untrusted_geometry_is_never_read_again_after_attach(void **state)
{
	struct qk_seg b;
	struct qk_sensor_frame f = { .cycle = 7 }, g;
	struct qk_cmd c = { .type = QK_CMD_PING, .id = 9 }, d;
	struct qk_bios_report rep = { .post_count = 3 }, out, scratch;
	struct qk_ring_reader rd;

	(void)state;
	assert_int_equal(qk_seg_attach(&b, name, 0), 0);
	assert_int_equal(qk_seg_verify(&b), -1);
	for (size_t i = 0; i < N_GEOMETRY; i++)
		*(uint32_t *)(region(geometry[i].region) + geometry[i].off) = 0x7fffffc0;
	qk_ring_reader_init(&rd, b.sensors, QK_RING_FROM_NOW);
	for (int i = 0; i < 3000; i++) {	/* laps the ring: every slot */
		f.cycle = (uint64_t)i;
		qk_ring_publish(b.sensors, &f);
	}
	assert_true(qk_ring_read_newest(&rd, &g));
	assert_int_equal(g.cycle, 2999);
	for (int i = 0; i < 200; i++) {	/* laps the queue */
		assert_int_equal(qk_cmdq_push(b.agent_cmdq, &c), 0);
		assert_true(qk_cmdq_pop(b.agent_cmdq, &d));
		assert_int_equal(d.id, 9);
	}
	qk_mbox_write(b.bios, &rep);
	assert_true(qk_mbox_read(b.bios, &out, &scratch));
	assert_int_equal(out.post_count, 3);
	assert_int_equal(qk_seg_verify(&b), QK_R_SENSORS);
	assert_non_null(strstr(b.err, "sensors ring"));
	qk_seg_detach(&b);
}

static void test_untrusted_verify_names_the_header(void **state)
{
	struct qk_seg b;

	(void)state;
	assert_int_equal(qk_seg_attach(&b, name, 0), 0);
	a.hdr->region_off[QK_R_STATS] += 64;
	assert_int_equal(qk_seg_verify(&b), QK_R_HEADER);
	assert_non_null(strstr(b.err, "header"));
	a.hdr->region_off[QK_R_STATS] -= 64;
	a.hdr->period_ns = 0;	/* a division by it would be SIGFPE */
	assert_int_equal(qk_seg_verify(&b), QK_R_HEADER);
	assert_int_equal(b.period_ns, 1000000);
	qk_seg_detach(&b);
}

/* A tail moved far ahead of the head: push must not spin (defect 2). */
static void test_untrusted_push_is_bounded_on_a_corrupt_tail(void **state)
{
	struct qk_cmdq *q = (struct qk_cmdq *)region(QK_R_AGENT_CMDQ);
	struct qk_cmd c = { .type = QK_CMD_PING };

	(void)state;
	/* the cell there holds a later lap than the tail names: a claim
	 * loop that re-reads the tail would spin on it for ever */
	qk_store_relaxed(&q->tail, UINT64_MAX - 999);
	assert_int_equal(qk_cmdq_push(a.agent_cmdq, &c), -EBUSY);
	assert_int_equal(qk_seg_verify(&a), QK_R_AGENT_CMDQ);
	assert_non_null(strstr(a.err, "agent command queue"));
}

/* The client keeps its deadline and names the region (qikictl: exit 2). */
static void test_untrusted_request_keeps_its_deadline_and_names_the_region(void **state)
{
	struct qk_cmdq *q = (struct qk_cmdq *)region(QK_R_AGENT_CMDQ);
	struct qk_cmd c = { .type = QK_CMD_PING };
	struct qk_reply r;
	struct qk_seg b;
	int p[2];
	char x;

	(void)state;
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();

	if (!pid) {	/* a live agent, as far as liveness goes */
		struct qk_seg mine;

		if (qk_seg_attach(&mine, name, 0) || qk_seg_claim(&mine, QK_PROC_AGENT))
			_exit(1);
		(void)!write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(p[0], &x, 1), 1);
	assert_int_equal(qk_seg_attach(&b, name, 0), 0);
	qk_store_relaxed(&q->tail, 1ull << 40);
	assert_int_equal(qk_ctl_request(&b, QK_CTL_AGENT, &c, 200 * 1000000ll, &r), -EPROTO);
	assert_non_null(strstr(b.err, "agent command queue"));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	qk_seg_detach(&b);
	close(p[0]);
	close(p[1]);
}

/* A cell at the consumer's head holding what no healthy queue could: freed
 * and skipped, never executed, never a stall; reported. */
static void test_untrusted_pop_skips_an_impossible_cell(void **state)
{
	struct qk_cmdq *q = (struct qk_cmdq *)region(QK_R_SIM_CMDQ);
	struct qk_cmdq_cell *cell = (struct qk_cmdq_cell *)(q + 1);
	struct qk_cmd c = { .type = QK_CMD_PING, .id = 1 }, d;

	(void)state;
	assert_int_equal(qk_cmdq_push(a.sim_cmdq, &c), 0);
	c.id = 2;
	assert_int_equal(qk_cmdq_push(a.sim_cmdq, &c), 0);
	qk_store_relaxed(&cell->seq, 0xdeadbeefcafeull);
	assert_true(qk_cmdq_pop(a.sim_cmdq, &d));
	assert_int_equal(d.id, 2);
	assert_int_equal(a.sim_cmdq->bad, 1);
	assert_int_equal(qk_seg_verify(&a), QK_R_SIM_CMDQ);
	for (uint64_t i = 0; i < 3 * QK_CMDQ_CAP; i++) {	/* and it still works */
		c.id = 100 + i;
		assert_int_equal(qk_cmdq_push(a.sim_cmdq, &c), 0);
		assert_true(qk_cmdq_pop(a.sim_cmdq, &d));
		assert_int_equal(d.id, 100 + i);
	}
}

/* A copy out of a mailbox is bounded by its destination. */
static void test_untrusted_mailbox_copy_is_bounded_by_its_destination(void **state)
{
	struct qk_mbox *m = (struct qk_mbox *)region(QK_R_SIM_STATUS);
	struct qk_sim_status st = { .cycle = 5 }, out, scratch;
	struct qk_agent_status wrong, wscratch;
	struct qk_seg b;

	(void)state;
	assert_int_equal(qk_seg_attach(&b, name, 0), 0);
	qk_mbox_write(a.sim_status, &st);
	m->size = 1u << 30;
	assert_true(qk_mbox_read(b.sim_status, &out, &scratch));
	assert_int_equal(out.cycle, 5);
	/* a destination of another size is refused, not overrun */
	assert_false(qk_mbox_read(b.sim_status, &wrong, &wscratch));
	qk_seg_detach(&b);
}

static void test_untrusted_expired_commands_are_refused(void **state)
{
	struct qk_cmd c = { .id = 77, .type = QK_CMD_PING };
	struct qk_reply r;

	(void)state;
	assert_true(qk_cmd_expired(&c, &r));	/* none: never applied late */
	assert_int_equal(r.id, 77);
	assert_int_equal(r.status, QK_REPLY_REFUSED);
	assert_string_equal(r.reason, "expired");
	c.expires_ns = qk_now_ns() - 1;
	assert_true(qk_cmd_expired(&c, &r));
	c.expires_ns = qk_now_ns() + 60 * QK_NSEC;
	assert_false(qk_cmd_expired(&c, &r));
}

static void put_file(const char *bytes, size_t n)
{
	char path[64];

	snprintf(path, sizeof(path), "/qiki.%s", name);
	int fd = shm_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, n), (ssize_t)n);
	close(fd);
}

static off_t file_size(void)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm/qiki.%s", name);
	return stat(path, &st) ? -1 : st.st_size;
}

/* Stale reclaim takes only what reads as a qiki segment (defect 7). */
static void test_untrusted_reclaim_spares_foreign_files(void **state)
{
	static char junk[20000];
	struct qk_seg s;

	(void)state;
	qk_seg_detach(&a);	/* the setup's segment: stale from now on */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 31 + 7);
	put_file(junk, sizeof(junk));
	assert_int_equal(qk_seg_create(&s, name, &cfg, QK_SEG_RECLAIM), -ENOTSUP);
	assert_non_null(strstr(s.err, "not a qiki segment"));
	assert_int_equal(file_size(), (off_t)sizeof(junk));
	/* a qiki header on a file of another size than it says */
	struct qk_seg_hdr h = { .magic = QK_SEG_MAGIC, .version = 1,
				.hdr_size = sizeof(h), .seg_size = 1u << 20 };

	memcpy(junk, &h, sizeof(h));
	put_file(junk, sizeof(junk));
	assert_int_equal(qk_seg_create(&s, name, &cfg, QK_SEG_RECLAIM), -ENOTSUP);
	assert_non_null(strstr(s.err, "size"));
	assert_int_equal(file_size(), (off_t)sizeof(junk));
	/* the same header on a file of its size is a stale segment: taken */
	h.seg_size = sizeof(junk);
	memcpy(junk, &h, sizeof(h));
	put_file(junk, sizeof(junk));
	assert_int_equal(qk_seg_create(&a, name, &cfg, QK_SEG_RECLAIM), 0);
	assert_true(a.reclaimed);
	qk_seg_publish(&a);
}

/* The ring's waiters word is shared, so any group member can make it
 * non-zero.  Counted by a seccomp filter that traps every futex call of a
 * child: a publisher whose configuration says nobody waits (timer, spin)
 * makes none whatever the word says; a waking one (futex mode) at most one
 * per publish, the cost an honest waiter has by design. */
static volatile sig_atomic_t futex_calls;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	futex_calls++;
}

static int trap_futex(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),	/* count on x86-64 only */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	if (sigaction(SIGSYS, &sa, NULL) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return -1;
	return 0;
}

#define N_PUBLISH 1000

static void test_untrusted_hostile_waiters_word_adds_no_syscall(void **state)
{
	struct qk_sensor_frame f = { .cycle = 1 };
	int st;

	(void)state;
#ifndef __x86_64__
	skip();	/* the filter above names x86-64's syscall table */
#endif
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct qk_ring_port port = *a.sensors;	/* the sim's view */

		if (trap_futex())
			_exit(77);
		qk_store_relaxed(&a.sensors->r->waiters, 0xffffffffu);	/* the hostile write */
		/* self-check: a waking port's wake is counted */
		qk_ring_publish(&port, &f);
		qk_ring_wake(&port);
		if (futex_calls != 1)
			_exit(10);
		/* timer/spin mode: no syscall at all */
		qk_ring_set_waking(&port, false);
		futex_calls = 0;
		for (int i = 0; i < N_PUBLISH; i++) {
			qk_ring_publish(&port, &f);
			qk_ring_wake(&port);
		}
		if (futex_calls != 0)
			_exit(11);
		/* futex mode: bounded by one per publish */
		qk_ring_set_waking(&port, true);
		futex_calls = 0;
		for (int i = 0; i < N_PUBLISH; i++) {
			qk_ring_publish(&port, &f);
			qk_ring_wake(&port);
		}
		_exit(futex_calls <= N_PUBLISH ? 0 : 12);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();	/* seccomp refused (a sandbox without it): nothing to count with */
	if (WEXITSTATUS(st) == 10)
		fail_msg("the seccomp counter did not see a waking port's FUTEX_WAKE");
	if (WEXITSTATUS(st) == 11)
		fail_msg("a non-waking publisher made futex calls on a hostile waiters word");
	if (WEXITSTATUS(st) == 12)
		fail_msg("a waking publisher made more than one futex call per publish");
	assert_int_equal(WEXITSTATUS(st), 0);
	a.sensors->r->waiters = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_untrusted_attach_names_each_inconsistent_region, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_geometry_is_never_read_again_after_attach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_verify_names_the_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_push_is_bounded_on_a_corrupt_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_request_keeps_its_deadline_and_names_the_region, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_pop_skips_an_impossible_cell, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_mailbox_copy_is_bounded_by_its_destination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_expired_commands_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_reclaim_spares_foreign_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_hostile_waiters_word_adds_no_syscall, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
