/*
 * mailbox: multi-producer single-consumer queue of struct msg for a server
 *
 * Several client threads push messages; one server thread pops them. Bounded
 * (capacity fixed at init, caller-supplied storage, no allocation), lock-free
 * for producers. A push tells its caller whether it made the mailbox
 * non-empty: only that producer needs to wake the server, and only if the
 * server is actually asleep, so a busy server costs its clients no system
 * call. The consumer can wait with a timeout (futex on Linux).
 */
#ifndef RTB_MAILBOX_H
#define RTB_MAILBOX_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/msg/msg.h"
#include "bridge/msg/ring.h"

struct mailbox_slot;

struct mailbox {
	alignas(RING_CACHE_LINE) _Atomic size_t tail; /* producers claim here */
	alignas(RING_CACHE_LINE) size_t head;         /* consumer only */
	alignas(RING_CACHE_LINE) _Atomic uint32_t
	        count;             /* messages published, not yet popped */
	_Atomic uint32_t sleeping; /* futex word: 1 while the consumer waits */
	alignas(RING_CACHE_LINE) struct mailbox_slot *slots;
	size_t mask;
};

/* Bytes of storage for a mailbox of `capacity` messages. */
size_t mailbox_storage_size(size_t capacity);

/*
 * Pre: capacity is a power of two >= 2; storage holds
 *      mailbox_storage_size(capacity) bytes, aligned for a pointer+atomic,
 *      and outlives the mailbox.
 * Return: 0, or -EINVAL
 */
int mailbox_init(struct mailbox *m, void *storage, size_t capacity);
void mailbox_clear(struct mailbox *m);

/*
 * Post a message.
 *
 * Context: any producer thread, real-time safe (no system call)
 * Return: 1 when this push made the mailbox non-empty (the caller should
 *         call mailbox_wake), 0 when it was already non-empty, -EAGAIN when
 *         full (nothing was posted)
 */
int mailbox_push(struct mailbox *m, const struct msg *msg);

/*
 * Wake the consumer if it is sleeping in mailbox_wait.
 *
 * Context: any; one futex wake system call only when the consumer sleeps
 */
void mailbox_wake(struct mailbox *m);

/*
 * Take the oldest message.
 *
 * Context: the consumer only
 * Return: true and *out filled, or false when the mailbox is empty
 */
bool mailbox_try_pop(struct mailbox *m, struct msg *out);

/*
 * Sleep until the mailbox is non-empty or `timeout_ns` passes
 * (negative: no timeout).
 *
 * Context: the consumer only; blocks
 * Return: true when a message is waiting, false on timeout
 */
bool mailbox_wait(struct mailbox *m, int64_t timeout_ns);

#endif
