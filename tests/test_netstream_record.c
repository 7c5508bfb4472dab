/*
 * The netstream's recording tap: each stream's own timeline, at the
 * codec's rate, before the drift resampler — decoded packets and the
 * concealment of real losses, not the frames inserted to grow the buffer,
 * not the concealment after the stream's last packet — and the loss
 * statistics that go with it.
 */
#include "tests/netstream_sim.h"

TestSuite(netstream, .timeout = 120);

Test(netstream, record_tap_gets_the_l16_timeline_bit_exact_with_drift_on)
{
	struct sim s;
	struct netstream_stats st;
	struct rec r;
	uint64_t seed = 0x7ec0;
	float out[256 * 2];
	double ratio_lo = 1.0, ratio_hi = 1.0;

	cr_log_info("network seed %#llx", (unsigned long long)seed);
	sim_init(&s, CODEC_L16, 48000, 2, 5000);
	s.rng = seed;
	s.skew = 300e-6; /* the resampler has work to do */
	s.lo_ms = 2.0;
	s.hi_ms = 6.0;
	s.p_reorder = 0.02;
	s.p_dup = 0.02;
	s.cfg.jitter.adaptive = false;
	s.cfg.jitter.fixed_ms = 30;
	sim_start(&s);
	cr_assert(s.cfg.drift && s.ns.resample, "drift compensation runs");
	rec_init(&r, 2, 6 * 48000);
	cr_assert_eq(netstream_set_record(&s.ns, &r.tap), 0);
	while (s.out_frames < 5 * 48000) {
		sim_step(&s, out);
		ratio_lo = fmin(ratio_lo, s.ns.st.ratio);
		ratio_hi = fmax(ratio_hi, s.ns.st.ratio);
	}
	netstream_stats(&s.ns, &st);
	cr_log_info("recorded %zu frames, ratio %.6f..%.6f, drift %.1f ppm",
	            r.used, ratio_lo, ratio_hi, st.drift_ppm);
	cr_assert(ratio_hi - ratio_lo > 50e-6, "the ratio moved");
	cr_assert_eq(st.lost + st.concealed_frames + st.inserted, 0);
	cr_assert_eq(r.used, st.frames_in, "every decoded frame, once");
	cr_assert_eq(st.recorded, r.used);
	cr_assert_gt(r.used, 4 * 48000);
	cr_assert_eq(rec_mismatches(&r, s.seed, 2, 0, r.used), 0);
	sim_clear(&s);
	free(r.buf);
}

Test(netstream, record_tap_runs_at_the_codec_rate_not_the_output_rate)
{
	struct sim s;
	struct netstream_stats st;
	struct rec r;
	float out[256];

	sim_init(&s, CODEC_L16, 44100, 1, 10000); /* 441-frame packets */
	s.cfg.out_rate = 48000;
	s.out_rate = 48000;
	sim_start(&s);
	rec_init(&r, 1, 3 * 44100);
	cr_assert_eq(netstream_set_record(&s.ns, &r.tap), 0);
	while (s.out_frames < 2 * 48000)
		sim_step(&s, out);
	netstream_stats(&s.ns, &st);
	cr_assert_eq(st.lost + st.concealed_frames, 0);
	cr_assert_eq(r.used, st.frames_in);
	cr_assert_eq(r.used % 441, 0);
	/* Two seconds of output, less the start-up delay, in 44.1 kHz
	   frames. */
	cr_assert(r.used > 44100 && r.used < 2 * 44100, "%zu", r.used);
	cr_assert_eq(rec_mismatches(&r, s.seed, 1, 0, r.used), 0);
	sim_clear(&s);
	free(r.buf);
}

Test(netstream, lost_packet_is_recorded_as_exactly_its_frames_of_concealment)
{
	struct sim s;
	struct netstream_stats st;
	struct rec r;

	exact_setup(&s);
	s.cfg.drift = true;
	s.drop_k = 50;
	rec_init(&r, 2, 2 * 48000);
	sim_start(&s);
	cr_assert_eq(netstream_set_record(&s.ns, &r.tap), 0);
	for (size_t f = 0; f + s.block <= EXACT_FRAMES; f += s.block) {
		float out[256 * 2];
		sim_step(&s, out);
	}
	netstream_stats(&s.ns, &st);
	cr_assert_eq(st.lost, 1);
	cr_assert_eq(st.concealed_frames, 240);
	cr_assert_eq(st.inserted, 0);
	cr_assert_eq(r.used, st.frames_in);
	/* Everything after the hole is where it belongs: the hole is 240
	   frames, not one more or less. */
	cr_assert_eq(rec_mismatches(&r, s.seed, 2, 0, 50 * 240), 0);
	cr_assert_eq(rec_mismatches(&r, s.seed, 2, 51 * 240, r.used), 0);
	cr_assert_gt(rec_mismatches(&r, s.seed, 2, 50 * 240, 51 * 240), 0,
	             "the lost packet's audio cannot be there");
	cr_assert_gt(r.used, 60 * 240);
	sim_clear(&s);
	free(r.buf);
}

