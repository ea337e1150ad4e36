/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/sim/rng.h - a small seeded PRNG for the plant simulator.
 *
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64, so any 64-bit
 * seed, 0 included, gives a well-mixed non-zero state.  Gaussians come from
 * the ziggurat method (Marsaglia and Tsang, 2000) with 128 layers: one
 * 64-bit draw gives the layer (7 bits), the sign (1 bit) and a 53-bit
 * uniform, and ~98.8% of draws end there, inside the layer's rectangle,
 * with a multiply and a compare.  The rest take the wedge test (one exp)
 * or, below 1 in 3,000, the tail beyond r (two logs).  The layers' edges
 * are computed by qk_rng_seed(), so the struct carries them (2 KB).
 *
 * Contract
 * - Process-local state, one user at a time; no globals, no libc rand().
 * - Bit-for-bit deterministic for a seed on a given build (the tables and
 *   the rare paths use libm's exp and log, which do not depend on any
 *   runtime state); the stream is a pure function of the seed and the
 *   sequence of calls.
 * - Real-time safe: no allocation, no syscall.
 */
#ifndef QK_RT_RNG_H
#define QK_RT_RNG_H

#include <stdint.h>

#define QK_RNG_LAYERS 128

struct qk_rng {
	uint64_t s[4];
	/* ziggurat: layer i spans x in [0, x[i]) and y in [f(x[i]), f(x[i+1])];
	 * x[0] is the base layer's width as if its tail were a rectangle */
	double x[QK_RNG_LAYERS + 1];
	double f[QK_RNG_LAYERS + 1];	/* exp(-x^2 / 2) */
};

void qk_rng_seed(struct qk_rng *r, uint64_t seed);
/* 64 random bits. */
uint64_t qk_rng_next(struct qk_rng *r);
/* Uniform in [0, 1), 53 bits of resolution. */
double qk_rng_uniform(struct qk_rng *r);
/* Standard normal: mean 0, standard deviation 1. */
double qk_rng_gauss(struct qk_rng *r);
/* n of them, the same as n calls of qk_rng_gauss(). */
void qk_rng_gauss_fill(struct qk_rng *r, double *out, unsigned n);

#endif
