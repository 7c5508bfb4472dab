/*
 * pacer: timerfd + uv_poll_t driver for a pace schedule (see pacer.h)
 *
 * The timer is re-armed after each wake-up to the deadline of the next
 * slot, as an absolute CLOCK_MONOTONIC time; if that time has already
 * passed (the callbacks took long), the kernel fires at once. Re-arming
 * also resets the descriptor's expiration count (timerfd_create(2): read
 * returns the expirations "since its settings were last modified using
 * timerfd_settime() or since the last successful read"), which ends its
 * readiness: so a wake-up costs epoll_wait and timerfd_settime, and no
 * read(2) of a count nobody uses. Only when re-arming fails is the count
 * read, so that a level-triggered poll does not spin. The descriptor is
 * closed in the close callback of the poll handle, after libuv has stopped
 * watching it.
 */
#include "bridge/net/pacer.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

static int arm(struct pacer *p)
{
	struct itimerspec its = {{0, 0}, {0, 0}};
	uint64_t t = pace_next_deadline(&p->pace);

	/* it_value of zero would disarm: the monotonic clock is never 0 at a
	 * deadline, but keep the timer armed whatever t0 the caller chose. */
	if (t == 0)
		t = 1;
	its.it_value.tv_sec = (time_t)(t / 1000000000ull);
	its.it_value.tv_nsec = (long)(t % 1000000000ull);
	if (timerfd_settime(p->tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		return -errno;
	return 0;
}

static void on_timer(uv_poll_t *h, int status, int events)
{
	struct pacer *p = h->data;
	uint64_t now, slot;

	(void)events;
	if (status < 0)
		return;
	p->wakeups++;
	now = netloop_now_ns();
	/* pace_next hands out at most max_burst slots per `now`: bounded. */
	while (!p->closing && pace_next(&p->pace, now, &slot)) {
		uint64_t deadline = pace_deadline(&p->pace, slot);
		if (now > deadline && now - deadline > p->late_max_ns)
			p->late_max_ns = now - deadline;
		p->fn(p, slot, deadline, now, p->user);
	}
	if (!p->closing && arm(p) < 0) {
		uint64_t expirations;
		/* Nonblocking: EAGAIN just means nothing to clear. */
		ssize_t n = read(p->tfd, &expirations, sizeof expirations);
		(void)n;
	}
}

static void on_closed(uv_handle_t *h)
{
	struct pacer *p = h->data;

	close(p->tfd);
	p->tfd = -1;
	p->open = false;
	if (p->on_close != NULL)
		p->on_close(p, p->user);
}

static void on_hook(struct netloop_hook *hk)
{
	struct pacer *p =
	        (struct pacer *)((char *)hk - offsetof(struct pacer, hook));
	pacer_close(p, NULL);
}

int pacer_open(struct pacer *p, struct netloop *nl, uint64_t t0_ns,
               uint64_t period, uint64_t rate, uint32_t max_burst, pacer_fn fn,
               void *user)
{
	int rc;

	if (fn == NULL)
		return -EINVAL;
	rc = pace_init(&p->pace, t0_ns, period, rate, max_burst);
	if (rc < 0)
		return rc;
	p->nl = nl;
	p->fn = fn;
	p->user = user;
	p->on_close = NULL;
	p->open = false;
	p->closing = false;
	p->wakeups = 0;
	p->late_max_ns = 0;
	p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->tfd < 0)
		return -errno;
	rc = arm(p);
	if (rc < 0)
		goto fail_fd;
	rc = uv_poll_init(netloop_uv(nl), &p->poll, p->tfd);
	if (rc < 0)
		goto fail_fd;
	p->poll.data = p;
	rc = uv_poll_start(&p->poll, UV_READABLE, on_timer);
	if (rc < 0)
		goto fail_poll;
	p->open = true;
	memset(&p->hook, 0, sizeof p->hook);
	netloop_hook_add(nl, &p->hook, on_hook);
	return 0;

fail_poll:
	/* Not expected on Linux (libuv defers the epoll registration). The
	 * close callback closes the descriptor. */
	p->open = true;
	p->closing = true;
	uv_close((uv_handle_t *)&p->poll, on_closed);
	return rc;
fail_fd:
	close(p->tfd);
	p->tfd = -1;
	return rc;
}

void pacer_close(struct pacer *p, pacer_close_fn cb)
{
	if (!p->open || p->closing)
		return;
	p->closing = true;
	p->on_close = cb;
	netloop_hook_remove(p->nl, &p->hook);
	uv_poll_stop(&p->poll);
	uv_close((uv_handle_t *)&p->poll, on_closed);
}
