/*
 * A simulated network and clock for the netstream tests
 *
 * A seeded sender makes RTP packets (L16 with a known sample pattern, or
 * Opus) on its own clock (skew in ppm), a scripted network delays, drops,
 * reorders and duplicates them, and the test pulls blocks on a simulated
 * audio clock: everything is deterministic. Also a recording tap that
 * keeps what it is given, and the fixed-delay L16 set-up whose output is
 * compared sample for sample.
 *
 * The real arrival process (sim_use_relay, sim_use_host): the same path a
 * datagram takes from `rtbridge send` through tools/relay to `rtbridge
 * recv`, with the relay's own impairment model (tools/relay/impair.h:
 * delay, jitter, skew, loss, reordering, duplicates, the same draws for
 * the same seed) and a model of the machine the three run on: the
 * sender's pacing timer wakes a little late, the receiver's net thread
 * stamps each datagram when it gets to read it, and the audio thread
 * wakes a little after each period's deadline; now and then the machine
 * is busy (a stall) and the net and audio threads both wait until it
 * ends: the net thread then reads the backlog in one batch (every datagram
 * stamped at once) and the audio thread runs the periods it owes back to
 * back, as the virtual clock does.
 */
#ifndef RTB_TESTS_NETSTREAM_SIM_H
#define RTB_TESTS_NETSTREAM_SIM_H

#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/netstream.h"
#include "codec/codec.h"
#include "codec/pcm.h"
#include "codec/red.h"
#include "codec/redenc.h"
#include "codec/rtp.h"
#include "tests/rtcheck_assert.h"
#include "tools/relay/impair.h"

#define QCAP 2048
#define MS   1000000.0 /* ns */

struct simpkt {
	uint64_t k;     /* packet index */
	double arrival; /* ns */
	size_t len;
	uint8_t buf[4096];
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
	uint64_t burst_k; /* packets before this one come with it, at once */
	unsigned ts_div;  /* RTP clock = the codec's / ts_div (0: 1) */
	/* Packets k >= drop_every with k % drop_every >= drop_every -
	   drop_run never arrive (0: none): runs of drop_run losses. */
	unsigned drop_every, drop_run;
	uint64_t dropped; /* packets the network dropped */
	/* RFC 2198 (sim_use_red): each packet also carries the payloads of
	   the red packets before it, as payload type red_pt, wrapped by
	   the sender's own redenc. */
	unsigned red;
	struct redenc red_enc;
	/* Media clock (sim_use_media_clock): the media clock reads the local
	   clock + media_off, and the sender stamps RTP time from it. */
	bool media;
	uint64_t media_off; /* media clock - local clock, ns */
	double late_start;  /* the local clock started this long after the
	                       sender's (ns): its schedule is earlier here */
	double late_ms;
	struct simpkt *q;
	size_t nq;
	double *delays; /* per packet sent, ms (for percentile checks) */
	size_t ndelays, cap_delays;
	float *pcm; /* encoder input scratch */
	bool rt;    /* mark receive and pull real-time */
	/* The relay's model instead of lo..hi (sim_use_relay). */
	bool relay;
	struct impair imp;
	/* The machine (sim_use_host): mean latencies (ns, exponential) and
	   stalls that hold the receiver's threads. */
	bool host;
	uint64_t host_rng;
	double pace_ns, stamp_ns, wake_ns;
	double stall_every_ns, stall_min_ns, stall_max_ns;
	double stall_start, stall_end; /* the current or next stall */
	double now_ns;                 /* the pull in progress */
};

static inline double rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (double)(*s >> 11) / 9007199254740992.0;
}

static inline uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The L16 sample the sender puts at frame f, channel c. */
static inline int16_t sample_at(uint64_t seed, uint64_t f, unsigned c)
{
	return (int16_t)(mix64(seed ^ (f * 8 + c)) >> 49) - 8192;
}

/* The deadline of the pull that starts at frame f of the local clock. */
static inline double sim_deadline(const struct sim *s, uint64_t f)
{
	return (double)f * 1e9 / s->out_rate;
}

