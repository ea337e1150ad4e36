/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ctl/ctlargs.h - qikictl's command line, parsed without touching anything:
 * options anywhere on the line, the rest positional, and the checks of each
 * command's own arguments that need no instance.  Split from ctl/qikictl.c
 * so that a fuzzer can drive it (tests/fuzz/fuzz_ctlargs.c).
 *
 * Pure functions of their arguments: no I/O, no globals; argv is only read.
 */
#ifndef QK_CTL_CTLARGS_H
#define QK_CTL_CTLARGS_H

#include <stdbool.h>
#include <stddef.h>

#define QK_CTLARGS_MAX_POS 8

struct qk_ctlargs {
	const char *instance;
	bool json, want_help, want_version;
	double timeout_s, interval_s;
	int npos;
	char *pos[QK_CTLARGS_MAX_POS];	/* the command and its arguments */
};

/* Fills *a (defaults first: instance "default", timeout 2 s, interval
 * 0.2 s).  0, or -EINVAL with err = "--timeout 'x': expected seconds, ...".
 * --version stops the parse (want_version), as the old loop did. */
int qk_ctlargs_parse(int argc, char **argv, struct qk_ctlargs *a, char *err, size_t n);

/* setpoint X Y Z: three finite numbers within +-1e6 metres.  0 or -EINVAL. */
int qk_ctlargs_setpoint(char *const xyz[3], double out[3], char *err, size_t n);

/* fault DEVICE KIND [VALUE]: the kind (enum qk_fault_kind, >= 1) or -EINVAL;
 * the value, if given, a number within +-1e9. */
int qk_ctlargs_fault_kind(const char *kind, char *err, size_t n);
int qk_ctlargs_fault_value(const char *value, double *out, char *err, size_t n);

/* The fault kinds by enum qk_fault_kind ([0] is NULL). */
extern const char *const qk_ctl_fault_kinds[];

#endif
