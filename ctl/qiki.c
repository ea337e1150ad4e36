/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * qiki: the launcher.  `qiki run` creates the instance's segment, starts
 * qiki-agent and qiki-sim (each in its own process group, so a terminal's
 * Ctrl-C reaches only us), prints a live status line, and shuts everything
 * down in order: agent to SHUTDOWN (its last frame is safe actuation), sim
 * applies it and stops, segment unlinked, summary printed.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <sys/stat.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl/client.h"
#include "ctl/doctor.h"
#include "ctl/gate.h"
#include "ctl/peers.h"
#include "ctl/report.h"
#include "ctl/scenario.h"
#include "ctl/spawn.h"
#include "ctl/stop.h"
#include "ctl/trace.h"
#include "rt/cli.h"
#include "rt/config/config.h"
#include "rt/agent/fsm.h"
#include "rt/proc.h"

#define PROG "qiki"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct launch {
	const char *instance, *profile, *config_file;
	double duration;		/* seconds, 0 = until a signal */
	uint64_t cycles;
	bool no_rt, lockstep, lockstep_rt, quiet, print_config;
	bool cpu_given;
	int prio, cpu;
	int n_faults;
	const char *fault[QK_MAX_FAULT_OPTS];
	struct qk_config cfg;
	const char *log_dir_opt, *log_level, *log_format, *log_fsync, *log_rotate;
	const char *telemetry, *telemetry_listen;	/* qiki-telemetry's -o, --listen */
	const char *foxglove;				/* and its --foxglove */
	const char *scenario_path;	/* --scenario: steps played against the run */
	struct qk_scenario *scenario;
	const char *telemetry_rate;			/* and its --rate */
	bool trace;					/* qiki-rtlat beside the loop */
	const char *hil, *hil_bind;	/* qiki-hil instead of qiki-sim: --peer, --bind */
	const char *group;		/* --group: the segment's group (mode 0660) */
	const char *controller;		/* --controller: the agent's shared object */
	char log_dir[3072];		/* resolved; every process logs there */
	struct qk_log *log;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: qiki run [options]\n"
		"       qiki doctor [--json] [--cpu N]   what this machine lacks for real time\n"
		"Runs a qiki instance: the plant simulator and the controller agent as\n"
		"SCHED_FIFO processes closing the loop through shared memory.\n\n"
		"  -i, --instance NAME   instance name (default: default)\n"
		"  -p, --profile NAME    built-in hardware profile: bot (default), ship\n"
		"  -c, --config FILE     YAML configuration on top of the profile\n"
		"  -r, --rate HZ         cycle rate (default 1000; 10000 works)\n"
		"  -w, --wake MODE       agent wake-up: futex (default), timer, spin\n"
		"  -s, --seed N          plant noise seed\n"
		"      --lockstep        no sleeping: sim and agent step in turn, as fast as possible;\n"
		"                        without SCHED_FIFO (it never sleeps: it must not starve others)\n"
		"      --lockstep-rt     lockstep at the lowest SCHED_FIFO priority, on a CPU no live\n"
		"                        real-time qiki loop uses (none free: without SCHED_FIFO); it\n"
		"                        holds that CPU for the run: for a machine of its own\n"
		"      --cycles N        stop after N sim cycles\n"
		"  -d, --duration SEC    stop after SEC seconds (default: until Ctrl-C)\n"
		"      --fault DEV:KIND[:VALUE]  start with a fault (KIND: stuck noise bias dropout post-fail)\n"
		"      --no-rt           run without real time (figures marked NOT real-time)\n"
		"      --prio N          SCHED_FIFO priority of the sim (agent: N-1; default 80)\n"
		"      --cpu N           CPU for the loop processes (default: the last one)\n"
		"      --log-dir DIR     log files (qiki.log, qiki-sim.log, qiki-agent.log) go here;\n"
		"                        default $QIKI_LOG_DIR/INSTANCE, else /var/log/qiki/INSTANCE\n"
		"                        as root, else ~/.local/state/qiki/INSTANCE\n"
		"      --log-level L     debug, info (default), warn, error\n"
		"      --log-format F    text (default), json (one object per line) or binary\n"
		"                        (formatted when read: qiki-log FILE)\n"
		"      --log-fsync-ms MS fsync the logs every MS ms (default 1000; -1: at exit only)\n"
		"      --log-rotate-mb MB  rotate each log past MB MiB, keeping 4 (default 64)\n"
		"      --telemetry FILE.mcap  export the run to an MCAP file (qiki-telemetry)\n"
		"      --telemetry-listen [HOST:]PORT  and/or serve it live over TCP\n"
		"      --telemetry-rate HZ  export every cycle (default) or at HZ\n"
		"      --foxglove[=[HOST:]PORT]  serve the run live to Foxglove Studio\n"
		"                        (its WebSocket protocol; default 127.0.0.1:8765)\n"
		"      --scenario FILE   play a scenario (YAML steps with expectations) against\n"
		"                        the run; the run ends when it passes or fails; with\n"
		"                        --lockstep at exact cycles: the same hash every run\n"
		"      --trace           run qiki-rtlat beside the loop: its verdict in the summary,\n"
		"                        its report in the log directory (qiki-rtlat.txt)\n"
		"      --hil udp://HOST:PORT  a device on UDP in the simulator's place (qiki-hil,\n"
		"                        docs/hil-protocol.md)\n"
		"      --hil-bind ADDR:PORT   the bridge's local address (default any)\n"
		"      --print-config    print the configuration as YAML and exit\n"
		"      --group NAME      the segment belongs to group NAME, mode 0660: its\n"
		"                        members use qikictl without root (systemd: qiki)\n"
		"      --controller SO   the agent runs the controller in shared object SO\n"
		"                        (<rt/agent/controller.h>; default: the built-in PD)\n"
		"  -q, --quiet           no live status line\n"
		"  -h, --help, --version\n\n"
		"Exit status: 0 clean shutdown; 1 usage or configuration error; 2 the segment\n"
		"could not be created; 3 no real-time privilege; 4 a loop process failed;\n"
		"5 the loop ran but telemetry failed (--telemetry: see its message);\n"
		"6 the scenario failed (the step, what it expected and what it saw are printed).\n");
}

