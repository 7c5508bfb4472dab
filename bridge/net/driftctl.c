/*
 * driftctl: drift fed forward, level corrected within the slew (see
 * driftctl.h)
 */
#include "bridge/net/driftctl.h"

#include <errno.h>
#include <math.h>
#include <string.h>

void driftctl_config_default(struct driftctl_config *cfg, int rate)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->slew_ppm = 2000.0;
	cfg->drift_max_ppm = 1000.0;
	cfg->device_max_ppm = 1000.0;
	cfg->loop_s = 1.0;
	cfg->rate = rate;
	clockfit_config_default(&cfg->device);
}

int driftctl_init(struct driftctl *d, const struct driftctl_config *cfg)
{
	memset(d, 0, sizeof(*d));
	if (!(cfg->slew_ppm >= 0.0) || !(cfg->drift_max_ppm >= 0.0) ||
	    !(cfg->device_max_ppm >= 0.0) || !(cfg->loop_s > 0.0) ||
	    cfg->rate <= 0)
		return -EINVAL;
	d->cfg = *cfg;
	d->ratio = 1.0;
	return clockfit_init(&d->dev, &cfg->device);
}

uint64_t driftctl_tick(struct driftctl *d, uint64_t now_ns, size_t frames)
{
	/* Frames played so far, as ns of the consumer's nominal clock. */
	uint64_t f = d->frames;
	int64_t played = (int64_t)(f / (uint64_t)d->cfg.rate * 1000000000u +
	                           f % (uint64_t)d->cfg.rate * 1000000000u /
	                                   (uint64_t)d->cfg.rate);

	clockfit_add(&d->dev, (int64_t)now_ns, (int64_t)now_ns - played);
	d->frames += frames;
	double at = clockfit_when(&d->dev, (double)played);
	/* The floor lies below the late wake-ups; a callback cannot run
	   before its frames are wanted, so never report a time ahead of
	   the one it was called at. */
	if (at > (double)now_ns || !(at > 0.0))
		return now_ns;
	return (uint64_t)llround(at);
}

/* The slew left after the drift, never less than a quarter of it: a
   target must stay reachable whatever the clocks do. */
static double driftctl__slew(const struct driftctl *d)
{
	double slew = d->cfg.slew_ppm * 1e-6;
	double room = slew - fabs(d->drift);

	return room < slew / 4.0 ? slew / 4.0 : room;
}

double driftctl_room(const struct driftctl *d)
{
	double r = driftctl__slew(d) - fabs(d->level);

	return r > 0.0 ? r : 0.0;
}

static double driftctl__clamp(double v, double lim)
{
	return v > lim ? lim : v < -lim ? -lim : v;
}

double driftctl_device(const struct driftctl *d)
{
	return driftctl__clamp(-clockfit_slope(&d->dev),
	                       d->cfg.device_max_ppm * 1e-6);
}

double driftctl_step(struct driftctl *d, double sender_drift, double error_s,
                     double target_rate)
{
	double lim = d->cfg.drift_max_ppm * 1e-6;
	/* Frames the sender makes per local second, over frames the
	   consumer plays per local second: 1 - slope of each floor. */
	double dev = driftctl_device(d);
	double drift = (1.0 + sender_drift) / (1.0 + dev) - 1.0;

	d->drift = driftctl__clamp(drift, lim);
	double room = driftctl__slew(d);
	d->level = driftctl__clamp(error_s / d->cfg.loop_s, room);
	d->correction = driftctl__clamp(d->level - target_rate, room);
	d->ratio = (1.0 + d->drift) * (1.0 + d->correction);
	return d->ratio;
}

void driftctl_idle(struct driftctl *d)
{
	d->correction = 0.0;
	d->level = 0.0;
	d->ratio = 1.0 + d->drift;
}
