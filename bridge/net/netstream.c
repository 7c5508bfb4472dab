/*
 * The network source: receive (net thread), jitter buffer, decode, conceal,
 * drift resampling (audio thread)
 *
 * See netstream.h for who owns what. netstream_init allocates every buffer
 * the stream will ever use: the packet pool, the ring, the jitter slots, the
 * decoder (Opus state or PCM hold buffer), one packet's worth of decoded
 * audio, and the libsamplerate state; netstream_set_record allocates the
 * hold buffer of a recorded stream. After that the audio thread only
 * moves data between them: src_process() and src_set_ratio() work in the
 * state src_new() allocated.
 */
#include "bridge/net/netstream.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <samplerate.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert(sizeof(struct netstream_stats) % 8 == 0,
               "stats are published as 64-bit words");

static uint64_t netstream_monotonic(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
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
	cfg->converter = SRC_SINC_FASTEST;
	cfg->drift_max_ppm = 1000.0;
	cfg->slew_ppm = 2000.0;
	cfg->loop_s = 5.0;
	cfg->min_sequential = 1;
}


/* Smoothing time of the target's slide rate, s (netstream_control). */
#define NETSTREAM_FF_S 1.0
/* Jitter buffer release callback: records go home to the net thread. */
static void netstream_release_packet(void *arg, struct packet *p)
{
	struct netstream *s = arg;

	pool_return(&s->pool, p);
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

int netstream_init(struct netstream *s, const struct netstream_config *cfg)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	if (codec_config_check(&cfg->codec, NULL) < 0 || cfg->out_rate < 0 ||
	    !(cfg->loop_s > 0.0) || cfg->drift_max_ppm < 0.0 ||
	    cfg->slew_ppm < 0.0)
		return -EINVAL;
	if (!s->cfg.out_rate)
		s->cfg.out_rate = cfg->codec.rate;
	if (!s->cfg.clock)
		s->cfg.clock = netstream_monotonic;
	size_t ch = (size_t)cfg->codec.channels;

	err = codec_decoder_init(&s->dec, &cfg->codec);
	if (err < 0)
		return err;

	struct jitter_config jc = cfg->jitter;
	jc.rtp_rate = codec_rtp_rate(&cfg->codec);
	jc.frame_ticks = codec_rtp_ticks(&cfg->codec, (size_t)s->dec.frames);
	err = jitter_init(&s->jit, &jc, netstream_release_packet, s);
	if (err < 0)
		goto fail_dec;

	/* Records: every slot of the jitter buffer may hold one, and the
	   ring may carry more on their way. */
	size_t bytes = cfg->packet_bytes;
	if (!bytes) {
		bytes = PACKET_DEFAULT_BYTES;
		if (cfg->codec.kind != CODEC_OPUS &&
		    codec_max_payload(&cfg->codec) + RTP_HEADER_MIN + 64 >
		            bytes)
			bytes = codec_max_payload(&cfg->codec) +
			        RTP_HEADER_MIN + 64;
	}
	size_t count = cfg->packets ? cfg->packets : s->jit.mask + 1 + 64;
	size_t node = packet_size(bytes);
	err = -ENOMEM;
	s->pool_mem = calloc(1, pool_storage_size(node, count));
	if (!s->pool_mem)
		goto fail_jit;
	err = pool_init(&s->pool, s->pool_mem, node, count);
	if (err < 0)
		goto fail_pool;
	/* Stamp every record's capacity once, while control owns the pool. */
	struct packet *first = NULL;
	for (size_t i = 0; i < count; i++) {
		struct packet *p = pool_get(&s->pool);
		p->cap = (uint32_t)bytes;
		p->ext_seq = (uint64_t)(uintptr_t)first; /* chain them */
		first = p;
	}
	while (first) {
		struct packet *p = first;
		first = (struct packet *)(uintptr_t)p->ext_seq;
		p->ext_seq = 0;
		pool_put(&s->pool, p);
	}

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
		int serr = 0;
		s->resampler = src_new(cfg->converter, (int)ch, &serr);
		if (!s->resampler) {
			err = serr == 1
			              ? -ENOMEM
			              : -EINVAL; /* 1: SRC_ERR_MALLOC_FAILED */
			goto fail_buf;
		}
		src_set_ratio(s->resampler, s->nominal);
	}

	rtpseq_init(&s->seq, cfg->min_sequential);
	atomic_init(&s->rx_dropped, 0);
	atomic_init(&s->rx_invalid, 0);
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

