/*
 * receiver, the datagram path: the SSRC table, probation, validation and
 * takeover (see receiver.h for the states and rules)
 *
 * Everything here runs on the net thread, for every datagram, in memory
 * receiver_init allocated: no allocation, no lock, no system call. The
 * work per datagram is bounded by the fixed sizes: a probe of the table,
 * a scan of the probation table when a new source needs an entry, a
 * scan of the table when a source becomes valid.
 *
 * Table entries move when another is removed (backward-shift deletion),
 * and a probation step may evict another source's entry: after any call
 * that may evict, an entry is found again by its SSRC, never kept by
 * pointer.
 */
#include <errno.h>
#include <string.h>

#include "bridge/net/receiver_impl.h"
#include "codec/rtp.h"

static size_t receiver__hash(const struct receiver *r, uint32_t ssrc)
{
	/* SSRCs are random, but a flood may pick neighbours: mix them. */
	uint32_t h = ssrc * 0x9e3779b1u;
	return (size_t)(h ^ (h >> 16)) & r->mask;
}

struct receiver_entry *receiver__find(struct receiver *r, uint32_t ssrc)
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
			memset(e, 0, sizeof(*e));
			e->ssrc = ssrc;
			e->hold = -1;
			return e;
		}
	}
	return NULL;
}

void receiver__remove(struct receiver *r, struct receiver_entry *e)
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

void receiver__release_hold(struct receiver *r, int i, _Atomic uint64_t *c)
{
	bool probation =
	        r->sv.e[i].kind == SRCVAL_PROBATION && !r->sv.e[i].challenger;
	unsigned n = srcval_release(&r->sv, i);

	receiver__sub(&r->c_held, n);
	receiver__add(c, n);
	if (probation)
		receiver__sub(&r->c_on_probation, 1);
}

void receiver__fail_probation(struct receiver *r, struct receiver_entry *e)
{
	receiver__release_hold(r, e->hold, &r->c_probation_dropped);
	receiver__add(&r->c_probation_failed, 1);
	receiver__remove(r, e);
}

void receiver__drop_challenger(struct receiver *r, struct receiver_entry *e)
{
	receiver__release_hold(r, e->hold, &r->c_conflicts);
	e->hold = -1;
}

/* Bring the table up to date after srcval evicted a source. */
static void receiver__evicted(struct receiver *r,
                              const struct srcval_evicted *ev)
{
	if (!ev->any)
		return;
	receiver__sub(&r->c_held, ev->dropped);
	struct receiver_entry *e = receiver__find(r, ev->ssrc);
	if (ev->challenger) {
		receiver__add(&r->c_conflicts, ev->dropped);
		if (e && e->state == RECEIVER_ACTIVE)
			e->hold = -1;
		return;
	}
	receiver__add(&r->c_probation_dropped, ev->dropped);
	receiver__add(&r->c_probation_failed, 1);
	receiver__add(&r->c_probation_evicted, 1);
	receiver__sub(&r->c_on_probation, 1);
	if (e && e->state == RECEIVER_PROBATION)
		receiver__remove(r, e);
}

void receiver__deliver(struct receiver *r, struct netstream *ns,
                       const uint8_t *data, size_t len, uint64_t rx_ns)
{
	if (netstream_receive(ns, data, len, rx_ns) < 0) {
		receiver__add(&r->c_stream_dropped, 1);
		return;
	}
	receiver__add(&r->c_accepted, 1);
	/* A lone timestamp for the idle check. */
	atomic_store_explicit(&r->last_rx_ns, rx_ns, memory_order_relaxed);
}

struct receiver__drain {
	struct receiver *r;
	struct netstream *ns;
};

static void receiver__drain_one(void *arg, const uint8_t *data, size_t len,
                                uint64_t rx_ns)
{
	struct receiver__drain *d = arg;

	receiver__deliver(d->r, d->ns, data, len, rx_ns);
}

void receiver__activate(struct receiver *r, struct receiver_entry *e,
                        struct netstream *ns)
{
	struct receiver__drain d = {.r = r, .ns = ns};

	e->state = RECEIVER_ACTIVE;
	e->ns = ns;
	if (e->hold >= 0) {
		unsigned n =
		        srcval_drain(&r->sv, e->hold, receiver__drain_one, &d);
		receiver__sub(&r->c_held, n);
		e->hold = -1;
	}
}

