/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/hil/test_hil_wake.c - the agent's wake in the bridge's io_uring
 * (rt/hil/wake.h): the entry we fill by hand from the kernel's UAPI values
 * wakes a real FUTEX_WAIT sleeper on a shared ring's futex word, the way
 * qk_ring_wait() sleeps, and the waiter count says when a wake is wanted.
 * On a kernel without IORING_OP_FUTEX_WAKE the probe must say no (skip).
 */
#include <liburing.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <cmocka.h>

#include "rt/hil/wake.h"

#define CAP 8
#define PAYLOAD 64

struct waiter {
	struct qk_ring_port *p;
	uint64_t seen;
	int ret;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->ret = qk_ring_wait(w->p, w->seen, 5000000000ll);	/* 5 s: never, unless unwoken */
	return NULL;
}

static void test_hil_wake_uring_futex_wake_wakes_a_ring_waiter(void **state)
{
	struct io_uring ring;
	size_t sz = qk_ring_footprint(CAP, PAYLOAD);
	struct qk_ring *r = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct qk_ring_port port;
	uint8_t frame[PAYLOAD] = { 1 };
	struct waiter w = { .p = &port };
	pthread_t t;
	struct io_uring_cqe *cqe;

	(void)state;
	assert_true(r != MAP_FAILED);
	assert_int_equal(io_uring_queue_init(8, &ring, 0), 0);
	if (!qk_hil_wake_probe(&ring)) {
		io_uring_queue_exit(&ring);
		munmap(r, sz);
		skip();		/* Linux < 6.7: the bridge falls back to the futex syscall */
	}
	assert_int_equal(qk_ring_init(r, CAP, PAYLOAD, 0, &port), 0);
	assert_false(qk_ring_wake_wanted(&port));
	w.seen = qk_ring_head(&port);
	assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
	/* the waiter is inside qk_ring_wait() once it counts itself */
	for (int i = 0; i < 5000 && !qk_ring_wake_wanted(&port); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	assert_true(qk_ring_wake_wanted(&port));
	nanosleep(&(struct timespec){ 0, 20000000 }, NULL);	/* and asleep, most likely */
	qk_ring_publish(&port, frame);
	qk_hil_wake_prep(io_uring_get_sqe(&ring), &port);
	assert_int_equal(io_uring_submit_and_wait(&ring, 1), 1);
	assert_int_equal(io_uring_peek_cqe(&ring, &cqe), 0);
	/* the number woken: 1 if it slept, 0 if it saw the new word first */
	assert_true(cqe->res == 0 || cqe->res == 1);
	io_uring_cqe_seen(&ring, cqe);
	pthread_join(t, NULL);
	assert_int_equal(w.ret, 0);	/* woken (or not asleep), not timed out */
	assert_false(qk_ring_wake_wanted(&port));
	io_uring_queue_exit(&ring);
	munmap(r, sz);
}

static void test_hil_wake_entry_is_the_kernels_futex_wake(void **state)
{
	struct io_uring_sqe sqe;
	static struct qk_ring r;
	struct qk_ring_port port = { .r = &r };

	(void)state;
	memset(&sqe, 0xa5, sizeof(sqe));
	qk_hil_wake_prep(&sqe, &port);
	assert_int_equal(sqe.opcode, 52);		/* IORING_OP_FUTEX_WAKE */
	assert_int_equal(sqe.fd, 2);			/* FUTEX2_SIZE_U32, shared */
	assert_true(sqe.addr == (unsigned long)qk_ring_futex_word(&port));
	assert_true(sqe.off == 0x7fffffff);		/* every waiter */
	assert_true(sqe.addr3 == 0xffffffffu);		/* FUTEX_BITSET_MATCH_ANY */
	assert_int_equal(sqe.len, 0);
	assert_int_equal(sqe.rw_flags, 0);
	assert_int_equal(sqe.flags, 0);
	assert_int_equal(sqe.buf_index, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hil_wake_entry_is_the_kernels_futex_wake),
		cmocka_unit_test(test_hil_wake_uring_futex_wake_wakes_a_ring_waiter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
