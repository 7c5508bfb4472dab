/*
 * sinefit: Gauss-Newton fit of a sine with a cubic phase (see sinefit.h)
 *
 * Time is u in [-1, 1] over the window (well conditioned whatever its
 * length); the parameters are a, b, d and the phase's coefficients of u,
 * u^2 and u^3. The first pass fits the amplitudes only, the phase being
 * close already; seven more refine all six.
 */
#include "tools/sinefit.h"

#include <math.h>

enum { NP = 6 };

/* Solve the NP x NP system a x = b in place (partial pivoting).
   Return: 0, or -1 when singular. */
static int sinefit__solve(double *a, double *b)
{
	for (int i = 0; i < NP; i++) {
		int p = i;
		for (int k = i + 1; k < NP; k++)
			if (fabs(a[k * NP + i]) > fabs(a[p * NP + i]))
				p = k;
		if (fabs(a[p * NP + i]) < 1e-300)
			return -1;
		for (int k = 0; k < NP; k++) {
			double x = a[i * NP + k];
			a[i * NP + k] = a[p * NP + k];
			a[p * NP + k] = x;
		}
		double x = b[i];
		b[i] = b[p];
		b[p] = x;
		for (int k = i + 1; k < NP; k++) {
			double f = a[k * NP + i] / a[i * NP + i];
			for (int j = i; j < NP; j++)
				a[k * NP + j] -= f * a[i * NP + j];
			b[k] -= f * b[i];
		}
	}
	for (int i = NP - 1; i >= 0; i--) {
		for (int k = i + 1; k < NP; k++)
			b[i] -= a[i * NP + k] * b[k];
		b[i] /= a[i * NP + i];
	}
	return 0;
}

void sinefit_window(const float *y, size_t stride, size_t n, double w0,
                    double *err, double *sig)
{
	double h = (double)(n - 1) / 2.0;
	double p[NP] = {0, 0, 0, w0 * h, 0, 0}; /* a b d, phase u u^2 u^3 */

	for (int it = 0; it < 8; it++) {
		double ata[NP * NP] = {0}, atr[NP] = {0};
		for (size_t i = 0; i < n; i++) {
			double u = ((double)i - h) / h;
			double th = ((p[5] * u + p[4]) * u + p[3]) * u;
			double s = sin(th), c = cos(th);
			double dth = p[0] * c - p[1] * s;
			double j[NP] = {s,       c,           1.0,
			                u * dth, u * u * dth, u * u * u * dth};
			double r = (double)y[i * stride] -
			           (p[0] * s + p[1] * c + p[2]);
			for (int a = 0; a < NP; a++) {
				atr[a] += j[a] * r;
				for (int b = 0; b < NP; b++)
					ata[a * NP + b] += j[a] * j[b];
			}
		}
		if (it == 0)
			for (int a = 3; a < NP; a++)
				ata[a * NP + a] += 1e30;
		if (sinefit__solve(ata, atr) < 0)
			break;
		for (int a = 0; a < NP; a++)
			p[a] += atr[a];
	}
	for (size_t i = 0; i < n; i++) {
		double u = ((double)i - h) / h;
		double th = ((p[5] * u + p[4]) * u + p[3]) * u;
		double m = p[0] * sin(th) + p[1] * cos(th);
		double r = (double)y[i * stride] - m - p[2];
		*err += r * r;
		*sig += m * m;
	}
}

double sinefit_snr(const float *y, size_t stride, size_t n, size_t win,
                   double w0)
{
	double err = 0.0, sig = 0.0;

	for (size_t s = 0; s + win <= n; s += win)
		sinefit_window(y + s * stride, stride, win, w0, &err, &sig);
	return 10.0 * log10(sig / (err + 1e-300));
}
