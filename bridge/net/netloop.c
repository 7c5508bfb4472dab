/*
 * netloop: the net thread and its call mailbox (see netloop.h)
 *
 * A call travels as one struct msg: cmd NETLOOP_CMD_CALL, ptr = arg,
 * u64 = the bytes of the function pointer (copied with memcpy, which is
 * well defined where a function pointer fits in 64 bits), reply = the
 * waiter of a synchronous caller or NULL. The async callback drains the
 * mailbox; a bounded number of calls per wake-up keeps one busy producer
 * from starving the sockets.
 *
 * Every successful push is followed by a wake-up, not only the push that
 * made the mailbox non-empty. A producer preempted between claiming a
 * slot and publishing it leaves later messages stuck behind its slot: the
 * drain stops there, and when that producer finally publishes, its push
 * finds the count non-zero and would not wake anyone (mailbox_wait covers
 * this by napping; a libuv loop cannot). A wake-up is an eventfd write the
 * loop polls, made only when none is pending (one atomic exchange), so at
 * most once per loop turn. Not uv_async_send: its loop side busy-waits for
 * a sender caught between its two steps, and with the net thread
 * real-time and the sender an ordinary thread on the same core, the
 * sender never gets the CPU to finish (the net thread spun away a fifth
 * of a core on an idle receiver).
 *
 * Stopping without losing or stranding a call: a producer first announces
 * itself in `callers`, then checks `stopping`; the stopper sets `stopping`,
 * then waits for `callers` to reach zero. Both sides use seq_cst so one of
 * them must see the other (the store-load pattern of Dekker's algorithm):
 * either the producer sees `stopping` and refuses, or the stopper waits
 * for its push to finish. Only then is `quit` raised, so every accepted
 * call is in the mailbox before the net thread drains it the last time.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "bridge/net/netloop.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bridge/rtcheck/rthook.h"

enum { NETLOOP_CMD_CALL = 0x4e4c01 };

/* Synchronous caller's rendezvous, on the caller's stack. */
struct netloop_waiter {
	uv_sem_t done;
	int result;
};

_Static_assert(sizeof(netloop_fn) <= sizeof(uint64_t),
               "function pointer fits a msg");

/* The loop whose thread this is, so that a thread can tell it is the net
 * thread without reading a thread id written by another thread. */
static _Thread_local const struct netloop *current_loop;

uint64_t netloop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool netloop_on_thread(const struct netloop *nl)
{
	return current_loop == nl;
}

uv_loop_t *netloop_uv(struct netloop *nl)
{
	return &nl->loop;
}

void netloop_hook_add(struct netloop *nl, struct netloop_hook *h,
                      netloop_close_fn close)
{
	assert(netloop_on_thread(nl));
	h->close = close;
	h->prev = NULL;
	h->next = nl->hooks;
	if (nl->hooks != NULL)
		nl->hooks->prev = h;
	nl->hooks = h;
	h->linked = true;
}

void netloop_hook_remove(struct netloop *nl, struct netloop_hook *h)
{
	if (!h->linked)
		return;
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		nl->hooks = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	h->prev = h->next = NULL;
	h->linked = false;
}

/* Relaxed: a statistic with one writer, read for display and by tests
 * after a synchronising call. */
