/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/shm/test_seg.c - segment life cycle, the ABI check and liveness. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt/config/config.h"
#include "shm/seg.h"

static char name[32];
static struct qk_config cfg;

static int setup(void **state)
{
	char why[256];

	(void)state;
	snprintf(name, sizeof(name), "t-seg-%d", (int)getpid());
	return qk_config_profile(&cfg, "bot", why, sizeof(why));
}

static int teardown(void **state)
{
	(void)state;
	qk_seg_unlink(name);
	return 0;
}

static void test_seg_create_attach_detach(void **state)
{
	struct qk_seg a, b;

	(void)state;
	assert_int_equal(qk_seg_create(&a, name, &cfg, 0), 0);
	/* not published yet: still initialising */
	assert_int_equal(qk_seg_attach(&b, name, 0), -EAGAIN);
	assert_non_null(strstr(b.err, "initialising"));
	qk_seg_publish(&a);
	assert_int_equal(qk_seg_attach(&b, name, 0), 0);
	assert_int_equal(b.hdr->generation, a.hdr->generation);
	assert_int_equal(b.hdr->period_ns, 1000000);
	assert_string_equal(b.config->profile, "bot");
	/* the two mappings are the same memory */
	struct qk_sensor_frame f = { .cycle = 42 }, g;
	struct qk_ring_reader rd;

	qk_ring_reader_init(&rd, b.sensors, QK_RING_FROM_NOW);
	qk_ring_publish(a.sensors, &f);
	assert_true(qk_ring_read_next(&rd, &g));
	assert_int_equal(g.cycle, 42);
	qk_seg_detach(&b);
	qk_seg_detach(&a);
	assert_int_equal(qk_seg_unlink(name), 0);
	assert_int_equal(qk_seg_attach(&b, name, 0), -ENOENT);
	assert_non_null(strstr(b.err, "qiki run"));
}

static void test_seg_bad_names_are_refused(void **state)
{
	struct qk_seg s;

	(void)state;
	assert_int_equal(qk_seg_attach(&s, "../etc", 0), -EINVAL);
	assert_int_equal(qk_seg_attach(&s, "", 0), -EINVAL);
	assert_int_equal(qk_seg_create(&s, "a/b", &cfg, 0), -EINVAL);
}

static void test_seg_version_mismatch_names_both(void **state)
{
	struct qk_seg a, b;

	(void)state;
	assert_int_equal(qk_seg_create(&a, name, &cfg, 0), 0);
	qk_seg_publish(&a);
	a.hdr->version = QK_LAYOUT_VERSION + 1;
	assert_int_equal(qk_seg_attach(&b, name, 0), -EPROTO);
	char want[64];

	snprintf(want, sizeof(want), "layout version %u, this program speaks %u",
		 QK_LAYOUT_VERSION + 1, QK_LAYOUT_VERSION);
	assert_non_null(strstr(b.err, want));
	a.hdr->version = QK_LAYOUT_VERSION;
	a.hdr->struct_size[QK_S_SENSOR_FRAME] += 8;
	assert_int_equal(qk_seg_attach(&b, name, 0), -EPROTO);
	assert_non_null(strstr(b.err, "qk_sensor_frame"));
	qk_seg_detach(&a);
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

static void test_seg_foreign_files_are_refused(void **state)
{
	static char junk[8192];
	struct qk_seg s;

	(void)state;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 31 + 7);
	put_file(junk, sizeof(junk));
	assert_int_equal(qk_seg_attach(&s, name, 0), -ENOTSUP);
	assert_non_null(strstr(s.err, "not a qiki segment"));
	put_file(junk, 10);
	assert_int_equal(qk_seg_attach(&s, name, 0), -ENOTSUP);
	put_file(junk, 0);
	assert_int_equal(qk_seg_attach(&s, name, 0), -EAGAIN);
	qk_seg_unlink(name);
}

static pid_t child_creator(void)
{
	int p[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (!pid) {
		struct qk_seg s;

		if (qk_seg_create(&s, name, &cfg, 0))
			_exit(1);
		qk_seg_publish(&s);
		(void)!write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	close(p[1]);
	return pid;
}

static void test_seg_live_creator_refuses_and_dead_one_is_reclaimed(void **state)
{
	struct qk_seg s, a;
	pid_t pid = child_creator();

	(void)state;
	assert_int_equal(qk_seg_create(&s, name, &cfg, QK_SEG_RECLAIM), -EEXIST);
	assert_non_null(strstr(s.err, "is running"));
	assert_int_equal(qk_seg_attach(&a, name, 0), 0);
	uint64_t gen = a.hdr->generation;

	assert_true(qk_seg_any_alive(&a));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_false(qk_seg_any_alive(&a));
	qk_seg_detach(&a);
	/* stale: refused without RECLAIM, with a message naming the file */
	assert_int_equal(qk_seg_create(&s, name, &cfg, 0), -EEXIST);
	assert_non_null(strstr(s.err, "stale"));
	assert_int_equal(qk_seg_create(&s, name, &cfg, QK_SEG_RECLAIM), 0);
	qk_seg_publish(&s);
	assert_true(s.hdr->generation != gen);
	qk_seg_detach(&s);
}

static void test_seg_claim_is_exclusive_and_dies_with_the_process(void **state)
{
	struct qk_seg s, a;
	int p[2];
	char c;

	(void)state;
	assert_int_equal(qk_seg_create(&s, name, &cfg, 0), 0);
	qk_seg_publish(&s);
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();

	if (!pid) {
		struct qk_seg cs;

		if (qk_seg_attach(&cs, name, 0) || qk_seg_claim(&cs, QK_PROC_AGENT))
			_exit(1);
		(void)!write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_true(qk_seg_alive(&s, QK_PROC_AGENT));
	assert_int_equal(qk_load_relaxed(&s.stats[QK_PROC_AGENT].pid), pid);
	assert_int_equal(qk_seg_attach(&a, name, 0), 0);
	assert_int_equal(qk_seg_claim(&a, QK_PROC_AGENT), -EBUSY);
	assert_non_null(strstr(a.err, "agent"));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_false(qk_seg_alive(&s, QK_PROC_AGENT));
	assert_int_equal(qk_seg_claim(&a, QK_PROC_AGENT), 0);	/* a replacement */
	assert_int_equal(qk_load_relaxed(&s.stats[QK_PROC_AGENT].restarts), 2);
	qk_seg_detach(&a);
	qk_seg_detach(&s);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_seg_create_attach_detach, teardown),
		cmocka_unit_test_teardown(test_seg_bad_names_are_refused, teardown),
		cmocka_unit_test_teardown(test_seg_version_mismatch_names_both, teardown),
		cmocka_unit_test_teardown(test_seg_foreign_files_are_refused, teardown),
		cmocka_unit_test_teardown(test_seg_live_creator_refuses_and_dead_one_is_reclaimed, teardown),
		cmocka_unit_test_teardown(test_seg_claim_is_exclusive_and_dies_with_the_process, teardown),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
