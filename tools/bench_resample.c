/*
 * bench_resample: cost and cleanliness of the drift resampler candidates
 *
 * Candidates: libsamplerate (SRC_SINC_FASTEST, SRC_LINEAR), speexdsp's
 * resampler (qualities 3 and 5: its ratio is a fraction of at most 1/65536
 * resolution, and setting a new one rebuilds its filter table), libsoxr's
 * variable-rate mode (soxr_set_io_ratio) and our codec/varispeed (default
 * design with the kernel the CPU runs best, the same with its portable
 * kernel, plus variants with --designs). Every candidate is driven the way the
 * receiver drives its resampler: stereo float, decoded packets of 480 input
 * frames fed as the output asks, 128-frame output blocks, and a ratio (output /
 * input frames) handed over at every block.
 *
 * Cost: the time of one 128-frame stereo block (the ratio set and the
 * process calls), median and p99 over --blocks blocks (after 500 blocks
 * of warm-up), with the ratio moving smoothly by +-300 ppm and a little
 * noise at every block; best median of three rounds. Under
 * LD_PRELOAD=librtcheck.so the blocks run as a real-time thread and the
 * "rt" column counts allocations, locks and system calls made there.
 *
 * Cleanliness: SNR of a resampled sine (1 kHz and 10 kHz, left sine and
 * right cosine) at fixed ratios 1, 1 +- 100 ppm, 1 +- 500 ppm, and with
 * the ratio sweeping smoothly from -500 to +500 ppm over 4 s (half a sine),
 * a new ratio at every block. The error is what is left after a
 * least-squares fit, over windows of 2048 output frames, of a sine whose
 * amplitude, phase, frequency and its first two derivatives are free
 * (Gauss-Newton from the expected frequency), so a resampler is charged for
 * noise, aliasing and discontinuities, not for its delay or its passband
 * gain. The first 0.25 s are skipped. "gain20k" is the level of a 20 kHz
 * tone at ratio 1 + 100 ppm (passband droop). Then real rate changes: 44.1 ->
 * 48 kHz and 96 -> 48 kHz (SNR), and for 96 -> 48 kHz the level of a 30 kHz and
 * a 40 kHz input tone in the output (aliasing rejection, dB below the input
 * level).
 *
 *   bench_resample [--blocks N] [--only NAME] [--designs] [--quick]
 *
 * Context: one thread.
 */
#include <math.h>
#include <samplerate.h>
#include <soxr.h>
#include <speex/speex_resampler.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/rtcheck/rthook.h"
#include "codec/varispeed.h"
#include "tools/sinefit.h"
#include "tools/benchutil.h"

#define CH      2
#define BLOCK   128
#define PACKET  480
#define WIN     2048
#define OUT_MAX (48000 * 4)
#define PI      3.14159265358979323846

enum kind { K_SRC, K_SPEEX, K_SOXR, K_VARI };

struct cand {
	const char *name;
	enum kind kind;
	int param; /* SRC_* converter or speex quality */
	unsigned taps, phases;
	double stop_db;
	bool portable; /* varispeed: the portable kernel, not AVX2 */
};

struct rs {
	const struct cand *c;
	double nominal;
	SRC_STATE *src;
	SpeexResamplerState *spx;
	uint32_t spx_num;
	soxr_t soxr;
	struct varispeed vs;
};

static const struct cand cands[] = {
        {"src-sinc-fastest", K_SRC, SRC_SINC_FASTEST, 0, 0, 0, false},
        {"src-linear", K_SRC, SRC_LINEAR, 0, 0, 0, false},
        {"speex-q3", K_SPEEX, 3, 0, 0, 0, false},
        {"speex-q5", K_SPEEX, 5, 0, 0, 0, false},
        {"soxr-vr-hq", K_SOXR, 0, 0, 0, 0, false},
        {"varispeed", K_VARI, 0, 0, 0, 0, false},
        {"varispeed-portable", K_VARI, 0, 0, 0, 0, true},
};

static const struct cand designs[] = {
        {"vari-16t-128p-80dB", K_VARI, 0, 16, 128, 80, false},
        {"vari-24t-128p-90dB", K_VARI, 0, 24, 128, 90, false},
        {"vari-32t-64p-90dB", K_VARI, 0, 32, 64, 90, false},
        {"vari-32t-256p-90dB", K_VARI, 0, 32, 256, 90, false},
        {"vari-32t-128p-100dB", K_VARI, 0, 32, 128, 100, false},
        {"vari-40t-128p-100dB", K_VARI, 0, 40, 128, 100, false},
        {"vari-48t-128p-110dB", K_VARI, 0, 48, 128, 110, false},
};

