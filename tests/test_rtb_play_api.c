/*
 * test_rtb_play_api: the engine of the public C API playing archives
 * (rtbridge/engine.h, the parts 0.3 added for `rtbridge play`) through
 * librtbridge.so
 *
 * Two WAV files (0.5 and 0.25 s, at two levels) are mixed on the fast
 * virtual clock with a gain, the mix recorded: the engine says it is done once
 * both have played their last frame, each archive's figures say where it is and
 * how long it is, the engine's figures count callbacks and the longest file,
 * and the recording finishes with the frames played and its outcome. A
 * binary built against 0.2 reads the engine's figures into its shorter
 * struct (rtb_engine_stats@RTBRIDGE_0) and nothing beyond it. An engine
 * without a device input refuses to capture.
 */
#define _GNU_SOURCE /* dlvsym */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rtbridge/rtbridge.h>

TestSuite(rtb_play_api, .timeout = 60);

/* frames of stereo 16-bit 48 kHz at a constant level, as a WAV file. */
static void write_wav(const char *path, uint32_t frames, int16_t level)
{
	uint32_t bytes = frames * 4;
	uint8_t h[44] = {'R', 'I',  'F',  'F', 0,   0,   0,    0,    'W',
	                 'A', 'V',  'E',  'f', 'm', 't', ' ',  16,   0,
	                 0,   0,    1,    0,   2,   0,   0x80, 0xbb, 0,
	                 0,   0x00, 0xee, 2,   0,   4,   0,    16,   0,
	                 'd', 'a',  't',  'a', 0,   0,   0,    0};
	uint32_t riff = 36 + bytes;
	memcpy(h + 4, &riff, 4);
	memcpy(h + 40, &bytes, 4);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(h, 1, sizeof(h), f), sizeof(h));
	for (uint32_t i = 0; i < frames * 2; i++)
		cr_assert_eq(fwrite(&level, 2, 1, f), 1);
	fclose(f);
}

typedef void stats_fn(const struct rtb_engine *, void *);

Test(rtb_play_api, archives_play_to_their_end_and_the_mix_is_recorded)
{
	char dir[] = "/tmp/rtb_play_api_XXXXXX", a[64], b[64], rec[64];
	char why[256] = "";
	struct rtb_engine *e = NULL;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/a.wav", dir);
	snprintf(b, sizeof(b), "%s/b.wav", dir);
	snprintf(rec, sizeof(rec), "%s/mix.wav", dir);
	write_wav(a, 24000, 8192);
	write_wav(b, 12000, 2048);
	const char *files[] = {a, b};
	struct rtb_engine_config ec = {
	        .clock = RTB_CLOCK_VIRTUAL_FAST,
	        .archives = files,
	        .narchives = 2,
	        .archive_gain = 0.5f,
	        .end_with_archives = true,
	        .record = rec,
	};
	cr_assert_eq(rtb_engine_create(&ec, &e, why, sizeof(why)), 0, "%s",
	             why);
	cr_assert_eq(rtb_engine_start(e), 0, "%s", rtb_engine_error(e));
	struct rtb_engine_stats st = {0};
	for (int i = 0; i < 1000 && !st.done; i++) {
		(void)rtb_engine_run(e, 10);
		rtb_engine_stats(e, &st);
	}
	cr_assert(st.done, "never done");
	cr_assert_geq(st.frames, 24000);
	cr_assert_eq(st.longest, 24000);
	cr_assert_gt(st.callbacks, 0);
	/* a at 0.25 and b at 0.0625, x 0.5 gain: 0.125, or 0.156 where a
	   report saw both (the fast clock may run through the overlap
	   between two reports); without the gain 0.25 or more. */
	cr_assert(st.peak > 0.12f && st.peak < 0.16f, "peak %g",
	          (double)st.peak);
	struct rtb_archive_stats as;
	cr_assert_eq(rtb_engine_archive(e, 0, &as), 0);
	cr_assert_eq(as.length, 24000);
	cr_assert_eq(as.position, 24000);
	cr_assert_eq(as.error[0], '\0');
	cr_assert_eq(rtb_engine_archive(e, 1, &as), 0);
	cr_assert_eq(as.length, 12000);
	cr_assert_eq(rtb_engine_archive(e, 2, &as), -ENOENT);

	/* The 0.2 struct, followed by bytes that are not its own. */
	stats_fn *old = (stats_fn *)dlvsym(RTLD_DEFAULT, "rtb_engine_stats",
	                                   "RTBRIDGE_0");
	cr_assert_not_null(old, "%s", dlerror());
	size_t n = offsetof(struct rtb_engine_stats, callback_median_us);
	unsigned char buf[sizeof(struct rtb_engine_stats) + 16];
	memset(buf, 0xa5, sizeof(buf));
	old(e, buf);
	for (size_t i = n; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0xa5, "byte %zu written", i);
	uint64_t frames;
	memcpy(&frames, buf + offsetof(struct rtb_engine_stats, frames), 8);
	cr_assert_geq(frames, 24000);

	cr_assert_eq(rtb_engine_stop(e), 0, "%s", rtb_engine_error(e));
	struct rtb_record_status rs;
	rtb_engine_record_status(e, &rs);
	cr_assert(rs.on && rs.finished && !rs.stopped);
	cr_assert_eq(rs.rc, 0);
	cr_assert_geq(rs.frames, 24000);
	char want[64];
	snprintf(want, sizeof(want), "%llu frames",
	         (unsigned long long)rs.frames);
	cr_assert_str_eq(rs.outcome, want);
	rtb_engine_destroy(e);
	unlink(a);
	unlink(b);
	unlink(rec);
	rmdir(dir);
}

/* Device input goes to a pushing sender only where there is one
   (`rtbridge send --capture` through JACK: tests/test_sendcap.c). */
Test(rtb_play_api, capture_needs_a_device_input)
{
	struct rtb_engine_config ec = {.clock = RTB_CLOCK_VIRTUAL,
	                               .in_channels = 2}; /* no device */
	struct rtb_sender_config sc = {.to = "127.0.0.1:9", .ssrc = 1};
	struct rtb_engine *e = NULL;
	struct rtb_sender *s = NULL;
	char why[256] = "";

	cr_assert_eq(rtb_engine_create(&ec, &e, why, sizeof(why)), 0, "%s",
	             why);
	cr_assert_eq(rtb_sender_create_push(&sc, &s, why, sizeof(why)), 0, "%s",
	             why);
	cr_assert_eq(rtb_engine_capture(e, s), -EINVAL);
	cr_assert_eq(rtb_engine_capture(e, NULL), -EINVAL);
	rtb_sender_destroy(s);
	rtb_engine_destroy(e);
}
