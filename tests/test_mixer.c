/*
 * test_mixer: the mixer driven by the virtual clock
 *
 * Test sources produce deterministic noise on a dyadic grid (multiples of
 * 2^-16 in [-0.25, 0.25)), so sums of a few of them are exact in float and
 * the expected mix can be computed sample by sample. Most tests step the
 * clock by hand (deterministic); one runs it in fast mode on its own
 * thread while the test thread links and unlinks.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/audio/memsource.h"
#include "bridge/audio/memtap.h"
#include "bridge/audio/mixer.h"
#include "bridge/audio/vclock.h"
#include "tests/rtcheck_assert.h"

#define CH     2
#define PERIOD 128

/* ---- deterministic test source ---- */

struct testsrc {
	struct source src;
	uint64_t seed;
	uint64_t pos;         /* frames produced so far */
	unsigned mask;        /* channels that carry signal; others 0 */
	float dc;             /* non-zero: constant value instead of noise */
	unsigned short_every; /* every n-th pull delivers half (0: never) */
	uint64_t pulls;
	_Atomic int released;
};

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Sample of channel c at frame k of a source. */
static float testsrc_value(const struct testsrc *t, uint64_t k, unsigned c)
{
	if (!(t->mask & (1u << c)))
		return 0.0f;
	if (t->dc != 0.0f)
		return t->dc;
	int v = (int)(splitmix(t->seed ^ (k * CH + c) * 0x100000001b3ull) >>
	              49) -
	        16384;
	return (float)v / 65536.0f;
}

static int testsrc_pull(struct source *src, float *out, size_t frames)
{
	struct testsrc *t = (struct testsrc *)src;
	size_t n = frames;
	t->pulls++;
	if (t->short_every && t->pulls % t->short_every == 0)
		n = frames / 2;
	for (size_t f = 0; f < n; f++)
		for (unsigned c = 0; c < src->channels; c++)
			out[f * src->channels + c] =
			        testsrc_value(t, t->pos + f, c);
	t->pos += n;
	return (int)n;
}

static void testsrc_release(struct source *src)
{
	struct testsrc *t = (struct testsrc *)src;
	atomic_fetch_add_explicit(&t->released, 1, memory_order_relaxed);
}

static const struct source_ops testsrc_ops = {
        .pull = testsrc_pull,
        .release = testsrc_release,
};

static void testsrc_init(struct testsrc *t, uint64_t seed, unsigned mask)
{
	memset(t, 0, sizeof(*t));
	t->src.ops = &testsrc_ops;
	t->src.channels = CH;
	t->seed = seed;
	t->mask = mask;
	atomic_init(&t->released, 0);
}

