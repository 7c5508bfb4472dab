/*
 * prng: small seeded pseudo-random generator for the impairment relay
 *
 * xoshiro256** (Blackman and Vigna) whose 256-bit state is filled from a
 * 64-bit seed by splitmix64, so that any seed, 0 included, gives a good
 * state. Pure code: no I/O, no global state; one generator per owner, not
 * shared between threads. The same seed always yields the same sequence on
 * every platform (only 64-bit integer arithmetic is used for the integers;
 * doubles are built from the top 53 bits).
 */
#ifndef RTB_PRNG_H
#define RTB_PRNG_H

#include <stdint.h>

struct prng {
	uint64_t s[4];
};

/*
 * Seed the generator.
 *
 * Post: the next draws are a pure function of seed.
 */
void prng_init(struct prng *p, uint64_t seed);

/* Nothing to release. */
void prng_clear(struct prng *p);

/*
 * Return: the next 64 uniformly distributed bits.
 */
uint64_t prng_next(struct prng *p);

/*
 * Return: a uniform double in [0, 1), with 53 random bits.
 */
double prng_uniform(struct prng *p);

/*
 * One step of splitmix64, also handy to derive seeds.
 *
 * Post: *state has advanced by one step.
 * Return: the next output of the splitmix64 sequence.
 */
uint64_t prng_splitmix64(uint64_t *state);

#endif
