/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ctl/param.h - the operator's side of runtime parameters (rt/agent/param.h):
 * `qikictl param list|get|set`, `qikictl config`, the parameter rows of
 * `qikictl history`, and the scenario action `param NAME VALUE`.
 *
 * Contract: ordinary code for one thread of qikictl or the launcher; it
 * reads the agent's parameters mailbox like every reader of the segment
 * (untrusted: names are cut to their arrays, indices checked) and sends
 * through ctl/client.h.  Not for the loop.
 */
#ifndef QK_CTL_PARAM_H
#define QK_CTL_PARAM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl/json.h"
#include "shm/seg.h"

/* The published table, made safe to read: false when the mailbox could
 * not be read (a writer mid-way every try) or holds no table yet (the
 * agent has not started), *st zeroed then. */
bool qk_ctl_params_read(struct qk_seg *seg, struct qk_param_status *st);

/* A parameter set request for `name` = v (QK_CMD_PARAM). */
void qk_ctl_param_cmd(struct qk_cmd *c, const char *name, double v);

/* A scenario's `param NAME VALUE` (or qikictl's `param set NAME VALUE`)
 * against a configuration before the loop runs: the name must be one of
 * the configuration's parameters or controller.SOMETHING (a plug-in
 * controller declares its own, known only once it runs), the value a
 * number; its range is the agent's to judge (a step may expect a refusal).
 * 0 with *c filled, or -EINVAL with err. */
int qk_ctl_param_action(const struct qk_config *cfg, const char *name, const char *value,
			struct qk_cmd *c, char *err, size_t n);

/* `param list|get NAME|set NAME VALUE`: checks the words without an
 * instance (0, or -EINVAL with err saying what is wrong). */
int qk_ctl_param_args(int argc, char *const argv[], char *err, size_t n);

/* How qikictl sends a request: its exit code (0 accepted; 3 refused, the
 * reason printed; others as qikictl documents them). */
typedef int (*qk_ctl_send_fn)(void *ctx, struct qk_cmd *c, struct qk_reply *r);

/* Runs `param ...` on an attached segment; returns qikictl's exit code:
 * 0, 1 (an unknown parameter: the names are listed), 2 (no table: the
 * agent is not running), 3 (refused: out of range, with the reason and
 * the range), 4 (no answer). */
int qk_ctl_param_run(struct qk_seg *seg, int argc, char *const argv[], bool json,
		     qk_ctl_send_fn send, void *ctx);

/* The running instance's effective configuration as YAML that `qiki run
 * --config` reads back (the segment's configuration with every changed
 * parameter in it; a plug-in controller's parameters as comments).
 * 0, or -EIO. */
int qk_ctl_config_dump(struct qk_seg *seg, FILE *out);

/* A run's parameter changes for its summary, those before a transition
 * at cycle to_cycle (UINT64_MAX: all the rest), one line each: "  cycle 1476     param controller.kp 1 -> 4";
 * *next as for qk_ctl_param_history(). */
void qk_ctl_param_report(const struct qk_param_status *st, uint64_t *next, uint64_t to_cycle,
			 FILE *out);

/* The parameter changes of st from time `from_ns` up to `to_ns` (inclusive),
 * in the history's columns (json: objects in the open array).  *next is the
 * change to start from (a running index into st->changes); it moves past
 * what was printed. */
void qk_ctl_param_history(const struct qk_param_status *st, uint64_t *next, int64_t to_ns,
			  int64_t epoch_ns, struct qk_json *j, FILE *out);

#endif
