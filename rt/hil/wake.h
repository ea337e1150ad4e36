/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/hil/wake.h - the agent's futex wake, submitted with the bridge's cycle
 * (IORING_OP_FUTEX_WAKE, Linux 6.7) so that the real-time thread enters the
 * kernel once per cycle, not once for io_uring and once for the wake.
 *
 * Contract
 * - One thread: the bridge's loop, the only producer of the sensor ring.
 * - qk_hil_wake_probe() at start-up (it allocates the probe); the rest is
 *   real-time safe: no allocation, no syscall of its own.
 * - Whether to wake is qk_ring_wake_wanted()'s decision (shm/ring.h): the
 *   same fence and rule as qk_ring_wake(), without its syscall.  The wake
 *   itself runs a few microseconds later, when the cycle's io_uring_enter
 *   submits it; a waiter that has not slept by then finds the word changed
 *   (FUTEX_WAIT returns EAGAIN), one that has is woken.
 */
#ifndef QK_RT_HIL_WAKE_H
#define QK_RT_HIL_WAKE_H

#include <liburing.h>
#include <stdbool.h>

#include "shm/ring.h"

/* Whether this kernel's io_uring has IORING_OP_FUTEX_WAKE. */
bool qk_hil_wake_probe(struct io_uring *ring);

/* Fills sqe with a FUTEX_WAKE of every waiter on the ring's futex word
 * (shared, not private: the agent is another process). */
void qk_hil_wake_prep(struct io_uring_sqe *sqe, const struct qk_ring_port *p);

#endif
