/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ctl/scenario.c - scenarios; see ctl/scenario.h.
 *
 * Loading reads the whole file with libyaml's document API (nodes carry
 * their line and column) into fixed steps, and checks every word against
 * the configuration, so a bad file is refused before the loop starts.
 * Playing is a small state machine per step: wait for the trigger, send the
 * action and check its reply, then wait for the expectation or its bound.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "ctl/client.h"
#include "ctl/param.h"
#include "ctl/scenario.h"
#include "rt/agent/fsm.h"
#include "rt/cli.h"
#include "rt/rt.h"
#include "rt/sim/plant.h"
#include "shm/mbox.h"
#include "shm/ring.h"

#define MAX_STEPS 128
#define MAX_SETPOINTS 16
#define TEXT 96
#define WHEN_TIMEOUT_NS (30 * QK_NSEC)
#define REQ_TIMEOUT_NS (2 * QK_NSEC)
#define REACH_M 0.2		/* "setpoint reached": this close ... */
#define REACH_MPS 0.1		/* ... and this slow */
#define SETTLE_BAND 0.05	/* settling: within 5 % of the step (at least REACH_M) */
#define LS_REPLY_CYCLES 100	/* lockstep: the reply comes the next cycle; this is the bound */
#define LS_BASE_NS QK_NSEC	/* lockstep clock at cycle 0: never 0, which means "not yet" */

enum trig { T_NEXT, T_AT, T_AFTER, T_WHEN };
enum cond_kind { C_NONE, C_STATE, C_REASON, C_REACHED, C_VALUE };
enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
enum reply_want { R_ACCEPTED, R_REFUSED };

struct cond {
	enum cond_kind kind;
	enum op op;
	uint32_t code;			/* C_STATE: the state; C_REASON: the trigger */
	int quantity;			/* C_VALUE: 0..2 position, 3..5 velocity, 6 speed */
	double value;
	bool within;
	uint32_t cycles;
	char text[TEXT];
};

struct step {
	unsigned line, col;
	enum trig trig;
	int64_t at_ns;			/* T_AT: since the start; T_AFTER: since the last step */
	int64_t timeout_ns;
	struct cond when, expect;
	bool act;
	enum qk_ctl_target target;
	struct qk_cmd cmd;
	enum reply_want reply;
	char what[TEXT];		/* the step in words, for messages */
};

struct setpoint_track {
	double target[3], start[3], dist;
	uint64_t cycle0;
	bool started;			/* start position taken */
	double overshoot_m;
	int64_t reached_cycle, last_outside_cycle;
};

struct qk_scenario {
	char file[256];
	const struct qk_config *cfg;
	struct step step[MAX_STEPS];
	unsigned n, cur;
	bool triggered, acted, lockstep;
	int64_t t0, step_ns;		/* the run's start, the step's start */
	uint64_t step_cycle, step_ntrans;
	enum qk_scn_result result;
	char failure[800];
	struct qk_ring_reader rd;
	bool have_rd;
	struct qk_sensor_frame last;
	bool have_last;
	struct setpoint_track sp[MAX_SETPOINTS];
	unsigned nsp;
	/* lockstep: the action queued and its reply awaited at later stops */
	bool sent;
	uint64_t sent_id, sent_cycle, cycle;
	struct qk_ring_reader rep;
};

/* ---- loading ----------------------------------------------------------------- */

struct ld {
	yaml_document_t doc;
	struct qk_scenario *s;
	char *why;
	size_t n;
};

__attribute__((format(printf, 3, 4)))
static int bad(struct ld *l, const yaml_node_t *at, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(l->why, l->n, "%s:%zu:%zu: %s", l->s->file, at->start_mark.line + 1,
		 at->start_mark.column + 1, msg);
	return -EINVAL;
}

static const char *scalar(const yaml_node_t *v)
{
	return v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
}

