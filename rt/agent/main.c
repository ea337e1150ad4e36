/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * qiki-agent: the controller.  Wakes once per cycle (by default on the
 * sensor ring's futex, with a deadline inside the cycle after which it ticks
 * stale; or its own timer on the sim's grid at a phase derived from measured
 * latencies; or a busy poll: rt/agent/wake.h), then runs one tick: newest
 * sensor frame -> BIOS check -> FSM -> rules -> evaluator -> one actuator
 * frame naming the sensor frame it answers.
 * Operator commands come through the agent's command queue and are answered
 * on its reply ring.
 *
 * After start-up the loop allocates nothing and calls nothing but its wait.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt/agent/agent.h"
#include "rt/agent/controller.h"
#include "rt/config/config.h"
#include "rt/agent/fsm.h"
#include "rt/agent/param.h"
#include "rt/agent/wake.h"
#include "rt/proc.h"

#define PROG "qiki-agent"
#define CMDS_PER_TICK 4
#define STALL_ABANDON_TICKS 1000	/* a producer stuck mid-push this long is dead */

static volatile sig_atomic_t stop, orphaned;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGHUP: the launcher's parent-death signal (or a hang-up): nobody will
 * stop us in order, so we do it ourselves, see launcher_gone(). */
static void on_orphaned(int sig)
{
	(void)sig;
	orphaned = 1;
}

struct agent_proc {
	struct qk_proc_ctx p;
	struct qk_agent agent;
	struct qk_ring_reader sens_rd;
	struct qk_sensor_frame frame;
	struct qk_actuator_frame act;
	struct qk_bios_report bios, scratch_bios;
	struct qk_agent_status status;
	uint64_t bios_writes;
	uint32_t stalled_ticks;
	int wake;
	int64_t due_ns;			/* futex: the sim cycle whose frame we wait for */
	int64_t phase_ns;		/* timer: after each sim due time */
	/* what the log has said, to log only changes */
	uint64_t logged_trans, logged_lost, logged_overruns;
	struct qk_params params;	/* runtime parameters (rt/agent/param.h) */
	uint64_t published_changes;
};

/* Every change since the last publication, to the log and the mailbox
 * (a binary log record and a copy: nothing formatted here). */
static void publish_params(struct agent_proc *a)
{
	const struct qk_param_status *st = &a->params.st;

	if (st->n_changes - a->published_changes > QK_PARAM_HISTORY)
		a->published_changes = st->n_changes - QK_PARAM_HISTORY;
	for (; a->published_changes < st->n_changes; a->published_changes++) {
		const struct qk_param_change *c = &st->changes[a->published_changes % QK_PARAM_HISTORY];

		QK_INFO(a->p.log, "param %s: %g -> %g (asked by pid %d) at sensor cycle %llu",
			c->index < QK_MAX_PARAMS ? st->p[c->index].name : "?", c->old_value, c->value,
			(int)c->who, (unsigned long long)c->cycle);
	}
	qk_mbox_write(a->p.seg.params, st);
}

/* Start-up: a restarted agent keeps what the operator set in its
 * predecessor, as the predecessor published it.  The segment is untrusted:
 * each value goes through the checks a command's does, and is logged. */
static void take_over_params(struct agent_proc *a, int64_t now)
{
	static struct qk_param_status old, scratch;
	char why[QK_REASON_LEN];

	if (!qk_mbox_read(a->p.seg.params, &old, &scratch))
		return;
	for (uint32_t i = 0; i < old.n && i < QK_MAX_PARAMS; i++) {
		old.p[i].name[QK_PARAM_NAME_LEN - 1] = '\0';
		int k = qk_params_find(&a->params, old.p[i].name);

		if (k < 0 || !(old.p[i].value != a->params.st.p[k].value))
			continue;
		if (qk_params_set(&a->params, a->params.d[k].hash, old.p[i].value, now, 0, 0, why))
			QK_WARN(a->p.log, "param %s: the predecessor's %g not taken: %s",
				a->params.st.p[k].name, old.p[i].value, why);
		else
			QK_INFO(a->p.log, "param %s: %g, as the predecessor had it",
				a->params.st.p[k].name, old.p[i].value);
	}
}

