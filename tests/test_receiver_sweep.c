/*
 * test_receiver_sweep: when the receiver says a sweep can find something
 * (receiver_sweep_at), worked out by the net thread as datagrams come: it
 * follows the table (a silent stream's idle time, a busy one's later),
 * control is poked once when a sweep falls due while datagrams come, and
 * a sweep before the time finds nothing. Driven on a real net thread
 * with datagrams injected.
 */
#include <stdatomic.h>

#include "tests/receiver_fixture.h"

TestSuite(receiver_sweep, .timeout = 30);

static _Atomic int notified;

static void count_notify(void *arg)
{
	(void)arg;
	atomic_fetch_add(&notified, 1);
}

static void sleep_until_ns(uint64_t t)
{
	struct timespec ts = {(time_t)(t / 1000000000ull),
	                      (long)(t % 1000000000ull)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

Test(receiver_sweep, says_when_a_sweep_can_find_something_and_pokes_when_due)
{
	const uint64_t idle = 100000000; /* 100 ms */
	uint8_t buf[2000], pay[960];
	struct receiver_gone g[4];
	struct receiver_new nw;

	setup_rx(4, NULL);
	rx.o.idle_ns = idle;
	rx.o.notify = count_notify;
	atomic_store(&notified, 0);
	memset(pay, 0, sizeof(pay));
	cr_assert_eq(receiver_sweep_at(&rx), UINT64_MAX, "an empty table");
	/* A: two packets, then silent. Its entry ends idle_ns after. */
	uint64_t t0 = netloop_now_ns();
	size_t n = 0;
	for (uint16_t i = 0; i < 2; i++) {
		n = rtp_packet(buf, sizeof(buf), 96, 7, i, i * 240u, pay, 960);
		inject_port(buf, n, "127.0.0.1", 40001);
	}
	uint64_t at = receiver_sweep_at(&rx);
	cr_assert_geq(at, t0 + idle);
	cr_assert_leq(at, netloop_now_ns() + idle);
	cr_assert(receiver_poll_new(&rx, &nw));
	struct netstream *a = new_stream();
	cr_assert_eq(receiver_install(&rx, &nw, a), 0);
	/* B: a packet every 10 ms for 300 ms. The net thread looks every
	   50 ms of arrivals: once A has been silent idle_ns, a sweep is due
	   at once and control is poked, once (besides the pokes for the two
	   new streams). */
	struct netstream *b = NULL;
	int pokes = 0;
	for (uint16_t i = 0; i < 30; i++) {
		n = rtp_packet(buf, sizeof(buf), 96, 8, i, i * 240u, pay, 960);
		inject_port(buf, n, "127.0.0.1", 40002);
		if (b == NULL && receiver_poll_new(&rx, &nw)) {
			b = new_stream();
			cr_assert_eq(receiver_install(&rx, &nw, b), 0);
			pokes = atomic_load(&notified);
		}
		struct timespec ms10 = {0, 10000000};
		nanosleep(&ms10, NULL);
	}
	cr_assert_not_null(b);
	cr_assert_eq(pokes, 2, "a poke per new stream");
	cr_assert_eq(atomic_load(&notified), 3, "poked %d times for a sweep",
	             atomic_load(&notified) - 2);
	cr_assert_leq(receiver_sweep_at(&rx), netloop_now_ns());
	cr_assert_eq(receiver_sweep(&rx, idle, g, 4), 1);
	cr_expect_eq(g[0].ns, a);
	cr_expect_eq(g[0].why, RECEIVER_END_IDLE);
	/* B is left: the next sweep can find it idle_ns after its last
	   packet, not before. No datagram comes: nothing pokes. */
	uint64_t last = netloop_now_ns();
	at = receiver_sweep_at(&rx);
	cr_assert_gt(at, last);
	cr_assert_leq(at, last + idle);
	cr_expect_eq(receiver_sweep(&rx, idle, g, 4), 0, "nothing before");
	sleep_until_ns(at);
	cr_assert_eq(receiver_sweep(&rx, idle, g, 4), 1);
	cr_expect_eq(g[0].ns, b);
	cr_assert_eq(receiver_sweep_at(&rx), UINT64_MAX);
	cr_assert_eq(atomic_load(&notified), 3);
	teardown_rx();
	free_stream(a);
	free_stream(b);
}
