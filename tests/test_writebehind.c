/*
 * Write-behind stream against a running disk server: files identical to
 * the frames written (bit-exact for 16- and 24-bit values), every container
 * the extension selects, pool exhaustion dropped and counted, write errors
 * reported (injected EIO, a full device, a missing directory), and a WAV
 * file left playable when the recording process is killed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bridge/disk/writebehind.h"
#include "bridge/rtcheck/rthook.h"
#include "tests/disk_fixture.h"
#include "tests/rtcheck_assert.h"

/* Integer sample values of `bits` bits, seeded; as floats k / 2^(bits-1). */
static int32_t *make_ints(size_t n, int bits, unsigned seed)
{
	int32_t *v = malloc(n * sizeof(*v));
	int32_t span = 1 << bits;
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		uint32_t r = (seed >> 8) ^ (seed << 13);
		v[i] = (int32_t)(r % (uint32_t)span) - span / 2;
	}
	/* The extremes too. */
	v[0] = -span / 2;
	v[1] = span / 2 - 1;
	return v;
}

/* Write all frames in odd-sized pieces; wait whenever the pool runs dry
 * (a test producer can afford to). */
static void write_all(struct writebehind *s, const float *x, size_t frames,
                      int ch)
{
	size_t done = 0;
	unsigned seed = 99;
	int idle = 0;
	while (done < frames) {
		seed = seed * 1103515245u + 12345u;
		size_t want = 1 + (seed >> 16) % 1500;
		if (want > frames - done)
			want = frames - done;
		uint64_t before = writebehind_dropped_frames(s);
		size_t n = writebehind_write(s, x + done * (size_t)ch, want);
		done += n;
		if (n < want) {
			/* Dropped frames are counted; take them back for this
			 * test. */
			cr_assert_eq(writebehind_dropped_frames(s) - before,
			             want - n);
			atomic_fetch_sub(&s->dropped_frames, want - n);
			cr_assert_lt(++idle, 5000);
			sleep_ms(1);
		}
	}
}

static void check_int_file(const char *path, const int32_t *v, size_t frames,
                           int ch, int bits, int rate)
{
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	cr_assert_not_null(sf, "%s: %s", path, sf_strerror(NULL));
	cr_assert_eq(info.frames, (sf_count_t)frames);
	cr_assert_eq(info.channels, ch);
	cr_assert_eq(info.samplerate, rate);
	int *got = malloc(frames * (size_t)ch * sizeof(int));
	cr_assert_eq(sf_readf_int(sf, got, (sf_count_t)frames),
	             (sf_count_t)frames);
	for (size_t i = 0; i < frames * (size_t)ch; i++)
		cr_assert_eq(got[i] / (1 << (32 - bits)), v[i],
		             "sample %zu: %d vs %d", i,
		             got[i] / (1 << (32 - bits)), v[i]);
	free(got);
	sf_close(sf);
}

static void record_ints(const char *name, int bits, int enc, int ch, int rate)
{
	char path[300];
	path_in(path, sizeof(path), name);
	size_t frames = 48000 + 333;
	int32_t *v = make_ints(frames * (size_t)ch, bits, 7u + (unsigned)bits);
	float *x = malloc(frames * (size_t)ch * sizeof(float));
	for (size_t i = 0; i < frames * (size_t)ch; i++)
		x[i] = (float)v[i] / (float)(1 << (bits - 1));
	struct writebehind_opts o = {
	        .encoding = enc, .block_frames = 700, .buffer_s = 0.2};
	struct writebehind *s;
	cr_assert_eq(writebehind_open(&srv, path, ch, rate, &o, &s), 0);
	cr_assert_eq(writebehind_wait_open(s, 5000), 0, "%s",
	             writebehind_error(s));
	write_all(s, x, frames, ch);
	struct writebehind_result r;
	cr_assert_eq(writebehind_close(s, &r), 0);
	cr_assert_eq(writebehind_wait_closed(&r, 10000), 0, "%s", r.message);
	cr_assert_eq(r.frames, frames);
	cr_assert_gt(r.bytes, frames);
	cr_assert_str_empty(r.message);
	check_int_file(path, v, frames, ch, bits, rate);
	free(v);
	free(x);
}

TestSuite(writebehind, .init = setup, .fini = teardown, .timeout = 60);

