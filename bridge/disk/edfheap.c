/*
 * edfheap: binary min-heap ordered by (deadline, push sequence). Owned by
 * the disk server thread; no locking, no allocation.
 */
#include "bridge/disk/edfheap.h"

#include <errno.h>

static bool edfheap__less(const struct edfheap_entry *a,
                          const struct edfheap_entry *b)
{
	if (a->key != b->key)
		return a->key < b->key;
	return a->seq < b->seq;
}

int edfheap_init(struct edfheap *h, struct edfheap_entry *storage, size_t cap)
{
	if (!storage || cap < 1)
		return -EINVAL;
	h->v = storage;
	h->len = 0;
	h->cap = cap;
	h->next_seq = 0;
	return 0;
}

void edfheap_clear(struct edfheap *h)
{
	h->len = 0;
}

int edfheap_push(struct edfheap *h, int64_t key, const struct msg *m)
{
	if (h->len == h->cap)
		return -ENOSPC;
	struct edfheap_entry e = {.key = key, .seq = h->next_seq++, .msg = *m};
	size_t i = h->len++;
	/* Sift up: move parents down until e's place is found. */
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!edfheap__less(&e, &h->v[parent]))
			break;
		h->v[i] = h->v[parent];
		i = parent;
	}
	h->v[i] = e;
	return 0;
}

bool edfheap_pop(struct edfheap *h, struct msg *out, int64_t *key)
{
	if (h->len == 0)
		return false;
	*out = h->v[0].msg;
	if (key)
		*key = h->v[0].key;
	struct edfheap_entry last = h->v[--h->len];
	size_t n = h->len;
	size_t i = 0;
	/* Sift down the former last entry from the root. */
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= n)
			break;
		if (child + 1 < n &&
		    edfheap__less(&h->v[child + 1], &h->v[child]))
			child++;
		if (!edfheap__less(&h->v[child], &last))
			break;
		h->v[i] = h->v[child];
		i = child;
	}
	if (n > 0)
		h->v[i] = last;
	return true;
}

size_t edfheap_len(const struct edfheap *h)
{
	return h->len;
}

bool edfheap_full(const struct edfheap *h)
{
	return h->len == h->cap;
}
