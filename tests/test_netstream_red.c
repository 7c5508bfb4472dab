/*
 * RFC 2198 redundant audio through the network source: the net thread
 * splits RED datagrams, restores the packets that were lost from the
 * copies later ones carry (and only those: a copy of a packet that came
 * costs no record), and the stream's recording is what was sent, bit for
 * bit, as if nothing had been lost. Simulated network and clock
 * (tests/netstream_sim.h).
 */
#include "tests/netstream_sim.h"

TestSuite(netstream_red, .timeout = 120);

/* L16 5 ms stereo (960-byte blocks), fixed 30 ms, recorded. */
static void red_setup(struct sim *s, struct rec *r, unsigned distance)
{
	sim_init(s, CODEC_L16, 48000, 2, 5000);
	s->cfg.jitter.adaptive = false;
	s->cfg.jitter.fixed_ms = 30;
	sim_use_red(s, distance);
	sim_start(s);
	rec_init(r, 2, 4 * 48000);
	cr_assert_eq(netstream_set_record(&s->ns, &r->tap), 0);
}

static void red_report(const char *what, const struct sim *s,
                       const struct netstream_stats *st)
{
	cr_log_info("%s: dropped %llu, recovered %llu, lost %llu, "
	            "received %llu, duplicate %llu, concealed %llu frames",
	            what, (unsigned long long)s->dropped,
	            (unsigned long long)st->recovered_packets,
	            (unsigned long long)st->lost,
	            (unsigned long long)st->received,
	            (unsigned long long)st->duplicate,
	            (unsigned long long)st->concealed_frames);
}

Test(netstream_red, every_other_packet_dropped_plays_bit_exact_from_copies)
{
	struct sim s;
	struct rec r;
	struct netstream_stats st;
	float out[256 * 2];

	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	red_setup(&s, &r, 1);
	s.drop_every = 2;
	s.drop_run = 1;
	RTCHECK_RESET();
	s.rt = true;
	while (s.out_frames < 3 * 48000)
		sim_step(&s, out);
	s.rt = false;
	RTCHECK_ASSERT_ZERO();
	netstream_stats(&s.ns, &st);
	red_report("every other packet", &s, &st);
	cr_assert_gt(s.dropped, 200);
	cr_assert_eq(st.lost, 0);
	cr_assert_eq(st.concealed_frames, 0);
	cr_assert_eq(st.late, 0);
	/* Every other packet played came from a copy. */
	uint64_t played = st.frames_in / 240;
	cr_assert(st.recovered_packets >= played / 2 - 1 &&
	          st.recovered_packets <= played / 2 + 1);
	cr_assert_eq(r.used, st.frames_in);
	cr_assert_gt(r.used, 2 * 48000);
	cr_assert_eq(rec_mismatches(&r, s.seed, 2, 0, r.used), 0);
	sim_clear(&s);
	free(r.buf);
}

Test(netstream_red, runs_of_losses_within_the_distance_are_all_restored)
{
	struct sim s;
	struct rec r;
	struct netstream_stats st;
	float out[256 * 2];

	red_setup(&s, &r, 3);
	s.drop_every = 7; /* three in a row of every seven */
	s.drop_run = 3;
	s.lo_ms = 1.0;
	s.hi_ms = 4.0;
	s.rng = 0xbeef;
	s.p_reorder = 0.05;
	s.p_dup = 0.05;
	while (s.out_frames < 3 * 48000)
		sim_step(&s, out);
	netstream_stats(&s.ns, &st);
	red_report("runs of three, distance 3", &s, &st);
	cr_assert_gt(s.dropped, 100);
	cr_assert_eq(st.lost, 0);
	cr_assert_eq(st.concealed_frames, 0);
	cr_assert_gt(st.recovered_packets, 100);
	cr_assert_eq(rec_mismatches(&r, s.seed, 2, 0, r.used), 0);
	sim_clear(&s);
	free(r.buf);
}

Test(netstream_red, runs_longer_than_the_distance_are_concealed_in_part)
{
	struct sim s;
	struct rec r;
	struct netstream_stats st;
	float out[256 * 2];

	red_setup(&s, &r, 1);
	s.drop_every = 10;
	s.drop_run = 3; /* the copy restores the last of each run */
	while (s.out_frames < 3 * 48000)
		sim_step(&s, out);
	netstream_stats(&s.ns, &st);
	red_report("runs of three, distance 1", &s, &st);
	cr_assert_gt(st.recovered_packets, 20);
	/* Two of each run lost, the third restored (a run at the end may
	   be cut by the end of the playout). */
	cr_assert(st.lost + 2 >= 2 * st.recovered_packets &&
	                  st.lost <= 2 * st.recovered_packets + 2,
	          "lost %llu", (unsigned long long)st.lost);
	cr_assert_eq(st.concealed_frames, st.lost * 240);
	sim_clear(&s);
	free(r.buf);
}

