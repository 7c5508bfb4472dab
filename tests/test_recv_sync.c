/*
 * test_recv_sync: `rtbridge recv --sync MS` (media-clock sync, RFC 7273)
 * and the warning for a sender whose RTP clock disagrees with its audio,
 * end to end on 127.0.0.1: an L16 sender in the test paces 5 ms packets
 * and stamps them as asked (media time, or a wrong clock rate); the
 * receiver records each stream (--no-play) and its stats are read back.
 *
 * Test thread only. Needs RTBRIDGE_PATH (GENSIGNAL_PATH, WAVCMP_PATH for
 * the fixture).
 */
#include "recv_cli_fixture.h"

#define SYNC_RATE    48000
#define SYNC_FRAMES  240 /* 5 ms packets */
#define SYNC_PACKETS 300 /* 1.5 s */

TestSuite(recv_sync, .init = setup, .fini = teardown, .timeout = 60);

/* A receiver of mono L16 with `extra` options, recording each stream. */
static void sync_recv_start(struct recv *r, const char *const *extra)
{
	recv_paths(r);
	const char *base[] = {"recv",
	                      "--listen",
	                      "127.0.0.1:0",
	                      "--no-play",
	                      "--codec",
	                      "l16",
	                      "--channels",
	                      "1",
	                      "--record-dir",
	                      r->recdir,
	                      "--stats-json",
	                      r->stats,
	                      "--idle-exit",
	                      "0.5",
	                      NULL};
	recv_spawn(r, base, extra);
}

static uint64_t sync_now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The test signal: sample k of the stream. */
static int16_t sync_sample(uint64_t k)
{
	return (int16_t)((k * 7919u) % 40000u - 20000u);
}

/*
 * Send SYNC_PACKETS packets paced 5 ms apart. media: RTP time is the
 * media clock's (CLOCK_REALTIME x 48 kHz) when the packet's audio starts;
 * else it starts at `ts0` and moves by `step` ticks a packet.
 */
static void sync_send(unsigned port, uint32_t ssrc, bool media, uint32_t ts0,
                      uint32_t step)
{
	uint8_t b[12 + 2 * SYNC_FRAMES];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	uint64_t t0 = sync_now(CLOCK_MONOTONIC);
	uint64_t m0 = sync_now(CLOCK_REALTIME);
	for (unsigned i = 0; i < SYNC_PACKETS; i++) {
		uint64_t at = t0 + (uint64_t)i * 5000000u;
		struct timespec ts = {(time_t)(at / 1000000000u),
		                      (long)(at % 1000000000u)};
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		uint64_t mt = m0 + (uint64_t)i * 5000000u;
		uint32_t rtp = media ? (uint32_t)(mt / 1000000000u * SYNC_RATE +
		                                  mt % 1000000000u * SYNC_RATE /
		                                          1000000000u)
		                     : ts0 + i * step;
		rtp_hdr(b, 96, (uint16_t)(1000 + i), ssrc);
		b[4] = (uint8_t)(rtp >> 24);
		b[5] = (uint8_t)(rtp >> 16);
		b[6] = (uint8_t)(rtp >> 8);
		b[7] = (uint8_t)rtp;
		for (unsigned k = 0; k < SYNC_FRAMES; k++) {
			int16_t v = sync_sample((uint64_t)i * SYNC_FRAMES + k);
			b[12 + 2 * k] = (uint8_t)((uint16_t)v >> 8);
			b[13 + 2 * k] = (uint8_t)v;
		}
		udp_to(fd, port, b, sizeof(b));
	}
	close(fd);
}

/* Frames of the stream's recording that match the signal from its start,
   of `frames` read. */
static sf_count_t sync_matching(const struct recv *r, uint32_t ssrc,
                                sf_count_t *frames)
{
	char rec[160];
	rec_path(r, rec, sizeof(rec), ssrc);
	*frames = wav_check(rec);
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(rec, SFM_READ, &info);
	cr_assert_not_null(sf, "%s", rec);
	cr_assert_eq(info.channels, 1);
	double *x = calloc((size_t)info.frames + 1, sizeof(*x));
	cr_assert_not_null(x);
	cr_assert_eq(sf_readf_double(sf, x, info.frames), info.frames);
	sf_close(sf);
	sf_count_t ok = 0;
	while (ok < *frames &&
	       (int)(x[ok] * 32768.0) == sync_sample((uint64_t)ok))
		ok++;
	free(x);
	return ok;
}

