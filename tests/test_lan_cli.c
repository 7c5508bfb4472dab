/*
 * test_lan_cli: the packet times, rates and payload types of AES67 and
 * PipeWire, `rtbridge send` to `rtbridge recv` on 127.0.0.1
 *
 * 24-bit seeded noise (every bit of L24 used) is sent as L24 in 1 ms
 * packets (AES67's 48 frames) with payload type 127, in PipeWire's
 * 4.4375 ms packets (213 frames, received with the receiver's 5 ms guess:
 * it learns the length from what the packets decode to), at 44.1 kHz in
 * 48-frame packets (1.0884 ms) and 96 kHz in 1 ms; 16-bit audio as L16 in
 * AES67's shortest 0.125 ms packets (6 frames). Each recording is
 * bit-exact (tools/wavcmp exact), complete and without concealment.
 * Packet times that are no whole number of frames, or outside
 * 0.125..20 ms, and LAN options that cannot go together, are refused with
 * one line and exit status 2. The receiver runs headless,
 * under librtcheck when the build has it (tests/recv_cli_fixture.h).
 */
#include "tests/recv_cli_fixture.h"

#include <poll.h>

TestSuite(lan_cli, .init = setup, .fini = teardown, .timeout = 90);

/* Seeded 24-bit noise of `frames` stereo frames at `rate`. */
static void noise24(const char *path, int rate, long frames, uint32_t seed)
{
	SF_INFO info = {.samplerate = rate,
	                .channels = 2,
	                .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	cr_assert_not_null(sf, "%s: %s", path, sf_strerror(NULL));
	static int buf[4096 * 2];
	uint32_t x = seed;
	for (long done = 0; done < frames;) {
		long n = frames - done < 4096 ? frames - done : 4096;
		for (long i = 0; i < 2 * n; i++) {
			x = x * 1664525u + 1013904223u;
			/* A full-scale 24-bit value, in the top of an int. */
			buf[i] = ((int)(x >> 8) - (1 << 23)) * 256;
		}
		cr_assert_eq(sf_writef_int(sf, buf, n), n);
		done += n;
	}
	sf_close(sf);
}

/* Send `ref` with the options after it; record it; compare. */
static void send_and_check(const char *ref, const char *const *recv_extra,
                           const char *const *send_extra, unsigned ssrc,
                           int rate)
{
	char rec[160], to[64], ssrc_text[16];
	const char *args[32];
	struct recv r;
	int n = 0;

	recv_start(&r, recv_extra);
	snprintf(to, sizeof to, "127.0.0.1:%u", r.port);
	snprintf(ssrc_text, sizeof ssrc_text, "%u", ssrc);
	args[n++] = "send";
	args[n++] = ref;
	args[n++] = "--to";
	args[n++] = to;
	args[n++] = "--ssrc";
	args[n++] = ssrc_text;
	args[n++] = "--quiet";
	for (int i = 0; send_extra[i] && n < 31; i++)
		args[n++] = send_extra[i];
	args[n] = NULL;
	char serr[128];
	path_in(serr, sizeof serr, "send.err");
	cr_assert_eq(
	        wait_exit(spawn(RTBRIDGE_PATH, args, NULL, serr, false), 30000),
	        0, "%s", slurp(serr));
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
	rec_path(&r, rec, sizeof rec, ssrc);
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(rec, SFM_READ, &info);
	cr_assert_not_null(sf, "%s: %s (%s)", rec, sf_strerror(NULL),
	                   slurp(r.err));
	sf_close(sf);
	cr_expect_eq(info.samplerate, rate);
	cr_expect_eq(wavcmp("exact", ref, rec), 0, "%s", slurp(r.out));
	cr_expect(strstr(wavcmp_out, "from frame 0\n") != NULL, "%s",
	          wavcmp_out);
	cr_expect_eq(summary_num(&r, "concealed_frames", 0), 0);
	cr_expect_eq(summary_num(&r, "lost", 0), 0);
	cr_expect_eq(summary_num(&r, "rt_violations", 0), 0);
}

/* AES67: L24, 48 kHz, 1 ms = 48 frames, payload type 127 (PipeWire's). */
Test(lan_cli, l24_in_1_ms_packets_with_pt_127_is_bit_exact)
{
	char ref[128];
	path_in(ref, sizeof ref, "ref.wav");
	noise24(ref, 48000, 48000 * 2, 1);
	const char *re[] = {"--codec",     "l24", "--pt", "127",
	                    "--idle-exit", "3",   NULL};
	const char *se[] = {"--codec", "l24", "--frame-ms", "1",
	                    "--pt",    "127", NULL};
	send_and_check(ref, re, se, 127001, 48000);
}

/* PipeWire's default L24 packet: 1278 bytes = 213 frames = 4.4375 ms. The
   receiver guesses 5 ms and learns 213 from the first packet. */
Test(lan_cli, l24_in_213_frame_packets_is_learned_and_bit_exact)
{
	char ref[128];
	path_in(ref, sizeof ref, "ref.wav");
	noise24(ref, 48000, 213 * 450, 2);
	const char *re[] = {"--codec", "l24", "--idle-exit", "3", NULL};
	const char *se[] = {"--codec", "l24", "--ptime", "4.4375", NULL};
	send_and_check(ref, re, se, 213, 48000);
}

/* AES67's shortest packet: 0.125 ms = 6 frames, 8000 packets a second.
   The receiver is told the packet time by the sender's SDP (`rtbridge
   sdp`): its jitter buffer sizes its slots from it. */
Test(lan_cli, l16_in_eighth_ms_packets_is_bit_exact)
{
	char ref[128], sdp[128];
	path_in(ref, sizeof ref, "ref.wav");
	path_in(sdp, sizeof sdp, "s.sdp");
	gensignal(ref, 1.5, 13);
	const char *sa[] = {"sdp", "--to",       "127.0.0.1:5004", "--codec",
	                    "l16", "--frame-ms", "0.125",          NULL};
	cr_assert_eq(run(RTBRIDGE_PATH, sa, sdp, NULL), 0);
	cr_assert(strstr(slurp(sdp), "a=ptime:0.125\r\n") != NULL, "%s",
	          slurp(sdp));
	const char *re[] = {"--sdp", sdp, "--idle-exit", "3", NULL};
	const char *se[] = {"--codec", "l16", "--frame-ms", "0.125", NULL};
	send_and_check(ref, re, se, 6, 48000);
}

/* 44.1 kHz in 48-frame packets (1.0884 ms), 96 kHz in 1 ms (96 frames):
   each recorded at its own rate. */
Test(lan_cli, l24_at_44100_and_96000_hz_is_bit_exact)
{
	char ref[128];
	path_in(ref, sizeof ref, "ref441.wav");
	noise24(ref, 44100, 48 * 1000, 3);
	const char *re[] = {"--codec", "l24",         "--rate", "44100", "--pt",
	                    "100",     "--idle-exit", "3",      NULL};
	const char *se[] = {"--codec", "l24",  "--rate", "44100", "--frame-ms",
	                    "1.0884",  "--pt", "100",    NULL};
	send_and_check(ref, re, se, 44100, 44100);

	teardown();
	setup();
	path_in(ref, sizeof ref, "ref96.wav");
	noise24(ref, 96000, 96000 * 1, 4);
	const char *re96[] = {"--codec",     "l24", "--rate", "96000",
	                      "--idle-exit", "3",   NULL};
	const char *se96[] = {"--codec",    "l24", "--rate", "96000",
	                      "--frame-ms", "1",   NULL};
	send_and_check(ref, re96, se96, 96000, 96000);
}

static void refused(const char *const *args, const char *want)
{
	char out[128], err[128];
	path_in(out, sizeof out, "o");
	path_in(err, sizeof err, "e");
	int st = run(RTBRIDGE_PATH, args, out, err);
	const char *e = slurp(err);
	cr_expect_eq(st, 2, "exit %d: %s", st, e);
	cr_expect_eq(count_lines(e), 1, "one line: %s", e);
	cr_expect(strstr(e, want) != NULL, "want '%s' in: %s", want, e);
}

Test(lan_cli, packet_times_that_are_no_whole_frames_are_refused)
{
	char wav[128];
	path_in(wav, sizeof wav, "s.wav");
	gensignal(wav, 0.1, 1);
	const char *a1[] = {"send",       wav,   "--to",   "127.0.0.1:9",
	                    "--codec",    "l16", "--rate", "44100",
	                    "--frame-ms", "1",   NULL};
	refused(a1, "44.1 frames, not a whole number (44 frames");
	const char *a2[] = {"send",        wav,       "--to",
	                    "127.0.0.1:9", "--codec", "l24",
	                    "--frame-ms",  "0.1",     NULL};
	refused(a2, "0.125 to 20 ms");
	const char *a3[] = {"send",        wav,       "--to",
	                    "127.0.0.1:9", "--codec", "l24",
	                    "--frame-ms",  "25",      NULL};
	refused(a3, "0.125 to 20 ms");
	const char *a4[] = {"send",       wav, "--to", "127.0.0.1:9",
	                    "--frame-ms", "1", NULL};
	refused(a4, "opus frame must be 2.5, 5, 10 or 20 ms");
	const char *a5[] = {"recv", "--sap", "--listen", "5004", NULL};
	refused(a5, "no --listen or --sdp");
	const char *a6[] = {"recv",     "--listen",  "127.0.0.1:5004",
	                    "--source", "127.0.0.1", NULL};
	refused(a6, "--source goes with --listen on a multicast group");
	const char *a7[] = {"recv", "--listen", "5004", "--session", "x", NULL};
	refused(a7, "go with --sap");
	const char *a8[] = {"send",           wav,       "--to", "127.0.0.1:9",
	                    "--multicast-if", "nosuch0", NULL};
	refused(a8, "no interface 'nosuch0'");
	const char *a9[] = {"list", "--sap", "10.0.0.1", NULL};
	refused(a9, "not a multicast address");
	const char *a10[] = {"recv", "--listen", "5004", "--latency",
	                     "low",  "--sync",   "100",  NULL};
	refused(a10, "--sync sets the delay itself");
	const char *a11[] = {
	        "send", wav, "--to", "127.0.0.1:9", "--announce=10.0.0.1",
	        NULL};
	refused(a11, "--announce '10.0.0.1': must be a multicast group");
}

/* --latency low: AES67's 1 ms L24 packets into an adaptive delay that
   starts at 2 ms and follows the spread in 50 us steps, 64-frame
   periods. The recording keeps the whole timeline; outside sanitizer
   builds the delay it settles on stays far below the default mode's (which
   starts at 40 ms and comes down 1.5 ms a second: still above 35 ms here). */
Test(lan_cli, latency_low_settles_on_a_small_delay)
{
	char ref[128], rec[160];
	struct recv r;
	path_in(ref, sizeof ref, "ref.wav");
	noise24(ref, 48000, 48000 * 2, 5);
	recv_paths(&r);
	const char *ra[] = {"recv",
	                    "--listen",
	                    "127.0.0.1:0",
	                    "--no-play",
	                    "--record-dir",
	                    r.recdir,
	                    "--stats-json",
	                    r.stats,
	                    "--codec",
	                    "l24",
	                    "--latency",
	                    "low",
	                    "--idle-exit",
	                    "3",
	                    NULL};
	const char *none[] = {NULL};
	recv_spawn(&r, ra, none);
	char to[64];
	snprintf(to, sizeof to, "127.0.0.1:%u", r.port);
	const char *sa[] = {"send",       ref,    "--to",    to,
	                    "--ssrc",     "4801", "--codec", "l24",
	                    "--frame-ms", "1",    "--quiet", NULL};
	cr_assert_eq(
	        wait_exit(spawn(RTBRIDGE_PATH, sa, NULL, NULL, false), 30000),
	        0);
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
	rec_path(&r, rec, sizeof rec, 4801);
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(rec, SFM_READ, &info);
	cr_assert_not_null(sf, "%s: %s", rec, sf_strerror(NULL));
	sf_close(sf);
	cr_expect_eq(info.frames, 48000 * 2, "%lld frames",
	             (long long)info.frames);
	cr_expect_eq(summary_num(&r, "rt_violations", 0), 0);
	const char *t = strstr(slurp(r.stats), "\"type\":\"summary\"");
	cr_assert_not_null(t);
	t = strstr(t, "\"target_ms\":");
	cr_assert_not_null(t);
	double target = strtod(t + strlen("\"target_ms\":"), NULL);
	cr_log_info("--latency low: target %.3f ms, %llu lost", target,
	            summary_num(&r, "lost", 0));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	cr_expect(target > 0.0 && target < 20.0, "target %f ms", target);
#endif
}

/* --media-clock: each packet is stamped with the system clock's time x
   48000, so it arrives (on 127.0.0.1, sent when due) within a few ms of
   its own timestamp; the SDP says which clock it is. */
Test(lan_cli, media_clock_stamps_packets_with_the_system_clock)
{
	char wav[128], sdp[128];
	path_in(wav, sizeof wav, "s.wav");
	path_in(sdp, sizeof sdp, "s.sdp");
	gensignal(wav, 0.5, 3);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof a;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	          getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
	char to[64];
	snprintf(to, sizeof to, "127.0.0.1:%u", ntohs(a.sin_port));
	const char *sa[] = {"send",          wav,       "--to",       to,
	                    "--codec",       "l16",     "--frame-ms", "1",
	                    "--media-clock", "--quiet", NULL};
	pid_t pid = spawn(RTBRIDGE_PATH, sa, NULL, NULL, false);
	static int32_t diff[2048];
	size_t n = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, n ? 1000 : 3000) <= 0 || n == 2048)
			break;
		uint8_t b[1500];
		ssize_t len = recv(fd, b, sizeof b, 0);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		cr_assert_geq(len, 12);
		uint64_t now = (uint64_t)ts.tv_sec * 48000u +
		               (uint64_t)ts.tv_nsec * 48000u / 1000000000u;
		uint32_t rtp = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 |
		               (uint32_t)b[6] << 8 | b[7];
		diff[n++] = (int32_t)((uint32_t)now - rtp);
	}
	close(fd);
	cr_assert_eq(wait_exit(pid, 10000), 0);
	cr_assert_geq(n, 490, "%zu packets", n);
	/* Ticks between a packet's media time and its arrival: its frame
	   (48) plus the sender's and the receiver's wake-ups. */
	size_t near = 0;
	for (size_t i = 0; i < n; i++)
		near += diff[i] >= -48 && diff[i] <= 48 * 20;
	cr_log_info("first packet %d ticks after its media time", diff[0]);
	cr_assert_geq(near, n * 9 / 10, "%zu of %zu within 20 ms", near, n);
	const char *da[] = {"sdp",     "--to",          "239.1.2.3:5004",
	                    "--codec", "l24",           "--frame-ms",
	                    "1",       "--media-clock", NULL};
	cr_assert_eq(run(RTBRIDGE_PATH, da, sdp, NULL), 0);
	cr_expect(strstr(slurp(sdp), "a=ts-refclk:ntp=/traceable/\r\n"), "%s",
	          slurp(sdp));
	cr_expect(strstr(slurp(sdp), "a=mediaclk:direct=0\r\n"), "%s",
	          slurp(sdp));
}
