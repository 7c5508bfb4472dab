/*
 * test_recv_cli: `rtbridge recv` end to end, as subprocesses on 127.0.0.1
 *
 * `rtbridge send` streams seeded test signals (tools/gensignal) to
 * `rtbridge recv --no-play --record-dir`, which runs under librtcheck
 * (LD_PRELOAD) in normal builds, drift compensation on (the default).
 * Checked: an L16 recording is bit-exact to the source (tools/wavcmp
 * exact) with no concealment, underrun or real-time violation, and a
 * 44.1 kHz one records at 44.1 kHz, bit-exact; two senders give two
 * exact files and a mix; an archive file mixed in (--mix) appears in the
 * mix recording sample for sample; Opus records above a stated
 * correlation; malformed datagrams, an unknown payload type and a flood
 * of SSRCs are counted and dropped while the good stream still records
 * exactly; bad input gives one line and a non-zero exit.
 */
#include "tests/jackd_fixture.h"
#include "tests/recv_cli_fixture.h"

TestSuite(recv_cli, .init = setup, .fini = teardown, .timeout = 60);

Test(recv_cli, l16_stream_records_bit_exact_without_concealment)
{
	char ref[128], rec[160];
	struct recv r;
	path_in(ref, sizeof(ref), "ref.wav");
	gensignal(ref, 3, 11);
	const char *extra[] = {"--codec", "l16", "--idle-exit", "1", NULL};
	recv_start(&r, extra);
	send_file(ref, r.port, "l16", "4660", NULL);
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
	rec_path(&r, rec, sizeof(rec), 4660);
	cr_expect_eq(wavcmp("exact", ref, rec), 0);
	/* A spare stream took the first datagram: nothing lost to set-up. */
	cr_expect(strstr(wavcmp_out, "from frame 0\n") != NULL, "%s",
	          wavcmp_out);
	cr_expect_eq(summary_num(&r, "pending_dropped", 0), 0);
	cr_expect_eq(summary_num(&r, "concealed_frames", 0), 0);
	cr_expect_eq(summary_num(&r, "underruns", 0), 0);
	cr_expect_eq(summary_num(&r, "lost", 0), 0);
	cr_expect_eq(summary_num(&r, "rt_violations", 0), 0);
	cr_expect_eq(summary_num(&r, "streams_seen", 0), 1);
	/* Per-second lines carry every figure the issue asks for. */
	static const char *const keys[] = {"ssrc",
	                                   "received",
	                                   "lost",
	                                   "late",
	                                   "duplicate",
	                                   "reordered",
	                                   "concealed_frames",
	                                   "jitter_ms",
	                                   "buffer_ms",
	                                   "target_ms",
	                                   "drift_ppm",
	                                   "underruns",
	                                   "callback_max_us",
	                                   "rt_violations"};
	const char *line = strstr(slurp(r.stats), "{\"type\":\"stream\"");
	cr_assert_not_null(line, "no per-second line");
	const char *eol = strchr(line, '\n');
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char k[64];
		snprintf(k, sizeof(k), "\"%s\":", keys[i]);
		const char *at = strstr(line, k);
		cr_expect(at && at < eol, "no %s in %.*s", keys[i],
		          (int)(eol - line), line);
	}
	int lines = 0;
	for (const char *q = slurp(r.stats);
	     (q = strstr(q, "\"type\":\"stream\"")); q++)
		lines++;
	cr_expect_geq(lines, 2, "%d per-second lines for a 3 s stream", lines);
	/* The text summary names every discontinuity, as the JSON one
	   counts it (a loaded machine may make the playout skip ahead). */
	unsigned long long d[5];
	char t[160];
	const char *at = strstr(slurp(r.out), "; resyncs ");
	cr_assert_not_null(at, "%s", slurp(r.out));
	snprintf(t, sizeof(t), "%s", at); /* slurp's buffer is reused */
	cr_expect_eq(sscanf(t,
	                    "; resyncs %llu, rebuffers %llu, skips %llu (%llu "
	                    "frames), clock mismatches %llu",
	                    &d[0], &d[1], &d[2], &d[3], &d[4]),
	             5, "%s", t);
	static const char *const disc[] = {"resyncs", "rebuffers", "skips",
	                                   "skipped_frames", "clock_mismatch"};
	for (int i = 0; i < 5; i++)
		cr_expect_eq(d[i], summary_num(&r, disc[i], 0), "%s: %s",
		             disc[i], t);
