/*
 * red: RFC 2198 redundant audio payloads, built and parsed (see red.h)
 *
 * Pure code. The parser makes two bounded passes: the headers (at most
 * `max` of them, each checked to lie inside the payload), then the blocks,
 * whose lengths must add up to no more than what follows the headers; the
 * primary takes the rest and may not be empty.
 */
#include "codec/red.h"

#include <errno.h>
#include <string.h>

size_t red_size(const struct red_block *red, size_t nred, size_t primary_len)
{
	size_t n = RED_LAST_BYTES + primary_len;

	for (size_t i = 0; i < nred; i++)
		n += RED_HEADER_BYTES + red[i].len;
	return n;
}

int red_write(const struct red_block *red, size_t nred,
              const struct red_block *primary, uint8_t *buf, size_t cap)
{
	if (nred > RED_MAX_BLOCKS - 1 || primary->pt > 127 || primary->len == 0)
		return -EINVAL;
	for (size_t i = 0; i < nred; i++)
		if (red[i].pt > 127 || red[i].len == 0 ||
		    red[i].len > RED_BLOCK_LEN_MAX || red[i].ts_offset == 0 ||
		    red[i].ts_offset > RED_TS_OFFSET_MAX)
			return -EINVAL;
	size_t n = red_size(red, nred, primary->len);
	if (n > cap)
		return -ENOBUFS;

	uint8_t *h = buf;
	uint8_t *d = buf + nred * RED_HEADER_BYTES + RED_LAST_BYTES;
	for (size_t i = 0; i < nred; i++) {
		/* F, PT (7), offset (14), length (10): 32 bits. */
		uint32_t w = 0x80000000u | (uint32_t)red[i].pt << 24 |
		             (uint32_t)red[i].ts_offset << 10 |
		             (uint32_t)red[i].len;
		h[0] = (uint8_t)(w >> 24);
		h[1] = (uint8_t)(w >> 16);
		h[2] = (uint8_t)(w >> 8);
		h[3] = (uint8_t)w;
		h += RED_HEADER_BYTES;
		memcpy(d, red[i].data, red[i].len);
		d += red[i].len;
	}
	h[0] = primary->pt;
	memcpy(d, primary->data, primary->len);
	return (int)n;
}

int red_parse(const uint8_t *payload, size_t len, struct red_block *blocks,
              size_t max)
{
	size_t off = 0, n = 0, data = 0;

	if (max > RED_MAX_BLOCKS)
		max = RED_MAX_BLOCKS;
	/* Headers: redundant ones while F is set, then the primary's. */
	for (;;) {
		if (off >= len)
			return -EBADMSG;
		if (n == max)
			return -E2BIG;
		struct red_block *b = &blocks[n++];
		const uint8_t *h = payload + off;
		b->pt = h[0] & 0x7f;
		if (!(h[0] & 0x80)) {
			b->ts_offset = 0;
			b->len = 0;
			off += RED_LAST_BYTES;
			break;
		}
		if (len - off < RED_HEADER_BYTES)
			return -EBADMSG;
		b->ts_offset = (uint16_t)((h[1] << 6) | (h[2] >> 2));
		b->len = (size_t)((h[2] & 0x03) << 8 | h[3]);
		if (b->ts_offset == 0 || b->len == 0)
			return -EBADMSG;
		off += RED_HEADER_BYTES;
		data += b->len;
	}
	/* Blocks: the redundant ones' lengths, then the primary's rest. At
	   most 15 x 1023 bytes were added, so `data` cannot overflow. */
	if (data >= len - off)
		return -EBADMSG;
	for (size_t i = 0; i + 1 < n; i++) {
		blocks[i].data = payload + off;
		off += blocks[i].len;
	}
	blocks[n - 1].data = payload + off;
	blocks[n - 1].len = len - off;
	return (int)n;
}
