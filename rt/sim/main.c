/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * qiki-sim: the plant simulator and the loop's time master.
 *
 * Each cycle, on an absolute CLOCK_MONOTONIC grid: apply the newest actuator
 * frame (or safe actuation when the agent's frames stopped: the watchdog),
 * take commands (faults, POST), integrate the plant one fixed step, publish a
 * sensor frame.  In lockstep mode there is no sleeping: the sim publishes,
 * waits for the agent's answer to that very frame, and goes on, so a run is a
 * pure function of seed, configuration and commands.
 *
 * Lockstep with --gated (qiki run --lockstep --scenario): before each cycle
 * the sim holds until its gate is past that cycle.  The launcher raises the
 * gate with RUN_UNTIL commands; the sim answers one when it is held at its
 * cycle, every frame before it answered by the agent, so the launcher looks
 * at the loop, and queues its commands, at an exact cycle.  A command queued
 * while the sim is held is applied before the next cycle's frame (the sim
 * takes it while held, the agent before that frame's tick), in every run.
 * Held, the sim sleeps on its command queue's doorbell (shm/cmdq.h).
 *
 * Lockstep with an exporter that has read every frame from the first
 * (QK_PROCF_PACED): the sim stays at most PACE_LAG frames ahead of it, so
 * the telemetry file loses none.
 *
 * After start-up the loop allocates nothing and calls nothing but its wait
 * (clock_nanosleep, or the futex in lockstep/futex modes).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rt/cli.h"
#include "rt/sim/plant.h"
#include "rt/proc.h"

#define PROG "qiki-sim"
#define CMDS_PER_CYCLE 4
#define STALL_ABANDON_CYCLES 1000	/* a sender stuck mid-push this long is dead */
#define LOCKSTEP_WAIT_NS (20 * 1000000ll)
#define PACE_LAG 128			/* frames ahead of a paced exporter: it pairs
					 * answers with the last 256 (rings: 1024) */
#define PACE_NAP_NS 200000

static volatile sig_atomic_t stop, orphaned;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGHUP: the launcher's parent-death signal; see launcher_gone(). */
static void on_orphaned(int sig)
{
	(void)sig;
	orphaned = 1;
}

static int parse_fault(const char *spec, char *dev, size_t n, enum qk_fault_kind *kind,
		       double *value)
{
	static const char *const kinds[QK_FAULT_COUNT] = {
		[QK_FAULT_STUCK] = "stuck", [QK_FAULT_NOISE] = "noise", [QK_FAULT_BIAS] = "bias",
		[QK_FAULT_DROPOUT] = "dropout", [QK_FAULT_POST_FAIL] = "post-fail",
	};
	char buf[96], *k, *v;

	snprintf(buf, sizeof(buf), "%s", spec);
	k = strchr(buf, ':');
	if (!k)
		return -EINVAL;
	*k++ = 0;
	v = strchr(k, ':');
	if (v)
		*v++ = 0;
	if (strlen(buf) >= n)
		return -EINVAL;
	memcpy(dev, buf, strlen(buf) + 1);
	*kind = QK_FAULT_NONE;
	for (int i = 1; i < QK_FAULT_COUNT; i++)
		if (!strcmp(k, kinds[i]))
			*kind = i;
	*value = 0;
	if (v && qk_parse_double(v, -1e9, 1e9, value))
		return -EINVAL;
	return *kind == QK_FAULT_NONE ? -EINVAL : 0;
}

struct sim {
	struct qk_proc_ctx p;
	struct qk_plant plant;
	struct qk_ring_reader act_rd;
	struct qk_actuator_frame act;	/* the frame being applied */
	struct qk_sensor_frame frame;
	struct qk_bios_report bios;
	struct qk_sim_status status;
	uint64_t act_age;		/* cycles since a new actuator frame */
	uint32_t stalled_cycles;	/* the command queue's head claimed, not filled */
	bool have_act;
	bool lockstep;
	bool gated;			/* lockstep, held before cycle `gate` */
	bool unpaced;			/* the paced exporter died: stop waiting for it */
	uint64_t gate;
	uint64_t gate_id;		/* the RUN_UNTIL to answer once held, 0: none */
	uint64_t logged_lost, logged_overruns;	/* what the log has said */
	uint32_t logged_watchdog;
	uint64_t orphan_cycles;		/* cycles since the launcher died */
};

static void publish_post(struct sim *s)
{
	qk_plant_post(&s->plant, &s->bios);
	s->bios.time_ns = qk_now_ns();
	qk_mbox_write(s->p.seg.bios, &s->bios);
}

/* RUN_UNTIL: false when answered now (refused, or a previous one
 * superseded), true when the answer waits until the sim is held there. */
static bool run_until(struct sim *s, const struct qk_cmd *c, struct qk_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->id = c->id;
	if (!s->gated) {
		r->status = QK_REPLY_REFUSED;
		r->code = -EINVAL;
		snprintf(r->reason, sizeof(r->reason), "not a gated lockstep sim (--gated)");
		return false;
	}
	if (s->gate_id) {	/* one at a time: the older one is answered as passed */
		struct qk_reply old = { .id = s->gate_id, .status = QK_REPLY_ACCEPTED };

		snprintf(old.reason, sizeof(old.reason), "superseded");
		qk_ring_publish(s->p.seg.sim_replies, &old);
	}
	s->gate = (uint64_t)c->u[0] | (uint64_t)c->u[1] << 32;
	s->gate_id = c->id;
	return true;
}

/* The commands queued, CMDS_PER_CYCLE at most; how many were taken. */
static int take_commands(struct sim *s)
{
	struct qk_cmd c;
	struct qk_reply r;
	int i;

	struct qk_cmdq_port *q = s->p.seg.sim_cmdq;

	for (i = 0; i < CMDS_PER_CYCLE && qk_cmdq_pop(q, &c); i++) {
		/* strict expiry: a sender that gave up may say "not applied" */
		if (qk_cmd_expired(&c, &r))
			;
		else if (c.type == QK_CMD_RUN_UNTIL) {
			if (run_until(s, &c, &r))
				continue;	/* answered once held there (hold()) */
		} else if (qk_plant_command(&s->plant, &c, &r) || c.type == QK_CMD_POST)
			publish_post(s);
		qk_ring_publish(s->p.seg.sim_replies, &r);
		if (r.status == QK_REPLY_ACCEPTED)
			QK_INFO(s->p.log, "%s request %llu from pid %d accepted%s%s",
				qk_cmd_name(c.type), (unsigned long long)c.id, (int)c.sender_pid,
				r.reason[0] ? ": " : "", r.reason);
		else
			QK_WARN(s->p.log, "%s request %llu from pid %d refused: %s",
				qk_cmd_name(c.type), (unsigned long long)c.id, (int)c.sender_pid,
				r.reason);
	}
	/* as the agent does: a sender killed between claiming a cell and
	 * filling it would stop the queue for good; after a second, give the
	 * cell up (counted in the queue's `abandoned`, qikictl's sim_abandoned) */
	if (qk_cmdq_stalled(q)) {
		if (++s->stalled_cycles >= STALL_ABANDON_CYCLES && qk_cmdq_abandon_stalled(q)) {
			s->stalled_cycles = 0;
			QK_WARN(s->p.log, "command queue: gave up a cell a sender claimed and never "
				"filled (%llu in all)", (unsigned long long)qk_load_relaxed(&q->q->abandoned));
		}
	} else {
		s->stalled_cycles = 0;
	}
	return i;
}

/* Gated lockstep: holds before cycle n until the gate is past it, taking
 * commands meanwhile; answers the RUN_UNTIL that brought us here. */
static void hold(struct sim *s, uint64_t n)
{
	struct qk_cmdq_port *q = s->p.seg.sim_cmdq;

	while (!stop && !orphaned && qk_seg_state(&s->p.seg) != QK_SEG_SHUTTING_DOWN) {
		if (s->gate_id && s->gate <= n) {
			struct qk_reply r = { .id = s->gate_id, .status = QK_REPLY_ACCEPTED };

			snprintf(r.reason, sizeof(r.reason), "held at cycle %llu",
				 (unsigned long long)n);
			qk_ring_publish(s->p.seg.sim_replies, &r);
			qk_ring_wake(s->p.seg.sim_replies);	/* the launcher waits on it */
			s->gate_id = 0;
		}
		if (s->gate > n)
			return;
		/* the tail before the pop: a push after it changes the futex word */
		uint64_t tail = qk_cmdq_tail(q);

		if (!take_commands(s))
			qk_cmdq_wait(q, tail, LOCKSTEP_WAIT_NS);
	}
}

/* Lockstep with a paced exporter: no more than PACE_LAG frames ahead of
 * what it has read.  It naps, never spins; an exporter that died (its
 * lock gone) is not waited for again. */
static void pace_exporter(struct sim *s, uint64_t n)
{
	struct qk_proc_stats *t = &s->p.seg.stats[QK_PROC_TELEMETRY];
	struct timespec nap = { 0, PACE_NAP_NS };

	if (s->unpaced || !(qk_load_relaxed(&t->flags) & QK_PROCF_PACED))
		return;
	/* a count past ours (a sim restarted under the same exporter) is no lag */
	for (uint32_t naps = 1; !stop && qk_load_relaxed(&t->cycles) + PACE_LAG < n; naps++) {
		if (qk_load_relaxed(&t->frames_lost) || !qk_load_relaxed(&t->pid) ||
		    (!(naps % 100) && !qk_seg_alive(&s->p.seg, QK_PROC_TELEMETRY))) {
			s->unpaced = true;
			return;
		}
		nanosleep(&nap, NULL);
	}
}

/* The newest actuator frame; after watchdog_cycles without one, none. */
static const struct qk_actuator_frame *actuation(struct sim *s, uint64_t cycle)
{
	struct qk_proc_stats *st = s->p.st;
	uint32_t limit = s->p.cfg.limits.actuator_watchdog_cycles;

	if (qk_ring_read_newest(&s->act_rd, &s->act)) {
		s->have_act = true;
		s->act_age = 0;
		/* the frame due now answers the previous cycle's sensor frame */
		if (cycle && s->act.answers_cycle + 1 != cycle)
			qk__stat_inc(&st->missed_cycle, 1);
	} else if (s->have_act && s->act.state == QK_ST_SHUTDOWN) {
		return NULL;	/* the agent signed off: safe, and not a fault */
	} else if (s->have_act) {
		s->act_age++;
		qk__stat_inc(&st->frames_stale, 1);
		if (cycle)
			qk__stat_inc(&st->missed_cycle, 1);
	}
	qk_store_relaxed(&st->frames_lost, s->act_rd.lost);
	if (s->have_act && s->act_age < limit) {
		s->status.watchdog_safe = 0;
		return &s->act;
	}
	if (s->have_act && !s->status.watchdog_safe)
		s->status.watchdog_trips++;
	s->status.watchdog_safe = s->have_act;
	return NULL;		/* safe actuation: everything off */
}

/* Logs what changed this cycle: the watchdog, lost frames, overruns. */
static void log_changes(struct sim *s, uint64_t overruns, int64_t late_ns)
{
	uint64_t lost = s->act_rd.lost;

	if (s->status.watchdog_safe != s->logged_watchdog) {
		if (s->status.watchdog_safe)
			QK_WARN(s->p.log, "watchdog: no actuator frame for %u cycles; thrusters "
				"forced off (trip %llu)", s->p.cfg.limits.actuator_watchdog_cycles,
				(unsigned long long)s->status.watchdog_trips);
		else
			QK_INFO(s->p.log, "watchdog: actuator frames again; actuation restored");
		s->logged_watchdog = s->status.watchdog_safe;
	}
	if (lost != s->logged_lost) {
		QK_WARN(s->p.log, "lost %llu actuator frames (%llu in all)",
			(unsigned long long)(lost - s->logged_lost), (unsigned long long)lost);
		s->logged_lost = lost;
	}
	if (overruns != s->logged_overruns) {
		QK_WARN(s->p.log, "overrun: woke %.1f us late, %llu cycles skipped (%llu in all)",
			(double)late_ns / 1e3, (unsigned long long)(overruns - s->logged_overruns),
			(unsigned long long)overruns);
		s->logged_overruns = overruns;
	}
}

/* The launcher is gone: the agent signs off with a safe frame (it got the
 * same signal), then we stop, as the launcher's own shutdown would.  A dead
 * or frozen agent is covered by the watchdog, anything else by a bound; the
 * last one out marks the segment shutting down, so that any reader (or a
 * replacement started by hand) leaves it too.  True: stop now. */
static bool launcher_gone(struct sim *s, const struct qk_actuator_frame *act)
{
	uint64_t bound = 2ull * s->p.cfg.limits.actuator_watchdog_cycles + 10;

	if (s->orphan_cycles++ == 0)
		QK_WARN(s->p.log, "the launcher is gone (SIGHUP): stopping once the agent signed off");
	if (act && s->orphan_cycles <= bound)
		return false;
	QK_WARN(s->p.log, "stopping without a launcher: %s",
		act ? "the agent did not sign off" :
		s->have_act && s->act.state == QK_ST_SHUTDOWN ? "the agent signed off" :
		"actuation already safe (watchdog)");
	qk_seg_set_state(&s->p.seg, QK_SEG_SHUTTING_DOWN);
	return true;
}

/* Lockstep: wait for the agent's answer to frame `cycle`. */
static void await_answer(struct sim *s, uint64_t cycle)
{
	struct qk_ring_port *r = s->p.seg.actuators;

	/* as long as the agent lives: an answer given up on would make this
	 * run differ from the next; a dead agent (its lock gone) is the
	 * watchdog's business */
	for (int tries = 0; !stop; tries++) {
		uint64_t seen = qk_ring_head(r);

		if (tries >= 2 && !qk_seg_alive(&s->p.seg, QK_PROC_AGENT))
			return;

		if (seen != s->act_rd.next) {
			/* peek without consuming: actuation() reads it next cycle */
			struct qk_ring_reader peek = s->act_rd;
			struct qk_actuator_frame f;

			if (qk_ring_read_newest(&peek, &f) && f.answers_cycle >= cycle)
				return;
		}
		qk_ring_wait(r, seen, LOCKSTEP_WAIT_NS);
	}
}

/* 0 when stopped, 6 when the segment turned out inconsistent. */
static int run(struct sim *s, const struct qk_proc_opts *o)
{
	struct qk_seg *seg = &s->p.seg;
	struct qk_period per;
	uint64_t hash = 0xcbf29ce484222325ull;
	int64_t period = seg->period_ns;
	uint32_t checks = 0;
	double dt = (double)period / 1e9;
	uint64_t n = 0;
	int bad = 0;

	qk_period_init(&per, seg->epoch_ns, period, 0, qk_now_ns());
	if (s->lockstep) {
		/* the agent must be there from frame 0, or runs would differ:
		 * its flags are set once it reads the ring, right before its loop */
		while (!stop && !qk_load_acquire(&seg->stats[QK_PROC_AGENT].flags))
			qk_ring_wait(seg->actuators, qk_ring_head(seg->actuators),
				     LOCKSTEP_WAIT_NS);
	}
	while (!stop && qk_seg_state(seg) != QK_SEG_SHUTTING_DOWN) {
		int64_t due, wake;

		if (s->lockstep) {
			if (s->gated)
				hold(s, n);
			pace_exporter(s, n);
			if (stop || qk_seg_state(seg) == QK_SEG_SHUTTING_DOWN)
				break;
			due = wake = qk_now_ns();
		} else {
			int ret = qk_period_wait(&per);

			if (ret)
				break;
			due = per.due_ns;
			wake = qk_now_ns();
			n = per.cycle;
		}
		/* every QK_VERIFY_EVERY cycles (about 300 instructions): until
		 * then the private geometry keeps every access in bounds */
		if (!(++checks % QK_VERIFY_EVERY) && qk_seg_verify(seg) >= 0) {
			/* anything read from the segment now may be a lie: say
			 * which region, and stop using it (safe actuation below) */
			fprintf(stderr, PROG ": %s\n", seg->err);
			QK_ERROR(s->p.log, "%s", seg->err);
			bad = 6;
			break;
		}
		const struct qk_actuator_frame *act = actuation(s, n);

		take_commands(s);
		qk_plant_step(&s->plant, act, dt);
		qk_plant_sense(&s->plant, &s->frame);
		s->frame.cycle = n;
		s->frame.sim_time_ns = (int64_t)n * period;
		s->frame.sched_ns = due;
		s->frame.wake_ns = wake;
		s->frame.applied_seq = act ? s->act_rd.last : QK_NO_FRAME;
		s->frame.applied_answers = act ? act->answers_cycle : QK_NO_FRAME;
		s->frame.flags = (s->status.watchdog_safe ? QK_SIMF_WATCHDOG_SAFE : 0) |
				 (s->lockstep ? QK_SIMF_LOCKSTEP : 0) |
				 (s->p.rt.rt ? 0 : QK_SIMF_NO_RT);
		hash = qk_proc_frame_hash(hash, &s->frame);
		s->frame.publish_ns = qk_now_ns();
		qk_ring_publish(seg->sensors, &s->frame);
		qk_ring_wake(seg->sensors);

		s->status.cycle = n;
		s->status.time_ns = s->frame.publish_ns;
		s->status.stream_hash = hash;
		qk_plant_fault_status(&s->plant, &s->status);
		qk_mbox_write(seg->sim_status, &s->status);
		qk_proc_account(s->p.st, due, wake, qk_now_ns(), per.overruns);
		log_changes(s, per.overruns, wake - due);

		if (s->lockstep) {
			await_answer(s, n);
			n++;
		}
		if (o->cycles && qk_load_relaxed(&s->p.st->cycles) >= o->cycles)
			break;
		if (orphaned && launcher_gone(s, act))
			break;
	}
	/* whatever stopped us, the plant's last command is: everything off */
	qk_plant_step(&s->plant, NULL, dt);
	return bad;
}

int main(int argc, char **argv)
{
	static struct sim s;	/* large: keep it off the stack */
	struct qk_proc_opts o;
	char why[512];
	int ret = qk_proc_parse(argc, argv, PROG, QK_PROC_SIM, &o);

	if (ret)
		return ret > 0 ? 0 : 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_orphaned);
	ret = qk_proc_attach(&s.p, &o, QK_PROC_SIM, why, sizeof(why));
	if (ret) {
		fprintf(stderr, PROG ": %s\n", why);
		return 2;
	}
	ret = qk_proc_log_open(&s.p, &o, PROG, why, sizeof(why));
	if (ret) {
		fprintf(stderr, PROG ": %s\n", why);
		goto out;
	}
	ret = qk_plant_init(&s.plant, &s.p.cfg, s.p.cfg.seed, why, sizeof(why));
	if (ret) {
		fprintf(stderr, PROG ": bad plant configuration: %s\n", why);
		goto out;
	}
	for (int i = 0; i < o.n_faults; i++) {
		char dev[QK_NAME_LEN];
		enum qk_fault_kind kind;
		double value;

		if (parse_fault(o.fault[i], dev, sizeof(dev), &kind, &value)) {
			fprintf(stderr, PROG ": --fault '%s': expected DEVICE:KIND[:VALUE] with KIND "
				"one of stuck noise bias dropout post-fail\n", o.fault[i]);
			ret = -EINVAL;
			goto out;
		}
		ret = qk_plant_fault_set(&s.plant, dev, kind, value, why, sizeof(why));
		if (ret) {
			fprintf(stderr, PROG ": --fault '%s': %s\n", o.fault[i], why);
			goto out;
		}
	}
	s.lockstep = s.p.cfg.wake_mode == QK_WAKE_LOCKSTEP;
	s.gated = s.lockstep && o.gated;
	/* a sim restarted by hand takes over rings its predecessor may have
	 * left mid-write */
	qk_ring_producer_recover(s.p.seg.sensors);
	qk_ring_producer_recover(s.p.seg.sim_replies);
	qk_ring_reader_init(&s.act_rd, s.p.seg.actuators, QK_RING_FROM_NOW);
	QK_INFO(s.p.log, PROG " %s started: instance %s, %lld Hz%s, seed %llu, %d faults, pid %d",
		QK_VERSION, o.instance, (long long)(QK_NSEC / s.p.seg.period_ns),
		s.lockstep ? " lockstep" : "", (unsigned long long)s.p.cfg.seed, o.n_faults,
		(int)getpid());
	ret = qk_proc_go_rt(&s.p, &o, why, sizeof(why));
	if (ret) {
		fprintf(stderr, PROG ": %s\n", why);
		ret = ret == -EPERM ? 3 : 1;
		qk_proc_exit(&s.p);
		return ret;
	}
	/* the POST goes out once we are real time, right before the first
	 * cycle: the agent's stale guard counts from it, and going real time
	 * (mlockall of the whole process) can take longer than that guard */
	publish_post(&s);
	QK_INFO(s.p.log, "POST %llu published: %u devices, firmware %u",
		(unsigned long long)s.bios.post_count, s.bios.n_devices, s.bios.firmware_version);
	int bad = run(&s, &o);

	ret = qk_proc_finish(&s.p, &o, PROG);
	return bad ? bad : ret;
out:
	qk_proc_exit(&s.p);
	return 1;
}
