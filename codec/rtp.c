/*
 * RTP fixed header pack and parse (RFC 3550 section 5.1)
 *
 * Pure code; see rtp.h. The parser walks the packet front to back and checks
 * that every field it is about to read lies inside the buffer, so that any
 * byte string, of any length, either parses or is rejected.
 */
#include "codec/rtp.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

static void rtp_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)(v & 0xff);
}

static void rtp_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)((v >> 16) & 0xff);
	p[2] = (uint8_t)((v >> 8) & 0xff);
	p[3] = (uint8_t)(v & 0xff);
}

static uint16_t rtp_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t rtp_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

size_t rtp_header_size(const struct rtp_header *h)
{
	size_t n = RTP_HEADER_MIN + 4u * h->csrc_count;

	if (h->extension)
		n += 4 + 4u * h->ext_words;
	return n;
}

int rtp_pack(const struct rtp_header *h, uint8_t *buf, size_t cap)
{
	if (h->version != RTP_VERSION || h->csrc_count > RTP_MAX_CSRC ||
	    h->pt > 127 || (h->extension && h->ext_words && !h->ext_data))
		return -EINVAL;
	size_t n = rtp_header_size(h);
	if (n > cap)
		return -ENOBUFS;

	buf[0] = (uint8_t)((RTP_VERSION << 6) | (h->pad_len ? 0x20 : 0) |
	                   (h->extension ? 0x10 : 0) | h->csrc_count);
	buf[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->pt);
	rtp_put16(buf + 2, h->seq);
	rtp_put32(buf + 4, h->ts);
	rtp_put32(buf + 8, h->ssrc);
	uint8_t *p = buf + RTP_HEADER_MIN;
	for (unsigned i = 0; i < h->csrc_count; i++, p += 4)
		rtp_put32(p, h->csrc[i]);
	if (h->extension) {
		rtp_put16(p, h->ext_profile);
		rtp_put16(p + 2, h->ext_words);
		if (h->ext_words)
			memmove(p + 4, h->ext_data, 4u * h->ext_words);
	}
	return (int)n;
}

int rtp_write(const struct rtp_header *h, const uint8_t *payload, size_t len,
              uint8_t *buf, size_t cap)
{
	size_t hs = rtp_header_size(h);

	if (len > INT_MAX / 2 || (len && !payload))
		return -EINVAL;
	if (hs > cap || len > cap - hs || h->pad_len > cap - hs - len)
		return -ENOBUFS;
	/* Move the payload first: packing the header could overwrite it if
	   the caller placed it just before its final position. */
	if (len)
		memmove(buf + hs, payload, len);
	int err = rtp_pack(h, buf, cap);
	if (err < 0)
		return err;
	size_t total = hs + len;
	if (h->pad_len) {
		memset(buf + total, 0, h->pad_len - 1u);
		total += h->pad_len;
		buf[total - 1] = h->pad_len;
	}
	return (int)total;
}

int rtp_parse(const uint8_t *buf, size_t len, struct rtp_header *h,
              const uint8_t **payload, size_t *payload_len)
{
	struct rtp_header r;

	if (!buf || len < RTP_HEADER_MIN)
		return -EBADMSG;
	memset(&r, 0, sizeof(r));
	r.version = buf[0] >> 6;
	if (r.version != RTP_VERSION)
		return -EPROTONOSUPPORT;
	r.padding = (buf[0] & 0x20) != 0;
	r.extension = (buf[0] & 0x10) != 0;
	r.csrc_count = buf[0] & 0x0f;
	r.marker = (buf[1] & 0x80) != 0;
	r.pt = buf[1] & 0x7f;
	r.seq = rtp_get16(buf + 2);
	r.ts = rtp_get32(buf + 4);
	r.ssrc = rtp_get32(buf + 8);

	/* off: bytes consumed so far; always <= len. */
	size_t off = RTP_HEADER_MIN;
	if (4u * r.csrc_count > len - off)
		return -EBADMSG;
	for (unsigned i = 0; i < r.csrc_count; i++, off += 4)
		r.csrc[i] = rtp_get32(buf + off);

	if (r.extension) {
		if (len - off < 4)
			return -EBADMSG;
		r.ext_profile = rtp_get16(buf + off);
		r.ext_words = rtp_get16(buf + off + 2);
		off += 4;
		if (4u * r.ext_words > len - off)
			return -EBADMSG;
		r.ext_data = buf + off;
		off += 4u * r.ext_words;
	}

	size_t end = len;
	if (r.padding) {
		/* The count byte is the last of the packet and counts
		   itself: it must be at least 1 and leave the header
		   intact. */
		if (end == off)
			return -EBADMSG;
		uint8_t pad = buf[end - 1];
		if (pad == 0 || pad > end - off)
			return -EBADMSG;
		r.pad_len = pad;
		end -= pad;
	}

	*h = r;
	*payload = buf + off;
	*payload_len = end - off;
	return 0;
}
