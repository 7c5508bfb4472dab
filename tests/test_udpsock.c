/*
 * UDP sockets on the net thread, loopback only: send/receive on 127.0.0.1
 * and ::1 (port 0, bound port read back), the receive buffer is the
 * preallocated one for every datagram, a busy port and a bad group give
 * a negated errno and a one-line message, DSCP and buffer sizes read back
 * with getsockopt; multicast inside a private network namespace (root
 * only, else skipped): two receivers of one group, a source-specific
 * join, IPv6 groups over a veth pair, the source address a route gives.
 * Sockets are opened and inspected through netloop_call_wait, so the test
 * thread never touches net-thread state without a happens-before edge.
 */
#define _GNU_SOURCE /* unshare, for tests/netns_fixture.h */
#include "tests/udpsock_fixture.h"
#include "tests/netns_fixture.h"

TestSuite(udpsock, .init = setup, .fini = teardown, .timeout = 60);

static struct udpsock tx, tx2;

static void loopback_round_trip(const char *any, const char *host_fmt)
{
	struct job r, t;
	char peer[80];
	int i;

	atomic_store(&got, 0);
	rx_foreign_buf = 0;
	job_init(&r, &rx, any, NULL);
	r.o.on_recv = on_dgram;
	if (netloop_call_wait(&nl, do_open, &r) == -EADDRNOTAVAIL) {
		close_sock(&rx);
		cr_skip_test("%s not available here: %s", any,
		             udpsock_error(&rx));
	}
	cr_assert_eq(r.rc, 0, "%s", udpsock_error(&rx));
	cr_assert_neq(addr_port((struct sockaddr *)&r.local), 0,
	              "bound port read back");
	snprintf(peer, sizeof peer, host_fmt,
	         addr_port((struct sockaddr *)&r.local));
	job_init(&t, &tx, NULL, peer);
	cr_assert_eq(netloop_call_wait(&nl, do_open, &t), 0, "%s",
	             udpsock_error(&tx));
	t.count = 50;
	t.len = 172;
	cr_assert_eq(netloop_call_wait(&nl, do_send, &t), 172);
	cr_assert_eq(wait_for(50, 2000), 50,
	             "all datagrams arrive on loopback");
	for (i = 0; i < 50; i++) {
		cr_assert_eq(rx_len[i], 172);
		cr_assert_eq(rx_first[i], i);
		if (i > 0)
			cr_assert_geq(rx_ns[i], rx_ns[i - 1],
			              "receive times are monotonic");
	}
	cr_assert_eq(rx_foreign_buf, 0,
	             "every datagram is in the preallocated buffer");
	cr_assert_eq(addr_port((struct sockaddr *)&rx_from),
	             addr_port((struct sockaddr *)&t.local),
	             "source address is the sender");
	cr_assert_eq(atomic_load_explicit(&tx.tx_packets, memory_order_relaxed),
	             50u);
	cr_assert_eq(atomic_load_explicit(&rx.rx_bytes, memory_order_relaxed),
	             50u * 172);
	close_sock(&tx);
	close_sock(&rx);
}

Test(udpsock, round_trip_on_ipv4_loopback)
{
	loopback_round_trip("127.0.0.1:0", "127.0.0.1:%u");
}

Test(udpsock, round_trip_on_ipv6_loopback)
{
	loopback_round_trip("[::1]:0", "[::1]:%u");
}

Test(udpsock, busy_port_gives_eaddrinuse_and_a_message)
{
	struct job a, b;
	char bind[40], expect[80];
	unsigned port;

	job_init(&a, &rx, "127.0.0.1:0", NULL);
	a.o.on_recv = on_dgram;
	cr_assert_eq(netloop_call_wait(&nl, do_open, &a), 0, "%s",
	             udpsock_error(&rx));
	port = addr_port((struct sockaddr *)&a.local);
	snprintf(bind, sizeof bind, "127.0.0.1:%u", port);
	job_init(&b, &tx, bind, NULL);
	b.o.on_recv = on_dgram;
	cr_assert_eq(netloop_call_wait(&nl, do_open, &b), -EADDRINUSE);
	snprintf(expect, sizeof expect,
	         "bind 127.0.0.1:%u: address already in use", port);
	cr_assert_str_eq(udpsock_error(&tx), expect);
	close_sock(&tx);
	close_sock(&rx);
}

