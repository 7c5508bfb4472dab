/*
 * pool: preallocated nodes of one size, one owning context, closed loop
 *
 * Each node is a link word (padded to max_align_t) followed by the payload.
 * The owner keeps a plain singly linked free list (`free`, `available`) that
 * no other thread touches. Other threads give nodes back by pushing them on
 * the intrusive `returned` stack with a compare-and-swap; the owner empties
 * that stack in one atomic exchange when its free list runs dry. Because a
 * node's link word is its own, the return stack needs no storage and can
 * never overflow: at most `count` nodes exist.
 */
#include "bridge/msg/pool.h"

#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>

struct pool_node {
	struct pool_node *next; /* free list or return stack link */
};

/* The payload starts one max_align_t-aligned header after the node. */
#define POOL_HEADER                                                            \
	((sizeof(struct pool_node) + alignof(max_align_t) - 1) /               \
	 alignof(max_align_t) * alignof(max_align_t))

static size_t pool_stride(size_t node_size)
{
	size_t align = alignof(max_align_t);

	if (node_size > SIZE_MAX - POOL_HEADER - align)
		return 0;
	return (POOL_HEADER + node_size + align - 1) / align * align;
}

size_t pool_storage_size(size_t node_size, size_t count)
{
	size_t stride = pool_stride(node_size);

	if (node_size == 0 || stride == 0 || count == 0 ||
	    count > SIZE_MAX / stride)
		return 0;
	return stride * count;
}

static struct pool_node *pool_node_of(void *payload)
{
	return (struct pool_node *)((unsigned char *)payload - POOL_HEADER);
}

static void *pool_payload_of(struct pool_node *n)
{
	return (unsigned char *)n + POOL_HEADER;
}

int pool_init(struct pool *p, void *storage, size_t node_size, size_t count)
{
	size_t i;

	if (!p || !storage || pool_storage_size(node_size, count) == 0 ||
	    (uintptr_t)storage % alignof(max_align_t) != 0)
		return -EINVAL;
	p->base = storage;
	p->stride = pool_stride(node_size);
	p->count = count;
	/* Thread the free list in address order, so that the first gets
	 * walk the storage forwards. */
	p->free = NULL;
	for (i = count; i-- > 0;) {
		struct pool_node *n =
		        (struct pool_node *)(p->base + i * p->stride);
		n->next = p->free;
		p->free = n;
	}
	p->available = count;
	atomic_init(&p->returned, NULL);
	return 0;
}

void pool_clear(struct pool *p)
{
	p->free = NULL;
	atomic_store_explicit(&p->returned, NULL, memory_order_relaxed);
	p->base = NULL;
	p->stride = 0;
	p->count = 0;
	p->available = 0;
}

void *pool_get(struct pool *p)
{
	struct pool_node *n = p->free;

	if (!n) {
		struct pool_node *it;

		/* Take the whole return stack. Acquire pairs with the
		 * release CAS in pool_return: each returning thread's link
		 * word and its last writes to the payload are visible before
		 * we walk the list and hand the nodes out again. Every push
		 * is a read-modify-write on `returned`, so one acquire here
		 * synchronizes with all of them (release sequence). */
		n = atomic_exchange_explicit(&p->returned, NULL,
		                             memory_order_acquire);
		if (!n)
			return NULL;
		/* Bounded by the pool size; keeps `available` exact. */
		for (it = n; it; it = it->next)
			p->available++;
	}
	p->free = n->next;
	p->available--;
	return pool_payload_of(n);
}

void pool_put(struct pool *p, void *payload)
{
	struct pool_node *n = pool_node_of(payload);

	assert(pool_owns(p, payload));
	n->next = p->free;
	p->free = n;
	p->available++;
}

void pool_return(struct pool *p, void *payload)
{
	struct pool_node *n = pool_node_of(payload);
	struct pool_node *top;

	assert(pool_owns(p, payload));
	/*
	 * Treiber push. A push-only stack whose consumer takes everything
	 * at once with an exchange is immune to ABA: the CAS installs `n`
	 * with n->next == top, and that link is right whenever `returned`
	 * still equals `top`, even if the stack was emptied and `top` pushed
	 * again in between, because the new value depends only on `top`
	 * itself and never on a successor read from a node another thread
	 * might have taken (which is what breaks a Treiber pop).
	 *
	 * The relaxed loads need no ordering: we only link to `top`, never
	 * read through it.
	 */
	top = atomic_load_explicit(&p->returned, memory_order_relaxed);
	do {
		n->next = top;
		/* Release pairs with the acquire exchange in pool_get: it
		 * publishes n->next and our writes to the payload. */
	} while (!atomic_compare_exchange_weak_explicit(&p->returned, &top, n,
	                                                memory_order_release,
	                                                memory_order_relaxed));
}

size_t pool_available(const struct pool *p)
{
	return p->available;
}

int pool_owns(const struct pool *p, const void *payload)
{
	/* Compare as integers: payload may point anywhere. */
	uintptr_t first = (uintptr_t)p->base + POOL_HEADER;
	uintptr_t at = (uintptr_t)payload;
	size_t off;

	if (!p->base || at < first)
		return 0;
	off = at - first;
	return off / p->stride < p->count && off % p->stride == 0;
}
