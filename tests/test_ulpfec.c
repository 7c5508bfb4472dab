/*
 * RFC 5109 ULPFEC (codec/ulpfec.h): FEC payloads built as GStreamer's
 * rtpulpfecenc builds them (headers checked against its captured
 * output), parsed strictly, and every single lost packet recovered bit
 * for bit; hostile payloads refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "codec/rtp.h"
#include "codec/ulpfec.h"

TestSuite(ulpfec, .timeout = 30);

#define NPKT 48
static uint8_t pkt[NPKT][1000];
static size_t plen[NPKT];

/* What the capture fed rtpulpfecenc: L16 packets numbered 1000 + i,
   timestamps 5000 + 240 i, SSRC 0x1234, payload type 96, the marker on
   packet `marked`, payload i repeated 960 - i times. */
static void make(unsigned n, unsigned marked)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = pkt[i];
		struct rtp_header h = {
		        .version = 2,
		        .marker = i == marked,
		        .pt = 96,
		        .seq = (uint16_t)(1000 + i),
		        .ts = 5000 + 240 * i,
		        .ssrc = 0x1234,
		};
		cr_assert_eq(rtp_pack(&h, p, sizeof(pkt[i])), RTP_HEADER_MIN);
		plen[i] = 12 + 960 - i;
		memset(p + 12, (int)i, 960 - i);
	}
}

static int build(unsigned n, uint8_t *out, size_t cap)
{
	struct ulpfec_builder b;

	ulpfec_begin(&b, out, cap);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(ulpfec_add(&b, pkt[i], plen[i]), 0);
	return ulpfec_finish(&b);
}

/* Recover each of the n packets in turn from the others. */
static void recover_each(const uint8_t *fec, size_t len, unsigned n)
{
	struct ulpfec_info f;
	const uint8_t *others[NPKT];
	size_t olen[NPKT];
	uint8_t out[1100];

	cr_assert_eq(ulpfec_parse(fec, len, &f), 0);
	cr_assert_eq(f.count, n);
	for (unsigned miss = 0; miss < n; miss++) {
		size_t k = 0;
		for (unsigned i = 0; i < n; i++)
			if (i != miss) {
				others[k] = pkt[i];
				olen[k++] = plen[i];
			}
		int r = ulpfec_recover(&f, (uint16_t)(1000 + miss), 0x1234,
		                       others, olen, k, out, sizeof(out));
		cr_assert_eq(r, (int)plen[miss], "packet %u", miss);
		cr_assert_arr_eq(out, pkt[miss], plen[miss], "packet %u", miss);
	}
}

Test(ulpfec, builds_what_gstreamer_sends_for_five_packets)
{
	/* rtpulpfecenc percentage=20 multipacket=true, the marker on every
	   fifth packet: one FEC packet over those five, whose payload began
	   with these bytes. */
	static const uint8_t gst[] = {0x00, 0xe0, 0x03, 0xe8, 0x00, 0x00, 0x13,
	                              0x88, 0x03, 0xc0, 0x03, 0xc0, 0xf8, 0x00};
	uint8_t fec[1100];

	make(5, 4);
	int n = build(5, fec, sizeof(fec));
	cr_assert_eq(n, 14 + 960);
	cr_assert_arr_eq(fec, gst, sizeof(gst));
	/* Byte k of the level 0 payload: the XOR of the packets that long. */
	for (unsigned k = 0; k < 960; k++) {
		uint8_t x = 0;
		for (unsigned i = 0; i < 5; i++)
			if (k < 960 - i)
				x ^= (uint8_t)i;
		cr_assert_eq(fec[14 + k], x, "byte %u", k);
	}
	recover_each(fec, (size_t)n, 5);
}

