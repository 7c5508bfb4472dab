/*
 * Helpers of the disk stream tests: a short sleep, a float WAV whose every
 * sample is expect(frame, channel) (distinct values, exact in float), and
 * a wait for a read-ahead stream's state. No globals: any disk test may
 * include it, with or without disk_fixture.h.
 */
#ifndef RTB_TESTS_DISK_UTIL_H
#define RTB_TESTS_DISK_UTIL_H

#include <criterion/criterion.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "bridge/disk/readahead.h"

static inline void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
	                      .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Sample value of frame i, channel c: distinct, exact in float. */
static inline float expect(uint64_t i, int c)
{
	uint32_t h = (uint32_t)(i * 2654435761u) ^ (uint32_t)(c * 0x9e3779b9u);
	return (float)((int)(h % 20001u) - 10000) / 16384.0f;
}

static inline void write_pattern(const char *path, long frames, int channels,
                                 int rate)
{
	SF_INFO info = {.samplerate = rate,
	                .channels = channels,
	                .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	cr_assert_not_null(sf, "%s", sf_strerror(NULL));
	float *buf = malloc(sizeof(float) * 4096 * (size_t)channels);
	for (long i = 0; i < frames; i += 4096) {
		long n = frames - i < 4096 ? frames - i : 4096;
		for (long k = 0; k < n; k++)
			for (int c = 0; c < channels; c++)
				buf[k * channels + c] =
				        expect((uint64_t)(i + k), c);
		cr_assert_eq(sf_writef_float(sf, buf, n), n);
	}
	free(buf);
	sf_close(sf);
}

static inline int wait_state(struct readahead *s, int want, int ms)
{
	for (int i = 0; i < ms; i++) {
		int st = readahead_poll(s);
		if (st == want || st == READAHEAD_ERROR)
			return st;
		sleep_ms(1);
	}
	return readahead_poll(s);
}

#endif
