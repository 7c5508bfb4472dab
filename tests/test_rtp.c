/*
 * RTP header pack/parse (RFC 3550 5.1) and wrap-around arithmetic.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "codec/rtp.h"

TestSuite(rtp, .timeout = 30);

static void header_full(struct rtp_header *h, const uint8_t *ext,
                        uint16_t words)
{
	memset(h, 0, sizeof(*h));
	h->version = RTP_VERSION;
	h->marker = true;
	h->pt = 96;
	h->seq = 0xfffe;
	h->ts = 0xfffffff0u;
	h->ssrc = 0xdeadbeefu;
	h->csrc_count = 3;
	h->csrc[0] = 0x01020304u;
	h->csrc[1] = 0xa0b0c0d0u;
	h->csrc[2] = 7;
	h->extension = true;
	h->ext_profile = 0xbede;
	h->ext_words = words;
	h->ext_data = ext;
	h->pad_len = 5;
}

/* A packet with CSRCs, an extension and padding; returns its length. */
static int packet_full(uint8_t *buf, size_t cap, struct rtp_header *h,
                       const uint8_t *payload, size_t len)
{
	static const uint8_t ext[8] = {0x10, 0xaa, 0, 0, 0x21, 1, 2, 0};

	header_full(h, ext, 2);
	return rtp_write(h, payload, len, buf, cap);
}

Test(rtp, pack_and_parse_minimal_header)
{
	struct rtp_header h = {
	        .version = 2, .pt = 11, .seq = 1234, .ts = 567890, .ssrc = 42};
	uint8_t buf[64];
	const uint8_t pl[3] = {9, 8, 7};

	int n = rtp_write(&h, pl, 3, buf, sizeof(buf));
	cr_assert_eq(n, 15);
	uint8_t want[12] = {0x80, 11,   0x04, 0xd2, 0x00, 0x08,
	                    0xaa, 0x52, 0,    0,    0,    42};
	cr_assert_arr_eq(buf, want, 12);

	struct rtp_header p;
	const uint8_t *payload;
	size_t plen;
	cr_assert_eq(rtp_parse(buf, (size_t)n, &p, &payload, &plen), 0);
	cr_assert_eq(p.version, 2);
	cr_assert_eq(p.pt, 11);
	cr_assert_eq(p.seq, 1234);
	cr_assert_eq(p.ts, 567890u);
	cr_assert_eq(p.ssrc, 42u);
	cr_assert(!p.marker && !p.padding && !p.extension);
	cr_assert_eq(p.csrc_count, 0);
	cr_assert_eq(plen, 3);
	cr_assert_eq(payload, buf + 12);
	cr_assert_arr_eq(payload, pl, 3);
}

