/*
 * The jitter buffer's set-up and arrival side: slots by extended sequence
 * number, the RTP -> local time map's measurements, changes of clock and
 * packet length (the pull side is jitter_play.c, the target jtarget.c)
 *
 * Pure code on the caller's clock (see jitter.h). Only jitter_init and
 * jitter_clear allocate or free; everything else is bounded work on the
 * slot ring, safe in the audio callback. Times are ns (int64), RTP times
 * are extended to 64 bits against the latest packet.
 */
#include "bridge/net/jitter.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/jitter_impl.h"
#include "codec/rtp.h"

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
	cfg->drop_ms = 0.0;
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
	if (c->bin_us == 0 || c->shrink_ms_per_s < 0.0 || c->resync_ms == 0 ||
	    !(c->drop_ms >= 0.0))
		return 0;
	return 1;
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

	return now - jitter__ticks_ns(j, back);
}

void jitter_set_media_offset(struct jitter *j, int64_t media_minus_local_ns)
{
	j->media_off = media_minus_local_ns;
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
	j->frame_ns = (double)jitter__ticks_ns(j, cfg->frame_ticks);

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
	struct clockfit_config fc;
	clockfit_config_default(&fc);
	if (clockfit_init(&j->fit, &fc) < 0 ||
	    jtarget_init(&j->tgt, &j->cfg, j->frame_ns) < 0)
		goto fail_slots;
	return 0;

fail_slots:
	free(j->slots);
	j->slots = NULL;
	return -ENOMEM;
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
		if (jitter__slot_state(j, s) == JITTER_SLOT_HELD &&
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
		if (jitter__slot_state(j, s) == JITTER_SLOT_HELD && s->pkt) {
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
	j->slots = NULL;
	jtarget_clear(&j->tgt);
}

void jitter_tick(struct jitter *j, uint64_t now_ns, double max_shrink)
{
	jtarget_tick(&j->tgt, now_ns, max_shrink);
}

double jitter_target_rate(const struct jitter *j)
{
	return j->tgt.target_rate;
}

double jitter_drift(const struct jitter *j)
{
	return -clockfit_slope(&j->fit);
}

/* How far a packet of that transit, arriving then, lies above the
   schedule's floor (its delay spread), ns. */
static double jitter_spread(const struct jitter *j, uint64_t arrival,
                            int64_t transit)
{
	return (double)transit - clockfit_at(&j->fit, (int64_t)arrival);
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

	/* The height above the floor is the spread the target covers. Only
	   while playing: what comes in before playout starts (a burst of
	   queued packets, the backlog after a stall) says nothing of a
	   steady stream's jitter, and would hold the target up for the
	   histogram's memory. */
	if (j->state != JITTER_PLAYING) {
		jtarget_skip(&j->tgt);
		return;
	}
	jtarget_add(&j->tgt, jitter_spread(j, arrival, transit));
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

/* The transit of packet p (extended timestamp ts), ns. Return: whether it
   lies too far off the schedule's floor (resync_ms either way) to be one
   of this timeline's. */
static bool jitter_off_schedule(const struct jitter *j, const struct packet *p,
                                int64_t ts, int64_t *transit)
{
	*transit = (int64_t)p->arrival_ns - jitter__media_ns(j, ts);
	int64_t off =
	        *transit -
	        (int64_t)llround(clockfit_at(&j->fit, (int64_t)p->arrival_ns));
	return off > (int64_t)j->cfg.resync_ms * 1000000 ||
	       off < -(int64_t)j->cfg.resync_ms * 1000000;
}

/*
 * A packet restored from a redundant copy or a parity packet
 * (PACKET_RECOVERED): taken only into an empty slot still ahead of
 * playout, and not measured (it arrived with a later packet: its transit
 * says nothing of the network's). The net thread sends one only for a
 * number it has not seen, but the original may still have come first
 * (reordering): then it is dropped here as a copy. Not counted as
 * received; counted as recovered when it plays.
 *
 * One that comes after its slot was concealed is a repair too late: as a
 * late packet does (jitter_measure's peak), it holds the target above its
 * own delay for a while, so that while the path loses packets the
 * buffer waits as long as a repair takes, and when losses stop the
 * target comes back down: no delay is added while nothing is lost.
 */
static int jitter_insert_recovered(struct jitter *j, struct packet *p)
{
	uint64_t seq = p->ext_seq;
	struct jitter_slot *s = &j->slots[seq & j->mask];

	if (j->state == JITTER_PLAYING && seq < j->next_seq && s->seq == seq &&
	    jitter__slot_state(j, s) == JITTER_SLOT_CONCEALED) {
		int64_t ts = j->last_ts + rtp_ts_diff(p->rtp_ts, j->last_ts32);
		int64_t transit;
		if (!jitter_off_schedule(j, p, ts, &transit)) {
			j->st.late_repairs++;
			jtarget_peak(&j->tgt,
			             jitter_spread(j, p->arrival_ns, transit),
			             p->arrival_ns);
		}
		j->release(j->arg, p);
		return JITTER_DROPPED;
	}
	if (j->state == JITTER_IDLE || seq < j->next_seq ||
	    seq >= j->next_seq + j->mask + 1 ||
	    (jitter__slot_state(j, s) == JITTER_SLOT_HELD && s->seq == seq)) {
		j->release(j->arg, p);
		return JITTER_DROPPED;
	}
	int64_t ts = j->last_ts + rtp_ts_diff(p->rtp_ts, j->last_ts32);
	int64_t transit;
	if (jitter_off_schedule(j, p, ts, &transit) ||
	    jitter__slot_state(j, s) == JITTER_SLOT_HELD)
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
		    jitter__slot_state(j, s) == JITTER_SLOT_PLAYED)
			return jitter_drop(j, p, JITTER_DUPLICATE);
		jitter_measure(j, p->arrival_ns, transit);
		if (s->seq == seq &&
		    jitter__slot_state(j, s) == JITTER_SLOT_CONCEALED) {
			jtarget_late(&j->tgt, j->tgt.last_spread, p->arrival_ns,
			             j->playing_since);
			return jitter_drop(j, p, JITTER_LATE);
		}
		/* Before the start while waiting to start: extend the
		   window down if it still spans everything held. */
		if (j->state != JITTER_PRIMING || j->high_seq - seq > j->mask)
			return jitter_drop(j, p, JITTER_LATE);
		j->next_seq = seq;
	} else if (jitter__slot_state(j, s) == JITTER_SLOT_HELD &&
	           s->seq == seq) {
		return jitter_drop(j, p, JITTER_DUPLICATE);
	} else {
		jitter_measure(j, p->arrival_ns, transit);
	}
	if (jitter__slot_state(j, s) == JITTER_SLOT_HELD) {
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

void jitter_set_frame(struct jitter *j, uint32_t ticks)
{
	if (ticks == 0 || ticks > (uint32_t)j->cfg.rtp_rate ||
	    ticks == j->cfg.frame_ticks)
		return;
	j->cfg.frame_ticks = ticks;
	j->frame_ns = (double)jitter__ticks_ns(j, ticks);
	jtarget_set_frame(&j->tgt, j->frame_ns);
}

void jitter_set_clock(struct jitter *j, int rate)
{
	if (rate <= 0 || rate == j->cfg.rtp_rate)
		return;
	/* Where the next frame is due now, on the old scale ... */
	bool playing = j->state == JITTER_PLAYING;
	int64_t due = playing ? jitter__due(j, j->pos_ts) : 0;
	uint32_t old = j->cfg.frame_ticks;
	uint32_t frame =
	        (uint32_t)llround((double)old * rate / j->cfg.rtp_rate);

	j->cfg.rtp_rate = rate;
	j->cfg.frame_ticks = frame ? frame : 1;
	/* The packet handed out last was as long on the new clock. */
	if (playing)
		j->pos_ts += (int64_t)j->cfg.frame_ticks - (int64_t)old;
	j->frame_ns = (double)jitter__ticks_ns(j, j->cfg.frame_ticks);
	jtarget_set_frame(&j->tgt, j->frame_ns);
	/* What the spread asked for on the wrong scale is void. */
	jtarget_forget(&j->tgt);
	/* ... and there still, on the new one: the floor is pinned so. */
	if (playing) {
		int64_t at = due - (int64_t)j->tgt.target_ns - j->period_ns;
		clockfit_pin(&j->fit, at, at - jitter__media_ns(j, j->pos_ts));
	} else {
		const struct jitter_slot *l = jitter__lowest(j);
		if (l && l->pkt) {
			int64_t at = (int64_t)l->pkt->arrival_ns;
			clockfit_pin(&j->fit, at,
			             at - jitter__media_ns(j, l->ts));
		}
	}
}

void jitter_set_fixed(struct jitter *j, unsigned ms)
{
	jtarget_set_fixed(&j->tgt, ms);
}

void jitter_set_period(struct jitter *j, int64_t ns)
{
	j->period_ns = ns;
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
	return j->tgt.target_ns / 1e6;
}

void jitter_stats(const struct jitter *j, struct jitter_stats *st)
{
	*st = j->st;
	st->jitter_ms = j->jitter_ns / 1e6;
	st->target_ms = j->tgt.target_ns / 1e6;
	st->spread_ms = j->tgt.spread_ms;
}
