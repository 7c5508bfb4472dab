/*
 * jitter_impl: what the two halves of the jitter buffer share (private to
 * jitter.c and jitter_play.c)
 *
 * jitter.c is set-up, the arrival side (insert: the sequence window, the
 * time map's measurements) and the clock's changes; jitter_play.c is the
 * pull side (priming, handing packets out or declaring them missing, the
 * consumer's error against the schedule).
 *
 * Context: audio thread, real-time safe (pure code, see jitter.h).
 */
#ifndef RTB_NET_JITTER_IMPL_H
#define RTB_NET_JITTER_IMPL_H

#include <math.h>

#include "bridge/net/jitter.h"

enum { JITTER_IDLE = 0, JITTER_PRIMING, JITTER_PLAYING };

enum {
	JITTER_SLOT_EMPTY = 0,
	JITTER_SLOT_HELD,
	JITTER_SLOT_PLAYED,
	JITTER_SLOT_CONCEALED,
};

#define JITTER_NS 1000000000LL

/* RTP ticks to ns without overflow for any realistic span. */
static inline int64_t jitter__ticks_ns(const struct jitter *j, int64_t t)
{
	int64_t r = j->cfg.rtp_rate;

	return t / r * JITTER_NS + t % r * JITTER_NS / r;
}

/* Media time of RTP time ts, ns from the stream's start. */
static inline int64_t jitter__media_ns(const struct jitter *j, int64_t ts)
{
	return jitter__ticks_ns(j, ts - j->ts_ref);
}

/* Local time at which RTP time ts is due for playout: when it arrives
   along the transit floor, plus the target and one consumer period. */
static inline int64_t jitter__due(const struct jitter *j, int64_t ts)
{
	if (j->cfg.sync_ms)
		/* Its media time + the fixed delay, on the local clock. */
		return j->media_ref + jitter__media_ns(j, ts) - j->media_off +
		       (int64_t)j->tgt.target_ns;
	double at = clockfit_when(&j->fit, (double)jitter__media_ns(j, ts));

	return (int64_t)llround(at) + (int64_t)j->tgt.target_ns + j->period_ns;
}

/* A slot's state, if it belongs to the current epoch (else empty). */
static inline uint8_t jitter__slot_state(const struct jitter *j,
                                         const struct jitter_slot *s)
{
	return s->epoch == j->epoch ? s->state : (uint8_t)JITTER_SLOT_EMPTY;
}

/* The held slot with the lowest sequence number, or NULL. */
struct jitter_slot *jitter__lowest(const struct jitter *j);

#endif
