/*
 * srcval: the probation table of new sources (see srcval.h)
 *
 * Pure code. The datagram store is a stack of buffer indices: taking and
 * giving back a buffer are O(1); an entry keeps its buffers' indices in
 * arrival order. Eviction and the drain's sort are bounded by the fixed
 * sizes (the entry count, SRCVAL_HOLD_MAX).
 */
#include "bridge/net/srcval.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/addr.h"

int srcval_init(struct srcval *v, unsigned entries, unsigned dgrams,
                size_t max_bytes, unsigned min_sequential)
{
	memset(v, 0, sizeof(*v));
	if (entries < 1 || entries > 4096 || dgrams < 1 || dgrams > 65535 ||
	    max_bytes < 1)
		return -EINVAL;
	v->e = calloc(entries, sizeof(*v->e));
	v->dg = calloc(dgrams, sizeof(*v->dg));
	v->bytes = malloc((size_t)dgrams * max_bytes);
	v->free = calloc(dgrams, sizeof(*v->free));
	if (!v->e || !v->dg || !v->bytes || !v->free) {
		srcval_clear(v);
		return -ENOMEM;
	}
	v->nentries = entries;
	v->ndgrams = dgrams;
	v->max_bytes = max_bytes;
	v->min_sequential = min_sequential ? min_sequential : 1;
	for (unsigned k = 0; k < dgrams; k++)
		v->free[k] = (uint16_t)(dgrams - 1 - k);
	v->nfree = dgrams;
	return 0;
}

void srcval_clear(struct srcval *v)
{
	free(v->e);
	free(v->dg);
	free(v->bytes);
	free(v->free);
	memset(v, 0, sizeof(*v));
}

unsigned srcval_release(struct srcval *v, int i)
{
	struct srcval_entry *e = &v->e[i];
	unsigned n = e->n;

	for (unsigned k = 0; k < n; k++)
		v->free[v->nfree++] = e->held[k];
	if (e->kind == SRCVAL_PROBATION)
		v->nprobe--;
	else if (e->kind == SRCVAL_PENDING)
		v->npend--;
	memset(e, 0, sizeof(*e));
	return n;
}

/* The probation entry to give up first, other than `keep`, or -1. */
static int srcval__victim(const struct srcval *v, int keep)
{
	int best = -1;

	for (unsigned k = 0; k < v->nentries; k++) {
		const struct srcval_entry *e = &v->e[k];
		if (e->kind != SRCVAL_PROBATION || (int)k == keep)
			continue;
		if (best < 0) {
			best = (int)k;
			continue;
		}
		const struct srcval_entry *b = &v->e[best];
		if (e->probe.run < b->probe.run ||
		    (e->probe.run == b->probe.run && e->last_ns < b->last_ns))
			best = (int)k;
	}
	return best;
}

/* Evict the least promising probation entry but `keep`. Return: 0, or
   -ENOSPC when there is none. */
static int srcval__evict(struct srcval *v, int keep, struct srcval_evicted *ev)
{
	int k = srcval__victim(v, keep);

	if (k < 0)
		return -ENOSPC;
	ev->any = true;
	ev->ssrc = v->e[k].ssrc;
	ev->challenger = v->e[k].challenger;
	ev->dropped = srcval_release(v, k);
	return 0;
}

int srcval_open(struct srcval *v, uint32_t ssrc, bool challenger,
                const struct sockaddr *from, uint64_t rx_ns,
                struct srcval_evicted *ev)
{
	memset(ev, 0, sizeof(*ev));
	int slot = -1;
	for (unsigned k = 0; k < v->nentries && slot < 0; k++)
		if (v->e[k].kind == SRCVAL_FREE)
			slot = (int)k;
	/* One eviction at most: it frees an entry and at least one buffer
	   whenever the victim held one, and the victim exists unless every
	   entry is PENDING. */
	if (slot < 0 || v->nfree == 0) {
		if (srcval__evict(v, -1, ev) < 0)
			return -ENOSPC;
		if (slot < 0)
			for (unsigned k = 0; k < v->nentries && slot < 0; k++)
				if (v->e[k].kind == SRCVAL_FREE)
					slot = (int)k;
	}
	struct srcval_entry *e = &v->e[slot];
	memset(e, 0, sizeof(*e));
	e->ssrc = ssrc;
	e->kind = SRCVAL_PROBATION;
	e->challenger = challenger;
	e->first_ns = rx_ns;
	e->last_ns = rx_ns;
	socklen_t alen = addr_len(from);
	if (alen > 0 && alen <= sizeof(e->from))
		memcpy(&e->from, from, alen);
	/* A challenger needs two in sequence even when one validates a
	   new source: one datagram from another address proves nothing
	   about the first one having stopped (receiver.h). */
	unsigned need = v->min_sequential;
	if (challenger && need < 2)
		need = 2;
	rtpseq_probe_init(&e->probe, need);
	v->nprobe++;
	return slot;
}

