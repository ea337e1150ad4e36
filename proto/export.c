/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* proto/export.c - the telemetry exporter; see proto/export.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "foxglove/Log.pb-c.h"
#include "foxglove/PoseInFrame.pb-c.h"
#include "proto/describe.h"
#include "proto/export.h"
#include "proto/mcap.h"
#include "proto/stream.h"
#include "proto/ws.h"
#include "qiki/v1/link.pb-c.h"
#include "qiki/v1/telemetry.pb-c.h"
#include "rt/agent/fsm.h"
#include "rt/agent/rules.h"
#include "shm/mbox.h"
#include "shm/ring.h"
#include "shm/seg.h"

/* the FileDescriptorSet of every schema, embedded by proto/fds.S */
extern const uint8_t qk_tele_fds[], qk_tele_fds_end[];

#define MAX_READINGS 96
#define HIST 256		/* sensor frames kept to pair with their answers */
#define PACK_MAX (64 * 1024)
#define POSE_MAX_HZ 100
#define SNAPSHOT_NS (100 * 1000000ll)
/* frames read from one ring in one pass: a ring's worth and more (1024
 * slots), so that a pass ends, and the next one checks the segment, even
 * while a hostile writer keeps the ring's head moving */
#define READ_MAX 4096

enum chan { C_SENSORS, C_ACTUATORS, C_TIMING, C_FSM, C_TRANS, C_BIOS, C_POSE, C_LOG, C_LINK,
	    C_PARAMS,
	    C_COUNT };

static const struct { const char *topic, *schema; } chans[C_COUNT] = {
	[C_SENSORS] = { "/sensors", "qiki.v1.SensorFrame" },
	[C_ACTUATORS] = { "/actuators", "qiki.v1.ActuatorFrame" },
	[C_TIMING] = { "/timing", "qiki.v1.LoopTiming" },
	[C_FSM] = { "/fsm", "qiki.v1.FsmStateSnapshot" },
	[C_TRANS] = { "/fsm/transitions", "qiki.v1.StateTransition" },
	[C_BIOS] = { "/bios", "qiki.v1.BiosStatusReport" },
	[C_POSE] = { "/pose", "foxglove.PoseInFrame" },
	[C_LOG] = { "/log", "foxglove.Log" },
	[C_LINK] = { "/link", "qiki.v1.LinkStats" },
	[C_PARAMS] = { "/params", "qiki.v1.ParameterChange" },
};

struct sensor_msg {
	Qiki__V1__SensorFrame f;
	Qiki__V1__SensorReading r[MAX_READINGS], *rp[MAX_READINGS];
	Qiki__V1__Vector3 v[MAX_READINGS];
};

struct act_msg {
	Qiki__V1__ActuatorFrame f;
	Qiki__V1__ActuatorCommand c[QK_MAX_THRUSTERS + QK_MAX_THERMAL], *cp[QK_MAX_THRUSTERS + QK_MAX_THERMAL];
};

struct qk_export {
	struct qk_export_opts o;
	struct qk_seg seg;
	const struct qk_config *cfg;
	struct qk_ring_reader sens_rd, act_rd, agent_rep, sim_rep;
	struct qk_sensor_frame hist[HIST];
	bool have[HIST];
	struct qk_sensor_frame f;
	struct qk_actuator_frame a;
	struct qk_agent_status st, scratch_st;
	struct qk_sim_status sim, scratch_sim;
	struct qk_bios_report bios, scratch_bios;
	struct qk_reply rep;
	uint64_t bios_writes, trans_done, decim, last_answered;
	bool answered_any;
	uint32_t last_state, last_watchdog;
	bool have_state;
	int64_t wall_off, last_snapshot, last_pose, last_frame_ns, pose_every_ns;
	int chan[C_COUNT];
	uint64_t last_log[C_COUNT];
	struct qk_mcap *mcap;
	struct qk_stream *stream;	/* the TCP clients, or NULL */
	struct qk_ws *ws;		/* the Foxglove WebSocket clients, or NULL */
	struct qk_ws_channel ws_ch[C_COUNT];
	uint8_t pack[PACK_MAX];
	struct sensor_msg sm;		/* the messages being filled, reused */
	struct act_msg am;
	char ids[QK_MAX_THRUSTERS + QK_MAX_THERMAL][QK_NAME_LEN + 24];
	struct qk_export_stats s;
	bool seen_loop;
	struct qk_proc_stats *slot;	/* ours in the segment, once claimed */
	int64_t last_link;		/* the newest /link snapshot */
	uint32_t last_link_state;
	int64_t dead_since;
	struct qk_param_status params, scratch_params;	/* the agent's runtime parameters */
	uint64_t params_writes, params_done;
	bool params_seen;
	bool lockstep;			/* stamped in simulated time: at() */
	int64_t ls_now, ls_newest;	/* the cycle being exported, the newest read */
	bool seg_lost;			/* overwritten or truncated: never touched again */
	char lost_why[400];
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- output: MCAP channels and the TCP stream ------------------------------ */

/* What a message is stamped with: CLOCK_MONOTONIC, or in lockstep the
 * simulated time of the cycle being exported, so that the file spans the
 * simulated time however fast the loop ran (wall_off then maps cycle 0 to
 * the time the exporter started). */
static int64_t at(const struct qk_export *e, int64_t mono)
{
	return e->lockstep ? e->ls_now : mono;
}

/* One message to the stream's clients (proto/stream.h). */
static void stream(struct qk_export *e, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);

