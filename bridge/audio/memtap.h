/*
 * memtap: a tap that records into a caller-supplied buffer
 *
 * For tests and diagnostics: keeps the first `capacity` frames it is given
 * and counts the rest as dropped (never waits, never allocates). The
 * control thread reads `used` and the frames after the tap came back from
 * the mixer or the device stopped (those give the happens-before edge).
 */
#ifndef RTB_MEMTAP_H
#define RTB_MEMTAP_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/audio/tap.h"

struct memtap {
	struct tap tap;   /* first: a struct tap * is a struct memtap * */
	float *frames;    /* capacity * channels samples */
	size_t capacity;  /* frames */
	size_t used;      /* frames stored */
	uint64_t dropped; /* frames that did not fit */
	uint64_t writes;  /* calls to write */
	unsigned channels;
};

/* Context: control thread. */
void memtap_init(struct memtap *t, float *frames, size_t capacity,
                 unsigned channels);

#endif
