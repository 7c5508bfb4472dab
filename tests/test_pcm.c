/*
 * Linear PCM (L16/L24): conversions, payload framing, and the codec
 * interface over them, including concealment.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/pcm.h"

#if defined(RTB_RTCHECK)
#include "bridge/rtcheck/rthook.h"
#include "tests/rtcheck_assert.h"
#endif

#define SEED 0x5eedc0de12345678ull

static uint64_t rng_state;

static uint32_t rng_next(void)
{
	/* xorshift64*: deterministic, seeded per test */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 1;
	cr_log_info("seed %#llx", (unsigned long long)seed);
}

TestSuite(pcm, .timeout = 30);

Test(pcm, s16_round_trip_is_bit_exact_for_every_value)
{
	static uint8_t bytes[2 * 65536], back[2 * 65536];
	static float f[65536];

	for (long v = -32768; v < 32768; v++) {
		uint16_t u = (uint16_t)(v & 0xffff);
		bytes[2 * (v + 32768)] = (uint8_t)(u >> 8);
		bytes[2 * (v + 32768) + 1] = (uint8_t)u;
	}
	pcm_s16be_to_float(bytes, 65536, f);
	pcm_float_to_s16be(f, 65536, back);
	cr_assert_arr_eq(bytes, back, sizeof(bytes));
	cr_assert_float_eq(f[0], -1.0f, 0.0f);
	cr_assert_float_eq(f[32768], 0.0f, 0.0f);
}

/* The vector loop and its scalar tail agree with v / 2^15 at every length
   and byte alignment. */
Test(pcm, s16_decode_is_exact_at_any_length_and_alignment)
{
	static uint8_t bytes[2 * 40 + 1];
	float f[40 + 1];
	rng_seed(0x516);
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(rng_next() >> 24);
	for (size_t off = 0; off < 2; off++) {
		for (size_t n = 0; n <= 40; n++) {
			f[n] = 42.0f;
			pcm_s16be_to_float(bytes + off, n, f);
			for (size_t i = 0; i < n; i++) {
				long u = (long)bytes[off + 2 * i] * 256 +
				         bytes[off + 2 * i + 1];
				long v = u < 32768 ? u : u - 65536;
				cr_assert_eq(f[i], (float)v / 32768.0f,
				             "n %zu, offset %zu, sample %zu", n,
				             off, i);
			}
			cr_assert_eq(f[n], 42.0f, "wrote past %zu samples", n);
		}
	}
}

Test(pcm, s24_round_trip_is_bit_exact_for_every_value)
{
	enum { CHUNK = 65536 };
	static uint8_t bytes[3 * CHUNK], back[3 * CHUNK];
	static float f[CHUNK];

	for (long base = -8388608; base < 8388608; base += CHUNK) {
		for (long i = 0; i < CHUNK; i++) {
			uint32_t u = (uint32_t)((base + i) & 0xffffff);
			bytes[3 * i] = (uint8_t)(u >> 16);
			bytes[3 * i + 1] = (uint8_t)(u >> 8);
			bytes[3 * i + 2] = (uint8_t)u;
		}
		pcm_s24be_to_float(bytes, CHUNK, f);
		pcm_float_to_s24be(f, CHUNK, back);
		cr_assert(memcmp(bytes, back, sizeof(bytes)) == 0,
		          "mismatch in block starting at %ld", base);
	}
}

Test(pcm, writes_network_byte_order)
{
	float in[3] = {0.5f, -1.0f, 1.0f / 32768.0f};
	uint8_t b16[6], b24[9];

	pcm_float_to_s16be(in, 3, b16);
	pcm_float_to_s24be(in, 3, b24);
	uint8_t want16[6] = {0x40, 0x00, 0x80, 0x00, 0x00, 0x01};
	uint8_t want24[9] = {0x40, 0x00, 0x00, 0x80, 0x00,
	                     0x00, 0x00, 0x01, 0x00};
	cr_assert_arr_eq(b16, want16, 6);
	cr_assert_arr_eq(b24, want24, 9);
}

