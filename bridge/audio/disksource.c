/*
 * disksource: a read-ahead stream behind the source interface (see
 * disksource.h). The audio thread only calls readahead_read and reads the
 * stream's state, both real-time safe; every other readahead call is made
 * on the control thread while it owns the stream (before linking, after
 * the hand-back).
 */
#include "bridge/audio/disksource.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int disksource__pull(struct source *src, float *out, size_t frames)
{
	struct disksource *s = (struct disksource *)src;

	if (s->at_end)
		return -1;
	size_t n = readahead_read(s->ra, out, frames);
	s->pulled += n;
	int st = readahead_state(s->ra);
	if (st == READAHEAD_EOF || st == READAHEAD_ERROR) {
		s->at_end = true;
		/* Release: a thread that sees `ended` with acquire also sees
		 * the stream's final position and counters. */
		atomic_store_explicit(&s->ended, true, memory_order_release);
		if (n == 0)
			return -1;
	}
	return (int)n;
}

static uint64_t disksource__underruns(struct source *src)
{
	struct disksource *s = (struct disksource *)src;
	return readahead_underruns(s->ra);
}

static void disksource__release(struct source *src)
{
	disksource_close((struct disksource *)src);
}

static const struct source_ops disksource__ops = {
        .pull = disksource__pull,
        .underruns = disksource__underruns,
        .release = disksource__release,
};

int disksource_open(struct disksource *s, struct diskserver *srv,
                    const char *path, const struct disksource_opts *opts)
{
	memset(s, 0, sizeof(*s));
	if (!opts || (opts->channels != 1 && opts->channels != 2) || !path)
		return -EINVAL;
	struct readahead_opts ro = {
	        .channels = (int)opts->channels,
	        .rate = (int)(opts->rate ? opts->rate : 48000),
	        .prefetch_s = opts->prefetch_s,
	        .block_frames = opts->block_frames,
	        .loop = opts->loop,
	};
	int rc = readahead_open(srv, path, &ro, &s->ra);
	if (rc < 0) {
		s->ra = NULL;
		return rc;
	}
	s->src.ops = &disksource__ops;
	s->src.channels = opts->channels;
	atomic_init(&s->ended, false);
	return 0;
}

/* Say in words why the wait gave up: which file, how long, how far. */
static void disksource__timed_out(struct disksource *s, double secs)
{
	struct readahead *ra = s->ra;
	if (readahead_state(ra) == READAHEAD_OPENING)
		snprintf(s->final_error, sizeof(s->final_error),
		         "%s: disk too slow: not opened after %.1f s",
		         ra->file.path, secs);
	else
		snprintf(s->final_error, sizeof(s->final_error),
		         "%s: disk too slow: %llu of %llu frames of read-ahead "
		         "after %.1f s",
		         ra->file.path,
		         (unsigned long long)readahead_buffered(ra),
		         (unsigned long long)readahead_wanted(ra), secs);
}

int disksource_wait_ready(struct disksource *s, int timeout_ms)
{
	const struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000000L};

	if (!s->ra)
		return -EINVAL;
	int64_t t0 = diskserver_monotonic_ns();
	for (;;) {
		int st = readahead_poll(s->ra);
		if (st == READAHEAD_ERROR) {
			/* Acquire: pairs with the disk thread's release of
			 * the status after writing the message. */
			int err = atomic_load_explicit(&s->ra->file.status,
			                               memory_order_acquire);
			return err < 0 ? err : -EIO;
		}
		if (st == READAHEAD_STREAMING || st == READAHEAD_EOF) {
			s->length = readahead_length(s->ra);
			s->final_error[0] = '\0';
			return 0;
		}
		int64_t waited = diskserver_monotonic_ns() - t0;
		if (waited >= (int64_t)timeout_ms * 1000000) {
			disksource__timed_out(s, (double)waited / 1e9);
			return -ETIMEDOUT;
		}
		nanosleep(&ms, NULL);
	}
}

const char *disksource_error(const struct disksource *s)
{
	if (s->ra && readahead_error(s->ra)[0])
		return readahead_error(s->ra);
	return s->final_error;
}

uint64_t disksource_length(const struct disksource *s)
{
	return s->length;
}

uint64_t disksource_position(const struct disksource *s)
{
	return s->ra ? readahead_position(s->ra) : s->final_position;
}

uint64_t disksource_underruns(const struct disksource *s)
{
	return s->ra ? readahead_underruns(s->ra) : s->final_underruns;
}

uint64_t disksource_underrun_frames(const struct disksource *s)
{
	return s->ra ? readahead_underrun_frames(s->ra)
	             : s->final_underrun_frames;
}

bool disksource_ended(const struct disksource *s)
{
	/* Acquire: pairs with the release in disksource__pull. */
	return atomic_load_explicit(&s->ended, memory_order_acquire);
}

void disksource_close(struct disksource *s)
{
	if (!s->ra)
		return;
	s->final_underruns = readahead_underruns(s->ra);
	s->final_underrun_frames = readahead_underrun_frames(s->ra);
	s->final_position = readahead_position(s->ra);
	s->final_state = readahead_state(s->ra);
	/* A stream error replaces a timeout message, if any. */
	if (readahead_error(s->ra)[0])
		snprintf(s->final_error, sizeof(s->final_error), "%s",
		         readahead_error(s->ra));
	/* The server frees the stream once its pending reads are done; if
	 * its mailbox stays full for seconds the stream is leaked rather
	 * than freed under the server's feet. */
	(void)readahead_close(s->ra);
	s->ra = NULL;
	s->released = true;
}
