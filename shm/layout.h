/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * shm/layout.h - every struct that lives in the qiki segment, in one place.
 *
 * Rules (checked by _Static_assert below and by qk_seg_attach() at run time):
 * fixed-width types, explicit padding, no pointers, sizes a multiple of 8 so
 * they can travel as seqlock words.  Any change to a struct here bumps
 * QK_LAYOUT_VERSION in the same commit; the segment header records the size
 * of every struct, and an attacher refuses a segment whose version or sizes
 * differ from its own, naming both.
 *
 * Units are SI, temperatures in kelvin, pressures in bar, times in
 * CLOCK_MONOTONIC nanoseconds (int64_t).
 */
#ifndef QK_SHM_LAYOUT_H
#define QK_SHM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "shm/atomic.h"
#include "shm/hist.h"

#define QK_LAYOUT_VERSION 7u	/* 2: the HIL link's statistics; 3: qk_cmd.expires_ns; 4: the agent's rule hit as data, its margins; 5: the HIL link's refusals; 6: ring slots are payload only (head is the seqlock), the futex word is head's low half; 7: runtime parameters */
#define QK_SEG_MAGIC      0x314b494b49510a51ull	/* "Q\nQIKIK1" */

#define QK_NAME_LEN       24
#define QK_MAX_THRUSTERS  16
#define QK_MAX_THERMAL    8
#define QK_MAX_DEVICES    32
#define QK_MAX_TRANSITIONS 32
#define QK_REASON_LEN     48
#define QK_MAX_PARAMS     48
#define QK_PARAM_NAME_LEN 48
#define QK_PARAM_HISTORY  32

#define QK_SENSOR_RING_CAP 1024
#define QK_ACT_RING_CAP    1024
#define QK_CMDQ_CAP        64
#define QK_REPLY_RING_CAP  256

/* ---- enumerations (values are ABI) ------------------------------------ */

enum qk_fsm_state {
	QK_ST_BOOTING, QK_ST_IDLE, QK_ST_ACTIVE, QK_ST_SAFE, QK_ST_ERROR,
	QK_ST_SHUTDOWN, QK_ST_COUNT
};

/* Why the FSM moved; the SAFE reasons double as guard names. */
enum qk_trigger {
	QK_TRG_NONE, QK_TRG_BIOS_OK, QK_TRG_BIOS_FAIL, QK_TRG_OPERATOR,
	QK_TRG_PLAN, QK_TRG_RESET,
	QK_TRG_GUARD_BIOS, QK_TRG_GUARD_SENSORS_STALE, QK_TRG_GUARD_WATCHDOG,
	QK_TRG_GUARD_BATTERY, QK_TRG_GUARD_THERMAL, QK_TRG_GUARD_PRESSURE,
	QK_TRG_GUARD_SENSOR_INVALID, QK_TRG_SHUTDOWN, QK_TRG_COUNT
};

enum qk_device_type {
	QK_DEV_SENSOR, QK_DEV_ACTUATOR, QK_DEV_POWER, QK_DEV_COMMS,
	QK_DEV_CONTROLLER, QK_DEV_TYPE_COUNT
};

enum qk_device_status_code {	/* the status of one device in POST */
	QK_DS_OK, QK_DS_WARNING, QK_DS_ERROR, QK_DS_NOT_FOUND, QK_DS_COUNT
};

enum qk_post_code {		/* why a device is not OK */
	QK_PC_NONE, QK_PC_COMPONENT_NOT_FOUND, QK_PC_UNSTABLE_READINGS,
	QK_PC_TIMEOUT_RESPONSE, QK_PC_CRITICAL_BOOT_FAILURE,
	QK_PC_HIL_REFUSED,		/* over HIL: the device and the bridge refused a session */
	QK_PC_COUNT
};

enum qk_fault_kind {
	QK_FAULT_NONE, QK_FAULT_STUCK, QK_FAULT_NOISE, QK_FAULT_BIAS,
	QK_FAULT_DROPOUT, QK_FAULT_POST_FAIL, QK_FAULT_COUNT
};

