/*
 * test_play: the `rtbridge play` and `rtbridge devices` commands, run as
 * subprocesses
 *
 * Files are 16-bit WAVs of seeded integer noise written by the test; the
 * recorded mix (24-bit WAV, which holds any sum of two 16-bit samples
 * exactly) must be their exact sum. Error cases check the exit status
 * and that stderr has one line naming the culprit. One test plays
 * through PortAudio on a private jackd (dummy backend) and, in normal
 * builds, runs the program under LD_PRELOAD=librtcheck.so, which makes
 * the summary report the real-time violations of the PortAudio callback
 * thread.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sndfile.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/jackd_fixture.h"

#define CH   2
#define RATE 48000

static char tmpdir[256];
static char out_path[300], err_path[300];

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
	                      .tv_nsec = (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Sample k, channel c of test file `seed`: an integer in [-12000, 12000]. */
static int sig(uint64_t seed, uint64_t k, unsigned c)
{
	uint64_t h = splitmix(seed * 0x100000001b3ull ^ (k * CH + c));
	int v = (int)(h % 12000u) + 1;
	return (h & (1ull << 40)) ? -v : v;
}

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

static void write_wav16(const char *path, uint64_t seed, long frames)
{
	SF_INFO info = {.samplerate = RATE,
	                .channels = CH,
	                .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	cr_assert_not_null(sf, "%s", sf_strerror(NULL));
	short buf[1024 * CH];
	for (long i = 0; i < frames; i += 1024) {
		long n = frames - i < 1024 ? frames - i : 1024;
		for (long k = 0; k < n; k++)
			for (unsigned c = 0; c < CH; c++)
				buf[k * CH + c] =
				        (short)sig(seed, (uint64_t)(i + k), c);
		cr_assert_eq(sf_writef_short(sf, buf, n), n);
	}
	sf_close(sf);
}

/* Read a recording: frames into *buf (malloc'd), as integers of 1/32768. */
static long read_rec(const char *path, float **buf)
{
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	cr_assert_not_null(sf, "%s: %s", path, sf_strerror(NULL));
	cr_assert_eq(info.channels, CH);
	cr_assert_eq(info.samplerate, RATE);
	*buf = malloc(sizeof(float) * CH * (size_t)(info.frames + 1));
	cr_assert_not_null(*buf);
	long n = (long)sf_readf_float(sf, *buf, info.frames);
	sf_close(sf);
	cr_assert_eq(n, (long)info.frames);
	return n;
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rtb_play_XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	path_in(out_path, sizeof(out_path), "stdout.txt");
	path_in(err_path, sizeof(err_path), "stderr.txt");
}

static void teardown(void)
{
	jackd_fixture_down();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void)!system(cmd);
}

/* Start rtbridge with argv (NULL-terminated, without the program name),
 * stdout and stderr to files. */
