/*
 * prng: xoshiro256** seeded with splitmix64 (see prng.h). Both algorithms
 * are public domain reference designs; the code here is written from their
 * published definitions.
 */
#include "tools/relay/prng.h"

#include <string.h>

uint64_t prng_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void prng_init(struct prng *p, uint64_t seed)
{
	uint64_t sm = seed;

	for (int i = 0; i < 4; i++)
		p->s[i] = prng_splitmix64(&sm);
}

void prng_clear(struct prng *p)
{
	memset(p, 0, sizeof(*p));
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t prng_next(struct prng *p)
{
	uint64_t *s = p->s;
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

double prng_uniform(struct prng *p)
{
	/* The top 53 bits fill a double's mantissa exactly: 0x1p-53 scales
	 * them into [0, 1) with no rounding. */
	return (double)(prng_next(p) >> 11) * 0x1p-53;
}