static void take_commands(struct agent_proc *a, int64_t now)
{
	struct qk_cmdq_port *q = a->p.seg.agent_cmdq;
	struct qk_cmd c;
	struct qk_reply r;

	for (int i = 0; i < CMDS_PER_TICK && qk_cmdq_pop(q, &c); i++) {
		/* strict expiry: a sender that gave up may say "not applied" */
		if (!qk_cmd_expired(&c, &r))
			qk_agent_command(&a->agent, &c, now, &r);
		if (a->params.st.n_changes != a->published_changes)
			publish_params(a);	/* before the reply: a reader then sees it */
		qk_ring_publish(a->p.seg.agent_replies, &r);
		if (r.status == QK_REPLY_ACCEPTED)
			QK_INFO(a->p.log, "%s request %llu from pid %d accepted",
				qk_cmd_name(c.type), (unsigned long long)c.id, (int)c.sender_pid);
		else
			QK_WARN(a->p.log, "%s request %llu from pid %d refused: %s",
				qk_cmd_name(c.type), (unsigned long long)c.id, (int)c.sender_pid,
				r.reason);
	}
	/* a sender killed between claiming a cell and filling it would stop
	 * the queue for good; after a second of that, give the cell up */
	if (qk_cmdq_stalled(q)) {
		if (++a->stalled_ticks >= STALL_ABANDON_TICKS && qk_cmdq_abandon_stalled(q))
			a->stalled_ticks = 0;
	} else {
		a->stalled_ticks = 0;
	}
}

/* The launcher is gone: do what its shutdown would, SHUTDOWN, whose frame
 * is safe actuation; the sim applies it and stops (rt/sim/main.c). */
static void launcher_gone(struct agent_proc *a, int64_t now)
{
	struct qk_cmd c = { .type = QK_CMD_STATE, .u = { QK_ST_SHUTDOWN } };
	struct qk_reply r;

	orphaned = 2;
	qk_agent_command(&a->agent, &c, now, &r);
	QK_WARN(a->p.log, "the launcher is gone (SIGHUP): shutting down in order");
}

/* Logs what changed this tick: transitions, lost frames, overruns. */
static void log_changes(struct agent_proc *a, uint64_t overruns, int64_t late_ns)
{
	const struct qk_agent_status *st = &a->status;
	uint64_t lost = a->sens_rd.lost;

	/* trans[] keeps the last QK_MAX_TRANSITIONS: older ones are gone */
	if (st->n_transitions - a->logged_trans > QK_MAX_TRANSITIONS)
		a->logged_trans = st->n_transitions - QK_MAX_TRANSITIONS;
	for (; a->logged_trans < st->n_transitions; a->logged_trans++) {
		const struct qk_transition *t = &st->trans[a->logged_trans % QK_MAX_TRANSITIONS];

		if (t->who)
			QK_INFO(a->p.log, "state %s -> %s (%s, asked by pid %d) at sensor cycle %llu",
				qk_fsm_state_name(t->from), qk_fsm_state_name(t->to),
				qk_trigger_name(t->trigger), (int)t->who, (unsigned long long)t->cycle);
		else
			QK_INFO(a->p.log, "state %s -> %s (%s) at sensor cycle %llu",
				qk_fsm_state_name(t->from), qk_fsm_state_name(t->to),
				qk_trigger_name(t->trigger), (unsigned long long)t->cycle);
	}
	if (lost != a->logged_lost) {
		QK_WARN(a->p.log, "lost %llu sensor frames (%llu in all): the agent fell behind",
			(unsigned long long)(lost - a->logged_lost), (unsigned long long)lost);
		a->logged_lost = lost;
	}
	if (overruns != a->logged_overruns) {
		QK_WARN(a->p.log, "overrun: woke %.1f us after the tick was due (%llu overruns in all)",
			(double)late_ns / 1e3, (unsigned long long)overruns);
		a->logged_overruns = overruns;
	}
}