Test(ulpfec, builds_a_long_mask_like_gstreamer_for_twenty_packets)
{
	/* percentage=5, the marker on every twentieth packet: a 48-bit
	   mask (L set) over 20 packets. */
	static const uint8_t gst[] = {0x40, 0x80, 0x03, 0xe8, 0x00, 0x00,
	                              0x09, 0xc0, 0x00, 0x6c, 0x03, 0xc0,
	                              0xff, 0xff, 0xf0, 0x00, 0x00, 0x00};
	uint8_t fec[1100];
	struct ulpfec_info f;

	make(20, 19);
	int n = build(20, fec, sizeof(fec));
	cr_assert_eq(n, 18 + 960);
	cr_assert_arr_eq(fec, gst, sizeof(gst));
	cr_assert_eq(ulpfec_parse(fec, (size_t)n, &f), 0);
	cr_assert(f.long_mask);
	cr_assert_eq(f.sn_base, 1000);
	cr_assert_eq(f.mask, 0xfffff0000000ull);
	recover_each(fec, (size_t)n, 20);
}

Test(ulpfec, protects_one_packet_as_gstreamer_without_multipacket)
{
	/* multipacket=false: each FEC packet protects the one before it. */
	static const uint8_t gst[] = {0x00, 0x60, 0x03, 0xe8, 0x00, 0x00, 0x13,
	                              0x88, 0x03, 0xc0, 0x03, 0xc0, 0x80, 0x00};
	uint8_t fec[1100];

	make(1, 99);
	memset(pkt[0] + 12, 0xa5, 960);
	int n = build(1, fec, sizeof(fec));
	cr_assert_eq(n, 14 + 960);
	cr_assert_arr_eq(fec, gst, sizeof(gst));
	cr_assert_arr_eq(fec + 14, pkt[0] + 12, 960);
	recover_each(fec, (size_t)n, 1);
}

Test(ulpfec, spans_all_48_and_gaps)
{
	uint8_t fec[1100];
	struct ulpfec_builder b;
	struct ulpfec_info f;

	make(48, 0);
	ulpfec_begin(&b, fec, sizeof(fec));
	/* Every other packet, in any order, the first setting SN base. */
	cr_assert_eq(ulpfec_add(&b, pkt[0], plen[0]), 0);
	for (unsigned i = 46; i >= 2; i -= 2)
		cr_assert_eq(ulpfec_add(&b, pkt[i], plen[i]), 0);
	cr_assert_eq(ulpfec_add(&b, pkt[47], plen[47]), 0);
	int n = ulpfec_finish(&b);
	cr_assert_gt(n, 0);
	cr_assert_eq(ulpfec_parse(fec, (size_t)n, &f), 0);
	cr_assert_eq(f.count, 25);
	cr_assert_eq(f.mask & ULPFEC_BIT(47), ULPFEC_BIT(47));
	cr_assert_eq(f.mask & ULPFEC_BIT(1), 0);
}

Test(ulpfec, builder_refuses_what_it_cannot_protect)
{
	uint8_t fec[1100], small[100];
	uint8_t junk[12] = {0x40};
	struct ulpfec_builder b;

	make(48, 0);
	ulpfec_begin(&b, fec, sizeof(fec));
	cr_assert_eq(ulpfec_finish(&b), -EINVAL, "nothing added");
	cr_assert_eq(ulpfec_add(&b, junk, sizeof(junk)), -EBADMSG);
	cr_assert_eq(ulpfec_add(&b, pkt[1], 11), -EBADMSG);
	cr_assert_eq(ulpfec_add(&b, pkt[1], plen[1]), 0);
	cr_assert_eq(ulpfec_add(&b, pkt[1], plen[1]), -ERANGE, "twice");
	cr_assert_eq(ulpfec_add(&b, pkt[0], plen[0]), -ERANGE, "before");
	/* 1001 + 48 is one past the span. */
	pkt[47][3] = (uint8_t)(1001 + 48);
	pkt[47][2] = (uint8_t)((1001 + 48) >> 8);
	cr_assert_eq(ulpfec_add(&b, pkt[47], plen[47]), -ERANGE);
	ulpfec_begin(&b, small, sizeof(small));
	cr_assert_eq(ulpfec_add(&b, pkt[0], plen[0]), -ENOBUFS);
	cr_assert_eq(b.count, 0);
}