static bool same(float a, float b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/* ---- rig: mixer + manual clock + output capture ---- */

#define CAP_FRAMES (48000 * 2)

struct rig {
	struct mixer m;
	struct vclock v;
	struct memtap tap;
	float *tapbuf;
	float *devout; /* what the device received, CAP_FRAMES */
	size_t devframes;
	struct mixer_stats st;
	/* Fast mode: the callback checks channel 0 against this source. */
	const struct testsrc *verify;
	uint64_t verified; /* frames checked */
	uint64_t mismatches;
};

static int rig_cb(void *user, const float *in, float *out, size_t frames)
{
	struct rig *r = user;
	int ret = mixer_process(&r->m, in, out, frames);
	if (r->verify) {
		for (size_t f = 0; f < frames; f++)
			if (!same(out[f * CH],
			          testsrc_value(r->verify, r->verified + f, 0)))
				r->mismatches++;
		r->verified += frames;
	}
	if (r->devframes + frames <= CAP_FRAMES) {
		memcpy(r->devout + r->devframes * CH, out,
		       frames * CH * sizeof(float));
		r->devframes += frames;
	}
	return ret;
}

static void rig_init(struct rig *r, enum vclock_mode mode, unsigned max_sources)
{
	struct mixer_config mc;
	struct devcfg dc;
	memset(r, 0, sizeof(*r));
	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	mixer_config_default(&mc);
	mc.max_sources = max_sources;
	cr_assert_eq(mixer_init(&r->m, &mc), 0);
	cr_assert_eq(mixer_stats_init(&r->st, &r->m), 0);
	r->tapbuf = calloc((size_t)CAP_FRAMES * CH, sizeof(float));
	r->devout = calloc((size_t)CAP_FRAMES * CH, sizeof(float));
	cr_assert(r->tapbuf && r->devout);
	memtap_init(&r->tap, r->tapbuf, CAP_FRAMES, CH);
	cr_assert_eq(mixer_link_tap(&r->m, &r->tap.tap, MIXER_TAP_OUTPUT), 0);
	devcfg_default(&dc);
	dc.callback = rig_cb;
	dc.user = r;
	dc.mode = mode;
	cr_assert_eq(vclock_open(&r->v, &dc), 0);
}

static void rig_clear(struct rig *r)
{
	vclock_close(&r->v);
	mixer_clear(&r->m);
	mixer_stats_clear(&r->st);
	free(r->tapbuf);
	free(r->devout);
}

static void step(struct rig *r, size_t n)
{
	cr_assert_eq(vclock_step(&r->v, n), (int)n);
}

TestSuite(mixer, .timeout = 60);

Test(mixer, two_sources_mix_to_the_exact_sum_at_unit_gain)
{
	static struct rig r;
	struct testsrc a, b;
	rig_init(&r, VCLOCK_MANUAL, 64);
	testsrc_init(&a, 1, 3);
	testsrc_init(&b, 2, 3);
	cr_assert_eq(mixer_link(&r.m, &a.src, 1.0f), 0);
	cr_assert_eq(mixer_link(&r.m, &b.src, 1.0f), 0);
	cr_assert_eq(vclock_start(&r.v), 0);
	RTCHECK_RESET();
	step(&r, 50);
	RTCHECK_ASSERT_ZERO();
	cr_assert_eq(r.devframes, 50 * PERIOD);
	cr_assert_eq(r.tap.used, 50 * PERIOD, "the tap got every frame");
	for (size_t f = 0; f < r.devframes; f++) {
		for (unsigned c = 0; c < CH; c++) {
			float want = testsrc_value(&a, f, c) +
			             testsrc_value(&b, f, c);
			cr_assert(same(r.devout[f * CH + c], want),
			          "frame %zu ch %u: %a != %a", f, c,
			          r.devout[f * CH + c], want);
			cr_assert(same(r.tapbuf[f * CH + c],
			               r.devout[f * CH + c]));
		}
	}
	rig_clear(&r);
	cr_assert_eq(atomic_load(&a.released), 1,
	             "clear hands linked sources back");
	cr_assert_eq(atomic_load(&b.released), 1);
}

Test(mixer,
     mono_source_is_spread_to_every_channel_and_source_tap_gets_raw_frames)
{
	static struct rig r;
	static float tbuf[PERIOD * 10];
	struct testsrc a;
	struct memtap stap;
	rig_init(&r, VCLOCK_MANUAL, 64);
	testsrc_init(&a, 7, 1);
	a.src.channels = 1;
	memtap_init(&stap, tbuf, PERIOD * 10, 1);
	a.src.tap = &stap.tap;
	cr_assert_eq(mixer_link(&r.m, &a.src, 0.5f), 0);
	cr_assert_eq(vclock_start(&r.v), 0);
	step(&r, 10);
	for (size_t f = 0; f < 10 * PERIOD; f++) {
		float x = testsrc_value(&a, f, 0);
		cr_assert(same(tbuf[f], x), "source tap is pre-gain");
		cr_assert(same(r.devout[f * CH], 0.5f * x));
		cr_assert(same(r.devout[f * CH + 1], 0.5f * x));
	}
	rig_clear(&r);
}

Test(mixer, unlinking_a_source_leaves_the_others_sample_exact)
{
	static struct rig r;
	struct testsrc a, b;
	rig_init(&r, VCLOCK_MANUAL, 64);
	testsrc_init(&a, 11, 3);
	testsrc_init(&b, 12, 3);
	cr_assert_eq(mixer_link(&r.m, &a.src, 1.0f), 0);
	cr_assert_eq(vclock_start(&r.v), 0);
	RTCHECK_RESET();
	step(&r, 10);
	cr_assert_eq(mixer_link(&r.m, &b.src, 1.0f), 0);
	step(&r, 10);
	cr_assert_eq(mixer_unlink(&r.m, &b.src, false), 0);
	step(&r, 10);
	RTCHECK_ASSERT_ZERO();
	mixer_poll(&r.m, &r.st);
	cr_assert_eq(atomic_load(&b.released), 1, "unlinked source came back");
	for (size_t f = 0; f < 30 * PERIOD; f++) {
		for (unsigned c = 0; c < CH; c++) {
			float want = testsrc_value(&a, f, c);
			if (f >= 10 * PERIOD && f < 20 * PERIOD)
				want += testsrc_value(&b, f - 10 * PERIOD, c);
			cr_assert(same(r.devout[f * CH + c], want), "frame %zu",
			          f);
		}
	}
	rig_clear(&r);
	cr_assert_eq(atomic_load(&b.released), 1);
}

static double max_step(const float *x, size_t n, unsigned stride)
{
	double m = 0;
	for (size_t i = 1; i < n; i++) {
		double d = fabs((double)x[i * stride] - x[(i - 1) * stride]);
		m = d > m ? d : m;
	}
	return m;
}

Test(mixer, gain_ramps_are_linear_without_discontinuity)
{
	static struct rig r;
	struct testsrc dc;
	rig_init(&r, VCLOCK_MANUAL, 64);
	testsrc_init(&dc, 0, 3);
	dc.dc = 0.5f;
	cr_assert_eq(mixer_link(&r.m, &dc.src, 0.0f), 0);
	cr_assert_eq(vclock_start(&r.v), 0);
	step(&r, 2);
	cr_assert_eq(mixer_set_gain(&r.m, &dc.src, 1.0f, 10),
	             0); /* 480 frames */
	step(&r, 8);
	cr_assert_eq(mixer_set_gain(&r.m, &dc.src, 0.25f, -1),
	             0); /* default 10 ms */
	step(&r, 8);
	cr_assert_eq(mixer_unlink(&r.m, &dc.src, true), 0); /* fade out */
	step(&r, 8);
	mixer_poll(&r.m, &r.st);
	cr_assert_eq(atomic_load(&dc.released), 1,
	             "faded source left after the ramp");

	size_t n = 26 * PERIOD;
	double bound = 0.5 / 480 * 1.001 + 1e-7;
	cr_assert_leq(max_step(r.devout, n, CH), bound, "largest step %g",
	              max_step(r.devout, n, CH));
	cr_assert(same(r.devout[(2 * PERIOD + 479) * CH], 0.5f),
	          "ramp up ends exactly at 480 frames");
	cr_assert(same(r.devout[(10 * PERIOD - 1) * CH], 0.5f));
	cr_assert(same(r.devout[(10 * PERIOD + 479) * CH], 0.125f));
	cr_assert(same(r.devout[(18 * PERIOD + 479) * CH], 0.0f));
	for (size_t f = 18 * PERIOD + 480; f < n; f++)
		cr_assert(same(r.devout[f * CH], 0.0f));
	rig_clear(&r);
}

Test(mixer, swap_replaces_the_whole_graph_between_two_callbacks)
{
	static struct rig r;
	struct testsrc a, b, c, d;
	rig_init(&r, VCLOCK_MANUAL, 64);
	testsrc_init(&a, 21, 3);
	testsrc_init(&b, 22, 3);
	testsrc_init(&c, 23, 3);
	testsrc_init(&d, 24, 3);
	cr_assert_eq(mixer_link(&r.m, &a.src, 1.0f), 0);
	cr_assert_eq(mixer_link(&r.m, &b.src, 1.0f), 0);
	cr_assert_eq(vclock_start(&r.v), 0);
	RTCHECK_RESET();
	step(&r, 5);
	struct mixer_graph *g = mixer_graph_create(&r.m);
	cr_assert_not_null(g);
	cr_assert_eq(mixer_graph_add(g, &r.m, &c.src, 1.0f), 0);
	cr_assert_eq(mixer_graph_add(g, &r.m, &d.src, 1.0f), 0);
	cr_assert_eq(mixer_swap(&r.m, g), 0);
	step(&r, 5);
	RTCHECK_ASSERT_ZERO();
	mixer_poll(&r.m, &r.st);
	cr_assert_eq(atomic_load(&a.released), 1,
	             "old graph's sources came back");
	cr_assert_eq(atomic_load(&b.released), 1);
	cr_assert_eq(atomic_load(&c.released), 0);
	for (size_t f = 0; f < 10 * PERIOD; f++) {
		for (unsigned ch = 0; ch < CH; ch++) {
			float want =
			        f < 5 * PERIOD
			                ? testsrc_value(&a, f, ch) +
			                          testsrc_value(&b, f, ch)
			                : testsrc_value(&c, f - 5 * PERIOD,
			                                ch) +
			                          testsrc_value(&d,
			                                        f - 5 * PERIOD,
			                                        ch);
			cr_assert(same(r.devout[f * CH + ch], want),
			          "frame %zu", f);
		}
	}
	rig_clear(&r);
	cr_assert_eq(atomic_load(&c.released), 1);
	cr_assert_eq(atomic_load(&d.released), 1);
}

Test(mixer, meters_and_counters_reach_the_control_thread)
{
	static struct rig r;
	struct testsrc a, s;
	rig_init(&r, VCLOCK_MANUAL, 64);
	testsrc_init(&a, 31, 3);
	testsrc_init(&s, 32, 3);
	s.short_every = 10;
	cr_assert_eq(mixer_link(&r.m, &a.src, 0.5f), 0);
	cr_assert_eq(mixer_link(&r.m, &s.src, 1.0f), 0);
	cr_assert_eq(vclock_start(&r.v), 0);
	RTCHECK_RESET();
	for (int i = 0; i < 5; i++) {
		step(&r, 75); /* 200 ms */
		mixer_poll(&r.m, &r.st);
	}
	RTCHECK_ASSERT_ZERO();
	/* A report every 4800 frames: after 375 periods of 128, 10 of them. */
	cr_assert_eq(r.st.reports, 10);
	cr_assert_eq(r.st.reports_dropped, 0);
	cr_assert_eq(r.st.callbacks, 375);
	cr_assert_eq(r.st.frames, 375 * PERIOD);
	cr_assert_eq(r.st.cmds, 3, "tap link + two source links");
	cr_assert_eq(r.st.hist.n, 375);
	cr_assert_gt(r.st.cb_us_max, 0.0);
	cr_assert_leq(r.st.cb_us_p99_all, r.st.cb_us_max);
	cr_assert_leq(r.st.cb_us_median_all, r.st.cb_us_p99_all);
	cr_assert_eq(r.st.nsources, 2);
	const struct mixer_source_stats *sa = mixer_stats_find(&r.st, &a.src);
	const struct mixer_source_stats *ss = mixer_stats_find(&r.st, &s.src);
	cr_assert(sa && ss);
	/* Uniform noise in [-0.25, 0.25) has RMS 0.25/sqrt(3) = 0.144. */
	cr_assert_float_eq(sa->rms, 0.5f * 0.1443f, 0.01f, "rms %f", sa->rms);
	cr_assert_leq(sa->peak, 0.125f);
	cr_assert_geq(sa->peak, 0.12f);
	cr_assert_float_eq(sa->gain, 0.5f, 0.0f);
	cr_assert_eq(sa->underruns, 0);
	cr_assert_eq(ss->underruns, 37,
	             "short pulls counted up to the last report");
	cr_assert_gt(r.st.out_peak, 0.2f);
	cr_assert_gt(r.st.out_rms, 0.1f);
	cr_assert_eq(r.st.clipped, 0);
	rig_clear(&r);
}

Test(mixer, hard_clips_overloads_and_counts_them)
{
	static struct rig r;
	struct testsrc a, b;
	rig_init(&r, VCLOCK_MANUAL, 64);
	testsrc_init(&a, 0, 3);
	testsrc_init(&b, 0, 1);
	a.dc = 0.75f;
	b.dc = -2.0f;
	cr_assert_eq(mixer_link(&r.m, &a.src, 1.0f), 0);
	cr_assert_eq(mixer_link(&r.m, &b.src, 1.0f), 0);
	cr_assert_eq(vclock_start(&r.v), 0);
	step(&r, 75);
	mixer_poll(&r.m, &r.st);
	for (size_t f = 0; f < 75 * PERIOD; f++) {
		cr_assert(same(r.devout[f * CH], -1.0f));
		cr_assert(same(r.devout[f * CH + 1], 0.75f));
	}
	cr_assert_eq(r.st.clipped, 75 * PERIOD);
	rig_clear(&r);
}

Test(mixer, refuses_sources_beyond_capacity_and_unlinks_ended_ones)
{
	static struct rig r;
	static float once[300 * CH];
	struct testsrc a, b, c;
	struct memsource ms;
	rig_init(&r, VCLOCK_MANUAL, 2);
	for (size_t i = 0; i < 300 * CH; i++)
		once[i] = 0.125f;
	memsource_init(&ms, once, 300, CH, false);
	testsrc_init(&a, 41, 3);
	testsrc_init(&b, 42, 3);
	testsrc_init(&c, 43, 3);
	cr_assert_eq(mixer_link(&r.m, &ms.src, 1.0f), 0);
	cr_assert_eq(mixer_link(&r.m, &a.src, 1.0f), 0);
	cr_assert_eq(mixer_link(&r.m, &b.src, 1.0f), 0);
	cr_assert_eq(vclock_start(&r.v), 0);
	RTCHECK_RESET();
	step(&r, 5);
	RTCHECK_ASSERT_ZERO();
	mixer_poll(&r.m, &r.st);
	cr_assert_eq(atomic_load(&b.released), 1,
	             "the third source was refused");
	/* The memsource ran out after 300 frames (padded with silence) and was
	 * unlinked; its slot is free again. */
	cr_assert_eq(mixer_link(&r.m, &c.src, 1.0f), 0);
	step(&r, 75);
	mixer_poll(&r.m, &r.st);
	cr_assert_eq(r.st.refused, 1);
	cr_assert_eq(r.st.ended, 1);
	cr_assert_eq(r.st.nsources, 2);
	cr_assert(same(r.devout[299 * CH], 0.125f + testsrc_value(&a, 299, 0)));
	cr_assert(same(r.devout[300 * CH], testsrc_value(&a, 300, 0)));
	rig_clear(&r);
}

/* ---- concurrency: link and unlink while the clock runs on its thread ---- */

static void sleep_us(long us)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000};
	nanosleep(&ts, NULL);
}

