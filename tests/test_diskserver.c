/*
 * Tests of the disk server's parts: the earliest-deadline-first heap, the
 * RTBRIDGE_FAULTS parser, and the running server (request order under
 * load, error results, shutdown with streams still open).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
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
#include "bridge/disk/writebehind.h"
#include "tests/disk_util.h"
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
	struct diskfaults f = {1, 1, 1, 1, 1};
	cr_assert_eq(diskfaults_parse(NULL, &f, NULL, 0), 0);
	cr_assert_eq(f.stall_ms + f.stall_every + f.error_after + f.latency_ms +
	                     f.stall_period_ms,
	             0);
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

Test(diskfaults, parses_latency_and_stall_period)
{
	struct diskfaults f;
	char err[200] = "";
	cr_assert_eq(diskfaults_parse("disk_latency_ms=10,disk_stall_ms=300,"
	                              "disk_stall_period_ms=1000",
	                              &f, err, sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(f.latency_ms, 10);
	cr_assert_eq(f.stall_ms, 300);
	cr_assert_eq(f.stall_period_ms, 1000);
	cr_assert_eq(f.stall_every, 0, "a period replaces the block count");
	int fail;
	for (uint64_t n = 1; n < 100; n++)
		cr_assert_eq(diskfaults_for(&f, n, &fail), 0);
	cr_assert_eq(diskfaults_parse("disk_latency_ms=8", &f, NULL, 0), 0);
	cr_assert_eq(f.latency_ms, 8);
	cr_assert_eq(f.stall_ms + f.stall_every + f.stall_period_ms, 0);
	const char *bad[] = {"disk_latency_ms=60001", "disk_stall_period_ms=0",
	                     "disk_stall_period_ms=1000",
	                     "disk_stall_ms=5,disk_stall_every=2,"
	                     "disk_stall_period_ms=100"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(diskfaults_parse(bad[i], &f, err, sizeof(err)),
		             -EINVAL, "accepted '%s'", bad[i]);
		cr_assert(strstr(err, "RTBRIDGE_FAULTS: ") == err, "%s", err);
	}
	finish();
}

Test(diskfaults, period_stall_hits_the_first_request_of_each_period_once)
{
	struct diskfaults f = {.stall_ms = 300, .stall_period_ms = 1000};
	const int64_t ms = 1000000;
	int64_t next = 1000 * ms; /* started at 0 */
	cr_assert_eq(diskfaults_period_stall(&f, 0, &next), 0);
	cr_assert_eq(diskfaults_period_stall(&f, 999 * ms, &next), 0);
	cr_assert_eq(diskfaults_period_stall(&f, 1000 * ms, &next), 300);
	cr_assert_eq(next, 2000 * ms);
	cr_assert_eq(diskfaults_period_stall(&f, 1300 * ms, &next), 0,
	             "once per period");
	cr_assert_eq(diskfaults_period_stall(&f, 2500 * ms, &next), 300);
	/* An idle disk misses boundaries: one stall, not one per boundary. */
	cr_assert_eq(diskfaults_period_stall(&f, 7200 * ms, &next), 300);
	cr_assert_eq(next, 8000 * ms);
	cr_assert_eq(diskfaults_period_stall(&f, 7999 * ms, &next), 0);
	struct diskfaults none = {.stall_ms = 300};
	int64_t n2 = 0;
	cr_assert_eq(diskfaults_period_stall(&none, 5000 * ms, &n2), 0);
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

/* A virtual disk: time stands still but for the injected delays, which
 * pass at once. */
static _Atomic int64_t vdisk_ns;

static int64_t vdisk_clock(void *arg)
{
	(void)arg;
	return atomic_load(&vdisk_ns);
}

static void vdisk_sleep(void *arg, int64_t ns)
{
	(void)arg;
	atomic_fetch_add(&vdisk_ns, ns);
}

Test(diskserver, latency_costs_every_request_and_stalls_come_once_per_period)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/lat.wav", tmpdir);
	atomic_store(&vdisk_ns, 0);
	struct diskfaults faults;
	cr_assert_eq(diskfaults_parse("disk_latency_ms=10,disk_stall_ms=50,"
	                              "disk_stall_period_ms=100",
	                              &faults, NULL, 0),
	             0);
	struct diskserver_opts o = {.faults = &faults,
	                            .coalesce_max = 1,
	                            .clock = vdisk_clock,
	                            .sleep = vdisk_sleep};
	struct diskserver srv;
	cr_assert_eq(diskserver_start(&srv, &o), 0);
	struct writebehind_opts wo = {.block_frames = 1000, .buffer_s = 3.0};
	struct writebehind *w;
	cr_assert_eq(writebehind_open(&srv, path, 1, 48000, &wo, &w), 0);
	float x[1000] = {0};
	for (int i = 0; i < 120; i++)
		cr_assert_eq(writebehind_write(w, x, 1000), 1000);
	struct writebehind_result r;
	cr_assert_eq(writebehind_close(w, &r), 0);
	cr_assert_eq(writebehind_wait_closed(&r, 10000), 0, "%s", r.message);
	cr_assert_eq(r.frames, 120000);
	cr_assert_eq(diskserver_stop(&srv), 0);
	/* One open and 120 single-block writes, 10 ms each, back to back in
	 * virtual time; every 100 ms the next request stalls 50 ms. */
	int64_t req = (int64_t)atomic_load(&srv.requests);
	int64_t stalls = (int64_t)atomic_load(&srv.stalls);
	int64_t t_ms = atomic_load(&vdisk_ns) / 1000000;
	cr_assert_eq(req, 121);
	cr_assert_eq(t_ms, 10 * req + 50 * stalls, "%lld ms", (long long)t_ms);
	cr_assert(stalls >= t_ms / 100 - 1 && stalls <= t_ms / 100,
	          "%lld stalls in %lld ms", (long long)stalls, (long long)t_ms);
	finish();
}

