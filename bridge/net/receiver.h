/*
 * receiver: the receive path of `rtbridge recv` — one UDP socket and the
 * table of incoming sources by SSRC, each valid one a netstream the mixer
 * pulls
 *
 * The net thread owns the socket and an open-addressing table (linear
 * probing, backward-shift deletion) from SSRC to entry. For every
 * datagram it checks, in order: size, the allow-list, SRTP
 * authentication and replay (when a key is set: a forged or replayed
 * packet never reaches a stream, a probation slot or a held datagram),
 * the RTP header (rtp_parse), the payload type (the configured one, or
 * the RED one: a RED datagram counts as its primary packet, for probation
 * as for everything else); bad ones are counted and dropped. Then the
 * entry of its SSRC decides, in one of these states:
 *
 *   PROBATION  a new SSRC (RFC 3550 A.1): it needs min_sequential
 *              packets in sequence (2 by default) before it is a stream.
 *              Its datagrams are held meanwhile (srcval.h), in a table
 *              of fixed size; a source that never validates (one-packet
 *              SSRCs, junk) is forgotten with them, or evicted under a
 *              flood, and counted (probation_failed), without a stream,
 *              a decoder or a file ever being made for it.
 *   PENDING    valid, waiting for the control thread to set a stream up
 *              (receiver_install); still holding its datagrams.
 *   ACTIVE     valid with a stream: datagrams go to its netstream
 *              (netstream_receive: a record from the stream's own pool,
 *              queued to the audio thread).
 *   REFUSED    control could not set a stream up: dropped and counted
 *              until it goes silent.
 *
 * A source becomes valid with a spare stream when one is waiting (the
 * control thread allocates them ahead: receiver_give_spare), so that it
 * is ACTIVE at once; else PENDING. Either way its held datagrams go to
 * the stream first, in sequence order, so a real source loses nothing to
 * its probation: a recording begins with its first packet. A record
 * {ssrc, id, source address, stream} goes to the control thread
 * (receiver_poll_new), which names the stream, opens its recording and
 * links it into the mixer (and installs it when it was PENDING).
 *
 * Streams end on the net thread's side in three ways, all handed back to
 * control by receiver_sweep (which the control thread runs on the net
 * thread when receiver_sweep_at says it can find something: the net
 * thread works that out as datagrams come, and pokes control through
 * `notify` when it is due at once), after which the net thread never
 * touches the stream again:
 *   - idle: silent for the sweep's idle time (--timeout);
 *   - superseded: a newer SSRC from the same transport address became
 *     valid after this stream's last packet (the sender restarted with a
 *     new SSRC), and it has been silent supersede_ms since (1 s: long
 *     enough that a live stream sharing the address — several senders
 *     behind one relay or mixer — is not cut by a stall of its own);
 *   - taken over (RFC 3550 8.2): a known SSRC arrives from another
 *     transport address. That is a collision or a loop while the first
 *     address keeps sending: the newcomer's datagrams are dropped and
 *     counted (ssrc_conflicts). But if the newcomer passes a probation
 *     of its own (at least two packets in sequence) without a single
 *     packet from the first address in between, the first source has
 *     stopped (a sender restarted on a new port with the same SSRC): its
 *     stream ends and the newcomer's begins, with its own id and its own
 *     recording.
 *
 * Every stream has an id, unique for the receiver's life; install and
 * refuse name the stream by it (through the receiver_new record), so an
 * SSRC that meanwhile ended and came back is never confused with the
 * stream control was told about.
 *
 * Memory: everything is allocated by receiver_init (the table, the
 * probation table and its datagram store, the rings); the net thread
 * never allocates. Work per datagram is bounded by those fixed sizes.
 * Counters are single-writer atomics, readable from any thread; every
 * datagram ends in exactly one of them once it has left the probation
 * table (receiver_counters).
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
#include "bridge/net/srcval.h"
#include "bridge/net/srtpctx.h"
#include "bridge/net/udpsock.h"

#define RECEIVER_MAX_STREAMS     256
#define RECEIVER_MAX_ALLOW       32
#define RECEIVER_ERR_MAX         256
#define RECEIVER_SPARES          4   /* spare streams waiting, power of 2 */
#define RECEIVER_PROBATION_SLOTS 64  /* sources on probation at once */
#define RECEIVER_HOLD_DGRAMS     128 /* datagrams they hold, all together */
#define RECEIVER_MAX_PROBATION   16  /* largest min_sequential */
#define RECEIVER_SUPERSEDE_MS    1000
/* How often the coalescing interval is worked out again, ns. */
#define RECEIVER_COALESCE_EVERY_NS 100000000ull
/* How often, in datagram time, the net thread works out when the next
   sweep can find something (receiver_sweep_at), ns. */
