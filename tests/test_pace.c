/*
 * The pace schedule against a simulated clock: exact deadlines, no drift
 * over a million slots, every slot handed out once and in order under
 * wake-up jitter, and resynchronisation (not a burst) after a stall.
 * Jitter is drawn from a seeded xorshift generator; the seed is printed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>

#include "bridge/net/pace.h"

TestSuite(pace, .timeout = 30);

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

Test(pace, rejects_bad_parameters)
{
	struct pace p;

	cr_assert_eq(pace_init(&p, 0, 0, 48000, 1), -EINVAL);
	cr_assert_eq(pace_init(&p, 0, 480, 0, 1), -EINVAL);
	cr_assert_eq(pace_init(&p, 0, 480, 48000, 0), -EINVAL);
	cr_assert_eq(pace_init(&p, 0, 480, 2000000000ull, 1), -EINVAL);
	cr_assert_eq(pace_init(&p, 0, 480, 48000, 1), 0);
}

Test(pace, deadlines_are_exact_after_a_million_slots)
{
	struct pace p;
	const uint64_t t0 = 123456789;

	/* 10 ms at 48 kHz: integral ns. */
	cr_assert_eq(pace_init(&p, t0, 480, 48000, 2), 0);
	cr_assert_eq(pace_deadline(&p, 1), t0 + 10000000);
	cr_assert_eq(pace_deadline(&p, 1000000), t0 + 10000000ull * 1000000);
	/* 128 frames at 44.1 kHz = 2902494.33 ns: the deadline is the exact
	 * time rounded up, for every slot, so the error never grows. */
	cr_assert_eq(pace_init(&p, t0, 128, 44100, 2), 0);
	for (uint64_t k = 0; k <= 1000000; k += 997) {
		uint64_t exact_num = k * 128 * 1000000000ull; /* ns * 44100 */
		uint64_t d = pace_deadline(&p, k) - t0;
		cr_assert_geq(d * 44100, exact_num, "slot %lu",
		              (unsigned long)k);
		cr_assert_lt(d * 44100, exact_num + 44100, "slot %lu",
		             (unsigned long)k);
	}
	/* 1 000 000 slots of 128 frames = 2902.494331 s */
	cr_assert_eq(pace_deadline(&p, 1000000) - t0, 2902494331066ull);
	/* Nanosecond periods: rate 1e9. */
	cr_assert_eq(pace_init(&p, 0, 2500000, 1000000000ull, 1), 0);
	cr_assert_eq(pace_deadline(&p, 1000000), 2500000ull * 1000000);
}

Test(pace, slots_until_agrees_with_deadlines)
{
	struct pace p;

	cr_assert_eq(pace_init(&p, 1000, 128, 44100, 1), 0);
	cr_assert_eq(pace_slots_until(&p, 999), 0);
	cr_assert_eq(pace_slots_until(&p, 1000), 1);
	for (uint64_t k = 1; k < 5000; k += 7) {
		uint64_t d = pace_deadline(&p, k);
		cr_assert_eq(pace_slots_until(&p, d - 1), k, "slot %lu",
		             (unsigned long)k);
		cr_assert_eq(pace_slots_until(&p, d), k + 1, "slot %lu",
		             (unsigned long)k);
	}
}

Test(pace, jittery_wakeups_send_every_slot_once_without_drift)
{
	struct pace p;
	const uint64_t period_ns = 20000000; /* 960 frames at 48 kHz */
	const uint64_t n = 1000000;
	uint64_t now = 5000, expect = 0, slot, max_late = 0;

	rng_state = 0x9e3779b97f4a7c15ull;
	cr_log_info("seed 0x%lx", (unsigned long)rng_state);
	cr_assert_eq(pace_init(&p, now, 960, 48000, 3), 0);
	while (expect < n) {
		/* Wake at the next deadline plus 0..1.5 ms of jitter. */
		uint64_t d = pace_next_deadline(&p);
		now = (now > d ? now : d) + rng() % 1500000;
		while (pace_next(&p, now, &slot)) {
			cr_assert_eq(slot, expect, "slot order");
			if (now - pace_deadline(&p, slot) > max_late)
				max_late = now - pace_deadline(&p, slot);
			expect++;
		}
	}
	cr_assert_eq(p.sent, n);
	cr_assert_eq(p.skipped, 0);
	cr_assert_eq(p.resyncs, 0);
	cr_assert_lt(max_late, 1500000u);
	/* No drift: the last slot's deadline is exactly n-1 periods after
	   t0. */
	cr_assert_eq(pace_deadline(&p, n - 1), 5000 + (n - 1) * period_ns);
}

Test(pace, short_delay_is_caught_up_within_max_burst)
{
	struct pace p;
	uint64_t slot, got = 0;

	cr_assert_eq(pace_init(&p, 0, 480, 48000, 3), 0);
	/* At 25 ms, slots 0, 1 and 2 (0, 10, 20 ms) are due: all three go. */
	while (pace_next(&p, 25000000, &slot))
		cr_assert_eq(slot, got++);
	cr_assert_eq(got, 3);
	cr_assert_eq(p.skipped, 0);
}

Test(pace, stall_resynchronises_without_a_burst)
{
	struct pace p;
	uint64_t slot, sent_at_wake = 0;

	cr_assert_eq(pace_init(&p, 0, 480, 48000, 2), 0);
	cr_assert(pace_next(&p, 0, &slot));
	cr_assert_eq(slot, 0);
	/* Stalled until 1.0055 s: slots 1..100 are due, 100 > max_burst. */
	while (pace_next(&p, 1005500000, &slot)) {
		cr_assert_eq(slot, 100, "only the newest due slot is sent");
		sent_at_wake++;
	}
	cr_assert_eq(sent_at_wake, 1);
	cr_assert_eq(p.skipped, 99);
	cr_assert_eq(p.resyncs, 1);
	/* The grid keeps its phase: slot 101 at exactly 1.01 s. */
	cr_assert_eq(pace_next_deadline(&p), 1010000000);
	cr_assert_not(pace_next(&p, 1009999999, &slot));
	cr_assert(pace_next(&p, 1010000000, &slot));
	cr_assert_eq(slot, 101);
}

Test(pace, nothing_is_due_before_t0)
{
	struct pace p;
	uint64_t slot;

	cr_assert_eq(pace_init(&p, 1000000, 480, 48000, 1), 0);
	cr_assert_not(pace_next(&p, 999999, &slot));
	cr_assert(pace_next(&p, 1000000, &slot));
	cr_assert_eq(slot, 0);
}