Test(writebehind, wav_pcm16_round_trips_bit_exact)
{
	start_server(NULL);
	record_ints("a16.wav", 16, DISKFILE_ENC_PCM16, 2, 48000);
	finish();
}

Test(writebehind, wav_default_is_pcm24_and_round_trips_bit_exact)
{
	start_server(NULL);
	record_ints("a24.wav", 24, DISKFILE_ENC_DEFAULT, 1, 44100);
	char path[300];
	path_in(path, sizeof(path), "a24.wav");
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	cr_assert_eq(info.format & SF_FORMAT_SUBMASK, SF_FORMAT_PCM_24);
	sf_close(sf);
	finish();
}

Test(writebehind, flac_and_aiff_round_trip_bit_exact)
{
	start_server(NULL);
	record_ints("b16.flac", 16, DISKFILE_ENC_PCM16, 2, 48000);
	record_ints("b24.flac", 24, DISKFILE_ENC_PCM24, 1, 48000);
	record_ints("c16.aiff", 16, DISKFILE_ENC_PCM16, 2, 48000);
	finish();
}

Test(writebehind, float_wav_is_identical_to_the_frames_written)
{
	start_server(NULL);
	char path[300];
	path_in(path, sizeof(path), "f.wav");
	size_t frames = 30011;
	float *x = malloc(frames * 2 * sizeof(float));
	for (size_t i = 0; i < frames * 2; i++)
		x[i] = (float)sin((double)i * 0.001) *
		       1.5f; /* float keeps > 1.0 too */
	struct writebehind_opts o = {.encoding = DISKFILE_ENC_FLOAT};
	struct writebehind *s;
	cr_assert_eq(writebehind_open(&srv, path, 2, 48000, &o, &s), 0);
	write_all(s, x, frames, 2);
	struct writebehind_result r;
	cr_assert_eq(writebehind_close(s, &r), 0);
	cr_assert_eq(writebehind_wait_closed(&r, 10000), 0, "%s", r.message);
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	cr_assert_eq(info.frames, (sf_count_t)frames);
	float *y = malloc(frames * 2 * sizeof(float));
	cr_assert_eq(sf_readf_float(sf, y, (sf_count_t)frames),
	             (sf_count_t)frames);
	cr_assert_eq(memcmp(x, y, frames * 2 * sizeof(float)), 0);
	sf_close(sf);
	free(x);
	free(y);
	finish();
}

Test(writebehind, writes_ogg_vorbis_and_ogg_opus)
{
	start_server(NULL);
	const char *names[] = {"v.ogg", "o.opus"};
	for (int k = 0; k < 2; k++) {
		char path[300];
		path_in(path, sizeof(path), names[k]);
		size_t frames = 48000;
		float *x = malloc(frames * 2 * sizeof(float));
		for (size_t i = 0; i < frames; i++)
			x[2 * i] = x[2 * i + 1] =
			        0.3f * (float)sin(2 * 3.14159265 * 440.0 *
			                          (double)i / 48000);
		struct writebehind *s;
		cr_assert_eq(writebehind_open(&srv, path, 2, 48000, NULL, &s),
		             0);
		write_all(s, x, frames, 2);
		struct writebehind_result r;
		cr_assert_eq(writebehind_close(s, &r), 0);
		cr_assert_eq(writebehind_wait_closed(&r, 10000), 0, "%s: %s",
		             names[k], r.message);
		SF_INFO info = {0};
		SNDFILE *sf = sf_open(path, SFM_READ, &info);
		cr_assert_not_null(sf, "%s", sf_strerror(NULL));
		cr_assert_eq(info.channels, 2);
		cr_assert(llabs((long long)info.frames - (long long)frames) <
		                  4800,
		          "%s: %lld frames", names[k], (long long)info.frames);
		sf_close(sf);
		free(x);
	}
	finish();
}