#define RECEIVER_LOOK_EVERY_NS 50000000ull
/* Reads come this long before the consumer's look (consumer_next), ns,
   or up to a millisecond less (libuv's timer rounding): a millisecond at
   least for the read to be done. */
#define RECEIVER_LEAD_NS 2000000ll

struct receiver_opts {
	struct sockaddr_storage listen; /* address and port to bind */
	int pt;                         /* accepted payload type, 0..127 */
	unsigned max_streams;           /* 1..RECEIVER_MAX_STREAMS */
	size_t max_datagram;            /* bytes; 0: PACKET_DEFAULT_BYTES */
	const struct addr_net *allow;   /* copied; NULL/0: anyone */
	size_t nallow;
	int rcvbuf; /* SO_RCVBUF bytes; 0: system default */
	/* Packets in sequence that validate a new source (RFC 3550
	   MIN_SEQUENTIAL), 1..RECEIVER_MAX_PROBATION; 0: 2. 1 makes a
	   source valid at its first packet. */
	unsigned min_sequential;
	unsigned supersede_ms; /* 0: RECEIVER_SUPERSEDE_MS */
	/* A multicast listen address: the interface to join on (0: the
	   route's) and the one source to take it from (family 0: any). */
	unsigned mcast_ifindex;
	struct sockaddr_storage mcast_source;
	/* Called on the net thread after each new-stream record is posted
	   (e.g. to wake the control thread); NULL: none. */
	void (*notify)(void *arg);
	void *notify_arg;
	/* SRTP: every datagram is verified and decrypted first (a failure is
	   counted and dropped before anything else looks at it); NULL: plain
	   RTP. The caller's (srtpctx_init_rx with max_datagram); the net
	   thread uses it until receiver_close returns. */
	struct srtpctx *srtp;
	/* RFC 2198 redundant audio: datagrams of payload type red_pt (not
	   pt) are accepted too, as packets of their stream (its netstream
	   splits them: netstream_config.red); false: only pt. */
	bool red;
	uint8_t red_pt;
	/* RFC 5109 ULPFEC: datagrams of payload type ulpfec_pt are accepted
	   too, as FEC packets of their stream (netstream_config.ulpfec). */
	bool ulpfec;
	uint8_t ulpfec_pt;
	/* Read the socket at most every this many ms while datagrams come
	   fast (udpsock_set_coalesce), bounded by a quarter of the slack
	   the streams' targets leave above their delay spread, so that no
	   packet comes later to its stream than its target allows; 0: read
	   at every arrival. The time a datagram was held is taken out of
	   its receive time (udpsock.h). */
	unsigned coalesce_max_ms;
	/* The idle time the owner's sweeps will use (receiver_sweep's
	   idle_ns), so that the net thread can say when the next sweep can
	   find something (receiver_sweep_at) and the owner need not sweep on
	   a period; 0: receiver_sweep_at says never, sweep when you like. */
	uint64_t idle_ns;
	/* When the streams' consumer next looks at them after a time
	   (engine_next_look_ns: a virtual clock's batched callbacks), or
	   NULL (a sound card's callback looks at any time). While reads are
	   coalesced, they then come RECEIVER_LEAD_NS before each look
	   (udpsock_set_coalesce_at) rather than every coalescing interval:
	   a datagram still reaches its stream before the consumer looks, as
	   the quarter-of-the-slack rule above wants, and nothing is read in
	   between for no one. consumer_plan (or NULL) hears which look
	   the next such read is for, or that the socket is read at each
	   arrival (engine_look_planned: the virtual clock then waits
	   briefly for a read the machine held up). */
	udpsock_next_fn consumer_next;
	udpsock_plan_fn consumer_plan;
	void *consumer_arg;
};

