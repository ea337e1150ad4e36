/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ctl/report.c - the launcher's status line and summary; see ctl/report.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl/report.h"
#include "rt/agent/fsm.h"
#include "rt/rt.h"

static void fmt_us(char *b, size_t n, int64_t ns)
{
	snprintf(b, n, "%.1f", (double)ns / 1000.0);
}

/* Appends to b (of n, holding *k chars) only when the whole piece fits in
 * the line: a piece is shown whole or not at all. */
static void piece(char *b, size_t n, size_t *k, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void piece(char *b, size_t n, size_t *k, const char *fmt, ...)
{
	char tmp[QK_REPORT_COLS + 1];
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (w < 0 || *k + (size_t)w >= n || *k + (size_t)w > QK_REPORT_COLS - 1)
		return;
	memcpy(b + *k, tmp, (size_t)w + 1);
	*k += (size_t)w;
}

/* A position that rounds to zero shows as 0.0, not -0.0. */
static double tidy(double x)
{
	return fabs(x) < 0.05 ? 0.0 : x;
}

/* The pieces in the order they give way: the time, the state and both
 * overrun counts always (cut at the edge if they alone are too long), then
 * the position, then the wake-up latencies. */
size_t qk_report_format_line(char *b, size_t n, const struct qk_report_line *v)
{
	size_t k;
	int w;

	if (!n)
		return 0;
	w = snprintf(b, n, "%5.1fs %-8s overruns sim %llu agent %llu", v->t_s,
		     qk_fsm_state_name(v->state), (unsigned long long)v->overruns_sim,
		     (unsigned long long)v->overruns_agent);
	k = w < 0 ? 0 : (size_t)w;
	if (k > QK_REPORT_COLS - 1 || k >= n) {
		k = QK_REPORT_COLS - 1 < n - 1 ? QK_REPORT_COLS - 1 : n - 1;
		b[k] = 0;
		return k;
	}
	piece(b, n, &k, "  %.1f %.1f %.1f m", tidy(v->pos_m[0]), tidy(v->pos_m[1]),
	      tidy(v->pos_m[2]));
	piece(b, n, &k, "  p99us sim %.0f agent %.0f", (double)v->wake_p99_sim_ns / 1e3,
	      (double)v->wake_p99_agent_ns / 1e3);
	return k;
}

void qk_report_status_line(struct qk_seg *s, bool tty, int64_t t0)
{
	struct qk_agent_status st, scratch;
	struct qk_proc_stats *sim = &s->stats[QK_PROC_SIM], *ag = &s->stats[QK_PROC_AGENT];
	struct qk_ring_reader rd;
	struct qk_sensor_frame f;
	struct qk_report_line v;
	char line[QK_REPORT_COLS + 1];

	memset(&st, 0, sizeof(st));
	memset(&f, 0, sizeof(f));
	qk_ring_reader_init(&rd, s->sensors, QK_RING_FROM_OLDEST);
	qk_ring_read_newest(&rd, &f);
	qk_mbox_read(s->agent_status, &st, &scratch);
	v = (struct qk_report_line){
		.t_s = (double)(qk_now_ns() - t0) / 1e9, .state = st.state,
		.overruns_sim = qk_load_relaxed(&sim->overruns),
		.overruns_agent = qk_load_relaxed(&ag->overruns),
		.wake_p99_sim_ns = qk_hist_quantile(&sim->wake_latency, 0.99),
		.wake_p99_agent_ns = qk_hist_quantile(&ag->wake_latency, 0.99),
		.pos_m = { f.pos_m[0], f.pos_m[1], f.pos_m[2] },
	};
	qk_report_format_line(line, sizeof(line), &v);
	/* a terminal's line is rewritten in place: pad to the full width so
	 * a shorter line leaves nothing of the last one, never past it */
	if (tty)
		printf("\r%-*s", QK_REPORT_COLS - 1, line);
	else
		printf("%s\n", line);
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
	char f1[16], f50[16], fmin[16], favg[16], b1[16], b50[16], bmin[16], bavg[16];

	fmt_us(favg, sizeof(favg), qk_hist_mean(front));
	fmt_us(bavg, sizeof(bavg), qk_hist_mean(back));
	fmt_us(fmin, sizeof(fmin), qk_hist_min(front));
	fmt_us(f1, sizeof(f1), qk_hist_quantile(front, 0.01));
	fmt_us(f50, sizeof(f50), qk_hist_quantile(front, 0.50));
	fmt_us(bmin, sizeof(bmin), qk_hist_min(back));
	fmt_us(b1, sizeof(b1), qk_hist_quantile(back, 0.01));
	fmt_us(b50, sizeof(b50), qk_hist_quantile(back, 0.50));
	printf("        margins us: front (wake - sensor publish) min %s p1 %s p50 %s avg %s  "
	       "back (sim due - actuator publish) min %s p1 %s p50 %s avg %s\n",
	       fmin, f1, f50, favg, bmin, b1, b50, bavg);
}

static void summary_proc(const char *name, struct qk_proc_stats *p, const struct qk_report_acc *a,
			 int which)
{
	bool agent = which == QK_PROC_AGENT;
	char replaced[64] = "";
	uint64_t overruns = a->base_overruns[which] + qk_load_relaxed(&p->overruns);
	uint64_t lost = a->base_lost[which] + qk_load_relaxed(&p->frames_lost);

	char lavg[16], l50[16], l99[16], lmax[16], cavg[16], c50[16], c99[16], cmax[16];

	fmt_us(lavg, sizeof(lavg), qk_hist_mean(&p->wake_latency));
	fmt_us(cavg, sizeof(cavg), qk_hist_mean(&p->compute));
	fmt_us(l50, sizeof(l50), qk_hist_quantile(&p->wake_latency, 0.50));
	fmt_us(l99, sizeof(l99), qk_hist_quantile(&p->wake_latency, 0.99));
	fmt_us(lmax, sizeof(lmax), qk_hist_max(&p->wake_latency));
	fmt_us(c50, sizeof(c50), qk_hist_quantile(&p->compute, 0.50));
	fmt_us(c99, sizeof(c99), qk_hist_quantile(&p->compute, 0.99));
	fmt_us(cmax, sizeof(cmax), qk_hist_max(&p->compute));
	if (a->replaced[which])
		snprintf(replaced, sizeof(replaced), " (%u replaced, their counts included)",
			 a->replaced[which]);
	printf("  %-5s cycles %llu  overruns %llu  %s  wake-up latency us avg %s p50 %s p99 %s "
	       "max %s  compute us avg %s p50 %s p99 %s max %s%s\n", name,
	       (unsigned long long)qk_load_relaxed(&p->cycles), (unsigned long long)overruns,
	       qk_load_relaxed(&p->flags) & QK_PROCF_RT ? "SCHED_FIFO" : "NOT real-time",
	       lavg, l50, l99, lmax, cavg, c50, c99, cmax, replaced);
	if (agent) {
		fmt_us(lavg, sizeof(lavg), qk_hist_mean(&p->s2a));
		fmt_us(l50, sizeof(l50), qk_hist_quantile(&p->s2a, 0.50));
		fmt_us(l99, sizeof(l99), qk_hist_quantile(&p->s2a, 0.99));
		fmt_us(lmax, sizeof(lmax), qk_hist_max(&p->s2a));
		printf("        sensor-to-actuation us avg %s p50 %s p99 %s max %s  frames lost %llu  "
		       "ticks without a new frame %llu\n", lavg, l50, l99, lmax, (unsigned long long)lost,
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

static const char *const ds_names[QK_DS_COUNT] = { "OK", "WARNING", "ERROR", "NOT_FOUND" };
static const char *const pc_names[QK_PC_COUNT] = {
	"-", "COMPONENT_NOT_FOUND", "UNSTABLE_READINGS", "TIMEOUT_RESPONSE", "CRITICAL_BOOT_FAILURE"
};

/* Every field is checked before it indexes a table: the report comes from
 * the segment, which any process of the group may have written. */
int qk_report_post(FILE *out, const struct qk_bios_report *b, const struct qk_config *cfg)
{
	uint32_t n = b->n_devices < QK_MAX_DEVICES ? b->n_devices : QK_MAX_DEVICES;
	int bad = 0;

	if (!b->post_count) {
		fprintf(out, "  POST: none ran\n");
		return 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct qk_device_status *d = &b->device[i];
		int c = qk_config_device(cfg, d->name[QK_NAME_LEN - 1] ? "" : d->name);

		if (d->status == QK_DS_OK)
			continue;
		if (!bad++)
			fprintf(out, "  POST #%llu failed: ", (unsigned long long)b->post_count);
		fprintf(out, "%s%.*s %s %s%s", bad > 1 ? ", " : "", QK_NAME_LEN, d->name,
			d->status < QK_DS_COUNT ? ds_names[d->status] : "?",
			d->code < QK_PC_COUNT ? pc_names[d->code] : "?",
			c >= 0 && cfg->device[c].critical ? " (critical)" : "");
	}
	/* a device the profile expects that the report does not hold at all */
	for (uint32_t k = 0; k < cfg->n_devices && k < QK_MAX_DEVICES; k++) {
		bool found = false;

		for (uint32_t i = 0; i < n && !found; i++)
			found = !strncmp(b->device[i].name, cfg->device[k].name, QK_NAME_LEN);
		if (found)
			continue;
		if (!bad++)
			fprintf(out, "  POST #%llu failed: ", (unsigned long long)b->post_count);
		fprintf(out, "%s%.*s missing from the report%s", bad > 1 ? ", " : "", QK_NAME_LEN,
			cfg->device[k].name, cfg->device[k].critical ? " (critical)" : "");
	}
	if (bad)
		fputc('\n', out);
	else
		fprintf(out, "  POST #%llu: all %u devices OK\n", (unsigned long long)b->post_count, n);
	return bad;
}

void qk_report_summary(struct qk_seg *s, const struct qk_report_acc *a, const char *instance,
		       const struct qk_config *cfg, const char *rt_note)
{
	struct qk_agent_status st, scratch;
	struct qk_sim_status ss, sscratch;
	static struct qk_bios_report bios, bscratch;

	memset(&bios, 0, sizeof(bios));
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
	qk_mbox_read(s->bios, &bios, &bscratch);
	qk_report_post(stdout, &bios, cfg);
	printf("  sensor stream hash %016llx over %llu cycles\n",
	       (unsigned long long)ss.stream_hash, (unsigned long long)ss.cycle + 1);
}
