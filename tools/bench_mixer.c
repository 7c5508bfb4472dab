/*
 * bench_mixer: cost of the mixer callback per number of mixed sources
 *
 * Calls mixer_process directly (no device) with 128-frame stereo periods
 * at 48 kHz and N looping in-memory sources (distinct noise buffers;
 * stereo, or mono with the third argument 1, mixed into both channels), timing
 * each callback with CLOCK_MONOTONIC. Prints median and p99 per callback for N
 * = 1, 2, 4, ... (best of three rounds each) and then searches the largest N
 * whose p99 stays within 50 % of the period (2.67 ms).
 *
 *   bench_mixer [max_sources=4096] [callbacks=2000] [source_channels=2]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/audio/memsource.h"
#include "bridge/audio/mixer.h"
#include "tools/benchutil.h"

#define CH     2
#define PERIOD 128
#define RATE   48000
#define LOOP   4800 /* frames per source buffer: 100 ms */

struct result {
	double median_us, p99_us;
};

/* Mix n sources for `calls` callbacks (after a warm-up). */
static int bench(unsigned n, unsigned calls, const float *noise, unsigned sch,
                 struct result *res)
{
	struct mixer_config mc;
	struct mixer m;
	static float out[PERIOD * CH];
	mixer_config_default(&mc);
	mc.max_sources = n;
	mc.cmd_capacity = 2;
	while (mc.cmd_capacity < n)
		mc.cmd_capacity *= 2;
	if (mixer_init(&m, &mc) < 0)
		return -1;
	struct memsource *src = calloc(n, sizeof(*src));
	uint64_t *t = calloc(calls, sizeof(*t));
	if (!src || !t) {
		free(src);
		free(t);
		mixer_clear(&m);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		/* Each source starts at its own offset into a shared 1 s
		 * buffer. */
		memsource_init(&src[i],
		               noise + (size_t)(i * 997u % (RATE - LOOP)) * sch,
		               LOOP, sch, true);
		mixer_link(&m, &src[i].src, 1.0f / (float)n);
	}
	for (unsigned i = 0; i < 50; i++) {
		mixer_process(&m, NULL, out, PERIOD);
		mixer_poll(&m, NULL);
	}
	/* Three rounds, keep the best median and p99: on a shared machine a
	 * round can lose the CPU for milliseconds, which is not mixer cost. */
	res->median_us = res->p99_us = 1e30;
	for (int round = 0; round < 3; round++) {
		for (unsigned i = 0; i < calls; i++) {
			uint64_t t0 = benchutil_now_ns();
			mixer_process(&m, NULL, out, PERIOD);
			t[i] = benchutil_now_ns() - t0;
			mixer_poll(&m, NULL);
		}
		qsort(t, calls, sizeof(*t), benchutil_cmp_u64);
		double med = (double)t[calls / 2] / 1000.0;
		double p99 = (double)t[(size_t)(calls * 0.99)] / 1000.0;
		res->median_us = med < res->median_us ? med : res->median_us;
		res->p99_us = p99 < res->p99_us ? p99 : res->p99_us;
	}
	mixer_clear(&m);
	free(src);
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned max = argc > 1 ? (unsigned)atoi(argv[1]) : 4096;
	unsigned calls = argc > 2 ? (unsigned)atoi(argv[2]) : 2000;
	unsigned sch = argc > 3 ? (unsigned)atoi(argv[3]) : CH;
	const double period_us = PERIOD * 1e6 / RATE;
	const double budget_us = period_us / 2;
	float *noise = malloc(sizeof(float) * RATE * CH);
	if (!noise || calls < 100 || max < 1 || (sch != 1 && sch != CH)) {
		fprintf(stderr,
		        "bench_mixer: bad arguments or out of memory\n");
		return 1;
	}
	uint64_t x = 12345;
	for (size_t i = 0; i < (size_t)RATE * CH; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		noise[i] = (float)((int)(x >> 40) - (1 << 23)) /
		           (float)(1 << 23) * 0.5f;
	}

	printf("mixer callback, %d frames stereo at %d Hz from %s sources "
	       "(period %.0f us, budget 50%% = %.0f us)\n",
	       PERIOD, RATE, sch == 1 ? "mono" : "stereo", period_us,
	       budget_us);
	printf("%8s %12s %12s %14s\n", "sources", "median us", "p99 us",
	       "p99 us/source");
	unsigned ok = 0, over = 0;
	for (unsigned n = 1; n <= max; n *= 2) {
		struct result r;
		if (bench(n, calls, noise, sch, &r) < 0) {
			fprintf(stderr,
			        "bench_mixer: out of memory at %u sources\n",
			        n);
			return 1;
		}
		printf("%8u %12.2f %12.2f %14.3f\n", n, r.median_us, r.p99_us,
		       r.p99_us / n);
		if (r.p99_us <= budget_us) {
			ok = n;
		} else {
			over = n;
			break;
		}
	}
	if (over) {
		/* Bisect between the last N within budget and the first over
		 * it. */
		unsigned lo = ok, hi = over;
		while (hi - lo > (lo / 32 > 1 ? lo / 32 : 1)) {
			unsigned mid = lo + (hi - lo) / 2;
			struct result r;
			if (bench(mid, calls / 2, noise, sch, &r) < 0)
				break;
			if (r.p99_us <= budget_us)
				lo = mid;
			else
				hi = mid;
		}
		ok = lo;
		printf("largest source count with p99 within 50%% of the "
		       "period: about %u\n",
		       ok);
	} else {
		printf("all %u tried source counts fit within 50%% of the "
		       "period (try a larger max)\n",
		       ok);
	}
	free(noise);
	return 0;
}
