/*
 * udpsock_rx: the receive side of a udpsock (see udpsock.h): batched
 * reads, kernel arrival stamps, coalesced wake-ups
 *
 * libuv's own UDP receive is never started: a uv_poll_t watches the
 * descriptor and each wake-up reads what is queued with recvmmsg, up to
 * UDPSOCK_BATCH datagrams per system call (libuv would make one recvmsg
 * per datagram and one more to hear EAGAIN). The socket only sends with
 * uv_udp_try_send, which never queues, so libuv never watches the
 * descriptor itself and the two handles do not meet.
 *
 * Arrival times. A datagram's time is when it became available to the
 * owner: the read time, which includes how late the net thread woke up
 * (a jitter buffer must cover that too: what it holds is what was read),
 * but not the time a coalescing timer held it back on purpose. For that
 * part the kernel's stamp stands in: SO_TIMESTAMPNS stamps each datagram
 * on CLOCK_REALTIME when it reached the socket, moved to CLOCK_MONOTONIC
 * with the two clocks' offset read around the batch (vDSO reads; the
 * wall clock is slewed at the rate of the monotonic one, so the offset
 * only moves when the wall clock is stepped, and a stamp that looks older
 * than UDPSOCK_STAMP_MAX_AGE_NS or from the future is replaced by the
 * read time). A datagram read on the timer is dated max(stamp, read time
 * - interval): one that waited the whole interval looks read when the
 * interval began, one that came just before the read looks read when it
 * came, and a timer that fired late still counts its lateness. A read on
 * the poll is dated at the read, as the net thread always did.
 *
 * Coalescing (udpsock_set_coalesce): once datagrams come at least two per
 * interval (their recent rate, udpsock__rate), the poll is
 * stopped and the socket is read on a one-shot libuv timer of the
 * interval, re-armed while reads find datagrams; a second read in a row
 * that finds none (one alone is a gap in the streams' phases: going back
 * to the poll for it would cost a wake-up and two epoll_ctl calls), or the
 * full UDPSOCK_READ_MAX, goes back to the poll. Eight
 * streams of 10 ms packets on one socket then cost a wake-up per
 * interval instead of one per datagram. With udpsock_set_coalesce_at the
 * timer is armed instead for lead_ns before the consumer's next look
 * (libuv's timers count whole milliseconds: the wait is rounded up, so
 * the read comes in the millisecond after that), and a datagram read on
 * it is dated as if held the whole wait.
 *
 * Context: net thread, everything here.
 */
#define _GNU_SOURCE /* recvmmsg, struct mmsghdr */
#include "bridge/net/udpsock_impl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Memory of the receive rate, s: long enough that eight streams of
   10 ms packets seldom look slower than two per interval, short enough
   that a burst is forgotten after a few quiet datagrams. */
#define UDPSOCK_RATE_TAU_S 0.025

struct udpsock_rx {
	struct mmsghdr msgs[UDPSOCK_BATCH];
	struct iovec iov[UDPSOCK_BATCH];
	struct sockaddr_storage from[UDPSOCK_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl[UDPSOCK_BATCH];
};

int64_t udpsock_stamp_mono(int64_t stamp_rt, int64_t offset_ns,
                           int64_t mono_now)
{
	if (stamp_rt <= 0)
		return mono_now;
	int64_t age = mono_now - (stamp_rt - offset_ns);
	if (age < 0 || age > UDPSOCK_STAMP_MAX_AGE_NS)
		return mono_now;
	return mono_now - age;
}

static int64_t udpsock__clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* The kernel's stamp of a received message (CLOCK_REALTIME ns), 0 if
   it carries none. */
static int64_t udpsock__stamp(struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL;
	     c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(c), sizeof ts);
			return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
		}
	}
	return 0;
}

/* Hand over datagram i of a batch read when the offset was offset_ns
   and the monotonic clock mono_now, after holding it up to hold_ns. */
static void udpsock__deliver(struct udpsock *s, int i, int64_t offset_ns,
                             int64_t mono_now, int64_t hold_ns)
{
	struct udpsock_rx *rx = s->rx;
	struct msghdr *h = &rx->msgs[i].msg_hdr;

	if (h->msg_flags & MSG_TRUNC) {
		udpsock__add(&s->rx_truncated, 1);
		return;
	}
	int64_t t = mono_now;
	if (hold_ns > 0) {
		int64_t at = udpsock_stamp_mono(udpsock__stamp(h), offset_ns,
		                                mono_now);
		t = at > mono_now - hold_ns ? at : mono_now - hold_ns;
	}
	/* Each batch reads the offset anew, to within the time between two
	   clock reads: keep the arrival order. */
	if (t < s->stamp_last)
		t = s->stamp_last;
	s->stamp_last = t;
	udpsock__add(&s->rx_packets, 1);
	udpsock__add(&s->rx_bytes, rx->msgs[i].msg_len);
	s->on_recv(s, s->rxbuf + (size_t)i * UDPSOCK_RX_MAX,
	           rx->msgs[i].msg_len, (const struct sockaddr *)&rx->from[i],
	           (uint64_t)t, s->user);
}