/* speex states the ratio as in/out = num / den. A finer denominator
   overflows its phase rescaling when the rate changes (speexdsp 1.2.1,
   multiply_frac: remainder * den > 2^32) and it then reads out of bounds;
   1/65536 is the finest safe step: 15 ppm. */
#define SPX_DEN 65536u

static int rs_init(struct rs *r, const struct cand *c, double nominal)
{
	int err = 0;

	memset(r, 0, sizeof(*r));
	r->c = c;
	r->nominal = nominal;
	switch (c->kind) {
	case K_SRC:
		r->src = src_new(c->param, CH, &err);
		return r->src ? 0 : -1;
	case K_SPEEX:
		r->spx_num = (uint32_t)lround(SPX_DEN / nominal);
		r->spx = speex_resampler_init_frac(
		        CH, r->spx_num, SPX_DEN, 48000, 48000, c->param, &err);
		if (r->spx)
			speex_resampler_skip_zeros(r->spx);
		return r->spx ? 0 : -1;
	case K_SOXR: {
		soxr_error_t e = NULL;
		soxr_io_spec_t io =
		        soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
		soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, SOXR_VR);
		soxr_runtime_spec_t rt = soxr_runtime_spec(1);
		/* In VR mode the rates given only bound the io ratio. */
		r->soxr =
		        soxr_create(1.05 / nominal, 1.0, CH, &e, &io, &q, &rt);
		if (!r->soxr || e)
			return -1;
		e = soxr_set_io_ratio(r->soxr, 1.0 / nominal, 0);
		return e ? -1 : 0;
	}
	case K_VARI: {
		struct varispeed_config vc;
		varispeed_config_default(&vc, CH, nominal);
		if (c->taps) {
			vc.taps = c->taps;
			vc.phases = c->phases;
			vc.stop_db = c->stop_db;
		}
		vc.portable = c->portable;
		return varispeed_init(&r->vs, &vc);
	}
	}
	return -1;
}

static void rs_clear(struct rs *r)
{
	if (r->src)
		src_delete(r->src);
	if (r->spx)
		speex_resampler_destroy(r->spx);
	if (r->soxr)
		soxr_delete(r->soxr);
	if (r->c && r->c->kind == K_VARI)
		varispeed_clear(&r->vs);
}

/* One process call, every candidate behind the same contract. */
static void rs_process(struct rs *r, const float *in, size_t nin, float *out,
                       size_t nout, double ratio, size_t *used, size_t *made)
{
	switch (r->c->kind) {
	case K_SRC: {
		SRC_DATA d = {.data_in = in,
		              .data_out = out,
		              .input_frames = (long)nin,
		              .output_frames = (long)nout,
		              .src_ratio = ratio};
		src_process(r->src, &d);
		*used = (size_t)d.input_frames_used;
		*made = (size_t)d.output_frames_gen;
		return;
	}
	case K_SPEEX: {
		uint32_t num = (uint32_t)lround(SPX_DEN / ratio);
		if (num != r->spx_num) {
			speex_resampler_set_rate_frac(r->spx, num, SPX_DEN,
			                              48000, 48000);
			r->spx_num = num;
		}
		spx_uint32_t il = (spx_uint32_t)nin, ol = (spx_uint32_t)nout;
		speex_resampler_process_interleaved_float(r->spx, in, &il, out,
		                                          &ol);
		*used = il;
		*made = ol;
		return;
	}
	case K_SOXR:
		soxr_set_io_ratio(r->soxr, 1.0 / ratio, 0);
		soxr_process(r->soxr, in, nin, used, out, nout, made);
		return;
	case K_VARI:
		varispeed_process(&r->vs, in, nin, out, nout, ratio, used,
		                  made);
		return;
	}
}

/* ---- the signal and the driver ---- */

struct gen {
	bool same; /* every packet is the same: generate it once */
	bool made;
	double w;     /* rad per input frame */
	double phase; /* of the next frame */
	float buf[PACKET * CH];
	size_t off, avail;
};

static void gen_packet(struct gen *g)
{
	g->off = 0;
	g->avail = PACKET;
	if (g->same && g->made)
		return;
	g->made = true;
	for (size_t i = 0; i < PACKET; i++) {
		double ph = g->phase + g->w * (double)i;
		g->buf[i * CH] = (float)(0.5 * sin(ph));
		g->buf[i * CH + 1] = (float)(0.5 * cos(ph));
	}
	g->phase = fmod(g->phase + g->w * PACKET, 2.0 * PI);
}

