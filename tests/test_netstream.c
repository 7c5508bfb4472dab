/*
 * test_netstream: the network source end to end on a simulated clock
 *
 * A simulated sender makes RTP packets (L16 with a known sample pattern, or
 * Opus), a simulated network gives each an arrival time (seeded delay,
 * reordering, duplicates, loss, scripted events), and the test plays both
 * the net thread (netstream_receive of everything that has arrived) and the
 * audio callback (netstream_pull of one block). The local clock is the
 * count of frames pulled, so the run is exact and repeatable. Seeds are
 * printed. The simulation is tests/netstream_sim.h; the recording tap's
 * tests are in test_netstream_record.c.
 */
#include "tests/netstream_sim.h"

TestSuite(netstream, .timeout = 120);

Test(netstream, l16_in_order_plays_bit_exact_after_the_target_delay)
{
	struct sim s;
	struct netstream_stats st;

	exact_setup(&s);
	float *out = exact_run(&s);
	cr_assert_eq(exact_mismatches(&s, out, 0, 0), 0);
	cr_assert_eq(netstream_stats(&s.ns, &st), 0);
	cr_assert_eq(st.lost, 0);
	cr_assert_eq(st.concealed_frames, 0);
	cr_assert_eq(st.received, st.frames_in / 240 + jitter_held(&s.ns.jit));
	cr_assert_float_eq(st.target_ms, 30.0, 1e-9);
	cr_assert(fabs(st.buffer_ms - 30.0) < 5.0, "buffer %f", st.buffer_ms);
	free(out);
	sim_clear(&s);
}

Test(netstream, reordered_packet_is_played_in_place)
{
	struct sim s;
	struct netstream_stats st;

	exact_setup(&s);
	s.late_k = 20; /* arrives 7 ms late: after packet 21, still in time */
	s.late_ms = 7;
	float *out = exact_run(&s);
	cr_assert_eq(exact_mismatches(&s, out, 0, 0), 0);
	netstream_stats(&s.ns, &st);
	cr_assert_eq(st.reordered, 1);
	cr_assert_eq(st.lost + st.late + st.concealed_frames, 0);
	free(out);
	sim_clear(&s);
}

Test(netstream, duplicate_packet_is_dropped_and_counted)
{
	struct sim s;
	struct netstream_stats st;

	exact_setup(&s);
	s.dup_k = 30;
	float *out = exact_run(&s);
	cr_assert_eq(exact_mismatches(&s, out, 0, 0), 0);
	netstream_stats(&s.ns, &st);
	cr_assert_eq(st.duplicate, 1);
	cr_assert_eq(st.lost + st.concealed_frames, 0);
	free(out);
	sim_clear(&s);
}

Test(netstream, lost_packet_is_concealed_for_exactly_its_frames)
{
	struct sim s;
	struct netstream_stats st;

	exact_setup(&s);
	s.drop_k = 50;
	float *out = exact_run(&s);
	cr_assert_eq(exact_mismatches(&s, out, 50 * 240, 51 * 240), 0);
	cr_assert_neq(exact_mismatches(&s, out, 0, 0), 0,
	              "the lost packet's audio cannot be there");
	netstream_stats(&s.ns, &st);
	cr_assert_eq(st.lost, 1);
	cr_assert_eq(st.concealed_frames, 240);
	free(out);
	sim_clear(&s);
}

Test(netstream, packet_arriving_after_its_concealment_is_not_played)
{
	struct sim s;
	struct netstream_stats st;

	exact_setup(&s);
	s.late_k = 50;
	s.late_ms = 60; /* due at 283 ms, arrives at 313 ms */
	float *out = exact_run(&s);
	/* Everything else stays in place: nothing was played twice. */
	cr_assert_eq(exact_mismatches(&s, out, 50 * 240, 51 * 240), 0);
	netstream_stats(&s.ns, &st);
	cr_assert_eq(st.lost, 1);
	cr_assert_eq(st.late, 1);
	cr_assert_eq(st.concealed_frames, 240);
	free(out);
	sim_clear(&s);
}

