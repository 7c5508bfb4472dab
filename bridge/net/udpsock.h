/*
 * udpsock: one UDP socket on the net thread, for sending and/or receiving
 *
 * IPv4 or IPv6, unicast or multicast (a multicast bind address joins the
 * group on the given interface, any source or one source: RFC 4607's
 * source-specific multicast where the kernel supports it; sends to a
 * group go out of the given interface with the given TTL), optional DSCP
 * marking and socket buffer sizes. Received
 * datagrams are read in batches (recvmmsg) into receive buffers allocated
 * at open (no allocation per datagram) and handed to the owner's callback
 * with the source address and a CLOCK_MONOTONIC receive time (the read
 * time; the data is valid only during the callback). With
 * udpsock_set_coalesce, a socket that receives many datagrams per
 * interval is read on a timer of that interval instead of on every
 * datagram: fewer wake-ups, at the price of datagrams reaching the owner
 * up to the interval later; the time they were held on purpose is taken
 * out of their receive times with the kernel's arrival stamps
 * (SO_TIMESTAMPNS; udpsock_rx.c says how). Sends go straight from the caller's
 * buffer with uv_udp_try_send: a full socket buffer drops the datagram and
 * counts it, it never queues or blocks.
 *
 * The struct is caller storage owned by the net thread from udpsock_open to
 * the close callback. Counters are single-writer atomics any thread may
 * read for display.
 */
#ifndef RTB_UDPSOCK_H
#define RTB_UDPSOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "bridge/net/netloop.h"

/* Largest datagram received whole; longer ones are counted and dropped. */
#define UDPSOCK_RX_MAX  65536
#define UDPSOCK_ERR_MAX 192
/* Datagrams read per recvmmsg call (each into a buffer of RX_MAX; only
   the pages a datagram touches become resident). More than the 32 to 36
   a coalesced read of 8 streams of 10 ms packets finds before each 40 ms
   wake-up of `recv --no-play`'s virtual clock: one call takes them all,
   where a smaller batch needs a second call to hear EAGAIN. */
#define UDPSOCK_BATCH 64
/* Datagrams read per wake-up at most: a flood cannot keep the loop. Up to
   6 streams of 1 ms packets or 60 of 10 ms packets stay on the timer of a
   40 ms consumer; more go back to the poll (udpsock_rx.c). */
#define UDPSOCK_READ_MAX 256
/* Longest coalescing interval accepted, ms. */
#define UDPSOCK_COALESCE_MAX_MS 20
/* Longest hold before a consumer's time (udpsock_set_coalesce_at), ms:
   more than the 40 ms between the looks of `recv --no-play`. */
#define UDPSOCK_COALESCE_AT_MAX_MS 45
/* A kernel stamp older than this when read (s) is taken for a step of the
   wall clock, and the read time is used instead. */
#define UDPSOCK_STAMP_MAX_AGE_NS 1000000000ll

struct udpsock;

/*
 * A datagram arrived. `data` is valid until the callback returns.
 * Context: net thread
 */
typedef void (*udpsock_recv_fn)(struct udpsock *s, const uint8_t *data,
                                size_t len, const struct sockaddr *from,
                                uint64_t rx_ns, void *user);

/* The socket is fully closed; its memory may be reused. Context: net thread. */
typedef void (*udpsock_close_fn)(struct udpsock *s, void *user);

/*
 * When the owner's consumer next looks at what was read, after `after`
 * (CLOCK_MONOTONIC ns), or < 0 when it cannot tell.
 * Context: net thread
 */
typedef int64_t (*udpsock_next_fn)(void *arg, int64_t after);

/*
 * How the socket will hand out what comes next, for a consumer that wants
 * to know whether it has: `look` is the look (a time udpsock_next_fn
 * named) its next timed read is planned for, or INT64_MAX when it reads
 * at each arrival (or every coalescing interval), and then `fd` is its
 * descriptor, whose receive queue is empty once everything that came has
 * been handed out (FIONREAD); fd -1: closing, nothing more to hand out.
 * Called when either changes, after the read before has handed out its
 * datagrams.
 * Context: net thread
 */
