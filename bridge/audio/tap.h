/*
 * tap: where the mixer copies audio to, e.g. a recorder
 *
 * A tap is linked to the mixer's output (the final mix, after clipping),
 * to the device input, or to one source (struct source.tap: the source's
 * frames as pulled). The mixer calls `write` in the audio thread once per
 * block of frames; a recorder copies them into a write-behind block and
 * never waits (full: drop and count). Ownership moves like a source's:
 * control creates, the mixer holds while linked, `release` runs on the
 * control thread after the mixer handed it back.
 */
#ifndef RTB_TAP_H
#define RTB_TAP_H

#include <stddef.h>

struct tap;

struct tap_ops {
	/*
	 * Take `frames` interleaved frames (channel count as linked: the
	 * mixer's output channels, its input channels, or the source's).
	 *
	 * Context: audio thread, real-time safe
	 */
	void (*write)(struct tap *tap, const float *frames, size_t n);

	/* Handed back by the mixer (optional). Context: control thread. */
	void (*release)(struct tap *tap);
};

struct tap {
	const struct tap_ops *ops;
	unsigned channels; /* channels per frame `write` takes; the mixer
	                      links a tap only where it delivers that many */
};

#endif
