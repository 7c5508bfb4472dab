/*
 * The real pacer on the net thread: a short run of 10 ms slots, each sent
 * as a datagram to a loopback receiver, printing the median and p99
 * deviation from the ideal schedule at send and at receive (bounds are
 * generous; the timing itself is measured by a benchmark tool, not here);
 * a stall in the callback resynchronises instead of bursting; a pacer
 * closes from its own callback and when the loop stops.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/net/addr.h"
#include "bridge/net/netloop.h"
#include "bridge/net/pacer.h"
#include "bridge/net/udpsock.h"

#if defined(__SANITIZE_THREAD__)
#define RUN_SLOTS 100
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RUN_SLOTS 100
#endif
#endif
#ifndef RUN_SLOTS
#define RUN_SLOTS 200 /* 2 s of 10 ms */
#endif

static struct netloop nl;

static void setup(void)
{
	cr_assert_eq(netloop_start(&nl, 64), 0);
}

static void teardown(void)
{
	netloop_stop(&nl);
}

TestSuite(pacer, .init = setup, .fini = teardown, .timeout = 60);

static struct pacer pc;
static struct udpsock rx, tx;
static int64_t send_dev[RUN_SLOTS], recv_dev[RUN_SLOTS];
static uint64_t slot_seen[RUN_SLOTS];
static int nsent;
static _Atomic int nrecv;
static _Atomic int done;

static void on_slot(struct pacer *p, uint64_t slot, uint64_t deadline,
                    uint64_t now, void *u)
{
	uint8_t pkt[200];

	(void)u;
	(void)now;
	memset(pkt, 0, sizeof pkt);
	memcpy(pkt, &slot, sizeof slot);
	udpsock_send(&tx, pkt, sizeof pkt, NULL);
	if (nsent < RUN_SLOTS) {
		send_dev[nsent] = (int64_t)(netloop_now_ns() - deadline);
		slot_seen[nsent] = slot;
		nsent++;
	}
	if (nsent == RUN_SLOTS) {
		pacer_close(p, NULL);
		/* Release: publishes send_dev/slot_seen to the test thread. */
		atomic_store_explicit(&done, 1, memory_order_release);
	}
}