static int parse(int argc, char **argv, struct launch *l)
{
	enum { O_LOCKSTEP = 256, O_LOCKSTEP_RT, O_CYCLES, O_FAULT, O_NORT, O_PRIO, O_CPU,
	       O_PRINT, O_VERSION, O_LOGDIR, O_LOGLEVEL, O_LOGFMT, O_TELE, O_TELE_LISTEN, O_TELE_RATE, O_FOXGLOVE, O_SCENARIO,
	       O_LOGFSYNC, O_LOGROTATE, O_TRACE, O_HIL, O_HIL_BIND, O_GROUP, O_CONTROLLER };
	static const struct option lo[] = {
		{ "instance", required_argument, NULL, 'i' },
		{ "profile", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' },
		{ "rate", required_argument, NULL, 'r' },
		{ "wake", required_argument, NULL, 'w' },
		{ "seed", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "lockstep", no_argument, NULL, O_LOCKSTEP },
		{ "lockstep-rt", no_argument, NULL, O_LOCKSTEP_RT },
		{ "cycles", required_argument, NULL, O_CYCLES },
		{ "fault", required_argument, NULL, O_FAULT },
		{ "no-rt", no_argument, NULL, O_NORT },
		{ "prio", required_argument, NULL, O_PRIO },
		{ "cpu", required_argument, NULL, O_CPU },
		{ "print-config", no_argument, NULL, O_PRINT },
		{ "log-dir", required_argument, NULL, O_LOGDIR },
		{ "telemetry", required_argument, NULL, O_TELE },
		{ "telemetry-listen", required_argument, NULL, O_TELE_LISTEN },
		{ "telemetry-rate", required_argument, NULL, O_TELE_RATE },
		{ "foxglove", optional_argument, NULL, O_FOXGLOVE },
		{ "scenario", required_argument, NULL, O_SCENARIO },
		{ "trace", no_argument, NULL, O_TRACE },
		{ "log-level", required_argument, NULL, O_LOGLEVEL },
		{ "log-format", required_argument, NULL, O_LOGFMT },
		{ "log-fsync-ms", required_argument, NULL, O_LOGFSYNC },
		{ "log-rotate-mb", required_argument, NULL, O_LOGROTATE },
		{ "hil", required_argument, NULL, O_HIL },
		{ "hil-bind", required_argument, NULL, O_HIL_BIND },
		{ "group", required_argument, NULL, O_GROUP },
		{ "controller", required_argument, NULL, O_CONTROLLER },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 }
	};
	const char *rate = NULL, *wake = NULL, *seed = NULL;
	char why[512];
	int c;

	*l = (struct launch){ .instance = "default", .profile = "bot", .prio = 80,
			      .log_level = "info", .log_format = "text",
			      .cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1 };
	if (argc < 2 || strcmp(argv[1], "run")) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			usage(stdout);
			return 1;
		}
		if (argc >= 2 && !strcmp(argv[1], "--version")) {
			printf("qiki %s (layout %u)\n", QK_VERSION, QK_LAYOUT_VERSION);
			return 1;
		}
		fprintf(stderr, PROG ": expected 'qiki run [options]' or 'qiki doctor' (see qiki --help)\n");
		return -1;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "i:p:c:r:w:s:d:qh", lo, NULL)) != -1) {
		int ret = 0;

		switch (c) {
		case 'i': l->instance = optarg; break;
		case O_LOGDIR: l->log_dir_opt = optarg; break;
		case O_TELE: l->telemetry = optarg; break;
		case O_TRACE: l->trace = true; break;
		case O_HIL: l->hil = optarg; break;
		case O_HIL_BIND: l->hil_bind = optarg; break;
		case O_LOGFSYNC: {
			int v;

			l->log_fsync = optarg;
			if ((ret = qk_parse_int(optarg, -1, 3600000, &v)) || !v) {
				ret = -1;
				fprintf(stderr, PROG ": --log-fsync-ms '%s': expected 1..3600000, or -1 for "
					"at exit only\n", optarg);
			}
			break;
		}
		case O_LOGROTATE: {
			int v;

			l->log_rotate = optarg;
			if ((ret = qk_parse_int(optarg, 1, 1 << 20, &v)))
				fprintf(stderr, PROG ": --log-rotate-mb '%s': expected 1..1048576\n", optarg);
			break;
		}
		case O_TELE_LISTEN: l->telemetry_listen = optarg; break;
		case O_FOXGLOVE: l->foxglove = optarg ? optarg : "8765"; break;
		case O_SCENARIO: l->scenario_path = optarg; break;
		case O_GROUP: l->group = optarg; break;
		case O_CONTROLLER: l->controller = optarg; break;
		case O_TELE_RATE: {
			int hz;

			l->telemetry_rate = optarg;
			if ((ret = qk_parse_int(optarg, 1, 100000, &hz)))
				fprintf(stderr, PROG ": --telemetry-rate '%s': expected a rate in Hz, 1..100000\n",
					optarg);
			break;
		}
		case O_LOGLEVEL:
			l->log_level = optarg;
			if (qk_log_level_parse(optarg) < 0) {
				fprintf(stderr, PROG ": --log-level '%s': expected debug, info, warn or error\n",
					optarg);
				ret = -1;
			}
			break;
		case O_LOGFMT:
			l->log_format = optarg;
			if (qk_proc_log_format_parse(optarg) < 0) {
				fprintf(stderr, PROG ": --log-format '%s': expected text, json or binary\n", optarg);
				ret = -1;
			}
			break;
		case 'p': l->profile = optarg; break;
		case 'c': l->config_file = optarg; break;
		case 'r': rate = optarg; break;
		case 'w': wake = optarg; break;
		case 's': seed = optarg; break;
		case 'd':
			if ((ret = qk_parse_double(optarg, 0.001, 1e7, &l->duration)))
				fprintf(stderr, PROG ": --duration '%s': expected seconds > 0\n", optarg);
			break;
		case O_LOCKSTEP: l->lockstep = true; break;
		case O_LOCKSTEP_RT: l->lockstep = l->lockstep_rt = true; break;
		case O_CYCLES:
			if ((ret = qk_parse_u64(optarg, 1, UINT64_MAX / 2, &l->cycles)))
				fprintf(stderr, PROG ": --cycles '%s': expected a positive count\n", optarg);
			break;
		case O_FAULT:
			if (l->n_faults == QK_MAX_FAULT_OPTS) {
				fprintf(stderr, PROG ": at most %d --fault options\n", QK_MAX_FAULT_OPTS);
				ret = -1;
			} else {
				l->fault[l->n_faults++] = optarg;
			}
			break;
		case O_NORT: l->no_rt = true; break;
		case O_PRIO:
			if ((ret = qk_parse_int(optarg, 2, 99, &l->prio)))
				fprintf(stderr, PROG ": --prio '%s': expected 2..99\n", optarg);
			break;
		case O_CPU:
			l->cpu_given = true;
			if ((ret = qk_parse_int(optarg, -1, (int)sysconf(_SC_NPROCESSORS_ONLN) - 1, &l->cpu)))
				fprintf(stderr, PROG ": --cpu '%s': expected -1 or a CPU of this machine\n", optarg);
			break;
		case O_PRINT: l->print_config = true; break;
		case 'q': l->quiet = true; break;
		case 'h': usage(stdout); return 1;
		case O_VERSION: printf("qiki %s (layout %u)\n", QK_VERSION, QK_LAYOUT_VERSION); return 1;
		default: usage(stderr); return -1;
		}
		if (ret)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (see qiki --help)\n", argv[optind]);
		return -1;
	}
	if (!qk_seg_name_ok(l->instance)) {
		fprintf(stderr, PROG ": bad instance name '%s': use 1-31 of [A-Za-z0-9_.-]\n", l->instance);
		return -1;
	}
	struct qk_config_opts co = { l->profile, l->config_file, rate, seed };

	if (qk_config_from_options(&l->cfg, &co, why, sizeof(why))) {
		fprintf(stderr, PROG ": %s\n", why);
		return -1;
	}
	if (wake) {
		int m = qk_wake_mode_parse(wake);

		if (m < 0 || m == QK_WAKE_LOCKSTEP) {
			fprintf(stderr, PROG ": --wake '%s': expected timer, futex or spin "
				"(lockstep is --lockstep)\n", wake);
			return -1;
		}
		l->cfg.wake_mode = (uint32_t)m;
	}
	if (l->lockstep)
		l->cfg.wake_mode = QK_WAKE_LOCKSTEP;
	if (l->hil_bind && !l->hil) {
		fprintf(stderr, PROG ": --hil-bind needs --hil udp://HOST:PORT\n");
		return -1;
	}
	if (l->hil && (l->lockstep || l->n_faults)) {
		fprintf(stderr, PROG ": --hil runs a device in real time: no --lockstep, and faults "
			"are injected on the device, not with --fault\n");
		return -1;
	}
	if (qk_config_validate(&l->cfg, why, sizeof(why))) {
		fprintf(stderr, PROG ": bad configuration: %s\n", why);
		return -1;
	}
	if (l->scenario_path &&
	    !(l->scenario = qk_scenario_load(l->scenario_path, &l->cfg, why, sizeof(why)))) {
		fprintf(stderr, PROG ": bad scenario: %s\n", why);
		return -1;
	}
	return 0;
}

