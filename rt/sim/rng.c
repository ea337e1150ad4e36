/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/sim/rng.c - xoshiro256** seeded by splitmix64, ziggurat gaussians.
 */
#include <math.h>

#include "rt/sim/rng.h"

/* Marsaglia and Tsang's constants for 128 layers: the start of the tail and
 * the area of each layer (of the unnormalised density exp(-x^2 / 2)). */
#define ZIG_R 3.442619855899
#define ZIG_V 9.91256303526217e-3

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
	/* each layer above the last has area V: x[i+1] = f^-1(V / x[i] + f(x[i])) */
	r->x[0] = ZIG_V / exp(-0.5 * ZIG_R * ZIG_R);
	r->x[1] = ZIG_R;
	for (int i = 1; i < QK_RNG_LAYERS - 1; i++)
		r->x[i + 1] = sqrt(-2 * log(ZIG_V / r->x[i] + exp(-0.5 * r->x[i] * r->x[i])));
	r->x[QK_RNG_LAYERS] = 0;
	for (int i = 0; i <= QK_RNG_LAYERS; i++)
		r->f[i] = exp(-0.5 * r->x[i] * r->x[i]);
}

static inline uint64_t next(struct qk_rng *r)
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

uint64_t qk_rng_next(struct qk_rng *r)
{
	return next(r);
}

static inline double uniform(struct qk_rng *r)
{
	return (double)(int64_t)(next(r) >> 11) * 0x1.0p-53;
}

double qk_rng_uniform(struct qk_rng *r)
{
	return uniform(r);
}

/* The tail beyond ZIG_R (Marsaglia's method); 1 - u keeps the logs finite. */
static double tail(struct qk_rng *r)
{
	double a, b;

	do {
		a = -log(1.0 - uniform(r)) / ZIG_R;
		b = -log(1.0 - uniform(r));
	} while (b + b < a * a);
	return ZIG_R + a;
}

static inline double gauss(struct qk_rng *r)
{
	for (;;) {
		uint64_t u = next(r);
		unsigned i = (unsigned)u & (QK_RNG_LAYERS - 1);
		/* 53 bits convert exactly, and as a signed value in one instruction */
		double x = (double)(int64_t)(u >> 11) * 0x1.0p-53 * r->x[i];

		if (x < r->x[i + 1])
			;	/* inside the rectangle under the curve: most draws */
		else if (i == 0)
			x = tail(r);
		else if (!(r->f[i] + uniform(r) * (r->f[i + 1] - r->f[i]) < exp(-0.5 * x * x)))
			continue;	/* the wedge: a uniform height in the layer, above the curve */
		return (u & QK_RNG_LAYERS) ? -x : x;
	}
}

double qk_rng_gauss(struct qk_rng *r)
{
	return gauss(r);
}

void qk_rng_gauss_fill(struct qk_rng *r, double *out, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		out[i] = gauss(r);
}