Test(pcm, rounds_to_nearest_and_clips)
{
	float in[] = {0.3f / 32768,   0.7f / 32768,    -0.7f / 32768,
	              100.3f / 32768, -100.6f / 32768, 1.0f,
	              2.0f,           -1.0f,           -7.5f,
	              INFINITY,       -INFINITY,       NAN};
	long want[] = {0,     1,      -1,     100,   -101,   32767,
	               32767, -32768, -32768, 32767, -32768, 0};
	size_t n = sizeof(in) / sizeof(in[0]);
	uint8_t out[2 * sizeof(in) / sizeof(in[0])];

	pcm_float_to_s16be(in, n, out);
	for (size_t i = 0; i < n; i++) {
		uint16_t u = (uint16_t)((out[2 * i] << 8) | out[2 * i + 1]);
		long v = u < 0x8000 ? (long)u : (long)u - 0x10000;
		cr_expect_eq(v, want[i], "sample %zu: got %ld want %ld", i, v,
		             want[i]);
	}
}

Test(pcm, clips_and_zeroes_nan_in_every_lane)
{
	/* Sixteen samples: the converter's eight-wide steps see each
	   special value in some lane, not only in the scalar tail. */
	float in[16] = {NAN,
	                INFINITY,
	                -INFINITY,
	                1.0f,
	                -1.0f,
	                2.0f,
	                0.5f / 32768,
	                1.5f / 32768,
	                -NAN,
	                -2.0f,
	                -0.5f / 32768,
	                -1.5f / 32768,
	                32766.5f / 32768,
	                -32767.5f / 32768,
	                0.0f,
	                -0.0f};
	long want[16] = {0, 32767,  -32768, 32767, -32768, 32767,  0, 2,
	                 0, -32768, 0,      -2,    32766,  -32768, 0, 0};
	uint8_t out[32];

	pcm_float_to_s16be(in, 16, out);
	for (size_t i = 0; i < 16; i++) {
		uint16_t u = (uint16_t)((out[2 * i] << 8) | out[2 * i + 1]);
		long v = u < 0x8000 ? (long)u : (long)u - 0x10000;
		cr_expect_eq(v, want[i], "sample %zu: got %ld want %ld", i, v,
		             want[i]);
	}
}

/* The reference: lrintf in the default rounding mode, clipped. */
static long ref_quantize(float x, float scale, long lo, long hi)
{
	float s = x * scale;

	if (s != s)
		return 0;
	if (s >= (float)hi)
		return hi;
	if (s <= (float)lo)
		return lo;
	return lrintf(s);
}

Test(pcm, quantizes_exactly_like_lrintf_ties_and_all)
{
	enum { N = 4096 };
	static float in[N];
	static uint8_t b16[2 * N], b24[3 * N];

	rng_seed(0x71e5);
	for (int round = 0; round < 64; round++) {
		for (size_t i = 0; i < N; i++) {
			uint64_t r = (uint64_t)rng_next() << 32 | rng_next();
			/* Halves of both scales (ties), random values across
			   the range and beyond, tiny ones. */
			long k = (long)(r >> 40) - (1l << 23);
			switch (i % 4) {
			case 0:
				in[i] = ((float)(k >> 8) + 0.5f) / 32768.0f;
				break;
			case 1:
				in[i] = ((float)k + 0.5f) / 8388608.0f;
				break;
			case 2:
				in[i] = (float)((double)(r >> 11) /
				                        4503599627370496.0 -
				                1.0) *
				        1.1f;
				break;
			default:
				in[i] = (float)k * 1e-12f;
			}
		}
		pcm_float_to_s16be(in, N, b16);
		pcm_float_to_s24be(in, N, b24);
		for (size_t i = 0; i < N; i++) {
			long w16 = ref_quantize(in[i], 32768.0f, -32768, 32767);
			long w24 = ref_quantize(in[i], 8388608.0f, -8388608,
			                        8388607);
			uint16_t u =
			        (uint16_t)((b16[2 * i] << 8) | b16[2 * i + 1]);
			uint32_t v = ((uint32_t)b24[3 * i] << 16) |
			             ((uint32_t)b24[3 * i + 1] << 8) |
			             b24[3 * i + 2];
			cr_assert_eq(u, (uint16_t)(w16 & 0xffff), "%a: 16 bit",
			             (double)in[i]);
			cr_assert_eq(v, (uint32_t)(w24 & 0xffffff),
			             "%a: 24 bit", (double)in[i]);
		}
	}
}

Test(pcm, s24_clips_at_full_scale)
{
	float in[] = {1.0f, -1.0f, 0.99999994f, 3.0f};
	uint8_t out[12];

	pcm_float_to_s24be(in, 4, out);
	uint8_t want[12] = {0x7f, 0xff, 0xff, 0x80, 0x00, 0x00,
	                    0x7f, 0xff, 0xff, 0x7f, 0xff, 0xff};
	cr_assert_arr_eq(out, want, 12);
}

