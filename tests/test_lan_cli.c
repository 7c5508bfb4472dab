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
 * 0.125..20 ms, are refused with one line. The receiver runs headless,
 * under librtcheck when the build has it (tests/recv_cli_fixture.h).
 */
/* The fixture is shared with test_recv_cli, which uses all of it. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tests/recv_cli_fixture.h"

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
	cr_expect_neq(st, 0, "%s", e);
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
}