/* Holds the disk thread in the first open it serves until released, so
 * that the test can queue requests behind it. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int open;
	int closed_once;
};

static void gate_trace(void *arg, const struct msg *req, int64_t key)
{
	(void)key;
	struct gate *g = arg;
	if (req->cmd != DISKSERVER_OPEN_READ &&
	    req->cmd != DISKSERVER_OPEN_WRITE)
		return;
	pthread_mutex_lock(&g->lock);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	g->open = 0; /* the next open waits again */
	pthread_mutex_unlock(&g->lock);
}

static void gate_release(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = 1;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

Test(diskserver, coalesces_waiting_blocks_of_a_stream_into_one_request)
{
	char wpath[300], rpath[300];
	snprintf(wpath, sizeof(wpath), "%s/co.wav", tmpdir);
	snprintf(rpath, sizeof(rpath), "%s/ci.wav", tmpdir);
	write_wav(rpath, 48000);
	struct gate g = {.lock = PTHREAD_MUTEX_INITIALIZER,
	                 .cond = PTHREAD_COND_INITIALIZER};
	struct diskfaults none = {0};
	struct diskserver_opts o = {
	        .faults = &none, .trace = gate_trace, .trace_arg = &g};
	struct diskserver srv;
	cr_assert_eq(diskserver_start(&srv, &o), 0);

	/* Writes: 10 blocks queue behind the open: 4 + 4 + 2. */
	struct writebehind_opts wo = {.block_frames = 1000, .buffer_s = 1.0};
	struct writebehind *w;
	cr_assert_eq(writebehind_open(&srv, wpath, 1, 48000, &wo, &w), 0);
	float x[10000];
	for (int i = 0; i < 10000; i++)
		x[i] = (float)(i % 1000 - 500) / 32768.0f;
	cr_assert_eq(writebehind_write(w, x, 10000), 10000);
	gate_release(&g);
	for (int i = 0; i < 5000 && writebehind_frames_written(w) < 10000; i++)
		sleep_ms(1);
	cr_assert_eq(atomic_load(&w->file.requests), 4, "open + 3 writes");

	/* Reads: the 8 blocks of the read-ahead queue behind the open; only
	 * consecutive blocks join, four at most. */
	struct readahead_opts ro = {.channels = 1,
	                            .prefetch_s = 8000 / 48000.0,
	                            .block_frames = 1000};
	struct readahead *ra;
	cr_assert_eq(readahead_open(&srv, rpath, &ro, &ra), 0);
	gate_release(&g);
	cr_assert_eq(wait_state(ra, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	cr_assert_eq(atomic_load(&ra->file.requests), 3, "open + 2 reads");
	float y[8000];
	cr_assert_eq(readahead_read(ra, y, 8000), 8000);
	for (int i = 0; i < 8000; i++)
		cr_assert_eq(y[i], (float)(i % 1000) / 1000.0f, "frame %d", i);
	readahead_close(ra);
	struct writebehind_result r;
	cr_assert_eq(writebehind_close(w, &r), 0);
	cr_assert_eq(diskserver_stop(&srv), 0);
	cr_assert_eq(r.frames, 10000);
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(wpath, SFM_READ, &info);
	cr_assert_not_null(sf);
	float z[10000];
	cr_assert_eq(sf_readf_float(sf, z, 10000), 10000);
	sf_close(sf);
	for (int i = 0; i < 10000; i++)
		cr_assert_eq(z[i], x[i], "written frame %d", i);
	finish();
}

static _Atomic int wakeups;

static void count_idle(void *arg, int idle)
{
	(void)arg;
	if (!idle)
		atomic_fetch_add(&wakeups, 1);
}

Test(diskserver, sleeps_until_woken_with_no_stream_and_polls_by_slack_with_one)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/idle.wav", tmpdir);
	struct diskfaults none = {0};
	struct diskserver_opts o = {.faults = &none, .idle = count_idle};
	struct diskserver srv;
	atomic_store(&wakeups, 0);
	cr_assert_eq(diskserver_start(&srv, &o), 0);
	sleep_ms(300);
	cr_assert_eq(atomic_load(&wakeups), 0, "no stream: no wake-up at all");
	/* A recorder with the default 2 s buffer: 12000-frame blocks, 1.75 s
	 * of slack, a look every 100 ms (it was every 2 ms). */
	struct writebehind *w;
	cr_assert_eq(writebehind_open(&srv, path, 2, 48000, NULL, &w), 0);
	cr_assert_eq(writebehind_wait_open(w, 5000), 0);
	atomic_store(&wakeups, 0);
	sleep_ms(500);
	int n = atomic_load(&wakeups);
	cr_assert(n >= 1 && n <= 10, "%d wake-ups in 500 ms", n);
	cr_assert_eq(writebehind_close(w, NULL), 0);
	sleep_ms(50);
	atomic_store(&wakeups, 0);
	sleep_ms(300);
	cr_assert_eq(atomic_load(&wakeups), 0, "all closed: asleep again");
	int64_t t0 = diskserver_monotonic_ns();
	cr_assert_eq(diskserver_stop(&srv), 0);
	cr_assert_lt(diskserver_monotonic_ns() - t0, 500000000LL,
	             "stop wakes a sleeping server");
	finish();
}
