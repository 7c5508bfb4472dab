/*
 * varispeed: polyphase windowed-sinc resampler (see varispeed.h)
 *
 * The output frame at input position x = i + f (i an integer, 0 <= f < 1)
 * is sum_k h(f + taps/2 - 1 - k) * in[i - taps/2 + 1 + k], k = 0..taps-1,
 * where h is the Kaiser-windowed sinc. The table holds h for `phases`
 * values of f; between two rows the coefficients are interpolated
 * linearly (row + (f * phases - p) * difference), which costs one
 * multiply-add per tap and keeps the error far below the filter's own
 * (for a tone at normalised frequency w it is about (w / phases)^2 / 8).
 * Each row is scaled to a DC gain of exactly 1.
 *
 * The input is kept in one plane per channel, so that the dot products run
 * over contiguous floats in vectors; taps are a multiple of 8, so no loop
 * needs a remainder. Two kernels make the frames, the same arithmetic in
 * two widths: the portable one in 4-wide vectors (GCC/Clang vector
 * extensions: SSE on x86-64, NEON on arm64, plain code elsewhere, two
 * accumulators per channel to hide the add latency), and on x86-64 CPUs
 * that have them (checked at init) one in 8-wide AVX2 vectors with fused
 * multiply-adds, plus its stereo 32-tap case (the default design) with
 * the constants folded in. Both interpolate each coefficient vector once
 * per output frame and use it for every channel. The position steps in fixed
 * point (see varispeed__steps): what a frame costs is then its multiply-adds.
 */
#include "codec/varispeed.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The AVX2 kernel: x86-64 with GCC or Clang (target attributes, and
   __builtin_cpu_supports to choose it at run time). */
#if defined(__x86_64__) && defined(__GNUC__)
#define VARISPEED_AVX2 1
#include <immintrin.h>
#else
#define VARISPEED_AVX2 0
#endif

/* Frames of input room beyond the filter's length: how much is taken in
   per copy at most, and how often the history is moved back. */
#define VARISPEED_CHUNK 512
#define VARISPEED_PI    3.14159265358979323846

typedef float varispeed_vf __attribute__((vector_size(16)));

void varispeed_config_default(struct varispeed_config *c, unsigned channels,
                              double nominal)
{
	memset(c, 0, sizeof(*c));
	c->channels = channels;
	c->nominal = nominal;
	c->range = 0.02;
	c->taps = 32;
	c->phases = 128;
	c->stop_db = 100.0;
}

/* Zeroth-order modified Bessel function of the first kind (series). */
static double varispeed__i0(double x)
{
	double sum = 1.0, term = 1.0, q = x * x / 4.0;

	for (int k = 1; k < 200; k++) {
		term *= q / ((double)k * (double)k);
		sum += term;
		if (term < sum * 1e-17)
			break;
	}
	return sum;
}

/* Kaiser's beta for a stopband attenuation of `db` decibels. */
static double varispeed__beta(double db)
{
	if (db > 50.0)
		return 0.1102 * (db - 8.7);
	if (db > 21.0)
		return 0.5842 * pow(db - 21.0, 0.4) + 0.07886 * (db - 21.0);
	return 0.0;
}

/* One row of coefficients for fraction f, scaled to a DC gain of 1. */
static void varispeed__row(double *h, unsigned taps, double f, double fc,
                           double beta)
{
	double half = taps / 2.0, i0b = varispeed__i0(beta), sum = 0.0;

	for (unsigned k = 0; k < taps; k++) {
		double t = f + half - 1.0 - (double)k;
		double u = t / half, x = 2.0 * fc * t;
		double w =
		        u * u < 1.0
		                ? varispeed__i0(beta * sqrt(1.0 - u * u)) / i0b
		                : 0.0;
		double s = fabs(x) < 1e-12
		                   ? 1.0
		                   : sin(VARISPEED_PI * x) / (VARISPEED_PI * x);
		h[k] = 2.0 * fc * s * w;
		sum += h[k];
	}
	for (unsigned k = 0; k < taps; k++)
		h[k] /= sum;
}