fail_buf:
	free(s->decbuf);
fail_ring:
	free(s->ring_mem);
fail_pool:
	pool_clear(&s->pool);
	free(s->pool_mem);
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
		pool_return(&s->pool, p);
	jitter_clear(&s->jit);
	if (s->resampler)
		src_delete(s->resampler);
	free(s->decbuf);
	free(s->ring_mem);
	pool_clear(&s->pool);
	free(s->pool_mem);
	codec_decoder_clear(&s->dec);
	s->src.ops = NULL;
}

/* ---- net thread ---- */

struct packet *netstream_packet_get(struct netstream *s)
{
	return pool_get(&s->pool);
}

int netstream_push(struct netstream *s, struct packet *p)
{
	if (!ring_try_push(&s->ring, &p)) {
		pool_put(&s->pool, p);
		/* Counters the net thread alone writes; readers want a
		   number, not an ordering. */
		atomic_fetch_add_explicit(&s->rx_dropped, 1,
		                          memory_order_relaxed);
		return -ENOBUFS;
	}
	return 0;
}

int netstream_receive(struct netstream *s, const uint8_t *buf, size_t len,
                      uint64_t arrival_ns)
{
	struct packet *p = pool_get(&s->pool);
	uint64_t ext;
	int err;

	if (!p) {
		atomic_fetch_add_explicit(&s->rx_dropped, 1,
		                          memory_order_relaxed);
		return -ENOBUFS;
	}
	err = packet_set(p, buf, len, arrival_ns);
	if (err < 0)
		goto invalid;
	err = rtpseq_update(&s->seq, p->seq, &ext);
	if (err < 0)
		goto invalid;
	p->ext_seq = ext;
	if (err == RTPSEQ_RESTART)
		p->flags |= PACKET_RESTART;
	return netstream_push(s, p);

invalid:
	pool_put(&s->pool, p);
	atomic_fetch_add_explicit(&s->rx_invalid, 1, memory_order_relaxed);
	return err;
}

/* ---- audio thread ---- */

/* Frames of decoded audio for RTP ticks, and back. */
static size_t netstream_frames(const struct netstream *s, int64_t ticks)
{
	return (size_t)(ticks * s->dec.cfg.rate / s->jit.cfg.rtp_rate);
}

static int64_t netstream_ticks(const struct netstream *s, size_t frames)
{
	return (int64_t)frames * s->jit.cfg.rtp_rate / s->dec.cfg.rate;
}

/* Conceal `frames` frames into decbuf. Return: frames made. */
static size_t netstream_conceal(struct netstream *s, size_t frames)
{
	int n = codec_conceal(&s->dec, s->decbuf, frames);

	if (n < 0) {
		memset(s->decbuf, 0, frames * s->src.channels * sizeof(float));
		n = (int)frames;
	}
	return (size_t)n;
}

/* Give frames of the stream's timeline to the record tap. */
static void netstream_record(struct netstream *s, const float *p, size_t n)
{
	if (!s->rec || n == 0)
		return;
	s->rec->ops->write(s->rec, p, n);
	s->st.recorded += n;
}

/* A packet follows the dry run: it was a loss inside the stream. Its
   concealment is recorded first and counted from now on. */
static void netstream_dry_commit(struct netstream *s)
{
	netstream_record(s, s->hold, s->hold_n);
	s->st.concealed_frames += s->dry_frames;
	s->st.inserted += s->dry_inserted;
	s->hold_n = 0;
	s->dry_frames = 0;
	s->dry_inserted = 0;
	s->dry_lost = 0;
	s->dry_underruns = 0;
}

/* The dry run came to nothing (the sender stopped, paused or restarted):
   not the stream's audio, not its losses. */
static void netstream_dry_void(struct netstream *s)
{
	s->void_lost += s->dry_lost;
	s->void_underruns += s->dry_underruns;
	s->hold_n = 0;
	s->dry_frames = 0;
	s->dry_inserted = 0;
	s->dry_lost = 0;
	s->dry_underruns = 0;
}

