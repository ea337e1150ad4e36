/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * bench/tick.c - what one agent tick and one sim step cost, in time and in
 * instructions.
 *
 * The plant and the agent run in lockstep in this one process (the same
 * calls qiki-sim and qiki-agent make each cycle, without the rings): the
 * agent boots on the plant's POST report, is sent ACTIVE with a setpoint
 * 10 m away, and then drives the plant there and holds it.
 *
 *  - Time: each call timed with CLOCK_MONOTONIC, pinned to the last CPU,
 *    SCHED_FIFO when allowed; min, p50, p99, p99.9, max and a histogram.
 *  - Instructions: the program runs itself under `valgrind --tool=callgrind`
 *    three times, collecting only inside bench_agent_tick() (the bot, then
 *    the ship profile) or bench_sim_step() (the bot), and divides the total
 *    by the number of calls (10000 in either mode: the mix of approach and
 *    hold ticks, and so the mean, depends on it).  The BIOS report goes to
 *    the tick once, as qiki-agent passes it only when its mailbox changed.
 *    An instruction count does not move with the machine's load, so it is
 *    the figure to compare between runs and commits; time is what it costs.
 *  - The sim's whole cycle: everything qiki-sim's real-time loop does in a
 *    cycle but its wait (actuation read, command drain, step, sense, frame
 *    hash, publish and wake, status mailbox, watchdog, statistics, the
 *    segment check every 16 cycles).  `qiki run --no-rt --cycles N` starts
 *    the real qiki-sim under callgrind (a wrapper in a scratch helper
 *    directory), collecting in main() but not in qk_period_wait(); two runs,
 *    of N1 and N2 cycles, and the difference divided by N2 - N1, so start-up
 *    and shutdown cancel out.  At 200 Hz: callgrind slows the sim ~50x, and
 *    at 1 kHz most cycles would overrun (and log it).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt/agent/agent.h"
#include "rt/config/config.h"
#include "rt/sim/plant.h"
#include "rt/rt.h"
#include "bench/bench.h"
#include "shm/hist.h"

extern char **environ;

struct lockstep {
	struct qk_config cfg;
	struct qk_plant plant;
	struct qk_agent agent;
	struct qk_bios_report bios;
	struct qk_sensor_frame frame;
	struct qk_actuator_frame act;
	bool bios_new;			/* pass the report to the next tick */
	double dt;
	int64_t period_ns, now_ns;
	uint64_t cycle;
};

/* The two units measured; noinline so callgrind can toggle on them. */
__attribute__((noinline)) void bench_sim_step(struct lockstep *l);
__attribute__((noinline)) void bench_agent_tick(struct lockstep *l);

void bench_sim_step(struct lockstep *l)
{
	qk_plant_step(&l->plant, &l->act, l->dt);
	qk_plant_sense(&l->plant, &l->frame);
	l->frame.cycle = l->cycle;
	l->frame.sched_ns = l->frame.wake_ns = l->frame.publish_ns = l->now_ns;
}

void bench_agent_tick(struct lockstep *l)
{
	qk_agent_tick(&l->agent, &l->frame, l->bios_new ? &l->bios : NULL, l->now_ns, &l->act);
	l->bios_new = false;
}

static int setup(struct lockstep *l, const char *profile)
{
	char why[256];
	struct qk_cmd c = { .id = 1, .type = QK_CMD_STATE, .u = { QK_ST_ACTIVE } };
	struct qk_reply r;

	memset(l, 0, sizeof(*l));
	if (qk_config_profile(&l->cfg, profile, why, sizeof(why)) ||
	    qk_plant_init(&l->plant, &l->cfg, 1, why, sizeof(why))) {
		fprintf(stderr, "tick: %s\n", why);
		return -1;
	}
	l->period_ns = QK_NSEC / (l->cfg.rate_hz ? l->cfg.rate_hz : 1000);
	l->dt = (double)l->period_ns / 1e9;
	l->now_ns = QK_NSEC;
	qk_plant_post(&l->plant, &l->bios);
	l->bios_new = true;
	qk_agent_init(&l->agent, &l->cfg, l->now_ns);
	qk_plant_sense(&l->plant, &l->frame);
	/* BOOTING -> IDLE on the POST report, then the operator's ACTIVE */
	bench_agent_tick(l);
	qk_agent_command(&l->agent, &c, l->now_ns, &r);
	c = (struct qk_cmd){ .id = 2, .type = QK_CMD_SETPOINT, .arg = { 10, 0, 0 } };
	qk_agent_command(&l->agent, &c, l->now_ns, &r);
	return 0;
}

