/* tools/rtlat/report.c - late wake-ups and the summary; see report.h. */
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/json.h"
#include "shm/hist.h"
#include "tools/rtlat/report.h"

_Static_assert(RTLAT_HIST_BUCKETS == QK_HIST_BUCKETS && RTLAT_HIST_SUB_BITS == QK_HIST_SUB_BITS,
	       "the tracer's histogram must bucket as shm/hist.h does");

/* The spans before a wake-up that still count as its cycle: the timer's
 * expiry and the IRQ that carried it come a few microseconds before. */
#define LEAD_NS 50000

static const char *const softirq_names[] = {
	"HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"
};

static const char *policy_name(uint32_t p)
{
	switch (p) {
	case SCHED_OTHER: return "OTHER";
	case SCHED_FIFO: return "FIFO";
	case SCHED_RR: return "RR";
	case SCHED_BATCH: return "BATCH";
	case SCHED_IDLE: return "IDLE";
	case 6: return "DEADLINE";
	default: return "?";
	}
}

void rtlat_name(const struct rtlat_key *k, const char *name, char *b, size_t n)
{
	switch (k->kind) {
	case RTLAT_K_THREAD:
		snprintf(b, n, "%.16s/%u", name, k->id);
		break;
	case RTLAT_K_IRQ:
		snprintf(b, n, "irq/%u-%.16s", k->id, name);
		break;
	case RTLAT_K_SOFTIRQ:
		if (k->id < sizeof(softirq_names) / sizeof(softirq_names[0]))
			snprintf(b, n, "softirq/%s", softirq_names[k->id]);
		else
			snprintf(b, n, "softirq/%u", k->id);
		break;
	default:
		snprintf(b, n, "?");
	}
}

/* An hrtimer's function by name, from /proc/kallsyms; a few are cached. */
static const char *ksym(uint64_t addr)
{
	static struct { uint64_t a; char name[64]; } cache[16];
	static unsigned next;
	char line[256], name[128], t;
	unsigned long long a;
	FILE *f;

	for (unsigned i = 0; i < 16; i++)
		if (cache[i].a == addr)
			return cache[i].name;
	unsigned slot = next++ % 16;

	cache[slot].a = addr;
	snprintf(cache[slot].name, sizeof(cache[slot].name), "0x%" PRIx64, addr);
	if (!addr || !(f = fopen("/proc/kallsyms", "r")))
		return cache[slot].name;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %127s", &a, &t, name) == 3 && a == addr) {
			snprintf(cache[slot].name, sizeof(cache[slot].name), "%.63s", name);
			break;
		}
	fclose(f);
	return cache[slot].name;
}

static const struct rtlat_loop_thread *loop_thread(const struct rtlat_report *r, uint32_t tid)
{
	for (int i = 0; i < r->n_threads; i++)
		if ((uint32_t)r->thread[i].tid == tid)
			return &r->thread[i];
	return NULL;
}

static uint64_t overlap(const struct rtlat_span *s, uint64_t from, uint64_t to)
{
	uint64_t a = s->start > from ? s->start : from, b = s->end < to ? s->end : to;

	return b > a ? b - a : 0;
}

