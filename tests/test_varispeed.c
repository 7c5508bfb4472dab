/*
 * varispeed: the drift resampler's quality (SNR of a resampled sine,
 * measured by tools/sinefit), its continuity when the ratio changes at
 * every call, its frame accounting over a long run, real rate changes
 * (44.1 and 96 kHz into 48 kHz) and its real-time safety.
 *
 * Driven like the receiver drives it: decoded packets of 480 frames fed as
 * the output asks, 128-frame output blocks, a ratio per block. Seeded and
 * deterministic: the thresholds hold in every build.
 *
 * Every test runs on the kernel the CPU runs best (AVX2 on x86-64 that has
 * it); test_varispeed_portable.c builds this file again with the portable
 * kernel forced, so both stay tested on any machine.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/varispeed.h"
#include "tests/rtcheck_assert.h"
#include "tools/sinefit.h"

#define PI      3.14159265358979323846
#define PACKET  480
#define BLOCK   128
#define MAXCH   3
#define AMP     0.5
#define SKIP    12000 /* output frames before measuring */
#define SNR_MIN 90.0

#ifndef VARISPEED_TEST_PORTABLE
#define VARISPEED_TEST_PORTABLE false
#endif

/* The input: a sine per channel (channel c shifted by c quarter turns),
   or seeded noise, in 480-frame packets. */
struct feed {
	unsigned ch;
	double w; /* rad per input frame; 0: noise */
	uint64_t n, seed;
	float pkt[PACKET * MAXCH];
	size_t off, avail;
};

static float noise(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (float)((double)(*s >> 11) / 9007199254740992.0 - 0.5);
}

static void feed_packet(struct feed *f)
{
	for (size_t i = 0; i < PACKET; i++, f->n++)
		for (unsigned c = 0; c < f->ch; c++)
			f->pkt[i * f->ch + c] =
			        f->w > 0.0 ? (float)(AMP *
			                             sin(f->w * (double)f->n +
			                                 c * PI / 2.0))
			                   : noise(&f->seed);
	f->off = 0;
	f->avail = PACKET;
}

/* Fill `frames` output frames, a ratio per block from ratio_at(block). */
static void drive(struct varispeed *v, struct feed *f, float *out,
                  size_t frames, double (*ratio_at)(size_t, void *), void *arg)
{
	for (size_t b = 0; b * BLOCK < frames; b++) {
		size_t done = 0, len = frames - b * BLOCK;
		double r = ratio_at(b, arg);
		if (len > BLOCK)
			len = BLOCK;
		while (done < len) {
			if (f->avail == 0)
				feed_packet(f);
			size_t used, made;
			varispeed_process(v, f->pkt + f->off * f->ch, f->avail,
			                  out + (b * BLOCK + done) * f->ch,
			                  len - done, r, &used, &made);
			cr_assert(made == len - done || used == f->avail);
			f->off += used;
			f->avail -= used;
			done += made;
		}
	}
}

static double fixed_ratio(size_t b, void *arg)
{
	(void)b;
	return *(double *)arg;
}

static void make(struct varispeed *v, unsigned ch, double nominal)
{
	struct varispeed_config c;

	varispeed_config_default(&c, ch, nominal);
	c.portable = VARISPEED_TEST_PORTABLE;
	cr_assert_eq(varispeed_init(v, &c), 0);
	if (VARISPEED_TEST_PORTABLE)
		cr_assert_str_eq(v->kernel, "portable");
}

/* SNR of every channel of a sine run, the worse one. */
static double worst_snr(const float *out, unsigned ch, size_t frames,
                        double w_out)
{
	double worst = 1e9;

	for (unsigned c = 0; c < ch; c++) {
		double s = sinefit_snr(out + SKIP * ch + c, ch, frames - SKIP,
		                       2048, w_out);
		worst = s < worst ? s : worst;
	}
	return worst;
}

static double sine_snr(double in_rate, double hz, double ratio_ppm)
{
	enum { N = 72000 };
	static float out[N * 2];
	struct varispeed v;
	double nominal = 48000.0 / in_rate;
	double r = nominal * (1.0 + ratio_ppm * 1e-6);
	struct feed f = {.ch = 2, .w = 2.0 * PI * hz / in_rate};

	make(&v, 2, nominal);
	drive(&v, &f, out, N, fixed_ratio, &r);
	varispeed_clear(&v);
	return worst_snr(out, 2, N, f.w / r);
}

