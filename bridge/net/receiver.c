/*
 * receiver, net side: the socket, the SSRC table and the new-SSRC ring
 *
 * See receiver.h. The table and the socket belong to the net thread; the
 * control thread reaches them only through functions it runs there with
 * netloop_call_wait (install, refuse, sweep, open, close). The ring of new
 * SSRCs has one producer (the net thread) and one consumer (control).
 */
#include "bridge/net/receiver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/rtp.h"

#define RECEIVER_NEWQ 64 /* new-SSRC records in flight, power of two */

static void receiver__count(_Atomic uint64_t *c)
{
	/* Single writer (the net thread); readers want a number, not an
	   ordering with anything else. */
	atomic_store_explicit(c,
	                      atomic_load_explicit(c, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

int receiver_init(struct receiver *r, const struct receiver_opts *o)
{
	size_t slots = 8;
	int err;

	memset(r, 0, sizeof(*r));
	if (o->pt < 0 || o->pt > 127 || o->max_streams < 1 ||
	    o->max_streams > RECEIVER_MAX_STREAMS ||
	    o->nallow > RECEIVER_MAX_ALLOW || (o->nallow && !o->allow))
		return -EINVAL;
	r->o = *o;
	if (!r->o.max_datagram)
		r->o.max_datagram = PACKET_DEFAULT_BYTES;
	if (r->o.max_datagram > UDPSOCK_RX_MAX)
		r->o.max_datagram = UDPSOCK_RX_MAX;
	if (o->nallow)
		memcpy(r->allow, o->allow, o->nallow * sizeof(*o->allow));
	r->o.allow = r->allow;
	/* Room for every present entry plus refused ones at a load of at
	   most one half. */
	while (slots < 4u * o->max_streams)
		slots <<= 1;
	r->table = calloc(slots, sizeof(*r->table));
	r->sock = calloc(1, sizeof(*r->sock));
	r->newq_mem = malloc(
	        ring_storage_size(sizeof(struct receiver_new), RECEIVER_NEWQ));
	r->spares_mem = malloc(
	        ring_storage_size(sizeof(struct netstream *), RECEIVER_SPARES));
	err = -ENOMEM;
	if (!r->table || !r->sock || !r->newq_mem || !r->spares_mem)
		goto fail;
	r->mask = slots - 1;
	err = ring_init(&r->newq, r->newq_mem, sizeof(struct receiver_new),
	                RECEIVER_NEWQ);
	if (err < 0)
		goto fail;
	err = ring_init(&r->spares, r->spares_mem, sizeof(struct netstream *),
	                RECEIVER_SPARES);
	if (err < 0)
		goto fail;
	atomic_init(&r->closed, false);
	atomic_init(&r->last_rx_ns, 0);
	return 0;
fail:
	free(r->spares_mem);
	free(r->newq_mem);
	free(r->sock);
	free(r->table);
	memset(r, 0, sizeof(*r));
	return err;
}

void receiver_clear(struct receiver *r)
{
	if (!r->table)
		return;
	ring_clear(&r->newq);
	ring_clear(&r->spares);
	free(r->newq_mem);
	free(r->spares_mem);
	free(r->sock);
	free(r->table);
	memset(r, 0, sizeof(*r));
}

/* ---- the table (net thread) ---- */

static size_t receiver__hash(const struct receiver *r, uint32_t ssrc)
{
	/* SSRCs are random, but a flood may pick neighbours: mix them. */
	uint32_t h = ssrc * 0x9e3779b1u;
	return (size_t)(h ^ (h >> 16)) & r->mask;
}

static struct receiver_entry *receiver__find(struct receiver *r, uint32_t ssrc)
{
	size_t i = receiver__hash(r, ssrc);

	for (size_t n = 0; n <= r->mask; n++, i = (i + 1) & r->mask) {
		struct receiver_entry *e = &r->table[i];
		if (e->state == RECEIVER_EMPTY)
			return NULL;
		if (e->ssrc == ssrc)
			return e;
	}
	return NULL;
}

/* Return: a fresh slot for ssrc (not present), or NULL when full. */
static struct receiver_entry *receiver__insert(struct receiver *r,
                                               uint32_t ssrc)
{
	size_t i = receiver__hash(r, ssrc);

	for (size_t n = 0; n <= r->mask; n++, i = (i + 1) & r->mask) {
		struct receiver_entry *e = &r->table[i];
		if (e->state == RECEIVER_EMPTY) {
			e->ssrc = ssrc;
			return e;
		}
	}
	return NULL;
}

/* Backward-shift deletion keeps every probe chain unbroken. */
static void receiver__remove(struct receiver *r, struct receiver_entry *e)
{
	size_t i = (size_t)(e - r->table);
	size_t j = i;

	for (;;) {
		j = (j + 1) & r->mask;
		struct receiver_entry *f = &r->table[j];
		if (f->state == RECEIVER_EMPTY)
			break;
		size_t home = receiver__hash(r, f->ssrc);
		/* f may move to i if its home is not in (i, j]. */
		bool in_range = i <= j ? (home > i && home <= j)
		                       : (home > i || home <= j);
		if (!in_range) {
			r->table[i] = *f;
			i = j;
		}
	}
	memset(&r->table[i], 0, sizeof(r->table[i]));
}

void receiver_datagram(struct receiver *r, const uint8_t *data, size_t len,
                       const struct sockaddr *from, uint64_t rx_ns)
{
	struct rtp_header h;
	const uint8_t *payload;
	size_t plen;

	receiver__count(&r->c_datagrams);
	if (len > r->o.max_datagram) {
		receiver__count(&r->c_too_big);
		return;
	}
	if (!addr_allow_match(r->allow, r->o.nallow, from)) {
		receiver__count(&r->c_not_allowed);
		return;
	}
	if (r->o.srtp) {
		/* From here on `data` is the verified, decrypted packet. */
		int n = srtpctx_unprotect(r->o.srtp, data, len, &data);
		if (n < 0) {
			receiver__count(n == -EALREADY ? &r->c_replayed
			                               : &r->c_auth_failed);
			return;
		}
		len = (size_t)n;
	}
	if (rtp_parse(data, len, &h, &payload, &plen) < 0) {
		receiver__count(&r->c_malformed);
		return;
	}
	if (h.pt != r->o.pt) {
		receiver__count(&r->c_unknown_pt);
		return;
	}
	struct receiver_entry *e = receiver__find(r, h.ssrc);
	if (e) {
		e->last_ns = rx_ns;
		if (e->state == RECEIVER_ACTIVE) {
			if (netstream_receive(e->ns, data, len, rx_ns) < 0) {
				receiver__count(&r->c_stream_dropped);
				return;
			}
			receiver__count(&r->c_accepted);
			/* A lone timestamp for the idle check. */
			atomic_store_explicit(&r->last_rx_ns, rx_ns,
			                      memory_order_relaxed);
		} else if (e->state == RECEIVER_PENDING) {
			receiver__count(&r->c_pending);
		} else {
			receiver__count(&r->c_refused);
		}
		return;
	}
	if (r->present >= r->o.max_streams) {
		receiver__count(&r->c_over_max);
		return;
	}
	struct receiver_new *n = ring_write_begin(&r->newq);
	if (!n) {
		receiver__count(&r->c_notify_dropped);
		return;
	}
	e = receiver__insert(r, h.ssrc);
	if (!e) {
		receiver__count(&r->c_over_max);
		return;
	}
	struct netstream *ns = NULL;
	(void)ring_try_pop(&r->spares, &ns);
	e->state = ns ? RECEIVER_ACTIVE : RECEIVER_PENDING;
	e->last_ns = rx_ns;
	e->ns = ns;
	r->present++;
	memset(n, 0, sizeof(*n));
	n->ssrc = h.ssrc;
	n->pt = h.pt;
	n->rx_ns = rx_ns;
	n->ns = ns;
	socklen_t alen = addr_len(from);
	if (alen > 0 && alen <= sizeof(n->from))
		memcpy(&n->from, from, alen);
	ring_write_commit(&r->newq);
	if (r->o.notify)
		r->o.notify(r->o.notify_arg);
	receiver__count(&r->c_streams_seen);
	if (!ns) {
		receiver__count(&r->c_pending);
		return;
	}
	/* A spare took it: not even the first datagram is lost. */
	receiver__count(&r->c_spares_used);
	if (netstream_receive(ns, data, len, rx_ns) < 0) {
		receiver__count(&r->c_stream_dropped);
		return;
	}
	receiver__count(&r->c_accepted);
	atomic_store_explicit(&r->last_rx_ns, rx_ns, memory_order_relaxed);
}

/* ---- control-side calls, run on the net thread ---- */

static void receiver__on_recv(struct udpsock *s, const uint8_t *data,
                              size_t len, const struct sockaddr *from,
                              uint64_t rx_ns, void *user)
{
	(void)s;
	receiver_datagram(user, data, len, from, rx_ns);
}

static int receiver__open_fn(struct netloop *nl, void *arg)
{
	struct receiver *r = arg;
	struct udpsock_opts uo;

	udpsock_opts_init(&uo);
	uo.bind = (const struct sockaddr *)&r->o.listen;
	uo.rcvbuf = r->o.rcvbuf;
	uo.mcast_ifindex = r->o.mcast_ifindex;
	if (r->o.mcast_source.ss_family != 0)
		uo.mcast_source = (const struct sockaddr *)&r->o.mcast_source;
	uo.on_recv = receiver__on_recv;
	uo.user = r;
	int rc = udpsock_open(r->sock, nl, &uo);
	if (rc < 0)
		snprintf(r->err, sizeof(r->err), "%s", udpsock_error(r->sock));
	return rc;
}

static void receiver__closed(struct udpsock *s, void *user)
{
	struct receiver *r = user;

	(void)s;
	/* Release: the net thread is done with the socket and the table
	   entries' streams; pairs with the acquire in receiver_close. */
	atomic_store_explicit(&r->closed, true, memory_order_release);
}

static int receiver__close_fn(struct netloop *nl, void *arg)
{
	struct receiver *r = arg;

	(void)nl;
	r->sock->user = r;
	udpsock_close(r->sock, receiver__closed);
	return 0;
}

int receiver_open(struct receiver *r, struct netloop *nl)
{
	r->nl = nl;
	r->err[0] = '\0';
	r->opened = true;
	int rc = netloop_call_wait(nl, receiver__open_fn, r);
	if (rc < 0 && !r->err[0])
		snprintf(r->err, sizeof(r->err), "net thread: %s",
		         strerror(-rc));
	return rc;
}

void receiver_close(struct receiver *r)
{
	const struct timespec ms = {0, 1000000L};

	if (!r->opened)
		return;
	r->opened = false;
	if (netloop_call_wait(r->nl, receiver__close_fn, r) < 0)
		return; /* the loop is gone: netloop_stop closed the socket */
	/* Acquire pairs with the release in the close callback. */
	for (int i = 0; i < 2000 &&
	                !atomic_load_explicit(&r->closed, memory_order_acquire);
	     i++)
		nanosleep(&ms, NULL);
}

const char *receiver_error(const struct receiver *r)
{
	return r->err;
}

static int receiver__port_fn(struct netloop *nl, void *arg)
{
	struct receiver *r = arg;
	struct sockaddr_storage ss;

	(void)nl;
	if (udpsock_local(r->sock, &ss) < 0)
		return 0;
	return addr_port((const struct sockaddr *)&ss);
}

unsigned receiver_port(struct receiver *r)
{
	int p = netloop_call_wait(r->nl, receiver__port_fn, r);
	return p > 0 ? (unsigned)p : 0;
}

bool receiver_poll_new(struct receiver *r, struct receiver_new *out)
{
	return ring_try_pop(&r->newq, out);
}

struct receiver__call {
	struct receiver *r;
	uint32_t ssrc;
	struct netstream *ns;
	uint64_t idle_ns;
	struct receiver_gone *out;
	size_t cap;
};

static int receiver__install_fn(struct netloop *nl, void *arg)
{
	struct receiver__call *c = arg;
	struct receiver_entry *e = receiver__find(c->r, c->ssrc);

	(void)nl;
	if (!e || e->state != RECEIVER_PENDING)
		return -ENOENT;
	e->ns = c->ns;
	e->state = RECEIVER_ACTIVE;
	return 0;
}

static int receiver__refuse_fn(struct netloop *nl, void *arg)
{
	struct receiver__call *c = arg;
	struct receiver_entry *e = receiver__find(c->r, c->ssrc);

	(void)nl;
	if (!e)
		return -ENOENT;
	if (e->state == RECEIVER_PENDING || e->state == RECEIVER_ACTIVE)
		c->r->present--;
	e->state = RECEIVER_REFUSED;
	e->ns = NULL;
	return 0;
}

int receiver_install(struct receiver *r, uint32_t ssrc, struct netstream *ns)
{
	struct receiver__call c = {.r = r, .ssrc = ssrc, .ns = ns};

	return netloop_call_wait(r->nl, receiver__install_fn, &c);
}

void receiver_refuse(struct receiver *r, uint32_t ssrc)
{
	struct receiver__call c = {.r = r, .ssrc = ssrc};

	(void)netloop_call_wait(r->nl, receiver__refuse_fn, &c);
}

int receiver_give_spare(struct receiver *r, struct netstream *ns)
{
	/* The ring's release/acquire hands the initialised stream over to
	   the net thread (ring.h). */
	return ring_try_push(&r->spares, &ns) ? 0 : -ENOBUFS;
}

struct netstream *receiver_reclaim_spare(struct receiver *r)
{
	struct netstream *ns = NULL;

	/* The net thread is gone (receiver_close waited for it): control
	   may consume now. */
	return ring_try_pop(&r->spares, &ns) ? ns : NULL;
}

static int receiver__sweep_fn(struct netloop *nl, void *arg)
{
	struct receiver__call *c = arg;
	struct receiver *r = c->r;
	uint64_t now = netloop_now_ns();
	int n = 0;

	(void)nl;
	/* Removal shifts later entries back, so restart the scan at the
	   same index after each one; the bound covers every slot twice. */
	size_t i = 0;
	for (size_t guard = 0; i <= r->mask && guard < 4 * (r->mask + 1);
	     guard++) {
		struct receiver_entry *e = &r->table[i];
		bool idle = e->state != RECEIVER_EMPTY &&
		            (c->idle_ns == 0 || now - e->last_ns >= c->idle_ns);
		if (!idle || (e->ns && (size_t)n >= c->cap)) {
			i++;
			continue;
		}
		if (e->ns) {
			c->out[n].ssrc = e->ssrc;
			c->out[n].ns = e->ns;
			n++;
		}
		if (e->state == RECEIVER_PENDING || e->state == RECEIVER_ACTIVE)
			r->present--;
		receiver__remove(r, e);
	}
	return n;
}

int receiver_sweep(struct receiver *r, uint64_t idle_ns,
                   struct receiver_gone *out, size_t cap)
{
	struct receiver__call c = {
	        .r = r, .idle_ns = idle_ns, .out = out, .cap = cap};

	return netloop_call_wait(r->nl, receiver__sweep_fn, &c);
}

void receiver_counters(const struct receiver *r, struct receiver_counters *c)
{
	c->datagrams =
	        atomic_load_explicit(&r->c_datagrams, memory_order_relaxed);
	c->accepted =
	        atomic_load_explicit(&r->c_accepted, memory_order_relaxed);
	c->malformed =
	        atomic_load_explicit(&r->c_malformed, memory_order_relaxed);
	c->too_big = atomic_load_explicit(&r->c_too_big, memory_order_relaxed);
	c->unknown_pt =
	        atomic_load_explicit(&r->c_unknown_pt, memory_order_relaxed);
	c->not_allowed =
	        atomic_load_explicit(&r->c_not_allowed, memory_order_relaxed);
	c->over_max_streams =
	        atomic_load_explicit(&r->c_over_max, memory_order_relaxed);
	c->pending = atomic_load_explicit(&r->c_pending, memory_order_relaxed);
	c->refused = atomic_load_explicit(&r->c_refused, memory_order_relaxed);
	c->stream_dropped = atomic_load_explicit(&r->c_stream_dropped,
	                                         memory_order_relaxed);
	c->streams_seen =
	        atomic_load_explicit(&r->c_streams_seen, memory_order_relaxed);
	c->notify_dropped = atomic_load_explicit(&r->c_notify_dropped,
	                                         memory_order_relaxed);
	c->spares_used =
	        atomic_load_explicit(&r->c_spares_used, memory_order_relaxed);
	c->auth_failed =
	        atomic_load_explicit(&r->c_auth_failed, memory_order_relaxed);
	c->replayed =
	        atomic_load_explicit(&r->c_replayed, memory_order_relaxed);
}

uint64_t receiver_last_rx_ns(const struct receiver *r)
{
	return atomic_load_explicit(&r->last_rx_ns, memory_order_relaxed);
}
