/*
 * bench_engine: audio callback cost per mixed disk source
 *
 * Writes a stereo 16-bit WAV of noise to a temporary directory, opens N
 * read-ahead disk sources on it (each its own stream, looping), links
 * them to the mixer and runs the mixer callback through the virtual clock
 * in manual mode, paced at `--speed` times real time so that the disk
 * server keeps the read-ahead full as it would in production. Each
 * callback is timed with CLOCK_MONOTONIC; the table gives median, p99
 * and max per N, and the largest N whose p99 stays within half the
 * period (the budget a callback can use without risking the deadline).
 *
 * usage: bench_engine [--period N] [--periods K] [--speed X] [--max N]
 *
 * Context: one control thread acting as audio thread, plus the disk
 * server thread.
 */
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/audio/disksource.h"
#include "bridge/audio/mixer.h"
#include "bridge/audio/vclock.h"

#define CH   2
#define RATE 48000

struct bench {
	unsigned period;
	unsigned periods;
	double speed;
	unsigned max_sources;
	char dir[64];
	char path[128];
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int write_noise(const char *path, long frames)
{
	SF_INFO info = {.samplerate = RATE,
	                .channels = CH,
	                .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	if (!sf) {
		fprintf(stderr, "bench_engine: %s: %s\n", path,
		        sf_strerror(NULL));
		return -EIO;
	}
	short buf[1024 * CH];
	uint32_t x = 12345;
	for (long i = 0; i < frames; i += 1024) {
		long n = frames - i < 1024 ? frames - i : 1024;
		for (long k = 0; k < n * CH; k++) {
			x = x * 1664525u + 1013904223u;
			buf[k] = (short)((int)(x >> 16) - 32768) / 8;
		}
		sf_writef_short(sf, buf, n);
	}
	sf_close(sf);
	return 0;
}

struct result {
	double median, p99, max;
	uint64_t underruns;
};

static int run_one(const struct bench *b, struct diskserver *srv, unsigned n,
                   struct result *res)
{
	static struct mixer m;
	struct mixer_config mc;
	struct vclock v;
	struct devcfg dc;
	int rc;

	struct disksource *srcs = calloc(n, sizeof(*srcs));
	double *us = calloc(b->periods, sizeof(double));
	if (!srcs || !us) {
		free(srcs);
		free(us);
		return -ENOMEM;
	}
	mixer_config_default(&mc);
	mc.max_sources = n;
	mc.max_block = b->period;
	/* Every link is a command: room for all of them at once. */
	while (mc.cmd_capacity < n + 8)
		mc.cmd_capacity *= 2;
	rc = mixer_init(&m, &mc);
	if (rc < 0)
		goto out_free;
	struct disksource_opts so = {
	        .channels = CH, .rate = RATE, .prefetch_s = 0.5, .loop = true};
	unsigned opened = 0;
	for (; opened < n; opened++) {
		rc = disksource_open(&srcs[opened], srv, b->path, &so);
		if (rc < 0)
			goto out_sources;
	}
	for (unsigned i = 0; i < n; i++) {
		rc = disksource_wait_ready(&srcs[i], 30000);
		if (rc < 0) {
			fprintf(stderr, "bench_engine: %s\n",
			        disksource_error(&srcs[i]));
			goto out_sources;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		rc = mixer_link(&m, &srcs[i].src, 1.0f / (float)n);
		if (rc < 0)
			goto out_sources;
	}
	devcfg_default(&dc);
	dc.period = b->period;
	dc.callback = mixer_process;
	dc.user = &m;
	dc.mode = VCLOCK_MANUAL;
	rc = vclock_open(&v, &dc);
	if (rc < 0)
		goto out_sources;
	vclock_start(&v);
	vclock_step(&v, 1); /* apply the links */
	uint64_t under0 = 0;
	for (unsigned i = 0; i < n; i++)
		under0 += disksource_underruns(&srcs[i]);
	int64_t period_ns =
	        (int64_t)((double)b->period * 1e9 / RATE / b->speed);
	int64_t t0 = now_ns();
	for (unsigned k = 0; k < b->periods; k++) {
		int64_t due = t0 + (int64_t)k * period_ns;
		struct timespec ts = {.tv_sec = due / 1000000000,
		                      .tv_nsec = due % 1000000000};
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		int64_t a = now_ns();
		vclock_step(&v, 1);
		us[k] = (double)(now_ns() - a) / 1000.0;
		if ((k & 63) == 0)
			mixer_poll(&m, NULL);
	}
	vclock_close(&v);
	qsort(us, b->periods, sizeof(double), cmp_double);
	res->median = us[b->periods / 2];
	res->p99 = us[(size_t)(b->periods * 0.99)];
	res->max = us[b->periods - 1];
	res->underruns = 0;
	for (unsigned i = 0; i < n; i++)
		res->underruns += disksource_underruns(&srcs[i]);
	res->underruns -= under0;
	rc = 0;
out_sources:
	mixer_clear(&m); /* releases (closes) the linked sources */
	for (unsigned i = 0; i < opened; i++)
		disksource_close(&srcs[i]);
out_free:
	free(srcs);
	free(us);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_engine [--period N] [--periods K] "
	                "[--speed X] [--max N]\n");
}

int main(int argc, char **argv)
{
	struct bench b = {.period = 128,
	                  .periods = 1500,
	                  .speed = 2.0,
	                  .max_sources = 64};
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--period") && v)
			b.period = (unsigned)atoi(v);
		else if (!strcmp(argv[i], "--periods") && v)
			b.periods = (unsigned)atoi(v);
		else if (!strcmp(argv[i], "--speed") && v)
			b.speed = atof(v);
		else if (!strcmp(argv[i], "--max") && v)
			b.max_sources = (unsigned)atoi(v);
		else {
			usage();
			return 2;
		}
		i++;
	}
	if (b.period < DEVCFG_PERIOD_MIN || b.period > DEVCFG_PERIOD_MAX ||
	    b.periods < 100 || !(b.speed > 0) || b.max_sources < 1 ||
	    b.max_sources > 1024) {
		usage();
		return 2;
	}
	snprintf(b.dir, sizeof(b.dir), "/tmp/bench_engine_XXXXXX");
	if (!mkdtemp(b.dir)) {
		perror("bench_engine: mkdtemp");
		return 1;
	}
	snprintf(b.path, sizeof(b.path), "%s/noise.wav", b.dir);
	int rc = write_noise(b.path, 5 * RATE);
	struct diskserver srv;
	struct diskserver_opts so = {0};
	if (rc == 0) {
		rc = diskserver_start(&srv, &so);
		if (rc < 0)
			fprintf(stderr, "bench_engine: disk server: %s\n",
			        diskserver_error(&srv));
	}
	if (rc < 0) {
		remove(b.path);
		rmdir(b.dir);
		return 1;
	}

	double budget = 0.5 * b.period * 1e6 / RATE;
	printf("callback cost, %u frames stereo at %d Hz (period %.0f us, "
	       "budget 50%% = %.0f us),\n%u callbacks per row paced at %.1fx "
	       "real time, disk sources looping a 16-bit WAV\n\n",
	       b.period, RATE, 2 * budget, budget, b.periods, b.speed);
	printf("%8s %10s %10s %10s %14s %10s\n", "sources", "median us",
	       "p99 us", "max us", "median/src us", "underruns");
	unsigned best = 0;
	double slope = 0;
	for (unsigned n = 1; n <= b.max_sources; n *= 2) {
		struct result r = {0};
		rc = run_one(&b, &srv, n, &r);
		if (rc < 0) {
			fprintf(stderr, "bench_engine: %u sources: %s\n", n,
			        strerror(-rc));
			break;
		}
		printf("%8u %10.2f %10.2f %10.2f %14.3f %10llu\n", n, r.median,
		       r.p99, r.max, r.median / n,
		       (unsigned long long)r.underruns);
		fflush(stdout);
		if (r.p99 <= budget)
			best = n;
		slope = r.p99 / n;
	}
	printf("\nlargest measured source count with p99 within 50%% of the "
	       "period: %u\n",
	       best);
	if (slope > 0)
		printf("p99 per source at the largest count: %.3f us -> about "
		       "%.0f sources would fit the budget\n",
		       slope, floor(budget / slope));
	int forced = diskserver_stop(&srv);
	if (forced)
		fprintf(stderr, "bench_engine: %d streams closed by force\n",
		        forced);
	remove(b.path);
	rmdir(b.dir);
	return rc < 0 ? 1 : 0;
}