typedef void (*udpsock_plan_fn)(void *arg, int64_t look, int fd);

struct udpsock_opts {
	/* Local address to bind (receive: the listen address, a multicast
	 * group for a multicast receiver). NULL: the wildcard address of the
	 * peer's family, port 0. */
	const struct sockaddr *bind;
	/* Default destination for udpsock_send(.., NULL). NULL: none. */
	const struct sockaddr *peer;
	/* Multicast interface index (addr_iface_parse), 0: the route
	 * decides. Used both for joining (receive) and for sending. */
	unsigned mcast_ifindex;
	/* Source-specific multicast: receive the group only from this
	 * sender (MCAST_JOIN_SOURCE_GROUP, same family), NULL: any source. */
	const struct sockaddr *mcast_source;
	int mcast_ttl;  /* hop limit for multicast sends, -1: system default */
	int mcast_loop; /* 1/0: deliver own multicast to local sockets, -1:
	                   default */
	int dscp;       /* 0..63 DiffServ code point (46 = EF), -1: leave */
	int rcvbuf;     /* SO_RCVBUF bytes, 0: system default */
	int sndbuf;     /* SO_SNDBUF bytes, 0: system default */
	bool reuse;     /* SO_REUSEADDR (implied for a multicast group) */
	bool v6only;    /* an IPv6 wildcard bind takes no IPv4 traffic */
	udpsock_recv_fn on_recv; /* NULL: send only, no receive buffer used */
	void *user;
};

/* Field defaults: everything off (-1 / 0 / NULL). */
void udpsock_opts_init(struct udpsock_opts *o);

struct udpsock_rx; /* the receive side's buffers (udpsock_rx.c) */

struct udpsock {
	uv_udp_t handle;  /* binds and sends; libuv never reads it */
	uv_poll_t poll;   /* readable: read a batch */
	uv_timer_t timer; /* coalescing: read on this instead */
	struct netloop *nl;
	struct netloop_hook hook;
	struct sockaddr_storage peer;
	bool has_peer;
	bool open; /* handle initialised and not yet closing */
	bool closing;
	unsigned rx_handles;      /* UDPSOCK_RX_* bits: initialised handles */
	bool holding;             /* reading on the timer, not the poll */
	unsigned empty_reads;     /* reads in a row that found nothing */
	unsigned closing_handles; /* close callbacks still to come */
	unsigned coalesce_ms;     /* 0: read on every wake-up */
	udpsock_next_fn next;     /* udpsock_set_coalesce_at, or NULL */
	udpsock_plan_fn plan;     /* ditto */
	void *next_arg;
	int64_t planned; /* the look last told to plan */
	int planned_fd;  /* and the descriptor */
	int64_t lead_ns;
	int64_t hold_ns;    /* how long the armed timer holds datagrams back */
	uint64_t rate_t_ns; /* last read counted in the rate */
	double rate;        /* datagrams per second, recently */
	int64_t stamp_last; /* last arrival time handed out */
	udpsock_recv_fn on_recv;
	udpsock_close_fn on_close;
	void *user;
	struct udpsock_rx *rx; /* NULL: send only */
	/* The receive buffers: UDPSOCK_BATCH of UDPSOCK_RX_MAX bytes. */
	unsigned char *rxbuf;
	_Atomic uint64_t rx_packets, rx_bytes, rx_truncated, rx_errors;
	_Atomic uint64_t rx_wakeups; /* reads (poll or timer) */
	_Atomic uint64_t tx_packets, tx_bytes, tx_eagain, tx_errors;
	char err[UDPSOCK_ERR_MAX];
};

/*
 * Open a socket with the given options, bind it, join a multicast group
 * when the bind address is one, and start receiving when on_recv is set.
 *
 * Pre: s is not open; opts->bind or opts->peer is set (it fixes the family)
 * Post: whatever the result, udpsock_close(s, cb) must be called before
 *       s is reused or freed (or netloop_stop closes it). On failure,
 *       udpsock_error(s) is one line naming the address, e.g.
 *       "bind 127.0.0.1:5004: address already in use".
 * Context: net thread
 * Return: 0, or a negated errno (-EADDRINUSE, -EADDRNOTAVAIL, -EINVAL,
 *         -ENODEV for a bad multicast interface, -EPROTONOSUPPORT when
 *         the kernel has no source-specific multicast, ...)
 */