Test(udpsock, dscp_and_buffer_size_are_set)
{
	struct job j;

	job_init(&j, &tx, NULL, "127.0.0.1:9");
	j.o.dscp = 46;
	j.o.rcvbuf = 1 << 18;
	cr_assert_eq(netloop_call_wait(&nl, do_open, &j), 0, "%s",
	             udpsock_error(&tx));
	netloop_call_wait(&nl, do_sockopts, &j);
	cr_assert_eq(j.dscp_v4, 46 << 2);
	cr_assert_geq(j.rcvbuf, 1 << 18,
	              "Linux reports twice the request, capped by rmem_max");
	close_sock(&tx);

	job_init(&j, &tx2, NULL, "[::1]:9");
	j.o.dscp = 34;
	if (netloop_call_wait(&nl, do_open, &j) == 0) {
		netloop_call_wait(&nl, do_sockopts, &j);
		cr_assert_eq(j.tclass, 34 << 2);
	}
	close_sock(&tx2);
}

Test(udpsock, bad_options_are_refused_with_a_message)
{
	struct job j;

	job_init(&j, &tx, NULL, "127.0.0.1:9");
	j.o.dscp = 64;
	cr_assert_eq(netloop_call_wait(&nl, do_open, &j), -EINVAL);
	cr_assert(strstr(udpsock_error(&tx), "DSCP 64") != NULL, "%s",
	          udpsock_error(&tx));
	close_sock(&tx);

	job_init(&j, &tx, "127.0.0.1:0", "[::1]:9");
	cr_assert_eq(netloop_call_wait(&nl, do_open, &j), -EAFNOSUPPORT);
	close_sock(&tx);

	job_init(&j, &tx, NULL, NULL);
	cr_assert_eq(netloop_call_wait(&nl, do_open, &j), -EINVAL);
	close_sock(&tx);
}

static int send_nowhere(struct netloop *l, void *arg)
{
	(void)l;
	return udpsock_send(arg, "x", 1, NULL);
}

Test(udpsock, send_without_destination_is_refused)
{
	struct job j;

	job_init(&j, &rx, "127.0.0.1:0", NULL);
	cr_assert_eq(netloop_call_wait(&nl, do_open, &j), 0, "%s",
	             udpsock_error(&rx));
	cr_assert_eq(netloop_call_wait(&nl, send_nowhere, &rx), -EDESTADDRREQ);
	close_sock(&rx);
}

/* ---- multicast, inside a private network namespace ---- */

/* Per-socket receive counts for the multicast tests (net thread writes,
   the release publishes them; see on_dgram). */
static _Atomic int got_a, got_b, got_c;

static void on_a(struct udpsock *s, const uint8_t *d, size_t n,
                 const struct sockaddr *f, uint64_t t, void *u)
{
	(void)s, (void)d, (void)n, (void)f, (void)t, (void)u;
	atomic_fetch_add_explicit(&got_a, 1, memory_order_release);
}

static void on_b(struct udpsock *s, const uint8_t *d, size_t n,
                 const struct sockaddr *f, uint64_t t, void *u)
{
	(void)s, (void)d, (void)n, (void)f, (void)t, (void)u;
	atomic_fetch_add_explicit(&got_b, 1, memory_order_release);
}

static void on_c(struct udpsock *s, const uint8_t *d, size_t n,
                 const struct sockaddr *f, uint64_t t, void *u)
{
	(void)s, (void)d, (void)n, (void)f, (void)t, (void)u;
	atomic_fetch_add_explicit(&got_c, 1, memory_order_release);
}

static int count_of(_Atomic int *c)
{
	/* Acquire: pairs with the release in on_a/on_b/on_c. */
	return atomic_load_explicit(c, memory_order_acquire);
}

static void wait_counts(int a, int b, int ms)
{
	struct timespec pause = {0, 1000000};
	for (int i = 0; i < ms; i++) {
		if (count_of(&got_a) >= a && count_of(&got_b) >= b)
			return;
		nanosleep(&pause, NULL);
	}
}

/* The namespace, then the net thread in it. */
static void mcast_setup(const char *group)
{
	char why[160];
	if (netns_enter(group, why, sizeof why) < 0)
		cr_skip_test("%s", why);
	cr_assert_eq(netloop_start(&nl, 64), 0);
}

TestSuite(udpsock_mcast, .fini = teardown, .timeout = 60);

/* Two receivers of one group on one host both get every datagram; the
   one bound to another group gets none. */
