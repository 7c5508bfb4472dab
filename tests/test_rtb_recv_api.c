/*
 * test_rtb_recv_api: the receiver of the public C API (rtbridge/receiver.h,
 * the parts 0.3 added) through librtbridge.so, as `rtbridge recv` and an
 * application use it
 *
 * The settings 0.3 added are checked and refused with a reason
 * (rtb_receiver_check); an SDP fills a configuration (codec, rate,
 * channels, packet time, payload types, group, SRTP key); an SRTP stream
 * with ULPFEC, pushed by a sender of the library to a receiver on
 * 127.0.0.1 that records it, plays through rtb_engine_process under the
 * real-time checker (zero violations with the new paths), is listed and
 * described, has its FEC counted, shrugs off a sender with the wrong key
 * (counted as auth_failed), and ends when the receiver stops (on_ended:
 * why, times, final figures, the recording's outcome); a sender outside
 * `allow` is counted and never becomes a stream; the lines the receiver
 * says go to on_log; a mix recording that stopped while a receiver
 * polled inside the library is still reported by rtb_engine_poll; the
 * disk thread starts with the first receiver that records; a
 * binary built against 0.2 (its shorter structs,
 * through the RTBRIDGE_0 versions) keeps working; the SAP listener
 * refuses bad settings before it joins anything, and a session it
 * reports configures a receiver.
 */
#define _GNU_SOURCE /* dlvsym */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rtbridge/rtbridge.h>

#include "tests/rtb_api_run.h"
#include "tests/rtcheck_assert.h"

TestSuite(rtb_recv_api, .timeout = 60);

static const uint8_t key30[30] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                  11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                                  21, 22, 23, 24, 25, 26, 27, 28, 29, 30};

/* Refused by rtb_receiver_check with a line containing `word`. */
static void refused(const struct rtb_receiver_config *c, const char *word)
{
	char why[256] = "";

	cr_assert_eq(rtb_receiver_check(c, 2, why, sizeof(why)), -EINVAL,
	             "accepted; expected a refusal naming '%s'", word);
	cr_assert(strstr(why, word), "'%s' does not say '%s'", why, word);
}

Test(rtb_recv_api, bad_settings_are_refused_with_a_reason)
{
	const char *bad_allow[] = {"10.0.0.0/99"};
	const char *allow[] = {"10.0.0.0/8", "::1"};
	struct rtb_receiver_config c = {.listen = "127.0.0.1:0",
	                                .codec = RTB_CODEC_L16};
	char why[256];

	cr_assert_eq(rtb_receiver_check(&c, 2, why, sizeof(why)), 0, "%s", why);
	c.allow = allow;
	c.nallow = 2;
	cr_assert_eq(rtb_receiver_check(&c, 2, why, sizeof(why)), 0, "%s", why);
	c.allow = bad_allow;
	c.nallow = 1;
	refused(&c, "allow");
	c.nallow = 0;
	c.ulpfec_pt = 96; /* the stream's own */
	refused(&c, "ULPFEC payload type 96");
	c.ulpfec_pt = 101;
	c.red_pt = 100; /* both */
	refused(&c, "ULPFEC");
	c.red_pt = 0;
	c.sync_ms = 100;
	c.latency_ms = 50;
	refused(&c, "sync_ms");
	c.latency_ms = 0;
	c.max_latency_ms = 20;
	refused(&c, "sync_ms");
	c.sync_ms = 0;
	c.min_latency_ms = 40;
	refused(&c, "max_latency_ms");
	c.min_latency_ms = 0;
	c.max_latency_ms = 0;
	c.latency = (enum rtb_latency)7;
	refused(&c, "latency mode");
	c.latency = RTB_LATENCY_LOW;
	cr_assert_eq(rtb_receiver_check(&c, 2, why, sizeof(why)), 0, "%s", why);
	c.srtp_key = key30;
	c.srtp_key_len = 30;
	c.srtp_suite = RTB_SRTP_AEAD_AES_128_GCM; /* takes 28 */
	refused(&c, "SRTP key of 30 bytes");
	c.srtp_suite = RTB_SRTP_AES_CM_128_HMAC_SHA1_80;
	cr_assert_eq(rtb_receiver_check(&c, 2, why, sizeof(why)), 0, "%s", why);
	c.multicast_source = "127.0.0.2"; /* the listen address is unicast */
	refused(&c, "multicast_source 127.0.0.2");
	c.listen = "239.1.2.3:5004";
	cr_assert_eq(rtb_receiver_check(&c, 2, why, sizeof(why)), 0, "%s", why);
	c.multicast_source = "::1"; /* another family */
	refused(&c, "multicast_source ::1");
	c.multicast_source = NULL;
	c.pt = 200;
	refused(&c, "payload type 200");
	c.pt = RTB_PT_ZERO;
	c.frame_ms = 1.0;
	cr_assert_eq(rtb_receiver_check(&c, 2, why, sizeof(why)), 0, "%s", why);
	c.frame_ms = 0.05; /* below the shortest packet time */
	cr_assert_eq(rtb_receiver_check(&c, 2, why, sizeof(why)), -EINVAL);
	c.frame_ms = 0;
	c.channels = 6; /* the mix has 2 */
	refused(&c, "6 channels");
	cr_assert_eq(rtb_receiver_check(&c, 6, why, sizeof(why)), 0, "%s", why);
}

