/*
 * test_clockfit and driftctl: the floor of a one-sided delay, and the
 * controller that feeds its slope forward
 *
 * Synthetic samples on a scripted clock: a floor with a known slope, noise
 * above it only (uniform, or rare large delays), steps of the floor. Seeded.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>

#include "bridge/net/clockfit.h"
#include "bridge/net/driftctl.h"

#define MS 1000000LL /* ns */

TestSuite(clockfit, .timeout = 30);
TestSuite(driftctl, .timeout = 30);

static double rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (double)(*s >> 11) / 9007199254740992.0;
}

/* Feed `secs` of samples every `step` ns: floor = slope * t + offset,
   plus noise uniform in [0, noise_ms]. */
static void feed(struct clockfit *f, int64_t t0, double secs, int64_t step,
                 double slope, double offset_ms, double noise_ms, uint64_t *rng)
{
	for (int64_t t = t0; t < t0 + (int64_t)(secs * 1e9); t += step) {
		double y = slope * (double)(t - t0) + offset_ms * 1e6 +
		           noise_ms * 1e6 * rnd(rng);
		clockfit_add(f, t, (int64_t)llround(y));
	}
}

static void fit_init(struct clockfit *f)
{
	struct clockfit_config c;

	clockfit_config_default(&c);
	cr_assert_eq(clockfit_init(f, &c), 0);
}

Test(clockfit, rejects_a_bad_configuration)
{
	struct clockfit f;
	struct clockfit_config c;

	clockfit_config_default(&c);
	c.windows = CLOCKFIT_MAX_WINDOWS + 1;
	cr_assert_eq(clockfit_init(&f, &c), -EINVAL);
	clockfit_config_default(&c);
	c.window_ns = 0;
	cr_assert_eq(clockfit_init(&f, &c), -EINVAL);
}

Test(clockfit, finds_the_slope_of_a_clean_floor)
{
	struct clockfit f;
	uint64_t rng = 1;

	fit_init(&f);
	feed(&f, 5000 * MS, 30.0, 5 * MS, -500e-6, 7.0, 0.05, &rng);
	cr_assert(fabs(clockfit_slope(&f) + 500e-6) < 2e-6, "slope %g",
	          clockfit_slope(&f));
	/* The line lies on the floor, not on the noise. */
	int64_t x = 5000 * MS + 29 * 1000 * MS;
	double floor = -500e-6 * 29e9 + 7e6;
	cr_assert(fabs(clockfit_at(&f, x) - floor) < 0.1e6, "at %f floor %f",
	          clockfit_at(&f, x), floor);
}

Test(clockfit, slope_under_20_ms_of_uniform_jitter_is_within_10_ppm)
{
	for (uint64_t seed = 1; seed <= 8; seed++) {
		struct clockfit f;
		uint64_t rng = seed * 0x9e3779b97f4a7c15ull;

		fit_init(&f);
		feed(&f, 0, 30.0, 10 * MS, 300e-6, 20.0, 20.0, &rng);
		cr_assert(fabs(clockfit_slope(&f) - 300e-6) < 10e-6,
		          "seed %llu: slope %g", (unsigned long long)seed,
		          clockfit_slope(&f));
	}
}

Test(clockfit, a_short_history_leans_on_the_prior)
{
	struct clockfit f;
	uint64_t rng = 7;

	fit_init(&f);
	/* Two seconds with a large apparent slope: mostly noise to a fit
	   that knows how little two seconds tell. */
	feed(&f, 0, 2.5, 10 * MS, 0.0, 0.0, 2.0, &rng);
	cr_assert(fabs(clockfit_slope(&f)) < 300e-6, "slope %g",
	          clockfit_slope(&f));
}