/* A new stream (a source passed probation), net -> control. */
struct receiver_new {
	uint32_t ssrc;
	uint8_t pt;     /* of the datagram that validated it (RED: red_pt) */
	uint64_t id;    /* the stream's id (receiver_install/refuse) */
	uint64_t rx_ns; /* arrival of its first datagram */
	struct sockaddr_storage from;
	struct netstream *ns; /* the spare it took (installed, receiving),
	                         or NULL: PENDING, install one */
	bool takeover;        /* it took the SSRC over from another address */
};

/* Why a stream left the net thread's table. */
enum receiver_end {
	RECEIVER_END_IDLE = 1,   /* silent for the idle time */
	RECEIVER_END_SUPERSEDED, /* replaced by a newer SSRC, same address */
	RECEIVER_END_TAKEN_OVER, /* its SSRC now comes from another address */
	RECEIVER_END_CLOSED,     /* the receiver closed (idle time 0) */
};

/* A stream taken out of the table by receiver_sweep. */
struct receiver_gone {
	uint32_t ssrc;
	uint64_t id;
	struct netstream *ns;
	enum receiver_end why;
	uint64_t last_ns; /* arrival of its last datagram: it may still be
	                     playing what it holds */
};

/* Receiver-wide counters: datagrams, unless said otherwise. */
struct receiver_counters {
	uint64_t datagrams;         /* everything the socket delivered */
	uint64_t accepted;          /* handed to a stream */
	uint64_t malformed;         /* rtp_parse refused them */
	uint64_t too_big;           /* longer than max_datagram */
	uint64_t unknown_pt;        /* not the configured payload type (nor
	                               the RED one) */
	uint64_t not_allowed;       /* source outside the allow-list */
	uint64_t over_max_streams;  /* valid source while max_streams present */
	uint64_t pending;           /* dropped while set up (hold full) */
	uint64_t refused;           /* of a source control could not set up */
	uint64_t stream_dropped;    /* refused by the stream (pool, sequence) */
	uint64_t notify_dropped;    /* valid source while the ring was full */
	uint64_t probation_dropped; /* forgotten with a failed probation, or
	                               duplicates and strays during one */
	uint64_t ssrc_conflicts;    /* known SSRC from another address */
	uint64_t held;              /* in the probation table now */
	/* Sources and streams, not datagrams. */
	uint64_t streams_seen;      /* sources that became streams */
	uint64_t spares_used;       /* ... and took a spare stream */
	uint64_t probation_failed;  /* sources forgotten on probation */
	uint64_t probation_evicted; /* ... of them evicted by newer ones */
	uint64_t takeovers;         /* streams ended by a takeover */
	uint64_t superseded;        /* streams ended by a newer SSRC */
	uint64_t on_probation;      /* sources on probation now */
	uint64_t auth_failed;       /* SRTP: failed authentication */
	uint64_t replayed;          /* SRTP: replays */
};

enum receiver_state {
	RECEIVER_EMPTY = 0,
	RECEIVER_PROBATION,
	RECEIVER_PENDING,
	RECEIVER_ACTIVE,
	RECEIVER_REFUSED,
};

