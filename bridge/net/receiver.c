/*
 * receiver: set-up, the socket, and the control thread's calls (see
 * receiver.h; the datagram path is in receiver_rx.c)
 *
 * The table and the socket belong to the net thread; the control thread
 * reaches them only through functions it runs there with
 * netloop_call_wait (install, refuse, sweep, open, close). The ring of
 * new streams has one producer (the net thread) and one consumer
 * (control); the ring of spare streams the reverse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/net/receiver_impl.h"

#define RECEIVER_NEWQ 64 /* new-stream records in flight, power of two */

int receiver_init(struct receiver *r, const struct receiver_opts *o)
{
	size_t slots = 8;
	int err;

	memset(r, 0, sizeof(*r));
	if (o->pt < 0 || o->pt > 127 || o->max_streams < 1 ||
	    o->max_streams > RECEIVER_MAX_STREAMS ||
	    o->nallow > RECEIVER_MAX_ALLOW || (o->nallow && !o->allow) ||
	    o->min_sequential > RECEIVER_MAX_PROBATION ||
	    (o->red && (o->red_pt > 127 || o->red_pt == o->pt)) ||
	    (o->ulpfec && (o->ulpfec_pt > 127 || o->ulpfec_pt == o->pt ||
	                   (o->red && o->ulpfec_pt == o->red_pt))))
		return -EINVAL;
	r->o = *o;
	if (!r->o.max_datagram)
		r->o.max_datagram = PACKET_DEFAULT_BYTES;
	if (r->o.max_datagram > UDPSOCK_RX_MAX)
		r->o.max_datagram = UDPSOCK_RX_MAX;
	if (!r->o.min_sequential)
		r->o.min_sequential = 2;
	if (!r->o.supersede_ms)
		r->o.supersede_ms = RECEIVER_SUPERSEDE_MS;
	if (o->nallow)
		memcpy(r->allow, o->allow, o->nallow * sizeof(*o->allow));
	r->o.allow = r->allow;
	/* Room for every stream (pending, active or refused) and every
	   source on probation at a load of at most one half. */
	while (slots < 2u * (o->max_streams + RECEIVER_PROBATION_SLOTS))
		slots <<= 1;
	r->table = calloc(slots, sizeof(*r->table));
	r->sock = calloc(1, sizeof(*r->sock));
	r->newq_mem = malloc(
	        ring_storage_size(sizeof(struct receiver_new), RECEIVER_NEWQ));
	r->spares_mem = malloc(
	        ring_storage_size(sizeof(struct netstream *), RECEIVER_SPARES));
	/* Taken-over streams wait here for the next sweep; each one left a
	   place among max_streams. */
	r->ended_cap = o->max_streams + RECEIVER_SPARES;
	r->ended = calloc(r->ended_cap, sizeof(*r->ended));
	err = -ENOMEM;
	if (!r->table || !r->sock || !r->newq_mem || !r->spares_mem ||
	    !r->ended)
		goto fail;
	r->mask = slots - 1;
	err = srcval_init(&r->sv, RECEIVER_PROBATION_SLOTS,
	                  RECEIVER_HOLD_DGRAMS, r->o.max_datagram,
	                  r->o.min_sequential);
	if (err < 0)
		goto fail;
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
	atomic_init(&r->sweep_at, UINT64_MAX);
	return 0;
fail:
	srcval_clear(&r->sv);
	free(r->ended);
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
	srcval_clear(&r->sv);
	free(r->ended);
	free(r->newq_mem);
	free(r->spares_mem);
	free(r->sock);
	free(r->table);
	memset(r, 0, sizeof(*r));
}

/* ---- control-side calls, run on the net thread ---- */

/*
 * How long the socket may hold datagrams back: a quarter of the least
 * slack among the streams (target minus delay spread: how long the
 * latest of the usual packets waits in the buffer before it plays), less
 * the millisecond a libuv timer may fire late, at most coalesce_max_ms;
 * 0 without streams or while one is not playing yet (no target to go
 * by). Looked at
 * every RECEIVER_COALESCE_EVERY_NS of arrivals, from the statistics the
 * audio thread publishes.
 */
