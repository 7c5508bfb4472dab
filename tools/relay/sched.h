/*
 * sched: the relay's schedule of packets waiting for their release time
 *
 * A bounded pool of fixed-size payload slots, allocated once by
 * sched_init, and a binary min-heap of (release time, order) entries that
 * point into it. A duplicated packet occupies one slot and two entries;
 * the slot returns to the pool when its last entry is popped. The heap has
 * room for two entries per slot, so adding never fails for want of heap
 * space: only a full pool (-ENOBUFS) or an oversize payload (-EMSGSIZE)
 * refuse a packet, and the caller counts and drops it. Entries with equal
 * release times come out in the order they were added.
 *
 * Pure: no I/O, no clock. Context: one owner (the relay's loop thread).
 */
#ifndef RTB_SCHED_H
#define RTB_SCHED_H

#include <stddef.h>
#include <stdint.h>

struct sched_entry {
	uint64_t release_ns; /* when to send */
	uint64_t order;      /* tie-break: insertion order */
	uint32_t slot;       /* payload slot index */
};

struct sched {
	unsigned char *bufs;  /* nslots * slot_bytes */
	uint32_t *lens;       /* payload bytes per slot */
	uint8_t *refs;        /* heap entries per slot (0 = free) */
	uint32_t *free_slots; /* stack of free slot indices */
	size_t nfree;
	struct sched_entry *heap; /* min-heap, capacity 2 * nslots */
	size_t heap_len;
	uint64_t next_order;
	size_t nslots;
	size_t slot_bytes;
};

/*
 * Allocate the pool and the heap.
 *
 * Return: 0, -EINVAL when nslots is 0 or over 2^24 or slot_bytes is 0 or
 *         over 65536, or -ENOMEM.
 */
int sched_init(struct sched *s, size_t nslots, size_t slot_bytes);

/* Free everything; pending entries are discarded. Safe on a zeroed or
 * cleared struct. */
void sched_clear(struct sched *s);

/*
 * Copy a payload into a free slot and schedule `copies` releases of it.
 *
 * Pre: copies is 1 or 2.
 * Return: 0, -ENOBUFS when no slot is free, -EMSGSIZE when len exceeds
 *         the slot size, or -EINVAL for a bad copy count.
 */
int sched_add(struct sched *s, const void *data, size_t len,
              const uint64_t *release_ns, int copies);

/*
 * Return: the number of pending entries (copies still to send).
 */
size_t sched_pending(const struct sched *s);

/*
 * Return: the earliest entry, or NULL when nothing is pending. The
 *         payload is sched_payload(s, e->slot, &len); both stay valid
 *         until the next sched_pop or sched_add.
 */
const struct sched_entry *sched_peek(const struct sched *s);
const void *sched_payload(const struct sched *s, uint32_t slot, size_t *len);

/*
 * Remove the earliest entry; its slot returns to the pool with its last
 * entry.
 *
 * Pre: sched_pending(s) > 0.
 */
void sched_pop(struct sched *s);

#endif
