/*
 * diskfile: one sound file as the disk server sees it (libsndfile access)
 *
 * A diskfile is embedded in each read-ahead or write-behind stream. Its
 * owner (the stream, on the control thread) fills the configuration part
 * before posting the open request; from then on only the disk server
 * thread touches the "disk thread" part, and publishes results (open
 * outcome, error message, frames written) with release stores or through
 * the stream's result ring, which the owner reads with acquire.
 *
 * Reading delivers float32 interleaved frames at the session rate with the
 * stream's channel count: other file rates go through libsamplerate
 * (SRC_SINC_MEDIUM_QUALITY) on the disk thread; a mono file into a stereo
 * stream is duplicated, stereo into mono is averaged, and files with more
 * than two channels contribute their first two (averaged for mono). The
 * stream length is the file's length converted to the session rate
 * (rounded to nearest); a resampled file is padded or cut to exactly that.
 *
 * Writing takes float32 interleaved frames; the container follows the file
 * extension (.wav .aiff/.aif .flac .ogg/.oga (Vorbis) .opus (Ogg Opus)).
 * PCM containers are written as 24-bit integers unless asked otherwise;
 * the float to integer conversion is done here, as round(x * 2^(bits-1))
 * clipped, so that frames holding k / 32768 (16-bit) or k / 8388608
 * (24-bit) values come back bit-exact.
 */
#ifndef RTB_DISKFILE_H
#define RTB_DISKFILE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <samplerate.h>
#include <sndfile.h>

struct diskfile;

/* Frees the stream that embeds the diskfile; called by the disk thread. */
typedef void (*diskfile_destroy_fn)(struct diskfile *f);

enum diskfile_mode {
	DISKFILE_READ = 1,
	DISKFILE_WRITE = 2,
};

/* Sample encoding for PCM containers (.wav, .aiff, .flac). */
enum diskfile_encoding {
	DISKFILE_ENC_DEFAULT = 0, /* PCM_24 */
	DISKFILE_ENC_PCM16,
	DISKFILE_ENC_PCM24,
	DISKFILE_ENC_FLOAT, /* .wav and .aiff only */
};

#define DISKFILE_ERRMSG_MAX 256

/* An audio block: the payload of a stream's pool node. */
struct disk_block {
	struct diskfile *file; /* owning stream, fixed at pool set-up */
	/* stream frame of data[0] (read: virtual, see readahead) */
	uint64_t pos;
	uint32_t frames;   /* valid frames */
	uint32_t capacity; /* frames the block holds */
	/* Disk thread only, while the block is a request: the next block of
	 * the same coalesced request, or NULL. */
	struct disk_block *batch_next;
	float data[]; /* frames * channels floats, interleaved */
};

struct diskfile {
	/* Configuration: written by the owner before the open request. */
	char *path;
	int mode;
	int channels; /* read: 1, 2 or 0 (the file's, at most 2); write: >= 1 */
	int rate;     /* session rate, Hz (read: delivered; write: file rate) */
	int loop;     /* read: wrap from the end to frame 0 */
	int encoding; /* write: enum diskfile_encoding */
	void *reply;  /* read: the stream's result ring */
	diskfile_destroy_fn destroy;
	/* write: called on the disk thread once the open was attempted
	 * (open_done published), e.g. to wake the owner; NULL: none. */
	void (*opened)(void *arg);
	void *opened_arg;
	/* Shortest time a request of this stream may wait before its
	 * consumer or producer runs dry (ns); sets how often the server
	 * looks at its mailbox. 0: unknown (the server looks every 2 ms). */
	int64_t slack_ns;

	/* Results: written by the disk thread before publishing (see above). */
	int out_channels; /* read: channels delivered */
	int file_rate;
	int file_channels;
	uint64_t length;                  /* read: frames at `rate` */
	uint64_t bytes;                   /* write: file size after close */
	char errmsg[DISKFILE_ERRMSG_MAX]; /* first error only */
	_Atomic int status;               /* 0, or the first error (-errno) */
	/* write: frames in the file so far; after a write error, exactly
	 * the frames the file keeps (final before status is published) */
	_Atomic uint64_t frames_done;
	_Atomic uint64_t frames_dropped; /* write: discarded after an error */
	_Atomic uint64_t requests;       /* disk requests served (counter) */
	_Atomic int open_done;           /* 1 once the open was attempted */

