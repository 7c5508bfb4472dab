/*
 * test_rtb_api: the public C API (include/rtbridge/) through
 * librtbridge.so, as an application uses it
 *
 * The test thread is the application: its "audio callback" is the section
 * between rthook_rt_enter and rthook_rt_leave, where it pushes frames to
 * a sender and calls rtb_engine_process, under the real-time checker. Two
 * cases: without traffic (the process call, the poll and every refusal of
 * a bad setting, with the line that says why), and a pushed 1 kHz tone
 * sent as L16 to a receiver on 127.0.0.1 whose stream appears (on_added),
 * plays the tone through rtb_engine_process, reports its figures
 * (on_stats, and a snapshot) and leaves (on_removed) once the sender is
 * gone. A sender's configuration is described in SDP without a sender
 * (rtb_sender_config_sdp); the devices PortAudio sees are listed
 * (rtb_devices_list) on a machine without a sound card.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rtbridge/rtbridge.h>

#include "tests/rtb_api_run.h"
#include "tests/rtcheck_assert.h"

TestSuite(rtb_api, .timeout = 60);

Test(rtb_api, version_is_the_projects)
{
	cr_assert_str_eq(rtb_version(), RTB_VERSION_STRING);
}

Test(rtb_api, process_is_real_time_safe_and_bad_settings_are_refused)
{
	struct rtb_engine_config ec = {.clock = RTB_CLOCK_EXTERNAL};
	struct rtb_engine *e = NULL;
	struct rtb_receiver *r = NULL;
	struct rtb_sender *s = NULL;
	static float out[PERIOD * CH];
	char why[256] = "";

	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	struct rtb_receiver_config rc = {.listen = "127.0.0.1:0",
	                                 .codec = RTB_CODEC_L16};
	r = l16_receiver(&e, &ec, &rc);
	cr_assert_gt(rtb_receiver_port(r), 0);

	RTCHECK_RESET();
	for (int i = 0; i < 200; i++) {
		out[0] = 1.0f;
		rthook_rt_enter();
		cr_assert_eq(rtb_engine_process(e, out, PERIOD), 0);
		rthook_rt_leave();
		cr_assert_eq(out[0], 0.0f, "nothing plays: silence");
		if (i % 10 == 0)
			cr_assert_eq(rtb_engine_poll(e), 0);
	}
	RTCHECK_ASSERT_ZERO();
	cr_assert_eq(rtb_receiver_streams(r), 0);
	struct rtb_stream_stats st;
	cr_assert_eq(rtb_receiver_stream_stats(r, 1, &st), -ENOENT);

	/* A port taken: the line names the address. */
	char taken[32];
	snprintf(taken, sizeof(taken), "127.0.0.1:%u", rtb_receiver_port(r));
	rc.listen = taken;
	struct rtb_receiver *r2 = NULL;
	cr_assert_eq(rtb_receiver_create(e, &rc, &r2, why, sizeof(why)),
	             -EADDRINUSE);
	cr_assert_null(r2);
	cr_assert(strstr(why, taken), "%s", why);
	/* Not an address, a codec, channels the mix cannot take. */
	rc.listen = "127.0.0.1:99999";
	cr_assert_eq(rtb_receiver_create(e, &rc, &r2, why, sizeof(why)),
	             -EINVAL);
	cr_assert(strstr(why, "99999"), "%s", why);
	rc.listen = "127.0.0.1:0";
	rc.codec = (enum rtb_codec)9;
	cr_assert_eq(rtb_receiver_create(e, &rc, &r2, why, sizeof(why)),
	             -EINVAL);
	rc.codec = RTB_CODEC_L24;
	rc.channels = 4;
	cr_assert_eq(rtb_receiver_create(e, &rc, &r2, why, sizeof(why)),
	             -EINVAL);
	cr_assert(strstr(why, "4 channels"), "%s", why);
	rc.channels = 2;
	rc.record_dir = "/nonexistent/rtb";
	cr_assert_eq(rtb_receiver_create(e, &rc, &r2, why, sizeof(why)),
	             -ENOTDIR);
	cr_assert(strstr(why, "/nonexistent/rtb"), "%s", why);
	rc.record_dir = NULL;
	rc.red_pt = 96; /* the stream's own payload type */
	cr_assert_eq(rtb_receiver_create(e, &rc, &r2, why, sizeof(why)),
	             -EINVAL);
	cr_assert(strstr(why, "RED payload type 96"), "%s", why);
	rc.red_pt = 0;

	/* A sender of a missing file, and one with a 7 ms Opus frame. */
	struct rtb_sender_config sc = {.to = "127.0.0.1:9", .ssrc = -1};
	cr_assert_lt(rtb_sender_create_file(&sc, "/nonexistent/a.wav", &s, why,
	                                    sizeof(why)),
	             0);
	cr_assert_null(s);
	cr_assert(strstr(why, "/nonexistent/a.wav"), "%s", why);
	sc.frame_us = 7000;
	cr_assert_eq(rtb_sender_create_push(&sc, &s, why, sizeof(why)),
	             -EINVAL);
	cr_assert_null(s);
	cr_assert(why[0], "no reason given");
	sc.frame_us = 10000;
	sc.red_distance = 4; /* RED carries 1..3 copies */
	cr_assert_eq(rtb_sender_create_push(&sc, &s, why, sizeof(why)),
	             -EINVAL);
	cr_assert(strstr(why, "RED"), "%s", why);
	sc.red_distance = 1;
	sc.red_pt = 96; /* the media's own */
	cr_assert_eq(rtb_sender_create_push(&sc, &s, why, sizeof(why)),
	             -EINVAL);
	cr_assert(strstr(why, "RED"), "%s", why);
	cr_assert_null(s);

	rtb_receiver_destroy(r);
	cr_assert_eq(rtb_engine_stop(e), 0, "%s", rtb_engine_error(e));
	rtb_engine_destroy(e);

	/* Receivers play at 48 kHz only; a device's engine is not the
	   application's to process. */
	ec.rate = 44100;
	cr_assert_eq(rtb_engine_create(&ec, &e, why, sizeof(why)), 0, "%s",
	             why);
	cr_assert_eq(rtb_receiver_create(e, &rc, &r, why, sizeof(why)),
	             -EINVAL);
	cr_assert(strstr(why, "44100"), "%s", why);
	rtb_engine_destroy(e);
	ec = (struct rtb_engine_config){.clock = RTB_CLOCK_VIRTUAL};
	cr_assert_eq(rtb_engine_create(&ec, &e, why, sizeof(why)), 0, "%s",
	             why);
	cr_assert_eq(rtb_engine_process(e, out, PERIOD), -EINVAL);
	rtb_engine_destroy(e);
}

