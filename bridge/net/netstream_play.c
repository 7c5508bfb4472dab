/*
 * netstream_play: the audio-thread half of a network stream
 *
 * Everything here runs in the audio callback (the mixer pulls the
 * stream's source): records come off the net thread's ring into the
 * jitter buffer, are played out on its schedule, decoded or concealed,
 * written to the stream's recording (its own timeline, before
 * resampling), resampled under the drift loop, and handed back to the
 * net thread's pool. Nothing here allocates, locks or makes a system call.
 * Set-up, the net-thread side and the statistics reader are in
 * netstream.c; the design is described in netstream.h.
 */
#include "bridge/net/netstream.h"

#include <math.h>
#include <string.h>

/* Frames of decoded audio for RTP ticks, and back. */
static size_t netstream_frames(const struct netstream *s, int64_t ticks)
{
	return (size_t)(ticks * s->dec.cfg.rate / s->jit.cfg.rtp_rate);
}

static int64_t netstream_ticks(const struct netstream *s, size_t frames)
{
	return (int64_t)frames * s->jit.cfg.rtp_rate / s->dec.cfg.rate;
}

/* RTP ticks decoded and not yet played: the frames not yet taken by the
   resampler, and those it took and has not played (exact, fractional:
   the input position of the next output frame is known). */
