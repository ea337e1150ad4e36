/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/fuzz/fuzz_mcap.c - libFuzzer target: the MCAP reader behind
 * `qiki-telemetry info` and `cat` (proto/mcap.c), over a file in memory;
 * every message it hands out is touched end to end, so that a length the
 * reader did not bound shows up under ASan.  Built by `make fuzz-ops`.
 */
#include <stdint.h>
#include <string.h>

#include "proto/mcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int touch(void *ctx, const struct qk_mcap_info *in, int ch, uint64_t t,
		 const uint8_t *d, size_t len)
{
	uint64_t *sum = ctx;

	(void)t;
	for (size_t i = 0; i < len; i++)
		*sum += d[i];
	if (ch >= 0 && ch < (int)in->n_channels)
		*sum += strlen(in->ch[ch].topic);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct qk_mcap_info in;
	uint64_t sum = 0;
	char err[256];

	qk_mcap_read_mem(data, size, "fuzz.mcap", &in, touch, &sum, err, sizeof(err));
	return 0;
}
