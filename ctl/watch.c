/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ctl/watch.c - qikictl's live view; see ctl/watch.h. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "ctl/watch.h"
#include "rt/agent/fsm.h"
#include "rt/agent/rules.h"
#include "rt/rt.h"

/* One sample: what both outputs print, read once. */
struct sample {
	struct qk_agent_status st;
	struct qk_sensor_frame f;
	int64_t t_ns;
	uint64_t overruns[2];
	double wake_p99_us[2], wake_avg_us[2], s2a_p99_us, s2a_avg_us;
	char why[QK_REASON_LEN];
};

static const char *const loop_names[2] = { "sim", "agent" };

static void take(struct qk_seg *s, struct sample *x)
{
	static struct qk_agent_status scratch;
	struct qk_ring_reader rd;

	memset(x, 0, sizeof(*x));
	qk_mbox_read(s->agent_status, &x->st, &scratch);
	qk_ring_reader_init(&rd, s->sensors, QK_RING_FROM_OLDEST);
	qk_ring_read_newest(&rd, &x->f);
	x->t_ns = qk_now_ns();
	for (int p = QK_PROC_SIM; p <= QK_PROC_AGENT; p++) {
		const struct qk_proc_stats *ps = &s->stats[p];

		x->overruns[p] = qk_load_relaxed((_Atomic uint64_t *)&ps->overruns);
		x->wake_p99_us[p] = (double)qk_hist_quantile(&ps->wake_latency, 0.99) / 1e3;
		x->wake_avg_us[p] = (double)qk_hist_mean(&ps->wake_latency) / 1e3;
	}
	x->s2a_p99_us = (double)qk_hist_quantile(&s->stats[QK_PROC_AGENT].s2a, 0.99) / 1e3;
	x->s2a_avg_us = (double)qk_hist_mean(&s->stats[QK_PROC_AGENT].s2a) / 1e3;
	/* the rule hit is data; qk_rules_why() bounds what it reads of it */
	qk_rules_why(s->config, &x->st.active.hit, x->why);
}

static uint32_t n_thermal(const struct sample *x)
{
	return x->f.n_thermal < QK_MAX_THERMAL ? x->f.n_thermal : QK_MAX_THERMAL;
}

#define COLS 79	/* an 80-column terminal, the cursor after the line */

/* One line, cut at COLS: whatever the figures and names, a line never wraps
 * (a wrapped line would scroll the redrawn screen). */
