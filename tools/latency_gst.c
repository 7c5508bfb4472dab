/*
 * latency_check's GStreamer reference (see latency_check.h): the same
 * sender feeds `gst-launch-1.0 udpsrc ! rtpjitterbuffer latency=L !
 * rtpL16depay ! audioconvert ! fdsink sync=true processing-deadline=0
 * max-lateness=1333333` (a base sink's default 20 ms allowance for work
 * it does not do here would add 20 ms; a buffer more than a 64-frame
 * device period late is dropped, as it would be a glitch on a sound card,
 * where rtbridge's 64-frame pulls pay that period in latency), whose
 * output (32-bit
 * float, one buffer per packet) is written to a pipe when the pipeline
 * clock says it is due; this thread reads the pipe and stamps each buffer
 * with the time it was read. A chunk read at time T that holds n frames
 * ends with a whole packet of F frames rendered at about T: frame j of it
 * was output at T - (n - F - j) / rate. The left channel's counter tells a
 * gap (a packet the jitter buffer dropped as late, or never got) from the
 * samples alone.
 *
 * Context: the caller's thread, plus one sender thread and one child
 * process per setting tried, both ended before returning.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bridge/rtcheck/rthook.h"
#include "tools/latency_check.h"

struct lat_gst_run {
	struct lat_detect det;
	uint64_t frames; /* frames read */
	uint64_t gaps;   /* breaks in the counter after the first frame */
	int last;        /* the previous frame's counter, -1 before any */
	unsigned char carry[8];
	size_t ncarry;
};