Test(varispeed, clean_at_plus_minus_500_ppm)
{
	static const double ppm[] = {0, 100, -100, 500, -500};

	for (size_t i = 0; i < sizeof(ppm) / sizeof(ppm[0]); i++) {
		double s = sine_snr(48000, 1000, ppm[i]);
		cr_log_info("1 kHz at %+g ppm: SNR %.1f dB", ppm[i], s);
		cr_expect_geq(s, SNR_MIN, "1 kHz at %+g ppm: SNR %.1f dB",
		              ppm[i], s);
	}
}

static double sweep_ratio(size_t b, void *arg)
{
	size_t n = *(size_t *)arg;

	return 1.0 + 500e-6 * sin(((double)b / (double)n - 0.5) * PI);
}

Test(varispeed, clean_while_the_ratio_moves_every_call)
{
	enum { N = 144000 };
	static float out[N * 2];
	struct varispeed v;
	size_t blocks = N / BLOCK;
	struct feed f = {.ch = 2, .w = 2.0 * PI * 1000.0 / 48000.0};

	make(&v, 2, 1.0);
	drive(&v, &f, out, N, sweep_ratio, &blocks);
	varispeed_clear(&v);
	/* The fit follows the moving frequency; start it where it starts. */
	double s = worst_snr(out, 2, N, f.w / sweep_ratio(0, &blocks));
	cr_assert_geq(s, SNR_MIN, "sweeping -500..+500 ppm: SNR %.1f dB", s);
}

static double jumpy_ratio(size_t b, void *arg)
{
	(void)arg;
	return b % 2 ? 1.0 + 500e-6 : 1.0 - 500e-6;
}

Test(varispeed, output_is_continuous_across_ratio_jumps)
{
	enum { N = 48000 };
	static float out[N * 2];
	struct varispeed v;
	struct feed f = {.ch = 2, .w = 2.0 * PI * 1000.0 / 48000.0};

	make(&v, 2, 1.0);
	drive(&v, &f, out, N, jumpy_ratio, NULL);
	varispeed_clear(&v);
	/* A sine's first and second differences are bounded by A w and
	   A w^2; a dropped or repeated frame, or a jump, breaks them. */
	double d1 = 0.0, d2 = 0.0, w = f.w * (1.0 + 500e-6);
	for (size_t i = SKIP; i + 2 < N; i++) {
		for (int c = 0; c < 2; c++) {
			double a = out[i * 2 + c], b = out[(i + 1) * 2 + c];
			double e = out[(i + 2) * 2 + c];
			d1 = fmax(d1, fabs(b - a));
			d2 = fmax(d2, fabs(e - 2.0 * b + a));
		}
	}
	cr_assert_leq(d1, AMP * w * 1.001 + 1e-5, "first difference %g", d1);
	cr_assert_leq(d2, AMP * w * w * 1.01 + 1e-5, "second difference %g",
	              d2);
}

Test(varispeed, unity_ratio_plays_the_input_from_its_first_frame)
{
	enum { N = 4800 };
	static float out[N * 2];
	struct varispeed v;
	struct feed f = {.ch = 2, .seed = 0x7e57};
	double one = 1.0;

	make(&v, 2, 1.0);
	drive(&v, &f, out, N, fixed_ratio, &one);
	/* Replay the same noise: output frame i is input frame i. */
	struct feed g = {.ch = 2, .seed = 0x7e57};
	for (size_t i = 0; i < N; i += PACKET) {
		feed_packet(&g);
		for (size_t k = 0; k < PACKET * 2; k++)
			cr_assert_float_eq(out[i * 2 + k], g.pkt[k], 1e-6,
			                   "sample %zu", i * 2 + k);
	}
	varispeed_clear(&v);
}