static void count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c,
	                      atomic_load_explicit(c, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

static void run_one(struct netloop *nl, const struct msg *m)
{
	struct netloop_waiter *w = m->reply;
	netloop_fn fn;
	int rc;

	assert(m->cmd == NETLOOP_CMD_CALL);
	memcpy(&fn, &m->u64, sizeof fn);
	rc = fn(nl, m->ptr);
	count(&nl->calls_run);
	if (w != NULL) {
		/* sem_post publishes w->result to the waiter's sem_wait. */
		w->result = rc;
		uv_sem_post(&w->done);
	} else if (rc < 0) {
		count(&nl->calls_failed);
	}
}

/* Run up to `limit` posted calls. Return: true when the mailbox may hold
   more. */
static bool drain(struct netloop *nl, size_t limit)
{
	struct msg m;
	size_t n;

	for (n = 0; n < limit; n++) {
		if (!mailbox_try_pop(&nl->mbox, &m))
			return false;
		run_one(nl, &m);
	}
	return true;
}

static void close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void shut_down(struct netloop *nl)
{
	/* Every accepted call is in the mailbox (see the file comment); run
	 * them all, whatever their number, before closing anything. */
	while (drain(nl, nl->capacity))
		;
	while (nl->hooks != NULL) {
		struct netloop_hook *h = nl->hooks;
		netloop_hook_remove(nl, h);
		h->close(h);
	}
	uv_walk(&nl->loop, close_any, NULL);
}

/* Wake the loop unless a wake-up is pending already. Context: any. */
static void netloop_wake(struct netloop *nl)
{
	uint64_t one = 1;

	/* acq_rel: the push before this happens before the loop's exchange
	   that clears the flag, hence before its drain. */
	if (!atomic_exchange_explicit(&nl->wake_pending, 1,
	                              memory_order_acq_rel))
		(void)!write(nl->wake_fd, &one, sizeof(one));
}

static void on_wake(uv_poll_t *h, int status, int events)
{
	struct netloop *nl = h->data;
	uint64_t n;

	(void)status;
	(void)events;
	(void)!read(nl->wake_fd, &n, sizeof(n));
	/* Cleared before the drain: a push after this point wakes again. */
	atomic_exchange_explicit(&nl->wake_pending, 0, memory_order_acq_rel);

	/* Acquire pairs with the release store in netloop_stop: every call
	 * accepted before stop is then visible in the mailbox. */
	if (atomic_load_explicit(&nl->quit, memory_order_acquire)) {
		shut_down(nl);
		return;
	}
	/* More than one mailbox's worth in one go would starve the sockets;
	 * wake again for the rest. */
	if (drain(nl, nl->capacity))
		netloop_wake(nl);
}

static void thread_main(void *arg)
{
	struct netloop *nl = arg;

	pthread_setname_np(pthread_self(), "rtb-net");
	current_loop = nl;
	/* Arrival times are stamped here and sends are paced here: a
	   scheduler slice of delay would be jitter no network made. */
	(void)rthook_promote(RTHOOK_PRIORITY_NET);
	uv_run(&nl->loop, UV_RUN_DEFAULT);
	current_loop = NULL;
}

int netloop_start(struct netloop *nl, size_t capacity)
{
	int rc;

	memset(nl, 0, sizeof *nl);
	/* Refuse calls until the thread runs (and for good if start fails). */
	atomic_init(&nl->stopping, 1);
	atomic_init(&nl->callers, 0);
	atomic_init(&nl->quit, 0);
	atomic_init(&nl->calls_run, 0);
	atomic_init(&nl->calls_failed, 0);
	if (capacity < 2 || (capacity & (capacity - 1)) != 0)
		return -EINVAL;
	nl->capacity = capacity;
	nl->mbox_mem = malloc(mailbox_storage_size(capacity));
	if (nl->mbox_mem == NULL)
		return -ENOMEM;
	rc = mailbox_init(&nl->mbox, nl->mbox_mem, capacity);
	if (rc < 0)
		goto fail_mem;
	rc = uv_loop_init(&nl->loop);
	if (rc < 0)
		goto fail_mbox;
	nl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (nl->wake_fd < 0) {
		rc = -errno;
		goto fail_loop;
	}
	atomic_init(&nl->wake_pending, 0);
	rc = uv_poll_init(&nl->loop, &nl->wake, nl->wake_fd);
	if (rc < 0)
		goto fail_fd;
	nl->wake.data = nl;
	rc = uv_poll_start(&nl->wake, UV_READABLE, on_wake);
	if (rc < 0)
		goto fail_async;
	atomic_store_explicit(&nl->stopping, 0, memory_order_relaxed);
	/* Thread creation publishes the initialised loop to the net thread. */
	rc = uv_thread_create(&nl->thread, thread_main, nl);
	if (rc < 0)
		goto fail_async;
	nl->running = true;
	return 0;

fail_async:
	uv_close((uv_handle_t *)&nl->wake, NULL);
	uv_run(&nl->loop, UV_RUN_NOWAIT);
fail_fd:
	close(nl->wake_fd);
fail_loop:
	uv_loop_close(&nl->loop);
fail_mbox:
	mailbox_clear(&nl->mbox);
fail_mem:
	free(nl->mbox_mem);
	nl->mbox_mem = NULL;
	atomic_store_explicit(&nl->stopping, 1, memory_order_relaxed);
	return rc;
}

void netloop_stop(struct netloop *nl)
{
	struct msg m;
	int spins;

	assert(!netloop_on_thread(nl));
	if (!nl->running)
		return;
	atomic_store_explicit(&nl->stopping, 1, memory_order_seq_cst);
	/* A producer inside netloop_call only pushes and wakes: no blocking,
	 * so this wait is a few yields at most. */
	for (spins = 0;
	     atomic_load_explicit(&nl->callers, memory_order_seq_cst) != 0;
	     spins++) {
		assert(spins < 10000000);
		sched_yield();
	}
	/* Release pairs with the acquire in on_wake: publishes "all accepted
	 * calls are in the mailbox". */
	atomic_store_explicit(&nl->quit, 1, memory_order_release);
	netloop_wake(nl);
	uv_thread_join(&nl->thread);
	nl->running = false;

	/* Nothing can be left (the thread drained after quit), but never
	 * strand a synchronous waiter. */
	while (mailbox_try_pop(&nl->mbox, &m)) {
		struct netloop_waiter *w = m.reply;
		if (w != NULL) {
			w->result = -ECANCELED;
			uv_sem_post(&w->done);
		}
	}
	uv_loop_close(&nl->loop);
	close(nl->wake_fd);
	mailbox_clear(&nl->mbox);
	free(nl->mbox_mem);
	nl->mbox_mem = NULL;
}

static int post(struct netloop *nl, netloop_fn fn, void *arg,
                struct netloop_waiter *w)
{
	struct msg m;
	int rc;

	/* seq_cst pair with netloop_stop: see the file comment. */
	atomic_fetch_add_explicit(&nl->callers, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&nl->stopping, memory_order_seq_cst)) {
		rc = -ECANCELED;
		goto out;
	}
	memset(&m, 0, sizeof m);
	m.cmd = NETLOOP_CMD_CALL;
	m.ptr = arg;
	m.reply = w;
	memcpy(&m.u64, &fn, sizeof fn);
	rc = mailbox_push(&nl->mbox, &m);
	/* Wake after every successful push, not only the one that made the
	 * mailbox non-empty: see the file comment. */
	if (rc >= 0)
		netloop_wake(nl);
	rc = rc < 0 ? rc : 0;
out:
	/* Release: the push above happens before the stopper sees zero. */
	atomic_fetch_sub_explicit(&nl->callers, 1, memory_order_release);
	return rc;
}

