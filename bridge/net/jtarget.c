/*
 * The adaptive target delay: the spread histogram, its quantile, late
 * peaks held, the shrink slope (see jtarget.h)
 *
 * Pure code on the caller's clock. Only jtarget_init allocates.
 */
#include "bridge/net/jtarget.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/jitter.h"

/* The adaptive target before any measurement. */
static void jtarget_reset(struct jtarget *t)
{
	const struct jitter_config *c = t->cfg;

	t->target_ns = 1e6 * c->initial_ms;
	if (t->target_ns < 1e6 * c->min_ms)
		t->target_ns = 1e6 * c->min_ms;
	if (t->target_ns > 1e6 * c->max_ms)
		t->target_ns = 1e6 * c->max_ms;
}

int jtarget_init(struct jtarget *t, const struct jitter_config *cfg,
                 double frame_ns)
{
	memset(t, 0, sizeof(*t));
	t->cfg = cfg;
	t->nbins = (unsigned)((uint64_t)cfg->max_ms * 1000 / cfg->bin_us) + 2;
	t->hist = calloc(t->nbins, sizeof(*t->hist));
	if (!t->hist)
		return -ENOMEM;
	t->hist_inc = 1.0;
	t->last_spread = -1.0;
	jtarget_set_frame(t, frame_ns);
	/* Sync: the delay is the media clock's, fixed. */
	t->fixed_ms = cfg->sync_ms    ? cfg->sync_ms
	              : cfg->adaptive ? 0
	                              : cfg->fixed_ms;
	if (t->fixed_ms)
		t->target_ns = 1e6 * t->fixed_ms;
	else
		jtarget_reset(t);
	return 0;
}

void jtarget_clear(struct jtarget *t)
{
	free(t->hist);
	t->hist = NULL;
}

void jtarget_set_frame(struct jtarget *t, double frame_ns)
{
	t->frame_ns = frame_ns;
	t->hist_gain = exp(frame_ns / 1e9 / t->cfg->forget_s);
}

/*
 * The quantile of the histogram is kept incrementally: q_bin is the
 * lowest bin whose weight and all above it exceed the tail allowed
 * ((1 - quantile) x total), q_above the weight strictly above it. Adding a
 * sample moves the pointer by a bin or so, so a packet costs O(1), not a
 * pass over the bins. The invariant: q_above <= tail < q_above +
 * hist[q_bin] (or q_bin = 0).
 */
static void jtarget_settle(struct jtarget *t)
{
	double tail = (1.0 - t->cfg->quantile) * t->hist_total;

	while (t->q_above > tail && t->q_bin + 1 < t->nbins) {
		t->q_bin++;
		t->q_above -= t->hist[t->q_bin];
	}
	while (t->q_bin > 0 && t->q_above + t->hist[t->q_bin] <= tail) {
		t->q_above += t->hist[t->q_bin];
		t->q_bin--;
	}
}

/* Recount q_above from the bins (after a rescale). */
static void jtarget_recount(struct jtarget *t)
{
	t->q_above = 0.0;
	for (unsigned b = t->q_bin + 1; b < t->nbins; b++)
		t->q_above += t->hist[b];
	jtarget_settle(t);
}

void jtarget_forget(struct jtarget *t)
{
	memset(t->hist, 0, t->nbins * sizeof(*t->hist));
	t->hist_total = 0.0;
	t->hist_inc = 1.0;
	t->q_bin = 0;
	t->q_above = 0.0;
	if (!t->fixed_ms)
		jtarget_reset(t);
}

void jtarget_set_fixed(struct jtarget *t, unsigned ms)
{
	t->fixed_ms = ms;
	if (ms)
		t->target_ns = 1e6 * ms;
}

/*
 * Each new sample weighs hist_gain times more than the one before;
 * rescale before the weights overflow. A spread beyond the largest delay
 * allowed cannot be served by any target (a stall, or a jump in the
 * sender's timeline): it is left out rather than pin the target at its
 * maximum.
 */
