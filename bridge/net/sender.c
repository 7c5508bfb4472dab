/*
 * sender: encode and send one RTP stream on the pacer's schedule (see
 * sender.h)
 *
 * The control thread builds the encoder and the buffers, then hands the
 * source to the net thread with a synchronous call that opens the socket
 * and the pacer there. Each pacer slot takes one packet of audio from the
 * source, encodes it in place behind the RTP header and sends it. When the
 * source ends, the net thread closes both handles itself; the last close
 * callback publishes `finished`. Counters have one writer (the net
 * thread) and are read by the control thread for display only.
 */
#include "bridge/net/sender.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bridge/net/addr.h"
#include "codec/rtp.h"

void sender_opts_init(struct sender_opts *o)
{
	memset(o, 0, sizeof *o);
	codec_config_default(&o->codec, CODEC_OPUS);
	o->codec.frame_us = 10000;
	o->codec.bitrate = 128000;
	o->codec.channels = 2;
	o->codec.rate = 48000;
	o->pt = 96;
	o->dscp = -1;
	o->mcast_ttl = -1;
	o->red_pt = SENDER_RED_PT;
	o->ulpfec_pt = SENDER_ULPFEC_PT;
}

int sender_opts_randomize(struct sender_opts *o)
{
	uint8_t r[10];
	size_t got = 0;

	while (got < sizeof r) {
		ssize_t n = getrandom(r + got, sizeof r - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	o->ssrc = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 |
	          (uint32_t)r[2] << 8 | r[3];
	o->seq0 = (uint16_t)(r[4] << 8 | r[5]);
	o->ts0 = (uint32_t)r[6] << 24 | (uint32_t)r[7] << 16 |
	         (uint32_t)r[8] << 8 | r[9];
	return 0;
}

/* Add to a counter only the net thread writes. */
static void sender__add(_Atomic uint64_t *c, uint64_t v)
{
	uint64_t x = atomic_load_explicit(c, memory_order_relaxed);

	atomic_store_explicit(c, x + v, memory_order_relaxed);
}

int sender_init(struct sender *s, const struct sender_opts *o)
{
	const char *why = "";
	int rc;

	memset(s, 0, sizeof *s);
	s->opts = *o;
	if (s->opts.start_delay_ns == 0)
		s->opts.start_delay_ns = 20000000u;
	if (s->opts.late_ns == 0)
		s->opts.late_ns = 1000000u;
	if (o->pt < 0 || o->pt > 127) {
		snprintf(s->err, sizeof s->err,
		         "payload type %d: must be 0..127", o->pt);
		return -EINVAL;
	}
	if (o->dscp > 63) {
		snprintf(s->err, sizeof s->err, "DSCP %d: must be 0..63",
		         o->dscp);
		return -EINVAL;
	}
	if (addr_len((const struct sockaddr *)&o->to) == 0) {
		snprintf(s->err, sizeof s->err, "no destination address");
		return -EINVAL;
	}
	if (o->mcast_ttl > 255) {
		snprintf(s->err, sizeof s->err,
		         "multicast TTL %d: must be 0..255", o->mcast_ttl);
		return -EINVAL;
	}
	if (o->red_distance > RED_MAX_DISTANCE ||
	    (o->red_distance &&
	     (o->red_pt < 0 || o->red_pt > 127 || o->red_pt == o->pt)) ||
	    (o->red_lag && (o->red_distance != 1 || o->red_lag < 2 ||
	                    o->red_lag > RED_MAX_LAG))) {
		snprintf(s->err, sizeof s->err,
		         "RED: distance %u (1..%d), lag %u (2..%d, with "
		         "distance 1), payload type %d (0..127, not the "
		         "media's %d)",
		         o->red_distance, RED_MAX_DISTANCE, o->red_lag,
		         RED_MAX_LAG, o->red_pt, o->pt);
		return -EINVAL;
	}
	if (o->fec_percent &&
	    (o->red_distance || o->fec_percent < SENDER_FEC_PERCENT_MIN ||
	     o->fec_percent > SENDER_FEC_PERCENT_MAX || o->ulpfec_pt < 0 ||
	     o->ulpfec_pt > 127 || o->ulpfec_pt == o->pt)) {
		snprintf(
		        s->err, sizeof s->err,
		        "ULPFEC: %u %% (%d..%d, not with RED), payload type %d "
		        "(0..127, not the media's %d)",
		        o->fec_percent, SENDER_FEC_PERCENT_MIN,
		        SENDER_FEC_PERCENT_MAX, o->ulpfec_pt, o->pt);
		return -EINVAL;
	}
	rc = codec_config_check(&o->codec, &why);
	if (rc < 0) {
		double ms = o->codec.frames > 0 && o->codec.rate > 0
		                    ? o->codec.frames * 1000.0 / o->codec.rate
		                    : o->codec.frame_us / 1000.0;
		snprintf(s->err, sizeof s->err,
		         "%s, %d Hz, %d ch, %g ms frames: %s",
		         codec_kind_name(o->codec.kind), o->codec.rate,
		         o->codec.channels, ms, why);
		return rc;
	}
	rc = codec_encoder_init(&s->enc, &o->codec);
	if (rc < 0) {
		snprintf(s->err, sizeof s->err, "%s encoder: %s %s",
		         codec_kind_name(o->codec.kind), codec_strerror(rc),
		         codec_lib_error(s->enc.lib_error));
		return rc;
	}
	s->frames = codec_config_frames(&o->codec);
	s->ticks = codec_rtp_ticks(&o->codec, (size_t)s->frames);
	if (s->opts.max_burst == 0) {
		/* SENDER_BURST_MS of audio: 10 packets of 10 ms, 100 of 1 ms.
		   A thread without real-time priority on a busy machine
		   stalls for tens of ms; catching that up costs nothing, and
		   skipping it would cut the audio short. */
		uint64_t n = ((uint64_t)o->codec.rate * SENDER_BURST_MS / 1000 +
		              (uint64_t)s->frames - 1) /
		             (uint64_t)s->frames;
		s->opts.max_burst = n > 2 ? (uint32_t)n : 2;
	}
	size_t payload = codec_max_payload(&o->codec);
	if (o->red_distance && o->codec.kind != CODEC_OPUS &&
	    payload > RED_BLOCK_LEN_MAX) {
		snprintf(s->err, sizeof s->err,
		         "RED: %s packets of %zu bytes are longer than a "
		         "redundant block can be (%d bytes): shorten the "
		         "packets (--frame-ms) or send mono",
		         codec_kind_name(o->codec.kind), payload,
		         RED_BLOCK_LEN_MAX);
		sender_clear(s);
		return -EINVAL;
	}
	if (o->red_distance) {
		rc = redenc_init(&s->red, o->red_distance, o->red_lag,
		                 (uint8_t)o->pt, payload);
		if (rc < 0) {
			snprintf(s->err, sizeof s->err, "out of memory");
			sender_clear(s);
			return rc;
		}
		s->enc_cap = payload;
		s->enc_buf = malloc(payload);
		payload = redenc_max_size(&s->red, payload);
	}
	s->pkt_cap = RTP_HEADER_MIN + payload + (o->srtp ? SRTPCTX_TRAILER : 0);
	s->pcm = calloc((size_t)s->frames * (size_t)o->codec.channels,
	                sizeof(float));
	s->pkt = malloc(s->pkt_cap);
	if (o->fec_percent) {
		s->fec_group = (100 + o->fec_percent - 1) / o->fec_percent;
		s->fec_buf_cap = ULPFEC_HEADERS_MAX + payload;
		s->fec_pkt_cap = RTP_HEADER_MIN + s->fec_buf_cap +
		                 (o->srtp ? SRTPCTX_TRAILER : 0);
		s->fec_buf = malloc(s->fec_buf_cap);
		s->fec_pkt = malloc(s->fec_pkt_cap);
		ulpfec_begin(&s->fec, s->fec_buf, s->fec_buf_cap);
	}
	if (!s->pcm || !s->pkt || (o->red_distance && !s->enc_buf) ||
	    (o->fec_percent && (!s->fec_buf || !s->fec_pkt))) {
		snprintf(s->err, sizeof s->err, "out of memory");
		sender_clear(s);
		return -ENOMEM;
	}
	s->seq = o->seq0;
	return 0;
}

void sender_clear(struct sender *s)
{
	codec_encoder_clear(&s->enc);
	redenc_clear(&s->red);
	free(s->enc_buf);
	free(s->fec_buf);
	free(s->fec_pkt);
	s->fec_buf = s->fec_pkt = NULL;
	free(s->pcm);
	free(s->pkt);
	s->enc_buf = NULL;
	s->pcm = NULL;
	s->pkt = NULL;
}

const char *sender_error(const struct sender *s)
{
	return s->err;
}

bool sender_finished(const struct sender *s)
{
	/* Acquire pairs with the release in sender__closed: the net thread's
	 * last use of the source and its final counters come before. */
	return atomic_load_explicit(&s->finished, memory_order_acquire) != 0;
}

void sender_stats(const struct sender *s, struct sender_stats *st)
{
	st->packets = atomic_load_explicit(&s->packets, memory_order_relaxed);
	st->bytes = atomic_load_explicit(&s->bytes, memory_order_relaxed);
	st->frames =
	        atomic_load_explicit(&s->frames_sent, memory_order_relaxed);
	st->underruns =
	        atomic_load_explicit(&s->underruns, memory_order_relaxed);
	st->late = atomic_load_explicit(&s->late, memory_order_relaxed);
	st->skipped = atomic_load_explicit(&s->skipped, memory_order_relaxed);
	st->send_errors =
	        atomic_load_explicit(&s->send_errors, memory_order_relaxed);
	st->late_max_ns =
	        atomic_load_explicit(&s->late_max_ns, memory_order_relaxed);
}

/* One handle has closed; after the last one the source is let go. */
static void sender__closed(struct sender *s)
{
	if (--s->open_handles > 0)
		return;
	/* Once finished is seen the owner may free s: what the wake-up
	   needs is read before. */
	void (*wake)(void *) = s->opts.on_finished;
	void *arg = s->opts.on_finished_arg;
	/* Release pairs with the acquire in sender_finished / sender_stop:
	 * publishes the counters and the end of our use of the sender. */
	atomic_store_explicit(&s->finished, 1, memory_order_release);
	if (wake != NULL)
		wake(arg);
}

static void sender__sock_closed(struct udpsock *u, void *user)
{
	(void)u;
	sender__closed(user);
}

static void sender__pacer_closed(struct pacer *p, void *user)
{
	(void)p;
	sender__closed(user);
}

/* Start closing both handles. Context: net thread. */
static void sender__end(struct sender *s)
{
	if (s->ending)
		return;
	s->ending = true;
	pacer_close(&s->pacer, sender__pacer_closed);
	udpsock_close(&s->sock, sender__sock_closed);
}

/* Fill s->pcm with the next packet of audio.
 * Return: frames of real audio (the rest is silence), or -1 at the end. */
static int sender__fill(struct sender *s)
{
	size_t n = (size_t)s->frames;
	size_t samples = n * (size_t)s->opts.codec.channels;

	if (s->opts.max_frames > 0 && s->sent_frames >= s->opts.max_frames)
		return -1;
	if (s->cap != NULL) {
		size_t got = sender_capture_read(s->cap, s->pcm, n,
		                                 s->cap_backlog_max);
		if (got < n)
			memset(s->pcm, 0, samples * sizeof(float));
		return (int)got;
	}
	size_t got = readahead_read(s->file, s->pcm, n);
	int st = readahead_state(s->file);
	if (got == 0 && (st == READAHEAD_EOF || st == READAHEAD_ERROR))
		return -1;
	return (int)got;
}

/* Send one datagram (already protected): count it, or the refusal. */
static void sender__send(struct sender *s, const uint8_t *pkt, size_t len)
{
	if (udpsock_send(&s->sock, pkt, len, NULL) < 0) {
		sender__add(&s->send_errors, 1);
	} else {
		sender__add(&s->packets, 1);
		sender__add(&s->bytes, (uint64_t)len);
	}
}

/* ULPFEC: protect the plain media datagram just numbered; once the group
   is complete, send the FEC packet over it, numbered next, with the
   media packet's timestamp (as rtpulpfecenc does). A packet the builder
   refuses starts the group again with it. */
static void sender__fec(struct sender *s, const uint8_t *pkt, size_t len,
                        uint32_t ts)
{
	if (ulpfec_add(&s->fec, pkt, len) < 0) {
		ulpfec_begin(&s->fec, s->fec_buf, s->fec_buf_cap);
		if (ulpfec_add(&s->fec, pkt, len) < 0)
			return;
	}
	if (s->fec.count < s->fec_group)
		return;
	int n = ulpfec_finish(&s->fec);
	struct rtp_header h = {
	        .version = RTP_VERSION,
	        .pt = (uint8_t)s->opts.ulpfec_pt,
	        .seq = s->seq,
	        .ts = ts,
	        .ssrc = s->opts.ssrc,
	};
	if (n >= 0)
		n = rtp_write(&h, s->fec_buf, (size_t)n, s->fec_pkt,
		              s->fec_pkt_cap);
	ulpfec_begin(&s->fec, s->fec_buf, s->fec_buf_cap); /* the next group */
	if (n >= 0 && s->opts.srtp)
		n = srtpctx_protect(s->opts.srtp, s->fec_pkt, (size_t)n,
		                    s->fec_pkt_cap);
	if (n < 0) {
		sender__add(&s->send_errors, 1);
		return;
	}
	s->seq++;
	sender__send(s, s->fec_pkt, (size_t)n);
}

static void sender__tick(struct pacer *p, uint64_t slot, uint64_t deadline_ns,
                         uint64_t now_ns, void *user)
{
	struct sender *s = user;
	struct rtp_header h = {0};
	int rc, got;

	if (s->ending)
		return;
	got = sender__fill(s);
	if (got < 0) {
		sender__end(s);
		return;
	}
	/* Short of audio: an underrun, except for the last packet of a
	 * file, which is padded with silence. */
	if (got < s->frames &&
	    !(s->file && !s->file->loop &&
	      readahead_position(s->file) >= readahead_length(s->file)))
		sender__add(&s->underruns, 1);
	h.version = RTP_VERSION;
	h.pt = (uint8_t)s->opts.pt;
	h.marker = s->sent_frames == 0;
	h.seq = s->seq;
	h.ts = s->opts.ts0 + (uint32_t)(slot * s->ticks);
	h.ssrc = s->opts.ssrc;
	/* The SRTP trailer's room stays free for srtpctx_protect. */
	size_t room = s->pkt_cap - RTP_HEADER_MIN -
	              (s->opts.srtp ? SRTPCTX_TRAILER : 0);
	if (s->opts.red_distance) {
		/* Encoded aside, then wrapped with the copies. */
		rc = codec_encode(&s->enc, s->pcm, (size_t)s->frames,
		                  s->enc_buf, s->enc_cap);
		if (rc >= 0)
			rc = redenc_write(&s->red, h.seq, h.ts, s->ticks,
			                  s->enc_buf, (size_t)rc,
			                  s->pkt + RTP_HEADER_MIN, room);
		h.pt = (uint8_t)s->opts.red_pt;
	} else {
		rc = codec_encode(&s->enc, s->pcm, (size_t)s->frames,
		                  s->pkt + RTP_HEADER_MIN, room);
	}
	if (rc < 0) {
		sender__add(&s->send_errors, 1);
		return;
	}
	rc = rtp_write(&h, s->pkt + RTP_HEADER_MIN, (size_t)rc, s->pkt,
	               s->pkt_cap);
	bool fec = rc >= 0 && s->opts.fec_percent;
	size_t plain = rc >= 0 ? (size_t)rc : 0;
	if (fec && s->opts.srtp)
		memcpy(s->fec_pkt, s->pkt, plain); /* SRTP works in place */
	if (rc >= 0 && s->opts.srtp)
		rc = srtpctx_protect(s->opts.srtp, s->pkt, (size_t)rc,
		                     s->pkt_cap);
	if (rc < 0) {
		sender__add(&s->send_errors, 1);
		return;
	}
	/* The sequence number counts packets handed to the socket: a
	 * refused send is a loss the receiver should see as one. */
	s->seq++;
	s->sent_frames += (uint64_t)s->frames;
	sender__add(&s->frames_sent, (uint64_t)(got > 0 ? got : 0));
	sender__send(s, s->pkt, (size_t)rc);
	if (fec)
		sender__fec(s, s->opts.srtp ? s->fec_pkt : s->pkt, plain, h.ts);
	if (now_ns > deadline_ns) {
		uint64_t late = now_ns - deadline_ns;
		if (late > s->opts.late_ns)
			sender__add(&s->late, 1);
		if (late >
		    atomic_load_explicit(&s->late_max_ns, memory_order_relaxed))
			atomic_store_explicit(&s->late_max_ns, late,
			                      memory_order_relaxed);
	}
	atomic_store_explicit(&s->skipped, p->pace.skipped,
	                      memory_order_relaxed);
}

/* Runs on the net thread: open the socket and the pacer. */
/* The RTP time of monotonic time t0_ns on the media clock
   (CLOCK_REALTIME): the two clocks read back to back, their difference
   moved onto t0. */
static uint32_t sender__media_ts(uint64_t t0_ns, int rtp_rate)
{
	struct timespec rt, mono;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &rt);
	int64_t off =
	        ((int64_t)rt.tv_sec - (int64_t)mono.tv_sec) * 1000000000LL +
	        (rt.tv_nsec - mono.tv_nsec);
	uint64_t m = (uint64_t)((int64_t)t0_ns + off);
	uint64_t r = (uint64_t)rtp_rate;

	return (uint32_t)(m / 1000000000u * r +
	                  m % 1000000000u * r / 1000000000u);
}

static int sender__open_on_loop(struct netloop *nl, void *arg)
{
	struct sender *s = arg;
	struct udpsock_opts uo;
	char peer[ADDR_TEXT_MAX];
	int rc;

	udpsock_opts_init(&uo);
	uo.peer = (const struct sockaddr *)&s->opts.to;
	if (s->opts.from.ss_family != 0)
		uo.bind = (const struct sockaddr *)&s->opts.from;
	uo.dscp = s->opts.dscp;
	uo.mcast_ifindex = s->opts.mcast_ifindex;
	uo.mcast_ttl = s->opts.mcast_ttl;
	uo.user = s;
	rc = udpsock_open(&s->sock, nl, &uo);
	if (rc < 0) {
		snprintf(s->err, sizeof s->err, "send to %s: %s",
		         addr_format(uo.peer, peer, sizeof peer),
		         udpsock_error(&s->sock));
		udpsock_close(&s->sock, NULL);
		return rc;
	}
	uint64_t t0 = netloop_now_ns() + s->opts.start_delay_ns;
	if (s->opts.media_clock)
		s->opts.ts0 =
		        sender__media_ts(t0, codec_rtp_rate(&s->opts.codec));
	rc = pacer_open(&s->pacer, nl, t0, (uint64_t)s->frames,
	                (uint64_t)s->opts.codec.rate, s->opts.max_burst,
	                sender__tick, s);
	if (rc < 0) {
		snprintf(s->err, sizeof s->err, "send pacing timer: %s",
		         strerror(-rc));
		udpsock_close(&s->sock, NULL);
		return rc;
	}
	s->open_handles = 2;
	return 0;
}

static int sender__start(struct sender *s, struct netloop *nl)
{
	int rc;

	if (s->pkt == NULL || s->started)
		return -EINVAL;
	s->nl = nl;
	s->ending = false;
	s->sent_frames = 0;
	s->seq = s->opts.seq0;
	atomic_store_explicit(&s->finished, 0, memory_order_relaxed);
	/* netloop_call_wait orders everything written above before the call
	 * and its result after it (the mailbox publishes the call). */
	rc = netloop_call_wait(nl, sender__open_on_loop, s);
	if (rc < 0) {
		if (s->err[0] == '\0')
			snprintf(s->err, sizeof s->err, "net thread: %s",
			         strerror(-rc));
		return rc;
	}
	s->started = true;
	return 0;
}

int sender_start_file(struct sender *s, struct netloop *nl,
                      struct readahead *file)
{
	int ch = readahead_channels(file);

	if (ch != s->opts.codec.channels) {
		snprintf(s->err, sizeof s->err,
		         "file stream has %d channels, codec %d", ch,
		         s->opts.codec.channels);
		return -EINVAL;
	}
	s->file = file;
	s->cap = NULL;
	return sender__start(s, nl);
}

int sender_start_capture(struct sender *s, struct netloop *nl,
                         struct sender_capture *cap)
{
	if (cap->channels != s->opts.codec.channels) {
		snprintf(s->err, sizeof s->err,
		         "capture has %d channels, codec %d", cap->channels,
		         s->opts.codec.channels);
		return -EINVAL;
	}
	s->cap = cap;
	s->file = NULL;
	/* Latency bound: two packets plus two capture blocks of jitter. */
	s->cap_backlog_max =
	        2 * (uint64_t)s->frames + 2 * (uint64_t)cap->block_frames;
	return sender__start(s, nl);
}

static int sender__stop_on_loop(struct netloop *nl, void *arg)
{
	(void)nl;
	sender__end(arg);
	return 0;
}

void sender_stop(struct sender *s)
{
	if (!s->started)
		return;
	s->started = false;
	if (sender_finished(s))
		return;
	/* A refused call means the loop has stopped: netloop_stop closed
	 * the handles already. */
	if (netloop_call_wait(s->nl, sender__stop_on_loop, s) < 0)
		return;
	for (int i = 0; i < 2000 && !sender_finished(s); i++) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000};
		nanosleep(&ts, NULL);
	}
}
