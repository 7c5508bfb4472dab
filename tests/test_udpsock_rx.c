/*
 * UDP sockets on the net thread, the receive side's dates and wake-ups,
 * loopback only: kernel stamps moved to the monotonic clock, a datagram
 * read late on the poll dated at the read, coalesced reads taking
 * several datagrams per wake-up and dated by their stamps, a trickle read
 * at each arrival again, and reads coalesced to the times a consumer
 * looks (udpsock_set_coalesce_at) coming just before them, each telling
 * the consumer the next look it plans for.
 */
#include "tests/udpsock_fixture.h"

TestSuite(udpsock, .init = setup, .fini = teardown, .timeout = 60);

Test(udpsock, kernel_stamps_move_to_the_monotonic_clock)
{
	const int64_t off = 1700000000ll * 1000000000ll; /* realtime - mono */
	const int64_t now = 5000000000ll;

	/* 3 ms old: 3 ms before now on the monotonic clock. */
	cr_assert_eq(udpsock_stamp_mono(off + now - 3000000, off, now),
	             now - 3000000);
	cr_assert_eq(udpsock_stamp_mono(off + now, off, now), now);
	/* No stamp, one from the future, one older than the limit (the wall
	   clock stepped): the read time stands in. */
	cr_assert_eq(udpsock_stamp_mono(0, off, now), now);
	cr_assert_eq(udpsock_stamp_mono(off + now + 1000, off, now), now);
	cr_assert_eq(
	        udpsock_stamp_mono(off + now - UDPSOCK_STAMP_MAX_AGE_NS - 1,
	                           off, now),
	        now);
	cr_assert_eq(udpsock_stamp_mono(off + now - UDPSOCK_STAMP_MAX_AGE_NS,
	                                off, now),
	             now - UDPSOCK_STAMP_MAX_AGE_NS);
}

/* A plain socket of the test thread sending to rx: its send times. */
struct blaster {
	int fd;
	struct sockaddr_in to;
	int64_t sent[RX_MAX];
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void blaster_open(struct blaster *b, const struct job *r)
{
	b->fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(b->fd, 0);
	memcpy(&b->to, &r->local, sizeof b->to);
}

/* Datagram i (its first byte i), stamped before sendto: on loopback the
   datagram reaches the receiving socket inside the call. */
static void blaster_send(struct blaster *b, int i)
{
	uint8_t buf[200];

	memset(buf, i & 0xff, sizeof buf);
	b->sent[i] = mono_ns();
	cr_assert_eq(sendto(b->fd, buf, sizeof buf, 0,
	                    (struct sockaddr *)&b->to, sizeof b->to),
	             (ssize_t)sizeof buf);
}

static int hold_loop(struct netloop *l, void *arg)
{
	(void)l;
	struct timespec ts = {0, *(long *)arg};
	nanosleep(&ts, NULL);
	return 0;
}

struct coalesce_job {
	struct udpsock *s;
	unsigned ms;
};

static int do_coalesce(struct netloop *l, void *arg)
{
	struct coalesce_job *c = arg;

	(void)l;
	udpsock_set_coalesce(c->s, c->ms);
	return 0;
}

static void open_rx(struct job *r)
{
	atomic_store(&got, 0);
	job_init(r, &rx, "127.0.0.1:0", NULL);
	r->o.on_recv = on_dgram;
	r->o.rcvbuf = 1 << 20;
	cr_assert_eq(netloop_call_wait(&nl, do_open, r), 0, "%s",
	             udpsock_error(&rx));
}

Test(udpsock, a_datagram_read_late_on_the_poll_is_dated_at_the_read)
{
	static long hold_ns = 60000000;
	static struct blaster b;
	struct job r;

	open_rx(&r);
	blaster_open(&b, &r);
	/* The net thread busy for 60 ms while 20 datagrams arrive: what the
	   owner holds is what was read, so a late net thread is part of
	   the delay its jitter buffer must cover. */
	cr_assert_eq(netloop_call(&nl, hold_loop, &hold_ns), 0);
	struct timespec ms2 = {0, 2000000};
	nanosleep(&ms2, NULL);
	for (int i = 0; i < 20; i++)
		blaster_send(&b, i);
	cr_assert_eq(wait_for(20, 2000), 20);
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(rx_first[i], i);
		cr_assert_geq((int64_t)rx_ns[i], b.sent[i] + 40000000,
		              "datagram %d dated %lld us after it was sent", i,
		              (long long)((int64_t)rx_ns[i] - b.sent[i]) /
		                      1000);
	}
	close(b.fd);
	close_sock(&rx);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Send n datagrams, one every `gap_us`; return the wake-ups they took. */
static uint64_t paced_burst(struct blaster *b, int n, long gap_us)
{
	struct timespec at;
	uint64_t w0 =
	        atomic_load_explicit(&rx.rx_wakeups, memory_order_relaxed);

	atomic_store(&got, 0);
	clock_gettime(CLOCK_MONOTONIC, &at);
	/* On an absolute schedule: a sleep that ends late (a loaded
	   machine) is made up by sending what is owed at once, so the rate
	   the socket sees is the one asked for, as a sender's would be. */
	for (int i = 0; i < n; i++) {
		blaster_send(b, i);
		at.tv_nsec += gap_us * 1000;
		while (at.tv_nsec >= 1000000000) {
			at.tv_nsec -= 1000000000;
			at.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at,
		                       NULL) == EINTR)
			;
	}
	cr_assert_eq(wait_for(n, 2000), n, "every datagram read");
	return atomic_load_explicit(&rx.rx_wakeups, memory_order_relaxed) - w0;
}