/* Keep the n frames of dry concealment in decbuf until the run ends. */
static void netstream_dry_hold(struct netstream *s, size_t n)
{
	s->dry_frames += n;
	if (!s->hold)
		return;
	/* hold_cap covers the longest dry run (netstream_set_record); the
	   bound only keeps a broken invariant from writing past it. */
	size_t ch = s->src.channels;
	size_t k = n < s->hold_cap - s->hold_n ? n : s->hold_cap - s->hold_n;
	memcpy(s->hold + s->hold_n * ch, s->decbuf, k * ch * sizeof(float));
	s->hold_n += k;
}

/*
 * Refill the decoded-audio buffer from the jitter buffer, and record what
 * belongs to the stream's timeline
 *
 * Return: frames now available, 0 when there is nothing to play yet
 */
static size_t netstream_refill(struct netstream *s, uint64_t now_ns)
{
	struct jitter_out o;
	size_t n = 0;
	/* jitter_next counts a loss, and an underrun when the buffer runs
	   dry; the ones of a dry output are pending until the run ends. */
	uint64_t lost0 = s->jit.st.lost, under0 = s->jit.st.underruns;

	jitter_next(&s->jit, now_ns, &o);
	if (o.kind == JITTER_WAIT) {
		netstream_dry_void(s);
		return 0;
	}
	size_t want = netstream_frames(s, o.ticks);
	if (want == 0 || want > s->dec_cap)
		want = (size_t)s->dec.frames;
	if (o.kind == JITTER_PACKET) {
		/* A restart begins a new timeline: a dry run before it was
		   the end of the old one. */
		if (o.restart) {
			netstream_dry_void(s);
			codec_decoder_reset(&s->dec);
		} else {
			netstream_dry_commit(s);
		}
		int r = codec_decode(&s->dec, packet_payload(o.pkt),
		                     o.pkt->payload_len, s->decbuf, s->dec_cap);
		pool_return(&s->pool, o.pkt);
		if (r <= 0) {
			/* Bytes from the network the decoder refuses: count
			   them and play concealment for their time. */
			s->st.decode_errors++;
			n = netstream_conceal(s, want);
			s->st.concealed_frames += n;
		} else {
			n = (size_t)r;
			if (n != want) {
				/* The sender's packets are not the length we
				   guessed: correct the position, and conceal
				   later losses for the real length. */
				int64_t ticks = netstream_ticks(s, n);
				jitter_adjust(&s->jit,
				              ticks - (int64_t)o.ticks);
				jitter_set_frame(&s->jit, (uint32_t)ticks);
			}
		}
		netstream_record(s, s->decbuf, n);
	} else if (o.insert) {
		/* Played to grow the buffer, in no packet's place: never
		   recorded. With nothing held, it may be the end of the
		   stream too, and is counted once a packet follows. */
		n = netstream_conceal(s, want);
		if (jitter_held(&s->jit) == 0) {
			s->dry_frames += n;
			s->dry_inserted += n;
		} else {
			s->st.concealed_frames += n;
			s->st.inserted += n;
		}
	} else if (o.dry) {
		n = netstream_conceal(s, want);
		netstream_dry_hold(s, n);
		s->dry_lost += s->jit.st.lost - lost0;
		s->dry_underruns += s->jit.st.underruns - under0;
		/* Concealed for dry_ms: the jitter buffer gave up and waits
		   for the sender again. */
		if (!jitter_playing(&s->jit))
			netstream_dry_void(s);
	} else {
		/* A loss with a packet after it, or time the sender
		   skipped: the stream's own. */
		netstream_dry_commit(s);
		int r = -1;
		if (o.next && s->dec.cfg.kind == CODEC_OPUS && s->dec.cfg.fec)
			r = codec_decode_fec(&s->dec, packet_payload(o.next),
			                     o.next->payload_len, s->decbuf,
			                     want);
		n = r > 0 ? (size_t)r : netstream_conceal(s, want);
		s->st.concealed_frames += n;
		netstream_record(s, s->decbuf, n);
	}
	s->dec_off = 0;
	s->dec_avail = n;
	s->st.frames_in += n;
	s->pending += (double)netstream_ticks(s, n);
	return n;
}