Test(pcm, decode_rejects_partial_frames)
{
	uint8_t payload[64] = {0};
	float pcm[64];

	for (int bits = 16; bits <= 24; bits += 8) {
		int bps = bits / 8;
		for (int ch = 1; ch <= 8; ch++) {
			size_t fb = (size_t)bps * (size_t)ch;
			for (size_t len = 0; len <= 48; len++) {
				int n = pcm_decode(bits, ch, payload, len, pcm,
				                   64);
				if (len % fb == 0)
					cr_assert_eq(n, (int)(len / fb));
				else
					cr_assert_eq(
					        n, -EBADMSG,
					        "bits %d ch %d len %zu: %d",
					        bits, ch, len, n);
			}
		}
	}
}

Test(pcm, decode_refuses_more_frames_than_room)
{
	uint8_t payload[40] = {0};
	float pcm[20];

	cr_assert_eq(pcm_decode(16, 2, payload, 40, pcm, 9), -ENOBUFS);
	cr_assert_eq(pcm_decode(16, 2, payload, 40, pcm, 10), 10);
}

Test(pcm, encode_checks_room_and_arguments)
{
	float pcm[8] = {0};
	uint8_t out[24];

	cr_assert_eq(pcm_encode(24, 2, pcm, 4, out, 23), -ENOBUFS);
	cr_assert_eq(pcm_encode(24, 2, pcm, 4, out, 24), 24);
	cr_assert_eq(pcm_encode(20, 2, pcm, 4, out, 24), -EINVAL);
	cr_assert_eq(pcm_encode(16, 0, pcm, 4, out, 24), -EINVAL);
}

/* Encode and decode integer-valued audio through the codec interface:
   packets of frame_us, or of `frames` frames when frame_us is 0. */
static void round_trip_n(enum codec_kind kind, int rate, int channels,
                         int frame_us, int frames_given)
{
	struct codec_config cfg;
	struct codec_encoder enc;
	struct codec_decoder dec;

	codec_config_default(&cfg, kind);
	cfg.rate = rate;
	cfg.channels = channels;
	cfg.frame_us = frame_us;
	if (frame_us == 0)
		codec_config_set_frames(&cfg, frames_given);
	const char *why;
	cr_assert_eq(codec_config_check(&cfg, &why), 0, "%s", why);
	cr_assert_eq(codec_encoder_init(&enc, &cfg), 0);
	cr_assert_eq(codec_decoder_init(&dec, &cfg), 0);

	int frames = codec_config_frames(&cfg);
	size_t n = (size_t)frames * (size_t)channels;
	float *in = calloc(n, sizeof(float));
	float *out = calloc(n, sizeof(float));
	size_t cap = codec_max_payload(&cfg);
	uint8_t *payload = malloc(cap);
	cr_assert(in && out && payload);
	long full = kind == CODEC_L16 ? 32768 : 8388608;

	for (int packet = 0; packet < 4; packet++) {
		for (size_t i = 0; i < n; i++) {
			long v = (long)(rng_next() % (uint32_t)(2 * full)) -
			         full;
			in[i] = (float)v / (float)full;
		}
		int bytes =
		        codec_encode(&enc, in, (size_t)frames, payload, cap);
		cr_assert_eq(bytes, (int)cap);
		int got = codec_decode(&dec, payload, (size_t)bytes, out,
		                       (size_t)frames);
		cr_assert_eq(got, frames);
		cr_assert(memcmp(in, out, n * sizeof(float)) == 0,
		          "%s %d Hz %d ch: not bit-exact",
		          codec_kind_name(kind), rate, channels);
	}
	cr_assert_eq(codec_rtp_rate(&cfg), rate);
	cr_assert_eq(codec_rtp_ticks(&cfg, (size_t)frames), (uint32_t)frames);
	free(payload);
	free(out);
	free(in);
	codec_decoder_clear(&dec);
	codec_encoder_clear(&enc);
}

static void round_trip(enum codec_kind kind, int rate, int channels,
                       int frame_us)
{
	round_trip_n(kind, rate, channels, frame_us, 0);
}

Test(pcm, l16_and_l24_round_trip_bit_exact_mono_to_8_channels)
{
	rng_seed(SEED);
	for (int ch = 1; ch <= 8; ch++) {
		round_trip(CODEC_L16, 48000, ch, 5000);
		round_trip(CODEC_L24, 48000, ch, 5000);
	}
}