enum qk_wake_mode { QK_WAKE_TIMER, QK_WAKE_FUTEX, QK_WAKE_SPIN, QK_WAKE_LOCKSTEP };

enum qk_proposal_type {	/* evaluator order: lower first */
	QK_PROP_SAFETY, QK_PROP_PLANNING, QK_PROP_DIAGNOSTICS, QK_PROP_EXPLORATION
};

/* Which rule raised a proposal (rt/agent/rules.h says what each one checks;
 * qk_rules_why() words a hit). */
enum qk_rule {
	QK_RULE_NONE,
	QK_RULE_STALE, QK_RULE_WATCHDOG, QK_RULE_BIOS_DEVICE, QK_RULE_BIOS_HEALTH,
	QK_RULE_SENSOR_INVALID, QK_RULE_PRESSURE_LOW, QK_RULE_PRESSURE_HIGH,
	QK_RULE_THERMAL_LOW, QK_RULE_THERMAL_HIGH, QK_RULE_BATTERY_LOW,
	QK_RULE_PLAN_GO, QK_RULE_PLAN_DRIVE, QK_RULE_PLAN_HOLD,
	QK_RULE_DIAG_BIOS, QK_RULE_DIAG_SENSOR, QK_RULE_DIAG_BATTERY,
	QK_RULE_EXPLORE_IDLE,
	QK_RULE_COUNT
};

/* What a sensor measures; a device of type QK_DEV_SENSOR has one. */
enum qk_sensor_kind {
	QK_SK_NONE, QK_SK_IMU, QK_SK_NAV, QK_SK_TANK, QK_SK_BATTERY, QK_SK_THERMAL
};

/* Bits of qk_sensor_frame.valid */
#define QK_VALID_IMU      (1u << 0)
#define QK_VALID_NAV      (1u << 1)
#define QK_VALID_TANK     (1u << 2)
#define QK_VALID_BATTERY  (1u << 3)
#define QK_VALID_TEMP(i)  (1u << (8 + (i)))

/* Bits of qk_sensor_frame.flags */
#define QK_SIMF_WATCHDOG_SAFE (1u << 0)	/* no fresh actuator frame: thrusters off */
#define QK_SIMF_LOCKSTEP      (1u << 1)
#define QK_SIMF_NO_RT         (1u << 2)

/* ---- configuration (written once by the creator, read by all) ---------- */

struct qk_thruster_cfg {
	char name[QK_NAME_LEN];
	double pos_m[3];		/* body frame, from the centre of mass */
	double dir[3];			/* unit vector of the force on the body */
	double max_thrust_n;		/* at the full-tank pressure */
	double power_w;			/* valve and heater power when firing */
};

struct qk_thermal_cfg {
	char name[QK_NAME_LEN];
	double capacity_j_per_k;
	double radiator_area_m2;
	double emissivity;
	double absorbed_w;		/* constant external input (sun, albedo) */
	double load_share;		/* fraction of electronics power dissipated here */
	double heater_w;		/* heater power at full command */
	double initial_k;
	double min_k, max_k;		/* the guard's limits */
};

struct qk_tank_cfg {
	double propellant_kg;
	double p_full_bar, p_empty_bar;	/* blow-down: pressure falls as it empties */
	double isp_s;
	double min_bar, max_bar;	/* the guard's limits */
};

struct qk_battery_cfg {
	double capacity_wh;
	double v_full, v_empty;		/* open-circuit voltage at 100% and 0% */
	double r_internal_ohm;
	double initial_soc;		/* 0..1 */
	double electronics_w;		/* constant bus load */
	double soc_min;			/* the guard's limit */
	double pad;
};

struct qk_noise_cfg {			/* 1-sigma white noise and constant bias */
	double accel_mps2, pos_m, vel_mps, temp_k, pressure_bar, voltage_v, soc;
	double accel_bias_mps2;
};