/* Mark the streams a newly valid source from the same address replaces:
   they sent nothing since its first datagram. */
static void receiver__supersede(struct receiver *r,
                                const struct receiver_entry *e,
                                uint64_t first_ns)
{
	for (size_t i = 0; i <= r->mask; i++) {
		struct receiver_entry *f = &r->table[i];
		if (f != e && f->state == RECEIVER_ACTIVE &&
		    f->last_ns < first_ns &&
		    addr_equal(&f->from.sa, &e->from.sa)) {
			f->superseded = true;
			r->look_next_ns = 0; /* it may end sooner */
		}
	}
}

/* Hand an ACTIVE entry's stream back (next sweep) and remove it. Other
   entries may move. Return: false when the ended list is full. */
static bool receiver__end(struct receiver *r, struct receiver_entry *e,
                          enum receiver_end why)
{
	if (r->nended == r->ended_cap)
		return false;
	r->look_next_ns = 0; /* control sweeps it up */
	r->ended[r->nended++] = (struct receiver_gone){
	        .ssrc = e->ssrc,
	        .id = e->id,
	        .ns = e->ns,
	        .why = why,
	        .last_ns = e->last_ns,
	};
	if (e->hold >= 0)
		receiver__drop_challenger(r, e);
	r->present--;
	receiver__remove(r, e);
	return true;
}

/* With max_streams present, a valid source from the same address as a
   stream silent since before its first datagram, for supersede_ms or
   more, replaces that stream at once (the
   sender restarted with a new SSRC; the sweep would end it anyway, but
   the new one would lose its start meanwhile). Return: a place was
   made (entries may have moved). */
static bool receiver__make_room(struct receiver *r,
                                const union srcval_addr *from,
                                uint64_t first_ns, uint64_t now)
{
	struct receiver_entry *best = NULL;
	uint64_t quiet = r->o.supersede_ms * 1000000ull;

	for (size_t i = 0; i <= r->mask; i++) {
		struct receiver_entry *f = &r->table[i];
		if (f->state != RECEIVER_ACTIVE || f->last_ns >= first_ns ||
		    now - f->last_ns < quiet ||
		    !addr_equal(&f->from.sa, &from->sa))
			continue;
		if (!best || f->last_ns < best->last_ns)
			best = f;
	}
	if (!best || !receiver__end(r, best, RECEIVER_END_SUPERSEDED))
		return false;
	receiver__add(&r->c_superseded, 1);
	return true;
}

/* A PROBATION entry (its hold valid) has passed: report it to control
   and give it a spare stream, or leave it PENDING. */
static void receiver__validate(struct receiver *r, uint32_t ssrc, uint8_t pt,
                               bool takeover, uint64_t now)
{
	struct receiver_entry *e = receiver__find(r, ssrc);
	const struct srcval_entry *h = &r->sv.e[e->hold];
	bool counted = !h->challenger; /* on_probation counts sources */

	if (r->present >= r->o.max_streams &&
	    receiver__make_room(r, &e->from, h->first_ns, now))
		e = receiver__find(r, ssrc);
	if (r->present >= r->o.max_streams) {
		receiver__release_hold(r, e->hold, &r->c_over_max);
		receiver__remove(r, e);
		return;
	}
	struct receiver_new *n = ring_write_begin(&r->newq);
	if (!n) {
		receiver__release_hold(r, e->hold, &r->c_notify_dropped);
		receiver__remove(r, e);
		return;
	}
	if (counted)
		receiver__sub(&r->c_on_probation, 1);
	uint64_t first_ns = h->first_ns;
	e->id = ++r->next_id;
	e->state = RECEIVER_PENDING;
	e->superseded = false;
	e->ns = NULL;
	r->present++;
	srcval_validated(&r->sv, e->hold);
	r->sv.e[e->hold].challenger = false;
	receiver__supersede(r, e, first_ns);

	struct netstream *ns = NULL;
	(void)ring_try_pop(&r->spares, &ns);
	memset(n, 0, sizeof(*n));
	n->ssrc = e->ssrc;
	n->pt = pt;
	n->id = e->id;
	n->rx_ns = first_ns;
	n->ns = ns;
	n->takeover = takeover;
	socklen_t alen = addr_len(&e->from.sa);
	if (alen > 0 && alen <= sizeof(n->from))
		memcpy(&n->from, &e->from, alen);
	ring_write_commit(&r->newq);
	receiver__add(&r->c_streams_seen, 1);
	if (ns) {
		/* A spare took it: not even the first datagram is lost. */
		receiver__add(&r->c_spares_used, 1);
		receiver__activate(r, e, ns);
	}
	if (r->o.notify)
		r->o.notify(r->o.notify_arg);
}

