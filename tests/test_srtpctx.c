/*
 * test_srtpctx: SRTP keys and contexts, single-threaded
 *
 * Both suites: a protected packet verifies back to the same bytes; a
 * tampered (any byte), truncated or replayed packet, one sealed with
 * another key, or plain RTP is refused with the right code; SSRCs past
 * the receiver's bound are let go of least recently heard first. Keys:
 * base64 and SDES (RFC 4568) round trips, every refusal, no key text in
 * an error, zeroed by srtpkey_clear.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bridge/net/srtpctx.h"
#include "bridge/net/srtpkey.h"

#define PKT_CAP (1200 + SRTPCTX_TRAILER)

/* Deterministic payload: byte i of packet seq. */
static uint8_t pattern(size_t i, uint16_t seq)
{
	return (uint8_t)(i * 151u + seq * 7u + (i >> 3));
}

static void make_key(struct srtpkey *k, enum srtpkey_suite s, uint8_t fill)
{
	memset(k, 0, sizeof(*k));
	k->suite = s;
	k->len = srtpkey_suite_len(s);
	for (size_t i = 0; i < k->len; i++)
		k->bytes[i] = (uint8_t)(fill + i * 7);
}

/* An RTP packet: 12-byte header, `plen` payload bytes. Return: length. */
static size_t make_rtp(uint8_t *p, uint32_t ssrc, uint16_t seq, size_t plen)
{
	uint32_t ts = 1000u + seq * 480u;

	p[0] = 0x80;
	p[1] = 96;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[4] = (uint8_t)(ts >> 24);
	p[5] = (uint8_t)(ts >> 16);
	p[6] = (uint8_t)(ts >> 8);
	p[7] = (uint8_t)ts;
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	for (size_t i = 0; i < plen; i++)
		p[12 + i] = pattern(i, seq);
	return 12 + plen;
}

static const enum srtpkey_suite suites[] = {SRTPKEY_AES_CM_128_HMAC_SHA1_80,
                                            SRTPKEY_AEAD_AES_128_GCM};
static const size_t tags[] = {10, 16}; /* bytes of each suite's tag */

struct pair {
	struct srtpctx tx, rx;
};

static void pair_init(struct pair *p, enum srtpkey_suite s, uint32_t ssrc,
                      uint8_t rx_fill)
{
	struct srtpkey k;
	char err[128];

	make_key(&k, s, 1);
	cr_assert_eq(srtpctx_init_tx(&p->tx, &k, ssrc, err, sizeof(err)), 0,
	             "%s", err);
	make_key(&k, s, rx_fill);
	cr_assert_eq(srtpctx_init_rx(&p->rx, &k, 1500, 4, err, sizeof(err)), 0,
	             "%s", err);
	srtpkey_clear(&k);
}

static void pair_clear(struct pair *p)
{
	srtpctx_clear(&p->tx);
	srtpctx_clear(&p->rx);
}

/* Protect packet seq of ssrc; return the SRTP length, plain copy in rtp. */
static size_t seal(struct pair *p, uint8_t *pkt, uint8_t *rtp, uint32_t ssrc,
                   uint16_t seq, size_t plen)
{
	size_t len = make_rtp(pkt, ssrc, seq, plen);
	memcpy(rtp, pkt, len);
	int n = srtpctx_protect(&p->tx, pkt, len, PKT_CAP);
	cr_assert_gt(n, (int)len);
	return (size_t)n;
}

Test(srtpctx, round_trip_both_suites)
{
	for (size_t s = 0; s < 2; s++) {
		struct pair p;
		uint8_t pkt[PKT_CAP], rtp[PKT_CAP];
		const uint8_t *out;

		pair_init(&p, suites[s], 0x11223344u, 1);
		for (uint16_t seq = 65530; seq != 10; seq++) {
			size_t plen = 1 + (seq * 37u) % 1000;
			size_t n = seal(&p, pkt, rtp, 0x11223344u, seq, plen);
			cr_assert_eq(n, 12 + plen + tags[s]);
			/* The payload went out encrypted. */
			cr_assert_neq(memcmp(pkt + 12, rtp + 12, plen), 0);
			int m = srtpctx_unprotect(&p.rx, pkt, n, &out);
			cr_assert_eq(m, (int)(12 + plen), "suite %zu seq %u", s,
			             seq);
			cr_assert_eq(memcmp(out, rtp, (size_t)m), 0);
		}
		pair_clear(&p);
	}
}

