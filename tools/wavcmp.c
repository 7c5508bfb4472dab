/*
 * wavcmp: compare a recording with the sound file that was sent
 *
 * The checker of the docker loopback test, run inside the runtime image so
 * that the host needs nothing but a container engine. Two verdicts:
 *
 *   wavcmp exact REF REC
 *     A lossless stream: the recording starts where its first packet
 *     started, so it must equal REF from some frame k to REF's end, sample
 *     for sample (16-bit, 24-bit and float recordings of the same values
 *     compare equal: both files are read as normalized doubles, which hold
 *     every 16- and 24-bit value exactly).
 *
 *   wavcmp similar REF REC [--tolerance FRAMES] [--min-corr C] [--max-lag
 * FRAMES] A lossy stream (Opus, concealed losses): the recording lasts as long
 *     as REF within FRAMES (default 20 ms) and, at the best lag within
 *     --max-lag (default 100 ms), correlates with REF by at least C (default
 *     0.5), which silence, noise or another signal do not.
 *
 * One verdict line on stdout; exit 0 when it holds, 1 when it does not, 2
 * for bad arguments or an unreadable file. Control thread only.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

/* Frames of the recording's start searched for in the source. */
#define WAVCMP_ANCHOR_FRAMES 480
/* Longest file read, in samples (all channels): 10 min of 48 kHz stereo. */
#define WAVCMP_MAX_SAMPLES (48000LL * 600 * 2)

struct wavcmp_audio {
	double *x; /* interleaved, frames * channels */
	int64_t frames;
	int channels;
	int rate;
};

/* Return: 0, or -EIO / -EFBIG / -ENOMEM with the message printed. */
static int wavcmp_load(const char *path, struct wavcmp_audio *a)
{
	SF_INFO info;
	int ret = 0;

	memset(&info, 0, sizeof info);
	memset(a, 0, sizeof *a);
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	if (!sf) {
		printf("wavcmp: %s: %s\n", path, sf_strerror(NULL));
		return -EIO;
	}
	if (info.channels < 1 || info.frames < 0 ||
	    (long long)info.frames * info.channels > WAVCMP_MAX_SAMPLES) {
		printf("wavcmp: %s: %lld frames of %d channels is more than "
		       "this tool reads\n",
		       path, (long long)info.frames, info.channels);
		ret = -EFBIG;
		goto out_close;
	}
	a->channels = info.channels;
	a->rate = info.samplerate;
	a->x = malloc(((size_t)info.frames + 1) * (size_t)info.channels *
	              sizeof *a->x);
	if (!a->x) {
		printf("wavcmp: %s: out of memory\n", path);
		ret = -ENOMEM;
		goto out_close;
	}
	a->frames = sf_readf_double(sf, a->x, info.frames);
	if (a->frames != info.frames) {
		printf("wavcmp: %s: read %lld of %lld frames: %s\n", path,
		       (long long)a->frames, (long long)info.frames,
		       sf_strerror(sf));
		free(a->x);
		a->x = NULL;
		ret = -EIO;
	}
out_close:
	sf_close(sf);
	return ret;
}

static void wavcmp_free(struct wavcmp_audio *a)
{
	free(a->x);
	a->x = NULL;
}

/* Return: 1 when frames [ia, ia+n) of a equal frames [ib, ib+n) of b. */
static int wavcmp_same(const struct wavcmp_audio *a, int64_t ia,
                       const struct wavcmp_audio *b, int64_t ib, int64_t n)
{
	int64_t ch = a->channels;
	const double *x = a->x + ia * ch;
	const double *y = b->x + ib * ch;

	for (int64_t i = 0; i < n * ch; i++)
		if (x[i] != y[i])
			return 0;
	return 1;
}

