/*
 * receiver_stream: one incoming stream as a mixer source, with a gate in
 * front of its recording tap
 *
 * The control thread sets it up and tears it down; between link and
 * hand-back the audio thread owns it and calls the pull. The pull runs
 * netstream_pull and then works out which of the frames it wrote are the
 * stream's own audio. netstream_pull writes, in order: silence while the
 * jitter buffer waits for its first packet's due time, then decoded (or
 * concealed) frames, then silence when nothing is left. Without a
 * resampler the frames it played are counted exactly by the stream
 * position frames_in - dec_avail (frames decoded or concealed, less those
 * not yet played out). Concealment that starts when the buffer runs dry
 * (the underrun counter moves) is held back: if decoded audio follows, it
 * was part of the stream's timeline and is written first; if the stream
 * has ended, it is never written.
 */
#include "bridge/net/receiver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Largest pull the mixer makes: its block (mixer.h, 1024 by default). */
#define RECEIVER_STREAM_MAX_PULL 8192u

static void receiver_stream__forward(struct receiver_stream *rs, const float *p,
                                     size_t n)
{
	if (n == 0)
		return;
	rs->rec->ops->write(rs->rec, p, n);
	rs->recorded += n;
}

static void receiver_stream__hold(struct receiver_stream *rs, const float *p,
                                  size_t n)
{
	size_t ch = rs->ns.src.channels;
	size_t room = rs->hold_cap - rs->hold_n;
	size_t k = n < room ? n : room;

	memcpy(rs->hold + rs->hold_n * ch, p, k * ch * sizeof(float));
	rs->hold_n += k;
	rs->withheld += n - k;
}

static void receiver_stream__flush(struct receiver_stream *rs)
{
	receiver_stream__forward(rs, rs->hold, rs->hold_n);
	rs->hold_n = 0;
}

static int receiver_stream__pull(struct source *src, float *out, size_t frames)
{
	struct receiver_stream *rs = (struct receiver_stream *)src;
	struct netstream *ns = &rs->ns;
	size_t ch = ns->src.channels;
	bool playing0 = jitter_playing(&ns->jit);
	size_t avail0 = ns->dec_avail;
	uint64_t in0 = ns->st.frames_in;
	uint64_t conc0 = ns->st.concealed_frames;
	uint64_t under0 = ns->st.underruns;
	uint64_t lost0 = ns->st.lost;

	int r = netstream_pull(ns, out, frames);
	if (!rs->rec || r <= 0)
		return r;

	uint64_t in1 = ns->st.frames_in;
	uint64_t conc1 = ns->st.concealed_frames;
	uint64_t pos0 = in0 - avail0;
	uint64_t pos1 = in1 - ns->dec_avail;
	size_t produced;
	if (!ns->resampler) {
		produced = (size_t)(pos1 - pos0);
	} else {
		/* Resampled: output frames per input frame is nominal/ratio;
		   close enough for a recording that is not bit-exact. */
		double f = (double)(pos1 - pos0) * ns->nominal /
		           (ns->st.ratio > 0 ? ns->st.ratio : 1.0);
		produced = (size_t)(f + 0.5);
	}
	if (produced > frames)
		produced = frames;
	/* A stream that was not playing starts inside this pull, after
	   the silence of its wait. */
	size_t lead = (!playing0 && avail0 == 0) ? frames - produced : 0;
	const float *p = out + lead * ch;
	uint64_t decoded = (in1 - in0) - (conc1 - conc0);

	if (ns->st.underruns != under0 && !rs->dry) {
		/* Ran dry here: the concealment of this pull began at stream
		   position in1 - (conc1 - conc0). */
		uint64_t dry_at = in1 - (conc1 - conc0);
		size_t real = 0;
		if (dry_at > pos0)
			real = dry_at - pos0 < produced
			               ? (size_t)(dry_at - pos0)
			               : produced;
		receiver_stream__forward(rs, p, real);
		rs->dry = true;
		rs->dry_lost = lost0;
		rs->dry_concealed = conc0;
		rs->dry_underruns = under0;
		receiver_stream__hold(rs, p + real * ch, produced - real);
	} else if (rs->dry && decoded > 0) {
		/* It came back: what was held belongs to its timeline. */
		receiver_stream__flush(rs);
		rs->dry = false;
		receiver_stream__forward(rs, p, produced);
	} else if (rs->dry) {
		receiver_stream__hold(rs, p, produced);
	} else {
		receiver_stream__forward(rs, p, produced);
	}
	return r;
}

static uint64_t receiver_stream__underruns(struct source *src)
{
	return ((struct receiver_stream *)src)->ns.st.underruns;
}

static void receiver_stream__release(struct source *src)
{
	((struct receiver_stream *)src)->released = true;
}

static const struct source_ops receiver_stream_ops = {
        .pull = receiver_stream__pull,
        .underruns = receiver_stream__underruns,
        .release = receiver_stream__release,
};

int receiver_stream_init(struct receiver_stream *rs,
                         const struct netstream_config *cfg, bool record)
{
	memset(rs, 0, sizeof(*rs));
	int err = netstream_init(&rs->ns, cfg);
	if (err < 0)
		return err;
	size_t ch = rs->ns.src.channels;
	int rate = rs->ns.cfg.out_rate;
	unsigned dry_ms = cfg->jitter.dry_ms ? cfg->jitter.dry_ms : 200;
	if (record) {
		/* The longest run of dry concealment, plus two pulls. */
		rs->hold_cap = (size_t)rate * dry_ms / 1000 +
		               2 * RECEIVER_STREAM_MAX_PULL;
		rs->hold = calloc(rs->hold_cap * ch, sizeof(float));
		if (!rs->hold) {
			netstream_clear(&rs->ns);
			return -ENOMEM;
		}
	}
	rs->src.ops = &receiver_stream_ops;
	rs->src.channels = (unsigned)ch;
	rs->src.tap = NULL;
	return 0;
}

void receiver_stream_attach(struct receiver_stream *rs, uint32_t ssrc,
                            struct tap *rec)
{
	rs->ssrc = ssrc;
	rs->rec = rs->hold ? rec : NULL;
}

void receiver_stream_final(const struct receiver_stream *rs,
                           struct netstream_stats *st)
{
	*st = rs->ns.st;
	if (!rs->dry)
		return;
	st->lost = rs->dry_lost;
	st->concealed_frames = rs->dry_concealed;
	st->underruns = rs->dry_underruns;
}

void receiver_stream_clear(struct receiver_stream *rs)
{
	if (!rs->src.ops)
		return;
	netstream_clear(&rs->ns);
	free(rs->hold);
	rs->hold = NULL;
	rs->src.ops = NULL;
}