/* "2.5s", "300ms", "12" (seconds). */
static int parse_time(const char *s, int64_t *ns)
{
	char num[32];
	double v, mul = 1e9;
	size_t len = strlen(s);

	if (len > 2 && !strcmp(s + len - 2, "ms"))
		len -= 2, mul = 1e6;
	else if (len > 1 && s[len - 1] == 's')
		len -= 1;
	if (!len || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len);
	num[len] = 0;
	if (qk_parse_double(num, 0, 86400, &v))
		return -EINVAL;
	*ns = (int64_t)(v * mul);
	return 0;
}

static int split(char *s, char **w, int max)
{
	int n = 0;

	for (char *save, *t = strtok_r(s, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
		if (n < max)
			w[n++] = t;
		else
			return max + 1;
	return n;
}

static int parse_cond(struct ld *l, const yaml_node_t *v, struct cond *c)
{
	static const char *const ops[] = { "==", "!=", "<", "<=", ">", ">=" };
	static const char *const qty[] = { "position.x", "position.y", "position.z", "velocity.x",
					   "velocity.y", "velocity.z", "speed" };
	char buf[TEXT], *w[8];
	const char *s = scalar(v);
	int n, op = -1;

	if (!s || strlen(s) >= TEXT)
		return bad(l, v, "expected a condition such as 'state == SAFE within 50 cycles'");
	snprintf(c->text, sizeof(c->text), "%s", s);
	snprintf(buf, sizeof(buf), "%s", s);
	n = split(buf, w, 7);
	if (n >= 5 && !strcmp(w[n - 1], "cycles") && !strcmp(w[n - 3], "within")) {
		int cyc;

		if (qk_parse_int(w[n - 2], 1, 1000000000, &cyc))
			return bad(l, v, "'within %s cycles': expected a whole number of cycles", w[n - 2]);
		c->within = true;
		c->cycles = (uint32_t)cyc;
		n -= 3;
	}
	if (n == 2 && !strcmp(w[0], "setpoint") && !strcmp(w[1], "reached")) {
		c->kind = C_REACHED;
		return 0;
	}
	if (n != 3)
		return bad(l, v, "condition '%s': expected 'QUANTITY OP VALUE' (state == SAFE, "
			   "reason == tank-pressure, position.x > 5) or 'setpoint reached'", s);
	for (int i = 0; i < 6; i++)
		if (!strcmp(w[1], ops[i]))
			op = i;
	if (op < 0)
		return bad(l, v, "condition '%s': operator '%s': expected ==, !=, <, <=, > or >=",
			   s, w[1]);
	c->op = (enum op)op;
	if (!strcmp(w[0], "state") || !strcmp(w[0], "reason")) {
		bool st = !strcmp(w[0], "state");
		int code = -1;

		if (op > OP_NE)
			return bad(l, v, "condition '%s': a %s compares with == or != only", s, w[0]);
		if (st) {
			code = qk_fsm_state_parse(w[2]);
			if (code == QK_ST_COUNT)
				code = -1;	/* RESET is a request, not a state */
		} else {
			for (uint32_t t = 0; t < QK_TRG_COUNT; t++)
				if (!strcmp(w[2], qk_trigger_name(t)))
					code = (int)t;
		}
		if (code < 0)
			return bad(l, v, "condition '%s': unknown %s '%s'", s, w[0], w[2]);
		c->kind = st ? C_STATE : C_REASON;
		c->code = (uint32_t)code;
		return 0;
	}
	for (int i = 0; i < 7; i++)
		if (!strcmp(w[0], qty[i]))
			c->quantity = i, c->kind = C_VALUE;
	if (c->kind != C_VALUE)
		return bad(l, v, "condition '%s': unknown quantity '%s': expected state, reason, "
			   "position.x|y|z, velocity.x|y|z or speed", s, w[0]);
	if (qk_parse_double(w[2], -1e9, 1e9, &c->value))
		return bad(l, v, "condition '%s': '%s' is not a number", s, w[2]);
	return 0;
}

static int parse_action_text(struct ld *l, const yaml_node_t *v, struct step *st, const char *s);

static int parse_action(struct ld *l, const yaml_node_t *v, struct step *st)
{
	return parse_action_text(l, v, st, scalar(v));
}

static int parse_action_text(struct ld *l, const yaml_node_t *v, struct step *st, const char *s)
{
	char buf[TEXT], *w[8];
	int n;

	if (!s || strlen(s) >= TEXT)
		return bad(l, v, "expected an action such as 'state ACTIVE' or 'setpoint 10 0 0'");
	snprintf(buf, sizeof(buf), "%s", s);
	n = split(buf, w, 5);
	st->act = true;
	if (n == 2 && !strcmp(w[0], "state")) {
		int t = qk_fsm_state_parse(w[1]);

		if (t < 0)
			return bad(l, v, "state '%s': expected BOOTING, IDLE, ACTIVE, SAFE, SHUTDOWN "
				   "or RESET", w[1]);
		st->target = QK_CTL_AGENT;
		st->cmd.type = QK_CMD_STATE;
		st->cmd.u[0] = (uint32_t)t;
		return 0;
	}
	if (n == 4 && !strcmp(w[0], "setpoint")) {
		st->target = QK_CTL_AGENT;
		st->cmd.type = QK_CMD_SETPOINT;
		for (int i = 0; i < 3; i++)
			if (qk_parse_double(w[1 + i], -1e6, 1e6, &st->cmd.arg[i]))
				return bad(l, v, "setpoint: '%s' is not a distance in metres", w[1 + i]);
		return 0;
	}
	if ((n == 3 || n == 4) && !strcmp(w[0], "fault") && strcmp(w[1], "clear")) {
		int kind = -1;

		if (qk_config_device(l->s->cfg, w[1]) < 0)
			return bad(l, v, "fault: no device '%s' in the profile", w[1]);
		for (int k = 1; k < QK_FAULT_COUNT; k++)
			if (!strcmp(w[2], qk_plant_fault_name((enum qk_fault_kind)k)))
				kind = k;
		if (kind < 0)
			return bad(l, v, "fault: kind '%s': expected stuck, noise, bias, dropout or "
				   "post-fail", w[2]);
		if (n == 4 && qk_parse_double(w[3], -1e9, 1e9, &st->cmd.arg[0]))
			return bad(l, v, "fault: value '%s' is not a number", w[3]);
		st->target = QK_CTL_SIM;
		st->cmd.type = QK_CMD_FAULT_SET;
		st->cmd.u[0] = (uint32_t)kind;
		snprintf(st->cmd.name, sizeof(st->cmd.name), "%s", w[1]);
		return 0;
	}
	if (n == 3 && !strcmp(w[0], "fault") && !strcmp(w[1], "clear")) {
		if (strcmp(w[2], "all") && qk_config_device(l->s->cfg, w[2]) < 0)
			return bad(l, v, "fault clear: no device '%s' in the profile", w[2]);
		st->target = QK_CTL_SIM;
		st->cmd.type = QK_CMD_FAULT_CLEAR;
		snprintf(st->cmd.name, sizeof(st->cmd.name), "%s", w[2]);
		return 0;
	}
	if (n == 3 && !strcmp(w[0], "param")) {
		char err[1024];

		st->target = QK_CTL_AGENT;
		if (qk_ctl_param_action(l->s->cfg, w[1], w[2], &st->cmd, err, sizeof(err)))
			return bad(l, v, "%s", err);
		return 0;
	}
	return bad(l, v, "action '%s': expected 'state NAME', 'setpoint X Y Z', "
		   "'fault DEVICE KIND [VALUE]', 'fault clear DEVICE|all' or 'param NAME VALUE'", s);
}

static int parse_step(struct ld *l, yaml_node_t *m, struct step *st)
{
	int triggers = 0;

	st->line = (unsigned)m->start_mark.line + 1;
	st->col = (unsigned)m->start_mark.column + 1;
	st->timeout_ns = WHEN_TIMEOUT_NS;
	if (m->type != YAML_MAPPING_NODE)
		return bad(l, m, "a step is a mapping of at/when/timeout/do/expect");
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&l->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&l->doc, p->value);
		const char *key = scalar(k), *val = scalar(v);
		int ret = 0;

		if (!key)
			return bad(l, k, "expected a key");
		if (!val)
			return bad(l, v, "'%s': expected a single value", key);
		if (!strcmp(key, "at") || !strcmp(key, "after")) {
			triggers++;
			st->trig = !strcmp(key, "at") ? T_AT : T_AFTER;
			if (parse_time(val, &st->at_ns))
				return bad(l, v, "%s: '%s': expected a time such as 2.5s or 300ms", key, val);
		} else if (!strcmp(key, "when")) {
			triggers++;
			st->trig = T_WHEN;
			ret = parse_cond(l, v, &st->when);
			if (!ret && st->when.within)
				return bad(l, v, "when: 'within' belongs to expect; use timeout: here");
		} else if (!strcmp(key, "timeout")) {
			if (parse_time(val, &st->timeout_ns) || !st->timeout_ns)
				return bad(l, v, "timeout: '%s': expected a time such as 10s", val);
		} else if (!strcmp(key, "do")) {
			ret = parse_action(l, v, st);
		} else if (!strcmp(key, "param")) {	/* `param: NAME VALUE`, as `do: param ...` */
			char words[TEXT + 8];

			snprintf(words, sizeof(words), "param %s", val);
			ret = parse_action_text(l, v, st, words);
		} else if (!strcmp(key, "expect")) {
			if (!strcmp(val, "refused") || !strcmp(val, "accepted"))
				st->reply = !strcmp(val, "refused") ? R_REFUSED : R_ACCEPTED;
			else
				ret = parse_cond(l, v, &st->expect);
		} else if (strcmp(key, "name")) {
			return bad(l, k, "unknown key '%s': a step has at, after, when, timeout, do, "
				   "param, expect and name", key);
		}
		if (ret)
			return ret;
	}
	if (triggers > 1)
		return bad(l, m, "a step has one trigger: at, after or when");
	if (!st->act && st->reply == R_REFUSED)
		return bad(l, m, "expect: refused needs an action (do:) to refuse");
	if (!st->act && st->expect.kind == C_NONE && !triggers)
		return bad(l, m, "a step needs at least one of at, after, when, do, expect");
	return 0;
}