Test(clockfit, one_busy_window_leaves_no_trace)
{
	struct clockfit f;
	uint64_t rng = 3;

	fit_init(&f);
	feed(&f, 0, 10.0, 5 * MS, 0.0, 0.0, 0.1, &rng);
	/* One second in which every sample is 30 ms late. */
	feed(&f, 10000 * MS, 1.0, 5 * MS, 0.0, 30.0, 0.1, &rng);
	feed(&f, 11000 * MS, 10.0, 5 * MS, 0.0, 0.0, 0.1, &rng);
	cr_assert(fabs(clockfit_slope(&f)) < 2e-6, "slope %g",
	          clockfit_slope(&f));
	cr_assert_eq(f.steps, 0);
	cr_assert(fabs(clockfit_at(&f, 20000 * MS)) < 0.2e6);
}

Test(clockfit, a_faster_path_moves_the_floor_down_at_once)
{
	struct clockfit f;
	uint64_t rng = 4;

	fit_init(&f);
	feed(&f, 0, 10.0, 5 * MS, 0.0, 20.0, 0.1, &rng);
	feed(&f, 10000 * MS, 2.1, 5 * MS, 0.0, 5.0, 0.1, &rng);
	cr_assert_geq(f.steps, 1);
	cr_assert(fabs(clockfit_at(&f, 12000 * MS) - 5e6) < 0.3e6, "at %f",
	          clockfit_at(&f, 12000 * MS));
	cr_assert(fabs(clockfit_slope(&f)) < 5e-6);
}

Test(clockfit, a_slower_path_that_lasts_moves_the_floor_up)
{
	struct clockfit f;
	uint64_t rng = 5;

	fit_init(&f);
	feed(&f, 0, 10.0, 5 * MS, 0.0, 5.0, 0.1, &rng);
	feed(&f, 10000 * MS, 6.0, 5 * MS, 0.0, 25.0, 0.1, &rng);
	cr_assert_geq(f.steps, 1);
	cr_assert(fabs(clockfit_at(&f, 16000 * MS) - 25e6) < 0.3e6, "at %f",
	          clockfit_at(&f, 16000 * MS));
	cr_assert(fabs(clockfit_slope(&f)) < 5e-6, "slope %g",
	          clockfit_slope(&f));
}

Test(clockfit, when_inverts_the_map)
{
	struct clockfit f;
	uint64_t rng = 6;

	fit_init(&f);
	feed(&f, 1000 * MS, 20.0, 5 * MS, 200e-6, 3.0, 0.0, &rng);
	/* x - y(x) = m at x = when(m). */
	int64_t x = 1000 * MS + 15 * 1000 * MS;
	double m = (double)x - clockfit_at(&f, x);
	cr_assert(fabs(clockfit_when(&f, m) - (double)x) < 1e3, "%f vs %lld",
	          clockfit_when(&f, m), (long long)x);
}

Test(clockfit, pin_moves_the_line_through_a_point_keeping_the_slope)
{
	struct clockfit f;
	uint64_t rng = 8;

	fit_init(&f);
	feed(&f, 0, 20.0, 5 * MS, 100e-6, 0.0, 0.0, &rng);
	double b = clockfit_slope(&f);
	clockfit_pin(&f, 20000 * MS, 50 * MS);
	cr_assert(fabs(clockfit_at(&f, 20000 * MS) - 50e6) < 1e3);
	cr_assert(fabs(clockfit_slope(&f) - b) < 1e-12);
}

static void ctl_init(struct driftctl *d)
{
	struct driftctl_config c;

	driftctl_config_default(&c, 48000);
	cr_assert_eq(driftctl_init(d, &c), 0);
}

Test(driftctl, feeds_the_drift_forward_and_reports_it)
{
	struct driftctl d;

	ctl_init(&d);
	double r = driftctl_step(&d, 300e-6, 0.0, 0.0);
	cr_assert(fabs(r - (1.0 + 300e-6)) < 1e-9, "ratio %.9f", r);
	cr_assert(fabs(d.drift - 300e-6) < 1e-12);
	/* A level error moves the ratio, never the drift. */
	r = driftctl_step(&d, 300e-6, 0.5e-3, 0.0);
	cr_assert(r > 1.0 + 300e-6);
	cr_assert(fabs(d.drift - 300e-6) < 1e-12);
}

