/*
 * The sender's RED history (codec/redenc.h): which copies go into a
 * packet, and that what it writes parses back into them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "codec/redenc.h"

TestSuite(redenc, .timeout = 30);

static struct redenc re;

/* Packet seq (ts = seq x 480) with a payload of len bytes of seq's low
   byte; parse what comes out into b. Return: blocks. */
static int put(uint16_t seq, uint32_t ts, size_t len, struct red_block *b)
{
	static uint8_t out[8192];
	uint8_t pl[1500];

	memset(pl, seq & 0xff, len);
	int n = redenc_write(&re, seq, ts, 480, pl, len, out, sizeof(out));
	cr_assert_gt(n, 0);
	cr_assert_leq((size_t)n, redenc_max_size(&re, len));
	int k = red_parse(out, (size_t)n, b, RED_MAX_BLOCKS);
	cr_assert_gt(k, 0);
	cr_assert_eq(b[k - 1].len, len);
	cr_assert_eq(b[k - 1].data[0], seq & 0xff);
	return k;
}

Test(redenc, carries_the_previous_packets_oldest_first)
{
	struct red_block b[RED_MAX_BLOCKS];

	cr_assert_eq(redenc_init(&re, 2, 0, 96, 1000), 0);
	cr_assert_eq(put(65535, 1000, 100, b), 1, "nothing to copy yet");
	cr_assert_eq(put(0, 1480, 100, b), 2);
	cr_assert_eq(b[0].ts_offset, 480);
	cr_assert_eq(b[0].data[0], 0xff);
	cr_assert_eq(put(1, 1960, 100, b), 3);
	cr_assert(b[0].ts_offset == 960 && b[0].data[0] == 0xff);
	cr_assert(b[1].ts_offset == 480 && b[1].data[0] == 0);
	cr_assert_eq(b[0].pt, 96);
	cr_assert_eq(put(2, 2440, 100, b), 3);
	cr_assert(b[0].data[0] == 0 && b[1].data[0] == 1);
	redenc_clear(&re);
}

Test(redenc, puts_no_copy_across_skipped_time_or_too_long_to_carry)
{
	struct red_block b[RED_MAX_BLOCKS];

	cr_assert_eq(redenc_init(&re, 3, 0, 96, 1500), 0);
	cr_assert_eq(re.cap, RED_BLOCK_LEN_MAX);
	put(10, 0, 100, b);
	put(11, 480, 100, b);
	/* A stall: the pacer skipped five slots, the numbers go on. */
	cr_assert_eq(put(12, 480 * 7, 100, b), 1);
	cr_assert_eq(put(13, 480 * 8, 100, b), 2);
	cr_assert_eq(b[0].data[0], 12);
	/* 1024 bytes are sent but never copied. */
	cr_assert_eq(put(14, 480 * 9, 1024, b), 3);
	cr_assert_eq(put(15, 480 * 10, 100, b), 3);
	cr_assert(b[0].data[0] == 12 && b[1].data[0] == 13);
	redenc_clear(&re);
}

/* Interleaved: one copy, of the packet `lag` back (a burst of up to lag
   losses is restored by the lag packets after it). */
Test(redenc, with_a_lag_carries_one_copy_of_the_packet_that_far_back)
{
	struct red_block b[RED_MAX_BLOCKS];

	cr_assert_eq(redenc_init(&re, 1, 4, 96, 1000), 0);
	for (uint16_t s = 100; s < 104; s++)
		cr_assert_eq(put(s, s * 480u, 100, b), 1, "none 4 back yet");
	for (uint16_t s = 104; s < 120; s++) {
		cr_assert_eq(put(s, s * 480u, 100, b), 2);
		cr_assert_eq(b[0].ts_offset, 4 * 480);
		cr_assert_eq(b[0].data[0], (s - 4) & 0xff);
	}
	/* One block's header and bytes, the primary's header. */
	cr_assert_eq(redenc_max_size(&re, 100),
	             RED_HEADER_BYTES + re.cap + RED_LAST_BYTES + 100);
	redenc_clear(&re);
}

Test(redenc, refuses_what_it_cannot_do)
{
	uint8_t out[16], pl[20] = {0};

	cr_assert_eq(redenc_init(&re, 0, 0, 96, 100), -EINVAL);
	cr_assert_eq(redenc_init(&re, RED_MAX_DISTANCE + 1, 0, 96, 100),
	             -EINVAL);
	cr_assert_eq(redenc_init(&re, 1, 0, 128, 100), -EINVAL);
	cr_assert_eq(redenc_init(&re, 1, 1, 96, 100), -EINVAL);
	cr_assert_eq(redenc_init(&re, 1, RED_MAX_LAG + 1, 96, 100), -EINVAL);
	cr_assert_eq(redenc_init(&re, 2, 4, 96, 100), -EINVAL);
	cr_assert_eq(redenc_init(&re, 1, 0, 96, 100), 0);
	cr_assert_eq(redenc_write(&re, 1, 0, 480, pl, 0, out, sizeof(out)),
	             -EINVAL);
	cr_assert_eq(redenc_write(&re, 1, 0, 480, pl, 20, out, sizeof(out)),
	             -ENOBUFS);
	/* Nothing kept by a failed write. */
	cr_assert_eq(redenc_write(&re, 2, 480, 480, pl, 10, out, sizeof(out)),
	             11);
	redenc_clear(&re);
	redenc_clear(&re);
}
