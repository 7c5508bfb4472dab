/*
 * Extended sequence numbers and loss counts (RFC 3550 A.1, A.3).
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "codec/rtpseq.h"

TestSuite(rtpseq, .timeout = 30);

static uint64_t accept(struct rtpseq *s, uint16_t seq)
{
	uint64_t ext = 0;
	int r = rtpseq_update(s, seq, &ext);

	cr_assert_geq(r, 0, "seq %u refused: %d", seq, r);
	return ext;
}

Test(rtpseq, counts_up_across_a_wrap)
{
	struct rtpseq s;

	rtpseq_init(&s, 0);
	uint64_t ext = 0;
	cr_assert_eq(rtpseq_update(&s, 65530, &ext), RTPSEQ_FIRST);
	uint64_t first = ext;
	for (uint32_t i = 1; i < 20; i++)
		cr_assert_eq(accept(&s, (uint16_t)(65530 + i)), first + i);
	cr_assert_eq(rtpseq_expected(&s), 20);
	cr_assert_eq(rtpseq_lost(&s), 0);
}

Test(rtpseq, extends_across_several_wraps)
{
	struct rtpseq s;

	rtpseq_init(&s, 0);
	uint64_t first = accept(&s, 1000);
	/* Steps of 2999 (just inside the dropout limit): 70 000 packets of
	   sequence space, skipping most, over 3 wraps. */
	uint64_t want = first;
	uint16_t seq = 1000;
	for (int i = 0; i < 70; i++) {
		seq = (uint16_t)(seq + 2999);
		want += 2999;
		cr_assert_eq(accept(&s, seq), want);
	}
	cr_assert_geq(want - first, 3 * 65536ull);
	cr_assert_eq(rtpseq_expected(&s), want - first + 1);
	cr_assert_eq(rtpseq_lost(&s), (int64_t)(want - first + 1) - 71);
}

Test(rtpseq, late_packets_from_before_a_wrap_keep_their_number)
{
	struct rtpseq s;

	rtpseq_init(&s, 0);
	uint64_t e65533 = accept(&s, 65533);
	/* 65534 and 65535 arrive after 0 and 1. */
	cr_assert_eq(accept(&s, 0), e65533 + 3);
	cr_assert_eq(accept(&s, 1), e65533 + 4);
	cr_assert_eq(accept(&s, 65535), e65533 + 2);
	cr_assert_eq(accept(&s, 65534), e65533 + 1);
	cr_assert_eq(accept(&s, 2), e65533 + 5);
	cr_assert_eq(rtpseq_lost(&s), 0);
}

Test(rtpseq, packet_before_the_first_gets_a_positive_number)
{
	struct rtpseq s;

	rtpseq_init(&s, 0);
	uint64_t e0 = accept(&s, 0);
	cr_assert_eq(accept(&s, 65535), e0 - 1);
	cr_assert_gt(e0 - 1, 0);
}

Test(rtpseq, reordering_in_a_shuffled_window_over_wraps)
{
	struct rtpseq s;
	uint64_t rng = 0x9e3779b97f4a7c15ull;

	cr_log_info("seed %#llx", (unsigned long long)rng);
	rtpseq_init(&s, 0);
	/* Send 200 000 packets from seq 60000 in blocks of 16, each block
	   shuffled: every packet must get its true extended number. */
	uint64_t base = accept(&s, 60000);
	uint64_t n = 1;
	while (n < 200000) {
		uint16_t order[16];
		for (int i = 0; i < 16; i++)
			order[i] = (uint16_t)i;
		for (int i = 15; i > 0; i--) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			int j = (int)(rng % (uint64_t)(i + 1));
			uint16_t t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (int i = 0; i < 16; i++) {
			uint64_t k = n + order[i];
			uint16_t seq = (uint16_t)(60000 + k);
			cr_assert_eq(accept(&s, seq), base + k);
		}
		n += 16;
	}
	cr_assert_eq(rtpseq_lost(&s), 0);
}

Test(rtpseq, duplicates_count_as_received)
{
	struct rtpseq s;

	rtpseq_init(&s, 0);
	uint64_t e = accept(&s, 10);
	cr_assert_eq(accept(&s, 10), e);
	cr_assert_eq(accept(&s, 11), e + 1);
	cr_assert_eq(accept(&s, 10), e);
	cr_assert_eq(rtpseq_lost(&s), -2);
}

Test(rtpseq, probation_needs_sequential_packets)
{
	struct rtpseq s;
	uint64_t ext = 0;

	rtpseq_init(&s, 2);
	cr_assert_eq(rtpseq_update(&s, 100, &ext), -EAGAIN);
	cr_assert_eq(rtpseq_update(&s, 500, &ext), -EAGAIN);
	cr_assert_eq(rtpseq_update(&s, 501, &ext), RTPSEQ_FIRST);
	cr_assert_eq(ext, 65536 + 501);
	cr_assert_eq(rtpseq_update(&s, 502, &ext), RTPSEQ_OK);
	cr_assert_eq(ext, 65536 + 502);
	cr_assert_eq(s.dropped, 2);
}