struct qk_device_cfg {			/* the hardware profile: devices expected */
	char name[QK_NAME_LEN];
	uint32_t type;			/* enum qk_device_type */
	uint32_t sensor;		/* enum qk_sensor_kind, for sensors */
	uint32_t index;			/* thruster, thermal node, ... it belongs to */
	uint32_t critical;		/* not OK in POST -> ERROR, not just a warning */
};

struct qk_control_cfg {
	double kp, kd;			/* 1/s^2, 1/s on the position error */
	double max_accel_mps2;
	double deadband_n;		/* forces below this are not fired */
};

struct qk_limits_cfg {
	uint32_t sensor_stale_cycles;	/* agent: no new sensor frame -> SAFE */
	uint32_t actuator_watchdog_cycles; /* sim: no new actuator frame -> safe */
	uint32_t clear_ticks;		/* a guard clear this long before RESET */
	uint32_t pad;
	double confidence_min;		/* evaluator drops proposals below it */
	double health_min;		/* BIOS health below it is not all-systems-go */
};

struct qk_config {
	char profile[QK_NAME_LEN];
	uint32_t rate_hz;
	uint32_t wake_mode;		/* enum qk_wake_mode */
	int64_t agent_phase_ns;		/* timer mode: offset after the sim's wake */
	uint64_t seed;
	double dry_mass_kg;
	uint32_t n_thrusters, n_thermal, n_devices, pad0;
	double coupling_w_per_k[QK_MAX_THERMAL][QK_MAX_THERMAL];
	struct qk_thruster_cfg thruster[QK_MAX_THRUSTERS];
	struct qk_thermal_cfg thermal[QK_MAX_THERMAL];
	struct qk_tank_cfg tank;
	struct qk_battery_cfg battery;
	struct qk_noise_cfg noise;
	struct qk_device_cfg device[QK_MAX_DEVICES];
	struct qk_control_cfg control;
	struct qk_limits_cfg limits;
};

/* ---- frames (rings) ---------------------------------------------------- */

struct qk_sensor_frame {		/* qiki-sim -> everyone, once per cycle */
	uint64_t cycle;
	int64_t sim_time_ns;		/* cycle * period: the plant's own clock */
	int64_t sched_ns;		/* when this cycle was due */
	int64_t wake_ns;		/* when the sim woke */
	int64_t publish_ns;		/* just before publish */
	uint64_t applied_seq;		/* actuator frame applied, QK_NO_FRAME if none */
	uint64_t applied_answers;	/* the sensor cycle that actuator frame answered */
	uint32_t valid;			/* QK_VALID_* */
	uint32_t flags;			/* QK_SIMF_* */
	double accel_mps2[3];		/* IMU, body = inertial (no attitude) */
	double pos_m[3];
	double vel_mps[3];
	double tank_bar;
	double propellant_kg;
	double mass_kg;
	double batt_v;
	double batt_a;
	double batt_soc;
	double temp_k[QK_MAX_THERMAL];
	uint32_t n_thermal;
	uint32_t pad;
};
#define QK_NO_FRAME UINT64_MAX

#define QK_ACTF_SAFE (1u << 0)		/* the agent commands safe outputs */

struct qk_actuator_frame {		/* qiki-agent -> qiki-sim, once per tick */
	uint64_t answers_cycle;		/* the sensor frame's cycle */
	int64_t sensor_publish_ns;	/* its publish time: sensor-to-actuation */
	int64_t wake_ns;		/* when the agent woke */
	int64_t publish_ns;
	uint32_t state;			/* enum qk_fsm_state */
	uint32_t flags;			/* QK_ACTF_* */
	double throttle[QK_MAX_THRUSTERS];	/* 0..1 */
	double heater[QK_MAX_THERMAL];		/* 0..1 */
};

/* ---- mailboxes ----------------------------------------------------------- */