Test(srtpctx, refuses_every_tampered_byte)
{
	for (size_t s = 0; s < 2; s++) {
		struct pair p;
		uint8_t pkt[PKT_CAP], rtp[PKT_CAP], bad[PKT_CAP];
		const uint8_t *out;

		pair_init(&p, suites[s], 7, 1);
		size_t n = seal(&p, pkt, rtp, 7, 100, 40);
		for (size_t i = 0; i < n; i++) {
			memcpy(bad, pkt, n);
			bad[i] ^= (uint8_t)(1u << (i % 8));
			cr_assert_eq(srtpctx_unprotect(&p.rx, bad, n, &out),
			             -EBADMSG, "suite %zu byte %zu", s, i);
		}
		/* The genuine packet still passes afterwards. */
		cr_assert_eq(srtpctx_unprotect(&p.rx, pkt, n, &out), 52);
		pair_clear(&p);
	}
}

Test(srtpctx, refuses_truncated_and_plain_packets)
{
	for (size_t s = 0; s < 2; s++) {
		struct pair p;
		uint8_t pkt[PKT_CAP], rtp[PKT_CAP];
		const uint8_t *out;

		pair_init(&p, suites[s], 7, 1);
		size_t n = seal(&p, pkt, rtp, 7, 5, 200);
		for (size_t len = 0; len < n; len++)
			cr_assert_eq(srtpctx_unprotect(&p.rx, pkt, len, &out),
			             -EBADMSG, "suite %zu len %zu", s, len);
		/* Plain RTP is not SRTP. */
		cr_assert_eq(srtpctx_unprotect(&p.rx, rtp, 212, &out),
		             -EBADMSG);
		cr_assert_eq(srtpctx_unprotect(&p.rx, pkt, n, &out), 212);
		pair_clear(&p);
	}
}

Test(srtpctx, refuses_replays)
{
	for (size_t s = 0; s < 2; s++) {
		struct pair p;
		uint8_t pkt[200][PKT_CAP], rtp[PKT_CAP];
		size_t len[200];
		const uint8_t *out;

		pair_init(&p, suites[s], 9, 1);
		for (int i = 0; i < 200; i++)
			len[i] =
			        seal(&p, pkt[i], rtp, 9, (uint16_t)(i + 1), 30);
		cr_assert_eq(srtpctx_unprotect(&p.rx, pkt[0], len[0], &out),
		             42);
		cr_assert_eq(srtpctx_unprotect(&p.rx, pkt[0], len[0], &out),
		             -EALREADY);
		/* Out of order within the window is fine, once. */
		for (int i = 60; i >= 1; i--)
			cr_assert_eq(
			        srtpctx_unprotect(&p.rx, pkt[i], len[i], &out),
			        42);
		cr_assert_eq(srtpctx_unprotect(&p.rx, pkt[30], len[30], &out),
		             -EALREADY);
		/* Far ahead, then one older than the window (128). */
		cr_assert_eq(srtpctx_unprotect(&p.rx, pkt[199], len[199], &out),
		             42);
		cr_assert_eq(srtpctx_unprotect(&p.rx, pkt[61], len[61], &out),
		             -EALREADY);
		pair_clear(&p);
	}
}

Test(srtpctx, refuses_another_key_and_another_suite)
{
	for (size_t s = 0; s < 2; s++) {
		struct pair p;
		uint8_t pkt[PKT_CAP], rtp[PKT_CAP];
		const uint8_t *out;

		pair_init(&p, suites[s], 7, 2); /* the receiver's key differs */
		for (uint16_t seq = 1; seq < 20; seq++) {
			size_t n = seal(&p, pkt, rtp, 7, seq, 100);
			cr_assert_eq(srtpctx_unprotect(&p.rx, pkt, n, &out),
			             -EBADMSG);
		}
		pair_clear(&p);
	}
	/* Same key bytes, the other suite. */
	struct srtpctx tx, rx;
	struct srtpkey k;
	char err[128];
	uint8_t pkt[PKT_CAP];
	const uint8_t *out;
	make_key(&k, SRTPKEY_AES_CM_128_HMAC_SHA1_80, 1);
	cr_assert_eq(srtpctx_init_tx(&tx, &k, 7, err, sizeof(err)), 0);
	make_key(&k, SRTPKEY_AEAD_AES_128_GCM, 1);
	cr_assert_eq(srtpctx_init_rx(&rx, &k, 1500, 4, err, sizeof(err)), 0);
	size_t n = make_rtp(pkt, 7, 1, 100);
	int m = srtpctx_protect(&tx, pkt, n, sizeof(pkt));
	cr_assert_gt(m, 0);
	cr_assert_eq(srtpctx_unprotect(&rx, pkt, (size_t)m, &out), -EBADMSG);
	srtpctx_clear(&tx);
	srtpctx_clear(&rx);
}