static void describe(const yaml_node_t *m, yaml_document_t *doc, struct step *st)
{
	size_t o = 0;

	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		const char *k = scalar(yaml_document_get_node(doc, p->key));
		const char *v = scalar(yaml_document_get_node(doc, p->value));

		if (k && v && strcmp(k, "name") && o < sizeof(st->what))
			o += (size_t)snprintf(st->what + o, sizeof(st->what) - o, "%s%s: %s",
					      o ? ", " : "", k, v);
	}
}

static int load(struct ld *l)
{
	yaml_node_t *root = yaml_document_get_root_node(&l->doc), *steps = NULL;

	if (!root || root->type != YAML_MAPPING_NODE) {
		snprintf(l->why, l->n, "%s:1:1: expected a mapping with 'steps:' (a list of steps)",
			 l->s->file);
		return -EINVAL;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&l->doc, p->key);
		const char *key = scalar(k);

		if (key && !strcmp(key, "steps"))
			steps = yaml_document_get_node(&l->doc, p->value);
		else if (!key || (strcmp(key, "name") && strcmp(key, "description")))
			return bad(l, k, "unknown key '%s': a scenario has name, description and steps",
				   key ? key : "?");
	}
	if (!steps || steps->type != YAML_SEQUENCE_NODE)
		return bad(l, steps ? steps : root, "expected 'steps:' with a list of steps");
	for (yaml_node_item_t *i = steps->data.sequence.items.start; i < steps->data.sequence.items.top; i++) {
		yaml_node_t *m = yaml_document_get_node(&l->doc, *i);
		int ret;

		if (l->s->n == MAX_STEPS)
			return bad(l, m, "more than %d steps", MAX_STEPS);
		if ((ret = parse_step(l, m, &l->s->step[l->s->n])))
			return ret;
		describe(m, &l->doc, &l->s->step[l->s->n++]);
	}
	if (!l->s->n)
		return bad(l, steps, "no steps");
	return 0;
}

