/*
 * test_diskfull: full, read-only and slow disks
 *
 * A full disk is a 2 MB tmpfs, a read-only disk a read-only bind mount,
 * both in a mount namespace of the test's own (they vanish with the test
 * process; creating them needs root, the tests skip with the reason
 * otherwise). A slow disk is RTBRIDGE_FAULTS' disk_latency_ms. Checked:
 * a recording that fills its disk keeps a valid file with exactly the
 * frames reported, says so, drops the rest and counts it, while the other
 * streams go on; an unwritable target is refused up front with one line;
 * sixteen archives open on a disk that takes 8 ms per request; a wait
 * that does time out names the file and how long it waited.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge/audio/disksource.h"
#include "bridge/audio/disktap.h"
#include "bridge/disk/diskcheck.h"
#include "bridge/disk/writebehind.h"
#include "bridge/rtcheck/rthook.h"
#include "tests/disk_fixture.h"
#include "tests/rtcheck_assert.h"

#define RATE 48000

static char mounted[300];

/* This process's own mount namespace, private so nothing leaks out;
 * skips the test when it cannot have one. */
static void own_mounts_or_skip(void)
{
	if (unshare(CLONE_NEWNS) != 0)
		cr_skip_test("needs root (CAP_SYS_ADMIN) for a private mount "
		             "namespace: %s",
		             strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0, "%s",
	             strerror(errno));
}

static void unmount_all(void)
{
	if (mounted[0])
		umount2(mounted, MNT_DETACH);
	mounted[0] = '\0';
}

static void setup_mounts(void)
{
	mounted[0] = '\0';
	setup();
}

static void teardown_mounts(void)
{
	unmount_all();
	teardown();
}

/* A 24-bit sample of frame i, channel c, and the same as float (exact). */
static int i24(uint64_t i, int c)
{
	uint32_t h = (uint32_t)(i * 2654435761u) ^ (uint32_t)(c * 0x9e3779b9u);
	return (int)(h & 0xffffff) - (1 << 23);
}

static float v24(uint64_t i, int c)
{
	return (float)i24(i, c) / 8388608.0f;
}

/* The file has `frames` frames of v24 and nothing else; its size is the
 * header of an empty file of the same format plus the frames. */
static void check_exact(const char *path, uint64_t frames, off_t header)
{
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	cr_assert_not_null(sf, "%s: %s", path, sf_strerror(NULL));
	cr_assert_eq(info.frames, (sf_count_t)frames,
	             "%s: %lld frames, not %llu", path, (long long)info.frames,
	             (unsigned long long)frames);
	int buf[2 * 4096];
	for (uint64_t i = 0; i < frames;) {
		sf_count_t n = sf_readf_int(sf, buf, 4096);
		cr_assert_gt(n, 0);
		for (sf_count_t k = 0; k < n; k++)
			for (int c = 0; c < 2; c++)
				cr_assert_eq(
				        buf[2 * k + c] / 256,
				        i24(i + (uint64_t)k, c),
				        "%s: frame %llu", path,
				        (unsigned long long)(i + (uint64_t)k));
		i += (uint64_t)n;
	}
	sf_close(sf);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq((uint64_t)(st.st_size - header), frames * 6,
	             "%s: %lld bytes for %llu frames", path,
	             (long long)st.st_size, (unsigned long long)frames);
}