/* Opus's decoder has state: a restored packet decoded in its place makes
   the same output as the packet itself, so the recording equals that of
   a run without losses. */
Test(netstream_red, opus_restored_packets_decode_as_the_originals)
{
	struct rec r[2];
	struct netstream_stats st[2];
	float out[256 * 2];

	for (int pass = 0; pass < 2; pass++) {
		struct sim s;
		sim_init(&s, CODEC_OPUS, 48000, 2, 10000);
		s.cfg.jitter.adaptive = false;
		s.cfg.jitter.fixed_ms = 40;
		sim_use_red(&s, 2);
		if (pass == 1) {
			s.drop_every = 5;
			s.drop_run = 2;
		}
		sim_start(&s);
		rec_init(&r[pass], 2, 3 * 48000);
		cr_assert_eq(netstream_set_record(&s.ns, &r[pass].tap), 0);
		while (s.out_frames < 2 * 48000)
			sim_step(&s, out);
		netstream_stats(&s.ns, &st[pass]);
		red_report(pass ? "opus, runs of two" : "opus, no loss", &s,
		           &st[pass]);
		sim_clear(&s);
	}
	cr_assert_eq(st[0].recovered_packets, 0);
	cr_assert_gt(st[1].recovered_packets, 50);
	cr_assert_eq(st[1].lost, 0);
	cr_assert_eq(st[1].concealed_frames, 0);
	size_t n = r[0].used < r[1].used ? r[0].used : r[1].used;
	cr_assert_gt(n, 48000);
	cr_assert_arr_eq(r[0].buf, r[1].buf, n * 2 * sizeof(float));
	free(r[0].buf);
	free(r[1].buf);
}

/* ---- the net thread's split, datagram by datagram ---- */

struct red_rx {
	struct netstream ns;
	uint8_t pl[RED_MAX_DISTANCE + 1][960];
};

static void rx_setup(struct red_rx *x)
{
	struct netstream_config cfg;

	netstream_config_default(&cfg, CODEC_L16);
	cfg.codec.frame_us = 5000;
	cfg.red = true;
	cfg.red_pt = 100;
	cfg.pt = 96;
	cr_assert_eq(netstream_init(&x->ns, &cfg), 0);
	for (int i = 0; i <= RED_MAX_DISTANCE; i++)
		memset(x->pl[i], i + 1, sizeof(x->pl[i]));
}

