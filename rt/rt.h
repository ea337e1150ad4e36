/*
 * rt/rt.h - the real-time runtime shared by qiki-sim and qiki-agent.
 *
 * Contract
 * - qk_rt_setup() is called once at start-up, before the loop: it locks all
 *   memory (mlockall current and future), pre-faults a stack reserve, pins the
 *   thread to its CPUs, switches it to SCHED_FIFO and holds
 *   /dev/cpu_dma_latency at 0.  Each step that needs a privilege the process
 *   lacks fails with a message naming the privilege and how to get it,
 *   unless the options ask for no real time (--no-rt), in which case none of
 *   the privileged steps is tried and the figures are marked as such.
 * - The loop side (qk_now_ns, struct qk_period) is real-time safe:
 *   clock_gettime is a vDSO call and clock_nanosleep is the loop's wait.
 */
#ifndef QK_RT_RT_H
#define QK_RT_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define QK_NSEC 1000000000ll

static inline int64_t qk_ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * QK_NSEC + ts->tv_nsec;
}

static inline struct timespec qk_ns_ts(int64_t ns)
{
	return (struct timespec){ .tv_sec = ns / QK_NSEC, .tv_nsec = ns % QK_NSEC };
}

static inline int64_t qk_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return qk_ts_ns(&ts);
}

struct qk_rt_opts {
	bool no_rt;		/* run as an ordinary process */
	int priority;		/* SCHED_FIFO priority, 1..99 */
	int cpu;		/* CPU to pin to, -1 for no pinning */
	bool dma_latency;	/* hold /dev/cpu_dma_latency at 0 */
};

struct qk_rt {
	bool rt;		/* SCHED_FIFO and mlockall in force */
	int dma_fd;		/* /dev/cpu_dma_latency, -1 if not held */
	int cpu;
	int priority;
};

/* 0, or -errno with `why` saying what failed, what is missing and how to
 * fix it.  -EPERM means a missing privilege. */
int qk_rt_setup(struct qk_rt *rt, const struct qk_rt_opts *o, char *why, size_t n);
void qk_rt_teardown(struct qk_rt *rt);

/*
 * The clocksource, and whether the vDSO can read it.  On a clocksource the
 * vDSO cannot read (hpet, acpi_pm, jiffies) every clock_gettime is a real
 * syscall: the loop's hot path then makes one per clock read.  `root` is
 * prefixed to /sys (NULL or "" for the machine's own; qk_rt_sysroot() gives
 * $QIKI_SYSROOT, which tests point at a fake tree).  Returns 1 when the vDSO
 * reads it, 0 when it does not, -ENOENT when the file is missing, -EPROTO
 * when the name is one we do not know; `name` is filled when it was read.
 * Start-up only.
 */
int qk_rt_clocksource(const char *root, char *name, size_t n);
const char *qk_rt_sysroot(void);
/* The fix to print beside a clocksource the vDSO cannot read. */
#define QK_RT_CLOCK_FIX "boot with 'clocksource=tsc tsc=reliable' where the TSC is sound " \
	"(constant_tsc and nonstop_tsc in /proc/cpuinfo), or a clocksource the vDSO reads " \
	"(kvm-clock in a KVM guest)"

/*
 * A periodic schedule on CLOCK_MONOTONIC: cycle k is due at
 * epoch + k * period + phase.  qk_period_wait() sleeps to the next due time
 * with an absolute deadline.  When the caller is already past it (a cycle
 * overran), it does not run a burst of late cycles: it skips to the next
 * point of the grid still in the future and counts the cycles skipped.
 */
struct qk_period {
	int64_t epoch_ns, period_ns, phase_ns;
	uint64_t cycle;		/* the cycle being run */
	int64_t due_ns;		/* when it was due */
	uint64_t overruns;	/* cycles skipped because we were late */
};

void qk_period_init(struct qk_period *p, int64_t epoch_ns, int64_t period_ns,
		    int64_t phase_ns, int64_t now_ns);
/* Sleeps until the next cycle is due (signals do not cut it short: handlers
 * only set flags, seen on the next wake); returns 0, or -errno from
 * clock_nanosleep. */
int qk_period_wait(struct qk_period *p);

#endif