static void on_dgram(struct udpsock *s, const uint8_t *d, size_t n,
                     const struct sockaddr *from, uint64_t t, void *u)
{
	uint64_t slot;
	int i = atomic_load_explicit(&nrecv, memory_order_relaxed);

	(void)s, (void)from, (void)u;
	if (n < sizeof slot || i >= RUN_SLOTS)
		return;
	memcpy(&slot, d, sizeof slot);
	recv_dev[i] = (int64_t)(t - pace_deadline(&pc.pace, slot));
	/* Release: publishes recv_dev[i]. */
	atomic_store_explicit(&nrecv, i + 1, memory_order_release);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void stats(const char *what, int64_t *v, int n, int64_t *median,
                  int64_t *p99)
{
	qsort(v, (size_t)n, sizeof v[0], cmp64);
	*median = v[n / 2];
	*p99 = v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
	printf("pacer %s deviation over %d slots of 10 ms: median %.3f ms, p99 "
	       "%.3f ms, "
	       "max %.3f ms\n",
	       what, n, *median / 1e6, *p99 / 1e6, v[n - 1] / 1e6);
	fflush(stdout);
}

static int start_run(struct netloop *l, void *arg)
{
	struct sockaddr_storage a, peer;
	struct udpsock_opts o;
	int rc;

	(void)arg;
	cr_assert_eq(addr_parse(&a, NULL, "127.0.0.1:0",
	                        ADDR_LISTEN | ADDR_PORT_ZERO, NULL, 0),
	             0);
	udpsock_opts_init(&o);
	o.bind = (struct sockaddr *)&a;
	o.on_recv = on_dgram;
	rc = udpsock_open(&rx, l, &o);
	if (rc < 0)
		return rc;
	udpsock_local(&rx, &peer);
	udpsock_opts_init(&o);
	o.peer = (struct sockaddr *)&peer;
	rc = udpsock_open(&tx, l, &o);
	if (rc < 0)
		return rc;
	/* 480 frames at 48 kHz = 10 ms, first slot 5 ms from now. */
	return pacer_open(&pc, l, netloop_now_ns() + 5000000, 480, 48000, 2,
	                  on_slot, NULL);
}

static int wait_flag(_Atomic int *flag, int want, int ms)
{
	struct timespec pause = {0, 1000000};
	int i;

	for (i = 0; i < ms; i++) {
		/* Acquire: pairs with the release stores in the callbacks. */
		if (atomic_load_explicit(flag, memory_order_acquire) >= want)
			break;
		nanosleep(&pause, NULL);
	}
	return atomic_load_explicit(flag, memory_order_acquire);
}

Test(pacer, real_run_keeps_the_schedule_and_reports_deviation)
{
	int64_t med, p99;
	int i, n;

	nsent = 0;
	atomic_store(&nrecv, 0);
	atomic_store(&done, 0);
	cr_assert_eq(netloop_call_wait(&nl, start_run, NULL), 0, "%s %s",
	             udpsock_error(&rx), udpsock_error(&tx));
	cr_assert_eq(wait_flag(&done, 1, RUN_SLOTS * 10 * 5 + 2000), 1,
	             "the run ends");
	n = wait_flag(&nrecv, RUN_SLOTS, 1000);
	/* Every slot handed out once, in order; resyncs only under heavy
	   load. */
	for (i = 1; i < RUN_SLOTS; i++)
		cr_assert_gt(slot_seen[i], slot_seen[i - 1]);
	cr_log_info("skipped %lu, resyncs %lu, wakeups %lu",
	            (unsigned long)pc.pace.skipped,
	            (unsigned long)pc.pace.resyncs, (unsigned long)pc.wakeups);
	stats("send", send_dev, RUN_SLOTS, &med, &p99);
	cr_assert_geq(med, 0, "never early");
	cr_assert_lt(med, 20000000,
	             "median within 20 ms (generous; see tools)");
	cr_assert_geq(n, RUN_SLOTS * 9 / 10, "loopback delivers");
	stats("receive", recv_dev, n, &med, &p99);
	cr_assert_lt(med, 20000000);
}

static int stalls;
static uint64_t last_now, same_now_sends, max_same_now;

static void on_slot_stall(struct pacer *p, uint64_t slot, uint64_t deadline,
                          uint64_t now, void *u)
{
	struct timespec stall = {0, 100000000};

	(void)deadline, (void)u;
	same_now_sends = now == last_now ? same_now_sends + 1 : 1;
	last_now = now;
	if (same_now_sends > max_same_now)
		max_same_now = same_now_sends;
	if (slot == 3 && stalls++ == 0)
		nanosleep(&stall, NULL); /* 100 ms: ten slots late */
	if (slot >= 20) {
		pacer_close(p, NULL);
		atomic_store_explicit(&done, 1, memory_order_release);
	}
}

static int start_stall(struct netloop *l, void *arg)
{
	(void)arg;
	return pacer_open(&pc, l, netloop_now_ns(), 480, 48000, 2,
	                  on_slot_stall, NULL);
}

static int read_pace(struct netloop *l, void *arg)
{
	(void)l;
	*(struct pace *)arg = pc.pace;
	return 0;
}

Test(pacer, stall_resynchronises_instead_of_bursting)
{
	struct pace snap;

	stalls = 0;
	last_now = same_now_sends = max_same_now = 0;
	atomic_store(&done, 0);
	cr_assert_eq(netloop_call_wait(&nl, start_stall, NULL), 0);
	cr_assert_eq(wait_flag(&done, 1, 5000), 1);
	netloop_call_wait(&nl, read_pace, &snap);
	cr_assert_geq(snap.skipped, 5,
	              "the slots lost in the stall are skipped");
	cr_assert_geq(snap.resyncs, 1);
	cr_assert_leq(max_same_now, 2,
	              "never more than max_burst at one wake-up");
}

static int pacer_fd_now(struct netloop *l, void *arg)
{
	(void)l;
	(void)arg;
	return pc.tfd;
}

static void on_slot_idle(struct pacer *p, uint64_t s, uint64_t d, uint64_t n,
                         void *u)
{
	(void)p, (void)s, (void)d, (void)n, (void)u;
}

static int start_idle(struct netloop *l, void *arg)
{
	(void)arg;
	return pacer_open(&pc, l, netloop_now_ns(), 480, 48000, 2, on_slot_idle,
	                  NULL);
}

Test(pacer, loop_stop_closes_a_running_pacer)
{
	int fd;

	cr_assert_eq(netloop_call_wait(&nl, start_idle, NULL), 0);
	fd = netloop_call_wait(&nl, pacer_fd_now, NULL);
	cr_assert_geq(fd, 0);
	netloop_stop(&nl);
	cr_assert_not(pc.open);
	cr_assert_eq(pc.tfd, -1);
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "timerfd closed");
}

static int open_bad(struct netloop *l, void *arg)
{
	struct pacer p;

	(void)arg;
	cr_assert_eq(pacer_open(&p, l, 0, 0, 48000, 1, on_slot_idle, NULL),
	             -EINVAL);
	cr_assert_eq(pacer_open(&p, l, 0, 480, 48000, 0, on_slot_idle, NULL),
	             -EINVAL);
	return pacer_open(&p, l, 0, 480, 48000, 1, NULL, NULL);
}

Test(pacer, rejects_bad_parameters)
{
	cr_assert_eq(netloop_call_wait(&nl, open_bad, NULL), -EINVAL);
}