int netloop_call(struct netloop *nl, netloop_fn fn, void *arg)
{
	return post(nl, fn, arg, NULL);
}

int netloop_call_wait(struct netloop *nl, netloop_fn fn, void *arg)
{
	struct netloop_waiter w;
	struct timespec pause = {0, 1000000};
	int rc, tries;

	if (netloop_on_thread(nl))
		return fn(nl, arg);
	if (uv_sem_init(&w.done, 0) != 0)
		return -ENOMEM;
	w.result = 0;
	for (tries = 0; tries < 1000; tries++) {
		rc = post(nl, fn, arg, &w);
		if (rc != -EAGAIN)
			break;
		nanosleep(&pause, NULL);
	}
	if (rc == 0) {
		uv_sem_wait(&w.done);
		rc = w.result;
	}
	uv_sem_destroy(&w.done);
	return rc;
}

bool netloop_wait_closed(_Atomic bool *closed, unsigned ms)
{
	const struct timespec nap = {0, 1000000L};

	for (unsigned i = 0; i < ms; i++) {
		/* Acquire pairs with the object's release in its close
		   callback. */
		if (atomic_load_explicit(closed, memory_order_acquire))
			return true;
		nanosleep(&nap, NULL);
	}
	return atomic_load_explicit(closed, memory_order_acquire);
}