Test(rtb_recv_api, an_sdp_fills_the_configuration)
{
	const char *sdp = "v=0\r\n"
	                  "o=- 1 1 IN IP4 192.0.2.1\r\n"
	                  "s=test\r\n"
	                  "c=IN IP4 239.1.2.3/16\r\n"
	                  "t=0 0\r\n"
	                  "m=audio 5004 RTP/SAVP 100 97\r\n"
	                  "a=rtpmap:100 red/48000/2\r\n"
	                  "a=fmtp:100 97/97\r\n"
	                  "a=rtpmap:97 L24/48000/2\r\n"
	                  "a=ptime:1\r\n"
	                  "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
	                  "inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e\r\n";
	struct rtb_receiver_config c = {.max_streams = 3};
	uint8_t key[30];
	char buf[64], why[256] = "";

	cr_assert_eq(rtb_receiver_config_sdp(&c, sdp, buf, sizeof(buf), key,
	                                     why, sizeof(why)),
	             0, "%s", why);
	cr_assert_str_eq(c.listen, "239.1.2.3:5004");
	cr_assert_eq(c.codec, RTB_CODEC_L24);
	cr_assert_eq(c.rate, 48000);
	cr_assert_eq(c.channels, 2);
	cr_assert_eq(c.pt, 97);
	cr_assert_eq(c.red_pt, 100);
	cr_assert_eq(c.ulpfec_pt, 0);
	cr_assert_float_eq(c.frame_ms, 1.0, 1e-9);
	cr_assert_eq(c.srtp_key, key);
	cr_assert_eq(c.srtp_key_len, 30);
	cr_assert_eq(c.srtp_suite, RTB_SRTP_AES_CM_128_HMAC_SHA1_80);
	cr_assert_arr_eq(key, key30, 30);
	cr_assert_eq(c.max_streams, 3, "the others are left as they were");
	cr_assert_eq(rtb_receiver_check(&c, 2, why, sizeof(why)), 0, "%s", why);

	/* A unicast one: any address of its family, on its port. */
	const char *uni = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=u\r\n"
	                  "c=IN IP4 192.0.2.9\r\nt=0 0\r\n"
	                  "m=audio 6000 RTP/AVP 0\r\n"
	                  "a=rtpmap:0 L16/48000/1\r\n";
	struct rtb_receiver_config u = {0};
	cr_assert_eq(rtb_receiver_config_sdp(&u, uni, buf, sizeof(buf), key,
	                                     why, sizeof(why)),
	             0, "%s", why);
	cr_assert_str_eq(u.listen, "0.0.0.0:6000");
	cr_assert_eq(u.pt, RTB_PT_ZERO, "payload type 0 itself");
	cr_assert_null(u.srtp_key);
	cr_assert_eq(u.channels, 1);
	/* Too small a buffer; RTP/SAVP without a key; not an SDP. */
	cr_assert_eq(
	        rtb_receiver_config_sdp(&u, uni, buf, 4, key, why, sizeof(why)),
	        -ENOBUFS);
	const char *savp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=u\r\n"
	                   "c=IN IP4 192.0.2.9\r\nt=0 0\r\n"
	                   "m=audio 6000 RTP/SAVP 0\r\n"
	                   "a=rtpmap:0 L16/48000/1\r\n";
	cr_assert_eq(rtb_receiver_config_sdp(&u, savp, buf, sizeof(buf), key,
	                                     why, sizeof(why)),
	             -EINVAL, "%s", savp);
	cr_assert(strstr(why, "a=crypto"), "%s", why);
	cr_assert_eq(rtb_receiver_config_sdp(&u, "hello", buf, sizeof(buf), key,
	                                     why, sizeof(why)),
	             -EINVAL);
	cr_assert(strstr(why, "SDP"), "%s", why);
}