/* Read what is queued, up to UDPSOCK_READ_MAX datagrams, held back up to
   hold_ns. Return: how many were read. */
static unsigned udpsock__drain(struct udpsock *s, int64_t hold_ns)
{
	struct udpsock_rx *rx = s->rx;
	int fd = udpsock_fd(s);
	unsigned total = 0;

	for (unsigned round = 0; round < 2 * UDPSOCK_READ_MAX / UDPSOCK_BATCH &&
	                         !s->closing && total < UDPSOCK_READ_MAX;
	     round++) {
		for (int i = 0; i < UDPSOCK_BATCH; i++) {
			struct msghdr *h = &rx->msgs[i].msg_hdr;
			h->msg_namelen = sizeof rx->from[i];
			h->msg_controllen = sizeof rx->ctl[i];
			h->msg_flags = 0;
		}
		int n = recvmmsg(fd, rx->msgs, UDPSOCK_BATCH, MSG_DONTWAIT,
		                 NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				udpsock__add(&s->rx_errors, 1);
			break;
		}
		/* The offset at the middle of two monotonic reads. */
		int64_t m0 = udpsock__clock(CLOCK_MONOTONIC);
		int64_t rt = udpsock__clock(CLOCK_REALTIME);
		int64_t m1 = udpsock__clock(CLOCK_MONOTONIC);
		int64_t offset = rt - (m0 + (m1 - m0) / 2);
		for (int i = 0; i < n && !s->closing; i++)
			udpsock__deliver(s, i, offset, m1, hold_ns);
		total += (unsigned)n;
		if (n < UDPSOCK_BATCH)
			break;
	}
	return total;
}

static void udpsock__on_readable(uv_poll_t *h, int status, int events);

/* Count n datagrams read now into the rate: an exponentially weighted
   count, datagrams per second over about UDPSOCK_RATE_TAU_S. */
static void udpsock__rate(struct udpsock *s, unsigned n)
{
	uint64_t now = netloop_now_ns();
	double dt = s->rate_t_ns ? (double)(now - s->rate_t_ns) / 1e9 : 0.0;

	s->rate = s->rate * exp(-dt / UDPSOCK_RATE_TAU_S) +
	          (double)n / UDPSOCK_RATE_TAU_S;
	s->rate_t_ns = now;
}

/* Tell the owner which look the next timed read is for (INT64_MAX: it
   reads at each arrival) and the descriptor (-1: closing), when either
   changes. */
static void udpsock__plan(struct udpsock *s, int64_t look, int fd)
{
	if (s->plan != NULL && (look != s->planned || fd != s->planned_fd)) {
		s->planned = look;
		s->planned_fd = fd;
		s->plan(s->next_arg, look, fd);
	}
}

static void udpsock__on_timer(uv_timer_t *t)
{
	udpsock__read(t->data);
}

/* How long the timer waits before the next read, ms: the interval, or
   until lead_ns before the consumer's next look. Sets hold_ns. */
static uint64_t udpsock__hold_ms(struct udpsock *s)
{
	uint64_t ms = s->coalesce_ms;

	if (s->next != NULL) {
		int64_t now = (int64_t)netloop_now_ns();
		/* A look closer than lead_ns and a millisecond is too near
		   to read before, and one closer than the interval comes
		   too soon (a consumer that looks more often than that is
		   read before every few looks): the first one after. Rounded
		   up: the read comes within the millisecond after lead_ns
		   before the look, never earlier (a read a millisecond early
		   would leave the next one a millisecond's wait). */
		int64_t ahead = s->lead_ns + 1000000;
		if (ahead < (int64_t)s->coalesce_ms * 1000000)
			ahead = (int64_t)s->coalesce_ms * 1000000;
		int64_t t = s->next(s->next_arg, now + ahead);
		if (t >= 0) {
			ms = (uint64_t)((t - s->lead_ns - now + 999999) /
			                1000000);
			if (ms > UDPSOCK_COALESCE_AT_MAX_MS)
				ms = UDPSOCK_COALESCE_AT_MAX_MS;
		}
		/* A capped wait reads early and plans the same look again. */
		udpsock__plan(s, t >= 0 ? t : INT64_MAX, s->planned_fd);
	}
	s->hold_ns = (int64_t)ms * 1000000;
	return ms;
}

