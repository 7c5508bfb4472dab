/*
 * SDP text for the streams the sender can send: Opus per RFC 7587 (rtpmap
 * always opus/48000/2, stereo in fmtp), L16/L24 per RFC 3551, IPv4, IPv6
 * and multicast connection lines, CRLF line ends, packet times as whole
 * frames (fractional ptime), a=recvonly and RFC 7273's clock attributes,
 * the origin and name a SAP announcement carries, and refusals.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bridge/net/addr.h"
#include "bridge/net/sdp.h"
#include "bridge/net/sdpparse.h"
#include "bridge/net/srtpkey.h"
#include "codec/red.h"

TestSuite(sdp, .timeout = 10);

static struct sockaddr_storage to;

static int gen(char *buf, size_t cap, const char *addr, enum codec_kind kind,
               int channels, int frame_us, int pt)
{
	struct codec_config c;
	cr_assert_eq(addr_parse(&to, NULL, addr, ADDR_NUMERIC, NULL, 0), 0);
	codec_config_default(&c, kind);
	c.channels = channels;
	c.frame_us = frame_us;
	struct sdp_opts o = {.to = (struct sockaddr *)&to,
	                     .codec = &c,
	                     .pt = pt,
	                     .session_id = 42};
	return sdp_write(buf, cap, &o);
}

Test(sdp, opus_stereo_is_described_per_rfc7587)
{
	char b[1024];
	int n = gen(b, sizeof b, "127.0.0.1:5004", CODEC_OPUS, 2, 10000, 96);
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(b));
	const char *want = "v=0\r\n"
	                   "o=- 42 42 IN IP4 127.0.0.1\r\n"
	                   "s=rtbridge\r\n"
	                   "c=IN IP4 127.0.0.1\r\n"
	                   "t=0 0\r\n"
	                   "a=recvonly\r\n"
	                   "m=audio 5004 RTP/AVP 96\r\n"
	                   "a=rtpmap:96 opus/48000/2\r\n";
	cr_assert(strncmp(b, want, strlen(want)) == 0, "got:\n%s", b);
	cr_assert_not_null(strstr(b, "a=fmtp:96 stereo=1;sprop-stereo=1"));
	cr_assert_not_null(strstr(b, "a=ptime:10\r\n"));
}

Test(sdp, opus_mono_still_maps_two_channels_and_says_mono_in_fmtp)
{
	char b[1024];
	cr_assert_gt(
	        gen(b, sizeof b, "127.0.0.1:6000", CODEC_OPUS, 1, 2500, 111),
	        0);
	cr_assert_not_null(strstr(b, "m=audio 6000 RTP/AVP 111\r\n"));
	cr_assert_not_null(strstr(b, "a=rtpmap:111 opus/48000/2\r\n"));
	cr_assert_not_null(strstr(b, "stereo=0;sprop-stereo=0"));
	cr_assert_not_null(strstr(b, "a=ptime:2.5\r\n"), "%s", b);
}

Test(sdp, linear_pcm_names_rate_and_channels)
{
	char b[1024];
	cr_assert_gt(gen(b, sizeof b, "127.0.0.1:5004", CODEC_L16, 2, 5000, 96),
	             0);
	cr_assert_not_null(strstr(b, "a=rtpmap:96 L16/48000/2\r\n"));
	cr_assert_null(strstr(b, "fmtp"));
	cr_assert_gt(
	        gen(b, sizeof b, "127.0.0.1:5004", CODEC_L24, 1, 20000, 98), 0);
	cr_assert_not_null(strstr(b, "a=rtpmap:98 L24/48000/1\r\n"));
	cr_assert_not_null(strstr(b, "a=ptime:20\r\n"));
}

Test(sdp, ipv6_and_multicast_connection_lines)
{
	char b[1024];
	cr_assert_gt(gen(b, sizeof b, "[::1]:5004", CODEC_OPUS, 2, 10000, 96),
	             0);
	cr_assert_not_null(strstr(b, "c=IN IP6 ::1\r\n"));
	cr_assert_not_null(strstr(b, "o=- 42 42 IN IP6 ::1\r\n"));
	cr_assert_gt(
	        gen(b, sizeof b, "239.1.2.3:5004", CODEC_OPUS, 2, 10000, 96),
	        0);
	cr_assert_not_null(strstr(b, "c=IN IP4 239.1.2.3/1\r\n"),
	                   "TTL on IPv4 multicast (the system's default 1)");
	cr_assert_gt(
	        gen(b, sizeof b, "[ff15::1]:5004", CODEC_OPUS, 2, 10000, 96),
	        0);
	cr_assert_not_null(strstr(b, "c=IN IP6 ff15::1\r\n"), "no TTL on IPv6");
}

Test(sdp, refuses_bad_options_and_small_buffers)
{
	char b[1024];
	cr_assert_eq(
	        gen(b, sizeof b, "127.0.0.1:5004", CODEC_OPUS, 2, 10000, 128),
	        -EINVAL);
	cr_assert_eq(
	        gen(b, sizeof b, "127.0.0.1:5004", CODEC_OPUS, 2, 7000, 96),
	        -EINVAL);
	cr_assert_eq(gen(b, 40, "127.0.0.1:5004", CODEC_OPUS, 2, 10000, 96),
	             -ENOBUFS);
	cr_assert_str_empty(b);
	int n = gen(b, sizeof b, "127.0.0.1:5004", CODEC_OPUS, 2, 10000, 96);
	cr_assert_eq(
	        gen(b, (size_t)n, "127.0.0.1:5004", CODEC_OPUS, 2, 10000, 96),
	        -ENOBUFS);
	cr_assert_eq(gen(b, (size_t)n + 1, "127.0.0.1:5004", CODEC_OPUS, 2,
	                 10000, 96),
	             n);
}

Test(sdp, says_recvonly_and_the_clock_the_timestamps_follow)
{
	char b[1024];
	cr_assert_gt(gen(b, sizeof b, "239.1.2.3:5004", CODEC_L24, 2, 1000, 97),
	             0);
	cr_assert_not_null(strstr(b, "\r\na=recvonly\r\nm=audio"),
	                   "session-level recvonly: %s", b);
	cr_assert_not_null(strstr(b, "a=ptime:1\r\n"), "%s", b);
	cr_assert_not_null(strstr(b, "a=ts-refclk:local\r\n"), "%s", b);
	cr_assert_not_null(strstr(b, "a=mediaclk:direct=0\r\n"), "%s", b);
}

Test(sdp, fractional_packet_times_are_written_in_ms)
{
	char b[1024];
	struct codec_config c;
	cr_assert_eq(
	        addr_parse(&to, NULL, "239.1.2.3:5004", ADDR_NUMERIC, NULL, 0),
	        0);
	codec_config_default(&c, CODEC_L24);
	struct sdp_opts o = {
	        .to = (struct sockaddr *)&to, .codec = &c, .pt = 127};
	static const struct {
		int rate, frames;
		const char *ptime;
	} cases[] = {{48000, 213, "4.4375"}, {48000, 6, "0.125"},
	             {48000, 48, "1"},       {44100, 48, "1.0884"},
	             {96000, 12, "0.125"},   {44100, 441, "10"}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char want[64];
		c.rate = cases[i].rate;
		codec_config_set_frames(&c, cases[i].frames);
		cr_assert_gt(sdp_write(b, sizeof b, &o), 0);
		snprintf(want, sizeof want, "a=ptime:%s\r\n", cases[i].ptime);
		cr_expect_not_null(strstr(b, want), "%d frames at %d: %s",
		                   cases[i].frames, cases[i].rate, b);
	}
}

Test(sdp, origin_name_version_and_ttl_for_an_announcement)
{
	char b[1024];
	struct sockaddr_storage from;
	struct codec_config c;
	cr_assert_eq(addr_parse(&to, NULL, "239.255.1.2:5004", ADDR_NUMERIC,
	                        NULL, 0),
	             0);
	cr_assert_eq(addr_parse(&from, NULL, "10.0.0.7:0",
	                        ADDR_NUMERIC | ADDR_PORT_ZERO, NULL, 0),
	             0);
	codec_config_default(&c, CODEC_L16);
	struct sdp_opts o = {.to = (struct sockaddr *)&to,
	                     .codec = &c,
	                     .pt = 96,
	                     .name = "studio A",
	                     .session_id = 7,
	                     .version = 9,
	                     .origin = (struct sockaddr *)&from,
	                     .ttl = 4};
	cr_assert_gt(sdp_write(b, sizeof b, &o), 0);
	cr_assert_not_null(strstr(b, "o=- 7 9 IN IP4 10.0.0.7\r\n"), "%s", b);
	cr_assert_not_null(strstr(b, "s=studio A\r\n"), "%s", b);
	cr_assert_not_null(strstr(b, "c=IN IP4 239.255.1.2/4\r\n"), "%s", b);
	/* A name that would break the text is refused. */
	o.name = "two\r\nlines";
	cr_assert_eq(sdp_write(b, sizeof b, &o), -EINVAL);
	o.name = "";
	cr_assert_eq(sdp_write(b, sizeof b, &o), -EINVAL);
	char longname[SDP_NAME_MAX + 2];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	o.name = longname;
	cr_assert_eq(sdp_write(b, sizeof b, &o), -EINVAL);
	longname[SDP_NAME_MAX] = '\0';
	cr_assert_gt(sdp_write(b, sizeof b, &o), 0, "the longest name fits");
	o.ttl = 256;
	cr_assert_eq(sdp_write(b, sizeof b, &o), -EINVAL);
}

