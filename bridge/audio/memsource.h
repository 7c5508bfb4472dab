/*
 * memsource: a source that plays float frames from memory
 *
 * For benchmarks, tests and short prepared sounds (cues, test tones). The
 * frames are the caller's and must outlive the source; the source reads
 * them from the audio thread once linked. It plays once (then ends: pull
 * returns -1 and the mixer unlinks it) or loops.
 */
#ifndef RTB_MEMSOURCE_H
#define RTB_MEMSOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge/audio/source.h"

struct memsource {
	struct source
	        src; /* first: a struct source * is a struct memsource * */
	const float *frames; /* frames * src.channels samples */
	size_t count;        /* frames */
	size_t pos;          /* next frame: audio thread once linked */
	bool loop;
};

/*
 * Pre: count > 0; channels >= 1
 * Post: s->src is ready to link; release does nothing
 * Context: control thread
 */
void memsource_init(struct memsource *s, const float *frames, size_t count,
                    unsigned channels, bool loop);

#endif
