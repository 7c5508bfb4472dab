/*
 * gensignal: write a seeded test signal (log sweep plus noise) to a WAV file
 *
 * The test and demo signal of rtbridge: each channel carries a logarithmic
 * sine sweep plus white noise from its own seeded stream (channel 0 sweeps
 * up, channel 1 down, and so on alternately), so that a recording can be
 * aligned to it without ambiguity and a swapped channel shows; the seed
 * also picks where the sweep starts, so files of different seeds differ
 * in both parts. The same
 * options always give the same bytes: the docker loopback test regenerates
 * the source inside a container and compares recordings with it sample by
 * sample. Control thread only; one libsndfile handle, written in blocks.
 *
 *   gensignal [--seconds S] [--seed N] [--rate HZ] [--channels N] FILE
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

#include "tools/relay/prng.h"

#define GENSIGNAL_MAX_CHANNELS        8
#define GENSIGNAL_BLOCK_FRAMES        4096
#define GENSIGNAL_SWEEP_LOW_HZ        50.0
#define GENSIGNAL_SWEEP_HIGH_FRACTION 0.33 /* of the rate: 16 kHz at 48 kHz */
#define GENSIGNAL_SWEEP_GAIN          0.45
#define GENSIGNAL_NOISE_GAIN          0.15
#define GENSIGNAL_PI                  3.14159265358979323846

struct gensignal_opts {
	double seconds;
	uint64_t seed;
	int rate;
	int channels;
	const char *path;
};

static void gensignal_usage(FILE *f)
{
	fprintf(f,
	        "usage: gensignal [--seconds S] [--seed N] [--rate HZ] "
	        "[--channels N] FILE\n"
	        "  writes a 16-bit WAV: log sweep + white noise per channel, "
	        "seeded\n"
	        "  defaults: --seconds 5 --seed 1 --rate 48000 --channels 2\n");
}

/* Parse a whole decimal number in [lo, hi]; Return: 0 or -EINVAL. */
static int gensignal_parse_u64(const char *s, uint64_t lo, uint64_t hi,
                               uint64_t *out)
{
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Return: 0, 1 when --help was asked, or -EINVAL (message printed). */
static int gensignal_parse(int argc, char **argv, struct gensignal_opts *o)
{
	o->seconds = 5.0;
	o->seed = 1;
	o->rate = 48000;
	o->channels = 2;
	o->path = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n;
		char *end;

		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 1;
		if (!strcmp(a, "--seconds")) {
			if (!v)
				goto missing;
			errno = 0;
			o->seconds = strtod(v, &end);
			if (errno || *end || end == v ||
			    !(o->seconds > 0.0 && o->seconds <= 3600.0)) {
				fprintf(stderr,
				        "gensignal: --seconds '%s': use a "
				        "number in (0, 3600]\n",
				        v);
				return -EINVAL;
			}
			i++;
		} else if (!strcmp(a, "--seed")) {
			if (gensignal_parse_u64(v, 0, UINT64_MAX, &o->seed) <
			    0) {
				fprintf(stderr,
				        "gensignal: --seed '%s': use a whole "
				        "number\n",
				        v ? v : "");
				return -EINVAL;
			}
			i++;
		} else if (!strcmp(a, "--rate")) {
			if (gensignal_parse_u64(v, 8000, 192000, &n) < 0) {
				fprintf(stderr,
				        "gensignal: --rate '%s': use "
				        "8000..192000\n",
				        v ? v : "");
				return -EINVAL;
			}
			o->rate = (int)n;
			i++;
		} else if (!strcmp(a, "--channels")) {
			if (gensignal_parse_u64(v, 1, GENSIGNAL_MAX_CHANNELS,
			                        &n) < 0) {
				fprintf(stderr,
				        "gensignal: --channels '%s': use "
				        "1..%d\n",
				        v ? v : "", GENSIGNAL_MAX_CHANNELS);
				return -EINVAL;
			}
			o->channels = (int)n;
			i++;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "gensignal: unknown option '%s'\n", a);
			return -EINVAL;
		} else if (o->path) {
			fprintf(stderr,
			        "gensignal: one FILE only ('%s' and '%s')\n",
			        o->path, a);
			return -EINVAL;
		} else {
			o->path = a;
		}
		continue;
	missing:
		fprintf(stderr, "gensignal: %s needs a value\n", a);
		return -EINVAL;
	}
	if (!o->path) {
		fprintf(stderr, "gensignal: no output FILE\n");
		return -EINVAL;
	}
	return 0;
}