Test(udpsock, coalesced_reads_take_several_datagrams_per_wake_up)
{
	static struct blaster b;
	struct coalesce_job c = {.s = &rx, .ms = 10};
	struct job r;
	const int n = 200;

	open_rx(&r);
	blaster_open(&b, &r);
	cr_assert_eq(netloop_call_wait(&nl, do_coalesce, &c), 0);
	/* 2000 datagrams a second, 20 per interval: read on the timer,
	   many at a time. */
	uint64_t woke = paced_burst(&b, n, 500);
	cr_log_info("%d datagrams in %llu wake-ups", n,
	            (unsigned long long)woke);
	cr_assert_leq(woke, (uint64_t)n / 2, "%llu wake-ups for %d datagrams",
	              (unsigned long long)woke, n);
	/* The time a datagram was held on purpose is not in its date (the
	   kernel's stamp stands in): each is dated within the timer's own
	   lateness of its sending, whatever part of the 10 ms it waited
	   (dated at the read, the median would be about 5 ms). */
	int64_t d[200];
	for (int i = 0; i < n; i++)
		d[i] = (int64_t)rx_ns[i] - b.sent[i];
	qsort(d, (size_t)n, sizeof d[0], cmp_i64);
	cr_log_info("held datagrams dated %lld us after sending (median)",
	            (long long)d[n / 2] / 1000);
	cr_assert_lt(d[n / 2], 2500000, "median %lld us",
	             (long long)d[n / 2] / 1000);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(rx_first[i], i & 0xff);
		cr_assert_geq((int64_t)rx_ns[i], b.sent[i] - 100000);
		cr_assert_lt((int64_t)rx_ns[i], b.sent[i] + 10000000,
		             "datagram %d stamped %lld us after it was sent", i,
		             (long long)((int64_t)rx_ns[i] - b.sent[i]) / 1000);
		if (i > 0)
			cr_assert_geq(rx_ns[i], rx_ns[i - 1]);
	}
	/* A trickle (one per 20 ms, slower than two per interval) is read
	   at each arrival again once the burst is forgotten: no timer
	   wake-up that finds nothing. */
	woke = paced_burst(&b, 20, 20000);
	cr_assert_leq(woke, 24u, "%llu wake-ups for 20 datagrams",
	              (unsigned long long)woke);
	close(b.fd);
	close_sock(&rx);
}

/* A consumer that looks every 10 ms from grid_t0 on. */
static int64_t grid_t0;

static int64_t grid_next(void *arg, int64_t after)
{
	const int64_t every = 10000000;

	(void)arg;
	if (after < grid_t0)
		return grid_t0;
	return grid_t0 + ((after - grid_t0) / every + 1) * every;
}

