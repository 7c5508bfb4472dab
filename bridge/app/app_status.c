/*
 * app_status: terminal status line and formatting (see app_status.h)
 */
#include "bridge/app/app_status.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t app_status__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void app_status_init(struct app_status *s, FILE *f, bool force_tty)
{
	memset(s, 0, sizeof(*s));
	s->f = f;
	s->tty = force_tty || isatty(fileno(f));
	s->interval_ms = 100;
	s->last_ns = app_status__now_ns() - (int64_t)s->interval_ms * 1000000;
}

bool app_status_due(struct app_status *s)
{
	if (!s->tty)
		return false;
	return app_status__now_ns() - s->last_ns >=
	       (int64_t)s->interval_ms * 1000000;
}

int64_t app_status_next_ns(const struct app_status *s)
{
	if (!s->tty)
		return INT64_MAX;
	return s->last_ns + (int64_t)s->interval_ms * 1000000;
}

void app_status_print(struct app_status *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!s->tty)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = strlen(line);
	/* Pad with spaces so that the end of a longer previous line goes. */
	fprintf(s->f, "\r%s%*s", line,
	        len < s->last_len ? (int)(s->last_len - len) : 0, "");
	fflush(s->f);
	s->last_len = len;
	s->drawn = true;
	s->last_ns = app_status__now_ns();
}

void app_status_end(struct app_status *s)
{
	if (s->drawn) {
		fputc('\n', s->f);
		fflush(s->f);
	}
	s->drawn = false;
	s->last_len = 0;
}

char *app_status_time(char *buf, size_t n, uint64_t frames, unsigned rate)
{
	uint64_t tenths = rate ? frames * 10 / rate : 0;
	uint64_t s = tenths / 10;
	if (s >= 3600)
		snprintf(buf, n, "%llu:%02llu:%02llu.%llu",
		         (unsigned long long)(s / 3600),
		         (unsigned long long)(s / 60 % 60),
		         (unsigned long long)(s % 60),
		         (unsigned long long)(tenths % 10));
	else
		snprintf(buf, n, "%llu:%02llu.%llu",
		         (unsigned long long)(s / 60),
		         (unsigned long long)(s % 60),
		         (unsigned long long)(tenths % 10));
	return buf;
}

double app_status_db(float peak)
{
	if (!(peak > 0.0f))
		return -INFINITY;
	return 20.0 * log10((double)peak);
}

char *app_status_meter(char *buf, size_t n, float peak, int width)
{
	char bar[128];
	double db = app_status_db(peak);
	if (width < 1)
		width = 1;
	if (width > (int)sizeof(bar) - 1)
		width = (int)sizeof(bar) - 1;
	int cells = 0;
	if (db > -60.0)
		cells = (int)lround((db + 60.0) / 60.0 * width);
	if (cells > width)
		cells = width;
	for (int i = 0; i < width; i++)
		bar[i] = i < cells ? '#' : '-';
	bar[width] = '\0';
	if (peak >= 1.0f)
		snprintf(buf, n, "[%s]  CLIP", bar);
	else if (isinf(db))
		snprintf(buf, n, "[%s]  -inf dB", bar);
	else
		snprintf(buf, n, "[%s] %5.1f dB", bar, db);
	return buf;
}