Test(srtpctx, protect_checks_room_and_ssrc)
{
	struct pair p;
	uint8_t pkt[PKT_CAP];

	pair_init(&p, SRTPKEY_AES_CM_128_HMAC_SHA1_80, 7, 1);
	size_t n = make_rtp(pkt, 7, 1, 100);
	cr_assert_eq(srtpctx_protect(&p.tx, pkt, n, n + 10), -ENOBUFS);
	cr_assert_eq(srtpctx_protect(&p.tx, pkt, 8, sizeof(pkt)), -EINVAL);
	n = make_rtp(pkt, 8, 1, 100); /* not the context's SSRC */
	cr_assert_eq(srtpctx_protect(&p.tx, pkt, n, sizeof(pkt)), -EINVAL);
	pair_clear(&p);
}

Test(srtpctx, bounds_the_ssrcs_kept)
{
	struct srtpctx tx[6], rx;
	struct srtpkey k;
	char err[128];
	uint8_t pkt[PKT_CAP], first[PKT_CAP];
	const uint8_t *out;
	size_t first_len = 0;

	make_key(&k, SRTPKEY_AEAD_AES_128_GCM, 3);
	cr_assert_eq(srtpctx_init_rx(&rx, &k, 1500, 4, err, sizeof(err)), 0);
	for (uint32_t i = 0; i < 6; i++) {
		cr_assert_eq(
		        srtpctx_init_tx(&tx[i], &k, 100 + i, err, sizeof(err)),
		        0);
		size_t n = make_rtp(pkt, 100 + i, 1, 50);
		int m = srtpctx_protect(&tx[i], pkt, n, sizeof(pkt));
		cr_assert_gt(m, 0);
		if (i == 0) {
			memcpy(first, pkt, (size_t)m);
			first_len = (size_t)m;
		}
		cr_assert_eq(srtpctx_unprotect(&rx, pkt, (size_t)m, &out), 62);
		cr_assert_leq(rx.nssrcs, 4);
	}
	cr_assert_eq(rx.nssrcs, 4);
	/* SSRC 100, the least recently heard, was let go of: its replay
	   window went with it (the price of the bound). */
	cr_assert_eq(srtpctx_unprotect(&rx, first, first_len, &out), 62);
	for (size_t i = 0; i < 4; i++)
		cr_assert_neq(rx.ssrcs[i], 101u); /* the next oldest went */
	for (int i = 0; i < 6; i++)
		srtpctx_clear(&tx[i]);
	srtpctx_clear(&rx);
	srtpkey_clear(&k);
}

Test(srtpkey, base64_round_trip_through_sdes)
{
	for (size_t s = 0; s < 2; s++) {
		struct srtpkey k, back;
		char line[SRTPKEY_SDES_MAX], err[128];

		make_key(&k, suites[s], 9);
		int n = srtpkey_sdes(&k, 1, line, sizeof(line));
		cr_assert_gt(n, 0);
		cr_assert(strncmp(line, "1 ", 2) == 0);
		cr_assert_neq(strstr(line, srtpkey_suite_name(suites[s])),
		              NULL);
		cr_assert_eq(srtpkey_sdes_parse(&back, line, err, sizeof(err)),
		             0, "%s", err);
		cr_assert_eq(back.suite, k.suite);
		cr_assert_eq(back.len, k.len);
		cr_assert_eq(memcmp(back.bytes, k.bytes, k.len), 0);
		/* The inline text alone is the --srtp-key form. */
		const char *b64 = strstr(line, "inline:") + 7;
		cr_assert_eq(srtpkey_from_base64(&back, suites[s], b64, err,
		                                 sizeof(err)),
		             0);
		cr_assert_eq(memcmp(back.bytes, k.bytes, k.len), 0);
	}
}