/* Fill one output block, feeding packets as the resampler asks. */
static size_t run_block(struct rs *r, struct gen *g, float *out, double ratio)
{
	size_t done = 0;

	for (int guard = 0; done < BLOCK && guard < 64; guard++) {
		if (g->avail == 0)
			gen_packet(g);
		size_t used = 0, made = 0;
		rs_process(r, g->buf + g->off * CH, g->avail, out + done * CH,
		           BLOCK - done, ratio, &used, &made);
		g->off += used;
		g->avail -= used;
		done += made;
	}
	return done;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Median and p99 of a block's time in ns; best median of three rounds. */
static void measure_cost(const struct cand *c, unsigned blocks, double *med,
                         double *p99, unsigned long *rt)
{
	uint64_t *t = malloc(blocks * sizeof(*t));
	static float out[BLOCK * CH];

	*med = 1e30;
	*rt = 0;
	for (int round = 0; round < 3; round++) {
		struct rs r;
		/* 1 kHz: a packet holds whole periods, so all are alike
		   and none is computed in the timed blocks. */
		struct gen g = {.same = true, .w = 2.0 * PI * 1000.0 / 48000.0};
		uint64_t seed = 0x5eed + (uint64_t)round;
		if (rs_init(&r, c, 1.0) < 0) {
			*med = *p99 = NAN;
			break;
		}
		unsigned long v0 = rthook_violations();
		rthook_rt_enter();
		for (unsigned i = 0; i < blocks + 500; i++) {
			double noise =
			        (double)(rng_next(&seed) % 2001) - 1000.0;
			double ratio =
			        1.0 + 300e-6 * sin(i * 2e-3) + noise * 1e-9;
			uint64_t t0 = benchutil_now_ns();
			run_block(&r, &g, out, ratio);
			uint64_t t1 = benchutil_now_ns();
			if (i >= 500)
				t[i - 500] = t1 - t0;
		}
		rthook_rt_leave();
		*rt += rthook_violations() - v0;
		rs_clear(&r);
		qsort(t, blocks, sizeof(*t), benchutil_cmp_u64);
		if ((double)t[blocks / 2] < *med) {
			*med = (double)t[blocks / 2];
			*p99 = (double)t[blocks * 99 / 100];
		}
	}
	free(t);
}

/* Ratio at output block i of a run: fixed, or sweeping from -500 to
   +500 ppm over the run (half a sine). */
static double run_ratio(double nominal, double ppm, bool sweep, size_t i,
                        size_t n)
{
	if (!sweep)
		return nominal * (1.0 + ppm * 1e-6);
	double x = ((double)i / (double)n - 0.5) * PI;
	return nominal * (1.0 + 500e-6 * sin(x));
}

/*
 * Resample a sine of f Hz at in_rate for 2 s of output and return the SNR
 * in dB (the worse channel), or the output level in dB below the input's
 * when `level` (the tone should be gone).
 */
static double snr_run(const struct cand *c, double in_rate, double f,
                      double ppm, bool sweep, bool level)
{
	static float out[OUT_MAX * CH];
	double nominal = 48000.0 / in_rate;
	size_t nblocks = (sweep ? 4 : 2) * 48000 / BLOCK, skip = 12000;
	struct gen g = {.w = 2.0 * PI * f / in_rate};
	double *ratios = malloc(nblocks * sizeof(double));
	struct rs r;

	if (rs_init(&r, c, nominal) < 0) {
		free(ratios);
		return NAN;
	}
	for (size_t i = 0; i < nblocks; i++) {
		ratios[i] = run_ratio(nominal, ppm, sweep, i, nblocks);
		run_block(&r, &g, out + i * BLOCK * CH, ratios[i]);
	}
	rs_clear(&r);
	size_t n = nblocks * BLOCK;
	double worst = 1e30;
	for (int ch = 0; ch < CH; ch++) {
		double err = 0.0, sig = 0.0;
		if (level) {
			for (size_t i = skip; i < n; i++)
				err += (double)out[i * CH + ch] *
				       out[i * CH + ch];
			/* the input's power: 0.5^2 / 2 */
			double db =
			        -10.0 *
			        log10(err / (double)(n - skip) / 0.125 + 1e-30);
			worst = db < worst ? db : worst;
			continue;
		}
		for (size_t s = skip; s + WIN <= n; s += WIN) {
			double rat = ratios[(s + WIN / 2) / BLOCK];
			sinefit_window(out + s * CH + ch, CH, WIN,
			               2.0 * PI * f / in_rate / rat, &err,
			               &sig);
		}
		double db = 10.0 * log10(sig / (err + 1e-300));
		worst = db < worst ? db : worst;
	}
	free(ratios);
	return worst;
}

static void print_quality(const struct cand *c, bool quick)
{
	static const double ppms[] = {0, 100, -100, 500, -500};
	static const double freqs[] = {1000, 10000};

	printf("%-20s", c->name);
	for (int fi = 0; fi < 2; fi++) {
		for (int pi = 0; pi < 5; pi++) {
			if (quick && pi != 3)
				continue;
			printf(" %6.1f", snr_run(c, 48000, freqs[fi], ppms[pi],
			                         false, false));
		}
		printf(" %6.1f", snr_run(c, 48000, freqs[fi], 0, true, false));
	}
	printf(" %7.3f", -snr_run(c, 48000, 20000, 100, false, true));
	printf(" | %6.1f %6.1f | %6.1f %6.1f | %6.1f %6.1f\n",
	       snr_run(c, 44100, 1000, 0, false, false),
	       snr_run(c, 44100, 10000, 0, false, false),
	       snr_run(c, 96000, 1000, 0, false, false),
	       snr_run(c, 96000, 10000, 0, false, false),
	       snr_run(c, 96000, 30000, 0, false, true),
	       snr_run(c, 96000, 40000, 0, false, true));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	unsigned blocks = 20000;
	const char *only = NULL;
	bool with_designs = false, quick = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--blocks") && i + 1 < argc)
			blocks = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--designs"))
			with_designs = true;
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else {
			fprintf(stderr,
			        "usage: bench_resample [--blocks N] [--only "
			        "NAME] [--designs] [--quick]\n");
			return 2;
		}
	}
	if (blocks < 100)
		blocks = 100;
	rthook_init();

	size_t nc = sizeof(cands) / sizeof(cands[0]);
	size_t nd = with_designs ? sizeof(designs) / sizeof(designs[0]) : 0;
	printf("cost of one %d-frame stereo block, ratio moving every block "
	       "(%u blocks, best of 3)%s\n",
	       BLOCK, blocks,
	       rthook_loaded() ? "" : "; rt: run under librtcheck to count");
	struct varispeed probe;
	struct varispeed_config pc;
	varispeed_config_default(&pc, CH, 1.0);
	if (varispeed_init(&probe, &pc) == 0) {
		printf("varispeed's kernel on this CPU: %s\n", probe.kernel);
		varispeed_clear(&probe);
	}
	printf("%-20s %9s %9s %9s %4s\n", "resampler", "median_us", "p99_us",
	       "%core", "rt");
	for (size_t i = 0; i < nc + nd; i++) {
		const struct cand *c = i < nc ? &cands[i] : &designs[i - nc];
		if (only && !strstr(c->name, only))
			continue;
		double med, p99;
		unsigned long rt;
		measure_cost(c, blocks, &med, &p99, &rt);
		printf("%-20s %9.2f %9.2f %9.3f %4lu\n", c->name, med / 1e3,
		       p99 / 1e3, med / 1e9 * (48000.0 / BLOCK) * 100.0, rt);
		fflush(stdout);
	}
	printf("\nSNR in dB (worse channel), 48 kHz: at ratio 1 + ppm, and "
	       "sweeping +-500 ppm\n");
	if (quick)
		printf("%-20s %6s %6s %6s %6s %7s\n", "resampler", "1k+500",
		       "1k-swp", "10k+500", "10k-swp", "gain20k");
	else
		printf("%-20s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s "
		       "%6s %7s\n",
		       "resampler", "1k0", "1k+100", "1k-100", "1k+500",
		       "1k-500", "1k-swp", "10k0", "10k+100", "10k-100",
		       "10k+500", "10k-500", "10k-swp", "gain20k");
	printf("%-20s then 44.1->48 SNR 1k 10k | 96->48 SNR 1k 10k | 96->48 "
	       "rejection of 30k 40k\n",
	       "");
	for (size_t i = 0; i < nc + nd; i++) {
		const struct cand *c = i < nc ? &cands[i] : &designs[i - nc];
		if (only && !strstr(c->name, only))
			continue;
		print_quality(c, quick);
	}
	return 0;
}