static void advance(struct lockstep *l)
{
	l->cycle++;
	l->now_ns += l->period_ns;
}

/* Under callgrind: n lockstep cycles, nothing else. */
static int inner(uint64_t n, const char *profile)
{
	static struct lockstep l;

	if (setup(&l, profile))
		return 1;
	for (uint64_t i = 0; i < n; i++) {
		bench_sim_step(&l);
		bench_agent_tick(&l);
		advance(&l);
	}
	printf("final state %u, x %.3f m\n", l.agent.fsm.state, l.frame.pos_m[0]);
	return 0;
}

/* callgrind's total in file `out`, or -1. */
static double cg_total(const char *out)
{
	FILE *f = fopen(out, "r");
	char l[512];
	unsigned long long total = 0;
	bool found = false;

	while (f && fgets(l, sizeof(l), f))
		if (sscanf(l, "totals: %llu", &total) == 1 || sscanf(l, "summary: %llu", &total) == 1)
			found = true;
	if (f)
		fclose(f);
	return found ? (double)total : -1;
}

/* Instructions inside fn per call, or -1 with why. */
static double callgrind(const char *self, const char *fn, const char *profile, uint64_t n,
			const char *dir, char *why, size_t wn)
{
	char out[PATH_MAX], log[PATH_MAX], tog[128], a_out[PATH_MAX + 32], a_n[32];
	char *argv[] = { "valgrind", "--tool=callgrind", "--collect-atstart=no", tog, a_out,
			 (char *)self, "--inner", a_n, (char *)profile, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;

	snprintf(out, sizeof(out), "%s/callgrind.%s.%s.out", dir, fn, profile);
	snprintf(log, sizeof(log), "%s/callgrind.%s.%s.log", dir, fn, profile);
	snprintf(tog, sizeof(tog), "--toggle-collect=%s", fn);
	snprintf(a_out, sizeof(a_out), "--callgrind-out-file=%s", out);
	snprintf(a_n, sizeof(a_n), "%llu", (unsigned long long)n);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	int e = posix_spawnp(&pid, "valgrind", &fa, NULL, argv, environ);

	posix_spawn_file_actions_destroy(&fa);
	if (e) {
		snprintf(why, wn, "valgrind not found (%s): apt-get install valgrind", strerror(e));
		return -1;
	}
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		snprintf(why, wn, "valgrind failed, see callgrind.%s.log", fn);
		return -1;
	}
	double total = cg_total(out);

	if (total < 0) {
		snprintf(why, wn, "no totals in callgrind.%s.out", fn);
		return -1;
	}
	unlink(log);
	return total / (double)n;
}

/* Copies file `from` to `to`, mode 0755.  0 or -errno. */
static int copy_exe(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ssize_t k = 0;
	int ret = 0;

	while (out >= 0 && (k = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)k) != k)
			break;
	if (in < 0 || out < 0 || k != 0)
		ret = errno ? -errno : -EIO;
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) && !ret)
		ret = -errno;
	return ret;
}


