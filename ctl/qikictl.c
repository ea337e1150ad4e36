/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * qikictl: inspect a running qiki instance and change its agent's state.
 *
 * An ordinary process: it attaches to the segment, only reads the rings and
 * mailboxes, and sends requests through the bounded command queues, so
 * however often it runs it cannot move the loop's timing.
 *
 * Exit codes: 0 ok, 1 usage, 2 no such instance or an incompatible segment,
 * 3 refused by the loop, 4 no answer in time, 5 (status) a loop process is
 * dead or stuck.
 */
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ctl/client.h"
#include "ctl/ctlargs.h"
#include "ctl/json.h"
#include "ctl/link.h"
#include "ctl/list.h"
#include "ctl/watch.h"
#include "ctl/param.h"
#include "rt/cli.h"
#include "rt/agent/fsm.h"
#include "rt/agent/rules.h"
#include "rt/proc.h"

enum { EX_OK, EX_USAGE, EX_INSTANCE, EX_REFUSED, EX_TIMEOUT, EX_UNHEALTHY };

struct ctl {
	const char *instance;
	bool json;
	double timeout_s;
	double interval_s;
	struct qk_seg seg;
	bool attached;
	int argc;		/* positionals after the command name */
	char **argv;
};

struct cmd {
	const char *name, *args, *help;
	int min, max;		/* positional arguments */
	int (*run)(struct ctl *c);
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_err(const char *fmt, ...)
{
	va_list ap;

	fputs("qikictl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EX_USAGE;
}

#define fault_kinds qk_ctl_fault_kinds
static const char *const dev_types[QK_DEV_TYPE_COUNT] = {
	"sensor", "actuator", "power", "comms", "controller"
};
static const char *const dev_status[QK_DS_COUNT] = { "OK", "WARNING", "ERROR", "NOT_FOUND" };
static const char *const post_codes[QK_PC_COUNT] = {
	"-", "COMPONENT_NOT_FOUND", "UNSTABLE_READINGS", "TIMEOUT_RESPONSE", "CRITICAL_BOOT_FAILURE",
	"HIL_REFUSED"
};
static const char *const proc_names[QK_PROC_COUNT] = { "sim", "agent", "telemetry", "launcher" };

static const char *name_of(const char *const *t, unsigned n, unsigned i)
{
	return i < n && t[i] ? t[i] : "?";
}

/* Permission denied: the segment is its group's (qiki run --group); say
 * which group to join rather than a bare EACCES. */
static void access_hint(const char *instance)
{
	char path[128];
	struct stat st;
	struct group *g;

	snprintf(path, sizeof(path), "/dev/shm/qiki.%s", instance);
	if (stat(path, &st) || !(g = getgrgid(st.st_gid)) || st.st_gid == 0) {
		fprintf(stderr, "qikictl: run it as the user who started the instance, or start "
			"the instance with 'qiki run --group GROUP' and join that group\n");
		return;
	}
	fprintf(stderr, "qikictl: %s belongs to group '%s' (mode %03o): join the group to use "
		"qikictl without root ('sudo usermod -aG %s $USER', then log in again)\n",
		path, g->gr_name, (unsigned)(st.st_mode & 0777), g->gr_name);
}

static int attach(struct ctl *c)
{
	struct qk_sigbus_plan bus = { .prog = "qikictl", .shm_name = c->seg.path,
				      .status = EX_INSTANCE };
	int ret = qk_seg_attach(&c->seg, c->instance, 0);

	qk_proc_catch_sigbus(&bus);	/* a truncated segment: exit 2, said */
	c->attached = !ret;
	if (ret) {
		fprintf(stderr, "qikictl: %s\n", c->seg.err);
		if (ret == -EACCES)
			access_hint(c->instance);
		return EX_INSTANCE;
	}
	if (!qk_seg_any_alive(&c->seg)) {
		fprintf(stderr, "qikictl: instance '%s' is stale: no process runs it (left by a run "
			"that died); 'qiki run --instance %s' reclaims it\n", c->instance, c->instance);
		return EX_INSTANCE;
	}
	return EX_OK;
}

/* The segment is untrusted: if it no longer holds what attach checked,
 * name the region and stop (exit 2), rather than show what it says. */
static void check_seg(struct ctl *c)
{
	if (qk_seg_verify(&c->seg) >= 0) {
		fprintf(stderr, "qikictl: %s\n", c->seg.err);
		exit(EX_INSTANCE);
	}
}

static void read_agent(struct ctl *c, struct qk_agent_status *st)
{
	static struct qk_agent_status scratch;

	check_seg(c);
	memset(st, 0, sizeof(*st));
	qk_mbox_read(c->seg.agent_status, st, &scratch);
	/* the proposal is a rule hit, not text: qk_rules_why() bounds what it
	 * reads of it (names by the configuration, indices checked) */
}

/* The agent's pick in words: it publishes the rule hit as data, we word it. */
static const char *proposal_words(const struct ctl *c, const struct qk_agent_status *st,
				  char why[QK_REASON_LEN])
{
	qk_rules_why(c->seg.config, &st->active.hit, why);
	return why;
}

static void read_sim(struct ctl *c, struct qk_sim_status *st)
{
	static struct qk_sim_status scratch;

	check_seg(c);
	memset(st, 0, sizeof(*st));
	qk_mbox_read(c->seg.sim_status, st, &scratch);
}

static void read_bios(struct ctl *c, struct qk_bios_report *b)
{
	static struct qk_bios_report scratch;

	check_seg(c);
	memset(b, 0, sizeof(*b));
	qk_mbox_read(c->seg.bios, b, &scratch);
	for (int i = 0; i < QK_MAX_DEVICES; i++)
		b->device[i].name[QK_NAME_LEN - 1] = '\0';
}

static bool newest_frame(struct ctl *c, struct qk_sensor_frame *f)
{
	struct qk_ring_reader rd;

	memset(f, 0, sizeof(*f));
	qk_ring_reader_init(&rd, c->seg.sensors, QK_RING_FROM_OLDEST);
	return qk_ring_read_newest(&rd, f);
}

/* Sends one request; maps the outcome to an exit code and prints refusals. */
static int send(struct ctl *c, enum qk_ctl_target t, struct qk_cmd *cmd, struct qk_reply *r)
{
	int ret = qk_ctl_request(&c->seg, t, cmd, (int64_t)(c->timeout_s * 1e9), r);

	if (ret == -ESRCH) {
		fprintf(stderr, "qikictl: the %s of instance '%s' is not running\n",
			t == QK_CTL_SIM ? "simulator" : "agent", c->instance);
		return EX_INSTANCE;
	}
	if (ret == -ETIMEDOUT || ret == -EINPROGRESS) {
		fprintf(stderr, "qikictl: no answer from the %s within %.1f s; %s\n",
			t == QK_CTL_SIM ? "simulator" : "agent", c->timeout_s, ret == -ETIMEDOUT ?
			"the request expired untaken and can no longer be applied" :
			"it took the request before it expired, so it may have been applied");
		return EX_TIMEOUT;
	}
	if (ret) {
		fprintf(stderr, "qikictl: request failed: %s\n",
			ret == -EPROTO ? c->seg.err : strerror(-ret));
		return EX_INSTANCE;
	}
	if (r->status != QK_REPLY_ACCEPTED) {
		if (c->json) {
			struct qk_json j;

			qk_json_begin(&j, stdout);
			qk_json_str(&j, "result", "refused");
			qk_json_u64(&j, "id", r->id);
			qk_json_str(&j, "reason", r->reason);
			qk_json_end(&j);
		}
		fprintf(stderr, "qikictl: refused: %s\n", r->reason);
		return EX_REFUSED;
	}
	return EX_OK;
}

static double us(int64_t ns)
{
	return (double)ns / 1000.0;
}

static int64_t age_ns(const struct qk_proc_stats *p)
{
	int64_t hb = qk_load_relaxed((_Atomic int64_t *)&p->heartbeat_ns);

	return hb ? qk_now_ns() - hb : -1;
}

/* ---- status ------------------------------------------------------------ */

/* A loop process that holds its slot but whose heartbeat stopped (frozen by
 * SIGSTOP, a debugger, a hung device) is stuck, not alive.  The heartbeat is
 * written every cycle; ten cycles and a VM's worst spikes of silence are
 * allowed before it counts. */
static const char *liveness(struct ctl *c, int p, bool *bad)
{
	struct qk_proc_stats *ps = &c->seg.stats[p];
	int64_t age = age_ns(ps), limit = 10 * c->seg.period_ns + 200 * 1000000ll;
	bool loop = p == QK_PROC_SIM || p == QK_PROC_AGENT;

	if (!qk_seg_alive(&c->seg, p)) {
		*bad |= loop;
		return "DEAD";
	}
	if (loop && (age < 0 || age > limit)) {
		*bad = true;
		return "STUCK";
	}
	return "alive";
}

/* How long ago the agent's state was last published, or -1 while the
 * agent runs (its state is current); -2 when it never beat. */
static int64_t agent_seen(struct ctl *c)
{
	if (qk_seg_alive(&c->seg, QK_PROC_AGENT))
		return -1;
	int64_t age = age_ns(&c->seg.stats[QK_PROC_AGENT]);

	return age < 0 ? -2 : age;
}

static int cmd_status(struct ctl *c)
{
	struct qk_agent_status st;
	struct qk_sim_status ss;
	struct qk_sensor_frame f;
	int64_t now = qk_now_ns();
	bool bad = false;
	char why[QK_REASON_LEN];

	if (attach(c))
		return EX_INSTANCE;
	read_agent(c, &st);
	read_sim(c, &ss);
	newest_frame(c, &f);
	if (c->json) {
		struct qk_json j;

		qk_json_begin(&j, stdout);
		qk_json_str(&j, "instance", c->instance);
		qk_json_u64(&j, "generation", c->seg.hdr->generation);
		qk_json_u64(&j, "rate_hz", c->seg.config->rate_hz);
		qk_json_obj(&j, "processes");
		for (int p = 0; p < QK_PROC_COUNT; p++) {
			struct qk_proc_stats *ps = &c->seg.stats[p];

			qk_json_obj(&j, proc_names[p]);
			qk_json_i64(&j, "pid", qk_load_relaxed(&ps->pid));
			const char *life = liveness(c, p, &bad);

			qk_json_bool(&j, "alive", !strcmp(life, "alive"));
			qk_json_bool(&j, "stuck", !strcmp(life, "STUCK"));
			qk_json_f64(&j, "heartbeat_age_ms", (double)age_ns(ps) / 1e6);
			qk_json_bool(&j, "real_time", qk_load_relaxed(&ps->flags) & QK_PROCF_RT);
			qk_json_u64(&j, "cycles", qk_load_relaxed(&ps->cycles));
			qk_json_u64(&j, "overruns", qk_load_relaxed(&ps->overruns));
			qk_json_u64(&j, "frames_lost", qk_load_relaxed(&ps->frames_lost));
			qk_json_f64(&j, "wake_avg_us", us(qk_hist_mean(&ps->wake_latency)));
			qk_json_f64(&j, "wake_p50_us", us(qk_hist_quantile(&ps->wake_latency, 0.5)));
			qk_json_f64(&j, "wake_p99_us", us(qk_hist_quantile(&ps->wake_latency, 0.99)));
			qk_json_f64(&j, "wake_max_us", us(qk_hist_max(&ps->wake_latency)));
			qk_json_close(&j);
		}
		qk_json_close(&j);
		qk_json_obj(&j, "commands");
		qk_json_u64(&j, "agent_taken", qk_load_relaxed(&c->seg.agent_cmdq->q->taken));
		qk_json_u64(&j, "agent_abandoned", qk_load_relaxed(&c->seg.agent_cmdq->q->abandoned));
		qk_json_u64(&j, "sim_taken", qk_load_relaxed(&c->seg.sim_cmdq->q->taken));
		qk_json_u64(&j, "sim_abandoned", qk_load_relaxed(&c->seg.sim_cmdq->q->abandoned));
		qk_json_close(&j);
		qk_json_str(&j, "state", qk_fsm_state_name(st.state));
		qk_ctl_last_seen_json(&j, agent_seen(c));
		qk_json_f64(&j, "in_state_s", (double)(now - st.state_since_ns) / 1e9);
		qk_json_str(&j, "reason", qk_trigger_name(st.safe_reason));
		qk_json_bool(&j, "all_systems_go", st.all_systems_go);
		qk_json_f64(&j, "health", st.health);
		qk_json_str(&j, "proposal", proposal_words(c, &st, why));
		qk_json_vec(&j, "setpoint_m", st.setpoint_m);
		qk_json_vec(&j, "position_m", f.pos_m);
		qk_json_vec(&j, "velocity_mps", f.vel_mps);
		qk_json_u64(&j, "cycle", f.cycle);
		qk_json_bool(&j, "watchdog_safe", ss.watchdog_safe);
		qk_json_f64(&j, "s2a_avg_us", us(qk_hist_mean(&c->seg.stats[QK_PROC_AGENT].s2a)));
		qk_json_f64(&j, "s2a_p50_us", us(qk_hist_quantile(&c->seg.stats[QK_PROC_AGENT].s2a, 0.5)));
		qk_json_f64(&j, "s2a_p99_us", us(qk_hist_quantile(&c->seg.stats[QK_PROC_AGENT].s2a, 0.99)));
		qk_json_bool(&j, "healthy", !bad);
		qk_json_end(&j);
		return bad ? EX_UNHEALTHY : EX_OK;
	}
	printf("instance   %s (%u Hz, profile %s)\n", c->instance, c->seg.config->rate_hz,
	       c->seg.config->profile);
	for (int p = 0; p < QK_PROC_COUNT; p++) {
		struct qk_proc_stats *ps = &c->seg.stats[p];
		const char *life = liveness(c, p, &bad);

		if (p >= QK_PROC_TELEMETRY && (strcmp(life, "alive") || !qk_load_relaxed(&ps->cycles)))
			continue;	/* the launcher runs no loop */
		printf("%-10s pid %-7d %-5s heartbeat %.1f ms ago  %s  cycles %llu  overruns %llu  "
		       "lost %llu  wake us avg %.1f p50 %.1f p99 %.1f max %.1f\n", proc_names[p],
		       (int)qk_load_relaxed(&ps->pid), life,
		       (double)age_ns(ps) / 1e6,
		       qk_load_relaxed(&ps->flags) & QK_PROCF_RT ? "SCHED_FIFO" : "not-rt",
		       (unsigned long long)qk_load_relaxed(&ps->cycles),
		       (unsigned long long)qk_load_relaxed(&ps->overruns),
		       (unsigned long long)qk_load_relaxed(&ps->frames_lost),
		       us(qk_hist_mean(&ps->wake_latency)), us(qk_hist_quantile(&ps->wake_latency, 0.5)),
		       us(qk_hist_quantile(&ps->wake_latency, 0.99)),
		       us(qk_hist_max(&ps->wake_latency)));
	}
	printf("state      %s for %.1f s%s%s\n", qk_fsm_state_name(st.state),
	       (double)(now - st.state_since_ns) / 1e9,
	       st.state == QK_ST_SAFE || st.state == QK_ST_ERROR ? ", reason " : "",
	       st.state == QK_ST_SAFE || st.state == QK_ST_ERROR ? qk_trigger_name(st.safe_reason) : "");
	qk_ctl_last_seen_text(stdout, agent_seen(c));
	printf("bios       %s, health %.2f\n", st.all_systems_go ? "all systems go" : "NOT OK", st.health);
	printf("proposal   %s\n", proposal_words(c, &st, why)[0] ? why : "-");
	printf("setpoint   %.3f %.3f %.3f m\n", st.setpoint_m[0], st.setpoint_m[1], st.setpoint_m[2]);
	printf("position   %.3f %.3f %.3f m  velocity %.3f %.3f %.3f m/s  cycle %llu%s\n",
	       f.pos_m[0], f.pos_m[1], f.pos_m[2], f.vel_mps[0], f.vel_mps[1], f.vel_mps[2],
	       (unsigned long long)f.cycle, ss.watchdog_safe ? "  WATCHDOG: safe actuation" : "");
	printf("s2a        us avg %.1f p50 %.1f p99 %.1f max %.1f\n",
	       us(qk_hist_mean(&c->seg.stats[QK_PROC_AGENT].s2a)),
	       us(qk_hist_quantile(&c->seg.stats[QK_PROC_AGENT].s2a, 0.5)),
	       us(qk_hist_quantile(&c->seg.stats[QK_PROC_AGENT].s2a, 0.99)),
	       us(qk_hist_max(&c->seg.stats[QK_PROC_AGENT].s2a)));
	if (bad)
		fprintf(stderr, "qikictl: a loop process is dead or stuck (see above)\n");
	return bad ? EX_UNHEALTHY : EX_OK;
}

/* ---- state ------------------------------------------------------------- */

/* Whether the agent is in `want`, or passed through it after transition
 * number `since`: a state that lasts one tick (BOOTING, when the BIOS check
 * passes at once) is seen in the history, however late we look.  The
 * history keeps the last QK_MAX_TRANSITIONS; the loop is bounded by that. */
static bool reached(struct ctl *c, uint32_t want, uint64_t since, struct qk_agent_status *st)
{
	read_agent(c, st);
	if (st->state == want)
		return true;
	uint64_t n = st->n_transitions;

	if (n < since)
		since = 0;	/* a replacement agent: its history starts anew */
	uint64_t k = n - since > QK_MAX_TRANSITIONS ? n - QK_MAX_TRANSITIONS : since;

	for (; k < n; k++)
		if (st->trans[k % QK_MAX_TRANSITIONS].to == want)
			return true;
	return false;
}

static int cmd_state(struct ctl *c)
{
	struct qk_agent_status st;
	int target = c->argc ? qk_fsm_state_parse(c->argv[0]) : 0;

	if (target < 0)
		return usage_err("state '%s': expected BOOTING, IDLE, ACTIVE, SAFE, SHUTDOWN or RESET",
				 c->argv[0]);
	if (attach(c))
		return EX_INSTANCE;
	if (c->argc == 0) {
		read_agent(c, &st);
		if (c->json) {
			struct qk_json j;

			qk_json_begin(&j, stdout);
			qk_json_str(&j, "state", qk_fsm_state_name(st.state));
			qk_json_str(&j, "reason", qk_trigger_name(st.safe_reason));
			qk_json_end(&j);
		} else {
			printf("%s\n", qk_fsm_state_name(st.state));
		}
		return EX_OK;
	}
	struct qk_cmd cmd = { .type = QK_CMD_STATE, .u = { (uint32_t)target } };
	struct qk_reply r;
	uint64_t since;
	int ret;

	read_agent(c, &st);
	since = st.n_transitions;	/* transitions from here on answer us */
	ret = send(c, QK_CTL_AGENT, &cmd, &r);
	if (ret)
		return ret;
	/* accepted: wait until the state is reached (RESET lands in IDLE) */
	uint32_t want = target == QK_ST_COUNT ? QK_ST_IDLE : (uint32_t)target;
	int64_t deadline = qk_now_ns() + (int64_t)(c->timeout_s * 1e9);

	while (!reached(c, want, since, &st)) {
		if (qk_now_ns() > deadline) {
			fprintf(stderr, "qikictl: accepted, but the agent has not been %s in %.1f s "
				"(it is %s)\n", qk_fsm_state_name(want), c->timeout_s,
				qk_fsm_state_name(st.state));
			return EX_TIMEOUT;
		}
		usleep(2000);
	}
	if (c->json) {
		struct qk_json j;

		qk_json_begin(&j, stdout);
		qk_json_str(&j, "result", "accepted");
		qk_json_u64(&j, "id", r.id);
		qk_json_str(&j, "state", qk_fsm_state_name(want));
		qk_json_str(&j, "now", qk_fsm_state_name(st.state));
		qk_json_end(&j);
	} else {
		printf("%s\n", qk_fsm_state_name(want));
	}
	return EX_OK;
}

static int accepted(struct ctl *c, const struct qk_reply *r, const char *what)
{
	if (c->json) {
		struct qk_json j;

		qk_json_begin(&j, stdout);
		qk_json_str(&j, "result", "accepted");
		qk_json_u64(&j, "id", r->id);
		qk_json_end(&j);
	} else {
		printf("%s\n", what);
	}
	return EX_OK;
}

static int cmd_setpoint(struct ctl *c)
{
	struct qk_cmd cmd = { .type = QK_CMD_SETPOINT };
	struct qk_reply r;
	char what[128];

	char err[256];

	if (qk_ctlargs_setpoint(c->argv, cmd.arg, err, sizeof(err)))
		return usage_err("%s", err);
	if (attach(c))
		return EX_INSTANCE;
	int ret = send(c, QK_CTL_AGENT, &cmd, &r);

	if (ret)
		return ret;
	snprintf(what, sizeof(what), "setpoint %.3f %.3f %.3f m", cmd.arg[0], cmd.arg[1], cmd.arg[2]);
	return accepted(c, &r, what);
}

/* ---- faults and devices ------------------------------------------------ */

static bool known_device(struct ctl *c, const char *name)
{
	const struct qk_config *cfg = c->seg.config;

	for (uint32_t i = 0; i < cfg->n_devices && i < QK_MAX_DEVICES; i++)
		if (!strncmp(cfg->device[i].name, name, QK_NAME_LEN))
			return true;
	return false;
}

static int bad_device(struct ctl *c, const char *name)
{
	const struct qk_config *cfg = c->seg.config;

	fprintf(stderr, "qikictl: unknown device '%s'; devices:", name);
	for (uint32_t i = 0; i < cfg->n_devices && i < QK_MAX_DEVICES; i++)
		fprintf(stderr, " %.*s", QK_NAME_LEN, cfg->device[i].name);
	fputc('\n', stderr);
	return EX_USAGE;
}

static int cmd_fault(struct ctl *c)
{
	struct qk_cmd cmd = { 0 };
	struct qk_reply r;
	char what[128];
	bool clear = !strcmp(c->argv[0], "clear");

	if (!clear && c->argc < 2)
		return usage_err("fault: expected DEVICE KIND [VALUE] or 'clear DEVICE|all'");
	if (clear && c->argc != 2)
		return usage_err("fault clear: expected one DEVICE or 'all'");
	if (attach(c))
		return EX_INSTANCE;
	if (clear) {
		if (strcmp(c->argv[1], "all") && !known_device(c, c->argv[1]))
			return bad_device(c, c->argv[1]);
		cmd.type = QK_CMD_FAULT_CLEAR;
		snprintf(cmd.name, sizeof(cmd.name), "%s", c->argv[1]);
		snprintf(what, sizeof(what), "fault cleared: %s", c->argv[1]);
	} else {
		char err[256];
		int kind;

		if (strlen(c->argv[0]) >= QK_NAME_LEN || !known_device(c, c->argv[0]))
			return bad_device(c, c->argv[0]);
		if ((kind = qk_ctlargs_fault_kind(c->argv[1], err, sizeof(err))) < 0)
			return usage_err("%s", err);
		if (c->argc == 3 && qk_ctlargs_fault_value(c->argv[2], &cmd.arg[0], err, sizeof(err)))
			return usage_err("%s", err);
		cmd.type = QK_CMD_FAULT_SET;
		cmd.u[0] = (uint32_t)kind;
		snprintf(cmd.name, sizeof(cmd.name), "%s", c->argv[0]);
		snprintf(what, sizeof(what), "fault set: %s %s %g", c->argv[0], c->argv[1], cmd.arg[0]);
	}
	int ret = send(c, QK_CTL_SIM, &cmd, &r);

	return ret ? ret : accepted(c, &r, what);
}

static int cmd_devices(struct ctl *c)
{
	struct qk_bios_report b;
	struct qk_sim_status ss;
	struct qk_json j;

	if (attach(c))
		return EX_INSTANCE;

	read_bios(c, &b);
	read_sim(c, &ss);
	if (c->json) {
		qk_json_begin(&j, stdout);
		qk_json_u64(&j, "post_count", b.post_count);
		qk_json_arr(&j, "devices");
	} else {
		printf("%-18s %-10s %-9s %-22s %s\n", "DEVICE", "TYPE", "STATUS", "CODE", "FAULT");
	}
	for (uint32_t i = 0; i < b.n_devices && i < QK_MAX_DEVICES; i++) {
		const struct qk_device_status *d = &b.device[i];
		const char *fault = ss.fault[i] ? name_of(fault_kinds, QK_FAULT_COUNT, ss.fault[i]) : "-";

		if (c->json) {
			qk_json_obj(&j, NULL);
			qk_json_strn(&j, "name", d->name, QK_NAME_LEN);
			qk_json_str(&j, "type", name_of(dev_types, QK_DEV_TYPE_COUNT, d->type));
			qk_json_str(&j, "status", name_of(dev_status, QK_DS_COUNT, d->status));
			qk_json_str(&j, "code", name_of(post_codes, QK_PC_COUNT, d->code));
			qk_json_str(&j, "fault", fault);
			qk_json_f64(&j, "fault_value", ss.fault_value[i]);
			qk_json_close(&j);
		} else {
			printf("%-18.*s %-10s %-9s %-22s %s", QK_NAME_LEN, d->name,
			       name_of(dev_types, QK_DEV_TYPE_COUNT, d->type),
			       name_of(dev_status, QK_DS_COUNT, d->status),
			       name_of(post_codes, QK_PC_COUNT, d->code), fault);
			if (ss.fault[i])
				printf(" %g", ss.fault_value[i]);
			putchar('\n');
		}
	}
	if (c->json) {
		qk_json_close(&j);
		qk_json_end(&j);
	}
	return EX_OK;
}

/* ---- history and stats ------------------------------------------------- */

static int cmd_history(struct ctl *c)
{
	struct qk_agent_status st;
	struct qk_json j;

	if (attach(c))
		return EX_INSTANCE;

	read_agent(c, &st);
	uint64_t n = st.n_transitions, first = n > QK_MAX_TRANSITIONS ? n - QK_MAX_TRANSITIONS : 0;
	int64_t epoch = c->seg.epoch_ns;

	if (c->json) {
		qk_json_begin(&j, stdout);
		qk_json_u64(&j, "total", n);
		qk_json_arr(&j, "transitions");
	} else {
		printf("%-12s %-10s %-9s %-9s %-16s %s\n", "TIME_S", "CYCLE", "FROM", "TO", "TRIGGER", "WHO");
	}
	static struct qk_param_status ps;	/* parameter changes, merged in by time */
	uint64_t pnext = 0;

	qk_ctl_params_read(&c->seg, &ps);
	for (uint64_t k = first; k < n; k++) {
		const struct qk_transition *t = &st.trans[k % QK_MAX_TRANSITIONS];

		if (!c->json)
			qk_ctl_param_history(&ps, &pnext, t->time_ns, epoch, NULL, stdout);
		if (c->json) {
			qk_json_obj(&j, NULL);
			qk_json_f64(&j, "time_s", (double)(t->time_ns - epoch) / 1e9);
			qk_json_u64(&j, "cycle", t->cycle);
			qk_json_str(&j, "from", qk_fsm_state_name(t->from));
			qk_json_str(&j, "to", qk_fsm_state_name(t->to));
			qk_json_str(&j, "trigger", qk_trigger_name(t->trigger));
			qk_json_i64(&j, "who", t->who);
			qk_json_close(&j);
		} else {
			char who[24];

			if (t->who)
				snprintf(who, sizeof(who), "pid %d", (int)t->who);
			else
				snprintf(who, sizeof(who), "agent");
			printf("%-12.3f %-10llu %-9s %-9s %-16s %s\n", (double)(t->time_ns - epoch) / 1e9,
			       (unsigned long long)t->cycle, qk_fsm_state_name(t->from),
			       qk_fsm_state_name(t->to), qk_trigger_name(t->trigger), who);
		}
	}
	if (c->json) {
		qk_json_close(&j);
		qk_json_arr(&j, "params");
	}
	qk_ctl_param_history(&ps, &pnext, INT64_MAX, epoch, c->json ? &j : NULL, stdout);
	if (c->json) {
		qk_json_close(&j);
		qk_json_end(&j);
	}
	return EX_OK;
}

static void hist_json(struct qk_json *j, const char *name, const struct qk_hist *h)
{
	uint64_t n = qk_load_relaxed((_Atomic uint64_t *)&h->count);

	qk_json_obj(j, name);
	qk_json_u64(j, "count", n);
	qk_json_i64(j, "min_ns", n ? qk_hist_min(h) : 0);
	qk_json_i64(j, "avg_ns", qk_hist_mean(h));
	qk_json_i64(j, "p50_ns", qk_hist_quantile(h, 0.5));
	qk_json_i64(j, "p99_ns", qk_hist_quantile(h, 0.99));
	qk_json_i64(j, "p999_ns", qk_hist_quantile(h, 0.999));
	qk_json_i64(j, "max_ns", n ? qk_hist_max(h) : 0);
	qk_json_arr(j, "buckets");	/* [lower_ns, count] for the non-empty ones */
	for (uint32_t i = 0; i < QK_HIST_BUCKETS; i++) {
		uint64_t b = qk_load_relaxed((_Atomic uint64_t *)&h->bucket[i]);

		if (b)
			qk_json_pair(j, qk_hist_lower(i), b);
	}
	qk_json_close(j);
	qk_json_close(j);
}

static void hist_table(const char *proc, const char *name, const struct qk_hist *h)
{
	uint64_t n = qk_load_relaxed((_Atomic uint64_t *)&h->count), peak = 1;
	uint64_t bk[QK_HIST_BUCKETS];

	printf("%s %s: %llu samples", proc, name, (unsigned long long)n);
	if (!n) {
		printf("\n\n");
		return;
	}
	printf(", us min %.1f avg %.1f p50 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
	       us(qk_hist_min(h)), us(qk_hist_mean(h)), us(qk_hist_quantile(h, 0.5)),
	       us(qk_hist_quantile(h, 0.99)), us(qk_hist_quantile(h, 0.999)),
	       us(qk_hist_max(h)));
	/* each bucket read once: the bars are scaled by the peak of what we
	 * print, whatever the segment holds by now */
	for (uint32_t i = 0; i < QK_HIST_BUCKETS; i++) {
		bk[i] = qk_load_relaxed((_Atomic uint64_t *)&h->bucket[i]);
		peak = bk[i] > peak ? bk[i] : peak;
	}
	printf("  %12s %12s %10s\n", "FROM_US", "TO_US", "COUNT");
	for (uint32_t i = 0; i < QK_HIST_BUCKETS; i++) {
		char bar[41];
		int w = (int)(40.0 * (double)bk[i] / (double)peak);

		if (!bk[i])
			continue;
		memset(bar, '#', (size_t)w);
		bar[w] = 0;
		printf("  %12.3f %12.3f %10llu %s\n", us(qk_hist_lower(i)),
		       i + 1 < QK_HIST_BUCKETS ? us(qk_hist_lower(i + 1)) : INFINITY,
		       (unsigned long long)bk[i], bar);
	}
	putchar('\n');
}

static int cmd_list(struct ctl *c)
{
	static struct qk_list_entry v[64];
	int n = qk_list_scan(v, 64);

	if (n < 0) {
		fprintf(stderr, "qikictl: list: %s\n", strerror(-n));
		return EX_INSTANCE;
	}
	qk_list_print(stdout, v, n < 64 ? n : 64, c->json);
	if (n > 64)
		fprintf(stderr, "qikictl: list: %d more instances not shown\n", n - 64);
	return EX_OK;
}

static int cmd_link(struct ctl *c)
{
	if (attach(c))
		return EX_INSTANCE;
	qk_ctl_link_show(&c->seg, c->json, stdout);
	return EX_OK;
}

static int cmd_stats(struct ctl *c)
{
	struct qk_json j;

	if (attach(c))
		return EX_INSTANCE;

	if (c->json)
		qk_json_begin(&j, stdout);
	for (int p = 0; p < QK_PROC_LAUNCHER; p++) {
		struct qk_proc_stats *ps = &c->seg.stats[p];

		if (!qk_load_relaxed(&ps->cycles))
			continue;
		if (c->json) {
			qk_json_obj(&j, proc_names[p]);
			qk_json_u64(&j, "cycles", qk_load_relaxed(&ps->cycles));
			qk_json_u64(&j, "overruns", qk_load_relaxed(&ps->overruns));
			qk_json_u64(&j, "frames_lost", qk_load_relaxed(&ps->frames_lost));
			qk_json_u64(&j, "frames_stale", qk_load_relaxed(&ps->frames_stale));
			qk_json_u64(&j, "missed_cycle", qk_load_relaxed(&ps->missed_cycle));
			qk_json_bool(&j, "real_time", qk_load_relaxed(&ps->flags) & QK_PROCF_RT);
			hist_json(&j, "wake_latency", &ps->wake_latency);
			hist_json(&j, "compute", &ps->compute);
			if (p == QK_PROC_AGENT) {
				hist_json(&j, "sensor_to_actuation", &ps->s2a);
				hist_json(&j, "front_margin", &ps->front);
				hist_json(&j, "back_margin", &ps->back);
			}
			qk_json_close(&j);
		} else {
			printf("== %s: cycles %llu, overruns %llu, frames lost %llu, %s\n", proc_names[p],
			       (unsigned long long)qk_load_relaxed(&ps->cycles),
			       (unsigned long long)qk_load_relaxed(&ps->overruns),
			       (unsigned long long)qk_load_relaxed(&ps->frames_lost),
			       qk_load_relaxed(&ps->flags) & QK_PROCF_RT ? "SCHED_FIFO" : "NOT real-time");
			hist_table(proc_names[p], "wake-up latency", &ps->wake_latency);
			hist_table(proc_names[p], "compute time", &ps->compute);
			if (p == QK_PROC_AGENT) {
				hist_table(proc_names[p], "sensor-to-actuation", &ps->s2a);
				hist_table(proc_names[p], "front margin (wake - sensor publish)",
					   &ps->front);
				hist_table(proc_names[p], "back margin (sim due - actuator publish)",
					   &ps->back);
			}
		}
	}
	if (c->json)
		qk_json_end(&j);
	return EX_OK;
}

/* ---- watch --------------------------------------------------------------- */

static int cmd_watch(struct ctl *c)
{
	struct sigaction sa = { .sa_handler = on_sigint };

	if (attach(c))
		return EX_INSTANCE;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (qk_ctl_watch(&c->seg, c->instance, c->json, c->interval_s, &interrupted)) {
		fprintf(stderr, "qikictl: %s\n", c->seg.err);
		return EX_INSTANCE;
	}
	return EX_OK;
}

/* ---- stop ---------------------------------------------------------------- */

/* Until no live process holds slot p, or the deadline passed. */
static bool slot_free(struct ctl *c, int p, int64_t deadline)
{
	while (qk_seg_alive(&c->seg, p)) {
		if (qk_now_ns() > deadline || interrupted)
			return false;
		usleep(5000);
	}
	return true;
}

/* The whole instance, in the launcher's order: the agent to SHUTDOWN (its
 * last frame is safe actuation), then the segment marked shutting down, on
 * which the sim, the exporter and the launcher leave.  Works whether or not
 * the launcher is alive: an instance whose launcher died stops the same. */
static int cmd_stop(struct ctl *c)
{
	struct qk_cmd cmd = { .type = QK_CMD_STATE, .u = { QK_ST_SHUTDOWN } };
	struct qk_reply r;
	int64_t step = (int64_t)(c->timeout_s * 1e9);
	bool launcher = false;
	int ret;

	if (attach(c))
		return EX_INSTANCE;
	launcher = qk_seg_alive(&c->seg, QK_PROC_LAUNCHER);
	if (qk_seg_alive(&c->seg, QK_PROC_AGENT)) {
		ret = send(c, QK_CTL_AGENT, &cmd, &r);
		if (ret == EX_REFUSED || ret == EX_INSTANCE)
			return ret;
		if (ret == EX_OK && !slot_free(c, QK_PROC_AGENT, qk_now_ns() + step)) {
			fprintf(stderr, "qikictl: the agent accepted SHUTDOWN but still runs after %.1f s\n",
				c->timeout_s);
			return EX_TIMEOUT;
		}
		/* a frozen agent (timeout): the sim's watchdog makes actuation
		 * safe, and the agent leaves on the segment's state when it wakes */
	}
	/* a few cycles for the sim to apply the agent's last, safe frame */
	usleep((useconds_t)(5 * c->seg.period_ns / 1000) + 1000);
	qk_seg_set_state(&c->seg, QK_SEG_SHUTTING_DOWN);
	int64_t deadline = qk_now_ns() + step;

	for (int p = 0; p < QK_PROC_LAUNCHER; p++) {
		if (!slot_free(c, p, deadline)) {
			fprintf(stderr, "qikictl: the %s (pid %d) still runs after %.1f s\n", proc_names[p],
				(int)qk_load_relaxed(&c->seg.stats[p].pid), c->timeout_s);
			return EX_TIMEOUT;
		}
	}
	if (launcher && !slot_free(c, QK_PROC_LAUNCHER, qk_now_ns() + 2 * step)) {
		printf("stopped; the launcher (pid %d) has not finished yet\n",
		       (int)qk_load_relaxed(&c->seg.stats[QK_PROC_LAUNCHER].pid));
		return EX_OK;
	}
	printf("stopped%s\n", launcher ? "" : " (no launcher: 'qiki run' reclaims the segment)");
	return EX_OK;
}

/* ---- runtime parameters and the effective configuration (ctl/param.c) ---- */

static int send_agent(void *ctx, struct qk_cmd *cmd, struct qk_reply *r)
{
	return send(ctx, QK_CTL_AGENT, cmd, r);
}

static int cmd_param(struct ctl *c)
{
	char err[256];

	if (qk_ctl_param_args(c->argc, c->argv, err, sizeof(err)))
		return usage_err("%s", err);
	if (attach(c))
		return EX_INSTANCE;
	return qk_ctl_param_run(&c->seg, c->argc, c->argv, c->json, send_agent, c);
}

static int cmd_config(struct ctl *c)
{
	if (attach(c))
		return EX_INSTANCE;
	return qk_ctl_config_dump(&c->seg, stdout) ? EX_INSTANCE : EX_OK;
}

/* ---- the table ------------------------------------------------------------ */

static const struct cmd cmds[] = {	/* sorted by name */
	{ "config", "", "the effective configuration as YAML (qiki run --config reads it)", 0, 0,
	  cmd_config },
	{ "devices", "", "the POST table and active faults", 0, 0, cmd_devices },
	{ "fault", "DEVICE KIND [VALUE] | clear DEVICE|all",
	  "inject a fault (stuck noise bias dropout post-fail) or clear one", 1, 3, cmd_fault },
	{ "history", "", "the last state transitions and parameter changes", 0, 0,
	  cmd_history },
	{ "link", "", "the HIL link: peer, frames, drops by reason, round trip", 0, 0, cmd_link },
	{ "list", "", "the instances here: pids, rate, profile, state, uptime, health", 0, 0,
	  cmd_list },
	{ "param", "list | get NAME | set NAME VALUE",
	  "runtime parameters: gains, limits, guard thresholds", 1, 3, cmd_param },
	{ "setpoint", "X Y Z", "where ACTIVE drives the bot, in metres", 3, 3, cmd_setpoint },
	{ "state", "[BOOTING|IDLE|ACTIVE|SAFE|SHUTDOWN|RESET]",
	  "print the state, or request one and wait until it is reached", 0, 1, cmd_state },
	{ "stats", "", "latency histograms of each loop process", 0, 0, cmd_stats },
	{ "status", "", "processes, state, BIOS, position, latencies", 0, 0, cmd_status },
	{ "stop", "", "stop the whole instance in order (agent, sim, exporter, launcher)", 0, 0, cmd_stop },
	{ "watch", "", "a live view until Ctrl-C (--json: a JSON object a line)", 0, 0,
	  cmd_watch },
};

static void help(FILE *f)
{
	fprintf(f, "usage: qikictl [--instance NAME] [--json] [--timeout SEC] COMMAND [ARGS]\n"
		   "Inspects a running qiki instance and changes its agent's state.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-9s %-42s %s\n", cmds[i].name, cmds[i].args, cmds[i].help);
	fprintf(f, "\noptions (anywhere on the line):\n"
		   "  -i, --instance NAME  the instance (default: default)\n"
		   "      --json           machine-readable output\n"
		   "      --timeout SEC    how long to wait for an answer (default 2)\n"
		   "      --interval SEC   watch: refresh period (default 0.2)\n"
		   "  -h, --help           this help, or COMMAND --help\n"
		   "      --version        the version\n"
		   "\nexit status: 0 ok, 1 usage, 2 no such instance or incompatible segment,\n"
		   "3 refused by the loop (the reason is printed), 4 no answer in time,\n"
		   "5 (status) the sim or the agent is dead or stuck (no heartbeat)\n");
}

static const struct cmd *find(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static struct ctl c;
	struct qk_ctlargs a;
	char err[256];

	if (qk_ctlargs_parse(argc, argv, &a, err, sizeof(err)))
		return usage_err("%s", err);
	if (a.want_version) {
		printf("qikictl %s (layout %u)\n", QK_VERSION, QK_LAYOUT_VERSION);
		return EX_OK;
	}
	c.instance = a.instance;
	c.json = a.json;
	c.timeout_s = a.timeout_s;
	c.interval_s = a.interval_s;

	char **pos = a.pos;
	int npos = a.npos;
	bool want_help = a.want_help;

	if (!npos) {
		if (want_help) {
			help(stdout);
			return EX_OK;
		}
		help(stderr);
		return EX_USAGE;
	}
	const struct cmd *cmd = find(pos[0]);

	if (!cmd)
		return usage_err("unknown command '%s' (commands: config devices fault history link "
				 "list param setpoint state stats status stop watch)", pos[0]);
	if (want_help) {
		printf("usage: qikictl %s %s\n%s\n", cmd->name, cmd->args, cmd->help);
		return EX_OK;
	}
	c.argc = npos - 1;
	c.argv = pos + 1;
	if (c.argc < cmd->min || c.argc > cmd->max)
		return usage_err("%s: expected %s%s (got %d argument%s)", cmd->name,
				 cmd->args[0] ? cmd->args : "no arguments", "", c.argc,
				 c.argc == 1 ? "" : "s");
	if (!qk_seg_name_ok(c.instance))
		return usage_err("--instance '%s': use 1-31 of [A-Za-z0-9_.-]", c.instance);
	/* each command checks its arguments first, then attaches: a bad
	 * argument is exit 1 with nothing sent, whether or not the loop runs */
	int ret = cmd->run(&c);

	if (c.attached)
		qk_seg_detach(&c.seg);
	return ret;
}