static off_t empty_header(void)
{
	char p[300];
	path_in(p, sizeof(p), "empty.wav");
	SF_INFO info = {.samplerate = RATE,
	                .channels = 2,
	                .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
	SNDFILE *sf = sf_open(p, SFM_WRITE, &info);
	cr_assert_not_null(sf);
	sf_close(sf);
	struct stat st;
	cr_assert_eq(stat(p, &st), 0);
	return st.st_size;
}

TestSuite(diskfull, .init = setup_mounts, .fini = teardown_mounts,
          .timeout = 60);

Test(diskfull, a_full_disk_ends_one_recording_with_an_exact_file_others_go_on)
{
	enum { FRAMES = 500000 }; /* 3 MB of 24-bit stereo: more than fits */
	own_mounts_or_skip();
	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	path_in(mounted, sizeof(mounted), "small");
	cr_assert_eq(mkdir(mounted, 0755), 0);
	cr_assert_eq(mount("tmpfs", mounted, "tmpfs", 0, "size=2m"), 0, "%s",
	             strerror(errno));
	/* A page taken by another file: the disk fills inside a frame. */
	char filler[320], full[320], other[300], arch[300];
	snprintf(filler, sizeof(filler), "%s/filler", mounted);
	snprintf(full, sizeof(full), "%s/full.wav", mounted);
	path_in(other, sizeof(other), "other.wav");
	path_in(arch, sizeof(arch), "arch.wav");
	FILE *fp = fopen(filler, "w");
	cr_assert_not_null(fp);
	fputs("x", fp);
	fclose(fp);
	write_pattern(arch, 3 * RATE, 1, RATE);
	off_t header = empty_header();
	start_server(NULL);

	/* The recorder on the small disk goes through the tap (the audio
	 * thread's path), the other through a plain write-behind stream. */
	static struct disktap tap;
	struct disktap_opts to = {.channels = 2,
	                          .rate = RATE,
	                          .encoding = DISKFILE_ENC_PCM24,
	                          .buffer_s = 20.0};
	cr_assert_eq(disktap_open(&tap, &srv, full, &to), 0);
	cr_assert_eq(disktap_wait_open(&tap, 5000), 0, "%s",
	             disktap_error(&tap));
	struct writebehind_opts wo = {.encoding = DISKFILE_ENC_PCM24,
	                              .buffer_s = 20.0};
	struct writebehind *w;
	cr_assert_eq(writebehind_open(&srv, other, 2, RATE, &wo, &w), 0);
	cr_assert_eq(writebehind_wait_open(w, 5000), 0);
	cr_assert_eq(disktap_state(&tap), WRITEBEHIND_RECORDING);

	static float x[2 * 1000];
	RTCHECK_RESET();
	for (uint64_t done = 0; done < FRAMES; done += 1000) {
		for (int k = 0; k < 1000; k++)
			for (int c = 0; c < 2; c++)
				x[2 * k + c] = v24(done + (uint64_t)k, c);
		rthook_rt_enter();
		tap.tap.ops->write(&tap.tap, x, 1000);
		cr_assert_eq(writebehind_write(w, x, 1000), 1000);
		rthook_rt_leave();
		if (done % 48000 == 0)
			sleep_ms(2); /* let the disk thread keep up */
	}
	RTCHECK_ASSERT_ZERO();
	for (int i = 0;
	     i < 10000 &&
	     (writebehind_frames_written(w) < FRAMES ||
	      disktap_frames_written(&tap) + disktap_dropped(&tap) < FRAMES);
	     i++) {
		writebehind_flush(w);
		writebehind_flush(tap.wb);
		sleep_ms(1);
	}
	/* The state, the count and the message, from the control thread,
	 * with the recording still open. */
	cr_assert_eq(disktap_state(&tap), WRITEBEHIND_DISK_FULL);
	uint64_t n = disktap_frames_written(&tap);
	cr_assert(n > 300000 && n < 350000, "%llu frames",
	          (unsigned long long)n);
	char want[64];
	snprintf(want, sizeof(want), "disk full after %llu frames",
	         (unsigned long long)n);
	cr_assert(strstr(disktap_error(&tap), want) &&
	                  strstr(disktap_error(&tap), full) &&
	                  !strchr(disktap_error(&tap), '\n'),
	          "%s", disktap_error(&tap));
	cr_assert_eq(disktap_dropped(&tap), FRAMES - n);
	check_exact(full, n, header); /* valid already, before the close */

	/* The disk server serves everyone else: the other recording and a
	 * reader. */
	struct readahead_opts ro = {.channels = 1};
	struct readahead *ra;
	cr_assert_eq(readahead_open(&srv, arch, &ro, &ra), 0);
	cr_assert_eq(wait_state(ra, READAHEAD_STREAMING, 5000),
	             READAHEAD_STREAMING);
	static float y[3 * RATE];
	cr_assert_eq(readahead_read(ra, y, 2 * RATE), 2 * RATE);
	for (int i = 0; i < 2 * RATE; i++)
		cr_assert_eq(y[i], expect((uint64_t)i, 0));
	readahead_close(ra);

	disktap_close(&tap);
	cr_assert_eq(disktap_wait_closed(&tap, 10000), -ENOSPC);
	cr_assert_eq(disktap_state(&tap), WRITEBEHIND_DISK_FULL);
	cr_assert_eq(tap.result.frames, n);
	cr_assert_eq(tap.result.frames + tap.result.dropped, FRAMES);
	cr_assert_str_eq(disktap_error(&tap), tap.result.message);
	struct writebehind_result r;
	cr_assert_eq(writebehind_close(w, &r), 0);
	cr_assert_eq(writebehind_wait_closed(&r, 10000), 0, "%s", r.message);
	cr_assert_eq(r.frames, FRAMES);
	cr_assert_eq(r.dropped, 0);
	finish();
	check_exact(full, n, header);
	check_exact(other, FRAMES, header);
	unmount_all();
}

TestSuite(readonly, .init = setup_mounts, .fini = teardown_mounts,
          .timeout = 30);

Test(readonly, a_read_only_target_is_refused_with_one_clear_line)
{
	own_mounts_or_skip();
	char rw[300], ro[300], p[400];
	path_in(rw, sizeof(rw), "rw");
	path_in(ro, sizeof(ro), "ro");
	cr_assert_eq(mkdir(rw, 0755), 0);
	cr_assert_eq(mkdir(ro, 0755), 0);
	cr_assert_eq(mount(rw, ro, NULL, MS_BIND, NULL), 0, "%s",
	             strerror(errno));
	snprintf(mounted, sizeof(mounted), "%s", ro);
	cr_assert_eq(
	        mount(NULL, ro, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL),
	        0, "%s", strerror(errno));
	char msg[512];
	cr_assert_eq(diskcheck_dir(ro, msg, sizeof(msg)), -EROFS, "%s", msg);
	cr_assert(strstr(msg, ro) && strstr(msg, "Read-only file system") &&
	                  !strchr(msg, '\n'),
	          "%s", msg);
	snprintf(p, sizeof(p), "%s/x.wav", ro);
	cr_assert_eq(diskcheck_file(p, msg, sizeof(msg)), -EROFS, "%s", msg);
	cr_assert(strstr(msg, p) && strstr(msg, "Read-only file system"), "%s",
	          msg);
	/* The same directory, writable: accepted, and nothing left in it. */
	cr_assert_eq(diskcheck_dir(rw, msg, sizeof(msg)), 0, "%s", msg);
	snprintf(p, sizeof(p), "%s/x.wav", rw);
	cr_assert_eq(diskcheck_file(p, msg, sizeof(msg)), 0, "%s", msg);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s')\"", rw);
	cr_assert_eq(system(cmd), 0, "the probe file was removed");
	/* And what the disk thread says if one tries anyway. */
	start_server(NULL);
	snprintf(p, sizeof(p), "%s/y.wav", ro);
	struct writebehind *w;
	cr_assert_eq(writebehind_open(&srv, p, 2, RATE, NULL, &w), 0);
	cr_assert_eq(writebehind_wait_open(w, 5000), -EROFS);
	cr_assert_eq(writebehind_state(w), WRITEBEHIND_FAILED);
	cr_assert(strstr(writebehind_error(w), p) &&
	                  strstr(writebehind_error(w), "Read-only file system"),
	          "%s", writebehind_error(w));
	cr_assert_eq(writebehind_close(w, NULL), 0);
	finish();
	unmount_all();
}

TestSuite(diskcheck, .init = setup, .fini = teardown, .timeout = 30);

Test(diskcheck, refuses_missing_plain_file_unwritable_and_unknown_targets)
{
	char d[300], f[300], p[400], msg[512];
	path_in(d, sizeof(d), "nope");
	cr_assert_eq(diskcheck_dir(d, msg, sizeof(msg)), -ENOENT);
	cr_assert(strstr(msg, d) && strstr(msg, "no such directory"), "%s",
	          msg);
	snprintf(p, sizeof(p), "%s/x.wav", d);
	cr_assert_eq(diskcheck_file(p, msg, sizeof(msg)), -ENOENT);
	cr_assert(strstr(msg, p) && strstr(msg, "no such directory"), "%s",
	          msg);
	path_in(f, sizeof(f), "plain");
	FILE *fp = fopen(f, "w");
	cr_assert_not_null(fp);
	fclose(fp);
	cr_assert_eq(diskcheck_dir(f, msg, sizeof(msg)), -ENOTDIR);
	cr_assert(strstr(msg, f) && strstr(msg, "not a directory"), "%s", msg);
	path_in(p, sizeof(p), "x.mp4");
	cr_assert_eq(diskcheck_file(p, msg, sizeof(msg)), -EINVAL);
	cr_assert(strstr(msg, p) && strstr(msg, "unknown extension 'mp4'"),
	          "%s", msg);
	path_in(p, sizeof(p), "dir.wav");
	cr_assert_eq(mkdir(p, 0755), 0);
	cr_assert_eq(diskcheck_file(p, msg, sizeof(msg)), -EISDIR, "%s", msg);
	cr_assert_eq(diskcheck_dir(tmpdir, msg, sizeof(msg)), 0, "%s", msg);
	/* No permission: as an unprivileged user (file system uid only, for
	 * this thread) in a directory only root may write. */
	path_in(d, sizeof(d), "locked");
	cr_assert_eq(mkdir(d, 0755), 0);
	if (geteuid() != 0) {
		cr_assert_eq(chmod(d, 0555), 0);
	} else {
		cr_assert_eq(chmod(tmpdir, 0755), 0);
		setfsuid(65534);
	}
	int rc = diskcheck_dir(d, msg, sizeof(msg));
	if (geteuid() == 0)
		setfsuid(0);
	cr_assert_eq(rc, -EACCES, "%s", msg);
	cr_assert(strstr(msg, d) && strstr(msg, "Permission denied"), "%s",
	          msg);
	chmod(d, 0755);
	finish();
}

TestSuite(slowdisk, .init = setup, .fini = teardown, .timeout = 60);

Test(slowdisk, sixteen_archives_open_on_a_disk_taking_8_ms_per_request)
{
	enum { N = 16 };
	struct diskfaults f;
	cr_assert_eq(diskfaults_parse("disk_latency_ms=8", &f, NULL, 0), 0);
	start_server(&f);
	char path[N][300];
	static struct disksource s[N];
	struct disksource_opts so = {.channels = 2, .rate = RATE};
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "a%02d.wav", i);
		path_in(path[i], sizeof(path[i]), name);
		write_pattern(path[i], 3 * RATE, 2, RATE);
	}
	int64_t t0 = diskserver_monotonic_ns();
	for (int i = 0; i < N; i++)
		cr_assert_eq(disksource_open(&s[i], &srv, path[i], &so), 0);
	/* As `play` does: each waited for in turn, 10 s each at most. */
	for (int i = 0; i < N; i++)
		cr_assert_eq(disksource_wait_ready(&s[i], 10000), 0, "%s",
		             disksource_error(&s[i]));
	double secs = (double)(diskserver_monotonic_ns() - t0) / 1e9;
	uint64_t req = atomic_load(&srv.requests);
	cr_log_info("16 archives ready in %.2f s, %llu disk requests", secs,
	            (unsigned long long)req);
	/* An open and the 2 s read-ahead (8 blocks, 4 per request) each. */
	cr_assert_leq(req, N * 3);
	for (int i = 0; i < N; i++)
		disksource_close(&s[i]);
	finish();
}

