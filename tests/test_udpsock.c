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
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/net/addr.h"
#include "bridge/net/netloop.h"
#include "bridge/net/udpsock.h"
#include "tests/netns_fixture.h"

static struct netloop nl;

static void setup(void)
{
	cr_assert_eq(netloop_start(&nl, 64), 0);
}

static void teardown(void)
{
	netloop_stop(&nl);
}

TestSuite(udpsock, .init = setup, .fini = teardown, .timeout = 60);

/* Receiver state, written on the net thread; `got` publishes the rest. */
#define RX_MAX 256
static struct udpsock rx, tx, tx2;
static _Atomic int got;
static size_t rx_len[RX_MAX];
static uint8_t rx_first[RX_MAX];
static uint64_t rx_ns[RX_MAX];
static uint64_t rx_read_ns[RX_MAX]; /* when the owner got it */
static int rx_foreign_buf;
static struct sockaddr_storage rx_from;

static void on_dgram(struct udpsock *s, const uint8_t *d, size_t n,
                     const struct sockaddr *from, uint64_t t, void *u)
{
	int i = atomic_load_explicit(&got, memory_order_relaxed);

	(void)u;
	if (d < s->rxbuf ||
	    d + n > s->rxbuf + (size_t)UDPSOCK_BATCH * UDPSOCK_RX_MAX)
		rx_foreign_buf++;
	if (i < RX_MAX) {
		rx_len[i] = n;
		rx_first[i] = n > 0 ? d[0] : 0;
		rx_ns[i] = t;
		rx_read_ns[i] = netloop_now_ns();
		memcpy(&rx_from, from, addr_len(from));
	}
	/* Release: publishes the slot written above to the waiting test. */
	atomic_store_explicit(&got, i + 1, memory_order_release);
}

/* Wait up to `ms` for `n` datagrams. */
static int wait_for(int n, int ms)
{
	struct timespec pause = {0, 1000000};
	int i;

	for (i = 0; i < ms; i++) {
		/* Acquire: pairs with the release in on_dgram. */
		if (atomic_load_explicit(&got, memory_order_acquire) >= n)
			break;
		nanosleep(&pause, NULL);
	}
	return atomic_load_explicit(&got, memory_order_acquire);
}

static _Atomic int closed;

static int wait_closed(int ms)
{
	struct timespec pause = {0, 1000000};
	int i;

	for (i = 0; i < ms; i++) {
		/* Acquire: pairs with the release in on_closed. */
		if (atomic_load_explicit(&closed, memory_order_acquire))
			return 0;
		nanosleep(&pause, NULL);
	}
	return -ETIMEDOUT;
}

struct job {
	struct udpsock *s;
	struct udpsock_opts o;
	struct sockaddr_storage bind, peer;
	int rc;
	int count;
	size_t len;
	struct sockaddr_storage local;
	int dscp_v4, tclass, rcvbuf;
};

static int do_open(struct netloop *l, void *arg)
{
	struct job *j = arg;
	j->rc = udpsock_open(j->s, l, &j->o);
	if (j->rc == 0)
		udpsock_local(j->s, &j->local);
	return j->rc;
}

static void on_closed(struct udpsock *s, void *user)
{
	(void)s, (void)user;
	/* Release: the handle is gone, the struct may be reused. */
	atomic_store_explicit(&closed, 1, memory_order_release);
}

static int start_close(struct netloop *l, void *arg)
{
	(void)l;
	udpsock_close(arg, on_closed);
	return 0;
}

static int wait_closed(int ms);
static void close_sock(struct udpsock *s);

/* Close and wait for the close callback: only then may the struct be
 * opened again (libuv finishes closing at the end of a loop turn). */
static int do_close(struct netloop *l, void *arg)
{
	atomic_store_explicit(&closed, 0, memory_order_relaxed);
	netloop_call_wait(l, start_close, arg);
	return wait_closed(2000);
}

static void close_sock(struct udpsock *s)
{
	cr_assert_eq(do_close(&nl, s), 0, "close callback ran");
}

static int do_send(struct netloop *l, void *arg)
{
	struct job *j = arg;
	uint8_t buf[1500];
	int i, rc = 0;

	(void)l;
	for (i = 0; i < j->count; i++) {
		memset(buf, i & 0xff, j->len);
		rc = udpsock_send(j->s, buf, j->len, NULL);
		if (rc < 0)
			return rc;
	}
	return rc;
}

static int do_sockopts(struct netloop *l, void *arg)
{
	struct job *j = arg;
	int fd = udpsock_fd(j->s);
	socklen_t len = sizeof(int);

	(void)l;
	j->dscp_v4 = j->tclass = j->rcvbuf = -1;
	getsockopt(fd, IPPROTO_IP, IP_TOS, &j->dscp_v4, &len);
	len = sizeof(int);
	getsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &j->tclass, &len);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &j->rcvbuf, &len);
	return 0;
}

static void job_init(struct job *j, struct udpsock *s, const char *bind,
                     const char *peer)
{
	char err[120];

	memset(j, 0, sizeof *j);
	j->s = s;
	udpsock_opts_init(&j->o);
	if (bind != NULL) {
		cr_assert_eq(
		        addr_parse(&j->bind, NULL, bind,
		                   ADDR_LISTEN | ADDR_PORT_ZERO | ADDR_NUMERIC,
		                   err, sizeof err),
		        0, "%s", err);
		j->o.bind = (struct sockaddr *)&j->bind;
	}
	if (peer != NULL) {
		cr_assert_eq(addr_parse(&j->peer, NULL, peer, ADDR_NUMERIC, err,
		                        sizeof err),
		             0, "%s", err);
		j->o.peer = (struct sockaddr *)&j->peer;
	}
}

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
	struct timespec gap = {0, gap_us * 1000};
	uint64_t w0 =
	        atomic_load_explicit(&rx.rx_wakeups, memory_order_relaxed);

	atomic_store(&got, 0);
	for (int i = 0; i < n; i++) {
		blaster_send(b, i);
		nanosleep(&gap, NULL);
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
	/* 2000 datagrams a second (at most: the sleeps may stretch), 20 per
	   interval: read on the timer, many at a time. */
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

static int do_coalesce_at(struct netloop *l, void *arg)
{
	(void)l;
	(void)arg;
	udpsock_set_coalesce(&rx, 4);
	udpsock_set_coalesce_at(&rx, grid_next, NULL, 2000000);
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
}
