/*
 * test_sdpparse: the SDP reader of `rtbridge recv --sdp` and of SAP
 * announcements reads back what `rtbridge sdp` (sdp_write) writes, the SDP
 * PipeWire announces, takes static L16 payload types and the first audio
 * section, keeps name, origin and clock attributes, refuses files without
 * a usable stream with one line saying why, and survives hostile text
 * (huge numbers, long lines, no line end, embedded NULs). Pure,
 * single-threaded.
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
	cr_expect_eq(r.frames, codec_config_frames(&cc));
	cr_expect(r.recvonly);
	cr_expect_str_eq(r.ts_refclk, "local");
	cr_expect_str_eq(r.mediaclk, "direct=0");
	struct codec_config back;
	sdpparse_codec(&r, &back);
	cr_expect_eq(back.kind, kind);
	cr_expect_eq(codec_config_frames(&back), codec_config_frames(&cc));
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
	             -ENOTSUP);
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

/* What PipeWire 0.3.65's module-rtp-sink announces (LF line ends, the
   ptime rounded down to whole ms: 213 frames say 4). */
Test(sdpparse, reads_pipewire_announcements)
{
	struct sdpparse_result r;
	char err[128];
	const char *pw = "v=0\n"
	                 "o=root 4005578115 0 IN IP4 127.0.0.1\n"
	                 "s=PipeWire RTP Stream on vm\n"
	                 "c=IN IP4 239.255.12.34/1\n"
	                 "t=4005578115 0\n"
	                 "a=recvonly\n"
	                 "a=tool:PipeWire 0.3.65\n"
	                 "m=audio 5004 RTP/AVP 127\n"
	                 "a=rtpmap:127 L24/48000/2\n"
	                 "a=type:broadcast\n"
	                 "a=ptime:4\n";
	cr_assert_eq(sdpparse_parse(&r, pw, err, sizeof err), 0, "%s", err);
	cr_expect_eq(r.kind, CODEC_L24);
	cr_expect_eq(r.pt, 127);
	cr_expect_eq(r.port, 5004);
	cr_expect_eq(r.rate, 48000);
	cr_expect_eq(r.channels, 2);
	cr_expect_eq(r.frames, 192);
	cr_expect_str_eq(r.addr, "239.255.12.34");
	cr_expect_eq(r.ttl, 1);
	cr_expect_str_eq(r.name, "PipeWire RTP Stream on vm");
	cr_expect_str_eq(r.origin, "root 4005578115 IN IP4 127.0.0.1");
	cr_expect_eq(r.version, 0);
	cr_expect(r.recvonly);
}

Test(sdpparse, media_level_connection_wins_and_fractional_ptime)
{
	struct sdpparse_result r;
	char err[128];
	const char *t =
	        "v=0\r\n"
	        "o=- 1 2 IN IP6 ::1\r\n"
	        "s=x\r\n"
	        "c=IN IP6 ff15::1\r\n"
	        "m=audio 5004/2 RTP/AVP 98 99\r\n"
	        "c=IN IP6 ff15::2\r\n"
	        "a=rtpmap:98 L16/96000/8\r\n"
	        "a=ptime:0.125\r\n"
	        "a=ts-refclk:ptp=IEEE1588-2008:00-11-22-FF-FE-33-44-55:0\r\n"
	        "a=mediaclk:direct=963214424\r\n"
	        "m=audio 6000 RTP/AVP 96\r\n"
	        "c=IN IP4 10.0.0.1\r\n"
	        "a=ptime:20\r\n";
	cr_assert_eq(sdpparse_parse(&r, t, err, sizeof err), 0, "%s", err);
	cr_expect_str_eq(r.addr, "ff15::2");
	cr_expect_eq(r.pt, 98);
	cr_expect_eq(r.channels, 8);
	cr_expect_eq(r.frames, 12);
	cr_expect_eq(r.ptime_us, 125);
	cr_expect_str_eq(r.mediaclk, "direct=963214424");
	cr_expect_eq(r.version, 2);
	cr_expect_str_eq(r.origin, "- 1 IN IP6 ::1");
}

