/*
 * The network source, receive half: datagrams into packet records, on the
 * net thread (see netstream.h for who owns what)
 *
 * Everything here runs on the net thread, per datagram, in memory
 * netstream_init allocated: records come from the stream's pools, go to
 * the audio thread on its ring, and come back through pool_return. The
 * net thread also drops copies of packets it has seen lately (a bitmap of
 * sequence numbers), before they take a record.
 *
 * RED (RFC 2198). A datagram of the RED payload type is split here: its
 * primary block becomes the packet's record, and a redundant block becomes
 * a record of its own (PACKET_RECOVERED) only when its packet is missing:
 * not seen lately and not older than the first packet seen. Blocks carry
 * a timestamp offset, not a sequence number; with packets of a constant
 * duration (what rtbridge and GStreamer send) the offset is a whole number
 * of packet durations, learned from the packets themselves (the timestamp
 * step between two received packets, divided by their sequence distance
 * when that is exact): a block k durations back belongs to sequence
 * number primary - k. A block that is no whole number of them back, of
 * another payload type, or (PCM) not one packet long is not used. Each
 * record holds the block's bytes only (payload_off 0): the audio thread
 * reads nothing else of a record.
 *
 * ULPFEC (RFC 5109). A datagram of the FEC payload type is numbered with
 * its stream and handed to netstream_fec.c, which keeps the recent media
 * datagrams, rebuilds a lost one and numbers the media packets apart from
 * the FEC packets (the jitter buffer gets media numbers).
 */
#include "bridge/net/netstream.h"

#include <errno.h>
#include <string.h>

#include "codec/red.h"

struct packet *netstream_packet_get(struct netstream *s, size_t len)
{
	for (unsigned k = 0; k < s->ncls; k++) {
		if (s->cls[k].cap < len)
			continue;
		struct packet *p = pool_get(&s->cls[k].pool);
		if (p)
			return p;
	}
	return NULL;
}

/* Give a record back from the net thread. */
static void netstream_packet_put(struct netstream *s, struct packet *p)
{
	pool_put(netstream__pool_of(s, p), p);
}

/* Counters the net thread alone writes; readers want a number, not an
   ordering. */