Test(writebehind, pool_exhaustion_drops_and_counts_frames)
{
	/* Every write takes 100 ms; the pool holds 4 blocks of 256 frames
	 * (3 blocks of buffer and the one being filled). */
	struct diskfaults faults = {.stall_ms = 100, .stall_every = 1};
	start_server(&faults);
	char path[300];
	path_in(path, sizeof(path), "x.wav");
	struct writebehind_opts o = {.block_frames = 256,
	                             .buffer_s = 3 * 256 / 48000.0};
	struct writebehind *s;
	cr_assert_eq(writebehind_open(&srv, path, 1, 48000, &o, &s), 0);
	float x[256] = {0};
	size_t accepted = 0;
	for (int i = 0; i < 40; i++)
		accepted += writebehind_write(s, x, 256);
	cr_assert_leq(accepted, 5 * 256);
	cr_assert_eq(writebehind_dropped_frames(s), 40 * 256 - accepted);
	cr_assert_gt(writebehind_drop_events(s), 0);
	struct writebehind_result r;
	cr_assert_eq(writebehind_close(s, &r), 0);
	cr_assert_eq(writebehind_wait_closed(&r, 10000), 0);
	cr_assert_eq(r.frames, accepted,
	             "everything accepted reaches the file");
	finish();
}

Test(writebehind, injected_write_error_is_reported)
{
	struct diskfaults faults = {.error_after = 3};
	start_server(&faults);
	char path[300];
	path_in(path, sizeof(path), "e.wav");
	struct writebehind_opts o = {.block_frames = 512};
	struct writebehind *s;
	cr_assert_eq(writebehind_open(&srv, path, 1, 48000, &o, &s), 0);
	float x[512] = {0};
	for (int i = 0; i < 10; i++) {
		writebehind_write(s, x, 512);
		sleep_ms(2);
	}
	for (int i = 0; i < 2000 && writebehind_status(s) == 0; i++)
		sleep_ms(1);
	cr_assert_eq(writebehind_status(s), -EIO);
	cr_assert(strstr(writebehind_error(s), "Input/output error") &&
	                  strstr(writebehind_error(s), path),
	          "%s", writebehind_error(s));
	cr_assert_eq(writebehind_write(s, x, 512), 0,
	             "after an error frames are dropped");
	struct writebehind_result r;
	cr_assert_eq(writebehind_close(s, &r), 0);
	cr_assert_eq(writebehind_wait_closed(&r, 10000), -EIO);
	cr_assert(strstr(r.message, "Input/output error"), "%s", r.message);
	cr_assert_eq(r.frames, 2 * 512,
	             "the two blocks before the fault were written");
	cr_assert(strstr(r.message, "write failed after 1024 frames"), "%s",
	          r.message);
	cr_assert_eq(writebehind_result_done(&r), 1);
	cr_assert_eq(r.frames + r.dropped, 11 * 512,
	             "every frame offered is written or counted as dropped");
	/* What was written stays a valid file of exactly those frames. */
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	cr_assert_not_null(sf, "%s", sf_strerror(NULL));
	cr_assert_eq(info.frames, 2 * 512);
	sf_close(sf);
	finish();
}

Test(writebehind, full_device_is_reported)
{
	start_server(NULL);
	char path[300];
	path_in(path, sizeof(path), "full.wav");
	cr_assert_eq(symlink("/dev/full", path), 0);
	struct writebehind *s;
	cr_assert_eq(writebehind_open(&srv, path, 2, 48000, NULL, &s), 0);
	float x[2048] = {0};
	writebehind_write(s, x, 1024);
	writebehind_flush(s);
	struct writebehind_result r;
	cr_assert_eq(writebehind_close(s, &r), 0);
	int rc = writebehind_wait_closed(&r, 10000);
	cr_assert_lt(rc, 0, "writing to /dev/full must fail");
	cr_assert_neq(rc, -ETIMEDOUT);
	cr_assert(strstr(r.message, path) != NULL, "%s", r.message);
	finish();
}

Test(writebehind, missing_directory_and_bad_extension_are_reported)
{
	start_server(NULL);
	char path[300];
	path_in(path, sizeof(path), "no/such/dir/a.wav");
	struct writebehind *s;
	cr_assert_eq(writebehind_open(&srv, path, 2, 48000, NULL, &s), 0);
	cr_assert_eq(writebehind_wait_open(s, 5000), -ENOENT, "%s",
	             writebehind_error(s));
	cr_assert(strstr(writebehind_error(s), path) != NULL);
	cr_assert_eq(writebehind_close(s, NULL), 0);
	path_in(path, sizeof(path), "a.xyz");
	cr_assert_eq(writebehind_open(&srv, path, 2, 48000, NULL, &s), 0);
	cr_assert_eq(writebehind_wait_open(s, 5000), -EINVAL);
	cr_assert(strstr(writebehind_error(s), "unknown extension"), "%s",
	          writebehind_error(s));
	cr_assert_eq(writebehind_close(s, NULL), 0);
	finish();
}

