/*
 * A running disk server and a scratch directory, for the stream tests
 *
 * .init = setup makes the directory; start_server() starts the server with
 * the given faults (or none); finish() at the end of a test stops it
 * (every stream must have been closed) and checks for leaks; .fini =
 * teardown stops a server a failed test left running and removes the
 * directory. write_pattern() writes a float WAV whose every sample is
 * expect(frame, channel); wait_state() polls a read-ahead stream.
 */
#ifndef RTB_TESTS_DISK_FIXTURE_H
#define RTB_TESTS_DISK_FIXTURE_H

#include <criterion/criterion.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bridge/disk/diskserver.h"
#include "bridge/disk/readahead.h"
#include "tests/leakcheck.h"

static char tmpdir[256];
static struct diskserver srv;
static int srv_running;

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rtb_disktest_XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	srv_running = 0;
}

static void teardown(void)
{
	if (srv_running)
		cr_expect_eq(diskserver_stop(&srv), 0, "streams left open");
	srv_running = 0;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void)!system(cmd);
}

static void finish(void)
{
	if (srv_running) {
		srv_running = 0;
		cr_assert_eq(diskserver_stop(&srv), 0, "streams left open");
	}
	LEAKCHECK();
}

static void start_server(const struct diskfaults *faults)
{
	static const struct diskfaults none = {0};
	struct diskserver_opts o = {.faults = faults ? faults : &none};
	cr_assert_eq(diskserver_start(&srv, &o), 0, "%s",
	             diskserver_error(&srv));
	srv_running = 1;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
	                      .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
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
