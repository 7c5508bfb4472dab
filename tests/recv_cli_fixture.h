/*
 * recv_cli_fixture: helpers of test_recv_cli (`rtbridge recv` end to
 * end): a temporary directory per test, subprocesses (rtbridge, gensignal,
 * wavcmp) with their output in files, the receiver started on port 0 with
 * the port read back from its "listening on" line, the JSON summary's
 * numbers, sound files read back with libsndfile (and WAV headers checked
 * against the data they describe), raw datagrams.
 *
 * Test thread only. Needs RTBRIDGE_PATH, GENSIGNAL_PATH, WAVCMP_PATH (and
 * RTCHECK_SO_PATH to run the receiver under the real-time checker).
 */
#ifndef RTB_TESTS_RECV_CLI_FIXTURE_H
#define RTB_TESTS_RECV_CLI_FIXTURE_H

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sndfile.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char dir[64];

static inline void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static inline void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static inline void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/rtb_recv_XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static inline void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

/* Spawn prog with args (NULL-terminated), stdout/stderr to files. */
static inline pid_t spawn(const char *prog, const char *const *args,
                          const char *out, const char *err, bool rtcheck)
{
	char *argv[48];
	int n = 0;
	argv[n++] = (char *)prog;
	for (int i = 0; args[i] && n < 47; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null",
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, err ? err : "/dev/null",
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0644);
#ifdef RTCHECK_SO_PATH
	if (rtcheck)
		setenv("LD_PRELOAD", RTCHECK_SO_PATH, 1);
#else
	(void)rtcheck;
#endif
	pid_t pid;
	int rc = posix_spawn(&pid, prog, &fa, NULL, argv, environ);
	unsetenv("LD_PRELOAD");
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(rc, 0, "spawn %s: %s", prog, strerror(rc));
	return pid;
}

