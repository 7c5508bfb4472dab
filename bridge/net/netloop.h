/*
 * netloop: the net thread, a libuv loop that runs UDP sockets and timers
 *
 * The control context starts and stops it; everything else reaches it by
 * message. netloop_call posts "run fn(arg) on the net thread" into a
 * multi-producer mailbox and wakes the loop through an eventfd it polls,
 * written only when no wake-up is pending: a burst of calls costs one
 * write per loop turn. Calls
 * run in the order each producer posted them. That is how
 * higher modules (sender, receiver) install their sockets, sessions and
 * timers: the function runs on the net thread, which then owns the objects.
 *
 * Objects living on the loop (udpsock, pacer, ...) register a close hook;
 * netloop_stop runs every call already posted, then closes each hooked
 * object, then every other handle still open, and joins the thread.
 *
 * The uv_loop_t and everything on it belong to the net thread between
 * netloop_start and netloop_stop.
 */
#ifndef RTB_NETLOOP_H
#define RTB_NETLOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bridge/msg/mailbox.h"

struct netloop;

/* A function run on the net thread; its result goes to a synchronous
 * caller (netloop_call_wait) or is counted when negative. */
typedef int (*netloop_fn)(struct netloop *nl, void *arg);

struct netloop_hook;
/* Close the hooked object (net thread, during netloop_stop). */
typedef void (*netloop_close_fn)(struct netloop_hook *h);

/* Intrusive link for objects that must be closed when the loop stops. */
struct netloop_hook {
	netloop_close_fn close;
	struct netloop_hook *prev, *next;
	bool linked;
};

struct netloop {
	uv_loop_t loop;
	uv_poll_t wake;           /* polls wake_fd */
	int wake_fd;              /* eventfd: calls are waiting */
	_Atomic int wake_pending; /* a write to wake_fd is not yet read */
	uv_thread_t thread;
	struct mailbox mbox;
	void *mbox_mem;
	size_t capacity;
	_Atomic int stopping; /* set by stop: new calls are refused */
	_Atomic int callers;  /* producers between their check and their push */
	_Atomic int quit; /* every accepted call is posted: close and exit */
	struct netloop_hook *hooks; /* net thread only */
	_Atomic uint64_t calls_run; /* written by the net thread only */
	_Atomic uint64_t
	        calls_failed; /* asynchronous calls that returned < 0 */
	bool running;         /* control thread only */
};

/*
 * Create the loop and start the net thread.
 *
 * Pre: nl is zeroed or cleared; capacity is a power of two >= 2 (calls
 *      that can be pending at once)
 * Context: control thread
 * Return: 0, -EINVAL, -ENOMEM, or a negated errno from libuv
 */
int netloop_start(struct netloop *nl, size_t capacity);

/*
 * Stop the net thread: refuse new calls, run every call already posted,
 * close every hooked object and every other handle on the loop, join the
 * thread, release the loop. Safe to call on a loop that failed to start or
 * was already stopped.
 *
 * Pre: not called on the net thread
 * Post: the loop is closed; calls made from now on return -ECANCELED
 * Context: control thread; blocks until the thread has exited
 */
void netloop_stop(struct netloop *nl);

/*
 * Post fn(nl, arg) to run on the net thread, without waiting.
 *
 * Context: any thread except the audio context (the wake-up is a system
 *          call); never blocks
 * Return: 0 when posted, -EAGAIN when the mailbox is full (nothing posted),
 *         -ECANCELED when the loop is stopping or stopped
 */
int netloop_call(struct netloop *nl, netloop_fn fn, void *arg);

/*
 * Run fn(nl, arg) on the net thread and wait for its result. Called on the
 * net thread itself, fn runs at once.
 *
 * Context: control (or the net thread); blocks until fn has run. Retries
 *          a full mailbox for up to one second.
 * Return: fn's result, -EAGAIN when the mailbox stayed full, -ECANCELED
 *         when the loop is stopping or stopped
 */
int netloop_call_wait(struct netloop *nl, netloop_fn fn, void *arg);

/* Whether the caller runs on nl's net thread. Context: any. */
bool netloop_on_thread(const struct netloop *nl);

/* The libuv loop, for initialising handles. Context: net thread. */
uv_loop_t *netloop_uv(struct netloop *nl);

/*
 * Register an object to close when the loop stops; unregister it when the
 * object closes by itself. Removing an unlinked hook does nothing.
 *
 * Context: net thread
 */
void netloop_hook_add(struct netloop *nl, struct netloop_hook *h,
                      netloop_close_fn close);
void netloop_hook_remove(struct netloop *nl, struct netloop_hook *h);

/* Monotonic clock in ns (CLOCK_MONOTONIC, the clock of uv_hrtime). Context:
 * any. */
uint64_t netloop_now_ns(void);

/*
 * Wait (napping 1 ms at a time) until an object on the loop says, from its
 * last close callback, that it has let go: *closed set with release
 * order, read here with acquire, so everything the net thread did with
 * the object happens before the return.
 *
 * Context: control (any thread but the net thread)
 * Return: true when set, false after about `ms` milliseconds
 */
bool netloop_wait_closed(_Atomic bool *closed, unsigned ms);

#endif
