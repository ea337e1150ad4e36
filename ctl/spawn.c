/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ctl/spawn.c - a child with a parent-death signal; see ctl/spawn.h. */
#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl/spawn.h"
#include "shm/atomic.h"

extern char **environ;

int qk_spawn(const char *path, char *const argv[], int deathsig, pid_t *pid)
{
	pid_t parent = getpid(), child;
	int fds[2], err = 0;
	ssize_t n;

	/* the child writes its errno here if exec fails; exec closes it */
	if (pipe2(fds, O_CLOEXEC))
		return errno;
	child = fork();
	if (child < 0) {
		err = errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (child == 0) {
		/* only async-signal-safe calls from here: the launcher has threads */
		setpgid(0, 0);
		if (deathsig && (prctl(PR_SET_PDEATHSIG, deathsig) || getppid() != parent))
			_exit(127);	/* the launcher is already gone: do not start */
		execve(path, argv, environ);
		err = errno;
		if (write(fds[1], &err, sizeof(err)) < 0)
			_exit(127);
		_exit(127);
	}
	close(fds[1]);
	setpgid(child, child);	/* either side may run first */
	do
		n = read(fds[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(fds[0]);
	if (n == (ssize_t)sizeof(err)) {
		waitpid(child, NULL, 0);
		return err;
	}
	*pid = child;
	return 0;
}

/* The time master first: an agent that started first would count the
 * sim's start-up (attach, mlockall, pre-faulting: 50 ms on a loaded VM) as
 * stale sensors and boot to SAFE.  So the agent starts once the sim runs
 * its loop, or, in lockstep (where the sim waits for the agent before its
 * first cycle), once it holds its slot; bounded, and a sim that dies
 * meanwhile is the main loop's to report. */
void qk_spawn_await_sim(struct qk_seg *seg, pid_t sim, bool lockstep)
{
	for (int i = 0; i < 500; i++) {	/* 5 s */
		siginfo_t si = { 0 };

		if (lockstep ? qk_seg_alive(seg, QK_PROC_SIM) :
		    qk_load_relaxed(&seg->stats[QK_PROC_SIM].cycles) > 0)
			return;
		/* ended: leave it to be reaped (and reported) by the main loop */
		if (!waitid(P_PID, (id_t)sim, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid == sim)
			return;
		usleep(10000);
	}
}