Test(varispeed, frame_accounting_is_exact_over_a_long_run)
{
	static float in[960 * 2], out[512 * 2];
	struct varispeed v;
	uint64_t seed = 0xacc0;
	long double played = 0.0L; /* input frames the output has played */
	uint64_t taken = 0, made_total = 0;

	make(&v, 2, 1.0);
	const double half = v.taps / 2.0;
	/* Five minutes of output at 48 kHz in random chunks. */
	while (made_total < 5ull * 60 * 48000) {
		size_t nin = 1 + (size_t)((noise(&seed) + 0.5) * 959.0);
		size_t nout = 1 + (size_t)((noise(&seed) + 0.5) * 511.0);
		/* Mostly drift, now and then beyond the range (clamped). */
		double r = 1.0 + noise(&seed) * 0.004;
		if (noise(&seed) > 0.45)
			r = noise(&seed) > 0.0 ? 1.5 : 0.5;
		double rc = r < v.lo ? v.lo : r > v.hi ? v.hi : r;
		size_t used, made;
		for (size_t i = 0; i < nin * 2; i++)
			in[i] = noise(&seed);
		varispeed_process(&v, in, nin, out, nout, r, &used, &made);
		cr_assert(used <= nin && made <= nout);
		cr_assert(made == nout || used == nin,
		          "stopped early: used %zu of %zu, made %zu of %zu",
		          used, nin, made, nout);
		taken += used;
		made_total += made;
		played += (long double)made / rc;
		double lat = varispeed_latency(&v);
		cr_assert(fabsl((long double)taken - lat - played) < 1e-6L,
		          "taken %llu, latency %.9f, played %.9Lf",
		          (unsigned long long)taken, lat, played);
		/* Input is taken only as the output needs it. */
		cr_assert(lat >= 0.0 && lat <= half + 2.0 / rc + 1.0,
		          "latency %.3f frames", lat);
	}
	varispeed_reset(&v);
	cr_assert_eq(varispeed_latency(&v), 0.0);
	varispeed_clear(&v);
}

#if defined(RTB_RTCHECK)
Test(varispeed, processing_makes_no_allocation_lock_or_system_call)
{
	enum { N = 48000 };
	static float out[N * 2];
	struct varispeed v;
	size_t blocks = N / BLOCK;
	struct feed f = {.ch = 2, .w = 0.1};

	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	make(&v, 2, 48000.0 / 44100.0);
	RTCHECK_RESET();
	rthook_rt_enter();
	drive(&v, &f, out, N, sweep_ratio, &blocks);
	varispeed_reset(&v);
	drive(&v, &f, out, N, jumpy_ratio, NULL);
	rthook_rt_leave();
	RTCHECK_ASSERT_ZERO();
	varispeed_clear(&v);
}
#endif

Test(varispeed, converts_44k1_to_48k_cleanly)
{
	double lo = sine_snr(44100, 1000, 0), hi = sine_snr(44100, 10000, 0);

	cr_log_info("44.1 -> 48 kHz: SNR %.1f dB at 1 kHz, %.1f at 10 kHz", lo,
	            hi);
	cr_expect_geq(lo, SNR_MIN, "1 kHz: %.1f dB", lo);
	cr_expect_geq(hi, SNR_MIN, "10 kHz: %.1f dB", hi);
}

/* Level of a tone in the output, dB below the input's. */
static double tone_rejection(double in_rate, double hz)
{
	enum { N = 48000 };
	static float out[N * 2];
	struct varispeed v;
	double r = 48000.0 / in_rate, sum = 0.0;
	struct feed f = {.ch = 2, .w = 2.0 * PI * hz / in_rate};

	make(&v, 2, r);
	drive(&v, &f, out, N, fixed_ratio, &r);
	varispeed_clear(&v);
	for (size_t i = SKIP * 2; i < N * 2; i++)
		sum += (double)out[i] * out[i];
	return -10.0 *
	       log10(sum / (double)((N - SKIP) * 2) / (AMP * AMP / 2.0) +
	             1e-30);
}

Test(varispeed, converts_96k_to_48k_through_a_lowpass)
{
	double lo = sine_snr(96000, 1000, 0), hi = sine_snr(96000, 10000, 0);
	double r30 = tone_rejection(96000, 30000);
	double r40 = tone_rejection(96000, 40000);

	cr_log_info("96 -> 48 kHz: SNR %.1f / %.1f dB, 30 kHz -%.1f dB, "
	            "40 kHz -%.1f dB",
	            lo, hi, r30, r40);
	cr_expect_geq(lo, SNR_MIN, "1 kHz: %.1f dB", lo);
	cr_expect_geq(hi, SNR_MIN, "10 kHz: %.1f dB", hi);
	/* Above the output's Nyquist frequency: gone, not aliased. */
	cr_expect_geq(r30, 90.0, "30 kHz only %.1f dB down", r30);
	cr_expect_geq(r40, 90.0, "40 kHz only %.1f dB down", r40);
}