/* Once per pull: the PI controller that sets the resampling ratio. */
static void netstream_control(struct netstream *s, uint64_t now_ns,
                              size_t frames)
{
	if (!jitter_playing(&s->jit)) {
		s->prop = 0.0;
		s->ff = 0.0;
		s->have_target = false;
		return;
	}
	/* Error: how late the next output frame is against its due time.
	   The frames decoded but not yet resampled come first. */
	double e = (double)jitter_error_ns(&s->jit, now_ns,
	                                   (int64_t)llround(s->pending)) /
	           1e9;
	s->st.buffer_ms = s->st.target_ms + e * 1e3;
	if (!s->resampler)
		return;
	/* Critically damped second-order loop with time constant loop_s:
	   consumption c = 1 + ki integral(e) + kp e + ff. The feed-forward
	   term ff follows a moving target (the schedule slides by the
	   target's change), so the integral is left to the clock drift; it
	   is frozen while the fast terms are saturated (anti-windup). */
	double w = 1.0 / s->cfg.loop_s;
	double dt = (double)frames / s->cfg.out_rate;
	double imax = s->cfg.drift_max_ppm * 1e-6;
	double pmax = s->cfg.slew_ppm * 1e-6;
	double target_ns = s->st.target_ms * 1e6;
	/* The target moves in steps (histogram bins), so its rate is
	   smoothed over about a second: a one-pull spike would saturate the
	   fast terms and leave the step's error to the integral, which
	   would then report the target's slide as clock drift. */
	double raw = s->have_target
	                     ? -(target_ns - s->last_target_ns) / (dt * 1e9)
	                     : 0.0;
	s->ff += (raw - s->ff) * (dt < NETSTREAM_FF_S ? dt / NETSTREAM_FF_S
	                                              : 1.0);
	s->last_target_ns = target_ns;
	s->have_target = true;
	double fast = 2.0 * w * e + s->ff;
	if (fast > pmax)
		fast = pmax;
	else if (fast < -pmax)
		fast = -pmax;
	else
		s->integ += w * w * e * dt;
	if (s->integ > imax)
		s->integ = imax;
	if (s->integ < -imax)
		s->integ = -imax;
	s->prop = fast;
}

/* Publish the statistics for other threads (sequence lock writer). */
static void netstream_publish(struct netstream *s)
{
	uint64_t w[NETSTREAM_STATS_WORDS];
	unsigned seq = atomic_load_explicit(&s->snap_seq, memory_order_relaxed);

	memcpy(w, &s->st, sizeof(w));
	/* Odd = being written. Each word is stored with release, so a
	   reader that sees any word of this update (its loads acquire) also
	   sees the odd count stored before it, and retries. */
	atomic_store_explicit(&s->snap_seq, seq + 1, memory_order_relaxed);
	for (size_t i = 0; i < NETSTREAM_STATS_WORDS; i++)
		atomic_store_explicit(&s->snap[i], w[i], memory_order_release);
	/* Release publishes the words, pairing with the reader's acquire
	   load of snap_seq. */
	atomic_store_explicit(&s->snap_seq, seq + 2, memory_order_release);
}

