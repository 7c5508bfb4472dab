/*
 * source: what the mixer pulls audio from
 *
 * An abstract interface: read-ahead archive streams, network streams and
 * test sources embed a struct source and point `ops` at their functions.
 * The control thread creates a source, then hands it to the mixer
 * (mixer_link); from then on the audio thread owns it and calls `pull`
 * once per callback. When the mixer lets it go (unlinked, ended, swapped
 * out, or refused) it comes back to the control thread, which calls
 * `release` (from mixer_poll or mixer_clear) to destroy or reuse it.
 */
#ifndef RTB_SOURCE_H
#define RTB_SOURCE_H

#include <stddef.h>
#include <stdint.h>

struct source;
struct tap;

struct source_ops {
	/*
	 * Write up to `frames` frames of `channels` interleaved float samples
	 * to `out` (overwrite, do not add).
	 *
	 * Return: frames written (fewer than asked: the mixer pads with
	 *         silence and counts a short pull), or a negative value when
	 *         the source has ended for good (the mixer unlinks it)
	 * Context: audio thread, real-time safe
	 */
	int (*pull)(struct source *src, float *out, size_t frames);

	/*
	 * Underruns the source counted itself (optional, may be NULL: the
	 * mixer then reports its own count of short pulls).
	 *
	 * Context: audio thread, real-time safe
	 */
	uint64_t (*underruns)(struct source *src);

	/*
	 * The mixer has handed the source back (optional).
	 *
	 * Context: control thread (mixer_poll, mixer_clear)
	 */
	void (*release)(struct source *src);
};

struct source {
	const struct source_ops *ops;
	/* 1 (spread to every output channel) or the mixer's */
	unsigned channels;
	/* Optional: receives the frames as pulled (before gain), e.g. to
	 * record an incoming stream. Set by control before linking. */
	struct tap *tap;
};

#endif
