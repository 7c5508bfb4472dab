/*
 * clockfit: window minima and a prior-shrunk least-squares line through
 * them (see clockfit.h)
 *
 * Internally x and y are seconds (doubles) relative to the first sample,
 * so that the sums stay well conditioned whatever the clocks read. All
 * state is inline in struct clockfit: nothing is allocated.
 */
#include "bridge/net/clockfit.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define CLOCKFIT_S 1e9 /* ns per s */
/* History (s) behind a slope that makes it known (clockfit__forget). */
#define CLOCKFIT_KNOWN_S 10.0

void clockfit_config_default(struct clockfit_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->window_ns = 500000000;
	cfg->windows = 64;
	cfg->prior_ppm = 300.0;
	cfg->known_ppm = 20.0;
	cfg->noise_ns = 300000.0;
	cfg->step_ns = 2000000;
	cfg->step_windows = 5;
}

int clockfit_init(struct clockfit *f, const struct clockfit_config *cfg)
{
	memset(f, 0, sizeof(*f));
	if (cfg->window_ns <= 0 || cfg->windows < 2 ||
	    cfg->windows > CLOCKFIT_MAX_WINDOWS || !(cfg->prior_ppm > 0.0) ||
	    !(cfg->known_ppm > 0.0) || !(cfg->noise_ns > 0.0) ||
	    cfg->step_ns <= 0 || cfg->step_windows < 1 ||
	    cfg->step_windows > cfg->windows)
		return -EINVAL;
	f->cfg = *cfg;
	return 0;
}

/* Span of the kept minima, s. */
static double clockfit__span(const struct clockfit *f)
{
	unsigned cap = f->cfg.windows;

	if (f->n < 2)
		return 0.0;
	return f->px[(f->head + cap - 1) % cap] -
	       f->px[(f->head + cap - f->n) % cap];
}

/*
 * Forget the history but not the slope: it becomes the prior. A slope
 * that long evidence stood behind (CLOCKFIT_KNOWN_S of it) is known: the
 * clocks did not change with the path, so the next history must be long
 * before it moves it (a prior spread of known_ppm instead of prior_ppm).
 */
static void clockfit__forget(struct clockfit *f)
{
	f->known = f->known || clockfit__span(f) >= CLOCKFIT_KNOWN_S;
	f->b0 = f->b;
	f->hb = f->b;
	f->settle = false;
	f->n = 0;
	f->nq = 0;
}

void clockfit_restart(struct clockfit *f)
{
	clockfit__forget(f);
	f->started = false;
	f->win_have = false;
}

bool clockfit_started(const struct clockfit *f)
{
	return f->started;
}

/* The line at x (s relative to the origin). */
static double clockfit__line(const struct clockfit *f, double x)
{
	return f->a + f->b * x;
}

/*
 * How far (x, y) lies from the floor just before it: against the lowest
 * of the last few kept minima, each carried to x along the hull's own
 * slope. A step is measured so, locally: the shrunk line leans towards
 * the prior, and a line through the whole history is bent by its noise;
 * either error would stay in the history as a kink.
 */
static double clockfit__rise(const struct clockfit *f, double x, double y)
{
	unsigned cap = f->cfg.windows, m = f->cfg.step_windows;
	double base = HUGE_VAL;

	if (f->n == 0)
		return y - clockfit__line(f, x);
	if (m > f->n)
		m = f->n;
	for (unsigned i = 0; i < m; i++) {
		unsigned k = (f->head + cap - 1 - i) % cap;
		double v = f->py[k] - f->hb * f->px[k];
		base = v < base ? v : base;
	}
	return y - f->hb * x - base;
}

/*
 * The line through the kept minima: the edge of their lower convex hull
 * above their mean time, i.e. the line under every minimum that is
 * closest to them on average (the linear program of Moon, Skelly and
 * Towsley for clock skew in delay measurements). With one-sided noise it
 * converges much faster than least squares: its error shrinks with the
 * lowest minima, not with the average one. A short history cannot tell a
 * slope from noise, so the hull's slope is shrunk towards the prior b0 as
 * a Bayesian estimate with noise s on each minimum and a prior spread p
 * on the slope would weigh them: by Sxx / (Sxx + s^2 / p^2).
 */