/* The seconds in "... after 1.2 s", or -1. */
static double waited_s(const char *msg)
{
	const char *p = strstr(msg, "after ");
	char *end = NULL;
	double v = p ? strtod(p + 6, &end) : -1;
	return p && end && strcmp(end, " s") == 0 ? v : -1;
}

Test(slowdisk, a_wait_that_times_out_names_the_file_and_the_time)
{
	struct diskfaults f;
	cr_assert_eq(diskfaults_parse("disk_latency_ms=400", &f, NULL, 0), 0);
	start_server(&f);
	char a[300], rec[300];
	path_in(a, sizeof(a), "slow.wav");
	path_in(rec, sizeof(rec), "rec.wav");
	write_pattern(a, RATE, 2, RATE);
	static struct disksource s;
	static struct disktap t;
	struct disksource_opts so = {
	        .channels = 2, .rate = RATE, .prefetch_s = 0.1};
	cr_assert_eq(disksource_open(&s, &srv, a, &so), 0);
	cr_assert_eq(disksource_wait_ready(&s, 100), -ETIMEDOUT);
	const char *e = disksource_error(&s);
	cr_assert(strstr(e, a) && strstr(e, "disk too slow") &&
	                  !strchr(e, '\n'),
	          "%s", e);
	cr_assert_geq(waited_s(e), 0.1, "%s", e);
	struct disktap_opts to = {.channels = 2, .rate = RATE};
	cr_assert_eq(disktap_open(&t, &srv, rec, &to), 0);
	cr_assert_eq(disktap_wait_open(&t, 50), -ETIMEDOUT);
	e = disktap_error(&t);
	cr_assert(strstr(e, rec) && strstr(e, "disk too slow: not created") &&
	                  !strchr(e, '\n'),
	          "%s", e);
	cr_assert_geq(waited_s(e), 0.05, "%s", e);
	/* Given time, both get there, and the messages go. */
	cr_assert_eq(disksource_wait_ready(&s, 10000), 0, "%s",
	             disksource_error(&s));
	cr_assert_str_empty(disksource_error(&s));
	cr_assert_eq(disktap_wait_open(&t, 10000), 0);
	disksource_close(&s);
	disktap_close(&t);
	cr_assert_eq(disktap_wait_closed(&t, 10000), 0);
	finish();
}
