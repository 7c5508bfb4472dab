/*
 * latency_check: end-to-end latency of the receive path on loopback,
 * measured with clicks, with GStreamer's as the reference
 *
 * Three threads and a real UDP socket pair on 127.0.0.1:
 * - the sender (latency_sig.c) sends a signal with a 1 ms click every
 *   200 ms, packet k (frames kF .. kF+F-1) at t0 + (k+1) F / rate on
 *   CLOCK_MONOTONIC, as a live source would: a packet leaves once its
 *   last frame exists;
 * - the net thread receives datagrams and hands them to the network
 *   stream (netstream_receive, arrival stamped at once);
 * - the audio thread wakes every period (64 frames by default: absolute
 *   CLOCK_MONOTONIC deadlines, like a device callback), pulls a period
 *   from the stream and looks for click onsets; frame i of a block counts
 *   as output at the callback's wake-up time + i / rate.
 * Latency = onset output time - the time the sender's clock reached the
 * click's position (t0 + position / rate). It includes one packet of
 * packetization, the network, the jitter buffer's target, the pull
 * period and the codec's own delay (Opus look-ahead); it does not
 * include a sound card's output buffer. Clicks in the first second are
 * ignored (the adaptive target settles there).
 *
 * The delay modes are recv's: `auto` (the default adaptive target, here
 * starting from 0 ms so that it settles within the first second), `low`
 * (recv --latency low: netstream_config_low_latency) or a fixed MS.
 * With --gst, each L16/L24 row is followed by GStreamer's receive
 * pipeline at its lowest working rtpjitterbuffer latency (latency_gst.c),
 * measured from the same sender in the same run; its output is a pipe
 * written when each buffer is due, with no period of its own.
 *
 *   latency_check [--codec l16|l24|opus|all] [--frame-ms 1|2.5|5|10|all]
 *                 [--period N] [--latency auto|low|MS] [--seconds S]
 *                 [--gst] [--keep-awake] [--max-median-ms X]
 *
 * --keep-awake runs a spinning thread per CPU at SCHED_IDLE (it yields
 * to every other thread) for the whole measurement, so that no CPU is
 * idle. On a virtual machine whose CPUs halt when idle, waking a halted
 * CPU goes through the hypervisor: on the project's VMs that took 3 to
 * 30 ms now and then (a bare SCHED_FIFO thread woken every 1 ms saw it
 * too), a stall of the host, not of the path measured. A machine whose
 * CPUs stay awake (a busy host, idle=poll, a PM QoS request) does not
 * have them.
 *
 * Prints one table row per codec and packet time (Opus has no 1 ms
 * packets); exits 1 if a median exceeds --max-median-ms.
 */
#define _GNU_SOURCE /* SCHED_IDLE, CPU affinity: --keep-awake */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/net/netstream.h"
#include "bridge/rtcheck/rthook.h"
#include "tools/latency_check.h"

#define LAT_MAX_PERIOD 1024

struct lat_run {
	struct lat_send send;
	unsigned period; /* frames per pull */
	int rx;
	struct netstream ns;
	_Atomic bool failed; /* a thread gave up */
	/* Audio thread until joined. */
	struct lat_detect det;
	uint64_t late_wakeups; /* callbacks woken over one period late */
};

static void *lat_net(void *arg)
{
	struct lat_run *r = arg;
	uint8_t buf[6100];

	if (r->send.rt)
		(void)rthook_promote(RTHOOK_PRIORITY_NET);
	while (lat_now_ns() < r->send.end_ns + 100000000ull &&
	       !atomic_load_explicit(&r->failed, memory_order_relaxed)) {
		struct pollfd pfd = {.fd = r->rx, .events = POLLIN};

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		for (int i = 0; i < 64; i++) {
			ssize_t n = recv(r->rx, buf, sizeof(buf), MSG_DONTWAIT);
			if (n <= 0)
				break;
			(void)netstream_receive(&r->ns, buf, (size_t)n,
			                        lat_now_ns());
		}
	}
	return NULL;
}