/* Waits for this tick's trigger; returns the time the tick was due. */
static int64_t wait_tick(struct agent_proc *a, struct qk_period *per)
{
	struct qk_ring_port *r = a->p.seg.sensors;
	int64_t period = per->period_ns;

	switch (a->wake) {
	case QK_WAKE_TIMER:
		if (qk_period_wait(per))
			stop = 1;
		return per->due_ns;
	case QK_WAKE_SPIN: {
		int64_t give_up = qk_now_ns() + 2 * period;

		while (qk_ring_pending(&a->sens_rd) == 0 && !stop && qk_now_ns() < give_up)
			qk_cpu_relax();
		break;
	}
	case QK_WAKE_FUTEX: {
		int64_t deadline = qk_wake_deadline(period, a->due_ns);

		/* until the frame comes or its deadline passes (a wake-up that
		 * brought nothing, a signal: wait again for the time left) */
		while (qk_ring_pending(&a->sens_rd) == 0 && !stop) {
			int64_t left = deadline - qk_now_ns();

			if (left <= 0)
				return deadline;	/* stale: due at the deadline */
			qk_ring_wait(r, a->sens_rd.next, left);
		}
		break;
	}
	default:	/* lockstep */
		if (qk_ring_pending(&a->sens_rd) == 0)
			qk_ring_wait(r, a->sens_rd.next, 100 * 1000000ll);
		break;
	}
	return -1;	/* event-driven: due when the frame was published */
}

/* Timer mode: the phase from the measured p99s (the sim's from the
 * segment, ours from a short calibration of our own timer), or the
 * configured one; false with why when the window is empty. */
static bool timer_phase(struct agent_proc *a, int64_t period, char *why, size_t n)
{
	static struct qk_hist h;
	struct qk_proc_stats *sim = &a->p.seg.stats[QK_PROC_SIM], *me = a->p.st;
	struct qk_wake_figures f = { 0 };
	struct qk_period per;

	if (a->p.cfg.agent_phase_ns > 0) {
		a->phase_ns = a->p.cfg.agent_phase_ns;	/* the operator's choice */
		return true;
	}
	/* our wake-up latency: 200 cycles of the timer we will run on, after
	 * 50 that warm it up (the first wake-ups of a new real-time thread,
	 * and a sim still starting beside us, are not what the loop will see) */
	qk_hist_reset(&h);
	qk_period_init(&per, a->p.seg.epoch_ns, period, period / 2, qk_now_ns());
	for (int i = 0; i < 250 && !stop; i++) {
		if (qk_period_wait(&per))
			break;
		if (i >= 50)
			qk_hist_record(&h, qk_now_ns() - per.due_ns);
	}
	if (qk_load_relaxed(&h.count))
		f.agent_wake = qk_hist_quantile(&h, 0.99);
	if (qk_load_relaxed(&me->compute.count))	/* a predecessor's, if any */
		f.agent_compute = qk_hist_quantile(&me->compute, 0.99);
	if (qk_load_relaxed(&sim->cycles) >= 1000) {	/* past its own start-up */
		f.sim_wake = qk_hist_quantile(&sim->wake_latency, 0.99);
		f.sim_compute = qk_hist_quantile(&sim->compute, 0.99);
	}
	if (qk_wake_timer_phase(period, &f, &a->phase_ns, why, n))
		return false;
	QK_INFO(a->p.log, "timer phase %.1f us of %.1f: sim wake p99 %.1f + compute p99 %.1f us, "
		"agent wake p99 %.1f + compute p99 %.1f us", (double)a->phase_ns / 1e3,
		(double)period / 1e3, (double)f.sim_wake / 1e3, (double)f.sim_compute / 1e3,
		(double)f.agent_wake / 1e3, (double)f.agent_compute / 1e3);
	return true;
}


/* The segment no longer holds what attach checked: anything read from it
 * now may be a lie.  Say which region, leave safe outputs as our last frame
 * (our own ring: written through the private geometry) and stop using it. */