/* Signed distance of seq from the entry's reference number. */
static int srcval__dist(const struct srcval_entry *e, uint16_t seq)
{
	return (int16_t)(uint16_t)(seq - e->probe.max_seq);
}

/* Remove the held datagram at position k (keeps arrival order). */
static void srcval__unhold(struct srcval *v, struct srcval_entry *e, unsigned k)
{
	v->free[v->nfree++] = e->held[k];
	memmove(&e->held[k], &e->held[k + 1],
	        (e->n - k - 1) * sizeof(e->held[0]));
	e->n--;
}

int srcval_hold(struct srcval *v, int i, uint16_t seq, const uint8_t *data,
                size_t len, uint64_t rx_ns, unsigned *dropped,
                struct srcval_evicted *ev)
{
	struct srcval_entry *e = &v->e[i];
	int st = RTPSEQ_PROBE_WAIT;

	memset(ev, 0, sizeof(*ev));
	*dropped = 0;
	e->last_ns = rx_ns;
	for (unsigned k = 0; k < e->n; k++)
		if (v->dg[e->held[k]].seq == seq) {
			*dropped = 1; /* a duplicate of one held */
			return e->kind == SRCVAL_PROBATION ? RTPSEQ_PROBE_REPEAT
			                                   : RTPSEQ_PROBE_WAIT;
		}
	if (e->kind == SRCVAL_PROBATION) {
		st = rtpseq_probe_update(&e->probe, seq);
		if (st == RTPSEQ_PROBE_RESTART || st == RTPSEQ_PROBE_VALID)
			/* Keep only what lies near the run's new start. */
			for (unsigned k = e->n; k-- > 0;) {
				int d = srcval__dist(e, v->dg[e->held[k]].seq);
				if (d < -SRCVAL_HOLD_MAX ||
				    d > SRCVAL_HOLD_MAX) {
					srcval__unhold(v, e, k);
					++*dropped;
				}
			}
		if (e->n == SRCVAL_HOLD_MAX) {
			/* Full: give up the one furthest behind. */
			unsigned far = 0;
			for (unsigned k = 1; k < e->n; k++)
				if (srcval__dist(e, v->dg[e->held[k]].seq) <
				    srcval__dist(e, v->dg[e->held[far]].seq))
					far = k;
			srcval__unhold(v, e, far);
			++*dropped;
		}
	} else if (e->n == SRCVAL_HOLD_MAX) {
		++*dropped;
		return st;
	}
	if (v->nfree == 0 && srcval__evict(v, i, ev) < 0) {
		++*dropped;
		return st;
	}
	if (v->nfree == 0) { /* the victim held nothing */
		++*dropped;
		return st;
	}
	uint16_t b = v->free[--v->nfree];
	v->dg[b].rx_ns = rx_ns;
	v->dg[b].len = (uint32_t)len;
	v->dg[b].seq = seq;
	memcpy(v->bytes + (size_t)b * v->max_bytes, data, len);
	e->held[e->n++] = b;
	return st;
}

void srcval_validated(struct srcval *v, int i)
{
	struct srcval_entry *e = &v->e[i];

	if (e->kind != SRCVAL_PROBATION)
		return;
	e->kind = SRCVAL_PENDING;
	v->nprobe--;
	v->npend++;
}

unsigned srcval_drain(struct srcval *v, int i, srcval_drain_fn *fn, void *arg)
{
	struct srcval_entry *e = &v->e[i];
	uint16_t order[SRCVAL_HOLD_MAX];
	unsigned n = e->n;

	/* Insertion sort by distance from the run's reference number:
	   at most SRCVAL_HOLD_MAX items. */
	for (unsigned k = 0; k < n; k++) {
		uint16_t b = e->held[k];
		int d = srcval__dist(e, v->dg[b].seq);
		unsigned j = k;
		while (j > 0 && srcval__dist(e, v->dg[order[j - 1]].seq) > d) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = b;
	}
	for (unsigned k = 0; k < n; k++) {
		const struct srcval_dgram *d = &v->dg[order[k]];
		fn(arg, v->bytes + (size_t)order[k] * v->max_bytes, d->len,
		   d->rx_ns);
	}
	srcval_release(v, i);
	return n;
}