/* A lockstep run never sleeps: at SCHED_FIFO it holds its CPU for the whole
 * run, and a live loop pinned there misses every cycle meanwhile.  So it
 * runs without real time, or (--lockstep-rt) at the lowest priority on a CPU
 * that no live real-time qiki loop may use.  It says which. */
static void lockstep_policy(struct launch *l)
{
	cpu_set_t used;
	int found, cpu;

	if (!l->lockstep)
		return;
	if (l->no_rt || !l->lockstep_rt) {
		l->no_rt = true;
		fprintf(stderr, PROG ": lockstep runs without SCHED_FIFO%s\n", l->lockstep_rt ? " (--no-rt)" :
			" (--lockstep-rt: the lowest real-time priority on a CPU no live loop uses)");
		QK_INFO(l->log, "lockstep without SCHED_FIFO");
		return;
	}
	CPU_ZERO(&used);
	found = qk_peers_rt_cpus(&used);
	cpu = l->cpu_given && l->cpu >= 0 ? (CPU_ISSET(l->cpu, &used) ? -1 : l->cpu) :
	      qk_peers_free_cpu(&used);
	if (found < 0 || cpu < 0) {
		l->no_rt = true;
		fprintf(stderr, PROG ": lockstep runs without SCHED_FIFO: %s\n",
			found < 0 ? "cannot read /proc to see which CPUs live loops use" :
			l->cpu_given && l->cpu >= 0 ? "a live real-time qiki loop uses that --cpu" :
			"a live real-time qiki loop may run on every CPU");
		QK_INFO(l->log, "lockstep without SCHED_FIFO: no CPU free of live loops");
		return;
	}
	l->cpu = cpu;
	l->prio = 2;	/* the sim; the agent runs at 1 */
	fprintf(stderr, PROG ": lockstep at SCHED_FIFO priority 2 (sim) and 1 (agent) on CPU %d, "
		"which no live real-time qiki loop uses (%d found)\n", cpu, found);
	QK_INFO(l->log, "lockstep at SCHED_FIFO 2/1 on CPU %d (%d live loops elsewhere)", cpu, found);
}