static inline int wait_exit(pid_t pid, long ms)
{
	int status;
	for (long i = 0; i < ms / 5; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		sleep_ms(5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	cr_assert_fail("child did not exit within %ld ms", ms);
	return -1;
}

static inline int run(const char *prog, const char *const *args,
                      const char *out, const char *err)
{
	return wait_exit(spawn(prog, args, out, err, false), 30000);
}

static inline char *slurp(const char *path)
{
	static char buf[65536];
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return buf;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static inline int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static inline void gensignal(const char *path, double seconds, int seed)
{
	char s[32], d[32];
	snprintf(s, sizeof(s), "%g", seconds);
	snprintf(d, sizeof(d), "%d", seed);
	const char *args[] = {"--seconds", s, "--seed", d, path, NULL};
	cr_assert_eq(run(GENSIGNAL_PATH, args, NULL, NULL), 0);
}

/* A receiver in the background; returns its pid and the port it bound. */
struct recv {
	pid_t pid;
	unsigned port;
	char out[128], err[128], stats[128], recdir[128];
};

/* Read the port a receiver started on port 0 bound, from its stderr. */
static inline void recv_wait_port(struct recv *r)
{
	r->port = 0;
	for (int i = 0; i < 1000 && !r->port; i++) {
		const char *e =
		        strstr(slurp(r->err), "listening on 127.0.0.1:");
		if (e)
			r->port = (unsigned)atoi(
			        e + strlen("listening on 127.0.0.1:"));
		else
			sleep_ms(5);
	}
	cr_assert_gt(r->port, 0, "recv did not start: %s", slurp(r->err));
}

/* The receiver's files in the test's directory. */
static inline void recv_paths(struct recv *r)
{
	path_in(r->out, sizeof(r->out), "recv.out");
	path_in(r->err, sizeof(r->err), "recv.err");
	path_in(r->stats, sizeof(r->stats), "stats.json");
	path_in(r->recdir, sizeof(r->recdir), "rec");
	mkdir(r->recdir, 0755);
}

/* rtbridge with the arguments `base` then `extra`, under the real-time
   checker; the port it bound read back. */
static inline void recv_spawn(struct recv *r, const char *const *base,
                              const char *const *extra)
{
	const char *args[40];
	int n = 0;
	for (int i = 0; base[i] && n < 39; i++)
		args[n++] = base[i];
	for (int i = 0; extra[i] && n < 39; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	r->pid = spawn(RTBRIDGE_PATH, args, r->out, r->err, true);
	recv_wait_port(r);
}

static inline void recv_start(struct recv *r, const char *const *extra)
{
	recv_paths(r);
	/* A 60 ms floor under the adaptive delay keeps these exactness
	   checks steady on a loaded 2-core machine; adaptation itself is
	   the jitter buffer's tests' business. */
	const char *base[] = {"recv",
	                      "--listen",
	                      "127.0.0.1:0",
	                      "--no-play",
	                      "--record-dir",
	                      r->recdir,
	                      "--stats-json",
	                      r->stats,
	                      "--min-latency",
	                      "60",
	                      NULL};
	recv_spawn(r, base, extra);
}

static inline int recv_finish(struct recv *r)
{
	int st = wait_exit(r->pid, 20000);
	const char *err = slurp(r->err);
	cr_log_info("recv stdout: %s", slurp(r->out));
	cr_expect(strstr(err, "Sanitizer") == NULL &&
	                  strstr(err, "runtime error") == NULL,
	          "recv stderr: %s", err);
	return st;
}

static const char *send_pt = "96";

static inline void send_file(const char *wav, unsigned port, const char *codec,
                             const char *ssrc, pid_t *bg)
{
	char to[64];
	snprintf(to, sizeof(to), "127.0.0.1:%u", port);
	const char *args[] = {"send",   wav,  "--to", to,      "--codec", codec,
	                      "--ssrc", ssrc, "--pt", send_pt, NULL};
	pid_t pid = spawn(RTBRIDGE_PATH, args, NULL, NULL, false);
	if (bg)
		*bg = pid;
	else
		cr_assert_eq(wait_exit(pid, 30000), 0);
}

/* A number from the summary line of the stats file. */
static inline unsigned long long summary_num(const struct recv *r,
                                             const char *key, int nth)
{
	const char *s = strstr(slurp(r->stats), "\"type\":\"summary\"");
	char k[64];
	cr_assert_not_null(s, "no summary in %s", r->stats);
	snprintf(k, sizeof(k), "\"%s\":", key);
	for (int i = 0; s && i <= nth; i++) {
		s = strstr(s, k);
		if (s && i < nth)
			s += strlen(k);
	}
	cr_assert_not_null(s, "no %s (#%d) in the summary", key, nth);
	return strtoull(s + strlen(k), NULL, 10);
}

static char wavcmp_out[512]; /* the last verdict */

static inline int wavcmp(const char *mode, const char *ref, const char *rec)
{
	char out[128];
	path_in(out, sizeof(out), "wavcmp.out");
	const char *args[] = {mode, ref, rec, NULL};
	int st = run(WAVCMP_PATH, args, out, NULL);
	const char *v = slurp(out);
	snprintf(wavcmp_out, sizeof(wavcmp_out), "%s", v);
	cr_log_info("%s", v);
	return st;
}

/* A sound file as doubles (frames * channels); *frames set. */
static inline double *load(const char *path, sf_count_t *frames)
{
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	cr_assert_not_null(sf, "%s: %s", path, sf_strerror(NULL));
	double *x = calloc((size_t)(info.frames + 1) * 2, sizeof(double));
	cr_assert_not_null(x);
	cr_assert_eq(info.channels, 2);
	*frames = sf_readf_double(sf, x, info.frames);
	sf_close(sf);
	return x;
}

static inline void rec_path(const struct recv *r, char *out, size_t n,
                            unsigned ssrc)
{
	snprintf(out, n, "%s/%08x.wav", r->recdir, ssrc);
}

static inline void write_silence(const char *path, double seconds)
{
	SF_INFO info = {.samplerate = 48000,
	                .channels = 2,
	                .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	cr_assert_not_null(sf);
	short z[2048] = {0};
	for (long n = (long)(seconds * 48000); n > 0; n -= 1024)
		sf_writef_short(sf, z, n < 1024 ? n : 1024);
	sf_close(sf);
}

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

/*
 * Assert that `path` is a finished WAV file: the RIFF length and the data
 * chunk's length are what the file holds (a process killed mid-way
 * leaves a header that promises less, or more), and libsndfile reads the
 * same number of frames.
 *
 * Return: its frames
 */
static inline sf_count_t wav_check(const char *path)
{
	static uint8_t b[1 << 24];
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	size_t n = fread(b, 1, sizeof(b), f);
	fclose(f);
	cr_assert_lt(n, sizeof(b), "%s: too big for the check", path);
	cr_assert_geq(n, 44, "%s: %zu bytes, no WAV header", path, n);
	cr_assert(!memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WAVE", 4),
	          "%s: not a WAV file", path);
	cr_assert_eq(le32(b + 4), n - 8, "%s: RIFF length %u, file %zu bytes",
	             path, le32(b + 4), n);
	size_t pos = 12, block = 0;
	while (pos + 8 <= n && memcmp(b + pos, "data", 4)) {
		if (!memcmp(b + pos, "fmt ", 4))
			block = (size_t)(b[pos + 20] | b[pos + 21] << 8);
		pos += 8 + le32(b + pos + 4) + (le32(b + pos + 4) & 1);
	}
	cr_assert(pos + 8 <= n && block > 0, "%s: no fmt or data chunk", path);
	size_t data = le32(b + pos + 4);
	cr_assert_eq(data, n - pos - 8,
	             "%s: header says %zu data bytes, the file holds %zu", path,
	             data, n - pos - 8);
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	cr_assert_not_null(sf, "%s: %s", path, sf_strerror(NULL));
	sf_close(sf);
	cr_assert_eq((size_t)info.frames, data / block);
	return info.frames;
}

/* Every absolute PATH after `key` in `text`, up to `end` (the file names
 * in the summaries), exists. */
static inline void named_files_exist(const char *text, const char *key,
                                     char end)
{
	for (const char *q = text; (q = strstr(q, key)); q++) {
		char path[512];
		const char *a = q + strlen(key);
		if (*a != '/')
			continue;
		const char *z = strchr(a, end);
		cr_assert_not_null(z);
		snprintf(path, sizeof(path), "%.*s", (int)(z - a), a);
		cr_expect_eq(access(path, F_OK), 0,
		             "the summary names %s, which does not exist",
		             path);
	}
}

static inline void udp_to(int fd, unsigned port, const void *buf, size_t len)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	(void)sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to));
}

/* RTP header: version 2, pt, seq, ts, ssrc. */
static inline void rtp_hdr(uint8_t *b, int pt, uint16_t seq, uint32_t ssrc)
{
	memset(b, 0, 12);
	b[0] = 0x80;
	b[1] = (uint8_t)pt;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	b[8] = (uint8_t)(ssrc >> 24);
	b[9] = (uint8_t)(ssrc >> 16);
	b[10] = (uint8_t)(ssrc >> 8);
	b[11] = (uint8_t)ssrc;
}

#endif