/* One datagram into the hold of srcval entry `slot` (the A.1 step for a
   probation). Return: the probe status. */
static int receiver__hold(struct receiver *r, int slot, uint16_t seq,
                          const uint8_t *data, size_t len, uint64_t rx_ns)
{
	struct srcval_evicted ev;
	unsigned dropped;
	bool challenger = r->sv.e[slot].challenger;
	bool pending = r->sv.e[slot].kind == SRCVAL_PENDING;
	int st =
	        srcval_hold(&r->sv, slot, seq, data, len, rx_ns, &dropped, &ev);

	receiver__add(&r->c_held, 1);
	receiver__sub(&r->c_held, dropped);
	receiver__add(challenger ? &r->c_conflicts
	              : pending  ? &r->c_pending
	                         : &r->c_probation_dropped,
	              dropped);
	receiver__evicted(r, &ev);
	return st;
}

/* A datagram of a PROBATION entry. */
static void receiver__probe(struct receiver *r, uint32_t ssrc,
                            const struct rtp_header *h, const uint8_t *data,
                            size_t len, uint64_t rx_ns)
{
	struct receiver_entry *e = receiver__find(r, ssrc);
	int st = receiver__hold(r, e->hold, h->seq, data, len, rx_ns);

	if (st == RTPSEQ_PROBE_VALID)
		receiver__validate(r, ssrc, h->pt, false, rx_ns);
}

/* An SSRC never seen (or forgotten): a new source on probation. */
static void receiver__new_source(struct receiver *r, const struct rtp_header *h,
                                 const uint8_t *data, size_t len,
                                 const struct sockaddr *from, uint64_t rx_ns)
{
	struct srcval_evicted ev;
	int slot = srcval_open(&r->sv, h->ssrc, false, from, rx_ns, &ev);

	receiver__evicted(r, &ev);
	if (slot < 0) {
		/* Every probation entry is a valid source waiting for its
		   stream: no room to judge another. */
		receiver__add(&r->c_probation_dropped, 1);
		return;
	}
	struct receiver_entry *e = receiver__insert(r, h->ssrc);
	if (!e) { /* cannot happen: the table is sized for every entry */
		srcval_release(&r->sv, slot);
		receiver__add(&r->c_probation_dropped, 1);
		return;
	}
	e->state = RECEIVER_PROBATION;
	e->hold = (int16_t)slot;
	e->last_ns = rx_ns;
	e->from = r->sv.e[slot].from;
	receiver__add(&r->c_on_probation, 1);
	receiver__probe(r, h->ssrc, h, data, len, rx_ns);
}

