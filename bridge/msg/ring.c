/*
 * ring: single-producer single-consumer ring of fixed-size slots
 *
 * Two contexts share a ring: the producer owns `tail` and `head_cache`, the
 * consumer owns `head` and `tail_cache`; `slots`, `slot_size` and `mask` are
 * read-only after init. Slot i of the storage is written only by the
 * producer while it is free and read only by the consumer while it is full;
 * the release store of an index hands a slot from one side to the other,
 * and the acquire load of that index on the other side takes it.
 *
 * Indices are free-running size_t counters: `tail - head` is the number of
 * slots in use, correct across the wrap from SIZE_MAX to 0 because unsigned
 * arithmetic is modulo 2^N and the capacity is a power of two no larger
 * than 2^(N-1).
 */
#include "bridge/msg/ring.h"

#include <errno.h>
#include <stdint.h>

size_t ring_storage_size(size_t slot_size, size_t capacity)
{
	if (slot_size == 0 || capacity > SIZE_MAX / slot_size)
		return 0;
	return slot_size * capacity;
}

static bool ring_capacity_ok(size_t capacity)
{
	/* A power of two >= 2 and at most half the index range, so that
	 * `tail - head` never confuses full with empty. */
	return capacity >= 2 && (capacity & (capacity - 1)) == 0 &&
	       capacity <= SIZE_MAX / 2 + 1;
}

int ring_init_at(struct ring *r, void *storage, size_t slot_size,
                 size_t capacity, size_t start_index)
{
	if (!r || !storage || !ring_capacity_ok(capacity) ||
	    ring_storage_size(slot_size, capacity) == 0)
		return -EINVAL;
	/* Plain initialization: the ring is published to the other thread
	 * by whatever hands it over (thread creation, a message). */
	atomic_init(&r->tail, start_index);
	atomic_init(&r->head, start_index);
	r->head_cache = start_index;
	r->tail_cache = start_index;
	r->slots = storage;
	r->slot_size = slot_size;
	r->mask = capacity - 1;
	return 0;
}

int ring_init(struct ring *r, void *storage, size_t slot_size, size_t capacity)
{
	return ring_init_at(r, storage, slot_size, capacity, 0);
}

void ring_clear(struct ring *r)
{
	r->slots = NULL;
	r->slot_size = 0;
	r->mask = 0;
}

size_t ring_count(const struct ring *r)
{
	/* Load head before tail: both only grow, so the difference cannot
	 * be negative even when a third thread reads while both sides run.
	 * Acquire keeps the two loads in that order; nothing is published
	 * through them here. It can overshoot by whatever was popped and
	 * pushed between the loads, hence the clamp. */
	size_t head = atomic_load_explicit((_Atomic size_t *)&r->head,
	                                   memory_order_acquire);
	size_t tail = atomic_load_explicit((_Atomic size_t *)&r->tail,
	                                   memory_order_acquire);
	size_t used = tail - head;

	return used > r->mask + 1 ? r->mask + 1 : used;
}

size_t ring_capacity(const struct ring *r)
{
	return r->mask + 1;
}