Test(netstream, sender_restart_resynchronises_within_200_ms)
{
	struct sim s;
	struct netstream_stats st;

	exact_setup(&s);
	s.restart_k = 100; /* at 500 ms: new sequence, timestamps, audio */
	float *out = exact_run(&s);
	/* rtpseq drops packet 100 (a jump is believed on its second
	   packet), packet 101 arrives at 508 ms and plays 30 ms later. */
	size_t at = 48 * 538 + 256, bad = 0;
	cr_assert(at - 48 * 500 < 48 * 200);
	for (size_t f = at; f < at + 48 * 400; f++)
		for (unsigned c = 0; c < 2; c++)
			if (out[2 * f + c] * 32768.0f !=
			    (float)sample_at(s.seed ^ 0xabcdef, 240 + f - at,
			                     c))
				bad++;
	cr_assert_eq(bad, 0);
	netstream_stats(&s.ns, &st);
	cr_assert_eq(st.resyncs, 1);
	free(out);
	sim_clear(&s);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

Test(netstream, adapts_to_jitter_with_few_late_losses)
{
	struct sim s;
	struct netstream_stats st, st5;
	uint64_t seed = 0x2545f4914f6cdd1dull;
	float out[256];

	cr_log_info("network seed %#llx", (unsigned long long)seed);
	sim_init(&s, CODEC_L16, 48000, 1, 5000);
	s.rng = seed;
	s.lo_ms = 10.0;
	s.hi_ms = 30.0;
	s.p_reorder = 0.01;
	s.p_dup = 0.01;
	sim_start(&s);
	const uint64_t warm = 5 * 48000, end = 30 * 48000;
	while (s.out_frames < warm)
		sim_step(&s, out);
	netstream_stats(&s.ns, &st5);
	while (s.out_frames < end)
		sim_step(&s, out);
	netstream_stats(&s.ns, &st);

	qsort(s.delays, s.ndelays, sizeof(double), cmp_double);
	double p99 = s.delays[(size_t)(0.99 * (double)s.ndelays)] - s.delays[0];
	uint64_t sent = (end - warm) / 240;
	uint64_t late = st.lost - st5.lost;
	cr_log_info(
	        "after 5 s: %llu of %llu lost late (%.3f %%); target %.2f ms, "
	        "p99 spread %.2f ms, measured %.2f ms, jitter %.2f ms, "
	        "buffer %.2f ms, drift %.1f ppm, reordered %llu, "
	        "duplicates %llu",
	        (unsigned long long)late, (unsigned long long)sent,
	        100.0 * (double)late / (double)sent, st.target_ms, p99,
	        st.spread_ms, st.jitter_ms, st.buffer_ms, st.drift_ppm,
	        (unsigned long long)st.reordered,
	        (unsigned long long)st.duplicate);
	cr_assert((double)late <= 0.005 * (double)sent);
	cr_assert(st.target_ms <= 1.3 * p99 + 5.0, "target %f p99 %f",
	          st.target_ms, p99);
	cr_assert(st.duplicate > 0 && st.reordered > 0);
	cr_assert(fabs(st.drift_ppm) < 50.0, "no skew: drift %f", st.drift_ppm);
	sim_clear(&s);
}

/* Ten minutes of a sender whose clock is off by `ppm`. */
static void skew_run(double ppm)
{
	struct sim s;
	struct netstream_stats st, st1;
	uint64_t seed = 0x8badf00d ^ (uint64_t)(ppm + 1e6);
	float out[480];

	cr_log_info("skew %+.0f ppm, network seed %#llx", ppm,
	            (unsigned long long)seed);
	sim_init(&s, CODEC_L16, 48000, 1, 10000);
	s.block = 480;
	s.rng = seed;
	s.skew = ppm * 1e-6;
	s.lo_ms = 1.0;
	s.hi_ms = 3.0;
	sim_start(&s);
	const uint64_t conv = 60 * 48000, end = 600 * 48000;
	double worst = 0.0;
	while (s.out_frames < conv)
		sim_step(&s, out);
	netstream_stats(&s.ns, &st1);
	while (s.out_frames < end) {
		sim_step(&s, out);
		double d = fabs(s.ns.st.buffer_ms - s.ns.st.target_ms);
		if (d > worst)
			worst = d;
	}
	netstream_stats(&s.ns, &st);
	double din = (double)(st.frames_in - st1.frames_in);
	double dout = (double)(st.frames_out - st1.frames_out);
	double slip = din - dout * (1.0 + s.skew);
	cr_log_info("skew %+.0f ppm: drift estimate %+.1f ppm, worst |buffer - "
	            "target| %.2f ms, target %.2f ms, input - output x ratio "
	            "%.3f frames",
	            ppm, st.drift_ppm, worst, st.target_ms, slip);
	cr_assert(worst <= 10.0, "buffer strayed %f ms from target", worst);
	cr_assert(fabs(st.drift_ppm - ppm) <= 50.0, "drift %f", st.drift_ppm);
	cr_assert_eq(st.lost + st.late + st.concealed_frames + st.inserted, 0);
	cr_assert_eq(st.frames_in % 480, 0);
	cr_assert_eq(st.received, st.frames_in / 480 + jitter_held(&s.ns.jit),
	             "every packet played exactly once");
	cr_assert(fabs(slip) <= 2 * 480.0, "slip %f frames", slip);
	sim_clear(&s);
}

Test(netstream, follows_sender_clock_500_ppm_fast)
{
	skew_run(500.0);
}

Test(netstream, follows_sender_clock_500_ppm_slow)
{
	skew_run(-500.0);
}

static void rt_run(enum codec_kind kind, int frame_us)
{
	struct sim s;
	struct netstream_stats st;
	struct rec r;
	float out[256 * 2];

	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	sim_init(&s, kind, 48000, 2, frame_us);
	s.cfg.codec.fec = true;
	s.cfg.codec.loss_pct = 10;
	s.rng = 0x77;
	s.lo_ms = 0.0;
	s.hi_ms = 20.0;
	s.p_loss = 0.05;
	s.p_dup = 0.02;
	s.p_reorder = 0.02;
	s.restart_k = 1500000u / (unsigned)frame_us; /* at 1.5 s */
	sim_start(&s);
	/* Recorded: the tap, and the dry runs held back, stay real-time
	   safe too. */
	rec_init(&r, 2, 4 * 48000);
	cr_assert_eq(netstream_set_record(&s.ns, &r.tap), 0);
	RTCHECK_RESET();
	s.rt = true;
	while (s.out_frames < 3 * 48000)
		sim_step(&s, out);
	s.rt = false;
	RTCHECK_ASSERT_ZERO();
	netstream_stats(&s.ns, &st);
	cr_log_info("%s: lost %llu, concealed %llu frames, resyncs %llu",
	            codec_kind_name(kind), (unsigned long long)st.lost,
	            (unsigned long long)st.concealed_frames,
	            (unsigned long long)st.resyncs);
	cr_assert(st.lost > 0 && st.concealed_frames > 0);
	/* Opus FEC restores what the next packet carries for the lost one
	   (counted apart, also concealed); PCM has no FEC. */
	cr_log_info("recovered by FEC %llu frames",
	            (unsigned long long)st.recovered);
	cr_assert_leq(st.recovered, st.concealed_frames);
	if (kind == CODEC_OPUS)
		cr_assert_gt(st.recovered, 0);
	else
		cr_assert_eq(st.recovered, 0);
	cr_assert(st.frames_in > 2 * 48000);
	cr_assert_eq(st.recorded, r.used);
	cr_assert_gt(r.used, 2 * 48000);
	sim_clear(&s);
	free(r.buf);
}

Test(netstream, opus_receive_and_pull_are_real_time_safe)
{
	rt_run(CODEC_OPUS, 20000);
}

Test(netstream, l16_receive_and_pull_are_real_time_safe)
{
	rt_run(CODEC_L16, 5000);
}

Test(netstream, latency_request_switches_to_fixed_delay)
{
	struct sim s;
	struct netstream_stats st;
	float out[256];

	sim_init(&s, CODEC_L16, 48000, 1, 5000);
	sim_start(&s);
	for (int i = 0; i < 200; i++)
		sim_step(&s, out);
	netstream_set_latency(&s.ns, 80);
	sim_step(&s, out);
	netstream_stats(&s.ns, &st);
	cr_assert_float_eq(st.target_ms, 80.0, 1e-9);
	sim_clear(&s);
}

Test(netstream, refuses_a_bad_configuration)
{
	struct netstream ns;
	struct netstream_config cfg;

	netstream_config_default(&cfg, CODEC_OPUS);
	cfg.codec.rate = 44100;
	cr_assert_eq(netstream_init(&ns, &cfg), -EINVAL);
	netstream_config_default(&cfg, CODEC_L16);
	cfg.loop_s = 0.0;
	cr_assert_eq(netstream_init(&ns, &cfg), -EINVAL);
}

Test(netstream, grows_the_buffer_quickly_when_jitter_rises)
{
	struct sim s;
	struct netstream_stats st0, st1, st;
	uint64_t seed = 0x51ed2701;
	float out[256];

	cr_log_info("network seed %#llx", (unsigned long long)seed);
	sim_init(&s, CODEC_L16, 48000, 1, 5000);
	s.rng = seed;
	s.lo_ms = 1.0;
	s.hi_ms = 3.0;
	sim_start(&s);
	while (s.out_frames < 20 * 48000)
		sim_step(&s, out);
	netstream_stats(&s.ns, &st0);
	/* The network turns bad: 0..40 ms more delay, from packets sent
	   after 20.2 s on (the ones already made keep their delay). */
	s.lo_ms = 1.0;
	s.hi_ms = 41.0;
	while (s.out_frames < 21 * 48000)
		sim_step(&s, out);
	netstream_stats(&s.ns, &st1);
	while (s.out_frames < 30 * 48000)
		sim_step(&s, out);
	netstream_stats(&s.ns, &st);
	cr_log_info("target %.1f -> %.1f (1 s) -> %.1f ms; lost %llu in the "
	            "first second, %llu after; inserted %llu frames; buffer "
	            "%.1f ms",
	            st0.target_ms, st1.target_ms, st.target_ms,
	            (unsigned long long)(st1.lost - st0.lost),
	            (unsigned long long)(st.lost - st1.lost),
	            (unsigned long long)st.inserted, st.buffer_ms);
	cr_assert(st0.target_ms < 15.0);
	cr_assert(st1.target_ms > 40.0, "the target follows within 1 s");
	cr_assert(st.inserted > 0, "the buffer grew by concealment");
	cr_assert_leq(st.lost - st1.lost, 9, "<= 0.5 %% lost after 1 s");
	cr_assert(fabs(st.buffer_ms - st.target_ms) < 5.0);
	sim_clear(&s);
}

/* A pull that starts a hair (less than a frame) before the first packet is
 * due plays it from its first frame, instead of spinning on a wait that no
 * whole frame of silence can cover and giving up with a silent block. */
static uint64_t hair_now;
static uint64_t hair_clock(void *arg)
{
	(void)arg;
	return hair_now;
}

Test(netstream, first_packet_due_within_a_frame_plays_at_once)
{
	struct netstream_config cfg;
	struct netstream s;
	struct rtp_header h = {.version = 2, .pt = 96, .ssrc = 1};
	uint8_t buf[2000], pl[480];
	float out[256];
	struct packet *p;

	netstream_config_default(&cfg, CODEC_L16);
	cfg.codec.channels = 1;
	cfg.clock = hair_clock;
	cfg.drift = false;
	cr_assert_eq(netstream_init(&s, &cfg), 0);
	memset(pl, 0x40, sizeof pl);
	for (int k = 0; k < 20; k++) {
		h.seq = (uint16_t)(100 + k);
		h.ts = (uint32_t)(1000 + 240 * k);
		int n = rtp_write(&h, pl, sizeof pl, buf, sizeof buf);
		cr_assert_gt(n, 0);
		netstream_receive(&s, buf, (size_t)n,
		                  (uint64_t)k * 5000000u + 1000000000u);
	}
	hair_now = 1000000000u;
	while (ring_try_pop(&s.ring, &p))
		jitter_insert(&s.jit, p);
	jitter_set_period(&s.jit, (int64_t)(256 * 1e9 / 48000));
	int64_t wait = jitter_wait_ns(&s.jit, hair_now);
	cr_assert_gt(wait, 100);
	hair_now += (uint64_t)wait - 100;
	cr_assert_eq(netstream_pull(&s, out, 256), 256);
	int sounding = 0;
	for (int i = 0; i < 256; i++)
		sounding += out[i] != 0.0f;
	cr_assert_eq(sounding, 256, "only %d of 256 frames play", sounding);
	netstream_clear(&s);
}

/* The receiver guesses the sender's packet length (here 20 ms) but the
 * sender sends 10 ms: once a packet has decoded to its real length, a loss
 * is concealed for 10 ms, not 20, so the timeline does not slip by the
 * difference at every loss. */
Test(netstream, loss_is_concealed_for_the_senders_packet_length_not_the_guess)
{
	struct sim s;
	struct netstream_stats st;
	float out[256 * 2];

	sim_init(&s, CODEC_OPUS, 48000, 2, 10000);
	s.cfg.drift = false;
	s.drop_k = 50;
	struct codec_config sent = s.cfg.codec;
	s.cfg.codec.frame_us = 20000;
	cr_assert_eq(netstream_init(&s.ns, &s.cfg), 0);
	cr_assert_eq(codec_encoder_init(&s.enc, &sent), 0);
	while (s.out_frames < 48000)
		sim_step(&s, out);
	netstream_stats(&s.ns, &st);
	cr_assert_eq(st.lost, 1);
	cr_assert_eq(st.concealed_frames, 480, "concealed %llu frames",
	             (unsigned long long)st.concealed_frames);
	sim_clear(&s);
}

/* ---- the record tap: the stream's own timeline ---- */

/* A sender that starts with 50 packets it had queued, back to back: all
   are kept (none late), recorded from the first, and playout sheds the
   quarter second they add by skipping ahead, not by minutes of slewing. */
Test(netstream, burst_at_the_start_is_kept_recorded_and_skipped_through)
{
	struct sim s;
	struct rec r;
	struct netstream_stats st;
	float out[256];

	sim_init(&s, CODEC_L16, 48000, 1, 5000);
	s.burst_k = 50;
	sim_start(&s);
	rec_init(&r, 1, 48000 * 4);
	cr_assert_eq(netstream_set_record(&s.ns, &r.tap), 0);
	while (s.out_frames < 3 * 48000)
		sim_step(&s, out);
	cr_assert_eq(netstream_stats(&s.ns, &st), 0);
	cr_log_info("late %llu lost %llu skips %llu skipped %llu frames, "
	            "buffer %.2f ms target %.2f ms, recorded %zu",
	            (unsigned long long)st.late, (unsigned long long)st.lost,
	            (unsigned long long)st.skips,
	            (unsigned long long)st.skipped_frames, st.buffer_ms,
	            st.target_ms, r.used);
	cr_assert_eq(st.late + st.lost + st.concealed_frames, 0);
	cr_assert_eq(st.skips, 1);
	cr_assert(st.skipped_frames >= 48 * 180, "skipped %llu frames",
	          (unsigned long long)st.skipped_frames);
	cr_assert(fabs(st.buffer_ms - st.target_ms) < 1.0,
	          "buffer %f target %f", st.buffer_ms, st.target_ms);
	cr_assert_eq(rec_mismatches(&r, s.seed, 1, 0, r.used), 0);
	cr_assert(r.used >= 48000 * 3 - 48 * 60, "recorded %zu", r.used);
	free(r.buf);
	sim_clear(&s);
}

/* An Opus sender that stamps its timestamps at 8 kHz (RFC 7587 says 48):
   its clock is found from what the packets decode to, switched to once,
   and the stream plays and records on: no resync, nothing lost. */
Test(netstream, sender_rtp_clock_at_another_rate_is_detected_and_followed)
{
	struct sim s;
	struct rec r;
	struct netstream_stats st;
	float out[256 * 2];

	sim_init(&s, CODEC_OPUS, 48000, 2, 10000);
	s.ts_div = 6;
	sim_start(&s);
	rec_init(&r, 2, 48000 * 16);
	cr_assert_eq(netstream_set_record(&s.ns, &r.tap), 0);
	while (s.out_frames < 15 * 48000)
		sim_step(&s, out);
	cr_assert_eq(netstream_stats(&s.ns, &st), 0);
	cr_log_info("clock switches %llu, resyncs %llu, lost %llu, late %llu, "
	            "concealed %llu, skips %llu, buffer %.2f target %.2f, "
	            "recorded %zu frames",
	            (unsigned long long)st.clock_mismatch,
	            (unsigned long long)st.resyncs, (unsigned long long)st.lost,
	            (unsigned long long)st.late,
	            (unsigned long long)st.concealed_frames,
	            (unsigned long long)st.skips, st.buffer_ms, st.target_ms,
	            r.used);
	cr_assert_eq(st.clock_mismatch, 1);
	cr_assert_eq(st.resyncs + st.lost + st.late, 0);
	cr_assert(fabs(st.buffer_ms - st.target_ms) < 2.0);
	/* Everything sent by 15 s minus the playout delay, whole packets. */
	cr_assert(r.used >= 48000 * 15 - 48 * 80, "recorded %zu", r.used);
	free(r.buf);
	sim_clear(&s);
}

/* 1 ms L16 packets, 64-frame pulls, a clean path (one-way delay 50..250
   us, drawn from seed), in the low-latency mode or the default one; not
   started. */
static void clean_path_init(struct sim *s, bool low, uint64_t seed)
{
	sim_init(s, CODEC_L16, 48000, 2, 1000);
	if (low)
		netstream_config_low_latency(&s->cfg);
	s->block = 64;
	s->rng = seed;
	s->lo_ms = 0.05;
	s->hi_ms = 0.25;
}

/* On the clean path: the target that a mode reaches after 3 s, and the
   packets it loses in the 7 s after that. */
static void clean_path_target(bool low, struct netstream_stats *st,
                              uint64_t *late)
{
	struct sim s;
	struct netstream_stats warm;
	float out[64 * 2];

	clean_path_init(&s, low, 0x9e3779b97f4a7c15ull);
	sim_start(&s);
	while (s.out_frames < 3 * 48000)
		sim_step(&s, out);
	netstream_stats(&s.ns, &warm);
	while (s.out_frames < 10 * 48000)
		sim_step(&s, out);
	netstream_stats(&s.ns, st);
	*late = st->lost - warm.lost;
	sim_clear(&s);
}

/* Low-latency mode on the clean path, and one packet 30 ms late at 4 s (a
   one-off stall of the host). */
Test(netstream, low_latency_mode_lets_a_one_off_stall_go)
{
	struct sim s;
	struct netstream_stats mid, end;
	float out[64 * 2];

	clean_path_init(&s, true, 0x2545f4914f6cdd1dull);
	s.late_k = 4000;
	s.late_ms = 30.0;
	sim_start(&s);
	while (s.out_frames < 5.5 * 48000)
		sim_step(&s, out);
	netstream_stats(&s.ns, &mid);
	while (s.out_frames < 7 * 48000)
		sim_step(&s, out);
	netstream_stats(&s.ns, &end);
	cr_log_info("at 5.5 s: target %.3f ms, buffer %.3f ms; at 7 s: target "
	            "%.3f ms, buffer %.3f ms, %llu skips",
	            mid.target_ms, mid.buffer_ms, end.target_ms, end.buffer_ms,
	            (unsigned long long)end.skips);
	/* The late packet (lost at its time, then late) holds the target
	   above its delay ... */
	cr_assert_eq(mid.lost, 1);
	cr_assert_eq(mid.late, 1);
	cr_assert(mid.target_ms >= 30.0, "at 5.5 s: %f", mid.target_ms);
	/* ... for NETSTREAM_LOW_PEAK_HOLD_S (not 30 s), then the target
	   drops back to the clean path's at once and the buffer's excess is
	   skipped (sliding down at 1.5 ms/s would take 20 s). */
	cr_assert(end.target_ms <= 1.55, "at 7 s: %f", end.target_ms);
	cr_assert(fabs(end.buffer_ms - end.target_ms) < 0.5, "buffer %f",
	          end.buffer_ms);
	cr_assert_geq(end.skips, 1);
	cr_assert_eq(end.lost, 1);
	cr_assert_eq(end.late, 1);
	sim_clear(&s);
}

Test(netstream, low_latency_mode_keeps_the_target_near_one_packet)
{
	struct netstream_stats lo, def;
	uint64_t lo_late, def_late;

	clean_path_target(true, &lo, &lo_late);
	clean_path_target(false, &def, &def_late);
	cr_log_info("low: target %.3f ms, spread %.3f ms, buffer %.3f ms, "
	            "%llu late; default: target %.3f ms, spread %.3f ms",
	            lo.target_ms, lo.spread_ms, lo.buffer_ms,
	            (unsigned long long)lo_late, def.target_ms, def.spread_ms);
	/* The spread's percentile (0.2 ms, in 50 us bins) + 1 ms + 0.25. */
	cr_assert(lo.spread_ms >= 0.15 && lo.spread_ms <= 0.30, "%f",
	          lo.spread_ms);
	cr_assert(lo.target_ms <= 1.55, "target %f", lo.target_ms);
	cr_assert(fabs(lo.buffer_ms - lo.target_ms) < 0.25, "buffer %f",
	          lo.buffer_ms);
	cr_assert_eq(lo_late, 0);
	cr_assert_eq(lo.concealed_frames, 0);
	/* The default's 2 ms margin and 0.5 ms bins: 2 ms more. */
	cr_assert(def.target_ms >= lo.target_ms + 1.5, "default %f low %f",
	          def.target_ms, lo.target_ms);
	cr_assert_eq(def_late, 0);
}
