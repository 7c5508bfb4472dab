/*
 * test_netstream: the network source end to end on a simulated clock
 *
 * A simulated sender makes RTP packets (L16 with a known sample pattern, or
 * Opus), a simulated network gives each an arrival time (seeded delay,
 * reordering, duplicates, loss, scripted events), and the test plays both
 * the net thread (netstream_receive of everything that has arrived) and the
 * audio callback (netstream_pull of one block). The local clock is the
 * count of frames pulled, so the run is exact and repeatable. Seeds are
 * printed. A record tap (struct rec) collects the stream's timeline
 * before resampling, to check it against what the sender sent.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/netstream.h"
#include "codec/codec.h"
#include "codec/pcm.h"
#include "codec/rtp.h"
#include "tests/rtcheck_assert.h"

#define QCAP 512
#define MS   1000000.0 /* ns */

struct simpkt {
	uint64_t k;     /* packet index */
	double arrival; /* ns */
	size_t len;
	uint8_t buf[1600];
};

struct sim {
	struct netstream ns;
	struct netstream_config cfg;
	int rate, ch, frame; /* Hz, channels, frames per packet */
	int out_rate;        /* Hz of the pulls (the local clock) */
	size_t block;        /* frames per pull */
	uint64_t out_frames; /* the local clock */
	/* Sender. */
	uint64_t k;  /* next packet to send */
	double skew; /* sender clock rate - 1 */
	uint64_t seed;
	uint64_t restart_k; /* from this packet on: new seq, ts, content */
	struct codec_encoder enc;
	bool opus;
	/* Network. */
	uint64_t rng;
	double lo_ms, hi_ms; /* uniform one-way delay */
	double p_reorder, p_dup, p_loss;
	int64_t drop_k, late_k, dup_k; /* scripted, -1: none */
	int64_t drop_from, drop_to;    /* packets [from, to) never arrive */
	uint64_t stop_k;               /* the sender stops before this one */
	double late_ms;
	struct simpkt *q;
	size_t nq;
	double *delays; /* per packet sent, ms (for percentile checks) */
	size_t ndelays, cap_delays;
	float *pcm; /* encoder input scratch */
	bool rt;    /* mark receive and pull real-time */
};

static double rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (double)(*s >> 11) / 9007199254740992.0;
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The L16 sample the sender puts at frame f, channel c. */
static int16_t sample_at(uint64_t seed, uint64_t f, unsigned c)
{
	return (int16_t)(mix64(seed ^ (f * 8 + c)) >> 49) - 8192;
}

static uint64_t sim_clock(void *arg)
{
	struct sim *s = arg;

	return s->out_frames * 1000000000ull / (uint64_t)s->out_rate;
}

/* A record tap into memory: what netstream_set_record hands the stream's
 * timeline to. Real-time safe (a copy into preallocated memory). */
struct rec {
	struct tap tap;
	float *buf;
	size_t cap, used; /* frames */
	uint64_t dropped; /* frames beyond cap */
};

static void rec_write(struct tap *t, const float *f, size_t n)
{
	struct rec *r = (struct rec *)t;
	size_t k = n < r->cap - r->used ? n : r->cap - r->used;

	memcpy(r->buf + r->used * t->channels, f,
	       k * t->channels * sizeof(float));
	r->used += k;
	r->dropped += n - k;
}

static const struct tap_ops rec_ops = {.write = rec_write};

static void rec_init(struct rec *r, unsigned ch, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->tap.ops = &rec_ops;
	r->tap.channels = ch;
	r->buf = calloc(cap * ch, sizeof(float));
	r->cap = cap;
	cr_assert(r->buf);
}

/* Recorded frames [from, to) that differ from what the sender sent. */
static size_t rec_mismatches(const struct rec *r, uint64_t seed, unsigned ch,
                             size_t from, size_t to)
{
	size_t bad = 0;

	for (size_t f = from; f < to && f < r->used; f++)
		for (unsigned c = 0; c < ch; c++)
			if (r->buf[f * ch + c] * 32768.0f !=
			    (float)sample_at(seed, f, c)) {
				bad++;
				break;
			}
	return bad;
}

