/*
 * RTP fixed header (RFC 3550 section 5.1): pack, parse, and the wrap-around
 * arithmetic of 16-bit sequence numbers and 32-bit timestamps
 *
 * Pure code on caller buffers, callable from any thread (the net thread
 * parses every datagram). Parsing treats the bytes as hostile: every length
 * is checked before it is read, and a malformed or truncated packet is
 * rejected with an error, never a crash. A parsed header points into the
 * packet buffer (extension data, payload), so it is valid only as long as
 * that buffer is.
 */
#ifndef RTB_CODEC_RTP_H
#define RTB_CODEC_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_VERSION    2
#define RTP_HEADER_MIN 12 /* bytes, without CSRCs or extension */
#define RTP_MAX_CSRC   15
#define RTP_HEADER_MAX (RTP_HEADER_MIN + 4 * RTP_MAX_CSRC + 4 + 4 * 65535)

struct rtp_header {
	uint8_t version; /* 2 */
	bool padding;    /* P bit: set by rtp_write when pad_len > 0 */
	bool extension;  /* X bit: an extension follows the CSRCs */
	bool marker;
	uint8_t csrc_count; /* 0..15 */
	uint8_t pt;         /* payload type, 0..127 */
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint32_t csrc[RTP_MAX_CSRC];
	uint16_t ext_profile;    /* "defined by profile" 16 bits */
	uint16_t ext_words;      /* extension length in 32-bit words */
	const uint8_t *ext_data; /* ext_words * 4 bytes */
	uint8_t pad_len; /* padding bytes incl. the count byte, 0 = none */
};

/*
 * Bytes of header (fixed part, CSRCs, extension) this header packs into
 *
 * Context: any
 */
size_t rtp_header_size(const struct rtp_header *h);

/*
 * Write the header (not the payload or padding) into buf
 *
 * The P bit is written as (pad_len > 0); the X bit as h->extension, with
 * ext_words * 4 bytes copied from ext_data.
 * Return: header bytes written, -EINVAL for out-of-range fields (csrc_count
 *         > 15, pt > 127, version != 2, extension data missing), -ENOBUFS
 *         if cap is too small
 * Context: any, real-time safe
 */
int rtp_pack(const struct rtp_header *h, uint8_t *buf, size_t cap);

/*
 * Write a whole packet: header, payload, then h->pad_len bytes of padding
 * (zeros, the last one holding the count)
 *
 * The payload may already sit in buf at offset rtp_header_size(h) (encode
 * in place, then call this): it is moved, not assumed elsewhere.
 * Return: packet bytes, -EINVAL, or -ENOBUFS if cap is too small
 * Context: any, real-time safe
 */
int rtp_write(const struct rtp_header *h, const uint8_t *payload, size_t len,
              uint8_t *buf, size_t cap);

/*
 * Parse a packet
 *
 * Return: 0, -EPROTONOSUPPORT if the version is not 2, -EBADMSG if the
 *         packet is truncated or inconsistent (CSRC list or extension
 *         beyond the end, padding count 0 or larger than what is left)
 * Post: on success *h is filled (ext_data points into buf) and
 *       *payload and *payload_len give the payload without padding (the payload
 *       may be empty); on failure they are untouched
 * Context: any, real-time safe
 */
int rtp_parse(const uint8_t *buf, size_t len, struct rtp_header *h,
              const uint8_t **payload, size_t *payload_len);

/*
 * Signed distance a - b of two sequence numbers, modulo 2^16, in
 * [-32768, 32767]: positive when a is after b
 *
 * Context: any
 */
static inline int32_t rtp_seq_diff(uint16_t a, uint16_t b)
{
	uint16_t d = (uint16_t)(a - b);

	return d < 0x8000u ? (int32_t)d : (int32_t)d - 0x10000;
}

/* Return: true if sequence number a comes after b (modulo 2^16). */
static inline bool rtp_seq_newer(uint16_t a, uint16_t b)
{
	return rtp_seq_diff(a, b) > 0;
}

/*
 * Signed distance a - b of two timestamps, modulo 2^32, in
 * [-2^31, 2^31 - 1] ticks: positive when a is after b
 *
 * Context: any
 */
static inline int64_t rtp_ts_diff(uint32_t a, uint32_t b)
{
	uint32_t d = a - b;

	return d < 0x80000000u ? (int64_t)d : (int64_t)d - 0x100000000;
}

/* Return: true if timestamp a comes after b (modulo 2^32). */
static inline bool rtp_ts_newer(uint32_t a, uint32_t b)
{
	return rtp_ts_diff(a, b) > 0;
}

#endif