static void go_safe(struct agent_proc *a, int64_t now)
{
	fprintf(stderr, PROG ": %s\n", a->p.seg.err);
	QK_ERROR(a->p.log, "%s", a->p.seg.err);
	memset(&a->act, 0, sizeof(a->act));
	a->act.answers_cycle = a->frame.cycle;
	a->act.wake_ns = now;
	a->act.publish_ns = qk_now_ns();
	a->act.state = QK_ST_SAFE;
	a->act.flags = QK_ACTF_SAFE;
	qk_ring_publish(a->p.seg.actuators, &a->act);
	qk_ring_wake(a->p.seg.actuators);
}

/* 0 when stopped, 6 when the segment turned out inconsistent. */
static int run(struct agent_proc *a)
{
	struct qk_seg *seg = &a->p.seg;
	struct qk_proc_stats *st = a->p.st;
	struct qk_period per;
	int64_t period = seg->period_ns;
	uint32_t checks = 0;

	qk_period_init(&per, seg->epoch_ns, period, a->phase_ns, qk_now_ns());
	a->due_ns = qk_wake_grid_after(seg->epoch_ns, period, qk_now_ns());
	while (!stop && qk_seg_state(seg) != QK_SEG_SHUTTING_DOWN) {
		int64_t due = wait_tick(a, &per);
		int64_t wake = qk_now_ns();

		/* every QK_VERIFY_EVERY cycles (about 300 instructions): until
		 * then the private geometry keeps every access in bounds */
		if (!(++checks % QK_VERIFY_EVERY) && qk_seg_verify(seg) >= 0) {
			go_safe(a, wake);
			return 6;
		}
		bool got = qk_ring_read_newest(&a->sens_rd, &a->frame);

		take_commands(a, wake);
		if (orphaned == 1)
			launcher_gone(a, wake);
		if (a->wake == QK_WAKE_LOCKSTEP && !got) {
			/* lockstep ticks only on frames; commands still count */
			qk_agent_status(&a->agent, &a->status);
			qk_mbox_write(seg->agent_status, &a->status);
			if (a->status.state == QK_ST_SHUTDOWN)
				break;
			continue;
		}
		if (due < 0)
			due = got ? a->frame.publish_ns : wake;
		if (!got)
			qk__stat_inc(&st->frames_stale, 1);
		qk_store_relaxed(&st->frames_lost, a->sens_rd.lost);
		/* the BIOS report goes to the tick only when its mailbox changed */
		bool new_bios = false;
		uint64_t bw = qk_mbox_writes(seg->bios);

		if (bw != a->bios_writes && qk_mbox_read(seg->bios, &a->bios, &a->scratch_bios)) {
			a->bios_writes = bw;
			new_bios = true;
		}
		if (qk_agent_tick(&a->agent, got ? &a->frame : NULL, new_bios ? &a->bios : NULL,
				  wake, &a->act)) {
			a->act.wake_ns = wake;
			a->act.publish_ns = qk_now_ns();
			qk_ring_publish(seg->actuators, &a->act);
			qk_ring_wake(seg->actuators);
			if (got) {
				qk_hist_record(&st->s2a, a->act.publish_ns - a->frame.publish_ns);
				/* the slack each side of us in the cycle (negative: none;
				 * the histogram's min keeps it) */
				qk_hist_record(&st->front, wake - a->frame.publish_ns);
				qk_hist_record(&st->back,
					       a->frame.sched_ns + period - a->act.publish_ns);
			}
		}
		qk_agent_status(&a->agent, &a->status);
		qk_mbox_write(seg->agent_status, &a->status);

		int64_t end = qk_now_ns();

		if (a->wake != QK_WAKE_TIMER && end - wake > period)
			per.overruns++;	/* event-driven: a tick longer than a cycle */
		if (a->wake == QK_WAKE_FUTEX) {
			if (!got && wake - due > period)	/* we woke a cycle late */
				per.overruns += (uint64_t)((wake - due) / period);
			int64_t handled = got ? qk_wake_cycle_due(seg->epoch_ns, period,
								  a->frame.cycle, end, a->due_ns)
					      : a->due_ns;

			a->due_ns = qk_wake_next_due(seg->epoch_ns, period, handled, end);
		}
		qk_proc_account(st, due, wake, end, per.overruns);
		log_changes(a, per.overruns, wake - due);
		if (a->status.state == QK_ST_SHUTDOWN)
			break;	/* the safe frame above was our last word */
	}
	return 0;
}