static void receiver__coalesce(struct receiver *r, uint64_t now)
{
	double ms = r->o.coalesce_max_ms + 1.0;
	bool any = false;

	if (!r->o.coalesce_max_ms || now < r->coalesce_next_ns)
		return;
	r->coalesce_next_ns = now + RECEIVER_COALESCE_EVERY_NS;
	for (size_t i = 0; i <= r->mask && ms > 0.0; i++) {
		struct receiver_entry *e = &r->table[i];
		struct netstream_stats st;
		if (e->state != RECEIVER_ACTIVE || e->ns == NULL)
			continue;
		any = true;
		if (netstream_stats(e->ns, &st) < 0 || !(st.target_ms > 0.0)) {
			ms = 0.0;
			break;
		}
		double q = (st.target_ms - st.spread_ms) / 4.0;
		if (q < ms)
			ms = q;
	}
	udpsock_set_coalesce(r->sock,
	                     any && ms >= 2.0 ? (unsigned)ms - 1u : 0u);
}

/*
 * The earliest time a sweep with the idle time o.idle_ns finds something:
 * `now` when one would already (a stream the net thread ended, an entry
 * silent long enough), else the first time an entry goes silent for the
 * idle time (a superseded stream: for supersede_ms, if shorter) or an
 * ACTIVE entry's challenger does, as receiver__sweep_fn decides;
 * UINT64_MAX with an empty table. Entries only get fresher while
 * datagrams come, so the time can only move later, except where the
 * datagram path says otherwise (look_next_ns = 0: a stream superseded or
 * ended).
 */
static uint64_t receiver__next_end(const struct receiver *r, uint64_t now)
{
	const uint64_t idle = r->o.idle_ns;
	const uint64_t sup = r->o.supersede_ms * 1000000ull;
	uint64_t at = r->nended ? now : UINT64_MAX;

	for (size_t i = 0; i <= r->mask && at > now; i++) {
		const struct receiver_entry *e = &r->table[i];
		if (e->state == RECEIVER_EMPTY)
			continue;
		uint64_t t = e->last_ns + idle;
		if (e->superseded && e->last_ns + sup < t)
			t = e->last_ns + sup;
		if (e->state == RECEIVER_ACTIVE && e->hold >= 0 &&
		    r->sv.e[e->hold].last_ns + idle < t)
			t = r->sv.e[e->hold].last_ns + idle;
		if (t < at)
			at = t;
	}
	return at < now ? now : at;
}

void receiver__look(struct receiver *r, uint64_t now)
{
	if (!r->o.idle_ns)
		return;
	r->look_next_ns = now + RECEIVER_LOOK_EVERY_NS;
	uint64_t at = receiver__next_end(r, now);
	/* Relaxed: a time, not a publication (the sweep itself runs here,
	   on the net thread, synchronously). */
	atomic_store_explicit(&r->sweep_at, at, memory_order_relaxed);
	if (at > now) {
		r->sweep_poked = false;
	} else if (!r->sweep_poked) {
		r->sweep_poked = true;
		if (r->o.notify)
			r->o.notify(r->o.notify_arg);
	}
}

uint64_t receiver_sweep_at(const struct receiver *r)
{
	return atomic_load_explicit(&r->sweep_at, memory_order_relaxed);
}

