/*
 * test_mixer_out: the mixer's output stage against a plain model of it
 *
 * The sum, the gains, the clipping and the meters run four samples at a
 * time; a plain loop in this file (sample by sample, in sample order)
 * says what they must give. Sources return seeded values (noise, out of
 * range, now and then a NaN, an infinity, -0 or exactly +-1), callbacks
 * come in random sizes that the mixer cuts into blocks of at most 200
 * frames, and the output, the clip count, the output meters and the
 * mono source's meters (the paths made four-wide) must be the model's to
 * the bit. The mixer is called directly: no device, no thread.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/audio/mixer.h"

#define CH        2
#define MAX_BLOCK 200
#define MAX_CALL  500
#define LEN       997 /* samples a source cycles through: a prime */
#define NSRC      3

/* A source that plays vals[(k * channels + c) % LEN] for channel c of
   frame k. */
struct valsrc {
	struct source src;
	const float *vals;
	uint64_t pos; /* frames pulled */
};

static float valsrc_at(const struct valsrc *s, uint64_t k, unsigned c)
{
	return s->vals[(k * s->src.channels + c) % LEN];
}

static int valsrc_pull(struct source *src, float *out, size_t frames)
{
	struct valsrc *s = (struct valsrc *)src;
	const uint64_t first = s->pos * src->channels;

	for (size_t i = 0; i < frames * src->channels; i++)
		out[i] = s->vals[(first + i) % LEN];
	s->pos += frames;
	return (int)frames;
}

static const struct source_ops valsrc_ops = {.pull = valsrc_pull};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Uniform in [-amp, amp), and with `odd` set, now and then a value the
   clipping or the meters treat apart. */
static void fill(float *v, uint64_t *seed, float amp, bool odd)
{
	static const float special[] = {NAN,  INFINITY, -INFINITY, -0.0f,
	                                1.0f, -1.0f,    0x1p-140f};

	for (size_t i = 0; i < LEN; i++) {
		uint64_t r = rnd(seed);
		v[i] = amp * (float)((double)(r >> 11) * 0x1p-52 - 1.0);
		if (odd && r % 17 == 0)
			v[i] = special[(r >> 5) % 7];
	}
}