void netstream__count(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

int netstream_push(struct netstream *s, struct packet *p)
{
	if (!ring_try_push(&s->ring, &p)) {
		netstream_packet_put(s, p);
		netstream__count(&s->rx_dropped);
		return -ENOBUFS;
	}
	return 0;
}

#define NETSTREAM_SEEN_SPAN (NETSTREAM_SEEN_WORDS * 64)

/* Whether extended sequence number q was seen lately, without marking it:
   one before the window was reset or too old to tell counts as seen
   (nothing is restored for it). */
bool netstream__was_seen(const struct netstream *s, uint64_t q)
{
	if (!s->seen_any || q > s->seen_hi)
		return false;
	if (q < s->seen_lo || s->seen_hi - q >= NETSTREAM_SEEN_SPAN)
		return true;
	return (s->seen[(q / 64) % NETSTREAM_SEEN_WORDS] >> (q % 64)) & 1;
}

/* Whether extended sequence number q was seen lately; marks it seen. */
bool netstream__seen(struct netstream *s, uint64_t q)
{
	const uint64_t span = NETSTREAM_SEEN_SPAN;

	if (!s->seen_any || q >= s->seen_hi + span) {
		memset(s->seen, 0, sizeof(s->seen));
		s->seen_any = true;
		s->seen_hi = q;
		s->seen_lo = q;
	} else if (q > s->seen_hi) {
		for (uint64_t k = s->seen_hi + 1; k <= q; k++)
			s->seen[(k / 64) % NETSTREAM_SEEN_WORDS] &=
			        ~(1ull << (k % 64));
		s->seen_hi = q;
	} else if (s->seen_hi - q >= span) {
		return false; /* too old to tell: the jitter buffer will */
	}
	uint64_t *w = &s->seen[(q / 64) % NETSTREAM_SEEN_WORDS];
	uint64_t bit = 1ull << (q % 64);
	bool was = (*w & bit) != 0;
	*w |= bit;
	return was;
}

/* Forget that q was seen (its record could not be queued). */
void netstream__unsee(struct netstream *s, uint64_t q)
{
	s->seen[(q / 64) % NETSTREAM_SEEN_WORDS] &= ~(1ull << (q % 64));
}

/* Learn the packet duration in RTP ticks from a packet that arrived after
   the last one: the timestamp step over the sequence distance, when that
   divides exactly (a sender that skipped time, or a gap that is not whole
   packets, teaches nothing). */
static void netstream_red_learn(struct netstream *s, uint64_t ext, uint32_t ts,
                                bool restart)
{
	if (s->red_have && !restart && ext > s->red_seq) {
		uint64_t d = ext - s->red_seq;
		int64_t dt = rtp_ts_diff(ts, s->red_ts);
		if (dt > 0 && d <= NETSTREAM_SEEN_SPAN &&
		    (uint64_t)dt % d == 0 &&
		    (uint64_t)dt / d <= RED_TS_OFFSET_MAX)
			s->red_step = (uint32_t)((uint64_t)dt / d);
	} else if (restart || !s->red_have) {
		s->red_step = 0;
	} else {
		return; /* an older packet: the newest one stays the reference
		         */
	}
	s->red_seq = ext;
	s->red_ts = ts;
	s->red_have = true;
}

/* Fill a record with a block: its bytes, and the fields the audio thread
   reads. */
void netstream__fill(struct packet *p, const struct rtp_header *h,
                     const uint8_t *data, size_t len, uint64_t arrival_ns)
{
	memcpy(p->data, data, len);
	p->len = (uint32_t)len;
	p->payload_off = 0;
	p->payload_len = (uint32_t)len;
	p->arrival_ns = arrival_ns;
	p->rtp_ts = h->ts;
	p->ssrc = h->ssrc;
	p->seq = h->seq;
	p->pt = h->pt;
	p->marker = h->marker;
	p->flags = 0;
	p->ext_seq = 0;
}

/* Whether a redundant block of len bytes is one packet long (PCM: its
   frames are its RTP ticks; Opus packets do not say so cheaply). */
static bool netstream_red_len_ok(const struct netstream *s, size_t len)
{
	const struct codec_config *c = &s->cfg.codec;

	if (c->kind == CODEC_OPUS)
		return true;
	size_t frame = (size_t)c->channels * (c->kind == CODEC_L16 ? 2 : 3);
	return len % frame == 0 && len / frame == s->red_step;
}

/* Queue the redundant block b of the primary numbered ext, if its packet
   is missing. Return: whether it was queued. */
static bool netstream_red_block(struct netstream *s, const struct red_block *b,
                                const struct rtp_header *h, uint64_t ext,
                                uint64_t arrival_ns)
{
	if (b->pt != s->cfg.pt || s->red_step == 0 ||
	    b->ts_offset % s->red_step != 0)
		return false;
	uint64_t k = b->ts_offset / s->red_step;
	if (k == 0 || k > RED_MAX_BLOCKS || ext < k || ext - k < s->seen_lo ||
	    !netstream_red_len_ok(s, b->len))
		return false;
	uint64_t q = ext - k;
	if (netstream__seen(s, q))
		return false; /* it came: the copy costs nothing more */
	struct packet *p = netstream_packet_get(s, b->len);
	if (!p) {
		netstream__unsee(s, q);
		netstream__count(&s->rx_dropped);
		return false;
	}
	struct rtp_header rh = *h;
	rh.ts = h->ts - b->ts_offset;
	rh.seq = (uint16_t)(h->seq - k);
	rh.pt = b->pt;
	rh.marker = false;
	netstream__fill(p, &rh, b->data, b->len, arrival_ns);
	p->ext_seq = q;
	p->flags = PACKET_RECOVERED;
	if (netstream_push(s, p) < 0) {
		netstream__unsee(s, q);
		return false;
	}
	return true;
}

/* A RED datagram whose header h was parsed (payload: its payload). */
static int netstream_receive_red(struct netstream *s,
                                 const struct rtp_header *h,
                                 const uint8_t *payload, size_t plen,
                                 uint64_t arrival_ns)
{
	struct red_block b[RED_MAX_BLOCKS];
	uint64_t ext;

	int n = red_parse(payload, plen, b, RED_MAX_BLOCKS);
	if (n < 0 || b[n - 1].pt != s->cfg.pt) {
		netstream__count(&s->rx_invalid);
		return -EBADMSG;
	}
	int err = rtpseq_update(&s->seq, h->seq, &ext);
	if (err < 0) {
		netstream__count(&s->rx_invalid);
		return err;
	}
	bool restart = err == RTPSEQ_RESTART;
	if (restart)
		s->seen_any = false;
	netstream_red_learn(s, ext, h->ts, restart);
	if (netstream__seen(s, ext)) {
		/* A copy, or a packet restored from a later one that
		   overtook it: its own blocks may still be missing. */
		netstream__count(&s->rx_duplicate);
		bool any = false;
		for (int i = 0; i + 1 < n; i++)
			any |= netstream_red_block(s, &b[i], h, ext,
			                           arrival_ns);
		return any ? 0 : -EALREADY;
	}
	/* The primary first: a stream starts on a packet of its own. */
	struct packet *p = netstream_packet_get(s, b[n - 1].len);
	if (!p) {
		netstream__unsee(s, ext);
		netstream__count(&s->rx_dropped);
		return -ENOBUFS;
	}
	struct rtp_header ph = *h;
	ph.pt = b[n - 1].pt;
	netstream__fill(p, &ph, b[n - 1].data, b[n - 1].len, arrival_ns);
	p->ext_seq = ext;
	if (restart)
		p->flags |= PACKET_RESTART;
	err = netstream_push(s, p);
	if (err < 0) {
		netstream__unsee(s, ext);
		return err;
	}
	for (int i = 0; i + 1 < n; i++)
		netstream_red_block(s, &b[i], h, ext, arrival_ns);
	return 0;
}

/* An FEC datagram (RFC 5109): numbered with its stream, used by
   netstream_fec, never queued. */
static int netstream_receive_fec(struct netstream *s, const uint8_t *buf,
                                 size_t len, uint64_t arrival_ns)
{
	uint64_t ext;

	if (len < RTP_HEADER_MIN) {
		netstream__count(&s->rx_invalid);
		return -EBADMSG;
	}
	int err =
	        rtpseq_update(&s->seq, (uint16_t)(buf[2] << 8 | buf[3]), &ext);
	if (err < 0) {
		netstream__count(&s->rx_invalid);
		return err;
	}
	if (err == RTPSEQ_RESTART) {
		s->seen_any = false;
		netstream_fec_reset(&s->fec);
	}
	return netstream_fec_receive(s, buf, len, ext, arrival_ns);
}

int netstream_receive(struct netstream *s, const uint8_t *buf, size_t len,
                      uint64_t arrival_ns)
{
	if (s->cfg.ulpfec && len >= 2 && (buf[1] & 0x7f) == s->cfg.ulpfec_pt)
		return netstream_receive_fec(s, buf, len, arrival_ns);
	if (s->cfg.red && len >= 2 && (buf[1] & 0x7f) == s->cfg.red_pt) {
		struct rtp_header h;
		const uint8_t *payload;
		size_t plen;
		int err = rtp_parse(buf, len, &h, &payload, &plen);
		if (err < 0) {
			netstream__count(&s->rx_invalid);
			return err;
		}
		return netstream_receive_red(s, &h, payload, plen, arrival_ns);
	}

	struct packet *p = netstream_packet_get(s, len);
	uint64_t ext;
	int err;

	if (!p) {
		netstream__count(&s->rx_dropped);
		return -ENOBUFS;
	}
	err = packet_set(p, buf, len, arrival_ns);
	if (err < 0)
		goto invalid;
	err = rtpseq_update(&s->seq, p->seq, &ext);
	if (err < 0)
		goto invalid;
	if (err == RTPSEQ_RESTART) {
		p->flags |= PACKET_RESTART;
		s->seen_any = false;
		if (s->cfg.ulpfec)
			netstream_fec_reset(&s->fec);
	}
	/* With ULPFEC the wire numbers hold FEC packets too: the jitter
	   buffer gets the media's. */
	p->ext_seq = netstream_fec_number(s, ext, p->rtp_ts);
	if (s->cfg.red)
		netstream_red_learn(s, ext, p->rtp_ts, err == RTPSEQ_RESTART);
	if (netstream__seen(s, ext)) {
		netstream_packet_put(s, p);
		netstream__count(&s->rx_duplicate);
		return -EALREADY;
	}
	err = netstream_push(s, p);
	if (err == 0 && s->cfg.ulpfec)
		netstream_fec_media(s, ext, buf, len, arrival_ns);
	return err;

invalid:
	netstream_packet_put(s, p);
	netstream__count(&s->rx_invalid);
	return err;
}
