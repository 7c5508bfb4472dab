/*
 * The jitter buffer: slots by extended sequence number, the RTP -> local
 * time map, and the adaptive target delay
 *
 * Pure code on the caller's clock (see jitter.h). Only jitter_init and
 * jitter_clear allocate or free; everything else is bounded work on the
 * slot ring and the histogram, safe in the audio callback. Times are ns
 * (int64), RTP times are extended to 64 bits against the latest packet.
 */
#include "bridge/net/jitter.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/rtp.h"

enum { JITTER_IDLE = 0, JITTER_PRIMING, JITTER_PLAYING };

enum {
	JITTER_SLOT_EMPTY = 0,
	JITTER_SLOT_HELD,
	JITTER_SLOT_PLAYED,
	JITTER_SLOT_CONCEALED,
};

#define JITTER_NS 1000000000LL

void jitter_config_default(struct jitter_config *cfg, int rtp_rate,
                           uint32_t frame_ticks)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->rtp_rate = rtp_rate;
	cfg->frame_ticks = frame_ticks;
	cfg->adaptive = true;
	cfg->fixed_ms = 40;
	cfg->initial_ms = 40;
	cfg->min_ms = 0;
	cfg->max_ms = 500;
	cfg->margin_ms = 2;
	cfg->quantile = 0.99;
	cfg->forget_s = 10.0;
	cfg->shrink_ms_per_s = 1.5;
	cfg->peak_hold_s = 30.0;
	cfg->bin_us = 500;
	cfg->resync_ms = 1000;
	cfg->dry_ms = 200;
	cfg->sync_ms = 0;
	cfg->media_offset = 0;
}

static int jitter_config_ok(const struct jitter_config *c)
{
	if (c->rtp_rate <= 0 || c->frame_ticks == 0 ||
	    c->frame_ticks > (uint32_t)c->rtp_rate)
		return 0;
	if (c->capacity &&
	    ((c->capacity & (c->capacity - 1)) || c->capacity < 4 ||
	     c->capacity > JITTER_MAX_CAPACITY))
		return 0;
	if (c->max_ms == 0 || c->max_ms > 10000 || c->min_ms > c->max_ms)
		return 0;
	if (!c->adaptive && (c->fixed_ms == 0 || c->fixed_ms > 10000))
		return 0;
	if (!(c->quantile > 0.0 && c->quantile < 1.0) || !(c->forget_s > 0.0) ||
	    !(c->peak_hold_s >= 0.0) || !(c->margin_ms >= 0.0))
		return 0;
	if (c->bin_us == 0 || c->shrink_ms_per_s < 0.0 || c->resync_ms == 0)
		return 0;
	return 1;
}

/* RTP ticks to ns without overflow for any realistic span. */
static int64_t jitter_ticks_ns(const struct jitter *j, int64_t t)
{
	int64_t r = j->cfg.rtp_rate;

	return t / r * JITTER_NS + t % r * JITTER_NS / r;
}

/* Media time of RTP time ts, ns from the stream's start. */
static int64_t jitter_media_ns(const struct jitter *j, int64_t ts)
{
	return jitter_ticks_ns(j, ts - j->ts_ref);
}

/* Local time at which RTP time ts is due for playout: when it arrives
   along the transit floor, plus the target and one consumer period. */
static int64_t jitter_due(const struct jitter *j, int64_t ts)
{
	if (j->cfg.sync_ms)
		/* Its media time + the fixed delay, on the local clock. */
		return j->media_ref + jitter_media_ns(j, ts) - j->media_off +
		       (int64_t)j->target_ns;
	double at = clockfit_when(&j->fit, (double)jitter_media_ns(j, ts));

	return (int64_t)llround(at) + (int64_t)j->target_ns + j->period_ns;
}

/*
 * Sync mode: the media clock time of RTP time ts arriving at local time
 * `arrival`. The 32-bit timestamp is placed on the media clock nearest to
 * the arrival (it was stamped less than half a wrap ago: 12 hours at 48
 * kHz), so no history is needed.
 */
static int64_t jitter_media_of(const struct jitter *j, uint32_t ts,
                               uint64_t arrival)
{
	int64_t now = (int64_t)arrival + j->media_off;
	int64_t r = j->cfg.rtp_rate;
	/* RTP time now, on the media clock, mod 2^32 */
	int64_t ticks =
	        now / 1000000000 * r + now % 1000000000 * r / 1000000000;
	uint32_t expect = (uint32_t)ticks + j->cfg.media_offset;
	int32_t back = (int32_t)(expect - ts); /* ticks since ts, signed */

	return now - jitter_ticks_ns(j, back);
}

