// SPDX-License-Identifier: GPL-2.0
/*
 * tools/rtlat/rtlat.bpf.c - the kernel half of qiki-rtlat.
 *
 * BTF tracepoints only (tp_btf): they need no tracefs and read the kernel's
 * own structs through CO-RE.  Every program returns at once unless the event
 * concerns one of the loop's threads (the tids[] knob) or happens on one of
 * the loop's CPUs (cpu_mask), so the rest of the machine pays one compare.
 *
 * A loop thread "wants" its CPU from sched_waking (or from an involuntary
 * switch-out) until sched_switch puts it back on.  Whatever runs on that CPU
 * meanwhile (another task, an IRQ handler, a softirq) is stolen time and is
 * charged to it in `offenders`; IRQs and softirqs that interrupt a running
 * loop thread are charged too.  Each loop CPU keeps its last RTLAT_CHAIN
 * spans, so a wake-up over late_ns ships the causal chain to user space.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "tools/rtlat/rtlat.h"

char LICENSE[] SEC("license") = "GPL";

/* knobs, set by rtlat.c before load */
const volatile __u32 n_tids = 0;
const volatile __u32 tids[RTLAT_MAX_THREADS] = {};
const volatile __u64 cpu_mask = 0;	/* the loop's CPUs (bit per CPU < 64) */
const volatile __u64 late_ns = 0;	/* 0: ship no chains */
const volatile __u64 hrtimer_wakeup_fn = 0;	/* its address, from /proc/kallsyms */

/* results, read by user space through the skeleton's mmapped .bss */
struct rtlat_thread threads[RTLAT_MAX_THREADS] = {};
__u64 late_dropped = 0;			/* chains the ring buffer had no room for */

/* where each loop thread is: written by the CPU that wakes or switches it */
struct tstate {
	__u64 wait_ts;		/* wants the CPU since (0: does not) */
	__u64 run_ts;		/* on the CPU since */
	__u64 cyc_irq, cyc_softirq;
	__u64 due;		/* its sleep timer's expiry, when that woke it */
	__u32 wait_cpu;
	__u32 wait_kind;	/* 1 woken, 2 preempted */
};
static struct tstate ts[RTLAT_MAX_THREADS];

struct cpustate {
	__u64 cur_start;	/* the current task got the CPU */
	__s32 cur_loop;		/* its loop index, -1 if another task */
	__u32 irq;
	__u64 irq_start, softirq_start, hrt_start, hrt_fn, hrt_late;
	__u32 hrt_tid, pad;
	__u32 vec;
	__u32 head;		/* spans pushed so far */
	char irq_name[RTLAT_COMM_LEN];
	struct rtlat_span ring[RTLAT_CHAIN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpustate);
} cpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct rtlat_key);
	__type(value, struct rtlat_offender);
} offenders SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} late SEC(".maps");

static __always_inline int loop_idx(__u32 pid)
{
	for (int i = 0; i < RTLAT_MAX_THREADS; i++) {
		if (i >= (int)n_tids)
			break;
		if (tids[i] == pid)
			return i;
	}
	return -1;
}

/* The histogram bucket of v, bounded on the very register that indexes the
 * histogram.  Written in C, the compiler checks the bound on a zero-extended
 * copy of the index and indexes with the original; the verifier of 6.1 (and
 * older) does not carry a bound from a shifted copy back, and refuses the
 * access as unbounded ("R4 unbounded memory access" in on_switch). */
static __always_inline __u64 bucket(__s64 v)
{
	__u64 b = rtlat_hist_index(v);

	asm volatile("if %[b] < %[n] goto +1\n\t%[b] = %[last]"
		     : [b] "+r"(b)
		     : [n] "i"(RTLAT_HIST_BUCKETS), [last] "i"(RTLAT_HIST_BUCKETS - 1));
	return b;
}

static __always_inline struct cpustate *this_cpu(__u32 *cpu)
{
	__u32 zero = 0;

	*cpu = bpf_get_smp_processor_id();
	if (*cpu >= 64 || !(cpu_mask & (1ull << *cpu)))
		return NULL;
	return bpf_map_lookup_elem(&cpus, &zero);
}

static __always_inline struct rtlat_span *push(struct cpustate *cs, __u32 kind, __u32 id,
					       __u64 start, __u64 end)
{
	struct rtlat_span *s = &cs->ring[cs->head & (RTLAT_CHAIN - 1)];

	cs->head++;
	s->start = start;
	s->end = end;
	s->kind = kind;
	s->id = id;
	s->prio = 0;
	s->policy = 0;
	s->extra = 0;
	s->aux = 0;
	s->name[0] = 0;
	return s;
}