Test(netstream, inserted_concealment_is_not_recorded)
{
	struct sim s;
	struct netstream_stats st;
	struct rec r;
	uint64_t seed = 0x51ed2701;
	float out[256];

	cr_log_info("network seed %#llx", (unsigned long long)seed);
	sim_init(&s, CODEC_L16, 48000, 1, 5000);
	s.rng = seed;
	s.lo_ms = 1.0;
	s.hi_ms = 3.0;
	sim_start(&s);
	rec_init(&r, 1, 31 * 48000);
	cr_assert_eq(netstream_set_record(&s.ns, &r.tap), 0);
	while (s.out_frames < 20 * 48000)
		sim_step(&s, out);
	/* Jitter rises: the buffer grows by inserting concealment. */
	s.hi_ms = 41.0;
	while (s.out_frames < 30 * 48000)
		sim_step(&s, out);
	netstream_stats(&s.ns, &st);
	size_t bad = 0;
	for (size_t k = 0; k < r.used / 240; k++)
		bad += rec_mismatches(&r, s.seed, 1, k * 240, k * 240 + 240) >
		       0;
	cr_log_info("inserted %llu frames, lost %llu, recorded %zu, %zu "
	            "packets differ",
	            (unsigned long long)st.inserted,
	            (unsigned long long)st.lost, r.used, bad);
	cr_assert_gt(st.inserted, 0, "the buffer grew by concealment");
	cr_assert_eq(r.used + st.inserted + s.ns.dry_frames, st.frames_in);
	/* Recording an insert would shift every packet after it. */
	cr_assert_leq(bad, st.lost);
	sim_clear(&s);
	free(r.buf);
}

/* One second of exact_setup with drift on, recorded or not. */
static void dry_run(struct sim *s, struct rec *r, struct netstream_stats *mid,
                    struct netstream_stats *end)
{
	float out[256 * 2];

	s->cfg.drift = true;
	sim_start(s);
	if (r)
		cr_assert_eq(netstream_set_record(&s->ns, &r->tap), 0);
	while (s->out_frames < 48 * 650)
		sim_step(s, out);
	netstream_stats(&s->ns, mid);
	while (s->out_frames < EXACT_FRAMES)
		sim_step(s, out);
	netstream_stats(&s->ns, end);
}

Test(netstream, dry_concealment_after_the_last_packet_is_not_recorded_or_lost)
{
	struct sim s, t;
	struct netstream_stats mid, st, tmid, tst;
	struct jitter_stats js;
	struct rec r;

	/* The sender stops after packet 99 (495 ms): it plays until about
	   538 ms, then the buffer is dry and concealed for 200 ms. */
	exact_setup(&s);
	s.stop_k = 100;
	rec_init(&r, 2, 2 * 48000);
	dry_run(&s, &r, &mid, &st);
	jitter_stats(&s.ns.jit, &js);
	cr_log_info(
	        "jitter: lost %llu underruns %llu; stream: lost %llu "
	        "underruns %llu concealed %llu; played %llu, recorded %zu",
	        (unsigned long long)js.lost, (unsigned long long)js.underruns,
	        (unsigned long long)st.lost, (unsigned long long)st.underruns,
	        (unsigned long long)st.concealed_frames,
	        (unsigned long long)st.frames_in, r.used);
	cr_assert_gt(js.underruns, 0, "the buffer did run dry");
	cr_assert_gt(js.lost, 0);
	cr_assert_gt(st.frames_in, 100 * 240, "the dry run was played");
	/* Neither while it runs (at 650 ms) nor after it gave up. */
	cr_assert_eq(mid.lost + mid.concealed_frames + mid.underruns, 0);
	cr_assert_eq(st.lost + st.concealed_frames + st.underruns, 0);
	cr_assert_eq(r.used, 100 * 240);
	cr_assert_eq(st.recorded, r.used);
	cr_assert_eq(rec_mismatches(&r, s.seed, 2, 0, r.used), 0);

	/* Without a record tap the counters say the same. */
	exact_setup(&t);
	t.stop_k = 100;
	dry_run(&t, NULL, &tmid, &tst);
	cr_assert_eq(tmid.lost + tmid.concealed_frames + tmid.underruns, 0);
	cr_assert_eq(tst.lost + tst.concealed_frames + tst.underruns, 0);
	cr_assert_eq(tst.frames_in, st.frames_in);
	sim_clear(&s);
	sim_clear(&t);
	free(r.buf);
}

