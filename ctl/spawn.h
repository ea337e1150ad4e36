/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ctl/spawn.h - starting a loop process that cannot outlive its launcher.
 *
 * The child runs in a process group of its own (a terminal's Ctrl-C is the
 * launcher's to turn into an orderly stop) and gets `deathsig` when the
 * launcher dies, however it dies (kill -9 included).  The launcher may die
 * between fork and prctl: the child checks its parent after setting the
 * signal and leaves if the parent is already gone.
 *
 * Call it from the launcher's main thread: the kernel sends the parent-death
 * signal when the thread that forked ends, not the process.
 */
#ifndef QK_CTL_SPAWN_H
#define QK_CTL_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "shm/seg.h"

/* Starts path with argv (environ kept); deathsig 0 for none.  0 with *pid
 * set, or a positive errno (as posix_spawn) when fork or exec failed. */
int qk_spawn(const char *path, char *const argv[], int deathsig, pid_t *pid);

/* Until the sim we started runs its loop (lockstep: holds its slot), it
 * ended, or 5 s passed: then the agent may start without seeing stale
 * sensors at boot. */
void qk_spawn_await_sim(struct qk_seg *seg, pid_t sim, bool lockstep);

#endif