/* What the callbacks saw. */
struct seen {
	int added, removed, stats;
	uint32_t ssrc;
	uint64_t id;
	int snap_rc; /* a snapshot's result in on_removed */
	uint64_t final_received, last_received; /* on_removed, on_stats */
	char from[64];
};

static void on_added(void *arg, struct rtb_receiver *r,
                     const struct rtb_stream_info *s)
{
	struct seen *x = arg;
	(void)r;
	x->added++;
	x->ssrc = s->ssrc;
	x->id = s->id;
	snprintf(x->from, sizeof(x->from), "%s", s->from);
}

static void on_removed(void *arg, struct rtb_receiver *r,
                       const struct rtb_stream_info *s,
                       const struct rtb_stream_stats *fin)
{
	struct seen *x = arg;
	struct rtb_stream_stats st;
	x->removed++;
	x->final_received = fin->received;
	/* Gone from the snapshots once it left. */
	x->snap_rc = rtb_receiver_stream_stats(r, s->id, &st);
}

static void on_stats(void *arg, struct rtb_receiver *r,
                     const struct rtb_stream_info *s,
                     const struct rtb_stream_stats *st)
{
	struct seen *x = arg;
	(void)r;
	if (s->id == x->id && st->received > 0) {
		x->stats++;
		x->last_received = st->received;
	}
}

