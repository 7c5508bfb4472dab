/*
 * RFC 2198 redundant audio payloads: build, parse, and refuse malformed
 * ones.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec/red.h"

TestSuite(red, .timeout = 30);

Test(red, writes_the_rfc_layout)
{
	const uint8_t a[3] = {1, 2, 3}, p[2] = {9, 8};
	struct red_block r = {.pt = 96, .ts_offset = 480, .data = a, .len = 3};
	struct red_block pr = {.pt = 96, .data = p, .len = 2};
	uint8_t buf[32];

	cr_assert_eq(red_size(&r, 1, 2), 10);
	int n = red_write(&r, 1, &pr, buf, sizeof(buf));
	cr_assert_eq(n, 10);
	/* F=1 PT=96 | offset 480 = 0b00000111100000 | length 3 */
	const uint8_t want[10] = {0xe0, 0x07, 0x80, 0x03, 96, 1, 2, 3, 9, 8};
	cr_assert_arr_eq(buf, want, 10);
}

Test(red, parses_what_it_writes)
{
	uint8_t b0[1023], b1[17], b2[5], pb[1500], buf[4096];
	for (size_t i = 0; i < sizeof(b0); i++)
		b0[i] = (uint8_t)i;
	memset(b1, 0x11, sizeof(b1));
	memset(b2, 0x22, sizeof(b2));
	memset(pb, 0x33, sizeof(pb));
	struct red_block r[3] = {
	        {.pt = 100,
	         .ts_offset = RED_TS_OFFSET_MAX,
	         .data = b0,
	         .len = sizeof(b0)},
	        {.pt = 0, .ts_offset = 960, .data = b1, .len = sizeof(b1)},
	        {.pt = 127, .ts_offset = 1, .data = b2, .len = sizeof(b2)},
	};
	struct red_block pr = {.pt = 11, .data = pb, .len = sizeof(pb)};
	int n = red_write(r, 3, &pr, buf, sizeof(buf));
	cr_assert_eq((size_t)n, red_size(r, 3, sizeof(pb)));

	struct red_block got[RED_MAX_BLOCKS];
	cr_assert_eq(red_parse(buf, (size_t)n, got, RED_MAX_BLOCKS), 4);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(got[i].pt, r[i].pt);
		cr_assert_eq(got[i].ts_offset, r[i].ts_offset);
		cr_assert_eq(got[i].len, r[i].len);
		cr_assert_arr_eq(got[i].data, r[i].data, r[i].len);
	}
	cr_assert_eq(got[3].pt, 11);
	cr_assert_eq(got[3].ts_offset, 0);
	cr_assert_eq(got[3].len, sizeof(pb));
	cr_assert_eq(got[3].data, buf + n - sizeof(pb));
}

Test(red, a_primary_alone_is_one_block)
{
	const uint8_t buf[4] = {96, 7, 7, 7};
	struct red_block got[2];

	cr_assert_eq(red_parse(buf, 4, got, 2), 1);
	cr_assert_eq(got[0].pt, 96);
	cr_assert_eq(got[0].len, 3);
	cr_assert_eq(got[0].data, buf + 1);
}

Test(red, write_refuses_what_the_format_cannot_carry)
{
	uint8_t d[1024] = {0}, buf[4096];
	struct red_block pr = {.pt = 96, .data = d, .len = 10};
	struct red_block r = {.pt = 96, .ts_offset = 480, .data = d, .len = 10};
	struct red_block many[RED_MAX_BLOCKS];

	r.len = 1024;
	cr_assert_eq(red_write(&r, 1, &pr, buf, sizeof(buf)), -EINVAL);
	r.len = 0;
	cr_assert_eq(red_write(&r, 1, &pr, buf, sizeof(buf)), -EINVAL);
	r.len = 10;
	r.ts_offset = 0;
	cr_assert_eq(red_write(&r, 1, &pr, buf, sizeof(buf)), -EINVAL);
	r.ts_offset = RED_TS_OFFSET_MAX + 1;
	cr_assert_eq(red_write(&r, 1, &pr, buf, sizeof(buf)), -EINVAL);
	r.ts_offset = 480;
	r.pt = 128;
	cr_assert_eq(red_write(&r, 1, &pr, buf, sizeof(buf)), -EINVAL);
	r.pt = 96;
	pr.len = 0;
	cr_assert_eq(red_write(&r, 1, &pr, buf, sizeof(buf)), -EINVAL);
	pr.len = 10;
	for (int i = 0; i < RED_MAX_BLOCKS; i++)
		many[i] = r;
	cr_assert_eq(red_write(many, RED_MAX_BLOCKS, &pr, buf, sizeof(buf)),
	             -EINVAL);
	cr_assert_eq(red_write(many, RED_MAX_BLOCKS - 1, &pr, buf, sizeof(buf)),
	             (int)red_size(many, RED_MAX_BLOCKS - 1, 10));
	memset(buf, 0x5a, sizeof(buf));
	cr_assert_eq(red_write(&r, 1, &pr, buf, 24), -ENOBUFS);
	cr_assert_eq(buf[0], 0x5a, "untouched on failure");
	cr_assert_eq(red_write(&r, 1, &pr, buf, 25), 25);
}