Test(udpsock_mcast, two_receivers_of_an_ipv4_group_both_receive)
{
	static struct udpsock ra, rb, rc2;
	struct job a, b, c, t;

	mcast_setup("239.255.77.1");
	job_init(&a, &ra, "239.255.77.1:5004", NULL);
	a.o.on_recv = on_a;
	a.o.mcast_ifindex = 1; /* lo */
	job_init(&b, &rb, "239.255.77.1:5004", NULL);
	b.o.on_recv = on_b;
	job_init(&c, &rc2, "239.255.77.2:5004", NULL);
	c.o.on_recv = on_c;
	cr_assert_eq(netloop_call_wait(&nl, do_open, &a), 0, "%s",
	             udpsock_error(&ra));
	cr_assert_eq(netloop_call_wait(&nl, do_open, &b), 0, "%s",
	             udpsock_error(&rb));
	cr_assert_eq(netloop_call_wait(&nl, do_open, &c), 0, "%s",
	             udpsock_error(&rc2));
	job_init(&t, &tx, NULL, "239.255.77.1:5004");
	t.o.mcast_ifindex = 1;
	t.o.mcast_ttl = 1;
	cr_assert_eq(netloop_call_wait(&nl, do_open, &t), 0, "%s",
	             udpsock_error(&tx));
	t.count = 20;
	t.len = 200;
	cr_assert_eq(netloop_call_wait(&nl, do_send, &t), 200);
	wait_counts(20, 20, 2000);
	cr_assert_eq(count_of(&got_a), 20);
	cr_assert_eq(count_of(&got_b), 20);
	cr_assert_eq(count_of(&got_c), 0, "another group hears nothing");
}

/* Source-specific: a receiver joined for source 127.0.0.2 gets only what
   127.0.0.2 sends; one joined for any source gets both senders. */
Test(udpsock_mcast, source_specific_join_takes_only_that_source)
{
	static struct udpsock ra, rb, t1, t2;
	struct sockaddr_storage src;
	struct job a, b, s1, s2;

	mcast_setup("232.1.2.3");
	cr_assert_eq(addr_parse(&src, NULL, "127.0.0.2:0",
	                        ADDR_NUMERIC | ADDR_PORT_ZERO, NULL, 0),
	             0);
	job_init(&a, &ra, "232.1.2.3:5004", NULL);
	a.o.on_recv = on_a;
	a.o.mcast_source = (struct sockaddr *)&src;
	job_init(&b, &rb, "232.1.2.3:5004", NULL);
	b.o.on_recv = on_b;
	int rc = netloop_call_wait(&nl, do_open, &a);
	if (rc == -ENOPROTOOPT || rc == -EPROTONOSUPPORT)
		cr_skip_test("no source-specific multicast: %s",
		             udpsock_error(&ra));
	cr_assert_eq(rc, 0, "%s", udpsock_error(&ra));
	cr_assert_eq(netloop_call_wait(&nl, do_open, &b), 0, "%s",
	             udpsock_error(&rb));
	/* Two senders, bound to two loopback addresses. */
	job_init(&s1, &t1, "127.0.0.1:0", "232.1.2.3:5004");
	job_init(&s2, &t2, "127.0.0.2:0", "232.1.2.3:5004");
	s1.o.mcast_ifindex = s2.o.mcast_ifindex = 1;
	cr_assert_eq(netloop_call_wait(&nl, do_open, &s1), 0, "%s",
	             udpsock_error(&t1));
	cr_assert_eq(netloop_call_wait(&nl, do_open, &s2), 0, "%s",
	             udpsock_error(&t2));
	s1.count = s2.count = 10;
	s1.len = s2.len = 100;
	cr_assert_eq(netloop_call_wait(&nl, do_send, &s1), 100);
	cr_assert_eq(netloop_call_wait(&nl, do_send, &s2), 100);
	wait_counts(10, 20, 2000);
	cr_assert_eq(count_of(&got_b), 20, "any-source member hears both");
	cr_assert_eq(count_of(&got_a), 10, "source-specific hears 127.0.0.2");
	/* A source of the other family is refused with a line. */
	struct sockaddr_storage v6;
	struct job d;
	cr_assert_eq(addr_parse(&v6, NULL, "[::1]:0",
	                        ADDR_NUMERIC | ADDR_PORT_ZERO, NULL, 0),
	             0);
	job_init(&d, &rx, "232.1.2.3:5006", NULL);
	d.o.mcast_source = (struct sockaddr *)&v6;
	cr_assert_lt(netloop_call_wait(&nl, do_open, &d), 0);
	cr_assert(strstr(udpsock_error(&rx), "source [::1]:0") != NULL, "%s",
	          udpsock_error(&rx));
}

/* IPv6: a link-scoped group needs an interface; a site-scoped one goes by
   the route. Both over a veth pair (lo does not loop IPv6 multicast). */