struct qk_device_status {
	char name[QK_NAME_LEN];
	uint32_t type;			/* enum qk_device_type */
	uint32_t status;		/* enum qk_device_status_code */
	uint32_t code;			/* enum qk_post_code */
	uint32_t pad;
};

struct qk_bios_report {			/* written by qiki-sim at POST */
	uint64_t post_count;		/* POST runs so far */
	int64_t time_ns;
	uint32_t firmware_version;
	uint32_t n_devices;
	struct qk_device_status device[QK_MAX_DEVICES];
};

struct qk_transition {
	int64_t time_ns;
	uint64_t cycle;
	uint32_t from, to;		/* enum qk_fsm_state */
	uint32_t trigger;		/* enum qk_trigger */
	int32_t who;			/* pid of the requester, 0 for the agent */
};

/* Why a rule raised its proposal, as data: the agent never words it;
 * readers do, with qk_rules_why() and the segment's configuration. */
struct qk_rule_hit {
	uint32_t rule;			/* enum qk_rule */
	uint32_t index;			/* node, profile device, count: per rule */
	double value, limit;		/* in the unit the rule's words print */
};

struct qk_proposal {
	uint32_t type;			/* enum qk_proposal_type */
	uint32_t priority;		/* higher first */
	double confidence;		/* 0..1 */
	uint32_t trigger;		/* enum qk_trigger it would fire, or NONE */
	uint32_t target_state;		/* enum qk_fsm_state it asks for */
	struct qk_rule_hit hit;		/* the rule and its figures */
};

struct qk_agent_status {		/* written by qiki-agent every tick */
	uint64_t cycle;			/* the sensor cycle last answered */
	int64_t time_ns;
	uint32_t state;			/* enum qk_fsm_state */
	uint32_t safe_reason;		/* enum qk_trigger that sent us to SAFE/ERROR */
	int64_t state_since_ns;
	uint32_t all_systems_go;
	uint32_t n_proposals;		/* raised this tick */
	double health;			/* BIOS health score, 0..1 */
	double setpoint_m[3];
	struct qk_proposal active;	/* the evaluator's pick, type EXPLORATION+1 if none */
	uint64_t n_transitions;		/* all time; trans[] keeps the last 32 */
	struct qk_transition trans[QK_MAX_TRANSITIONS];
};

struct qk_sim_status {			/* written by qiki-sim every cycle */
	uint64_t cycle;
	int64_t time_ns;
	uint32_t watchdog_safe;		/* actuation forced off by the watchdog */
	uint32_t n_faults;
	uint64_t watchdog_trips;	/* times the watchdog took over */
	uint64_t stream_hash;		/* FNV-1a of every measured field published */
	uint32_t fault[QK_MAX_DEVICES];	/* enum qk_fault_kind per device */
	double fault_value[QK_MAX_DEVICES];
};

/* ---- commands ------------------------------------------------------------ */

enum qk_cmd_type {
	QK_CMD_NONE, QK_CMD_STATE, QK_CMD_SETPOINT, QK_CMD_FAULT_SET,
	QK_CMD_FAULT_CLEAR, QK_CMD_POST, QK_CMD_PING,
	QK_CMD_RUN_UNTIL,		/* sim, gated lockstep only: run up to cycle u[0] | u[1] << 32 */
	QK_CMD_PARAM,			/* agent: u[0] qk_param_hash(name), arg[0] the value,
					 * name: the name's first 23 characters */
	QK_CMD_COUNT
};

struct qk_cmd {
	uint64_t id;			/* from qk_seg_next_cmd_id(): unique per segment */
	uint32_t type;			/* enum qk_cmd_type */
	int32_t sender_pid;
	uint32_t u[4];			/* STATE: u[0] target state (or QK_ST_COUNT for RESET) */
	double arg[4];			/* SETPOINT: arg[0..2]; FAULT_SET: arg[0] value */
	char name[QK_NAME_LEN];		/* FAULT_*: the device, or "all" */
	int64_t expires_ns;		/* CLOCK_MONOTONIC; refused ("expired") after it,
					 * and without one: never applied late */
};