/* Starts path with argv in a process group of its own (a terminal's Ctrl-C
 * is ours to turn into an orderly shutdown), with a parent-death signal:
 * SIGHUP tells a loop process that its launcher is gone, and it stops in
 * order by itself.  0, or the errno of fork/exec. */
static int start(const char *path, const char *const *argv, int deathsig, pid_t *pid)
{
	return qk_spawn(path, (char *const *)argv, deathsig, pid);
}

/* qiki-sim and qiki-agent are qiki's helpers: beside it in a build tree;
 * installed, in LIBEXECDIR, found relative to the binary first so that a
 * staged or relocated tree runs its own. */
#ifndef QK_LIBEXECDIR
#define QK_LIBEXECDIR "/usr/local/libexec/qiki"
#endif
static void helper_dir(const char *bindir, char *out, size_t n)
{
	const char *try[] = { "%s", "%s/../libexec/qiki" };
	char p[PATH_MAX + 64];

	for (size_t i = 0; i < sizeof(try) / sizeof(try[0]); i++) {
		snprintf(out, n, try[i], bindir);
		snprintf(p, sizeof(p), "%s/qiki-agent", out);
		if (!access(p, X_OK))
			return;
	}
	snprintf(out, n, "%s", QK_LIBEXECDIR);
}

/* --group: the segment file belongs to the group, mode 0660, so that its
 * members use qikictl without root. */
static int set_group(struct qk_seg *seg, const char *name, char *why, size_t n)
{
	struct group *g = getgrnam(name);

	if (!g) {
		snprintf(why, n, "--group %s: no such group (create it: groupadd --system %s)",
			 name, name);
		return -ENOENT;
	}
	if (fchown(seg->fd, (uid_t)-1, g->gr_gid) || fchmod(seg->fd, 0660)) {
		int ret = -errno;

		snprintf(why, n, "--group %s: cannot give /dev/shm%s to the group: %s (root, or a "
			 "member of the group, may)", name, seg->path, strerror(errno));
		return ret;
	}
	return 0;
}