/* What the callbacks saw. */
struct seen {
	int added, ended, logged;
	uint64_t id;
	struct rtb_stream_end end;
	struct rtb_stream_stats fin;
	char outcome[320], path[512], line[512];
	int64_t t_created;
};

static void on_added(void *arg, struct rtb_receiver *r,
                     const struct rtb_stream_info *s)
{
	struct seen *x = arg;
	(void)r;
	x->added++;
	x->id = s->id;
	cr_assert_geq(s->start_ns, x->t_created);
	cr_assert_not_null(s->record_path, "it records");
}

static void on_ended(void *arg, struct rtb_receiver *r,
                     const struct rtb_stream_info *s,
                     const struct rtb_stream_end *end)
{
	struct seen *x = arg;
	(void)r;
	(void)s;
	x->ended++;
	x->end = *end;
	x->fin = *end->stats;
	snprintf(x->outcome, sizeof(x->outcome), "%s",
	         end->record_outcome ? end->record_outcome : "");
	snprintf(x->path, sizeof(x->path), "%s",
	         end->record_path ? end->record_path : "");
}

static void on_log(void *arg, const char *line)
{
	struct seen *x = arg;
	x->logged++;
	snprintf(x->line, sizeof(x->line), "%s", line);
}

Test(rtb_recv_api, an_srtp_stream_with_fec_plays_real_time_safe_and_ends)
{
	struct rtb_engine *e = NULL;
	struct rtb_receiver *r = NULL;
	struct rtb_sender *s[2] = {NULL, NULL};
	struct seen seen = {0};
	char why[256] = "", to[32], dir[] = "/tmp/rtb_recv_api_XXXXXX";
	uint8_t wrong[30];

	cr_assert_not_null(mkdtemp(dir));
	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	struct rtb_receiver_config rc = {
	        .frame_ms = 5,
	        .latency = RTB_LATENCY_LOW,
	        .min_latency_ms = 20,
	        .timeout_s = 0.3,
	        .record_dir = dir,
	        .srtp_key = key30,
	        .srtp_key_len = sizeof(key30),
	        .ulpfec_pt = 101,
	        .probation = 1,
	        .on_added = on_added,
	        .on_ended = on_ended,
	        .on_log = on_log,
	        .arg = &seen,
	};
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	seen.t_created = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
	r = l16_receiver(&e, NULL, &rc);
	snprintf(to, sizeof(to), "127.0.0.1:%u", rtb_receiver_port(r));
	struct rtb_sender_config sc = {.to = to,
	                               .codec = RTB_CODEC_L16,
	                               .frame_us = 5000,
	                               .ssrc = 0x5eed0001,
	                               .srtp_key = key30,
	                               .srtp_key_len = sizeof(key30),
	                               .ulpfec_percent = 20};
	cr_assert_eq(rtb_sender_create_push(&sc, &s[0], why, sizeof(why)), 0,
	             "%s", why);
	/* Another sender, with another key: never a stream. */
	for (size_t i = 0; i < sizeof(wrong); i++)
		wrong[i] = (uint8_t)(key30[i] ^ 0x5a);
	sc.ssrc = 0x5eed0002;
	sc.srtp_key = wrong;
	sc.ulpfec_percent = 0;
	cr_assert_eq(rtb_sender_create_push(&sc, &s[1], why, sizeof(why)), 0,
	             "%s", why);

	long k = 0;
	struct rtb_stream_stats st = {0};
	RTCHECK_RESET();
	/* 1 s, then on until the stream has 100 packets (a sanitizer's
	   build is slower to take them), at most 3 s more. */
	run(e, s, 2, 100, &t, &k);
	for (int i = 0; i < 30 && st.received < 100; i++) {
		if (seen.added)
			(void)rtb_receiver_stream_stats(r, seen.id, &st);
		run(e, s, 2, 10, &t, &k);
	}
	cr_assert_eq(seen.added, 1, "streams added: %d", seen.added);
	uint64_t ids[4];
	cr_assert_eq(rtb_receiver_list(r, ids, 4), 1);
	cr_assert_eq(ids[0], seen.id);
	struct rtb_stream_info info;
	cr_assert_eq(rtb_receiver_stream_info(r, seen.id, &info), 0);
	cr_assert_eq(info.ssrc, 0x5eed0001u);
	cr_assert(strncmp(info.from, "127.0.0.1:", 10) == 0, "%s", info.from);
	cr_assert(strstr(info.record_path, "5eed0001.wav"), "%s",
	          info.record_path);
	cr_assert_null(info.record_error);
	cr_assert_eq(rtb_receiver_stream_info(r, seen.id + 100, &info),
	             -ENOENT);
	cr_assert_eq(rtb_receiver_stream_stats(r, seen.id, &st), 0);
	cr_assert_gt(st.received, 100, "received %llu (late %llu, lost %llu)",
	             (unsigned long long)st.received,
	             (unsigned long long)st.late, (unsigned long long)st.lost);
	/* One FEC packet after every 5 media packets. */
	cr_assert_geq(st.fec_packets, st.received / 5 - 2, "FEC packets %llu",
	              (unsigned long long)st.fec_packets);
	cr_assert_gt(st.frames_in, 0);
	cr_assert(st.peak > 0.3f && st.peak < 0.7f, "peak %g", (double)st.peak);
	struct rtb_receiver_counters c;
	rtb_receiver_counters(r, &c);
	cr_assert_gt(c.auth_failed, 50, "the wrong key: %llu",
	             (unsigned long long)c.auth_failed);
	cr_assert_eq(c.streams_seen, 1);
	cr_assert_eq(c.streams_alive, 1);
	cr_assert_gt(c.accepted, st.received);
	cr_assert_gt(c.last_rx_ns, seen.t_created);
	cr_assert_eq(c.setup_failed, 0);

	/* Stop: the socket closes; the stream plays out, leaves, and its
	   recording is finalized. */
	rtb_sender_destroy(s[0]);
	rtb_sender_destroy(s[1]);
	rtb_receiver_stop(r, 0);
	rtb_receiver_stop(r, 0); /* again: nothing more */
	for (int i = 0; i < 300 && !seen.ended; i++)
		run(e, NULL, 0, 1, &t, &k);
	RTCHECK_ASSERT_ZERO();
	cr_assert_eq(seen.ended, 1, "the stream never ended");
	cr_assert_eq(seen.end.why, RTB_ENDED_STOPPED);
	cr_assert(seen.end.played);
	cr_assert_gt(seen.end.end_ns, seen.end.start_ns);
	cr_assert_geq(seen.fin.received, st.received);
	cr_assert_eq(seen.end.record_rc, 0);
	cr_assert_gt(seen.end.record_frames, 0);
	cr_assert(strstr(seen.path, "5eed0001.wav"), "%s", seen.path);
	char frames[64];
	snprintf(frames, sizeof(frames), "%llu frames",
	         (unsigned long long)seen.end.record_frames);
	cr_assert_str_eq(seen.outcome, frames);
	cr_assert_eq(access(seen.path, R_OK), 0);
	rtb_receiver_counters(r, &c);
	cr_assert_eq(c.streams_alive, 0);
	cr_assert_eq(c.record_failed, 0);
	cr_assert_eq(seen.logged, 0, "said: %s", seen.line);

	rtb_receiver_destroy(r);
	cr_assert_eq(rtb_engine_stop(e), 0, "%s", rtb_engine_error(e));
	rtb_engine_destroy(e);
	(void)unlink(seen.path);
	(void)rmdir(dir);
}

