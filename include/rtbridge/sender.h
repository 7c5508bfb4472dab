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
 */
#ifndef RTBRIDGE_SENDER_H
#define RTBRIDGE_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rtbridge/receiver.h> /* enum rtb_codec */

#ifdef __cplusplus
extern "C" {
#endif

struct rtb_sender;

struct rtb_sender_config {
	const char *to;       /* destination "ADDR:PORT" */
	enum rtb_codec codec; /* 0: Opus */
	int rate;             /* Hz; 0: 48000 */
	int channels;         /* 0: 2 */
	unsigned frame_us;    /* packet duration; 0: 10000 (10 ms) */
	int bitrate;          /* Opus, bit/s; 0: 128000 */
	int pt;               /* payload type; 0: 96 */
	int64_t ssrc;         /* 0..2^32-1; -1: random (RFC 3550) */
	bool loop;            /* a file: start again at its end */
	double duration_s;    /* stop after this much audio; 0: no limit */
	/* RFC 2198 redundant audio: each packet also carries copies of the
	   red_distance (1..3) packets before it, as payload type red_pt,
	   so that a receiver restores lost ones (`rtbridge recv --red-pt`);
	   0: plain packets. L16/L24 packets must fit 1023 bytes. */
	unsigned red_distance;
	int red_pt; /* 0: 100 */
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
};

/*
 * Send a sound file: it is opened (and read ahead) first, then streamed
 * at the audio rate until its end (or forever with loop)
 *
 * Return: 0 with *out set (sending), or a negated errno with one line in
 *         why (len bytes; may be NULL) naming the file or address
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

/* A snapshot of the figures. Context: any thread. */
void rtb_sender_stats(const struct rtb_sender *s, struct rtb_sender_stats *st);

/*
 * Stop sending and free the sender
 *
 * Pre: no thread pushes to it any more
 * Context: control thread
 */
void rtb_sender_destroy(struct rtb_sender *s);

#ifdef __cplusplus
}
#endif

#endif
