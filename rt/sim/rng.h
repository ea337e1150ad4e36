/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/sim/rng.h - a small seeded PRNG for the plant simulator.
 *
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64, so any 64-bit
 * seed, 0 included, gives a well-mixed non-zero state.  Gaussians come from
 * the Box-Muller transform; the second value of each pair is kept for the
 * next call, so the stream is a pure function of the seed and the sequence
 * of calls.
 *
 * Contract
 * - Process-local state, one user at a time; no globals, no libc rand().
 * - Bit-for-bit deterministic for a seed on a given build (the gaussian uses
 *   libm's log, sqrt, cos and sin, which do not depend on any runtime state).
 * - Real-time safe: no allocation, no syscall.
 */
#ifndef QK_RT_RNG_H
#define QK_RT_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct qk_rng {
	uint64_t s[4];
	double spare;			/* the second Box-Muller value */
	bool has_spare;
};

void qk_rng_seed(struct qk_rng *r, uint64_t seed);
/* 64 random bits. */
uint64_t qk_rng_next(struct qk_rng *r);
/* Uniform in [0, 1), 53 bits of resolution. */
double qk_rng_uniform(struct qk_rng *r);
/* Standard normal: mean 0, standard deviation 1. */
double qk_rng_gauss(struct qk_rng *r);

#endif
