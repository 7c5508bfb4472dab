/*
 * sdpparse: read the stream description of an SDP file (RFC 4566) for
 * `rtbridge recv --sdp`
 *
 * Pure text parsing, no I/O: the first audio media section gives the
 * port, payload type, codec (rtpmap: opus, L16, L24), clock rate and
 * channel count (Opus: from fmtp stereo=, RFC 7587), and ptime. What we
 * write with sdp_write reads back the same; GStreamer/ffmpeg style files
 * with more attributes are fine. Context: any, pure.
 */
#ifndef RTB_NET_SDPPARSE_H
#define RTB_NET_SDPPARSE_H

#include <stddef.h>

#include "codec/codec.h"

struct sdpparse_result {
	unsigned port;        /* m= port */
	int pt;               /* payload type */
	enum codec_kind kind; /* from rtpmap */
	int rate;             /* Hz (Opus: 48000) */
	int channels;         /* 1..8 */
	int ptime_us;         /* a=ptime, 0: not given */
	char addr[64];        /* c= address ("" when none) */
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