#ifdef RTCHECK_SO_PATH
	cr_expect(strstr(slurp(r.out), "rt_violations 0\n") != NULL,
	          "the checker was not loaded or counted: %s", slurp(r.out));
#endif
}

/* Probation loses nothing: the same stream recorded with a new SSRC
 * validated after two packets (the default) and at its first (--probation
 * 1) gives the same file, sample for sample, from the first packet. */
Test(recv_cli, a_recording_with_probation_equals_one_without)
{
	char ref[128], rec[2][160];
	path_in(ref, sizeof(ref), "ref.wav");
	gensignal(ref, 1.5, 17);
	for (int k = 0; k < 2; k++) {
		struct recv r;
		const char *extra[] = {"--codec", "l16",         "--idle-exit",
		                       "1",       "--probation", k ? "1" : "2",
		                       NULL};
		recv_start(&r, extra);
		send_file(ref, r.port, "l16", "77", NULL);
		cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
		rec_path(&r, rec[k], sizeof(rec[k]), 77);
		char moved[160];
		snprintf(moved, sizeof(moved), "%s/p%d.wav", dir, k);
		cr_assert_eq(rename(rec[k], moved), 0);
		snprintf(rec[k], sizeof(rec[k]), "%s", moved);
		cr_expect_eq(summary_num(&r, "probation_failed", 0), 0);
		cr_expect_eq(summary_num(&r, "accepted", 0), 150);
	}
	sf_count_t n0, n1;
	double *x0 = load(rec[0], &n0), *x1 = load(rec[1], &n1);
	cr_expect_eq(n0, n1);
	cr_expect(n0 == n1 &&
	                  memcmp(x0, x1, (size_t)n0 * 2 * sizeof(double)) == 0,
	          "the recordings differ");
	cr_expect_eq(wavcmp("exact", ref, rec[0]), 0, "%s", wavcmp_out);
	cr_expect(strstr(wavcmp_out, "from frame 0\n") != NULL, "%s",
	          wavcmp_out);
	free(x0);
	free(x1);
}

/* A 44.1 kHz L16 stream (the mixer runs at 48 kHz, drift compensation on):
 * the recording is the stream's own timeline at 44.1 kHz, bit-exact. */
Test(recv_cli, l16_at_44100_hz_records_at_its_own_rate_bit_exact)
{
	char ref[128], sdp[128], rec[160], to[64];
	struct recv r;
	path_in(ref, sizeof(ref), "ref.wav");
	path_in(sdp, sizeof(sdp), "s.sdp");
	const char *g[] = {"--seconds", "2",     "--seed", "71",
	                   "--rate",    "44100", ref,      NULL};
	cr_assert_eq(run(GENSIGNAL_PATH, g, NULL, NULL), 0);
	/* The receiver takes the rate and packet time from SDP (5 ms is
	   no whole number of frames at 44.1 kHz). */
	FILE *f = fopen(sdp, "w");
	cr_assert_not_null(f);
	fputs("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\n"
	      "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 96\r\n"
	      "a=rtpmap:96 L16/44100/2\r\na=ptime:10\r\n",
	      f);
	fclose(f);
	const char *extra[] = {"--sdp", sdp, "--idle-exit", "1", NULL};
	recv_start(&r, extra);
	snprintf(to, sizeof(to), "127.0.0.1:%u", r.port);
	const char *a[] = {"send",   ref,      "--to",  to,           "--codec",
	                   "l16",    "--rate", "44100", "--frame-ms", "10",
	                   "--ssrc", "4410",   NULL};
	cr_assert_eq(
	        wait_exit(spawn(RTBRIDGE_PATH, a, NULL, NULL, false), 30000),
	        0);
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
	rec_path(&r, rec, sizeof(rec), 4410);
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(rec, SFM_READ, &info);
	cr_assert_not_null(sf, "%s: %s", rec, sf_strerror(NULL));
	sf_close(sf);
	cr_expect_eq(info.samplerate, 44100);
	cr_expect_eq(wavcmp("exact", ref, rec), 0);
	cr_expect(strstr(wavcmp_out, "from frame 0\n") != NULL, "%s",
	          wavcmp_out);
	cr_expect_eq(summary_num(&r, "concealed_frames", 0), 0);
	cr_expect_eq(summary_num(&r, "lost", 0), 0);
}

