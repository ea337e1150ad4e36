/*
 * tests/fuzz/fuzz_sim_cmd.c - libFuzzer target: the sim's command decoding
 * (qk_plant_command: faults, POST, ping), interleaved with plant steps and
 * POST reports.  Every reply must answer its command with a terminated
 * reason; fault tables must stay within their arrays (ASan, UBSan).
 */
#include <stdio.h>

#include "fuzz_cmd.h"
#include "rt/config/config.h"
#include "rt/sim/plant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct qk_config cfg;
	static struct qk_plant plant;
	static struct qk_sensor_frame f;
	static struct qk_bios_report bios;
	static struct qk_sim_status st;
	char why[256];
	struct qk_cmd c;
	struct qk_reply r;

	if (!cfg.rate_hz && qk_config_profile(&cfg, "bot", why, sizeof(why)))
		abort();
	if (qk_plant_init(&plant, &cfg, 1, why, sizeof(why)))
		abort();
	while (fuzz_next_cmd(&data, &size, &c)) {
		if (qk_plant_command(&plant, &c, &r) || c.type == QK_CMD_POST)
			qk_plant_post(&plant, &bios);
		fuzz_check_reply(&c, &r);
		qk_plant_step(&plant, NULL, 0.001);
		qk_plant_sense(&plant, &f);
		qk_plant_fault_status(&plant, &st);
		if (bios.n_devices > QK_MAX_DEVICES || st.n_faults > QK_MAX_DEVICES)
			abort();
	}
	return 0;
}