void jitter_set_media_offset(struct jitter *j, int64_t media_minus_local_ns)
{
	j->media_off = media_minus_local_ns;
}

/* The adaptive target before any measurement. */
static void jitter_reset_target(struct jitter *j)
{
	j->target_ns = 1e6 * j->cfg.initial_ms;
	if (j->target_ns < 1e6 * j->cfg.min_ms)
		j->target_ns = 1e6 * j->cfg.min_ms;
	if (j->target_ns > 1e6 * j->cfg.max_ms)
		j->target_ns = 1e6 * j->cfg.max_ms;
	j->target_raw = j->target_ns;
}

int jitter_init(struct jitter *j, const struct jitter_config *cfg,
                jitter_release_fn *release, void *arg)
{
	memset(j, 0, sizeof(*j));
	if (!jitter_config_ok(cfg) || !release)
		return -EINVAL;
	j->cfg = *cfg;
	j->release = release;
	j->arg = arg;
	j->frame_ns = (double)jitter_ticks_ns(j, cfg->frame_ticks);

	unsigned cap = cfg->capacity;
	if (!cap) {
		/* Room for max_ms of packets ahead of playout, twice over
		   (reordering, bursts after a stall), plus slack; counted
		   in packets of at most the configured frame and at most
		   2.5 ms, since the sender's real packets may be shorter
		   (jitter_set_frame). */
		double frame_ns = j->frame_ns < 2.5e6 ? j->frame_ns : 2.5e6;
		double need = 2.0 * cfg->max_ms * 1e6 / frame_ns + 32.0;
		cap = 64;
		while (cap < need && cap < JITTER_MAX_CAPACITY)
			cap <<= 1;
	}
	j->slots = calloc(cap, sizeof(*j->slots));
	if (!j->slots)
		return -ENOMEM;
	j->mask = cap - 1;
	j->nbins = (unsigned)((uint64_t)cfg->max_ms * 1000 / cfg->bin_us) + 2;
	j->hist = calloc(j->nbins, sizeof(*j->hist));
	if (!j->hist)
		goto fail_slots;
	struct clockfit_config fc;
	clockfit_config_default(&fc);
	if (clockfit_init(&j->fit, &fc) < 0)
		goto fail_hist;
	j->hist_inc = 1.0;
	j->hist_gain = exp(j->frame_ns / 1e9 / cfg->forget_s);
	/* Sync: the delay is the media clock's, fixed. */
	j->fixed_ms = cfg->sync_ms    ? cfg->sync_ms
	              : cfg->adaptive ? 0
	                              : cfg->fixed_ms;
	if (j->fixed_ms) {
		j->target_ns = 1e6 * j->fixed_ms;
		j->target_raw = j->target_ns;
	} else {
		jitter_reset_target(j);
	}
	return 0;

fail_hist:
	free(j->hist);
	j->hist = NULL;
fail_slots:
	free(j->slots);
	j->slots = NULL;
	return -ENOMEM;
}

/* A slot's state, if it belongs to the current epoch (else empty). */
static uint8_t jitter_slot_state(const struct jitter *j,
                                 const struct jitter_slot *s)
{
	return s->epoch == j->epoch ? s->state : (uint8_t)JITTER_SLOT_EMPTY;
}

/* Hand every held packet back and forget the slot history: the held ones
   lie between next_seq and high_seq; every other slot is forgotten by
   moving to a new epoch, so the cost follows what is held, not the
   capacity. */
static void jitter_flush(struct jitter *j)
{
	unsigned released = 0;

	for (uint64_t seq = j->next_seq;
	     released < j->held && seq <= j->high_seq &&
	     seq - j->next_seq <= j->mask;
	     seq++) {
		struct jitter_slot *s = &j->slots[seq & j->mask];
		if (jitter_slot_state(j, s) == JITTER_SLOT_HELD &&
		    s->seq == seq && s->pkt) {
			j->release(j->arg, s->pkt);
			s->pkt = NULL;
			s->state = JITTER_SLOT_EMPTY;
			released++;
		}
	}
	/* Held packets lie in that window by construction; should one not,
	   a full pass still gives every record back. */
	for (uint64_t i = 0; released < j->held && i <= j->mask; i++) {
		struct jitter_slot *s = &j->slots[i];
		if (jitter_slot_state(j, s) == JITTER_SLOT_HELD && s->pkt) {
			j->release(j->arg, s->pkt);
			s->pkt = NULL;
			s->state = JITTER_SLOT_EMPTY;
			released++;
		}
	}
	if (++j->epoch == 0) {
		/* Once in 2^32 flushes: no slot may keep a stale epoch. */
		memset(j->slots, 0, (j->mask + 1) * sizeof(*j->slots));
		j->epoch = 1;
	}
	j->held = 0;
	j->state = JITTER_IDLE;
}