Test(recv_cli, two_senders_give_two_exact_files_and_a_mix)
{
	char a[128], b[128], mix[128], ra[160], rb[160];
	struct recv r;
	pid_t pa, pb;
	path_in(a, sizeof(a), "a.wav");
	path_in(b, sizeof(b), "b.wav");
	path_in(mix, sizeof(mix), "mix.wav");
	gensignal(a, 2, 21);
	gensignal(b, 2.5, 22);
	const char *extra[] = {"--codec",  "l16", "--idle-exit", "1",
	                       "--record", mix,   NULL};
	recv_start(&r, extra);
	send_file(a, r.port, "l16", "1", &pa);
	send_file(b, r.port, "l16", "2", &pb);
	cr_assert_eq(wait_exit(pa, 30000), 0);
	cr_assert_eq(wait_exit(pb, 30000), 0);
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
	rec_path(&r, ra, sizeof(ra), 1);
	rec_path(&r, rb, sizeof(rb), 2);
	cr_expect_eq(wavcmp("exact", a, ra), 0);
	cr_expect_eq(wavcmp("exact", b, rb), 0);
	cr_expect_eq(summary_num(&r, "streams_seen", 0), 2);
	/* The mix holds both: at least as long as the longer one, and
	   loud. */
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(mix, SFM_READ, &info);
	cr_assert_not_null(sf, "%s", sf_strerror(NULL));
	double peak = 0, x[1024];
	sf_count_t got;
	while ((got = sf_read_double(sf, x, 1024)) > 0)
		for (sf_count_t i = 0; i < got; i++)
			peak = x[i] > peak ? x[i]
			                   : (-x[i] > peak ? -x[i] : peak);
	sf_close(sf);
	cr_expect_geq(info.frames, (sf_count_t)(2.5 * 48000));
	cr_expect_gt(peak, 0.1);
}

/* A sender restarting: with a new SSRC (8 then 9), and with the same SSRC
 * from a new port (9 again: RFC 3550 8.2, the old source stopped, so the
 * newcomer takes the SSRC over). Each stream is its own recording, exact
 * from its first packet: probation and the takeover lose nothing. */
Test(recv_cli, a_restarting_sender_gets_a_new_stream_and_recording)
{
	char a[128], b[128], ra[160], rb[160], rb2[192];
	struct recv r;
	path_in(a, sizeof(a), "a.wav");
	path_in(b, sizeof(b), "b.wav");
	gensignal(a, 1, 61);
	gensignal(b, 1, 62);
	const char *extra[] = {"--codec", "l16", "--idle-exit", "1", NULL};
	recv_start(&r, extra);
	send_file(a, r.port, "l16", "8", NULL);
	send_file(b, r.port, "l16", "9", NULL);
	/* The same SSRC again: new port, sequence and timestamp origin. */
	send_file(a, r.port, "l16", "9", NULL);
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
	rec_path(&r, ra, sizeof(ra), 8);
	rec_path(&r, rb, sizeof(rb), 9);
	snprintf(rb2, sizeof(rb2), "%s/%08x-2.wav", r.recdir, 9u);
	cr_expect_eq(wavcmp("exact", a, ra), 0, "%s", wavcmp_out);
	cr_expect(strstr(wavcmp_out, "from frame 0\n") != NULL, "%s",
	          wavcmp_out);
	cr_expect_eq(wavcmp("exact", b, rb), 0, "%s", wavcmp_out);
	cr_expect(strstr(wavcmp_out, "from frame 0\n") != NULL, "%s",
	          wavcmp_out);
	cr_expect_eq(wavcmp("exact", a, rb2), 0, "%s", wavcmp_out);
	cr_expect(strstr(wavcmp_out, "from frame 0\n") != NULL, "%s",
	          wavcmp_out);
	cr_expect_eq(summary_num(&r, "streams_seen", 0), 3);
	cr_expect_eq(summary_num(&r, "takeovers", 0), 1);
	cr_expect_eq(summary_num(&r, "ssrc_conflicts", 0), 0);
	cr_expect(strstr(slurp(r.stats), "\"ended\":\"taken_over\"") != NULL,
	          "the first stream 9 is not reported taken over");
}