Test(ulpfec, parse_refuses_wrong_lengths_and_truncated_headers)
{
	uint8_t fec[1100];
	struct ulpfec_info f;

	make(5, 4);
	int n = build(5, fec, sizeof(fec));
	cr_assert_eq(ulpfec_parse(fec, (size_t)n, &f), 0);
	cr_assert_eq(ulpfec_parse(fec, (size_t)n - 1, &f), -EBADMSG);
	cr_assert_eq(ulpfec_parse(fec, (size_t)n + 1, &f), -EBADMSG);
	for (size_t len = 0; len < 14; len++)
		cr_assert_eq(ulpfec_parse(fec, len, &f), -EBADMSG, "%zu", len);
	/* Protection length 0 with the headers alone is well formed. */
	fec[10] = fec[11] = 0;
	cr_assert_eq(ulpfec_parse(fec, 14, &f), 0);
	/* The L bit claims 4 more header bytes than there are. */
	fec[0] |= 0x40;
	cr_assert_eq(ulpfec_parse(fec, 14, &f), -EBADMSG);
	for (size_t len = 14; len < 18; len++)
		cr_assert_eq(ulpfec_parse(fec, len, &f), -EBADMSG);
	cr_assert_eq(ulpfec_parse(fec, 18, &f), 0);
	cr_assert(f.long_mask);
	/* E set: an extension this version does not know. */
	fec[0] = 0x80;
	cr_assert_eq(ulpfec_parse(fec, 14, &f), -EBADMSG);
	/* An empty mask protects nothing. */
	fec[0] = 0;
	fec[12] = fec[13] = 0;
	cr_assert_eq(ulpfec_parse(fec, 14, &f), -EBADMSG);
	/* A huge protection length beyond the bytes. */
	fec[12] = 0x80;
	fec[10] = fec[11] = 0xff;
	cr_assert_eq(ulpfec_parse(fec, 14, &f), -EBADMSG);
}

Test(ulpfec, recover_refuses_inconsistent_inputs)
{
	uint8_t fec[1100], out[1100];
	struct ulpfec_info f;
	const uint8_t *o[5] = {pkt[0], pkt[1], pkt[2], pkt[3], pkt[4]};
	size_t ol[5];

	make(5, 4);
	memcpy(ol, plen, sizeof(ol));
	int n = build(5, fec, sizeof(fec));
	cr_assert_eq(ulpfec_parse(fec, (size_t)n, &f), 0);
	/* Not protected. */
	cr_assert_eq(ulpfec_recover(&f, 1005, 1, o, ol, 4, out, sizeof(out)),
	             -EINVAL);
	/* Too few, too many, or the missing one among the others. */
	cr_assert_eq(ulpfec_recover(&f, 1004, 1, o, ol, 3, out, sizeof(out)),
	             -EINVAL);
	cr_assert_eq(ulpfec_recover(&f, 1004, 1, o, ol, 5, out, sizeof(out)),
	             -EINVAL);
	cr_assert_eq(ulpfec_recover(&f, 1003, 1, o, ol, 4, out, sizeof(out)),
	             -EINVAL);
	/* The same packet twice. */
	const uint8_t *d[4] = {pkt[0], pkt[0], pkt[2], pkt[3]};
	cr_assert_eq(ulpfec_recover(&f, 1004, 1, d, ol, 4, out, sizeof(out)),
	             -EINVAL);
	/* A packet longer than the protection, one that is not RTP. */
	ol[0] = 12 + 961;
	cr_assert_eq(ulpfec_recover(&f, 1004, 1, o, ol, 4, out, sizeof(out)),
	             -EBADMSG);
	ol[0] = 5;
	cr_assert_eq(ulpfec_recover(&f, 1004, 1, o, ol, 4, out, sizeof(out)),
	             -EBADMSG);
	ol[0] = plen[0];
	/* No room. */
	cr_assert_eq(ulpfec_recover(&f, 1004, 1, o, ol, 4, out, 12 + 959),
	             -ENOBUFS);
	/* A length recovery that XORs out beyond the protection. */
	fec[8] ^= 0x40;
	cr_assert_eq(ulpfec_recover(&f, 1004, 1, o, ol, 4, out, sizeof(out)),
	             -EBADMSG);
	fec[8] ^= 0x40;
	int r = ulpfec_recover(&f, 1004, 0x1234, o, ol, 4, out, sizeof(out));
	cr_assert_eq(r, (int)plen[4]);
	cr_assert_arr_eq(out, pkt[4], plen[4]);
}