/*
 * Phase in radians of a log sweep from f0 to f1 Hz over span seconds, at t
 * seconds: the integral of 2*pi*f0*(f1/f0)^(t/span).
 */
static double gensignal_sweep_phase(double f0, double f1, double span, double t)
{
	double k = log(f1 / f0);

	return 2.0 * GENSIGNAL_PI * f0 * span / k * (exp(k * t / span) - 1.0);
}

static int16_t gensignal_quantize(double x)
{
	double s = floor(x * 32768.0 + 0.5);

	if (s > 32767.0)
		s = 32767.0;
	if (s < -32768.0)
		s = -32768.0;
	return (int16_t)s;
}

/* Return: 0, or -EIO with the message printed. */
static int gensignal_write(const struct gensignal_opts *o)
{
	static int16_t block[GENSIGNAL_BLOCK_FRAMES * GENSIGNAL_MAX_CHANNELS];
	struct prng noise[GENSIGNAL_MAX_CHANNELS];
	uint64_t seeder = o->seed;
	SF_INFO info = {
	        .samplerate = o->rate,
	        .channels = o->channels,
	        .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16,
	};
	int64_t frames = (int64_t)llround(o->seconds * o->rate);
	double f1 = GENSIGNAL_SWEEP_HIGH_FRACTION * o->rate;
	double span = (double)frames / o->rate;
	int ret = 0;

	/* The seed picks where in the sweep the file starts (the sweep wraps
	 * around once), so that files of different seeds do not correlate, and
	 * an independent noise stream per channel. */
	struct prng start;
	prng_init(&start, prng_splitmix64(&seeder));
	double offset = floor(prng_uniform(&start) * (double)frames) / o->rate;
	prng_clear(&start);
	for (int c = 0; c < o->channels; c++)
		prng_init(&noise[c], prng_splitmix64(&seeder));

	SNDFILE *sf = sf_open(o->path, SFM_WRITE, &info);
	if (!sf) {
		fprintf(stderr, "gensignal: %s: %s\n", o->path,
		        sf_strerror(NULL));
		return -EIO;
	}
	for (int64_t done = 0; done < frames;) {
		int64_t n = frames - done;

		if (n > GENSIGNAL_BLOCK_FRAMES)
			n = GENSIGNAL_BLOCK_FRAMES;
		for (int64_t i = 0; i < n; i++) {
			double t = fmod((double)(done + i) / o->rate + offset,
			                span);

			for (int c = 0; c < o->channels; c++) {
				/* Odd channels sweep down: run the sweep
				 * backwards in time. */
				double tc = (c & 1) ? span - t : t;
				double sweep = sin(gensignal_sweep_phase(
				        GENSIGNAL_SWEEP_LOW_HZ, f1, span, tc));
				double white =
				        2.0 * prng_uniform(&noise[c]) - 1.0;

				block[i * o->channels + c] = gensignal_quantize(
				        GENSIGNAL_SWEEP_GAIN * sweep +
				        GENSIGNAL_NOISE_GAIN * white);
			}
		}
		if (sf_writef_short(sf, block, n) != n) {
			fprintf(stderr, "gensignal: %s: %s\n", o->path,
			        sf_strerror(sf));
			ret = -EIO;
			break;
		}
		done += n;
	}
	for (int c = 0; c < o->channels; c++)
		prng_clear(&noise[c]);
	if (sf_close(sf) != 0 && ret == 0) {
		fprintf(stderr, "gensignal: %s: cannot finish the file\n",
		        o->path);
		ret = -EIO;
	}
	if (ret == 0)
		printf("gensignal: wrote %s: %lld frames, %d Hz, %d ch, seed "
		       "%llu\n",
		       o->path, (long long)frames, o->rate, o->channels,
		       (unsigned long long)o->seed);
	return ret;
}

int main(int argc, char **argv)
{
	struct gensignal_opts o;
	int r = gensignal_parse(argc, argv, &o);

	if (r == 1) {
		gensignal_usage(stdout);
		return 0;
	}
	if (r < 0) {
		gensignal_usage(stderr);
		return 2;
	}
	return gensignal_write(&o) < 0 ? 1 : 0;
}
