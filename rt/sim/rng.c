/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/sim/rng.c - xoshiro256** seeded by splitmix64, Box-Muller gaussians.
 */
#include <math.h>

#include "rt/sim/rng.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void qk_rng_seed(struct qk_rng *r, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	r->spare = 0.0;
	r->has_spare = false;
}

uint64_t qk_rng_next(struct qk_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double qk_rng_uniform(struct qk_rng *r)
{
	return (double)(qk_rng_next(r) >> 11) * 0x1.0p-53;
}

double qk_rng_gauss(struct qk_rng *r)
{
	if (r->has_spare) {
		r->has_spare = false;
		return r->spare;
	}
	/* 1 - u is in (0, 1], so the log is finite */
	double u1 = 1.0 - qk_rng_uniform(r);
	double u2 = qk_rng_uniform(r);
	double rad = sqrt(-2.0 * log(u1));
	double th = 6.283185307179586476925 * u2;

	r->spare = rad * sin(th);
	r->has_spare = true;
	return rad * cos(th);
}
