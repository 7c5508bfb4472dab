/*
 * sched: slot pool and min-heap of pending releases (see sched.h). All
 * memory is taken in sched_init; adding and popping only move indices.
 */
#include "tools/relay/sched.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SCHED_MAX_SLOTS      (1u << 24)
#define SCHED_MAX_SLOT_BYTES 65536u

int sched_init(struct sched *s, size_t nslots, size_t slot_bytes)
{
	memset(s, 0, sizeof(*s));
	if (nslots == 0 || nslots > SCHED_MAX_SLOTS || slot_bytes == 0 ||
	    slot_bytes > SCHED_MAX_SLOT_BYTES)
		return -EINVAL;

	s->bufs = malloc(nslots * slot_bytes);
	s->lens = calloc(nslots, sizeof(*s->lens));
	s->refs = calloc(nslots, sizeof(*s->refs));
	s->free_slots = malloc(nslots * sizeof(*s->free_slots));
	s->heap = malloc(2 * nslots * sizeof(*s->heap));
	if (!s->bufs || !s->lens || !s->refs || !s->free_slots || !s->heap) {
		sched_clear(s);
		return -ENOMEM;
	}
	s->nslots = nslots;
	s->slot_bytes = slot_bytes;
	/* Hand out low indices first: the stack's top is slot 0. */
	for (size_t i = 0; i < nslots; i++)
		s->free_slots[i] = (uint32_t)(nslots - 1 - i);
	s->nfree = nslots;
	return 0;
}

void sched_clear(struct sched *s)
{
	free(s->bufs);
	free(s->lens);
	free(s->refs);
	free(s->free_slots);
	free(s->heap);
	memset(s, 0, sizeof(*s));
}

static bool before(const struct sched_entry *a, const struct sched_entry *b)
{
	if (a->release_ns != b->release_ns)
		return a->release_ns < b->release_ns;
	return a->order < b->order;
}

static void sift_up(struct sched *s, size_t i)
{
	struct sched_entry e = s->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(&e, &s->heap[parent]))
			break;
		s->heap[i] = s->heap[parent];
		i = parent;
	}
	s->heap[i] = e;
}

static void sift_down(struct sched *s, size_t i)
{
	struct sched_entry e = s->heap[i];
	size_t n = s->heap_len;

	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= n)
			break;
		if (child + 1 < n &&
		    before(&s->heap[child + 1], &s->heap[child]))
			child++;
		if (!before(&s->heap[child], &e))
			break;
		s->heap[i] = s->heap[child];
		i = child;
	}
	s->heap[i] = e;
}

int sched_add(struct sched *s, const void *data, size_t len,
              const uint64_t *release_ns, int copies)
{
	if (copies < 1 || copies > 2)
		return -EINVAL;
	if (len > s->slot_bytes)
		return -EMSGSIZE;
	if (s->nfree == 0)
		return -ENOBUFS;

	uint32_t slot = s->free_slots[--s->nfree];
	memcpy(s->bufs + (size_t)slot * s->slot_bytes, data, len);
	s->lens[slot] = (uint32_t)len;
	s->refs[slot] = (uint8_t)copies;
	/* Each slot holds at most two entries, and the heap has room for
	 * two per slot. */
	assert(s->heap_len + (size_t)copies <= 2 * s->nslots);
	for (int c = 0; c < copies; c++) {
		struct sched_entry *e = &s->heap[s->heap_len];
		e->release_ns = release_ns[c];
		e->order = s->next_order++;
		e->slot = slot;
		sift_up(s, s->heap_len++);
	}
	return 0;
}

size_t sched_pending(const struct sched *s)
{
	return s->heap_len;
}

const struct sched_entry *sched_peek(const struct sched *s)
{
	return s->heap_len > 0 ? &s->heap[0] : NULL;
}

const void *sched_payload(const struct sched *s, uint32_t slot, size_t *len)
{
	assert(slot < s->nslots);
	*len = s->lens[slot];
	return s->bufs + (size_t)slot * s->slot_bytes;
}

void sched_pop(struct sched *s)
{
	assert(s->heap_len > 0);
	uint32_t slot = s->heap[0].slot;

	s->heap[0] = s->heap[--s->heap_len];
	if (s->heap_len > 0)
		sift_down(s, 0);
	assert(s->refs[slot] > 0);
	if (--s->refs[slot] == 0)
		s->free_slots[s->nfree++] = slot;
}
