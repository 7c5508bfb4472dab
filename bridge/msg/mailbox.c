/*
 * mailbox: bounded multi-producer single-consumer queue of struct msg
 *
 * Any number of producer threads push; one consumer (a server thread) pops
 * and may sleep. The queue is Dmitry Vyukov's bounded array queue with a
 * sequence number per slot, specialised for one consumer: a producer claims
 * a position with a CAS on `tail`, fills the slot and publishes it by
 * setting the slot's sequence to position + 1; the consumer, the only
 * reader of `head`, takes the slot when its sequence says so and frees it
 * for the next lap by setting it to position + capacity.
 *
 * Wake-up: `count` is the number of published messages not yet popped;
 * the producer whose increment took it from 0 to 1 is the one that wakes
 * the server. `sleeping` is the futex word: the consumer sets it to 1,
 * re-checks `count`, and only then sleeps while it is still 1; a waker
 * swaps it back to 0 and makes the futex call only when it was 1. Both
 * sides use sequentially consistent operations on the pair (count,
 * sleeping), so at least one of them sees the other: no lost wake-up.
 */
/* syscall() is a glibc extension; needed for the futex calls only. */
#define _DEFAULT_SOURCE

#include "bridge/msg/mailbox.h"

#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct mailbox_slot {
	_Atomic size_t seq; /* == position: free; == position + 1: full */
	struct msg msg;
};

/* How long the consumer naps when a message is published behind a slot a
 * producer has claimed but not yet filled (that producer was preempted
 * inside mailbox_push), in ns. */
#define MAILBOX_STALL_NAP_NS 20000

size_t mailbox_storage_size(size_t capacity)
{
	if (capacity > SIZE_MAX / sizeof(struct mailbox_slot))
		return 0;
	return capacity * sizeof(struct mailbox_slot);
}

int mailbox_init(struct mailbox *m, void *storage, size_t capacity)
{
	struct mailbox_slot *slots = storage;
	size_t i;

	/* `count` is read as a signed 32-bit number (see mailbox_wait), so
	 * the capacity must stay well inside its range. */
	if (!m || !storage || capacity < 2 || (capacity & (capacity - 1)) ||
	    capacity > (size_t)INT32_MAX / 2 ||
	    (uintptr_t)storage % alignof(struct mailbox_slot) != 0)
		return -EINVAL;
	for (i = 0; i < capacity; i++)
		atomic_init(&slots[i].seq, i);
	atomic_init(&m->tail, 0);
	m->head = 0;
	atomic_init(&m->count, 0);
	atomic_init(&m->sleeping, 0);
	m->slots = slots;
	m->mask = capacity - 1;
	return 0;
}

void mailbox_clear(struct mailbox *m)
{
	m->slots = NULL;
	m->mask = 0;
}

int mailbox_push(struct mailbox *m, const struct msg *msg)
{
	struct mailbox_slot *slot;
	size_t pos = atomic_load_explicit(&m->tail, memory_order_relaxed);
	int32_t before;

	for (;;) {
		size_t seq;
		intptr_t dif;

		slot = &m->slots[pos & m->mask];
		/* Acquire pairs with the consumer's release in
		 * mailbox_try_pop: its copy out of this slot is finished
		 * before we see the slot free for our lap. */
		seq = atomic_load_explicit(&slot->seq, memory_order_acquire);
		dif = (intptr_t)(seq - pos);
		if (dif == 0) {
			/* Free for position `pos`: claim it. Relaxed: the
			 * claim publishes nothing; the slot's seq does. */
			if (atomic_compare_exchange_weak_explicit(
			            &m->tail, &pos, pos + 1,
			            memory_order_relaxed, memory_order_relaxed))
				break;
			/* `pos` now holds the current tail; retry. */
		} else if (dif < 0) {
			/* Still holds the message from the previous lap. */
			return -EAGAIN;
		} else {
			/* Another producer claimed it first; catch up. */
			pos = atomic_load_explicit(&m->tail,
			                           memory_order_relaxed);
		}
	}
	slot->msg = *msg;
	/* Release pairs with the consumer's acquire in mailbox_try_pop: the
	 * message is visible once the sequence says "full". */
	atomic_store_explicit(&slot->seq, pos + 1, memory_order_release);
	/* Sequentially consistent, paired with the consumer's store to
	 * `sleeping` and load of `count` in mailbox_wait (Dekker pattern):
	 * either it sees this increment or our waker sees it asleep. The
	 * consumer may already have popped this message and decremented
	 * first; `count` is then briefly "negative", and we do not wake it
	 * for a message it already has. */
	before = (int32_t)atomic_fetch_add_explicit(&m->count, 1,
	                                            memory_order_seq_cst);
	return before == 0 ? 1 : 0;
}

