/*
 * disksource: a mixer source that plays a sound file through a read-ahead
 * stream
 *
 * The control thread opens the source (which opens the read-ahead stream
 * and lets the disk server prefetch), waits until the stream is buffered
 * or has failed (disksource_wait_ready: this is where a missing or
 * non-audio file is reported), then links it to the mixer. From then on
 * the audio thread owns the stream: each pull reads from it, never
 * waiting; frames that have not arrived are silence and count as
 * underruns (readahead.h). A non-looping source ends after its last frame
 * (pull returns a negative value and the mixer unlinks it); a disk error
 * ends it too.
 *
 * When the mixer hands the source back, `release` (control thread) closes
 * the read-ahead stream and keeps the final counters in the struct, which
 * stays the caller's storage. A source never linked is closed with
 * disksource_close.
 */
#ifndef RTB_DISKSOURCE_H
#define RTB_DISKSOURCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/audio/source.h"
#include "bridge/disk/readahead.h"

struct disksource_opts {
	unsigned channels; /* delivered channels: 1 or 2 (the mixer's) */
	unsigned rate;     /* session rate in Hz; 0: 48000 */
	double prefetch_s; /* read-ahead in seconds; 0: 2.0 */
	/* frames per disk block; 0: from the read-ahead (readahead.h) */
	uint32_t block_frames;
	bool loop; /* gapless loop instead of ending */
};

struct disksource {
	struct source
	        src; /* first: a struct source * is a struct disksource * */
	struct readahead *ra; /* NULL once closed */
	uint64_t length;      /* frames, known after disksource_wait_ready */
	/* Audio thread while linked. */
	uint64_t pulled; /* frames of audio delivered */
	bool at_end;     /* the last frame has been delivered */
	/* Audio -> any thread: set once the source has ended (end of file or
	 * disk error). */
	_Atomic bool ended;
	/* Control thread, filled by release/close (and by a timed-out
	 * disksource_wait_ready for the message). */
	bool released;
	uint64_t final_underruns;
	uint64_t final_underrun_frames;
	uint64_t final_position;
	int final_state;
	char final_error[DISKFILE_ERRMSG_MAX]; /* the stream's error, if any */
};

/*
 * Open `path` for playing and start prefetching.
 *
 * Pre: srv is running; opts->channels is 1 or 2
 * Return: 0, or -EINVAL (bad options), -ENOMEM, -ETIMEDOUT (the disk
 *         server's mailbox stayed full). File errors show later, in
 *         disksource_wait_ready.
 * Context: control thread
 */
int disksource_open(struct disksource *s, struct diskserver *srv,
                    const char *path, const struct disksource_opts *opts);

/*
 * Wait until the stream has its read-ahead in memory (or the whole file,
 * if shorter), polling every millisecond. Sources opened together are
 * prefetched together: wait for each in turn, each with the full timeout.
 *
 * Pre: s is open and not linked yet (control still owns the stream)
 * Return: 0 when ready; -errno of the file error (disksource_error says
 *         what it is: libsndfile's message); -ETIMEDOUT, and
 *         disksource_error names the file, how long it waited and how far
 *         the disk got ("a.wav: disk too slow: 12000 of 96000 frames of
 *         read-ahead after 10.0 s")
 * Context: control thread
 */
int disksource_wait_ready(struct disksource *s, int timeout_ms);

/* Why the stream failed or was not ready in time ("" if neither), also
 * after the source was released. Context: control thread. */
const char *disksource_error(const struct disksource *s);

/* Length in frames at the session rate (0 until known). Context: control
 * thread, after disksource_wait_ready succeeded. */
uint64_t disksource_length(const struct disksource *s);

/* Playing position in frames (within the file, wrapped when looping; a
 * recent snapshot while linked). Context: control thread (it reads the
 * stream that disksource_close frees). */
uint64_t disksource_position(const struct disksource *s);

/* Underruns so far (events, frames). Context: control thread, as above. */
uint64_t disksource_underruns(const struct disksource *s);
uint64_t disksource_underrun_frames(const struct disksource *s);

/*
 * Whether the source has played its last frame (or failed).
 *
 * Context: any thread while the struct exists (one atomic flag in it)
 */
bool disksource_ended(const struct disksource *s);

/*
 * Close the read-ahead stream of a source that is not linked (never was,
 * or has been handed back); no-op when already closed.
 *
 * Context: control thread
 */
void disksource_close(struct disksource *s);

#endif
