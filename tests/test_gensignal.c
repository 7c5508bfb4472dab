/*
 * Functional tests of the docker loopback test's two helper programs, the
 * real binaries (GENSIGNAL_PATH, WAVCMP_PATH): gensignal must be
 * deterministic and write what it says; wavcmp must accept a faithful
 * recording and reject a changed, short, long, silent or foreign one.
 * Files live in a mkdtemp directory; variants are made with libsndfile.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sndfile.h>

#ifndef GENSIGNAL_PATH
#error "GENSIGNAL_PATH must name the gensignal binary"
#endif
#ifndef WAVCMP_PATH
#error "WAVCMP_PATH must name the wavcmp binary"
#endif

extern char **environ;

#define RATE  48000
#define FRAME 960 /* 20 ms */

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/test_gensignal.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

static const char *path(const char *name)
{
	static char buf[4][128];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof buf[0], "%s/%s", dir, name);
	return p;
}

/* Run a program with stdout and stderr to /dev/null; Return: its exit
   status. */
static int run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "%s did not exit normally", argv[0]);
	return WEXITSTATUS(status);
}

static void gen(const char *name, const char *seconds, const char *seed)
{
	char *argv[] = {GENSIGNAL_PATH,
	                "--seconds",
	                (char *)seconds,
	                "--seed",
	                (char *)seed,
	                (char *)path(name),
	                NULL};

	cr_assert_eq(run(argv), 0, "gensignal %s failed", name);
}

static int cmp(const char *mode, const char *ref, const char *rec,
               const char *tol)
{
	char *argv[] = {WAVCMP_PATH,
	                (char *)mode,
	                (char *)path(ref),
	                (char *)path(rec),
	                tol ? "--tolerance" : NULL,
	                (char *)tol,
	                NULL};

	return run(argv);
}

/* Read a whole 16-bit file; Return: malloc'd interleaved samples. */
static short *load(const char *name, SF_INFO *info)
{
	memset(info, 0, sizeof *info);
	SNDFILE *sf = sf_open(path(name), SFM_READ, info);
	cr_assert_not_null(sf, "%s: %s", name, sf_strerror(NULL));
	short *x = calloc((size_t)info->frames * info->channels + 1, sizeof *x);
	cr_assert_not_null(x);
	cr_assert_eq(sf_readf_short(sf, x, info->frames), info->frames);
	sf_close(sf);
	return x;
}

/* Write frames [from, from+n) of x, 16-bit WAV, to name. */
static void save(const char *name, const SF_INFO *like, const short *x,
                 sf_count_t from, sf_count_t n)
{
	SF_INFO info = {.samplerate = like->samplerate,
	                .channels = like->channels,
	                .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *sf = sf_open(path(name), SFM_WRITE, &info);

	cr_assert_not_null(sf, "%s: %s", name, sf_strerror(NULL));
	cr_assert_eq(sf_writef_short(sf, x + from * like->channels, n), n);
	sf_close(sf);
}

static int same_bytes(const char *a, const char *b)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", path(a), path(b));
	return system(cmd) == 0;
}

TestSuite(gensignal, .init = setup, .fini = teardown, .timeout = 60);

