/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * proto/describe.h - what makes a telemetry file describe itself: a
 * Metadata record "qiki" (the instance, its profile, rate, seed and wake
 * mode, the clock the file is stamped with, qiki's version and git
 * revision, the kernel's release and preemption model) and the effective
 * configuration as YAML (qk_config_dump(), what `qiki run --print-config`
 * prints), attached as "config.yaml".
 *
 * Contract: start-up only (it allocates and formats); the exporter calls
 * it once, before the first message.
 */
#ifndef QK_PROTO_DESCRIBE_H
#define QK_PROTO_DESCRIBE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/mcap.h"
#include "shm/layout.h"

/* 0, or -errno with err.  log_time stamps the attachment. */
int qk_describe_mcap(struct qk_mcap *m, const char *instance, const struct qk_config *cfg,
		     uint64_t log_time, char *err, size_t n);

/* The kernel's preemption model: "PREEMPT_RT", "PREEMPT_DYNAMIC (full)",
 * "PREEMPT", "none"; uname -v and /sys/kernel (the dynamic model needs
 * debugfs, else it says only PREEMPT_DYNAMIC). */
void qk_describe_preemption(char *out, size_t n);

#endif