Test(recv_cli, sigint_finalizes_the_recording_of_a_stream_in_progress)
{
	char ref[128], rec[160];
	struct recv r;
	pid_t ps;
	path_in(ref, sizeof(ref), "ref.wav");
	gensignal(ref, 4, 81);
	const char *extra[] = {"--codec", "l16", NULL};
	recv_start(&r, extra);
	send_file(ref, r.port, "l16", "11", &ps);
	sleep_ms(1500);
	kill(r.pid, SIGINT);
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
	kill(ps, SIGINT);
	(void)wait_exit(ps, 10000);
	/* A valid file holding the stream so far, exact. */
	rec_path(&r, rec, sizeof(rec), 11);
	sf_count_t nref, nrec;
	double *xr = load(ref, &nref), *xc = load(rec, &nrec);
	cr_expect_gt(nrec, 48000, "%lld frames", (long long)nrec);
	cr_expect_lt(nrec, nref);
	cr_expect(memcmp(xc, xr, (size_t)nrec * 2 * sizeof(double)) == 0,
	          "the recording is not the stream's start");
	cr_expect(strstr(slurp(r.stats), "\"type\":\"summary\"") != NULL);
	free(xr);
	free(xc);
}

Test(recv_cli, archive_mixed_in_appears_sample_exact_in_the_mix)
{
	char arch[128], quiet[128], mix[128];
	struct recv r;
	path_in(arch, sizeof(arch), "archive.wav");
	path_in(quiet, sizeof(quiet), "silence.wav");
	path_in(mix, sizeof(mix), "mix.wav");
	gensignal(arch, 1.5, 31);
	write_silence(quiet, 2.5);
	const char *extra[] = {"--codec",  "l16",   "--idle-exit",
	                       "0.5",      "--mix", arch,
	                       "--record", mix,     NULL};
	recv_start(&r, extra);
	send_file(quiet, r.port, "l16", "3", NULL);
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));

	SF_INFO ia = {0}, im = {0};
	SNDFILE *fa = sf_open(arch, SFM_READ, &ia);
	SNDFILE *fm = sf_open(mix, SFM_READ, &im);
	cr_assert(fa && fm);
	cr_assert_eq(im.channels, ia.channels);
	cr_assert_geq(im.frames, ia.frames);
	double xa[2], xm[2];
	sf_count_t diff = 0, loud_after = 0;
	for (sf_count_t i = 0; i < im.frames; i++) {
		sf_readf_double(fm, xm, 1);
		if (i < ia.frames) {
			sf_readf_double(fa, xa, 1);
			diff += xa[0] != xm[0] || xa[1] != xm[1];
		} else {
			loud_after += xm[0] != 0 || xm[1] != 0;
		}
	}
	sf_close(fa);
	sf_close(fm);
	cr_expect_eq(diff, 0, "%lld of %lld frames differ", (long long)diff,
	             (long long)ia.frames);
	cr_expect_eq(loud_after, 0);
}

