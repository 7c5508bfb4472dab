/*
 * packet: one received RTP datagram, as a record that travels from the net
 * thread to the audio thread
 *
 * The net thread takes a record from the stream's pool, copies the datagram
 * into it, fills in the parsed fields and the arrival time, and pushes a
 * pointer to it on the stream's ring. The audio thread owns it from then on
 * (the jitter buffer holds it until playout) and gives it back with
 * pool_return. The byte array is a flexible member: `cap` bytes follow the
 * header, so the datagram limit is chosen per stream (packet_size()).
 */
#ifndef RTB_NET_PACKET_H
#define RTB_NET_PACKET_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec/rtp.h"

/* Default datagram room: an Ethernet MTU. */
#define PACKET_DEFAULT_BYTES 1500

/* packet.flags */
#define PACKET_RESTART 0x1u /* the sender restarted here (rtpseq said so) */
/* Restored from a redundant copy (RFC 2198 RED) carried by a later
   packet: data[] holds the payload alone (payload_off 0), arrival_ns is
   the carrier's arrival, which says nothing of this packet's transit. */
#define PACKET_RECOVERED 0x2u

struct packet {
	uint64_t ext_seq; /* extended sequence number (rtpseq) */
	/* receive time, CLOCK_MONOTONIC ns (or simulated) */
	uint64_t arrival_ns;
	uint32_t rtp_ts; /* RTP timestamp as sent */
	uint32_t ssrc;
	uint16_t seq;         /* RTP sequence number as sent */
	uint32_t len;         /* datagram bytes in data[] */
	uint32_t payload_off; /* payload start in data[] */
	uint32_t payload_len; /* payload bytes, without padding */
	uint32_t cap;         /* bytes of room in data[] */
	uint8_t pt;
	bool marker;
	uint8_t flags; /* PACKET_* */
	uint8_t data[];
};

/*
 * Bytes one record with room for a datagram of `cap` bytes takes (the pool's
 * node size)
 *
 * Context: any
 */
static inline size_t packet_size(size_t cap)
{
	return sizeof(struct packet) + cap;
}

/*
 * Copy a datagram into a record and parse its RTP header
 *
 * The caller then sets ext_seq (and PACKET_RESTART in flags) from its
 * sequence tracker.
 * Pre: p->cap was set when the record was made
 * Return: 0; -EMSGSIZE if the datagram does not fit (p untouched);
 *         rtp_parse's -EPROTONOSUPPORT or -EBADMSG for a bad header
 * Context: any (net thread), real-time safe
 */
static inline int packet_set(struct packet *p, const uint8_t *buf, size_t len,
                             uint64_t arrival_ns)
{
	struct rtp_header h;
	const uint8_t *payload;
	size_t plen;
	int err;

	if (len > p->cap)
		return -EMSGSIZE;
	memcpy(p->data, buf, len);
	err = rtp_parse(p->data, len, &h, &payload, &plen);
	if (err < 0)
		return err;
	p->len = (uint32_t)len;
	p->payload_off = (uint32_t)(payload - p->data);
	p->payload_len = (uint32_t)plen;
	p->arrival_ns = arrival_ns;
	p->rtp_ts = h.ts;
	p->ssrc = h.ssrc;
	p->seq = h.seq;
	p->pt = h.pt;
	p->marker = h.marker;
	p->flags = 0;
	p->ext_seq = 0;
	return 0;
}

/* Return: the payload bytes of a filled record. Context: any */
static inline const uint8_t *packet_payload(const struct packet *p)
{
	return p->data + p->payload_off;
}

#endif
