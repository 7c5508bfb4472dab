/*
 * receiver: the receive path of `rtbridge recv` — one UDP socket and the
 * table of incoming streams by SSRC, each a netstream the mixer pulls
 *
 * The net thread owns the socket and a small
 * open-addressing table (linear probing, backward-shift deletion) from
 * SSRC to stream. For every datagram it checks, in order: size, the
 * allow-list, SRTP authentication and replay (when a key is set: a
 * forged or replayed packet never reaches a stream nor creates one), the
 * RTP header (rtp_parse), the payload type; bad ones are counted and
 * dropped. A known SSRC goes to its netstream
 * (netstream_receive: a record from the stream's own pool, queued to the
 * audio thread). An unknown one, while fewer than max_streams are
 * present, takes a spare stream the control thread allocated ahead of
 * time (receiver_give_spare: an SPSC ring control -> net), so that not
 * even its first datagram is lost, and a small record {ssrc, pt, source
 * address, stream} goes to the control thread on an SPSC ring net ->
 * control (receiver_poll_new); control then links the stream into the
 * mixer and gives a new spare. With no spare left (a burst of new SSRCs)
 * the entry is PENDING instead: control sets a stream up and installs it
 * (receiver_install, run on the net thread with netloop_call_wait), and
 * the SSRC's datagrams are dropped and counted until then. Control
 * removes streams that have gone silent with receiver_sweep (also run on
 * the net thread), which hands back their netstreams; from then on the
 * net thread never touches them.
 *
 * Each stream is a netstream, linked into the mixer as it is
 * (netstream.h); its recording tap takes the stream's own timeline
 * (netstream_set_record), so a loss-free PCM stream records bit-exact
 * from its first played packet to its last, drift compensation or not.
 *
 * Counters are single-writer atomics, readable from any thread.
 */
#ifndef RTB_NET_RECEIVER_H
#define RTB_NET_RECEIVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bridge/msg/ring.h"
#include "bridge/net/addr.h"
#include "bridge/net/netloop.h"
#include "bridge/net/netstream.h"
#include "bridge/net/srtpctx.h"
#include "bridge/net/udpsock.h"

#define RECEIVER_MAX_STREAMS 256
#define RECEIVER_MAX_ALLOW   32
#define RECEIVER_ERR_MAX     256
#define RECEIVER_SPARES      4 /* spare streams waiting, power of 2 */

struct receiver_opts {
	struct sockaddr_storage listen; /* address and port to bind */
	int pt;                         /* accepted payload type, 0..127 */
	unsigned max_streams;           /* 1..RECEIVER_MAX_STREAMS */
	size_t max_datagram;            /* bytes; 0: PACKET_DEFAULT_BYTES */
	const struct addr_net *allow;   /* copied; NULL/0: anyone */
	size_t nallow;
	int rcvbuf; /* SO_RCVBUF bytes; 0: system default */
	/* A multicast listen address: the interface to join on (0: the
	   route's) and the one source to take it from (family 0: any). */
	unsigned mcast_ifindex;
	struct sockaddr_storage mcast_source;
	/* Called on the net thread after each new-SSRC record is posted
	   (e.g. to wake the control thread); NULL: none. */
	void (*notify)(void *arg);
	void *notify_arg;
	/* SRTP: every datagram is verified and decrypted first (a failure is
	   counted and dropped before anything else looks at it); NULL: plain
	   RTP. The caller's (srtpctx_init_rx with max_datagram); the net
	   thread uses it until receiver_close returns. */
	struct srtpctx *srtp;
};

/* A new SSRC, net -> control. */
struct receiver_new {
	uint32_t ssrc;
	uint8_t pt;
	uint64_t rx_ns; /* arrival of its first datagram */
	struct sockaddr_storage from;
	struct netstream *ns; /* the spare it took (installed, receiving),
	                         or NULL: PENDING, install one */
};

/* A stream taken out of the table by receiver_sweep. */
struct receiver_gone {
	uint32_t ssrc;
	struct netstream *ns; /* NULL for an entry that never got a stream */
};

/* Receiver-wide counters (datagrams). */
struct receiver_counters {
	uint64_t datagrams;        /* everything the socket delivered */
	uint64_t accepted;         /* handed to a stream */
	uint64_t malformed;        /* rtp_parse refused them */
	uint64_t too_big;          /* longer than max_datagram */
	uint64_t unknown_pt;       /* not the configured payload type */
	uint64_t not_allowed;      /* source outside the allow-list */
	uint64_t over_max_streams; /* new SSRC while max_streams present */
	uint64_t pending;          /* SSRC still being set up */
	uint64_t refused;          /* SSRC control could not set up */
	uint64_t stream_dropped;   /* refused by the stream (pool, sequence) */
	uint64_t streams_seen;     /* new SSRCs reported to control */
	uint64_t notify_dropped;   /* new SSRC while the ring was full */
	uint64_t spares_used;      /* new SSRCs that took a spare stream */
	uint64_t auth_failed;      /* SRTP: failed authentication */
	uint64_t replayed;         /* SRTP: replays */
};

enum receiver_state {
	RECEIVER_EMPTY = 0,
	RECEIVER_PENDING,
	RECEIVER_ACTIVE,
	RECEIVER_REFUSED,
};

