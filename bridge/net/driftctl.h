/*
 * driftctl: the playout controller of one network stream
 *
 * Pure state and two step functions, no clock of its own, no allocation.
 * It keeps apart what it estimates from what it corrects:
 *
 * - estimates: the sender's clock against the local clock (the slope of
 *   the transit floor, fitted by the jitter buffer from arrival times and
 *   RTP timestamps, jitter_drift) and the consumer's clock against the
 *   local clock (the slope of the floor of callback times against frames
 *   pulled, fitted here by driftctl_tick). Their quotient is the drift:
 *   how many of the sender's frames the consumer must take per frame it
 *   plays to stay level. It is fed forward, and it is what drift_ppm
 *   reports: never an integral wound up by the corrections.
 * - corrections: the buffer-level error (playout delay minus target) is
 *   brought to zero by a proportional term with time constant loop_s, and
 *   a target that slides (the jitter buffer lowering its target) is
 *   followed by feeding its slope forward. Both are time-scaling within
 *   the slew left after the drift, so the total pitch deviation never
 *   exceeds slew_ppm (or the drift itself, if that is larger).
 *
 * The consumer's clock is also what the stream reads its time from:
 * driftctl_tick returns the time at which the frames of this pull play,
 * along the fitted floor, so that a callback woken late (a busy machine,
 * a device that runs two callbacks back to back) neither looks late to
 * the schedule nor moves the estimate.
 *
 * Context: the audio thread (the stream's pull) owns it; real-time safe.
 */
#ifndef RTB_NET_DRIFTCTL_H
#define RTB_NET_DRIFTCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/net/clockfit.h"

struct driftctl_config {
	double slew_ppm;       /* largest correction beyond the drift */
	double drift_max_ppm;  /* clamp of the drift estimate */
	double device_max_ppm; /* clamp of the consumer's part: a device
	                          whose pulls lag more than a crystal can is
	                          losing cycles to xruns, not drifting
	                          (default 1000) */
	double loop_s;         /* time constant of the level correction, s */
	int rate;              /* the consumer's frames per second */
	struct clockfit_config device; /* fit of the consumer's clock */
};

struct driftctl {
	struct driftctl_config cfg;
	struct clockfit dev; /* floor of (callback time - frames / rate) */
	uint64_t frames;     /* frames pulled so far */
	double drift;        /* the estimate: sender vs consumer, parts */
	double correction;   /* the time-scaling part, parts */
	double level;        /* the part of it that corrects the level */
	double ratio;        /* consumed frames per played frame */
};

/*
 * Defaults: slew 2000 ppm, drift clamp 1000 ppm, 1 s loop, the device fit
 * with 0.5 s windows over 20 s
 *
 * Context: any
 */
void driftctl_config_default(struct driftctl_config *cfg, int rate);

/*
 * Return: 0, or -EINVAL for a configuration out of range
 * Context: any (no allocation)
 */
int driftctl_init(struct driftctl *d, const struct driftctl_config *cfg);

/*
 * A pull of `frames` starts at local time now_ns: account the consumer's
 * clock
 *
 * Return: the time at which this pull's first frame plays along the
 *         consumer's fitted clock, ns (equal to now_ns on the first pull)
 * Context: audio thread, real-time safe
 */
uint64_t driftctl_tick(struct driftctl *d, uint64_t now_ns, size_t frames);

/*
 * Set the resampling ratio for this pull
 *
 * sender_drift: jitter_drift() (parts, + = sender fast);
 * error_s: playout delay minus target, s (+ = too much buffered: take
 * faster); target_rate: jitter_target_rate() (negative: the target
 * shrinks, so take faster)
 *
 * Return: frames to consume per frame played (1 = neither)
 * Context: audio thread, real-time safe
 */
double driftctl_step(struct driftctl *d, double sender_drift, double error_s,
                     double target_rate);

/*
 * Return: how fast a target may slide now, parts (ns per ns): the slew
 *         left after the drift and the level correction, 0 when none is
 * Context: audio thread, real-time safe
 */
double driftctl_room(const struct driftctl *d);

/*
 * The consumer's clock against the local one, from the pulls' fit
 * (parts of one, + = the consumer plays fast)
 * Context: the audio thread (the owner)
 */
double driftctl_device(const struct driftctl *d);

/*
 * The stream stopped playing (waiting for packets): forget the correction,
 * keep the estimates
 *
 * Context: audio thread, real-time safe
 */
void driftctl_idle(struct driftctl *d);

#endif