Test(rtb_recv_api, senders_outside_allow_are_counted_and_refused)
{
	struct rtb_engine *e = NULL;
	struct rtb_receiver *r = NULL, *r2 = NULL;
	struct rtb_sender *s = NULL;
	struct seen seen = {0};
	const char *allow[] = {"10.0.0.0/8"};
	char why[256] = "", to[32];

	struct rtb_receiver_config rc = {
	        .listen = "127.0.0.1:0",
	        .codec = RTB_CODEC_L16,
	        .allow = allow,
	        .nallow = 1,
	        .on_added = on_added,
	        .on_log = on_log,
	        .arg = &seen,
	};
	r = l16_receiver(&e, NULL, &rc);
	snprintf(to, sizeof(to), "127.0.0.1:%u", rtb_receiver_port(r));
	s = l16_sender(r, 7);
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	long k = 0;
	run(e, &s, 1, 50, &t, &k);
	struct rtb_receiver_counters c;
	rtb_receiver_counters(r, &c);
	cr_assert_eq(seen.added, 0);
	cr_assert_gt(c.not_allowed, 20, "not allowed %llu",
	             (unsigned long long)c.not_allowed);
	cr_assert_eq(c.not_allowed, c.datagrams);
	cr_assert_eq(c.accepted, 0);

	/* A port taken: said to on_log as well as into why. */
	rc.listen = to;
	cr_assert_eq(rtb_receiver_create(e, &rc, &r2, why, sizeof(why)),
	             -EADDRINUSE);
	cr_assert_eq(seen.logged, 1);
	cr_assert_str_eq(seen.line, why);

	rtb_sender_destroy(s);
	rtb_receiver_destroy(r);
	rtb_engine_destroy(e);
}

