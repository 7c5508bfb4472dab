/*
 * srcval: RFC 3550 source validation for the receiver — the probation
 * table of new sources and the datagrams they hold until they are valid
 *
 * A new SSRC is on probation (RFC 3550 A.1) until min_sequential packets
 * have arrived in sequence (rtpseq_probe). Its datagrams are not thrown
 * away meanwhile: the entry holds copies of them, so that a real source
 * loses nothing — once it is valid, and once it has a stream, the
 * receiver hands the held datagrams to the stream in sequence order
 * (srcval_drain), followed by the rest. A source that never proves itself
 * (a one-packet SSRC, random junk) is forgotten with what it held.
 *
 * An entry is PROBATION while it validates and PENDING once valid but
 * still waiting for a stream (it keeps holding). A probation entry may be
 * a challenger: a second transport address sending an SSRC that already
 * has a stream (RFC 3550 8.2 collision or loop; the receiver decides).
 *
 * Everything is allocated by srcval_init: a fixed number of entries and a
 * shared store of datagram buffers. When either runs out, the least
 * promising probation entry is evicted (the shortest run in sequence,
 * then the one silent longest): a flood of one-packet SSRCs cycles
 * through the table in constant memory and constant work per datagram
 * (a scan of the entries, bounded by their fixed count). PENDING entries
 * are never evicted.
 *
 * Plain code, no threads and no system calls: owned by the one thread
 * that receives (the net thread), which also reads the entries' fields.
 */
#ifndef RTB_NET_SRCVAL_H
#define RTB_NET_SRCVAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "codec/rtpseq.h"

#define SRCVAL_HOLD_MAX 16 /* datagrams one entry holds at most */

/* A transport address small enough for every entry (IPv4 or IPv6). */
union srcval_addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

enum srcval_kind {
	SRCVAL_FREE = 0,
	SRCVAL_PROBATION, /* validating */
	SRCVAL_PENDING,   /* valid, waiting for a stream */
};

struct srcval_entry {
	uint32_t ssrc;
	uint8_t kind;    /* enum srcval_kind */
	bool challenger; /* the SSRC has a stream from another address */
	uint16_t n;      /* datagrams held */
	struct rtpseq_probe probe;
	uint64_t first_ns; /* arrival of the first datagram */
	uint64_t last_ns;  /* arrival of the last one */
	union srcval_addr from;
	uint16_t held[SRCVAL_HOLD_MAX]; /* datagram buffers, arrival order */
};

/* One held datagram's header; its bytes are in the store. */
struct srcval_dgram {
	uint64_t rx_ns;
	uint32_t len;
	uint16_t seq;
};

/* What an eviction took out, for the caller to update its own tables. */
struct srcval_evicted {
	bool any;
	uint32_t ssrc;
	bool challenger;
	unsigned dropped; /* datagrams it held, now forgotten */
};

struct srcval {
	unsigned nentries, ndgrams, min_sequential;
	size_t max_bytes; /* room per datagram */
	struct srcval_entry *e;
	struct srcval_dgram *dg;
	uint8_t *bytes;  /* ndgrams * max_bytes */
	uint16_t *free;  /* stack of free datagram buffers */
	unsigned nfree;  /* on the stack */
	unsigned nprobe; /* PROBATION entries */
	unsigned npend;  /* PENDING entries */
};

/*
 * Allocate the table: `entries` entries (1..4096) sharing `dgrams`
 * datagram buffers (1..65535) of max_bytes each
 *
 * Return: 0, -EINVAL, -ENOMEM
 * Context: control thread (allocates)
 */
int srcval_init(struct srcval *v, unsigned entries, unsigned dgrams,
                size_t max_bytes, unsigned min_sequential);

/* Free everything. Context: control thread. */
void srcval_clear(struct srcval *v);

/*
 * Open a probation entry for a new source, evicting the least promising
 * probation entry when no entry or no datagram buffer is free
 *
 * A challenger needs at least two packets in sequence.
 *
 * Return: the entry's index, or -ENOSPC when nothing could be evicted
 *         (every entry PENDING); *ev says what was evicted
 * Context: net thread, real-time safe
 */
int srcval_open(struct srcval *v, uint32_t ssrc, bool challenger,
                const struct sockaddr *from, uint64_t rx_ns,
                struct srcval_evicted *ev);

/*
 * Account one datagram of entry i (probation: the A.1 step) and hold a
 * copy of it
 *
 * A datagram with a number already held is a duplicate and dropped. When
 * a run restarts, held datagrams more than SRCVAL_HOLD_MAX numbers away
 * from the new one are dropped (another source, or one that jumped);
 * closer ones stay (reordering at the start). A full entry drops its
 * furthest-behind datagram (probation) or the new one (pending). With
 * no buffer free, another probation entry is evicted (*ev).
 *
 * Pre: len <= max_bytes
 * Return: an rtpseq_probe_status (PENDING entries: RTPSEQ_PROBE_WAIT);
 *         *dropped: datagrams forgotten by this call, the new one
 *         included when it was not held
 * Context: net thread, real-time safe
 */
int srcval_hold(struct srcval *v, int i, uint16_t seq, const uint8_t *data,
                size_t len, uint64_t rx_ns, unsigned *dropped,
                struct srcval_evicted *ev);

/* The entry is valid: it keeps holding until it has a stream. */
void srcval_validated(struct srcval *v, int i);

/* Hand over one held datagram (srcval_drain). */
typedef void srcval_drain_fn(void *arg, const uint8_t *data, size_t len,
                             uint64_t rx_ns);

/*
 * Hand every held datagram of entry i to fn in sequence order (the order
 * of their numbers, not of their arrival), then free the entry
 *
 * Return: datagrams handed over
 * Context: net thread, real-time safe
 */
unsigned srcval_drain(struct srcval *v, int i, srcval_drain_fn *fn, void *arg);

/*
 * Forget entry i and what it holds
 *
 * Return: datagrams it held
 * Context: net thread, real-time safe
 */
unsigned srcval_release(struct srcval *v, int i);

#endif
