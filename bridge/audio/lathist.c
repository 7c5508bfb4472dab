/*
 * lathist: log-linear duration histogram (see lathist.h)
 *
 * Bucket b < 16 holds exactly b ns. Above, a duration v with highest set
 * bit e (e >= 4) falls in bucket 16 + (e - 4) * 16 + the four bits below
 * the highest one, so each power of two is split in 16 equal parts.
 */
#include "bridge/audio/lathist.h"

#include <string.h>

static unsigned lathist__bucket(uint64_t v)
{
	if (v < LATHIST_SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v);
	unsigned sub = (unsigned)(v >> (e - 4)) & (LATHIST_SUB - 1);
	unsigned b = LATHIST_SUB + (e - 4) * LATHIST_SUB + sub;
	return b < LATHIST_BUCKETS ? b : LATHIST_BUCKETS - 1;
}

/* One past the largest duration that bucket b holds, in ns. */
static uint64_t lathist__upper(unsigned b)
{
	if (b < LATHIST_SUB)
		return b + 1;
	unsigned e = (b - LATHIST_SUB) / LATHIST_SUB + 4;
	uint64_t sub = (b - LATHIST_SUB) % LATHIST_SUB;
	return (LATHIST_SUB + sub + 1) << (e - 4);
}

void lathist_init(struct lathist *h)
{
	memset(h, 0, sizeof(*h));
}

void lathist_add(struct lathist *h, uint64_t ns)
{
	h->count[lathist__bucket(ns)]++;
	h->n++;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

void lathist_merge(struct lathist *dst, const struct lathist *src)
{
	for (unsigned b = 0; b < LATHIST_BUCKETS; b++)
		dst->count[b] += src->count[b];
	dst->n += src->n;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
}

uint64_t lathist_quantile(const struct lathist *h, double q)
{
	if (h->n == 0)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	/* Rank of the wanted duration, 1-based: ceil(q * n), at least 1. */
	uint64_t rank = (uint64_t)(q * (double)h->n);
	if ((double)rank < q * (double)h->n)
		rank++;
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < LATHIST_BUCKETS; b++) {
		seen += h->count[b];
		if (seen >= rank) {
			uint64_t up = lathist__upper(b);
			return up < h->max_ns ? up : h->max_ns;
		}
	}
	return h->max_ns;
}