static void sim_init(struct sim *s, enum codec_kind kind, int rate, int ch,
                     int frame_us)
{
	memset(s, 0, sizeof(*s));
	netstream_config_default(&s->cfg, kind);
	s->cfg.codec.rate = rate;
	s->cfg.codec.channels = ch;
	s->cfg.codec.frame_us = frame_us;
	s->cfg.jitter.frame_ticks = 0; /* netstream derives it */
	s->cfg.clock = sim_clock;
	s->cfg.clock_arg = s;
	s->rate = rate;
	s->out_rate = rate;
	s->ch = ch;
	s->frame = (int)((int64_t)rate * frame_us / 1000000);
	s->block = 256;
	s->seed = 0x1234;
	s->restart_k = UINT64_MAX;
	s->drop_k = s->late_k = s->dup_k = -1;
	s->drop_from = s->drop_to = -1;
	s->stop_k = UINT64_MAX;
	s->lo_ms = s->hi_ms = 3.0;
	s->opus = kind == CODEC_OPUS;
	s->q = calloc(QCAP, sizeof(*s->q));
	s->pcm = calloc((size_t)s->frame * (size_t)ch, sizeof(float));
	cr_assert(s->q && s->pcm);
}

/* After changing s->cfg: build the stream (and the encoder). */
static void sim_start(struct sim *s)
{
	int err = netstream_init(&s->ns, &s->cfg);
	cr_assert_eq(err, 0, "netstream_init: %d", err);
	if (s->opus) {
		struct codec_config c = s->cfg.codec;
		cr_assert_eq(codec_encoder_init(&s->enc, &c), 0);
	}
}

static void sim_clear(struct sim *s)
{
	netstream_clear(&s->ns);
	codec_encoder_clear(&s->enc);
	free(s->q);
	free(s->pcm);
	free(s->delays);
}

static double sim_send_ns(const struct sim *s, uint64_t k)
{
	return (double)k * s->frame * 1e9 / s->rate / (1.0 + s->skew);
}

static void sim_queue(struct sim *s, const struct simpkt *p)
{
	cr_assert(s->nq < QCAP, "simulated network queue full");
	s->q[s->nq++] = *p;
}

/* Make packet k and give it to the network. */
static void sim_send(struct sim *s, uint64_t k)
{
	struct simpkt p;
	struct rtp_header h;
	uint8_t payload[1500];
	int plen;
	bool restarted = k >= s->restart_k;
	uint64_t seed = restarted ? s->seed ^ 0xabcdef : s->seed;
	uint64_t f0 = (restarted ? k - s->restart_k : k) * (uint64_t)s->frame;

	if (k >= s->stop_k)
		return;
	for (int i = 0; i < s->frame; i++)
		for (int c = 0; c < s->ch; c++)
			s->pcm[i * s->ch + c] =
			        (float)sample_at(seed, f0 + (uint64_t)i,
			                         (unsigned)c) /
			        32768.0f;
	if (s->opus)
		plen = codec_encode(&s->enc, s->pcm, (size_t)s->frame, payload,
		                    sizeof(payload));
	else
		plen = pcm_encode(16, s->ch, s->pcm, (size_t)s->frame, payload,
		                  sizeof(payload));
	cr_assert(plen > 0);

	memset(&h, 0, sizeof(h));
	h.version = 2;
	h.pt = 96;
	h.ssrc = 0x5eed;
	h.seq = (uint16_t)(restarted ? 31000 + k : 65000 + k);
	h.ts = restarted ? 777777u + (uint32_t)f0 : 1000u + (uint32_t)f0;
	int n = rtp_write(&h, payload, (size_t)plen, p.buf, sizeof(p.buf));
	cr_assert(n > 0);
	p.len = (size_t)n;
	p.k = k;

	double d = s->lo_ms + (s->hi_ms - s->lo_ms) * rnd(&s->rng);
	if (s->ndelays == s->cap_delays) {
		s->cap_delays = s->cap_delays ? 2 * s->cap_delays : 4096;
		s->delays = realloc(s->delays, s->cap_delays * sizeof(double));
		cr_assert(s->delays);
	}
	s->delays[s->ndelays++] = d;
	p.arrival = sim_send_ns(s, k) + d * MS;
	if ((int64_t)k == s->drop_k || rnd(&s->rng) < s->p_loss ||
	    ((int64_t)k >= s->drop_from && (int64_t)k < s->drop_to))
		return;
	if ((int64_t)k == s->late_k)
		p.arrival += s->late_ms * MS;
	if (rnd(&s->rng) < s->p_reorder) {
		/* The packet sent before is held up until just after this
		   one (if it is still on its way and would be earlier). */
		for (size_t i = 0; i < s->nq; i++)
			if (s->q[i].k + 1 == k && s->q[i].arrival < p.arrival)
				s->q[i].arrival = p.arrival + 0.1 * MS;
	}
	sim_queue(s, &p);
	if ((int64_t)k == s->dup_k || rnd(&s->rng) < s->p_dup) {
		p.arrival += 1 * MS;
		sim_queue(s, &p);
	}
}