struct receiver_entry {
	uint32_t ssrc;
	uint8_t state;    /* enum receiver_state */
	bool superseded;  /* a newer SSRC from the same address is valid */
	int16_t hold;     /* srcval entry: its own (PROBATION, PENDING) or a
	                     challenger's (ACTIVE); -1: none */
	uint64_t id;      /* stream id; 0 while on probation */
	uint64_t last_ns; /* last datagram from its address */
	union srcval_addr from;
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
	uint64_t coalesce_next_ns; /* when to look at the streams again */
	uint64_t look_next_ns;     /* when to work out sweep_at again */
	bool sweep_poked;          /* control was told a sweep is due */
	unsigned present;          /* PENDING + ACTIVE + REFUSED entries */
	uint64_t next_id;
	struct srcval sv;
	struct receiver_gone *ended; /* ended by the net thread, not yet
	                                handed back by a sweep */
	unsigned nended, ended_cap;
	/* Net -> control: new streams. */
	struct ring newq;
	void *newq_mem;
	/* Control -> net: spare streams. */
	struct ring spares;
	void *spares_mem;
	/* Written by the net thread only; any thread reads (display). */
	_Atomic uint64_t c_datagrams, c_accepted, c_malformed, c_too_big,
	        c_unknown_pt, c_not_allowed, c_over_max, c_pending, c_refused,
	        c_stream_dropped, c_streams_seen, c_notify_dropped,
	        c_spares_used, c_probation_dropped, c_conflicts,
	        c_probation_failed, c_probation_evicted, c_takeovers,
	        c_superseded, c_held, c_on_probation, c_auth_failed, c_replayed;
	_Atomic uint64_t last_rx_ns; /* last datagram accepted by a stream */
	/* Net -> control: the next sweep can find something from this
	   CLOCK_MONOTONIC time on (receiver_sweep_at). */
	_Atomic uint64_t sweep_at;
	char err[RECEIVER_ERR_MAX];
};

/*
 * Allocate the tables and rings
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
 * Sources still on probation count as failed.
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
 * Take the next new-stream record
 *
 * Return: true when *out was filled
 * Context: control thread
 */
bool receiver_poll_new(struct receiver *r, struct receiver_new *out);

/*
 * Hand the net thread a spare stream for the next valid source
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
 * Install a stream set up for the PENDING stream n announced: the
 * datagrams it held go to ns, in sequence order, and the next ones too
 *
 * Return: 0; -ENOENT when that stream is no longer pending (it went
 *         silent and was swept, or was taken over): the caller still
 *         owns ns
 * Context: control thread (runs on the net thread, waits)
 */
int receiver_install(struct receiver *r, const struct receiver_new *n,
                     struct netstream *ns);

/*
 * Refuse the stream n announced (setting it up failed): its datagrams
 * are dropped and counted until it goes silent. A stream it held (the
 * spare it took) is let go of: the caller owns it again.
 *
 * Return: 0, or -ENOENT when that stream is gone already (a stream it
 *         held was handed back by a sweep)
 * Context: control thread (runs on the net thread, waits)
 */
int receiver_refuse(struct receiver *r, const struct receiver_new *n);

/*
 * Hand back the streams the net thread ended (taken over), and remove
 * every entry silent for idle_ns or more (all of them when idle_ns is 0),
 * superseded streams silent for supersede_ms (or idle_ns if
 * shorter), probation entries silent for idle_ns (failed)
 *
 * Return: streams handed back, written to out (at most cap; the others
 *         stay for the next sweep)
 * Context: control thread (runs on the net thread, waits)
 */
int receiver_sweep(struct receiver *r, uint64_t idle_ns,
                   struct receiver_gone *out, size_t cap);

/*
 * When a sweep with the idle time receiver_opts.idle_ns can next find
 * something: a CLOCK_MONOTONIC time in ns, at or before which nothing
 * ends (a stream's idle or supersede time, a probation's or a
 * challenger's, a stream the net thread ended). The net thread works it
 * out at most every RECEIVER_LOOK_EVERY_NS of arrivals and after every
 * sweep, and it only moves later while datagrams come; when it falls due
 * at once, the net thread calls `notify`. So the owner sweeps when the
 * time comes or it is notified, and wakes for nothing in between.
 *
 * Return: the time; UINT64_MAX when nothing can end (an empty table) or
 *         idle_ns is 0
 * Context: any thread (a hint: the sweep itself runs on the net thread)
 */
uint64_t receiver_sweep_at(const struct receiver *r);

/*
 * Copy the counters. Every datagram counted in `datagrams` is, once it
 * has left the probation table, in exactly one of accepted, malformed,
 * too_big, unknown_pt, not_allowed, over_max_streams, pending, refused,
 * stream_dropped, notify_dropped, probation_dropped, ssrc_conflicts;
 * `held` counts those still in it.
 *
 * Context: any thread
 */
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