Test(gensignal, writes_16bit_48k_stereo_of_the_requested_length)
{
	SF_INFO info;

	gen("a.wav", "1.5", "3");
	short *x = load("a.wav", &info);
	cr_expect_eq(info.frames, 72000);
	cr_expect_eq(info.samplerate, RATE);
	cr_expect_eq(info.channels, 2);
	cr_expect_eq(info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	/* Not silent, not clipped: the sweep peaks at 0.45 + 0.15 noise. */
	int peak = 0;
	for (sf_count_t i = 0; i < info.frames * 2; i++)
		peak = abs(x[i]) > peak ? abs(x[i]) : peak;
	cr_expect_gt(peak, 10000);
	cr_expect_lt(peak, 32767);
	free(x);
}

Test(gensignal, same_seed_gives_the_same_bytes_and_another_seed_does_not)
{
	gen("a.wav", "1", "7");
	gen("b.wav", "1", "7");
	gen("c.wav", "1", "8");
	cr_expect(same_bytes("a.wav", "b.wav"));
	cr_expect_not(same_bytes("a.wav", "c.wav"));
}

Test(gensignal, rejects_bad_arguments)
{
	char *zero[] = {GENSIGNAL_PATH, "--seconds", "0", (char *)path("x.wav"),
	                NULL};
	char *none[] = {GENSIGNAL_PATH, "--seed", "1", NULL};
	char *chan[] = {GENSIGNAL_PATH, "--channels", "9",
	                (char *)path("x.wav"), NULL};

	cr_expect_eq(run(zero), 2);
	cr_expect_eq(run(none), 2);
	cr_expect_eq(run(chan), 2);
}

Test(gensignal, exact_accepts_a_copy_and_a_recording_that_starts_late)
{
	SF_INFO info;

	gen("a.wav", "1", "1");
	short *x = load("a.wav", &info);
	save("late.wav", &info, x, 3 * FRAME, info.frames - 3 * FRAME);
	cr_expect_eq(cmp("exact", "a.wav", "a.wav", NULL), 0);
	cr_expect_eq(cmp("exact", "a.wav", "late.wav", NULL), 0);
	free(x);
}

Test(gensignal,
     exact_rejects_one_changed_sample_a_short_or_long_or_foreign_file)
{
	SF_INFO info;

	gen("a.wav", "1", "1");
	gen("other.wav", "1", "2");
	short *x = load("a.wav", &info);
	save("short.wav", &info, x, 0, info.frames - 1);
	short *y = calloc((size_t)(info.frames + FRAME) * 2, sizeof *y);
	cr_assert_not_null(y);
	memcpy(y, x, (size_t)info.frames * 2 * sizeof *y);
	save("long.wav", &info, y, 0, info.frames + FRAME);
	y[2 * 30000 + 1] ^= 1;
	save("onebit.wav", &info, y, 0, info.frames);
	save("empty.wav", &info, y, 0, 0);
	cr_expect_eq(cmp("exact", "a.wav", "short.wav", NULL), 1);
	cr_expect_eq(cmp("exact", "a.wav", "long.wav", NULL), 1);
	cr_expect_eq(cmp("exact", "a.wav", "onebit.wav", NULL), 1);
	cr_expect_eq(cmp("exact", "a.wav", "other.wav", NULL), 1);
	cr_expect_eq(cmp("exact", "a.wav", "empty.wav", NULL), 1);
	cr_expect_eq(cmp("exact", "a.wav", "missing.wav", NULL), 2);
	free(y);
	free(x);
}

Test(gensignal, similar_accepts_concealed_gaps_within_the_length_tolerance)
{
	SF_INFO info;

	gen("a.wav", "2", "4");
	short *x = load("a.wav", &info);
	for (int k = 10; k < 100; k += 30)
		memset(x + (size_t)k * FRAME * 2, 0, FRAME * 2 * sizeof *x);
	save("gaps.wav", &info, x, FRAME, info.frames - FRAME);
	cr_expect_eq(cmp("similar", "a.wav", "gaps.wav", "960"), 0);
	cr_expect_eq(cmp("similar", "a.wav", "gaps.wav", "959"), 1);
	free(x);
}

Test(gensignal, similar_rejects_silence_and_another_signal)
{
	SF_INFO info;

	gen("a.wav", "2", "4");
	gen("other.wav", "2", "5");
	short *x = load("a.wav", &info);
	memset(x, 0, (size_t)info.frames * 2 * sizeof *x);
	save("silent.wav", &info, x, 0, info.frames);
	cr_expect_eq(cmp("similar", "a.wav", "silent.wav", NULL), 1);
	cr_expect_eq(cmp("similar", "a.wav", "other.wav", NULL), 1);
	free(x);
}
