/*
 * test_signals: SIGTERM at any moment leaves every recording valid and
 * whole
 *
 * `rtbridge recv --no-play --record-dir --record` with a live L16 sender
 * (looping a seeded test signal), and `rtbridge play --no-play --loop
 * --record`, get SIGTERM at five moments: pending before the program
 * starts (spawned with the signal blocked, so it is there when the program
 * first looks), right after the spawn (the program may not have reached
 * main), 50 ms in (set-up), 1 s after it is running (recv says it
 * listens, play draws its status line), and then again every 10 ms until
 * it exits (during the finalisation). A program the
 * signal reached before main (a loaded machine may take that long to
 * start it) dies by the default action, and must have created nothing;
 * otherwise: exit 0; every WAV file's header describes exactly the data
 * it holds; the summaries name only files that exist; a stream's
 * recording holds every packet the receiver took in and played (nothing
 * left in the jitter buffer or the write-behind path), and when nothing
 * was lost, late or concealed on the way (a loaded machine may make the
 * sender late) it is exactly those packets: the sender's signal bit for
 * bit from its first packet; the play recording is the looped file bit
 * for bit. And while they run, every thread but the main one (disk, net,
 * virtual clock, PortAudio's and JACK's) has SIGINT and SIGTERM blocked.
 */
#include "tests/jackd_fixture.h"
#include "tests/recv_cli_fixture.h"

#include <dirent.h>

enum moment {
	PENDING_AT_START,
	RIGHT_AFTER_SPAWN,
	AFTER_50_MS,
	AFTER_1_S,
	DURING_FINALISATION,
};

static pid_t sender; /* a live sender, stopped by the fini */

static void stop_sender(void)
{
	if (sender > 0) {
		kill(sender, SIGKILL);
		waitpid(sender, NULL, 0);
	}
	sender = 0;
	teardown();
}

TestSuite(signals, .init = setup, .fini = stop_sender, .timeout = 60);

/* A free UDP port on 127.0.0.1: bound, read back and released. */
static unsigned free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* rtbridge with SIGTERM blocked from the start: a signal sent at once
   stays pending until the program takes it. */
