/*
 * Read-ahead stream against a running disk server: exact content for
 * random and prime-sized reads, across block boundaries, at the end and
 * after seeks; gapless looping; rate and channel conversion; errors; close
 * while requests are in flight; and a consumer that stays real-time safe
 * and never underruns while the disk stalls for less than the read-ahead.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/disk/readahead.h"
#include "bridge/rtcheck/rthook.h"
#include "tests/disk_fixture.h"
#include "tests/rtcheck_assert.h"

#if defined(__SANITIZE_THREAD__)
#define SLOW_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SLOW_SANITIZER 1
#endif
#endif
#ifndef SLOW_SANITIZER
#define SLOW_SANITIZER 0
#endif

/* Returns from the server's waits (its idle callback with 0). */
static _Atomic unsigned server_wakes;

static void count_wakes(void *arg, int idle)
{
	(void)arg;
	if (!idle)
		atomic_fetch_add_explicit(&server_wakes, 1,
		                          memory_order_relaxed);
}

/*
 * Read `frames` frames starting at the stream's position, checking each
 * against the pattern at (start + k) % modulo. Underruns are allowed (the
 * test reads faster than real time): only copied frames are checked, and
 * the read resumes where it stopped.
 */
static void read_check(struct readahead *s, uint64_t start, uint64_t frames,
                       uint64_t modulo, int ch, unsigned *seed, int primes)
{
	static const size_t prime[] = {1,   2,   3,    7,    13,   127,
	                               251, 509, 1021, 1031, 2039, 4093};
	float buf[4096 * 2];
	uint64_t got = 0;
	int idle = 0;
	while (got < frames) {
		size_t want;
		*seed = *seed * 1103515245u + 12345u;
		if (primes)
			want = prime[(*seed >> 16) %
			             (sizeof(prime) / sizeof(prime[0]))];
		else
			want = 1 + (*seed >> 16) % 4096;
		if (want > frames - got)
			want = (size_t)(frames - got);
		size_t n = readahead_read(s, buf, want);
		for (size_t k = 0; k < n; k++)
			for (int c = 0; c < ch; c++)
				cr_assert_eq(
				        buf[k * ch + c],
				        expect((start + got + k) % modulo, c),
				        "frame %llu ch %d",
				        (unsigned long long)(start + got + k),
				        c);
		for (size_t k = n * ch; k < want * ch; k++)
			cr_assert_eq(buf[k], 0.0f, "the rest must be silence");
		got += n;
		if (n == 0) {
			cr_assert_lt(++idle, 5000, "stream stuck at %llu",
			             (unsigned long long)(start + got));
			sleep_ms(1);
		} else {
			idle = 0;
		}
	}
}

TestSuite(readahead, .init = setup, .fini = teardown, .timeout = 60);

Test(readahead, delivers_exact_content_for_random_and_prime_reads_to_eof)
{
	start_server(NULL);
	char path[300];
	path_in(path, sizeof(path), "p.wav");
	const long len = 48000 * 3 + 17;
	write_pattern(path, len, 2, 48000);
	for (int primes = 0; primes < 2; primes++) {
		struct readahead_opts o = {
		        .channels = 2, .prefetch_s = 0.5, .block_frames = 1000};
		struct readahead *s;
		cr_assert_eq(readahead_open(&srv, path, &o, &s), 0);
		cr_assert_eq(wait_state(s, READAHEAD_STREAMING, 5000),
		             READAHEAD_STREAMING, "%s", readahead_error(s));
		cr_assert_eq(readahead_length(s), (uint64_t)len);
		cr_assert_eq(readahead_channels(s), 2);
		unsigned seed = 42 + (unsigned)primes;
		read_check(s, 0, (uint64_t)len, UINT64_MAX, 2, &seed, primes);
		float tail[64];
		cr_assert_eq(readahead_read(s, tail, 32), 0);
		cr_assert_eq(readahead_state(s), READAHEAD_EOF);
		cr_assert_eq(readahead_position(s), (uint64_t)len);
		for (int k = 0; k < 64; k++)
			cr_assert_eq(tail[k], 0.0f);
		cr_assert_eq(readahead_close(s), 0);
	}
	finish();
}

