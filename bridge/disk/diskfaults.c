/*
 * diskfaults: parser for RTBRIDGE_FAULTS. Pure code, no state: the disk
 * server keeps the parsed struct and the request counter.
 */
#include "bridge/disk/diskfaults.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int diskfaults__number(const char *s, size_t len, uint64_t max,
                              uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 19)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int diskfaults_parse(const char *spec, struct diskfaults *out, char *err,
                     size_t errlen)
{
	struct diskfaults f = {0};
	int have_every = 0;
	const char *p = spec ? spec : "";

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		if (len == 0) {
			p += 1;
			continue;
		}
		if (!eq) {
			if (err)
				snprintf(err, errlen,
				         "%s: '%.*s' is not key=value",
				         DISKFAULTS_ENV, (int)len, p);
			return -EINVAL;
		}
		size_t klen = (size_t)(eq - p);
		const char *val = eq + 1;
		size_t vlen = len - klen - 1;
		uint64_t v;
		int rc;
		if (klen == 13 && memcmp(p, "disk_stall_ms", 13) == 0) {
			rc = diskfaults__number(val, vlen, 60000, &v);
			f.stall_ms = (uint32_t)v;
		} else if (klen == 16 &&
		           memcmp(p, "disk_stall_every", 16) == 0) {
			rc = diskfaults__number(val, vlen, 1000000000, &v);
			if (rc == 0 && v == 0)
				rc = -EINVAL;
			f.stall_every = (uint32_t)v;
			have_every = 1;
		} else if (klen == 16 &&
		           memcmp(p, "disk_error_after", 16) == 0) {
			rc = diskfaults__number(val, vlen, UINT64_MAX / 2, &v);
			if (rc == 0 && v == 0)
				rc = -EINVAL;
			f.error_after = v;
		} else {
			if (err)
				snprintf(err, errlen,
				         "%s: unknown key '%.*s' (known: "
				         "disk_stall_ms, disk_stall_every, "
				         "disk_error_after)",
				         DISKFAULTS_ENV, (int)klen, p);
			return -EINVAL;
		}
		if (rc < 0) {
			if (err)
				snprintf(err, errlen,
				         "%s: bad value in '%.*s' (want a "
				         "decimal integer%s)",
				         DISKFAULTS_ENV, (int)len, p,
				         klen == 13 ? " 0..60000" : " >= 1");
			return -EINVAL;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (f.stall_ms > 0 && !have_every)
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
