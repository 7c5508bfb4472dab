/*
 * test_record_disk: recording targets that cannot be written, and disks
 * that fill up, as `rtbridge recv` and `rtbridge play` meet them
 *
 * Refused at start, with exit 2 and one line naming the target: a
 * --record-dir that is missing, not a directory, on a read-only mount (a
 * read-only bind mount in a private mount namespace) or without
 * permission (the program run as nobody), and a --record file in such a
 * place. A disk that fills while recording (a 256 KiB tmpfs in a private
 * mount namespace): the recording on it stops with one line on stderr and
 * a record_stopped line in the stats, its file stays valid with exactly
 * the frame count the summary gives, and everything else goes on: the
 * other recording (on another disk) is complete and bit-exact, the
 * receiver runs to its normal end. The parts that need mounts or another
 * user run as root only, and say so when skipped.
 */
#include "tests/recv_cli_fixture.h"

TestSuite(record_disk, .init = setup, .fini = teardown, .timeout = 60);

static bool is_root(void)
{
	return geteuid() == 0;
}

/* Run rtbridge, expect exit 2 and one stderr line holding every `want`. */
static void expect_refused(const char *const *args, const char *want1,
                           const char *want2)
{
	char out[128], err[128];
	path_in(out, sizeof(out), "out.txt");
	path_in(err, sizeof(err), "err.txt");
	int st = run(RTBRIDGE_PATH, args, out, err);
	const char *e = slurp(err);
	cr_expect_eq(st, 2, "exit %d: %s", st, e);
	cr_expect_eq(count_lines(e), 1, "stderr: %s", e);
	cr_expect(strstr(e, want1) != NULL, "want '%s' in: %s", want1, e);
	cr_expect(!want2 || strstr(e, want2) != NULL, "want '%s' in: %s", want2,
	          e);
}

Test(record_disk, missing_or_non_directory_targets_are_refused_at_start)
{
	char nodir[128], file[128], recfile[160], a[128];
	path_in(nodir, sizeof(nodir), "missing");
	path_in(file, sizeof(file), "plain");
	path_in(a, sizeof(a), "a.wav");
	FILE *f = fopen(file, "w");
	cr_assert_not_null(f);
	fclose(f);
	gensignal(a, 0.2, 1);
	snprintf(recfile, sizeof(recfile), "%s/mix.wav", nodir);

	const char *r1[] = {"recv",      "--listen",     "127.0.0.1:0",
	                    "--no-play", "--record-dir", nodir,
	                    NULL};
	expect_refused(r1, nodir, "no such directory");
	const char *r2[] = {"recv",      "--listen",     "127.0.0.1:0",
	                    "--no-play", "--record-dir", file,
	                    NULL};
	expect_refused(r2, file, "not a directory");
	const char *r3[] = {"recv",     "--listen", "127.0.0.1:0", "--no-play",
	                    "--record", recfile,    NULL};
	expect_refused(r3, recfile, "no such directory");
	const char *p1[] = {"play",     "--no-play", "--fast", a,
	                    "--record", recfile,     NULL};
	expect_refused(p1, recfile, "no such directory");
	/* A directory with a sound file's name. */
	char wavdir[160];
	snprintf(wavdir, sizeof(wavdir), "%s/x.wav", dir);
	cr_assert_eq(mkdir(wavdir, 0755), 0);
	const char *p2[] = {"play",     "--no-play", "--fast", a,
	                    "--record", wavdir,      NULL};
	expect_refused(p2, wavdir, "is a directory");
}

Test(record_disk, a_directory_without_permission_is_refused_at_start)
{
	char locked[128], ready[160];
	path_in(locked, sizeof(locked), "locked");
	cr_assert_eq(mkdir(locked, 0555), 0);
	chmod(dir, 0755); /* nobody may enter the test's directory */
	if (!is_root()) {
		const char *a[] = {"recv",      "--listen",     "127.0.0.1:0",
		                   "--no-play", "--record-dir", locked,
		                   NULL};
		expect_refused(a, locked, "Permission denied");
		return;
	}
	/* Root may write anywhere: run the program as nobody. The program
	   and its library are copied where nobody can read them (the build
	   tree may sit in a private directory, as mktemp -d makes them). */
	char prog[200], lib[200], env[220];
	path_in(prog, sizeof(prog), "rtbridge");
	path_in(lib, sizeof(lib), RTBRIDGE_LIB_SONAME);
	const char *cp_prog[] = {RTBRIDGE_PATH, prog, NULL};
	const char *cp_lib[] = {RTBRIDGE_LIB_PATH, lib, NULL};
	cr_assert_eq(run("/bin/cp", cp_prog, NULL, NULL), 0);
	cr_assert_eq(run("/bin/cp", cp_lib, NULL, NULL), 0);
	snprintf(env, sizeof(env), "LD_LIBRARY_PATH=%s", dir);
	path_in(ready, sizeof(ready), "err.txt");
	char out[128];
	path_in(out, sizeof(out), "out.txt");
	const char *a[] = {"--reuid=65534",
	                   "--regid=65534",
	                   "--clear-groups",
	                   "/usr/bin/env",
	                   env,
	                   prog,
	                   "recv",
	                   "--listen",
	                   "127.0.0.1:0",
	                   "--no-play",
	                   "--record-dir",
	                   locked,
	                   NULL};
	int st = run("/usr/bin/setpriv", a, out, ready);
	const char *e = slurp(ready);
	cr_expect_eq(st, 2, "exit %d: %s", st, e);
	cr_expect_eq(count_lines(e), 1, "stderr: %s", e);
	cr_expect(strstr(e, locked) && strstr(e, "Permission denied"), "%s", e);
}

