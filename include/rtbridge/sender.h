/*
 * rtbridge/sender.h: one RTP stream sent to a peer
 *
 * A sender encodes its audio (Opus, L16 or L24), one packet per frame
 * time, and sends it from its own UDP socket on a drift-free schedule at
 * the audio rate, on its own net thread. The audio comes from a sound file
 * (read ahead by a disk thread; any format and rate libsndfile reads,
 * converted) or from frames the application pushes from its audio
 * callback (rtb_sender_push), sent with the latency of a few packets.
 * When pushed frames run short, silence goes out (counted: underruns).
 *
 * A stream may go to a multicast group (TTL, interface), be marked for
 * DiffServ, follow the system clock (RFC 7273), carry RFC 2198 redundant
 * audio or RFC 5109 parity FEC, be protected with SRTP (RFC 3711, a key the
 * application gives), and be announced with SAP (RFC 2974) from its creation
 * until it is destroyed. rtb_sender_sdp describes it for any RTP receiver.
 *
 * `rtbridge send` is this sender: its options are the fields of
 * struct rtb_sender_config, and it says what goes wrong with the same
 * lines this library writes into `why`.
 */
#ifndef RTBRIDGE_SENDER_H
#define RTBRIDGE_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rtbridge/receiver.h> /* enum rtb_codec, rtb_srtp_suite, RTB_PT_ZERO */

