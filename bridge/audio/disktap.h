/*
 * disktap: a recorder tap that writes what the mixer gives it to a sound
 * file through a write-behind stream
 *
 * The control thread opens the tap (which opens the write-behind stream;
 * the format follows the file's extension), checks that the file could
 * be created (disktap_wait_open), then links it: to the mixer's output
 * (mixer_link_tap) to record the mix, or to one source (struct
 * source.tap) to record that source as pulled. The audio thread then
 * copies frames into write blocks and never waits: a full pool drops and
 * counts (writebehind.h).
 *
 * A full disk (or another write error) stops this recording only: the
 * file keeps the frames written, valid (WAV, AIFF: cut back to whole
 * frames, header rewritten), disktap_state turns to DISK_FULL or FAILED,
 * disktap_error says "out.wav: disk full after N frames (...)", and
 * disktap_frames_written is N. Later frames are dropped and counted.
 *
 * When the mixer hands the tap back (or, for a source tap, when the
 * source is handed back and the device is stopped), the control thread
 * calls disktap_close: the rest is written and the file finalized by the
 * disk server; disktap_wait_closed returns the outcome. The struct is the
 * caller's storage and must outlive that.
 */
#ifndef RTB_DISKTAP_H
#define RTB_DISKTAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/audio/tap.h"
#include "bridge/disk/writebehind.h"

struct disktap_opts {
	unsigned channels; /* channels of the frames the tap gets */
	unsigned rate;     /* Hz; 0: 48000 */
	int encoding;      /* enum diskfile_encoding; 0: 24-bit PCM */
	/* seconds a stalled disk may owe the tap before frames are dropped;
	 * 0: 2.0 (give at least the archive sources' read-ahead) */
	double buffer_s;
	uint32_t block_frames; /* 0: from buffer_s (writebehind.h) */
	/* Called on the disk thread once the file's creation was tried
	 * (disktap_wait_open would return at once), e.g. to wake the
	 * control thread; NULL: none. */
	void (*opened)(void *arg);
	void *opened_arg;
};

struct disktap {
	struct tap tap; /* first: a struct tap * is a struct disktap * */
	struct writebehind *wb; /* NULL once closed */
	unsigned channels;
	/* Audio thread while linked. */
	uint64_t offered; /* frames given to the tap */
	/* Control thread. */
	char wait_error[DISKFILE_ERRMSG_MAX]; /* a timed-out wait_open */
	bool closed;
	int close_rc; /* what writebehind_close returned */
	uint64_t final_dropped;
	struct writebehind_result result; /* filled by the disk thread */
};

/*
 * Create `path` and start the write-behind stream.
 *
 * Pre: srv is running; opts->channels >= 1
 * Return: 0, or -EINVAL, -ENOMEM, -ETIMEDOUT. Failing to create the file
 *         shows in disktap_wait_open.
 * Context: control thread
 */
int disktap_open(struct disktap *t, struct diskserver *srv, const char *path,
                 const struct disktap_opts *opts);

/*
 * Wait until the disk server has tried to create the file.
 *
 * Return: 0, -errno (disktap_error says why, with libsndfile's message),
 *         or -ETIMEDOUT (disktap_error: "out.wav: disk too slow: not
 *         created after 10.0 s")
 * Context: control thread
 */
int disktap_wait_open(struct disktap *t, int timeout_ms);

/* Why the recording failed or stopped ("" if it did not), also after
 * closing. Context: control thread. */
const char *disktap_error(const struct disktap *t);

/*
 * Where the recording stands: enum writebehind_state. Open: OPENING,
 * RECORDING, DISK_FULL or FAILED; after disktap_close: CLOSING until the
 * disk thread is done, then CLOSED, DISK_FULL or FAILED.
 *
 * Context: control thread
 */
int disktap_state(const struct disktap *t);

/*
 * Finish the recording: the disk server writes what is left, finalizes
 * the file and fills t->result. Never waits for the disk. No-op when
 * already closed. Also the tap's `release`.
 *
 * Pre: the tap is not linked (handed back, or the device is stopped)
 * Context: control thread
 */
void disktap_close(struct disktap *t);

/*
 * Wait for the outcome of disktap_close.
 *
 * Return: 0 (t->result.frames were written), the recording's first error
 *         (-errno, t->result.message), or -ETIMEDOUT
 * Context: control thread
 */
int disktap_wait_closed(struct disktap *t, int timeout_ms);

/* Frames dropped because the pool was full or after an error (the final
 * count once the close is done). Context: control thread (it reads the
 * stream that disktap_close hands to the disk thread). */
uint64_t disktap_dropped(const struct disktap *t);

/* Frames in the file so far; after DISK_FULL or FAILED, what the file
 * keeps. Context: control thread, as above. */
uint64_t disktap_frames_written(const struct disktap *t);

#endif