static bool same(float a, float b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/* The model: the mix, sample by sample. */
struct model {
	float peak[NSRC];    /* per source, this window */
	double sumsq[NSRC];  /* per source, this window (block sums) */
	float out_peak;      /* this window */
	double out_sumsq;    /* this window (block sums) */
	uint64_t clipped;    /* ever */
	uint64_t win_frames; /* this window */
	uint64_t report_acc; /* frames towards the next report */
	uint64_t pos[NSRC];  /* frames each source has played */
};

static void model_block(struct model *md, struct valsrc *src, const float *gain,
                        float *out, size_t n)
{
	memset(out, 0, n * CH * sizeof(float));
	for (unsigned s = 0; s < NSRC; s++) {
		const unsigned sch = src[s].src.channels;
		float sumsq = 0.0f;
		for (size_t f = 0; f < n; f++)
			for (unsigned c = 0; c < CH; c++) {
				float x = valsrc_at(&src[s], md->pos[s] + f,
				                    sch == 1 ? 0 : c);
				float v = gain[s] * x;
				out[f * CH + c] += v;
				float a = fabsf(v);
				md->peak[s] = a > md->peak[s] ? a : md->peak[s];
				sumsq += v * v;
			}
		md->pos[s] += n;
		md->sumsq[s] += sumsq;
	}
	float sumsq = 0.0f;
	for (size_t i = 0; i < n * CH; i++) {
		float v = out[i];
		if (v > 1.0f || v < -1.0f || v != v) {
			v = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : 0.0f;
			md->clipped++;
		}
		out[i] = v;
		float a = fabsf(v);
		md->out_peak = a > md->out_peak ? a : md->out_peak;
		sumsq += v * v;
	}
	md->out_sumsq += sumsq;
}

TestSuite(mixer_out, .timeout = 60);

Test(mixer_out, output_stage_matches_a_plain_loop_bit_for_bit)
{
	static float vals[NSRC][LEN], got[MAX_CALL * CH], want[MAX_CALL * CH];
	static const unsigned chans[NSRC] = {2, 2, 1};
	static const float gain[NSRC] = {0.9f, 0.7f, 0.55f};
	uint64_t seed = 0x0c11;
	struct mixer m;
	struct mixer_config mc;
	struct mixer_stats st;
	struct valsrc src[NSRC];
	struct model md = {0};

	cr_log_info("seed %#llx", (unsigned long long)seed);
	fill(vals[0], &seed, 1.5f, true);
	fill(vals[1], &seed, 0.5f, false);
	fill(vals[2], &seed, 0.8f, false);
	mixer_config_default(&mc);
	mc.max_block = MAX_BLOCK;
	cr_assert_eq(mixer_init(&m, &mc), 0);
	cr_assert_eq(mixer_stats_init(&st, &m), 0);
	for (unsigned s = 0; s < NSRC; s++) {
		src[s] = (struct valsrc){.vals = vals[s]};
		src[s].src.ops = &valsrc_ops;
		src[s].src.channels = chans[s];
		cr_assert_eq(mixer_link(&m, &src[s].src, gain[s]), 0);
	}

	uint64_t reports = 0, frames = 0;
	while (reports < 40) {
		size_t n = 1 + rnd(&seed) % MAX_CALL;
		cr_assert_eq(mixer_process(&m, NULL, got, n), 0);
		for (size_t done = 0; done < n; done += MAX_BLOCK)
			model_block(&md, src, gain, want + done * CH,
			            n - done < MAX_BLOCK ? n - done
			                                 : MAX_BLOCK);
		for (size_t i = 0; i < n * CH; i++)
			cr_assert(same(got[i], want[i]),
			          "frame %llu channel %zu: %a, want %a",
			          (unsigned long long)(frames + i / CH), i % CH,
			          got[i], want[i]);
		frames += n;
		md.win_frames += n;
		md.report_acc += n;
		mixer_poll(&m, &st);
		if (md.report_acc < mc.rate * mc.report_ms / 1000)
			continue;
		/* A report closed the window: its meters are the model's. */
		md.report_acc -= mc.rate * mc.report_ms / 1000;
		cr_assert_eq(st.reports, ++reports);
		double samples = (double)md.win_frames * CH;
		cr_assert_eq(st.clipped, md.clipped);
		cr_assert(same(st.out_peak, md.out_peak), "peak %a, want %a",
		          st.out_peak, md.out_peak);
		float rms = (float)sqrt(md.out_sumsq / samples);
		cr_assert(same(st.out_rms, rms), "rms %a, want %a", st.out_rms,
		          rms);
		for (unsigned s = 0; s < NSRC; s++) {
			const struct mixer_source_stats *ss =
			        mixer_stats_find(&st, &src[s].src);
			cr_assert(ss);
			cr_assert(same(ss->peak, md.peak[s]),
			          "source %u peak %a, want %a", s, ss->peak,
			          md.peak[s]);
			/* The stereo sources' squares go four-wide in another
			   order (a meter): the mono one's in sample order. */
			float srms = (float)sqrt(md.sumsq[s] / samples);
			if (chans[s] == 1)
				cr_assert(same(ss->rms, srms),
				          "source %u rms %a, want %a", s,
				          ss->rms, srms);
			md.peak[s] = 0.0f;
			md.sumsq[s] = 0.0;
		}
		md.out_peak = 0.0f;
		md.out_sumsq = 0.0;
		md.win_frames = 0;
	}
	cr_assert(md.clipped > 0);
	cr_log_info("%llu frames, %llu samples clipped",
	            (unsigned long long)frames, (unsigned long long)md.clipped);
	mixer_clear(&m);
	mixer_stats_clear(&st);
}