Test(sdpparse, survives_hostile_text)
{
	struct sdpparse_result r;
	char err[128];
	char big[4096];

	/* Numbers beyond every limit. */
	cr_expect_lt(
	        sdpparse_parse(&r,
	                       "m=audio 99999999999999999999999 RTP/AVP 96\n"
	                       "a=rtpmap:96 L16/48000/2\n",
	                       err, sizeof err),
	        0);
	cr_expect_eq(
	        sdpparse_parse(&r,
	                       "m=audio 5004 RTP/AVP 96\n"
	                       "a=rtpmap:96 L16/4800000000000000000000/2\n",
	                       err, sizeof err),
	        -EINVAL);
	cr_expect_eq(sdpparse_parse(&r,
	                            "m=audio 5004 RTP/AVP 96\n"
	                            "a=rtpmap:96 L16/48000/99\n",
	                            err, sizeof err),
	             -EINVAL);
	cr_expect_eq(sdpparse_parse(&r, "m=audio 5004 RTP/AVP 128\n", err,
	                            sizeof err),
	             -EINVAL);
	/* A line longer than the line buffer, no line end at all. */
	memset(big, 'a', sizeof big);
	memcpy(big, "s=", 2);
	cr_expect_eq(sdpparse_parse_n(&r, big, sizeof big, err, sizeof err),
	             -EINVAL);
	cr_expect_eq(strlen(r.name), SDPPARSE_NAME_MAX - 1);
	/* The length bounds the text; a NUL ends it earlier. */
	const char *t = "m=audio 5004 RTP/AVP 96\na=rtpmap:96 L16/48000/2\n";
	cr_expect_eq(sdpparse_parse_n(&r, t, 30, err, sizeof err), -EINVAL);
	cr_expect_eq(sdpparse_parse_n(&r, t, strlen(t), err, sizeof err), 0);
	char nul[] = "m=audio 5004 RTP/AVP 96\n\0a=rtpmap:96 L16/48000/2\n";
	cr_expect_eq(sdpparse_parse_n(&r, nul, sizeof nul, err, sizeof err),
	             -EINVAL);
	/* Control characters in names are not passed on to a terminal. */
	cr_expect_eq(sdpparse_parse(&r,
	                            "s=\x1b[2Jevil\nm=audio 5 RTP/AVP 96\n"
	                            "a=rtpmap:96 L16/48000/2\n",
	                            err, sizeof err),
	             0);
	cr_expect_str_eq(r.name, "?[2Jevil");
	/* Odd ptimes: not a number, zero, huge: ignored. */
	cr_expect_eq(sdpparse_parse(&r,
	                            "m=audio 5 RTP/AVP 96\n"
	                            "a=rtpmap:96 L16/48000/2\na=ptime:x\n"
	                            "a=ptime:0\na=ptime:100000\n",
	                            err, sizeof err),
	             0);
	cr_expect_eq(r.frames, 0);
}

/* The codec configuration a description gives is always usable. */
Test(sdpparse, codec_configuration_is_usable_at_any_rate)
{
	struct sdpparse_result r;
	struct codec_config c;
	char err[128];

	cr_assert_eq(sdpparse_parse(&r,
	                            "m=audio 5 RTP/AVP 96\n"
	                            "a=rtpmap:96 L24/44100/2\n",
	                            err, sizeof err),
	             0);
	sdpparse_codec(&r, &c);
	cr_expect_eq(codec_config_check(&c, NULL), 0);
	cr_expect_eq(codec_config_frames(&c), 221, "5 ms, whole frames");
	cr_assert_eq(sdpparse_parse(&r,
	                            "m=audio 5 RTP/AVP 96\n"
	                            "a=rtpmap:96 L16/96000/1\na=ptime:0.01\n",
	                            err, sizeof err),
	             0);
	sdpparse_codec(&r, &c);
	cr_expect_eq(codec_config_check(&c, NULL), 0);
	cr_expect_eq(codec_config_frames(&c), 12, "clamped to 0.125 ms");
	cr_assert_eq(sdpparse_parse(&r,
	                            "m=audio 5 RTP/AVP 111\n"
	                            "a=rtpmap:111 opus/48000/2\na=ptime:7\n",
	                            err, sizeof err),
	             0);
	sdpparse_codec(&r, &c);
	cr_expect_eq(codec_config_check(&c, NULL), 0);
	cr_expect_eq(c.frame_us, 20000, "not an Opus duration: the default");
}