#ifdef __cplusplus
extern "C" {
#endif

struct rtb_sender;

/* rtb_sender_config.ttl: multicast packets that stay on this host. */
#define RTB_TTL_HOST_ONLY (-1)

/*
 * What to send and how. Zeroed fields take the defaults said beside them
 * (a zeroed ssrc is SSRC 0: give -1 for a random one). Strings and the
 * key are read during rtb_sender_create_* and rtb_sender_check only: the
 * sender keeps copies of what it needs.
 */
struct rtb_sender_config {
	const char *to;       /* destination "ADDR:PORT" ("[V6]:PORT"; a
	                         multicast group such as 239.1.2.3:5004) */
	enum rtb_codec codec; /* 0: Opus */
	int rate;             /* Hz; 0: 48000 */
	int channels;         /* 0: 2 */
	unsigned frame_us;    /* packet duration; 0: 10000 (10 ms) */
	int bitrate;          /* Opus, bit/s; 0: 128000 */
	int pt;               /* payload type 1..127, RTB_PT_ZERO; 0: 96 */
	int64_t ssrc;         /* 0..2^32-1; -1: random (RFC 3550) */
	bool loop;            /* a file: start again at its end */
	double duration_s;    /* stop after this much audio; 0: no limit */
	/* RFC 2198 redundant audio: each packet also carries copies of the
	   red_distance (1..3) packets before it, as payload type red_pt,
	   so that a receiver restores lost ones (`rtbridge recv --red-pt`);
	   0: plain packets. L16/L24 packets must fit 1023 bytes. */
	unsigned red_distance;
	int red_pt; /* 1..127, RTB_PT_ZERO; 0: 100 */

	/* Since 0.2. */
	double frame_ms;       /* the packet duration in ms, for one that whole
	                          microseconds cannot say (L16/L24 take any whole
	                          number of frames: 213 at 48 kHz is 4.4375 ms);
	                          0: frame_us */
	double start_s;        /* a file: start this far into it, seconds
	                          (past its end without loop: -ERANGE) */
	int ttl;               /* multicast TTL / IPv6 hop limit, 1..255; 0: the
	                          system's (1); RTB_TTL_HOST_ONLY: 0 */
	unsigned multicast_if; /* interface index of a multicast destination
	                          (if_nametoindex); 0: the route's */
	int dscp;              /* DiffServ code point 1..63 (46: EF);
	                          0: the socket's (best effort, CS0) */
	bool media_clock;      /* RTP time = CLOCK_REALTIME x rate (RFC 7273
	                          a=mediaclk:direct=0, a=ts-refclk:ntp) */
	const char *session;   /* the SDP's session name (s=), 1..255
	                          printable characters; NULL: "rtbridge on
	                          HOST" */
	/* SRTP: each packet encrypted and authenticated with this master
	   key + salt (srtp_key_len bytes, the suite's length: 30 or 28);
	   NULL: plain RTP. The sender keeps it only inside libsrtp's
	   context (its own copies are zeroed once the context is made);
	   the caller's bytes are the caller's to zero. A key must never be
	   used twice with the same SSRC (a random ssrc avoids that). */
	const uint8_t *srtp_key;
	size_t srtp_key_len;
	enum rtb_srtp_suite srtp_suite;
	/* SAP (RFC 2974): announce the stream's SDP every
	   announce_interval_s (0: 5 s; 0.1..3600) from creation until
	   rtb_sender_stop or _destroy, which announce its deletion; the first
	   packet follows the first announcement by 0.5 s. The groups:
	   announce_group "GROUP[:PORT]", or NULL: the defaults for the
	   destination (IPv4 224.0.0.56 and 239.255.255.255, IPv6
	   ff0X::2:7ffe with the destination's scope X; port 9875), sent
	   with ttl and multicast_if. Not with SRTP (the SDP would carry
	   no key, and a key must not go out in clear). */
	bool announce;
	const char *announce_group;
	double announce_interval_s;
	/* RFC 5109 parity FEC (ULPFEC, `rtbridge send --fec
	   ulpfec:PERCENT`): after every ceil(100 / ulpfec_percent) packets
	   an FEC packet of payload type ulpfec_pt that protects them, in
	   the stream's SSRC and sequence numbers (as GStreamer's
	   rtpulpfecenc), so that a receiver rebuilds one lost packet of each
	   group; 5..100, 0: none. Not with red_distance. */
	unsigned ulpfec_percent;
	int ulpfec_pt; /* 1..127, RTB_PT_ZERO; 0: 101 */
	/* Interleaved redundancy (`--fec red@LAG`): with red_distance 1,
	   the one copy is of the packet red_lag back (2..8, as GStreamer's
	   rtpredenc distance), which restores bursts of up to red_lag lost
	   packets; 0: the packets right before. */
	unsigned red_lag;
};

/* A sender's figures since it started. */
struct rtb_sender_stats {
	uint64_t packets;   /* datagrams sent */
	uint64_t bytes;     /* RTP bytes sent, headers included */
	uint64_t frames;    /* frames sent */
	uint64_t underruns; /* packets short of audio (silence sent) */
	uint64_t late;      /* sends later than 1 ms past their time */
	uint64_t send_errors;
	uint64_t dropped_in; /* pushed frames that found no room */
	uint32_t ssrc;
	/* Since 0.2. */
	uint64_t skipped;     /* slots skipped to catch up after a stall
	                         of the net thread (the timestamps jump) */
	uint64_t late_max_ns; /* worst lateness of a send, ns */
	uint64_t overruns;    /* pushes that lost frames (dropped_in) */
	uint64_t trimmed;     /* pushed frames dropped to keep the latency
	                         bounded (pushed faster than sent) */
	uint64_t position;    /* a file: frames into it now */
	uint64_t length;      /* a file: its length in frames (0: unknown,
	                         or pushed frames) */
};

/*
 * Check a configuration as rtb_sender_create_* would (codec, frame size,
 * address, payload types, ranges), without opening a file or a socket:
 * what an application can say before it sets up the rest (its device)
 *
 * Return: 0, or a negated errno (-EINVAL: a bad setting) with one line in
 *         why (len bytes; may be NULL)
 * Context: control thread (resolves the destination's host name)
 */
int rtb_sender_check(const struct rtb_sender_config *cfg, char *why,
                     size_t len);

/*
 * Send a sound file: it is opened (and read ahead) first, then streamed
 * at the audio rate until its end (or forever with loop)
 *
 * Return: 0 with *out set (sending), or a negated errno with one line in
 *         why (len bytes; may be NULL) naming the file or address
 *         (-ERANGE: start_s is past the file's end)
 * Context: control thread
 */
int rtb_sender_create_file(const struct rtb_sender_config *cfg,
                           const char *path, struct rtb_sender **out, char *why,
                           size_t len);

/*
 * Send the frames the application pushes (rtb_sender_push)
 *
 * Return: 0 with *out set (sending), or a negated errno with one line in
 *         why (len bytes; may be NULL)
 * Context: control thread
 */
int rtb_sender_create_push(const struct rtb_sender_config *cfg,
                           struct rtb_sender **out, char *why, size_t len);

/*
 * Queue `frames` interleaved float frames (`channels` samples each) for
 * sending; frames that find no room are dropped and counted
 *
 * Pre: a sender made by rtb_sender_create_push; one thread pushes
 * Return: frames queued
 * Context: audio thread, real-time safe
 */
size_t rtb_sender_push(struct rtb_sender *s, const float *frames,
                       size_t nframes);

/*
 * Whether the stream has ended by itself (the file's end, duration_s)
 *
 * Context: any thread
 */
bool rtb_sender_finished(const struct rtb_sender *s);

/*
 * A file descriptor that becomes readable once the stream has ended by
 * itself (rtb_sender_finished turns true), for an application's poll
 * loop; -1 when the system gave none (then look at rtb_sender_finished
 * now and then). The sender's: not to be read or closed.
 *
 * Context: any thread, until rtb_sender_destroy
 */
int rtb_sender_fd(const struct rtb_sender *s);

/*
 * A snapshot of the figures
 *
 * Context: any thread, until rtb_sender_destroy
 */
void rtb_sender_stats(const struct rtb_sender *s, struct rtb_sender_stats *st);

/*
 * Stop sending (if it still sends) and announce the stream's deletion
 * (SAP): the net thread lets go of the stream, the figures are final.
 * Stopping a stopped sender does nothing more.
 *
 * Pre: no thread pushes to it any more
 * Return: 0, or a negated errno when the stream ended on an error (-EIO:
 *         the file could not be read), with one line in why (len bytes;
 *         may be NULL)
 * Context: control thread; waits for the net thread (at most about 2 s)
 */
int rtb_sender_stop(struct rtb_sender *s, char *why, size_t len);

/*
 * The SDP (RFC 8866) of the stream, as announced with SAP: origin (the
 * address the packets leave from), session name, connection (with the
 * TTL of a multicast one), media and payload types, a=ptime, the clock
 * attributes of media_clock
 *
 * Return: the text's length (written with its NUL), -ENOBUFS when len is
 *         too small (1024 bytes are enough), or -ENOTSUP for an SRTP
 *         sender (its SDP would carry the key, which the sender does not
 *         keep: describe it with the application's copy)
 * Context: control thread (looks the route up)
 */
int rtb_sender_sdp(const struct rtb_sender *s, char *buf, size_t len);

/*
 * The SDP that a sender of this configuration would announce
 * (rtb_sender_sdp), without making it: no socket, no file. With srtp_key,
 * the key goes into it as SDES (RFC 4568 a=crypto:1): the text is then
 * as secret as the key (the caller zeroes buf once used; the library's
 * own copies are zeroed). The session id is the time (seconds since
 * 1970). Since 0.4; `rtbridge sdp` prints it.
 *
 * Return: the text's length (written with its NUL), or a negated errno
 *         with one line in why (whylen bytes; may be NULL): -EINVAL (a bad
 *         setting, as rtb_sender_check says), -ENOBUFS (len too small;
 *         1024 bytes are enough)
 * Context: control thread (resolves the destination's host name, looks
 *          the route up)
 */
int rtb_sender_config_sdp(const struct rtb_sender_config *cfg, char *buf,
                          size_t len, char *why, size_t whylen);

/*
 * Stop (rtb_sender_stop) and free the sender
 *
 * Pre: no thread pushes to it any more
 * Context: control thread
 */
void rtb_sender_destroy(struct rtb_sender *s);

#ifdef __cplusplus
}
#endif

#endif