enum qk_reply_status { QK_REPLY_ACCEPTED = 1, QK_REPLY_REFUSED = 2 };

struct qk_reply {
	uint64_t id;			/* the command's id */
	uint32_t status;		/* enum qk_reply_status */
	int32_t code;			/* -errno style detail, 0 when accepted */
	char reason[QK_REASON_LEN];
};

/* ---- runtime parameters (rt/agent/param.h) ------------------------------ */

enum qk_param_type { QK_PT_NUM, QK_PT_U32 };

#define QK_PARAMF_MIN_OPEN (1u << 0)	/* min itself is out of range: (min, max] */
#define QK_PARAMF_CONFIG   (1u << 1)	/* a field of the configuration (dumped with it) */

struct qk_param_info {			/* one parameter as the agent runs it */
	char name[QK_PARAM_NAME_LEN];	/* "controller.kp", NUL-terminated */
	uint32_t type;			/* enum qk_param_type */
	uint32_t flags;			/* QK_PARAMF_* */
	double min, max;		/* the range a new value must lie in */
	double value;			/* now */
	double initial;			/* at start-up */
};

struct qk_param_change {
	int64_t time_ns;		/* the tick boundary it was applied at */
	uint64_t cycle;			/* the sensor cycle last answered then */
	uint32_t index;			/* into qk_param_status.p[] */
	int32_t who;			/* pid of the requester */
	double old_value, value;
};

struct qk_param_status {		/* written by qiki-agent at start and per change */
	uint32_t n;			/* parameters in p[] */
	uint32_t pad;
	uint64_t n_changes;		/* all time; changes[] keeps the last 32 */
	struct qk_param_info p[QK_MAX_PARAMS];
	struct qk_param_change changes[QK_PARAM_HISTORY];
};

/* ---- per-process slots: liveness and loop statistics --------------------- */

enum qk_proc { QK_PROC_SIM, QK_PROC_AGENT, QK_PROC_TELEMETRY, QK_PROC_LAUNCHER, QK_PROC_COUNT };

#define QK_PROCF_RT     (1u << 0)	/* running SCHED_FIFO with mlockall */
#define QK_PROCF_NO_RT  (1u << 1)	/* asked to run without real time */
#define QK_PROCF_PACED  (1u << 2)	/* telemetry: read every frame from the first, so
					 * `cycles` is its position: lockstep waits for it */

struct qk_proc_stats {
	/* liveness line */
	_Atomic int32_t pid;		/* 0 when none attached */
	_Atomic uint32_t flags;		/* QK_PROCF_* */
	_Atomic int64_t heartbeat_ns;
	_Atomic uint64_t cycles;
	_Atomic uint64_t overruns;	/* cycles that missed their deadline */
	_Atomic uint64_t frames_lost;	/* input frames never seen */
	_Atomic uint64_t frames_stale;	/* ticks with no new input frame */
	_Atomic uint64_t restarts;	/* times a process attached to this slot */
	_Atomic uint64_t missed_cycle;	/* agent: actuator frames that missed the sim's cycle */
	struct qk_hist wake_latency;	/* actual wake - scheduled wake */
	struct qk_hist compute;		/* end of work - actual wake */
	struct qk_hist s2a;		/* agent: sensor publish -> actuator publish */
	struct qk_hist front;		/* agent: its wake - the sensor frame's publish */
	struct qk_hist back;		/* agent: the sim's next due - actuator publish */
	_Atomic int64_t loop_allocs;	/* allocations by the loop thread since the
					 * loop started, -1 when not measured */
	_Atomic uint64_t pad;
};

/* ---- the HIL link: written by qiki-hil, zero while the simulator runs ---- */

enum qk_link_state { QK_LINK_NONE, QK_LINK_HELLO, QK_LINK_UP, QK_LINK_REFUSED };

/* Frames dropped, by reason, in the HIL codec's order (rt/hil/wire.h):
 * short, crc, magic, version, type, length, stale, duplicate. */
