/*
 * memsource: in-memory source (see memsource.h)
 */
#include "bridge/audio/memsource.h"

#include <string.h>

static int memsource__pull(struct source *src, float *out, size_t frames)
{
	struct memsource *s = (struct memsource *)src;
	const unsigned ch = src->channels;
	size_t done = 0;

	if (!s->loop && s->pos >= s->count)
		return -1;
	while (done < frames) {
		if (s->pos >= s->count) {
			if (!s->loop)
				break;
			s->pos = 0;
		}
		size_t n = s->count - s->pos;
		if (n > frames - done)
			n = frames - done;
		memcpy(out + done * ch, s->frames + s->pos * ch,
		       n * ch * sizeof(float));
		s->pos += n;
		done += n;
	}
	return (int)done;
}

static const struct source_ops memsource__ops = {
        .pull = memsource__pull,
};

void memsource_init(struct memsource *s, const float *frames, size_t count,
                    unsigned channels, bool loop)
{
	memset(s, 0, sizeof(*s));
	s->src.ops = &memsource__ops;
	s->src.channels = channels;
	s->frames = frames;
	s->count = count;
	s->loop = loop;
}