static void *lat_audio(void *arg)
{
	struct lat_run *r = arg;
	float out[LAT_MAX_PERIOD * LAT_CH];
	const uint64_t period_ns =
	        (uint64_t)r->period * 1000000000ull / LAT_RATE;
	uint64_t next = r->send.t0;

	if (r->send.rt)
		(void)rthook_promote(RTHOOK_PRIORITY_AUDIO);

	while (next < r->send.end_ns) {
		lat_sleep_until(next);
		uint64_t now = lat_now_ns();
		if (now > next + period_ns)
			r->late_wakeups++;
		if (netstream_pull(&r->ns, out, r->period) != (int)r->period) {
			atomic_store_explicit(&r->failed, true,
			                      memory_order_relaxed);
			break;
		}
		for (unsigned i = 0; i < r->period; i++)
			lat_detect_sample(&r->det, out[i * LAT_CH + 1],
			                  now + (uint64_t)i * 1000000000ull /
			                                  LAT_RATE);
		next += period_ns;
	}
	return NULL;
}

/* --keep-awake: one spinner per CPU, at SCHED_IDLE. */
#define LAT_MAX_SPIN 64

static _Atomic bool lat_spin_stop;

static void *lat_spin(void *arg)
{
	struct sched_param sp = {.sched_priority = 0};

	(void)arg;
	(void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	while (!atomic_load_explicit(&lat_spin_stop, memory_order_relaxed))
		;
	return NULL;
}

/* Start a spinner on each CPU this process may run on. Return: started */
static int lat_spin_start(pthread_t *th)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 0;
	for (int c = 0; c < CPU_SETSIZE && n < LAT_MAX_SPIN; c++) {
		if (!CPU_ISSET(c, &set) ||
		    pthread_create(&th[n], NULL, lat_spin, NULL) != 0)
			continue;
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(c, &one);
		(void)pthread_setaffinity_np(th[n], sizeof(one), &one);
		n++;
	}
	return n;
}

