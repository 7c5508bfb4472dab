/*
 * red: the RTP payload for redundant audio data (RFC 2198), built and
 * parsed
 *
 * A RED payload carries a packet's own audio (the primary block) and
 * copies of earlier packets' payloads (redundant blocks), so that a
 * receiver that lost one of those earlier packets can play it from the
 * copy. Layout: one header per block, in block order, then the blocks'
 * bytes in the same order. A redundant block's header is 4 bytes:
 *
 *    0                   1                   2                   3
 *   |F|   block PT  |  timestamp offset (14)    |  block length (10)|
 *
 * with F = 1 (another header follows); the last header, the primary's, is
 * one byte (F = 0, block PT) and its length is what is left of the
 * payload. The timestamp offset says how many RTP ticks before the
 * packet's timestamp the block's audio begins.
 *
 * Pure code on caller buffers, no allocation, callable from any thread
 * (the sender's net thread builds, the receiver's parses every RED
 * datagram). Parsing treats the bytes as hostile: every header and every
 * block is checked to lie inside the payload before it is read, the
 * number of blocks is bounded by the caller's array, and a parsed block
 * points into the payload (valid as long as it is).
 */
#ifndef RTB_CODEC_RED_H
#define RTB_CODEC_RED_H

#include <stddef.h>
#include <stdint.h>

#define RED_HEADER_BYTES  4      /* a redundant block's header */
#define RED_LAST_BYTES    1      /* the primary's header */
#define RED_TS_OFFSET_MAX 0x3fff /* ticks: 14 bits */
#define RED_BLOCK_LEN_MAX 0x3ff  /* bytes: 10 bits */
#define RED_MAX_DISTANCE  3      /* copies per packet rtbridge sends */
#define RED_MAX_LAG       8      /* the farthest packet back it copies */
/* Blocks a parsed payload may hold, the primary included. */
#define RED_MAX_BLOCKS 16
/* Bytes RED adds at most to a packet rtbridge sends: RED_MAX_DISTANCE
   copies of the longest block, their headers, the primary's header. */
#define RED_MAX_OVERHEAD                                                       \
	(RED_MAX_DISTANCE * (RED_HEADER_BYTES + RED_BLOCK_LEN_MAX) +           \
	 RED_LAST_BYTES)

struct red_block {
	uint8_t pt;         /* payload type of the block, 0..127 */
	uint16_t ts_offset; /* RTP ticks before the packet's timestamp (0
	                       for the primary) */
	const uint8_t *data;
	size_t len; /* bytes */
};

/*
 * Bytes a RED payload with these redundant blocks and a primary of
 * primary_len bytes takes
 *
 * Context: any
 */
size_t red_size(const struct red_block *red, size_t nred, size_t primary_len);

/*
 * Write a RED payload: the nred redundant blocks (in the order given,
 * oldest first by convention), then the primary
 *
 * Return: bytes written; -EINVAL for a block the format cannot carry
 *         (pt > 127, a redundant block of 0 or more than
 *         RED_BLOCK_LEN_MAX bytes, a timestamp offset of 0 or above
 *         RED_TS_OFFSET_MAX, more than RED_MAX_BLOCKS - 1 redundant blocks,
 *         an empty primary); -ENOBUFS if cap is too small
 * Post: buf is untouched on failure. The blocks' bytes may not overlap buf.
 * Context: any, real-time safe
 */
int red_write(const struct red_block *red, size_t nred,
              const struct red_block *primary, uint8_t *buf, size_t cap);

/*
 * Parse a RED payload of len bytes into blocks[0 .. n-1]: the redundant
 * blocks in payload order, then the primary (blocks[n-1], ts_offset 0)
 *
 * Return: n >= 1; -EBADMSG for a malformed payload (a header or a block
 *         beyond the end, an empty block, a redundant block with a
 *         timestamp offset of 0); -E2BIG when it holds more than max
 *         blocks (or RED_MAX_BLOCKS); on failure the contents of blocks
 *         are unspecified
 * Pre: max >= 1
 * Context: any, real-time safe
 */
int red_parse(const uint8_t *payload, size_t len, struct red_block *blocks,
              size_t max);

#endif