	if (len > sizeof(e->pack))
		return;
	protobuf_c_message_pack(msg, e->pack);
	qk_stream_send(e->stream, e->pack, len);
}

static int emit(struct qk_export *e, enum chan c, int64_t mono, const ProtobufCMessage *msg)
{
	size_t len;
	int ret;

	bool live = e->ws && qk_ws_wanted(e->ws, c);

	mono = at(e, mono);
	if (!e->mcap && !live)
		return 0;
	if (protobuf_c_message_get_packed_size(msg) > sizeof(e->pack))
		return 0;	/* cannot happen with the bounded messages here */
	len = protobuf_c_message_pack(msg, e->pack);
	if (live)
		qk_ws_send(e->ws, c, (uint64_t)(mono + e->wall_off), e->pack, len);
	if (!e->mcap)
		return 0;
	/* log_time never goes back on a channel: an event seen late (a POST
	 * published before the transition we read first) is logged when seen;
	 * publish_time keeps when it happened */
	uint64_t pub = (uint64_t)(mono + e->wall_off), log = pub > e->last_log[c] ? pub : e->last_log[c];

	e->last_log[c] = log;
	ret = qk_mcap_write(e->mcap, e->chan[c], log, pub, e->pack, len);
	if (!ret)
		e->s.messages++;
	return ret;
}

/* ---- conversions ------------------------------------------------------------ */

static void ts_of(Google__Protobuf__Timestamp *t, int64_t wall)
{
	t->seconds = wall / 1000000000;
	t->nanos = (int32_t)(wall % 1000000000);
}

