/*
 * The net thread: start/stop, calls run on the net thread in posting order
 * (one and several producers), synchronous calls, stop with calls still
 * pending and with sockets still open, calls refused after stop.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "bridge/net/addr.h"
#include "bridge/net/netloop.h"
#include "bridge/net/udpsock.h"
#include "tests/threadname.h"

TestSuite(netloop, .timeout = 60);

#if defined(__SANITIZE_THREAD__)
#define SCALE 4
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SCALE 4
#endif
#endif
#ifndef SCALE
#define SCALE 1
#endif

static int nothing(struct netloop *nl, void *arg)
{
	(void)nl;
	(void)arg;
	return 0;
}

Test(netloop, starts_and_stops_cleanly_twice)
{
	struct netloop nl;

	cr_assert_eq(netloop_start(&nl, 64), 0);
	cr_assert_not(netloop_on_thread(&nl));
	cr_assert_eq(netloop_call_wait(&nl, nothing, NULL), 0);
	cr_assert(threadname_exists("rtb-net"), "the net thread is named");
	netloop_stop(&nl);
	netloop_stop(&nl);
	cr_assert_eq(netloop_start(&nl, 64), 0);
	cr_assert_eq(netloop_call_wait(&nl, nothing, NULL), 0);
	netloop_stop(&nl);
}

Test(netloop, rejects_bad_capacity)
{
	struct netloop nl;

	cr_assert_eq(netloop_start(&nl, 100), -EINVAL);
	netloop_stop(&nl);
	cr_assert_eq(netloop_call(&nl, nothing, NULL), -ECANCELED);
}

/* Log of calls, appended to on the net thread only. */
#define LOG_MAX 200000
static int log_vals[LOG_MAX];
static size_t log_len;
static _Atomic int off_thread;

static int append(struct netloop *nl, void *arg)
{
	if (!netloop_on_thread(nl))
		atomic_fetch_add_explicit(&off_thread, 1, memory_order_relaxed);
	if (log_len < LOG_MAX)
		log_vals[log_len++] = (int)(intptr_t)arg;
	return 0;
}

static int get_len(struct netloop *nl, void *arg)
{
	(void)nl;
	*(size_t *)arg = log_len;
	return 7;
}

Test(netloop, calls_run_on_the_net_thread_in_order)
{
	struct netloop nl;
	size_t len = 0;
	int i, n = 5000 / SCALE;

	log_len = 0;
	atomic_store(&off_thread, 0);
	cr_assert_eq(netloop_start(&nl, 1024), 0);
	for (i = 0; i < n; i++) {
		int rc;
		int tries = 0;
		while ((rc = netloop_call(&nl, append, (void *)(intptr_t)i)) ==
		               -EAGAIN &&
		       tries++ < 100000)
			sched_yield();
		cr_assert_eq(rc, 0);
	}
	/* The synchronous call is queued behind all of them. */
	cr_assert_eq(netloop_call_wait(&nl, get_len, &len), 7);
	cr_assert_eq(len, (size_t)n);
	for (i = 0; i < n; i++)
		cr_assert_eq(log_vals[i], i);
	cr_assert_eq(atomic_load(&off_thread), 0);
	netloop_stop(&nl);
}

#define PRODUCERS 4
struct producer {
	struct netloop *nl;
	int id;
	int n;
	int refused;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	int i;

	for (i = 0; i < p->n; i++) {
		int v = p->id << 20 | i;
		int rc, tries = 0;
		while ((rc = netloop_call(p->nl, append,
		                          (void *)(intptr_t)v)) == -EAGAIN &&
		       tries++ < 1000000)
			sched_yield();
		if (rc != 0)
			p->refused++;
	}
	return NULL;
}