/* The 0.2 entry points, as a binary built against 0.2 finds them. */
typedef int create_fn(struct rtb_engine *, const void *, struct rtb_receiver **,
                      char *, size_t);
typedef int stats_fn(struct rtb_receiver *, uint64_t, void *);
typedef int engine_fn(const void *, struct rtb_engine **, char *, size_t);

Test(rtb_recv_api, binaries_built_against_0_2_keep_working)
{
	create_fn *create = (create_fn *)dlvsym(
	        RTLD_DEFAULT, "rtb_receiver_create", "RTBRIDGE_0");
	stats_fn *stats = (stats_fn *)dlvsym(
	        RTLD_DEFAULT, "rtb_receiver_stream_stats", "RTBRIDGE_0");
	engine_fn *engine = (engine_fn *)dlvsym(
	        RTLD_DEFAULT, "rtb_engine_create", "RTBRIDGE_0");
	struct rtb_engine *e = NULL;
	struct rtb_receiver *r = NULL;
	char why[256] = "";

	cr_assert_not_null(create, "%s", dlerror());
	cr_assert_not_null(stats, "%s", dlerror());
	cr_assert_not_null(engine, "%s", dlerror());
	cr_assert_neq((void *)create, (void *)rtb_receiver_create);
	/* The 0.2 structs, followed by bytes that are not theirs. */
	size_t esize = offsetof(struct rtb_engine_config, archives);
	unsigned char *ec = malloc(esize + 64);
	memset(ec, 0xa5, esize + 64);
	memset(ec, 0, esize); /* RTB_CLOCK_EXTERNAL, the defaults */
	cr_assert_eq(engine(ec, &e, why, sizeof(why)), 0, "%s", why);
	size_t rsize = offsetof(struct rtb_receiver_config, srtp_key);
	unsigned char *rc = malloc(rsize + 64);
	memset(rc, 0xa5, rsize + 64);
	struct rtb_receiver_config c = {.listen = "127.0.0.1:0",
	                                .codec = RTB_CODEC_L16};
	memcpy(rc, &c, rsize);
	cr_assert_eq(create(e, rc, &r, why, sizeof(why)), 0, "%s", why);
	cr_assert_gt(rtb_receiver_port(r), 0);
	unsigned char st[sizeof(struct rtb_stream_stats) + 8];
	memset(st, 0xa5, sizeof(st));
	cr_assert_eq(stats(r, 1, st), -ENOENT);

	/* A stream's figures fill the 0.2 struct and nothing after it. */
	struct rtb_sender *s = l16_sender(r, 3);
	cr_assert_eq(rtb_engine_start(e), 0, "%s", rtb_engine_error(e));
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	long k = 0;
	run(e, &s, 1, 30, &t, &k);
	uint64_t id;
	cr_assert_eq(rtb_receiver_list(r, &id, 1), 1, "a stream");
	cr_assert_eq(stats(r, id, st), 0);
	size_t size02 = offsetof(struct rtb_stream_stats, late_repairs);
	struct rtb_stream_stats v;
	memset(&v, 0, sizeof(v));
	memcpy(&v, st, size02);
	cr_assert_gt(v.received, 10, "received %llu",
	             (unsigned long long)v.received);
	cr_assert_gt(v.target_ms, 0.0);
	for (size_t i = size02; i < sizeof(st); i++)
		cr_assert_eq(st[i], 0xa5, "byte %zu of %zu written", i,
		             sizeof(st));
	rtb_sender_destroy(s);
	cr_assert_eq(rtb_engine_stop(e), 0, "%s", rtb_engine_error(e));
	rtb_receiver_destroy(r);
	rtb_engine_destroy(e);
	free(rc);
	free(ec);
}