Test(varispeed, any_channel_count_resamples_each_channel_alike)
{
	enum { N = 9600 };
	static float one[N], two[N * 2], three[N * 3];
	struct varispeed v1, v2, v3;
	size_t blocks = N / BLOCK;
	struct feed f1 = {.ch = 1, .w = 0.3}, f2 = {.ch = 2, .w = 0.3};
	struct feed f3 = {.ch = 3, .w = 0.3};

	make(&v1, 1, 1.0);
	make(&v2, 2, 1.0);
	make(&v3, 3, 1.0);
	drive(&v1, &f1, one, N, sweep_ratio, &blocks);
	drive(&v2, &f2, two, N, sweep_ratio, &blocks);
	drive(&v3, &f3, three, N, sweep_ratio, &blocks);
	for (size_t i = 0; i < N; i++) {
		cr_assert_float_eq(one[i], two[i * 2], 1e-6);
		cr_assert_float_eq(two[i * 2], three[i * 3], 1e-6);
		cr_assert_float_eq(two[i * 2 + 1], three[i * 3 + 1], 1e-6);
	}
	varispeed_clear(&v1);
	varispeed_clear(&v2);
	varispeed_clear(&v3);
}

Test(varispeed, reset_forgets_everything_taken)
{
	enum { N = 4800 };
	static float a[N * 2], b[N * 2];
	struct varispeed v, fresh;
	double r = 1.0003;
	struct feed noisy = {.ch = 2, .seed = 1}, f = {.ch = 2, .w = 0.2};
	struct feed g = {.ch = 2, .w = 0.2};

	make(&v, 2, 1.0);
	make(&fresh, 2, 1.0);
	drive(&v, &noisy, a, 1000, fixed_ratio, &r);
	varispeed_reset(&v);
	cr_assert_eq(varispeed_latency(&v), 0.0);
	drive(&v, &f, a, N, fixed_ratio, &r);
	drive(&fresh, &g, b, N, fixed_ratio, &r);
	cr_assert_eq(memcmp(a, b, sizeof(a)), 0);
	varispeed_clear(&v);
	varispeed_clear(&fresh);
}

static bool cpu_has_avx2(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	return false;
#endif
}

Test(varispeed, picks_the_fastest_kernel_unless_told_otherwise)
{
	struct varispeed v;
	struct varispeed_config c;

	varispeed_config_default(&c, 2, 1.0);
	cr_assert_eq(varispeed_init(&v, &c), 0);
	cr_log_info("kernel: %s", v.kernel);
	cr_assert_str_eq(v.kernel,
	                 cpu_has_avx2() ? "avx2-stereo32" : "portable");
	varispeed_clear(&v);
	/* Another design, or told to: the general AVX2 kernel. */
	c.general = true;
	cr_assert_eq(varispeed_init(&v, &c), 0);
	cr_assert_str_eq(v.kernel, cpu_has_avx2() ? "avx2" : "portable");
	varispeed_clear(&v);
	c.general = false;
	c.taps = 40;
	cr_assert_eq(varispeed_init(&v, &c), 0);
	cr_assert_str_eq(v.kernel, cpu_has_avx2() ? "avx2" : "portable");
	varispeed_clear(&v);
	varispeed_config_default(&c, 1, 1.0);
	cr_assert_eq(varispeed_init(&v, &c), 0);
	cr_assert_str_eq(v.kernel, cpu_has_avx2() ? "avx2" : "portable");
	varispeed_clear(&v);
	varispeed_config_default(&c, 2, 1.0);
	c.portable = true;
	cr_assert_eq(varispeed_init(&v, &c), 0);
	cr_assert_str_eq(v.kernel, "portable");
	varispeed_clear(&v);
}

/* The kernels differ only by rounding (fused multiply-adds, the order of
   the sums): the same input, ratios and calls give the same frame counts
   and output within a few float ulps of full scale, for 1 to 3 channels
   and a decimating filter (64 taps). */