Test(recv_cli, opus_stream_records_correlated_with_the_source)
{
	char ref[128], rec[160];
	struct recv r;
	path_in(ref, sizeof(ref), "ref.wav");
	gensignal(ref, 3, 41);
	const char *extra[] = {"--codec", "opus", "--idle-exit", "1", NULL};
	recv_start(&r, extra);
	send_file(ref, r.port, "opus", "5", NULL);
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
	rec_path(&r, rec, sizeof(rec), 5);
	/* Opus keeps the waveform of sweep+noise to ~15 dB SNR at 128
	   kbit/s; a correlation of 0.95 or better after the best lag
	   means an SNR above 9.9 dB (measured: 0.969, 11.9 dB). */
	char out[128];
	path_in(out, sizeof(out), "wavcmp.out");
	const char *args[] = {"similar", ref, rec, "--min-corr", "0.95", NULL};
	int st = run(WAVCMP_PATH, args, out, NULL);
	cr_log_info("%s", slurp(out));
	cr_expect_eq(st, 0, "%s", slurp(out));
	cr_expect_eq(summary_num(&r, "concealed_frames", 0), 0);
	cr_expect_eq(summary_num(&r, "underruns", 0), 0);
}

Test(recv_cli, bad_datagrams_and_an_ssrc_flood_are_counted_and_dropped)
{
	char ref[128], rec[160];
	struct recv r;
	pid_t ps;
	uint8_t b[1400];
	uint32_t seed = 12345;
	path_in(ref, sizeof(ref), "ref.wav");
	gensignal(ref, 3, 51);
	const char *extra[] = {"--codec",       "l16", "--idle-exit", "1",
	                       "--max-streams", "4",   NULL};
	recv_start(&r, extra);
	send_file(ref, r.port, "l16", "6", &ps);
	sleep_ms(400); /* the good stream is set up */
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	int malformed = 0;
	for (int i = 0; i < 40; i++) { /* random bytes, wrong version */
		for (size_t k = 0; k < 100; k++) {
			seed = seed * 1103515245u + 12345u;
			b[k] = (uint8_t)(seed >> 16);
		}
		b[0] &= 0x3f;
		udp_to(fd, r.port, b, 20 + (size_t)i);
		malformed++;
	}
	rtp_hdr(b, 96, 1, 99);
	udp_to(fd, r.port, b, 7); /* truncated header */
	malformed++;
	b[0] = 0x8f; /* 15 CSRCs announced in a 20-byte packet */
	udp_to(fd, r.port, b, 20);
	malformed++;
	rtp_hdr(b, 96, 1, 99);
	b[0] |= 0x20; /* padding of 255 in a 40-byte packet */
	b[39] = 255;
	udp_to(fd, r.port, b, 40);
	malformed++;
	for (int i = 0; i < 10; i++) { /* unknown payload type */
		rtp_hdr(b, 0, (uint16_t)i, 6);
		udp_to(fd, r.port, b, 172);
	}
	for (uint32_t s = 0; s < 30; s++) { /* a flood of new SSRCs */
		rtp_hdr(b, 96, 1, 0x10000 + s);
		udp_to(fd, r.port, b, 12 + 192);
		sleep_ms(1);
	}
	/* Five sources that do pass probation, beyond --max-streams 4
	   with the real one: one stream is refused, and its two datagrams
	   counted. */
	for (uint32_t s = 0; s < 4; s++)
		for (uint16_t q = 0; q < 2; q++) {
			rtp_hdr(b, 96, (uint16_t)(100 + q), 0x20000 + s);
			udp_to(fd, r.port, b, 12 + 192);
		}
	close(fd);
	cr_assert_eq(wait_exit(ps, 30000), 0);
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
	rec_path(&r, rec, sizeof(rec), 6);
	cr_expect_eq(wavcmp("exact", ref, rec), 0);
	cr_expect_eq(summary_num(&r, "malformed", 0),
	             (unsigned long long)malformed);
	cr_expect_eq(summary_num(&r, "unknown_pt", 0), 10);
	/* One-packet SSRCs never become streams: no file, counted as
	   failed probations. */
	cr_expect_eq(summary_num(&r, "streams_seen", 0), 4);
	cr_expect_eq(summary_num(&r, "over_max_streams", 0), 2);
	cr_expect_eq(summary_num(&r, "probation_failed", 0), 30);
	cr_expect_eq(summary_num(&r, "probation_dropped", 0), 30);
	int files = 0;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "ls '%s' | wc -l > '%s/n.txt'", r.recdir,
	         dir);
	cr_assert_eq(system(cmd), 0);
	char n_txt[160];
	path_in(n_txt, sizeof(n_txt), "n.txt");
	files = atoi(slurp(n_txt));
	/* The real stream and the three valid two-packet ones (which
	   played two packets each). */
	cr_expect_eq(files, 4, "%d files in %s", files, r.recdir);
}