static pid_t spawn(const char *bindir, const char *name, const struct launch *l, int prio)
{
	char path[PATH_MAX], prio_s[16], cpu_s[16], cycles_s[32];
	const char *argv[48];	/* 21 + 2 per --fault (at most 8) */
	int n = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", bindir, name);
	snprintf(prio_s, sizeof(prio_s), "%d", prio);
	snprintf(cpu_s, sizeof(cpu_s), "%d", l->cpu);
	snprintf(cycles_s, sizeof(cycles_s), "%llu", (unsigned long long)l->cycles);
	argv[n++] = name;
	argv[n++] = "--instance";
	argv[n++] = l->instance;
	argv[n++] = "--prio";
	argv[n++] = prio_s;
	argv[n++] = "--cpu";
	argv[n++] = cpu_s;
	argv[n++] = "--log-dir";
	argv[n++] = l->log_dir;
	argv[n++] = "--log-level";
	argv[n++] = l->log_level;
	argv[n++] = "--log-format";
	argv[n++] = l->log_format;
	if (l->log_fsync) {
		argv[n++] = "--log-fsync-ms";
		argv[n++] = l->log_fsync;
	}
	if (l->log_rotate) {
		argv[n++] = "--log-rotate-mb";
		argv[n++] = l->log_rotate;
	}
	if (l->no_rt)
		argv[n++] = "--no-rt";
	if (l->controller && !strcmp(name, "qiki-agent")) {
		argv[n++] = "--controller";
		argv[n++] = l->controller;
	}
	if (!strcmp(name, "qiki-hil")) {
		argv[n++] = "--peer";
		argv[n++] = l->hil;
		if (l->hil_bind) {
			argv[n++] = "--bind";
			argv[n++] = l->hil_bind;
		}
		if (l->cycles) {
			argv[n++] = "--cycles";
			argv[n++] = cycles_s;
		}
	}
	if (!strcmp(name, "qiki-sim")) {
		if (l->cycles) {
			argv[n++] = "--cycles";
			argv[n++] = cycles_s;
		}
		for (int i = 0; i < l->n_faults; i++) {
			argv[n++] = "--fault";
			argv[n++] = l->fault[i];
		}
		if (l->lockstep && l->scenario)
			argv[n++] = "--gated";	/* the scenario sets its pace: ctl/gate.h */
	}
	argv[n] = NULL;
	/* SIGHUP: the agent and the sim stop in order by themselves (they
	 * handle it); the HIL bridge stops on SIGTERM, as on Ctrl-C */
	int ret = start(path, argv, strcmp(name, "qiki-hil") ? SIGHUP : SIGTERM, &pid);

	if (ret) {
		fprintf(stderr, PROG ": cannot start %s: %s\n", path, strerror(ret));
		QK_ERROR(l->log, "cannot start %s: %s", path, strerror(ret));
		return -1;
	}
	QK_INFO(l->log, "started %s, pid %d", name, (int)pid);
	return pid;
}

/* The exporter: an ordinary reader, started before the loop so that the
 * file holds it from cycle 0; its trouble never stops the loop. */
static pid_t spawn_telemetry(const char *bindir, struct launch *l, struct qk_seg *seg)
{
	char path[PATH_MAX + 32];
	const char *argv[20];
	int n = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/qiki-telemetry", bindir);
	argv[n++] = "qiki-telemetry";
	argv[n++] = "--instance";
	argv[n++] = l->instance;
	if (l->telemetry) {
		argv[n++] = "--output";
		argv[n++] = l->telemetry;
	}
	if (l->telemetry_listen) {
		argv[n++] = "--listen";
		argv[n++] = l->telemetry_listen;
	}
	if (l->foxglove) {
		argv[n++] = "--foxglove";
		argv[n++] = l->foxglove;
	}
	if (l->telemetry_rate) {
		argv[n++] = "--rate";
		argv[n++] = l->telemetry_rate;
	}
	char cpu_s[16];

	snprintf(cpu_s, sizeof(cpu_s), "%d", l->cpu);
	argv[n++] = "--avoid-cpu";
	argv[n++] = cpu_s;
	argv[n] = NULL;
	/* no parent-death signal: it finishes its file once the loop is gone */
	int ret = start(path, argv, 0, &pid);

	if (ret) {
		fprintf(stderr, PROG ": cannot start %s: %s; running without telemetry\n", path,
			strerror(ret));
		return -1;
	}
	QK_INFO(l->log, "started qiki-telemetry, pid %d", (int)pid);
	/* until it holds its slot (or gave up), so it sees the first cycle */
	for (int i = 0; i < 200 && !qk_seg_alive(seg, QK_PROC_TELEMETRY); i++) {
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			fprintf(stderr, PROG ": qiki-telemetry failed (see above); the loop runs without it\n");
			QK_ERROR(l->log, "qiki-telemetry failed at start; running without it");
			return -1;
		}
		usleep(10000);
	}
	return pid;
}

/* After the loop stopped: the exporter sees the segment shutting down,
 * finishes its file and exits; a stuck one is stopped. */
