/*
 * tools/rtlat/rtlat.h - what qiki-rtlat's eBPF side and its user space share.
 *
 * Contract
 * - Included by rtlat.bpf.c (after vmlinux.h) and by rtlat.c (after
 *   <linux/types.h>), so it uses only the kernel's __u32/__u64 types.
 * - The kernel side writes; user space reads the .bss (mmapped by the
 *   skeleton) at exit and takes LATE records from the ring buffer.  Counters
 *   in .bss are bumped with atomic adds: a loop thread may move CPUs.
 * - The histogram buckets are exactly shm/hist.h's (4 sub-bits, log-linear),
 *   so the tracer's wake-up histogram and the loop's own compare bucket for
 *   bucket; rtlat.c asserts that the constants agree.
 */
#ifndef QK_TOOLS_RTLAT_H
#define QK_TOOLS_RTLAT_H

#define RTLAT_MAX_THREADS 8
#define RTLAT_COMM_LEN    16
#define RTLAT_CHAIN       32	/* spans kept per CPU for the causal chain */
#define RTLAT_HIST_SUB_BITS 4
#define RTLAT_HIST_SUB    (1u << RTLAT_HIST_SUB_BITS)
#define RTLAT_HIST_OCTAVES 33
#define RTLAT_HIST_BUCKETS (RTLAT_HIST_SUB + RTLAT_HIST_OCTAVES * RTLAT_HIST_SUB)

/* What occupied a loop CPU. */
enum rtlat_kind {
	RTLAT_K_THREAD = 1,	/* another task ran (id: pid) */
	RTLAT_K_IRQ,		/* a hard IRQ handler (id: irq number) */
	RTLAT_K_SOFTIRQ,	/* a softirq vector (id: vector) */
	RTLAT_K_HRTIMER,	/* an hrtimer expiry (extra: its function; id: the
				 * loop thread it wakes, aux: how late it fired) */
	RTLAT_K_WAKE,		/* a loop thread was woken (id: its tid, extra: waker pid) */
	RTLAT_K_LOOP,		/* a loop thread ran (id: its tid) */
	RTLAT_K_COUNT
};

/* One interval on a loop CPU; instants (WAKE) have start == end. */
struct rtlat_span {
	__u64 start, end;	/* CLOCK_MONOTONIC ns (bpf_ktime_get_ns) */
	__u32 kind;		/* enum rtlat_kind */
	__u32 id;
	__s32 prio;		/* threads: rt_priority for RT, else nice */
	__u32 policy;		/* threads: SCHED_* */
	__u64 extra;
	__u64 aux;
	char name[RTLAT_COMM_LEN];
};

/* A wake-up over the late threshold: the CPU's recent spans, oldest first
 * from `first` (a ring of RTLAT_CHAIN, `n` of them valid).  Late is counted
 * as the loop counts it: from the sleep timer's expiry where the thread was
 * woken by its timer, else from sched_waking. */
struct rtlat_late {
	__u64 due_ts;		/* the timer's expiry, or wake_ts */
	__u64 wake_ts, run_ts;	/* sched_waking, and sched_switch onto the CPU */
	__u32 tid, cpu;
	__u32 first, n;
	struct rtlat_span span[RTLAT_CHAIN];
};

/* Who held the CPU while a loop thread wanted it (or interrupted it). */
struct rtlat_key {
	__u32 kind;		/* enum rtlat_kind: THREAD, IRQ, SOFTIRQ */
	__u32 id;
};

struct rtlat_offender {
	__u64 count;		/* intervals that overlapped a loop thread's want */
	__u64 total_ns;		/* time stolen, summed */
	__u64 max_ns;
	__u64 preempts;		/* threads: loop threads it preempted */
	__s32 prio;
	__u32 policy;
	char name[RTLAT_COMM_LEN];
};

/* Per loop thread, in .bss. */
struct rtlat_thread {
	__u64 count, sum_ns, max_ns;		/* wake-up to run */
	__u64 hist[RTLAT_HIST_BUCKETS];
	__u64 late;				/* due to running over the threshold */
	__u64 preempted;			/* involuntary switch-outs */
	__u64 preempt_wait_ns;			/* preempted until back on the CPU */
	__u64 cycles;				/* wake .. sleep cycles */
	__u64 irq_ns, softirq_ns;		/* inside those cycles, summed */
	__u64 cycle_irq_max_ns;			/* IRQ + softirq inside one cycle, the most */
	/* its sleep timer (hrtimer_wakeup): expiry run - the time it was set for */
	__u64 timer_count, timer_sum_ns, timer_max_ns;
	__u64 timer_hist[RTLAT_HIST_BUCKETS];
	/* timer expiry to running, for timer wake-ups: what the loop's own
	 * wake-up latency measures, less its return to user space */
	__u64 due_count, due_sum_ns, due_max_ns;
	__u64 due_hist[RTLAT_HIST_BUCKETS];
};

/* Same formula as qk_hist_index() (shm/hist.h), without clz: the BPF side
 * may not have it on every clang. */
static inline __u32 rtlat_hist_index(__s64 v)
{
	__u64 u = (__u64)v;
	__u32 e = 0, i;

	if (v < (__s64)RTLAT_HIST_SUB)
		return v < 0 ? 0 : (__u32)v;
	if (u >> 32) { e += 32; u >>= 32; }
	if (u >> 16) { e += 16; u >>= 16; }
	if (u >> 8) { e += 8; u >>= 8; }
	if (u >> 4) { e += 4; u >>= 4; }
	if (u >> 2) { e += 2; u >>= 2; }
	if (u >> 1) { e += 1; }
	i = RTLAT_HIST_SUB + (e - RTLAT_HIST_SUB_BITS) * RTLAT_HIST_SUB +
	    (__u32)(((__u64)v >> (e - RTLAT_HIST_SUB_BITS)) & (RTLAT_HIST_SUB - 1));
	return i < RTLAT_HIST_BUCKETS ? i : RTLAT_HIST_BUCKETS - 1;
}

#endif