/* --controller PATH and --controller-param NAME=VALUE are the agent's own:
 * taken out of argv before the shared options are parsed. */
#define MAX_CTL_PARAMS QK_CTL_MAX_PARAMS
struct ctl_opts {
	const char *path;		/* NULL: the built-in PD */
	const char *param[MAX_CTL_PARAMS];
	int n_params;
};

static int take_ctl_opts(int *argc, char **argv, struct ctl_opts *co)
{
	int n = 1;

	for (int i = 1; i < *argc; i++) {
		const char *v = NULL, *arg = argv[i];
		bool is_path = !strncmp(arg, "--controller", 12) && (!arg[12] || arg[12] == '=');
		bool is_param = !strncmp(arg, "--controller-param", 18) && (!arg[18] || arg[18] == '=');

		if (!strcmp(arg, "--")) {
			while (i < *argc)
				argv[n++] = argv[i++];
			break;
		}
		if (!is_path && !is_param) {
			argv[n++] = argv[i];
			continue;
		}
		v = strchr(arg, '=') && (is_path ? arg[12] : arg[18]) ? strchr(arg, '=') + 1
		  : i + 1 < *argc ? argv[++i] : NULL;
		if (!v || !*v) {
			fprintf(stderr, PROG ": %s needs a value (see man qiki-agent)\n",
				is_path ? "--controller" : "--controller-param");
			return -1;
		}
		if (is_path) {
			co->path = v;
		} else if (co->n_params == MAX_CTL_PARAMS || !strchr(v, '=')) {
			fprintf(stderr, PROG ": --controller-param '%s': expected NAME=VALUE "
				"(at most %d)\n", v, MAX_CTL_PARAMS);
			return -1;
		} else {
			co->param[co->n_params++] = v;
		}
	}
	argv[n] = NULL;
	*argc = n;
	return 0;
}

/* Loads the controller and applies its parameters: start-up, before the
 * loop locks memory and goes real time. */
static int load_controller(struct agent_proc *a, struct qk_ctl_instance *ci,
			   const struct ctl_opts *co, char *why, size_t n)
{
	struct qk_ctl_setup s;
	int ret;

	qk_controller_setup(&s, &a->p.cfg, a->p.seg.hdr->period_ns);
	ret = qk_controller_load(ci, co->path, &s, why, n);
	for (int i = 0; !ret && i < co->n_params; i++) {
		char name[QK_CTL_NAME_LEN], *end;
		const char *eq = strchr(co->param[i], '=');
		size_t len = (size_t)(eq - co->param[i]);
		double v = strtod(eq + 1, &end);

		snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) ? len : sizeof(name) - 1),
			 co->param[i]);
		if (end == eq + 1 || *end) {
			snprintf(why, n, "--controller-param '%s': the value is not a number",
				 co->param[i]);
			ret = -EINVAL;
		} else {
			ret = qk_controller_set(ci, name, v, why, n);
		}
	}
	if (ret) {
		qk_controller_unload(ci);
		return ret;
	}
	qk_agent_use_controller(&a->agent, ci);
	return 0;
}

