/*
 * sdp: an SDP description (RFC 4566) of one RTP audio stream
 *
 * Pure text generation, no I/O: what `rtbridge sdp` prints and what
 * `rtbridge send --announce` announces with SAP, so that GStreamer,
 * ffmpeg, PipeWire and other RTP tools can receive what `rtbridge send`
 * sends. Opus follows RFC 7587 (rtpmap always opus/48000/2; the channel
 * count travels in the fmtp stereo parameters), L16/L24 RFC 3551
 * (rtpmap NAME/RATE/CHANNELS). Every description says a=ptime (in ms,
 * fractional when the packet is: 4.4375 for 213 frames at 48 kHz),
 * a=recvonly (a receiver only receives), and RFC 7273's a=ts-refclk and
 * a=mediaclk: what clock the RTP timestamps follow. A stream sent with
 * RFC 2198 redundancy is described as RFC 2198 section 5 and GStreamer
 * do: the RED payload type first in m=, its rtpmap (red, the media's
 * clock rate and channels) and fmtp (the block payload types).
 */
#ifndef RTB_SDP_H
#define RTB_SDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "codec/codec.h"

/* Longest session name (s=) and clock attribute values written. */
#define SDP_NAME_MAX  255
#define SDP_CLOCK_MAX 64

struct sdp_opts {
	const struct sockaddr *to; /* destination: address and port */
	const struct codec_config
	        *codec;      /* codec, rate, channels, packet length */
	int pt;              /* payload type, 0..127 */
	const char *name;    /* s= line; NULL: "rtbridge" */
	uint64_t session_id; /* o= session id */
	uint64_t version;    /* o= version; 0: the session id */
	/* o= unicast address of the sender (its port is ignored); NULL: the
	 * destination address */
	const struct sockaddr *origin;
	int ttl; /* IPv4 multicast TTL in c=; 0: 1 (the system's default) */
	/* a=ts-refclk value; NULL: "local" (the sender's own clock, which no
	 * one else follows) */
	const char *ts_refclk;
	/* a=mediaclk value; NULL: "direct=0" */
	const char *mediaclk;
	/* SRTP: an a=crypto value (srtpkey_sdes), the profile then RTP/SAVP;
	 * NULL: RTP/AVP */
	const char *crypto;
	/* RFC 2198 redundant audio: the stream is sent as payload type
	 * red_pt carrying blocks of pt, red_distance copies per packet:
	 * m= lists red_pt first, then pt; a=rtpmap:RED red/RATE/CH and
	 * a=fmtp:RED PT/PT... (the primary, then one per copy) describe it,
	 * pt's own lines stay. 0: plain RTP of pt */
	unsigned red_distance;
	int red_pt;
	/* RFC 5109 ULPFEC: FEC packets of payload type ulpfec_pt go with
	 * the stream (fec_percent > 0): m= lists pt, then ulpfec_pt, with
	 * a=rtpmap:FEC ulpfec/RATE (GStreamer's encoding-name ULPFEC); 0:
	 * none */
	unsigned fec_percent;
	int ulpfec_pt;
};

/*
 * Write the description into buf, lines ended by CRLF, NUL-terminated.
 *
 * Pre: opts->to is AF_INET or AF_INET6; opts->codec passes codec_config_check
 * Context: any, pure
 * Return: characters written (without the NUL), -EINVAL for a bad
 *         option (a name or clock value too long or holding a control
 *         character), -ENOBUFS when cap is too small (1024 is always
 *         enough)
 */
int sdp_write(char *buf, size_t cap, const struct sdp_opts *opts);

/*
 * Write a packet time in ms as SDP says it: "1", "2.5", "4.4375",
 * "1.0884" (at most four decimals, no trailing zeros)
 *
 * Context: any, pure
 */
void sdp_ptime_text(char *out, size_t len, double ms);

#endif