Test(rtb_api, pushed_stream_appears_plays_and_leaves)
{
	struct rtb_engine *e = NULL;
	struct rtb_receiver *r = NULL;
	struct rtb_sender *s = NULL;
	static float in[PERIOD * CH], out[PERIOD * CH];
	struct seen seen = {0};
	char why[256] = "", to[32];

	RTCHECK_INIT();
	struct rtb_receiver_config rc = {
	        .latency_ms = 40,
	        .timeout_s = 0.3,
	        .on_added = on_added,
	        .on_removed = on_removed,
	        .on_stats = on_stats,
	        .stats_ms = 100,
	        .arg = &seen,
	};
	r = l16_receiver(&e, NULL, &rc);
	snprintf(to, sizeof(to), "127.0.0.1:%u", rtb_receiver_port(r));
	struct rtb_sender_config sc = {.to = to,
	                               .codec = RTB_CODEC_L16,
	                               .frame_us = 5000,
	                               .ssrc = 0x5eed1234};
	cr_assert_eq(rtb_sender_create_push(&sc, &s, why, sizeof(why)), 0, "%s",
	             why);

	/* 1.5 s of a 1 kHz tone at half scale, pushed and played in the
	   same callback. */
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	float peak = 0;
	long k = 0;
	RTCHECK_RESET();
	for (int i = 0; i < 150; i++) {
		for (int j = 0; j < PERIOD; j++, k++)
			for (int c = 0; c < CH; c++)
				in[j * CH + c] =
				        0.5f * (float)sin(TWO_PI * 1000.0 *
				                          (double)k / RATE);
		rthook_rt_enter();
		(void)rtb_sender_push(s, in, PERIOD);
		(void)rtb_engine_process(e, out, PERIOD);
		rthook_rt_leave();
		for (int j = 0; j < PERIOD * CH; j++)
			peak = fabsf(out[j]) > peak ? fabsf(out[j]) : peak;
		cr_assert_eq(rtb_engine_poll(e), 0, "%s", rtb_engine_error(e));
		next_period(&t);
	}
	cr_assert_eq(seen.added, 1, "streams added: %d", seen.added);
	cr_assert_eq(seen.ssrc, 0x5eed1234u);
	cr_assert(strncmp(seen.from, "127.0.0.1:", 10) == 0, "%s", seen.from);
	cr_assert_eq(rtb_receiver_streams(r), 1);
	struct rtb_stream_stats st;
	cr_assert_eq(rtb_receiver_stream_stats(r, seen.id, &st), 0);
	cr_assert_gt(st.received, 100, "received %llu",
	             (unsigned long long)st.received);
	cr_assert_gt(st.frames_played, 0);
	cr_assert_geq(seen.stats, 5, "on_stats calls: %d", seen.stats);
	/* The tone, through L16 and the mix (a little below 0.5 while the
	   drift control time-scales). */
	cr_assert(peak > 0.4f && peak < 0.6f, "peak %g", (double)peak);
	struct rtb_sender_stats ss;
	rtb_sender_stats(s, &ss);
	cr_assert_gt(ss.packets, 200, "packets %llu",
	             (unsigned long long)ss.packets);
	cr_assert_eq(ss.ssrc, 0x5eed1234u);

	/* The sender goes: the stream goes silent, times out, plays out
	   what it holds and leaves (within 3 s). */
	rtb_sender_destroy(s);
	for (int i = 0; i < 300 && !seen.removed; i++) {
		rthook_rt_enter();
		(void)rtb_engine_process(e, out, PERIOD);
		rthook_rt_leave();
		cr_assert_eq(rtb_engine_poll(e), 0, "%s", rtb_engine_error(e));
		next_period(&t);
	}
	RTCHECK_ASSERT_ZERO();
	cr_assert_eq(seen.removed, 1, "the stream never left");
	cr_assert_eq(seen.snap_rc, -ENOENT);
	/* Its final figures: at least what it had when last reported. */
	cr_assert_geq(seen.final_received, seen.last_received);
	cr_assert_geq(seen.final_received, st.received);
	cr_assert_eq(rtb_receiver_streams(r), 0);

	rtb_receiver_destroy(r);
	cr_assert_eq(rtb_engine_stop(e), 0, "%s", rtb_engine_error(e));
	rtb_engine_destroy(e);
}

/* Open file descriptors of this process. */
static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A configuration's SDP, written without making the sender (no socket
   left open), read back by the receiver's SDP parser; the SRTP key as
   a=crypto; bad settings and a short buffer refused with a reason. */