#define QK_LINK_DROP_REASONS 8
#define QK_LINK_PEER_LEN 56
#define QK_LINK_REFUSAL_LEN 256

struct qk_link_stats {			/* single writer: the bridge's loop */
	_Atomic uint32_t state;		/* enum qk_link_state */
	uint32_t stale_cycles;		/* written once at start-up, as is peer */
	char peer[QK_LINK_PEER_LEN];	/* "udp://HOST:PORT", NUL-terminated */
	_Atomic uint64_t sent;		/* frames handed to the socket */
	_Atomic uint64_t received;	/* datagrams, whatever they were */
	_Atomic uint64_t taken;		/* SENSORS accepted */
	_Atomic uint64_t lost;		/* SENSORS never seen (sequence gaps) */
	_Atomic uint64_t superseded;	/* accepted, a newer one in the same cycle */
	_Atomic uint64_t wrong_peer;	/* from another address */
	_Atomic uint64_t unexpected;	/* well-formed, not for the session's state */
	_Atomic uint64_t sessions;	/* HELLO-ACKs taken */
	_Atomic uint64_t link_losses;	/* the device went stale */
	_Atomic uint64_t send_errors;
	_Atomic uint64_t dropped[QK_LINK_DROP_REASONS];
	_Atomic int64_t offset_ns;	/* device clock - bridge clock, newest exchange */
	_Atomic uint64_t samples;	/* exchanges measured */
	_Atomic uint64_t refusals;	/* HELLOs refused (version, profile), by either side */
	char refusal[QK_LINK_REFUSAL_LEN];	/* the newest refusal in words, NUL-terminated;
					 * rewritten only when it changes (rare: a reader
					 * may see it torn once, and terminates its copy) */
	struct qk_hist rtt;		/* round trip, ns */
};

/* ---- the layout, frozen: a failing assert here means bump the version ---- */
#define QK__SIZE(s, n) _Static_assert(sizeof(struct s) == (n), #s " changed size: bump QK_LAYOUT_VERSION")
QK__SIZE(qk_thruster_cfg, 88);
QK__SIZE(qk_thermal_cfg, 96);
QK__SIZE(qk_device_cfg, 40);
QK__SIZE(qk_config, 4280);
QK__SIZE(qk_sensor_frame, 256);
QK__SIZE(qk_actuator_frame, 232);
QK__SIZE(qk_device_status, 40);
QK__SIZE(qk_bios_report, 1304);
QK__SIZE(qk_transition, 32);
QK__SIZE(qk_rule_hit, 24);
QK__SIZE(qk_proposal, 48);
QK__SIZE(qk_agent_status, 1152);
QK__SIZE(qk_sim_status, 424);
QK__SIZE(qk_cmd, 96);
QK__SIZE(qk_reply, 64);
QK__SIZE(qk_hist, 4384);
QK__SIZE(qk_proc_stats, 22000);
QK__SIZE(qk_link_stats, 4872);
QK__SIZE(qk_param_info, 88);
QK__SIZE(qk_param_change, 40);
QK__SIZE(qk_param_status, 5520);

_Static_assert(offsetof(struct qk_config, thruster) == 584, "qk_config.thruster moved");
_Static_assert(offsetof(struct qk_sensor_frame, accel_mps2) == 64, "qk_sensor_frame.accel moved");
_Static_assert(offsetof(struct qk_actuator_frame, throttle) == 40, "qk_actuator_frame.throttle moved");
_Static_assert(offsetof(struct qk_agent_status, trans) == 128, "qk_agent_status.trans moved");
_Static_assert(offsetof(struct qk_proc_stats, wake_latency) == 64, "stats: liveness on its own line");
_Static_assert(offsetof(struct qk_link_stats, sent) == 64, "link: counters after the start-up line");
_Static_assert(offsetof(struct qk_cmd, name) == 64, "qk_cmd.name moved");
#undef QK__SIZE

#endif