struct qk_scenario *qk_scenario_load(const char *path, const struct qk_config *cfg,
				     char *why, size_t n)
{
	struct qk_scenario *s = calloc(1, sizeof(*s));
	struct ld l = { .s = s, .why = why, .n = n };
	yaml_parser_t ps;
	FILE *f;
	int ret;

	if (!s) {
		snprintf(why, n, "out of memory");
		return NULL;
	}
	snprintf(s->file, sizeof(s->file), "%s", path);
	s->cfg = cfg;
	if (!(f = fopen(path, "r"))) {
		snprintf(why, n, "%s: %s", path, strerror(errno));
		free(s);
		return NULL;
	}
	yaml_parser_initialize(&ps);
	yaml_parser_set_input_file(&ps, f);
	if (!yaml_parser_load(&ps, &l.doc)) {
		snprintf(why, n, "%s:%zu:%zu: %s", path, ps.problem_mark.line + 1,
			 ps.problem_mark.column + 1, ps.problem ? ps.problem : "not YAML");
		yaml_parser_delete(&ps);
		fclose(f);
		free(s);
		return NULL;
	}
	ret = load(&l);
	yaml_document_delete(&l.doc);
	yaml_parser_delete(&ps);
	fclose(f);
	if (ret) {
		free(s);
		return NULL;
	}
	return s;
}

