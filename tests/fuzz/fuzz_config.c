/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/fuzz/fuzz_config.c - libFuzzer target: the YAML configuration
 * loader (rt/config/yaml.c) on top of the built-in "bot" profile, then the
 * validator, and a dump of anything accepted.  A refusal must leave the
 * configuration as it was.  Built by `make fuzz-ops`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct qk_config c, before;
	char why[512];

	qk_config_profile(&c, "bot", why, sizeof(why));
	before = c;
	if (qk_config_load_mem(&c, "fuzz.yaml", data, size, why, sizeof(why))) {
		if (memcmp(&c, &before, sizeof(c)))
			abort();	/* a refused file changed the configuration */
		return 0;
	}
	if (qk_config_validate(&c, why, sizeof(why)))
		abort();		/* the loader validates what it accepts */
	FILE *f = fopen("/dev/null", "w");

	if (f) {
		qk_config_dump(&c, f);
		fclose(f);
	}
	return 0;
}