Test(pcm, l16_and_l24_round_trip_at_odd_rates)
{
	/* Rate and a packet duration that is a whole number of frames. */
	static const int rates[][2] = {{8000, 10000},  {22050, 20000},
	                               {44100, 10000}, {88200, 5000},
	                               {96000, 2500},  {192000, 1000}};

	rng_seed(SEED + 1);
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		round_trip(CODEC_L16, rates[i][0], 3, rates[i][1]);
		round_trip(CODEC_L24, rates[i][0], 2, rates[i][1]);
	}
	/* Only a frame count gives whole packets at these. */
	round_trip_n(CODEC_L16, 11025, 1, 0, 100);
	round_trip_n(CODEC_L24, 7919, 2, 0, 100);
}

/* Packet times as whole frames, 0.125 ms to 20 ms, at the rates AES67 and
   PipeWire use: AES67's 1 ms (48 frames at 48 kHz), its shortest 0.125 ms
   (6), PipeWire's 4.4375 ms (213), and odd counts at 44.1 and 96 kHz. */
Test(pcm, any_whole_frame_count_from_an_eighth_of_a_ms_to_20_ms)
{
	static const int cases[][2] = {
	        {48000, 6},  {48000, 48}, {48000, 213}, {48000, 960},
	        {44100, 6},  {44100, 48}, {44100, 441}, {44100, 882},
	        {96000, 12}, {96000, 96}, {96000, 427}, {96000, 1920}};

	rng_seed(SEED + 2);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		round_trip_n(CODEC_L16, cases[i][0], 2, 0, cases[i][1]);
		round_trip_n(CODEC_L24, cases[i][0], 2, 0, cases[i][1]);
	}
}

Test(pcm, packet_time_limits_and_ms_conversions)
{
	struct codec_config cfg;
	int near = 0;

	codec_config_default(&cfg, CODEC_L24);
	codec_config_set_frames(&cfg, 213);
	cr_assert_eq(codec_config_check(&cfg, NULL), 0);
	cr_assert_eq(codec_config_frames(&cfg), 213);
	cr_assert_eq(cfg.frame_us, 4438, "4437.5 us rounds to 4438");
	cr_assert_float_eq(codec_config_ptime_ms(&cfg), 4.4375, 1e-9);
	/* The smallest and largest packets at each rate. */
	static const int lim[][3] = {
	        {48000, 6, 960}, {44100, 6, 882}, {96000, 12, 1920}};
	for (size_t i = 0; i < 3; i++) {
		cfg.rate = lim[i][0];
		codec_config_set_frames(&cfg, lim[i][1]);
		cr_expect_eq(codec_config_check(&cfg, NULL), 0, "%d",
		             lim[i][0]);
		codec_config_set_frames(&cfg, lim[i][1] - 1);
		cr_expect_eq(codec_config_check(&cfg, NULL), -EINVAL);
		codec_config_set_frames(&cfg, lim[i][2]);
		cr_expect_eq(codec_config_check(&cfg, NULL), 0);
		codec_config_set_frames(&cfg, lim[i][2] + 1);
		cr_expect_eq(codec_config_check(&cfg, NULL), -EINVAL);
	}
	cr_assert_eq(codec_frames_of_ms(1.0, 48000, NULL), 48);
	cr_assert_eq(codec_frames_of_ms(4.4375, 48000, NULL), 213);
	cr_assert_eq(codec_frames_of_ms(0.125, 48000, NULL), 6);
	cr_assert_eq(codec_frames_of_ms(1.0884, 44100, NULL), 48);
	cr_assert_eq(codec_frames_of_ms(1.0, 44100, &near), -EINVAL);
	cr_assert_eq(near, 44);
	cr_assert_eq(codec_frames_of_ms(0.001, 48000, &near), -EINVAL);
	cr_assert_eq(codec_frames_of_ms(NAN, 48000, &near), -EINVAL);
	/* Opus keeps its own durations; a frame count must agree. */
	codec_config_default(&cfg, CODEC_OPUS);
	cfg.frames = 480;
	cr_assert_eq(codec_config_check(&cfg, NULL), -EINVAL);
	cfg.frames = 960;
	cr_assert_eq(codec_config_check(&cfg, NULL), 0);
}