static int log_event(struct qk_export *e, int64_t mono, Foxglove__Log__Level lvl,
		     const char *who, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int log_event(struct qk_export *e, int64_t mono, Foxglove__Log__Level lvl,
		     const char *who, const char *fmt, ...)
{
	Foxglove__Log m = FOXGLOVE__LOG__INIT;
	Google__Protobuf__Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ts_of(&t, at(e, mono) + e->wall_off);
	m.timestamp = &t;
	m.level = lvl;
	m.message = msg;
	m.name = (char *)who;
	m.file = (char *)"";
	return emit(e, C_LOG, mono, &m.base);
}


static Qiki__V1__SensorReading *reading(struct sensor_msg *m, const struct qk_sensor_frame *f,
					const struct qk_device_cfg *d, const char *quantity,
					Qiki__V1__Unit unit, bool valid, double quality)
{
	size_t i = m->f.n_readings;

	if (i == MAX_READINGS)
		return NULL;
	Qiki__V1__SensorReading *r = &m->r[i];

	qiki__v1__sensor_reading__init(r);
	r->sensor_id = (char *)d->name;
	r->sensor_type = (Qiki__V1__SensorType)d->sensor;
	r->timestamp_ns = f->publish_ns;
	r->unit = unit;
	r->valid = valid;
	r->signal_quality = valid ? quality : 0;
	r->source = (char *)"qiki-sim";
	r->quantity = (char *)quantity;
	m->rp[i] = r;
	m->f.n_readings++;
	return r;
}

static void vec(struct sensor_msg *m, Qiki__V1__SensorReading *r, const double v[3])
{
	Qiki__V1__Vector3 *x;

	if (!r)
		return;
	x = &m->v[r - m->r];
	qiki__v1__vector3__init(x);
	x->x = v[0];
	x->y = v[1];
	x->z = v[2];
	r->value_case = QIKI__V1__SENSOR_READING__VALUE_VECTOR;
	r->vector = x;
}

static void scalar(Qiki__V1__SensorReading *r, double v)
{
	if (!r)
		return;
	r->value_case = QIKI__V1__SENSOR_READING__VALUE_SCALAR;
	r->scalar = v;
}

static void sensor_frame(struct qk_export *e, const struct qk_sensor_frame *f, struct sensor_msg *m)
{
	const struct qk_config *cfg = e->cfg;

	qiki__v1__sensor_frame__init(&m->f);
	m->f.cycle = f->cycle;
	m->f.sim_time_ns = f->sim_time_ns;
	m->f.sched_ns = f->sched_ns;
	m->f.wake_ns = f->wake_ns;
	m->f.publish_ns = f->publish_ns;
	m->f.watchdog_safe = !!(f->flags & QK_SIMF_WATCHDOG_SAFE);
	m->f.lockstep = !!(f->flags & QK_SIMF_LOCKSTEP);
	m->f.real_time = !(f->flags & QK_SIMF_NO_RT);
	m->f.readings = m->rp;
	for (uint32_t i = 0; i < cfg->n_devices && i < QK_MAX_DEVICES; i++) {
		const struct qk_device_cfg *d = &cfg->device[i];
		/* a device under an injected fault reads, but not to be trusted */
		double q = e->sim.fault[i] != QK_FAULT_NONE ? 0.5 : 1.0;

		if (d->type != QK_DEV_SENSOR)
			continue;
		switch (d->sensor) {
		case QK_SK_IMU:
			vec(m, reading(m, f, d, "acceleration", QIKI__V1__UNIT__UNIT_METERS_PER_SECOND_SQUARED,
				       f->valid & QK_VALID_IMU, q), f->accel_mps2);
			break;
		case QK_SK_NAV:
			vec(m, reading(m, f, d, "position", QIKI__V1__UNIT__UNIT_METERS,
				       f->valid & QK_VALID_NAV, q), f->pos_m);
			vec(m, reading(m, f, d, "velocity", QIKI__V1__UNIT__UNIT_METERS_PER_SECOND,
				       f->valid & QK_VALID_NAV, q), f->vel_mps);
			break;
		case QK_SK_TANK:
			scalar(reading(m, f, d, "pressure", QIKI__V1__UNIT__UNIT_BAR,
				       f->valid & QK_VALID_TANK, q), f->tank_bar);
			scalar(reading(m, f, d, "propellant", QIKI__V1__UNIT__UNIT_KILOGRAMS,
				       f->valid & QK_VALID_TANK, q), f->propellant_kg);
			break;
		case QK_SK_BATTERY:
			scalar(reading(m, f, d, "voltage", QIKI__V1__UNIT__UNIT_VOLTS,
				       f->valid & QK_VALID_BATTERY, q), f->batt_v);
			scalar(reading(m, f, d, "current", QIKI__V1__UNIT__UNIT_AMPS,
				       f->valid & QK_VALID_BATTERY, q), f->batt_a);
			scalar(reading(m, f, d, "state of charge", QIKI__V1__UNIT__UNIT_PERCENT,
				       f->valid & QK_VALID_BATTERY, q), f->batt_soc * 100);
			break;
		case QK_SK_THERMAL:
			if (d->index < QK_MAX_THERMAL)
				scalar(reading(m, f, d, "temperature", QIKI__V1__UNIT__UNIT_KELVIN,
					       f->valid & QK_VALID_TEMP(d->index), q), f->temp_k[d->index]);
			break;
		default:
			break;
		}
	}
}


static void actuator_frame(struct qk_export *e, const struct qk_actuator_frame *a, struct act_msg *m)
{
	const struct qk_config *cfg = e->cfg;
	int64_t timeout_ms = (int64_t)cfg->limits.actuator_watchdog_cycles * e->seg.period_ns / 1000000;
	size_t n = 0;

	qiki__v1__actuator_frame__init(&m->f);
	m->f.answers_cycle = a->answers_cycle;
	m->f.sensor_publish_ns = a->sensor_publish_ns;
	m->f.wake_ns = a->wake_ns;
	m->f.publish_ns = a->publish_ns;
	m->f.state = (Qiki__V1__FsmState)a->state;
	m->f.safe = !!(a->flags & QK_ACTF_SAFE);
	m->f.commands = m->cp;
	for (uint32_t i = 0; i < cfg->n_thrusters + cfg->n_thermal && n < QK_MAX_THRUSTERS + QK_MAX_THERMAL; i++) {
		bool thr = i < cfg->n_thrusters;
		uint32_t k = thr ? i : i - cfg->n_thrusters;
		Qiki__V1__ActuatorCommand *c = &m->c[n];

		if (!thr && k >= QK_MAX_THERMAL)
			break;
		qiki__v1__actuator_command__init(c);
		snprintf(e->ids[n], sizeof(e->ids[n]), "%llu/%s", (unsigned long long)a->answers_cycle,
			 thr ? cfg->thruster[k].name : cfg->thermal[k].name);
		c->command_id = e->ids[n];
		c->actuator_id = (char *)(thr ? cfg->thruster[k].name : cfg->thermal[k].name);
		c->timestamp_ns = a->publish_ns;
		c->value = 100.0 * (thr ? a->throttle[k] : a->heater[k]);
		c->unit = QIKI__V1__UNIT__UNIT_PERCENT;
		c->command_type = thr ? QIKI__V1__COMMAND_TYPE__COMMAND_TYPE_THROTTLE :
					QIKI__V1__COMMAND_TYPE__COMMAND_TYPE_HEATER;
		c->timeout_ms = timeout_ms;
		c->safe = m->f.safe;
		m->cp[n++] = c;
	}
	m->f.n_commands = n;
}

static void transition(const struct qk_transition *t, uint64_t index, Qiki__V1__StateTransition *m)
{
	qiki__v1__state_transition__init(m);
	m->index = index;
	m->timestamp_ns = t->time_ns;
	m->cycle = t->cycle;
	m->from_state = (Qiki__V1__FsmState)t->from;
	m->to_state = (Qiki__V1__FsmState)t->to;
	m->trigger = (Qiki__V1__Trigger)t->trigger;
	m->requested_by_pid = t->who;
	m->reason = (char *)qk_trigger_name(t->trigger);
}

static int snapshot(struct qk_export *e, int64_t now)
{
	const struct qk_agent_status *st = &e->st;
	Qiki__V1__FsmStateSnapshot m = QIKI__V1__FSM_STATE_SNAPSHOT__INIT;
	Qiki__V1__StateTransition tr[8], *trp[8];
	Qiki__V1__Proposal p = QIKI__V1__PROPOSAL__INIT;
	Qiki__V1__Vector3 sp = QIKI__V1__VECTOR3__INIT;
	char action[64], *actions[1] = { action }, why[QK_REASON_LEN];
	uint64_t n = st->n_transitions, from = n > 8 ? n - 8 : 0;

	m.timestamp_ns = st->time_ns ? st->time_ns : now;
	m.state = (Qiki__V1__FsmState)st->state;
	m.state_since_ns = st->state_since_ns;
	m.reason = (Qiki__V1__Trigger)st->safe_reason;
	m.reason_text = (char *)qk_trigger_name(st->safe_reason);
	m.transitions_total = n;
	m.proposals_raised = st->n_proposals;
	for (uint64_t i = from; i < n; i++) {
		transition(&st->trans[i % QK_MAX_TRANSITIONS], i, &tr[i - from]);
		trp[i - from] = &tr[i - from];
	}
	m.n_recent = (size_t)(n - from);
	m.recent = trp;
	sp.x = st->setpoint_m[0];
	sp.y = st->setpoint_m[1];
	sp.z = st->setpoint_m[2];
	m.setpoint_m = &sp;
	if (st->active.type <= QK_PROP_EXPLORATION) {
		p.type = (Qiki__V1__ProposalType)st->active.type;
		p.priority = st->active.priority;
		p.confidence = st->active.confidence;
		qk_rules_why(e->cfg, &st->active.hit, why);	/* the agent sends data, we word it */
		p.justification = why;
		p.trigger = (Qiki__V1__Trigger)st->active.trigger;
		snprintf(action, sizeof(action), "state %s", qk_fsm_state_name(st->active.target_state));
		p.actions = actions;
		p.n_actions = st->active.trigger != QK_TRG_NONE;
		m.active_proposal = &p;
	}
	return emit(e, C_FSM, m.timestamp_ns, &m.base);
}

static int bios_report(struct qk_export *e, int64_t now)
{
	Qiki__V1__BiosStatusReport m = QIKI__V1__BIOS_STATUS_REPORT__INIT;
	Qiki__V1__DeviceStatus d[QK_MAX_DEVICES], *dp[QK_MAX_DEVICES];
	char fw[32];
	uint32_t n = e->bios.n_devices < QK_MAX_DEVICES ? e->bios.n_devices : QK_MAX_DEVICES;
	int64_t t = e->bios.time_ns ? e->bios.time_ns : now;

	m.post_count = e->bios.post_count;
	m.timestamp_ns = t;
	snprintf(fw, sizeof(fw), "%u.%u.%u", e->bios.firmware_version >> 16,
		 (e->bios.firmware_version >> 8) & 255, e->bios.firmware_version & 255);
	m.firmware_version = fw;
	m.all_systems_go = e->have_state && e->st.all_systems_go;
	m.health_score = e->have_state ? e->st.health : 0;
	m.uptime_ms = (t - e->seg.epoch_ns) / 1000000;
	for (uint32_t i = 0; i < n; i++) {
		qiki__v1__device_status__init(&d[i]);
		d[i].device_id = e->bios.device[i].name;
		d[i].device_type = (Qiki__V1__DeviceType)e->bios.device[i].type;
		d[i].status = (Qiki__V1__DeviceHealth)e->bios.device[i].status;
		d[i].status_code = (Qiki__V1__StatusCode)e->bios.device[i].code;
		dp[i] = &d[i];
	}
	m.devices = dp;
	m.n_devices = n;
	return emit(e, C_BIOS, t, &m.base);
}

/* The HIL link's statistics (qiki-hil writes them; the simulator leaves
 * them zero): a snapshot every SNAPSHOT_NS and on each change of state.  The
 * words are single-writer counters, read relaxed like qikictl link does, and
 * the segment is untrusted: strings are copied bounded and terminated. */
static int link_snapshot(struct qk_export *e, int64_t now)
{
	const struct qk_link_stats *l = e->seg.link;
	Qiki__V1__LinkStats m = QIKI__V1__LINK_STATS__INIT;
	Qiki__V1__LinkDrops d = QIKI__V1__LINK_DROPS__INIT;
	uint64_t *drop[QK_LINK_DROP_REASONS] = { &d.too_short, &d.crc, &d.magic, &d.version,
						 &d.type, &d.length, &d.stale, &d.duplicate };
	char peer[QK_LINK_PEER_LEN], refusal[QK_LINK_REFUSAL_LEN];
	uint32_t state = qk_load_relaxed((_Atomic uint32_t *)&l->state);

	memcpy(peer, l->peer, sizeof(peer));
	peer[sizeof(peer) - 1] = 0;
	if (!peer[0] || (state == e->last_link_state && now - e->last_link < SNAPSHOT_NS))
		return 0;
	e->last_link = now;
	e->last_link_state = state;
	memcpy(refusal, l->refusal, sizeof(refusal));
	refusal[sizeof(refusal) - 1] = 0;
#define LD(f) ((uint64_t)qk_load_relaxed((_Atomic uint64_t *)&l->f))
	m.timestamp_ns = now;
	m.peer = peer;
	m.state = (Qiki__V1__LinkState)state;
	m.bridge_alive = qk_seg_alive(&e->seg, QK_PROC_SIM);
	m.stale_cycles = l->stale_cycles;
	m.sent = LD(sent);
	m.received = LD(received);
	m.taken = LD(taken);
	m.lost = LD(lost);
	m.superseded = LD(superseded);
	m.wrong_peer = LD(wrong_peer);
	m.unexpected = LD(unexpected);
	m.sessions = LD(sessions);
	m.link_losses = LD(link_losses);
	m.send_errors = LD(send_errors);
	for (int i = 0; i < QK_LINK_DROP_REASONS; i++)
		*drop[i] = LD(dropped[i]);
	m.dropped = &d;
	m.rtt_samples = LD(samples);
	m.rtt_p50_ns = qk_hist_quantile(&l->rtt, 0.50);
	m.rtt_p99_ns = qk_hist_quantile(&l->rtt, 0.99);
	m.offset_ns = (int64_t)qk_load_relaxed((_Atomic int64_t *)&l->offset_ns);
	m.refusals = LD(refusals);
	m.refusal = refusal;
#undef LD
	return emit(e, C_LINK, now, &m.base);
}

/* Runtime parameters: each one's start-up value once, then every change
 * the agent applied, as far back as it keeps them.  The segment is
 * untrusted: names are terminated, indices checked. */
static int param_msg(struct qk_export *e, const struct qk_param_info *p, const struct qk_param_change *c,
		     uint64_t index, int64_t t)
{
	Qiki__V1__ParameterChange m = QIKI__V1__PARAMETER_CHANGE__INIT;
	char name[QK_PARAM_NAME_LEN];

	memcpy(name, p ? p->name : "?", p ? sizeof(name) : 2);
	name[sizeof(name) - 1] = 0;
	m.index = index;
	m.timestamp_ns = t;
	m.name = name;
	m.initial = !c;
	m.old_value = c ? c->old_value : p->initial;
	m.value = c ? c->value : p->initial;
	if (c) {
		m.cycle = c->cycle;
		m.requested_by_pid = c->who;
	}
	int ret = emit(e, C_PARAMS, t, &m.base);

	return ret || !c ? ret : log_event(e, t, FOXGLOVE__LOG__LEVEL__INFO, "qiki-agent",
					   "param %s: %g -> %g (pid %d)", name, c->old_value,
					   c->value, (int)c->who);
}

static int param_events(struct qk_export *e, int64_t now)
{
	struct qk_param_status *st = &e->params;
	uint64_t w = qk_mbox_writes(e->seg.params);
	int ret;

	if (w == e->params_writes || !qk_mbox_read(e->seg.params, st, &e->scratch_params))
		return 0;
	e->params_writes = w;
	if (st->n > QK_MAX_PARAMS)
		st->n = QK_MAX_PARAMS;
	if (st->n_changes < e->params_done) {	/* a restarted agent: its table anew */
		e->params_done = 0;
		e->params_seen = false;
	}
	if (!e->params_seen && st->n) {
		e->params_seen = true;
		for (uint32_t i = 0; i < st->n; i++)
			if ((ret = param_msg(e, &st->p[i], NULL, 0, now)))
				return ret;
	}
	if (st->n_changes - e->params_done > QK_PARAM_HISTORY)
		e->params_done = st->n_changes - QK_PARAM_HISTORY;
	for (; e->params_done < st->n_changes; e->params_done++) {
		const struct qk_param_change *c = &st->changes[e->params_done % QK_PARAM_HISTORY];

		ret = param_msg(e, c->index < st->n ? &st->p[c->index] : NULL, c, e->params_done + 1,
				c->time_ns);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- one pass --------------------------------------------------------------- */

static int per_cycle(struct qk_export *e)
{
	struct sensor_msg *sm = &e->sm;
	struct act_msg *am = &e->am;
	int ret = 0;

	/* sensor frames: every one, decimated for export */
	for (int k = 0; k < READ_MAX && qk_ring_read_next(&e->sens_rd, &e->f); k++) {
		const struct qk_sensor_frame *f = &e->f;

		e->s.cycles_seen++;
		e->last_frame_ns = mono_ns();
		e->ls_now = e->ls_newest = f->sim_time_ns;
		e->hist[f->cycle % HIST] = *f;
		e->have[f->cycle % HIST] = true;
		if (f->cycle % e->decim)
			continue;
		e->s.exported++;
		sensor_frame(e, f, sm);
		if ((ret = emit(e, C_SENSORS, f->publish_ns, &sm->f.base)))
			return ret;
		if (at(e, f->publish_ns) - e->last_pose >= e->pose_every_ns) {
			Foxglove__PoseInFrame p = FOXGLOVE__POSE_IN_FRAME__INIT;
			Foxglove__Pose pose = FOXGLOVE__POSE__INIT;
			Foxglove__Vector3 pos = FOXGLOVE__VECTOR3__INIT;
			Foxglove__Quaternion q = FOXGLOVE__QUATERNION__INIT;
			Google__Protobuf__Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

			ts_of(&t, at(e, f->publish_ns) + e->wall_off);
			pos.x = f->pos_m[0];
			pos.y = f->pos_m[1];
			pos.z = f->pos_m[2];
			q.w = 1;	/* the plant has no attitude */
			pose.position = &pos;
			pose.orientation = &q;
			p.timestamp = &t;
			p.frame_id = (char *)"world";
			p.pose = &pose;
			if ((ret = emit(e, C_POSE, f->publish_ns, &p.base)))
				return ret;
			e->last_pose = at(e, f->publish_ns);
		}
	}
	/* actuator frames: paired with the sensor frame they answer */
	int k = 0;

	for (struct qk_ring_reader before = e->act_rd;
	     k < READ_MAX && qk_ring_read_next(&e->act_rd, &e->a); before = e->act_rd, k++) {
		const struct qk_actuator_frame *a = &e->a;

		/* an answer to a frame published since we read the sensors: both
		 * at the next pass, paired (one in flight every cycle in lockstep) */
		if (a->answers_cycle != QK_NO_FRAME && a->answers_cycle > e->f.cycle &&
		    qk_ring_pending(&e->sens_rd)) {
			e->act_rd = before;
			break;
		}
		const struct qk_sensor_frame *f = &e->hist[a->answers_cycle % HIST];
		bool paired = e->have[a->answers_cycle % HIST] && f->cycle == a->answers_cycle;
		Qiki__V1__LoopTiming t = QIKI__V1__LOOP_TIMING__INIT;

		if (a->answers_cycle == QK_NO_FRAME || a->answers_cycle % e->decim)
			continue;
		e->ls_now = (int64_t)a->answers_cycle * e->seg.period_ns;	/* its sensor frame's */
		actuator_frame(e, a, am);
		if ((ret = emit(e, C_ACTUATORS, a->publish_ns, &am->f.base)))
			return ret;
		/* an agent tick without a new sensor frame answers the same cycle
		 * again: its frame is exported above, the cycle's timing once */
		if (!paired || (e->answered_any && a->answers_cycle <= e->last_answered))
			continue;
		e->answered_any = true;
		e->last_answered = a->answers_cycle;
		t.cycle = f->cycle;
		t.sim_wake_latency_ns = f->wake_ns - f->sched_ns;
		t.sim_compute_ns = f->publish_ns - f->wake_ns;
		t.answered = true;
		t.agent_wake_after_sensor_ns = a->wake_ns - f->publish_ns;
		t.agent_compute_ns = a->publish_ns - a->wake_ns;
		t.sensor_to_actuation_ns = a->publish_ns - f->publish_ns;
		t.exporter_frames_lost = e->sens_rd.lost;
		if ((ret = emit(e, C_TIMING, a->publish_ns, &t.base)))
			return ret;
		if (e->stream && qk_stream_has_clients(e->stream)) {
			Qiki__V1__TelemetryFrame tf = QIKI__V1__TELEMETRY_FRAME__INIT;
			Qiki__V1__Vector3 pos = QIKI__V1__VECTOR3__INIT;

			sensor_frame(e, f, sm);
			tf.cycle = f->cycle;
			tf.timestamp_ns = f->publish_ns;
			tf.timing = &t;
			tf.sensors = &sm->f;
			tf.actuators = &am->f;
			tf.state = (Qiki__V1__FsmState)a->state;
			pos.x = f->pos_m[0];
			pos.y = f->pos_m[1];
			pos.z = f->pos_m[2];
			tf.position_m = &pos;
			tf.instance = (char *)e->o.instance;
			stream(e, &tf.base);
		}
	}
	e->s.lost_sensor = e->sens_rd.lost;
	e->s.lost_actuator = e->act_rd.lost;
	e->ls_now = e->ls_newest;	/* events: as of the newest frame */
	return 0;
}

static int events(struct qk_export *e, int64_t now)
{
	int ret = 0;

	if (qk_mbox_read(e->seg.agent_status, &e->st, &e->scratch_st) && e->st.time_ns) {
		bool changed = !e->have_state || e->st.state != e->last_state ||
			       e->st.n_transitions != e->trans_done;

		e->have_state = true;
		/* every transition once, the ones from before we came included
		 * (as far back as the agent keeps them) */
		if (e->st.n_transitions - e->trans_done > QK_MAX_TRANSITIONS)
			e->trans_done = e->st.n_transitions - QK_MAX_TRANSITIONS;
		for (; e->trans_done < e->st.n_transitions; e->trans_done++) {
			const struct qk_transition *t = &e->st.trans[e->trans_done % QK_MAX_TRANSITIONS];
			Qiki__V1__StateTransition m;

			transition(t, e->trans_done, &m);
			if ((ret = emit(e, C_TRANS, t->time_ns, &m.base)))
				return ret;
			ret = log_event(e, t->time_ns, t->to == QK_ST_SAFE || t->to == QK_ST_ERROR ?
					FOXGLOVE__LOG__LEVEL__WARNING : FOXGLOVE__LOG__LEVEL__INFO,
					"qiki-agent", "state %s -> %s (%s)", qk_fsm_state_name(t->from),
					qk_fsm_state_name(t->to), qk_trigger_name(t->trigger));
			if (ret)
				return ret;
			e->s.transitions++;
		}
		if (changed || at(e, now) - e->last_snapshot >= SNAPSHOT_NS) {
			e->last_state = e->st.state;
			e->last_snapshot = at(e, now);
			if ((ret = snapshot(e, now)))
				return ret;
		}
	}
	if (qk_mbox_writes(e->seg.bios) != e->bios_writes &&
	    qk_mbox_read(e->seg.bios, &e->bios, &e->scratch_bios) && e->bios.post_count) {
		e->bios_writes = qk_mbox_writes(e->seg.bios);
		/* names from the segment: terminated here, before protobuf's strlen */
		for (uint32_t i = 0; i < QK_MAX_DEVICES; i++)
			e->bios.device[i].name[QK_NAME_LEN - 1] = '\0';
		if ((ret = bios_report(e, now)))
			return ret;
		ret = log_event(e, e->bios.time_ns, FOXGLOVE__LOG__LEVEL__INFO, "qiki-sim",
				"POST %llu: %u devices", (unsigned long long)e->bios.post_count,
				e->bios.n_devices);
		if (ret)
			return ret;
	}
	if (qk_mbox_read(e->seg.sim_status, &e->sim, &e->scratch_sim) &&
	    e->sim.watchdog_safe != e->last_watchdog) {
		e->last_watchdog = e->sim.watchdog_safe;
		ret = log_event(e, now, e->sim.watchdog_safe ? FOXGLOVE__LOG__LEVEL__WARNING :
				FOXGLOVE__LOG__LEVEL__INFO, "qiki-sim", "%s", e->sim.watchdog_safe ?
				"watchdog: no actuator frames, thrusters forced off" :
				"watchdog: actuator frames again");
		if (ret)
			return ret;
	}
	if ((ret = link_snapshot(e, now)))
		return ret;
	if ((ret = param_events(e, now)))
		return ret;
	/* every request's answer: refusals are what an operator looks for */
	for (int k = 0; k < 2; k++) {
		struct qk_ring_reader *rd = k ? &e->sim_rep : &e->agent_rep;

		for (int i = 0; i < READ_MAX && qk_ring_read_next(rd, &e->rep); i++) {
			bool ok = e->rep.status == QK_REPLY_ACCEPTED;

			ret = log_event(e, now, ok ? FOXGLOVE__LOG__LEVEL__INFO : FOXGLOVE__LOG__LEVEL__WARNING,
					k ? "qiki-sim" : "qiki-agent", "request %llu %s%s%.*s",
					(unsigned long long)e->rep.id, ok ? "accepted" : "refused",
					e->rep.reason[0] ? ": " : "", QK_REASON_LEN, e->rep.reason);
			if (ret)
				return ret;
		}
	}
	return 0;
}

void qk_export_segment_lost(struct qk_export *e, const char *why)
{
	int64_t now = mono_ns();

	if (e->seg_lost)
		return;
	e->seg_lost = true;
	e->slot = NULL;
	snprintf(e->lost_why, sizeof(e->lost_why), "%s; telemetry stopped reading it", why);
	/* the file and the live clients both say why they end here */
	log_event(e, now, FOXGLOVE__LOG__LEVEL__ERROR, "qiki-telemetry", "%s", e->lost_why);
	qk_ws_goodbye(e->ws, 2, e->lost_why, now);
}

/* Whether the segment still is what attach checked: its size first (a
 * truncated one raises SIGBUS on the lost pages), then its geometry. */
static bool segment_ok(struct qk_export *e)
{
	struct stat st;
	char why[320];

	if (e->seg_lost)
		return false;
	if (fstat(e->seg.fd, &st) == 0 && (size_t)st.st_size < e->seg.size) {
		snprintf(why, sizeof(why), "/dev/shm%s was truncated to %lld bytes (of %zu): the "
			 "whole segment is lost", e->seg.path, (long long)st.st_size, e->seg.size);
		qk_export_segment_lost(e, why);
		return false;
	}
	if (qk_seg_verify(&e->seg) >= 0) {
		qk_export_segment_lost(e, e->seg.err);
		return false;
	}
	return true;
}

int qk_export_poll(struct qk_export *e, char *err, size_t n)
{
	struct timespec c0, c1;
	int64_t now = mono_ns();
	int ret;

	if (!segment_ok(e)) {
		if (e->ws)	/* what the goodbye left unsent */
			qk_ws_poll(e->ws, now);
		snprintf(err, n, "%s", e->lost_why);
		return -EPROTO;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	if (e->stream)
		qk_stream_poll(e->stream, now);
	if (e->ws)
		qk_ws_poll(e->ws, now);
	ret = per_cycle(e);
	if (!ret)
		ret = events(e, now);
	if (e->stream)
		qk_stream_poll(e->stream, now);
	if (e->ws)
		qk_ws_poll(e->ws, now);
	if (e->mcap)
		e->s.bytes = qk_mcap_bytes(e->mcap);
	if (e->slot) {	/* what qikictl status shows of us; we are its only writer */
		qk_store_relaxed(&e->slot->cycles, e->s.cycles_seen);
		qk_store_relaxed(&e->slot->frames_lost, e->s.lost_sensor + e->s.lost_actuator);
		qk_store_relaxed(&e->slot->heartbeat_ns, now);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	e->s.cpu_ns += (c1.tv_sec - c0.tv_sec) * 1000000000ll + (c1.tv_nsec - c0.tv_nsec);
	if (ret) {
		snprintf(err, n, "%s", qk_mcap_error(e->mcap));
		return ret;
	}
	/* the end: the launcher's orderly stop, or nobody left running the loop */
	if (qk_seg_state(&e->seg) == QK_SEG_SHUTTING_DOWN && now - e->last_frame_ns > 50000000)
		return 1;
	bool alive = qk_seg_alive(&e->seg, QK_PROC_SIM) || qk_seg_alive(&e->seg, QK_PROC_AGENT);

	e->seen_loop |= alive;
	if (alive || !e->seen_loop)
		e->dead_since = 0;
	else if (!e->dead_since)
		e->dead_since = now;
	else if (now - e->dead_since > 1000000000)
		return 1;
	return 0;
}

/* ---- open, close ---------------------------------------------------------- */

struct qk_export *qk_export_open(const struct qk_export_opts *o, char *err, size_t n, int *code)
{
	struct qk_export *e = calloc(1, sizeof(*e));
	struct timespec rt, mo;
	int ret;

	*code = 1;
	if (!e) {
		snprintf(err, n, "out of memory");
		return NULL;
	}
	e->o = *o;
	ret = qk_seg_attach(&e->seg, o->instance, 0);
	if (ret) {
		snprintf(err, n, "%s", e->seg.err);
		*code = 2;
		free(e);
		return NULL;
	}
	e->cfg = e->seg.config;
	uint32_t rate = e->cfg->rate_hz;

	e->decim = o->rate_hz && o->rate_hz < rate ? (rate + o->rate_hz / 2) / o->rate_hz : 1;
	e->pose_every_ns = 1000000000ll / POSE_MAX_HZ - e->seg.period_ns / 2;
	qk_ring_reader_init(&e->sens_rd, e->seg.sensors, QK_RING_FROM_NOW);
	qk_ring_reader_init(&e->act_rd, e->seg.actuators, QK_RING_FROM_NOW);
	qk_ring_reader_init(&e->agent_rep, e->seg.agent_replies, QK_RING_FROM_NOW);
	qk_ring_reader_init(&e->sim_rep, e->seg.sim_replies, QK_RING_FROM_NOW);
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mo);
	e->wall_off = ((int64_t)rt.tv_sec - mo.tv_sec) * 1000000000 + (rt.tv_nsec - mo.tv_nsec);
	e->lockstep = e->cfg->wake_mode == QK_WAKE_LOCKSTEP;
	if (e->lockstep)	/* simulated time 0 is now */
		e->wall_off = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec;
	e->last_frame_ns = mono_ns();
	if (o->listen && !(e->stream = qk_stream_listen(o->listen, err, n, &ret)))
		goto fail;
	for (int c = 0; c < C_COUNT; c++)
		e->ws_ch[c] = (struct qk_ws_channel){ chans[c].topic, chans[c].schema, qk_tele_fds,
						      (size_t)(qk_tele_fds_end - qk_tele_fds) };
	if (o->foxglove && !(e->ws = qk_ws_listen(o->foxglove, "qiki-telemetry", e->ws_ch, C_COUNT,
						  err, n, &ret)))
		goto fail;
	if (o->mcap_path) {
		struct qk_mcap_opts mo2 = { .path = o->mcap_path, .zstd = o->zstd,
					    .chunk_bytes = o->chunk_bytes, .library = "qiki-telemetry 0.1.0" };
		char merr[512];

		e->mcap = qk_mcap_open(&mo2, merr, sizeof(merr));
		if (!e->mcap) {
			snprintf(err, n, "%s; pass another path (a writable directory)", merr);
			goto fail;
		}
		for (int c = 0; c < C_COUNT; c++) {
			int s = qk_mcap_schema(e->mcap, chans[c].schema, "protobuf", qk_tele_fds,
					       (size_t)(qk_tele_fds_end - qk_tele_fds));

			e->chan[c] = s < 0 ? s : qk_mcap_channel(e->mcap, s, chans[c].topic, "protobuf");
			if (s < 0 || e->chan[c] < 0) {
				snprintf(err, n, "%s", qk_mcap_error(e->mcap));
				goto fail;
			}
		}
		if (qk_describe_mcap(e->mcap, o->instance, e->cfg,
				     (uint64_t)(at(e, mono_ns()) + e->wall_off), err, n))
			goto fail;
	}
	ret = qk_seg_claim(&e->seg, QK_PROC_TELEMETRY);
	if (ret == -EBUSY) {
		snprintf(err, n, "another qiki-telemetry (pid %d) is exporting instance '%s'",
			 (int)qk_load_relaxed(&e->seg.stats[QK_PROC_TELEMETRY].pid), o->instance);
		goto fail;
	}
	if (!ret) {
		e->slot = &e->seg.stats[QK_PROC_TELEMETRY];
		qk_store_relaxed(&e->slot->cycles, 0);
		qk_store_relaxed(&e->slot->frames_lost, 0);
		/* from the first frame on, what we read is our position: a
		 * lockstep sim may then wait for us (rt/sim/main.c), and no frame
		 * is lost */
		qk_store_relaxed(&e->slot->flags, !qk_ring_published(e->seg.sensors) &&
				 !qk_ring_pending(&e->sens_rd) ? QK_PROCF_PACED : 0);
	}
	return e;
fail:
	if (e->mcap)
		qk_mcap_close(e->mcap);
	qk_stream_close(e->stream);
	qk_ws_close(e->ws);
	qk_seg_detach(&e->seg);
	free(e);
	return NULL;
}

int qk_export_close(struct qk_export *e, char *err, size_t n)
{
	int ret = 0;

	if (!e)
		return 0;
	if (e->mcap) {
		ret = qk_mcap_close(e->mcap);
		if (ret)
			snprintf(err, n, "finishing %s failed: %s", e->o.mcap_path, strerror(-ret));
	}
	qk_stream_close(e->stream);
	qk_ws_close(e->ws);
	if (!e->seg_lost) {	/* a lost one is not written; closing drops our lock */
		if (e->slot)
			qk_store_relaxed(&e->slot->flags, 0);	/* nobody to wait for now */
		qk_seg_release(&e->seg, QK_PROC_TELEMETRY);
	}
	qk_seg_detach(&e->seg);
	free(e);
	return ret;
}

void qk_export_get_stats(const struct qk_export *e, struct qk_export_stats *s)
{
	*s = e->s;
	if (e->stream) {
		struct qk_stream_stats ss;

		qk_stream_get_stats(e->stream, &ss);
		s->stream_frames = ss.frames;
		s->stream_lost = ss.lost;
		s->clients = ss.clients;
		s->clients_dropped = ss.clients_dropped;
	}
	if (e->ws) {
		struct qk_ws_stats ws;

		qk_ws_get_stats(e->ws, &ws);
		s->ws_clients = ws.clients;
		s->ws_messages = ws.messages;
		s->ws_lost = ws.lost;
	}
	if (e->mcap)
		s->messages = qk_mcap_messages(e->mcap, -1);
}

int qk_export_port(const struct qk_export *e)
{
	return e->stream ? qk_stream_port(e->stream) : -1;
}

int qk_export_ws_port(const struct qk_export *e)
{
	return e->ws ? qk_ws_port(e->ws) : -1;
}
