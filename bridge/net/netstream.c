/*
 * The network source: set-up and tear-down (control thread) and statistics
 * (any thread); the receive half that runs on the net thread (records,
 * copies, RED) is in netstream_rx.c, the playout half that runs in the
 * audio thread (jitter buffer, decode, conceal, record, drift resampling)
 * in netstream_play.c.
 *
 * See netstream.h for who owns what. netstream_init allocates every buffer
 * the stream will ever use: the packet pool, the ring, the jitter slots, the
 * decoder (Opus state or PCM hold buffer), one packet's worth of decoded
 * audio, and the drift resampler's table and history (varispeed_init);
 * netstream_set_record allocates the hold buffer of a recorded stream.
 * After that the audio thread only moves data between them.
 */
#include "bridge/net/netstream.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/ulpfec.h"

_Static_assert(sizeof(struct netstream_stats) % 8 == 0,
               "stats are published as 64-bit words");

static uint64_t netstream_monotonic(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t netstream_realtime(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void netstream_config_default(struct netstream_config *cfg,
                              enum codec_kind kind)
{
	memset(cfg, 0, sizeof(*cfg));
	codec_config_default(&cfg->codec, kind);
	jitter_config_default(
	        &cfg->jitter, codec_rtp_rate(&cfg->codec),
	        codec_rtp_ticks(&cfg->codec,
	                        (size_t)codec_config_frames(&cfg->codec)));
	cfg->drift = true;
	cfg->drift_max_ppm = 1000.0;
	cfg->slew_ppm = 2000.0;
	cfg->loop_s = 1.0;
	cfg->skip_ms = 10;
	cfg->min_sequential = 1;
}

void netstream_config_low_latency(struct netstream_config *cfg)
{
	cfg->jitter.adaptive = true;
	cfg->jitter.margin_ms = 0.25;
	cfg->jitter.bin_us = 50;
	cfg->jitter.initial_ms = 2;
	/* A late packet holds the target up for NETSTREAM_LOW_PEAK_HOLD_S
	   rather than half a minute, and a target far above what the spread
	   asks for then drops at once, the excess skipped, rather than slide
	   down at 1.5 ms/s (a minute and more after a 100 ms stall): the
	   cost of a one-off stall of the host is its glitch and the skip,
	   not minutes of a delay many times the clean one. A host or path
	   that keeps stalling keeps the target up, and the spread's
	   percentile sees sustained jitter anyway. */
	cfg->jitter.peak_hold_s = NETSTREAM_LOW_PEAK_HOLD_S;
	cfg->jitter.drop_ms = NETSTREAM_LOW_DROP_MS;
	cfg->skip_ms = NETSTREAM_LOW_DROP_MS;
	if (cfg->jitter.initial_ms < cfg->jitter.min_ms)
		cfg->jitter.initial_ms = cfg->jitter.min_ms;
}

void netstream_packet_return(struct netstream *s, struct packet *p)
{
	pool_return(netstream__pool_of(s, p), p);
}

/* Jitter buffer release callback: records go home to the net thread. */
static void netstream_release_packet(void *arg, struct packet *p)
{
	netstream_packet_return(arg, p);
}

static int netstream_source_pull(struct source *src, float *out, size_t frames)
{
	return netstream_pull((struct netstream *)src, out, frames);
}

static uint64_t netstream_source_underruns(struct source *src)
{
	return ((struct netstream *)src)->st.underruns;
}

static void netstream_source_release(struct source *src)
{
	((struct netstream *)src)->released = true;
}

static const struct source_ops netstream_ops = {
        .pull = netstream_source_pull,
        .underruns = netstream_source_underruns,
        .release = netstream_source_release,
};

/* Bytes of header room in a record beyond the payload: the fixed RTP
   header, CSRCs and an extension. */
#define NETSTREAM_HEADER_ROOM (RTP_HEADER_MIN + 64)

/* The longest delay the buffer must hold: the fixed target, or the
   adaptive maximum (a fixed delay may exceed it). */
static unsigned netstream_hold_ms(const struct jitter_config *j)
{
	return !j->adaptive && j->fixed_ms > j->max_ms ? j->fixed_ms
	                                               : j->max_ms;
}

/* The shortest packet sized for, us. */
static unsigned netstream_min_frame(const struct netstream_config *cfg)
{
	unsigned us = cfg->min_frame_us;

	if (!us)
		us = cfg->codec.kind == CODEC_OPUS ? 2500 : 1000;
	if (cfg->codec.frame_us > 0 && (unsigned)cfg->codec.frame_us < us)
		us = (unsigned)cfg->codec.frame_us;
	return us;
}

int netstream_config_check(const struct netstream_config *cfg, char *why,
                           size_t len)
{
	const struct jitter_config *j = &cfg->jitter;
	const char *cw = NULL;
	char tmp[1];

	if (!why) {
		why = tmp;
		len = sizeof(tmp);
	}
	why[0] = '\0';
	if (codec_config_check(&cfg->codec, &cw) < 0)
		snprintf(why, len, "%s",
		         cw && cw[0] ? cw : "bad codec settings");
	else if (cfg->out_rate < 0 || !(cfg->loop_s > 0.0) ||
	         cfg->drift_max_ppm < 0.0 || cfg->slew_ppm < 0.0)
		snprintf(why, len, "bad drift compensation settings");
	else if (j->max_ms == 0 || j->max_ms > NETSTREAM_MAX_DELAY_MS)
		snprintf(why, len, "the largest delay, %u ms, is not in 1..%u",
		         j->max_ms, NETSTREAM_MAX_DELAY_MS);
	else if (j->adaptive && j->min_ms > j->max_ms)
		snprintf(why, len,
		         "the smallest delay, %u ms (--min-latency), is above "
		         "the largest, %u ms (--max-latency)",
		         j->min_ms, j->max_ms);
	else if (!j->adaptive &&
	         (j->fixed_ms == 0 || j->fixed_ms > NETSTREAM_MAX_DELAY_MS))
		snprintf(why, len, "the fixed delay, %u ms, is not in 1..%u",
		         j->fixed_ms, NETSTREAM_MAX_DELAY_MS);
	else if (netstream_min_frame(cfg) < NETSTREAM_MIN_FRAME_US)
		snprintf(why, len,
		         "packets shorter than %.3f ms are not supported",
		         NETSTREAM_MIN_FRAME_US / 1000.0);
	else
		return 0;
	return -EINVAL;
}

/* Set up the record classes: for PCM, records for packets of up to 1 ms,
   5 ms and the largest datagram; for Opus one size (packets' bytes do not
   tell their duration). Class k holds twice the delay's worth of packets
   of its shortest duration. */
static int netstream_pools_init(struct netstream *s, size_t bytes,
                                unsigned min_us)
{
	static const unsigned upto_us[NETSTREAM_CLASSES - 1] = {1000, 5000};
	const struct codec_config *c = &s->cfg.codec;
	double per_us = 0.0; /* payload bytes per us of audio */
	unsigned lo_us = min_us;

	/* Opus packets' bytes do not tell their duration, and a record
	   count given by the caller is one class of the largest size. */
	if (c->kind != CODEC_OPUS && !s->cfg.packets)
		per_us = (double)c->rate * c->channels *
		         (c->kind == CODEC_L16 ? 2 : 3) / 1e6;
	s->ncls = 0;
	for (unsigned k = 0; k < NETSTREAM_CLASSES; k++) {
		size_t cap = bytes;
		if (per_us > 0.0 && k + 1 < NETSTREAM_CLASSES) {
			if (upto_us[k] <= lo_us)
				continue;
			cap = NETSTREAM_HEADER_ROOM +
			      (size_t)ceil(per_us * upto_us[k]);
			if (cap >= bytes)
				cap = bytes;
		}
		struct netstream_class *nc = &s->cls[s->ncls];
		nc->cap = cap;
		nc->count =
		        s->cfg.packets
		                ? s->cfg.packets
		                : (size_t)(2.0 * s->hold_ms * 1000.0 / lo_us) +
		                          64;
		size_t node = packet_size(cap);
		nc->mem = calloc(1, pool_storage_size(node, nc->count));
		if (!nc->mem ||
		    pool_init(&nc->pool, nc->mem, node, nc->count) < 0)
			return -ENOMEM;
		s->ncls++;
		/* Stamp every record's capacity once, while control owns the
		   pool. */
		struct packet *first = NULL, *p;
		while ((p = pool_get(&nc->pool)) != NULL) {
			p->cap = (uint32_t)cap;
			p->ext_seq =
			        (uint64_t)(uintptr_t)first; /* chain them */
			first = p;
		}
		while (first) {
			p = first;
			first = (struct packet *)(uintptr_t)p->ext_seq;
			p->ext_seq = 0;
			pool_put(&nc->pool, p);
		}
		if (cap == bytes)
			break;
		if (k + 1 < NETSTREAM_CLASSES)
			lo_us = upto_us[k];
	}
	return 0;
}

static void netstream_pools_clear(struct netstream *s)
{
	for (unsigned k = 0; k < NETSTREAM_CLASSES; k++) {
		if (s->cls[k].mem)
			pool_clear(&s->cls[k].pool);
		free(s->cls[k].mem);
		s->cls[k].mem = NULL;
	}
	s->ncls = 0;
}

int netstream_init(struct netstream *s, const struct netstream_config *cfg)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	if (netstream_config_check(cfg, NULL, 0) < 0)
		return -EINVAL;
	if (!s->cfg.out_rate)
		s->cfg.out_rate = cfg->codec.rate;
	if (!s->cfg.clock)
		s->cfg.clock = netstream_monotonic;
	if (!s->cfg.media_clock)
		s->cfg.media_clock = netstream_realtime;
	size_t ch = (size_t)cfg->codec.channels;

	err = codec_decoder_init(&s->dec, &cfg->codec);
	if (err < 0)
		return err;

	struct jitter_config jc = cfg->jitter;
	jc.rtp_rate = codec_rtp_rate(&cfg->codec);
	jc.frame_ticks = codec_rtp_ticks(&cfg->codec, (size_t)s->dec.frames);
	/* Slots for twice the longest delay's worth of the shortest packets
	   (reordering, a burst after a stall), plus slack. */
	unsigned min_us = netstream_min_frame(cfg);
	s->hold_ms = netstream_hold_ms(&jc);
	if (!jc.capacity) {
		double need = 2.0 * s->hold_ms * 1000.0 / min_us + 32.0;
		jc.capacity = 64;
		while (jc.capacity < need && jc.capacity < JITTER_MAX_CAPACITY)
			jc.capacity <<= 1;
	}
	err = jitter_init(&s->jit, &jc, netstream_release_packet, s);
	if (err < 0)
		goto fail_dec;
	struct driftctl_config dc;
	driftctl_config_default(&dc, s->cfg.out_rate);
	dc.slew_ppm = cfg->slew_ppm;
	dc.drift_max_ppm = cfg->drift_max_ppm;
	dc.loop_s = cfg->loop_s;
	err = driftctl_init(&s->ctl, &dc);
	if (err < 0)
		goto fail_jit;

	/* Records: every slot of the jitter buffer may hold one, and the
	   ring may carry more on their way. */
	size_t bytes = cfg->packet_bytes;
	if (!bytes) {
		bytes = PACKET_DEFAULT_BYTES;
		if (cfg->codec.kind != CODEC_OPUS &&
		    codec_max_payload(&cfg->codec) + NETSTREAM_HEADER_ROOM >
		            bytes)
			bytes = codec_max_payload(&cfg->codec) +
			        NETSTREAM_HEADER_ROOM;
	}
	err = netstream_pools_init(s, bytes, min_us);
	if (err < 0)
		goto fail_pool;
	size_t count = 0;
	for (unsigned k = 0; k < s->ncls; k++)
		count += s->cls[k].count;

	size_t rcap = 2;
	while (rcap < count)
		rcap <<= 1;
	s->ring_mem = malloc(ring_storage_size(sizeof(struct packet *), rcap));
	if (!s->ring_mem)
		goto fail_pool;
	err = ring_init(&s->ring, s->ring_mem, sizeof(struct packet *), rcap);
	if (err < 0)
		goto fail_ring;

	/* Decoded audio of one packet: up to 120 ms of Opus, or as many PCM
	   frames as the largest datagram holds. */
	size_t cap = (size_t)cfg->codec.rate * 120 / 1000;
	if (cfg->codec.kind != CODEC_OPUS) {
		size_t bps = cfg->codec.kind == CODEC_L16 ? 2 : 3;
		if (bytes / (bps * ch) > cap)
			cap = bytes / (bps * ch);
	}
	if (cap < (size_t)s->dec.frames)
		cap = (size_t)s->dec.frames;
	err = -ENOMEM;
	s->decbuf = calloc(cap * ch, sizeof(float));
	if (!s->decbuf)
		goto fail_ring;
	s->dec_cap = cap;

	s->nominal = (double)s->cfg.out_rate / cfg->codec.rate;
	if (cfg->drift || s->cfg.out_rate != cfg->codec.rate) {
		struct varispeed_config vc;
		varispeed_config_default(&vc, (unsigned)ch, s->nominal);
		/* Room for every ratio the controller may ask for (drift
		   clamp plus slew), twice over. */
		double range = 2e-6 * (cfg->drift_max_ppm + cfg->slew_ppm);
		if (range > vc.range)
			vc.range = range < 0.5 ? range : 0.5;
		err = varispeed_init(&s->rs, &vc);
		if (err < 0)
			goto fail_buf;
		s->resample = true;
	}

	if (cfg->ulpfec) {
		err = netstream_fec_init(&s->fec, bytes + ULPFEC_HEADERS_MAX);
		if (err < 0)
			goto fail_rs;
	}
	rtpseq_init(&s->seq, cfg->min_sequential);
	atomic_init(&s->rx_fec, 0);
	atomic_init(&s->rx_fec_recovered, 0);
	atomic_init(&s->rx_dropped, 0);
	atomic_init(&s->rx_invalid, 0);
	atomic_init(&s->rx_duplicate, 0);
	atomic_init(&s->req_ms, -1);
	atomic_init(&s->snap_seq, 0);
	for (size_t i = 0; i < NETSTREAM_STATS_WORDS; i++)
		atomic_init(&s->snap[i], 0);
	s->st.ratio = 1.0;
	s->st.target_ms = jitter_target_ms(&s->jit);
	s->src.ops = &netstream_ops;
	s->src.channels = (unsigned)ch;
	s->src.tap = NULL;
	return 0;

fail_rs:
	if (s->resample)
		varispeed_clear(&s->rs);
	s->resample = false;
fail_buf:
	free(s->decbuf);
fail_ring:
	free(s->ring_mem);
fail_pool:
	netstream_pools_clear(s);
fail_jit:
	jitter_clear(&s->jit);
fail_dec:
	codec_decoder_clear(&s->dec);
	return err;
}

int netstream_set_record(struct netstream *s, struct tap *rec)
{
	size_t ch = s->src.channels;

	if (rec && rec->channels != ch)
		return -EINVAL;
	if (rec && !s->hold) {
		/* The longest dry run: the jitter buffer stops concealing
		   once dry_ms is reached, so at most one output past it. */
		size_t cap =
		        (size_t)s->dec.cfg.rate * s->jit.cfg.dry_ms / 1000 +
		        s->dec_cap;
		s->hold = calloc(cap * ch, sizeof(float));
		if (!s->hold)
			return -ENOMEM;
		s->hold_cap = cap;
	}
	s->rec = rec;
	return 0;
}

void netstream_clear(struct netstream *s)
{
	struct packet *p;

	if (!s->src.ops)
		return;
	free(s->hold);
	s->hold = NULL;
	s->rec = NULL;
	while (ring_try_pop(&s->ring, &p))
		netstream_packet_return(s, p);
	jitter_clear(&s->jit);
	if (s->resample)
		varispeed_clear(&s->rs);
	s->resample = false;
	free(s->decbuf);
	free(s->ring_mem);
	netstream_fec_clear(&s->fec);
	netstream_pools_clear(s);
	codec_decoder_clear(&s->dec);
	s->src.ops = NULL;
}

void netstream_set_latency(struct netstream *s, unsigned ms)
{
	if (ms > s->hold_ms)
		ms = s->hold_ms;
	/* Relaxed: see netstream_pull. */
	atomic_store_explicit(&s->req_ms, ms > INT_MAX ? INT_MAX : (int)ms,
	                      memory_order_relaxed);
}

int netstream_stats(struct netstream *s, struct netstream_stats *st)
{
	uint64_t w[NETSTREAM_STATS_WORDS];

	for (int tries = 0; tries < 1000; tries++) {
		/* Acquire pairs with the writer's final release store: the
		   words it wrote before are visible. */
		unsigned a = atomic_load_explicit(&s->snap_seq,
		                                  memory_order_acquire);
		if (a & 1u)
			continue;
		/* Acquire pairs with the writer's release of each word: a
		   word from a newer update brings its odd count along. */
		for (size_t i = 0; i < NETSTREAM_STATS_WORDS; i++)
			w[i] = atomic_load_explicit(&s->snap[i],
			                            memory_order_acquire);
		unsigned b = atomic_load_explicit(&s->snap_seq,
		                                  memory_order_relaxed);
		if (a == b) {
			memcpy(st, w, sizeof(w));
			return 0;
		}
	}
	return -EAGAIN;
}
