/*
 * lathist: fixed-size histogram of durations (callback times)
 *
 * Log-linear buckets over nanoseconds: exact below 16 ns, then 16 buckets
 * per power of two (about 6 % resolution) up to 2^34 ns (17 s); longer
 * durations land in the last bucket. No allocation; adding is a few
 * instructions, so the audio thread records every callback. Not
 * thread-safe: one owner at a time (the mixer copies it into a report).
 */
#ifndef RTB_LATHIST_H
#define RTB_LATHIST_H

#include <stdint.h>

#define LATHIST_SUB     16
#define LATHIST_BUCKETS (LATHIST_SUB + 30 * LATHIST_SUB)

struct lathist {
	uint32_t count[LATHIST_BUCKETS];
	uint64_t n;      /* durations added */
	uint64_t max_ns; /* largest duration added */
};

/* Empty the histogram. Context: owner, real-time safe. */
void lathist_init(struct lathist *h);

/* Record one duration. Context: owner, real-time safe. */
void lathist_add(struct lathist *h, uint64_t ns);

/* Add every count of `src` to `dst`. Context: owner of dst. */
void lathist_merge(struct lathist *dst, const struct lathist *src);

/*
 * The duration below which a fraction q (0..1) of the recorded durations
 * lie, as the upper edge of the bucket that holds it (never above max_ns).
 *
 * Return: ns, or 0 when empty
 * Context: owner
 */
uint64_t lathist_quantile(const struct lathist *h, double q);

#endif