/* Parse must fail with `err` and never read past len (ASan builds check
   the reads: the input is copied to a buffer of exactly len bytes). */
static void refuse(const uint8_t *in, size_t len, size_t max, int err)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct red_block got[RED_MAX_BLOCKS];

	memcpy(copy, in, len);
	cr_assert_eq(red_parse(copy, len, got, max), err, "len %zu", len);
	free(copy);
}

Test(red, refuses_malformed_payloads)
{
	/* Empty, or headers that run out. */
	refuse((const uint8_t[]){0}, 0, 4, -EBADMSG);
	refuse((const uint8_t[]){0xe0}, 1, 4, -EBADMSG);
	refuse((const uint8_t[]){0xe0, 0x07, 0x80}, 3, 4, -EBADMSG);
	refuse((const uint8_t[]){0xe0, 0x07, 0x80, 0x01}, 4, 4, -EBADMSG);
	/* A primary header and nothing after it: an empty primary. */
	refuse((const uint8_t[]){96}, 1, 4, -EBADMSG);
	/* A redundant block of 3 bytes where 2 are left, or exactly all
	   that is left (no primary bytes). */
	refuse((const uint8_t[]){0xe0, 0x07, 0x80, 0x03, 96, 1, 2}, 7, 4,
	       -EBADMSG);
	refuse((const uint8_t[]){0xe0, 0x07, 0x80, 0x03, 96, 1, 2, 3}, 8, 4,
	       -EBADMSG);
	/* Zero-length redundant block; zero timestamp offset. */
	refuse((const uint8_t[]){0xe0, 0x07, 0x80, 0x00, 96, 1}, 6, 4,
	       -EBADMSG);
	refuse((const uint8_t[]){0xe0, 0x00, 0x00, 0x01, 96, 1, 2}, 7, 4,
	       -EBADMSG);
	/* A block of 1023 bytes in a short datagram. */
	refuse((const uint8_t[]){0xe0, 0x07, 0x83, 0xff, 96, 1, 2, 3}, 8, 4,
	       -EBADMSG);
}

Test(red, bounds_the_number_of_blocks)
{
	uint8_t buf[256];
	size_t n = 0;

	/* 20 redundant headers of one byte each, a primary, the data. */
	for (int i = 0; i < 20; i++) {
		buf[n++] = 0xe0;
		buf[n++] = 0x00;
		buf[n++] = 0x04;
		buf[n++] = 0x01;
	}
	buf[n++] = 96;
	memset(buf + n, 1, 21);
	n += 21;
	refuse(buf, n, RED_MAX_BLOCKS, -E2BIG);
	refuse(buf, n, 100, -E2BIG); /* max is capped at RED_MAX_BLOCKS */
	/* Two blocks in an array of one. */
	refuse((const uint8_t[]){0xe0, 0x07, 0x80, 0x01, 96, 1, 2}, 7, 1,
	       -E2BIG);
	struct red_block got[2];
	cr_assert_eq(
	        red_parse((const uint8_t[]){0xe0, 0x07, 0x80, 0x01, 96, 1, 2},
	                  7, got, 2),
	        2);
	cr_assert_eq(got[0].len, 1);
	cr_assert_eq(got[1].len, 1);
}

/* Every truncation of a valid payload is refused or parses inside it. */
Test(red, every_truncation_is_safe)
{
	uint8_t d[40], buf[256];
	memset(d, 7, sizeof(d));
	struct red_block r[2] = {
	        {.pt = 96, .ts_offset = 960, .data = d, .len = 30},
	        {.pt = 96, .ts_offset = 480, .data = d, .len = 40},
	};
	struct red_block pr = {.pt = 96, .data = d, .len = 20};
	int n = red_write(r, 2, &pr, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	for (int len = 0; len < n; len++) {
		uint8_t *copy = malloc((size_t)len + 1);
		struct red_block got[RED_MAX_BLOCKS];
		memcpy(copy, buf, (size_t)len);
		int k = red_parse(copy, (size_t)len, got, RED_MAX_BLOCKS);
		/* Only the primary shrinks: cut inside it, it still parses. */
		if (len > n - 20)
			cr_assert_eq(k, 3, "len %d", len);
		else
			cr_assert_lt(k, 0, "len %d", len);
		for (int i = 0; i < k; i++)
			cr_assert(got[i].data >= copy &&
			          got[i].data + got[i].len <= copy + len);
		free(copy);
	}
}