struct receiver_entry {
	uint32_t ssrc;
	uint8_t state;    /* enum receiver_state */
	uint64_t last_ns; /* last datagram of this SSRC */
	struct netstream *ns;
};

struct receiver {
	struct receiver_opts o;
	struct addr_net allow[RECEIVER_MAX_ALLOW];
	struct netloop *nl;
	struct udpsock *sock; /* allocated: the receive buffer is large */
	bool opened;          /* control: the socket was opened */
	_Atomic bool closed;  /* net -> control: the close callback ran */
	/* Net thread. */
	struct receiver_entry *table;
	size_t mask;
	unsigned present; /* PENDING + ACTIVE entries */
	/* Net -> control: new SSRCs. */
	struct ring newq;
	void *newq_mem;
	/* Control -> net: spare streams. */
	struct ring spares;
	void *spares_mem;
	/* Written by the net thread only; any thread reads (display). */
	_Atomic uint64_t c_datagrams, c_accepted, c_malformed, c_too_big,
	        c_unknown_pt, c_not_allowed, c_over_max, c_pending, c_refused,
	        c_stream_dropped, c_streams_seen, c_notify_dropped,
	        c_spares_used, c_auth_failed, c_replayed;
	_Atomic uint64_t last_rx_ns; /* last datagram accepted by a stream */
	char err[RECEIVER_ERR_MAX];
};

/*
 * Allocate the table and the new-SSRC ring
 *
 * Return: 0, -EINVAL (bad options), -ENOMEM
 * Post: on success clear with receiver_clear
 * Context: control thread (allocates)
 */
int receiver_init(struct receiver *r, const struct receiver_opts *o);

/*
 * Free everything
 *
 * Pre: closed (or never opened)
 * Context: control thread
 */
void receiver_clear(struct receiver *r);

/*
 * Bind the socket on the net thread and start receiving
 *
 * Return: 0, or a negated errno (-EADDRINUSE, -EADDRNOTAVAIL, ...) with
 *         receiver_error() one line naming the address
 * Context: control thread (waits for the net thread)
 */
int receiver_open(struct receiver *r, struct netloop *nl);

/*
 * Stop receiving and close the socket; waits until the net thread has
 * let it go. From then on no netstream is touched by the net thread.
 *
 * Context: control thread
 */
void receiver_close(struct receiver *r);

/* One line saying why receiver_open failed. Context: control thread. */
const char *receiver_error(const struct receiver *r);

/*
 * The bound port (for port 0)
 *
 * Return: the port, or 0
 * Context: control thread, after receiver_open
 */
unsigned receiver_port(struct receiver *r);

/*
 * Take the next new-SSRC record
 *
 * Return: true when *out was filled
 * Context: control thread
 */
bool receiver_poll_new(struct receiver *r, struct receiver_new *out);

/*
 * Hand the net thread a spare stream for the next new SSRC
 *
 * Pre: ns is initialised (netstream_init) and used by no one else
 * Return: 0 (the receiver holds it until it comes back in a
 *         receiver_new record or through receiver_reclaim_spare), or
 *         -ENOBUFS when RECEIVER_SPARES are already waiting
 * Context: control thread, never blocks
 */
int receiver_give_spare(struct receiver *r, struct netstream *ns);

/*
 * Take back a spare stream the net thread never used
 *
 * Pre: receiver_close has returned (or the receiver was never opened)
 * Return: a stream, or NULL when none is left
 * Context: control thread
 */
struct netstream *receiver_reclaim_spare(struct receiver *r);

/*
 * Install a stream set up for a pending SSRC: its packets go to ns from
 * now on
 *
 * Return: 0; -ENOENT when the SSRC is no longer pending (it went silent
 *         and was swept): the caller still owns ns
 * Context: control thread (runs on the net thread, waits)
 */
int receiver_install(struct receiver *r, uint32_t ssrc, struct netstream *ns);

/*
 * Mark an SSRC refused (setting it up failed): its datagrams are dropped
 * and counted until it goes silent. A stream it held (the spare it took)
 * is let go of: the caller owns it again.
 *
 * Context: control thread (runs on the net thread, waits)
 */
void receiver_refuse(struct receiver *r, uint32_t ssrc);

/*
 * Remove every entry silent for idle_ns or more (all of them when
 * idle_ns is 0), and hand back their streams
 *
 * Return: entries removed with a stream, written to out (at most cap;
 *         the others stay for the next sweep)
 * Context: control thread (runs on the net thread, waits)
 */
int receiver_sweep(struct receiver *r, uint64_t idle_ns,
                   struct receiver_gone *out, size_t cap);

/* Copy the counters. Context: any thread. */
void receiver_counters(const struct receiver *r, struct receiver_counters *c);

/*
 * CLOCK_MONOTONIC ns of the last datagram handed to a stream (0: none yet)
 *
 * Context: any thread
 */
uint64_t receiver_last_rx_ns(const struct receiver *r);

/*
 * Net-thread entry for one datagram (what the socket callback calls;
 * public for tests that drive the table without a socket)
 *
 * Context: net thread (or the only thread touching r's table)
 */
void receiver_datagram(struct receiver *r, const uint8_t *data, size_t len,
                       const struct sockaddr *from, uint64_t rx_ns);

#endif
