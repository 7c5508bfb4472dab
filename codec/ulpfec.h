/*
 * ulpfec: the RTP payload for generic forward error correction (RFC 5109
 * ULPFEC, level 0), built and parsed, and one lost packet recovered
 *
 * An FEC packet protects up to 48 media packets of its stream, numbered
 * SN base + k for each bit k of its mask (bit 0, the mask's most
 * significant, is SN base itself). It carries the XOR of their "bit
 * strings": the first 8 bytes of each RTP header (P, X, CC, M, PT, SN,
 * TS), the 16-bit length of what follows the 12-byte fixed header (CSRCs,
 * extension, payload, padding), and those bytes, zero-padded to the
 * longest (the protection length). A receiver that holds all of them but
 * one XORs the others out and has the missing packet back, bit for bit.
 * Layout of the FEC payload (after the FEC packet's own RTP header):
 *
 *   0                   1                   2                   3
 *  |E|L|P|X|  CC   |M| PT recovery |            SN base            |
 *  |                          TS recovery                          |
 *  |        length recovery        |       protection length       |
 *  |      mask (16 bits)           | mask cont. (32, if L = 1) ... |
 *  |  level 0 payload: protection length bytes of XOR              |
 *
 * E = 0; L = 1 when the mask is 48 bits long (a packet 16 or more after
 * SN base is protected), else 16. This is what GStreamer's rtpulpfecenc
 * sends and its rtpulpfecdec reads (level 0 only, the FEC packet's length
 * exactly headers + protection length); the FEC packets share the media's
 * SSRC and sequence number space there, and here.
 *
 * Pure code on caller buffers, no allocation, callable from any thread.
 * Parsing treats the bytes as hostile: every field is checked against
 * the payload's length before it is read, and recovery writes at most
 * the caller's capacity.
 */
#ifndef RTB_CODEC_ULPFEC_H
#define RTB_CODEC_ULPFEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ULPFEC_HEADER_BYTES 10 /* the FEC header */
#define ULPFEC_LEVEL_SHORT  4  /* protection length + 16-bit mask */
#define ULPFEC_LEVEL_LONG   8  /* protection length + 48-bit mask */
#define ULPFEC_SPAN_SHORT   16 /* packets a short mask covers */
#define ULPFEC_SPAN_LONG    48 /* packets a long mask covers */
/* Bytes of FEC headers at most (payload offset of a long mask). */
#define ULPFEC_HEADERS_MAX (ULPFEC_HEADER_BYTES + ULPFEC_LEVEL_LONG)

/* The mask bit of the packet k after SN base (0 <= k < 48). */
#define ULPFEC_BIT(k) (1ull << (ULPFEC_SPAN_LONG - 1 - (k)))

/*
 * An FEC payload being built in the caller's buffer: ulpfec_begin, then
 * ulpfec_add for each protected packet, then ulpfec_finish
 */
struct ulpfec_builder {
	uint8_t *buf;    /* laid out with a long mask until finished */
	size_t cap;      /* bytes */
	size_t prot_len; /* longest packet after its fixed header so far */
	uint64_t mask;   /* ULPFEC_BIT(k) of each packet added */
	uint16_t base;   /* SN base: the first packet's number */
	unsigned count;  /* packets added */
};

/* A parsed FEC payload; payload points into the packet. */
struct ulpfec_info {
	bool long_mask;
	uint16_t sn_base;
	uint64_t mask; /* ULPFEC_BIT(k) for each protected packet */
	uint16_t prot_len;
	unsigned count;         /* packets protected (bits in mask) */
	const uint8_t *fec;     /* the whole FEC payload (headers first) */
	const uint8_t *payload; /* the level 0 XOR, prot_len bytes */
};

/*
 * Start an FEC payload in buf (cap bytes; it must hold
 * ULPFEC_HEADERS_MAX + the longest packet after its 12-byte header)
 *
 * Context: any, real-time safe
 */
void ulpfec_begin(struct ulpfec_builder *b, uint8_t *buf, size_t cap);

/*
 * Protect one RTP packet (the whole datagram, len bytes): its number
 * must lie within 48 after the first one added, and not be added yet
 *
 * Return: 0; -EBADMSG (shorter than an RTP header, not version 2),
 *         -ERANGE (out of the mask's span, or added already), -ENOBUFS
 *         (the buffer cannot hold it); on failure nothing changes
 * Context: any, real-time safe
 */
int ulpfec_add(struct ulpfec_builder *b, const uint8_t *pkt, size_t len);

/*
 * Finish the payload: E, L, SN base, protection length and mask written
 * (a short mask when every packet lies within 16 of the first)
 *
 * Return: payload bytes in b->buf (headers + protection length), or
 *         -EINVAL when no packet was added
 * Context: any, real-time safe
 */
int ulpfec_finish(struct ulpfec_builder *b);

/*
 * Parse an FEC payload of len bytes
 *
 * Return: 0; -EBADMSG when it is shorter than its headers, E is set, the
 *         mask is empty (or a short mask's continuation is not zero), or
 *         its length is not headers + protection length exactly
 * Context: any, real-time safe
 */
int ulpfec_parse(const uint8_t *payload, size_t len, struct ulpfec_info *f);

/*
 * Recover the protected packet numbered seq from the FEC payload f and
 * the n others it protects (whole datagrams pkts[i], lens[i] bytes): the
 * datagram, SSRC ssrc (the FEC packet's), into out
 *
 * Return: datagram bytes; -EINVAL when seq is not protected by f, or
 *         pkts are not exactly the others (a number not in the mask, or
 *         twice, or one missing); -EBADMSG when a packet is not RTP or
 *         longer than the protection (this FEC packet does not cover
 *         it), or the recovered length exceeds the protection length;
 *         -ENOBUFS when cap is short of 12 + the recovered length
 * Post: out is a well-formed RTP packet only as far as the XOR says: the
 *       caller parses it like any datagram
 * Context: any, real-time safe
 */
int ulpfec_recover(const struct ulpfec_info *f, uint16_t seq, uint32_t ssrc,
                   const uint8_t *const *pkts, const size_t *lens, size_t n,
                   uint8_t *out, size_t cap);

#endif