Test(varispeed, kernels_agree)
{
	enum { N = 9600 };
	static float a[N * MAXCH], b[N * MAXCH];
	static const double nominal[] = {1.0, 1.0, 1.0, 0.5};
	static const unsigned chans[] = {1, 2, 3, 2};

	if (!cpu_has_avx2())
		cr_log_info("no AVX2 on this CPU: both runs are portable");
	for (size_t i = 0; i < sizeof(chans) / sizeof(chans[0]); i++) {
		struct varispeed va, vb;
		struct varispeed_config c;
		size_t blocks = N / BLOCK;
		struct feed fa = {.ch = chans[i], .seed = 0xa9}, fb = fa;
		varispeed_config_default(&c, chans[i], nominal[i]);
		cr_assert_eq(varispeed_init(&va, &c), 0);
		c.portable = true;
		cr_assert_eq(varispeed_init(&vb, &c), 0);
		drive(&va, &fa, a, N, sweep_ratio, &blocks);
		drive(&vb, &fb, b, N, sweep_ratio, &blocks);
		cr_assert_eq(fa.n, fb.n);
		cr_assert_eq(varispeed_latency(&va), varispeed_latency(&vb));
		for (size_t k = 0; k < N * chans[i]; k++)
			cr_assert_float_eq(
			        a[k], b[k], 1e-6,
			        "%u channels, nominal %g: sample %zu", chans[i],
			        nominal[i], k);
		varispeed_clear(&va);
		varispeed_clear(&vb);
	}
}

/* The stereo 32-tap kernel runs the general AVX2 kernel's operations in
   its order: on seeded noise with stretches of silence, in random chunks
   at a ratio that jumps at every call (now and then beyond the range),
   both take and make the same frames and their output is the same bit for
   bit. */
Test(varispeed, stereo32_kernel_is_bit_identical_to_the_general_one)
{
	static float in[960 * 2], a[512 * 2], b[512 * 2];
	struct varispeed va, vb;
	struct varispeed_config c;
	uint64_t seed = 0x5732;
	size_t total = 0;

	varispeed_config_default(&c, 2, 1.0);
	cr_assert_eq(varispeed_init(&va, &c), 0);
	c.general = true;
	cr_assert_eq(varispeed_init(&vb, &c), 0);
	cr_log_info("kernels: %s and %s (seed %#llx)", va.kernel, vb.kernel,
	            (unsigned long long)seed);
	while (total < 20 * 48000) {
		size_t nin = 1 + (size_t)((noise(&seed) + 0.5) * 959.0);
		size_t nout = 1 + (size_t)((noise(&seed) + 0.5) * 511.0);
		double r = 1.0 + noise(&seed) * 0.04;
		if (noise(&seed) > 0.45)
			r = noise(&seed) > 0.0 ? 1.5 : 0.5;
		bool silent = noise(&seed) > 0.3;
		for (size_t i = 0; i < nin * 2; i++)
			in[i] = silent ? 0.0f : 2.0f * noise(&seed);
		size_t ua, ma, ub, mb;
		varispeed_process(&va, in, nin, a, nout, r, &ua, &ma);
		varispeed_process(&vb, in, nin, b, nout, r, &ub, &mb);
		cr_assert(ua == ub && ma == mb,
		          "used %zu and %zu, made %zu and %zu", ua, ub, ma, mb);
		for (size_t k = 0; k < ma * 2; k++) {
			uint32_t x, y;
			memcpy(&x, &a[k], sizeof(x));
			memcpy(&y, &b[k], sizeof(y));
			cr_assert_eq(x, y,
			             "frame %zu channel %zu: %a and %a (%08x, "
			             "%08x)",
			             total + k / 2, k % 2, a[k], b[k], x, y);
		}
		total += ma;
	}
	varispeed_clear(&va);
	varispeed_clear(&vb);
}

Test(varispeed, refuses_a_bad_configuration)
{
	struct varispeed v;
	struct varispeed_config c;

	varispeed_config_default(&c, 0, 1.0);
	cr_assert_eq(varispeed_init(&v, &c), -EINVAL);
	varispeed_config_default(&c, 2, 0.0);
	cr_assert_eq(varispeed_init(&v, &c), -EINVAL);
	varispeed_config_default(&c, 2, NAN);
	cr_assert_eq(varispeed_init(&v, &c), -EINVAL);
	varispeed_config_default(&c, 2, 1.0);
	c.taps = 12;
	cr_assert_eq(varispeed_init(&v, &c), -EINVAL);
	varispeed_config_default(&c, 2, 1.0);
	c.phases = 1;
	cr_assert_eq(varispeed_init(&v, &c), -EINVAL);
	varispeed_config_default(&c, 2, 1.0);
	c.range = -0.1;
	cr_assert_eq(varispeed_init(&v, &c), -EINVAL);
	varispeed_clear(&v); /* zeroed by the failed init: harmless */
}
