/*
 * redenc: the sending side of RFC 2198 redundant audio — the payloads of
 * the last few packets, kept to wrap each new packet's payload with
 * copies of them
 *
 * The sender encodes a packet, then asks redenc_write for its RED payload:
 * the copies of the `distance` packets before it (oldest first), or with
 * a `lag`, one copy only, of the packet `lag` back (interleaved: a burst
 * of up to `lag` losses is restored from the packets after it, where
 * copies 1..distance restore at most `distance` of a burst), then its own
 * payload as the primary block; the primary is kept for the packets
 * after it. A copy goes in only when it can be placed by a receiver: it
 * is of the packet exactly k sequence numbers back (k a copied distance),
 * its timestamp is exactly k packet durations back (a sender that skipped
 * time, after a stall, puts no copy across the gap: a receiver counts
 * packets from the timestamp offset), and it fits a RED block (1..1023
 * bytes, an offset below 2^14 ticks).
 *
 * Pure code on memory redenc_init allocates; one owner at a time (the
 * sender's net thread while it runs).
 */
#ifndef RTB_CODEC_REDENC_H
#define RTB_CODEC_REDENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/red.h"

struct redenc_entry {
	size_t len; /* bytes kept, 0: none */
	uint32_t ts;
	uint16_t seq;
};

struct redenc {
	unsigned first, last; /* the copies: of the packets first..last back */
	unsigned kept;        /* payloads kept: last */
	uint8_t pt;           /* payload type of the blocks (the media's) */
	size_t cap;           /* bytes a kept payload may have */
	uint8_t *mem;         /* kept x cap */
	struct redenc_entry e[RED_MAX_LAG];
	unsigned next; /* the entry the next primary goes to */
};

/*
 * Copies of the `distance` packets before each one, or (lag > 0, distance
 * 1) of the packet `lag` back only; keep the payloads (up to `cap` bytes:
 * a longer one is sent, but never copied, a RED block holds at most
 * RED_BLOCK_LEN_MAX)
 *
 * Return: 0, -EINVAL (distance not 1..RED_MAX_DISTANCE, a lag not
 *         2..RED_MAX_LAG or with distance > 1, pt > 127), -ENOMEM
 * Context: control thread (allocates)
 */
int redenc_init(struct redenc *r, unsigned distance, unsigned lag, uint8_t pt,
                size_t cap);

/* Free the memory; a zeroed or cleared one is fine. Context: control */
void redenc_clear(struct redenc *r);

/*
 * The RED payload of the packet numbered seq with timestamp ts, whose own
 * payload is primary (len > 0 bytes) and whose packets last `ticks` RTP
 * ticks; then keep primary for the next packets
 *
 * Return: bytes written to out, or -ENOBUFS (cap too small; nothing is
 *         kept) or -EINVAL (len 0)
 * Context: the owner's thread, real-time safe
 */
int redenc_write(struct redenc *r, uint16_t seq, uint32_t ts, uint32_t ticks,
                 const uint8_t *primary, size_t len, uint8_t *out, size_t cap);

/*
 * Bytes redenc_write may write for a primary of up to `primary_max`
 * bytes: the copies' headers and bytes, the primary's header and bytes
 *
 * Context: any
 */
size_t redenc_max_size(const struct redenc *r, size_t primary_max);

#endif
