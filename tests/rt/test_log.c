/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/rt/test_log.c - the logger (rt/log.h): order and text, printf
 * equivalence, drops counted exactly, nothing lost at shutdown, no
 * allocation and no syscall in a log call, and the logger's own trouble
 * (full disk, file removed, no io_uring, rotation) leaving the caller alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "rt/log.h"
#include "rt/rt.h"

/* Allocation count of this thread, from malloc and friends interposed here
 * (not under a sanitizer, whose allocator must stay its own). */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define COUNT_ALLOCS 1
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);
static __thread long allocs;

void *malloc(size_t n) { allocs++; return __libc_malloc(n); }
void *calloc(size_t n, size_t m) { allocs++; return __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { allocs++; return __libc_realloc(p, n); }
void free(void *p) { if (p) allocs++; __libc_free(p); }
#endif

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/qk-log-test.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

struct errs {
	int n;
	char msg[8][768];
};

static void on_error(void *ctx, const char *msg)
{
	struct errs *e = ctx;

	if (e->n < 8)
		snprintf(e->msg[e->n], sizeof(e->msg[0]), "%s", msg);
	e->n++;
}

static struct qk_log_opts opts(const char *name, struct errs *e)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return (struct qk_log_opts){ .path = path, .proc = "test", .level = QK_LOG_DEBUG,
				     .avoid_cpu = -1, .on_error = e ? on_error : NULL, .ctx = e };
}

static struct qk_log *create(const struct qk_log_opts *o)
{
	char err[256] = "";
	struct qk_log *lg = qk_log_create(o, err, sizeof(err));

	if (!lg)
		fail_msg("qk_log_create: %s", err);
	return lg;
}