static inline uint64_t sim_clock(void *arg)
{
	struct sim *s = arg;

	if (s->host)
		return (uint64_t)llround(s->now_ns);
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

static inline void rec_write(struct tap *t, const float *f, size_t n)
{
	struct rec *r = (struct rec *)t;
	size_t k = n < r->cap - r->used ? n : r->cap - r->used;

	memcpy(r->buf + r->used * t->channels, f,
	       k * t->channels * sizeof(float));
	r->used += k;
	r->dropped += n - k;
}

static const struct tap_ops rec_ops = {.write = rec_write};

static inline void rec_init(struct rec *r, unsigned ch, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->tap.ops = &rec_ops;
	r->tap.channels = ch;
	r->buf = calloc(cap * ch, sizeof(float));
	r->cap = cap;
	cr_assert(r->buf);
}

/* Recorded frames [from, to) that differ from what the sender sent. */
static inline size_t rec_mismatches(const struct rec *r, uint64_t seed,
                                    unsigned ch, size_t from, size_t to)
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

static inline void sim_init(struct sim *s, enum codec_kind kind, int rate,
                            int ch, int frame_us)
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
static inline void sim_start(struct sim *s)
{
	int err = netstream_init(&s->ns, &s->cfg);
	cr_assert_eq(err, 0, "netstream_init: %d", err);
	if (s->opus) {
		struct codec_config c = s->cfg.codec;
		cr_assert_eq(codec_encoder_init(&s->enc, &c), 0);
	}
}

static inline void sim_clear(struct sim *s)
{
	netstream_clear(&s->ns);
	codec_encoder_clear(&s->enc);
	free(s->q);
	free(s->pcm);
	free(s->delays);
	redenc_clear(&s->red_enc);
}

static inline double sim_send_ns(const struct sim *s, uint64_t k)
{
	return (double)k * s->frame * 1e9 / s->rate / (1.0 + s->skew) -
	       s->late_start;
}

static inline void sim_queue(struct sim *s, const struct simpkt *p)
{
	cr_assert(s->nq < QCAP, "simulated network queue full");
	s->q[s->nq++] = *p;
}

/* An exponential draw with mean m (0: none). */
static inline double sim_exp(uint64_t *rng, double m)
{
	return m > 0.0 ? -m * log(1.0 - rnd(rng)) : 0.0;
}

/* Move the stall window past t: stalls come as a Poisson process. */
static inline void sim_stall_advance(struct sim *s, double t)
{
	while (s->stall_every_ns > 0.0 && s->stall_end < t) {
		s->stall_start =
		        s->stall_end + sim_exp(&s->host_rng, s->stall_every_ns);
		s->stall_end =
		        s->stall_start + s->stall_min_ns +
		        (s->stall_max_ns - s->stall_min_ns) * rnd(&s->host_rng);
	}
}

/* When a receiver thread that wants to run at t gets to (mean latency m). */
static inline double sim_host_run(struct sim *s, double t, double m)
{
	sim_stall_advance(s, t);
	if (s->stall_every_ns > 0.0 && t >= s->stall_start && t < s->stall_end)
		t = s->stall_end;
	return t + sim_exp(&s->host_rng, m);
}

/* Through the relay's model and the receiving machine: queue each copy
   of packet p (sent as packet k) with the time the net thread stamps it. */
static inline void sim_send_relay(struct sim *s, struct simpkt *p, uint64_t k)
{
	struct impair_verdict v;
	double sent = sim_send_ns(s, k);

	if (s->host)
		sent += sim_exp(&s->host_rng, s->pace_ns);
	/* The relay's clock: ns since an origin, like uv_hrtime. */
	uint64_t at = (uint64_t)llround(sent) + 1000000000ull;
	if ((int64_t)k == s->drop_k)
		return;
	if (impair_decide(&s->imp, at, &v) == 0)
		return;
	for (int c = 0; c < v.copies; c++) {
		double r = (double)v.release_ns[c] - 1e9;
		p->arrival = s->host ? sim_host_run(s, r, s->stamp_ns) : r;
		sim_queue(s, p);
	}
}

static inline uint64_t sim_media_clock(void *arg)
{
	struct sim *s = arg;

	return sim_clock(arg) + s->media_off;
}

/* Sync to the media clock: the sender stamps media time (the local clock
   + media_off, 2023 and later, so the 32-bit RTP time wraps), the stream
   plays it at media time + sync_ms. */
static inline void sim_use_media_clock(struct sim *s, unsigned sync_ms)
{
	s->media = true;
	s->media_off = 1700000000ull * 1000000000ull;
	s->cfg.jitter.sync_ms = sync_ms;
	s->cfg.media_clock = sim_media_clock;
}

/* The relay's model (delay and jitter in ms, skew in ppm of the sender's
   clock as relay --skew-ppm takes it) instead of lo..hi. */
static inline void sim_use_relay(struct sim *s, double delay_ms,
                                 double jitter_ms, double sender_ppm,
                                 uint64_t seed)
{
	struct impair_config c;

	impair_config_default(&c);
	c.delay_ns = (int64_t)llround(delay_ms * MS);
	c.jitter_ns = (int64_t)llround(jitter_ms * MS);
	c.skew_ppm = 1e6 / (1.0 + sender_ppm * 1e-6) - 1e6;
	cr_assert_eq(impair_init(&s->imp, &c, seed), 0);
	s->relay = true;
}

/* A busy 2-core machine: pacing, stamping and wake-up latencies of tens of
   microseconds, and a stall of stall_ms (min..max) every every_s on
   average that holds the receiver's net and audio threads. */
static inline void sim_use_host(struct sim *s, double every_s,
                                double stall_min_ms, double stall_max_ms,
                                uint64_t seed)
{
	s->host = true;
	s->host_rng = seed | 1;
	s->pace_ns = 40e3;
	s->stamp_ns = 20e3;
	s->wake_ns = 40e3;
	s->stall_every_ns = every_s * 1e9;
	s->stall_min_ns = stall_min_ms * MS;
	s->stall_max_ns = stall_max_ms * MS;
	s->stall_start = s->stall_end = 0.0;
}

/* Redundant audio: the sender wraps each payload with copies of the
   `distance` before it (RED payload type 100), the stream splits them. */
static inline void sim_use_red(struct sim *s, unsigned distance)
{
	cr_assert(distance >= 1 && distance <= RED_MAX_DISTANCE);
	s->red = distance;
	cr_assert_eq(redenc_init(&s->red_enc, distance, 0, 96, RED_BLOCK_LEN_MAX),
	             0);
	s->cfg.red = true;
	s->cfg.red_pt = 100;
	s->cfg.pt = 96;
}

/* Make packet k and give it to the network. */
static inline void sim_send(struct sim *s, uint64_t k)
{
	struct simpkt p;
	struct rtp_header h;
	uint8_t payload[4000];
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
	uint32_t tsf = (uint32_t)(f0 / (s->ts_div ? s->ts_div : 1));
	h.ts = restarted ? 777777u + tsf : 1000u + tsf;
	if (s->media) {
		/* Frame f0 is stamped with its media time: frame 0 was made
		   at -late_start on this clock, media time media_off -
		   late_start. */
		uint64_t m = s->media_off - (uint64_t)s->late_start;
		uint64_t base =
		        m / 1000000000u * (uint64_t)s->rate +
		        m % 1000000000u * (uint64_t)s->rate / 1000000000u;
		h.ts = (uint32_t)(base + f0);
	}
	if (s->red) {
		uint8_t wrapped[sizeof(payload)];
		/* Packets of s->frame frames: that many RTP ticks, or a
		   ts_div-th of them. */
		uint32_t ticks = (uint32_t)s->frame /
		                 (s->media || !s->ts_div ? 1u : s->ts_div);
		plen = redenc_write(&s->red_enc, h.seq, h.ts, ticks, payload,
		                    (size_t)plen, wrapped, sizeof(wrapped));
		cr_assert(plen > 0, "redenc_write: %d", plen);
		memcpy(payload, wrapped, (size_t)plen);
		h.pt = 100;
	}
	int n = rtp_write(&h, payload, (size_t)plen, p.buf, sizeof(p.buf));
	cr_assert(n > 0);
	p.len = (size_t)n;
	p.k = k;

	double d = s->lo_ms + (s->hi_ms - s->lo_ms) * rnd(&s->rng);
	if (s->relay) {
		sim_send_relay(s, &p, k);
		return;
	}
	if (s->ndelays == s->cap_delays) {
		s->cap_delays = s->cap_delays ? 2 * s->cap_delays : 4096;
		s->delays = realloc(s->delays, s->cap_delays * sizeof(double));
		cr_assert(s->delays);
	}
	s->delays[s->ndelays++] = d;
	p.arrival = sim_send_ns(s, k < s->burst_k ? s->burst_k : k) + d * MS;
	if ((int64_t)k == s->drop_k || rnd(&s->rng) < s->p_loss ||
	    ((int64_t)k >= s->drop_from && (int64_t)k < s->drop_to) ||
	    (s->drop_every && k >= s->drop_every &&
	     k % s->drop_every >= s->drop_every - s->drop_run)) {
		s->dropped++;
		return;
	}
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
static inline void sim_deliver(struct sim *s, double now)
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

/* One callback: receive what arrived, pull a block. On a host model the
   callback runs when the audio thread wakes for this period's deadline,
   or right after the previous one when it is behind (catching up). */
static inline void sim_step(struct sim *s, float *out)
{
	if (s->host) {
		double t = sim_host_run(s, sim_deadline(s, s->out_frames),
		                        s->wake_ns);
		s->now_ns = t > s->now_ns ? t : s->now_ns + 1e3;
	}
	sim_deliver(s, (double)sim_clock(s));
	if (s->rt)
		rthook_rt_enter();
	int n = netstream_pull(&s->ns, out, s->block);
	if (s->rt)
		rthook_rt_leave();
	cr_assert_eq(n, (int)s->block);
	s->out_frames += s->block;
}

/* L16 stereo 48 kHz, 5 ms packets, 3 ms network delay, fixed 30 ms. */
static inline void exact_setup(struct sim *s)
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
static inline float *exact_run(struct sim *s)
{
	float *out = calloc((size_t)EXACT_FRAMES * 2, sizeof(float));
	cr_assert(out);
	sim_start(s);
	for (size_t f = 0; f + s->block <= EXACT_FRAMES; f += s->block)
		sim_step(s, out + f * 2);
	return out;
}

/* Frames of output (after the lead) that differ from what was sent. */
static inline size_t exact_mismatches(const struct sim *s, const float *out,
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

#endif
