/*
 * ulpfec: RFC 5109 FEC payloads, built and parsed, and recovery (see
 * ulpfec.h)
 *
 * Pure code. The builder XORs each packet into the buffer as it comes
 * (no copy of the packets is kept): the first 8 bytes of its header into
 * the FEC header's first 8, its length after the fixed header into the
 * length recovery, and those bytes into the level 0 payload, which is
 * laid out after a long level header until ulpfec_finish knows the
 * mask's length and moves it down for a short one. Recovery runs the
 * same XOR on the caller's output buffer, seeded with the FEC payload.
 */
#include "codec/ulpfec.h"

#include <errno.h>
#include <string.h>

#include "codec/rtp.h"

static uint16_t ulpfec_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void ulpfec_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned ulpfec_popcount(uint64_t m)
{
	unsigned n = 0;

	for (; m; m &= m - 1)
		n++;
	return n;
}

/* XOR a packet's bit string into a bit string whose first 10 bytes are
   the header part (8 bytes of RTP header, 2 of length) and whose level 0
   bytes start at `data`. */
static void ulpfec_xor(uint8_t *bits, uint8_t *data, const uint8_t *pkt,
                       size_t len)
{
	size_t n = len - RTP_HEADER_MIN;

	for (int i = 0; i < 8; i++)
		bits[i] ^= pkt[i];
	bits[8] ^= (uint8_t)(n >> 8);
	bits[9] ^= (uint8_t)n;
	for (size_t i = 0; i < n; i++)
		data[i] ^= pkt[RTP_HEADER_MIN + i];
}

static bool ulpfec_is_rtp(const uint8_t *pkt, size_t len)
{
	return len >= RTP_HEADER_MIN && len - RTP_HEADER_MIN <= UINT16_MAX &&
	       (pkt[0] >> 6) == RTP_VERSION;
}

void ulpfec_begin(struct ulpfec_builder *b, uint8_t *buf, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->cap = cap;
	if (cap >= ULPFEC_HEADERS_MAX)
		memset(buf, 0, ULPFEC_HEADERS_MAX);
}

int ulpfec_add(struct ulpfec_builder *b, const uint8_t *pkt, size_t len)
{
	if (!ulpfec_is_rtp(pkt, len))
		return -EBADMSG;
	uint16_t seq = ulpfec_be16(pkt + 2);
	uint16_t k = b->count ? (uint16_t)(seq - b->base) : 0;
	if (k >= ULPFEC_SPAN_LONG || (b->mask & ULPFEC_BIT(k)))
		return -ERANGE;
	size_t n = len - RTP_HEADER_MIN;
	if (b->cap < ULPFEC_HEADERS_MAX || n > b->cap - ULPFEC_HEADERS_MAX)
		return -ENOBUFS;
	uint8_t *data = b->buf + ULPFEC_HEADERS_MAX;
	if (n > b->prot_len) {
		memset(data + b->prot_len, 0, n - b->prot_len);
		b->prot_len = n;
	}
	if (!b->count)
		b->base = seq;
	ulpfec_xor(b->buf, data, pkt, len);
	b->mask |= ULPFEC_BIT(k);
	b->count++;
	return 0;
}

int ulpfec_finish(struct ulpfec_builder *b)
{
	if (!b->count)
		return -EINVAL;
	bool lng = (b->mask & 0xffffffffull) != 0;
	uint8_t *h = b->buf;
	/* E = 0 and L over the XOR of the version bits. */
	h[0] = (uint8_t)((h[0] & 0x3f) | (lng ? 0x40 : 0));
	ulpfec_put16(h + 2, b->base);
	ulpfec_put16(h + 10, (uint16_t)b->prot_len);
	ulpfec_put16(h + 12, (uint16_t)(b->mask >> 32));
	size_t hdr = ULPFEC_HEADER_BYTES +
	             (lng ? ULPFEC_LEVEL_LONG : ULPFEC_LEVEL_SHORT);
	if (lng) {
		uint32_t lo = (uint32_t)b->mask;
		ulpfec_put16(h + 14, (uint16_t)(lo >> 16));
		ulpfec_put16(h + 16, (uint16_t)lo);
	} else {
		memmove(h + hdr, h + ULPFEC_HEADERS_MAX, b->prot_len);
	}
	return (int)(hdr + b->prot_len);
}

int ulpfec_parse(const uint8_t *payload, size_t len, struct ulpfec_info *f)
{
	if (len < ULPFEC_HEADER_BYTES + ULPFEC_LEVEL_SHORT ||
	    (payload[0] & 0x80))
		return -EBADMSG;
	bool lng = (payload[0] & 0x40) != 0;
	size_t hdr = ULPFEC_HEADER_BYTES +
	             (lng ? ULPFEC_LEVEL_LONG : ULPFEC_LEVEL_SHORT);
	if (len < hdr)
		return -EBADMSG;
	uint16_t prot = ulpfec_be16(payload + 10);
	if (len - hdr != prot)
		return -EBADMSG;
	uint64_t mask = (uint64_t)ulpfec_be16(payload + 12) << 32;
	if (lng)
		mask |= (uint64_t)ulpfec_be16(payload + 14) << 16 |
		        ulpfec_be16(payload + 16);
	if (!mask)
		return -EBADMSG;
	f->long_mask = lng;
	f->sn_base = ulpfec_be16(payload + 2);
	f->mask = mask;
	f->prot_len = prot;
	f->count = ulpfec_popcount(mask);
	f->fec = payload;
	f->payload = payload + hdr;
	return 0;
}

int ulpfec_recover(const struct ulpfec_info *f, uint16_t seq, uint32_t ssrc,
                   const uint8_t *const *pkts, const size_t *lens, size_t n,
                   uint8_t *out, size_t cap)
{
	uint16_t k = (uint16_t)(seq - f->sn_base);
	if (k >= ULPFEC_SPAN_LONG || !(f->mask & ULPFEC_BIT(k)) ||
	    n + 1 != f->count)
		return -EINVAL;
	uint64_t left = f->mask & ~ULPFEC_BIT(k);
	for (size_t i = 0; i < n; i++) {
		if (!ulpfec_is_rtp(pkts[i], lens[i]))
			return -EBADMSG;
		uint16_t j = (uint16_t)(ulpfec_be16(pkts[i] + 2) - f->sn_base);
		if (j >= ULPFEC_SPAN_LONG || !(left & ULPFEC_BIT(j)))
			return -EINVAL;
		left &= ~ULPFEC_BIT(j);
		if (lens[i] - RTP_HEADER_MIN > f->prot_len)
			return -EBADMSG;
	}
	if (cap < RTP_HEADER_MIN + (size_t)f->prot_len)
		return -ENOBUFS;
	/* out[0..9] is the header part, out[12..] the level 0 bytes. */
	memcpy(out, f->fec, 10);
	memcpy(out + RTP_HEADER_MIN, f->payload, f->prot_len);
	for (size_t i = 0; i < n; i++)
		ulpfec_xor(out, out + RTP_HEADER_MIN, pkts[i], lens[i]);
	uint16_t len = ulpfec_be16(out + 8);
	if (len > f->prot_len)
		return -EBADMSG;
	out[0] = (uint8_t)((out[0] & 0x3f) | RTP_VERSION << 6);
	ulpfec_put16(out + 2, seq);
	out[8] = (uint8_t)(ssrc >> 24);
	out[9] = (uint8_t)(ssrc >> 16);
	out[10] = (uint8_t)(ssrc >> 8);
	out[11] = (uint8_t)ssrc;
	return RTP_HEADER_MIN + len;
}
