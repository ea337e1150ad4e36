/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/agent/wake.c - the futex deadline and the timer phase; see rt/agent/wake.h. */
#include <errno.h>
#include <stdio.h>

#include "rt/agent/wake.h"

int64_t qk_wake_next_due(int64_t epoch_ns, int64_t period_ns, int64_t handled_ns,
			 int64_t end_ns)
{
	int64_t share = qk_wake_deadline(period_ns, 0);
	/* the first cycle whose deadline is still ahead */
	int64_t open = qk_wake_grid_after(epoch_ns, period_ns, end_ns - share);
	int64_t next = handled_ns + period_ns;

	return next > open ? next : open;
}

int64_t qk_wake_cycle_due(int64_t epoch_ns, int64_t period_ns, uint64_t cycle, int64_t end_ns,
			  int64_t fallback)
{
	if (end_ns < epoch_ns || cycle > (uint64_t)((end_ns - epoch_ns) / period_ns))
		return fallback;	/* not yet due: not a frame the sim published */
	return epoch_ns + (int64_t)cycle * period_ns;
}

static double us(int64_t ns)
{
	return (double)ns / 1e3;
}

int qk_wake_timer_phase(int64_t period_ns, const struct qk_wake_figures *f, int64_t *phase_ns,
			char *why, size_t n)
{
	int64_t lo = f->sim_wake + f->sim_compute;
	int64_t hi = period_ns - f->agent_wake - f->agent_compute;

	if (lo > hi) {
		snprintf(why, n, "timer mode does not fit a %.1f us period: the sim's frame is out "
			 "%.1f us after its due time (wake p99 %.1f + compute p99 %.1f), and the "
			 "agent needs %.1f us to answer (wake p99 %.1f + compute p99 %.1f); use "
			 "--wake futex or a lower rate", us(period_ns), us(lo), us(f->sim_wake),
			 us(f->sim_compute), us(f->agent_wake + f->agent_compute), us(f->agent_wake),
			 us(f->agent_compute));
		return -ERANGE;
	}
	*phase_ns = lo + (hi - lo) / 2;	/* the middle: front and back margins alike */
	return 0;
}
