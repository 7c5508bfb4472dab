/*
 * edfheap: earliest-deadline-first queue of pending disk requests
 *
 * A binary min-heap of (key, sequence, message) entries in caller-supplied
 * storage, used only by the disk server thread. The key is a deadline in
 * CLOCK_MONOTONIC nanoseconds; entries with equal keys leave in the order
 * they were pushed (the sequence number breaks ties), so requests of one
 * stream whose keys never decrease are served first-in first-out.
 */
#ifndef RTB_EDFHEAP_H
#define RTB_EDFHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/msg/msg.h"

struct edfheap_entry {
	int64_t key;  /* deadline, ns */
	uint64_t seq; /* push order, breaks ties */
	struct msg msg;
};

struct edfheap {
	struct edfheap_entry *v;
	size_t len;
	size_t cap;
	uint64_t next_seq;
};

/*
 * Pre: storage holds `cap` entries and outlives the heap; cap >= 1.
 * Return: 0, or -EINVAL
 */
int edfheap_init(struct edfheap *h, struct edfheap_entry *storage, size_t cap);
void edfheap_clear(struct edfheap *h);

/*
 * Queue a message under `key`.
 *
 * Context: the owning thread only
 * Return: 0, or -ENOSPC when the heap is full (nothing queued)
 */
int edfheap_push(struct edfheap *h, int64_t key, const struct msg *m);

/*
 * Remove the entry with the smallest key (oldest among equal keys).
 *
 * Context: the owning thread only
 * Return: true and *out (and *key when not NULL) filled, false when empty
 */
bool edfheap_pop(struct edfheap *h, struct msg *out, int64_t *key);

size_t edfheap_len(const struct edfheap *h);
bool edfheap_full(const struct edfheap *h);

#endif