void jtarget_add(struct jtarget *t, double spread_ns)
{
	if (spread_ns < 0.0)
		spread_ns = 0.0;
	t->last_spread = spread_ns;
	uint64_t bin = (uint64_t)(spread_ns / (1000.0 * t->cfg->bin_us));
	if (bin < t->nbins) {
		t->hist[bin] += t->hist_inc;
		t->hist_total += t->hist_inc;
		if (bin > t->q_bin)
			t->q_above += t->hist_inc;
		t->hist_inc *= t->hist_gain;
		jtarget_settle(t);
	}
	if (t->hist_inc > 1e200) {
		for (unsigned b = 0; b < t->nbins; b++)
			t->hist[b] /= t->hist_inc;
		t->hist_total /= t->hist_inc;
		t->hist_inc = 1.0;
		jtarget_recount(t);
	}
}

double jtarget_quantile_ns(const struct jtarget *t)
{
	/* The upper edge of the quantile's bin. */
	return t->hist_total > 0.0
	               ? (double)(t->q_bin + 1) * t->cfg->bin_us * 1e3
	               : 0.0;
}

/*
 * A late packet's (or repair's) spread is a peak the percentile (1 in 100
 * packets may exceed it) lets through. The target covers it for peak_hold_s: a
 * host or a path that stalls now and then is then heard to glitch once, not
 * once per stall. A late packet counts only after the first second of
 * playout: what comes late then is the start's own transient (threads,
 * pages and files being set up on a busy machine), and the quantile sees
 * it anyway. A late repair counts from the first (jtarget_peak).
 */
#define JTARGET_PEAK_AFTER_NS 1000000000ull

void jtarget_peak(struct jtarget *t, double spread_ns, uint64_t arrival_ns)
{
	if (spread_ns < 0.0)
		return;
	/* A new peak replaces an expired or a lower one. */
	if (arrival_ns > t->peak_until || spread_ns > t->peak_ns)
		t->peak_ns = spread_ns;
	t->peak_until = arrival_ns + (uint64_t)(t->cfg->peak_hold_s * 1e9);
}

void jtarget_late(struct jtarget *t, double spread_ns, uint64_t arrival_ns,
                  uint64_t playing_since_ns)
{
	if (arrival_ns >= playing_since_ns + JTARGET_PEAK_AFTER_NS)
		jtarget_peak(t, spread_ns, arrival_ns);
}

/* What the spread asks for: the percentile (or a peak held) + frame +
   margin, in the limits. */
static double jtarget_wanted(struct jtarget *t)
{
	const struct jitter_config *c = t->cfg;
	double q = jtarget_quantile_ns(t);
	double peak = t->last_tick < t->peak_until ? t->peak_ns : 0.0;
	double raw = (q > peak ? q : peak) + t->frame_ns + 1e6 * c->margin_ms;

	t->spread_ms = q / 1e6;
	if (raw < 1e6 * c->min_ms)
		raw = 1e6 * c->min_ms;
	if (raw > 1e6 * c->max_ms)
		raw = 1e6 * c->max_ms;
	return raw;
}

void jtarget_tick(struct jtarget *t, uint64_t now_ns, double max_shrink)
{
	double dt = t->last_tick && now_ns > t->last_tick
	                    ? (double)(now_ns - t->last_tick)
	                    : 0.0;

	t->last_tick = now_ns;
	t->target_rate = 0.0;
	if (t->fixed_ms) {
		t->target_ns = 1e6 * t->fixed_ms;
		return;
	}
	if (t->hist_total <= 0.0)
		return;
	double raw = jtarget_wanted(t);
	if (raw >= t->target_ns ||
	    (t->cfg->drop_ms > 0.0 &&
	     t->target_ns - raw >= 1e6 * t->cfg->drop_ms)) {
		t->target_ns = raw;
		return;
	}
	/* Down at the shrink rate: a slope the consumer follows by
	   time-scaling (jitter_target_rate). */
	double rate = t->cfg->shrink_ms_per_s / 1e3;
	if (max_shrink < rate)
		rate = max_shrink > 0.0 ? max_shrink : 0.0;
	double down = rate * dt;
	if (t->target_ns - down > raw) {
		t->target_ns -= down;
		t->target_rate = -rate;
	} else {
		t->target_ns = raw;
	}
}