static void clockfit__refit(struct clockfit *f)
{
	unsigned n = f->n, cap = f->cfg.windows;
	double hx[CLOCKFIT_MAX_WINDOWS] = {0}, hy[CLOCKFIT_MAX_WINDOWS] = {0};
	unsigned h = 0;
	double mx = 0.0, sxx = 0.0;

	/* Andrew's monotone chain, lower half; the points come in time
	   order. */
	for (unsigned i = 0; i < n; i++) {
		unsigned k = (f->head + cap - n + i) % cap;
		double x = f->px[k], y = f->py[k];
		while (h >= 2 && (hx[h - 1] - hx[h - 2]) * (y - hy[h - 2]) -
		                                 (hy[h - 1] - hy[h - 2]) *
		                                         (x - hx[h - 2]) <=
		                         0.0)
			h--;
		hx[h] = x;
		hy[h] = y;
		h++;
		mx += x;
	}
	mx /= n;
	for (unsigned i = 0; i < n; i++) {
		unsigned k = (f->head + cap - n + i) % cap;
		sxx += (f->px[k] - mx) * (f->px[k] - mx);
	}
	double bh = f->b0, ah = hy[0] - f->b0 * hx[0];
	for (unsigned i = 0; i + 1 < h; i++) {
		if (hx[i + 1] >= mx && hx[i + 1] > hx[i]) {
			bh = (hy[i + 1] - hy[i]) / (hx[i + 1] - hx[i]);
			ah = hy[i] - bh * hx[i];
			break;
		}
	}
	double s = f->cfg.noise_ns / CLOCKFIT_S;
	double p = (f->known ? f->cfg.known_ppm : f->cfg.prior_ppm) * 1e-6;
	double w = sxx / (sxx + s * s / (p * p));
	f->b = w * bh + (1.0 - w) * f->b0;
	f->hb = bh;
	/* Keep the line through the hull's point nearest the mean time. */
	double xm = mx, ym = ah + bh * mx;
	f->a = ym - f->b * xm;
	double rr = 0.0;
	for (unsigned i = 0; i < n; i++) {
		unsigned k = (f->head + cap - n + i) % cap;
		double r = f->py[k] - clockfit__line(f, f->px[k]);
		rr += r * r;
	}
	f->resid = sqrt(rr / n);
}

static void clockfit__keep(struct clockfit *f, double x, double y)
{
	unsigned cap = f->cfg.windows;

	f->px[f->head] = x;
	f->py[f->head] = y;
	f->head = (f->head + 1) % cap;
	if (f->n < cap)
		f->n++;
}

/*
 * A step of d (s): the path (or the device's schedule) changed, the clocks
 * did not. The kept minima move with it, so the slope keeps all the
 * history behind it (a hull is the same shape shifted); the line moves
 * by d.
 */
static void clockfit__move(struct clockfit *f, double d)
{
	unsigned cap = f->cfg.windows;

	for (unsigned i = 0; i < f->n; i++)
		f->py[(f->head + cap - f->n + i) % cap] += d;
	f->a += d;
	f->nq = 0;
}

static void clockfit__shift(struct clockfit *f, double d)
{
	clockfit__move(f, d);
	f->steps++;
}

/* An upward step proved by the minima waiting above the line: by the
   least of them, then they join the history. */
static void clockfit__step_up(struct clockfit *f)
{
	double qx[CLOCKFIT_MAX_WINDOWS], qy[CLOCKFIT_MAX_WINDOWS];
	unsigned nq = f->nq;
	double d = HUGE_VAL;

	memcpy(qx, f->qx, nq * sizeof(double));
	memcpy(qy, f->qy, nq * sizeof(double));
	for (unsigned i = 0; i < nq; i++) {
		double r = clockfit__rise(f, qx[i], qy[i]);
		d = r < d ? r : d;
	}
	clockfit__shift(f, d);
	for (unsigned i = 0; i < nq; i++)
		clockfit__keep(f, qx[i], qy[i]);
	clockfit__refit(f);
}

/* The least offset from the line that is a step, not noise, s. */
static double clockfit__threshold(const struct clockfit *f)
{
	double thr = 4.0 * f->resid;

	if (thr < (double)f->cfg.step_ns / CLOCKFIT_S)
		thr = (double)f->cfg.step_ns / CLOCKFIT_S;
	return thr;
}

