/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ctl/list.c - the instances on this machine; see ctl/list.h. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/json.h"
#include "ctl/list.h"
#include "rt/agent/fsm.h"
#include "rt/rt.h"

static const char *const health_names[QK_LH_COUNT] = {
	"ok", "partial", "stuck", "stale", "unreadable"
};
static const char *const proc_names[QK_PROC_COUNT] = { "sim", "agent", "telemetry", "launcher" };

const char *qk_list_health_name(uint32_t h)
{
	return h < QK_LH_COUNT ? health_names[h] : "?";
}

/* The same allowance as `qikictl status`: ten cycles, and a VM's worst
 * spikes of silence, before a held slot without a heartbeat counts. */
static bool beating(const struct qk_seg *s, int64_t age)
{
	return age >= 0 && age <= 10 * s->period_ns + 200 * 1000000ll;
}

/* Another instance's segment truncated while we read it (a hostile or
 * broken peer) raises SIGBUS: that entry becomes unreadable, the listing
 * goes on.  The handler is ours only while one segment is read. */
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t reading;

static void on_bus(int sig)
{
	if (reading)
		siglongjmp(bus_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void read_seg(struct qk_list_entry *v, struct qk_seg *s)
{
	static struct qk_agent_status st, scratch;	/* 2 kB: off the stack */
	int64_t now = qk_now_ns();
	bool any = qk_seg_any_alive(s);

	v->health = any ? QK_LH_OK : QK_LH_STALE;
	for (int p = 0; p < QK_PROC_COUNT; p++) {
		int64_t hb = qk_load_relaxed(&s->stats[p].heartbeat_ns);
		bool alive = qk_seg_alive(s, p);

		v->pid[p] = alive ? qk_load_relaxed(&s->stats[p].pid) : 0;
		v->heartbeat_age_ns[p] = hb ? now - hb : -1;
		if (!any || (p != QK_PROC_SIM && p != QK_PROC_AGENT))
			continue;
		if (!alive && v->health == QK_LH_OK)
			v->health = QK_LH_PARTIAL;
		else if (alive && !beating(s, v->heartbeat_age_ns[p]))
			v->health = QK_LH_STUCK;
	}
	v->rate_hz = s->config->rate_hz;	/* the private copy attach made */
	memcpy(v->profile, s->config->profile, sizeof(v->profile));
	v->profile[QK_NAME_LEN - 1] = 0;
	memset(&st, 0, sizeof(st));
	qk_mbox_read(s->agent_status, &st, &scratch);
	v->state = st.state;
	v->uptime_ns = now > s->epoch_ns ? now - s->epoch_ns : 0;
}

int qk_list_read(struct qk_list_entry *v, const char *name)
{
	static struct qk_seg s;	/* static: intact across the siglongjmp */
	struct sigaction sa = { .sa_handler = on_bus }, old;

	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->err = qk_seg_attach(&s, name, 0);
	if (v->err) {
		v->health = QK_LH_UNREADABLE;
		snprintf(v->why, sizeof(v->why), "%s", s.err);
		return v->err;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jmp, 1)) {
		reading = 0;
		v->err = -EFAULT;
		v->health = QK_LH_UNREADABLE;
		snprintf(v->why, sizeof(v->why), "/dev/shm%s was truncated while being read",
			 s.path);
	} else {
		reading = 1;
		read_seg(v, &s);
		reading = 0;
	}
	sigaction(SIGBUS, &old, NULL);
	qk_seg_detach(&s);
	return v->err;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct qk_list_entry *)a)->name, ((const struct qk_list_entry *)b)->name);
}

int qk_list_scan(struct qk_list_entry *v, int max)
{
	char (*names)[QK_SEG_NAME_MAX] = calloc((size_t)(max > 0 ? max : 1), QK_SEG_NAME_MAX);
	int n;

	if (!names)
		return -ENOMEM;
	n = qk_seg_names(names, max);
	for (int i = 0; i < n && i < max; i++)
		qk_list_read(&v[i], names[i]);
	free(names);
	qsort(v, (size_t)(n < max ? n : max), sizeof(*v), by_name);
	return n;
}