static pid_t spawn_blocked(const char *const *args, const char *out,
                           const char *err)
{
	char *argv[48];
	int n = 0;
	argv[n++] = (char *)RTBRIDGE_PATH;
	for (int i = 0; args[i] && n < 47; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out,
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, err,
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &term);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	pid_t pid;
	int rc = posix_spawn(&pid, RTBRIDGE_PATH, &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(rc, 0, "spawn: %s", strerror(rc));
	return pid;
}

static pid_t start(enum moment m, const char *const *args, const char *out,
                   const char *err)
{
	if (m == PENDING_AT_START)
		return spawn_blocked(args, out, err);
	return spawn(RTBRIDGE_PATH, args, out, err, false);
}

/* Send SIGTERM at moment m (the later ones counted from `running` in
   the stderr file `err`); Return: the raw wait status. */
static int terminate_at(pid_t pid, enum moment m, const char *err,
                        const char *running)
{
	int status;
	if (m == AFTER_50_MS)
		sleep_ms(50);
	for (int i = 0; m >= AFTER_1_S && !strstr(slurp(err), running); i++) {
		cr_assert_lt(i, 4000, "not running after 20 s: %s", slurp(err));
		sleep_ms(5);
	}
	if (m >= AFTER_1_S)
		sleep_ms(1000);
	kill(pid, SIGTERM);
	for (int i = 0; i < 2000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		if (m == DURING_FINALISATION)
			kill(pid, SIGTERM);
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	cr_assert_fail("did not exit within 20 s of SIGTERM");
	return status;
}

/* Files in a directory. */
static int count_files(const char *path)
{
	int n = 0;
	DIR *d = opendir(path);
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The recording is the looped source from some frame on, bit for bit. */
static void expect_loop_of(const char *ref, const char *rec, bool any_start)
{
	sf_count_t nref, nrec, k = 0;
	double *xr = load(ref, &nref), *xc = load(rec, &nrec);
	if (any_start)
		while (k < nref &&
		       memcmp(xc, xr + k * 2, 2 * 240 * sizeof(double)))
			k++;
	cr_assert_lt(k, nref, "%s does not start on the source", rec);
	for (sf_count_t i = 0; i < nrec; i++) {
		sf_count_t j = (k + i) % nref;
		if (xc[i * 2] != xr[j * 2] || xc[i * 2 + 1] != xr[j * 2 + 1])
			cr_assert_fail("%s differs from the source at frame "
			               "%lld (of %lld)",
			               rec, (long long)i, (long long)nrec);
	}
	free(xr);
	free(xc);
}

static void recv_case(enum moment m)
{
	char ref[128], mix[128], to[64], rec[200];
	struct recv r;
	path_in(ref, sizeof(ref), "ref.wav");
	path_in(mix, sizeof(mix), "mix.wav");
	path_in(r.out, sizeof(r.out), "recv.out");
	path_in(r.err, sizeof(r.err), "recv.err");
	path_in(r.stats, sizeof(r.stats), "stats.json");
	path_in(r.recdir, sizeof(r.recdir), "rec");
	mkdir(r.recdir, 0755);
	gensignal(ref, 1, 91);
	snprintf(to, sizeof(to), "127.0.0.1:%u", free_port());
	const char *sargs[] = {"send",    ref,       "--to",       to,
	                       "--codec", "l16",     "--ssrc",     "4242",
	                       "--loop",  "--quiet", "--duration", "30",
	                       NULL};
	sender = spawn(RTBRIDGE_PATH, sargs, NULL, NULL, false);
	sleep_ms(100);
	const char *args[] = {"recv",
	                      "--listen",
	                      to,
	                      "--no-play",
	                      "--codec",
	                      "l16",
	                      "--record-dir",
	                      r.recdir,
	                      "--record",
	                      mix,
	                      "--stats-json",
	                      r.stats,
	                      "--min-latency",
	                      "60",
	                      NULL};
	int st = terminate_at(start(m, args, r.out, r.err), m, r.err,
	                      "listening on");
	kill(sender, SIGINT);
	(void)wait_exit(sender, 10000);
	sender = 0;
	if (WIFSIGNALED(st)) {
		/* Killed before main could block the signal: nothing made. */
		cr_assert(m == RIGHT_AFTER_SPAWN || m == AFTER_50_MS,
		          "killed by signal %d", WTERMSIG(st));
		cr_assert_eq(count_files(r.recdir), 0);
		cr_assert_neq(access(mix, F_OK), 0);
		return;
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st,
	          slurp(r.err));
	(void)wav_check(mix);
	named_files_exist(slurp(r.out), "; ", ':');
	named_files_exist(slurp(r.stats), "\"record\":\"", '"');
	snprintf(rec, sizeof(rec), "%s/%08x.wav", r.recdir, 4242u);
	cr_assert_leq(count_files(r.recdir), 1);
	if (m >= AFTER_1_S)
		cr_assert_eq(access(rec, F_OK), 0, "no recording: %s",
		             slurp(r.err));
	if (access(rec, F_OK) != 0)
		return;
	sf_count_t frames = wav_check(rec);
	/* Every packet taken in was played out and written: 480 frames of
	   10 ms each (the jitter buffer drops a late one at once; with
	   packets lost, their concealment is written too). */
	unsigned long long late = summary_num(&r, "late", 0);
	unsigned long long got = 480 * (summary_num(&r, "received", 0) - late);
	unsigned long long concealed = summary_num(&r, "concealed_frames", 0);
	cr_expect_geq((unsigned long long)frames, got,
	              "recorded %lld frames: %s", (long long)frames,
	              slurp(r.out));
	cr_expect_eq(summary_num(&r, "recorded_frames", 0),
	             (unsigned long long)frames);
	if (concealed == 0 && late == 0 && summary_num(&r, "lost", 0) == 0) {
		cr_expect_eq((unsigned long long)frames, got);
		expect_loop_of(ref, rec, true);
	} else {
		cr_log_info("%llu late, %llu frames concealed (a loaded "
		            "machine): the signal is compared only when none",
		            late, concealed);
	}
}

static void play_case(enum moment m)
{
	char a[128], mix[128], out[128], err[128];
	path_in(a, sizeof(a), "a.wav");
	path_in(mix, sizeof(mix), "mix.wav");
	path_in(out, sizeof(out), "play.out");
	path_in(err, sizeof(err), "play.err");
	gensignal(a, 0.5, 92);
	const char *args[] = {"play", "--no-play", "--loop", "--status",
	                      a,      "--record",  mix,      NULL};
	int st = terminate_at(start(m, args, out, err), m, err, "\r");
	if (WIFSIGNALED(st)) {
		cr_assert(m == RIGHT_AFTER_SPAWN || m == AFTER_50_MS,
		          "killed by signal %d", WTERMSIG(st));
		cr_assert_neq(access(mix, F_OK), 0);
		return;
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st,
	          slurp(err));
	sf_count_t frames = wav_check(mix);
	if (m >= AFTER_1_S)
		cr_assert_gt(frames, 24000, "%lld frames", (long long)frames);
	expect_loop_of(a, mix, false);
	const char *o = slurp(out);
	named_files_exist(o, "recorded ", ':');
	char want[256];
	snprintf(want, sizeof(want), "recorded %s: %lld frames\n", mix,
	         (long long)frames);
	cr_expect(strstr(o, want) != NULL, "want '%s' in: %s", want, o);
}

Test(signals, recv_pending_sigterm_at_start)
{
	recv_case(PENDING_AT_START);
}

Test(signals, recv_sigterm_right_after_spawn)
{
	recv_case(RIGHT_AFTER_SPAWN);
}

Test(signals, recv_sigterm_after_50_ms)
{
	recv_case(AFTER_50_MS);
}

Test(signals, recv_sigterm_after_1_s)
{
	recv_case(AFTER_1_S);
}

Test(signals, recv_sigterms_during_finalisation)
{
	recv_case(DURING_FINALISATION);
}

Test(signals, play_pending_sigterm_at_start)
{
	play_case(PENDING_AT_START);
}

Test(signals, play_sigterm_right_after_spawn)
{
	play_case(RIGHT_AFTER_SPAWN);
}

Test(signals, play_sigterm_after_50_ms)
{
	play_case(AFTER_50_MS);
}

Test(signals, play_sigterm_after_1_s)
{
	play_case(AFTER_1_S);
}

Test(signals, play_sigterms_during_finalisation)
{
	play_case(DURING_FINALISATION);
}

/* Every thread of `pid` but the main one blocks SIGINT and SIGTERM. */
static void expect_workers_block_signals(pid_t pid, int min_threads)
{
	char path[64];
	int threads = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	cr_assert_not_null(d);
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == (int)pid)
			continue;
		char status[400];
		snprintf(status, sizeof(status), "%s/%s/status", path,
		         e->d_name);
		const char *blk = strstr(slurp(status), "SigBlk:");
		cr_assert_not_null(blk);
		unsigned long long mask = strtoull(blk + 7, NULL, 16);
		unsigned long long want =
		        1ull << (SIGINT - 1) | 1ull << (SIGTERM - 1);
		cr_expect_eq(mask & want, want, "thread %s blocks %llx",
		             e->d_name, mask);
		threads++;
	}
	closedir(d);
	cr_expect_geq(threads, min_threads, "%d worker threads", threads);
}

Test(signals, recv_worker_threads_block_sigint_and_sigterm)
{
	char mix[128], out[128], err[128];
	path_in(mix, sizeof(mix), "mix.wav");
	path_in(out, sizeof(out), "recv.out");
	path_in(err, sizeof(err), "recv.err");
	/* Disk server, net thread, virtual clock (it runs: a mix is
	   recorded). */
	const char *args[] = {"recv",      "--listen", "127.0.0.1:0",
	                      "--no-play", "--record", mix,
	                      NULL};
	pid_t pid = spawn(RTBRIDGE_PATH, args, out, err, false);
	for (int i = 0; i < 4000 && !strstr(slurp(err), "listening on"); i++)
		sleep_ms(5);
	sleep_ms(100);
	expect_workers_block_signals(pid, 3);
	kill(pid, SIGTERM);
	cr_expect_eq(wait_exit(pid, 20000), 0, "%s", slurp(err));
}

Test(signals, play_portaudio_threads_block_sigint_and_sigterm,
     .fini = jackd_fixture_down)
{
	char a[128], out[128], err[128];
	path_in(a, sizeof(a), "a.wav");
	path_in(out, sizeof(out), "play.out");
	path_in(err, sizeof(err), "play.err");
	gensignal(a, 0.5, 93);
	jackd_fixture_up("rtb_signals");
	/* PortAudio's and JACK's threads too, started by the device. */
	const char *args[] = {"play",     "--device", "JACK:", "--loop",
	                      "--status", a,          NULL};
	pid_t pid = spawn(RTBRIDGE_PATH, args, out, err, false);
	for (int i = 0; i < 4000 && !strchr(slurp(err), '\r'); i++)
		sleep_ms(5);
	sleep_ms(200);
	expect_workers_block_signals(pid, 3);
	kill(pid, SIGTERM);
	cr_expect_eq(wait_exit(pid, 20000), 0, "%s", slurp(err));
	teardown();
}
