/*
 * benchutil: the clock and the sort orders the benchmarks share
 *
 * Header-only, any thread.
 */
#ifndef RTB_TOOLS_BENCHUTIL_H
#define RTB_TOOLS_BENCHUTIL_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in ns. */
static inline uint64_t benchutil_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* qsort orders: ascending uint64_t, ascending double. */
static inline int benchutil_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static inline int benchutil_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#endif