/* Deliver, in arrival order, everything that has arrived by now. */
static void sim_deliver(struct sim *s, double now)
{
	/* Send ahead: every packet that can have arrived by now is made. */
	while (sim_send_ns(s, s->k) <= now + 200 * MS)
		sim_send(s, s->k++);
	for (;;) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < s->nq; i++)
			if (s->q[i].arrival <= now &&
			    (best == SIZE_MAX ||
			     s->q[i].arrival < s->q[best].arrival))
				best = i;
		if (best == SIZE_MAX)
			return;
		struct simpkt *p = &s->q[best];
		if (s->rt)
			rthook_rt_enter();
		netstream_receive(&s->ns, p->buf, p->len,
		                  (uint64_t)llround(p->arrival));
		if (s->rt)
			rthook_rt_leave();
		s->q[best] = s->q[--s->nq];
	}
}

/* One callback: receive what arrived, pull a block. */
static void sim_step(struct sim *s, float *out)
{
	sim_deliver(s, (double)sim_clock(s));
	if (s->rt)
		rthook_rt_enter();
	int n = netstream_pull(&s->ns, out, s->block);
	if (s->rt)
		rthook_rt_leave();
	cr_assert_eq(n, (int)s->block);
	s->out_frames += s->block;
}

TestSuite(netstream, .timeout = 120);

/* L16 stereo 48 kHz, 5 ms packets, 3 ms network delay, fixed 30 ms. */
static void exact_setup(struct sim *s)
{
	sim_init(s, CODEC_L16, 48000, 2, 5000);
	s->cfg.drift = false;
	s->cfg.jitter.adaptive = false;
	s->cfg.jitter.fixed_ms = 30;
}

#define EXACT_FRAMES (48000 + 256) /* one second, whole blocks */
#define EXACT_LEAD                                                             \
	(48 * 33 + 256) /* 3 ms network + 30 ms target                         \
	                 + one pull period */

/* Run one second and return the output (frames * 2 samples). */
static float *exact_run(struct sim *s)
{
	float *out = calloc((size_t)EXACT_FRAMES * 2, sizeof(float));
	cr_assert(out);
	sim_start(s);
	for (size_t f = 0; f + s->block <= EXACT_FRAMES; f += s->block)
		sim_step(s, out + f * 2);
	return out;
}

/* Frames of output (after the lead) that differ from what was sent. */
static size_t exact_mismatches(const struct sim *s, const float *out,
                               size_t skip_from, size_t skip_to)
{
	size_t bad = 0;

	for (size_t f = 0; f < EXACT_LEAD; f++)
		if (out[2 * f] != 0.0f || out[2 * f + 1] != 0.0f)
			bad++;
	for (size_t f = EXACT_LEAD; f < EXACT_FRAMES - 256; f++) {
		size_t k = f - EXACT_LEAD;
		if (k >= skip_from && k < skip_to)
			continue;
		for (unsigned c = 0; c < 2; c++)
			if (out[2 * f + c] * 32768.0f !=
			    (float)sample_at(s->seed, k, c)) {
				bad++;
				break;
			}
	}
	return bad;
}

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
#if defined(__SANITIZE_ADDRESS__)
	s.cfg.converter = 4; /* SRC_LINEAR: sanitizers slow the sinc down */
#endif
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
	cr_assert(s.cfg.drift && s.ns.resampler, "drift compensation runs");
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
