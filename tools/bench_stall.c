/*
 * bench_stall: what a stalling disk does to playback, with and without
 * read-ahead.
 *
 * For each stall length, two simulated audio callbacks run side by side,
 * each a thread woken every period (128 frames at 48 kHz) with
 * clock_nanosleep(TIMER_ABSTIME) on CLOCK_MONOTONIC:
 *   - "stream": reads from a read-ahead stream (0.5 s read-ahead, 1024-
 *     frame blocks) whose disk server sleeps before every K-th block
 *     request (the RTBRIDGE_FAULTS stall, set programmatically);
 *   - "naive": calls sf_readf_float inside the callback and sleeps the same
 *     stall before every K-th 1024-frame block it starts reading.
 * Underruns: for the stream, callbacks that had to fill in silence; for the
 * naive reader, callbacks that finished after the next period had begun
 * (a device would have played silence), with the number of periods lost.
 * The test file is a 20 s stereo WAV generated in a temporary directory.
 *
 *   bench_stall [seconds-per-case (default 4)]
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/disk/readahead.h"

#define RATE        48000
#define PERIOD      128
#define BLOCK       1024
#define PREFETCH_S  0.5
#define STALL_EVERY 64 /* block requests between stalls: 1.37 s of audio */

struct player {
	int naive;
	struct readahead *ra;
	SNDFILE *sf;
	struct diskfaults faults;
	long periods;
	uint64_t frames_read;
	uint64_t late;   /* naive: callbacks that overran their period */
	uint64_t missed; /* naive: periods lost to those overruns */
	int64_t *dur;    /* callback durations, ns */
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
	struct timespec ts = {.tv_sec = t / 1000000000LL,
	                      .tv_nsec = t % 1000000000LL};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static void callback(struct player *p, float *buf)
{
	if (!p->naive) {
		readahead_read(p->ra, buf, PERIOD);
		return;
	}
	/* The naive reader: file I/O right here, stalls included. */
	if (p->frames_read % BLOCK == 0) {
		int fail;
		uint32_t ms = diskfaults_for(&p->faults,
		                             p->frames_read / BLOCK + 1, &fail);
		if (ms)
			sleep_until(now_ns() + (int64_t)ms * 1000000LL);
	}
	sf_count_t n = sf_readf_float(p->sf, buf, PERIOD);
	if (n < PERIOD)
		memset(buf + n * 2, 0,
		       (size_t)(PERIOD - n) * 2 * sizeof(float));
	p->frames_read += PERIOD;
}

static void *player_main(void *arg)
{
	struct player *p = arg;
	float buf[PERIOD * 2];
	const int64_t period_ns = (int64_t)PERIOD * 1000000000LL / RATE;
	int64_t next = now_ns();
	for (long i = 0; i < p->periods; i++) {
		next += period_ns;
		int64_t t0 = now_ns();
		callback(p, buf);
		int64_t t1 = now_ns();
		p->dur[i] = t1 - t0;
		if (t1 > next) {
			/* The device reached the end of this period before the
			 * callback delivered it. */
			p->late++;
			p->missed += (uint64_t)((t1 - next) / period_ns) + 1;
			next = t1;
		}
		sleep_until(next);
	}
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double median_us(int64_t *v, long n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp64);
	return (double)v[n / 2] / 1000.0;
}

static int make_wav(const char *path, double seconds)
{
	SF_INFO info = {.samplerate = RATE,
	                .channels = 2,
	                .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	if (!sf) {
		fprintf(stderr, "bench_stall: %s: %s\n", path,
		        sf_strerror(NULL));
		return -1;
	}
	float buf[2 * 4800];
	long total = (long)(seconds * RATE);
	for (long i = 0; i < total; i += 4800) {
		for (int k = 0; k < 4800; k++) {
			double t = (double)(i + k) / RATE;
			buf[2 * k] = (float)(0.3 * sin(2 * 3.14159265358979 *
			                               440.0 * t));
			buf[2 * k + 1] =
			        (float)(0.3 *
			                sin(2 * 3.14159265358979 * 660.0 * t));
		}
		sf_writef_float(sf, buf, 4800);
	}
	sf_close(sf);
	return 0;
}

struct result {
	uint64_t stream_underruns, stream_underrun_frames, stream_late;
	uint64_t naive_late, naive_missed;
	uint64_t stalls;
	double stream_med_us, naive_med_us;
};

static int run_case(const char *path, unsigned stall_ms, long periods,
                    struct result *r)
{
	struct diskfaults faults = {.stall_ms = stall_ms,
	                            .stall_every = STALL_EVERY};
	struct diskserver_opts so = {.faults = &faults};
	struct diskserver srv;
	int rc = diskserver_start(&srv, &so);
	if (rc < 0) {
		fprintf(stderr, "bench_stall: %s\n", diskserver_error(&srv));
		return rc;
	}
	struct readahead_opts ro = {.channels = 2,
	                            .rate = RATE,
	                            .prefetch_s = PREFETCH_S,
	                            .block_frames = BLOCK};
	struct readahead *ra;
	rc = readahead_open(&srv, path, &ro, &ra);
	if (rc < 0)
		goto out_srv;
	for (int i = 0; i < 5000 && readahead_poll(ra) < READAHEAD_STREAMING;
	     i++)
		sleep_until(now_ns() + 1000000);
	if (readahead_poll(ra) != READAHEAD_STREAMING) {
		fprintf(stderr, "bench_stall: %s: %s\n", path,
		        readahead_error(ra));
		rc = -EIO;
		goto out_ra;
	}
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	if (!sf) {
		rc = -EIO;
		goto out_ra;
	}
	struct player ps = {.naive = 0, .ra = ra, .periods = periods};
	struct player pn = {
	        .naive = 1, .sf = sf, .faults = faults, .periods = periods};
	ps.dur = calloc((size_t)periods, sizeof(int64_t));
	pn.dur = calloc((size_t)periods, sizeof(int64_t));
	pthread_t ts, tn;
	pthread_create(&ts, NULL, player_main, &ps);
	pthread_create(&tn, NULL, player_main, &pn);
	pthread_join(ts, NULL);
	pthread_join(tn, NULL);
	r->stream_underruns = readahead_underruns(ra);
	r->stream_underrun_frames = readahead_underrun_frames(ra);
	r->stream_late = ps.late;
	r->naive_late = pn.late;
	r->naive_missed = pn.missed;
	r->stream_med_us = median_us(ps.dur, periods);
	r->naive_med_us = median_us(pn.dur, periods);
	free(ps.dur);
	free(pn.dur);
	sf_close(sf);
	rc = 0;
out_ra:
	readahead_close(ra);
out_srv:
	r->stalls = atomic_load(&srv.stalls);
	diskserver_stop(&srv);
	return rc;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 4.0;
	if (!(seconds >= 0.5 && seconds <= 20)) {
		fprintf(stderr,
		        "usage: bench_stall [seconds-per-case, 0.5..20]\n");
		return 2;
	}
	char dir[] = "/tmp/bench_stall_XXXXXX";
	if (!mkdtemp(dir)) {
		perror("bench_stall: mkdtemp");
		return 1;
	}
	char path[64];
	snprintf(path, sizeof(path), "%s/tone.wav", dir);
	if (make_wav(path, 20.0) < 0)
		return 1;
	const unsigned stalls[] = {10, 50, 200, 400, 600, 1000};
	long periods = (long)(seconds * RATE / PERIOD);
	printf("period %d frames (%.2f ms) at %d Hz; read-ahead %.2f s in "
	       "%d-frame blocks;\n"
	       "a stall on every %d-th block request (%.2f s of audio); %.1f s "
	       "played per case\n\n",
	       PERIOD, PERIOD * 1000.0 / RATE, RATE, PREFETCH_S, BLOCK,
	       STALL_EVERY, (double)STALL_EVERY * BLOCK / RATE, seconds);
	printf("%8s | %6s | %16s %15s %9s | %16s %13s %9s\n", "stall ms",
	       "stalls", "stream underruns", "silence frames", "median us",
	       "naive underruns", "lost periods", "median us");
	int status = 0;
	for (size_t i = 0; i < sizeof(stalls) / sizeof(stalls[0]); i++) {
		struct result r = {0};
		if (run_case(path, stalls[i], periods, &r) < 0) {
			status = 1;
			break;
		}
		printf("%8u | %6llu | %16llu %15llu %9.1f | %16llu %13llu "
		       "%9.1f\n",
		       stalls[i], (unsigned long long)r.stalls,
		       (unsigned long long)r.stream_underruns,
		       (unsigned long long)r.stream_underrun_frames,
		       r.stream_med_us, (unsigned long long)r.naive_late,
		       (unsigned long long)r.naive_missed, r.naive_med_us);
		fflush(stdout);
		if (r.stream_late)
			printf("         (stream callback overran its period "
			       "%llu times: machine load)\n",
			       (unsigned long long)r.stream_late);
	}
	printf("\nexpected: no stream underrun for stalls below %.0f ms "
	       "(read-ahead minus one block);\n"
	       "the naive reader underruns on every stall longer than one "
	       "period.\n",
	       (PREFETCH_S - (double)BLOCK / RATE) * 1000.0);
	unlink(path);
	rmdir(dir);
	return status;
}