/* A stream whose recording cannot be created (here the directory went
 * away after the start, which checked it) is said in one line naming the
 * file, and plays on unrecorded: nothing it sent is refused, no file is
 * named, the receiver goes on and says the next one too, and the exit
 * status says a recording failed. */
Test(recv_cli, a_stream_whose_recording_cannot_be_made_plays_on_unrecorded)
{
	char ref[128];
	struct recv r;
	path_in(ref, sizeof(ref), "ref.wav");
	gensignal(ref, 1, 91);
	const char *extra[] = {"--codec", "l16", "--duration", "2.5", NULL};
	recv_start(&r, extra);
	cr_assert_eq(rmdir(r.recdir), 0, "%s: %s", r.recdir, strerror(errno));
	pid_t s1, s2;
	send_file(ref, r.port, "l16", "31", &s1);
	send_file(ref, r.port, "l16", "32", &s2);
	cr_expect_eq(wait_exit(s1, 20000), 0);
	cr_expect_eq(wait_exit(s2, 20000), 0);
	/* Recordings failed: the exit status says so. */
	cr_assert_eq(recv_finish(&r), 1, "%s", slurp(r.err));
	const char *e = slurp(r.err);
	cr_expect_eq(count_lines(e), 3, "stderr: %s", e);
	cr_expect(strstr(e, "0000001f.wav") != NULL, "%s", e);
	cr_expect(strstr(e, "00000020.wav") != NULL, "%s", e);
	cr_expect(strstr(e, "(the stream plays on, not recorded)") != NULL,
	          "%s", e);
	cr_expect_eq(summary_num(&r, "setup_failed", 0), 0);
	cr_expect_eq(summary_num(&r, "streams_seen", 0), 2);
	/* Each sent 100 packets of 10 ms, and each stream took them all. */
	cr_expect_eq(summary_num(&r, "accepted", 0), 200);
	cr_expect_eq(summary_num(&r, "refused", 0), 0);
	cr_expect(strstr(slurp(r.stats), "\"record\":") == NULL,
	          "a file that does not exist is named: %s", slurp(r.stats));
}

/* One stderr line matching `want`, and the exit status `status`. */
static void expect_refusal(const char *const *args, int status,
                           const char *want)
{
	char out[128], err[128];
	path_in(out, sizeof(out), "out.txt");
	path_in(err, sizeof(err), "err.txt");
	int st = run(RTBRIDGE_PATH, args, out, err);
	const char *e = slurp(err);
	cr_expect_eq(st, status, "exit %d: %s", st, e);
	cr_expect_eq(count_lines(e), 1, "stderr: %s", e);
	cr_expect(strstr(e, want) != NULL, "want '%s' in: %s", want, e);
}

