/*
 * sinefit: how clean a resampled sine is, by least squares
 *
 * For the resampler benchmark and tests. A window of a signal is fitted
 * with a * sin(th) + b * cos(th) + d, where the phase th is a cubic in
 * time (frequency, and its first two derivatives, free), by Gauss-Newton
 * from a starting frequency. What the fit leaves is the error: noise,
 * aliasing, images and discontinuities; the delay, the gain and a
 * smoothly moving frequency (a drift correction that changes) are not
 * charged. Pure code, any thread.
 */
#ifndef RTB_TOOLS_SINEFIT_H
#define RTB_TOOLS_SINEFIT_H

#include <stddef.h>

/*
 * Fit y[0], y[stride], ... y[(n - 1) * stride] starting from w0 (rad per
 * sample; the fit then finds the frequency itself, within a few per cent)
 * and add the squared residual to *err and the squared fitted sine to
 * *sig.
 *
 * Pre: n >= 16
 */
void sinefit_window(const float *y, size_t stride, size_t n, double w0,
                    double *err, double *sig);

/*
 * SNR in dB of y (n samples at `stride`) over consecutive windows of `win`
 * samples, all fitted from w0: 10 log10(sum sig / sum err).
 */
double sinefit_snr(const float *y, size_t stride, size_t n, size_t win,
                   double w0);

#endif