static long mailbox_futex(_Atomic uint32_t *word, int op, uint32_t val,
                          const struct timespec *timeout)
{
	/* An _Atomic uint32_t has the size and representation of the
	 * kernel's 32-bit futex word on Linux. */
	return syscall(SYS_futex, (uint32_t *)word, op, val, timeout, NULL, 0);
}

void mailbox_wake(struct mailbox *m)
{
	/* The plain load keeps a busy server free of syscalls and of the
	 * exchange's cache-line write. Sequentially consistent: see
	 * mailbox_push. */
	if (atomic_load_explicit(&m->sleeping, memory_order_seq_cst) == 0)
		return;
	/* Only the waker that swaps 1 -> 0 calls the kernel. If the consumer
	 * has not yet entered FUTEX_WAIT, the kernel sees the word is no
	 * longer 1 and returns at once: the wake cannot be lost. */
	if (atomic_exchange_explicit(&m->sleeping, 0, memory_order_seq_cst) ==
	    1)
		mailbox_futex(&m->sleeping, FUTEX_WAKE_PRIVATE, 1, NULL);
}

/* The slot at head is published: mailbox_try_pop will succeed. */
static bool mailbox_ready(struct mailbox *m)
{
	struct mailbox_slot *slot = &m->slots[m->head & m->mask];

	/* Acquire: see mailbox_try_pop. */
	return atomic_load_explicit(&slot->seq, memory_order_acquire) ==
	       m->head + 1;
}

bool mailbox_try_pop(struct mailbox *m, struct msg *out)
{
	struct mailbox_slot *slot = &m->slots[m->head & m->mask];
	size_t seq;

	/* Acquire pairs with the producer's release in mailbox_push: the
	 * message in the slot is complete once we see head + 1. */
	seq = atomic_load_explicit(&slot->seq, memory_order_acquire);
	if (seq != m->head + 1)
		return false;
	*out = slot->msg;
	/* Release pairs with the producer's acquire in mailbox_push: our
	 * copy is done before the slot is handed out for the next lap. */
	atomic_store_explicit(&slot->seq, m->head + m->mask + 1,
	                      memory_order_release);
	m->head++;
	/* Relaxed: the modification order of `count` alone decides who sees
	 * 0; this decrement publishes nothing. */
	atomic_fetch_sub_explicit(&m->count, 1, memory_order_relaxed);
	return true;
}

static int64_t mailbox_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timespec mailbox_timespec(int64_t ns)
{
	struct timespec ts = {
	        .tv_sec = (time_t)(ns / 1000000000),
	        .tv_nsec = (long)(ns % 1000000000),
	};
	return ts;
}

bool mailbox_wait(struct mailbox *m, int64_t timeout_ns)
{
	int64_t deadline = 0;

	if (mailbox_ready(m))
		return true;
	if (timeout_ns >= 0)
		deadline = mailbox_now_ns() + timeout_ns;
	for (;;) {
		struct timespec ts;
		int64_t left = -1;
		int32_t pending;

		/* Announce the sleep, then look again (seq_cst pair with
		 * mailbox_push and mailbox_wake): a producer that made the
		 * mailbox non-empty before this store is seen by the load
		 * below; one that did it after sees sleeping == 1. */
		atomic_store_explicit(&m->sleeping, 1, memory_order_seq_cst);
		pending = (int32_t)atomic_load_explicit(&m->count,
		                                        memory_order_seq_cst);
		if (pending > 0 && mailbox_ready(m)) {
			atomic_store_explicit(&m->sleeping, 0,
			                      memory_order_relaxed);
			return true;
		}
		if (timeout_ns >= 0) {
			left = deadline - mailbox_now_ns();
			if (left <= 0) {
				atomic_store_explicit(&m->sleeping, 0,
				                      memory_order_relaxed);
				return mailbox_ready(m);
			}
		}
		if (pending > 0) {
			/* Published messages wait behind a slot whose
			 * producer was preempted between claiming and
			 * filling it; that producer will not wake us (its
			 * increment will not be the first), so nap briefly
			 * instead of sleeping on the futex. */
			int64_t nap = MAILBOX_STALL_NAP_NS;

			atomic_store_explicit(&m->sleeping, 0,
			                      memory_order_relaxed);
			if (left >= 0 && left < nap)
				nap = left;
			ts = mailbox_timespec(nap);
			nanosleep(&ts, NULL);
		} else {
			ts = mailbox_timespec(left);
			/* Returns at once (EAGAIN) if a waker already reset
			 * the word; EINTR and spurious returns just loop. */
			mailbox_futex(&m->sleeping, FUTEX_WAIT_PRIVATE, 1,
			              left >= 0 ? &ts : NULL);
			atomic_store_explicit(&m->sleeping, 0,
			                      memory_order_relaxed);
		}
		if (mailbox_ready(m))
			return true;
	}
}