static void line(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(FILE *out, const char *fmt, ...)
{
	char b[COLS + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	fprintf(out, "%s\n", b);
}

static void text(FILE *out, const struct qk_seg *s, const char *instance, const struct sample *x)
{
	const struct qk_sensor_frame *f = &x->f;
	char b[COLS + 1] = "thermal  ";
	size_t k = strlen(b);

	line(out, "qiki %s  cycle %llu  state %s  %s", instance, (unsigned long long)f->cycle,
	     qk_fsm_state_name(x->st.state), x->st.all_systems_go ? "BIOS ok" : "BIOS NOT OK");
	line(out, "position  %8.3f %8.3f %8.3f m", f->pos_m[0], f->pos_m[1], f->pos_m[2]);
	line(out, "setpoint  %8.3f %8.3f %8.3f m", x->st.setpoint_m[0], x->st.setpoint_m[1],
	     x->st.setpoint_m[2]);
	line(out, "velocity  %8.3f %8.3f %8.3f m/s", f->vel_mps[0], f->vel_mps[1], f->vel_mps[2]);
	line(out, "tank      %6.2f bar  propellant %.3f kg", f->tank_bar, f->propellant_kg);
	line(out, "battery   %.2f V  %.1f%%  %.2f A", f->batt_v, 100 * f->batt_soc, f->batt_a);
	/* as many nodes a line as fit */
	for (uint32_t i = 0; i < n_thermal(x); i++) {
		char node[64];
		int w = snprintf(node, sizeof(node), " %.*s %.1f K", QK_NAME_LEN,
				 s->config->thermal[i].name, f->temp_k[i]);

		if (w > 0 && k + (size_t)w > COLS && k > 9) {
			line(out, "%s", b);
			snprintf(b, sizeof(b), "         ");
			k = 9;
		}
		snprintf(b + k, sizeof(b) - k, "%s", node);
		k = strlen(b);
	}
	line(out, "%s", b);
	for (int p = 0; p < 2; p++)
		line(out, "%-9s overruns %llu  wake us avg %.1f p99 %.1f", loop_names[p],
		     (unsigned long long)x->overruns[p], x->wake_avg_us[p], x->wake_p99_us[p]);
	line(out, "s2a       us avg %.1f p99 %.1f", x->s2a_avg_us, x->s2a_p99_us);
	line(out, "proposal  %s", x->why[0] ? x->why : "-");
}

static void json(FILE *out, const struct qk_seg *s, const char *instance, const struct sample *x)
{
	const struct qk_sensor_frame *f = &x->f;
	struct qk_json j;

	qk_json_begin(&j, out);
	qk_json_str(&j, "instance", instance);
	qk_json_f64(&j, "time_s", (double)(x->t_ns - s->epoch_ns) / 1e9);
	qk_json_u64(&j, "cycle", f->cycle);
	qk_json_str(&j, "state", qk_fsm_state_name(x->st.state));
	qk_json_bool(&j, "bios_ok", x->st.all_systems_go);
	qk_json_vec(&j, "position_m", f->pos_m);
	qk_json_vec(&j, "setpoint_m", x->st.setpoint_m);
	qk_json_vec(&j, "velocity_mps", f->vel_mps);
	qk_json_f64(&j, "tank_bar", f->tank_bar);
	qk_json_f64(&j, "propellant_kg", f->propellant_kg);
	qk_json_f64(&j, "battery_v", f->batt_v);
	qk_json_f64(&j, "battery_soc", f->batt_soc);
	qk_json_f64(&j, "battery_a", f->batt_a);
	qk_json_obj(&j, "thermal_k");
	for (uint32_t i = 0; i < n_thermal(x); i++) {
		char name[QK_NAME_LEN];

		memcpy(name, s->config->thermal[i].name, sizeof(name));
		name[QK_NAME_LEN - 1] = 0;
		qk_json_f64(&j, name, f->temp_k[i]);
	}
	qk_json_close(&j);
	for (int p = 0; p < 2; p++) {
		qk_json_obj(&j, loop_names[p]);
		qk_json_u64(&j, "overruns", x->overruns[p]);
		qk_json_f64(&j, "wake_avg_us", x->wake_avg_us[p]);
		qk_json_f64(&j, "wake_p99_us", x->wake_p99_us[p]);
		qk_json_close(&j);
	}
	qk_json_f64(&j, "s2a_avg_us", x->s2a_avg_us);
	qk_json_f64(&j, "s2a_p99_us", x->s2a_p99_us);
	qk_json_str(&j, "proposal", x->why);
	qk_json_end(&j);
}

int qk_ctl_watch(struct qk_seg *s, const char *instance, bool as_json, double interval_s,
		 volatile sig_atomic_t *stop)
{
	static struct sample x;
	bool tty = !as_json && isatty(fileno(stdout));

	while (!*stop) {
		if (!qk_seg_any_alive(s)) {
			if (as_json) {
				struct qk_json j;

				qk_json_begin(&j, stdout);
				qk_json_str(&j, "instance", instance);
				qk_json_bool(&j, "stopped", true);
				qk_json_end(&j);
			} else {
				printf("\ninstance '%s' stopped\n", instance);
			}
			fflush(stdout);
			return 0;
		}
		if (qk_seg_verify(s) >= 0)
			return -EPROTO;
		take(s, &x);
		if (tty)
			printf("\033[H\033[2J");	/* home, clear: plain ANSI, fine under tmux */
		if (as_json) {
			json(stdout, s, instance, &x);
		} else {
			text(stdout, s, instance, &x);
			if (!tty)
				printf("\n");
		}
		fflush(stdout);
		usleep((useconds_t)(interval_s * 1e6));
	}
	return 0;
}

void qk_ctl_last_seen_text(FILE *out, int64_t age_ns)
{
	if (age_ns == -1)
		return;
	if (age_ns < 0)
		fprintf(out, "           the agent never ran: no state was published\n");
	else
		fprintf(out, "           last seen %.1f s ago: the agent is not running, this is the "
			"last state it published\n", (double)age_ns / 1e9);
}

void qk_ctl_last_seen_json(struct qk_json *j, int64_t age_ns)
{
	qk_json_bool(j, "state_is_last_seen", age_ns != -1);
	if (age_ns >= 0)
		qk_json_f64(j, "state_seen_age_s", (double)age_ns / 1e9);
	else if (age_ns != -1)
		qk_json_f64(j, "state_seen_age_s", -1);
}