void jitter_clear(struct jitter *j)
{
	if (j->slots)
		jitter_flush(j);
	free(j->slots);
	free(j->hist);
	j->slots = NULL;
	j->hist = NULL;
}

/*
 * The quantile of the delay-spread histogram is kept incrementally: q_bin
 * is the lowest bin whose weight and all above it exceed the tail allowed
 * ((1 - quantile) x total), q_above the weight strictly above it. Adding a
 * sample moves the pointer by a bin or so, so a packet costs O(1), not a
 * pass over the bins. The invariant: q_above <= tail < q_above +
 * hist[q_bin] (or q_bin = 0).
 */
static void jitter_hist_settle(struct jitter *j)
{
	double tail = (1.0 - j->cfg.quantile) * j->hist_total;

	while (j->q_above > tail && j->q_bin + 1 < j->nbins) {
		j->q_bin++;
		j->q_above -= j->hist[j->q_bin];
	}
	while (j->q_bin > 0 && j->q_above + j->hist[j->q_bin] <= tail) {
		j->q_above += j->hist[j->q_bin];
		j->q_bin--;
	}
}

/* Recount q_above from the bins (after a rescale or a reset). */
static void jitter_hist_recount(struct jitter *j)
{
	j->q_above = 0.0;
	for (unsigned b = j->q_bin + 1; b < j->nbins; b++)
		j->q_above += j->hist[b];
	jitter_hist_settle(j);
}

/* Quantile of the delay-spread histogram, ns (upper edge of its bin). */
static double jitter_quantile_ns(const struct jitter *j)
{
	return j->hist_total > 0.0
	               ? (double)(j->q_bin + 1) * j->cfg.bin_us * 1e3
	               : 0.0;
}

/*
 * A packet came too late for its slot: its delay is a peak the percentile
 * (1 in 100 packets may exceed it) lets through. The target covers it for
 * peak_hold_s from now: a host or a path that stalls now and then is then
 * heard to glitch once, not once per stall.
 */
#define JITTER_PEAK_AFTER_NS 1000000000ull

static void jitter_peak(struct jitter *j, uint64_t arrival)
{
	/* Not in the first second of playout: what comes late then is the
	   start's own transient (threads, pages and files being set up on
	   a busy machine), and the quantile sees it anyway. */
	if (j->last_spread < 0.0 ||
	    arrival < j->playing_since + JITTER_PEAK_AFTER_NS)
		return;
	/* A new peak replaces an expired or a lower one. */
	if (arrival > j->peak_until || j->last_spread > j->peak_ns)
		j->peak_ns = j->last_spread;
	j->peak_until = arrival + (uint64_t)(j->cfg.peak_hold_s * 1e9);
}

/* What the spread asks for: the percentile (or a peak held) + frame +
   margin, in the limits. */
static double jitter_wanted(struct jitter *j)
{
	double q = jitter_quantile_ns(j);
	double peak = j->last_tick < j->peak_until ? j->peak_ns : 0.0;
	double raw =
	        (q > peak ? q : peak) + j->frame_ns + 1e6 * j->cfg.margin_ms;

	j->st.spread_ms = q / 1e6;
	if (raw < 1e6 * j->cfg.min_ms)
		raw = 1e6 * j->cfg.min_ms;
	if (raw > 1e6 * j->cfg.max_ms)
		raw = 1e6 * j->cfg.max_ms;
	return raw;
}

