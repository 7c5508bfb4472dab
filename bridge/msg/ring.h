/*
 * ring: single-producer single-consumer ring of fixed-size slots
 *
 * Lock-free and wait-free; no system calls. Exactly one thread produces and
 * exactly one consumes at a time (each may change between uses only with a
 * happens-before edge, e.g. a thread join). The caller supplies the slot
 * storage; the ring never allocates. Capacity is a power of two; head and
 * tail are free-running counters (they wrap through the full range of
 * size_t), kept on separate cache lines with a cached copy of the other
 * side's index so that a push or pop touches the shared line only when the
 * cached view says full or empty.
 */
#ifndef RTB_RING_H
#define RTB_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define RING_CACHE_LINE 64

struct ring {
	/* Producer's line. */
	alignas(RING_CACHE_LINE) _Atomic size_t tail; /* next slot to write */
	size_t head_cache; /* producer's last view of head */
	/* Consumer's line. */
	alignas(RING_CACHE_LINE) _Atomic size_t head; /* next slot to read */
	size_t tail_cache; /* consumer's last view of tail */
	/* Read-only after init. */
	alignas(RING_CACHE_LINE) unsigned char *slots;
	size_t slot_size; /* bytes per slot */
	size_t mask;      /* capacity - 1 */
};

/*
 * Bytes of storage a ring of `capacity` slots of `slot_size` bytes needs.
 */
size_t ring_storage_size(size_t slot_size, size_t capacity);

/*
 * Pre: capacity is a power of two >= 2; storage holds
 *      ring_storage_size(slot_size, capacity) bytes, suitably aligned for
 *      the slot type, and outlives the ring.
 * Return: 0, or -EINVAL when capacity or slot_size is unusable.
 */
int ring_init(struct ring *r, void *storage, size_t slot_size, size_t capacity);

/*
 * ring_init, but with head and tail both starting at `start_index` instead
 * of 0. For tests only: starting near SIZE_MAX exercises the wrap-around of
 * the free-running indices without pushing 2^64 messages.
 *
 * Return: 0, or -EINVAL as ring_init
 */
int ring_init_at(struct ring *r, void *storage, size_t slot_size,
                 size_t capacity, size_t start_index);

/* Nothing to release: the storage is the caller's. */
void ring_clear(struct ring *r);

/*
 * Two-phase write: reserve the next free slot, fill it, commit it.
 *
 * Context: producer only, real-time safe
 * Return: the slot to fill, or NULL when the ring is full
 */
static inline void *ring_write_begin(struct ring *r)
{
	/* Our own index: no other thread writes it. */
	size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	if (tail - r->head_cache > r->mask) {
		/* Looks full: refresh the view of head. Acquire pairs with the
		 * consumer's release in ring_read_commit: its reads of the slot
		 * we are about to overwrite are finished before we see the new
		 * head. */
		r->head_cache =
		        atomic_load_explicit(&r->head, memory_order_acquire);
		if (tail - r->head_cache > r->mask)
			return NULL;
	}
	return r->slots + (tail & r->mask) * r->slot_size;
}

static inline void ring_write_commit(struct ring *r)
{
	size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	/* Release pairs with the consumer's acquire in ring_read_begin: the
	 * slot contents written since ring_write_begin are visible to it
	 * once it sees the new tail. */
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
}

/*
 * Two-phase read: look at the oldest slot, use it, release it.
 *
 * Context: consumer only, real-time safe
 * Return: the oldest slot, or NULL when the ring is empty
 */
static inline void *ring_read_begin(struct ring *r)
{
	/* Our own index: no other thread writes it. */
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	if (head == r->tail_cache) {
		/* Looks empty: refresh the view of tail. Acquire pairs with the
		 * producer's release in ring_write_commit: it publishes the
		 * contents of every slot before the new tail. */
		r->tail_cache =
		        atomic_load_explicit(&r->tail, memory_order_acquire);
		if (head == r->tail_cache)
			return NULL;
	}
	return r->slots + (head & r->mask) * r->slot_size;
}

static inline void ring_read_commit(struct ring *r)
{
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	/* Release pairs with the producer's acquire in ring_write_begin: our
	 * reads of the slot happen before the producer may reuse it. */
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

/*
 * Copy one slot in (push) or out (pop).
 *
 * Context: push by the producer, pop by the consumer; real-time safe
 * Return: true when a slot was moved; false when full (push) or empty (pop)
 */
static inline bool ring_try_push(struct ring *r, const void *item)
{
	void *slot = ring_write_begin(r);

	if (!slot)
		return false;
	memcpy(slot, item, r->slot_size);
	ring_write_commit(r);
	return true;
}

static inline bool ring_try_pop(struct ring *r, void *item)
{
	const void *slot = ring_read_begin(r);

	if (!slot)
		return false;
	memcpy(item, slot, r->slot_size);
	ring_read_commit(r);
	return true;
}

/*
 * Slots in use. Exact for the calling side's own view; an estimate for a
 * third thread.
 *
 * Context: any
 */
size_t ring_count(const struct ring *r);
size_t ring_capacity(const struct ring *r);

#endif