int netstream_pull(struct netstream *s, float *out, size_t frames)
{
	size_t ch = s->src.channels;
	uint64_t now = s->cfg.clock(s->cfg.clock_arg);
	double rate = s->cfg.out_rate;
	struct packet *p;

	/* Control's latency request: a lone value, nothing else rides on
	   it, so relaxed is enough. */
	int req =
	        atomic_exchange_explicit(&s->req_ms, -1, memory_order_relaxed);
	if (req >= 0)
		jitter_set_fixed(&s->jit, (unsigned)req);
	while (ring_try_pop(&s->ring, &p))
		jitter_insert(&s->jit, p);
	/* A restart flushed the buffer: a dry run before it will never
	   see a packet of its own timeline. */
	if (!jitter_playing(&s->jit))
		netstream_dry_void(s);
	jitter_set_period(&s->jit, (int64_t)((double)frames * 1e9 / rate));
	s->st.target_ms = jitter_target_ms(&s->jit);
	netstream_control(s, now, frames);
	double c = 1.0 + s->integ + s->prop;
	s->st.ratio = c;
	s->st.drift_ppm = s->resampler ? s->integ * 1e6 : 0.0;

	size_t done = 0;
	/* Each round decodes a packet or makes output; the bound only guards
	   against a resampler that neither consumes nor produces. */
	for (unsigned guard = 0; done < frames && guard < 4 * frames + 64;
	     guard++) {
		size_t left = frames - done;
		if (s->dec_avail == 0) {
			uint64_t t =
			        now + (uint64_t)ceil((double)done * 1e9 / rate);
			int64_t wait = jitter_wait_ns(&s->jit, t);
			if (wait > 0) {
				/* Waiting to start: silence up to the first
				   packet's due time, to the frame (less a
				   hair: the clock counts whole ns). */
				double wf =
				        ceil((double)wait * rate / 1e9 - 0.01);
				if (wf >= 1.0) {
					size_t n = wf < (double)left
					                   ? (size_t)wf
					                   : left;
					memset(out + done * ch, 0,
					       n * ch * sizeof(float));
					done += n;
					continue;
				}
				/* Due within that hair of a frame: it starts
				   at this frame, so take it as due now rather
				   than spin on a wait no output can cover. */
				t += (uint64_t)wait;
			}
			/* The new frames play after the ones still inside
			   the resampler (it takes input ahead of its
			   output): ask for what is due then, or a packet
			   missing right at its time looks early, and is
			   waited for with an inserted frame. */
			if (s->pending > 0.0)
				t += (uint64_t)llround(s->pending * 1e9 /
				                       s->jit.cfg.rtp_rate);
			if (netstream_refill(s, t) == 0) {
				/* Nothing to play: let the resampler start
				   from scratch when something comes. */
				if (s->resampler && s->pending != 0.0)
					src_reset(s->resampler);
				s->pending = 0.0;
				break;
			}
		}
		const float *in = s->decbuf + s->dec_off * ch;
		if (!s->resampler) {
			size_t n = s->dec_avail < left ? s->dec_avail : left;
			memcpy(out + done * ch, in, n * ch * sizeof(float));
			s->dec_off += n;
			s->dec_avail -= n;
			s->pending -= (double)netstream_ticks(s, n);
			done += n;
			continue;
		}
		SRC_DATA d = {
		        .data_in = in,
		        .data_out = out + done * ch,
		        .input_frames = (long)s->dec_avail,
		        .output_frames = (long)left,
		        .src_ratio = s->nominal / c,
		        .end_of_input = 0,
		};
		if (src_process(s->resampler, &d) != 0)
			break;
		s->dec_off += (size_t)d.input_frames_used;
		s->dec_avail -= (size_t)d.input_frames_used;
		done += (size_t)d.output_frames_gen;
		/* The resampler takes input in ahead of the output it makes:
		   what has been played is the output times the consumption
		   ratio, not what it took in. */
		s->pending -= (double)d.output_frames_gen * c / s->nominal *
		              s->jit.cfg.rtp_rate / s->dec.cfg.rate;
	}
	if (done < frames)
		memset(out + done * ch, 0,
		       (frames - done) * ch * sizeof(float));
	s->st.frames_out += frames;

	struct jitter_stats js;
	jitter_stats(&s->jit, &js);
	s->st.received = js.received;
	s->st.lost = js.lost - s->dry_lost - s->void_lost;
	s->st.late = js.late;
	s->st.duplicate = js.duplicate;
	s->st.reordered = js.reordered;
	s->st.underruns = js.underruns - s->dry_underruns - s->void_underruns;
	s->st.resyncs = js.resyncs;
	s->st.jitter_ms = js.jitter_ms;
	s->st.spread_ms = js.spread_ms;
	s->st.rx_dropped =
	        atomic_load_explicit(&s->rx_dropped, memory_order_relaxed);
	s->st.rx_invalid =
	        atomic_load_explicit(&s->rx_invalid, memory_order_relaxed);
	netstream_publish(s);
	return (int)frames;
}

void netstream_set_latency(struct netstream *s, unsigned ms)
{
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