Test(driftctl, correction_stays_within_the_slew_left_after_the_drift)
{
	struct driftctl d;

	ctl_init(&d);
	double r = driftctl_step(&d, 500e-6, 1.0, 0.0); /* a second late */
	cr_assert(fabs(r - (1.0 + 500e-6) * (1.0 + 1500e-6)) < 1e-9,
	          "ratio %.9f", r);
	/* Nothing left for a sliding target while the level is off. */
	cr_assert(driftctl_room(&d) < 1e-9);
	r = driftctl_step(&d, 500e-6, 0.0, 0.0);
	cr_assert(fabs(driftctl_room(&d) - 1500e-6) < 1e-9);
	/* A shrinking target is followed by taking faster. */
	r = driftctl_step(&d, 0.0, 0.0, -1e-3);
	cr_assert(fabs(r - 1.001) < 1e-9, "ratio %.9f", r);
}

Test(driftctl, late_callbacks_neither_look_late_nor_move_the_estimate)
{
	struct driftctl d;
	uint64_t rng = 11;

	ctl_init(&d);
	/* 128-frame periods for 30 s; wake-ups 0..1 ms late, and one in
	   a hundred 20 ms late followed by the periods owed back to back. */
	uint64_t now = 0;
	for (uint64_t k = 0; k < 30 * 375; k++) {
		uint64_t due = k * 128 * 1000000000ull / 48000;
		uint64_t t = due + (uint64_t)(rnd(&rng) * 1e6);
		if (rnd(&rng) < 0.01)
			t += 20 * MS;
		now = t > now ? t : now + 1000;
		uint64_t at = driftctl_tick(&d, now, 128);
		if (k > 375 * 5)
			cr_assert(at + 2 * MS >= due && at <= due + 2 * MS,
			          "period %llu due %llu at %llu",
			          (unsigned long long)k,
			          (unsigned long long)due,
			          (unsigned long long)at);
	}
	double r = driftctl_step(&d, 0.0, 0.0, 0.0);
	cr_assert(fabs(r - 1.0) < 5e-6, "ratio %.9f", r);
}

Test(clockfit, a_step_after_a_long_history_keeps_the_known_slope)
{
	struct clockfit f;
	uint64_t rng = 9;

	fit_init(&f);
	feed(&f, 0, 20.0, 10 * MS, -300e-6, 20.0, 10.0, &rng);
	/* The path gets 8 ms faster; three noisy seconds follow. */
	feed(&f, 20000 * MS, 3.0, 10 * MS, -300e-6, 20.0 - 6.0 - 8.0, 10.0,
	     &rng);
	cr_assert_geq(f.steps, 1);
	cr_assert(fabs(clockfit_slope(&f) + 300e-6) < 10e-6, "slope %g",
	          clockfit_slope(&f));
}

/* A device that loses a period (5.33 ms) to an xrun every 4 s, and a path
   that gets 3 ms faster once: each step moves the floor, none moves the
   slope, which keeps the whole history behind it. */
Test(clockfit, steps_up_and_down_keep_the_slope)
{
	struct clockfit f;
	uint64_t rng = 77;
	const double slope = -500e-6, lost_ms = 256.0 / 48.0;
	double offset_ms = 0.0;

	fit_init(&f);
	for (int k = 0; k < 12; k++) {
		int64_t t0 = (int64_t)k * 4000 * MS;
		feed(&f, t0, 4.0, 5 * MS, slope, offset_ms + slope * t0 / 1e6,
		     0.1, &rng);
		offset_ms += k == 6 ? -3.0 : lost_ms;
	}
	cr_log_info("slope %.2f ppm after %llu steps", clockfit_slope(&f) * 1e6,
	            (unsigned long long)f.steps);
	cr_expect(f.steps >= 10, "steps %llu", (unsigned long long)f.steps);
	cr_expect(fabs(clockfit_slope(&f) - slope) < 5e-6, "slope %.2f ppm",
	          clockfit_slope(&f) * 1e6);
}
