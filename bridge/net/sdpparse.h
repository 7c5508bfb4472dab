/*
 * sdpparse: read the stream description of an SDP file (RFC 4566) for
 * `rtbridge recv --sdp`
 *
 * Pure text parsing, no I/O: the first audio media section gives the
 * port, payload type, codec (rtpmap: opus, L16, L24), clock rate and
 * channel count (Opus: from fmtp stereo=, RFC 7587), ptime, and for
 * SRTP (RTP/SAVP) the section's a=crypto values (RFC 4568: they hold the
 * key; the caller reads them with srtpkey_sdes_parse and zeroes them). What we
 * write with sdp_write reads back the same; GStreamer/ffmpeg style files
 * with more attributes are fine. Context: any, pure.
 */
#ifndef RTB_NET_SDPPARSE_H
#define RTB_NET_SDPPARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "codec/codec.h"

#define SDPPARSE_CRYPTO_MAX 4   /* a=crypto lines kept */
#define SDPPARSE_CRYPTO_LEN 160 /* bytes of each, with the NUL */

struct sdpparse_result {
	unsigned port;        /* m= port */
	int pt;               /* payload type */
	enum codec_kind kind; /* from rtpmap */
	int rate;             /* Hz (Opus: 48000) */
	int channels;         /* 1..8 */
	int ptime_us;         /* a=ptime, 0: not given */
	char addr[64];        /* c= address ("" when none) */
	bool savp;            /* the profile is RTP/SAVP (SRTP) */
	/* a=crypto values (after "a=crypto:"), in order; key material */
	char crypto[SDPPARSE_CRYPTO_MAX][SDPPARSE_CRYPTO_LEN];
	int ncrypto;
};

/*
 * Parse the text of an SDP file
 *
 * Return: 0, or -EINVAL with one line in err (no audio section, no
 *         rtpmap for its payload type, an unsupported encoding, ...)
 * Context: any, pure
 */
int sdpparse_parse(struct sdpparse_result *out, const char *text, char *err,
                   size_t errlen);

#endif
