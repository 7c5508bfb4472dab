/*
 * Block sizes and request rates: streams with default options size their
 * blocks from their read-ahead or write-behind window, so that each asks
 * the disk at most about 8 times a second, and their real-time side stays
 * free of forbidden calls with the bigger blocks.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>

#include "bridge/disk/readahead.h"
#include "bridge/disk/writebehind.h"
#include "bridge/rtcheck/rthook.h"
#include "tests/disk_fixture.h"
#include "tests/rtcheck_assert.h"

TestSuite(readahead, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(writebehind, .init = setup, .fini = teardown, .timeout = 60);

Test(readahead, default_blocks_follow_the_read_ahead)
{
	start_server(NULL);
	char path[300];
	path_in(path, sizeof(path), "d.wav");
	write_pattern(path, 1000, 1, 48000);
	const struct {
		double prefetch_s;
		uint32_t block;
	} c[] = {
	        {0, 12000},   /* default 2 s: an eighth */
	        {5.0, 30000}, /* an eighth */
	        {0.5, 8192},  /* at least 8192 ... */
	        {0.1, 4800},  /* ... but never more than the read-ahead */
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct readahead_opts o = {.channels = 1,
		                           .prefetch_s = c[i].prefetch_s};
		struct readahead *s;
		cr_assert_eq(readahead_open(&srv, path, &o, &s), 0);
		cr_assert_eq(s->block_frames, c[i].block, "prefetch %.1f s",
		             c[i].prefetch_s);
		cr_assert_geq(s->qcap * s->block_frames, s->prefetch_frames);
		cr_assert_eq(readahead_close(s), 0);
	}
	struct readahead_opts o = {.channels = 1, .block_frames = 1024};
	struct readahead *s;
	cr_assert_eq(readahead_open(&srv, path, &o, &s), 0);
	cr_assert_eq(s->block_frames, 1024, "an explicit size is kept");
	cr_assert_eq(readahead_close(s), 0);
	finish();
}

static _Atomic uint64_t reads_served;

static void count_reads(void *arg, const struct msg *req, int64_t key)
{
	(void)arg;
	(void)key;
	if (req->cmd == DISKSERVER_READ)
		atomic_fetch_add(&reads_served, 1);
}

