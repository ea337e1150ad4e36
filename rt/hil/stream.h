/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/hil/stream.h - the bridge's sensor stream hash: every SENSORS frame the
 * link takes, in order, as the measured part of qiki's sensor frame with its
 * cycle counted from the first one's, folded by qk_proc_frame_hash() (the
 * simulator's).  So the hash is a function of what the device measured and
 * of nothing about when it arrived; docs/hil-protocol.md ("Determinism") says
 * what else must hold for two runs to agree, and each checkpoint (every
 * QK_HIL_STREAM_EVERY frames) records whether it held so far.
 *
 * Contract: process-local, one thread (the bridge's loop); no allocation,
 * no syscall: real-time safe.
 */
#ifndef QK_RT_HIL_STREAM_H
#define QK_RT_HIL_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/hil/wire.h"
#include "shm/layout.h"

#define QK_HIL_STREAM_EVERY 500		/* frames between checkpoints */
#define QK_HIL_STREAM_POINTS 128

/* What the loop says of itself when a frame is taken. */
struct qk_hil_stream_loop {
	uint64_t lost;			/* SENSORS lost so far (the link's) */
	uint64_t sessions;
	uint64_t overruns;		/* the bridge's skipped cycles so far */
	uint64_t late_answers;		/* agent answers not there in their cycle */
};

struct qk_hil_stream {
	uint64_t hash, frames, base_cycle;
	struct qk_hil_stream_loop at_first;	/* when the first frame was taken */
	uint64_t hash_at[QK_HIL_STREAM_POINTS], lost_at[QK_HIL_STREAM_POINTS];
	bool clean_at[QK_HIL_STREAM_POINTS];	/* one session, no overrun, no late answer */
	struct qk_sensor_frame f;		/* scratch */
};

void qk_hil_stream_init(struct qk_hil_stream *s);

/* The measured part of a SENSORS frame into f (valid, flags, the readings);
 * no_rt marks a bridge without real time, as the simulator's frames do. */
void qk_hil_sensor_frame(const struct qk_hil_sensors *in, bool no_rt, struct qk_sensor_frame *f);

/* One SENSORS frame taken, in the order taken. */
void qk_hil_stream_take(struct qk_hil_stream *s, const struct qk_hil_sensors *in, bool no_rt,
			const struct qk_hil_stream_loop *loop);

#endif