static double netstream_pending(const struct netstream *s)
{
	double f = (double)s->dec_avail;

	if (s->resample)
		f += varispeed_latency(&s->rs);
	return f * s->jit.cfg.rtp_rate / s->dec.cfg.rate;
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

/* Consecutive packets whose timestamps must agree on one wrong ratio
   before the sender's RTP clock is taken to run at another rate. */
#define NETSTREAM_CLOCK_VOTES 8

/*
 * Does the sender's RTP clock run at the rate its packets decode to? An
 * Opus sender that stamps 8 kHz timestamps (RFC 7587 says 48 kHz) or an
 * L16 sender whose clock is another rate than announced advance their
 * timestamps by a fixed ratio of what each packet decodes to. Seen over
 * NETSTREAM_CLOCK_VOTES packets in a row, the jitter buffer is switched
 * to that clock (counted once per switch): the decoded durations win.
 * A single jump (a pause, DTX) resets the count.
 */
static bool netstream_check_clock(struct netstream *s, uint64_t seq,
                                  uint32_t ts, size_t frames)
{
	bool switched = false;
	int64_t ticks = netstream_ticks(s, frames);

	if (s->clk_have && seq == s->clk_seq + 1 && s->clk_ticks > 0) {
		double r = (double)(uint32_t)(ts - s->clk_ts) /
		           (double)s->clk_ticks;
		if (fabs(r - 1.0) < 0.01) {
			s->clk_votes = 0;
		} else if (s->clk_votes &&
		           fabs(r / s->clk_ratio - 1.0) < 0.01) {
			s->clk_votes++;
		} else {
			s->clk_ratio = r;
			s->clk_votes = 1;
		}
		double rate = s->jit.cfg.rtp_rate * s->clk_ratio;
		if (s->clk_votes >= NETSTREAM_CLOCK_VOTES && rate >= 1000.0 &&
		    rate <= 384000.0) {
			jitter_set_clock(&s->jit, (int)llround(rate));
			s->st.clock_mismatch++;
			s->clk_votes = 0;
			ticks = netstream_ticks(s, frames);
			switched = true;
		}
	}
	s->clk_have = true;
	s->clk_seq = seq;
	s->clk_ts = ts;
	s->clk_ticks = ticks;
	return switched;
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
		uint64_t seq = o.pkt->ext_seq;
		uint32_t ts = o.pkt->rtp_ts;
		netstream_packet_return(s, o.pkt);
		if (o.restart)
			s->clk_have = false;
		if (r <= 0) {
			/* Bytes from the network the decoder refuses: count
			   them and play concealment for their time. */
			s->st.decode_errors++;
			n = netstream_conceal(s, want);
			s->st.concealed_frames += n;
		} else {
			n = (size_t)r;
			/* On a switch, the packet already counts as its
			   length on the new clock. */
			if (netstream_check_clock(s, seq, ts, n)) {
				o.ticks = s->jit.cfg.frame_ticks;
				want = netstream_frames(s, o.ticks);
			}
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
		if (r > 0)
			s->st.recovered += (uint64_t)r;
		n = r > 0 ? (size_t)r : netstream_conceal(s, want);
		s->st.concealed_frames += n;
		netstream_record(s, s->decbuf, n);
	}
	s->dec_off = 0;
	s->dec_avail = n;
	s->st.frames_in += n;
	return n;
}

/*
 * Once per pull: measure the buffer level against the schedule and let the
 * controller set the resampling ratio (driftctl.h).
 *
 * Return: frames to consume per frame played
 */
static double netstream_control(struct netstream *s, uint64_t now_ns)
{
	if (!jitter_playing(&s->jit)) {
		driftctl_idle(&s->ctl);
		return 1.0;
	}
	/* Error: how late the next output frame is against its due time.
	   The frames decoded but not yet played come first: a fractional
	   count of ticks (the resampler sits between two input frames), so
	   the due time is interpolated between the two whole ticks around
	   it. Rounded, the level would jump by a frame now and then, and
	   the ratio with it: a pitch wobble of some ppm. */
	double p = netstream_pending(s), whole = floor(p);
	double e0 = (double)jitter_error_ns(&s->jit, now_ns, (int64_t)whole);
	double e1 =
	        (double)jitter_error_ns(&s->jit, now_ns, (int64_t)whole + 1);
	double e = (e0 + (p - whole) * (e1 - e0)) / 1e9;
	s->st.buffer_ms = s->st.target_ms + e * 1e3;
	double c = driftctl_step(&s->ctl, jitter_drift(&s->jit), e,
	                         jitter_target_rate(&s->jit));
	return s->resample ? c : 1.0;
}

/* Packets decoded per pull while skipping ahead: the cost stays bounded
   (an Opus decode is tens of microseconds) and a skip of a quarter of a
   second still takes only a few pulls. */
#define NETSTREAM_SKIP_PACKETS 8

/*
 * Playout runs far behind its schedule: decode and record what comes
 * next (the stream's timeline stays whole) but play none of it, while
 * whole packets fit in the excess, the packet budget lasts and the next
 * packet is here; what waits decoded and in the resampler goes first.
 * Never past the target: a packet longer than what is left is played.
 *
 * Return: frames skipped
 */
static uint64_t netstream_skip(struct netstream *s, uint64_t now,
                               double excess_s)
{
	double ticks = excess_s * s->jit.cfg.rtp_rate;
	double frame = s->jit.cfg.frame_ticks;
	double pending = netstream_pending(s);
	uint64_t skipped = 0;

	if (ticks < pending + frame)
		return 0;
	skipped = s->dec_avail;
	ticks -= pending;
	s->dec_avail = 0;
	s->dec_off = 0;
	for (unsigned k = 0; k < NETSTREAM_SKIP_PACKETS && ticks >= frame &&
	                     jitter_ready(&s->jit);
	     k++) {
		size_t n = netstream_refill(s, now);
		if (n == 0)
			break;
		skipped += n;
		ticks -= (double)netstream_ticks(s, n);
		s->dec_avail = 0;
	}
	if (s->resample)
		varispeed_reset(&s->rs);
	s->st.skipped_frames += skipped;
	return skipped;
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
	/* The time this pull's frames play: when the consumer's period was
	   due, if it says, or on its fitted clock (either way, a callback
	   woken late does not make the stream look late). */
	uint64_t raw = s->cfg.clock(s->cfg.clock_arg);
	int64_t due = s->cfg.due ? s->cfg.due(s->cfg.due_arg) : -1;
	uint64_t now =
	        driftctl_tick(&s->ctl, due > 0 ? (uint64_t)due : raw, frames);
	/* Sync: how the media clock stands against ours, read together
	   (both are vDSO reads, no system call). */
	if (s->jit.cfg.sync_ms)
		jitter_set_media_offset(
		        &s->jit,
		        (int64_t)(s->cfg.media_clock(s->cfg.clock_arg) - raw));
	double rate = s->cfg.out_rate;
	struct packet *p;

	/* Control's latency request: a lone value, nothing else rides on
	   it, so relaxed is enough. */
	int req =
	        atomic_exchange_explicit(&s->req_ms, -1, memory_order_relaxed);
	if (req >= 0)
		jitter_set_fixed(&s->jit, (unsigned)req);
	/* At most what the ring holds: a flood cannot keep the callback
	   here, and what is left waits for the next pull. */
	for (size_t k = ring_capacity(&s->ring);
	     k > 0 && ring_try_pop(&s->ring, &p); k--)
		jitter_insert(&s->jit, p);
	/* A restart flushed the buffer: a dry run before it will never
	   see a packet of its own timeline. */
	if (!jitter_playing(&s->jit))
		netstream_dry_void(s);
	jitter_set_period(&s->jit, (int64_t)((double)frames * 1e9 / rate));
	/* The target slides down only as fast as the level can follow in
	   the slew the drift and the level correction leave. */
	jitter_tick(&s->jit, now, driftctl_room(&s->ctl));
	s->st.target_ms = jitter_target_ms(&s->jit);
	double c = netstream_control(s, now);
	double excess = (s->st.buffer_ms - s->st.target_ms) / 1e3;
	/* Once started, a skip goes down to the target: what is left
	   below skip_ms would still take many seconds to slew. */
	double from = s->skipping ? 1e-3 : s->cfg.skip_ms / 1e3;
	bool skip = s->cfg.skip_ms && jitter_playing(&s->jit) && excess > from;
	if (skip && netstream_skip(s, now, excess) > 0) {
		if (!s->skipping)
			s->st.skips++;
		c = netstream_control(s, now);
	} else {
		skip = false;
	}
	s->skipping = skip;
	s->st.ratio = c;
	s->st.drift_ppm = s->ctl.drift * 1e6;
	s->st.sender_ppm = jitter_drift(&s->jit) * 1e6;
	s->st.device_ppm = driftctl_device(&s->ctl) * 1e6;

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
			double pending = netstream_pending(s);
			if (pending > 0.0)
				t += (uint64_t)llround(pending * 1e9 /
				                       s->jit.cfg.rtp_rate);
			if (netstream_refill(s, t) == 0) {
				/* Nothing to play: let the resampler start
				   from scratch when something comes. */
				if (s->resample)
					varispeed_reset(&s->rs);
				break;
			}
		}
		const float *in = s->decbuf + s->dec_off * ch;
		size_t used, made;
		if (s->resample) {
			/* Takes input only as far as its output needs (a
			   filter's half length ahead): a short output means
			   it took all of dec_avail. */
			varispeed_process(&s->rs, in, s->dec_avail,
			                  out + done * ch, left, s->nominal / c,
			                  &used, &made);
		} else {
			used = made = s->dec_avail < left ? s->dec_avail : left;
			memcpy(out + done * ch, in, made * ch * sizeof(float));
		}
		s->dec_off += used;
		s->dec_avail -= used;
		done += made;
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
	/* Copies are mostly dropped by the net thread, the rest here. */
	s->st.duplicate =
	        js.duplicate +
	        atomic_load_explicit(&s->rx_duplicate, memory_order_relaxed);
	s->st.reordered = js.reordered;
	s->st.recovered_packets = js.recovered;
	s->st.late_repairs = js.late_repairs;
	s->st.underruns = js.underruns - s->dry_underruns - s->void_underruns;
	s->st.resyncs = js.resyncs;
	s->st.rebuffers = js.rebuffers;
	s->st.jitter_ms = js.jitter_ms;
	s->st.spread_ms = js.spread_ms;
	s->st.rx_dropped =
	        atomic_load_explicit(&s->rx_dropped, memory_order_relaxed);
	s->st.rx_invalid =
	        atomic_load_explicit(&s->rx_invalid, memory_order_relaxed);
	s->st.rx_fec = atomic_load_explicit(&s->rx_fec, memory_order_relaxed);
	netstream_publish(s);
	return (int)frames;
}