/* ---- playing ----------------------------------------------------------------- */

static bool cmp(enum op op, double a, double b)
{
	switch (op) {
	case OP_EQ: return a == b;
	case OP_NE: return a != b;
	case OP_LT: return a < b;
	case OP_LE: return a <= b;
	case OP_GT: return a > b;
	default: return a >= b;
	}
}

static double speed(const struct qk_sensor_frame *f)
{
	return sqrt(f->vel_mps[0] * f->vel_mps[0] + f->vel_mps[1] * f->vel_mps[1] +
		    f->vel_mps[2] * f->vel_mps[2]);
}

static double dist3(const double a[3], const double b[3])
{
	return sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
		    (a[2] - b[2]) * (a[2] - b[2]));
}

/* Every new sensor frame: the newest for the conditions, and each one for
 * the setpoint figures. */
static void take_frames(struct qk_scenario *s, struct qk_seg *seg)
{
	struct qk_sensor_frame f;

	if (!s->have_rd) {
		qk_ring_reader_init(&s->rd, seg->sensors, QK_RING_FROM_NOW);
		s->have_rd = true;
	}
	while (qk_ring_read_next(&s->rd, &f)) {
		s->last = f;
		s->have_last = true;
		if (!s->nsp)
			continue;
		struct setpoint_track *t = &s->sp[s->nsp - 1];

		if (!t->started) {
			memcpy(t->start, f.pos_m, sizeof(t->start));
			t->dist = dist3(t->start, t->target);
			t->cycle0 = f.cycle;
			t->started = true;
		}
		double err = dist3(f.pos_m, t->target), along = 0;

		if (t->dist > 0)
			for (int i = 0; i < 3; i++)
				along += (f.pos_m[i] - t->start[i]) * (t->target[i] - t->start[i]) / t->dist;
		if (along - t->dist > t->overshoot_m)
			t->overshoot_m = along - t->dist;
		if (t->reached_cycle < 0 && err < REACH_M && speed(&f) < REACH_MPS)
			t->reached_cycle = (int64_t)f.cycle;
		if (err > fmax(SETTLE_BAND * t->dist, REACH_M))
			t->last_outside_cycle = (int64_t)f.cycle;
	}
}

