/*
 * udpsock_impl: what udpsock.c (set-up, options, sending, closing) and
 * udpsock_rx.c (the receive side) share; private to the two.
 *
 * Context: net thread.
 */
#ifndef RTB_NET_UDPSOCK_IMPL_H
#define RTB_NET_UDPSOCK_IMPL_H

#include "bridge/net/udpsock.h"

/* udpsock.rx_handles: which receive-side handles are initialised. */
#define UDPSOCK_RX_POLL  1u
#define UDPSOCK_RX_TIMER 2u

/* Single-writer counter (net thread), relaxed: read only for display. */
static inline void udpsock__add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c,
	                      atomic_load_explicit(c, memory_order_relaxed) + v,
	                      memory_order_relaxed);
}

/*
 * Allocate the receive buffers, ask for arrival stamps, start the poll.
 *
 * Pre: the socket is bound, s->on_recv is set
 * Post: whatever the result, udpsock__rx_close closes what was set up and
 *       udpsock__rx_free frees it
 * Return: 0, or a negated errno (UV_ENOMEM, libuv's)
 */
int udpsock__rx_start(struct udpsock *s);

/* Read what is queued (one wake-up of the poll or the timer). */
void udpsock__read(struct udpsock *s);

/* Stop and close the receive-side handles, each calling cb once closed.
   Return: how many close callbacks will come. */
unsigned udpsock__rx_close(struct udpsock *s, uv_close_cb cb);

/* Free the receive buffers (all handles closed). */
void udpsock__rx_free(struct udpsock *s);

#endif