Test(pcm, codec_decode_rejects_partial_frame_payload)
{
	struct codec_config cfg;
	struct codec_decoder dec;
	uint8_t payload[12] = {0};
	float out[16];

	codec_config_default(&cfg, CODEC_L24);
	cr_assert_eq(codec_decoder_init(&dec, &cfg), 0);
	cr_assert_eq(codec_decode(&dec, payload, 7, out, 8), -EBADMSG);
	cr_assert_eq(codec_decode(&dec, payload, 12, out, 8), 2);
	cr_assert_eq(codec_decode_fec(&dec, payload, 12, out, 2), -ENOTSUP);
	codec_decoder_clear(&dec);
}

Test(pcm, conceal_without_history_is_silence)
{
	struct codec_config cfg;
	struct codec_decoder dec;
	float out[2 * 240];

	codec_config_default(&cfg, CODEC_L16);
	cr_assert_eq(codec_decoder_init(&dec, &cfg), 0);
	for (size_t i = 0; i < 480; i++)
		out[i] = 1.0f;
	cr_assert_eq(codec_conceal(&dec, out, 240), 240);
	for (size_t i = 0; i < 480; i++)
		cr_assert_eq(out[i], 0.0f);
	codec_decoder_clear(&dec);
}

Test(pcm, conceal_repeats_last_packet_fading_to_silence)
{
	struct codec_config cfg;
	struct codec_decoder dec;
	struct codec_encoder enc;
	enum { FR = 240 }; /* 5 ms at 48 kHz */
	float in[2 * FR], out[2 * FR];
	uint8_t payload[4 * FR];

	codec_config_default(&cfg, CODEC_L16);
	cr_assert_eq(codec_encoder_init(&enc, &cfg), 0);
	cr_assert_eq(codec_decoder_init(&dec, &cfg), 0);
	for (int i = 0; i < FR; i++) {
		in[2 * i] = 0.5f;
		in[2 * i + 1] = -0.25f;
	}
	int bytes = codec_encode(&enc, in, FR, payload, sizeof(payload));
	cr_assert_eq(codec_decode(&dec, payload, (size_t)bytes, out, FR), FR);

	/* First concealed packet: starts near the held level, decreasing. */
	cr_assert_eq(codec_conceal(&dec, out, FR), FR);
	cr_assert_float_eq(out[0], 0.5f, 1e-3f);
	cr_assert_float_eq(out[1], -0.25f, 1e-3f);
	for (int i = 1; i < FR; i++)
		cr_assert_leq(fabsf(out[2 * i]), fabsf(out[2 * (i - 1)]));
	cr_assert_lt(out[2 * (FR - 1)], 0.5f);
	cr_assert_gt(out[2 * (FR - 1)], 0.0f);

	/* After the 20 ms fade everything is silent. */
	for (int k = 0; k < 4; k++)
		cr_assert_eq(codec_conceal(&dec, out, FR), FR);
	for (int i = 0; i < 2 * FR; i++)
		cr_assert_eq(out[i], 0.0f);

	/* A good packet restores full level. */
	cr_assert_eq(codec_decode(&dec, payload, (size_t)bytes, out, FR), FR);
	cr_assert_eq(codec_conceal(&dec, out, 10), 10);
	cr_assert_float_eq(out[0], 0.5f, 1e-3f);
	codec_decoder_clear(&dec);
	codec_encoder_clear(&enc);
}

#if defined(RTB_RTCHECK)
Test(pcm, encode_decode_conceal_do_not_allocate)
{
	struct codec_config cfg;
	struct codec_decoder dec;
	struct codec_encoder enc;
	enum { FR = 240 };
	static float in[2 * FR], out[2 * FR];
	static uint8_t payload[6 * FR];

	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	for (enum codec_kind k = CODEC_L16; k <= CODEC_L24; k++) {
		codec_config_default(&cfg, k);
		cr_assert_eq(codec_encoder_init(&enc, &cfg), 0);
		cr_assert_eq(codec_decoder_init(&dec, &cfg), 0);
		RTCHECK_RESET();
		rthook_rt_enter();
		int ok = 1;
		for (int i = 0; i < 50; i++) {
			int b = codec_encode(&enc, in, FR, payload,
			                     sizeof(payload));
			ok &= b > 0;
			ok &= codec_decode(&dec, payload, (size_t)b, out, FR) ==
			      FR;
			ok &= codec_conceal(&dec, out, FR) == FR;
		}
		rthook_rt_leave();
		RTCHECK_ASSERT_ZERO();
		cr_assert(ok);
		codec_decoder_clear(&dec);
		codec_encoder_clear(&enc);
	}
}
#endif