Test(sdp, red_is_listed_first_with_its_rtpmap_and_block_types)
{
	char b[1024];
	struct codec_config c;
	cr_assert_eq(
	        addr_parse(&to, NULL, "127.0.0.1:5004", ADDR_NUMERIC, NULL, 0),
	        0);
	codec_config_default(&c, CODEC_L16);
	c.channels = 2;
	struct sdp_opts o = {.to = (struct sockaddr *)&to,
	                     .codec = &c,
	                     .pt = 96,
	                     .session_id = 42,
	                     .red_distance = 2,
	                     .red_pt = 100};
	cr_assert_gt(sdp_write(b, sizeof b, &o), 0);
	const char *want = "m=audio 5004 RTP/AVP 100 96\r\n"
	                   "a=rtpmap:100 red/48000/2\r\n"
	                   "a=fmtp:100 96/96/96\r\n"
	                   "a=rtpmap:96 L16/48000/2\r\n";
	cr_assert_not_null(strstr(b, want), "got:\n%s", b);
	/* Opus: red's clock is Opus's RTP clock, 48000/2, also for mono. */
	codec_config_default(&c, CODEC_OPUS);
	c.channels = 1;
	o.red_distance = 1;
	o.red_pt = 127;
	cr_assert_gt(sdp_write(b, sizeof b, &o), 0);
	cr_assert_not_null(strstr(b, "m=audio 5004 RTP/AVP 127 96\r\n"
	                             "a=rtpmap:127 red/48000/2\r\n"
	                             "a=fmtp:127 96/96\r\n"
	                             "a=rtpmap:96 opus/48000/2\r\n"),
	                   "got:\n%s", b);
	/* Refused: RED on the media's own type, out of range, too far. */
	o.red_pt = 96;
	cr_assert_eq(sdp_write(b, sizeof b, &o), -EINVAL);
	o.red_pt = 128;
	cr_assert_eq(sdp_write(b, sizeof b, &o), -EINVAL);
	o.red_pt = 100;
	o.red_distance = RED_MAX_DISTANCE + 1;
	cr_assert_eq(sdp_write(b, sizeof b, &o), -EINVAL);
}