int main(int argc, char **argv)
{
	static struct agent_proc a;
	static struct qk_ctl_instance ctl;
	struct ctl_opts co = { 0 };
	struct qk_proc_opts o;
	char why[512];
	int ret = take_ctl_opts(&argc, argv, &co);

	if (ret)
		return 1;
	ret = qk_proc_parse(argc, argv, PROG, QK_PROC_AGENT, &o);

	if (ret)
		return ret > 0 ? 0 : 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_orphaned);
	ret = qk_proc_attach(&a.p, &o, QK_PROC_AGENT, why, sizeof(why));
	if (ret) {
		fprintf(stderr, PROG ": %s\n", why);
		return 2;
	}
	ret = qk_proc_log_open(&a.p, &o, PROG, why, sizeof(why));
	if (ret) {
		fprintf(stderr, PROG ": %s\n", why);
		qk_proc_exit(&a.p);
		return 1;
	}
	a.wake = o.wake >= 0 ? o.wake : (int)a.p.cfg.wake_mode;
	if (a.p.cfg.wake_mode == QK_WAKE_LOCKSTEP)
		a.wake = QK_WAKE_LOCKSTEP;	/* the sim waits for us: no other mode fits */
	if (a.wake == QK_WAKE_FUTEX && a.p.cfg.wake_mode != QK_WAKE_FUTEX) {
		/* the sim decided at attach, from the instance's mode, that
		 * nobody waits on the sensor ring's futex: it would never wake us */
		fprintf(stderr, PROG ": --wake futex: instance %s runs in %s mode, whose simulator "
			"wakes no futex waiter; start it with `qiki run --wake futex`, or use "
			"--wake timer or spin\n", o.instance, qk_wake_mode_name(a.p.cfg.wake_mode));
		qk_proc_exit(&a.p);
		return 1;
	}
	ret = qk_agent_init(&a.agent, &a.p.cfg, qk_now_ns());
	if (ret) {
		fprintf(stderr, PROG ": bad agent configuration (%s)\n", strerror(-ret));
		qk_proc_exit(&a.p);
		return 1;
	}
	ret = load_controller(&a, &ctl, &co, why, sizeof(why));
	if (ret) {
		fprintf(stderr, PROG ": %s\n", why);
		QK_ERROR(a.p.log, "%s", why);
		qk_proc_exit(&a.p);
		return 1;
	}
	QK_INFO(a.p.log, "controller: %s%s%s", ctl.c->name ? ctl.c->name : "(unnamed)",
		co.path ? " from " : " (built-in)", co.path ? co.path : "");
	ret = qk_params_build(&a.params, &a.p.cfg, &ctl, why, sizeof(why));
	if (ret) {
		fprintf(stderr, PROG ": %s\n", why);
		QK_ERROR(a.p.log, "%s", why);
		qk_controller_unload(&ctl);
		qk_proc_exit(&a.p);
		return 1;
	}
	a.agent.params = &a.params;
	take_over_params(&a, qk_now_ns());
	qk_mbox_write(a.p.seg.params, &a.params.st);	/* the table, before the loop */
	a.published_changes = a.params.st.n_changes;
	/* a restarted agent takes over rings its predecessor may have left
	 * mid-write, and starts from the newest sensor frame */
	qk_ring_producer_recover(a.p.seg.actuators);
	qk_ring_producer_recover(a.p.seg.agent_replies);
	/* only a lockstep sim waits on the actuator ring */
	qk_ring_set_waking(a.p.seg.actuators, a.wake == QK_WAKE_LOCKSTEP);
	qk_ring_reader_init(&a.sens_rd, a.p.seg.sensors, QK_RING_FROM_NOW);
	QK_INFO(a.p.log, PROG " %s started: instance %s, %lld Hz, wake %s, pid %d",
		QK_VERSION, o.instance, (long long)(QK_NSEC / a.p.seg.period_ns),
		qk_wake_mode_name((unsigned)a.wake), (int)getpid());
	ret = qk_proc_go_rt(&a.p, &o, why, sizeof(why));
	if (ret) {
		fprintf(stderr, PROG ": %s\n", why);
		qk_proc_exit(&a.p);
		return ret == -EPERM ? 3 : 1;
	}
	if (a.wake == QK_WAKE_TIMER && !timer_phase(&a, a.p.seg.period_ns, why, sizeof(why))) {
		fprintf(stderr, PROG ": %s\n", why);
		QK_ERROR(a.p.log, "%s", why);
		qk_proc_exit(&a.p);
		return 1;
	}
	if (a.wake == QK_WAKE_TIMER)	/* the calibration's frames are not lost, just old */
		qk_ring_reader_init(&a.sens_rd, a.p.seg.sensors, QK_RING_FROM_NOW);
	int bad = run(&a);

	ret = qk_proc_finish(&a.p, &o, PROG);
	return bad ? bad : ret;
}