struct producer {
	struct writebehind *s;
	const float *x;
	size_t frames;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	for (size_t done = 0; done < p->frames; done += 128) {
		rthook_rt_enter();
		writebehind_write(p->s, p->x + done, 128);
		if (done % 4096 == 0)
			writebehind_flush(p->s);
		rthook_rt_leave();
		sleep_ms(1);
	}
	return NULL;
}

Test(writebehind, producer_is_real_time_safe)
{
	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	start_server(NULL);
	char path[300];
	path_in(path, sizeof(path), "rt.wav");
	struct writebehind *s;
	struct writebehind_opts o = {.encoding = DISKFILE_ENC_PCM16,
	                             .block_frames = 512};
	cr_assert_eq(writebehind_open(&srv, path, 1, 48000, &o, &s), 0);
	cr_assert_eq(writebehind_wait_open(s, 5000), 0);
	size_t frames = 128 * 200;
	float *x = malloc(frames * sizeof(float));
	for (size_t i = 0; i < frames; i++)
		x[i] = (float)((int)(i % 2000) - 1000) / 32768.0f;
	struct producer p = {.s = s, .x = x, .frames = frames};
	RTCHECK_RESET();
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, producer_main, &p), 0);
	pthread_join(t, NULL);
	RTCHECK_ASSERT_ZERO();
	cr_assert_eq(writebehind_dropped_frames(s), 0);
	struct writebehind_result r;
	cr_assert_eq(writebehind_close(s, &r), 0);
	cr_assert_eq(writebehind_wait_closed(&r, 10000), 0);
	cr_assert_eq(r.frames, frames);
	free(x);
	finish();
}

/*
 * Child: record `frames` frames of a known 16-bit ramp, optionally flush,
 * wait until the disk thread has written them, tell the parent, then hang
 * until killed.
 */
static void child_record(const char *path, size_t frames, int flush, int fd)
{
	struct diskserver cs;
	struct diskfaults none = {0};
	struct diskserver_opts o = {.faults = &none};
	if (diskserver_start(&cs, &o) < 0)
		_exit(2);
	struct writebehind_opts wo = {.encoding = DISKFILE_ENC_PCM16,
	                              .block_frames = 1000};
	struct writebehind *s;
	if (writebehind_open(&cs, path, 1, 48000, &wo, &s) < 0)
		_exit(3);
	float x[1000];
	for (size_t done = 0; done < frames; done += 1000) {
		for (int k = 0; k < 1000; k++)
			x[k] = (float)((int)((done + (size_t)k) % 50000) -
			               25000) /
			       32768.0f;
		while (writebehind_write(s, x, 1000) < 1000)
			sleep_ms(1);
	}
	if (flush)
		writebehind_flush(s);
	while (writebehind_frames_written(s) < frames)
		sleep_ms(1);
	if (flush)
		/* the flush request right behind the last write */
		sleep_ms(100);
	(void)!write(fd, "k", 1);
	for (;;)
		pause();
}

static void killed_recording_leaves_playable_wav(int flush)
{
	char path[300];
	path_in(path, sizeof(path),
	        flush ? "killed_flush.wav" : "killed_auto.wav");
	size_t frames = 48000 * 2;
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		child_record(path, frames, flush, fds[1]);
	}
	close(fds[1]);
	char c;
	cr_assert_eq(read(fds[0], &c, 1), 1, "child failed");
	close(fds[0]);
	/* Without a flush the header catches up within about a second. */
	if (!flush)
		sleep_ms(1300);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	cr_assert_not_null(sf, "%s", sf_strerror(NULL));
	cr_assert_eq(info.frames, (sf_count_t)frames, "header says %lld frames",
	             (long long)info.frames);
	short *y = malloc(frames * sizeof(short));
	cr_assert_eq(sf_readf_short(sf, y, (sf_count_t)frames),
	             (sf_count_t)frames);
	for (size_t i = 0; i < frames; i++)
		cr_assert_eq(y[i], (short)((int)(i % 50000) - 25000));
	free(y);
	sf_close(sf);
}

Test(writebehind, killed_process_leaves_wav_playable_up_to_the_last_flush)
{
	killed_recording_leaves_playable_wav(1);
	finish();
}

Test(writebehind,
     killed_process_leaves_wav_playable_without_flush_after_a_second)
{
	killed_recording_leaves_playable_wav(0);
	finish();
}