static pid_t spawn_rtbridge(const char *const *args)
{
	char *argv[32];
	int n = 0;
	argv[n++] = (char *)RTBRIDGE_PATH;
	for (; args[n - 1] && n < 31; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out_path,
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, err_path,
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	pid_t pid;
	int rc = posix_spawn(&pid, RTBRIDGE_PATH, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(rc, 0, "spawn %s: %s", RTBRIDGE_PATH, strerror(rc));
	return pid;
}

/* Wait for the child, at most `ms`. Return: exit status, or -1. */
static int wait_exit(pid_t pid, long ms)
{
	int status;
	for (long i = 0; i < ms / 5; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		sleep_ms(5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	cr_assert_fail("rtbridge did not exit within %ld ms", ms);
	return -1;
}

static int run_rtbridge(const char *const *args)
{
	return wait_exit(spawn_rtbridge(args), 60000);
}

static char *slurp(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Check the recording is the sum of files `seeds` of `lens` frames. */
static void check_mix(const char *rec, const uint64_t *seeds, const long *lens,
                      int nfiles, float gain)
{
	float *buf;
	long longest = 0;
	for (int i = 0; i < nfiles; i++)
		longest = lens[i] > longest ? lens[i] : longest;
	long n = read_rec(rec, &buf);
	cr_assert_geq(n, longest, "recorded %ld of %ld frames", n, longest);
	for (long k = 0; k < n; k++) {
		for (unsigned c = 0; c < CH; c++) {
			int want = 0;
			for (int i = 0; i < nfiles; i++)
				if (k < lens[i])
					want += sig(seeds[i], (uint64_t)k, c);
			float got = buf[k * CH + c] * 32768.0f;
			cr_assert(got == (float)want * gain,
			          "frame %ld ch %u: %g != %d", k, c,
			          (double)got, want);
		}
	}
	free(buf);
}

TestSuite(play, .init = setup, .fini = teardown, .timeout = 120);

Test(play, no_play_fast_records_the_exact_mix_of_two_files)
{
	char a[300], b[300], mix[300];
	path_in(a, sizeof(a), "a.wav");
	path_in(b, sizeof(b), "b.wav");
	path_in(mix, sizeof(mix), "mix.wav");
	const uint64_t seeds[2] = {1, 2};
	const long lens[2] = {30001, 20000};
	write_wav16(a, seeds[0], lens[0]);
	write_wav16(b, seeds[1], lens[1]);
	const char *args[] = {"play", "--no-play", "--fast", a,
	                      b,      "--record",  mix,      NULL};
	int st = run_rtbridge(args);
	cr_assert_eq(st, 0, "exit %d, stderr: %s", st, slurp(err_path));
	check_mix(mix, seeds, lens, 2, 1.0f);
	const char *out = slurp(out_path);
	cr_assert(strstr(out, "recorded ") != NULL, "summary: %s", out);
	cr_assert(strstr(out, "underruns 0,") != NULL, "summary: %s", out);
}

Test(play, missing_file_exits_1_with_one_line_naming_it)
{
	char a[300], nope[300];
	path_in(a, sizeof(a), "a.wav");
	path_in(nope, sizeof(nope), "does-not-exist.wav");
	write_wav16(a, 3, 1000);
	const char *args[] = {"play", "--no-play", "--fast", a, nope, NULL};
	cr_assert_eq(run_rtbridge(args), 1);
	const char *err = slurp(err_path);
	cr_assert_eq(count_lines(err), 1, "stderr: %s", err);
	cr_assert(strstr(err, "does-not-exist.wav") != NULL, "%s", err);
}

Test(play, non_audio_file_exits_1_with_a_clear_line)
{
	char p[300];
	path_in(p, sizeof(p), "notes.wav");
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs("these are not samples\n", f);
	fclose(f);
	const char *args[] = {"play", "--no-play", "--fast", p, NULL};
	cr_assert_eq(run_rtbridge(args), 1);
	const char *err = slurp(err_path);
	cr_assert_eq(count_lines(err), 1, "stderr: %s", err);
	cr_assert(strstr(err, "notes.wav") != NULL, "%s", err);
	cr_assert(strstr(err, "ecognised") || strstr(err, "format"),
	          "keeps libsndfile's reason: %s", err);
}

Test(play, bad_usage_exits_2)
{
	char a[300];
	path_in(a, sizeof(a), "a.wav");
	write_wav16(a, 4, 1000);
	const char *bad_opt[] = {"play", "--no-play", "--bogus", a, NULL};
	cr_assert_eq(run_rtbridge(bad_opt), 2);
	cr_assert(strstr(slurp(err_path), "--bogus") != NULL);
	const char *bad_period[] = {"play", "--no-play", "--period",
	                            "7",    a,           NULL};
	cr_assert_eq(run_rtbridge(bad_period), 2);
	const char *bad_gain[] = {"play", "--no-play", "--gain",
	                          "loud", a,           NULL};
	cr_assert_eq(run_rtbridge(bad_gain), 2);
	const char *no_file[] = {"play", "--no-play", NULL};
	cr_assert_eq(run_rtbridge(no_file), 2);
	const char *both[] = {"play", "--no-play", "--device", "x", a, NULL};
	cr_assert_eq(run_rtbridge(both), 2);
}

Test(play, unwritable_recording_is_refused_at_start_with_exit_2)
{
	char a[300];
	path_in(a, sizeof(a), "a.wav");
	write_wav16(a, 5, 1000);
	const char *args[] = {"play", "--no-play", "--fast",
	                      a,      "--record",  "/nonexistent-dir/out.wav",
	                      NULL};
	cr_assert_eq(run_rtbridge(args), 2);
	const char *err = slurp(err_path);
	cr_assert_eq(count_lines(err), 1, "stderr: %s", err);
	cr_assert(strstr(err, "/nonexistent-dir/out.wav") != NULL, "%s", err);
	cr_assert(strstr(err, "no such directory") != NULL, "%s", err);
}

Test(play, gain_in_db_scales_the_mix)
{
	char a[300], mix[300];
	path_in(a, sizeof(a), "a.wav");
	path_in(mix, sizeof(mix), "mix.wav");
	const uint64_t seeds[1] = {6};
	const long lens[1] = {5000};
	write_wav16(a, seeds[0], lens[0]);
	/* -6.0206 dB is a gain of 0.5 to within float rounding. */
	const char *args[] = {
	        "play", "--no-play", "--fast", "--gain", "-6.020599913",
	        a,      "--record",  mix,      NULL};
	cr_assert_eq(run_rtbridge(args), 0, "%s", slurp(err_path));
	check_mix(mix, seeds, lens, 1, 0.5f);
}

Test(play, sigterm_stops_a_loop_cleanly_with_the_recording_finalized)
{
	char a[300], mix[300];
	path_in(a, sizeof(a), "a.wav");
	path_in(mix, sizeof(mix), "loop.wav");
	write_wav16(a, 7, 4800);
	const char *args[] = {"play", "--no-play", "--loop", "--status",
	                      a,      "--record",  mix,      NULL};
	pid_t pid = spawn_rtbridge(args);
	/* Running (its status line is drawn), then 0.6 s more. */
	for (int i = 0; i < 4000 && !strchr(slurp(err_path), '\r'); i++)
		sleep_ms(5);
	sleep_ms(600);
	kill(pid, SIGTERM);
	int st = wait_exit(pid, 20000);
	cr_assert_eq(st, 0, "exit %d: %s", st, slurp(err_path));
	float *buf;
	long n = read_rec(mix, &buf);
	cr_assert_gt(n, 4800, "looped more than once: %ld frames", n);
	for (long k = 0; k < n; k++)
		cr_assert(buf[k * CH] * 32768.0f == (float)sig(7, k % 4800, 0),
		          "frame %ld", k);
	free(buf);
	cr_assert(strstr(slurp(out_path), "recorded ") != NULL);
}

Test(play, status_line_redraws_in_place_with_position_and_meter)
{
	char a[300];
	path_in(a, sizeof(a), "a.wav");
	write_wav16(a, 12, 24000);
	/* --status draws even though stderr is a file here. */
	const char *args[] = {"play", "--no-play", "--status", a, NULL};
	cr_assert_eq(run_rtbridge(args), 0, "%s", slurp(err_path));
	const char *err = slurp(err_path);
	cr_assert(strchr(err, '\r') != NULL, "redrawn with \\r: %s", err);
	cr_assert(strstr(err, "/ 0:00.5") != NULL, "position / duration: %s",
	          err);
	cr_assert(strstr(err, " dB") != NULL, "level meter: %s", err);
	cr_assert(strstr(err, "underruns") != NULL, "%s", err);
}

Test(play, a_disk_read_error_while_playing_exits_1_with_the_reason)
{
	char a[300];
	path_in(a, sizeof(a), "a.wav");
	write_wav16(a, 13, 96000);
	setenv("RTBRIDGE_FAULTS", "disk_error_after=30", 1);
	const char *args[] = {"play", "--no-play", "--fast", "--prefetch",
	                      "0.05", a,           NULL};
	int st = run_rtbridge(args);
	unsetenv("RTBRIDGE_FAULTS");
	cr_assert_eq(st, 1, "exit %d", st);
	const char *err = slurp(err_path);
	cr_assert_eq(count_lines(err), 1, "stderr: %s", err);
	cr_assert(strstr(err, "a.wav") && strstr(err, "injected"), "%s", err);
	cr_assert(strstr(slurp(out_path), "FAILED") != NULL);
}

#ifdef RTCHECK_SO_PATH
Test(play, virtual_clock_callback_makes_no_forbidden_calls_under_disk_stalls)
{
	char a[300], b[300], mix[300];
	path_in(a, sizeof(a), "a.wav");
	path_in(b, sizeof(b), "b.wav");
	path_in(mix, sizeof(mix), "mix.wav");
	write_wav16(a, 8, 24000);
	write_wav16(b, 9, 24000);
	setenv("LD_PRELOAD", RTCHECK_SO_PATH, 1);
	setenv("RTBRIDGE_FAULTS", "disk_stall_ms=80,disk_stall_every=3", 1);
	const char *args[] = {"play", "--no-play", "--prefetch", "0.05", a,
	                      b,      "--record",  mix,          NULL};
	int st = run_rtbridge(args);
	unsetenv("LD_PRELOAD");
	unsetenv("RTBRIDGE_FAULTS");
	cr_assert_eq(st, 0, "exit %d: %s", st, slurp(err_path));
	const char *out = slurp(out_path);
	cr_log_info("%s", out);
	cr_assert(strstr(out, "rt_violations 0\n") != NULL, "summary: %s", out);
}
#endif

Test(play, plays_through_portaudio_on_jack_dummy_and_records_the_mix)
{
	char a[300], mix[300];
	path_in(a, sizeof(a), "a.wav");
	path_in(mix, sizeof(mix), "mix.wav");
	const uint64_t seeds[1] = {10};
	const long lens[1] = {24000};
	write_wav16(a, seeds[0], lens[0]);
	jackd_fixture_up("rtb_play");
#ifdef RTCHECK_SO_PATH
	setenv("LD_PRELOAD", RTCHECK_SO_PATH, 1);
#endif
	const char *args[] = {"play",     "--device", "JACK:", a,
	                      "--record", mix,        NULL};
	int st = run_rtbridge(args);
	unsetenv("LD_PRELOAD");
	cr_assert_eq(st, 0, "exit %d: %s", st, slurp(err_path));
	const char *out = slurp(out_path);
	cr_log_info("%s", out);
	check_mix(mix, seeds, lens, 1, 1.0f);
#ifdef RTCHECK_SO_PATH
	cr_assert(strstr(out, "rt_violations 0\n") != NULL, "summary: %s", out);
#endif
}

Test(play, devices_lists_the_jack_device_and_a_bad_name_exits_1)
{
	char a[300];
	path_in(a, sizeof(a), "a.wav");
	write_wav16(a, 11, 1000);
	jackd_fixture_up("rtb_play");
	const char *list[] = {"devices", NULL};
	cr_assert_eq(run_rtbridge(list), 0);
	cr_assert(strstr(slurp(out_path), "JACK") != NULL, "%s",
	          slurp(out_path));
	const char *bad[] = {"play", "--device", "no-such-device-xyz", a, NULL};
	cr_assert_eq(run_rtbridge(bad), 1);
	const char *err = slurp(err_path);
	cr_assert(strstr(err, "rtbridge play: device 'no-such-device-xyz'") !=
	                  NULL,
	          "%s", err);
}
