/*
 * Linear PCM payloads (L16/L24, RFC 3551): float <-> big-endian integers
 *
 * Pure code on caller buffers; see pcm.h. Rounding is to nearest (lrintf in
 * the default rounding mode); values beyond full scale clip to the integer
 * limits instead of wrapping, and NaN maps to 0.
 */
#include "codec/pcm.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* GCC's generic vectors on a little-endian host: eight samples a step
   when decoding 16-bit payloads. */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
        __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PCM_VECTORS 1
typedef uint16_t pcm_u16x8 __attribute__((vector_size(16)));
typedef int16_t pcm_i16x8 __attribute__((vector_size(16)));
typedef float pcm_f32x8 __attribute__((vector_size(32)));
#else
#define PCM_VECTORS 0
#endif

/*
 * Scale, round and clip one sample to [lo, hi]. The comparisons are written
 * so that NaN fails all of them and lands on 0.
 */
static long pcm_quantize(float x, float scale, long lo, long hi)
{
	float s = x * scale;

	if (s >= (float)hi)
		return hi;
	if (s <= (float)lo)
		return lo;
	if (!(s > (float)lo && s < (float)hi))
		return 0;
#if FLT_EVAL_METHOD == 0 || FLT_EVAL_METHOD == 1
	/* lrintf without a library call per sample (the sender's cost): the
	   double sum with 1.5 * 2^52 has no fraction bits left, so the add
	   rounds to nearest, ties to even, as lrintf does in the default
	   mode; subtracting it again is exact, and so is the conversion
	   (|s| < 2^23 here). */
	const double magic = 6755399441055744.0;
	return (long)(((double)s + magic) - magic);
#else
	return lrintf(s);
#endif
}

/* One sample to two bytes in network order. */
static void pcm_s16be_put(float x, uint8_t *out)
{
	long v = pcm_quantize(x, 32768.0f, -32768, 32767);
	uint16_t u = (uint16_t)(v & 0xffff);

	out[0] = (uint8_t)(u >> 8);
	out[1] = (uint8_t)(u & 0xff);
}

#if defined(__SSE2__)
/*
 * Eight samples a step (the sender converts every L16 packet here), with
 * the results of pcm_quantize: NaN lanes are zeroed first (an ordered
 * compare as a mask), then clipped to full scale, rounded to nearest,
 * ties to even (cvtps2dq in the default rounding mode, as lrintf),
 * narrowed and byte-swapped to network order.
 */
void pcm_float_to_s16be(const float *in, size_t n, uint8_t *out)
{
	const __m128 scale = _mm_set1_ps(32768.0f);
	const __m128 hi = _mm_set1_ps(32767.0f), lo = _mm_set1_ps(-32768.0f);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m128 a = _mm_mul_ps(_mm_loadu_ps(in + i), scale);
		__m128 b = _mm_mul_ps(_mm_loadu_ps(in + i + 4), scale);
		a = _mm_and_ps(a, _mm_cmpord_ps(a, a));
		b = _mm_and_ps(b, _mm_cmpord_ps(b, b));
		a = _mm_max_ps(_mm_min_ps(a, hi), lo);
		b = _mm_max_ps(_mm_min_ps(b, hi), lo);
		__m128i v =
		        _mm_packs_epi32(_mm_cvtps_epi32(a), _mm_cvtps_epi32(b));
		v = _mm_or_si128(_mm_slli_epi16(v, 8), _mm_srli_epi16(v, 8));
		_mm_storeu_si128((__m128i *)(void *)(out + 2 * i), v);
	}
	for (; i < n; i++)
		pcm_s16be_put(in[i], out + 2 * i);
}
#else
void pcm_float_to_s16be(const float *in, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++)
		pcm_s16be_put(in[i], out + 2 * i);
}
#endif

/* One sample: two's complement by arithmetic, not by an
   implementation-defined cast (u ^ 0x8000 is u + 0x8000 modulo 2^16). */
static float pcm_s16be_one(const uint8_t *p)
{
	uint32_t u = ((uint32_t)p[0] << 8) | p[1];

	return (float)((int32_t)(u ^ 0x8000) - 0x8000) * (1.0f / 32768.0f);
}

#if PCM_VECTORS
/* Eight samples a step in vectors (the receiver decodes every L16 packet
   here): the 16-bit words are loaded in host order (little-endian, so
   their bytes swap), reinterpreted as signed and widened; the same
   values as pcm_s16be_one. */

void pcm_s16be_to_float(const uint8_t *in, size_t n, float *out)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		pcm_u16x8 u;
		memcpy(&u, in + 2 * i, sizeof(u));
		u = (u << 8) | (u >> 8);
		pcm_f32x8 f = __builtin_convertvector((pcm_i16x8)u, pcm_f32x8);
		f *= 1.0f / 32768.0f;
		memcpy(out + i, &f, sizeof(f));
	}
	for (; i < n; i++)
		out[i] = pcm_s16be_one(in + 2 * i);
}
#else
void pcm_s16be_to_float(const uint8_t *in, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = pcm_s16be_one(in + 2 * i);
}
#endif

void pcm_float_to_s24be(const float *in, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		long v = pcm_quantize(in[i], 8388608.0f, -8388608, 8388607);
		uint32_t u = (uint32_t)(v & 0xffffff);

		out[3 * i] = (uint8_t)(u >> 16);
		out[3 * i + 1] = (uint8_t)((u >> 8) & 0xff);
		out[3 * i + 2] = (uint8_t)(u & 0xff);
	}
}

void pcm_s24be_to_float(const uint8_t *in, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u = ((uint32_t)in[3 * i] << 16) |
		             ((uint32_t)in[3 * i + 1] << 8) | in[3 * i + 2];
		long v = u < 0x800000 ? (long)u : (long)u - 0x1000000;

		/* 2^-23 is exact and every 24-bit integer fits a float's
		   mantissa, so this division loses nothing. */
		out[i] = (float)v * (1.0f / 8388608.0f);
	}
}

int pcm_sample_bytes(int bits)
{
	if (bits == 16)
		return 2;
	if (bits == 24)
		return 3;
	return -EINVAL;
}

int pcm_encode(int bits, int channels, const float *pcm, size_t frames,
               uint8_t *out, size_t cap)
{
	int bps = pcm_sample_bytes(bits);

	if (bps < 0 || channels < 1 || channels > 255)
		return -EINVAL;
	size_t frame_bytes = (size_t)bps * (size_t)channels;
	if (frames > INT_MAX / frame_bytes)
		return -EINVAL;
	size_t bytes = frames * frame_bytes;
	if (bytes > cap)
		return -ENOBUFS;

	size_t n = frames * (size_t)channels;
	if (bits == 16)
		pcm_float_to_s16be(pcm, n, out);
	else
		pcm_float_to_s24be(pcm, n, out);
	return (int)bytes;
}

int pcm_decode(int bits, int channels, const uint8_t *payload, size_t len,
               float *pcm, size_t max_frames)
{
	int bps = pcm_sample_bytes(bits);

	if (bps < 0 || channels < 1 || channels > 255)
		return -EINVAL;
	size_t frame_bytes = (size_t)bps * (size_t)channels;
	if (len % frame_bytes != 0)
		return -EBADMSG;
	size_t frames = len / frame_bytes;
	if (frames > max_frames)
		return -ENOBUFS;
	if (frames > INT_MAX)
		return -EBADMSG;

	size_t n = frames * (size_t)channels;
	if (bits == 16)
		pcm_s16be_to_float(payload, n, pcm);
	else
		pcm_s24be_to_float(payload, n, pcm);
	return (int)frames;
}
