/*
 * writebehind: recording to a sound file without waiting for the disk
 *
 * The control thread opens the stream (allocating it and its block pool)
 * and hands it to one producer context (the audio callback's recorder tap,
 * or the net thread). The producer owns the pool: it copies frames into
 * blocks and posts full ones to the disk server, which writes them and
 * returns each block to the pool's lock-free return stack. When every
 * block is out, frames are dropped and counted; the producer never waits.
 *
 * The file's format follows its extension and opts.encoding (see
 * diskfile.h; .wav, .aiff and .flac default to 24-bit PCM). WAV and AIFF
 * headers are rewritten at most every second while recording (and on
 * writebehind_flush), so a killed process leaves a file playable up to
 * about one second (plus the block being filled) before the end.
 *
 * A write error (a full disk, EIO) stops this recording only: a WAV or
 * AIFF file is cut back to the whole frames written and its header
 * rewritten at once, so it stays valid and exact; the state turns to
 * WRITEBEHIND_DISK_FULL (ENOSPC, EDQUOT) or WRITEBEHIND_FAILED, the
 * message says how many frames the file keeps, writebehind_frames_written
 * is that number, and every later frame is dropped and counted. The disk
 * server goes on serving the other streams.
 *
 * Closing hands the stream back to the server, which writes what is left,
 * finalizes the file, fills the caller's struct writebehind_result and
 * frees the stream. The control thread may poll or wait for that result.
 */
#ifndef RTB_WRITEBEHIND_H
#define RTB_WRITEBEHIND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/disk/diskfile.h"
#include "bridge/disk/diskserver.h"
#include "bridge/msg/pool.h"

struct writebehind_opts {
	/* frames per block; 0: diskserver_block_frames(buffer), an eighth
	 * of the buffer and at least 8192 (at most the buffer) */
	uint32_t block_frames;
	/* seconds of frames the pool holds besides the block being filled
	 * (what a stalled disk may owe the stream); 0: 2.0 */
	double buffer_s;
	int encoding; /* enum diskfile_encoding; 0: 24-bit PCM */
	/* Called on the disk thread once the server has tried to create
	 * the file (writebehind_wait_open would return); NULL: none. */
	void (*opened)(void *arg);
	void *opened_arg;
};

enum writebehind_state {
	WRITEBEHIND_OPENING = 0, /* the server has not created the file yet */
	WRITEBEHIND_RECORDING,
	WRITEBEHIND_DISK_FULL, /* stopped by ENOSPC or EDQUOT; file valid */
	WRITEBEHIND_FAILED,    /* could not create, or another write error */
	/* After the close (disktap_state): */
	WRITEBEHIND_CLOSING, /* the disk thread is finishing the file */
	WRITEBEHIND_CLOSED,  /* finished without error */
};

/* Outcome of a recording, filled by the disk thread at close. */
struct writebehind_result {
	int status;       /* 0, or the first error (-errno) */
	uint64_t frames;  /* frames in the file (exact after a write error
	                     for WAV and AIFF) */
	uint64_t dropped; /* frames given to the stream but not written */
	uint64_t bytes;   /* file size after closing */
	char message[DISKFILE_ERRMSG_MAX]; /* "" or the error */
	_Atomic int done; /* 1 once the fields above are final */
};

struct writebehind {
	struct diskfile file; /* the disk thread's part */
	struct diskserver *server;
	struct pool pool; /* owned by the producer */
	void *pool_mem;
	struct disk_block *cur; /* block being filled (producer) */
	struct disk_block *
	        *unsent; /* full blocks the mailbox refused, in order */
	size_t nblocks;
	size_t unsent_head;
	size_t unsent_len;
	uint32_t block_frames;
	int channels;
	int rate;
	struct writebehind_result
	        *result; /* set by close, read by the disk thread */
	_Atomic uint64_t dropped_frames;
	_Atomic uint64_t drop_events;
};

/*
 * Create `path` (format from its extension) for `channels` channels at
 * `rate` Hz and post the open request. A failure to create the file shows
 * later in writebehind_status (writebehind_wait_open waits for it).
 *
 * Context: control
 * Return: 0 and *out, or -EINVAL, -ENOMEM, -ETIMEDOUT
 */
int writebehind_open(struct diskserver *srv, const char *path, int channels,
                     int rate, const struct writebehind_opts *opts,
                     struct writebehind **out);

/*
 * Wait until the server has tried to open the file.
 *
 * Context: control (sleeps, polling every millisecond)
 * Return: the stream's status (0 or -errno), or -ETIMEDOUT
 */
int writebehind_wait_open(struct writebehind *s, int timeout_ms);

/*
 * Copy `frames` interleaved frames for writing. Full blocks go to the disk
 * server; when the pool is empty (or after a write error) the rest is
 * dropped and counted.
 *
 * Context: the producer; real-time safe, never waits
 * Return: frames accepted
 */
size_t writebehind_write(struct writebehind *s, const float *in, size_t frames);

/*
 * Post the partly filled block and ask the server to bring the file header
 * up to date.
 *
 * Context: the producer; real-time safe
 * Return: 0, or -EAGAIN when the mailbox was full (retried on the next
 *         write or flush)
 */
int writebehind_flush(struct writebehind *s);

/*
 * Finish the recording: post what remains and the close request. Never
 * waits for the disk. `result` (may be NULL) is filled by the disk thread
 * when the file is complete.
 *
 * Pre: the producer no longer uses s; result, if given, outlives the close.
 * Post: s must not be used any more.
 * Context: control (may sleep briefly if the server's mailbox is full)
 * Return: 0, or -ETIMEDOUT (the mailbox stayed full; s stays allocated)
 */
int writebehind_close(struct writebehind *s, struct writebehind_result *result);

/*
 * Whether the close has completed, and waiting for it.
 *
 * Context: control
 * Return: poll: 1 when done, 0 when not yet; wait: result->status once
 *         done, or -ETIMEDOUT after `timeout_ms`
 */
int writebehind_result_done(const struct writebehind_result *result);
int writebehind_wait_closed(struct writebehind_result *result, int timeout_ms);

/*
 * Status (0 or -errno), its message ("out.wav: disk full after 48000
 * frames (No space left on device)"), and the state it means.
 *
 * Context: any thread, until writebehind_close
 */
int writebehind_status(const struct writebehind *s);
const char *writebehind_error(const struct writebehind *s);
int writebehind_state(const struct writebehind *s);

/*
 * Frames in the file so far (once the state is DISK_FULL or FAILED, the
 * final count), frames dropped (no free block, or after an error), drop
 * events of the producer.
 *
 * Context: any thread, until writebehind_close
 */
uint64_t writebehind_frames_written(const struct writebehind *s);
uint64_t writebehind_dropped_frames(const struct writebehind *s);
uint64_t writebehind_drop_events(const struct writebehind *s);

#endif
