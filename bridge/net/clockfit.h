/*
 * clockfit: the floor of a one-sided delay, as a straight line
 *
 * Pure code, no clock of its own, no allocation. The caller feeds samples
 * (x, y): x a local time, y a delay measured at x (local time minus the
 * media time the sample carries), both in ns. The noise on y is one-sided:
 * a packet never arrives before its fastest possible transit, a callback
 * never wakes before its deadline. So the floor of y is the clean signal,
 * and its slope is the rate difference of the two clocks: a media clock
 * running fast by d (parts of one) makes the delay shrink by d per second
 * of local time, slope -d.
 *
 * The fit keeps the minimum of y over each window of local time and fits
 * a line through the last windows' minima by least squares. A short
 * history cannot tell a slope from noise, so the slope is shrunk towards a
 * prior (0 at first, the previous estimate after a step) as a Bayesian
 * estimate would with a prior spread of prior_ppm: a few windows give
 * little weight to their own slope, twenty seconds of them give nearly
 * all. A sample far below the line means the path got faster (or the
 * media time jumped back): the line moves down through it at once. A
 * window minimum far above it for step_windows windows in a row means the
 * path got slower (or a device lost time to an xrun): the line moves up by
 * the least of them. Either way the kept minima move with the line, so a
 * step costs the slope none of its history (the clocks did not change with
 * the path). Otherwise one busy window above the line (a machine that
 * stalled its network thread) leaves no trace.
 * Context: one owner at a time (the audio thread for the jitter buffer's
 * and the controller's fits); not thread-safe, real-time safe.
 */
#ifndef RTB_NET_CLOCKFIT_H
#define RTB_NET_CLOCKFIT_H

#include <stdbool.h>
#include <stdint.h>

/* Window minima kept: the longest history the fit can use. */
#define CLOCKFIT_MAX_WINDOWS 64

struct clockfit_config {
	int64_t window_ns;     /* length of one window of local time */
	unsigned windows;      /* minima fitted, 2..CLOCKFIT_MAX_WINDOWS */
	double prior_ppm;      /* spread of the slope before any evidence */
	double known_ppm;      /* its spread after a step, when the slope was
	                          known from a long history (the clocks did
	                          not change with the path) */
	double noise_ns;       /* expected noise of a window minimum */
	int64_t step_ns;       /* least offset that counts as a step */
	unsigned step_windows; /* windows above the line that make a step */
};

struct clockfit {
	struct clockfit_config cfg;
	bool started;
	int64_t x0, y0; /* origin (the first sample), ns */
	/* Window in progress, relative to x0. */
	int64_t win_end;
	bool win_have;
	int64_t win_x, win_y;
	/* Fitted minima (ring of cfg.windows), s relative to x0. */
	double px[CLOCKFIT_MAX_WINDOWS], py[CLOCKFIT_MAX_WINDOWS];
	unsigned head, n;
	/* Minima above the line, waiting to prove a step. */
	double qx[CLOCKFIT_MAX_WINDOWS], qy[CLOCKFIT_MAX_WINDOWS];
	unsigned nq;
	/* The line y = a + b x (x, y in s relative to x0) and the prior. */
	double a, b, b0;
	double hb;    /* the hull's own slope (unshrunk), for steps */
	bool settle;  /* a sample moved the line down in this window */
	bool known;   /* b0 stands on a long history (see known_ppm) */
	double resid; /* RMS residual of the fitted minima, s */
	uint64_t steps;
};

/*
 * Defaults: 0.5 s windows, 64 of them (32 s), prior 300 ppm (20 ppm once
 * known), noise 0.3 ms, steps of at least 2 ms, 5 windows (2.5 s) above the
 * line for an upward step
 *
 * Context: any
 */
void clockfit_config_default(struct clockfit_config *cfg);

/*
 * Start empty
 *
 * Return: 0, or -EINVAL for a configuration out of range
 * Context: any (no allocation)
 */
int clockfit_init(struct clockfit *f, const struct clockfit_config *cfg);

/*
 * Forget the history; the next sample starts a new line with the current
 * slope as its prior (a new path, the same clocks)
 *
 * Context: the owner, real-time safe
 */
void clockfit_restart(struct clockfit *f);

/*
 * Add a sample: y measured at local time x (ns). Bounded work: O(windows)
 * when a window closes, O(1) otherwise.
 *
 * Pre: x does not go backwards by more than a window
 * Return: true when the line moved (a window closed or a step was taken)
 * Context: the owner, real-time safe
 */
bool clockfit_add(struct clockfit *f, int64_t x, int64_t y);

/*
 * Pin the line through (x, y) with the current slope, and restart the
 * history from there (a caller that knows better, e.g. a stream that
 * re-anchors its schedule)
 *
 * Context: the owner, real-time safe
 */
void clockfit_pin(struct clockfit *f, int64_t x, int64_t y);

/* Return: whether a sample has been added. Context: the owner */
bool clockfit_started(const struct clockfit *f);

/*
 * Return: the floor's value at local time x, ns (0 before any sample)
 * Context: the owner, real-time safe
 */
double clockfit_at(const struct clockfit *f, int64_t x);

/*
 * Return: the slope of the floor (dy/dx: -0.0005 for a media clock 500
 * ppm fast)
 * Context: the owner, real-time safe
 */
double clockfit_slope(const struct clockfit *f);

/*
 * The local time x at which x - y(x) = m: when media time m (ns, on the
 * same origin as the samples' x - y) is reached along the floor
 *
 * Context: the owner, real-time safe
 */
double clockfit_when(const struct clockfit *f, double m);

#endif