static __always_inline __s32 task_prio(struct task_struct *t)
{
	__u32 pol = t->policy;

	return pol == 1 || pol == 2 ? (__s32)t->rt_priority : t->static_prio - 120;
}

/* The longest a loop thread waiting on `cpu` has waited within [start, now]. */
static __always_inline __u64 stolen(__u32 cpu, __u64 start, __u64 now)
{
	__u64 most = 0;

	for (int i = 0; i < RTLAT_MAX_THREADS; i++) {
		if (i >= (int)n_tids)
			break;
		__u64 w = ts[i].wait_ts;

		if (!w || ts[i].wait_cpu != cpu)
			continue;
		__u64 from = w > start ? w : start;

		if (now > from && now - from > most)
			most = now - from;
	}
	return most;
}

static __always_inline struct rtlat_offender *offender(__u32 kind, __u32 id)
{
	struct rtlat_key k = { .kind = kind, .id = id };
	struct rtlat_offender *v = bpf_map_lookup_elem(&offenders, &k);

	if (!v) {
		struct rtlat_offender z = {};

		bpf_map_update_elem(&offenders, &k, &z, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&offenders, &k);
	}
	return v;
}

/* Whether ns is its largest so far: its name and priority are then taken
 * anew, so that a task that changed policy is shown as it was when it did
 * the most harm. */
static __always_inline bool charge(struct rtlat_offender *v, __u64 ns)
{
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->total_ns, ns);
	if (ns <= v->max_ns)
		return false;
	v->max_ns = ns;	/* a racing larger value may be lost: a statistic */
	return true;
}

/* An IRQ or softirq of `ns` ended on a loop CPU: charge it if a loop thread
 * wanted or held the CPU, and add it to that thread's cycle. */
static __always_inline void intr(struct cpustate *cs, __u32 cpu, __u32 kind, __u32 id,
				 __u64 start, __u64 now)
{
	__u64 ns = now - start;
	bool wanted = false;
	int cur = cs->cur_loop;

	if (cur >= 0 && cur < RTLAT_MAX_THREADS) {
		wanted = true;
		if (kind == RTLAT_K_IRQ)
			ts[cur].cyc_irq += ns;
		else
			ts[cur].cyc_softirq += ns;
	}
	for (int i = 0; i < RTLAT_MAX_THREADS; i++) {
		if (i >= (int)n_tids)
			break;
		if (!ts[i].wait_ts || ts[i].wait_cpu != cpu)
			continue;
		wanted = true;
		if (kind == RTLAT_K_IRQ)
			ts[i].cyc_irq += ns;
		else
			ts[i].cyc_softirq += ns;
	}
	if (!wanted)
		return;

	struct rtlat_offender *v = offender(kind, id);

	if (!v)
		return;
	if (kind == RTLAT_K_IRQ && !v->name[0])
		__builtin_memcpy(v->name, cs->irq_name, sizeof(v->name));
	charge(v, ns);
}

static __always_inline void ship_late(struct cpustate *cs, __u32 cpu, __u32 tid, __u64 due,
				      __u64 wake, __u64 now)
{
	struct rtlat_late *e = bpf_ringbuf_reserve(&late, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&late_dropped, 1);
		return;
	}
	e->due_ts = due;
	e->wake_ts = wake;
	e->run_ts = now;
	e->tid = tid;
	e->cpu = cpu;
	e->n = cs->head < RTLAT_CHAIN ? cs->head : RTLAT_CHAIN;
	e->first = cs->head < RTLAT_CHAIN ? 0 : cs->head & (RTLAT_CHAIN - 1);
	bpf_probe_read_kernel(e->span, sizeof(e->span), cs->ring);
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/sched_waking")
int BPF_PROG(on_waking, struct task_struct *p)
{
	int i = loop_idx(p->pid);
	__u32 cpu;

	if (i < 0 || i >= RTLAT_MAX_THREADS)
		return 0;
	__u64 now = bpf_ktime_get_ns();

	ts[i].wait_ts = now;
	ts[i].wait_kind = 1;
	ts[i].wait_cpu = p->thread_info.cpu;

	struct cpustate *cs = this_cpu(&cpu);

	if (cs) {
		struct task_struct *waker = (struct task_struct *)bpf_get_current_task_btf();

		push(cs, RTLAT_K_WAKE, p->pid, now, now)->extra = waker->pid;
	}
	return 0;
}

