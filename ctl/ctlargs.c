/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ctl/ctlargs.c - qikictl's command line; see ctl/ctlargs.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl/ctlargs.h"
#include "rt/cli.h"
#include "shm/layout.h"

const char *const qk_ctl_fault_kinds[QK_FAULT_COUNT] = {
	[QK_FAULT_STUCK] = "stuck", [QK_FAULT_NOISE] = "noise", [QK_FAULT_BIAS] = "bias",
	[QK_FAULT_DROPOUT] = "dropout", [QK_FAULT_POST_FAIL] = "post-fail",
};

int qk_ctlargs_parse(int argc, char **argv, struct qk_ctlargs *a, char *err, size_t n)
{
	bool opts_done = false;

	*a = (struct qk_ctlargs){ .instance = "default", .timeout_s = 2, .interval_s = 0.2 };
	/* options may stand anywhere; anything else (even "-3") is positional */
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		bool has_val = i + 1 < argc;

		if (!opts_done && !strcmp(s, "--")) {
			opts_done = true;
		} else if (!opts_done && (!strcmp(s, "-i") || !strcmp(s, "--instance"))) {
			if (!has_val) {
				snprintf(err, n, "%s: expected an instance name", s);
				return -EINVAL;
			}
			a->instance = argv[++i];
		} else if (!opts_done && !strcmp(s, "--json")) {
			a->json = true;
		} else if (!opts_done && (!strcmp(s, "--timeout") || !strcmp(s, "--interval"))) {
			double *v = s[2] == 't' ? &a->timeout_s : &a->interval_s;

			if (!has_val || qk_parse_double(argv[i + 1], 0.01, 3600, v)) {
				snprintf(err, n, "%s '%s': expected seconds, 0.01..3600", s,
					 has_val ? argv[i + 1] : "");
				return -EINVAL;
			}
			i++;
		} else if (!opts_done && (!strcmp(s, "-h") || !strcmp(s, "--help"))) {
			a->want_help = true;
		} else if (!opts_done && !strcmp(s, "--version")) {
			a->want_version = true;
			return 0;
		} else if (!opts_done && s[0] == '-' && s[1] == '-') {
			snprintf(err, n, "unknown option '%s' (see qikictl --help)", s);
			return -EINVAL;
		} else {
			if (a->npos == QK_CTLARGS_MAX_POS) {
				snprintf(err, n, "too many arguments (see qikictl --help)");
				return -EINVAL;
			}
			a->pos[a->npos++] = argv[i];
		}
	}
	return 0;
}

int qk_ctlargs_setpoint(char *const xyz[3], double out[3], char *err, size_t n)
{
	for (int i = 0; i < 3; i++)
		if (qk_parse_double(xyz[i], -1e6, 1e6, &out[i])) {
			snprintf(err, n, "setpoint: %c '%s': expected metres, a number within +-1e6",
				 "XYZ"[i], xyz[i]);
			return -EINVAL;
		}
	return 0;
}

int qk_ctlargs_fault_kind(const char *kind, char *err, size_t n)
{
	for (int k = 1; k < QK_FAULT_COUNT; k++)
		if (!strcmp(kind, qk_ctl_fault_kinds[k]))
			return k;
	snprintf(err, n, "fault: kind '%s': expected stuck, noise, bias, dropout or post-fail", kind);
	return -EINVAL;
}

int qk_ctlargs_fault_value(const char *value, double *out, char *err, size_t n)
{
	if (qk_parse_double(value, -1e9, 1e9, out)) {
		snprintf(err, n, "fault: value '%s': expected a number (units of the device)", value);
		return -EINVAL;
	}
	return 0;
}