static void lat_spin_stop_all(pthread_t *th, int n)
{
	atomic_store_explicit(&lat_spin_stop, true, memory_order_relaxed);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

struct lat_result {
	struct lat_summary sum;
	struct netstream_stats st;
	uint64_t late_wakeups;
};

/* latency: 0 auto, -1 low, else fixed ms. */
static int lat_measure(enum codec_kind kind, int frame_us, unsigned period,
                       double seconds, int latency, bool rt,
                       struct lat_result *res)
{
	struct lat_run *r = calloc(1, sizeof(*r));
	struct netstream_config nc;
	struct sockaddr_in a;
	pthread_t th[3];
	int started = 0, err = 0;
	void *(*fn[3])(void *) = {lat_net, lat_audio, lat_sender};
	void *fa[3];

	if (!r)
		return -ENOMEM;
	r->send.kind = kind;
	r->send.frame = LAT_RATE / 1000 * frame_us / 1000;
	r->send.failed = &r->failed;
	r->send.rt = rt;
	r->period = period;
	r->rx = lat_udp(true, &a);
	r->send.fd = lat_udp(false, &r->send.dst);
	r->send.dst = a;
	if (r->rx < 0 || r->send.fd < 0) {
		err = r->rx < 0 ? r->rx : r->send.fd;
		goto out;
	}
	netstream_config_default(&nc, kind);
	nc.codec.rate = LAT_RATE;
	nc.codec.channels = LAT_CH;
	nc.codec.frame_us = frame_us;
	nc.jitter.frame_ticks = 0;
	nc.jitter.initial_ms = 0;
	if (latency < 0) {
		netstream_config_low_latency(&nc);
	} else if (latency > 0) {
		nc.jitter.adaptive = false;
		nc.jitter.fixed_ms = (unsigned)latency;
	}
	nc.out_rate = LAT_RATE;
	err = netstream_init(&r->ns, &nc);
	if (err < 0)
		goto out;
	r->send.t0 = lat_now_ns() + 50000000ull;
	r->send.end_ns = r->send.t0 + (uint64_t)(seconds * 1e9);
	fa[0] = fa[1] = r;
	fa[2] = &r->send;
	for (; started < 3; started++) {
		err = -pthread_create(&th[started], NULL, fn[started],
		                      fa[started]);
		if (err < 0) {
			atomic_store_explicit(&r->failed, true,
			                      memory_order_relaxed);
			break;
		}
	}
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (err == 0 && atomic_load_explicit(&r->failed, memory_order_relaxed))
		err = -EIO;
	if (err == 0) {
		memset(res, 0, sizeof(*res));
		lat_summarize(&r->det, r->send.t0, &res->sum);
		res->late_wakeups = r->late_wakeups;
		(void)netstream_stats(&r->ns, &res->st);
	}
	netstream_clear(&r->ns);
out:
	if (r->send.fd >= 0)
		close(r->send.fd);
	if (r->rx >= 0)
		close(r->rx);
	free(r);
	return err;
}

static void lat_usage(FILE *f)
{
	fprintf(f, "usage: latency_check [--codec l16|l24|opus|all] "
	           "[--frame-ms 1|2.5|5|10|all] [--period N]\n"
	           "                     [--latency auto|low|MS] [--seconds S] "
	           "[--gst] [--keep-awake] [--max-median-ms X]\n");
}

struct lat_opts {
	const char *codec, *frame;
	double seconds, max_median;
	unsigned period;
	int latency; /* 0 auto, -1 low, else fixed ms */
	bool gst;
	bool awake; /* --keep-awake */
	bool rt;    /* threads SCHED_FIFO (allowed, not turned off) */
};

static int lat_num(const char *opt, const char *v, double lo, double hi,
                   double *out)
{
	char *end;
	double x = strtod(v, &end);

	if (end == v || *end != '\0' || !(x >= lo && x <= hi)) {
		fprintf(stderr,
		        "latency_check: %s '%s': not a number in %g..%g\n", opt,
		        v, lo, hi);
		return -1;
	}
	*out = x;
	return 0;
}

static int lat_args(int argc, char **argv, struct lat_opts *o)
{
	double x;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			lat_usage(stdout);
			exit(0);
		}
		if (!strcmp(a, "--gst")) {
			o->gst = true;
			continue;
		}
		if (!strcmp(a, "--keep-awake")) {
			o->awake = true;
			continue;
		}
		if (v == NULL) {
			lat_usage(stderr);
			return -1;
		}
		i++;
		if (!strcmp(a, "--codec")) {
			o->codec = v;
		} else if (!strcmp(a, "--frame-ms")) {
			o->frame = v;
		} else if (!strcmp(a, "--seconds")) {
			if (lat_num(a, v, 2.0, 600.0, &o->seconds) < 0)
				return -1;
		} else if (!strcmp(a, "--period")) {
			if (lat_num(a, v, 16, LAT_MAX_PERIOD, &x) < 0)
				return -1;
			o->period = (unsigned)x;
		} else if (!strcmp(a, "--max-median-ms")) {
			if (lat_num(a, v, 0.1, 1000.0, &o->max_median) < 0)
				return -1;
		} else if (!strcmp(a, "--latency")) {
			if (!strcmp(v, "auto")) {
				o->latency = 0;
			} else if (!strcmp(v, "low")) {
				o->latency = -1;
			} else {
				if (lat_num(a, v, 1, 2000, &x) < 0)
					return -1;
				o->latency = (int)x;
			}
		} else {
			lat_usage(stderr);
			return -1;
		}
	}
	if (strcmp(o->codec, "all") && strcmp(o->codec, "l16") &&
	    strcmp(o->codec, "l24") && strcmp(o->codec, "opus")) {
		fprintf(stderr,
		        "latency_check: --codec '%s': use l16, l24, opus or "
		        "all\n",
		        o->codec);
		return -1;
	}
	if (strcmp(o->frame, "all") && strcmp(o->frame, "1") &&
	    strcmp(o->frame, "2.5") && strcmp(o->frame, "5") &&
	    strcmp(o->frame, "10")) {
		fprintf(stderr,
		        "latency_check: --frame-ms '%s': use 1, 2.5, 5, 10 "
		        "or all\n",
		        o->frame);
		return -1;
	}
	return 0;
}