Test(rtpseq, big_jump_is_dropped_until_confirmed_then_restarts)
{
	struct rtpseq s;
	uint64_t ext = 0;

	rtpseq_init(&s, 0);
	uint64_t e = accept(&s, 1000);
	cr_assert_eq(accept(&s, 1001), e + 1);
	/* 20000 ahead: beyond the dropout limit. */
	cr_assert_eq(rtpseq_update(&s, 21001, &ext), -ERANGE);
	/* The stream goes on where it was: the jump was a stray. */
	cr_assert_eq(accept(&s, 1002), e + 2);
	/* Now a real restart: two sequential packets far away. */
	cr_assert_eq(rtpseq_update(&s, 40000, &ext), -ERANGE);
	cr_assert_eq(rtpseq_update(&s, 40001, &ext), RTPSEQ_RESTART);
	cr_assert_gt(ext, e + 2);
	uint64_t r = ext;
	cr_assert_eq(accept(&s, 40002), r + 1);
	cr_assert_eq(s.restarts, 1);
	cr_assert_eq(rtpseq_expected(&s), 2);
	/* Far behind (more than the misorder limit): dropped too. */
	cr_assert_eq(rtpseq_update(&s, 39000, &ext), -ERANGE);
}

Test(rtpseq, fraction_lost_per_interval)
{
	struct rtpseq s;

	rtpseq_init(&s, 0);
	for (uint16_t q = 0; q < 100; q++)
		if (q % 4 != 1)
			accept(&s, q);
	/* 0..99 expected; every fourth (q % 4 == 1) lost: 25 of 100. */
	cr_assert_eq(rtpseq_expected(&s), 100);
	cr_assert_eq(rtpseq_lost(&s), 25);
	cr_assert_eq(rtpseq_fraction_lost(&s), 64);
	for (uint16_t q = 100; q < 200; q++)
		accept(&s, q);
	cr_assert_eq(rtpseq_fraction_lost(&s), 0);
	cr_assert_eq(rtpseq_fraction_lost(&s), 0);
}

Test(rtpseq, probe_validates_after_min_sequential_packets)
{
	struct rtpseq_probe p;

	rtpseq_probe_init(&p, 2);
	cr_expect_eq(rtpseq_probe_update(&p, 7), RTPSEQ_PROBE_WAIT);
	cr_expect_eq(rtpseq_probe_update(&p, 8), RTPSEQ_PROBE_VALID);
	/* Across the wrap, with three needed. */
	rtpseq_probe_init(&p, 3);
	cr_expect_eq(rtpseq_probe_update(&p, 65535), RTPSEQ_PROBE_WAIT);
	cr_expect_eq(rtpseq_probe_update(&p, 0), RTPSEQ_PROBE_WAIT);
	cr_expect_eq(rtpseq_probe_update(&p, 1), RTPSEQ_PROBE_VALID);
	cr_expect_eq(rtpseq_probe_update(&p, 2), RTPSEQ_PROBE_VALID);
	/* 1 (and 0) means valid at once. */
	rtpseq_probe_init(&p, 0);
	cr_expect_eq(rtpseq_probe_update(&p, 40000), RTPSEQ_PROBE_VALID);
}

Test(rtpseq, probe_restarts_its_run_out_of_sequence_and_ignores_repeats)
{
	struct rtpseq_probe p;

	rtpseq_probe_init(&p, 3);
	cr_expect_eq(rtpseq_probe_update(&p, 100), RTPSEQ_PROBE_WAIT);
	cr_expect_eq(rtpseq_probe_update(&p, 101), RTPSEQ_PROBE_WAIT);
	/* A duplicate neither counts nor resets. */
	cr_expect_eq(rtpseq_probe_update(&p, 101), RTPSEQ_PROBE_REPEAT);
	cr_expect_eq(p.run, 2);
	/* A gap, a step back, a random number: each starts a new run. */
	cr_expect_eq(rtpseq_probe_update(&p, 103), RTPSEQ_PROBE_RESTART);
	cr_expect_eq(rtpseq_probe_update(&p, 102), RTPSEQ_PROBE_RESTART);
	cr_expect_eq(rtpseq_probe_update(&p, 9999), RTPSEQ_PROBE_RESTART);
	cr_expect_eq(p.run, 1);
	cr_expect_eq(rtpseq_probe_update(&p, 10000), RTPSEQ_PROBE_WAIT);
	cr_expect_eq(rtpseq_probe_update(&p, 10001), RTPSEQ_PROBE_VALID);
}

Test(rtpseq, one_packet_sources_never_validate)
{
	struct rtpseq_probe p;
	uint32_t x = 0x1234567u;
	int valid = 0;

	/* Random numbers (seeded): a run of two needs the next number, a
	   1 in 65536 chance per packet; 1000 draws with seed 0x1234567 give
	   none (checked below), and every one restarts the run. */
	rtpseq_probe_init(&p, 2);
	for (int i = 0; i < 1000; i++) {
		x = x * 1103515245u + 12345u;
		int r = rtpseq_probe_update(&p, (uint16_t)(x >> 8));
		valid += r == RTPSEQ_PROBE_VALID;
	}
	cr_expect_eq(valid, 0);
}