Test(netstream, burst_loss_followed_by_packets_is_recorded_and_counted)
{
	for (int recorded = 1; recorded >= 0; recorded--) {
		struct sim s;
		struct netstream_stats mid, st;
		struct rec r;

		/* Packets 50..69 (250..350 ms) never arrive: the buffer
		   runs dry, and packet 70 follows within dry_ms. */
		exact_setup(&s);
		s.drop_from = 50;
		s.drop_to = 70;
		rec_init(&r, 2, 2 * 48000);
		dry_run(&s, recorded ? &r : NULL, &mid, &st);
		cr_log_info("recorded %d: lost %llu underruns %llu concealed "
		            "%llu",
		            recorded, (unsigned long long)st.lost,
		            (unsigned long long)st.underruns,
		            (unsigned long long)st.concealed_frames);
		cr_assert_eq(st.lost, 20);
		cr_assert_eq(st.concealed_frames, 20 * 240);
		cr_assert_eq(st.underruns, 1);
		if (recorded) {
			cr_assert_eq(r.used, st.frames_in);
			cr_assert_eq(rec_mismatches(&r, s.seed, 2, 0, 50 * 240),
			             0);
			cr_assert_eq(
			        rec_mismatches(&r, s.seed, 2, 70 * 240, r.used),
			        0);
			cr_assert_gt(r.used, 100 * 240);
		}
		sim_clear(&s);
		free(r.buf);
	}
}

Test(netstream, record_tap_must_take_the_streams_channels)
{
	struct sim s;
	struct rec r;

	sim_init(&s, CODEC_L16, 48000, 2, 5000);
	sim_start(&s);
	rec_init(&r, 1, 16);
	cr_assert_eq(netstream_set_record(&s.ns, &r.tap), -EINVAL);
	r.tap.channels = 2;
	cr_assert_eq(netstream_set_record(&s.ns, &r.tap), 0);
	cr_assert_eq(netstream_set_record(&s.ns, NULL), 0);
	sim_clear(&s);
	free(r.buf);
}

/* Every setting plays the whole input: fixed and adaptive delays (up to
   2 s) x packet times from AES67's shortest (6 frames) to 20 ms x paced
   arrivals or a burst of 50 queued packets at the start. The recording
   holds every frame sent, bit-exact, and nothing is lost or late. */
Test(netstream, every_delay_and_packet_time_records_the_whole_input)
{
	static const int frame_us[] = {125, 1000, 2500, 5000, 20000};
	static const struct {
		bool adaptive;
		unsigned ms, max_ms;
	} lat[] = {{true, 0, 0},
	           {true, 0, 2000},
	           {false, 20, 0},
	           {false, 1500, 0}};

	for (size_t f = 0; f < sizeof(frame_us) / sizeof(frame_us[0]); f++)
		for (size_t l = 0; l < sizeof(lat) / sizeof(lat[0]); l++)
			for (int burst = 0; burst < 2; burst++) {
				struct sim s;
				struct rec r;
				struct netstream_stats st;
				float out[256];
				unsigned hold =
				        lat[l].adaptive ? 40 : lat[l].ms;

				sim_init(&s, CODEC_L16, 48000, 1, frame_us[f]);
				s.cfg.jitter.adaptive = lat[l].adaptive;
				s.cfg.jitter.fixed_ms = lat[l].ms;
				if (lat[l].max_ms)
					s.cfg.jitter.max_ms = lat[l].max_ms;
				s.burst_k = burst ? 50 : 0;
				sim_start(&s);
				rec_init(&r, 1, 48000 * 5);
				cr_assert_eq(
				        netstream_set_record(&s.ns, &r.tap), 0);
				uint64_t end = (uint64_t)48000 * 3 +
				               48 * (uint64_t)hold;
				while (s.out_frames < end)
					sim_step(&s, out);
				cr_assert_eq(netstream_stats(&s.ns, &st), 0);
				size_t bad = rec_mismatches(&r, s.seed, 1, 0,
				                            r.used);
				cr_log_info("%d us, %s %u ms%s: recorded %zu, "
				            "differ %zu, lost %llu late %llu "
				            "resyncs %llu skips %llu",
				            frame_us[f],
				            lat[l].adaptive ? "auto" : "fixed",
				            lat[l].adaptive ? lat[l].max_ms
				                            : lat[l].ms,
				            burst ? ", burst" : "", r.used, bad,
				            (unsigned long long)st.lost,
				            (unsigned long long)st.late,
				            (unsigned long long)st.resyncs,
				            (unsigned long long)st.skips);
				cr_expect_eq(bad, 0);
				cr_expect_eq(st.lost + st.late + st.resyncs, 0);
				/* Everything sent by the end less the delay
				   (and less the burst's span, which plays
				   out late but whole), within two packets and
				   two pulls. */
				size_t span = burst ? 50 * (size_t)s.frame : 0;
				size_t want = (size_t)48000 * 3 - span -
				              2 * (size_t)s.frame - 2 * s.block;
				cr_expect_geq(r.used, want,
				              "recorded %zu of %zu", r.used,
				              want);
				free(r.buf);
				sim_clear(&s);
			}
}