void jitter_tick(struct jitter *j, uint64_t now_ns, double max_shrink)
{
	double dt = j->last_tick && now_ns > j->last_tick
	                    ? (double)(now_ns - j->last_tick)
	                    : 0.0;

	j->last_tick = now_ns;
	j->target_rate = 0.0;
	if (j->fixed_ms) {
		j->target_ns = 1e6 * j->fixed_ms;
		return;
	}
	if (j->hist_total <= 0.0)
		return;
	double raw = jitter_wanted(j);
	j->target_raw = raw;
	if (raw >= j->target_ns) {
		j->target_ns = raw;
		return;
	}
	/* Down at the shrink rate: a slope the consumer follows by
	   time-scaling (jitter_target_rate). */
	double rate = j->cfg.shrink_ms_per_s / 1e3;
	if (max_shrink < rate)
		rate = max_shrink > 0.0 ? max_shrink : 0.0;
	double down = rate * dt;
	if (j->target_ns - down > raw) {
		j->target_ns -= down;
		j->target_rate = -rate;
	} else {
		j->target_ns = raw;
	}
}

double jitter_target_rate(const struct jitter *j)
{
	return j->target_rate;
}

double jitter_drift(const struct jitter *j)
{
	return -clockfit_slope(&j->fit);
}

/* Account the timing of one arriving packet (transit = arrival - media
   time, ns): the floor's fit, the RFC 3550 jitter, the spread histogram. */
static void jitter_measure(struct jitter *j, uint64_t arrival, int64_t transit)
{
	clockfit_add(&j->fit, (int64_t)arrival, transit);
	/* RFC 3550 6.4.1: J += (|D| - J) / 16, D from consecutive arrivals. */
	double d = (double)(transit - j->last_transit);
	j->jitter_ns += (fabs(d) - j->jitter_ns) / 16.0;
	j->last_transit = transit;
	if (arrival > j->last_arrival)
		j->last_arrival = arrival;

	/* Histogram with exponential forgetting: each new sample weighs
	   hist_gain times more than the one before; rescale before the
	   weights overflow. The height above the floor is the spread (a
	   packet below the fitted line counts as on it). A spread beyond the
	   largest delay allowed cannot be served by any target (a stall, or a
	   jump in the sender's timeline): it is left out rather than pin the
	   target at its maximum. Only while playing: what comes in before
	   playout starts (a burst of queued packets, the backlog after a
	   stall) says nothing of a steady stream's jitter, and would hold the
	   target up for the histogram's memory. */
	j->last_spread = -1.0;
	if (j->state != JITTER_PLAYING)
		return;
	double spread =
	        (double)transit - clockfit_at(&j->fit, (int64_t)arrival);
	if (spread < 0.0)
		spread = 0.0;
	j->last_spread = spread;
	uint64_t bin = (uint64_t)(spread / (1000.0 * j->cfg.bin_us));
	if (bin < j->nbins) {
		j->hist[bin] += j->hist_inc;
		j->hist_total += j->hist_inc;
		if (bin > j->q_bin)
			j->q_above += j->hist_inc;
		j->hist_inc *= j->hist_gain;
		jitter_hist_settle(j);
	}
	if (j->hist_inc > 1e200) {
		for (unsigned b = 0; b < j->nbins; b++)
			j->hist[b] /= j->hist_inc;
		j->hist_total /= j->hist_inc;
		j->hist_inc = 1.0;
		jitter_hist_recount(j);
	}
}

/* Hold p in its slot s. */
static void jitter_hold(struct jitter *j, struct jitter_slot *s,
                        struct packet *p, uint64_t seq, int64_t ts)
{
	s->pkt = p;
	s->seq = seq;
	s->ts = ts;
	s->state = JITTER_SLOT_HELD;
	s->epoch = j->epoch;
	j->held++;
}

/* Begin a stream at packet p: new time map, new sequence window. */
static void jitter_start(struct jitter *j, struct packet *p)
{
	int64_t ts = (int64_t)p->rtp_ts;

	j->ts_ref = ts;
	j->last_ts = ts;
	j->last_ts32 = p->rtp_ts;
	/* A new timeline on the same clocks: the floor starts again, its
	   slope so far kept as the prior. */
	clockfit_restart(&j->fit);
	if (j->cfg.sync_ms)
		j->media_ref = jitter_media_of(j, p->rtp_ts, p->arrival_ns);
	j->last_transit = (int64_t)p->arrival_ns;
	j->last_arrival = p->arrival_ns;
	j->next_seq = p->ext_seq;
	j->high_seq = p->ext_seq;
	j->jumps = 0;
	j->dry_ticks = 0;
	j->state = JITTER_PRIMING;
	j->fresh = true;
	j->stopped = false;
	jitter_measure(j, p->arrival_ns, (int64_t)p->arrival_ns);

	j->held = 0;
	jitter_hold(j, &j->slots[p->ext_seq & j->mask], p, p->ext_seq, ts);
}