Test(rtb_api, a_configuration_describes_its_stream_without_a_sender)
{
	static const uint8_t key[30] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
	                                11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
	                                21, 22, 23, 24, 25, 26, 27, 28, 29, 30};
	struct rtb_sender_config sc = {.to = "127.0.0.1:5004",
	                               .codec = RTB_CODEC_L24,
	                               .frame_ms = 1,
	                               .pt = 97,
	                               .session = "api test"};
	struct rtb_receiver_config rc = {0};
	char sdp[1024], why[256] = "", buf[64];
	uint8_t back[30];

	int fds = open_fds();
	int n = rtb_sender_config_sdp(&sc, sdp, sizeof(sdp), why, sizeof(why));
	cr_assert_gt(n, 0, "%s", why);
	cr_assert_eq((size_t)n, strlen(sdp));
	cr_assert_eq(open_fds(), fds, "a socket was left open");
	const char *want[] = {"s=api test\r\n", "c=IN IP4 127.0.0.1\r\n",
	                      "m=audio 5004 RTP/AVP 97\r\n",
	                      "a=rtpmap:97 L24/48000/2\r\n", "a=ptime:1\r\n"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(strstr(sdp, want[i]), "no '%s' in:\n%s", want[i],
		          sdp);
	cr_assert_null(strstr(sdp, "a=crypto"));
	cr_assert_eq(rtb_receiver_config_sdp(&rc, sdp, buf, sizeof(buf), back,
	                                     why, sizeof(why)),
	             0, "%s", why);
	cr_assert_eq(rc.codec, RTB_CODEC_L24);
	cr_assert_eq(rc.pt, 97);
	cr_assert_eq(rc.channels, 2);

	/* A multicast group with its TTL; SRTP with its key. */
	sc.to = "239.1.2.3:5004";
	sc.ttl = 4;
	sc.srtp_key = key;
	sc.srtp_key_len = sizeof(key);
	n = rtb_sender_config_sdp(&sc, sdp, sizeof(sdp), why, sizeof(why));
	cr_assert_gt(n, 0, "%s", why);
	cr_assert(strstr(sdp, "c=IN IP4 239.1.2.3/4\r\n"), "%s", sdp);
	cr_assert(strstr(sdp, "m=audio 5004 RTP/SAVP 97\r\n"), "%s", sdp);
	cr_assert(strstr(sdp,
	                 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
	                 "inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e"),
	          "%s", sdp);

	/* Refused, with a line that says why. */
	sc.srtp_key_len = 28; /* the suite takes 30 */
	cr_assert_eq(
	        rtb_sender_config_sdp(&sc, sdp, sizeof(sdp), why, sizeof(why)),
	        -EINVAL);
	cr_assert(strstr(why, "SRTP key of 28 bytes"), "%s", why);
	/* One byte short: nothing of the key is left in the buffer. */
	sc.srtp_key_len = sizeof(key);
	memset(sdp, 'x', sizeof(sdp));
	cr_assert_eq(
	        rtb_sender_config_sdp(&sc, sdp, (size_t)n, why, sizeof(why)),
	        -ENOBUFS);
	for (int i = 0; i < n; i++)
		cr_assert_eq(sdp[i], 0, "byte %d of the buffer is left", i);
	sc.srtp_key = NULL;
	sc.frame_ms = 33; /* L24 packets last up to 20 ms */
	cr_assert_eq(
	        rtb_sender_config_sdp(&sc, sdp, sizeof(sdp), why, sizeof(why)),
	        -EINVAL);
	cr_assert(strstr(why, "20 ms"), "%s", why);
	sc.frame_ms = 1;
	sc.codec = (enum rtb_codec)9;
	cr_assert_eq(
	        rtb_sender_config_sdp(&sc, sdp, sizeof(sdp), why, sizeof(why)),
	        -EINVAL);
	cr_assert(strstr(why, "codec 9"), "%s", why);
	sc.codec = RTB_CODEC_L24;
	sc.to = "nosuchhost.invalid:5004";
	cr_assert_eq(
	        rtb_sender_config_sdp(&sc, sdp, sizeof(sdp), why, sizeof(why)),
	        -EINVAL);
	cr_assert(strstr(why, "nosuchhost.invalid"), "%s", why);
	sc.to = "127.0.0.1:5004";
	cr_assert_eq(rtb_sender_config_sdp(&sc, sdp, 40, why, sizeof(why)),
	             -ENOBUFS);
	cr_assert(strstr(why, "40 bytes"), "%s", why);
	cr_assert_eq(open_fds(), fds, "a socket was left open");
}

/* The devices PortAudio sees: with no sound card and no sound server
   here, none or a few, listed in index order without a crash; twice in
   a row (PortAudio initialized and terminated each time). */
Test(rtb_api, devices_are_listed_without_a_sound_card)
{
	struct rtb_device_info d[64];
	char why[256] = "";

	int n = rtb_devices_list(NULL, 0, why, sizeof(why));
	cr_assert_geq(n, 0, "%s", why);
	int m = rtb_devices_list(d, 64, why, sizeof(why));
	cr_assert_eq(m, n, "%s", why);
	for (int i = 0; i < m && i < 64; i++) {
		cr_assert_eq(d[i].index, (unsigned)i);
		cr_assert(d[i].name[0] && d[i].host_api[0]);
		cr_assert_gt(d[i].default_rate, 0);
		cr_log_info("device %d: %s: %s", i, d[i].host_api, d[i].name);
	}
}
