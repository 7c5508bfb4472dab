/*
 * sender: one outgoing RTP stream, encoded and paced on the net thread
 *
 * A sender takes audio from one source, either a read-ahead stream of a
 * sound file (readahead.h) or a capture FIFO filled by an audio input
 * callback (struct sender_capture below), encodes one packet per frame
 * with the codec interface, and sends it from its own UDP socket on a
 * drift-free monotonic schedule (pacer.h). Slot k of the schedule carries
 * RTP timestamp ts0 + k * frame ticks. A short stall of the net thread
 * (up to SENDER_BURST_MS) is caught up by sending the due packets back to
 * back; a longer one makes the pacer skip slots instead of bursting, so
 * the timestamps keep following real time and the sequence numbers stay
 * consecutive. Packets may be any whole number of frames the codec
 * allows (PCM: 0.125 to 20 ms, AES67's 1 ms among them). With
 * red_distance, each packet is RFC 2198 redundant audio: its payload and
 * copies of the payloads of the packets before it (redenc.h). With
 * fec_percent, every ceil(100 / fec_percent) packets are followed by an
 * RFC 5109 FEC packet (ulpfec.h) that protects them, as GStreamer's
 * rtpulpfecenc does it: same SSRC, the next sequence number (the media
 * packets after it are numbered on past it), the last packet's timestamp.
 *
 * Contexts and ownership: the control thread initialises a sender (codec
 * set-up allocates), starts it, and reads its counters and the `finished`
 * flag. Between sender_start_* and the end of the stream (or sender_stop)
 * the net thread owns the socket, the pacer, the encoder and the source;
 * the source goes back to the control thread once sender_finished() is
 * true or sender_stop() has returned.
 *
 * The capture FIFO carries preallocated blocks between the audio callback
 * (producer) and the net thread (consumer) through two SPSC rings: filled
 * blocks one way, empty blocks back. The callback side never allocates,
 * locks or makes a system call.
 */
#ifndef RTB_SENDER_H
#define RTB_SENDER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bridge/disk/readahead.h"
#include "bridge/msg/ring.h"
#include "bridge/net/netloop.h"
#include "bridge/net/pacer.h"
#include "bridge/net/srtpctx.h"
#include "codec/redenc.h"
#include "codec/ulpfec.h"
#include "bridge/net/udpsock.h"
#include "codec/codec.h"

#define SENDER_ERR_MAX 256
/* A stall of the net thread up to this long is caught up with a burst
   of packets; a longer one skips slots (the timestamps jump). */
#define SENDER_BURST_MS 100
/* RED's payload type unless told otherwise (a dynamic one, RFC 3551). */
#define SENDER_RED_PT 100
/* ULPFEC's payload type unless told otherwise. */
#define SENDER_ULPFEC_PT 101
/* --fec ulpfec:PERCENT limits: one FEC packet per 20 .. per 1 packets. */
#define SENDER_FEC_PERCENT_MIN 5
#define SENDER_FEC_PERCENT_MAX 100

/* A capture block: `frames` valid frames of interleaved float samples. */
struct sender_block {
	uint32_t frames;
	float *data;
};

/*
 * The live-input FIFO, audio callback -> net thread.
 *
 * Frames are counted on both sides: `frames_in` is written by the audio
 * callback only, `frames_out` by the net thread only; their difference is
 * the backlog the net thread paces from.
 */
struct sender_capture {
	struct ring filled; /* audio -> net: struct sender_block * */
	struct ring empty;  /* net -> audio: struct sender_block * */
	void *filled_mem, *empty_mem;
	struct sender_block *blocks;
	float *samples;
	size_t nblocks;
	uint32_t block_frames; /* capacity of one block, frames */
	int channels;
	/* Net thread only: the block being read, frames of it already read,
	 * whether the first read (which drops stale input) happened. */
	struct sender_block *cur;
	uint32_t cur_pos;
	bool primed;
	/* Written by the audio thread: frames queued, callbacks that lost
	 * frames for want of an empty block, frames so lost. */
	_Atomic uint64_t frames_in, overruns, dropped_in;
	/* Written by the net thread: frames taken, frames dropped to keep
	 * the latency bounded. */
	_Atomic uint64_t frames_out, trimmed;
};

/*
 * Set up a FIFO of `nblocks` blocks of `block_frames` frames each.
 *
 * Pre: nblocks is a power of two >= 2; block_frames >= 1; channels 1..8
 * Context: control (allocates)
 * Return: 0, -EINVAL, -ENOMEM
 */