/* Instructions per cycle of qiki-sim's loop, all but the wait; see the top. */
static double sim_cycle_callgrind(const char *self, const char *dir, const uint64_t n[2],
				  char *why, size_t wn)
{
	char bin[PATH_MAX], tmp[] = "/tmp/qk-simcycle.XXXXXX", p[PATH_MAX + 64], q[PATH_MAX + 64];
	char inst[32], cyc[32], out[2][PATH_MAX + 64];
	double total[2] = { -1, -1 }, ret = -1;
	FILE *f;

	/* self is <build>/bench/bin/tick; the programs are in <build>/bin */
	snprintf(bin, sizeof(bin), "%s", self);
	for (int i = 0; i < 3; i++) {
		char *sl = strrchr(bin, '/');

		if (sl)
			*sl = 0;
	}
	strncat(bin, "/bin", sizeof(bin) - strlen(bin) - 1);
	if (!mkdtemp(tmp)) {
		snprintf(why, wn, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	/* qiki runs the qiki-sim beside it: its own copy here, beside a
	 * wrapper that runs the real one under callgrind */
	snprintf(p, sizeof(p), "%s/qiki", bin);
	snprintf(q, sizeof(q), "%s/qiki", tmp);
	int e = copy_exe(p, q);

	snprintf(p, sizeof(p), "%s/qiki-agent", bin);
	snprintf(q, sizeof(q), "%s/qiki-agent", tmp);
	if (!e && symlink(p, q))
		e = -errno;
	snprintf(q, sizeof(q), "%s/qiki-sim", tmp);
	if (!e && (f = fopen(q, "w"))) {
		fprintf(f, "#!/bin/sh\nexec valgrind --tool=callgrind --collect-atstart=no "
			"--toggle-collect=main --toggle-collect=qk_period_wait "
			"--callgrind-out-file=\"$QK_CG_OUT\" %s/qiki-sim \"$@\" 2>>%s/valgrind.log\n",
			bin, tmp);
		fclose(f);
		chmod(q, 0755);
	} else if (!e) {
		e = -errno;
	}
	if (e) {
		snprintf(why, wn, "cannot set up %s: %s", tmp, strerror(-e));
		goto out;
	}
	snprintf(inst, sizeof(inst), "bench-%d", (int)getpid());
	for (int k = 0; k < 2; k++) {
		char *argv[] = { "qiki", "run", "--no-rt", "--instance", inst, "--rate", "200",
				 "--cycles", cyc, "-q", "--log-dir", tmp, NULL };
		char runlog[PATH_MAX + 64];
		posix_spawn_file_actions_t fa;
		pid_t pid;
		int st;

		snprintf(cyc, sizeof(cyc), "%llu", (unsigned long long)n[k]);
		snprintf(out[k], sizeof(out[k]), "%s/callgrind.sim_cycle.%llu.out", dir,
			 (unsigned long long)n[k]);
		snprintf(runlog, sizeof(runlog), "%s/run.out", tmp);
		setenv("QK_CG_OUT", out[k], 1);
		snprintf(q, sizeof(q), "%s/qiki", tmp);
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 1, runlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
		e = posix_spawn(&pid, q, &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		if (e || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			snprintf(why, wn, "qiki run --cycles %s under callgrind failed (%s)", cyc,
				 e ? strerror(e) : "see its summary");
			goto out;
		}
		if ((total[k] = cg_total(out[k])) < 0) {
			snprintf(why, wn, "valgrind failed, no totals in callgrind.sim_cycle.%s.out "
				 "(is valgrind installed?)", cyc);
			goto out;
		}
	}
	ret = (total[1] - total[0]) / (double)(n[1] - n[0]);
out:
	unsetenv("QK_CG_OUT");
	{
		const char *left[] = { "qiki", "qiki-agent", "qiki-sim", "valgrind.log", "run.out",
				       "qiki.log", "qiki-agent.log", "qiki-sim.log" };

		for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
			snprintf(q, sizeof(q), "%s/%s", tmp, left[i]);
			unlink(q);
		}
		if (rmdir(tmp))
			fprintf(stderr, "tick: %s left behind (%s)\n", tmp, strerror(errno));
	}
	return ret;
}

static bool go_rt(void)
{
	cpu_set_t set;
	struct sched_param sp = { .sched_priority = 80 };

	CPU_ZERO(&set);
	CPU_SET((int)sysconf(_SC_NPROCESSORS_ONLN) - 1, &set);
	sched_setaffinity(0, sizeof(set), &set);
	return sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
}


int main(int argc, char **argv)
{
	static struct lockstep l;
	static struct qk_hist h_sim, h_agent;
	const char *json = NULL;
	uint64_t n = 100000, n_cg = 10000;
	bool want_rt = true;
	char self[PATH_MAX], dir[PATH_MAX], why_a[160] = "", why_s[160] = "", why_sh[160] = "";
	char why_c[256] = "";
	const uint64_t n_cycle[2] = { 1000, 3000 };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--inner") && i + 1 < argc)
			return inner(strtoull(argv[i + 1], NULL, 10), i + 2 < argc ? argv[i + 2] : "bot");
		if (!strcmp(argv[i], "--quick")) {
			n = 30000;	/* callgrind's count stays: comparable across modes */
		} else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
			json = argv[++i];
		} else if (!strcmp(argv[i], "--no-rt")) {
			want_rt = false;
		} else {
			fprintf(stderr, "usage: tick [--quick] [--no-rt] [--json FILE]\n");
			return 1;
		}
	}
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[sl > 0 ? sl : 0] = 0;
	/* callgrind's files go beside the JSON; without one, to /tmp */
	snprintf(dir, sizeof(dir), "%s", json ? json : "/tmp/x");
	char *slash = strrchr(dir, '/');

	if (slash)
		*slash = 0;
	if (!slash || !dir[0])
		snprintf(dir, sizeof(dir), "%s", slash ? "/" : ".");

	/* instructions first: valgrind runs while this process is still ordinary */
	double ins_agent = callgrind(self, "bench_agent_tick", "bot", n_cg, dir, why_a, sizeof(why_a));
	double ins_ship = callgrind(self, "bench_agent_tick", "ship", n_cg, dir, why_sh,
				    sizeof(why_sh));
	double ins_sim = callgrind(self, "bench_sim_step", "bot", n_cg, dir, why_s, sizeof(why_s));
	double ins_cycle = sim_cycle_callgrind(self, dir, n_cycle, why_c, sizeof(why_c));

	bool locked = mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
	bool rt = want_rt && go_rt();

	if (setup(&l, "bot"))
		return 1;
	qk_hist_reset(&h_sim);
	qk_hist_reset(&h_agent);
	for (uint64_t i = 0; i < n; i++) {
		int64_t t0 = qk_now_ns();

		bench_sim_step(&l);
		int64_t t1 = qk_now_ns();

		bench_agent_tick(&l);
		int64_t t2 = qk_now_ns();

		qk_hist_record(&h_sim, t1 - t0);
		qk_hist_record(&h_agent, t2 - t1);
		advance(&l);
		if ((i & 16383) == 16383)
			usleep(1000);	/* stay far from RT throttling */
	}
	printf("tick bench: %llu lockstep cycles, %s, %s; agent ends %s at x = %.2f m\n",
	       (unsigned long long)n, rt ? "SCHED_FIFO 80" : "SCHED_OTHER (NOT real-time)",
	       locked ? "mlockall" : "no mlockall", qk_fsm_state_name(l.agent.fsm.state),
	       l.frame.pos_m[0]);
	printf("  %-16s p50 %6.2f  p99 %6.2f  p99.9 %6.2f  max %7.1f us   ", "agent tick",
	       qk_hist_quantile(&h_agent, 0.5) / 1e3, qk_hist_quantile(&h_agent, 0.99) / 1e3,
	       qk_hist_quantile(&h_agent, 0.999) / 1e3, qk_hist_max(&h_agent) / 1e3);
	if (ins_agent >= 0)
		printf("%.0f instructions/call (callgrind)\n", ins_agent);
	else
		printf("instructions: %s\n", why_a);
	if (ins_ship >= 0)
		printf("  %-16s %60s%.0f instructions/call (callgrind)\n", "agent tick, ship", "",
		       ins_ship);
	else
		printf("  agent tick, ship: instructions: %s\n", why_sh);
	printf("  %-16s p50 %6.2f  p99 %6.2f  p99.9 %6.2f  max %7.1f us   ", "sim step",
	       qk_hist_quantile(&h_sim, 0.5) / 1e3, qk_hist_quantile(&h_sim, 0.99) / 1e3,
	       qk_hist_quantile(&h_sim, 0.999) / 1e3, qk_hist_max(&h_sim) / 1e3);
	if (ins_sim >= 0)
		printf("%.0f instructions/call (callgrind)\n", ins_sim);
	else
		printf("instructions: %s\n", why_s);
	if (ins_cycle >= 0)
		printf("  %-16s %60s%.0f instructions/cycle (callgrind, qiki-sim's loop but its wait)\n",
		       "sim cycle", "", ins_cycle);
	else
		printf("  sim cycle: instructions: %s\n", why_c);
	if (!json)
		return 0;
	FILE *f = bench_json_open(json, "tick");

	if (!f)
		return 1;
	fprintf(f, "\"sched_fifo\":%s,\"mlockall\":%s,\"ticks\":%llu,"
		"\"callgrind_ticks\":%llu,\"final_state\":\"%s\",",
		rt ? "true" : "false", locked ? "true" : "false", (unsigned long long)n,
		(unsigned long long)n_cg, qk_fsm_state_name(l.agent.fsm.state));
	fprintf(f, "\"agent_tick\":{\"instructions\":%.1f,\"instructions_error\":\"%s\",",
		ins_agent, why_a);
	bench_json_hist(f, "time", &h_agent);
	fprintf(f, "},\"agent_tick_ship\":{\"instructions\":%.1f,\"instructions_error\":\"%s\"",
		ins_ship, why_sh);
	fprintf(f, "},\"sim_step\":{\"instructions\":%.1f,\"instructions_error\":\"%s\",",
		ins_sim, why_s);
	bench_json_hist(f, "time", &h_sim);
	fprintf(f, "},\"sim_cycle\":{\"instructions\":%.1f,\"instructions_error\":\"%s\","
		"\"cycles\":[%llu,%llu],\"rate_hz\":200}}\n", ins_cycle, why_c,
		(unsigned long long)n_cycle[0], (unsigned long long)n_cycle[1]);
	fclose(f);
	return 0;
}
