/*
 * sdp: an SDP description (RFC 4566) of one RTP audio stream
 *
 * Pure text generation, no I/O: what `rtbridge sdp` prints so that
 * GStreamer, ffmpeg and other RTP tools can receive what `rtbridge send`
 * sends. Opus follows RFC 7587 (rtpmap always opus/48000/2; the channel
 * count travels in the fmtp stereo parameters), L16/L24 RFC 3551
 * (rtpmap NAME/RATE/CHANNELS).
 */
#ifndef RTB_SDP_H
#define RTB_SDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "codec/codec.h"

struct sdp_opts {
	const struct sockaddr *to; /* destination: address and port */
	const struct codec_config
	        *codec;      /* codec, rate, channels, frame size */
	int pt;              /* payload type, 0..127 */
	const char *name;    /* s= line; NULL: "rtbridge" */
	uint64_t session_id; /* o= session id and version */
	int ttl;             /* IPv4 multicast TTL in c=; 0: 16 */
	const char *crypto;  /* SRTP: an a=crypto value (srtpkey_sdes), the
	                        profile then RTP/SAVP; NULL: RTP/AVP */
};

/*
 * Write the description into buf, lines ended by CRLF, NUL-terminated.
 *
 * Pre: opts->to is AF_INET or AF_INET6; opts->codec passes codec_config_check
 * Context: any, pure
 * Return: characters written (without the NUL), -EINVAL for a bad
 *         option, -ENOBUFS when cap is too small (1024 is always enough)
 */
int sdp_write(char *buf, size_t cap, const struct sdp_opts *opts);

#endif