	/* Disk thread only. */
	SNDFILE *sf;
	int fd; /* write: the file's descriptor (libsndfile closes it) */
	SRC_STATE *src;
	double ratio;  /* rate / file_rate */
	void *scratch; /* one chunk of file frames (float or int) */
	size_t chunk;  /* frames per scratch chunk */
	float *rsbuf;  /* channel-converted input awaiting the resampler */
	size_t rs_off;
	size_t rs_avail;
	int in_eof;
	int wenc; /* write: effective encoding */
	/* write, WAV and AIFF: bytes per frame and where the first frame
	 * starts, to cut the file back to whole frames after a write error;
	 * 0 for compressed containers */
	size_t frame_bytes;
	uint64_t data_offset;
	uint64_t cursor;  /* next frame (at `rate`) the file is positioned at */
	int64_t last_key; /* newest deadline queued, keeps per-stream FIFO */
	int closing;
	/* The newest queued read or write request, while more blocks may
	 * join it (NULL once served or once another request follows). */
	struct disk_block *batch_head;
	struct disk_block *batch_tail;
	unsigned batch_len;
	int header_dirty;
	int64_t header_ns;     /* last header update, CLOCK_MONOTONIC */
	struct diskfile *next; /* the server's list of open files */
	struct diskfile *prev;
};

/*
 * Prepare the configuration part; copies `path`.
 *
 * Context: control
 * Return: 0, or -ENOMEM / -EINVAL
 */
int diskfile_init(struct diskfile *f, const char *path, int mode);

/* Release what diskfile_init took (the path copy). Context: any owner. */
void diskfile_clear(struct diskfile *f);

/*
 * Open the file for the configured mode and allocate conversion state.
 *
 * Context: disk thread
 * Return: 0, or -errno (status and errmsg set: -ENOENT, -EACCES, -EINVAL
 *         for a non-audio or malformed file or a bad extension, -ENOTSUP
 *         for an unsupported encoding or rate, -EIO, -ENOMEM)
 */
int diskfile_open(struct diskfile *f);

/*
 * Fill `dst` with up to `frames` frames starting at stream frame `vpos`
 * (wrapped modulo length when looping).
 *
 * Context: disk thread
 * Return: frames delivered (fewer only at the end of a non-looping
 *         stream), or -errno (status and errmsg set)
 */
int diskfile_read(struct diskfile *f, uint64_t vpos, float *dst,
                  uint32_t frames);

/*
 * Position the file so that the next read of `frame` needs no seek.
 *
 * Context: disk thread
 * Return: 0, or -errno
 */
int diskfile_seek(struct diskfile *f, uint64_t frame);

/*
 * Append `frames` interleaved frames. A failure ends the recording as
 * diskfile_write_failed does.
 *
 * Context: disk thread
 * Return: 0, or -errno (-ENOSPC, -EDQUOT, -EFBIG, -EIO; status and errmsg
 *         set, frames_done exact)
 */
int diskfile_write(struct diskfile *f, const float *src, uint32_t frames);

/*
 * End a recording after a write error: a WAV or AIFF file is cut back to
 * the whole frames written (frames_done) and its header rewritten, so it
 * stays valid and exact; the message says how many frames it keeps
 * ("disk full after N frames" for ENOSPC and EDQUOT). `why` explains the
 * error (e.g. strerror's text). Later errors do not replace the first.
 *
 * Context: disk thread
 * Return: err
 */
int diskfile_write_failed(struct diskfile *f, int err, const char *why);

/*
 * Rewrite the header so that the file is valid up to here (WAV, AIFF);
 * with `sync`, also fsync.
 *
 * Context: disk thread
 * Return: 0, or -errno
 */
int diskfile_flush(struct diskfile *f, int sync, int64_t now_ns);

/*
 * Finalize and close; frees the conversion state. Sets `bytes` for writes.
 *
 * Context: disk thread
 * Return: 0, or the error that closing revealed (status set)
 */
int diskfile_close(struct diskfile *f);

/*
 * Record the first error: message (printf format) and status.
 *
 * Context: disk thread
 * Return: err
 */
int diskfile_fail(struct diskfile *f, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