static int wavcmp_exact(const struct wavcmp_audio *ref,
                        const struct wavcmp_audio *rec, const char *name)
{
	int64_t anchor = rec->frames < WAVCMP_ANCHOR_FRAMES
	                         ? rec->frames
	                         : WAVCMP_ANCHOR_FRAMES;
	int64_t k;

	if (rec->frames == 0) {
		printf("wavcmp: %s: the recording is empty\n", name);
		return 1;
	}
	for (k = 0; k + anchor <= ref->frames; k++)
		if (wavcmp_same(ref, k, rec, 0, anchor))
			break;
	if (k + anchor > ref->frames) {
		printf("wavcmp: %s: its first %lld frames appear nowhere in "
		       "the source\n",
		       name, (long long)anchor);
		return 1;
	}
	int64_t expect = ref->frames - k;
	int64_t common = rec->frames < expect ? rec->frames : expect;
	for (int64_t i = 0; i < common; i++) {
		if (wavcmp_same(ref, k + i, rec, i, 1))
			continue;
		for (int c = 0; c < rec->channels; c++) {
			double want = ref->x[(k + i) * ref->channels + c];
			double got = rec->x[i * rec->channels + c];
			if (want != got) {
				printf("wavcmp: %s: differs at frame %lld "
				       "channel %d (source frame %lld: "
				       "%.0f, recorded %.0f, in 16-bit "
				       "steps)\n",
				       name, (long long)i, c,
				       (long long)(k + i), want * 32768.0,
				       got * 32768.0);
				return 1;
			}
		}
	}
	if (rec->frames < expect) {
		printf("wavcmp: %s: ends early: %lld frames match from source "
		       "frame %lld, %lld "
		       "frames of the source are missing\n",
		       name, (long long)common, (long long)k,
		       (long long)(expect - rec->frames));
		return 1;
	}
	if (rec->frames > expect) {
		int64_t loud = 0;
		for (int64_t i = expect * rec->channels;
		     i < rec->frames * rec->channels; i++)
			loud += rec->x[i] != 0.0;
		printf("wavcmp: %s: %lld frames match from source frame %lld, "
		       "then %lld extra frames "
		       "(%lld non-zero samples) after the source's end\n",
		       name, (long long)expect, (long long)k,
		       (long long)(rec->frames - expect), (long long)loud);
		return 1;
	}
	printf("wavcmp: %s: bit-exact: %lld frames (%.3f s) equal the source "
	       "from frame %lld\n",
	       name, (long long)rec->frames, (double)rec->frames / rec->rate,
	       (long long)k);
	return 0;
}

/*
 * Normalized correlation of rec[t] with ref[t + lag] over rec frames
 * [from, to) (clipped to where both exist).
 */
static double wavcmp_corr(const struct wavcmp_audio *ref,
                          const struct wavcmp_audio *rec, int64_t lag,
                          int64_t from, int64_t to)
{
	double xy = 0.0, xx = 0.0, yy = 0.0;
	int ch = rec->channels;

	if (from + lag < 0)
		from = -lag;
	if (to + lag > ref->frames)
		to = ref->frames - lag;
	if (to > rec->frames)
		to = rec->frames;
	for (int64_t t = from; t < to; t++) {
		const double *x = rec->x + t * ch;
		const double *y = ref->x + (t + lag) * ch;
		for (int c = 0; c < ch; c++) {
			xy += x[c] * y[c];
			xx += x[c] * x[c];
			yy += y[c] * y[c];
		}
	}
	if (xx <= 0.0 || yy <= 0.0)
		return 0.0;
	return xy / sqrt(xx * yy);
}