static void receiver__on_recv(struct udpsock *s, const uint8_t *data,
                              size_t len, const struct sockaddr *from,
                              uint64_t rx_ns, void *user)
{
	struct receiver *r = user;

	(void)s;
	receiver_datagram(r, data, len, from, rx_ns);
	receiver__coalesce(r, rx_ns);
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
	else if (r->o.consumer_next)
		udpsock_set_coalesce_at(r->sock, r->o.consumer_next,
		                        r->o.consumer_plan, r->o.consumer_arg,
		                        RECEIVER_LEAD_NS);
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

/* Sources that never became streams are forgotten: probation failed,
   datagrams held while pending or by a challenger counted where they
   belong. */
static void receiver__forget_holds(struct receiver *r)
{
	for (size_t i = 0; i <= r->mask; i++) {
		struct receiver_entry *e = &r->table[i];
		if (e->hold < 0 || e->state == RECEIVER_EMPTY)
			continue;
		if (e->state == RECEIVER_PROBATION) {
			receiver__release_hold(r, e->hold,
			                       &r->c_probation_dropped);
			receiver__add(&r->c_probation_failed, 1);
		} else if (e->state == RECEIVER_PENDING) {
			receiver__release_hold(r, e->hold, &r->c_pending);
		} else {
			receiver__release_hold(r, e->hold, &r->c_conflicts);
		}
		e->hold = -1;
	}
}

static int receiver__close_fn(struct netloop *nl, void *arg)
{
	struct receiver *r = arg;

	(void)nl;
	/* What arrived before the close reaches its stream (the last
	   packets of a session that ended): read it before the socket
	   goes. */
	(void)udpsock_read_pending(r->sock);
	receiver__forget_holds(r);
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
	const struct receiver_new *n;
	struct netstream *ns;
	uint64_t idle_ns;
	struct receiver_gone *out;
	size_t cap;
};

/* The entry of the stream a record announced, or NULL when it is gone. */
static struct receiver_entry *receiver__of(struct receiver *r,
                                           const struct receiver_new *n)
{
	struct receiver_entry *e = receiver__find(r, n->ssrc);

	return e && e->id == n->id ? e : NULL;
}

static int receiver__install_fn(struct netloop *nl, void *arg)
{
	struct receiver__call *c = arg;
	struct receiver_entry *e = receiver__of(c->r, c->n);

	(void)nl;
	if (!e || e->state != RECEIVER_PENDING)
		return -ENOENT;
	receiver__activate(c->r, e, c->ns);
	return 0;
}

static int receiver__refuse_fn(struct netloop *nl, void *arg)
{
	struct receiver__call *c = arg;
	struct receiver *r = c->r;
	struct receiver_entry *e = receiver__of(r, c->n);

	(void)nl;
	if (!e)
		return -ENOENT;
	if (e->hold >= 0)
		receiver__release_hold(r, e->hold,
		                       e->state == RECEIVER_PENDING
		                               ? &r->c_refused
		                               : &r->c_conflicts);
	e->hold = -1;
	e->state = RECEIVER_REFUSED;
	e->ns = NULL;
	return 0;
}

int receiver_install(struct receiver *r, const struct receiver_new *n,
                     struct netstream *ns)
{
	struct receiver__call c = {.r = r, .n = n, .ns = ns};

	return netloop_call_wait(r->nl, receiver__install_fn, &c);
}

int receiver_refuse(struct receiver *r, const struct receiver_new *n)
{
	struct receiver__call c = {.r = r, .n = n};

	return netloop_call_wait(r->nl, receiver__refuse_fn, &c);
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

/* Why an entry silent since last_ns leaves at `now`, or 0 when it stays. */
static enum receiver_end receiver__ending(const struct receiver *r,
                                          const struct receiver_entry *e,
                                          uint64_t now, uint64_t idle_ns)
{
	uint64_t silent = now - e->last_ns;
	uint64_t superseded = r->o.supersede_ms * 1000000ull;

	if (idle_ns == 0)
		return RECEIVER_END_CLOSED;
	if (silent >= idle_ns)
		return RECEIVER_END_IDLE;
	if (e->superseded && silent >= superseded)
		return RECEIVER_END_SUPERSEDED;
	return 0;
}

static int receiver__sweep_fn(struct netloop *nl, void *arg)
{
	struct receiver__call *c = arg;
	struct receiver *r = c->r;
	uint64_t now = netloop_now_ns();
	int n = 0;

	(void)nl;
	/* Streams the net thread ended first, oldest first. */
	unsigned k = 0;
	while (k < r->nended && (size_t)n < c->cap)
		c->out[n++] = r->ended[k++];
	memmove(r->ended, r->ended + k, (r->nended - k) * sizeof(*r->ended));
	r->nended -= k;
	/* Removal shifts later entries back, so restart the scan at the
	   same index after each one; the bound covers every slot twice. */
	size_t i = 0;
	for (size_t guard = 0; i <= r->mask && guard < 4 * (r->mask + 1);
	     guard++) {
		struct receiver_entry *e = &r->table[i];
		if (e->state == RECEIVER_EMPTY) {
			i++;
			continue;
		}
		/* A challenger that went quiet: a stray, not a takeover. */
		if (e->state == RECEIVER_ACTIVE && e->hold >= 0 &&
		    (c->idle_ns == 0 ||
		     now - r->sv.e[e->hold].last_ns >= c->idle_ns))
			receiver__drop_challenger(r, e);
		enum receiver_end why = receiver__ending(r, e, now, c->idle_ns);
		if (!why || (e->ns && (size_t)n >= c->cap)) {
			i++;
			continue;
		}
		if (e->state == RECEIVER_PROBATION) {
			receiver__fail_probation(r, e);
			continue;
		}
		if (e->ns) {
			c->out[n++] = (struct receiver_gone){
			        .ssrc = e->ssrc,
			        .id = e->id,
			        .ns = e->ns,
			        .why = why,
			        .last_ns = e->last_ns,
			};
			if (why == RECEIVER_END_SUPERSEDED)
				receiver__add(&r->c_superseded, 1);
		}
		if (e->hold >= 0) /* PENDING: its datagrams never played */
			receiver__release_hold(r, e->hold, &r->c_pending);
		r->present--;
		receiver__remove(r, e);
	}
	receiver__look(r, now);
	return n;
}

int receiver_sweep(struct receiver *r, uint64_t idle_ns,
                   struct receiver_gone *out, size_t cap)
{
	struct receiver__call c = {
	        .r = r, .idle_ns = idle_ns, .out = out, .cap = cap};

	return netloop_call_wait(r->nl, receiver__sweep_fn, &c);
}

#define RECEIVER_LOAD(x) atomic_load_explicit(&r->x, memory_order_relaxed)

void receiver_counters(const struct receiver *r, struct receiver_counters *c)
{
	c->datagrams = RECEIVER_LOAD(c_datagrams);
	c->accepted = RECEIVER_LOAD(c_accepted);
	c->malformed = RECEIVER_LOAD(c_malformed);
	c->too_big = RECEIVER_LOAD(c_too_big);
	c->unknown_pt = RECEIVER_LOAD(c_unknown_pt);
	c->not_allowed = RECEIVER_LOAD(c_not_allowed);
	c->over_max_streams = RECEIVER_LOAD(c_over_max);
	c->pending = RECEIVER_LOAD(c_pending);
	c->refused = RECEIVER_LOAD(c_refused);
	c->stream_dropped = RECEIVER_LOAD(c_stream_dropped);
	c->notify_dropped = RECEIVER_LOAD(c_notify_dropped);
	c->probation_dropped = RECEIVER_LOAD(c_probation_dropped);
	c->ssrc_conflicts = RECEIVER_LOAD(c_conflicts);
	c->held = RECEIVER_LOAD(c_held);
	c->streams_seen = RECEIVER_LOAD(c_streams_seen);
	c->spares_used = RECEIVER_LOAD(c_spares_used);
	c->probation_failed = RECEIVER_LOAD(c_probation_failed);
	c->probation_evicted = RECEIVER_LOAD(c_probation_evicted);
	c->takeovers = RECEIVER_LOAD(c_takeovers);
	c->superseded = RECEIVER_LOAD(c_superseded);
	c->on_probation = RECEIVER_LOAD(c_on_probation);
	c->auth_failed = RECEIVER_LOAD(c_auth_failed);
	c->replayed = RECEIVER_LOAD(c_replayed);
}

uint64_t receiver_last_rx_ns(const struct receiver *r)
{
	return atomic_load_explicit(&r->last_rx_ns, memory_order_relaxed);
}