void udpsock__read(struct udpsock *s)
{
	udpsock__add(&s->rx_wakeups, 1);
	/* Holding: this read is the timer's. */
	unsigned n = udpsock__drain(s, s->holding ? s->hold_ns : 0);
	if (s->closing)
		return;
	udpsock__rate(s, n);
	/* One empty timer read in a row keeps the timer while the rate
	   still says two per interval (the streams' phases left one
	   interval without a datagram); a second goes back to the poll. */
	s->empty_reads = n > 0 ? 0 : s->empty_reads + 1;
	bool hold = s->coalesce_ms > 0 && n < UDPSOCK_READ_MAX &&
	            (n > 0 || (s->holding && s->empty_reads < 2)) &&
	            s->rate * s->coalesce_ms >= 2000.0;
	if (hold) {
		if (!s->holding) {
			uv_poll_stop(&s->poll);
			s->holding = true;
		}
		uv_timer_start(&s->timer, udpsock__on_timer,
		               udpsock__hold_ms(s), 0);
	} else if (s->holding) {
		s->holding = false;
		udpsock__plan(s, INT64_MAX, s->planned_fd);
		uv_poll_start(&s->poll, UV_READABLE, udpsock__on_readable);
	}
}

static void udpsock__on_readable(uv_poll_t *h, int status, int events)
{
	struct udpsock *s = h->data;

	(void)events;
	if (status < 0) {
		/* libuv stopped the poll on an error condition: the read
		   takes the socket's pending error, then watch again. */
		udpsock__add(&s->rx_errors, 1);
		udpsock__read(s);
		if (!s->closing && !s->holding)
			uv_poll_start(&s->poll, UV_READABLE,
			              udpsock__on_readable);
		return;
	}
	udpsock__read(s);
}

int udpsock__rx_start(struct udpsock *s)
{
	int fd = udpsock_fd(s), on = 1, rc;

	s->rx = calloc(1, sizeof *s->rx);
	s->rxbuf = malloc((size_t)UDPSOCK_BATCH * UDPSOCK_RX_MAX);
	if (s->rx == NULL || s->rxbuf == NULL)
		return UV_ENOMEM;
	for (int i = 0; i < UDPSOCK_BATCH; i++) {
		struct msghdr *h = &s->rx->msgs[i].msg_hdr;
		s->rx->iov[i].iov_base = s->rxbuf + (size_t)i * UDPSOCK_RX_MAX;
		s->rx->iov[i].iov_len = UDPSOCK_RX_MAX;
		h->msg_name = &s->rx->from[i];
		h->msg_iov = &s->rx->iov[i];
		h->msg_iovlen = 1;
		h->msg_control = s->rx->ctl[i].buf;
	}
	/* Without stamps the read time stands in (udpsock_stamp_mono). */
	(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
	rc = uv_timer_init(netloop_uv(s->nl), &s->timer);
	if (rc < 0)
		return rc;
	s->timer.data = s;
	s->rx_handles |= UDPSOCK_RX_TIMER;
	rc = uv_poll_init(netloop_uv(s->nl), &s->poll, fd);
	if (rc < 0)
		return rc;
	s->poll.data = s;
	s->rx_handles |= UDPSOCK_RX_POLL;
	return uv_poll_start(&s->poll, UV_READABLE, udpsock__on_readable);
}

unsigned udpsock__rx_close(struct udpsock *s, uv_close_cb cb)
{
	unsigned n = 0;

	udpsock__plan(s, INT64_MAX, -1);
	if (s->rx_handles & UDPSOCK_RX_POLL) {
		uv_poll_stop(&s->poll);
		uv_close((uv_handle_t *)&s->poll, cb);
		n++;
	}
	if (s->rx_handles & UDPSOCK_RX_TIMER) {
		uv_timer_stop(&s->timer);
		uv_close((uv_handle_t *)&s->timer, cb);
		n++;
	}
	return n;
}

void udpsock__rx_free(struct udpsock *s)
{
	free(s->rx);
	free(s->rxbuf);
	s->rx = NULL;
	s->rxbuf = NULL;
	s->rx_handles = 0;
	s->holding = false;
}

unsigned udpsock_read_pending(struct udpsock *s)
{
	if (!s->open || s->closing || s->rx_handles == 0)
		return 0;
	/* Held back by the timer, if it is armed: dated as its reads are. */
	return udpsock__drain(s, s->holding ? s->hold_ns : 0);
}

void udpsock_set_coalesce_at(struct udpsock *s, udpsock_next_fn next,
                             udpsock_plan_fn plan, void *arg, int64_t lead_ns)
{
	s->next = next;
	s->plan = plan;
	s->next_arg = arg;
	s->lead_ns = lead_ns > 0 ? lead_ns : 0;
	s->planned = INT64_MAX;
	s->planned_fd = -1;
	if (s->open && !s->closing && s->rx_handles != 0)
		udpsock__plan(s, INT64_MAX, udpsock_fd(s));
}

void udpsock_set_coalesce(struct udpsock *s, unsigned ms)
{
	s->coalesce_ms =
	        ms > UDPSOCK_COALESCE_MAX_MS ? UDPSOCK_COALESCE_MAX_MS : ms;
}
