/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/agent/fixture_ctl_v2.c - a controller built for an interface
 * version this agent does not speak: qk_controller_load() must refuse it
 * before reading anything past `abi` (the struct below is not version 1's). */
#include <stdint.h>

struct future_controller {
	uint32_t abi, size;
	const char *name;
	void *something_new;
};

static const struct future_controller desc = { .abi = 2, .size = sizeof(desc), .name = "v2" };

const void *qk_controller_v1(void);
__attribute__((visibility("default"))) const void *qk_controller_v1(void)
{
	return &desc;
}