int udpsock_open(struct udpsock *s, struct netloop *nl,
                 const struct udpsock_opts *opts);

/*
 * Close the socket; cb (may be NULL) runs on the loop once the handle is
 * gone. Closing a closing socket does nothing.
 *
 * Context: net thread
 */
void udpsock_close(struct udpsock *s, udpsock_close_fn cb);

/*
 * Send one datagram from the caller's buffer, now, without queueing.
 *
 * Context: net thread
 * Return: bytes sent; -EAGAIN when the socket buffer is full (counted in
 *         tx_eagain, the datagram is dropped); -EDESTADDRREQ with no
 *         destination; another negated errno (counted in tx_errors)
 */
int udpsock_send(struct udpsock *s, const void *data, size_t len,
                 const struct sockaddr *to);

/*
 * The bound local address (to read the port picked for port 0).
 *
 * Context: net thread
 * Return: 0, or a negated errno
 */
int udpsock_local(const struct udpsock *s, struct sockaddr_storage *out);

/* Last error line (empty when none). Context: net thread, or after a
 * synchronising call. */
const char *udpsock_error(const struct udpsock *s);

/* The socket's file descriptor, for getsockopt checks. Context: net thread. */
int udpsock_fd(const struct udpsock *s);

/*
 * Coalesce reads: while datagrams come at least two per `ms`, read them
 * on a timer of `ms` milliseconds instead of at each arrival (libuv's
 * timers may fire up to a millisecond late: the owner allows for it).
 * A quieter socket is read at each arrival, as with 0. Values above
 * UDPSOCK_COALESCE_MAX_MS are taken as that.
 *
 * Context: net thread
 */
void udpsock_set_coalesce(struct udpsock *s, unsigned ms);

/*
 * Read now what the kernel holds for a receiving socket (a coalescing
 * timer's hold included), UDPSOCK_READ_MAX datagrams at most, and hand
 * each to the callback. An owner about to close the socket calls it
 * first, so that datagrams that arrived before the close are not lost
 * with the socket (the last packets of a stream that ended).
 *
 * Return: datagrams read (0 for a socket that does not receive)
 * Context: net thread
 */
unsigned udpsock_read_pending(struct udpsock *s);

/*
 * Coalesced reads at the consumer's times: while udpsock_set_coalesce's
 * rule holds datagrams back, the timer reads `lead_ns` before each time
 * next() names (or up to a millisecond later: libuv's timers count whole
 * ones; at most UDPSOCK_COALESCE_AT_MAX_MS ahead) instead of every `ms`,
 * before the first look at least `ms` ahead (a consumer that looks more
 * often is read before every few of its looks). For an owner
 * whose consumer looks only at those times (a virtual clock's batched
 * callbacks), a datagram then reaches it at most lead_ns and a timer's
 * lateness before the consumer looks, where reading every `ms` left up
 * to `ms` unseen, at a fraction of the wake-ups. next() returning < 0
 * falls back to `ms`. NULL: every `ms` (the default). plan (or NULL)
 * hears which look the next timed read is for, or that the socket reads
 * at each arrival, so that a consumer can tell whether what came before
 * its look has been handed out (told at once, then at each change).
 *
 * Context: net thread
 */
void udpsock_set_coalesce_at(struct udpsock *s, udpsock_next_fn next,
                             udpsock_plan_fn plan, void *arg, int64_t lead_ns);

/*
 * The CLOCK_MONOTONIC time of a kernel receive stamp taken on
 * CLOCK_REALTIME, given the two clocks' offset (realtime - monotonic,
 * read together) and the monotonic time now. Pure.
 *
 * Return: mono_now minus the stamp's age; mono_now itself when there is
 *         no stamp (0) or its age is negative or above
 *         UDPSOCK_STAMP_MAX_AGE_NS (the wall clock stepped)
 * Context: any
 */
int64_t udpsock_stamp_mono(int64_t stamp_rt, int64_t offset_ns,
                           int64_t mono_now);

#endif
