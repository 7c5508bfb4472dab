/*
 * readahead: a sound file streamed from disk ahead of a real-time consumer
 *
 * The control thread opens the stream (allocating the stream, its block
 * pool and its result ring) and hands it to exactly one consumer context
 * (the audio callback, or the net thread when sending). The consumer owns
 * the block pool: it sends empty blocks to the disk server as read
 * requests, each with the deadline at which the stream would run dry
 * before that block, and takes filled blocks back from the stream's result
 * ring. Reading never waits: frames that have not arrived are delivered as
 * silence and counted as an underrun (playback then resumes where it
 * stopped: an underrun delays the file, it does not skip it).
 *
 * Frames are float32 interleaved at the session rate; see diskfile.h for
 * the channel and rate conversions. Positions and lengths are in frames at
 * the session rate.
 *
 * States: OPENING (the server has not opened the file yet) -> BUFFERING
 * (waiting until the whole read-ahead, or the rest of the file, is in
 * memory; reads give silence without counting underruns) -> STREAMING ->
 * EOF (non-looping streams), or ERROR from anywhere (readahead_error
 * explains). A seek outside what is buffered goes back to BUFFERING; a
 * seek inside it keeps the blocks it can and stays STREAMING.
 */
#ifndef RTB_READAHEAD_H
#define RTB_READAHEAD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/disk/diskfile.h"
#include "bridge/disk/diskserver.h"
#include "bridge/msg/pool.h"
#include "bridge/msg/ring.h"

enum readahead_state {
	READAHEAD_OPENING = 0,
	READAHEAD_BUFFERING,
	READAHEAD_STREAMING,
	READAHEAD_EOF,
	READAHEAD_ERROR,
};

struct readahead_opts {
	int channels; /* 1, 2, or 0: the file's (mono or stereo; more: first
	                 two) */
	int rate;     /* session rate in Hz; 0: 48000 */
	double prefetch_s; /* read-ahead in seconds; 0: 2.0 */
	/* frames per block; 0: diskserver_block_frames(read-ahead), an
	 * eighth of it and at least 8192 (at most the read-ahead) */
	uint32_t block_frames;
	int loop; /* gapless loop: after the last frame comes frame 0 */
	/* The consumer is not real-time (a sender's net thread): each
	   request wakes the server at once (a system call), so that a
	   server started with diskserver_opts.woken need not poll. 0: the
	   server finds the requests when it looks (real-time safe). */
	int wake;
};

/* One queued block, in request order (consumer only). */
struct readahead_entry {
	struct disk_block *block;
	uint8_t ready;   /* the server has answered */
	uint8_t discard; /* no longer wanted: recycled once ready */
};

struct readahead {
	struct diskfile file; /* the disk thread's part */
	struct diskserver *server;
	struct pool pool; /* owned by the consumer */
	void *pool_mem;
	struct ring results; /* disk thread -> consumer */
	void *ring_mem;
	struct readahead_entry *q; /* consumer only from here on */
	size_t qcap;
	size_t qhead;
	size_t qlen;
	size_t ndiscard;   /* q[0 .. ndiscard) are discarded */
	size_t match_hint; /* q[] index the next read answer is likely for */
	uint32_t block_frames;
	int rate;
	int channels; /* delivered channels, 0 until known */
	int loop;
	int wake; /* readahead_opts.wake */
	uint64_t prefetch_frames;
	uint64_t play_pos; /* next frame to deliver (virtual: grows past length
	                      when looping) */
	uint64_t next_pos; /* first frame not yet requested */
	uint64_t length;
	int state;
	_Atomic int state_pub;         /* snapshot for other threads */
	_Atomic uint64_t position_pub; /* snapshot for other threads */
	_Atomic uint64_t length_pub;   /* snapshot for other threads */
	_Atomic uint64_t underruns;
	_Atomic uint64_t underrun_frames;
	_Atomic uint64_t
	        deferred; /* requests postponed: pool empty or mailbox full */
};

/*
 * Open `path` for streaming: allocates everything, posts the open request
 * and the first read requests. Errors from the file itself (missing, not
 * audio, ...) arrive later as the ERROR state.
 *
 * Context: control
 * Return: 0 and *out, or -EINVAL (bad options), -ENOMEM, -ETIMEDOUT (the
 *         server's mailbox stayed full)
 */
int readahead_open(struct diskserver *srv, const char *path,
                   const struct readahead_opts *opts, struct readahead **out);

/*
 * Copy up to `frames` frames into `out` (frames * readahead_channels()
 * floats), silence for the rest. Also takes the server's answers and
 * sends new read requests. `frames` may be 0 to do only that.
 *
 * Context: the consumer (or control before handing the stream over);
 *          real-time safe, never waits
 * Return: frames of audio copied (the rest of `out` is silence)
 */
size_t readahead_read(struct readahead *s, float *out, size_t frames);

/*
 * Same as readahead_read(s, NULL, 0): process answers, send requests.
 *
 * Context: the consumer; real-time safe
 * Return: the current state
 */
int readahead_poll(struct readahead *s);

/*
 * Poll until the stream leaves `state` (OPENING: the file is open, or
 * failed; BUFFERING: its read-ahead is in memory), for at most `ms` ms
 *
 * Context: control, before handing the stream over (sleeps)
 * Return: the state then
 */
int readahead_wait_while(struct readahead *s, int state, unsigned ms);

/*
 * Continue playback at `frame` (clamped to the length; wrapped when
 * looping). Blocks already holding frames at or after it are kept.
 *
 * Context: the consumer; real-time safe
 * Return: 0, or -EIO in the ERROR state
 */
int readahead_seek(struct readahead *s, uint64_t frame);

/*
 * Hand the stream back to the server, which frees it once the requests it
 * has in flight are done. Never waits for the disk.
 *
 * Pre: the consumer no longer uses s (ownership came back to control).
 * Post: s must not be used any more.
 * Context: control (may sleep briefly if the server's mailbox is full)
 * Return: 0, or -ETIMEDOUT (the mailbox stayed full; s stays allocated)
 */
int readahead_close(struct readahead *s);

/* State, position (frames, within [0, length]), length (0 until known).
 * Context: the consumer; from any other thread a recent snapshot, until
 * readahead_close (the disk thread frees the stream after it). */
int readahead_state(const struct readahead *s);
uint64_t readahead_position(const struct readahead *s);
uint64_t readahead_length(const struct readahead *s);

/*
 * Frames ready from the play position on, and frames the stream waits
 * for in BUFFERING (the read-ahead, or the rest of the file if shorter).
 *
 * Context: the consumer (or control before handing the stream over)
 */
uint64_t readahead_buffered(const struct readahead *s);
uint64_t readahead_wanted(const struct readahead *s);

/* Delivered channels (0 while OPENING if opts.channels was 0). Context:
 * consumer. */
int readahead_channels(const struct readahead *s);

/*
 * Why the stream is in the ERROR state ("" otherwise).
 *
 * Context: any thread until readahead_close, after readahead_state()
 *          returned READAHEAD_ERROR
 */
const char *readahead_error(const struct readahead *s);

/* Counters. Context: any thread, until readahead_close. */
uint64_t readahead_underruns(const struct readahead *s);
uint64_t readahead_underrun_frames(const struct readahead *s);
uint64_t readahead_deferred(const struct readahead *s);

#endif
