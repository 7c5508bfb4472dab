/*
 * The drift resampler inside the network source: a 1 kHz sine sent by a
 * sender whose clock runs 500 ppm fast or slow comes out of netstream
 * clean (SNR >= 90 dB, tools/sinefit) while the playout controller sets a
 * new ratio at every pull, and the buffer level it sees (the decoded
 * frames and those the resampler took and has not played) settles on the
 * target: the resampler's latency is counted without a bias. Measured
 * once the drift estimate has settled (each of its updates in the first
 * seconds moves the schedule, and the ratio steps with it). A level read
 * to the whole frame would wobble by a frame and the ratio by +-10 ppm
 * with it: about 83 dB.
 *
 * L24 (the quantization noise stays ~50 dB below the threshold), stereo
 * 48 kHz, 5 ms packets, a constant 3 ms network delay, 256-frame pulls on
 * a simulated clock: deterministic, no thread, no socket. The pulls run
 * under the real-time checker.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "bridge/net/netstream.h"
#include "codec/pcm.h"
#include "codec/rtp.h"
#include "tests/rtcheck_assert.h"
#include "tools/sinefit.h"

#define PI      3.14159265358979323846
#define RATE    48000
#define CH      2
#define PACKET  240 /* 5 ms */
#define BLOCK   256
#define AMP     0.5
#define HZ      1000.0
#define SECONDS 16
#define SETTLE  10 /* s: the drift estimate has settled */
#define SNR_MIN 90.0

TestSuite(netstream_tone, .timeout = 120);

struct tone {
	struct netstream ns;
	uint64_t out_frames; /* the local clock: frames pulled */
	uint64_t k;          /* next packet to send */
	double skew;         /* sender clock rate - 1 */
};

static uint64_t tone_clock(void *arg)
{
	const struct tone *t = arg;

	return t->out_frames * 1000000000u / RATE;
}

/* Send packet k: left a sine, right its cosine, on the sender's clock. */
static void tone_send(struct tone *t, uint64_t k, double arrival)
{
	float pcm[PACKET * CH];
	uint8_t payload[PACKET * CH * 3], buf[1500];
	struct rtp_header h = {.version = 2, .pt = 96, .ssrc = 0x70e};
	const double w = 2.0 * PI * HZ / RATE;

	for (int i = 0; i < PACKET; i++) {
		double x = w * (double)(k * PACKET + (uint64_t)i);
		pcm[i * CH] = (float)(AMP * sin(x));
		pcm[i * CH + 1] = (float)(AMP * cos(x));
	}
	int plen = pcm_encode(24, CH, pcm, PACKET, payload, sizeof(payload));
	cr_assert_gt(plen, 0);
	h.seq = (uint16_t)(100 + k);
	h.ts = (uint32_t)(5000 + k * PACKET);
	int n = rtp_write(&h, payload, (size_t)plen, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq(netstream_receive(&t->ns, buf, (size_t)n,
	                               (uint64_t)llround(arrival)),
	             0);
}

static void run(double ppm)
{
	enum { FRAMES = SECONDS * RATE / BLOCK * BLOCK };
	struct tone t = {.skew = ppm * 1e-6};
	struct netstream_config cfg;
	struct netstream_stats st;
	float *out = calloc((size_t)FRAMES * CH, sizeof(float));
	uint64_t inserted = 0, concealed = 0;
	double worst = 0.0;

	cr_assert(out);
	RTCHECK_ASSERT_LOADED();
	netstream_config_default(&cfg, CODEC_L24);
	cfg.codec.rate = RATE;
	cfg.codec.channels = CH;
	cfg.codec.frame_us = 5000;
	cfg.jitter.frame_ticks = 0; /* netstream derives it */
	/* A fixed target: no slide to time-scale away, only the drift. */
	cfg.jitter.adaptive = false;
	cfg.jitter.fixed_ms = 20;
	cfg.clock = tone_clock;
	cfg.clock_arg = &t;
	cr_assert_eq(netstream_init(&t.ns, &cfg), 0);
	cr_assert(t.ns.resample, "drift compensation resamples");
	RTCHECK_RESET();
	for (size_t f = 0; f < FRAMES; f += BLOCK) {
		double now = (double)tone_clock(&t);
		for (;;) {
			double sent = (double)t.k * PACKET * 1e9 / RATE /
			              (1.0 + t.skew);
			if (sent + 3e6 > now)
				break;
			tone_send(&t, t.k++, sent + 3e6);
		}
		rthook_rt_enter();
		int n = netstream_pull(&t.ns, out + f * CH, BLOCK);
		rthook_rt_leave();
		cr_assert_eq(n, BLOCK);
		t.out_frames += BLOCK;
		netstream_stats(&t.ns, &st);
		if (t.out_frames == (uint64_t)SETTLE * RATE / BLOCK * BLOCK) {
			inserted = st.inserted;
			concealed = st.concealed_frames;
		}
		if (t.out_frames > (uint64_t)SETTLE * RATE)
			worst = fmax(worst, fabs(st.buffer_ms - st.target_ms));
	}
	RTCHECK_ASSERT_ZERO();
	netstream_stats(&t.ns, &st);
	cr_log_info("%+g ppm: drift %.1f ppm, target %.2f ms, |level error| "
	            "<= %.3f ms after %d s",
	            ppm, st.drift_ppm, st.target_ms, worst, SETTLE);
	cr_expect_eq(st.inserted, inserted, "frames inserted after %d s",
	             SETTLE);
	cr_expect_eq(st.concealed_frames, concealed,
	             "frames concealed after %d s", SETTLE);
	cr_expect_lt(worst, 0.1, "the level settles on the target: %.3f ms",
	             worst);
	size_t skip = (size_t)SETTLE * RATE;
	double w = 2.0 * PI * HZ / RATE * (1.0 + t.skew);
	for (unsigned c = 0; c < CH; c++) {
		double snr = sinefit_snr(out + skip * CH + c, CH, FRAMES - skip,
		                         2048, w);
		cr_log_info("%+g ppm, channel %u: SNR %.1f dB", ppm, c, snr);
		cr_expect_geq(snr, SNR_MIN, "%+g ppm, channel %u: SNR %.1f dB",
		              ppm, c, snr);
	}
	netstream_clear(&t.ns);
	free(out);
}

Test(netstream_tone, a_sine_from_a_500_ppm_fast_sender_is_clean)
{
	run(500.0);
}

Test(netstream_tone, a_sine_from_a_500_ppm_slow_sender_is_clean)
{
	run(-500.0);
}
