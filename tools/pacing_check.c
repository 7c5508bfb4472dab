/*
 * pacing_check: how evenly `rtbridge send` paces its packets
 *
 * Runs a receiver on 127.0.0.1 (port picked by the kernel), starts
 * `rtbridge send` on a one-second looped noise file towards it for N
 * seconds, timestamps every arrival with CLOCK_MONOTONIC and compares it
 * with the ideal schedule the RTP timestamps imply: packet i is due at
 * t0 + (ts_i - ts_0) / 48000 s. The unknown t0 is taken as the median of
 * (arrival - ideal), so the deviations below are jitter around the
 * schedule; the slope of (arrival - ideal) over time is the long-term drift.
 *
 * Prints packets, losses, median / p99 / max absolute deviation in ms and
 * the drift in ppm. With --max-median-ms / --max-p99-ms it exits 1 when a
 * bound is exceeded (the ctest registration uses a short run).
 *
 * usage: pacing_check --rtbridge PATH [--seconds N (60)] [--codec C (l16)]
 *                     [--frame-ms MS (10)] [--max-median-ms X] [--max-p99-ms Y]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sndfile.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec/rtp.h"
#include "tools/benchutil.h"

extern char **environ;

/* Value at quantile q of a sorted array. */
static double quantile(const double *v, size_t n, double q)
{
	size_t i = (size_t)ceil(q * (double)n);
	return v[i == 0 ? 0 : (i > n ? n - 1 : i - 1)];
}