Test(mixer, linking_and_unlinking_while_running_never_glitches_the_others)
{
	static struct rig r;
	static struct testsrc a, b;
#if defined(__SANITIZE_THREAD__)
	const int cycles = 20;
#else
	const int cycles = 100;
#endif
	rig_init(&r, VCLOCK_FAST, 64);
	testsrc_init(&a, 51, 1); /* channel 0 only */
	testsrc_init(&b, 52, 2); /* channel 1 only */
	cr_assert_eq(mixer_link(&r.m, &a.src, 1.0f), 0);
	r.verify = &a;
	RTCHECK_RESET();
	cr_assert_eq(vclock_start(&r.v), 0);
	int linked = 0;
	for (int i = 0; i < cycles; i++) {
		b.pos = 0; /* ours again: it came back through poll */
		if (mixer_link(&r.m, &b.src, i % 2 ? 1.0f : 0.5f) == 0)
			linked++;
		sleep_us(200);
		cr_assert_eq(mixer_set_gain(&r.m, &b.src, 0.25f, 1), 0);
		cr_assert_eq(mixer_unlink(&r.m, &b.src, i % 3 == 0), 0);
		for (int w = 0; w < 20000 && atomic_load(&b.released) < linked;
		     w++) {
			mixer_poll(&r.m, &r.st);
			sleep_us(100);
		}
		cr_assert_eq(atomic_load(&b.released), linked, "cycle %d", i);
	}
	vclock_stop(&r.v);
	RTCHECK_ASSERT_ZERO();
	mixer_poll(&r.m, &r.st);
	cr_assert_eq(linked, cycles);
	cr_log_info("%llu frames checked while source b came and went %d times",
	            (unsigned long long)r.verified, linked);
	cr_assert_gt(r.verified, 0);
	cr_assert_eq(r.mismatches, 0, "source a's samples continued exactly");
	rig_clear(&r);
}