/* The file's lines, NUL-separated in place; returns the count. */
static int read_lines(const char *path, char **buf, char ***lines)
{
	FILE *f = fopen(path, "r");
	long sz;
	int n = 0;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	*buf = __extension__ calloc(1, (size_t)sz + 1);
	assert_int_equal(fread(*buf, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	for (long i = 0; i < sz; i++)
		n += (*buf)[i] == '\n';
	*lines = calloc((size_t)n + 1, sizeof(char *));
	n = 0;
	for (char *p = *buf, *nl; *p && (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		(*lines)[n++] = p;
	}
	return n;
}

/* The message part of a text line: after "file:line: ". */
static const char *msg_of(const char *line)
{
	const char *p = strstr(line, ".c:");

	assert_non_null(p);
	p = strstr(p, ": ");
	assert_non_null(p);
	return p + 2;
}

static void test_log_records_in_order_with_the_right_text(void **state)
{
	struct qk_log_opts o = opts("order.log", NULL);
	struct qk_log *lg = create(&o);
	char *buf, **lines;
	int line0 = __LINE__ + 4;

	(void)state;
	for (int i = 0; i < 3000; i++) {
		QK_INFO(lg, "record %d of %s", i, "three thousand");
		if (i % 1000 == 999)
			qk_log_flush(lg);	/* a gap between batches */
	}
	QK_WARN(lg, "a warning");
	QK_ERROR(lg, "an error");
	QK_DEBUG(lg, "a debug line");
	qk_log_destroy(lg);

	int n = read_lines(o.path, &buf, &lines);

	assert_int_equal(n, 3003);
	for (int i = 0; i < 3000; i++) {
		char want[64], where[64];

		snprintf(want, sizeof(want), "record %d of three thousand", i);
		snprintf(where, sizeof(where), " INFO  tests/rt/test_log.c:%d: ", line0);
		assert_string_equal(msg_of(lines[i]), want);
		assert_non_null(strstr(lines[i], where));
		assert_non_null(strstr(lines[i], "test["));
		/* 2026-11-24T18:55:30.123456Z 1234.567890 test[pid] */
		assert_int_equal(lines[i][10], 'T');
		assert_int_equal(lines[i][26], 'Z');
	}
	assert_non_null(strstr(lines[3000], " WARN  "));
	assert_non_null(strstr(lines[3001], " ERROR "));
	assert_non_null(strstr(lines[3002], " DEBUG "));
	free(lines);
	free(buf);
}

/* Logs each case and formats it with snprintf; the file must agree. */
#define CASE(...) do { \
		QK_INFO(lg, __VA_ARGS__); \
		snprintf(want[n], sizeof(want[0]), __VA_ARGS__); \
		n++; \
	} while (0)

static void test_log_every_argument_type_formats_as_printf(void **state)
{
	struct qk_log_opts o = opts("printf.log", NULL);
	struct qk_log *lg = create(&o);
	static char want[128][256];
	char *buf, **lines, stack[32];
	int n = 0, x = 7;
	signed char sc = -5;
	unsigned char uc = 250;
	short sh = -1234;
	unsigned short us = 65000;
	long l = -1234567890123l;
	unsigned long ul = 18446744073709551615ul;
	long long ll = LLONG_MIN;
	unsigned long long ull = ULLONG_MAX;
	size_t z = 123456789;
	ptrdiff_t pd = -42;
	intmax_t im = INTMAX_MAX;
	float fl = 3.25f;
	bool b = true;
	char c = 'q';
	enum { E_A = 3 } en = E_A;

	(void)state;
	snprintf(stack, sizeof(stack), "on the stack");
	CASE("plain text, no arguments");
	CASE("%d %i %u %x %X %o", -17, 42, 3000000000u, 0xbeef, 0xbeef, 8);
	CASE("%c%c %hhd %hhu %hd %hu", 'o', 'k', sc, uc, sh, us);
	/* an int for %hhd: printf truncates it, so must we; clang warns */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
	CASE("%hhd %hd (truncated as printf does)", 300, 70000);
#pragma GCC diagnostic pop
	CASE("%ld %lu %lld %llu %llx", l, ul, ll, ull, ull);
	CASE("%zu %zd %td %jd %ju", z, (ssize_t)-3, pd, im, (uintmax_t)im);
	CASE("%5d|%-5d|%05d|%+d|% d|%#x|%#o|%'d", 42, 42, 42, 42, 42, 255, 8, 1234567);
	CASE("%f %.3f %10.2e %g %G %E", 3.14159265, 2.0 / 3, 12345.678, 1e-7, 1e20, -0.5);
	CASE("%a %A %.0f %#.0f %-8.2f|", 1.0, 0.1, 2.5, 2.5, -1.125);
	CASE("float %f, inf %f, -inf %e, nan %g", fl, (double)INFINITY, (double)-INFINITY, (double)NAN);
	CASE("%s|%.3s|%10s|%-10s|%s", "string", "truncated", "right", "left", stack);
	CASE("%*d|%-*d|%.*f|", 6, 7, 6, 7, 2, 3.14159);
	CASE("%*.*s|%-*s|", 8, 3, "abcdef", 5, "ab");
	CASE("%% literal %d%%", 99);
	CASE("bool %d, char %c as %d, enum %d, int var %d", b, c, c, en, x);
	CASE("%p %p", (void *)&x, (void *)0);
	CASE("eight: %d %d %d %d %d %d %d %s", 1, 2, 3, 4, 5, 6, 7, "8");
	CASE("%s and %s and %s", "a", "", "c");
	CASE("%llu %lld", 0ull, -1ll);
	qk_log_destroy(lg);

	int got = read_lines(o.path, &buf, &lines);

	assert_int_equal(got, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(msg_of(lines[i]), want[i]);
	free(lines);
	free(buf);
}

static void test_log_long_strings_are_cut_to_the_record(void **state)
{
	struct qk_log_opts o = opts("long.log", NULL);
	struct qk_log *lg = create(&o);
	char big[400], *buf, **lines;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	QK_INFO(lg, "<%s>", big);
	QK_INFO(lg, "<%s><%s>", big, "after");
	qk_log_destroy(lg);
	assert_int_equal(read_lines(o.path, &buf, &lines), 2);
	/* QK_LOG_STR_MAX characters of each string survive */
	assert_int_equal(strlen(msg_of(lines[0])), QK_LOG_STR_MAX + 2);
	assert_int_equal(strlen(msg_of(lines[1])), QK_LOG_STR_MAX + 4 + 5);
	free(lines);
	free(buf);
}

static void test_log_full_ring_drops_and_counts_exactly(void **state)
{
	struct qk_log_opts o = opts("drops.log", NULL);
	struct qk_log_stats st;
	struct qk_log *lg;
	char *buf, **lines;

	(void)state;
	o.ring_bytes = 4096;	/* 170 records of 24 bytes */
	o.paused = true;	/* nothing drains: the ring fills */
	lg = create(&o);
	for (int i = 0; i < 400; i++)
		QK_INFO(lg, "r%d", i);
	qk_log_get_stats(lg, &st);
	assert_int_equal(st.logged, 170);
	assert_int_equal(st.dropped, 230);
	qk_log_resume(lg);
	qk_log_flush(lg);
	for (int i = 400; i < 410; i++)	/* room again */
		QK_INFO(lg, "r%d", i);
	qk_log_destroy(lg);

	int n = read_lines(o.path, &buf, &lines);

	/* the 170 taken, the drop report, the 10 after */
	assert_int_equal(n, 170 + 1 + 10);
	for (int i = 0; i < 170; i++) {
		char want[8];

		snprintf(want, sizeof(want), "r%d", i);
		assert_string_equal(msg_of(lines[i]), want);
	}
	assert_non_null(strstr(lines[170], " WARN "));
	assert_non_null(strstr(lines[170], "log ring full: 230 records dropped between "));
	assert_non_null(strstr(lines[170], "(230 in all; ring of 4096 bytes)"));
	assert_string_equal(msg_of(lines[171]), "r400");
	assert_string_equal(msg_of(lines[180]), "r409");
	free(lines);
	free(buf);
}

struct producer {
	struct qk_log *lg;
	int id, n;
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	for (int i = 0; i < p->n; i++)
		QK_INFO(p->lg, "p%d %d", p->id, i);
	return NULL;
}

static void test_log_shutdown_flushes_everything_logged_before_it(void **state)
{
	struct qk_log_opts o = opts("flush.log", NULL);
	struct producer pr[3];
	pthread_t t[3];
	struct qk_log_stats st;
	struct qk_log *lg;
	char *buf, **lines;
	int last[3] = { -1, -1, -1 };

	(void)state;
	/* a full ring at the moment of shutdown: all of it must come out */
	o.ring_bytes = 65536;	/* 2730 records of 24 bytes */
	o.paused = true;
	lg = create(&o);
	for (int i = 0; i < 2730; i++)
		QK_INFO(lg, "held %d", i);
	qk_log_get_stats(lg, &st);
	assert_int_equal(st.dropped, 0);
	qk_log_destroy(lg);
	assert_int_equal(read_lines(o.path, &buf, &lines), 2730);
	assert_string_equal(msg_of(lines[2729]), "held 2729");
	free(lines);
	free(buf);

	/* three threads racing the logger, then shutdown at once */
	o = opts("race.log", NULL);
	o.ring_bytes = 4096;
	lg = create(&o);
	for (int i = 0; i < 3; i++) {
		pr[i] = (struct producer){ lg, i, 50000 };
		assert_int_equal(pthread_create(&t[i], NULL, produce, &pr[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	qk_log_get_stats(lg, &st);
	qk_log_destroy(lg);
	assert_int_equal(st.logged + st.dropped, 150000);

	int n = read_lines(o.path, &buf, &lines);
	uint64_t records = 0;

	for (int i = 0; i < n; i++) {
		int id, k;

		if (sscanf(msg_of(lines[i]), "p%d %d", &id, &k) != 2)
			continue;	/* the drop reports */
		assert_true(id >= 0 && id < 3);
		assert_true(k > last[id]);	/* each thread's records in order */
		last[id] = k;
		records++;
	}
	assert_int_equal(records, st.logged);	/* every record taken is in the file */
	free(lines);
	free(buf);
}

/* Kills the calling thread's process on any syscall but exit_group, and
 * clock_gettime when `clock_ok` (a clocksource the vDSO cannot read). */
static void forbid_syscalls(bool clock_ok)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, clock_ok ? __NR_clock_gettime : __NR_exit_group, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		_exit(20);
}

static void test_log_call_makes_no_allocation_and_no_syscall(void **state)
{
	struct qk_log_opts o = opts("hot.log", NULL);
	int status;
	pid_t pid;

	(void)state;
#ifndef COUNT_ALLOCS
	/* the sanitizer runtimes enter the kernel on their own; the plain
	 * build makes this check */
	skip();
#endif
	o.ring_bytes = 4096;
	/* A clocksource the vDSO cannot read makes the record's time stamp a
	 * syscall: that one is then let through, and said; any other still
	 * kills the child. */
	char cs[64];
	bool clock_ok = qk_rt_clocksource(qk_rt_sysroot(), cs, sizeof(cs)) == 0;

	if (clock_ok)
		print_message("test_log: SKIPPED the no-clock_gettime part of the seccomp check: "
			      "clocksource '%s' is not read by the vDSO (fix: boot with "
			      "clocksource=tsc tsc=reliable)\n", cs);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct qk_log *lg = create(&o);
		char name[16] = "dynamic";
		long a0;

		QK_INFO(lg, "warm %d", 0);	/* first touch of everything */
		/* from here the thread may not enter the kernel: a syscall kills
		 * the process with SIGSYS (the logger thread is not filtered) */
		forbid_syscalls(clock_ok);
#ifdef COUNT_ALLOCS
		a0 = allocs;
#else
		a0 = 0;
#endif
		for (int i = 0; i < 2000; i++) {	/* past the ring: drops too */
			QK_INFO(lg, "tick %d state %s x=%.3f p=%p u=%llu", i, name, i * 0.5,
				(void *)&o, (unsigned long long)i);
			QK_DEBUG(lg, "%s", "a literal");
		}
#ifdef COUNT_ALLOCS
		_exit(allocs == a0 ? 0 : 10);
#else
		(void)a0;
		_exit(0);
#endif
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("a log call made a syscall (killed by signal %d)", WTERMSIG(status));
	if (WEXITSTATUS(status) == 20)
		skip();		/* no seccomp here */
	if (WEXITSTATUS(status) == 10)
		fail_msg("a log call allocated");
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_log_full_disk_is_reported_once_and_logging_goes_on(void **state)
{
	struct errs e = { 0 };
	struct qk_log_opts o = opts("unused", &e);
	struct qk_log_stats st;
	struct qk_log *lg;

	(void)state;
	o.path = "/dev/full";	/* every write: ENOSPC, from the kernel */
	lg = create(&o);
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 100; i++)
			QK_INFO(lg, "into a full disk %d", i);
		qk_log_flush(lg);
	}
	qk_log_get_stats(lg, &st);
	qk_log_destroy(lg);
	assert_int_equal(st.logged, 500);	/* the callers never noticed */
	assert_true(st.write_errors >= 1);
	assert_true(st.bytes_lost > 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(e.n, 1);		/* said once, not 500 times */
	assert_non_null(strstr(e.msg[0], "/dev/full"));
	assert_non_null(strstr(e.msg[0], "No space left on device"));
	assert_non_null(strstr(e.msg[0], "the loop keeps running"));
	assert_non_null(strstr(e.msg[0], "free space"));
}

static void test_log_removed_file_is_opened_again(void **state)
{
	struct errs e = { 0 };
	struct qk_log_opts o = opts("removed.log", &e);
	struct qk_log_stats st;
	struct qk_log *lg = create(&o);
	char *buf, **lines;

	(void)state;
	QK_INFO(lg, "before");
	qk_log_flush(lg);
	assert_int_equal(unlink(o.path), 0);
	for (int tries = 0; tries < 500; tries++) {	/* the logger checks every 200 ms */
		QK_INFO(lg, "while gone %d", tries);
		qk_log_flush(lg);
		qk_log_get_stats(lg, &st);
		if (st.reopens)
			break;
		usleep(10000);
	}
	assert_int_equal(st.reopens, 1);
	QK_INFO(lg, "after");
	qk_log_destroy(lg);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.msg[0], "was removed while in use; opened a new one"));

	int n = read_lines(o.path, &buf, &lines);

	assert_true(n >= 1);
	assert_string_equal(msg_of(lines[n - 1]), "after");
	free(lines);
	free(buf);
}

static void test_log_without_io_uring_writes_with_write(void **state)
{
	struct qk_log_opts o = opts("nouring.log", NULL);
	char errpath[128], *buf, **lines;
	int status;
	pid_t pid;

	(void)state;
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* io_uring_setup fails with EPERM, as under a container's
		 * seccomp profile or kernel.io_uring_disabled=2 */
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { .len = 4, .filter = f };
		struct qk_log_stats st;
		struct qk_log *lg;

		if (!freopen(errpath, "w", stderr))
			_exit(21);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(20);
		lg = create(&o);
		for (int i = 0; i < 1000; i++)
			QK_INFO(lg, "plain %d", i);
		qk_log_get_stats(lg, &st);
		qk_log_destroy(lg);
		fflush(stderr);
		_exit(st.uring ? 11 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 20)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(read_lines(errpath, &buf, &lines), 1);
	assert_non_null(strstr(lines[0], "io_uring is not available (Operation not permitted)"));
	assert_non_null(strstr(lines[0], "kernel.io_uring_disabled=0"));
	free(lines);
	free(buf);
	assert_int_equal(read_lines(o.path, &buf, &lines), 1000);
	assert_string_equal(msg_of(lines[999]), "plain 999");
	free(lines);
	free(buf);
}

static void test_log_rotates_by_size_and_keeps_the_newest(void **state)
{
	struct qk_log_opts o = opts("rot.log", NULL);
	struct qk_log_stats st;
	struct qk_log *lg;
	char p[160], *buf, **lines;
	struct stat sb;

	(void)state;
	o.rotate_bytes = 16 * 1024;
	o.keep = 2;
	lg = create(&o);
	for (int i = 0; i < 2000; i++) {
		QK_INFO(lg, "line %d with some padding to fill the file", i);
		if (i % 100 == 99)
			qk_log_flush(lg);	/* rotation happens between writes */
	}
	qk_log_get_stats(lg, &st);
	qk_log_destroy(lg);
	assert_true(st.rotations >= 3);
	snprintf(p, sizeof(p), "%s.1", o.path);
	assert_int_equal(stat(p, &sb), 0);
	snprintf(p, sizeof(p), "%s.2", o.path);
	assert_int_equal(stat(p, &sb), 0);
	snprintf(p, sizeof(p), "%s.3", o.path);
	assert_int_equal(stat(p, &sb), -1);	/* keep = 2 */
	snprintf(p, sizeof(p), "%s.2.del", o.path);
	assert_int_equal(stat(p, &sb), -1);	/* moved aside, then unlinked */

	int n = read_lines(o.path, &buf, &lines);

	assert_true(n >= 1);
	assert_string_equal(msg_of(lines[n - 1]), "line 1999 with some padding to fill the file");
	free(lines);
	free(buf);
}

/* Rotations while fsyncs are in flight and every buffer waits for the new
 * file: the switch goes ahead without waiting for the old file's fsync
 * (which holds the old file), never spins (it once did), and every line
 * lands in the right file, in order. */
static void test_log_rotates_under_load_with_frequent_fsyncs(void **state)
{
	struct qk_log_opts o = opts("busy.log", NULL);
	struct qk_log_stats st;
	struct qk_log *lg;

	(void)state;
	o.rotate_bytes = 256 * 1024;
	o.keep = 1;
	o.fsync_ms = 1;
	o.ring_bytes = 1 << 20;
	lg = create(&o);
	for (int i = 0; i < 200000; i++) {
		QK_INFO(lg, "busy line %d with some padding to fill buffers faster %s", i, "here");
		if (i % 20000 == 19999)
			qk_log_flush(lg);
	}
	qk_log_get_stats(lg, &st);
	qk_log_destroy(lg);	/* a spinning logger never returns from here */
	assert_true(st.rotations >= 10);
	assert_int_equal(st.logged + st.dropped, 200000);
	if (st.dropped)
		return;	/* a starved logger: the files have gaps, rightly */

	/* the two files kept hold the newest lines, consecutive across both */
	char p1[200], *buf, **lines, *buf1, **lines1;
	int n = read_lines(o.path, &buf, &lines), n1, first;

	snprintf(p1, sizeof(p1), "%s.1", o.path);
	n1 = read_lines(p1, &buf1, &lines1);
	assert_true(n >= 1 && n1 >= 1);
	assert_int_equal(sscanf(msg_of(lines1[0]), "busy line %d", &first), 1);
	for (int i = 0; i < n1 + n; i++) {
		int k;

		assert_int_equal(sscanf(msg_of(i < n1 ? lines1[i] : lines[i - n1]), "busy line %d", &k), 1);
		assert_int_equal(k, first + i);
	}
	assert_int_equal(first + n1 + n - 1, 199999);
	free(lines);
	free(buf);
	free(lines1);
	free(buf1);
}

static void test_log_json_lines(void **state)
{
	struct qk_log_opts o = opts("json.log", NULL);
	struct qk_log *lg;
	char *buf, **lines;

	(void)state;
	o.format = QK_LOG_JSON;
	lg = create(&o);
	QK_WARN(lg, "quote \" back \\ tab\t%s", "end");
	qk_log_destroy(lg);
	assert_int_equal(read_lines(o.path, &buf, &lines), 1);
	assert_non_null(strstr(lines[0], "{\"time\":\"20"));
	assert_non_null(strstr(lines[0], "\"proc\":\"test\""));
	assert_non_null(strstr(lines[0], "\"level\":\"warn\",\"file\":\"tests/rt/test_log.c\",\"line\":"));
	assert_non_null(strstr(lines[0], "\"msg\":\"quote \\\" back \\\\ tab\\tend\"}"));
	free(lines);
	free(buf);
}

static void test_log_level_filter_takes_nothing_below(void **state)
{
	struct qk_log_opts o = opts("level.log", NULL);
	struct qk_log_stats st;
	struct qk_log *lg;

	(void)state;
	o.level = QK_LOG_WARN;
	lg = create(&o);
	QK_DEBUG(lg, "no");
	QK_INFO(lg, "no");
	QK_WARN(lg, "yes");
	qk_log_set_level(lg, QK_LOG_DEBUG);
	QK_DEBUG(lg, "yes");
	QK_INFO((struct qk_log *)NULL, "a NULL logger is a no-op");
	qk_log_get_stats(lg, &st);
	qk_log_destroy(lg);
	assert_int_equal(st.logged, 2);
	assert_int_equal(qk_log_level_parse("warn"), QK_LOG_WARN);
	assert_int_equal(qk_log_level_parse("loud"), -1);
}

/* Created by a SCHED_FIFO thread pinned to the loop's CPU that then spins
 * there, the logger must still drain: it runs elsewhere, as SCHED_OTHER. */
static void *spin_creator(void *arg)
{
	struct qk_log_opts *o = arg;
	struct sched_param sp = { .sched_priority = 10 };
	struct qk_log_stats st = { 0 };
	struct timespec t0, t;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(o->avoid_cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) ||
	    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp))
		return (void *)-1L;	/* no privilege: skipped */
	struct qk_log *lg = create(o);

	for (int i = 0; i < 100; i++)
		QK_INFO(lg, "spun %d", i);
	/* spin, never sleep: a logger stuck on this CPU behind us would not
	 * run until we stop; 5 s bounds a wait that takes microseconds */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		qk_log_get_stats(lg, &st);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (st.written < 100 && t.tv_sec - t0.tv_sec < 5);
	sp.sched_priority = 0;
	pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	qk_log_destroy(lg);
	return (void *)(long)st.written;
}

static void test_log_drains_while_a_real_time_creator_spins(void **state)
{
	struct qk_log_opts o = opts("spin.log", NULL);
	pthread_t t;
	void *ret;

	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();	/* one CPU: nowhere else to drain */
	o.avoid_cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;
	assert_int_equal(pthread_create(&t, NULL, spin_creator, &o), 0);
	pthread_join(t, &ret);
	if ((long)ret == -1)
		skip();
	assert_int_equal((long)ret, 100);
}

/* With opts.prio the logger thread runs at SCHED_FIFO where allowed (and
 * says so in the stats), and otherwise as an ordinary thread after one
 * message; either way every record is written, passes are counted and a
 * ring never held more than was logged. */
static void test_log_fifo_logger_when_allowed_drains_either_way(void **state)
{
	struct errs e = { 0 };
	struct qk_log_opts o = opts("fifo.log", &e);
	struct sched_param sp = { .sched_priority = 1 };
	struct qk_log_stats st;
	struct qk_log *lg;
	char *buf, **lines;
	bool may = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;

	(void)state;
	sp.sched_priority = 0;
	pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	o.prio = 1;
	lg = create(&o);
	for (int i = 0; i < 1000; i++)
		QK_INFO(lg, "fifo %d", i);
	qk_log_flush(lg);
	qk_log_get_stats(lg, &st);
	qk_log_destroy(lg);
	assert_int_equal(st.fifo, may);
	assert_int_equal(e.n, may ? 0 : 1);	/* refused: said once */
	assert_int_equal(st.written, 1000);
	assert_true(st.passes >= 1);
	assert_true(st.max_fill > 0 && st.max_fill <= 1000 * 32);
	assert_int_equal(read_lines(o.path, &buf, &lines), 1000);
	assert_string_equal(msg_of(lines[999]), "fifo 999");
	free(lines);
	free(buf);
}

static void test_log_unwritable_path_is_a_clear_error(void **state)
{
	struct qk_log_opts o = opts("no/such/dir/x.log", NULL);
	char err[256] = "";

	(void)state;
	assert_null(qk_log_create(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open log file"));
	assert_non_null(strstr(err, "No such file or directory"));
	qk_log_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_records_in_order_with_the_right_text),
		cmocka_unit_test(test_log_every_argument_type_formats_as_printf),
		cmocka_unit_test(test_log_long_strings_are_cut_to_the_record),
		cmocka_unit_test(test_log_full_ring_drops_and_counts_exactly),
		cmocka_unit_test(test_log_shutdown_flushes_everything_logged_before_it),
		cmocka_unit_test(test_log_call_makes_no_allocation_and_no_syscall),
		cmocka_unit_test(test_log_full_disk_is_reported_once_and_logging_goes_on),
		cmocka_unit_test(test_log_removed_file_is_opened_again),
		cmocka_unit_test(test_log_without_io_uring_writes_with_write),
		cmocka_unit_test(test_log_rotates_by_size_and_keeps_the_newest),
		cmocka_unit_test(test_log_rotates_under_load_with_frequent_fsyncs),
		cmocka_unit_test(test_log_json_lines),
		cmocka_unit_test(test_log_level_filter_takes_nothing_below),
		cmocka_unit_test(test_log_drains_while_a_real_time_creator_spins),
		cmocka_unit_test(test_log_fifo_logger_when_allowed_drains_either_way),
		cmocka_unit_test(test_log_unwritable_path_is_a_clear_error),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