static int jitter_resync(struct jitter *j, struct packet *p)
{
	jitter_flush(j);
	j->st.resyncs++;
	jitter_start(j, p);
	return JITTER_RESYNC;
}

static int jitter_drop(struct jitter *j, struct packet *p, int verdict)
{
	switch (verdict) {
	case JITTER_DUPLICATE:
		j->st.duplicate++;
		break;
	case JITTER_LATE:
		j->st.late++;
		break;
	default:
		j->st.invalid++;
		break;
	}
	j->release(j->arg, p);
	return verdict;
}

/* The transit of packet p (extended timestamp ts), and how far it lies
   above the schedule's floor (*off, ns). Return: whether it is too far off
   the schedule (resync_ms either way) to be one of this timeline's. */
static bool jitter_off_schedule(const struct jitter *j, const struct packet *p,
                                int64_t ts, int64_t *transit)
{
	*transit = (int64_t)p->arrival_ns - jitter_media_ns(j, ts);
	int64_t off =
	        *transit -
	        (int64_t)llround(clockfit_at(&j->fit, (int64_t)p->arrival_ns));
	return off > (int64_t)j->cfg.resync_ms * 1000000 ||
	       off < -(int64_t)j->cfg.resync_ms * 1000000;
}

/*
 * A packet restored from a redundant copy (PACKET_RECOVERED): taken only
 * into an empty slot still ahead of playout, and never measured (it
 * arrived with a later packet: its transit says nothing of the network's,
 * and a target raised for it would add the latency RED must not). The
 * net thread sends one only for a number it has not seen, but the
 * original may still have come first (reordering): then it is dropped
 * here as a copy. Not counted as received; counted as recovered when it
 * plays.
 */
static int jitter_insert_recovered(struct jitter *j, struct packet *p)
{
	uint64_t seq = p->ext_seq;
	struct jitter_slot *s = &j->slots[seq & j->mask];

	if (j->state == JITTER_IDLE || seq < j->next_seq ||
	    seq >= j->next_seq + j->mask + 1 ||
	    (jitter_slot_state(j, s) == JITTER_SLOT_HELD && s->seq == seq)) {
		j->release(j->arg, p);
		return JITTER_DROPPED;
	}
	int64_t ts = j->last_ts + rtp_ts_diff(p->rtp_ts, j->last_ts32);
	int64_t transit;
	if (jitter_off_schedule(j, p, ts, &transit) ||
	    jitter_slot_state(j, s) == JITTER_SLOT_HELD)
		return jitter_drop(j, p, JITTER_DROPPED);
	jitter_hold(j, s, p, seq, ts);
	if (seq > j->high_seq)
		j->high_seq = seq;
	return JITTER_BUFFERED;
}

int jitter_insert(struct jitter *j, struct packet *p)
{
	if (p->flags & PACKET_RECOVERED)
		return jitter_insert_recovered(j, p);
	j->st.received++;
	if (j->state == JITTER_IDLE) {
		jitter_start(j, p);
		return JITTER_BUFFERED;
	}
	if (p->flags & PACKET_RESTART)
		return jitter_resync(j, p);

	uint64_t seq = p->ext_seq;
	if (seq >= j->next_seq + j->mask + 1)
		/* Beyond the window: the sender restarted or came back after
		   a long silence. Either way the old schedule is void. */
		return jitter_resync(j, p);

	int64_t ts = j->last_ts + rtp_ts_diff(p->rtp_ts, j->last_ts32);
	int64_t transit;
	if (jitter_off_schedule(j, p, ts, &transit)) {
		/* A timestamp far off the schedule: one is noise, two in a
		   row is a new timeline. */
		if (++j->jumps >= 2)
			return jitter_resync(j, p);
		return jitter_drop(j, p, JITTER_DROPPED);
	}
	j->jumps = 0;
	j->last_ts = ts;
	j->last_ts32 = p->rtp_ts;

	/* The delay statistics take each sequence number's first copy only
	   (a packet kept, or one that came too late: both measure the
	   network); a copy would count a packet twice, and a flood of them
	   would bend the target. */
	struct jitter_slot *s = &j->slots[seq & j->mask];
	if (seq < j->next_seq) {
		if (s->seq == seq &&
		    jitter_slot_state(j, s) == JITTER_SLOT_PLAYED)
			return jitter_drop(j, p, JITTER_DUPLICATE);
		jitter_measure(j, p->arrival_ns, transit);
		if (s->seq == seq &&
		    jitter_slot_state(j, s) == JITTER_SLOT_CONCEALED) {
			jitter_peak(j, p->arrival_ns);
			return jitter_drop(j, p, JITTER_LATE);
		}
		/* Before the start while waiting to start: extend the
		   window down if it still spans everything held. */
		if (j->state != JITTER_PRIMING || j->high_seq - seq > j->mask)
			return jitter_drop(j, p, JITTER_LATE);
		j->next_seq = seq;
	} else if (jitter_slot_state(j, s) == JITTER_SLOT_HELD &&
	           s->seq == seq) {
		return jitter_drop(j, p, JITTER_DUPLICATE);
	} else {
		jitter_measure(j, p->arrival_ns, transit);
	}
	if (jitter_slot_state(j, s) == JITTER_SLOT_HELD) {
		if (s->seq == seq)
			return jitter_drop(j, p, JITTER_DUPLICATE);
		/* A held packet outside the window cannot exist (the window
		   is one ring wide); refuse rather than overwrite. */
		return jitter_drop(j, p, JITTER_DROPPED);
	}
	jitter_hold(j, s, p, seq, ts);
	if (seq < j->high_seq)
		j->st.reordered++;
	else
		j->high_seq = seq;
	return JITTER_BUFFERED;
}