int sender_capture_init(struct sender_capture *c, size_t nblocks,
                        uint32_t block_frames, int channels);

/*
 * Free the FIFO; clearing a zeroed or cleared one does nothing.
 *
 * Context: control
 */
void sender_capture_clear(struct sender_capture *c);

/*
 * Queue `frames` interleaved frames from the input callback. Frames that
 * find no empty block are dropped and counted.
 *
 * Context: audio thread (the only producer), real-time safe
 * Return: frames queued
 */
size_t sender_capture_push(struct sender_capture *c, const float *in,
                           size_t frames);

/*
 * Take exactly `frames` frames when at least that many are queued.
 * Keeps the backlog below `max_backlog` frames by dropping the oldest
 * (counted in `trimmed`).
 *
 * Context: net thread (the only consumer), real-time safe
 * Return: frames copied: `frames`, or 0 when fewer were queued (nothing
 *         is consumed then: the caller sends silence)
 */
size_t sender_capture_read(struct sender_capture *c, float *out, size_t frames,
                           uint64_t max_backlog);

/* Frames queued now (an estimate from another thread). Context: any. */
uint64_t sender_capture_backlog(const struct sender_capture *c);

struct sender_opts {
	struct codec_config codec;  /* see codec.h; rate = the source's rate */
	struct sockaddr_storage to; /* destination */
	/* Local address to send from (port 0 picks one); family 0: the
	   wildcard. A multicast sender binds its interface's address, so
	   that receivers (and a source-specific join) see that source. */
	struct sockaddr_storage from;
	int pt; /* RTP payload type, 0..127 */
	uint32_t ssrc;
	uint16_t seq0; /* sequence number of the first packet */
	uint32_t ts0;  /* RTP timestamp of slot 0 (media_clock:
	                  set when the stream starts) */
	/* RTP time follows the media clock (RFC 7273 a=mediaclk:direct=0):
	   slot k is stamped with the CLOCK_REALTIME time it is due at x the
	   RTP rate (mod 2^32), so receivers whose clocks agree know when
	   each frame was meant to play. */
	bool media_clock;
	int dscp;               /* 0..63, or -1: leave the socket's */
	unsigned mcast_ifindex; /* interface for a multicast destination,
	                           0: the route's */
	int mcast_ttl; /* TTL / hop limit for a multicast destination, 0..255,
	                  -1: the system's (1) */
	uint64_t max_frames; /* stop after this many frames sent; 0: no limit */
	uint32_t max_burst;  /* most due slots sent back to back after a
	                        stall; 0: as many as SENDER_BURST_MS of
	                        audio, at least 2 (a short stall is caught
	                        up, a longer one skipped) */
	uint64_t start_delay_ns; /* wait before slot 0; 0: 20 ms */
	uint64_t late_ns;        /* a send later than this is "late"; 0: 1 ms */
	/* Called on the net thread right after `finished` is set (e.g. to
	   wake the control thread, which then needs no polling); NULL:
	   none. */
	void (*on_finished)(void *arg);
	void *on_finished_arg;
	/* SRTP: each packet is protected just before it is sent; NULL:
	   plain RTP. The caller's (srtpctx_init_tx for opts.ssrc); used by
	   the net thread while the sender runs, cleared after sender_stop. */
	struct srtpctx *srtp;
	/* RFC 2198 redundant audio: each packet also carries copies of the
	   red_distance packets before it (redenc.h), as payload type
	   red_pt (its blocks: pt); 0: plain packets of type pt. */
	unsigned red_distance; /* 0..RED_MAX_DISTANCE */
	unsigned red_lag;      /* 0, or 2..RED_MAX_LAG with red_distance 1: one
	                          copy only, of the packet red_lag back */
	int red_pt;            /* 0..127, not pt */
	/* RFC 5109 ULPFEC: an FEC packet of payload type ulpfec_pt after
	   every ceil(100 / fec_percent) media packets, protecting them (the
	   packet overhead is at most fec_percent %); 0: none. Not with
	   RED. */
	unsigned fec_percent; /* 0, or SENDER_FEC_PERCENT_MIN..MAX */
	int ulpfec_pt;        /* 0..127, not pt */
};

/*
 * Defaults: Opus, 48 kHz stereo, 10 ms, 128 kbit/s, payload type 96 (RED
 * and ULPFEC off; their payload types SENDER_RED_PT and SENDER_ULPFEC_PT
 * when turned on),
 * ssrc/seq0/ts0 zero (see sender_opts_randomize), no DSCP, the system's
 * multicast interface and TTL, no limit.
 *
 * Context: any
 */