static int wavcmp_similar(const struct wavcmp_audio *ref,
                          const struct wavcmp_audio *rec, const char *name,
                          int64_t tolerance, double min_corr, int64_t max_lag)
{
	int64_t diff = rec->frames - ref->frames;
	double energy = 0.0;

	if (llabs(diff) > tolerance) {
		printf("wavcmp: %s: lasts %lld frames, the source %lld: %+lld "
		       "frames is more than the "
		       "tolerance of %lld\n",
		       name, (long long)rec->frames, (long long)ref->frames,
		       (long long)diff, (long long)tolerance);
		return 1;
	}
	for (int64_t i = 0; i < rec->frames * rec->channels; i++)
		energy += rec->x[i] * rec->x[i];
	if (energy == 0.0) {
		printf("wavcmp: %s: the recording is silent\n", name);
		return 1;
	}
	/* Find the lag on a quarter second from the middle, then score it
	 * over the whole overlap. */
	int64_t span = rec->rate / 4;
	int64_t from = rec->frames / 2 - span / 2;
	if (from < 0)
		from = 0;
	int64_t best_lag = 0;
	double best = -2.0;
	/* Keep most of a short recording in every overlap tried. */
	if (max_lag > rec->frames / 4)
		max_lag = rec->frames / 4;
	for (int64_t lag = -max_lag; lag <= max_lag; lag++) {
		double r = wavcmp_corr(ref, rec, lag, from, from + span);
		if (r > best) {
			best = r;
			best_lag = lag;
		}
	}
	double r = wavcmp_corr(ref, rec, best_lag, 0, rec->frames);
	if (r < min_corr) {
		printf("wavcmp: %s: correlates with the source by only %.3f "
		       "(at lag %lld frames; "
		       "needs %.3f)\n",
		       name, r, (long long)best_lag, min_corr);
		return 1;
	}
	printf("wavcmp: %s: similar: %lld frames (source %lld, %+lld), "
	       "correlation %.3f at lag "
	       "%lld frames\n",
	       name, (long long)rec->frames, (long long)ref->frames,
	       (long long)diff, r, (long long)best_lag);
	return 0;
}

static void wavcmp_usage(FILE *f)
{
	fprintf(f, "usage: wavcmp exact REF REC\n"
	           "       wavcmp similar REF REC [--tolerance FRAMES] "
	           "[--min-corr C] "
	           "[--max-lag FRAMES]\n");
}

/* Parse a whole number in [0, hi]; Return: 0 or -EINVAL. */
static int wavcmp_parse_count(const char *s, int64_t hi, int64_t *out)
{
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	struct wavcmp_audio ref, rec;
	int64_t tolerance = -1, max_lag = -1;
	double min_corr = 0.5;
	int ret = 2;

	if (argc == 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		wavcmp_usage(stdout);
		return 0;
	}
	if (argc < 4 ||
	    (strcmp(argv[1], "exact") && strcmp(argv[1], "similar"))) {
		wavcmp_usage(stderr);
		return 2;
	}
	int similar = !strcmp(argv[1], "similar");
	for (int i = 4; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;
		int bad;

		if (!similar) {
			bad = 1;
		} else if (!strcmp(argv[i], "--tolerance")) {
			bad = wavcmp_parse_count(v, INT32_MAX, &tolerance) < 0;
		} else if (!strcmp(argv[i], "--max-lag")) {
			bad = wavcmp_parse_count(v, 1000000, &max_lag) < 0;
		} else if (!strcmp(argv[i], "--min-corr") && v) {
			errno = 0;
			min_corr = strtod(v, &end);
			bad = errno || *end || end == v ||
			      !(min_corr >= -1.0 && min_corr <= 1.0);
		} else {
			bad = 1;
		}
		if (bad) {
			fprintf(stderr, "wavcmp: bad argument '%s%s%s'\n",
			        argv[i], v ? " " : "", v ? v : "");
			wavcmp_usage(stderr);
			return 2;
		}
		i++;
	}

	if (wavcmp_load(argv[2], &ref) < 0)
		return 2;
	if (wavcmp_load(argv[3], &rec) < 0)
		goto out_ref;
	if (rec.rate != ref.rate || rec.channels != ref.channels) {
		printf("wavcmp: %s: %d Hz %d ch, the source %d Hz %d ch\n",
		       argv[3], rec.rate, rec.channels, ref.rate, ref.channels);
		ret = 1;
		goto out_rec;
	}
	if (!similar) {
		ret = wavcmp_exact(&ref, &rec, argv[3]);
	} else {
		if (tolerance < 0)
			tolerance = ref.rate / 50;
		if (max_lag < 0)
			max_lag = ref.rate / 10;
		ret = wavcmp_similar(&ref, &rec, argv[3], tolerance, min_corr,
		                     max_lag);
	}
out_rec:
	wavcmp_free(&rec);
out_ref:
	wavcmp_free(&ref);
	return ret;
}
