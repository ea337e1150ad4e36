/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/agent/wake.h - when the agent wakes: the futex deadline and the timer
 * phase, as pure functions of the sim's grid and measured latencies.
 *
 * Contract: pure functions; no allocation, no syscall, no clock: real-time
 * safe except qk_wake_timer_phase(), which formats its refusal (start-up).
 *
 * The sim is the time master: its cycle k is due at epoch + k * period, and
 * it publishes that cycle's sensor frame a wake-up latency and a compute
 * time later.  The plant applies the agent's answer at its next cycle
 * whenever the agent wakes, so when the agent wakes does not change the
 * control delay: it only splits the cycle's slack into a front margin
 * (agent wake - sensor publish) and a back margin (the sim's next due -
 * actuator publish).
 *
 * futex (the default): the agent sleeps on the sensor ring until the frame
 * of the cycle due at `due` arrives, or until due + QK_WAKE_DEADLINE_SHARE
 * of the period; then it ticks stale, so a dead sim still drives the stale
 * guard to SAFE.  A late frame is taken as soon as it comes.
 *
 * timer: the agent wakes `phase` after each sim due time.  The allowed
 * window is [sim wake p99 + sim compute p99, period - agent wake p99 -
 * agent compute p99]: after the frame is out, and early enough to answer
 * before the sim's next cycle.  The phase is its middle, which splits the
 * slack evenly; with no data the window is the whole period.  The phase is
 * never scaled with the rate.  A rate where the window is empty is refused
 * with the figures.
 */
#ifndef QK_RT_WAKE_H
#define QK_RT_WAKE_H

#include <stddef.h>
#include <stdint.h>

#define QK_WAKE_DEADLINE_SHARE 0.5	/* futex: a frame this late in its cycle is stale */

/* Measured latencies, p99, ns; 0 when not measured. */
struct qk_wake_figures {
	int64_t sim_wake, sim_compute;
	int64_t agent_wake, agent_compute;
};

/* The first point of the grid (epoch + k * period) strictly after t. */
static inline int64_t qk_wake_grid_after(int64_t epoch_ns, int64_t period_ns, int64_t t)
{
	int64_t k = t >= epoch_ns ? (t - epoch_ns) / period_ns + 1
				  : -((epoch_ns - t - 1) / period_ns);

	return epoch_ns + k * period_ns;
}

/* futex: the due time of the next frame to wait for, after a tick that
 * handled the cycle due at handled_ns (the fresh frame's, or the one a
 * stale tick gave up on) and ended at end_ns: the cycle after it, or, when
 * that one's deadline has passed already, the first whose has not (a late
 * cycle is skipped to the grid, never caught up in a burst). */
int64_t qk_wake_next_due(int64_t epoch_ns, int64_t period_ns, int64_t handled_ns,
			 int64_t end_ns);

/* futex: the due time of the frame of sim cycle `cycle`, or `fallback`
 * when the cycle cannot be one the sim has run by end_ns (the frame is
 * shared memory: untrusted). */
int64_t qk_wake_cycle_due(int64_t epoch_ns, int64_t period_ns, uint64_t cycle, int64_t end_ns,
			  int64_t fallback);

/* futex: the tick's deadline for a frame due at due_ns. */
static inline int64_t qk_wake_deadline(int64_t period_ns, int64_t due_ns)
{
	return due_ns + (int64_t)((double)period_ns * QK_WAKE_DEADLINE_SHARE);
}

/* timer: 0 and the phase in *phase_ns, or -ERANGE with why naming every
 * figure when the window is empty at this period. */
int qk_wake_timer_phase(int64_t period_ns, const struct qk_wake_figures *f, int64_t *phase_ns,
			char *why, size_t n);

#endif