void sender_opts_init(struct sender_opts *o);

/*
 * Random SSRC and initial sequence number and timestamp (RFC 3550 5.1),
 * from the kernel's random source.
 *
 * Context: control
 * Return: 0, or a negated errno
 */
int sender_opts_randomize(struct sender_opts *o);

/* Counters; single-writer atomics the control thread reads for display. */
struct sender_stats {
	uint64_t packets;     /* datagrams sent */
	uint64_t bytes;       /* RTP bytes sent (headers included) */
	uint64_t frames;      /* source frames sent */
	uint64_t underruns;   /* packets short of audio (silence sent) */
	uint64_t late;        /* sends later than opts.late_ns */
	uint64_t skipped;     /* slots skipped to resync after a stall */
	uint64_t send_errors; /* datagrams the socket refused */
	uint64_t late_max_ns; /* worst lateness of a send */
};

struct sender {
	struct sender_opts opts;
	struct codec_encoder enc;
	int frames;     /* frames per packet */
	uint32_t ticks; /* RTP ticks per packet */
	float *pcm;     /* frames * channels */
	uint8_t *pkt;   /* one RTP packet */
	size_t pkt_cap;
	uint8_t *enc_buf;  /* RED: the packet's own payload, encoded */
	size_t enc_cap;    /* bytes */
	struct redenc red; /* RED: the copies (opts.red_distance > 0) */
	/* ULPFEC (opts.fec_percent > 0): the FEC payload of the current
	   group builds in fec_buf; fec_pkt is the FEC datagram. */
	struct ulpfec_builder fec;
	unsigned fec_group; /* media packets per FEC packet */
	uint8_t *fec_buf, *fec_pkt;
	size_t fec_buf_cap, fec_pkt_cap; /* bytes */
	struct netloop *nl;
	struct readahead *file;     /* source: a file, or */
	struct sender_capture *cap; /* source: live input */
	uint64_t cap_backlog_max;   /* frames */
	struct udpsock sock;
	struct pacer pacer;
	int open_handles;     /* net thread: socket and pacer not yet closed */
	bool ending;          /* net thread: closing was started */
	bool started;         /* control thread */
	uint16_t seq;         /* net thread: next sequence number */
	uint64_t sent_frames; /* net thread */
	/* 1 once the net thread has closed everything it used. */
	_Atomic int finished;
	_Atomic uint64_t packets, bytes, frames_sent, underruns, late, skipped,
	        send_errors, late_max_ns;
	char err[SENDER_ERR_MAX];
};

/*
 * Validate the options and set up the encoder and buffers.
 *
 * Post: on failure sender_error(s) is one line ("frame size 7 ms is not
 *       possible with opus: ..."); sender_clear is safe either way
 * Context: control (allocates)
 * Return: 0, -EINVAL, -ENOMEM
 */
int sender_init(struct sender *s, const struct sender_opts *o);

/*
 * Open the socket and start the schedule on the net thread, taking audio
 * from a read-ahead stream (whose channels and rate must match the codec
 * configuration) or from a capture FIFO.
 *
 * Pre: sender_init succeeded; the source is handed over to the net thread
 *      (the control thread no longer reads it) and, for a file, has
 *      left the OPENING state
 * Post: on failure nothing is left running and sender_error(s) says why
 *       ("send to 127.0.0.1:5004: ...")
 * Context: control; blocks until the net thread has set up
 * Return: 0 or a negated errno
 */
int sender_start_file(struct sender *s, struct netloop *nl,
                      struct readahead *file);
int sender_start_capture(struct sender *s, struct netloop *nl,
                         struct sender_capture *cap);

/*
 * Whether the stream has ended by itself (end of file or frame limit) and
 * the net thread has let go of everything; the source is then the
 * control thread's again.
 *
 * Context: any
 */
bool sender_finished(const struct sender *s);

/*
 * Stop sending (if still running) and wait until the net thread has
 * closed the socket and the pacer. Safe when never started, already
 * finished, or after the loop was stopped.
 *
 * Post: the source belongs to the control thread again
 * Context: control; waits at most about two seconds
 */
void sender_stop(struct sender *s);

/* Release the encoder and buffers (after sender_stop). Context: control. */
void sender_clear(struct sender *s);

/* A snapshot of the counters. Context: any. */
void sender_stats(const struct sender *s, struct sender_stats *st);

/* The last error line, "" if none. Context: control. */
const char *sender_error(const struct sender *s);

#endif