Test(rtp, round_trip_with_csrcs_extension_and_padding)
{
	uint8_t buf[128];
	const uint8_t pl[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	struct rtp_header h, p;

	int n = packet_full(buf, sizeof(buf), &h, pl, sizeof(pl));
	cr_assert_eq(n, 12 + 12 + 4 + 8 + 10 + 5);
	cr_assert_eq(rtp_header_size(&h), 36);
	cr_assert_eq(buf[0], 0x80 | 0x20 | 0x10 | 3);
	cr_assert_eq(buf[1], 0x80 | 96);
	cr_assert_eq(buf[n - 1], 5);

	const uint8_t *payload;
	size_t plen;
	cr_assert_eq(rtp_parse(buf, (size_t)n, &p, &payload, &plen), 0);
	cr_assert(p.marker && p.padding && p.extension);
	cr_assert_eq(p.pt, 96);
	cr_assert_eq(p.seq, 0xfffe);
	cr_assert_eq(p.ts, 0xfffffff0u);
	cr_assert_eq(p.ssrc, 0xdeadbeefu);
	cr_assert_eq(p.csrc_count, 3);
	cr_assert_arr_eq(p.csrc, h.csrc, 3 * sizeof(uint32_t));
	cr_assert_eq(p.ext_profile, 0xbede);
	cr_assert_eq(p.ext_words, 2);
	cr_assert_arr_eq(p.ext_data, h.ext_data, 8);
	cr_assert_eq(p.ext_data, buf + 28);
	cr_assert_eq(p.pad_len, 5);
	cr_assert_eq(plen, 10);
	cr_assert_arr_eq(payload, pl, 10);

	/* Parse, then pack what was parsed: the same bytes come out. */
	uint8_t again[128];
	cr_assert_eq(rtp_write(&p, payload, plen, again, sizeof(again)), n);
	cr_assert_arr_eq(again, buf, (size_t)n);
}

Test(rtp, fifteen_csrcs_and_empty_extension_round_trip)
{
	struct rtp_header h = {.version = 2,
	                       .pt = 127,
	                       .csrc_count = 15,
	                       .extension = true,
	                       .ext_profile = 1};
	uint8_t buf[128];

	for (int i = 0; i < 15; i++)
		h.csrc[i] = 0x11111111u * (uint32_t)i;
	int n = rtp_write(&h, NULL, 0, buf, sizeof(buf));
	cr_assert_eq(n, 12 + 60 + 4);

	struct rtp_header p;
	const uint8_t *payload;
	size_t plen;
	cr_assert_eq(rtp_parse(buf, (size_t)n, &p, &payload, &plen), 0);
	cr_assert_eq(p.csrc_count, 15);
	cr_assert_eq(p.csrc[14], 0x11111111u * 14);
	cr_assert_eq(p.ext_words, 0);
	cr_assert_eq(plen, 0);
}

Test(rtp, payload_encoded_in_place_is_kept)
{
	struct rtp_header h = {
	        .version = 2, .pt = 96, .csrc_count = 1, .pad_len = 3};
	uint8_t buf[64];
	size_t hs = rtp_header_size(&h);

	for (size_t i = 0; i < 20; i++)
		buf[hs + i] = (uint8_t)(100 + i);
	int n = rtp_write(&h, buf + hs, 20, buf, sizeof(buf));
	cr_assert_eq(n, (int)(hs + 20 + 3));
	for (size_t i = 0; i < 20; i++)
		cr_assert_eq(buf[hs + i], 100 + i);
}

Test(rtp, write_refuses_small_buffer_and_bad_fields)
{
	struct rtp_header h = {.version = 2, .pt = 96, .pad_len = 4};
	uint8_t buf[64];
	uint8_t pl[8] = {0};

	cr_assert_eq(rtp_write(&h, pl, 8, buf, 23), -ENOBUFS);
	cr_assert_eq(rtp_write(&h, pl, 8, buf, 24), 24);
	cr_assert_eq(rtp_pack(&h, buf, 11), -ENOBUFS);
	h.pt = 128;
	cr_assert_eq(rtp_pack(&h, buf, sizeof(buf)), -EINVAL);
	h.pt = 0;
	h.version = 1;
	cr_assert_eq(rtp_pack(&h, buf, sizeof(buf)), -EINVAL);
	h.version = 2;
	h.csrc_count = 16;
	cr_assert_eq(rtp_pack(&h, buf, sizeof(buf)), -EINVAL);
	h.csrc_count = 0;
	h.extension = true;
	h.ext_words = 1;
	cr_assert_eq(rtp_pack(&h, buf, sizeof(buf)), -EINVAL);
}

Test(rtp, rejects_every_truncation_of_a_valid_packet)
{
	uint8_t buf[128];
	const uint8_t pl[10] = {0};
	struct rtp_header h, p;
	const uint8_t *payload = NULL;
	size_t plen = 0;

	int n = packet_full(buf, sizeof(buf), &h, pl, sizeof(pl));
	cr_assert_gt(n, 0);
	for (int len = 0; len < n; len++) {
		/* Copy into an exact-size buffer so that ASan sees any read
		   past the end. */
		uint8_t exact[128];
		memcpy(exact, buf, (size_t)len);
		int err = rtp_parse(exact, (size_t)len, &p, &payload, &plen);
		/* A truncation that cuts only payload bytes changes which
		   byte is read as the padding count: it must be rejected or
		   give a payload that lies inside the packet. */
		if (err == 0) {
			cr_assert_geq(payload, exact);
			cr_assert_leq(payload + plen, exact + len);
			cr_assert_neq(p.pad_len, 5, "len %d parsed as whole",
			              len);
		} else {
			cr_assert(err == -EBADMSG, "len %d: %d", len, err);
		}
	}
	/* Without padding, every truncation inside the header fails. */
	h.pad_len = 0;
	n = rtp_write(&h, pl, sizeof(pl), buf, sizeof(buf));
	size_t hs = rtp_header_size(&h);
	for (size_t len = 0; len < hs; len++)
		cr_assert_eq(rtp_parse(buf, len, &p, &payload, &plen), -EBADMSG,
		             "header cut at %zu accepted", len);
	for (size_t len = hs; len <= (size_t)n; len++) {
		cr_assert_eq(rtp_parse(buf, len, &p, &payload, &plen), 0);
		cr_assert_eq(plen, len - hs);
	}
}

Test(rtp, rejects_truncated_padded_packets_whose_count_overruns)
{
	/* Header 12 bytes, P set, no payload, count byte = 1 + what is left. */
	uint8_t buf[16] = {0xa0, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5};
	struct rtp_header p;
	const uint8_t *payload;
	size_t plen;

	cr_assert_eq(rtp_parse(buf, 16, &p, &payload, &plen), -EBADMSG);
	buf[15] = 4;
	cr_assert_eq(rtp_parse(buf, 16, &p, &payload, &plen), 0);
	cr_assert_eq(plen, 0);
	buf[15] = 0;
	cr_assert_eq(rtp_parse(buf, 16, &p, &payload, &plen), -EBADMSG);
	/* P set but nothing after the header: no room for the count. */
	cr_assert_eq(rtp_parse(buf, 12, &p, &payload, &plen), -EBADMSG);
}

Test(rtp, rejects_versions_other_than_2)
{
	uint8_t buf[12] = {0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	struct rtp_header p;
	const uint8_t *payload;
	size_t plen;

	cr_assert_eq(rtp_parse(buf, 12, &p, &payload, &plen), 0);
	for (int v = 0; v < 4; v++) {
		if (v == 2)
			continue;
		buf[0] = (uint8_t)(v << 6);
		cr_assert_eq(rtp_parse(buf, 12, &p, &payload, &plen),
		             -EPROTONOSUPPORT);
	}
}

Test(rtp, rejects_csrc_count_beyond_length)
{
	uint8_t buf[12 + 4 * 15] = {0};
	struct rtp_header p;
	const uint8_t *payload;
	size_t plen;

	for (int cc = 1; cc <= 15; cc++) {
		buf[0] = (uint8_t)(0x80 | cc);
		size_t need = 12 + 4 * (size_t)cc;
		cr_assert_eq(rtp_parse(buf, need - 1, &p, &payload, &plen),
		             -EBADMSG);
		cr_assert_eq(rtp_parse(buf, need, &p, &payload, &plen), 0);
		cr_assert_eq(p.csrc_count, cc);
	}
}

Test(rtp, rejects_extension_length_beyond_packet)
{
	/* X set, extension of 2 words declared, only 1 present. */
	uint8_t buf[20] = {0x90, 96, 0,    1,    0,    0,    0, 0, 0, 0,
	                   0,    1,  0xbe, 0xde, 0x00, 0x02, 1, 2, 3, 4};
	struct rtp_header p;
	const uint8_t *payload;
	size_t plen;

	cr_assert_eq(rtp_parse(buf, 20, &p, &payload, &plen), -EBADMSG);
	buf[15] = 0xff; /* 0x02ff words: far beyond */
	buf[14] = 0xff;
	cr_assert_eq(rtp_parse(buf, 20, &p, &payload, &plen), -EBADMSG);
	buf[14] = 0;
	buf[15] = 1;
	cr_assert_eq(rtp_parse(buf, 20, &p, &payload, &plen), 0);
	cr_assert_eq(plen, 0);
	/* X set but no room for the extension header itself. */
	cr_assert_eq(rtp_parse(buf, 15, &p, &payload, &plen), -EBADMSG);
}

Test(rtp, padding_may_follow_extension_exactly)
{
	uint8_t buf[24] = {0xb0, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1,
	                   0,    1,  0, 1, 9, 9, 9, 9, 0, 0, 0, 4};
	struct rtp_header p;
	const uint8_t *payload;
	size_t plen;

	cr_assert_eq(rtp_parse(buf, 24, &p, &payload, &plen), 0);
	cr_assert_eq(plen, 0);
	cr_assert_eq(p.pad_len, 4);
	buf[23] = 5; /* would eat into the extension */
	cr_assert_eq(rtp_parse(buf, 24, &p, &payload, &plen), -EBADMSG);
}

Test(rtp, sequence_arithmetic_wraps_at_65536)
{
	cr_assert_eq(rtp_seq_diff(0, 65535), 1);
	cr_assert_eq(rtp_seq_diff(65535, 0), -1);
	cr_assert_eq(rtp_seq_diff(5, 65530), 11);
	cr_assert_eq(rtp_seq_diff(100, 100), 0);
	cr_assert_eq(rtp_seq_diff(32767, 0), 32767);
	cr_assert_eq(rtp_seq_diff(32768, 0), -32768);
	cr_assert(rtp_seq_newer(0, 65535));
	cr_assert(!rtp_seq_newer(65535, 0));
	cr_assert(!rtp_seq_newer(7, 7));
	for (uint32_t a = 0; a < 65536; a += 251) {
		uint16_t b = (uint16_t)(a + 1000);
		cr_assert_eq(rtp_seq_diff(b, (uint16_t)a), 1000);
		cr_assert_eq(rtp_seq_diff((uint16_t)a, b), -1000);
	}
}

Test(rtp, timestamp_arithmetic_wraps_at_2_pow_32)
{
	cr_assert_eq(rtp_ts_diff(0, 0xffffffffu), 1);
	cr_assert_eq(rtp_ts_diff(0xffffffffu, 0), -1);
	cr_assert_eq(rtp_ts_diff(480, 0xfffffe20u), 960);
	cr_assert_eq(rtp_ts_diff(0x7fffffffu, 0), 0x7fffffffll);
	cr_assert_eq(rtp_ts_diff(0x80000000u, 0), -0x80000000ll);
	cr_assert(rtp_ts_newer(100, 0xffffff00u));
	cr_assert(!rtp_ts_newer(0xffffff00u, 100));
}
