/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/hil/stream.c - the bridge's sensor stream hash; see rt/hil/stream.h. */
#include <string.h>

#include "rt/hil/stream.h"
#include "rt/proc.h"

void qk_hil_stream_init(struct qk_hil_stream *s)
{
	memset(s, 0, sizeof(*s));
	s->hash = 0xcbf29ce484222325ull;	/* the simulator's start */
}

void qk_hil_sensor_frame(const struct qk_hil_sensors *in, bool no_rt, struct qk_sensor_frame *f)
{
	uint32_t nt = in->n_thermal < QK_MAX_THERMAL ? in->n_thermal : QK_MAX_THERMAL;

	f->valid = in->valid;
	f->flags = (in->flags & QK_HIL_SENSF_WATCHDOG ? QK_SIMF_WATCHDOG_SAFE : 0) |
		   (no_rt ? QK_SIMF_NO_RT : 0);
	memcpy(f->accel_mps2, in->accel_mps2, sizeof(f->accel_mps2));
	memcpy(f->pos_m, in->pos_m, sizeof(f->pos_m));
	memcpy(f->vel_mps, in->vel_mps, sizeof(f->vel_mps));
	f->tank_bar = in->tank_bar;
	f->propellant_kg = in->propellant_kg;
	f->mass_kg = in->mass_kg;
	f->batt_v = in->batt_v;
	f->batt_a = in->batt_a;
	f->batt_soc = in->batt_soc;
	memset(f->temp_k, 0, sizeof(f->temp_k));
	memcpy(f->temp_k, in->temp_k, nt * sizeof(double));
	f->n_thermal = nt;
}

void qk_hil_stream_take(struct qk_hil_stream *s, const struct qk_hil_sensors *in, bool no_rt,
			const struct qk_hil_stream_loop *loop)
{
	if (!s->frames) {
		s->base_cycle = in->cycle;
		s->at_first = *loop;
	}
	memset(&s->f, 0, sizeof(s->f));
	qk_hil_sensor_frame(in, no_rt, &s->f);
	s->f.cycle = in->cycle - s->base_cycle;
	s->hash = qk_proc_frame_hash(s->hash, &s->f);
	if (++s->frames % QK_HIL_STREAM_EVERY || s->frames / QK_HIL_STREAM_EVERY > QK_HIL_STREAM_POINTS)
		return;
	uint64_t k = s->frames / QK_HIL_STREAM_EVERY - 1;

	s->hash_at[k] = s->hash;
	s->lost_at[k] = loop->lost;
	s->clean_at[k] = loop->sessions == 1 && loop->overruns == s->at_first.overruns &&
			 loop->late_answers == s->at_first.late_answers;
}