/* A known SSRC from another transport address (RFC 3550 8.2). */
static void receiver__challenge(struct receiver *r, struct receiver_entry *e,
                                const struct rtp_header *h, const uint8_t *data,
                                size_t len, const struct sockaddr *from,
                                uint64_t rx_ns)
{
	uint32_t ssrc = e->ssrc;

	/* Only a stream can be taken over; a source on probation or being
	   set up keeps its SSRC, the newcomer may try when it is gone. */
	if (e->state != RECEIVER_ACTIVE) {
		receiver__add(&r->c_conflicts, 1);
		return;
	}
	if (e->hold < 0) {
		struct srcval_evicted ev;
		int slot = srcval_open(&r->sv, ssrc, true, from, rx_ns, &ev);
		receiver__evicted(r, &ev);
		if (slot < 0) {
			receiver__add(&r->c_conflicts, 1);
			return;
		}
		e = receiver__find(r, ssrc);
		e->hold = (int16_t)slot;
	} else if (!addr_equal(&r->sv.e[e->hold].from.sa, from)) {
		receiver__add(&r->c_conflicts, 1); /* a third address */
		return;
	}
	int st = receiver__hold(r, e->hold, h->seq, data, len, rx_ns);
	e = receiver__find(r, ssrc);
	if (st != RTPSEQ_PROBE_VALID || e->hold < 0)
		return;
	if (r->nended == r->ended_cap) {
		/* No room to hand the old stream back yet: not now. */
		receiver__drop_challenger(r, e);
		return;
	}
	/* The first address sent nothing during the whole probation (any
	   datagram from it drops the challenger): it has stopped. Its
	   stream ends; the newcomer's begins, in the same entry. */
	r->look_next_ns = 0; /* control sweeps it up */
	r->ended[r->nended++] = (struct receiver_gone){
	        .ssrc = ssrc,
	        .id = e->id,
	        .ns = e->ns,
	        .why = RECEIVER_END_TAKEN_OVER,
	        .last_ns = e->last_ns,
	};
	receiver__add(&r->c_takeovers, 1);
	r->present--;
	e->state = RECEIVER_PROBATION;
	e->ns = NULL;
	e->id = 0;
	e->from = r->sv.e[e->hold].from;
	e->last_ns = rx_ns;
	receiver__validate(r, ssrc, h->pt, true, rx_ns);
}

static void receiver__datagram(struct receiver *r, const uint8_t *data,
                               size_t len, const struct sockaddr *from,
                               uint64_t rx_ns);

void receiver_datagram(struct receiver *r, const uint8_t *data, size_t len,
                       const struct sockaddr *from, uint64_t rx_ns)
{
	receiver__datagram(r, data, len, from, rx_ns);
	if (rx_ns >= r->look_next_ns)
		receiver__look(r, rx_ns);
}

static void receiver__datagram(struct receiver *r, const uint8_t *data,
                               size_t len, const struct sockaddr *from,
                               uint64_t rx_ns)
{
	struct rtp_header h;
	const uint8_t *payload;
	size_t plen;

	receiver__add(&r->c_datagrams, 1);
	if (len > r->o.max_datagram) {
		receiver__add(&r->c_too_big, 1);
		return;
	}
	if (!addr_allow_match(r->allow, r->o.nallow, from)) {
		receiver__add(&r->c_not_allowed, 1);
		return;
	}
	if (r->o.srtp) {
		/* From here on `data` is the verified, decrypted packet (in
		   the context's buffer until the next datagram: a held one
		   is copied). */
		int n = srtpctx_unprotect(r->o.srtp, data, len, &data);
		if (n < 0) {
			receiver__add(n == -EALREADY ? &r->c_replayed
			                             : &r->c_auth_failed,
			              1);
			return;
		}
		len = (size_t)n;
	}
	if (rtp_parse(data, len, &h, &payload, &plen) < 0) {
		receiver__add(&r->c_malformed, 1);
		return;
	}
	if (h.pt != r->o.pt && !(r->o.red && h.pt == r->o.red_pt) &&
	    !(r->o.ulpfec && h.pt == r->o.ulpfec_pt)) {
		receiver__add(&r->c_unknown_pt, 1);
		return;
	}
	struct receiver_entry *e = receiver__find(r, h.ssrc);
	if (!e) {
		receiver__new_source(r, &h, data, len, from, rx_ns);
		return;
	}
	if (!addr_equal(&e->from.sa, from)) {
		receiver__challenge(r, e, &h, data, len, from, rx_ns);
		return;
	}
	e->last_ns = rx_ns;
	e->superseded = false;
	switch (e->state) {
	case RECEIVER_ACTIVE:
		/* The first address is alive: a challenger was a collision
		   or a loop. */
		if (e->hold >= 0)
			receiver__drop_challenger(r, e);
		receiver__deliver(r, e->ns, data, len, rx_ns);
		break;
	case RECEIVER_PROBATION:
		receiver__probe(r, h.ssrc, &h, data, len, rx_ns);
		break;
	case RECEIVER_PENDING:
		(void)receiver__hold(r, e->hold, h.seq, data, len, rx_ns);
		break;
	default:
		receiver__add(&r->c_refused, 1);
		break;
	}
}