/* The held slot with the lowest sequence number, or NULL. */
static struct jitter_slot *jitter_lowest(const struct jitter *j)
{
	if (!j->held)
		return NULL;
	for (uint64_t seq = j->next_seq; seq <= j->high_seq; seq++) {
		struct jitter_slot *s = &j->slots[seq & j->mask];
		if (jitter_slot_state(j, s) == JITTER_SLOT_HELD &&
		    s->seq == seq)
			return s;
		if (seq - j->next_seq > j->mask)
			break;
	}
	return NULL;
}

/* Whether some held packet is still in time for the schedule. */
static bool jitter_any_in_time(const struct jitter *j, int64_t now_ns)
{
	for (uint64_t seq = j->next_seq;
	     seq <= j->high_seq && seq - j->next_seq <= j->mask; seq++) {
		const struct jitter_slot *s = &j->slots[seq & j->mask];
		if (jitter_slot_state(j, s) == JITTER_SLOT_HELD &&
		    s->seq == seq &&
		    jitter_due(j, s->ts) + (int64_t)j->frame_ns >= now_ns)
			return true;
	}
	return false;
}

/*
 * While waiting: start when the first packet is due. Nothing held is
 * dropped here: packets the schedule has left behind while newer ones are
 * in time (a burst of queued packets at a stream's start, the backlog of a
 * network stall) are played from the first, and the consumer sheds the
 * excess (netstream skips ahead, recording everything). If no held packet
 * is in time, the sender's timeline itself moved (it paused without
 * advancing its timestamps): the map is re-anchored on the first packet,
 * as if it had arrived with the minimum transit time.
 */
static int jitter_prime(struct jitter *j, uint64_t now_ns)
{
	struct jitter_slot *s = jitter_lowest(j);

	/* Sync: a packet past its media time + delay is late, whatever
	   else is held; the schedule is the media clock's, never moved. */
	while (j->cfg.sync_ms && s &&
	       jitter_due(j, s->ts) + (int64_t)j->frame_ns < (int64_t)now_ns) {
		j->release(j->arg, s->pkt);
		s->pkt = NULL;
		s->state = JITTER_SLOT_CONCEALED;
		s->epoch = j->epoch;
		j->held--;
		j->st.late++;
		j->next_seq = s->seq + 1;
		s = jitter_lowest(j);
	}
	if (!s)
		return 0;
	int64_t due = jitter_due(j, s->ts);
	if (due + (int64_t)j->frame_ns < (int64_t)now_ns &&
	    !jitter_any_in_time(j, (int64_t)now_ns)) {
		/* Due at its arrival + target, or now if that has passed
		   too: the floor is pinned there. */
		int64_t at = (int64_t)s->pkt->arrival_ns;
		int64_t transit = at - jitter_media_ns(j, s->ts);
		clockfit_pin(&j->fit, at, transit);
		due = jitter_due(j, s->ts);
		if (due < (int64_t)now_ns) {
			clockfit_pin(&j->fit, at,
			             transit + (int64_t)now_ns - due);
			due = (int64_t)now_ns;
		}
	}
	if (due > (int64_t)now_ns)
		return 0;
	j->next_seq = s->seq;
	j->pos_ts = s->ts;
	j->state = JITTER_PLAYING;
	j->playing_since = now_ns;
	j->dry_ticks = 0;
	if (j->stopped)
		j->st.rebuffers++;
	j->stopped = false;
	return 1;
}

