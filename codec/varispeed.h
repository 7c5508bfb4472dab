/*
 * varispeed: a variable-ratio resampler, for clock-drift compensation and
 * sample-rate conversion
 *
 * A polyphase windowed-sinc interpolator (Kaiser window) with linear
 * interpolation between the table's phases. The filter is designed once, at
 * init, for a nominal ratio (output rate / input rate): its cut-off sits at
 * the lower of the two Nyquist frequencies, so 48 -> 48 kHz (drift only)
 * and 44.1 -> 48 kHz keep the input band, and 96 -> 48 kHz low-passes
 * before it decimates (the filter is then 1/ratio times longer in input
 * frames). Each process call may ask for a slightly different ratio (the
 * drift controller's correction, changing every call): the interpolation
 * position moves on continuously, so the output has no step or click when
 * the ratio changes, and no table is recomputed.
 *
 * Pure code: no threads, no I/O, no library. varispeed_init allocates
 * everything (the table and one input buffer); varispeed_process and
 * varispeed_reset never allocate, lock or make a system call, so the audio
 * thread may call them. One owner at a time; nothing is shared.
 *
 * Frame accounting. The resampler takes input frames only when an output
 * frame needs them (a filter's half length ahead of the output position),
 * so what it holds stays about taps/2 frames whatever the call sizes. Of
 * the frames it has taken since the last reset, varispeed_latency() is the
 * part not yet played, in input frames (fractional): a caller that counts
 * the input it handed over subtracts that to know the input time of the
 * next output frame. Exactly: input frames taken = input position of the
 * next output frame (counted from the first frame taken, which the first
 * output frame plays) + varispeed_latency().
 */
#ifndef RTB_CODEC_VARISPEED_H
#define RTB_CODEC_VARISPEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VARISPEED_MAX_CHANNELS 64
/* Accepted nominal ratios: 48 kHz from 8 kHz up to 384 kHz and back. */
#define VARISPEED_NOMINAL_MIN 0.125
#define VARISPEED_NOMINAL_MAX 8.0

struct varispeed_config {
	unsigned channels; /* 1..VARISPEED_MAX_CHANNELS */
	double nominal;    /* output rate / input rate the filter is made for */
	/* Ratios a call may ask for: nominal * (1 +- range), clamped. */
	double range;
	/* Filter length in input frames at a nominal ratio >= 1, a multiple
	   of 8; below 1 the filter grows to taps / nominal (rounded up to a
	   multiple of 8). */
	unsigned taps;
	unsigned phases; /* table rows per input frame, >= 2 */
	double stop_db;  /* Kaiser design attenuation, 40..160 dB */
	/* Use the portable kernel even where the CPU has a faster one (the
	   tests run both; the output differs only by rounding). */
	bool portable;
	/* Use the CPU's general kernel even where one made for this design
	   applies (AVX2 stereo with 32 taps; the tests compare them, and
	   their output is the same bit for bit). */
	bool general;
};

struct varispeed {
	unsigned channels;
	unsigned taps;   /* filter length, input frames (multiple of 8) */
	unsigned phases; /* rows of the table */
	double lo, hi;   /* accepted ratio range */
	/* Row p (phase p / phases of an input frame) holds taps coefficients
	   and then taps differences to row p + 1; 32-byte aligned. */
	float *table;
	/* Input history: one plane of `cap` frames per channel. Frames
	   [0, fill) are held; the next output frame plays input position
	   pos + frac / 2^64 (a buffer index and a fraction of a frame). */
	float *buf;
	float *coef; /* taps floats of scratch (not stereo), 32-byte aligned */
	size_t cap, fill, pos;
	uint64_t frac;
	/* The kernel chosen at init: makes output frames while the input
	   lasts (pos < end), at a step of istep + fstep / 2^64 input frames
	   per output frame. Return: frames made. */
	size_t (*run)(struct varispeed *v, float *out, size_t frames,
	              size_t end, size_t istep, uint64_t fstep);
	/* Its name: "avx2-stereo32", "avx2" or "portable". */
	const char *kernel;
};

/*
 * Defaults for `channels` and a nominal ratio: 32 taps, 128 phases,
 * 100 dB, range 2 % (a drift of +-20000 ppm), the fastest kernel the CPU
 * runs.
 *
 * Context: any
 */
void varispeed_config_default(struct varispeed_config *c, unsigned channels,
                              double nominal);

/*
 * Design the filter and allocate the table and the buffer; the resampler
 * starts reset. The kernel is AVX2 + FMA where the CPU has them (x86-64,
 * checked at run time) and c->portable is false, else portable C (4-wide
 * vectors where the compiler has them); v->kernel names it. With AVX2, a
 * stereo filter of 32 taps (the default at a nominal ratio >= 1) gets a
 * kernel of its own unless c->general is set.
 *
 * Return: 0, -EINVAL (a value outside the limits above), -ENOMEM
 * Context: control (allocates)
 */
int varispeed_init(struct varispeed *v, const struct varispeed_config *c);

/* Free what init allocated; clearing a zeroed or cleared one does nothing.
 * Context: control. */
void varispeed_clear(struct varispeed *v);

/*
 * Forget all input: the next frame taken is played by the next output
 * frame, after the filter's silent history.
 *
 * Post: varispeed_latency(v) == 0
 * Context: the owner, real-time safe
 */
void varispeed_reset(struct varispeed *v);

/*
 * Resample interleaved frames at `ratio` = output frames / input frames
 * (clamped to the configured range around the nominal ratio; NaN or <= 0
 * means nominal). Takes input only as the output needs it.
 *
 * Post: *in_used frames of `in` were taken, *out_made frames of `out`
 *       written; *out_made == out_frames or *in_used == in_frames (or
 *       both): a short output means the input ran out
 * Context: the owner, real-time safe (no allocation, lock or system call)
 */
void varispeed_process(struct varispeed *v, const float *in, size_t in_frames,
                       float *out, size_t out_frames, double ratio,
                       size_t *in_used, size_t *out_made);

/*
 * Input frames taken and not yet played: the distance, in input frames,
 * from the input position of the next output frame to the end of the
 * input taken. Between 0 and about taps / 2 + 1 / ratio.
 *
 * Context: the owner
 */
double varispeed_latency(const struct varispeed *v);

#endif