/* One row: rtbridge, then GStreamer if asked. Return: 1 over the limit. */
static int lat_row(const struct lat_opts *o, enum codec_kind kind, int us,
                   const char *want)
{
	const char *name = lat_codec_name(kind);
	struct lat_result res;
	int over = 0;
	int err = lat_measure(kind, us, o->period, o->seconds, o->latency,
	                      o->rt, &res);

	if (err < 0) {
		fprintf(stderr, "latency_check: %s %s ms: %s\n", name, want,
		        strerror(-err));
		return -1;
	}
	printf("%-8s %-5s %4sms %6zu %7.2fms %6.2fms %6.2fms %9.2f %9.2f "
	       "%9.2f %6llu %9llu\n",
	       "rtbridge", name, want, res.sum.n, res.sum.med_ms,
	       res.sum.min_ms, res.sum.max_ms, res.st.spread_ms,
	       res.st.target_ms, res.st.buffer_ms,
	       (unsigned long long)res.st.lost,
	       (unsigned long long)res.st.concealed_frames);
	if (res.late_wakeups > 0)
		printf("         (%llu callbacks woke over one period late: "
		       "the machine is busy)\n",
		       (unsigned long long)res.late_wakeups);
	if (o->max_median > 0.0 &&
	    (res.sum.n == 0 || res.sum.med_ms > o->max_median)) {
		printf("         median above %.2f ms\n", o->max_median);
		over = 1;
	}
	if (!o->gst || kind == CODEC_OPUS)
		return over;
	struct lat_gst_result g;
	err = lat_gst_measure(kind, LAT_RATE / 1000 * us / 1000, o->seconds,
	                      o->rt, &g);
	if (err == -ENOENT) {
		printf("gst      (gst-launch-1.0 not found: no reference)\n");
	} else if (err == -ERANGE) {
		printf("gst      %-5s %4sms  no rtpjitterbuffer latency up to "
		       "%u ms worked\n",
		       name, want, g.latency_ms);
	} else if (err < 0) {
		fprintf(stderr, "latency_check: gst %s %s ms: %s\n", name, want,
		        strerror(-err));
		return -1;
	} else {
		printf("gst      %-5s %4sms %6zu %7.2fms %6.2fms %6.2fms %9s "
		       "%9u %9s %6s %9s  (target: rtpjitterbuffer latency, "
		       "the lowest of %u tried)\n",
		       name, want, g.sum.n, g.sum.med_ms, g.sum.min_ms,
		       g.sum.max_ms, "-", g.latency_ms, "-", "0", "-", g.tried);
	}
	return over;
}

int main(int argc, char **argv)
{
	struct lat_opts o = {.codec = "all",
	                     .frame = "all",
	                     .seconds = 4.0,
	                     .period = 64,
	                     .latency = -1};
	static const int frames_us[] = {1000, 2500, 5000, 10000};
	static const enum codec_kind kinds[] = {CODEC_L16, CODEC_L24,
	                                        CODEC_OPUS};
	bool any = false, over = false;
	pthread_t spin[LAT_MAX_SPIN];
	int spinning = 0;

	if (lat_args(argc, argv, &o) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0); /* each row as it is measured */
	/* SCHED_FIFO where allowed, as rtbridge's audio and net threads:
	   tried here once on the main thread, then set back. */
	(void)rthook_init();
	o.rt = rthook_promote(RTHOOK_PRIORITY_NET) == 0;
	if (o.rt) {
		struct sched_param sp = {.sched_priority = 0};
		(void)pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	}
	printf("end-to-end latency on 127.0.0.1, sender position -> receiver "
	       "output, %u-frame pulls at 48 kHz, %s threads, target %s\n",
	       o.period, o.rt ? "SCHED_FIFO" : "normal (no real-time allowed)",
	       o.latency < 0 ? "low (recv --latency low)"
	       : o.latency   ? "fixed"
	                     : "adaptive");
	if (o.awake) {
		spinning = lat_spin_start(spin);
		printf("%d CPUs kept awake by SCHED_IDLE spinners "
		       "(--keep-awake)\n",
		       spinning);
	}
	printf("%-8s %-5s %6s %6s %9s %8s %8s %9s %9s %9s %6s %9s\n",
	       "receiver", "codec", "frame", "clicks", "median", "min", "max",
	       "spread_ms", "target_ms", "buffer_ms", "lost", "concealed");
	for (int k = 0; k < 3; k++) {
		const char *name = lat_codec_name(kinds[k]);
		if (strcmp(o.codec, "all") && strcmp(o.codec, name))
			continue;
		for (int f = 0; f < 4; f++) {
			char want[16];
			snprintf(want, sizeof(want), "%g",
			         frames_us[f] / 1000.0);
			if (strcmp(o.frame, "all") && strcmp(o.frame, want))
				continue;
			if (kinds[k] == CODEC_OPUS && frames_us[f] < 2500)
				continue;
			any = true;
			int rc = lat_row(&o, kinds[k], frames_us[f], want);
			if (rc < 0) {
				lat_spin_stop_all(spin, spinning);
				return 1;
			}
			over |= rc > 0;
		}
	}
	lat_spin_stop_all(spin, spinning);
	return !any ? 2 : over ? 1 : 0;
}