/* Frames of the looped test file: prime, so the seam falls inside
   blocks. */
#define LOOP_LEN 10007

/* A looping stream of a pattern file of LOOP_LEN frames in 512-frame
   blocks, 0.1 s ahead, streaming; `wake`: readahead_opts.wake. */
static struct readahead *open_loop(const char *name, int wake)
{
	char path[300];
	struct readahead *s;

	path_in(path, sizeof(path), name);
	write_pattern(path, LOOP_LEN, 2, 48000);
	struct readahead_opts o = {.channels = 2,
	                           .prefetch_s = 0.1,
	                           .block_frames = 512,
	                           .loop = 1,
	                           .wake = wake};
	cr_assert_eq(readahead_open(&srv, path, &o, &s), 0);
	cr_assert_eq(wait_state(s, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	return s;
}

Test(readahead, a_waking_consumer_lets_the_server_sleep_until_asked)
{
	static const struct diskfaults none = {0};
	struct diskserver_opts so = {
	        .faults = &none, .woken = true, .idle = count_wakes};
	cr_assert_eq(diskserver_start(&srv, &so), 0, "%s",
	             diskserver_error(&srv));
	srv_running = 1;
	const long len = LOOP_LEN;
	struct readahead *s = open_loop("w.wav", 1);
	/* Every block comes, each request waking the server. */
	unsigned seed = 5;
	read_check(s, 0, (uint64_t)len * 2 + 300, (uint64_t)len, 2, &seed, 1);
	/* Nothing asked for 300 ms (the read-ahead is full once the last
	   answers are in): the server does not wake. A polling server
	   would look a sixteenth of the 0.1 s slack at a time. */
	sleep_ms(100);
	unsigned w0 = atomic_load(&server_wakes);
	sleep_ms(300);
	cr_assert_eq(atomic_load(&server_wakes), w0,
	             "the server woke %u times with nothing to do",
	             atomic_load(&server_wakes) - w0);
	read_check(s, 300, 5000, (uint64_t)len, 2, &seed, 1);
	cr_assert_eq(readahead_close(s), 0);
	finish();
}

Test(readahead, seeks_forward_backward_in_and_out_of_range)
{
	start_server(NULL);
	char path[300];
	path_in(path, sizeof(path), "s.wav");
	const long len = 48000 * 4;
	write_pattern(path, len, 1, 48000);
	struct readahead_opts o = {
	        .channels = 1, .prefetch_s = 0.25, .block_frames = 997};
	struct readahead *s;
	cr_assert_eq(readahead_open(&srv, path, &o, &s), 0);
	cr_assert_eq(wait_state(s, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	unsigned seed = 7;
	read_check(s, 0, 5000, UINT64_MAX, 1, &seed, 1);

	/* In range, forward: stays streaming, no re-buffering needed. */
	cr_assert_eq(readahead_seek(s, 9000), 0);
	cr_assert_eq(readahead_state(s), READAHEAD_STREAMING);
	cr_assert_eq(readahead_position(s), 9000);
	read_check(s, 9000, 3000, UINT64_MAX, 1, &seed, 1);

	/* In range, backward within the block being played (997-frame blocks:
	 * frame 11967 is in the block starting at 11964). */
	cr_assert_eq(readahead_seek(s, 11965), 0);
	cr_assert_eq(readahead_state(s), READAHEAD_STREAMING);
	read_check(s, 11965, 2000, UINT64_MAX, 1, &seed, 1);

	/* Out of range, forward and backward. */
	cr_assert_eq(readahead_seek(s, 150001), 0);
	cr_assert_eq(wait_state(s, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	read_check(s, 150001, 4000, UINT64_MAX, 1, &seed, 0);
	cr_assert_eq(readahead_seek(s, 33), 0);
	cr_assert_eq(wait_state(s, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	read_check(s, 33, 4000, UINT64_MAX, 1, &seed, 0);

	/* Near the end, and past it. */
	cr_assert_eq(readahead_seek(s, (uint64_t)len - 100), 0);
	cr_assert_eq(wait_state(s, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	read_check(s, (uint64_t)len - 100, 100, UINT64_MAX, 1, &seed, 1);
	float x[8];
	cr_assert_eq(readahead_read(s, x, 8), 0);
	cr_assert_eq(readahead_state(s), READAHEAD_EOF);
	cr_assert_eq(readahead_seek(s, (uint64_t)len + 5000), 0);
	cr_assert_eq(readahead_poll(s), READAHEAD_EOF);
	cr_assert_eq(readahead_position(s), (uint64_t)len);
	cr_assert_eq(readahead_seek(s, 1234), 0);
	cr_assert_eq(wait_state(s, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	read_check(s, 1234, 3000, UINT64_MAX, 1, &seed, 1);
	cr_assert_eq(readahead_close(s), 0);
	finish();
}

Test(readahead, loops_gaplessly_with_a_sample_exact_seam)
{
	start_server(NULL);
	const long len = LOOP_LEN;
	struct readahead *s = open_loop("l.wav", 0);
	unsigned seed = 3;
	read_check(s, 0, (uint64_t)len * 3 + 500, (uint64_t)len, 2, &seed, 1);
	cr_assert_eq(readahead_state(s), READAHEAD_STREAMING);
	cr_assert_eq(readahead_position(s), 500);
	/* A seek in a looping stream wraps too. */
	cr_assert_eq(readahead_seek(s, 9990), 0);
	cr_assert_eq(wait_state(s, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	read_check(s, 9990, 100, (uint64_t)len, 2, &seed, 1);
	cr_assert_eq(readahead_close(s), 0);
	finish();
}

static void write_sine(const char *path, int rate, int channels, double hz,
                       double seconds)
{
	SF_INFO info = {.samplerate = rate,
	                .channels = channels,
	                .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	cr_assert_not_null(sf);
	long frames = (long)(rate * seconds);
	for (long i = 0; i < frames; i++) {
		float v[2];
		v[0] = (float)(0.5 * sin(2 * 3.14159265358979323846 * hz *
		                         (double)i / rate));
		v[1] = -v[0] * 0.5f;
		sf_writef_float(sf, v, 1);
	}
	sf_close(sf);
}

static float *read_all(struct readahead *s, size_t frames, int ch)
{
	float *all = calloc(frames * (size_t)ch, sizeof(float));
	size_t got = 0;
	for (int idle = 0; got < frames && idle < 5000;) {
		size_t n =
		        readahead_read(s, all + got * (size_t)ch,
		                       frames - got < 700 ? frames - got : 700);
		got += n;
		if (n == 0) {
			idle++;
			sleep_ms(1);
		}
	}
	cr_assert_eq(got, frames);
	return all;
}

Test(readahead, resamples_44100_to_48000_with_right_length_and_frequency)
{
	start_server(NULL);
	char path[300];
	path_in(path, sizeof(path), "sine.wav");
	write_sine(path, 44100, 1, 1000.0, 2.0);
	struct readahead_opts o = {
	        .channels = 1, .rate = 48000, .prefetch_s = 0.5};
	struct readahead *s;
	cr_assert_eq(readahead_open(&srv, path, &o, &s), 0);
	cr_assert_eq(wait_state(s, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING, "%s", readahead_error(s));
	cr_assert_eq(readahead_length(s), 96000);
	float *all = read_all(s, 96000, 1);
	float x;
	cr_assert_eq(readahead_read(s, &x, 1), 0);
	cr_assert_eq(readahead_state(s), READAHEAD_EOF);
	/* Frequency from upward zero crossings over the steady middle part:
	 * 1000 Hz means one crossing every 48 frames. */
	int first = -1, last = -1, count = 0;
	double rms = 0;
	for (int i = 4800; i < 91200; i++) {
		rms += (double)all[i] * all[i];
		if (all[i - 1] < 0 && all[i] >= 0) {
			double t = i - 1 + all[i - 1] / (all[i - 1] - all[i]);
			if (first < 0)
				first = (int)t;
			last = (int)t;
			count++;
		}
	}
	(void)last;
	double hz = 48000.0 * (count - 1) / (double)(last - first);
	cr_assert(fabs(hz - 1000.0) < 1.0, "frequency %.3f Hz", hz);
	rms = sqrt(rms / (91200 - 4800));
	cr_assert(fabs(rms - 0.5 / sqrt(2)) < 0.01, "rms %.4f", rms);
	free(all);
	cr_assert_eq(readahead_close(s), 0);
	finish();
}

Test(readahead, converts_mono_to_stereo_and_stereo_to_mono)
{
	start_server(NULL);
	char mono[300], stereo[300];
	path_in(mono, sizeof(mono), "m.wav");
	path_in(stereo, sizeof(stereo), "st.wav");
	write_pattern(mono, 3000, 1, 48000);
	write_pattern(stereo, 3000, 2, 48000);
	struct readahead_opts o2 = {.channels = 2};
	struct readahead_opts o1 = {.channels = 1};
	struct readahead_opts o0 = {.channels = 0};
	struct readahead *a, *b, *c;
	cr_assert_eq(readahead_open(&srv, mono, &o2, &a), 0);
	cr_assert_eq(readahead_open(&srv, stereo, &o1, &b), 0);
	cr_assert_eq(readahead_open(&srv, mono, &o0, &c), 0);
	cr_assert_eq(wait_state(a, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	cr_assert_eq(wait_state(b, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	cr_assert_eq(wait_state(c, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	cr_assert_eq(readahead_channels(c), 1, "channels 0 means the file's");
	float *fa = read_all(a, 3000, 2);
	float *fb = read_all(b, 3000, 1);
	for (int i = 0; i < 3000; i++) {
		cr_assert_eq(fa[2 * i], expect((uint64_t)i, 0));
		cr_assert_eq(fa[2 * i + 1], expect((uint64_t)i, 0));
		cr_assert_eq(fb[i], 0.5f * (expect((uint64_t)i, 0) +
		                            expect((uint64_t)i, 1)));
	}
	free(fa);
	free(fb);
	readahead_close(a);
	readahead_close(b);
	readahead_close(c);
	finish();
}

/* Compressed containers: FLAC is lossless (16-bit values come back exact
 * as k / 32768); Vorbis, Opus and MP3 are checked for length and level. */
Test(readahead, reads_flac_exactly_and_lossy_formats_with_their_length)
{
	start_server(NULL);
	struct {
		const char *name;
		int format;
	} f[] = {
	        {"x.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16},
	        {"x.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS},
	        {"x.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS},
	        {"x.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III},
	};
	const long len = 48000;
	short *pcm = malloc(sizeof(short) * (size_t)len);
	for (long i = 0; i < len; i++)
		pcm[i] = (short)lrint(8000.0 * sin(2 * 3.14159265358979 *
		                                   500.0 * (double)i / 48000) +
		                      (double)(i % 7));
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		char path[300];
		path_in(path, sizeof(path), f[k].name);
		SF_INFO info = {.samplerate = 48000,
		                .channels = 1,
		                .format = f[k].format};
		if (!sf_format_check(&info)) {
			cr_log_info(
			        "%s: this libsndfile cannot write it, skipped",
			        f[k].name);
			continue;
		}
		SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
		cr_assert_not_null(sf, "%s: %s", f[k].name, sf_strerror(NULL));
		cr_assert_eq(sf_writef_short(sf, pcm, len), len);
		sf_close(sf);
		struct readahead_opts o = {.channels = 1, .prefetch_s = 0.3};
		struct readahead *s;
		cr_assert_eq(readahead_open(&srv, path, &o, &s), 0);
		cr_assert_eq(wait_state(s, READAHEAD_STREAMING, 5000),
		             READAHEAD_STREAMING, "%s: %s", f[k].name,
		             readahead_error(s));
		uint64_t n = readahead_length(s);
		cr_assert(n > (uint64_t)len - 2400 && n < (uint64_t)len + 2400,
		          "%s: length %llu", f[k].name, (unsigned long long)n);
		float *all = read_all(s, (size_t)n, 1);
		if (k == 0) {
			cr_assert_eq(n, (uint64_t)len);
			for (long i = 0; i < len; i++)
				cr_assert_eq(all[i], (float)pcm[i] / 32768.0f,
				             "%s frame %ld", f[k].name, i);
		} else {
			double e = 0;
			for (uint64_t i = 0; i < n; i++)
				e += (double)all[i] * all[i];
			e = sqrt(e / (double)n);
			cr_assert(e > 0.1 && e < 0.25, "%s: rms %.3f",
			          f[k].name, e);
		}
		float x;
		cr_assert_eq(readahead_read(s, &x, 1), 0);
		cr_assert_eq(readahead_state(s), READAHEAD_EOF);
		free(all);
		cr_assert_eq(readahead_close(s), 0);
	}
	free(pcm);
	finish();
}

Test(readahead, reports_missing_and_non_audio_files)
{
	start_server(NULL);
	char missing[300], text[300];
	path_in(missing, sizeof(missing), "nope.wav");
	path_in(text, sizeof(text), "text.wav");
	FILE *f = fopen(text, "w");
	fputs("this is not a sound file, just some text long enough to have a "
	      "header\n",
	      f);
	fclose(f);
	struct readahead *a, *b;
	cr_assert_eq(readahead_open(&srv, missing, NULL, &a), 0);
	cr_assert_eq(readahead_open(&srv, text, NULL, &b), 0);
	cr_assert_eq(wait_state(a, READAHEAD_ERROR, 5000), READAHEAD_ERROR);
	cr_assert_eq(wait_state(b, READAHEAD_ERROR, 5000), READAHEAD_ERROR);
	cr_assert(strstr(readahead_error(a), missing) &&
	                  strstr(readahead_error(a), "No such file"),
	          "%s", readahead_error(a));
	cr_assert(strstr(readahead_error(b), text) &&
	                  strlen(readahead_error(b)) > strlen(text) + 5,
	          "%s", readahead_error(b));
	cr_assert_eq(atomic_load(&a->file.status), -ENOENT);
	cr_assert_eq(atomic_load(&b->file.status), -EINVAL);
	float x[4] = {1, 1, 1, 1};
	cr_assert_eq(readahead_read(b, x, 2), 0);
	cr_assert_eq(readahead_underruns(b), 0, "errors are not underruns");
	readahead_close(a);
	readahead_close(b);
	finish();
}

Test(readahead, reports_an_injected_read_error)
{
	struct diskfaults faults = {.error_after = 5};
	start_server(&faults);
	char path[300];
	path_in(path, sizeof(path), "e.wav");
	write_pattern(path, 48000, 1, 48000);
	struct readahead_opts o = {
	        .channels = 1, .prefetch_s = 0.2, .block_frames = 1024};
	struct readahead *s;
	cr_assert_eq(readahead_open(&srv, path, &o, &s), 0);
	cr_assert_eq(wait_state(s, READAHEAD_ERROR, 5000), READAHEAD_ERROR);
	cr_assert(strstr(readahead_error(s), "Input/output error") != NULL,
	          "%s", readahead_error(s));
	cr_assert(strstr(readahead_error(s), path) != NULL);
	cr_assert_eq(readahead_seek(s, 0), -EIO);
	readahead_close(s);
	finish();
}

Test(readahead, close_during_buffering_leaks_nothing)
{
	/* Slow disk: the closes arrive while reads are queued and one is
	 * being served. ASan (detect_leaks) checks that all is freed. */
	struct diskfaults faults = {.stall_ms = 10, .stall_every = 1};
	start_server(&faults);
	char path[300];
	path_in(path, sizeof(path), "c.wav");
	write_pattern(path, 48000 * 2, 2, 44100);
	struct readahead *s[6];
	for (int i = 0; i < 6; i++) {
		struct readahead_opts o = {.channels = 1 + i % 2,
		                           .loop = i % 3 == 0};
		cr_assert_eq(readahead_open(&srv, path, &o, &s[i]), 0);
	}
	sleep_ms(25);
	for (int i = 0; i < 6; i++) {
		readahead_poll(s[i]);
		cr_assert_eq(readahead_close(s[i]), 0);
	}
	cr_assert_eq(diskserver_stop(&srv), 0);
	srv_running = 0;
	finish();
}

struct consumer {
	struct readahead *s;
	long periods;
	size_t period;
	uint64_t copied;
	int bad;
};

/* A paced consumer: one period of frames, then sleep for a period (the
 * sleep is outside the real-time section). */
static void *consumer_main(void *arg)
{
	struct consumer *c = arg;
	float buf[256];
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long p = 0; p < c->periods; p++) {
		rthook_rt_enter();
		size_t n = readahead_read(c->s, buf, c->period);
		for (size_t k = 0; k < n; k++)
			if (buf[k] != expect(c->copied + k, 0))
				c->bad++;
		c->copied += n;
		rthook_rt_leave();
		next.tv_nsec += (long)(c->period * 1000000000ULL / 48000);
		if (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	return NULL;
}

Test(readahead,
     stall_shorter_than_read_ahead_causes_no_underrun_and_no_rt_violation)
{
	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	/* Read-ahead 0.5 s; every 32nd block request (0.68 s of audio) stalls
	 * 250 ms: the disk keeps up on average, each stall eats into the
	 * buffer. */
	struct diskfaults faults = {.stall_ms = 250, .stall_every = 32};
	start_server(&faults);
	char path[300];
	path_in(path, sizeof(path), "rt.wav");
	write_pattern(path, 48000 * 3, 1, 48000);
	struct readahead_opts o = {
	        .channels = 1, .prefetch_s = 0.5, .block_frames = 1024};
	struct readahead *s;
	cr_assert_eq(readahead_open(&srv, path, &o, &s), 0);
	cr_assert_eq(wait_state(s, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	struct consumer c = {
	        .s = s, .period = 256, .periods = SLOW_SANITIZER ? 250 : 375};
	RTCHECK_RESET();
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, consumer_main, &c), 0);
	pthread_join(t, NULL);
	RTCHECK_ASSERT_ZERO();
	cr_assert_eq(c.bad, 0);
	cr_assert_eq(readahead_underruns(s), 0, "%llu underruns (%llu frames)",
	             (unsigned long long)readahead_underruns(s),
	             (unsigned long long)readahead_underrun_frames(s));
	cr_assert_eq(c.copied, (uint64_t)c.periods * c.period);
	cr_assert_geq(atomic_load(&srv.stalls), 1, "the disk did stall");
	cr_assert_eq(readahead_close(s), 0);
	finish();
}

Test(readahead, stall_longer_than_read_ahead_is_counted_as_underrun)
{
	struct diskfaults faults = {.stall_ms = 400, .stall_every = 6};
	start_server(&faults);
	char path[300];
	path_in(path, sizeof(path), "u.wav");
	write_pattern(path, 48000 * 3, 1, 48000);
	struct readahead_opts o = {
	        .channels = 1, .prefetch_s = 0.1, .block_frames = 1024};
	struct readahead *s;
	cr_assert_eq(readahead_open(&srv, path, &o, &s), 0);
	cr_assert_eq(wait_state(s, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	struct consumer c = {.s = s, .period = 256, .periods = 300};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, consumer_main, &c), 0);
	pthread_join(t, NULL);
	cr_assert_eq(
	        c.bad, 0,
	        "an underrun delays the file, it never skips or garbles it");
	cr_assert_gt(readahead_underruns(s), 0);
	cr_assert_eq(c.copied + readahead_underrun_frames(s),
	             (uint64_t)c.periods * c.period);
	cr_assert_eq(readahead_close(s), 0);
	finish();
}