Test(recv_cli, bad_input_gives_one_line_and_a_nonzero_exit)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	char busy[64];
	snprintf(busy, sizeof(busy), "127.0.0.1:%u", ntohs(a.sin_port));

	const char *a1[] = {"recv", "--listen", busy, "--no-play", NULL};
	expect_refusal(a1, 1, "in use");
	close(fd);
	const char *a2[] = {"recv", "--listen", "999.1.2.3:5004", "--no-play",
	                    NULL};
	expect_refusal(a2, 2, "999.1.2.3");
	const char *a3[] = {"recv", "--listen", "5004", "--bogus", NULL};
	expect_refusal(a3, 2, "unknown option '--bogus'");
	const char *a4[] = {"recv", "--listen", "5004", "--codec", "mp3", NULL};
	expect_refusal(a4, 2, "--codec 'mp3'");
	const char *a5[] = {"recv", "--no-play", NULL};
	expect_refusal(a5, 2, "--listen");
	const char *a6[] = {"recv",          "--listen", "5004",
	                    "--max-streams", "0",        NULL};
	expect_refusal(a6, 2, "--max-streams '0'");
	const char *a7[] = {"recv", "--listen", "127.0.0.1:99999", NULL};
	expect_refusal(a7, 2, "99999");
	const char *a8[] = {"recv",    "--listen",    "5004",
	                    "--allow", "10.0.0.0/99", NULL};
	expect_refusal(a8, 2, "--allow");
	const char *a9[] = {"recv", "--listen", "5004", "--red-pt", "96", NULL};
	expect_refusal(a9, 2, "--red-pt 96 is the stream's payload type");
	const char *a10[] = {"recv",     "--listen", "5004",
	                     "--red-pt", "128",      NULL};
	expect_refusal(a10, 2, "--red-pt '128'");
	const char *a11[] = {"recv",        "--listen", "5004",
	                     "--ulpfec-pt", "96",       NULL};
	expect_refusal(a11, 2, "--ulpfec-pt 96 is the stream's");
	const char *a12[] = {"recv", "--listen",    "5004", "--red-pt",
	                     "100",  "--ulpfec-pt", "101",  NULL};
	expect_refusal(a12, 2, "cannot protect one stream both");
}

Test(recv_cli, senders_outside_the_allow_list_are_dropped)
{
	struct recv r;
	uint8_t b[12 + 192] = {0};
	const char *extra[] = {"--codec",    "l16", "--allow", "10.0.0.0/8",
	                       "--duration", "1",   NULL};
	recv_start(&r, extra);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	for (int i = 0; i < 20; i++) {
		rtp_hdr(b, 96, (uint16_t)i, 12);
		udp_to(fd, r.port, b, sizeof(b));
	}
	close(fd);
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
	cr_expect_eq(summary_num(&r, "not_allowed", 0), 20);
	cr_expect_eq(summary_num(&r, "streams_seen", 0), 0);
}

static void jack_teardown(void)
{
	jackd_fixture_down();
	teardown();
}

/* Through a real device: PortAudio's JACK host API on a private jackd
 * (dummy backend, paced like a sound card), drift compensation on. The
 * stream's recording is still bit-exact and the PortAudio callback thread
 * makes no forbidden call. */
Test(recv_cli, plays_through_portaudio_on_jack_and_records_bit_exact,
     .fini = jack_teardown)
{
	char ref[128], rec[160];
	struct recv r;
	jackd_fixture_up("rtb_recv");
	path_in(ref, sizeof(ref), "ref.wav");
	gensignal(ref, 3, 13);
	const char *extra[] = {
	        "--play",  "--device",    "JACK:", "--codec", "l16",
	        "--drift", "--idle-exit", "1",     NULL};
	recv_start(&r, extra);
	send_file(ref, r.port, "l16", "4661", NULL);
	cr_assert_eq(recv_finish(&r), 0, "%s", slurp(r.err));
	rec_path(&r, rec, sizeof(rec), 4661);
	cr_expect_eq(wavcmp("exact", ref, rec), 0, "%s", wavcmp_out);
	cr_expect_eq(summary_num(&r, "lost", 0), 0);
	cr_expect_eq(summary_num(&r, "underruns", 0), 0);
#ifdef RTCHECK_SO_PATH
	cr_expect(strstr(slurp(r.out), "rt_violations 0\n") != NULL,
	          "the checker was not loaded or counted: %s", slurp(r.out));
#endif
}
