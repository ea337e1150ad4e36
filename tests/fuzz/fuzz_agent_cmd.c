/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/fuzz/fuzz_agent_cmd.c - libFuzzer target: the agent's command
 * decoding (qk_agent_command), interleaved with ticks on frames from the
 * real plant, so requests meet every state the FSM can reach.  Every reply
 * must answer its command with a terminated reason; the FSM must stay in a
 * known state and the setpoint finite; and whatever runtime parameters
 * (rt/agent/param.h) it accepted, the configuration stays one the
 * validator takes.
 */
#include <math.h>
#include <stdio.h>

#include "fuzz_cmd.h"
#include "rt/agent/agent.h"
#include "rt/config/config.h"
#include "rt/sim/plant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct qk_config cfg, run;
	static struct qk_params params;
	static struct qk_agent agent;
	static struct qk_plant plant;
	static struct qk_sensor_frame f;
	static struct qk_actuator_frame act;
	static struct qk_bios_report bios;
	char why[256];
	int64_t now = 1000000000;
	struct qk_cmd c;
	struct qk_reply r;

	if (!cfg.rate_hz && qk_config_profile(&cfg, "bot", why, sizeof(why)))
		abort();
	run = cfg;	/* parameters change the agent's copy, input by input */
	if (qk_agent_init(&agent, &run, now) || qk_plant_init(&plant, &cfg, 1, why, sizeof(why)) ||
	    qk_params_build(&params, &run, NULL, why, sizeof(why)))
		abort();
	agent.params = &params;
	qk_plant_post(&plant, &bios);
	while (fuzz_next_cmd(&data, &size, &c)) {
		/* a few cycles of the loop between commands */
		for (int i = 0; i < 1 + (int)(c.id % 4); i++) {
			now += 1000000;
			qk_plant_step(&plant, &act, 0.001);
			qk_plant_sense(&plant, &f);
			f.cycle++;
			f.publish_ns = now;
			qk_agent_tick(&agent, &f, &bios, now, &act);
		}
		if (c.type == QK_CMD_PARAM && (c.id & 1))	/* a name it has, half the time */
			c.u[0] = params.d[c.u[0] % params.st.n].hash;
		qk_agent_command(&agent, &c, now, &r);
		fuzz_check_reply(&c, &r);
		if (c.type == QK_CMD_PARAM && qk_config_validate(&run, why, sizeof(why)))
			abort();
		if (agent.fsm.state >= QK_ST_COUNT || !isfinite(agent.setpoint[0]) ||
		    !isfinite(agent.setpoint[1]) || !isfinite(agent.setpoint[2]))
			abort();
	}
	return 0;
}