int jitter_next(struct jitter *j, uint64_t now_ns, struct jitter_out *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = JITTER_WAIT;
	if (j->state == JITTER_IDLE)
		return out->kind;
	if (j->state == JITTER_PRIMING && !jitter_prime(j, now_ns))
		return out->kind;

	uint32_t frame = j->cfg.frame_ticks;
	struct jitter_slot *s = &j->slots[j->next_seq & j->mask];
	if (jitter_slot_state(j, s) == JITTER_SLOT_HELD &&
	    s->seq == j->next_seq) {
		if (s->ts - j->pos_ts >= (int64_t)frame) {
			/* The sender skipped time (a pause without a
			   sequence gap): fill it, one frame at a time. */
			j->pos_ts += frame;
			out->kind = JITTER_MISSING;
			out->ticks = frame;
			out->next = s->pkt;
			return out->kind;
		}
		if (j->dry_ticks > 0 &&
		    (int64_t)now_ns + (int64_t)(j->frame_ns / 2) <
		            jitter_due(j, j->pos_ts)) {
			/* Coming out of a dry run (a stall) ahead of a
			   schedule the stall pushed later (the target rose):
			   the glitch is there already, so the buffer grows
			   to its new target now, by concealment inserted
			   before the packet, rather than by seconds of
			   slowing down. */
			out->kind = JITTER_MISSING;
			out->ticks = frame;
			out->insert = true;
			j->st.inserted++;
			return out->kind;
		}
		out->kind = JITTER_PACKET;
		out->pkt = s->pkt;
		out->ticks = frame;
		if (s->pkt->flags & PACKET_RECOVERED)
			j->st.recovered++;
		out->restart = j->fresh;
		j->fresh = false;
		s->pkt = NULL;
		s->state = JITTER_SLOT_PLAYED;
		s->epoch = j->epoch;
		j->held--;
		j->next_seq++;
		j->pos_ts = s->ts + frame;
		j->dry_ticks = 0;
		return out->kind;
	}

	out->kind = JITTER_MISSING;
	out->ticks = frame;
	if ((int64_t)now_ns + (int64_t)(j->frame_ns / 2) <
	    jitter_due(j, j->pos_ts)) {
		/* Not due yet: we are ahead of the schedule. Conceal in its
		   place and keep waiting for it; this stretches the buffer
		   back towards the target. */
		out->insert = true;
		j->st.inserted++;
		return out->kind;
	}
	/* Its time has come: it is lost. */
	j->st.lost++;
	s->seq = j->next_seq;
	s->state = JITTER_SLOT_CONCEALED;
	s->epoch = j->epoch;
	s->pkt = NULL;
	j->next_seq++;
	j->pos_ts += frame;
	struct jitter_slot *n = &j->slots[j->next_seq & j->mask];
	if (jitter_slot_state(j, n) == JITTER_SLOT_HELD &&
	    n->seq == j->next_seq)
		out->next = n->pkt;
	if (j->held == 0) {
		out->dry = true;
		if (j->dry_ticks == 0) {
			j->st.underruns++;
			j->dry_seq = s->seq;
		}
		j->dry_ticks += frame;
		if (jitter_ticks_ns(j, j->dry_ticks) >=
		    (int64_t)j->cfg.dry_ms * 1000000) {
			/* The sender went quiet: stop concealing and wait,
			   keeping the time map for when it comes back. The
			   numbers concealed while dry were never seen: if a
			   paused sender goes on with them, they are not
			   late, so forget them. */
			for (uint64_t q = j->dry_seq; q < j->next_seq; q++) {
				struct jitter_slot *d = &j->slots[q & j->mask];
				if (d->seq == q &&
				    jitter_slot_state(j, d) ==
				            JITTER_SLOT_CONCEALED)
					d->state = JITTER_SLOT_EMPTY;
			}
			j->next_seq = j->dry_seq;
			j->state = JITTER_PRIMING;
			j->stopped = true;
			j->dry_ticks = 0;
		}
	} else {
		j->dry_ticks = 0;
	}
	return out->kind;
}

