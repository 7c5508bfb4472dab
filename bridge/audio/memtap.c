/*
 * memtap: recording tap into memory (see memtap.h)
 */
#include "bridge/audio/memtap.h"

#include <string.h>

static void memtap__write(struct tap *tap, const float *frames, size_t n)
{
	struct memtap *t = (struct memtap *)tap;
	size_t room = t->capacity - t->used;
	size_t k = n < room ? n : room;

	memcpy(t->frames + t->used * t->channels, frames,
	       k * t->channels * sizeof(float));
	t->used += k;
	t->dropped += n - k;
	t->writes++;
}

static const struct tap_ops memtap__ops = {
        .write = memtap__write,
};

void memtap_init(struct memtap *t, float *frames, size_t capacity,
                 unsigned channels)
{
	memset(t, 0, sizeof(*t));
	t->tap.ops = &memtap__ops;
	t->tap.channels = channels;
	t->frames = frames;
	t->capacity = capacity;
	t->channels = channels;
}
