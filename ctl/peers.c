/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ctl/peers.c - the machine's other qiki processes; see ctl/peers.h. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/peers.h"
#include "rt/log.h"

static bool loop_comm(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;	/* gone meanwhile */
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = 0;
	fclose(f);
	comm[strcspn(comm, "\n")] = 0;
	return !strcmp(comm, "qiki-sim") || !strcmp(comm, "qiki-agent") || !strcmp(comm, "qiki-hil");
}

int qk_peers_rt_cpus(cpu_set_t *used)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int found = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		cpu_set_t set;
		int pol;

		if (*end || pid <= 0 || pid == getpid() || !loop_comm((pid_t)pid))
			continue;
		pol = sched_getscheduler((pid_t)pid) & ~SCHED_RESET_ON_FORK;
		if (pol != SCHED_FIFO && pol != SCHED_RR)
			continue;	/* --no-rt loops take nobody's CPU */
		CPU_ZERO(&set);
		if (sched_getaffinity((pid_t)pid, sizeof(set), &set))
			continue;
		CPU_OR(used, used, &set);
		found++;
	}
	closedir(d);
	return found;
}

int qk_peers_free_cpu(const cpu_set_t *used)
{
	for (long c = sysconf(_SC_NPROCESSORS_ONLN) - 1; c >= 0 && c < CPU_SETSIZE; c--)
		if (!CPU_ISSET((int)c, used))
			return (int)c;
	return -1;
}

int qk_peers_holders(const struct qk_seg *s, char *out, size_t n)
{
	static const char *const names[QK_PROC_COUNT] = { "sim", "agent", "telemetry", "launcher" };
	size_t k = 0;
	int found = 0;

	if (n)
		out[0] = 0;
	for (int p = 0; p < QK_PROC_COUNT; p++) {
		if (!qk_seg_alive(s, p))
			continue;
		int w = snprintf(out + k, n > k ? n - k : 0, "%s%s pid %d", found ? ", " : "",
				 names[p], (int)qk_load_relaxed(&s->stats[p].pid));

		if (w > 0)
			k += (size_t)w;
		if (k >= n)
			k = n ? n - 1 : 0;
		found++;
	}
	return found;
}

/* The instance could not be created.  When live processes hold its segment
 * (a run still going, or one whose launcher died), name them and say how to
 * stop them: the pid of a dead creator helps nobody. */
void qk_peers_refusal(const struct qk_seg *seg, const char *instance, struct qk_log *log)
{
	struct qk_seg live;
	char who[256];

	if (qk_seg_attach(&live, instance, 0)) {
		fprintf(stderr, "qiki: %s\n", seg->err);
		QK_ERROR(log, "%s", seg->err);
		return;
	}
	if (qk_peers_holders(&live, who, sizeof(who)) > 0) {
		fprintf(stderr, "qiki: instance '%s' is running (/dev/shm%s held by %s%s): stop it "
			"with 'qikictl -i %s stop', or use another --instance\n", instance, live.path,
			who, qk_seg_alive(&live, QK_PROC_COUNT) ? "" : "; its launcher is gone",
			instance);
		QK_ERROR(log, "instance %s is running: %s", instance, who);
	} else {
		fprintf(stderr, "qiki: %s\n", seg->err);
		QK_ERROR(log, "%s", seg->err);
	}
	qk_seg_detach(&live);
}
