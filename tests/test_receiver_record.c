/*
 * test_receiver_record: a stream's recording as cmd_recv sets it up (a
 * netstream with a record tap, drift compensation on; single-threaded,
 * simulated clock): a loss-free L16 stream records bit-exact, without the
 * silence before it or the concealment after it, and a hole inside it is
 * recorded as concealment.
 */
#include "bridge/audio/memtap.h"
#include "tests/receiver_fixture.h"

TestSuite(receiver_record, .timeout = 30);

static uint64_t sim_ns;
static uint64_t sim_clock(void *arg)
{
	(void)arg;
	return sim_ns;
}

#define GATE_FRAMES  240 /* 5 ms L16 stereo packets */
#define GATE_PACKETS 60
#define GATE_PULL    128

Test(receiver_record, records_a_lossless_l16_stream_bit_exact)
{
	struct netstream_config cfg;
	struct netstream ns;
	struct memtap mt;
	size_t cap = GATE_PACKETS * GATE_FRAMES * 4;
	float *got = calloc(cap * 2, sizeof(float));
	int16_t *src = calloc(GATE_PACKETS * GATE_FRAMES * 2, sizeof(int16_t));
	float out[GATE_PULL * 2];
	uint8_t buf[2000], pay[GATE_FRAMES * 4];

	cr_assert(got && src);
	for (size_t i = 0; i < GATE_PACKETS * GATE_FRAMES * 2; i++)
		src[i] = (int16_t)(rnd() & 0xffff);
	memtap_init(&mt, got, cap, 2);
	netstream_config_default(&cfg, CODEC_L16);
	cfg.jitter.adaptive = false;
	cfg.jitter.fixed_ms = 20;
	cfg.clock = sim_clock;
	sim_ns = 1000000000ull;
	cr_assert(cfg.drift, "drift compensation on, as in cmd_recv");
	cr_assert_eq(netstream_init(&ns, &cfg), 0);
	cr_assert_eq(netstream_set_record(&ns, &mt.tap), 0);

	/* Start pulling before anything arrives: pure silence, nothing
	   recorded. Then one packet every 5 ms, pulls every 128 frames. */
	uint64_t start = sim_ns + 3000000;
	uint64_t pull_ns = (uint64_t)GATE_PULL * 1000000000ull / 48000;
	int sent = 0;
	uint64_t next_pull = sim_ns;
	uint64_t end = start + (GATE_PACKETS + 200) * 5000000ull;
	while (sim_ns < end) {
		uint64_t due = start + (uint64_t)sent * 5000000ull;
		if (sent < GATE_PACKETS && due <= next_pull) {
			sim_ns = due;
			const int16_t *s = src + (size_t)sent * GATE_FRAMES * 2;
			for (int k = 0; k < GATE_FRAMES * 2; k++) {
				pay[2 * k] = (uint8_t)((uint16_t)s[k] >> 8);
				pay[2 * k + 1] = (uint8_t)(s[k] & 0xff);
			}
			size_t n = rtp_packet(buf, sizeof(buf), 96, 77,
			                      (uint16_t)(1000 + sent),
			                      (uint32_t)(sent * GATE_FRAMES),
			                      pay, sizeof(pay));
			netstream_receive(&ns, buf, n, sim_ns);
			sent++;
			continue;
		}
		sim_ns = next_pull;
		ns.src.ops->pull(&ns.src, out, GATE_PULL);
		next_pull += pull_ns;
	}
	cr_expect_eq(mt.used, (size_t)GATE_PACKETS * GATE_FRAMES,
	             "recorded %zu frames, sent %d", mt.used,
	             GATE_PACKETS * GATE_FRAMES);
	size_t bad = 0;
	for (size_t i = 0;
	     i < mt.used * 2 && i < GATE_PACKETS * GATE_FRAMES * 2; i++)
		bad += got[i] != (float)src[i] * (1.0f / 32768.0f);
	cr_expect_eq(bad, 0, "%zu samples differ", bad);
	/* The end of the stream ran the buffer dry: not the stream's. */
	struct netstream_stats st;
	struct jitter_stats js;
	cr_assert_eq(netstream_stats(&ns, &st), 0);
	cr_expect_eq(st.concealed_frames, 0);
	cr_expect_eq(st.underruns, 0);
	cr_expect_eq(st.lost, 0);
	cr_expect_eq(st.recorded, mt.used);
	jitter_stats(&ns.jit, &js);
	cr_expect_gt(js.underruns, 0, "the buffer did run dry");
	netstream_clear(&ns);
	free(got);
	free(src);
}

Test(receiver_record, recording_keeps_concealment_when_the_stream_resumes)
{
	struct netstream_config cfg;
	struct netstream ns;
	struct memtap mt;
	size_t cap = 48000 * 4;
	float *got = calloc(cap * 2, sizeof(float));
	float out[GATE_PULL * 2];
	uint8_t buf[2000], pay[GATE_FRAMES * 4];

	memset(pay, 0x11, sizeof(pay));
	memtap_init(&mt, got, cap, 2);
	netstream_config_default(&cfg, CODEC_L16);
	cfg.jitter.adaptive = false;
	cfg.jitter.fixed_ms = 20;
	cfg.clock = sim_clock;
	sim_ns = 1000000000ull;
	cr_assert_eq(netstream_init(&ns, &cfg), 0);
	cr_assert_eq(netstream_set_record(&ns, &mt.tap), 0);
	uint64_t pull_ns = (uint64_t)GATE_PULL * 1000000000ull / 48000;
	uint64_t next_pull = sim_ns;
	/* 40 packets of which 20..29 never arrive: the buffer runs dry,
	   concealment fills the hole, the stream comes back, and the
	   recording keeps the stream's whole timeline, hole included. */
	int sent = 0;
	uint64_t start = sim_ns + 1000000;
	while (sent < 40 || sim_ns < start + 500000000ull) {
		uint64_t due = start + (uint64_t)sent * 5000000ull;
		if (sent < 40 && due <= next_pull) {
			sim_ns = due;
			size_t n = rtp_packet(buf, sizeof(buf), 96, 78,
			                      (uint16_t)sent,
			                      (uint32_t)(sent * GATE_FRAMES),
			                      pay, sizeof(pay));
			if (sent < 20 || sent >= 30)
				netstream_receive(&ns, buf, n, sim_ns);
			sent++;
			continue;
		}
		sim_ns = next_pull;
		ns.src.ops->pull(&ns.src, out, GATE_PULL);
		next_pull += pull_ns;
	}
	struct netstream_stats st = ns.st;
	cr_log_info("recv %llu lost %llu late %llu conc %llu under %llu resync "
	            "%llu in %llu recorded %llu",
	            (unsigned long long)st.received,
	            (unsigned long long)st.lost, (unsigned long long)st.late,
	            (unsigned long long)st.concealed_frames,
	            (unsigned long long)st.underruns,
	            (unsigned long long)st.resyncs,
	            (unsigned long long)st.frames_in,
	            (unsigned long long)st.recorded);
	/* The hole ran the buffer dry once; the end of the stream did
	   too, but that is not the stream's. */
	cr_expect_eq(st.underruns, 1);
	cr_expect_eq(st.lost, 10);
	/* Everything played from the first packet to the last was
	   recorded, the concealed hole included, and nothing after. */
	cr_expect_eq(mt.used, (size_t)40 * GATE_FRAMES, "recorded %zu",
	             mt.used);
	cr_expect_eq(st.concealed_frames, (uint64_t)10 * GATE_FRAMES);
	netstream_clear(&ns);
	free(got);
}