/* The condition now: 1 true, 0 false; `seen` says what was there. */
static int holds(struct qk_scenario *s, const struct qk_agent_status *st, const struct cond *c,
		 char *seen, size_t n)
{
	const struct qk_sensor_frame *f = &s->last;

	switch (c->kind) {
	case C_STATE:
		snprintf(seen, n, "state %s", qk_fsm_state_name(st->state));
		return cmp(c->op, st->state, c->code);
	case C_REASON: {
		uint32_t trg = st->n_transitions ?
			st->trans[(st->n_transitions - 1) % QK_MAX_TRANSITIONS].trigger : QK_TRG_NONE;

		snprintf(seen, n, "reason %s", qk_trigger_name(trg));
		return cmp(c->op, trg, c->code);
	}
	case C_REACHED: {
		if (!s->have_last) {
			snprintf(seen, n, "no sensor frame yet");
			return 0;
		}
		double err = dist3(f->pos_m, st->setpoint_m), v = speed(f);

		snprintf(seen, n, "%.2f m from the setpoint at %.2f m/s", err, v);
		return err < REACH_M && v < REACH_MPS;
	}
	case C_VALUE: {
		double v = c->quantity < 3 ? f->pos_m[c->quantity] :
			   c->quantity < 6 ? f->vel_mps[c->quantity - 3] : speed(f);

		if (!s->have_last) {
			snprintf(seen, n, "no sensor frame yet");
			return 0;
		}
		snprintf(seen, n, "%g", v);
		return cmp(c->op, v, c->value);
	}
	default:
		return 1;
	}
}

/* A state reached within the bound, by the transition history's cycles: 1
 * yes, 0 not yet, -1 the bound passed. */
static int state_within(struct qk_scenario *s, const struct qk_agent_status *st,
			const struct cond *c)
{
	uint64_t last = s->step_cycle + c->cycles, n = st->n_transitions, i = s->step_ntrans;

	/* the count is the segment's: only the window the history keeps is
	 * looked at, however far it jumped */
	if (n > i && n - i > QK_MAX_TRANSITIONS)
		i = n - QK_MAX_TRANSITIONS;
	for (; i < n; i++) {
		const struct qk_transition *t = &st->trans[i % QK_MAX_TRANSITIONS];

		if (t->cycle <= last && cmp(c->op, t->to, c->code))
			return 1;
	}
	return st->cycle > last ? -1 : 0;
}

__attribute__((format(printf, 3, 4)))
static enum qk_scn_result failed(struct qk_scenario *s, const struct step *st, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(s->failure, sizeof(s->failure), "%s:%u: step %u (%s): %s", s->file, st->line,
		 s->cur + 1, st->what, msg);
	return s->result = QK_SCN_FAILED;
}

/* Lockstep: the sim is held, so the command is queued, not waited for:
 * the sim takes it while held, the agent before the next frame's tick, and
 * the reply is there at the next stop.  0 with *r, -EINPROGRESS queued (or
 * the queue full: again at the next stop), -ETIMEDOUT no reply in
 * LS_REPLY_CYCLES cycles. */
static int lockstep_request(struct qk_scenario *s, struct qk_seg *seg, const struct step *p,
			    struct qk_reply *r)
{
	bool sim = p->target == QK_CTL_SIM;

	if (!s->sent) {
		struct qk_cmd c = p->cmd;

		c.id = qk_seg_next_cmd_id(seg);
		c.sender_pid = getpid();
		c.expires_ns = qk_now_ns() + 5 * REQ_TIMEOUT_NS;
		qk_ring_reader_init(&s->rep, sim ? seg->sim_replies : seg->agent_replies,
				    QK_RING_FROM_NOW);
		if (qk_cmdq_push(sim ? seg->sim_cmdq : seg->agent_cmdq, &c))
			return -EINPROGRESS;
		s->sent = true;
		s->sent_id = c.id;
		s->sent_cycle = s->cycle;
		return -EINPROGRESS;
	}
	for (uint32_t n = 0; n < QK_REPLY_RING_CAP && qk_ring_read_next(&s->rep, r); n++)
		if (r->id == s->sent_id) {
			r->reason[sizeof(r->reason) - 1] = '\0';	/* untrusted */
			s->sent = false;
			return 0;
		}
	if (s->cycle - s->sent_cycle > LS_REPLY_CYCLES) {
		s->sent = false;
		return -ETIMEDOUT;
	}
	return -EINPROGRESS;
}