static bool stop_telemetry(pid_t pid, struct qk_log *lg)
{
	int st;

	for (int i = 0; i < 1000; i++) {	/* 10 s: a large file's last chunk and summary */
		if (waitpid(pid, &st, WNOHANG) == pid)
			goto done;
		if (i == 200)
			kill(pid, SIGTERM);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
done:
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, PROG ": qiki-telemetry ended badly (status %#x)\n", st);
		QK_WARN(lg, "qiki-telemetry ended badly (status %#x)", st);
		return false;
	}
	QK_INFO(lg, "qiki-telemetry finished");
	return true;
}

static const char *exit_text(int st, char *b, size_t n)
{
	if (WIFEXITED(st))
		snprintf(b, n, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(b, n, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(b, n, "status %#x", st);
	return b;
}

static uint32_t agent_state(struct qk_seg *s)
{
	struct qk_agent_status st, scratch;

	memset(&st, 0, sizeof(st));
	qk_mbox_read(s->agent_status, &st, &scratch);
	return st.state;
}

static int died(const char *name, pid_t pid, int st, const struct launch *l)
{
	char b[48];

	fprintf(stderr, "\n" PROG ": %s (pid %d) ended: %s\n", name, (int)pid, exit_text(st, b, sizeof(b)));
	QK_ERROR(l->log, "%s (pid %d) ended: %s", name, (int)pid, b);
	if (WIFEXITED(st) && (WEXITSTATUS(st) == 2 || WEXITSTATUS(st) == 3))
		return WEXITSTATUS(st);	/* could not attach / no privilege: stop */
	if (WIFEXITED(st) && WEXITSTATUS(st) == QK_EXIT_SEGMENT)
		return 4;	/* it said which region: a replacement would meet the same */
	fprintf(stderr, PROG ": %s; start a replacement with '%s --instance %s'\n",
		strcmp(name, "qiki-agent") ? "the agent goes SAFE (sensors stale)" :
		"the sim holds safe actuation (watchdog)", name, l->instance);
	return 4;
}

/* A lockstep scenario: once the sim is held at the gate, the scenario plays
 * that cycle and the gate goes up to the next cycle it wants, by at most
 * GATE_CHUNK cycles (its reader of the sensor ring must never be lapped). */
#define GATE_CHUNK 512
static enum qk_scn_result play_gated(struct qk_gate *g, struct launch *l, struct qk_seg *seg,
				     bool tty)
{
	enum qk_scn_result r;
	uint64_t next;
	int ret = qk_gate_wait(g, QK_NSEC / 50);

	if (ret < 0) {
		fprintf(stderr, "\n" PROG ": the sim refused to run up to cycle %llu (not --gated)\n",
			(unsigned long long)g->cycle);
		qk_scenario_cut(l->scenario);
		return QK_SCN_FAILED;
	}
	if (!ret)
		return QK_SCN_RUNNING;
	r = qk_scenario_step(l->scenario, seg, g->cycle, &next, l->quiet ? NULL : stdout, tty);
	if (r != QK_SCN_RUNNING)
		return r;	/* the sim stays held: the run ends at this very cycle */
	if (next > g->cycle + GATE_CHUNK)
		next = g->cycle + GATE_CHUNK;
	for (int i = 0; i < 100 && (ret = qk_gate_raise(g, next)) && ret != -ESRCH; i++)
		usleep(1000);	/* the queue full: the sim empties it while held */
	if (ret)
		usleep(20000);	/* no sim to raise it for: the main loop will see why */
	return r;
}

/* What `qiki doctor` would warn about, in one line, before the figures. */
static void doctor_digest(const struct launch *l)
{
	static struct qk_doctor d;
	char line[512];

	qk_doctor_run(&d, qk_rt_sysroot(), l->cpu);
	qk_doctor_digest(&d, line, sizeof(line));
	if (!l->quiet && (d.n_warn || d.n_fail))
		printf("qiki: doctor: %s; 'qiki doctor' says why and how to fix\n", line);
	QK_INFO(l->log, "doctor: %s", line);
}

int main(int argc, char **argv)
{
	static struct launch l;
	struct qk_seg seg;
	char bindir[PATH_MAX], helperdir[PATH_MAX + 32];
	int ret, agent_st = 0, sim_st = 0, tele_st = 0, rc = 0;
	bool agent_done = false, sim_done = false;

	if (argc >= 2 && !strcmp(argv[1], "doctor"))
		return qk_doctor_cmd(argc - 1, argv + 1);
	ret = parse(argc, argv, &l);
	if (ret)
		return ret > 0 ? 0 : 1;
	if (l.print_config)
		return qk_config_dump(&l.cfg, stdout) ? 1 : 0;
	ssize_t n = readlink("/proc/self/exe", bindir, sizeof(bindir) - 1);

	if (n < 0) {
		perror(PROG ": /proc/self/exe");
		return 1;
	}
	bindir[n] = 0;
	*strrchr(bindir, '/') = 0;
	helper_dir(bindir, helperdir, sizeof(helperdir));

	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a closed stdout must not kill the launcher mid-run */
	char why[512], path[4096];
	struct qk_log_opts lo = { .path = path, .proc = PROG, .avoid_cpu = l.cpu,
				  .level = qk_log_level_parse(l.log_level),
				  .format = qk_proc_log_format_parse(l.log_format),
				  .fsync_ms = l.log_fsync ? atoi(l.log_fsync) : 0,
				  .rotate_bytes = l.log_rotate ? (uint64_t)atoi(l.log_rotate) << 20 : 0 };

	if (qk_proc_log_dir(l.log_dir_opt, l.instance, l.log_dir, sizeof(l.log_dir), why, sizeof(why))) {
		fprintf(stderr, PROG ": %s\n", why);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/qiki.log", l.log_dir);
	l.log = qk_log_create(&lo, why, sizeof(why));
	if (!l.log) {
		fprintf(stderr, PROG ": %s; pass --log-dir DIR (a writable directory)\n", why);
		return 1;
	}
	lockstep_policy(&l);
	ret = qk_seg_create(&seg, l.instance, &l.cfg, QK_SEG_RECLAIM);
	if (ret) {
		qk_peers_refusal(&seg, l.instance, l.log);
		qk_log_destroy(l.log);
		return 2;
	}
	QK_INFO(l.log, "qiki %s: instance %s, profile %s, %u Hz, wake %s%s", QK_VERSION, l.instance,
		l.cfg.profile, l.cfg.rate_hz, qk_wake_mode_name(l.cfg.wake_mode),
		l.no_rt ? ", NOT real-time" : "");
	if (seg.reclaimed) {
		fprintf(stderr, PROG ": reclaimed /dev/shm%s, left by a run that died\n", seg.path);
		QK_WARN(l.log, "reclaimed /dev/shm%s, left by a run that died", seg.path);
	}
	if (l.group && set_group(&seg, l.group, why, sizeof(why))) {
		fprintf(stderr, PROG ": %s\n", why);
		QK_ERROR(l.log, "%s", why);
		qk_seg_detach(&seg);
		qk_seg_unlink(l.instance);
		qk_log_destroy(l.log);
		return 2;
	}
	qk_seg_publish(&seg);
	qk_seg_claim(&seg, QK_PROC_LAUNCHER);
	if (!l.quiet)
		printf("qiki: instance '%s' (/dev/shm%s), profile %s, %u Hz, wake %s%s\n",
		       l.instance, seg.path, l.cfg.profile, l.cfg.rate_hz,
		       qk_wake_mode_name(l.cfg.wake_mode), l.no_rt ? ", NOT real-time" : "");
	if (!l.quiet)
		printf("qiki: logs in %s\n", l.log_dir);
	doctor_digest(&l);
	fflush(stdout);
	bool want_tele = l.telemetry || l.telemetry_listen || l.foxglove;
	pid_t tele = want_tele ? spawn_telemetry(bindir, &l, &seg) : -1;
	bool tele_done = tele < 0, tele_failed = tele < 0;
	const char *sim_name = l.hil ? "qiki-hil" : "qiki-sim";
	struct qk_gate gate;

	qk_gate_init(&gate, &seg);	/* before the sim: its answers come after */
	pid_t sim = spawn(helperdir, sim_name, &l, l.prio);

	if (sim > 0)
		qk_spawn_await_sim(&seg, sim, l.lockstep);
	pid_t agent = sim > 0 ? spawn(helperdir, "qiki-agent", &l, l.prio - 1) : -1;
	char trace_report[4096 + 32], verdict[512];
	struct qk_trace *trace = NULL;
	int traced = 1;		/* qk_trace_stop()'s result; 1 while not stopped */

	snprintf(trace_report, sizeof(trace_report), "%s/qiki-rtlat.txt", l.log_dir);
	if (l.trace && agent > 0 && sim > 0 &&
	    !(trace = qk_trace_start(bindir, l.instance, trace_report, why, sizeof(why))))
		fprintf(stderr, PROG ": %s; running without the tracer\n", why);
	struct qk_sigbus_plan bus = { .prog = PROG, .shm_name = seg.path, .status = 4,
				      .unlink_it = true, .stop = { agent, sim, tele } };

	qk_proc_catch_sigbus(&bus);	/* truncated under us: stop them, unlink, say so */
	int64_t t0 = qk_now_ns(), next_line = t0;
	struct qk_report_acc acc = { 0 };
	bool tty = isatty(STDOUT_FILENO);

	if (agent < 0 || sim < 0) {
		rc = 4;
		stop = 1;
		agent_done = agent < 0;
		sim_done = sim < 0;
	}
	while (!stop) {
		int64_t now = qk_now_ns();

		/* A loop process that dies is reported, not fatal: the other one
		 * holds the plant safe (watchdog or SAFE), and a replacement
		 * started by hand reattaches.  The exit status says it happened. */
		if (!agent_done && waitpid(agent, &agent_st, WNOHANG) == agent) {
			agent_done = true;
			if (WIFEXITED(agent_st) && !WEXITSTATUS(agent_st) && agent_state(&seg) == QK_ST_SHUTDOWN)
				break;	/* an operator's SHUTDOWN (qikictl): stop in order */
			rc = died("qiki-agent", agent, agent_st, &l);
		}
		if (!sim_done && waitpid(sim, &sim_st, WNOHANG) == sim) {
			sim_done = true;
			if (l.cycles && WIFEXITED(sim_st) && !WEXITSTATUS(sim_st))
				break;	/* --cycles done */
			rc = died(sim_name, sim, sim_st, &l);
		}
		if (!tele_done && waitpid(tele, &tele_st, WNOHANG) == tele) {
			char b[48];

			tele_done = true;
			tele_failed = true;
			fprintf(stderr, "\n" PROG ": qiki-telemetry (pid %d) ended: %s; the loop runs on "
				"without telemetry\n", (int)tele, exit_text(tele_st, b, sizeof(b)));
			QK_ERROR(l.log, "qiki-telemetry (pid %d) ended: %s; the loop runs on", (int)tele, b);
		}
		if (rc == 2 || rc == 3 || (agent_done && sim_done && !qk_seg_alive(&seg, QK_PROC_AGENT) &&
					   !qk_seg_alive(&seg, QK_PROC_SIM)))
			break;
		qk_report_sample(&acc, &seg);
		if (l.duration > 0 && now - t0 >= (int64_t)(l.duration * 1e9))
			break;
		if (qk_seg_verify(&seg) >= 0) {
			/* overwritten: the loop processes go safe on their own */
			fprintf(stderr, "\n" PROG ": %s\n", seg.err);
			QK_ERROR(l.log, "%s", seg.err);
			rc = 4;
			break;
		}
		/* a scenario that passed by shutting the agent down ends the run
		 * through the agent's exit, above, as an operator's SHUTDOWN does */
		if (l.scenario) {
			enum qk_scn_result r = l.lockstep ? play_gated(&gate, &l, &seg, tty) :
					       qk_scenario_poll(l.scenario, &seg, now,
								l.quiet ? NULL : stdout, tty);

			if (r == QK_SCN_FAILED || (r == QK_SCN_PASSED && agent_state(&seg) != QK_ST_SHUTDOWN))
				break;
		}
		if (!l.quiet && now >= next_line) {
			qk_report_status_line(&seg, tty, t0);
			next_line = now + (tty ? QK_NSEC / 5 : QK_NSEC);
		}
		if (!l.scenario || !l.lockstep)
			usleep(20000);	/* else the gate's wait paces us */
	}
	if (!l.quiet && tty)
		printf("\n");
	if (l.scenario && (l.lockstep ? qk_scenario_result(l.scenario) :
			   qk_scenario_poll(l.scenario, &seg, qk_now_ns(), l.quiet ? NULL : stdout,
					    false)) == QK_SCN_RUNNING)
		qk_scenario_cut(l.scenario);	/* the loop stopped first */
	QK_INFO(l.log, "shutting down%s", stop ? " (signal)" : "");
	if (trace)	/* before the shutdown, which is not the loop's timing */
		traced = qk_trace_stop(trace, verdict, sizeof(verdict));
	trace = NULL;
	if (qk_stop_loop(&seg, agent, sim, agent_done, sim_done, l.log))
		rc = rc ? rc : 4;
	if (!tele_done && !stop_telemetry(tele, l.log))
		tele_failed = true;
	if (qk_load_relaxed(&seg.stats[QK_PROC_SIM].cycles) || qk_load_relaxed(&seg.stats[QK_PROC_AGENT].cycles))
	{
		qk_report_summary(&seg, &acc, l.instance, &l.cfg, !l.no_rt ? "" : l.lockstep ?
				  ", NOT real-time (lockstep)" : ", NOT real-time (--no-rt)");
		if (traced < 1)
			printf("  tracer: %s%s%s%s\n", verdict, traced ? "" : " (report: ",
			       traced ? "" : trace_report, traced ? "" : ")");
	} else
		fprintf(stderr, PROG ": the loop never ran\n");
	if (tele_failed && want_tele && !rc)
		rc = 5;		/* the loop ran; what was asked of telemetry did not happen */
	if (l.scenario) {
		qk_scenario_report(l.scenario, &seg, stdout);
		if (qk_scenario_result(l.scenario) == QK_SCN_FAILED) {
			fprintf(stderr, PROG ": scenario failed: %s\n", qk_scenario_failure(l.scenario));
			QK_ERROR(l.log, "scenario failed: %s", qk_scenario_failure(l.scenario));
			rc = rc ? rc : 6;
		}
		qk_scenario_destroy(l.scenario);
	}
	QK_INFO(l.log, "stopped: exit status %d; sim %llu cycles, agent %llu cycles", rc,
		(unsigned long long)qk_load_relaxed(&seg.stats[QK_PROC_SIM].cycles),
		(unsigned long long)qk_load_relaxed(&seg.stats[QK_PROC_AGENT].cycles));
	qk_seg_unlink(l.instance);
	qk_seg_detach(&seg);
	qk_log_destroy(l.log);
	return rc;
}