/* Run `rtbridge ARGS` in a private mount namespace where `mnt` is first
   made a read-only bind mount of itself, or a tmpfs of `tmpfs_kb` KiB;
   what the tmpfs holds at the end is copied to `keep`. Return: the pid
   of the shell running it all. */
static pid_t spawn_mounted(const char *mnt, int tmpfs_kb, const char *keep,
                           const char *const *args, const char *out,
                           const char *err)
{
	char script[1024], size[32];
	snprintf(size, sizeof(size), "size=%dk", tmpfs_kb);
	snprintf(script, sizeof(script),
	         "set -u; mnt=$1 opt=$2 keep=$3; shift 3; "
	         "if [ \"$opt\" = ro ]; then mount --bind \"$mnt\" \"$mnt\" && "
	         "mount -o remount,bind,ro \"$mnt\" || exit 99; "
	         "else mount -t tmpfs -o \"$opt\" rtbtest \"$mnt\" && "
	         "mkdir \"$mnt/rec\" || exit 99; fi; "
	         "\"$@\"; rc=$?; "
	         "[ \"$opt\" = ro ] || cp -a \"$mnt\"/. \"$keep\"/; exit $rc");
	const char *argv[48] = {"-m",
	                        "/bin/sh",
	                        "-c",
	                        script,
	                        "sh",
	                        mnt,
	                        tmpfs_kb ? size : "ro",
	                        keep ? keep : "-",
	                        RTBRIDGE_PATH};
	int n = 9;
	for (int i = 0; args[i] && n < 47; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return spawn("/usr/bin/unshare", argv, out, err, false);
}

Test(record_disk, a_read_only_mount_is_refused_at_start)
{
	char ro[128], mix[160], out[128], err[128], a[128];
	if (!is_root()) {
		cr_log_info("skipped: a read-only bind mount needs root");
		cr_skip_test("not root: cannot make a read-only bind mount");
	}
	path_in(ro, sizeof(ro), "ro");
	path_in(out, sizeof(out), "out.txt");
	path_in(err, sizeof(err), "err.txt");
	path_in(a, sizeof(a), "a.wav");
	gensignal(a, 0.2, 2);
	cr_assert_eq(mkdir(ro, 0755), 0);
	snprintf(mix, sizeof(mix), "%s/mix.wav", ro);
	const char *r1[] = {"recv",      "--listen",     "127.0.0.1:0",
	                    "--no-play", "--record-dir", ro,
	                    NULL};
	int st = wait_exit(spawn_mounted(ro, 0, NULL, r1, out, err), 20000);
	cr_expect_eq(st, 2, "exit %d: %s", st, slurp(err));
	cr_expect_eq(count_lines(slurp(err)), 1, "%s", slurp(err));
	cr_expect(strstr(slurp(err), "Read-only file system"), "%s",
	          slurp(err));
	const char *p1[] = {"play",     "--no-play", "--fast", a,
	                    "--record", mix,         NULL};
	st = wait_exit(spawn_mounted(ro, 0, NULL, p1, out, err), 20000);
	cr_expect_eq(st, 2, "exit %d: %s", st, slurp(err));
	cr_expect(strstr(slurp(err), mix) &&
	                  strstr(slurp(err), "Read-only file system"),
	          "%s", slurp(err));
}

/* A receiver recording to `recdir` and `mix` while the test's "small"
   directory is a 256 KiB tmpfs (full after about 1.3 s of a stream; what
   it held is copied to "kept"), fed 3 s of L16 from `ref` (seed `seed`).
   Return: the receiver's exit status. */
static int full_disk_run(const char *recdir, const char *mix, int seed,
                         struct recv *r)
{
	char small[128], keep[128], ref[128];
	path_in(small, sizeof(small), "small");
	path_in(keep, sizeof(keep), "kept");
	path_in(ref, sizeof(ref), "ref.wav");
	path_in(r->out, sizeof(r->out), "recv.out");
	path_in(r->err, sizeof(r->err), "recv.err");
	path_in(r->stats, sizeof(r->stats), "stats.json");
	snprintf(r->recdir, sizeof(r->recdir), "%s", recdir);
	mkdir(small, 0755);
	mkdir(keep, 0755);
	gensignal(ref, 3, seed);
	const char *args[] = {"recv",
	                      "--listen",
	                      "127.0.0.1:0",
	                      "--no-play",
	                      "--codec",
	                      "l16",
	                      "--record-dir",
	                      recdir,
	                      "--record",
	                      mix,
	                      "--stats-json",
	                      r->stats,
	                      "--min-latency",
	                      "60",
	                      "--idle-exit",
	                      "1",
	                      NULL};
	r->pid = spawn_mounted(small, 256, keep, args, r->out, r->err);
	recv_wait_port(r);
	send_file(ref, r->port, "l16", "77", NULL);
	return wait_exit(r->pid, 20000);
}

/* The one line saying that `path`'s recording stopped on a full disk. */
static void expect_one_stop_line(const char *err, const char *path)
{
	int lines = 0;
	for (const char *q = err; (q = strstr(q, "rtbridge recv: ")); q++)
		if (strncmp(q, "rtbridge recv: listening", 24))
			lines++;
	cr_expect_eq(lines, 1, "stderr: %s", err);
	cr_expect(strstr(err, path) && strstr(err, "No space left on device"),
	          "stderr: %s", err);
}

Test(record_disk, a_full_disk_stops_the_mix_recording_only)
{
	char recdir[128], mix[160], ref[128], rec[160], kept[160];
	struct recv r;
	if (!is_root())
		cr_skip_test("not root: cannot mount a small tmpfs");
	path_in(recdir, sizeof(recdir), "rec");
	path_in(ref, sizeof(ref), "ref.wav");
	path_in(mix, sizeof(mix), "small/mix.wav");
	path_in(kept, sizeof(kept), "kept/mix.wav");
	mkdir(recdir, 0755);
	int st = full_disk_run(recdir, mix, 33, &r);
	const char *err = slurp(r.err);
	cr_expect_eq(st, 1, "exit %d (a recording stopped early): %s", st, err);
	expect_one_stop_line(err, mix);
	/* The stream on the other disk is whole: the receiver went on (bit
	   for bit unless a loaded machine made packets late or lost). */
	rec_path(&r, rec, sizeof(rec), 77);
	cr_expect_geq(wav_check(rec), 3 * 48000 - 4800, "%s", slurp(r.out));
	if (summary_num(&r, "concealed_frames", 0) == 0 &&
	    summary_num(&r, "late", 0) == 0)
		cr_expect_eq(wavcmp("exact", ref, rec), 0, "%s", wavcmp_out);
	/* The full disk's file is valid and holds what the summary says. */
	sf_count_t frames = wav_check(kept);
	cr_expect_gt(frames, 0);
	const char *mixrec = strstr(slurp(r.stats), "\"mix_record\":");
	cr_assert_not_null(mixrec, "%s", slurp(r.stats));
	cr_expect_eq(strtoull(strstr(mixrec, "\"frames\":") + 9, NULL, 10),
	             (unsigned long long)frames);
	cr_expect(strstr(slurp(r.stats), "\"type\":\"record_stopped\""), "%s",
	          slurp(r.stats));
}

Test(record_disk, a_full_disk_stops_the_stream_recording_only)
{
	char recdir[128], mix[128], ref[128], kept[200];
	struct recv r;
	if (!is_root())
		cr_skip_test("not root: cannot mount a small tmpfs");
	path_in(mix, sizeof(mix), "mix.wav");
	path_in(ref, sizeof(ref), "ref.wav");
	path_in(recdir, sizeof(recdir), "small/rec");
	path_in(kept, sizeof(kept), "kept/rec/0000004d.wav");
	int st = full_disk_run(recdir, mix, 34, &r);
	const char *err = slurp(r.err);
	cr_expect_eq(st, 1, "exit %d (a recording stopped early): %s", st, err);
	char path[200];
	snprintf(path, sizeof(path), "%s/%08x.wav", recdir, 77u);
	expect_one_stop_line(err, path);
	/* The mix on the other disk went on to the end of the stream: most
	   of the 3 s stream is in it (a loaded machine may conceal some),
	   far more than the 0.7 s the full disk took. */
	sf_count_t nm, nr;
	double *xm = load(mix, &nm);
	int loud = 0;
	for (sf_count_t b = 0; b + 480 <= nm; b += 480) {
		double e = 0;
		for (sf_count_t i = b; i < b + 480; i++)
			e += xm[i * 2] * xm[i * 2];
		loud += e > 1.0;
	}
	cr_expect_geq(loud, 200, "%d of the stream's 300 packets in the mix",
	              loud);
	free(xm);
	/* The stream's file is valid, the summary gives its length, and it
	   is the stream's start bit for bit (unless a loaded machine made
	   packets late or concealed). */
	sf_count_t frames = wav_check(kept);
	cr_expect_gt(frames, 0);
	cr_expect_eq(summary_num(&r, "recorded_frames", 0),
	             (unsigned long long)frames);
	sf_count_t nk;
	double *xk = load(kept, &nk), *x0 = load(ref, &nr);
	if (summary_num(&r, "concealed_frames", 0) == 0 &&
	    summary_num(&r, "late", 0) == 0)
		cr_expect(memcmp(xk, x0, (size_t)nk * 2 * sizeof(double)) == 0,
		          "the kept file is not the stream's start");
	free(xk);
	free(x0);
	cr_expect(strstr(slurp(r.stats), "\"record_error\":"), "%s",
	          slurp(r.stats));
}