/* A window closed with its minimum at (x, y), s. */
static void clockfit__window(struct clockfit *f, double x, double y)
{
	double r = y - clockfit__line(f, x);
	double thr = clockfit__threshold(f);

	/* The window a sample moved the floor down in: its minimum, not
	   that first sample, is where the floor went. */
	if (f->settle) {
		double h = clockfit__rise(f, x, y);
		f->settle = false;
		if (h < 0.0 && h >= -thr) {
			clockfit__move(f, h);
			r -= h;
		}
	}

	if (f->n > 0 && r < -thr) {
		/* Faster than the floor allows: the path itself changed. */
		clockfit__shift(f, r);
		clockfit__keep(f, x, y);
		clockfit__refit(f);
		return;
	}
	if (f->n > 0 && r > thr) {
		/* Slower: a busy moment, or a slower path if it lasts. */
		f->qx[f->nq] = x;
		f->qy[f->nq] = y;
		if (++f->nq >= f->cfg.step_windows)
			clockfit__step_up(f);
		return;
	}
	f->nq = 0;
	clockfit__keep(f, x, y);
	clockfit__refit(f);
}

/* Begin at (x, y): the origin, and a line through it with the prior
   slope. */
static void clockfit__begin(struct clockfit *f, int64_t x, int64_t y)
{
	f->started = true;
	f->x0 = x;
	f->y0 = y;
	f->a = 0.0;
	f->b = f->b0;
	f->hb = f->b0;
	f->settle = false;
	f->resid = 0.0;
	f->n = 0;
	f->nq = 0;
	f->head = 0;
	f->win_have = false;
	f->win_end = f->cfg.window_ns;
}

bool clockfit_add(struct clockfit *f, int64_t x, int64_t y)
{
	bool moved = false;

	if (!f->started)
		clockfit__begin(f, x, y);
	int64_t rx = x - f->x0, ry = y - f->y0;
	if (rx >= f->win_end) {
		if (f->win_have) {
			clockfit__window(f, (double)f->win_x / CLOCKFIT_S,
			                 (double)f->win_y / CLOCKFIT_S);
			moved = true;
		}
		f->win_have = false;
		/* The next window on the grid that holds rx (a long gap
		   skips empty windows). */
		f->win_end += ((rx - f->win_end) / f->cfg.window_ns + 1) *
		              f->cfg.window_ns;
	}
	if (!f->win_have || ry < f->win_y) {
		f->win_have = true;
		f->win_x = rx;
		f->win_y = ry;
	}
	/* A sample below the floor by more than noise can explain: the
	   path got faster, or the media time jumped back (a sender that
	   starts with a burst of what it had queued). Nothing is gained by
	   waiting for the window: the floor and its history move down
	   through it now. */
	double xs = (double)rx / CLOCKFIT_S, ys = (double)ry / CLOCKFIT_S;
	if (ys - clockfit__line(f, xs) < -clockfit__threshold(f)) {
		clockfit__shift(f, clockfit__rise(f, xs, ys));
		f->settle = true;
		moved = true;
	}
	return moved;
}

void clockfit_pin(struct clockfit *f, int64_t x, int64_t y)
{
	if (!f->started) {
		clockfit__begin(f, x, y);
		return;
	}
	int64_t rx = x - f->x0;
	clockfit__forget(f);
	f->a = (double)(y - f->y0) / CLOCKFIT_S -
	       f->b * (double)rx / CLOCKFIT_S;
	f->win_have = false;
	if (rx >= f->win_end)
		f->win_end += ((rx - f->win_end) / f->cfg.window_ns + 1) *
		              f->cfg.window_ns;
}

double clockfit_at(const struct clockfit *f, int64_t x)
{
	if (!f->started)
		return 0.0;
	double xs = (double)(x - f->x0) / CLOCKFIT_S;
	return (double)f->y0 + clockfit__line(f, xs) * CLOCKFIT_S;
}

double clockfit_slope(const struct clockfit *f)
{
	return f->b;
}

double clockfit_when(const struct clockfit *f, double m)
{
	/* x - y0 - (a + b (x - x0)) = m, with u = x - x0:
	   u (1 - b) = m - (x0 - y0) + a, all in ns. */
	double base = (double)(f->x0 - f->y0);
	double u = (m - base + f->a * CLOCKFIT_S) / (1.0 - f->b);
	return (double)f->x0 + u;
}