Test(readahead,
     default_stream_asks_at_most_8_times_per_second_and_stays_rt_safe)
{
	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	struct diskfaults none = {0};
	struct diskserver_opts so = {.faults = &none, .trace = count_reads};
	cr_assert_eq(diskserver_start(&srv, &so), 0);
	srv_running = 1;
	atomic_store(&reads_served, 0);
	char path[300];
	path_in(path, sizeof(path), "rate.wav");
	const long seconds = 10, len = 48000 * seconds;
	write_pattern(path, len, 1, 48000);
	struct readahead_opts o = {.channels = 1}; /* all defaults */
	struct readahead *s;
	cr_assert_eq(readahead_open(&srv, path, &o, &s), 0);
	cr_assert_eq(wait_state(s, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	/* The whole file in 256-frame callbacks, as fast as the disk
	 * allows (the test waits outside the real-time section). */
	RTCHECK_RESET();
	float buf[256];
	uint64_t got = 0;
	int idle = 0;
	while (got < (uint64_t)len) {
		size_t want = len - got < 256 ? (size_t)(len - got) : 256;
		rthook_rt_enter();
		size_t n = readahead_read(s, buf, want);
		for (size_t k = 0; k < n; k++)
			if (buf[k] != expect(got + k, 0))
				idle = 1 << 20;
		rthook_rt_leave();
		cr_assert_lt(idle, 1 << 20, "wrong frame near %llu",
		             (unsigned long long)got);
		got += n;
		if (n == 0) {
			cr_assert_lt(++idle, 5000);
			sleep_ms(1);
		}
	}
	RTCHECK_ASSERT_ZERO();
	uint64_t reads = atomic_load(&reads_served);
	cr_log_info("%llu reads for %ld s of audio (1024-frame blocks: %ld)",
	            (unsigned long long)reads, seconds, len / 1024);
	cr_assert_leq(reads, 8 * (uint64_t)seconds, "%llu reads",
	              (unsigned long long)reads);
	cr_assert_geq(reads, (uint64_t)len / s->block_frames);
	cr_assert_eq(readahead_close(s), 0);
	finish();
}

Test(writebehind, default_blocks_follow_the_buffer_and_the_pool_holds_all_of_it)
{
	start_server(NULL);
	const struct {
		double buffer_s;
		uint32_t block;
		size_t nblocks; /* the buffer in blocks, plus the one filling */
	} c[] = {
	        {0, 12000, 9},   /* default 2 s */
	        {5.0, 30000, 9}, /* an eighth */
	        {0.5, 8192, 4},  /* at least 8192: 24000 frames in 3 */
	        {0.1, 4800, 2},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char path[300];
		path_in(path, sizeof(path), "d.wav");
		struct writebehind_opts o = {.buffer_s = c[i].buffer_s};
		struct writebehind *s;
		cr_assert_eq(writebehind_open(&srv, path, 2, 48000, &o, &s), 0);
		cr_assert_eq(s->block_frames, c[i].block, "buffer %.1f s",
		             c[i].buffer_s);
		cr_assert_eq(s->nblocks, c[i].nblocks, "buffer %.1f s",
		             c[i].buffer_s);
		double buffer = c[i].buffer_s > 0 ? c[i].buffer_s : 2.0;
		cr_assert_geq((double)(s->nblocks - 1) * s->block_frames,
		              buffer * 48000);
		cr_assert_eq(writebehind_close(s, NULL), 0);
	}
	finish();
}

static _Atomic uint64_t writes_served;

static void count_writes(void *arg, const struct msg *req, int64_t key)
{
	(void)arg;
	(void)key;
	if (req->cmd == DISKSERVER_WRITE)
		atomic_fetch_add(&writes_served, 1);
}

Test(writebehind, default_stream_writes_at_most_8_times_per_second_rt_safe)
{
	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	struct diskfaults none = {0};
	struct diskserver_opts so = {.faults = &none, .trace = count_writes};
	cr_assert_eq(diskserver_start(&srv, &so), 0);
	srv_running = 1;
	atomic_store(&writes_served, 0);
	char path[300];
	path_in(path, sizeof(path), "rate.wav");
	struct writebehind_opts o = {.encoding = DISKFILE_ENC_PCM16};
	struct writebehind *s;
	cr_assert_eq(writebehind_open(&srv, path, 1, 48000, &o, &s), 0);
	cr_assert_eq(writebehind_wait_open(s, 5000), 0);
	const size_t seconds = 10, frames = 48000 * seconds;
	float x[128];
	RTCHECK_RESET();
	for (size_t done = 0; done < frames; done += 128) {
		for (int k = 0; k < 128; k++)
			x[k] = (float)((int)((done + k) % 3000) - 1500) /
			       32768.0f;
		rthook_rt_enter();
		size_t n = writebehind_write(s, x, 128);
		rthook_rt_leave();
		/* A test producer may wait for the disk; the real one drops. */
		for (int i = 0; n < 128 && i < 5000; i++) {
			atomic_fetch_sub(&s->dropped_frames, 128 - n);
			sleep_ms(1);
			rthook_rt_enter();
			n += writebehind_write(s, x + n, 128 - n);
			rthook_rt_leave();
		}
		cr_assert_eq(n, 128);
	}
	RTCHECK_ASSERT_ZERO();
	struct writebehind_result r;
	cr_assert_eq(writebehind_close(s, &r), 0);
	cr_assert_eq(writebehind_wait_closed(&r, 10000), 0);
	cr_assert_eq(r.frames, frames);
	cr_assert_eq(r.dropped, 0);
	uint64_t writes = atomic_load(&writes_served);
	cr_log_info("%llu writes for %zu s of audio (1024-frame blocks: %zu)",
	            (unsigned long long)writes, seconds, frames / 1024);
	cr_assert_leq(writes, 8 * seconds + 1);
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	cr_assert_eq(info.frames, (sf_count_t)frames);
	short *y = malloc(frames * sizeof(short));
	cr_assert_eq(sf_readf_short(sf, y, (sf_count_t)frames),
	             (sf_count_t)frames);
	sf_close(sf);
	for (size_t i = 0; i < frames; i++)
		cr_assert_eq(y[i], (short)((int)(i % 3000) - 1500));
	free(y);
	finish();
}
