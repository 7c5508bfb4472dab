/*
 * receiver_impl: what the two halves of the receiver share (private to
 * receiver.c and receiver_rx.c)
 *
 * receiver_rx.c is the datagram path: the SSRC table, probation,
 * validation, takeover. receiver.c is set-up, the socket, and the calls
 * the control thread runs on the net thread (install, refuse, sweep).
 *
 * Context: net thread, unless said otherwise.
 */
#ifndef RTB_NET_RECEIVER_IMPL_H
#define RTB_NET_RECEIVER_IMPL_H

#include "bridge/net/receiver.h"

/* Add n to a counter. Single writer (the net thread); readers want a
   number, not an ordering with anything else. */
static inline void receiver__add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c,
	                      atomic_load_explicit(c, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

static inline void receiver__sub(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c,
	                      atomic_load_explicit(c, memory_order_relaxed) - n,
	                      memory_order_relaxed);
}

/* The entry of ssrc, or NULL. */
struct receiver_entry *receiver__find(struct receiver *r, uint32_t ssrc);

/* Remove an entry (backward shift: other entries may move). */
void receiver__remove(struct receiver *r, struct receiver_entry *e);

/* Forget the srcval entry i (its datagrams are counted in c). */
void receiver__release_hold(struct receiver *r, int i, _Atomic uint64_t *c);

/* Forget a PROBATION entry: a failed probation. */
void receiver__fail_probation(struct receiver *r, struct receiver_entry *e);

/* Take an ACTIVE entry's challenger away: its datagrams were conflicts. */
void receiver__drop_challenger(struct receiver *r, struct receiver_entry *e);

/* Hand one datagram to a stream, counting it. */
void receiver__deliver(struct receiver *r, struct netstream *ns,
                       const uint8_t *data, size_t len, uint64_t rx_ns);

/* Work out sweep_at again (receiver_sweep_at); poke control (o.notify)
   when a sweep is due now and was not before: it is woken once, and
   sweeps. */
void receiver__look(struct receiver *r, uint64_t now);

/* Give a PENDING entry its stream: held datagrams first. */
void receiver__activate(struct receiver *r, struct receiver_entry *e,
                        struct netstream *ns);

#endif
