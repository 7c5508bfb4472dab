/*
 * The net thread and the sockets of the udpsock tests (test_udpsock.c,
 * test_udpsock_rx.c): .init = setup starts a net loop, .fini = teardown
 * stops it; a receiving socket `rx` whose datagrams on_dgram records (its
 * length, first byte, date, read time, source; `got` publishes them),
 * and jobs that open, close, send and read options on the net thread
 * through netloop_call_wait, so the test thread never touches net-thread
 * state without a happens-before edge.
 */
#ifndef RTB_TESTS_UDPSOCK_FIXTURE_H
#define RTB_TESTS_UDPSOCK_FIXTURE_H

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

static struct netloop nl;

static inline void setup(void)
{
	cr_assert_eq(netloop_start(&nl, 64), 0);
}

static inline void teardown(void)
{
	netloop_stop(&nl);
}

/* Receiver state, written on the net thread; `got` publishes the rest. */
#define RX_MAX 256
static struct udpsock rx;
static _Atomic int got;
static size_t rx_len[RX_MAX];
static uint8_t rx_first[RX_MAX];
static uint64_t rx_ns[RX_MAX];
static uint64_t rx_read_ns[RX_MAX]; /* when the owner got it */
static int rx_foreign_buf;
static struct sockaddr_storage rx_from;

static inline void on_dgram(struct udpsock *s, const uint8_t *d, size_t n,
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
static inline int wait_for(int n, int ms)
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

static inline int wait_closed(int ms)
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

static inline int do_open(struct netloop *l, void *arg)
{
	struct job *j = arg;
	j->rc = udpsock_open(j->s, l, &j->o);
	if (j->rc == 0)
		udpsock_local(j->s, &j->local);
	return j->rc;
}

static inline void on_closed(struct udpsock *s, void *user)
{
	(void)s, (void)user;
	/* Release: the handle is gone, the struct may be reused. */
	atomic_store_explicit(&closed, 1, memory_order_release);
}

static inline int start_close(struct netloop *l, void *arg)
{
	(void)l;
	udpsock_close(arg, on_closed);
	return 0;
}

/* Close and wait for the close callback: only then may the struct be
 * opened again (libuv finishes closing at the end of a loop turn). */
static inline int do_close(struct netloop *l, void *arg)
{
	atomic_store_explicit(&closed, 0, memory_order_relaxed);
	netloop_call_wait(l, start_close, arg);
	return wait_closed(2000);
}

static inline void close_sock(struct udpsock *s)
{
	cr_assert_eq(do_close(&nl, s), 0, "close callback ran");
}

static inline int do_send(struct netloop *l, void *arg)
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

static inline int do_sockopts(struct netloop *l, void *arg)
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

static inline void job_init(struct job *j, struct udpsock *s, const char *bind,
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

#endif
