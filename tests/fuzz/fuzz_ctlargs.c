/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/fuzz/fuzz_ctlargs.c - libFuzzer target: qikictl's command line
 * (ctl/ctlargs.c).  The input is split at NUL bytes into argv; the parse
 * and then the argument checks of the command it names run as qikictl
 * would run them, without any instance.  Built by `make fuzz-ops`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctlargs.h"
#include "rt/agent/fsm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[65], err[256];
	int argc = 0;
	struct qk_ctlargs a;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	argv[argc++] = "qikictl";
	for (size_t at = 0; at <= size && argc < 64; at += strlen(buf + at) + 1)
		argv[argc++] = buf + at;
	argv[argc] = NULL;
	if (!qk_ctlargs_parse(argc, argv, &a, err, sizeof(err)) && a.npos && !a.want_version) {
		const char *cmd = a.pos[0];
		char *const *args = a.pos + 1;
		int nargs = a.npos - 1;
		double v[3];

		if (!strcmp(cmd, "setpoint") && nargs == 3)
			qk_ctlargs_setpoint(args, v, err, sizeof(err));
		else if (!strcmp(cmd, "state") && nargs == 1)
			(void)qk_fsm_state_parse(args[0]);
		else if (!strcmp(cmd, "fault") && nargs >= 2 && strcmp(args[0], "clear")) {
			(void)qk_ctlargs_fault_kind(args[1], err, sizeof(err));
			if (nargs == 3)
				(void)qk_ctlargs_fault_value(args[2], v, err, sizeof(err));
		}
	}
	free(buf);
	return 0;
}
