/*
 * Tests of the disk server's parts: the earliest-deadline-first heap, the
 * RTBRIDGE_FAULTS parser, and the running server (request order under
 * load, error results, shutdown with streams still open).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/disk/diskfaults.h"
#include "bridge/disk/diskserver.h"
#include "bridge/disk/edfheap.h"
#include "bridge/disk/readahead.h"
#include "tests/leakcheck.h"

static char tmpdir[256];

static void setup_tmp(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rtb_diskserver_XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown_tmp(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void)!system(cmd);
}

/* End of a test: check that nothing leaked. */
static void finish(void)
{
	LEAKCHECK();
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
	                      .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void write_wav(const char *path, long frames)
{
	SF_INFO info = {.samplerate = 48000,
	                .channels = 1,
	                .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	cr_assert_not_null(sf, "%s", sf_strerror(NULL));
	float buf[1000];
	for (long i = 0; i < frames; i += 1000) {
		long n = frames - i < 1000 ? frames - i : 1000;
		for (long k = 0; k < n; k++)
			buf[k] = (float)((i + k) % 1000) / 1000.0f;
		sf_writef_float(sf, buf, n);
	}
	sf_close(sf);
}

TestSuite(edfheap, .timeout = 10);

Test(edfheap, pops_earliest_deadline_and_keeps_push_order_on_ties)
{
	struct edfheap_entry mem[64];
	struct edfheap h;
	cr_assert_eq(edfheap_init(&h, mem, 64), 0);
	unsigned seed = 12345;
	int64_t keys[64];
	for (int i = 0; i < 64; i++) {
		seed = seed * 1103515245u + 12345u;
		keys[i] = (seed >> 16) % 8; /* many ties */
		struct msg m = {.cmd = 1, .arg = i};
		cr_assert_eq(edfheap_push(&h, keys[i], &m), 0);
	}
	struct msg extra = {.cmd = 1};
	cr_assert_eq(edfheap_push(&h, 0, &extra), -ENOSPC);
	int64_t last_key = INT64_MIN;
	int last_arg = -1;
	for (int i = 0; i < 64; i++) {
		struct msg m;
		int64_t k;
		cr_assert(edfheap_pop(&h, &m, &k));
		cr_assert_eq(k, keys[m.arg]);
		cr_assert_geq(k, last_key);
		if (k == last_key)
			cr_assert_gt(m.arg, last_arg,
			             "ties must leave in push order");
		last_key = k;
		last_arg = m.arg;
	}
	struct msg m;
	cr_assert_not(edfheap_pop(&h, &m, NULL));
	finish();
}

TestSuite(diskfaults, .timeout = 10);

Test(diskfaults, parses_all_keys)
{
	struct diskfaults f;
	char err[200] = "";
	cr_assert_eq(diskfaults_parse("disk_stall_ms=50,disk_stall_every=4,"
	                              "disk_error_after=9",
	                              &f, err, sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(f.stall_ms, 50);
	cr_assert_eq(f.stall_every, 4);
	cr_assert_eq(f.error_after, 9);
	int fail;
	cr_assert_eq(diskfaults_for(&f, 3, &fail), 0);
	cr_assert_eq(fail, 0);
	cr_assert_eq(diskfaults_for(&f, 8, &fail), 50);
	cr_assert_eq(diskfaults_for(&f, 9, &fail), 0);
	cr_assert_eq(fail, 1);
	cr_assert_eq(diskfaults_for(&f, 10, &fail), 0);
	cr_assert_eq(fail, 0, "only the K-th request fails");
	finish();
}

Test(diskfaults, stall_without_every_stalls_each_request)
{
	struct diskfaults f;
	cr_assert_eq(diskfaults_parse("disk_stall_ms=7", &f, NULL, 0), 0);
	int fail;
	cr_assert_eq(diskfaults_for(&f, 1, &fail), 7);
	cr_assert_eq(diskfaults_for(&f, 2, &fail), 7);
	finish();
}

Test(diskfaults, empty_and_null_mean_no_faults)
{
	struct diskfaults f = {1, 1, 1};
	cr_assert_eq(diskfaults_parse(NULL, &f, NULL, 0), 0);
	cr_assert_eq(f.stall_ms + f.stall_every + f.error_after, 0);
	cr_assert_eq(diskfaults_parse("", &f, NULL, 0), 0);
	cr_assert_eq(f.stall_ms, 0);
	finish();
}

Test(diskfaults, rejects_bad_input_with_one_clear_message)
{
	const char *bad[] = {"disk_stall_ms",
	                     "disk_stall_ms=",
	                     "disk_stall_ms=abc",
	                     "disk_stall_ms=-1",
	                     "disk_stall_ms=70000",
	                     "disk_stall_every=0",
	                     "disk_error_after=0",
	                     "disk_stalls=5",
	                     "disk_stall_ms=5;disk_stall_every=2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct diskfaults f;
		char err[200] = "";
		cr_assert_eq(diskfaults_parse(bad[i], &f, err, sizeof(err)),
		             -EINVAL, "accepted '%s'", bad[i]);
		cr_assert(strstr(err, "RTBRIDGE_FAULTS") != NULL,
		          "message '%s'", err);
		cr_assert(strchr(err, '\n') == NULL);
	}
	finish();
}

TestSuite(diskserver, .init = setup_tmp, .fini = teardown_tmp, .timeout = 60);

Test(diskserver, start_fails_on_bad_environment)
{
	setenv(DISKFAULTS_ENV, "disk_stall_ms=oops", 1);
	struct diskserver srv;
	cr_assert_eq(diskserver_start(&srv, NULL), -EINVAL);
	cr_assert(strstr(diskserver_error(&srv), "disk_stall_ms=oops") != NULL,
	          "%s", diskserver_error(&srv));
	unsetenv(DISKFAULTS_ENV);
	cr_assert_eq(diskserver_start(&srv, NULL), 0);
	cr_assert_eq(diskserver_stop(&srv), 0);
	finish();
}

Test(diskserver, reads_environment_faults)
{
	setenv(DISKFAULTS_ENV, "disk_stall_ms=3,disk_stall_every=2", 1);
	struct diskserver srv;
	cr_assert_eq(diskserver_start(&srv, NULL), 0);
	unsetenv(DISKFAULTS_ENV);
	cr_assert_eq(srv.faults.stall_ms, 3);
	cr_assert_eq(srv.faults.stall_every, 2);
	diskserver_stop(&srv);
	finish();
}

/* Trace of served reads: which stream, which position. */
struct trace {
	pthread_mutex_t lock;
	int n;
	const void *file[256];
	uint64_t pos[256];
};

static void trace_fn(void *arg, const struct msg *req, int64_t key)
{
	(void)key;
	struct trace *t = arg;
	if (req->cmd != DISKSERVER_READ)
		return;
	const struct disk_block *b = req->ptr;
	pthread_mutex_lock(&t->lock);
	if (t->n < 256) {
		t->file[t->n] = b->file;
		t->pos[t->n] = b->pos;
		t->n++;
	}
	pthread_mutex_unlock(&t->lock);
}

static int wait_state(struct readahead *s, int want, int ms)
{
	for (int i = 0; i < ms; i++) {
		int st = readahead_poll(s);
		if (st == want || st == READAHEAD_ERROR)
			return st;
		sleep_ms(1);
	}
	return readahead_poll(s);
}

Test(diskserver, serves_the_most_urgent_stream_first)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/a.wav", tmpdir);
	write_wav(path, 48000 * 3);
	struct trace t = {.lock = PTHREAD_MUTEX_INITIALIZER};
	/* Every block request takes 25 ms: requests pile up in the heap. */
	struct diskfaults faults = {.stall_ms = 25, .stall_every = 1};
	struct diskserver_opts o = {
	        .faults = &faults, .trace = trace_fn, .trace_arg = &t};
	struct diskserver srv;
	cr_assert_eq(diskserver_start(&srv, &o), 0);

	/* A: 16 blocks of read-ahead; its later blocks are due far ahead. */
	struct readahead_opts oa = {.channels = 1,
	                            .prefetch_s = 16 * 1024 / 48000.0,
	                            .block_frames = 1024};
	struct readahead *a, *b;
	cr_assert_eq(readahead_open(&srv, path, &oa, &a), 0);
	sleep_ms(40);
	/* B: one block, due now. */
	struct readahead_opts ob = {
	        .channels = 1, .prefetch_s = 0.001, .block_frames = 1024};
	cr_assert_eq(readahead_open(&srv, path, &ob, &b), 0);
	cr_assert_eq(wait_state(b, READAHEAD_STREAMING, 3000),
	             READAHEAD_STREAMING);
	cr_assert_eq(wait_state(a, READAHEAD_STREAMING, 3000),
	             READAHEAD_STREAMING);
	const void *fa = &a->file, *fb = &b->file;
	readahead_close(a);
	readahead_close(b);
	cr_assert_eq(diskserver_stop(&srv), 0);

	int b_at = -1, a_total = 0, a_before_b = 0;
	for (int i = 0; i < t.n; i++) {
		if (t.file[i] == fb && b_at < 0)
			b_at = i;
		if (t.file[i] == fa) {
			a_total++;
			if (b_at < 0)
				a_before_b++;
			else
				cr_assert(
				        i == 0 || t.file[i - 1] != fa ||
				                t.pos[i] > t.pos[i - 1],
				        "one stream's blocks keep their order");
		}
	}
	cr_assert_geq(b_at, 0);
	cr_assert_geq(a_total, 16);
	/* B arrived while A's first blocks were being served; it must not
	 * wait behind A's whole read-ahead. */
	cr_assert_lt(a_before_b, 8, "B served after %d of A's blocks",
	             a_before_b);
	finish();
}

Test(diskserver, stop_closes_streams_left_open)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/b.wav", tmpdir);
	write_wav(path, 48000);
	struct diskserver srv;
	struct diskfaults none = {0};
	struct diskserver_opts o = {.faults = &none};
	cr_assert_eq(diskserver_start(&srv, &o), 0);
	struct readahead *s;
	cr_assert_eq(readahead_open(&srv, path, NULL, &s), 0);
	/* Owner bug: never closed. The server frees it (ASan checks). */
	cr_assert_eq(diskserver_stop(&srv), 1);
	finish();
}

Test(diskserver, stop_with_requests_in_flight_frees_everything)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/c.wav", tmpdir);
	write_wav(path, 48000 * 2);
	struct diskfaults faults = {.stall_ms = 5, .stall_every = 1};
	struct diskserver_opts o = {.faults = &faults};
	struct diskserver srv;
	cr_assert_eq(diskserver_start(&srv, &o), 0);
	struct readahead *s[4];
	for (int i = 0; i < 4; i++)
		cr_assert_eq(readahead_open(&srv, path, NULL, &s[i]), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(readahead_close(s[i]), 0);
	cr_assert_eq(diskserver_stop(&srv), 0);
	finish();
}
