/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ctl/peers.h - what the launcher needs to know about the machine's other
 * qiki processes: which CPUs live real-time loops hold (so a lockstep run
 * never takes real-time priority from one), and which processes still hold
 * an instance's segment (so a refusal names them).
 *
 * Blocking, start-up only: it reads /proc and the segment's lock table.
 * Not real-time safe; never called from a loop.
 */
#ifndef QK_CTL_PEERS_H
#define QK_CTL_PEERS_H

#include <sched.h>
#include <stddef.h>

#include "rt/log.h"
#include "shm/seg.h"

/* Adds to *used every CPU that a SCHED_FIFO/SCHED_RR qiki loop process
 * (comm qiki-sim, qiki-agent, qiki-hil) may run on.  Returns how many such
 * processes it found, or -errno when /proc cannot be read. */
int qk_peers_rt_cpus(cpu_set_t *used);

/* The highest CPU of this machine not in *used, or -1 when every CPU is. */
int qk_peers_free_cpu(const cpu_set_t *used);

/* Writes "sim pid 12, agent pid 13, launcher pid 11" for every slot of the
 * attached segment a live process holds; "" when none.  Returns how many. */
int qk_peers_holders(const struct qk_seg *s, char *out, size_t n);

/* qiki run could not create the instance (seg->err says why): prints, and
 * logs, who holds it and how to stop them, or seg->err as it is. */
void qk_peers_refusal(const struct qk_seg *seg, const char *instance, struct qk_log *log);

#endif
