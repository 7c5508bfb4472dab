/*
 * jtarget: the jitter buffer's adaptive target delay
 *
 * Pure code, no clock of its own. The jitter buffer (jitter.h) measures
 * each arriving packet's height above the transit floor (its delay
 * spread) and hands it here. A histogram of the spreads, with a
 * forgetting factor (each sample weighs more than the one before, so the
 * last forget_s seconds of packets dominate), gives a high percentile of
 * the spread; the target is that percentile + one frame + a margin,
 * within [min_ms, max_ms]. It rises at once when the spread grows and
 * falls at a limited rate (a slope the consumer follows by time-scaling)
 * when it shrinks, or at once from drop_ms above (the consumer skips);
 * it moves once per pull (jtarget_tick). A packet that
 * came too late anyway (a peak the percentile lets through) holds the
 * target above its own spread for peak_hold_s. In fixed mode (fixed_ms
 * set) the target is fixed_ms and the histogram is not consulted.
 *
 * Only jtarget_init allocates (the histogram) and jtarget_clear frees;
 * everything else is O(1) per packet or per tick.
 * Context: one owner at a time (the audio thread, through the jitter
 * buffer); not thread-safe, real-time safe.
 */
#ifndef RTB_NET_JTARGET_H
#define RTB_NET_JTARGET_H

#include <stdint.h>

struct jitter_config;

struct jtarget {
	const struct jitter_config *cfg; /* the jitter buffer's */
	double *hist;                    /* spread histogram, bin_us bins */
	unsigned nbins;
	double hist_inc;     /* weight of the next sample */
	double hist_total;   /* weight of all samples */
	double hist_gain;    /* per-sample growth of hist_inc (forgetting) */
	unsigned q_bin;      /* the quantile's bin (kept incrementally) */
	double q_above;      /* histogram weight above q_bin */
	double last_spread;  /* the last packet measured (-1: not measured) */
	double peak_ns;      /* the largest spread of a late packet, held ... */
	uint64_t peak_until; /* ... until then (local ns) */
	double target_ns;
	double target_rate; /* ns per ns, negative while shrinking */
	uint64_t last_tick; /* jtarget_tick's previous now, ns */
	double frame_ns;
	double spread_ms; /* the quantile at the last tick, for the stats */
	unsigned fixed_ms;
};

/*
 * Set t up for cfg (kept by pointer: it must outlive t) and packets of
 * frame_ns; the target starts at cfg's fixed, sync or initial delay
 *
 * Return: 0, or -ENOMEM
 * Context: control thread (allocates)
 */
int jtarget_init(struct jtarget *t, const struct jitter_config *cfg,
                 double frame_ns);

/* Free what jtarget_init allocated. Context: control thread */
void jtarget_clear(struct jtarget *t);

/*
 * The packets are frame_ns long now: the histogram forgets per packet, so
 * its memory stays forget_s long whatever the packets' length
 *
 * Context: audio thread, real-time safe
 */
void jtarget_set_frame(struct jtarget *t, double frame_ns);

/*
 * Forget every spread measured (they were on a clock now void) and, in
 * adaptive mode, go back to the initial target
 *
 * Context: audio thread, real-time safe
 */
void jtarget_forget(struct jtarget *t);

/* Fix the target at ms (0: adaptive again). Context: audio thread */
void jtarget_set_fixed(struct jtarget *t, unsigned ms);

/*
 * One packet's spread above the floor, ns (a negative spread counts as
 * 0); spread < 0 means the packet was not measured (not yet playing)
 *
 * Context: audio thread, real-time safe
 */
void jtarget_add(struct jtarget *t, double spread_ns);

/* The last packet measured was not measured. Context: audio thread */
static inline void jtarget_skip(struct jtarget *t)
{
	t->last_spread = -1.0;
}

/*
 * A packet came too late for its slot, spread_ns above the floor (the
 * packet measured last: last_spread): hold the target above that spread
 * for peak_hold_s from arrival (jtarget_peak), unless playout began less
 * than a second before (then it is the start's own transient). A
 * negative spread (not measured) holds nothing.
 *
 * Context: audio thread, real-time safe
 */
void jtarget_late(struct jtarget *t, double spread_ns, uint64_t arrival_ns,
                  uint64_t playing_since_ns);

/*
 * Hold the target above spread_ns for peak_hold_s from arrival_ns,
 * whenever it comes: a repair restored too late (a RED copy, a parity
 * rebuild) is late by the sender's design, D packets after its
 * original, not by a start's transient, and is held from the first one.
 * A negative spread holds nothing.
 *
 * Context: audio thread, real-time safe
 */
void jtarget_peak(struct jtarget *t, double spread_ns, uint64_t arrival_ns);

/*
 * Once per pull: move the target (raised to what the spread asks for at
 * once, lowered over the time since the last tick at the shrink rate, or
 * at max_shrink (ns per ns) if that is lower; lowered at once if it is
 * drop_ms or more above)
 *
 * Context: audio thread, real-time safe
 */
void jtarget_tick(struct jtarget *t, uint64_t now_ns, double max_shrink);

/* Return: the quantile of the spread, ns (0 before any sample). */
double jtarget_quantile_ns(const struct jtarget *t);

#endif
