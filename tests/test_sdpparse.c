/*
 * test_sdpparse: the SDP reader of `rtbridge recv --sdp` reads back what
 * `rtbridge sdp` (sdp_write) writes, takes static L16 payload types and
 * the first audio section, and refuses files without a usable stream
 * with one line saying why. Pure, single-threaded.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "bridge/net/sdp.h"
#include "bridge/net/sdpparse.h"

static void sin4(struct sockaddr_in *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	inet_pton(AF_INET, ip, &a->sin_addr);
}

TestSuite(sdpparse, .timeout = 10);

static void sdp_roundtrip(enum codec_kind kind, int rate, int ch, int pt,
                          unsigned port)
{
	struct codec_config cc;
	struct sockaddr_in to;
	char text[1024], err[128];
	struct sdpparse_result r;

	codec_config_default(&cc, kind);
	cc.rate = rate;
	cc.channels = ch;
	if (kind != CODEC_OPUS)
		cc.frame_us = 10000;
	sin4(&to, "127.0.0.1", (uint16_t)port);
	struct sdp_opts so = {
	        .to = (struct sockaddr *)&to, .codec = &cc, .pt = pt};
	cr_assert_gt(sdp_write(text, sizeof(text), &so), 0);
	cr_assert_eq(sdpparse_parse(&r, text, err, sizeof(err)), 0, "%s: %s",
	             err, text);
	cr_expect_eq(r.kind, kind);
	cr_expect_eq(r.rate, rate);
	cr_expect_eq(r.channels, ch, "%s", text);
	cr_expect_eq(r.pt, pt);
	cr_expect_eq(r.port, port);
	cr_expect(strcmp(r.addr, "127.0.0.1") == 0, "%s", r.addr);
	cr_expect_eq(r.ptime_us, cc.frame_us);
}

Test(sdpparse, reads_back_what_sdp_write_writes)
{
	sdp_roundtrip(CODEC_OPUS, 48000, 2, 96, 5004);
	sdp_roundtrip(CODEC_OPUS, 48000, 1, 97, 6000);
	sdp_roundtrip(CODEC_L16, 48000, 2, 98, 5006);
	sdp_roundtrip(CODEC_L24, 44100, 1, 100, 7000);
}

Test(sdpparse, refuses_files_without_a_usable_audio_stream)
{
	struct sdpparse_result r;
	char err[128];

	cr_expect_eq(sdpparse_parse(&r, "v=0\r\nm=video 5004 RTP/AVP 96\r\n",
	                            err, sizeof(err)),
	             -EINVAL);
	cr_expect(strstr(err, "m=audio") != NULL, "%s", err);
	cr_expect_eq(sdpparse_parse(&r, "m=audio 5004 RTP/AVP 96\n", err,
	                            sizeof(err)),
	             -EINVAL);
	cr_expect(strstr(err, "rtpmap") != NULL, "%s", err);
	cr_expect_eq(sdpparse_parse(&r,
	                            "m=audio 5004 RTP/AVP 96\n"
	                            "a=rtpmap:96 PCMA/8000\n",
	                            err, sizeof(err)),
	             -EINVAL);
	cr_expect(strstr(err, "PCMA") != NULL, "%s", err);
	/* Static L16 needs no rtpmap; the first audio section wins. */
	cr_expect_eq(sdpparse_parse(&r,
	                            "m=audio 5004 RTP/AVP 10\n"
	                            "m=audio 6000 RTP/AVP 96\n"
	                            "a=rtpmap:96 opus/48000/2\n",
	                            err, sizeof(err)),
	             0);
	cr_expect_eq(r.kind, CODEC_L16);
	cr_expect_eq(r.rate, 44100);
	cr_expect_eq(r.channels, 2);
	cr_expect_eq(r.port, 5004);
}

Test(sdpparse, srtp_profile_and_crypto_lines)
{
	struct sdpparse_result r;
	char err[128], text[1024];
	const char *key = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

	snprintf(text, sizeof(text),
	         "a=crypto:9 AES_CM_128_HMAC_SHA1_80 %s\n"
	         "m=audio 5004 RTP/SAVP 96\n"
	         "a=rtpmap:96 L16/48000/2\n"
	         "a=crypto:1 AES_256_CM_HMAC_SHA1_80 %s\n"
	         "a=crypto:2 AES_CM_128_HMAC_SHA1_80 %s\n"
	         "a=crypto:3 AES_CM_128_HMAC_SHA1_80 %s|2^20 WSH=%0240d\n",
	         key, key, key, key, 64);
	cr_assert_eq(sdpparse_parse(&r, text, err, sizeof(err)), 0, "%s", err);
	cr_expect(r.savp);
	cr_expect_eq(r.port, 5004);
	/* Only the media section's lines, in order; one too long to keep
	   whole is kept empty, never cut. */
	cr_assert_eq(r.ncrypto, 3);
	cr_expect(strncmp(r.crypto[0], "1 AES_256_CM", 12) == 0, "%s",
	          r.crypto[0]);
	cr_expect(strncmp(r.crypto[1], "2 AES_CM_128", 12) == 0, "%s",
	          r.crypto[1]);
	cr_expect_str_empty(r.crypto[2]);
	/* A plain profile says so. */
	cr_assert_eq(sdpparse_parse(&r,
	                            "m=audio 5004 RTP/AVP 96\n"
	                            "a=rtpmap:96 L16/48000/2\n",
	                            err, sizeof(err)),
	             0);
	cr_expect(!r.savp);
	cr_expect_eq(r.ncrypto, 0);
	cr_expect_eq(sdpparse_parse(&r,
	                            "m=audio 5004 RTP/SAVPF 96\n"
	                            "a=rtpmap:96 L16/48000/2\n",
	                            err, sizeof(err)),
	             -EINVAL);
}

Test(sdpparse, reads_back_the_crypto_line_sdp_write_writes)
{
	struct codec_config cc;
	struct sockaddr_in to;
	char text[1024], err[128];
	struct sdpparse_result r;
	const char *crypto = "1 AEAD_AES_128_GCM "
	                     "inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==";

	codec_config_default(&cc, CODEC_OPUS);
	sin4(&to, "127.0.0.1", 5004);
	struct sdp_opts so = {.to = (struct sockaddr *)&to,
	                      .codec = &cc,
	                      .pt = 96,
	                      .crypto = crypto};
	cr_assert_gt(sdp_write(text, sizeof(text), &so), 0);
	cr_expect_neq(strstr(text, "m=audio 5004 RTP/SAVP 96\r\n"), NULL, "%s",
	              text);
	cr_assert_eq(sdpparse_parse(&r, text, err, sizeof(err)), 0, "%s", err);
	cr_expect(r.savp);
	cr_assert_eq(r.ncrypto, 1);
	cr_expect_str_eq(r.crypto[0], crypto);
	cr_expect_eq(r.kind, CODEC_OPUS);
}