Test(sdpparse, reads_red_back_from_what_sdp_write_writes)
{
	struct codec_config cc;
	struct sockaddr_in to;
	char text[1024], err[128];
	struct sdpparse_result r;

	for (int kind = CODEC_OPUS; kind <= CODEC_L16; kind++) {
		codec_config_default(&cc, (enum codec_kind)kind);
		cc.channels = kind == CODEC_OPUS ? 1 : 2;
		sin4(&to, "127.0.0.1", 5004);
		struct sdp_opts so = {.to = (struct sockaddr *)&to,
		                      .codec = &cc,
		                      .pt = 97,
		                      .red_distance = 2,
		                      .red_pt = 101};
		cr_assert_gt(sdp_write(text, sizeof(text), &so), 0);
		cr_assert_eq(sdpparse_parse(&r, text, err, sizeof(err)), 0,
		             "%s: %s", err, text);
		cr_expect_eq(r.pt, 97);
		cr_expect_eq(r.red_pt, 101);
		cr_expect_eq(r.kind, kind);
		cr_expect_eq(r.rate, 48000);
		cr_expect_eq(r.channels, cc.channels, "%s", text);
	}
	/* Without RED: red_pt -1. */
	sdp_roundtrip(CODEC_OPUS, 48000, 2, 96, 5004);
	cr_assert_eq(sdpparse_parse(&r,
	                            "m=audio 5004 RTP/AVP 96\n"
	                            "a=rtpmap:96 opus/48000/2\n",
	                            err, sizeof(err)),
	             0);
	cr_expect_eq(r.red_pt, -1);
}

Test(sdpparse, red_primary_comes_from_fmtp_or_the_next_listed_type)
{
	struct sdpparse_result r;
	char err[128];

	/* RFC 2198's own example shape: the fmtp names the primary. */
	cr_assert_eq(sdpparse_parse(&r,
	                            "m=audio 5004 RTP/AVP 121 11 96\r\n"
	                            "a=rtpmap:121 red/48000/2\r\n"
	                            "a=fmtp:121 96/11\r\n"
	                            "a=rtpmap:96 L16/48000/2\r\n",
	                            err, sizeof(err)),
	             0, "%s", err);
	cr_expect_eq(r.red_pt, 121);
	cr_expect_eq(r.pt, 96);
	cr_expect_eq(r.kind, CODEC_L16);
	cr_expect_eq(r.rate, 48000);
	/* No fmtp: the next one listed. */
	cr_assert_eq(sdpparse_parse(&r,
	                            "m=audio 5004 RTP/AVP 100 111\r\n"
	                            "a=rtpmap:111 opus/48000/2\r\n"
	                            "a=fmtp:111 stereo=0\r\n"
	                            "a=rtpmap:100 RED/48000/2\r\n",
	                            err, sizeof(err)),
	             0, "%s", err);
	cr_expect_eq(r.red_pt, 100);
	cr_expect_eq(r.pt, 111);
	cr_expect_eq(r.channels, 1);
	/* RED alone, or naming a type not listed: nothing to play. */
	cr_expect_eq(sdpparse_parse(&r,
	                            "m=audio 5004 RTP/AVP 100\r\n"
	                            "a=rtpmap:100 red/48000/2\r\n",
	                            err, sizeof(err)),
	             -ENOTSUP);
	cr_expect_eq(sdpparse_parse(&r,
	                            "m=audio 5004 RTP/AVP 100 96\r\n"
	                            "a=rtpmap:100 red/48000/2\r\n"
	                            "a=fmtp:100 97/97\r\n"
	                            "a=rtpmap:96 opus/48000/2\r\n",
	                            err, sizeof(err)),
	             -ENOTSUP);
	/* RED listed after the stream's own type is not used. */
	cr_assert_eq(sdpparse_parse(&r,
	                            "m=audio 5004 RTP/AVP 96 100\r\n"
	                            "a=rtpmap:96 opus/48000/2\r\n"
	                            "a=rtpmap:100 red/48000/2\r\n",
	                            err, sizeof(err)),
	             0);
	cr_expect_eq(r.pt, 96);
	cr_expect_eq(r.red_pt, -1);
}
