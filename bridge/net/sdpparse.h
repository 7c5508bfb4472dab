/*
 * sdpparse: read the stream description of an SDP text (RFC 4566), for
 * `rtbridge recv --sdp FILE` and for the SDP that SAP announcements carry
 * (`recv --sap`, `rtbridge list`)
 *
 * Pure text parsing, no I/O, no allocation: the first audio media section
 * gives the port, payload type, codec (rtpmap: opus, L16, L24), clock rate
 * and channel count (Opus: from fmtp stereo=, RFC 7587), ptime, RFC 2198
 * redundancy (a first payload type whose rtpmap is "red": the stream is
 * the primary its fmtp names, sent inside RED), and for
 * SRTP (RTP/SAVP) the section's a=crypto values (RFC 4568: they hold the
 * key; the caller reads them with srtpkey_sdes_parse and zeroes them); the
 * session gives its name (s=), origin (o=) and connection address (c=, a
 * media-level one winning), and RFC 7273's clock attributes are kept as
 * text. What sdp_write writes reads back the same; GStreamer, ffmpeg and
 * PipeWire files with more attributes are fine.
 *
 * Input from the network is hostile: the text is read within its given
 * length (NUL or not), each line within SDPPARSE_LINE_MAX bytes (longer
 * lines are read truncated), every number is checked for range before
 * use, and the work is linear in the length. Context: any, pure.
 */
#ifndef RTB_NET_SDPPARSE_H
#define RTB_NET_SDPPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

#define SDPPARSE_LINE_MAX   512 /* bytes of a line that are looked at */
#define SDPPARSE_NAME_MAX   128 /* s= kept, NUL included (cut beyond) */
#define SDPPARSE_ORIGIN_MAX 160 /* o= without its version, NUL included */
#define SDPPARSE_ATTR_MAX   64  /* ts-refclk, mediaclk kept */
#define SDPPARSE_CRYPTO_MAX 4   /* a=crypto lines kept */
#define SDPPARSE_CRYPTO_LEN 160 /* bytes of each, with the NUL */
#define SDPPARSE_PTS_MAX    16  /* payload types of m= looked at */

struct sdpparse_result {
	unsigned port;        /* m= port */
	int pt;               /* payload type (of the media) */
	int red_pt;           /* RFC 2198 redundancy: the RED payload type
	                         carrying blocks of pt (m= lists it first, its
	                         rtpmap says "red", its fmtp "PT/PT..."); -1:
	                         none */
	int ulpfec_pt;        /* RFC 5109 FEC: a payload type of m= whose
	                         rtpmap says "ulpfec"; -1: none */
	enum codec_kind kind; /* from rtpmap */
	int rate;             /* Hz (Opus: 48000) */
	int channels;         /* 1..8 */
	int ptime_us;         /* a=ptime rounded to us, 0: not given */
	int frames;           /* a=ptime as whole frames at rate (the nearest
	                         count), 0: not given */
	char addr[64];        /* c= address, without TTL ("" when none) */
	unsigned ttl;         /* c= IPv4 multicast TTL, 0: none given */
	char name[SDPPARSE_NAME_MAX];      /* s=, "" when none */
	char origin[SDPPARSE_ORIGIN_MAX];  /* o= "user id net type addr" */
	uint64_t version;                  /* o= session version */
	char ts_refclk[SDPPARSE_ATTR_MAX]; /* a=ts-refclk value, "" none */
	char mediaclk[SDPPARSE_ATTR_MAX];  /* a=mediaclk value, "" none */
	bool recvonly;                     /* a=recvonly (or sendonly) seen */
	bool savp;                         /* the profile is RTP/SAVP (SRTP) */
	/* a=crypto values (after "a=crypto:"), in order; key material */
	char crypto[SDPPARSE_CRYPTO_MAX][SDPPARSE_CRYPTO_LEN];
	int ncrypto;
};

/*
 * Parse an SDP text of len bytes (a NUL ends it earlier)
 *
 * Return: 0; -EINVAL with one line in err for a malformed or unusable
 *         description (no audio section, no rtpmap for its payload type,
 *         bad numbers, ...); -ENOTSUP for a well-formed one whose encoding
 *         is not one of ours (PCMA, ...)
 * Context: any, pure
 */
int sdpparse_parse_n(struct sdpparse_result *out, const char *text, size_t len,
                     char *err, size_t errlen);

/* The same for a NUL-terminated text. Context: any, pure. */
int sdpparse_parse(struct sdpparse_result *out, const char *text, char *err,
                   size_t errlen);

/*
 * A codec configuration for what a parsed description says: kind, rate,
 * channels and the packet length (PCM: a=ptime as whole frames, else
 * 5 ms, clamped to 0.125..20 ms; Opus: a=ptime when it is one of Opus's,
 * else the default). It is a receiver's first guess: a stream's packets
 * tell their real length.
 *
 * Pre: sdpparse_parse succeeded on r
 * Post: codec_config_check(c) == 0
 * Context: any, pure
 */
void sdpparse_codec(const struct sdpparse_result *r, struct codec_config *c);

#endif