Test(mixer, refuses_a_tap_whose_channel_count_does_not_match_its_point)
{
	static struct mixer m;
	static float buf[64 * 2];
	struct mixer_config mc;
	struct memtap mono, stereo;
	struct testsrc a;

	mixer_config_default(&mc);
	cr_assert_eq(mc.channels, 2);
	cr_assert_eq(mixer_init(&m, &mc), 0);
	memtap_init(&mono, buf, 64, 1);
	memtap_init(&stereo, buf, 64, 2);
	/* The output mix has two channels: a mono tap would be overrun. */
	cr_assert_eq(mixer_link_tap(&m, &mono.tap, MIXER_TAP_OUTPUT), -EINVAL);
	/* No device input: no input tap at all. */
	cr_assert_eq(mixer_link_tap(&m, &stereo.tap, MIXER_TAP_INPUT), -EINVAL);
	/* A source's tap takes the source's own channel count. */
	testsrc_init(&a, 3, 1);
	a.src.channels = 1;
	a.src.tap = &stereo.tap;
	cr_assert_eq(mixer_link(&m, &a.src, 1.0f), -EINVAL);
	a.src.tap = &mono.tap;
	cr_assert_eq(mixer_link(&m, &a.src, 1.0f), 0);
	mixer_clear(&m);
}