/* Refusals only: a listener that starts would join groups (and say so
   with IGMP) from this namespace; tests/lan_sap.sh runs one between
   namespaces of its own, through `rtbridge recv --sap`. */
Test(rtb_recv_api, sap_settings_are_refused_before_anything_is_joined)
{
	const char *unicast[] = {"10.0.0.1"};
	const char *five[] = {"239.1.1.1", "239.1.1.2", "239.1.1.3",
	                      "239.1.1.4", "239.1.1.5"};
	struct rtb_sap_config c = {.groups = unicast, .ngroups = 1};
	struct rtb_sap *l = NULL;
	char why[256] = "";

	cr_assert_eq(rtb_sap_create(&c, &l, why, sizeof(why)), -EINVAL);
	cr_assert_null(l);
	cr_assert(strstr(why, "'10.0.0.1' is not a multicast address"), "%s",
	          why);
	c.groups = five;
	c.ngroups = 5;
	cr_assert_eq(rtb_sap_create(&c, &l, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "at most 4"), "%s", why);
	c.ngroups = 1;
	c.timeout_s = 0.01;
	cr_assert_eq(rtb_sap_create(&c, &l, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "timeout_s"), "%s", why);
	c.timeout_s = 0;
	c.interface = "no-such-interface0";
	cr_assert_lt(rtb_sap_create(&c, &l, why, sizeof(why)), 0);
	cr_assert(strstr(why, "no-such-interface0"), "%s", why);
	cr_assert_null(l);
}

Test(rtb_recv_api, a_sap_session_configures_a_receiver)
{
	struct rtb_sap_session s = {
	        .id = 3,
	        .codec = RTB_CODEC_L24,
	        .rate = 48000,
	        .channels = 2,
	        .frame_ms = 1,
	        .pt = RTB_PT_ZERO,
	        .red_pt = 0,
	        .ulpfec_pt = 101,
	        .listen = "239.255.43.1:5004",
	};
	struct rtb_receiver_config c = {.max_streams = 2};
	char why[256] = "";

	rtb_sap_receiver_config(&s, &c);
	cr_assert_str_eq(c.listen, "239.255.43.1:5004");
	cr_assert_eq(c.codec, RTB_CODEC_L24);
	cr_assert_eq(c.pt, RTB_PT_ZERO);
	cr_assert_eq(c.ulpfec_pt, 101);
	cr_assert_float_eq(c.frame_ms, 1.0, 1e-9);
	cr_assert_eq(c.max_streams, 2, "the others are left as they were");
	cr_assert_eq(rtb_receiver_check(&c, 2, why, sizeof(why)), 0, "%s", why);
	s.listen[0] = '\0'; /* no usable address */
	rtb_sap_receiver_config(&s, &c);
	cr_assert_null(c.listen);
	cr_assert_eq(rtb_receiver_check(&c, 2, why, sizeof(why)), -EINVAL);
}