static int write_noise(const char *path)
{
	SF_INFO info = {.samplerate = 48000,
	                .channels = 2,
	                .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	static short buf[48000 * 2];
	uint32_t x = 12345;
	if (sf == NULL) {
		fprintf(stderr, "pacing_check: %s: %s\n", path,
		        sf_strerror(NULL));
		return -1;
	}
	for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++) {
		x = x * 1664525u + 1013904223u;
		buf[i] = (short)((int)(x >> 16) - 32768) / 8;
	}
	sf_count_t n = sf_writef_short(sf, buf, 48000);
	sf_close(sf);
	return n == 48000 ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *rtb = NULL, *codec = "l16", *frame_ms = "10";
	double seconds = 60, max_median = -1, max_p99 = -1;
	char dir[] = "/tmp/rtb_pacing_XXXXXX", wav[64], to[32], dur[32];
	int status = 1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rtbridge"))
			rtb = argv[i + 1];
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--codec"))
			codec = argv[i + 1];
		else if (!strcmp(argv[i], "--frame-ms"))
			frame_ms = argv[i + 1];
		else if (!strcmp(argv[i], "--max-median-ms"))
			max_median = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--max-p99-ms"))
			max_p99 = atof(argv[i + 1]);
		else
			break;
	}
	if (rtb == NULL || seconds <= 0 || seconds > 3600 || argc % 2 == 0) {
		fprintf(stderr, "usage: pacing_check --rtbridge PATH "
		                "[--seconds N] [--codec C] "
		                "[--frame-ms MS] [--max-median-ms X] "
		                "[--max-p99-ms Y]\n");
		return 2;
	}
	if (mkdtemp(dir) == NULL) {
		perror("pacing_check: mkdtemp");
		return 1;
	}
	snprintf(wav, sizeof wav, "%s/noise.wav", dir);
	if (write_noise(wav) < 0)
		goto out_dir;

	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	int rcvbuf = 1 << 20;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		perror("pacing_check: socket");
		if (fd >= 0)
			close(fd);
		goto out_dir;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	snprintf(to, sizeof to, "127.0.0.1:%u", ntohs(a.sin_port));
	snprintf(dur, sizeof dur, "%g", seconds);

	/* Room for every packet of the run at the shortest packet time,
	   0.125 ms (the first argument may be anything: see usage). */
	double ptime_ms = atof(frame_ms);
	if (!(ptime_ms >= 0.125))
		ptime_ms = 0.125;
	size_t cap = (size_t)(seconds * 1000 / ptime_ms) + 1000, n = 0;
	uint64_t *arr = malloc(cap * sizeof *arr);
	int64_t *tick = malloc(cap * sizeof *tick);
	double *dev = malloc(cap * sizeof *dev);
	uint16_t *seq = malloc(cap * sizeof *seq);
	if (!arr || !tick || !dev || !seq) {
		fprintf(stderr, "pacing_check: out of memory\n");
		goto out_mem;
	}

	char *args[] = {(char *)rtb,   "send",       wav,
	                "--to",        to,           "--codec",
	                (char *)codec, "--frame-ms", (char *)frame_ms,
	                "--loop",      "--duration", dur,
	                "--quiet",     NULL};
	pid_t pid;
	if (posix_spawn(&pid, rtb, NULL, NULL, args, environ) != 0) {
		fprintf(stderr, "pacing_check: cannot run %s\n", rtb);
		goto out_mem;
	}
	/* Receive until the sender has exited and the socket is quiet,
	 * bounded by the run length plus 10 s. */
	uint64_t deadline =
	        benchutil_now_ns() + (uint64_t)((seconds + 10) * 1e9);
	int exited = 0, wstatus = 0;
	uint32_t ts_prev = 0;
	int64_t ext = 0;
	while (benchutil_now_ns() < deadline) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, 200);
		if (r > 0) {
			uint8_t buf[2048];
			ssize_t len = recv(fd, buf, sizeof buf, 0);
			uint64_t t = benchutil_now_ns();
			struct rtp_header h;
			const uint8_t *pl;
			size_t plen;
			if (len <= 0 ||
			    rtp_parse(buf, (size_t)len, &h, &pl, &plen) < 0 ||
			    n >= cap)
				continue;
			/* Unwrap the 32-bit timestamp into 64-bit ticks. */
			ext = n == 0 ? 0 : ext + rtp_ts_diff(h.ts, ts_prev);
			ts_prev = h.ts;
			arr[n] = t;
			tick[n] = ext;
			seq[n] = h.seq;
			n++;
			continue;
		}
		if (!exited && waitpid(pid, &wstatus, WNOHANG) == pid)
			exited = 1;
		else if (exited)
			break;
	}
	if (!exited) {
		kill(pid, SIGTERM);
		waitpid(pid, &wstatus, 0);
	}
	if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
		fprintf(stderr,
		        "pacing_check: rtbridge send failed (status %d)\n",
		        wstatus);
		goto out_mem;
	}
	if (n < 10) {
		fprintf(stderr, "pacing_check: only %zu packets arrived\n", n);
		goto out_mem;
	}

	/* d_i = arrival - ideal (ns, relative to packet 0); least squares
	 * slope of d over ideal gives the drift. */
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	size_t lost = 0;
	for (size_t i = 0; i < n; i++) {
		double ideal = (double)tick[i] * 1e9 / 48000.0;
		double d = (double)(arr[i] - arr[0]) - ideal;
		dev[i] = d;
		sx += ideal;
		sy += d;
		sxx += ideal * ideal;
		sxy += ideal * d;
		if (i > 0)
			lost += (size_t)((uint16_t)(seq[i] - seq[i - 1]) - 1);
	}
	double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
	double *sorted = malloc(n * sizeof *sorted);
	if (!sorted)
		goto out_mem;
	memcpy(sorted, dev, n * sizeof *sorted);
	qsort(sorted, n, sizeof *sorted, benchutil_cmp_double);
	double offset = quantile(sorted, n, 0.5);
	for (size_t i = 0; i < n; i++)
		sorted[i] = fabs(dev[i] - offset) / 1e6;
	qsort(sorted, n, sizeof *sorted, benchutil_cmp_double);
	double med = quantile(sorted, n, 0.5), p99 = quantile(sorted, n, 0.99),
	       mx = sorted[n - 1];
	printf("pacing_check: %s %s ms, %.1f s: %zu packets, %zu lost; "
	       "deviation from the ideal "
	       "schedule: median %.3f ms, p99 %.3f ms, max %.3f ms; drift %.2f "
	       "ppm\n",
	       codec, frame_ms, (double)(arr[n - 1] - arr[0]) / 1e9, n, lost,
	       med, p99, mx, slope * 1e6);
	status = 0;
	if (max_median >= 0 && med > max_median) {
		printf("FAIL: median %.3f ms > %.3f ms\n", med, max_median);
		status = 1;
	}
	if (max_p99 >= 0 && p99 > max_p99) {
		printf("FAIL: p99 %.3f ms > %.3f ms\n", p99, max_p99);
		status = 1;
	}
	free(sorted);
out_mem:
	free(arr);
	free(tick);
	free(dev);
	free(seq);
	if (fd >= 0)
		close(fd);
out_dir:
	unlink(wav);
	rmdir(dir);
	return status;
}