static int varispeed__table(struct varispeed *v, double fc, double beta)
{
	unsigned n = v->taps;
	double *cur = malloc(2 * n * sizeof(double));

	if (!cur)
		return -ENOMEM;
	double *next = cur + n;
	varispeed__row(cur, n, 0.0, fc, beta);
	for (unsigned p = 0; p < v->phases; p++) {
		float *row = v->table + (size_t)p * 2 * n;
		varispeed__row(next, n, (double)(p + 1) / v->phases, fc, beta);
		for (unsigned k = 0; k < n; k++) {
			row[k] = (float)cur[k];
			row[n + k] = (float)(next[k] - cur[k]);
		}
		memcpy(cur, next, n * sizeof(double));
	}
	free(cur);
	return 0;
}

static varispeed_vf varispeed__load(const float *p)
{
	varispeed_vf x;

	memcpy(&x, p, sizeof(x));
	return x;
}

static float varispeed__sum(varispeed_vf a)
{
	return (a[0] + a[2]) + (a[1] + a[3]);
}

/*
 * The stepping the kernels share, inlined into each with its own frame
 * function (a constant there), and the filter length and channel count
 * (v->taps and v->channels, or constants where a kernel is made for
 * them): output frames while made < n and pos < end.
 * The position is a buffer index and a 64-bit fraction, so a step is an
 * add with carry (the only chain from one frame to the next) and the
 * accounting is exact. The table row and the weight between it and the
 * next come from the fraction's top 32 bits: a resolution of 2^-32 frame.
 */
static inline __attribute__((always_inline)) size_t
varispeed__steps(struct varispeed *v, float *out, size_t n, size_t end,
                 size_t istep, uint64_t fstep, unsigned taps, unsigned ch,
                 void (*frame)(const struct varispeed *, const float *, float,
                               const float *, size_t, float *))
{
	const size_t rowlen = 2 * (size_t)taps, back = taps / 2 - 1;
	const uint64_t phases = v->phases;
	/* Held in locals: the kernels store through types that may alias
	   anything, which would reload them from v at every frame. */
	const float *const table = v->table, *const buf = v->buf;
	const size_t cap = v->cap;
	size_t pos = v->pos, made = 0;
	uint64_t frac = v->frac;

	for (; made < n && pos < end; made++) {
		uint64_t t = (frac >> 32) * phases;
		const float *row = table + (size_t)(t >> 32) * rowlen;
		float w = (float)(uint32_t)t * 0x1p-32f;
		frame(v, row, w, buf + (pos - back), cap, out + made * ch);
		frac += fstep;
		pos += istep + (frac < fstep);
	}
	v->pos = pos;
	v->frac = frac;
	return made;
}

/* One output frame from the window starting at x0 (channel 0's plane;
   channel c's is cap floats after channel c - 1's), with the coefficients
   of row `row` interpolated by `w` towards the next row. */
static inline __attribute__((always_inline)) void
varispeed__frame(const struct varispeed *v, const float *row, float w,
                 const float *x0, size_t cap, float *out)
{
	const size_t nv = v->taps / 4;
	const varispeed_vf *t = (const varispeed_vf *)row;
	const varispeed_vf *d = t + nv;
	const varispeed_vf wv = {w, w, w, w};

	if (v->channels == 2) {
		/* Left and right share the coefficients. */
		const float *x1 = x0 + cap;
		varispeed_vf a0 = {0}, b0 = {0}, a1 = {0}, b1 = {0};
		for (size_t k = 0; k < nv; k += 2) {
			varispeed_vf c0 = t[k] + wv * d[k];
			varispeed_vf c1 = t[k + 1] + wv * d[k + 1];
			a0 += c0 * varispeed__load(x0 + 4 * k);
			b0 += c1 * varispeed__load(x0 + 4 * k + 4);
			a1 += c0 * varispeed__load(x1 + 4 * k);
			b1 += c1 * varispeed__load(x1 + 4 * k + 4);
		}
		out[0] = varispeed__sum(a0 + b0);
		out[1] = varispeed__sum(a1 + b1);
		return;
	}
	/* Any other count: the coefficients once, then a dot per channel. */
	varispeed_vf *c = (varispeed_vf *)v->coef;
	for (size_t k = 0; k < nv; k++)
		c[k] = t[k] + wv * d[k];
	for (unsigned ch = 0; ch < v->channels; ch++) {
		const float *x = x0 + ch * cap;
		varispeed_vf a = {0}, b = {0};
		for (size_t k = 0; k < nv; k += 2) {
			a += c[k] * varispeed__load(x + 4 * k);
			b += c[k + 1] * varispeed__load(x + 4 * k + 4);
		}
		out[ch] = varispeed__sum(a + b);
	}
}