/* What the socket planned (grid_plan), in order, with the datagrams it
   had handed out by then and when; net thread, read after the close. */
#define PLAN_MAX 128
static int64_t plan_look[PLAN_MAX], plan_at[PLAN_MAX];
static int plan_got[PLAN_MAX], plan_fd[PLAN_MAX];
static int nplan, rx_fd;

static void grid_plan(void *arg, int64_t look, int fd)
{
	(void)arg;
	if (nplan < PLAN_MAX) {
		plan_look[nplan] = look;
		plan_fd[nplan] = fd;
		plan_got[nplan] = atomic_load(&got);
		plan_at[nplan] = (int64_t)netloop_now_ns();
	}
	nplan++;
}

static int do_coalesce_at(struct netloop *l, void *arg)
{
	(void)l;
	(void)arg;
	udpsock_set_coalesce(&rx, 4);
	udpsock_set_coalesce_at(&rx, grid_next, grid_plan, NULL, 2000000);
	rx_fd = udpsock_fd(&rx);
	return 0;
}

Test(udpsock, coalesced_reads_come_just_before_the_consumer_looks)
{
	static struct blaster b;
	static int64_t phase[RX_MAX], late[RX_MAX];
	struct job r;
	const int n = 240;

	open_rx(&r);
	blaster_open(&b, &r);
	grid_t0 = mono_ns() + 3300000;
	cr_assert_eq(netloop_call_wait(&nl, do_coalesce_at, NULL), 0);
	/* 1000 datagrams a second, for 24 of the consumer's 10 ms: read 2 ms
	   before each look (a millisecond later at most: libuv's timers
	   count whole ones), not every 4 ms. */
	uint64_t woke = paced_burst(&b, n, 1000);
	cr_log_info("%d datagrams in %llu wake-ups", n,
	            (unsigned long long)woke);
	/* Once the rate is known (the first ~20 ms are read at each
	   arrival), one read per look: reads more than 0.5 ms apart. */
	int m = 0, reads = 0;
	int64_t first = -1, last = 0;
	for (int i = 1; i < n; i++) {
		int64_t t = (int64_t)rx_read_ns[i] - grid_t0;
		if (t < 20000000)
			continue;
		if (first < 0)
			first = t;
		last = t;
		if (rx_read_ns[i] - rx_read_ns[i - 1] > 500000)
			reads++;
	}
	cr_log_info("%d reads in %lld ms", reads,
	            (long long)(last - first) / 1000000);
	cr_assert_leq(reads, (last - first) / 10000000 + 3,
	              "%d reads in %lld ms", reads,
	              (long long)(last - first) / 1000000);
	for (int i = 0; i < n; i++) {
		int64_t t = (int64_t)rx_read_ns[i] - grid_t0;
		if (t < 20000000 || i + 20 > n)
			continue; /* the poll's first read, the last stragglers
			           */
		phase[m] = t % 10000000;
		late[m++] = (int64_t)rx_ns[i] - b.sent[i];
		if (i > 0)
			cr_assert_geq(rx_ns[i], rx_ns[i - 1]);
	}
	cr_assert_gt(m, n / 2);
	qsort(phase, (size_t)m, sizeof phase[0], cmp_i64);
	qsort(late, (size_t)m, sizeof late[0], cmp_i64);
	/* Dated by the kernel's stamps, not at the read (up to 10 ms
	   later). */
	cr_assert_lt(late[m / 2], 2500000, "dated %lld us after sending",
	             (long long)late[m / 2] / 1000);
	cr_log_info("read %lld us before the look (median)",
	            (long long)(10000000 - phase[m / 2]) / 1000);
	cr_assert_geq(phase[m / 2], 7500000, "read %lld us before the look",
	              (long long)(10000000 - phase[m / 2]) / 1000);
	cr_assert_leq(phase[m / 2], 9500000, "read %lld us before the look",
	              (long long)(10000000 - phase[m / 2]) / 1000);
	close(b.fd);
	close_sock(&rx);

	/* The plans: the looks of the grid, in order, from the first timed
	   read on; each told after the read before the look it replaces
	   had handed out what had come by then (a consumer that sees look
	   L + 10 ms planned finds every datagram that came before the read
	   for L); at first and on the poll, reads at each arrival from the
	   socket's descriptor; none once the socket closed. */
	cr_assert_gt(nplan, 10, "%d plans", nplan);
	cr_assert_lt(nplan, PLAN_MAX);
	cr_assert_eq(plan_look[0], INT64_MAX, "set on the poll");
	cr_assert_eq(plan_fd[0], rx_fd);
	for (int i = 1; i + 1 < nplan; i++)
		cr_assert_eq(plan_fd[i], rx_fd);
	cr_assert_eq(plan_look[nplan - 1], INT64_MAX, "closed: no plan");
	cr_assert_eq(plan_fd[nplan - 1], -1, "closed: no descriptor");
	int steps = 0, skips = 0, misses = 0;
	for (int i = 0; i + 1 < nplan; i++) {
		int64_t look = plan_look[i], to = plan_look[i + 1];
		if (look == INT64_MAX || to == INT64_MAX)
			continue; /* reading on the poll */
		cr_assert_eq((look - grid_t0) % 10000000, 0,
		             "plan %d off the grid", i);
		cr_assert_gt(to, look, "plan %d goes back", i + 1);
		/* One look on; more only when a machine held the net thread
		   past a look. */
		if (to != look + 10000000)
			skips++;
		/* The plan moves on only from a read at most lead + the
		   interval (4 ms) before the look it leaves, so everything
		   sent 5 ms before that look had been handed out by then
		   (misses: a machine that held up the sending thread between
		   its stamp and its sendto, or the net thread in a read). */
		int sent = 0;
		while (sent < n && b.sent[sent] < look - 5000000)
			sent++;
		if (plan_got[i + 1] < sent) {
			cr_log_warn(
			        "plan %d told %lld us after its read's look "
			        "with %d of the %d sent 5 ms before handed "
			        "out",
			        i + 1,
			        (long long)(plan_at[i + 1] - look) / 1000,
			        plan_got[i + 1], sent);
			misses++;
		}
		steps++;
	}
	cr_log_info("%d plans, %d steps (%d skipping looks), %d told early",
	            nplan, steps, skips, misses);
	cr_assert_gt(steps, 10);
	cr_assert_leq(skips, 2, "%d of %d steps skip looks", skips, steps);
	cr_assert_leq(misses, 2, "%d of %d plans told before their read",
	              misses, steps);
}