static int by_start(const void *a, const void *b)
{
	const struct rtlat_span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static void print_span(struct rtlat_report *r, const struct rtlat_span *s, uint64_t due,
		       uint64_t run)
{
	char name[64], what[96];
	double at = ((double)s->start - (double)due) / 1000.0;
	double dur = (double)(s->end - s->start) / 1000.0;
	struct rtlat_key k = { s->kind, s->id };
	const struct rtlat_loop_thread *lt;

	switch (s->kind) {
	case RTLAT_K_THREAD:
		rtlat_name(&k, s->name, name, sizeof(name));
		snprintf(what, sizeof(what), "%s %s", s->id ? "thread " : "idle   ", name);
		fprintf(r->out, "  %+10.1f us %9.1f us  %-40s %s %d", at, dur, what,
			policy_name(s->policy), s->prio);
		if (s->id && overlap(s, due, run))
			fprintf(r->out, "  stole %.1f us", (double)overlap(s, due, run) / 1000.0);
		fputc('\n', r->out);
		return;
	case RTLAT_K_IRQ:
	case RTLAT_K_SOFTIRQ:
		rtlat_name(&k, s->name, name, sizeof(name));
		snprintf(what, sizeof(what), "%s %s", s->kind == RTLAT_K_IRQ ? "irq    " : "softirq", name);
		break;
	case RTLAT_K_HRTIMER:
		lt = s->id ? loop_thread(r, s->id) : NULL;
		if (lt)
			snprintf(what, sizeof(what), "hrtimer %s for %s/%u, %.1f us after its expiry",
				 ksym(s->extra), lt->comm, s->id, (double)s->aux / 1000.0);
		else
			snprintf(what, sizeof(what), "hrtimer %s", ksym(s->extra));
		break;
	case RTLAT_K_WAKE:
		lt = loop_thread(r, s->id);
		snprintf(what, sizeof(what), "waking  %s/%u (in pid %u's context)", lt ? lt->comm : "?",
			 s->id, (unsigned)s->extra);
		fprintf(r->out, "  %+10.1f us %12s  %s\n", at, "", what);
		return;
	case 0:
		lt = loop_thread(r, s->id);
		fprintf(r->out, "  %+10.1f us %12s  expiry  of %s/%u's sleep timer: due\n", at, "",
			lt ? lt->comm : "?", s->id);
		return;
	case RTLAT_K_LOOP:
		lt = loop_thread(r, s->id);
		snprintf(what, sizeof(what), "loop    %s/%u", lt ? lt->comm : "?", s->id);
		break;
	default:
		return;
	}
	fprintf(r->out, "  %+10.1f us %9.1f us  %s\n", at, dur, what);
}

void rtlat_report_late(struct rtlat_report *r, const struct rtlat_late *e)
{
	struct rtlat_span sp[RTLAT_CHAIN];
	const struct rtlat_span *worst = NULL;
	uint64_t most = 0, lat = e->run_ts - e->due_ts;
	int n = 0;

	r->late_total++;
	for (uint32_t i = 0; i < e->n && i < RTLAT_CHAIN; i++) {
		const struct rtlat_span *s = &e->span[(e->first + i) % RTLAT_CHAIN];

		if (s->end + LEAD_NS < e->due_ts || s->start > e->run_ts)
			continue;
		sp[n++] = *s;
		if ((s->kind == RTLAT_K_THREAD && s->id) || s->kind == RTLAT_K_IRQ ||
		    s->kind == RTLAT_K_SOFTIRQ) {
			uint64_t o = overlap(s, e->due_ts, e->run_ts);

			if (o > most) {
				most = o;
				worst = s;
			}
		}
	}
	if (e->due_ts < e->wake_ts && n < RTLAT_CHAIN) {	/* the timer's expiry, as a mark */
		memset(&sp[n], 0, sizeof(sp[n]));
		sp[n].start = sp[n].end = e->due_ts;
		sp[n++].id = e->tid;
	}
	qsort(sp, (size_t)n, sizeof(sp[0]), by_start);

	/* the cause: what took most of the wait; none when nothing else ran */
	struct rtlat_key k = { 0, 0 };
	char name[48] = "nothing seen (idle exit, wake path, host)";

	if (worst) {
		k = (struct rtlat_key){ worst->kind, worst->id };
		rtlat_name(&k, worst->name, name, sizeof(name));
	}
	int c;

	for (c = 0; c < r->n_causes; c++)
		if (r->cause[c].key.kind == k.kind && r->cause[c].key.id == k.id)
			break;
	if (c == r->n_causes && c < RTLAT_MAX_CAUSES) {
		r->n_causes++;
		memset(&r->cause[c], 0, sizeof(r->cause[c]));
		r->cause[c].key = k;
		snprintf(r->cause[c].name, sizeof(r->cause[c].name), "%s", name);
	}
	if (c < RTLAT_MAX_CAUSES) {
		r->cause[c].count++;
		if (lat > r->cause[c].max_lat_ns) {	/* named as it was at its worst */
			r->cause[c].max_lat_ns = lat;
			snprintf(r->cause[c].name, sizeof(r->cause[c].name), "%s", name);
		}
		if (most > r->cause[c].max_stolen_ns)
			r->cause[c].max_stolen_ns = most;
	}
	if (!r->print_chains)
		return;

	const struct rtlat_loop_thread *lt = loop_thread(r, e->tid);

	if (r->json) {
		struct qk_json j;

		qk_json_begin(&j, r->out);
		qk_json_str(&j, "event", "late");
		qk_json_str(&j, "thread", lt ? lt->comm : "?");
		qk_json_u64(&j, "tid", e->tid);
		qk_json_u64(&j, "cpu", e->cpu);
		qk_json_f64(&j, "latency_us", (double)lat / 1000.0);
		qk_json_f64(&j, "timer_late_us", (double)(e->wake_ts - e->due_ts) / 1000.0);
		qk_json_f64(&j, "wake_to_run_us", (double)(e->run_ts - e->wake_ts) / 1000.0);
		qk_json_str(&j, "cause", name);
		qk_json_f64(&j, "cause_us", (double)most / 1000.0);
		qk_json_arr(&j, "chain");
		for (int i = 0; i < n; i++) {
			char nm[64];
			static const char *const kinds[RTLAT_K_COUNT] = {
				"expiry", "thread", "irq", "softirq", "hrtimer", "waking", "loop"
			};
			struct rtlat_key sk = { sp[i].kind, sp[i].id };

			qk_json_obj(&j, NULL);
			qk_json_str(&j, "kind", sp[i].kind < RTLAT_K_COUNT ? kinds[sp[i].kind] : "?");
			qk_json_f64(&j, "at_us", ((double)sp[i].start - (double)e->due_ts) / 1000.0);
			qk_json_f64(&j, "dur_us", (double)(sp[i].end - sp[i].start) / 1000.0);
			if (sp[i].kind == RTLAT_K_HRTIMER) {
				qk_json_str(&j, "name", ksym(sp[i].extra));
				if (sp[i].id) {
					qk_json_u64(&j, "tid", sp[i].id);
					qk_json_f64(&j, "late_us", (double)sp[i].aux / 1000.0);
				}
			}
			else if (sp[i].kind == RTLAT_K_THREAD || sp[i].kind == RTLAT_K_IRQ ||
				 sp[i].kind == RTLAT_K_SOFTIRQ) {
				rtlat_name(&sk, sp[i].name, nm, sizeof(nm));
				qk_json_str(&j, "name", nm);
			} else
				qk_json_u64(&j, "tid", sp[i].id);
			if (sp[i].kind == RTLAT_K_THREAD) {
				qk_json_u64(&j, "pid", sp[i].id);
				qk_json_str(&j, "policy", policy_name(sp[i].policy));
				qk_json_i64(&j, "prio", sp[i].prio);
			}
			qk_json_close(&j);
		}
		qk_json_close(&j);
		qk_json_end(&j);
	} else {
		if (e->due_ts < e->wake_ts)
			fprintf(r->out, "late wake-up: %s/%u on CPU %u: %.1f us from its timer's expiry to "
				"running (timer %.1f us, sched_waking to running %.1f us)\n",
				lt ? lt->comm : "?", e->tid, e->cpu, (double)lat / 1000.0,
				(double)(e->wake_ts - e->due_ts) / 1000.0,
				(double)(e->run_ts - e->wake_ts) / 1000.0);
		else
			fprintf(r->out, "late wake-up: %s/%u on CPU %u: %.1f us from sched_waking to "
				"running\n", lt ? lt->comm : "?", e->tid, e->cpu, (double)lat / 1000.0);
		for (int i = 0; i < n; i++)
			print_span(r, &sp[i], e->due_ts, e->run_ts);
		fprintf(r->out, "  %+10.1f us %12s  running %s/%u\n", (double)lat / 1000.0, "",
			lt ? lt->comm : "?", e->tid);
		fprintf(r->out, "  cause: %s (%.1f us of %.1f us)\n\n", name, (double)most / 1000.0,
			(double)lat / 1000.0);
	}
	fflush(r->out);
}

static int by_count(const void *a, const void *b)
{
	const struct rtlat_cause *x = a, *y = b;

	return x->count > y->count ? -1 : x->count < y->count;
}

void rtlat_report_verdict(const struct rtlat_report *r, char *b, size_t n)
{
	struct rtlat_cause c[RTLAT_MAX_CAUSES];
	size_t at;
	int nc = r->n_causes;

	if (!r->late_total) {
		snprintf(b, n, "no late cycles (no wake-up over %.0f us)", (double)r->late_ns / 1000.0);
		return;
	}
	memcpy(c, r->cause, sizeof(c[0]) * (size_t)nc);
	qsort(c, (size_t)nc, sizeof(c[0]), by_count);
	at = (size_t)snprintf(b, n, "%" PRIu64 " late cycle%s:", r->late_total,
			      r->late_total == 1 ? "" : "s");
	for (int i = 0; i < nc && i < 4 && at < n; i++)
		at += (size_t)snprintf(b + at, n - at, "%s %" PRIu64 "x %s (max %.0f us)",
				       i ? "," : "", c[i].count, c[i].name,
				       (double)c[i].max_lat_ns / 1000.0);
	if (nc > 4 && at < n)
		snprintf(b + at, n - at, ", ...");
}

static int by_stolen(const void *a, const void *b)
{
	const struct rtlat_offender *x = *(const struct rtlat_offender *const *)a;
	const struct rtlat_offender *y = *(const struct rtlat_offender *const *)b;

	return x->total_ns > y->total_ns ? -1 : x->total_ns < y->total_ns;
}

static void hist_from(struct qk_hist *h, const __u64 *b, uint64_t n, uint64_t sum, uint64_t max)
{
	memset(h, 0, sizeof(*h));
	h->count = n;
	h->max = (int64_t)max;
	h->min = INT64_MAX;
	h->sum = sum;
	for (uint32_t i = 0; i < QK_HIST_BUCKETS; i++) {
		h->bucket[i] = b[i];
		if (b[i] && h->min == INT64_MAX)
			h->min = qk_hist_lower(i);
	}
}

static void hist_of(const struct rtlat_thread *t, struct qk_hist *h)
{
	hist_from(h, t->hist, t->count, t->sum_ns, t->max_ns);
}

static void json_hist(struct qk_json *j, const char *key, const struct qk_hist *h)
{
	qk_json_obj(j, key);
	qk_json_u64(j, "count", h->count);
	qk_json_i64(j, "min_ns", h->count ? h->min : 0);
	qk_json_i64(j, "p50_ns", qk_hist_quantile(h, 0.5));
	qk_json_i64(j, "p99_ns", qk_hist_quantile(h, 0.99));
	qk_json_i64(j, "p999_ns", qk_hist_quantile(h, 0.999));
	qk_json_i64(j, "max_ns", h->count ? h->max : 0);
	qk_json_arr(j, "histogram");	/* [bucket lower bound ns, count] */
	for (uint32_t b = 0; b < QK_HIST_BUCKETS; b++)
		if (h->bucket[b])
			qk_json_pair(j, qk_hist_lower(b), h->bucket[b]);
	qk_json_close(j);
	qk_json_close(j);
}

void rtlat_report_summary(struct rtlat_report *r)
{
	const struct rtlat_offender *o[RTLAT_MAX_OFFENDERS];
	static struct qk_hist h;
	char verdict[512], name[64];
	uint64_t runs = 0, run_ns = 0;

	for (int i = 0; i < r->n_off; i++)
		o[i] = &r->off[i];
	qsort(o, (size_t)r->n_off, sizeof(o[0]), by_stolen);
	rtlat_report_verdict(r, verdict, sizeof(verdict));
	for (int i = 0; i < r->n_progs; i++) {
		runs += r->prog[i].run_cnt;
		run_ns += r->prog[i].run_time_ns;
	}
	if (r->json) {
		struct qk_json j;

		qk_json_begin(&j, r->out);
		qk_json_str(&j, "event", "summary");
		qk_json_str(&j, "instance", r->instance);
		qk_json_f64(&j, "seconds", r->seconds);
		qk_json_f64(&j, "late_threshold_us", (double)r->late_ns / 1000.0);
		qk_json_u64(&j, "loop_cycles", r->cycles);
		qk_json_arr(&j, "threads");
		for (int i = 0; i < r->n_threads; i++) {
			const struct rtlat_thread *t = &r->stats[i];

			hist_of(t, &h);
			qk_json_obj(&j, NULL);
			qk_json_str(&j, "proc", r->thread[i].proc);
			qk_json_str(&j, "comm", r->thread[i].comm);
			qk_json_i64(&j, "tid", r->thread[i].tid);
			qk_json_i64(&j, "cpu", r->thread[i].cpu);
			qk_json_u64(&j, "wakeups", t->count);
			qk_json_i64(&j, "wake_min_ns", t->count ? h.min : 0);
			qk_json_i64(&j, "wake_p50_ns", qk_hist_quantile(&h, 0.5));
			qk_json_i64(&j, "wake_p99_ns", qk_hist_quantile(&h, 0.99));
			qk_json_i64(&j, "wake_p999_ns", qk_hist_quantile(&h, 0.999));
			qk_json_u64(&j, "wake_max_ns", t->max_ns);
			qk_json_u64(&j, "late", t->late);
			qk_json_u64(&j, "preempted", t->preempted);
			qk_json_u64(&j, "preempt_wait_ns", t->preempt_wait_ns);
			qk_json_u64(&j, "cycles", t->cycles);
			qk_json_u64(&j, "irq_ns", t->irq_ns);
			qk_json_u64(&j, "softirq_ns", t->softirq_ns);
			qk_json_u64(&j, "cycle_irq_max_ns", t->cycle_irq_max_ns);
			json_hist(&j, "wake", &h);
			hist_from(&h, t->timer_hist, t->timer_count, t->timer_sum_ns, t->timer_max_ns);
			json_hist(&j, "timer_late", &h);
			hist_from(&h, t->due_hist, t->due_count, t->due_sum_ns, t->due_max_ns);
			json_hist(&j, "due_to_run", &h);
			qk_json_close(&j);
		}
		qk_json_close(&j);
		qk_json_arr(&j, "offenders");
		for (int i = 0; i < r->n_off && i < 20; i++) {
			int at = (int)(o[i] - r->off);

			rtlat_name(&r->off_key[at], o[i]->name, name, sizeof(name));
			qk_json_obj(&j, NULL);
			qk_json_str(&j, "name", name);
			qk_json_str(&j, "kind", r->off_key[at].kind == RTLAT_K_THREAD ? "thread" :
				    r->off_key[at].kind == RTLAT_K_IRQ ? "irq" : "softirq");
			qk_json_u64(&j, "id", r->off_key[at].id);
			if (r->off_key[at].kind == RTLAT_K_THREAD) {
				qk_json_str(&j, "policy", policy_name(o[i]->policy));
				qk_json_i64(&j, "prio", o[i]->prio);
				qk_json_u64(&j, "preempts", o[i]->preempts);
			}
			qk_json_u64(&j, "count", o[i]->count);
			qk_json_u64(&j, "stolen_ns", o[i]->total_ns);
			qk_json_u64(&j, "max_ns", o[i]->max_ns);
			qk_json_close(&j);
		}
		qk_json_close(&j);
		qk_json_u64(&j, "late_cycles", r->late_total);
		qk_json_u64(&j, "late_dropped", r->late_dropped);
		qk_json_arr(&j, "late_causes");
		for (int i = 0; i < r->n_causes; i++) {
			qk_json_obj(&j, NULL);
			qk_json_str(&j, "name", r->cause[i].name);
			qk_json_u64(&j, "count", r->cause[i].count);
			qk_json_u64(&j, "max_latency_ns", r->cause[i].max_lat_ns);
			qk_json_u64(&j, "max_stolen_ns", r->cause[i].max_stolen_ns);
			qk_json_close(&j);
		}
		qk_json_close(&j);
		qk_json_str(&j, "verdict", verdict);
		qk_json_obj(&j, "cost");
		qk_json_u64(&j, "prog_runs", runs);
		qk_json_u64(&j, "prog_ns", run_ns);
		qk_json_f64(&j, "ns_per_run", runs ? (double)run_ns / (double)runs : 0);
		qk_json_f64(&j, "ns_per_loop_cycle", r->cycles ? (double)run_ns / (double)r->cycles : 0);
		qk_json_arr(&j, "programs");
		for (int i = 0; i < r->n_progs; i++) {
			qk_json_obj(&j, NULL);
			qk_json_str(&j, "name", r->prog[i].name);
			qk_json_u64(&j, "runs", r->prog[i].run_cnt);
			qk_json_u64(&j, "ns", r->prog[i].run_time_ns);
			qk_json_close(&j);
		}
		qk_json_close(&j);
		qk_json_close(&j);
		qk_json_arr(&j, "missing_tracepoints");
		for (int i = 0; i < r->n_lost; i++)
			qk_json_str(&j, NULL, r->lost[i]);
		qk_json_close(&j);
		qk_json_end(&j);
		fflush(r->out);
		return;
	}

	fprintf(r->out, "qiki-rtlat summary: instance %s, %.1f s, %" PRIu64 " loop cycles, late = over "
		"%.0f us from the timer's expiry (or sched_waking) to running\n", r->instance, r->seconds,
		r->cycles, (double)r->late_ns / 1000.0);
	fprintf(r->out, "  %-16s %7s %3s %9s %8s %8s %8s %9s %6s %9s %8s %8s\n", "thread", "tid", "cpu",
		"wake-ups", "p50 us", "p99 us", "max us", "preempted", "late", "irq us", "timer p50", "p99");
	for (int i = 0; i < r->n_threads; i++) {
		const struct rtlat_thread *t = &r->stats[i];

		hist_of(t, &h);
		double p50 = qk_hist_quantile(&h, 0.5) / 1000.0, p99 = qk_hist_quantile(&h, 0.99) / 1000.0;

		hist_from(&h, t->timer_hist, t->timer_count, t->timer_sum_ns, t->timer_max_ns);
		fprintf(r->out, "  %-16s %7d %3d %9llu %8.1f %8.1f %8.1f %9llu %6llu %9.1f %8.1f %8.1f\n",
			r->thread[i].comm, r->thread[i].tid, r->thread[i].cpu, t->count, p50, p99,
			(double)t->max_ns / 1000.0, t->preempted, t->late,
			(double)(t->irq_ns + t->softirq_ns) / 1000.0,
			qk_hist_quantile(&h, 0.5) / 1000.0, qk_hist_quantile(&h, 0.99) / 1000.0);
	}
	if (r->n_off) {
		fprintf(r->out, "  top offenders (time stolen from the loop threads on their CPU):\n");
		fprintf(r->out, "    %-34s %-9s %8s %12s %10s %8s\n", "who", "policy", "count",
			"stolen us", "max us", "preempts");
	}
	for (int i = 0; i < r->n_off && i < 10; i++) {
		int at = (int)(o[i] - r->off);
		char pol[24] = "-";

		rtlat_name(&r->off_key[at], o[i]->name, name, sizeof(name));
		if (r->off_key[at].kind == RTLAT_K_THREAD)
			snprintf(pol, sizeof(pol), "%s %d", policy_name(o[i]->policy), o[i]->prio);
		fprintf(r->out, "    %-34s %-9s %8llu %12.1f %10.1f %8llu\n", name, pol,
			o[i]->count, (double)o[i]->total_ns / 1000.0, (double)o[i]->max_ns / 1000.0,
			o[i]->preempts);
	}
	fprintf(r->out, "  (wake-up: sched_waking to running; timer: how late each thread's sleep timer\n"
		"   fired after its expiry, which the loop's own wake-up latency adds)\n");
	for (int i = 0; i < r->n_lost; i++)
		fprintf(r->out, "  not traced: %s\n", r->lost[i]);
	if (r->late_dropped)
		fprintf(r->out, "  %" PRIu64 " late chains lost (ring buffer full)\n", r->late_dropped);
	fprintf(r->out, "  tracer cost: %" PRIu64 " program runs, %.0f ns each, %.0f ns per loop cycle\n",
		runs, runs ? (double)run_ns / (double)runs : 0,
		r->cycles ? (double)run_ns / (double)r->cycles : 0);
	fprintf(r->out, "verdict: %s\n", verdict);
	fflush(r->out);
}
