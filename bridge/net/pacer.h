/*
 * pacer: wake the net thread on an absolute, drift-free send schedule
 *
 * A pace schedule (pace.h) driven by a Linux timerfd on CLOCK_MONOTONIC,
 * armed with TFD_TIMER_ABSTIME at the exact ns deadline of the next slot
 * and watched by a uv_poll_t on the net loop. libuv's own timers have
 * millisecond resolution and a relative, loop-time based schedule; the
 * timerfd keeps each wake-up within the kernel's timer slack of the ideal
 * time and never accumulates error. On each wake-up the callback runs once
 * for every slot now due (at most max_burst; beyond that the schedule
 * resynchronises and counts the skipped slots).
 *
 * The struct is caller storage owned by the net thread from pacer_open to
 * the close callback.
 */
#ifndef RTB_PACER_H
#define RTB_PACER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bridge/net/netloop.h"
#include "bridge/net/pace.h"

struct pacer;

/*
 * Slot `slot` is due: send its packet now. `deadline_ns` is its ideal
 * time, `now_ns` the clock at this wake-up (both CLOCK_MONOTONIC). The
 * callback may close the pacer.
 * Context: net thread
 */
typedef void (*pacer_fn)(struct pacer *p, uint64_t slot, uint64_t deadline_ns,
                         uint64_t now_ns, void *user);

/* The pacer is fully closed. Context: net thread. */
typedef void (*pacer_close_fn)(struct pacer *p, void *user);

struct pacer {
	struct pace pace;
	uv_poll_t poll;
	int tfd;
	struct netloop *nl;
	struct netloop_hook hook;
	pacer_fn fn;
	pacer_close_fn on_close;
	void *user;
	bool open; /* poll handle initialised and not yet closing */
	bool closing;
	uint64_t wakeups;     /* timer expirations handled */
	uint64_t late_max_ns; /* largest now - deadline seen at a send */
};

/*
 * Open and start: slot 0 is due at t0_ns (CLOCK_MONOTONIC, e.g.
 * netloop_now_ns() plus a little), slot k at t0 + k*period/rate seconds.
 *
 * Pre: arguments as for pace_init; fn non-NULL
 * Post: on success the pacer runs until closed; on failure nothing is
 *       left to close, except after a failed uv_poll_start (not seen on
 *       Linux), where the handle closes by itself on the next loop turn
 * Context: net thread
 * Return: 0, -EINVAL, or a negated errno from timerfd or libuv
 */
int pacer_open(struct pacer *p, struct netloop *nl, uint64_t t0_ns,
               uint64_t period, uint64_t rate, uint32_t max_burst, pacer_fn fn,
               void *user);

/*
 * Stop and close; cb (may be NULL) runs on the loop once closed.
 * Closing a closing pacer does nothing.
 *
 * Context: net thread
 */
void pacer_close(struct pacer *p, pacer_close_fn cb);

#endif