Test(recv_sync, a_media_clock_sender_plays_at_the_fixed_delay_whole)
{
	struct recv r;
	const char *extra[] = {"--sync", "150", NULL};
	sync_recv_start(&r, extra);
	sync_send(r.port, 0x5c, true, 0, 0);
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
	unsigned long long late = summary_num(&r, "late", 0);
	sf_count_t frames, ok = sync_matching(&r, 0x5c, &frames);
	cr_log_info("recorded %lld frames, %lld matching; late %llu",
	            (long long)frames, (long long)ok, late);
	cr_expect_eq(summary_num(&r, "received", 0), SYNC_PACKETS);
	/* A packet later than its media time + 150 ms is dropped (only on a
	   machine stalled that long): all the others are recorded. */
	cr_expect_eq(frames, (sf_count_t)(SYNC_PACKETS - late) * SYNC_FRAMES);
	if (late == 0)
		cr_expect_eq(ok, frames, "exact up to frame %lld",
		             (long long)ok);
	/* The delay is the one asked for. */
	const char *s = strstr(slurp(r.stats), "\"target_ms\":");
	cr_assert_not_null(s, "%s", slurp(r.stats));
	cr_expect_eq(atof(s + strlen("\"target_ms\":")), 150.0);
}

Test(recv_sync, sync_with_other_delay_settings_is_refused_in_one_line)
{
	char out[128], err[128];
	path_in(out, sizeof(out), "out.txt");
	path_in(err, sizeof(err), "err.txt");
	const char *a1[] = {"recv", "--listen",  "5004", "--no-play", "--sync",
	                    "100",  "--latency", "50",   NULL};
	const char *a2[] = {"recv",          "--listen", "5004",
	                    "--no-play",     "--sync",   "100",
	                    "--max-latency", "300",      NULL};
	const char *a3[] = {"recv",   "--listen", "5004", "--no-play",
	                    "--sync", "0",        NULL};
	const char *a4[] = {"recv",   "--listen", "5004", "--no-play",
	                    "--sync", "2500",     NULL};
	const char *const *cases[] = {a1, a2, a3, a4};
	const char *want[] = {"--latency", "--max-latency", "--sync '0'",
	                      "--sync '2500'"};
	for (int i = 0; i < 4; i++) {
		int st = run(RTBRIDGE_PATH, cases[i], out, err);
		const char *e = slurp(err);
		cr_expect_eq(st, 2, "exit %d: %s", st, e);
		cr_expect_eq(count_lines(e), 1, "stderr: %s", e);
		cr_expect(strstr(e, want[i]) && strstr(e, "--sync"),
		          "want '%s' in: %s", want[i], e);
	}
}

/* A sender stamping 8 kHz RTP time on 48 kHz audio: said once, and the
   stream is timed by its decoded audio (recorded whole). */
Test(recv_sync, a_sender_with_another_rtp_clock_is_warned_once)
{
	struct recv r;
	const char *extra[] = {"--min-latency", "60", NULL};
	sync_recv_start(&r, extra);
	sync_send(r.port, 0x8c, false, 123456u, SYNC_FRAMES / 6);
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
	const char *e = slurp(r.err);
	int warned = 0;
	for (const char *q = e; (q = strstr(q, "another rate")); q++)
		warned++;
	cr_expect_eq(warned, 1, "stderr: %s", e);
	cr_expect(strstr(e, "stream 0000008c") != NULL, "stderr: %s", e);
	cr_expect_geq(summary_num(&r, "clock_mismatch", 0), 1);
	sf_count_t frames, ok = sync_matching(&r, 0x8c, &frames);
	cr_log_info("recorded %lld frames, %lld matching from the start",
	            (long long)frames, (long long)ok);
	cr_expect_eq(frames, (sf_count_t)SYNC_PACKETS * SYNC_FRAMES);
}

/* Under --sync, a sender whose RTP times are not media time (here 6 h
   ahead of it) plays nothing: said once, in words. */
Test(recv_sync, a_sender_off_the_media_clock_is_warned_once)
{
	struct recv r;
	const char *extra[] = {"--sync", "100", NULL};
	sync_recv_start(&r, extra);
	uint64_t m = sync_now(CLOCK_REALTIME);
	uint32_t now_ticks = (uint32_t)(m / 1000000000u * SYNC_RATE);
	sync_send(r.port, 0x6d, false, now_ticks + 0x40000000u, SYNC_FRAMES);
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
	const char *e = slurp(r.err);
	int warned = 0;
	for (const char *q = e; (q = strstr(q, "far from the media clock"));
	     q++)
		warned++;
	cr_expect_eq(warned, 1, "stderr: %s", e);
	cr_expect(strstr(e, "stream 0000006d") != NULL, "stderr: %s", e);
}