Test(srtpkey, reads_known_vectors)
{
	struct srtpkey k;
	char err[128];
	/* RFC 4568's example key (30 bytes). */
	const char *rfc = "1 AES_CM_128_HMAC_SHA1_80 "
	                  "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20"
	                  " WSH=64";

	cr_assert_eq(srtpkey_sdes_parse(&k, rfc, err, sizeof(err)), 0, "%s",
	             err);
	cr_assert_eq(k.len, 30);
	cr_assert_eq(k.bytes[0], 0x3d);
	cr_assert_eq(k.bytes[29], 0x51);
	/* Padding is optional in a key given by hand. */
	cr_assert_eq(srtpkey_from_base64(
	                     &k, SRTPKEY_AEAD_AES_128_GCM,
	                     " AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==\n", err,
	                     sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(k.bytes[27], 27);
	cr_assert_eq(
	        srtpkey_from_base64(&k, SRTPKEY_AEAD_AES_128_GCM,
	                            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw",
	                            err, sizeof(err)),
	        0, "%s", err);
	enum srtpkey_suite s;
	cr_assert_eq(srtpkey_suite_parse("aead_aes_128_gcm", &s), 0);
	cr_assert_eq(s, SRTPKEY_AEAD_AES_128_GCM);
	cr_assert_eq(srtpkey_suite_parse("AES_CM_128_HMAC_SHA1_32", &s),
	             -EINVAL);
}

Test(srtpkey, refuses_bad_keys_without_showing_them)
{
	struct srtpkey k;
	char err[160];
	static const struct {
		const char *text;
		int rc;
	} sdes[] = {
	        {"AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhc"
	         "YD0mXXtxaVBR",
	         -EINVAL},
	        {"1 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhc"
	         "YD0mXXtxaVBR",
	         -ENOTSUP},
	        {"1 AES_CM_128_HMAC_SHA1_80 key:PS1uQCVeeCFCanVmcjkpPywjNWhc"
	         "YD0mXXtxaVBR",
	         -EINVAL},
	        {"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhc"
	         "YD0mXXtxaVBR|2^20|1:4",
	         -EINVAL},
	        {"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhc"
	         "YD0mXXtxaVBR;inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
	         -EINVAL},
	        {"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhc"
	         "YD0mXXtxaVBR UNENCRYPTED_SRTP",
	         -EINVAL},
	        {"1 AEAD_AES_128_GCM inline:PS1uQCVeeCFCanVmcjkpPywjNWhc"
	         "YD0mXXtxaVBR",
	         -EINVAL}, /* 30 bytes for a 28-byte suite */
	        {"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkp*ywjNWhc"
	         "YD0mXXtxaVBR",
	         -EINVAL},
	        {"1 AES_CM_128_HMAC_SHA1_80 inline:", -EINVAL},
	        {"", -EINVAL},
	};

	for (size_t i = 0; i < sizeof(sdes) / sizeof(sdes[0]); i++) {
		memset(&k, 0xaa, sizeof(k));
		cr_assert_eq(
		        srtpkey_sdes_parse(&k, sdes[i].text, err, sizeof(err)),
		        sdes[i].rc, "case %zu: %s", i, err);
		cr_assert_neq(err[0], '\0');
		cr_assert_eq(strstr(err, "PS1uQCVee"), NULL, "%s", err);
		cr_assert_eq(k.len, 0);
		for (size_t j = 0; j < sizeof(k.bytes); j++)
			cr_assert_eq(k.bytes[j], 0);
	}
	cr_assert_eq(srtpkey_from_base64(
	                     &k, SRTPKEY_AES_CM_128_HMAC_SHA1_80,
	                     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==", err,
	                     sizeof(err)),
	             -EINVAL);
	cr_assert_neq(strstr(err, "28 bytes"), NULL, "%s", err);
	cr_assert_eq(
	        srtpkey_from_base64(&k, SRTPKEY_AEAD_AES_128_GCM,
	                            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaG",
	                            err, sizeof(err)),
	        -EINVAL); /* leftover bits */
	cr_assert_eq(
	        srtpkey_from_base64(&k, SRTPKEY_AEAD_AES_128_GCM,
	                            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=x",
	                            err, sizeof(err)),
	        -EINVAL);
}

Test(srtpkey, clear_zeroes)
{
	struct srtpkey k;

	make_key(&k, SRTPKEY_AES_CM_128_HMAC_SHA1_80, 0x55);
	srtpkey_clear(&k);
	for (size_t j = 0; j < sizeof(k.bytes); j++)
		cr_assert_eq(k.bytes[j], 0);
	cr_assert_eq(k.len, 0);
}