static size_t varispeed__run(struct varispeed *v, float *out, size_t n,
                             size_t end, size_t istep, uint64_t fstep)
{
	return varispeed__steps(v, out, n, end, istep, fstep, v->taps,
	                        v->channels, varispeed__frame);
}

#if VARISPEED_AVX2
/*
 * The same frame in 8-wide AVX2 vectors with fused multiply-adds (taps
 * are a multiple of 8 and table rows 32-byte aligned; the history is
 * read unaligned). Stereo, the common case, interpolates each coefficient
 * vector once for both channels and sums both channels' lanes together.
 */
__attribute__((target("avx2,fma"), always_inline)) static inline void
varispeed__stereo_avx2(const float *row, float w, const float *x0,
                       const float *x1, size_t taps, float *out)
{
	const float *d = row + taps;
	const __m256 wv = _mm256_set1_ps(w);
	__m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();

	/* Fully unrolled where taps is a constant (the 32-tap kernel). */
#pragma GCC unroll 4
	for (size_t k = 0; k < taps; k += 8) {
		__m256 c = _mm256_fmadd_ps(wv, _mm256_load_ps(d + k),
		                           _mm256_load_ps(row + k));
		a0 = _mm256_fmadd_ps(c, _mm256_loadu_ps(x0 + k), a0);
		a1 = _mm256_fmadd_ps(c, _mm256_loadu_ps(x1 + k), a1);
	}
	/* [l01 l23 r01 r23 | l45 l67 r45 r67], then the halves added, then
	   pairs: l, r in the low two lanes. */
	__m256 h = _mm256_hadd_ps(a0, a1);
	__m128 q = _mm_add_ps(_mm256_castps256_ps128(h),
	                      _mm256_extractf128_ps(h, 1));
	q = _mm_hadd_ps(q, q);
	_mm_storel_pi((__m64 *)out, q);
}

__attribute__((target("avx2,fma"), always_inline)) static inline void
varispeed__frame_avx2(const struct varispeed *v, const float *row, float w,
                      const float *x0, size_t cap, float *out)
{
	const size_t taps = v->taps;
	const float *d = row + taps;
	const __m256 wv = _mm256_set1_ps(w);

	if (v->channels == 2) {
		varispeed__stereo_avx2(row, w, x0, x0 + cap, taps, out);
		return;
	}
	float *c = v->coef;
	for (size_t k = 0; k < taps; k += 8)
		_mm256_store_ps(c + k,
		                _mm256_fmadd_ps(wv, _mm256_load_ps(d + k),
		                                _mm256_load_ps(row + k)));
	for (unsigned ch = 0; ch < v->channels; ch++) {
		const float *x = x0 + ch * cap;
		__m256 a = _mm256_setzero_ps();
		for (size_t k = 0; k < taps; k += 8)
			a = _mm256_fmadd_ps(_mm256_load_ps(c + k),
			                    _mm256_loadu_ps(x + k), a);
		__m128 q = _mm_add_ps(_mm256_castps256_ps128(a),
		                      _mm256_extractf128_ps(a, 1));
		q = _mm_add_ps(q, _mm_movehl_ps(q, q));
		q = _mm_add_ss(q, _mm_movehdup_ps(q));
		out[ch] = _mm_cvtss_f32(q);
	}
}