/* The CPU is chosen by now: a pinned thread's is known at waking already. */
SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
	int i = loop_idx(p->pid);

	if (i >= 0 && i < RTLAT_MAX_THREADS)
		ts[i].wait_cpu = p->thread_info.cpu;
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	int pi = loop_idx(prev->pid), ni = loop_idx(next->pid);
	__u32 cpu;
	struct cpustate *cs = this_cpu(&cpu);

	if (pi < 0 && ni < 0 && !cs)
		return 0;	/* most switches of the machine: not ours, no clock read */
	__u64 now = bpf_ktime_get_ns();

	if (pi >= 0 && pi < RTLAT_MAX_THREADS) {
		if (preempt || prev_state == 0) {	/* TASK_RUNNING: it wants back on */
			ts[pi].wait_ts = now;
			ts[pi].wait_kind = 2;
			ts[pi].wait_cpu = bpf_get_smp_processor_id();
			__sync_fetch_and_add(&threads[pi].preempted, 1);
			if (ni < 0) {
				struct rtlat_offender *v = offender(RTLAT_K_THREAD, next->pid);

				if (v && !__sync_fetch_and_add(&v->preempts, 1) && !v->max_ns) {
					bpf_probe_read_kernel_str(v->name, sizeof(v->name), next->comm);
					v->prio = task_prio(next);
					v->policy = next->policy;
				}
			}
		} else {				/* it sleeps: the cycle ends */
			struct rtlat_thread *t = &threads[pi];
			__u64 c = ts[pi].cyc_irq + ts[pi].cyc_softirq;

			__sync_fetch_and_add(&t->cycles, 1);
			__sync_fetch_and_add(&t->irq_ns, ts[pi].cyc_irq);
			__sync_fetch_and_add(&t->softirq_ns, ts[pi].cyc_softirq);
			if (c > t->cycle_irq_max_ns)
				t->cycle_irq_max_ns = c;
			ts[pi].cyc_irq = ts[pi].cyc_softirq = 0;
			ts[pi].wait_ts = 0;
			ts[pi].due = 0;
		}
		if (cs)
			push(cs, RTLAT_K_LOOP, prev->pid, ts[pi].run_ts, now);
	}
	if (cs) {
		if (pi < 0 && cs->cur_start) {
			__u64 st = stolen(cpu, cs->cur_start, now);
			struct rtlat_span *s = push(cs, RTLAT_K_THREAD, prev->pid, cs->cur_start, now);

			bpf_probe_read_kernel_str(s->name, sizeof(s->name), prev->comm);
			s->prio = task_prio(prev);
			s->policy = prev->policy;
			s->extra = st;
			if (st && prev->pid) {	/* idle (pid 0) steals nothing */
				struct rtlat_offender *v = offender(RTLAT_K_THREAD, prev->pid);

				if (v && (charge(v, st) || !v->name[0])) {
					bpf_probe_read_kernel_str(v->name, sizeof(v->name), prev->comm);
					v->prio = s->prio;
					v->policy = s->policy;
				}
			}
		}
		cs->cur_start = now;
		cs->cur_loop = ni;
	}
	if (ni >= 0 && ni < RTLAT_MAX_THREADS) {
		__u64 w = ts[ni].wait_ts;

		ts[ni].run_ts = now;
		if (w && ts[ni].wait_kind == 1) {
			struct rtlat_thread *t = &threads[ni];
			__u64 lat = now - w;
			__u64 b = bucket(lat);

			__sync_fetch_and_add(&t->hist[b], 1);
			__sync_fetch_and_add(&t->count, 1);
			__sync_fetch_and_add(&t->sum_ns, lat);
			if (lat > t->max_ns)
				t->max_ns = lat;
			__u64 due = ts[ni].due && ts[ni].due <= w ? ts[ni].due : w;

			if (due < w) {
				__u64 d = now - due;

				b = bucket(d);
				__sync_fetch_and_add(&t->due_hist[b], 1);
				__sync_fetch_and_add(&t->due_count, 1);
				__sync_fetch_and_add(&t->due_sum_ns, d);
				if (d > t->due_max_ns)
					t->due_max_ns = d;
			}

			if (late_ns && now - due > late_ns) {
				__sync_fetch_and_add(&t->late, 1);
				if (cs)
					ship_late(cs, cpu, next->pid, due, w, now);
			}
		} else if (w) {
			__sync_fetch_and_add(&threads[ni].preempt_wait_ns, now - w);
		}
		ts[ni].wait_ts = 0;
		ts[ni].due = 0;
	}
	return 0;
}

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(on_irq_entry, int irq, struct irqaction *action)
{
	__u32 cpu;
	struct cpustate *cs = this_cpu(&cpu);

	if (!cs)
		return 0;
	cs->irq_start = bpf_ktime_get_ns();
	cs->irq = irq;
	bpf_probe_read_kernel_str(cs->irq_name, sizeof(cs->irq_name), action->name);
	return 0;
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(on_irq_exit, int irq, struct irqaction *action, int ret)
{
	__u32 cpu;
	struct cpustate *cs = this_cpu(&cpu);
	__u64 now = bpf_ktime_get_ns();

	if (!cs || !cs->irq_start || cs->irq != (__u32)irq)
		return 0;
	struct rtlat_span *s = push(cs, RTLAT_K_IRQ, irq, cs->irq_start, now);

	__builtin_memcpy(s->name, cs->irq_name, sizeof(s->name));
	intr(cs, cpu, RTLAT_K_IRQ, irq, cs->irq_start, now);
	cs->irq_start = 0;
	return 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(on_softirq_entry, unsigned int vec)
{
	__u32 cpu;
	struct cpustate *cs = this_cpu(&cpu);

	if (!cs)
		return 0;
	cs->softirq_start = bpf_ktime_get_ns();
	cs->vec = vec;
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(on_softirq_exit, unsigned int vec)
{
	__u32 cpu;
	struct cpustate *cs = this_cpu(&cpu);
	__u64 now = bpf_ktime_get_ns();

	if (!cs || !cs->softirq_start || cs->vec != vec)
		return 0;
	push(cs, RTLAT_K_SOFTIRQ, vec, cs->softirq_start, now);
	intr(cs, cpu, RTLAT_K_SOFTIRQ, vec, cs->softirq_start, now);
	cs->softirq_start = 0;
	return 0;
}

SEC("tp_btf/hrtimer_expire_entry")
int BPF_PROG(on_hrtimer_entry, struct hrtimer *t, ktime_t *now)
{
	__u32 cpu;
	struct cpustate *cs = this_cpu(&cpu);

	if (!cs)
		return 0;
	__u64 at = bpf_ktime_get_ns();

	cs->hrt_start = at;
	cs->hrt_fn = (__u64)t->function;
	cs->hrt_tid = 0;
	/* a loop thread's sleep timer: how late it fires is the part of the
	 * loop's own wake-up latency that comes before sched_waking */
	if (hrtimer_wakeup_fn && cs->hrt_fn == hrtimer_wakeup_fn) {
		struct hrtimer_sleeper *sl = (struct hrtimer_sleeper *)t;
		__u32 tid = BPF_CORE_READ(sl, task, pid);
		__s64 exp = BPF_CORE_READ(t, node.expires);
		int i = loop_idx(tid);

		if (i >= 0 && i < RTLAT_MAX_THREADS && exp > 0 && at >= (__u64)exp) {
			struct rtlat_thread *th = &threads[i];
			__u64 late_by = at - (__u64)exp;
			__u64 b = bucket(late_by);

			__sync_fetch_and_add(&th->timer_hist[b], 1);
			__sync_fetch_and_add(&th->timer_count, 1);
			__sync_fetch_and_add(&th->timer_sum_ns, late_by);
			if (late_by > th->timer_max_ns)
				th->timer_max_ns = late_by;
			cs->hrt_tid = tid;
			cs->hrt_late = late_by;
			ts[i].due = (__u64)exp;
		}
	}
	return 0;
}

SEC("tp_btf/hrtimer_expire_exit")
int BPF_PROG(on_hrtimer_exit, struct hrtimer *t)
{
	__u32 cpu;
	struct cpustate *cs = this_cpu(&cpu);

	if (!cs || !cs->hrt_start)
		return 0;
	struct rtlat_span *s = push(cs, RTLAT_K_HRTIMER, cs->hrt_tid, cs->hrt_start, bpf_ktime_get_ns());

	s->extra = cs->hrt_fn;
	s->aux = cs->hrt_tid ? cs->hrt_late : 0;
	cs->hrt_start = 0;
	return 0;
}