static void begin(struct qk_scenario *s, const struct qk_agent_status *st, int64_t now)
{
	s->step_ns = now;
	s->step_cycle = st->cycle;
	s->step_ntrans = st->n_transitions;
}

enum qk_scn_result qk_scenario_poll(struct qk_scenario *s, struct qk_seg *seg, int64_t now,
				    FILE *say, bool erase)
{
	struct qk_agent_status st, scratch;
	char seen[128];

	if (s->result != QK_SCN_RUNNING)
		return s->result;
	if (!s->t0)
		s->t0 = now;
	take_frames(s, seg);
	while (s->cur < s->n) {
		struct step *p = &s->step[s->cur];

		memset(&st, 0, sizeof(st));
		qk_mbox_read(seg->agent_status, &st, &scratch);
		if (!s->triggered) {
			if (!s->step_ns)
				begin(s, &st, now);
			if (p->trig == T_AT && now - s->t0 < p->at_ns)
				return QK_SCN_RUNNING;
			if (p->trig == T_AFTER && now - s->step_ns < p->at_ns)
				return QK_SCN_RUNNING;
			if (p->trig == T_WHEN && !holds(s, &st, &p->when, seen, sizeof(seen))) {
				if (now - s->step_ns <= p->timeout_ns)
					return QK_SCN_RUNNING;
				return failed(s, p, "'%s' did not come within %.1f s: %s", p->when.text,
					      (double)p->timeout_ns / 1e9, seen);
			}
			s->triggered = true;
			begin(s, &st, now);
		}
		if (p->act && !s->acted) {
			struct qk_cmd c = p->cmd;
			struct qk_reply r;
			int ret = s->lockstep ? lockstep_request(s, seg, p, &r)
					      : qk_ctl_request(seg, p->target, &c, REQ_TIMEOUT_NS, &r);

			if (ret == -EINPROGRESS)
				return QK_SCN_RUNNING;	/* queued; answered by the next stop */
			if (ret)
				return failed(s, p, "no answer: %s", strerror(-ret));
			if (p->reply == R_ACCEPTED && r.status != QK_REPLY_ACCEPTED)
				return failed(s, p, "refused: %s", r.reason);
			if (p->reply == R_REFUSED && r.status == QK_REPLY_ACCEPTED)
				return failed(s, p, "expected a refusal, but it was accepted");
			if (p->cmd.type == QK_CMD_SETPOINT && r.status == QK_REPLY_ACCEPTED &&
			    s->nsp < MAX_SETPOINTS) {
				struct setpoint_track *t = &s->sp[s->nsp++];

				memset(t, 0, sizeof(*t));
				memcpy(t->target, p->cmd.arg, sizeof(t->target));
				t->reached_cycle = t->last_outside_cycle = -1;
			}
			s->acted = true;
			memset(&st, 0, sizeof(st));
			qk_mbox_read(seg->agent_status, &st, &scratch);
			begin(s, &st, now);
		}
		if (p->expect.kind != C_NONE) {
			const struct cond *c = &p->expect;

			if (c->within && c->kind == C_STATE) {
				int w = holds(s, &st, c, seen, sizeof(seen)) ? 1 : state_within(s, &st, c);

				if (w == 0)
					return QK_SCN_RUNNING;
				if (w < 0)
					return failed(s, p, "expected %s; %s for %u cycles", c->text, seen,
						      c->cycles);
			} else if (!holds(s, &st, c, seen, sizeof(seen))) {
				uint64_t waited = st.cycle - s->step_cycle;

				if (c->within && waited <= c->cycles)
					return QK_SCN_RUNNING;
				return failed(s, p, "expected %s; seen %s", c->text, seen);
			}
		}
		if (say)
			fprintf(say, "%sscenario: step %u ok at %.2f s (cycle %llu): %s\n",
				erase ? "\r\033[K" : "", s->cur + 1,
				(double)(now - s->t0) / 1e9, (unsigned long long)st.cycle, p->what);
		s->cur++;
		s->triggered = s->acted = false;
		s->step_ns = 0;
	}
	return s->result = QK_SCN_PASSED;
}

