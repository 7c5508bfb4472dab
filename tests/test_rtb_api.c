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
 * gone.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rtbridge/rtbridge.h>

#include "tests/period_sleep.h"
#include "tests/rtcheck_assert.h"

#define CH     2
#define RATE   48000
#define PERIOD 480 /* frames per callback: 10 ms */
#define TWO_PI 6.283185307179586

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
	cr_assert_eq(rtb_engine_create(&ec, &e, why, sizeof(why)), 0, "%s",
	             why);
	cr_assert_eq(rtb_engine_start(e), 0, "%s", rtb_engine_error(e));
	struct rtb_receiver_config rc = {.listen = "127.0.0.1:0",
	                                 .codec = RTB_CODEC_L16};
	cr_assert_eq(rtb_receiver_create(e, &rc, &r, why, sizeof(why)), 0, "%s",
	             why);
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

/* Sleep until *t + 10 ms (an audio callback's period), and step *t. */
static void next_period(struct timespec *t)
{
	period_sleep(t, 10000000L);
}

Test(rtb_api, pushed_stream_appears_plays_and_leaves)
{
	struct rtb_engine_config ec = {.clock = RTB_CLOCK_EXTERNAL};
	struct rtb_engine *e = NULL;
	struct rtb_receiver *r = NULL;
	struct rtb_sender *s = NULL;
	static float in[PERIOD * CH], out[PERIOD * CH];
	struct seen seen = {0};
	char why[256] = "", to[32];

	RTCHECK_INIT();
	cr_assert_eq(rtb_engine_create(&ec, &e, why, sizeof(why)), 0, "%s",
	             why);
	cr_assert_eq(rtb_engine_start(e), 0, "%s", rtb_engine_error(e));
	struct rtb_receiver_config rc = {
	        .listen = "127.0.0.1:0",
	        .codec = RTB_CODEC_L16,
	        .latency_ms = 40,
	        .timeout_s = 0.3,
	        .on_added = on_added,
	        .on_removed = on_removed,
	        .on_stats = on_stats,
	        .stats_ms = 100,
	        .arg = &seen,
	};
	cr_assert_eq(rtb_receiver_create(e, &rc, &r, why, sizeof(why)), 0, "%s",
	             why);
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