/* On the net thread: the last datagrams arrive while the timer holds the
   socket, then its owner reads what is pending and closes it (as
   receiver_close does), all in one turn, so the timer cannot read them
   first. */
struct last_job {
	struct blaster *b;
	int from, n;
	unsigned read;
};

static int send_read_close(struct netloop *l, void *arg)
{
	struct last_job *j = arg;

	for (int i = 0; i < j->n; i++)
		blaster_send(j->b, j->from + i);
	j->read = udpsock_read_pending(&rx);
	atomic_store_explicit(&closed, 0, memory_order_relaxed);
	return start_close(l, &rx);
}

Test(udpsock, datagrams_held_at_the_close_are_read_first)
{
	static struct blaster b;
	struct coalesce_job c = {.s = &rx, .ms = 20};
	struct job r;
	const int n = 60;

	open_rx(&r);
	blaster_open(&b, &r);
	cr_assert_eq(netloop_call_wait(&nl, do_coalesce, &c), 0);
	/* 2000 a second: read on the 20 ms timer from the first few on. */
	(void)paced_burst(&b, n, 500);
	cr_assert(rx.holding, "the timer holds the socket");
	struct last_job j = {.b = &b, .from = n, .n = 5};
	cr_assert_eq(netloop_call_wait(&nl, send_read_close, &j), 0);
	cr_assert_eq(wait_closed(2000), 0, "close callback ran");
	cr_assert_eq(j.read, 5u, "read %u of the 5 held datagrams", j.read);
	cr_assert_eq(atomic_load(&got), n + 5);
	for (int i = n; i < n + 5; i++)
		cr_assert_eq(rx_first[i], i & 0xff);
	close(b.fd);
}
