/*
 * app_status: a live status line on a terminal, and number formatting
 * for status lines and summaries
 *
 * The line is drawn only when the stream is a terminal (isatty): it is
 * redrawn in place with a carriage return at most `interval_ms` apart
 * (100 ms: about 10 Hz) and padded so that a shorter line wipes a longer
 * one. app_status_end moves to a fresh line before anything else is
 * printed. On a pipe or file nothing is drawn, so logs stay clean.
 *
 * Context: control thread.
 */
#ifndef RTB_APP_STATUS_H
#define RTB_APP_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct app_status {
	FILE *f;
	bool tty;        /* draw at all */
	bool drawn;      /* a line is on screen */
	int interval_ms; /* between two redraws */
	int64_t last_ns; /* CLOCK_MONOTONIC of the last redraw */
	size_t last_len; /* characters of the last line */
};

/* Draw on `f` if it is a terminal; `force_tty` draws anyway (tests). */
void app_status_init(struct app_status *s, FILE *f, bool force_tty);

/* Whether a redraw is due now (always false when not drawing). */
bool app_status_due(struct app_status *s);

/* When the next redraw is due, CLOCK_MONOTONIC ns (INT64_MAX when not
 * drawing). */
int64_t app_status_next_ns(const struct app_status *s);

/* Redraw the line (printf format; no newline). */
void app_status_print(struct app_status *s, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* End the line if one is drawn. */
void app_status_end(struct app_status *s);

/*
 * "m:ss.d" (or "h:mm:ss.d") for `frames` at `rate`.
 *
 * Return: buf
 */
char *app_status_time(char *buf, size_t n, uint64_t frames, unsigned rate);

/*
 * A peak meter: "[########--------] -12.3 dB" over `width` cells from
 * -60 dBFS to 0 dBFS ("-inf" for silence, "CLIP" at or above full scale).
 *
 * Return: buf
 */
char *app_status_meter(char *buf, size_t n, float peak, int width);

/* Peak as dBFS (-inf for 0). */
double app_status_db(float peak);

#endif
