/*
 * test_jtarget: the adaptive target delay on its own
 *
 * Spreads fed directly on a scripted clock (5 ms packets): the target is
 * the spread's percentile + a frame + the margin, rises at once, falls at
 * the shrink rate (or slower when the consumer says so), holds a late
 * packet's peak, stays put in fixed mode and starts again after forget.
 */
#include <criterion/criterion.h>
#include <math.h>

#include "bridge/net/jitter.h"
#include "bridge/net/jtarget.h"

#define MS 1000000ull /* ns */

TestSuite(jtarget, .timeout = 30);

static struct jitter_config cfg;
static struct jtarget t;

static void setup(void)
{
	jitter_config_default(&cfg, 48000, 240);
	cr_assert_eq(jtarget_init(&t, &cfg, 5e6), 0);
}

static void teardown(void)
{
	jtarget_clear(&t);
}

/* One packet every 5 ms from `from` for `secs`, each with spread_ms;
   a tick per packet. Return: the time after the last. */
static uint64_t feed(uint64_t from, double secs, double spread_ms)
{
	uint64_t now = from;
	for (; now < from + (uint64_t)(secs * 1e9); now += 5 * MS) {
		jtarget_add(&t, spread_ms * 1e6);
		jtarget_tick(&t, now, 1.0);
	}
	return now;
}

Test(jtarget, starts_at_initial_then_follows_quantile, .init = setup,
     .fini = teardown)
{
	cr_assert_float_eq(t.target_ns, 40e6, 1.0);
	/* 3 ms of spread, 500 us bins: the bin's upper edge 3.5 ms + 5 ms
	   frame + 2 ms margin. Down from 40 ms at 1.5 ms/s: ~20 s. */
	uint64_t now = feed(0, 30.0, 3.0);
	cr_assert_float_eq(t.target_ns, 10.5e6, 1.0, "target %.3f ms",
	                   t.target_ns / 1e6);
	cr_assert_float_eq(jtarget_quantile_ns(&t), 3.5e6, 1.0);
	/* A rise is a step: at once. */
	for (int i = 0; i < 200; i++) {
		jtarget_add(&t, 12e6);
		now += 5 * MS;
	}
	jtarget_tick(&t, now, 1.0);
	cr_assert_float_eq(t.target_ns, 19.5e6, 1.0, "target %.3f ms",
	                   t.target_ns / 1e6);
	cr_assert_float_eq(t.target_rate, 0.0, 1e-12);
}

Test(jtarget, shrinks_at_rate_or_slower, .init = setup, .fini = teardown)
{
	uint64_t now = feed(0, 1.0, 0.0);
	/* 1 s at 1.5 ms/s from 40 ms. */
	cr_assert_float_eq(t.target_ns, 38.5e6, 0.02e6, "target %.3f ms",
	                   t.target_ns / 1e6);
	cr_assert_float_eq(t.target_rate, -1.5e-3, 1e-12);
	/* The consumer can follow only 0.5 ms/s. */
	double before = t.target_ns;
	for (uint64_t end = now + 1000 * MS; now < end; now += 5 * MS) {
		jtarget_add(&t, 0.0);
		jtarget_tick(&t, now, 0.5e-3);
	}
	cr_assert_float_eq(before - t.target_ns, 0.5e6, 0.01e6);
	cr_assert_float_eq(t.target_rate, -0.5e-3, 1e-12);
}

Test(jtarget, late_peak_is_held, .init = setup, .fini = teardown)
{
	uint64_t now = feed(0, 30.0, 1.0);
	double base = t.target_ns;
	/* A packet 20 ms above the floor came too late: held 30 s. */
	jtarget_add(&t, 20e6);
	jtarget_late(&t, t.last_spread, now, 0);
	now = feed(now, 10.0, 1.0);
	cr_assert_float_eq(t.target_ns, 27e6, 1.0, "target %.3f ms",
	                   t.target_ns / 1e6);
	/* After the hold it shrinks back. */
	now = feed(now, 40.0, 1.0);
	cr_assert_float_eq(t.target_ns, base, 1.0);
	/* Not in playout's first second. */
	jtarget_add(&t, 20e6);
	jtarget_late(&t, t.last_spread, now, now - 500 * MS);
	feed(now, 1.0, 1.0);
	cr_assert_float_eq(t.target_ns, base, 1.0);
}

Test(jtarget, fixed_and_forget, .init = setup, .fini = teardown)
{
	jtarget_set_fixed(&t, 25);
	uint64_t now = feed(0, 5.0, 15.0);
	cr_assert_float_eq(t.target_ns, 25e6, 1.0);
	jtarget_set_fixed(&t, 0);
	now = feed(now, 1.0, 15.0);
	/* Adaptive again: down from 25 ms towards 22.5 at 1.5 ms/s. */
	cr_assert_float_eq(t.target_ns, 23.5e6, 1e3, "target %.3f ms",
	                   t.target_ns / 1e6);
	jtarget_forget(&t);
	cr_assert_float_eq(t.target_ns, 40e6, 1.0);
	cr_assert_float_eq(jtarget_quantile_ns(&t), 0.0, 1e-9);
	/* A spread beyond max_ms is left out, not pinned at the max. */
	jtarget_add(&t, 900e6);
	cr_assert_float_eq(jtarget_quantile_ns(&t), 0.0, 1e-9);
}