/* Start the pipeline with its stdout on a pipe: *pid, *fd. */
static int lat_gst_spawn(enum codec_kind kind, int port, unsigned latency,
                         bool rt, pid_t *pid, int *fd)
{
	const char *name = kind == CODEC_L24 ? "L24" : "L16";
	char caps[256], src_port[32], jb[32], depay[32];
	int p[2];

	snprintf(caps, sizeof(caps),
	         "caps=application/x-rtp,media=audio,clock-rate=%d,"
	         "encoding-name=%s,encoding-params=(string)%d,channels=(int)%"
	         "d,payload=%d",
	         LAT_RATE, name, LAT_CH, LAT_CH, LAT_PT);
	snprintf(src_port, sizeof(src_port), "port=%d", port);
	snprintf(jb, sizeof(jb), "latency=%u", latency);
	snprintf(depay, sizeof(depay), "rtp%sdepay", name);
	char *argv[] = {"gst-launch-1.0",
	                "-q",
	                "udpsrc",
	                "address=127.0.0.1",
	                src_port,
	                caps,
	                "!",
	                "rtpjitterbuffer",
	                jb,
	                "!",
	                depay,
	                "!",
	                "audioconvert",
	                "!",
	                "audio/x-raw,format=F32LE",
	                "!",
	                "fdsink",
	                "fd=1",
	                "sync=true",
	                "processing-deadline=0",
	                "max-lateness=1333333",
	                NULL};
	if (pipe(p) < 0)
		return -errno;
	*pid = fork();
	if (*pid < 0) {
		int err = -errno;
		close(p[0]);
		close(p[1]);
		return err;
	}
	if (*pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		struct sched_param sp = {.sched_priority = RTHOOK_PRIORITY_NET};
		/* Inherited by every thread the pipeline starts. */
		if (rt)
			(void)sched_setscheduler(0, SCHED_FIFO, &sp);
		dup2(p[1], 1);
		if (null >= 0)
			dup2(null, 2);
		close(p[0]);
		close(p[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	*fd = p[0];
	return 0;
}

/* Frames of one read (whole frames only; a partial one is carried). */
static void lat_gst_frames(struct lat_gst_run *g, const unsigned char *b,
                           size_t len, int frame, uint64_t now)
{
	size_t fb = sizeof(float) * LAT_CH;
	size_t n = (g->ncarry + len) / fb;
	size_t off = 0;

	for (size_t j = 0; j < n; j++) {
		float x[LAT_CH];
		unsigned char fr[sizeof(float) * LAT_CH];
		size_t from_carry = 0;
		if (g->ncarry) {
			from_carry = g->ncarry;
			memcpy(fr, g->carry, from_carry);
			g->ncarry = 0;
		}
		memcpy(fr + from_carry, b + off, fb - from_carry);
		off += fb - from_carry;
		memcpy(x, fr, sizeof(x));
		/* Frame j of n, the last packet's start rendered at now. */
		int64_t back = (int64_t)n - frame - (int64_t)j;
		uint64_t t = (uint64_t)((int64_t)now -
		                        back * 1000000000ll / LAT_RATE);
		int c = (int)lrint((double)x[0] * 32768.0) +
		        LAT_COUNTER_MOD / 2;
		if (g->last >= 0 && c != (g->last + 1) % LAT_COUNTER_MOD)
			g->gaps++;
		g->last = c;
		g->frames++;
		lat_detect_sample(&g->det, x[1], t);
	}
	memcpy(g->carry + g->ncarry, b + off, len - off);
	g->ncarry += len - off;
}

/* One setting: run the sender against the pipeline for `seconds`. */
static int lat_gst_once(enum codec_kind kind, int frame, double seconds,
                        unsigned latency, bool rt, struct lat_gst_run *g,
                        uint64_t *t0)
{
	static unsigned char buf[1 << 16];
	_Atomic bool failed = false;
	struct lat_send s = {
	        .kind = kind, .frame = frame, .failed = &failed, .rt = rt};
	struct sockaddr_in a;
	pthread_t th;
	pid_t pid = 0;
	int fd, rfd = -1, err, status = 0;

	/* A free port for udpsrc: taken, then let go. */
	fd = lat_udp(true, &a);
	if (fd < 0)
		return fd;
	close(fd);
	err = lat_gst_spawn(kind, ntohs(a.sin_port), latency, rt, &pid, &rfd);
	if (err < 0)
		return err;
	s.fd = lat_udp(false, &s.dst);
	s.dst = a;
	if (s.fd < 0) {
		err = s.fd;
		goto out;
	}
	/* gst-launch takes a few hundred ms to start: what it misses is
	   silence, and its output is judged from its first frame. */
	s.t0 = lat_now_ns() + 1000000000ull;
	s.end_ns = s.t0 + (uint64_t)(seconds * 1e9);
	*t0 = s.t0;
	err = -pthread_create(&th, NULL, lat_sender, &s);
	if (err < 0)
		goto out;
	uint64_t stop =
	        s.end_ns + (uint64_t)latency * 1000000ull + 300000000ull;
	while (lat_now_ns() < stop) {
		struct pollfd pfd = {.fd = rfd, .events = POLLIN};
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		ssize_t n = read(rfd, buf, sizeof(buf));
		if (n <= 0)
			break; /* the pipeline ended (or never started) */
		lat_gst_frames(g, buf, (size_t)n, frame, lat_now_ns());
	}
	pthread_join(th, NULL);
	if (atomic_load_explicit(&failed, memory_order_relaxed))
		err = -EIO;
out:
	if (pid > 0) {
		kill(pid, SIGTERM);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 127)
			err = -ENOENT;
	}
	if (rfd >= 0)
		close(rfd);
	if (s.fd >= 0)
		close(s.fd);
	return err;
}

int lat_gst_measure(enum codec_kind kind, int frame, double seconds, bool rt,
                    struct lat_gst_result *res)
{
	static const unsigned tries[] = {0, 1,  2,  3,  4,  5,  6,
	                                 8, 10, 15, 20, 30, 50, 100};
	/* Clicks after the settling second, one lost at either end. */
	size_t want = (size_t)((seconds - 1.0) * LAT_RATE / LAT_CLICK_EVERY);
	want = want > 2 ? want - 2 : 1;
	memset(res, 0, sizeof(*res));
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct lat_gst_run *g = calloc(1, sizeof(*g));
		uint64_t t0 = 0;
		if (!g)
			return -ENOMEM;
		g->last = -1;
		int err = lat_gst_once(kind, frame, seconds, tries[i], rt, g,
		                       &t0);
		res->tried++;
		if (err < 0) {
			free(g);
			return err;
		}
		lat_summarize(&g->det, t0, &res->sum);
		res->latency_ms = tries[i];
		res->gaps = g->gaps;
		bool ok = g->frames > 0 && g->gaps == 0 && res->sum.n >= want;
		free(g);
		if (ok)
			return 0;
	}
	return -ERANGE;
}