Test(netloop, several_producers_keep_their_own_order)
{
	struct netloop nl;
	struct producer prod[PRODUCERS];
	pthread_t th[PRODUCERS];
	int next[PRODUCERS] = {0};
	size_t i, len = 0;
	int k;

	log_len = 0;
	cr_assert_eq(netloop_start(&nl, 256), 0);
	for (k = 0; k < PRODUCERS; k++) {
		prod[k] = (struct producer){&nl, k, 20000 / SCALE, 0};
		cr_assert_eq(pthread_create(&th[k], NULL, produce, &prod[k]),
		             0);
	}
	for (k = 0; k < PRODUCERS; k++) {
		pthread_join(th[k], NULL);
		cr_assert_eq(prod[k].refused, 0);
	}
	cr_assert_eq(netloop_call_wait(&nl, get_len, &len), 7);
	cr_assert_eq(len, (size_t)PRODUCERS * (20000 / SCALE));
	for (i = 0; i < len; i++) {
		int id = log_vals[i] >> 20, seq = log_vals[i] & 0xfffff;
		cr_assert_eq(seq, next[id], "producer %d out of order", id);
		next[id]++;
	}
	netloop_stop(&nl);
}

Test(netloop, stop_runs_every_pending_call_then_refuses_new_ones)
{
	struct netloop nl;
	int i, posted = 0;

	log_len = 0;
	cr_assert_eq(netloop_start(&nl, 4096), 0);
	for (i = 0; i < 4000; i++)
		if (netloop_call(&nl, append, (void *)(intptr_t)i) == 0)
			posted++;
	netloop_stop(&nl);
	/* The thread is joined: its writes are visible. */
	cr_assert_eq(log_len, (size_t)posted);
	cr_assert_eq(posted, 4000);
	cr_assert_eq(atomic_load_explicit(&nl.calls_run, memory_order_relaxed),
	             4000u);
	cr_assert_eq(netloop_call(&nl, append, NULL), -ECANCELED);
	cr_assert_eq(netloop_call_wait(&nl, append, NULL), -ECANCELED);
}

static int failing(struct netloop *nl, void *arg)
{
	(void)nl;
	(void)arg;
	return -EIO;
}

static int nested(struct netloop *nl, void *arg)
{
	/* A synchronous call made on the net thread runs inline. */
	return netloop_call_wait(nl, get_len, arg) + 1;
}

Test(netloop, sync_call_returns_result_and_failures_are_counted)
{
	struct netloop nl;
	size_t len;

	log_len = 0;
	cr_assert_eq(netloop_start(&nl, 16), 0);
	cr_assert_eq(netloop_call_wait(&nl, failing, NULL), -EIO);
	cr_assert_eq(netloop_call(&nl, failing, NULL), 0);
	cr_assert_eq(netloop_call_wait(&nl, nested, &len), 8);
	cr_assert_eq(
	        atomic_load_explicit(&nl.calls_failed, memory_order_relaxed),
	        1u);
	netloop_stop(&nl);
}

static struct udpsock sock;

static void on_dgram(struct udpsock *s, const uint8_t *d, size_t n,
                     const struct sockaddr *from, uint64_t t, void *u)
{
	(void)s, (void)d, (void)n, (void)from, (void)t, (void)u;
}

static int open_sock(struct netloop *nl, void *arg)
{
	struct sockaddr_storage a;
	struct udpsock_opts o;

	(void)arg;
	cr_assert_eq(addr_parse(&a, NULL, "127.0.0.1:0",
	                        ADDR_LISTEN | ADDR_PORT_ZERO, NULL, 0),
	             0);
	udpsock_opts_init(&o);
	o.bind = (struct sockaddr *)&a;
	o.on_recv = on_dgram;
	return udpsock_open(&sock, nl, &o);
}

static int sock_fd(struct netloop *nl, void *arg)
{
	(void)nl;
	(void)arg;
	return udpsock_fd(&sock);
}

Test(netloop, stop_closes_sockets_left_open)
{
	struct netloop nl;
	int fd;

	cr_assert_eq(netloop_start(&nl, 16), 0);
	cr_assert_eq(netloop_call_wait(&nl, open_sock, NULL), 0, "%s",
	             udpsock_error(&sock));
	fd = netloop_call_wait(&nl, sock_fd, NULL);
	cr_assert_geq(fd, 0);
	netloop_stop(&nl);
	cr_assert_not(sock.open);
	/* The descriptor is gone. */
	cr_assert_eq(fcntl(fd, F_GETFD), -1);
}
