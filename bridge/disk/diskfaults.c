/*
 * diskfaults: parser for RTBRIDGE_FAULTS and the pure decisions the disk
 * server asks of it. No state here: the server keeps the parsed struct,
 * the block counter and the time of the next periodic stall.
 */
#include "bridge/disk/diskfaults.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum diskfaults_key {
	DISKFAULTS_LATENCY,
	DISKFAULTS_STALL,
	DISKFAULTS_EVERY,
	DISKFAULTS_PERIOD,
	DISKFAULTS_ERROR,
	DISKFAULTS_NKEYS,
};

/* Keys with their accepted range, in the order the message lists them. */
static const struct {
	const char *name;
	uint64_t min, max;
	const char *range; /* for the error message */
} diskfaults__keys[DISKFAULTS_NKEYS] = {
        [DISKFAULTS_LATENCY] = {"disk_latency_ms", 0, 60000, "0..60000"},
        [DISKFAULTS_STALL] = {"disk_stall_ms", 0, 60000, "0..60000"},
        [DISKFAULTS_EVERY] = {"disk_stall_every", 1, 1000000000,
                              "1..1000000000"},
        [DISKFAULTS_PERIOD] = {"disk_stall_period_ms", 1, 3600000,
                               "1..3600000"},
        [DISKFAULTS_ERROR] = {"disk_error_after", 1, UINT64_MAX / 2, ">= 1"},
};

static int diskfaults__number(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 19)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int diskfaults__key(const char *p, size_t klen)
{
	for (int k = 0; k < DISKFAULTS_NKEYS; k++)
		if (strlen(diskfaults__keys[k].name) == klen &&
		    memcmp(p, diskfaults__keys[k].name, klen) == 0)
			return k;
	return -1;
}

/* One line for the user, prefixed with the variable's name. */
static int diskfaults__fail(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int diskfaults__fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen > 0) {
		int n = snprintf(err, errlen, "%s: ", DISKFAULTS_ENV);
		va_list ap;
		va_start(ap, fmt);
		if (n > 0 && (size_t)n < errlen)
			vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int diskfaults_parse(const char *spec, struct diskfaults *out, char *err,
                     size_t errlen)
{
	uint64_t v[DISKFAULTS_NKEYS] = {0};
	int seen[DISKFAULTS_NKEYS] = {0};
	const char *p = spec ? spec : "";

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		if (len == 0) {
			p += 1;
			continue;
		}
		if (!eq)
			return diskfaults__fail(err, errlen,
			                        "'%.*s' is not key=value",
			                        (int)len, p);
		size_t klen = (size_t)(eq - p);
		int k = diskfaults__key(p, klen);
		if (k < 0)
			return diskfaults__fail(
			        err, errlen,
			        "unknown key '%.*s' (known: disk_latency_ms, "
			        "disk_stall_ms, disk_stall_every, "
			        "disk_stall_period_ms, disk_error_after)",
			        (int)klen, p);
		uint64_t x;
		if (diskfaults__number(eq + 1, len - klen - 1, &x) < 0 ||
		    x < diskfaults__keys[k].min || x > diskfaults__keys[k].max)
			return diskfaults__fail(err, errlen,
			                        "bad value in '%.*s' (want a "
			                        "decimal integer %s)",
			                        (int)len, p,
			                        diskfaults__keys[k].range);
		v[k] = x;
		seen[k] = 1;
		p += len;
		if (*p == ',')
			p++;
	}
	if (seen[DISKFAULTS_EVERY] && seen[DISKFAULTS_PERIOD])
		return diskfaults__fail(err, errlen,
		                        "disk_stall_every and "
		                        "disk_stall_period_ms exclude each "
		                        "other");
	if (seen[DISKFAULTS_PERIOD] && v[DISKFAULTS_STALL] == 0)
		return diskfaults__fail(err, errlen,
		                        "disk_stall_period_ms needs "
		                        "disk_stall_ms");
	struct diskfaults f = {
	        .stall_ms = (uint32_t)v[DISKFAULTS_STALL],
	        .stall_every = (uint32_t)v[DISKFAULTS_EVERY],
	        .error_after = v[DISKFAULTS_ERROR],
	        .latency_ms = (uint32_t)v[DISKFAULTS_LATENCY],
	        .stall_period_ms = (uint32_t)v[DISKFAULTS_PERIOD],
	};
	if (f.stall_ms > 0 && !f.stall_every && !f.stall_period_ms)
		f.stall_every = 1;
	*out = f;
	return 0;
}

uint32_t diskfaults_for(const struct diskfaults *f, uint64_t n, int *fail)
{
	*fail = f->error_after != 0 && n == f->error_after;
	if (f->stall_ms > 0 && f->stall_every > 0 && n % f->stall_every == 0)
		return f->stall_ms;
	return 0;
}

uint32_t diskfaults_period_stall(const struct diskfaults *f, int64_t now_ns,
                                 int64_t *next_ns)
{
	if (f->stall_ms == 0 || f->stall_period_ms == 0 || now_ns < *next_ns)
		return 0;
	int64_t p = (int64_t)f->stall_period_ms * 1000000;
	/* Boundaries missed while the disk was idle are not made up for:
	 * one stall, then the next multiple of P after now. */
	*next_ns += ((now_ns - *next_ns) / p + 1) * p;
	return f->stall_ms;
}