/* RED datagram seq (timestamp 240 per packet) of these copies. */
static int rx_send_blocks(struct red_rx *x, uint16_t seq,
                          const struct red_block *b, int nred)
{
	struct red_block pr = {.pt = 96, .data = x->pl[0], .len = 960};
	uint8_t payload[4096], buf[4200];
	struct rtp_header h = {.version = 2,
	                       .pt = 100,
	                       .seq = seq,
	                       .ts = 240u * seq,
	                       .ssrc = 7};

	int n = red_write(b, (size_t)nred, &pr, payload, sizeof(payload));
	cr_assert_gt(n, 0);
	n = rtp_write(&h, payload, (size_t)n, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	return netstream_receive(&x->ns, buf, (size_t)n, 1000000ull * seq);
}

/* Packet seq carrying copies of the nred before it; offsets: the copies'
   offsets in ticks (NULL: the usual). */
static int rx_send(struct red_rx *x, uint16_t seq, int nred,
                   const uint16_t *offsets, uint8_t block_pt)
{
	struct red_block b[RED_MAX_DISTANCE];

	for (int i = 0; i < nred; i++)
		b[i] = (struct red_block){
		        .pt = block_pt,
		        .ts_offset = offsets ? offsets[i]
		                             : (uint16_t)(240 * (nred - i)),
		        .data = x->pl[i + 1],
		        .len = 960};
	return rx_send_blocks(x, seq, b, nred);
}

/* Take what the ring holds: the sequence numbers, recovered ones negative. */
static int rx_take(struct red_rx *x, int64_t *seqs, int cap)
{
	struct packet *p;
	int n = 0;

	while (ring_try_pop(&x->ns.ring, &p)) {
		cr_assert_lt(n, cap);
		cr_assert_eq(p->payload_off, 0);
		bool rec = (p->flags & PACKET_RECOVERED) != 0;
		seqs[n++] = rec ? -(int64_t)p->seq : (int64_t)p->seq;
		cr_assert_eq(p->rtp_ts, 240u * p->seq);
		cr_assert_eq(p->pt, 96);
		netstream_packet_return(&x->ns, p);
	}
	return n;
}

Test(netstream_red, copies_of_packets_that_came_cost_no_record)
{
	struct red_rx x;
	int64_t got[16];

	rx_setup(&x);
	/* 10, 11, 12 in sequence with two copies each: one record each. */
	cr_assert_eq(rx_send(&x, 10, 0, NULL, 96), 0);
	cr_assert_eq(rx_send(&x, 11, 1, NULL, 96), 0);
	cr_assert_eq(rx_send(&x, 12, 2, NULL, 96), 0);
	cr_assert_eq(rx_take(&x, got, 16), 3);
	cr_assert(got[0] == 10 && got[1] == 11 && got[2] == 12);
	/* 13 and 14 lost: 15's copies restore both, primary first. */
	cr_assert_eq(rx_send(&x, 15, 2, NULL, 96), 0);
	cr_assert_eq(rx_take(&x, got, 16), 3);
	cr_assert(got[0] == 15 && got[1] == -13 && got[2] == -14);
	/* 14 turns up after all: a copy, dropped on the net thread. */
	cr_assert_eq(rx_send(&x, 14, 2, NULL, 96), -EALREADY);
	cr_assert_eq(rx_take(&x, got, 16), 0);
	/* A copy of 15 in 16 costs nothing. */
	cr_assert_eq(rx_send(&x, 16, 3, NULL, 96), 0);
	cr_assert_eq(rx_take(&x, got, 16), 1);
	cr_assert_eq(atomic_load(&x.ns.rx_invalid), 0);
	netstream_clear(&x.ns);
}

Test(netstream_red, blocks_that_cannot_be_placed_are_not_used)
{
	struct red_rx x;
	int64_t got[16];

	rx_setup(&x);
	cr_assert_eq(rx_send(&x, 100, 0, NULL, 96), 0);
	cr_assert_eq(rx_send(&x, 101, 0, NULL, 96), 0);
	cr_assert_eq(rx_take(&x, got, 16), 2);
	/* 102 lost; 103's copy: not a whole number of packets back, of
	   another payload type, or older than the first packet seen. */
	const uint16_t odd[1] = {300};
	cr_assert_eq(rx_send(&x, 103, 1, odd, 96), 0);
	cr_assert_eq(rx_send(&x, 104, 1, NULL, 0), 0);
	const uint16_t before[1] = {240 * 6}; /* packet 99 */
	cr_assert_eq(rx_send(&x, 105, 1, before, 96), 0);
	cr_assert_eq(rx_take(&x, got, 16), 3);
	cr_assert(got[0] == 103 && got[1] == 104 && got[2] == 105);
	/* A PCM block that is not one packet long. */
	struct red_block b = {
	        .pt = 96, .ts_offset = 480, .data = x.pl[1], .len = 480};
	cr_assert_eq(rx_send_blocks(&x, 108, &b, 1), 0);
	cr_assert_eq(rx_take(&x, got, 16), 1);
	cr_assert_eq(got[0], 108);
	netstream_clear(&x.ns);
}

Test(netstream_red, malformed_red_datagrams_are_invalid)
{
	struct red_rx x;
	int64_t got[4];
	uint8_t buf[64];
	struct rtp_header h = {.version = 2, .pt = 100, .seq = 1, .ssrc = 7};

	rx_setup(&x);
	/* A header that promises a 200-byte block in a short datagram. */
	const uint8_t bad[8] = {0xe0, 0x03, 0xc0, 0xc8, 96, 1, 2, 3};
	int n = rtp_write(&h, bad, sizeof(bad), buf, sizeof(buf));
	cr_assert_eq(netstream_receive(&x.ns, buf, (size_t)n, 0), -EBADMSG);
	/* A primary of another payload type. */
	const uint8_t other[3] = {97, 1, 2};
	n = rtp_write(&h, other, sizeof(other), buf, sizeof(buf));
	cr_assert_eq(netstream_receive(&x.ns, buf, (size_t)n, 0), -EBADMSG);
	cr_assert_eq(atomic_load(&x.ns.rx_invalid), 2);
	cr_assert_eq(rx_take(&x, got, 4), 0);
	/* Plain packets of the primary type are taken as they are. */
	h.pt = 96;
	n = rtp_write(&h, x.pl[0], 8, buf, sizeof(buf));
	cr_assert_eq(netstream_receive(&x.ns, buf, (size_t)n, 0), 0);
	struct packet *p;
	cr_assert(ring_try_pop(&x.ns.ring, &p));
	cr_assert_eq(p->payload_len, 8);
	netstream_packet_return(&x.ns, p);
	netstream_clear(&x.ns);
}