__attribute__((target("avx2,fma"))) static size_t
varispeed__run_avx2(struct varispeed *v, float *out, size_t n, size_t end,
                    size_t istep, uint64_t fstep)
{
	return varispeed__steps(v, out, n, end, istep, fstep, v->taps,
	                        v->channels, varispeed__frame_avx2);
}

/* Stereo with 32 taps, the default design at a nominal ratio >= 1: the
   general kernel's stereo frame (varispeed__stereo_avx2, so the same
   operations in the same order and the same output, bit for bit) with
   the tap loop unrolled and the row length, the history's offset and the
   channel count constants. */
#define VARISPEED_S32_TAPS 32

__attribute__((target("avx2,fma"), always_inline)) static inline void
varispeed__frame_avx2_s32(const struct varispeed *v, const float *row, float w,
                          const float *x0, size_t cap, float *out)
{
	(void)v;
	varispeed__stereo_avx2(row, w, x0, x0 + cap, VARISPEED_S32_TAPS, out);
}

__attribute__((target("avx2,fma"))) static size_t
varispeed__run_avx2_s32(struct varispeed *v, float *out, size_t n, size_t end,
                        size_t istep, uint64_t fstep)
{
	return varispeed__steps(v, out, n, end, istep, fstep,
	                        VARISPEED_S32_TAPS, 2,
	                        varispeed__frame_avx2_s32);
}
#endif

int varispeed_init(struct varispeed *v, const struct varispeed_config *c)
{
	memset(v, 0, sizeof(*v));
	if (c->channels < 1 || c->channels > VARISPEED_MAX_CHANNELS ||
	    !(c->nominal >= VARISPEED_NOMINAL_MIN &&
	      c->nominal <= VARISPEED_NOMINAL_MAX) ||
	    !(c->range >= 0.0 && c->range <= 0.5) || c->taps < 8 ||
	    c->taps > 256 || c->taps % 8 != 0 || c->phases < 2 ||
	    c->phases > 4096 || !(c->stop_db >= 40.0 && c->stop_db <= 160.0))
		return -EINVAL;
	double down = c->nominal < 1.0 ? c->nominal : 1.0;
	unsigned taps = (unsigned)ceil(c->taps / down);
	v->channels = c->channels;
	v->taps = (taps + 7) / 8 * 8;
	v->phases = c->phases;
	v->lo = c->nominal / (1.0 + c->range);
	v->hi = c->nominal * (1.0 + c->range);
	v->cap = v->taps + VARISPEED_CHUNK;

	size_t tsize = (size_t)v->phases * 2 * v->taps * sizeof(float);
	v->table = aligned_alloc(32, tsize);
	v->buf = calloc(v->cap * v->channels, sizeof(float));
	v->coef = aligned_alloc(32, v->taps * sizeof(float));
	int err = -ENOMEM;
	if (!v->table || !v->buf || !v->coef)
		goto fail;
	/* The cut-off sits at the lower Nyquist frequency (half an input
	   frame's rate, times the ratio when decimating): the transition
	   band straddles it, so that what a tone images or aliases to lands
	   in the stopband. */
	err = varispeed__table(v, 0.5 * down, varispeed__beta(c->stop_db));
	if (err < 0)
		goto fail;
	v->run = varispeed__run;
	v->kernel = "portable";
#if VARISPEED_AVX2
	if (!c->portable && __builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("fma")) {
		v->run = varispeed__run_avx2;
		v->kernel = "avx2";
		if (!c->general && v->channels == 2 &&
		    v->taps == VARISPEED_S32_TAPS) {
			v->run = varispeed__run_avx2_s32;
			v->kernel = "avx2-stereo32";
		}
	}
#endif
	varispeed_reset(v);
	return 0;

fail:
	varispeed_clear(v);
	return err;
}

void varispeed_clear(struct varispeed *v)
{
	free(v->table);
	free(v->buf);
	free(v->coef);
	memset(v, 0, sizeof(*v));
}

void varispeed_reset(struct varispeed *v)
{
	/* The history before the first frame is silence: taps/2 - 1 frames
	   of it, so that the first frame taken sits at the filter's centre. */
	size_t lead = v->taps / 2 - 1;

	for (unsigned c = 0; c < v->channels; c++)
		memset(v->buf + c * v->cap, 0, lead * sizeof(float));
	v->fill = lead;
	v->pos = lead;
	v->frac = 0;
}

