/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ctl/report.c - the launcher's status line and summary; see ctl/report.h. */
#include <stdio.h>
#include <string.h>

#include "ctl/report.h"
#include "rt/agent/fsm.h"
#include "rt/rt.h"

static void fmt_us(char *b, size_t n, int64_t ns)
{
	snprintf(b, n, "%.1f", (double)ns / 1000.0);
}

void qk_report_status_line(struct qk_seg *s, bool tty, int64_t t0)
{
	struct qk_agent_status st, scratch;
	struct qk_proc_stats *sim = &s->stats[QK_PROC_SIM], *ag = &s->stats[QK_PROC_AGENT];
	struct qk_ring_reader rd;
	struct qk_sensor_frame f;
	char p99s[16], p99a[16];

	memset(&st, 0, sizeof(st));
	memset(&f, 0, sizeof(f));
	qk_ring_reader_init(&rd, s->sensors, QK_RING_FROM_OLDEST);
	qk_ring_read_newest(&rd, &f);
	qk_mbox_read(s->agent_status, &st, &scratch);
	fmt_us(p99s, sizeof(p99s), qk_hist_quantile(&sim->wake_latency, 0.99));
	fmt_us(p99a, sizeof(p99a), qk_hist_quantile(&ag->wake_latency, 0.99));
	printf("%s[%6.1fs] %-8s cycle %-8llu overruns %llu/%llu  wake p99 sim %s us agent %s us  "
	       "pos %.2f %.2f %.2f m%s",
	       tty ? "\r" : "", (double)(qk_now_ns() - t0) / 1e9,
	       qk_fsm_state_name(st.state), (unsigned long long)qk_load_relaxed(&sim->cycles),
	       (unsigned long long)qk_load_relaxed(&sim->overruns),
	       (unsigned long long)qk_load_relaxed(&ag->overruns), p99s, p99a,
	       f.pos_m[0], f.pos_m[1], f.pos_m[2], tty ? "   " : "\n");
	fflush(stdout);
}

static uint64_t sim_trips(struct qk_seg *s)
{
	struct qk_sim_status ss, scratch;

	memset(&ss, 0, sizeof(ss));
	qk_mbox_read(s->sim_status, &ss, &scratch);
	return ss.watchdog_trips;
}

void qk_report_sample(struct qk_report_acc *a, struct qk_seg *s)
{
	for (int p = QK_PROC_SIM; p <= QK_PROC_AGENT; p++) {
		struct qk_proc_stats *ps = &s->stats[p];
		int32_t pid = qk_load_relaxed(&ps->pid);

		if (!pid)
			continue;	/* released: its last counts are kept below */
		if (a->pid[p] && pid != a->pid[p]) {
			a->base_overruns[p] += a->last_overruns[p];
			a->base_lost[p] += a->last_lost[p];
			if (p == QK_PROC_SIM)
				a->base_trips += a->last_trips;
			a->last_overruns[p] = a->last_lost[p] = 0;
			if (p == QK_PROC_SIM)
				a->last_trips = 0;
			a->replaced[p]++;
		}
		a->pid[p] = pid;
		/* a replacement's counts start at 0 and only grow */
		a->last_overruns[p] = qk_load_relaxed(&ps->overruns);
		a->last_lost[p] = qk_load_relaxed(&ps->frames_lost);
		if (p == QK_PROC_SIM)
			a->last_trips = sim_trips(s);
	}
}

/* The agent's slack each side: wake - sensor publish, sim's next due -
 * actuator publish; min shows the worst (negative: a missed margin). */
static void margins(const struct qk_hist *front, const struct qk_hist *back)
{
	char f1[16], f50[16], fmin[16], b1[16], b50[16], bmin[16];

	fmt_us(fmin, sizeof(fmin), qk_hist_min(front));
	fmt_us(f1, sizeof(f1), qk_hist_quantile(front, 0.01));
	fmt_us(f50, sizeof(f50), qk_hist_quantile(front, 0.50));
	fmt_us(bmin, sizeof(bmin), qk_hist_min(back));
	fmt_us(b1, sizeof(b1), qk_hist_quantile(back, 0.01));
	fmt_us(b50, sizeof(b50), qk_hist_quantile(back, 0.50));
	printf("        margins us: front (wake - sensor publish) min %s p1 %s p50 %s  "
	       "back (sim due - actuator publish) min %s p1 %s p50 %s\n",
	       fmin, f1, f50, bmin, b1, b50);
}