/* The first cycle at or after lockstep time t. */
static uint64_t cycle_at(int64_t t, int64_t period)
{
	t -= LS_BASE_NS;
	return t <= 0 ? 0 : (uint64_t)((t + period - 1) / period);
}

enum qk_scn_result qk_scenario_step(struct qk_scenario *s, struct qk_seg *seg, uint64_t cycle,
				    uint64_t *next, FILE *say, bool erase)
{
	int64_t period = seg->period_ns;
	enum qk_scn_result r;

	s->lockstep = true;
	s->cycle = cycle;
	r = qk_scenario_poll(s, seg, LS_BASE_NS + (int64_t)cycle * period, say, erase);
	*next = cycle + 1;
	if (r == QK_SCN_RUNNING && !s->triggered && s->cur < s->n) {
		const struct step *p = &s->step[s->cur];
		uint64_t due = p->trig == T_AT ? cycle_at(s->t0 + p->at_ns, period) :
			       p->trig == T_AFTER ? cycle_at(s->step_ns + p->at_ns, period) : 0;

		if (due > *next)
			*next = due;
	}
	return r;
}

void qk_scenario_cut(struct qk_scenario *s)
{
	if (s->result == QK_SCN_RUNNING && s->cur < s->n)
		failed(s, &s->step[s->cur], "the run ended before this step was done");
}

enum qk_scn_result qk_scenario_result(const struct qk_scenario *s)
{
	return s->result;
}

const char *qk_scenario_failure(const struct qk_scenario *s)
{
	return s->failure;
}

void qk_scenario_report(const struct qk_scenario *s, struct qk_seg *seg, FILE *out)
{
	struct qk_agent_status st, scratch;
	double period = 1.0 / s->cfg->rate_hz;

	memset(&st, 0, sizeof(st));
	qk_mbox_read(seg->agent_status, &st, &scratch);
	fprintf(out, "scenario %s: %s (%u of %u steps)\n", s->file,
		s->result == QK_SCN_PASSED ? "passed" : s->result == QK_SCN_FAILED ? "FAILED" :
		"not finished", s->result == QK_SCN_PASSED ? s->n : s->cur, s->n);
	if (s->result == QK_SCN_FAILED)
		fprintf(out, "  %s\n", s->failure);
	uint64_t first = st.n_transitions > QK_MAX_TRANSITIONS ? st.n_transitions - QK_MAX_TRANSITIONS : 0;

	static struct qk_param_status ps;	/* parameter changes, among them by cycle */
	uint64_t pnext = 0;

	qk_ctl_params_read(seg, &ps);
	for (uint64_t i = first; i < st.n_transitions; i++) {
		const struct qk_transition *t = &st.trans[i % QK_MAX_TRANSITIONS];

		qk_ctl_param_report(&ps, &pnext, t->cycle, out);
		fprintf(out, "  cycle %-8llu %-8s -> %-8s %s\n", (unsigned long long)t->cycle,
			qk_fsm_state_name(t->from), qk_fsm_state_name(t->to), qk_trigger_name(t->trigger));
	}
	qk_ctl_param_report(&ps, &pnext, UINT64_MAX, out);
	for (unsigned i = 0; i < s->nsp; i++) {
		const struct setpoint_track *t = &s->sp[i];

		fprintf(out, "  setpoint %u (%g, %g, %g) m, %.2f m away: ", i + 1, t->target[0],
			t->target[1], t->target[2], t->dist);
		if (t->reached_cycle < 0) {
			fprintf(out, "not reached\n");
			continue;
		}
		fprintf(out, "reached in %.2f s, overshoot %.3f m (%.1f %%), settled (5 %%) in %.2f s\n",
			(double)((uint64_t)t->reached_cycle - t->cycle0) * period, t->overshoot_m,
			t->dist > 0 ? 100 * t->overshoot_m / t->dist : 0,
			t->last_outside_cycle < 0 ? 0 :
			(double)((uint64_t)t->last_outside_cycle + 1 - t->cycle0) * period);
	}
}

void qk_scenario_destroy(struct qk_scenario *s)
{
	free(s);
}