double varispeed_latency(const struct varispeed *v)
{
	return (double)(v->fill - v->pos) - (double)v->frac * 0x1p-64;
}

/* Move the history the next output frame needs to the start of the
   buffer. */
static void varispeed__shift(struct varispeed *v)
{
	size_t j0 = v->pos + 1 - v->taps / 2;

	if (j0 == 0)
		return;
	for (unsigned c = 0; c < v->channels; c++) {
		float *p = v->buf + c * v->cap;
		memmove(p, p + j0, (v->fill - j0) * sizeof(float));
	}
	v->fill -= j0;
	v->pos -= j0;
}

/* Take n interleaved frames into the planes. */
static void varispeed__take(struct varispeed *v, const float *in, size_t n)
{
	const unsigned ch = v->channels;

	if (ch == 2) {
		float *l = v->buf + v->fill, *r = l + v->cap;
		for (size_t i = 0; i < n; i++) {
			l[i] = in[2 * i];
			r[i] = in[2 * i + 1];
		}
	} else {
		for (unsigned c = 0; c < ch; c++) {
			float *p = v->buf + c * v->cap + v->fill;
			for (size_t i = 0; i < n; i++)
				p[i] = in[i * ch + c];
		}
	}
	v->fill += n;
}

/*
 * The whole input frames from the next output frame's position to that of
 * the output frame k later: k steps and the fraction, exactly (the 128-bit
 * sum frac + k * fstep, of which the high word carries).
 */
static size_t varispeed__ahead(const struct varispeed *v, size_t k,
                               size_t istep, uint64_t fstep)
{
	const uint64_t m = 0xffffffffu;
	uint64_t kk = k, al = fstep & m, ah = fstep >> 32;
	uint64_t bl = kk & m, bh = kk >> 32;
	uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
	uint64_t mid = (ll >> 32) + (lh & m) + (hl & m);
	uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
	uint64_t lo = (mid << 32) | (ll & m);

	lo += v->frac;
	hi += lo < v->frac;
	return k * istep + (size_t)hi;
}

void varispeed_process(struct varispeed *v, const float *in, size_t in_frames,
                       float *out, size_t out_frames, double ratio,
                       size_t *in_used, size_t *out_made)
{
	const size_t half = v->taps / 2;
	const unsigned ch = v->channels;
	size_t used = 0, made = 0;

	if (!(ratio > 0.0))
		ratio = (v->lo + v->hi) / 2.0;
	ratio = ratio < v->lo ? v->lo : ratio > v->hi ? v->hi : ratio;
	/* The step in input frames per output frame, as whole frames and a
	   64-bit fraction: step - istep is exact in a double (< 1), and so
	   is its product with 2^64, which fits. */
	const double step = 1.0 / ratio;
	const size_t istep = (size_t)step;
	const uint64_t fstep = (uint64_t)((step - (double)istep) * 0x1p64);

	while (made < out_frames) {
		if (v->pos + half >= v->fill) {
			/* The next frame needs input up to pos + half. */
			if (used == in_frames)
				break;
			if (v->fill == v->cap)
				varispeed__shift(v);
			/* Take what the rest of this call's output needs (the
			   last frame's position, exactly as the kernel steps
			   to it: not a frame more), as far as the room and
			   the input go. */
			size_t last = v->pos +
			              varispeed__ahead(v, out_frames - made - 1,
			                               istep, fstep);
			size_t want = last + half + 1 - v->fill;
			size_t n = in_frames - used;
			if (want < n)
				n = want;
			if (v->cap - v->fill < n)
				n = v->cap - v->fill;
			varispeed__take(v, in + used * ch, n);
			used += n;
			continue;
		}
		/* pos must stay below fill - half */
		made += v->run(v, out + made * ch, out_frames - made,
		               v->fill - half, istep, fstep);
	}
	*in_used = used;
	*out_made = made;
}