static void summary_proc(const char *name, struct qk_proc_stats *p, const struct qk_report_acc *a,
			 int which)
{
	bool agent = which == QK_PROC_AGENT;
	char replaced[64] = "";
	uint64_t overruns = a->base_overruns[which] + qk_load_relaxed(&p->overruns);
	uint64_t lost = a->base_lost[which] + qk_load_relaxed(&p->frames_lost);

	char l50[16], l99[16], lmax[16], c50[16], c99[16], cmax[16];

	fmt_us(l50, sizeof(l50), qk_hist_quantile(&p->wake_latency, 0.50));
	fmt_us(l99, sizeof(l99), qk_hist_quantile(&p->wake_latency, 0.99));
	fmt_us(lmax, sizeof(lmax), qk_hist_max(&p->wake_latency));
	fmt_us(c50, sizeof(c50), qk_hist_quantile(&p->compute, 0.50));
	fmt_us(c99, sizeof(c99), qk_hist_quantile(&p->compute, 0.99));
	fmt_us(cmax, sizeof(cmax), qk_hist_max(&p->compute));
	if (a->replaced[which])
		snprintf(replaced, sizeof(replaced), " (%u replaced, their counts included)",
			 a->replaced[which]);
	printf("  %-5s cycles %llu  overruns %llu  %s  wake-up latency us p50 %s p99 %s max %s  "
	       "compute us p50 %s p99 %s max %s%s\n", name,
	       (unsigned long long)qk_load_relaxed(&p->cycles), (unsigned long long)overruns,
	       qk_load_relaxed(&p->flags) & QK_PROCF_RT ? "SCHED_FIFO" : "NOT real-time",
	       l50, l99, lmax, c50, c99, cmax, replaced);
	if (agent) {
		fmt_us(l50, sizeof(l50), qk_hist_quantile(&p->s2a, 0.50));
		fmt_us(l99, sizeof(l99), qk_hist_quantile(&p->s2a, 0.99));
		fmt_us(lmax, sizeof(lmax), qk_hist_max(&p->s2a));
		printf("        sensor-to-actuation us p50 %s p99 %s max %s  frames lost %llu  "
		       "ticks without a new frame %llu\n", l50, l99, lmax, (unsigned long long)lost,
		       (unsigned long long)qk_load_relaxed(&p->frames_stale));
		margins(&p->front, &p->back);
	} else {
		printf("        actuator frames that missed their cycle %llu  frames lost %llu\n",
		       (unsigned long long)qk_load_relaxed(&p->missed_cycle), (unsigned long long)lost);
	}
	int64_t allocs = qk_load_relaxed(&p->loop_allocs);

	if (allocs >= 0)
		printf("        allocations in the loop after start-up: %lld\n", (long long)allocs);
}

void qk_report_summary(struct qk_seg *s, const struct qk_report_acc *a, const char *instance,
		       const struct qk_config *cfg, const char *rt_note)
{
	struct qk_agent_status st, scratch;
	struct qk_sim_status ss, sscratch;

	memset(&st, 0, sizeof(st));
	memset(&ss, 0, sizeof(ss));
	qk_mbox_read(s->agent_status, &st, &scratch);
	qk_mbox_read(s->sim_status, &ss, &sscratch);
	printf("qiki summary: instance %s, profile %s, %u Hz, wake %s%s\n", instance,
	       cfg->profile, cfg->rate_hz, qk_wake_mode_name(cfg->wake_mode), rt_note);
	summary_proc("sim", &s->stats[QK_PROC_SIM], a, QK_PROC_SIM);
	summary_proc("agent", &s->stats[QK_PROC_AGENT], a, QK_PROC_AGENT);
	printf("  final state %s, %llu transitions, watchdog trips %llu, BIOS %s (health %.2f)\n",
	       qk_fsm_state_name(st.state), (unsigned long long)st.n_transitions,
	       (unsigned long long)(a->base_trips + ss.watchdog_trips), st.all_systems_go ? "all systems go" : "NOT OK",
	       st.health);
	printf("  sensor stream hash %016llx over %llu cycles\n",
	       (unsigned long long)ss.stream_hash, (unsigned long long)ss.cycle + 1);
}