Test(sdp, ulpfec_follows_the_media_with_its_rtpmap_and_reads_back)
{
	char b[1024], err[128];
	struct codec_config c;
	struct sdpparse_result r;
	cr_assert_eq(
	        addr_parse(&to, NULL, "127.0.0.1:5004", ADDR_NUMERIC, NULL, 0),
	        0);
	codec_config_default(&c, CODEC_L16);
	c.channels = 2;
	struct sdp_opts o = {.to = (struct sockaddr *)&to,
	                     .codec = &c,
	                     .pt = 96,
	                     .session_id = 42,
	                     .fec_percent = 20,
	                     .ulpfec_pt = 101};
	cr_assert_gt(sdp_write(b, sizeof b, &o), 0);
	cr_assert_not_null(strstr(b, "m=audio 5004 RTP/AVP 96 101\r\n"
	                             "a=rtpmap:101 ulpfec/48000\r\n"
	                             "a=rtpmap:96 L16/48000/2\r\n"),
	                   "got:\n%s", b);
	cr_assert_eq(sdpparse_parse(&r, b, err, sizeof err), 0, "%s", err);
	cr_assert_eq(r.pt, 96);
	cr_assert_eq(r.ulpfec_pt, 101);
	cr_assert_eq(r.red_pt, -1);
	cr_assert_eq(r.kind, CODEC_L16);
	/* GStreamer's spelling, listed first, is fine too; none: -1. */
	cr_assert_eq(sdpparse_parse(&r,
	                            "v=0\r\nm=audio 5004 RTP/AVP 96 127\r\n"
	                            "a=rtpmap:127 ULPFEC/48000\r\n"
	                            "a=rtpmap:96 opus/48000/2\r\n",
	                            err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(r.ulpfec_pt, 127);
	cr_assert_eq(sdpparse_parse(&r,
	                            "v=0\r\nm=audio 5004 RTP/AVP 96\r\n"
	                            "a=rtpmap:96 opus/48000/2\r\n",
	                            err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(r.ulpfec_pt, -1);
	/* Refused: on the media's type, out of range, with RED. */
	o.ulpfec_pt = 96;
	cr_assert_eq(sdp_write(b, sizeof b, &o), -EINVAL);
	o.ulpfec_pt = 128;
	cr_assert_eq(sdp_write(b, sizeof b, &o), -EINVAL);
	o.ulpfec_pt = 101;
	o.red_distance = 1;
	o.red_pt = 100;
	cr_assert_eq(sdp_write(b, sizeof b, &o), -EINVAL);
}

Test(sdp, the_longest_description_fits_1024_bytes)
{
	char b[1024], name[SDP_NAME_MAX + 1], clk[SDP_CLOCK_MAX + 1];
	char crypto[SRTPKEY_SDES_MAX];
	struct codec_config c;
	cr_assert_eq(addr_parse(&to, NULL,
	                        "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:"
	                        "65535",
	                        ADDR_NUMERIC, NULL, 0),
	             0);
	memset(name, 'n', SDP_NAME_MAX);
	name[SDP_NAME_MAX] = '\0';
	memset(clk, 'c', SDP_CLOCK_MAX);
	clk[SDP_CLOCK_MAX] = '\0';
	memset(crypto, 'k', sizeof crypto - 1);
	crypto[sizeof crypto - 1] = '\0';
	codec_config_default(&c, CODEC_OPUS);
	c.bitrate = 510000;
	c.frame_us = 2500;
	struct sdp_opts o = {.to = (struct sockaddr *)&to,
	                     .codec = &c,
	                     .pt = 127,
	                     .name = name,
	                     .session_id = UINT64_MAX,
	                     .version = UINT64_MAX,
	                     .ts_refclk = clk,
	                     .mediaclk = clk,
	                     .crypto = crypto,
	                     .red_distance = RED_MAX_DISTANCE,
	                     .red_pt = 126};
	int n = sdp_write(b, sizeof b, &o);
	cr_log_info("the longest description: %d bytes", n);
	cr_assert_gt(n, 0);
}