Test(udpsock_mcast, ipv6_groups_on_a_veth_link)
{
	static struct udpsock ra, rb;
	struct job a, b, t;
	char why[160];
	int rc;

	mcast_setup("239.255.77.1");
	if (netns_veth("rtbva", "rtbvb", "ff05::77", why, sizeof why) < 0)
		cr_skip_test("%s", why);
	char ifa[16];
	snprintf(ifa, sizeof ifa, "%d",
	         addr_iface_parse("rtbva", why, sizeof why));
	int ia = addr_iface_parse("rtbva", why, sizeof why);
	int ib = addr_iface_parse("rtbvb", why, sizeof why);
	cr_assert_gt(ia, 0, "%s", why);
	cr_assert_gt(ib, 0, "%s", why);
	cr_assert_eq(addr_iface_parse(ifa, why, sizeof why), ia, "by index");
	cr_assert_eq(addr_iface_parse("127.0.0.1", why, sizeof why), 1,
	             "by address: lo");
	cr_assert_eq(addr_iface_parse("nosuch0", why, sizeof why), -ENODEV);
	cr_assert(strstr(why, "nosuch0") != NULL, "%s", why);

	/* Receiver a on the far end (b side), link-scoped group. */
	job_init(&a, &ra, "[ff02::2:7ffe]:9875", NULL);
	a.o.on_recv = on_a;
	a.o.mcast_ifindex = (unsigned)ib;
	cr_assert_eq(netloop_call_wait(&nl, do_open, &a), 0, "%s",
	             udpsock_error(&ra));
	job_init(&b, &rb, "[ff05::77]:5004", NULL);
	b.o.on_recv = on_b;
	b.o.mcast_ifindex = (unsigned)ib;
	cr_assert_eq(netloop_call_wait(&nl, do_open, &b), 0, "%s",
	             udpsock_error(&rb));
	job_init(&t, &tx, NULL, "[ff02::2:7ffe]:9875");
	t.o.mcast_ifindex = (unsigned)ia;
	cr_assert_eq(netloop_call_wait(&nl, do_open, &t), 0, "%s",
	             udpsock_error(&tx));
	t.count = 5;
	t.len = 64;
	cr_assert_eq(netloop_call_wait(&nl, do_send, &t), 64);
	close_sock(&tx);
	job_init(&t, &tx, NULL, "[ff05::77]:5004");
	t.o.mcast_ifindex = (unsigned)ia;
	t.o.mcast_ttl = 1;
	cr_assert_eq(netloop_call_wait(&nl, do_open, &t), 0, "%s",
	             udpsock_error(&tx));
	t.count = 7;
	t.len = 64;
	rc = netloop_call_wait(&nl, do_send, &t);
	cr_assert_eq(rc, 64, "send: %d", rc);
	wait_counts(5, 7, 2000);
	cr_assert_eq(count_of(&got_a), 5);
	cr_assert_eq(count_of(&got_b), 7);
}

/* The source address a route gives, for an SDP origin. */
Test(udpsock_mcast, route_source_address_of_a_group)
{
	struct sockaddr_storage to, src;
	char txt[ADDR_TEXT_MAX];

	mcast_setup("239.255.77.1");
	cr_assert_eq(addr_parse(&to, NULL, "239.255.77.1:5004", ADDR_NUMERIC,
	                        NULL, 0),
	             0);
	cr_assert_eq(addr_route_source((struct sockaddr *)&to, 0, &src), 0);
	cr_assert_str_eq(addr_format((struct sockaddr *)&src, txt, sizeof txt),
	                 "127.0.0.1:0");
	cr_assert(addr_is_multicast((struct sockaddr *)&to));
	cr_assert(!addr_is_multicast((struct sockaddr *)&src));
	/* Nothing routes 10/8 in the empty namespace. */
	cr_assert_eq(
	        addr_parse(&to, NULL, "10.1.2.3:5004", ADDR_NUMERIC, NULL, 0),
	        0);
	cr_assert_eq(addr_route_source((struct sockaddr *)&to, 0, &src),
	             -ENETUNREACH);
}

Test(udpsock, full_send_buffer_drops_and_counts)
{
	struct job r, t;
	char peer[40];
	int i, rc = 0;

	/* A receiver that never reads, a tiny send buffer: sends must drop
	 * (EAGAIN, counted) or all succeed; never block. */
	job_init(&r, &rx, "127.0.0.1:0", NULL);
	r.o.rcvbuf = 4096;
	cr_assert_eq(netloop_call_wait(&nl, do_open, &r), 0);
	snprintf(peer, sizeof peer, "127.0.0.1:%u",
	         addr_port((struct sockaddr *)&r.local));
	job_init(&t, &tx, NULL, peer);
	t.o.sndbuf = 4096;
	cr_assert_eq(netloop_call_wait(&nl, do_open, &t), 0);
	t.len = 1400;
	t.count = 1;
	for (i = 0; i < 200; i++) {
		rc = netloop_call_wait(&nl, do_send, &t);
		cr_assert(rc == 1400 || rc == -EAGAIN, "send gave %d", rc);
	}
	cr_assert_eq(
	        atomic_load_explicit(&tx.tx_packets, memory_order_relaxed) +
	                atomic_load_explicit(&tx.tx_eagain,
	                                     memory_order_relaxed),
	        200u);
	close_sock(&tx);
	close_sock(&rx);
}
