/* ctl/trace.c - qiki-rtlat beside the loop; see trace.h. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl/trace.h"

extern char **environ;

struct qk_trace {
	pid_t pid;
	char report[4096];
};

struct qk_trace *qk_trace_start(const char *bindir, const char *instance, const char *report,
				char *why, size_t n)
{
	char path[4096];
	/* a loaded machine may take long to start the loop: wait for it */
	const char *argv[] = { "qiki-rtlat", "--instance", instance, "--output", report,
			       "--wait", "30", NULL };
	posix_spawnattr_t attr;
	struct qk_trace *t = calloc(1, sizeof(*t));
	int ret;

	if (!t) {
		snprintf(why, n, "out of memory");
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/qiki-rtlat", bindir);
	snprintf(t->report, sizeof(t->report), "%s", report);
	/* its own process group, as the loop's: Ctrl-C is the launcher's to relay */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	ret = posix_spawn(&t->pid, path, NULL, &attr, (char *const *)argv, environ);
	posix_spawnattr_destroy(&attr);
	if (ret) {
		snprintf(why, n, "cannot start %s: %s%s", path, strerror(ret),
			 ret == ENOENT ? " (it is built only where the kernel has BTF)" : "");
		free(t);
		return NULL;
	}
	return t;
}

int qk_trace_stop(struct qk_trace *t, char *verdict, size_t n)
{
	char line[1024];
	int st = 0, ret = -ENOENT;
	FILE *f;

	if (!t)
		return -EINVAL;
	if (waitpid(t->pid, &st, WNOHANG) != t->pid) {
		kill(t->pid, SIGINT);
		for (int i = 0; i < 500 && waitpid(t->pid, &st, WNOHANG) != t->pid; i++)
			usleep(10000);
		if (kill(t->pid, 0) == 0) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, &st, 0);
		}
	}
	snprintf(verdict, n, "no verdict: qiki-rtlat ended with status %d (its message is above)",
		 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	if (WIFEXITED(st) && !WEXITSTATUS(st) && (f = fopen(t->report, "r"))) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "verdict: ", 9)) {
				line[strcspn(line, "\n")] = 0;
				snprintf(verdict, n, "%s", line + 9);
				ret = 0;
			}
		fclose(f);
	}
	free(t);
	return ret;
}