int64_t jitter_wait_ns(const struct jitter *j, uint64_t now_ns)
{
	if (j->state == JITTER_PLAYING)
		return 0;
	const struct jitter_slot *s = jitter_lowest(j);
	if (j->state == JITTER_IDLE || !s)
		return INT64_MAX;
	int64_t w = jitter_due(j, s->ts) - (int64_t)now_ns;
	return w > 0 ? w : 0;
}

int64_t jitter_error_ns(const struct jitter *j, uint64_t now_ns,
                        int64_t back_ticks)
{
	if (j->state != JITTER_PLAYING)
		return 0;
	return (int64_t)now_ns - jitter_due(j, j->pos_ts - back_ticks);
}

void jitter_adjust(struct jitter *j, int64_t ticks)
{
	j->pos_ts += ticks;
}

void jitter_set_frame(struct jitter *j, uint32_t ticks)
{
	if (ticks == 0 || ticks > (uint32_t)j->cfg.rtp_rate ||
	    ticks == j->cfg.frame_ticks)
		return;
	j->cfg.frame_ticks = ticks;
	j->frame_ns = (double)jitter_ticks_ns(j, ticks);
	/* The histogram forgets per packet: keep its memory forget_s long
	   whatever the packets' length. */
	j->hist_gain = exp(j->frame_ns / 1e9 / j->cfg.forget_s);
}

void jitter_set_clock(struct jitter *j, int rate)
{
	if (rate <= 0 || rate == j->cfg.rtp_rate)
		return;
	/* Where the next frame is due now, on the old scale ... */
	bool playing = j->state == JITTER_PLAYING;
	int64_t due = playing ? jitter_due(j, j->pos_ts) : 0;
	uint32_t old = j->cfg.frame_ticks;
	uint32_t frame =
	        (uint32_t)llround((double)old * rate / j->cfg.rtp_rate);

	j->cfg.rtp_rate = rate;
	j->cfg.frame_ticks = frame ? frame : 1;
	/* The packet handed out last was as long on the new clock. */
	if (playing)
		j->pos_ts += (int64_t)j->cfg.frame_ticks - (int64_t)old;
	j->frame_ns = (double)jitter_ticks_ns(j, j->cfg.frame_ticks);
	j->hist_gain = exp(j->frame_ns / 1e9 / j->cfg.forget_s);
	memset(j->hist, 0, j->nbins * sizeof(*j->hist));
	j->hist_total = 0.0;
	j->hist_inc = 1.0;
	j->q_bin = 0;
	j->q_above = 0.0;
	/* What the spread asked for on the wrong scale is void too. */
	if (!j->fixed_ms)
		jitter_reset_target(j);
	/* ... and there still, on the new one: the floor is pinned so. */
	if (playing) {
		int64_t at = due - (int64_t)j->target_ns - j->period_ns;
		clockfit_pin(&j->fit, at, at - jitter_media_ns(j, j->pos_ts));
	} else {
		const struct jitter_slot *l = jitter_lowest(j);
		if (l && l->pkt) {
			int64_t at = (int64_t)l->pkt->arrival_ns;
			clockfit_pin(&j->fit, at,
			             at - jitter_media_ns(j, l->ts));
		}
	}
}

void jitter_set_fixed(struct jitter *j, unsigned ms)
{
	j->fixed_ms = ms;
	if (ms)
		j->target_ns = 1e6 * ms;
}

void jitter_set_period(struct jitter *j, int64_t ns)
{
	j->period_ns = ns;
}

bool jitter_ready(const struct jitter *j)
{
	const struct jitter_slot *s = &j->slots[j->next_seq & j->mask];

	return j->state == JITTER_PLAYING &&
	       jitter_slot_state(j, s) == JITTER_SLOT_HELD &&
	       s->seq == j->next_seq && s->ts - j->pos_ts < j->cfg.frame_ticks;
}

bool jitter_playing(const struct jitter *j)
{
	return j->state == JITTER_PLAYING;
}

unsigned jitter_held(const struct jitter *j)
{
	return j->held;
}

double jitter_target_ms(const struct jitter *j)
{
	return j->target_ns / 1e6;
}

void jitter_stats(const struct jitter *j, struct jitter_stats *st)
{
	*st = j->st;
	st->jitter_ms = j->jitter_ns / 1e6;
	st->target_ms = j->target_ns / 1e6;
}
