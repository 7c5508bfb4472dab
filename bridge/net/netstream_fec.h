/*
 * netstream_fec: the receive side of RFC 5109 ULPFEC for one stream, on
 * the net thread (netstream_rx.c uses it; netstream.c makes and frees it)
 *
 * FEC packets travel in their stream's SSRC and sequence number space
 * (GStreamer's rtpulpfecenc and `rtbridge send --fec ulpfec` both send
 * them so), so the sequence numbers on the wire are not the media's: the
 * jitter buffer, which counts every missing number as a lost packet,
 * gets media numbers instead. A media packet's number follows from the
 * newest one before it by its timestamp: so many packet durations later
 * is so many packets later, when that is no more than the wire numbers
 * between them (the rest were FEC packets); a packet duration is learned
 * from two media packets with consecutive wire numbers. Where the
 * timestamps say nothing (the duration not known yet, or time the sender
 * skipped), every wire number counts as a media packet.
 *
 * The window keeps the last NETSTREAM_FEC_SLOTS media datagrams by wire
 * number (what an FEC packet is XORed with), and up to
 * NETSTREAM_FEC_PENDING FEC packets that could not be used yet because
 * more than one of their packets is still missing: each media packet
 * that arrives looks at them again. All memory is allocated by
 * netstream_fec_init (control thread); the net thread owns it after.
 */
#ifndef RTB_NET_NETSTREAM_FEC_H
#define RTB_NET_NETSTREAM_FEC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Media datagrams kept: the longest mask (48) and some reordering. */
#define NETSTREAM_FEC_SLOTS 64
/* FEC packets kept while more than one of their packets is missing. */
#define NETSTREAM_FEC_PENDING 8

struct netstream_fec_slot {
	uint64_t wire; /* extended wire sequence number */
	uint32_t len;  /* bytes; 0: empty */
};

struct netstream_fec {
	size_t cap;       /* bytes a kept datagram may have */
	uint8_t *media;   /* NETSTREAM_FEC_SLOTS x cap */
	uint8_t *pend;    /* NETSTREAM_FEC_PENDING x cap: FEC
	                     payloads */
	uint8_t *scratch; /* cap: a recovered datagram */
	struct netstream_fec_slot m[NETSTREAM_FEC_SLOTS];
	struct netstream_fec_slot p[NETSTREAM_FEC_PENDING]; /* wire: the FEC
	                                                       packet's */
	uint32_t p_ssrc[NETSTREAM_FEC_PENDING];
	unsigned p_next; /* the pending entry replaced next */
	/* Media numbering: the newest media packet's wire and media numbers
	   and timestamp, and the packet duration in RTP ticks (0: not
	   known yet). */
	bool ref_have;
	uint64_t ref_wire, ref_media;
	uint32_t ref_ts, step;
};

struct netstream;
struct packet;
struct rtp_header;

/*
 * Allocate the window for datagrams of up to cap bytes
 *
 * Return: 0, -ENOMEM
 * Context: control thread
 */
int netstream_fec_init(struct netstream_fec *f, size_t cap);

/* Free it; a zeroed or cleared one is fine. Context: control thread */
void netstream_fec_clear(struct netstream_fec *f);

/* Forget everything (the sender restarted). Context: net thread */
void netstream_fec_reset(struct netstream_fec *f);

/*
 * The media number of the media packet numbered wire on the wire, with
 * timestamp ts (the newest one moves the reference)
 *
 * Return: its extended media sequence number (wire itself without
 *         cfg.ulpfec)
 * Context: net thread
 */
uint64_t netstream_fec_number(struct netstream *s, uint64_t wire, uint32_t ts);

/*
 * Keep a media datagram (len bytes, numbered wire) that was queued, and
 * use the FEC packets waiting for it
 *
 * Context: net thread, real-time safe
 */
void netstream_fec_media(struct netstream *s, uint64_t wire, const uint8_t *buf,
                         size_t len, uint64_t arrival_ns);

/*
 * An FEC datagram (len bytes) numbered wire: rebuild and queue the packet
 * it protects that is missing, when it is the only one, or keep it for
 * later when more are
 *
 * Return: 0; -EBADMSG for a malformed FEC payload (counted rx_invalid)
 * Context: net thread, real-time safe
 */
int netstream_fec_receive(struct netstream *s, const uint8_t *buf, size_t len,
                          uint64_t wire, uint64_t arrival_ns);

/* Shared with netstream_rx.c (the receive half's own helpers). */
bool netstream__seen(struct netstream *s, uint64_t q);
bool netstream__was_seen(const struct netstream *s, uint64_t q);
void netstream__unsee(struct netstream *s, uint64_t q);
void netstream__count(_Atomic uint64_t *c);
/* Fill a record with a payload alone (payload_off 0) and h's fields. */
void netstream__fill(struct packet *p, const struct rtp_header *h,
                     const uint8_t *data, size_t len, uint64_t arrival_ns);

#endif