static void pids_text(const struct qk_list_entry *e, char *b, size_t n)
{
	size_t k = 0;

	b[0] = 0;
	for (int p = 0; p < QK_PROC_COUNT && k < n; p++) {
		int w;

		if (!e->pid[p])
			continue;
		w = snprintf(b + k, n - k, "%s%s:%d", k ? "," : "", proc_names[p], (int)e->pid[p]);
		k = w < 0 ? k : k + (size_t)w;
	}
	if (!b[0])
		snprintf(b, n, "-");
}

static void uptime_text(int64_t ns, char *b, size_t n)
{
	long long s = (long long)(ns / QK_NSEC);

	if (s < 3600)
		snprintf(b, n, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(b, n, "%lldh%02lldm", s / 3600, s / 60 % 60);
}

void qk_list_print(FILE *out, const struct qk_list_entry *v, int n, bool json)
{
	struct qk_json j;
	int w = 16;	/* the names' column: as wide as the longest */

	for (int i = 0; i < n; i++)
		w = (int)strlen(v[i].name) > w ? (int)strlen(v[i].name) : w;
	if (json) {
		qk_json_begin(&j, out);
		qk_json_arr(&j, "instances");
	} else if (n) {
		fprintf(out, "%-*s %-10s %6s %-8s %-8s %8s  %s\n", w, "INSTANCE", "HEALTH", "RATE",
			"PROFILE", "STATE", "UPTIME", "PIDS");
	} else {
		fprintf(out, "no qiki instance on this machine ('qiki run --instance NAME' starts one)\n");
	}
	for (int i = 0; i < n; i++) {
		const struct qk_list_entry *e = &v[i];
		bool seen = !e->err;
		/* a dead agent's state is the last it published: say so */
		bool last = seen && !e->pid[QK_PROC_AGENT];

		if (json) {
			qk_json_obj(&j, NULL);
			qk_json_str(&j, "instance", e->name);
			qk_json_str(&j, "health", qk_list_health_name(e->health));
			qk_json_bool(&j, "stale", e->health == QK_LH_STALE || e->health == QK_LH_STUCK);
			if (!seen) {
				qk_json_str(&j, "error", e->why);
				qk_json_close(&j);
				continue;
			}
			qk_json_u64(&j, "rate_hz", e->rate_hz);
			qk_json_strn(&j, "profile", e->profile, sizeof(e->profile));
			qk_json_str(&j, "state", qk_fsm_state_name(e->state));
			qk_json_bool(&j, "state_is_last_seen", last);
			qk_json_f64(&j, "uptime_s", (double)e->uptime_ns / 1e9);
			qk_json_obj(&j, "pids");
			for (int p = 0; p < QK_PROC_COUNT; p++)
				if (e->pid[p])
					qk_json_i64(&j, proc_names[p], e->pid[p]);
			qk_json_close(&j);
			qk_json_obj(&j, "heartbeat_age_ms");	/* null: never beat */
			for (int p = QK_PROC_SIM; p <= QK_PROC_AGENT; p++)
				qk_json_f64(&j, proc_names[p], e->heartbeat_age_ns[p] < 0 ? NAN :
					    (double)e->heartbeat_age_ns[p] / 1e6);
			qk_json_close(&j);
			qk_json_close(&j);
			continue;
		}
		if (!seen) {
			fprintf(out, "%-*s %-10s %s\n", w, e->name, qk_list_health_name(e->health), e->why);
			continue;
		}
		char pids[96], up[24], state[16];

		pids_text(e, pids, sizeof(pids));
		uptime_text(e->uptime_ns, up, sizeof(up));
		snprintf(state, sizeof(state), "%s%s", qk_fsm_state_name(e->state), last ? "?" : "");
		fprintf(out, "%-*s %-10s %6u %-8.*s %-8s %8s  %s\n", w, e->name,
			qk_list_health_name(e->health), e->rate_hz, QK_NAME_LEN, e->profile, state,
			up, pids);
	}
	if (json) {
		qk_json_close(&j);
		qk_json_end(&j);
	} else if (n) {
		bool any_last = false, any_stale = false;

		for (int i = 0; i < n; i++) {
			any_last |= !v[i].err && !v[i].pid[QK_PROC_AGENT];
			any_stale |= v[i].health == QK_LH_STALE;
		}
		if (any_last)
			fprintf(out, "STATE?: the agent is not running; the state it last published\n");
		if (any_stale)
			fprintf(out, "stale: no process holds it; 'qiki run --instance NAME' reclaims it\n");
	}
}
