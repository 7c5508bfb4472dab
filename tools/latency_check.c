/*
 * latency_check: end-to-end latency of the receive path on loopback,
 * measured with clicks
 *
 * Three threads and a real UDP socket pair on 127.0.0.1:
 * - the sender encodes a signal that is silent except for a 1 ms click
 *   every 200 ms (at a packet boundary, sender position m * 9600 frames)
 *   and sends packet k (frames kF .. kF+F-1) at t0 + (k+1) F / rate on
 *   CLOCK_MONOTONIC, as a live source would: a packet leaves once its
 *   last frame exists;
 * - the net thread receives datagrams and hands them to the network
 *   stream (netstream_receive, arrival stamped at once);
 * - the audio thread wakes every 128 frames (absolute CLOCK_MONOTONIC
 *   deadlines, like a device callback), pulls 128 frames from the stream
 *   and looks for click onsets (|x| > 0.1 after at least 10 ms below
 *   0.01); frame i of a block counts as output at the callback's wake-up
 *   time + i / rate.
 * Latency = onset output time - the time the sender's clock reached the
 * click's position (t0 + position / rate). It includes one packet of
 * packetization, the network, the jitter buffer's target, the pull
 * period and the codec's own delay (Opus look-ahead); it does not
 * include a sound card's output buffer. Clicks in the first second are
 * ignored (the adaptive target settles there: it starts from 0 ms and is
 * raised at once, instead of the default 40 ms shrinking at 2 ms/s).
 *
 *   latency_check [--codec opus|l16|all] [--frame-ms 2.5|5|10|all]
 *                 [--seconds S] [--latency MS]  (fixed target; default
 *                 adaptive)
 *
 * Prints one table row per codec and frame size.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/net/netstream.h"
#include "codec/codec.h"
#include "codec/pcm.h"
#include "codec/rtp.h"

#define RATE        48000
#define CH          2
#define PERIOD      128
#define CLICK_EVERY 9600 /* frames: 200 ms */
#define CLICK_LEN   48   /* frames: 1 ms */
#define SETTLE_NS   1000000000ull
#define MAX_ONSETS  4096

struct lat_run {
	enum codec_kind kind;
	int frame_us;
	double seconds;
	unsigned fixed_ms; /* 0: adaptive */
	int frame;         /* frames per packet */
	int tx, rx;        /* sockets */
	struct sockaddr_in dst;
	struct netstream ns;
	uint64_t t0;         /* sender epoch, ns */
	uint64_t end_ns;     /* every thread stops by then */
	_Atomic bool failed; /* a thread gave up */
	/* Audio thread until joined. */
	uint64_t onset[MAX_ONSETS];
	size_t nonset;
	uint64_t late_wakeups; /* callbacks woken over one period late */
};

static uint64_t lat_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void lat_sleep_until(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
	                      .tv_nsec = (long)(ns % 1000000000u)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static int lat_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The sender's sample at frame f: silence, and a click every 200 ms. */
static float lat_sample(uint64_t f)
{
	uint64_t p = f % CLICK_EVERY;

	if (f < CLICK_EVERY || p >= CLICK_LEN)
		return 0.0f;
	return (float)(0.8 * sin(2.0 * 3.14159265358979323846 * 1000.0 *
	                         (double)p / RATE));
}

static void *lat_sender(void *arg)
{
	struct lat_run *r = arg;
	struct codec_config c;
	struct codec_encoder enc;
	float pcm[960 * CH];
	uint8_t payload[4000], buf[4100];
	bool opus = r->kind == CODEC_OPUS;

	codec_config_default(&c, r->kind);
	c.rate = RATE;
	c.channels = CH;
	c.frame_us = r->frame_us;
	c.bitrate = 128000;
	if (opus && codec_encoder_init(&enc, &c) < 0) {
		atomic_store_explicit(&r->failed, true, memory_order_relaxed);
		return NULL;
	}
	for (uint64_t k = 0;; k++) {
		uint64_t due = r->t0 + (k + 1) * (uint64_t)r->frame *
		                               1000000000ull / RATE;
		struct rtp_header h;
		int n;

		if (due > r->end_ns ||
		    atomic_load_explicit(&r->failed, memory_order_relaxed))
			break;
		for (int i = 0; i < r->frame; i++)
			pcm[i * CH] = pcm[i * CH + 1] = lat_sample(
			        k * (uint64_t)r->frame + (uint64_t)i);
		n = opus ? codec_encode(&enc, pcm, (size_t)r->frame, payload,
		                        sizeof(payload))
		         : pcm_encode(16, CH, pcm, (size_t)r->frame, payload,
		                      sizeof(payload));
		if (n <= 0)
			break;
		memset(&h, 0, sizeof(h));
		h.version = 2;
		h.pt = 96;
		h.ssrc = 0x1a7e;
		h.seq = (uint16_t)(1000 + k);
		h.ts = 5000u + (uint32_t)(k * (uint64_t)r->frame);
		n = rtp_write(&h, payload, (size_t)n, buf, sizeof(buf));
		if (n <= 0)
			break;
		lat_sleep_until(due);
		(void)sendto(r->tx, buf, (size_t)n, 0,
		             (const struct sockaddr *)&r->dst, sizeof(r->dst));
	}
	if (opus)
		codec_encoder_clear(&enc);
	return NULL;
}

static void *lat_net(void *arg)
{
	struct lat_run *r = arg;
	uint8_t buf[4100];

	while (lat_now_ns() < r->end_ns + 100000000ull &&
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
	float out[PERIOD * CH];
	const uint64_t period_ns = (uint64_t)PERIOD * 1000000000ull / RATE;
	uint64_t quiet = 0;
	bool armed = false;
	uint64_t next = r->t0;

	while (next < r->end_ns) {
		lat_sleep_until(next);
		uint64_t now = lat_now_ns();
		if (now > next + period_ns)
			r->late_wakeups++;
		if (netstream_pull(&r->ns, out, PERIOD) != PERIOD) {
			atomic_store_explicit(&r->failed, true,
			                      memory_order_relaxed);
			break;
		}
		/* Armed by 10 ms below 0.01; the first sample above 0.1
		 * after that is an onset (the rising edge passes between
		 * the two thresholds first). */
		for (int i = 0; i < PERIOD; i++) {
			float x = fabsf(out[i * CH]);
			if (armed && x > 0.1f && r->nonset < MAX_ONSETS) {
				r->onset[r->nonset++] =
				        now +
				        (uint64_t)i * 1000000000ull / RATE;
				armed = false;
			}
			quiet = x < 0.01f ? quiet + 1 : 0;
			if (quiet >= RATE / 100)
				armed = true;
		}
		next += period_ns;
	}
	return NULL;
}

static int lat_sockets(struct lat_run *r)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->rx = socket(AF_INET, SOCK_DGRAM, 0);
	r->tx = socket(AF_INET, SOCK_DGRAM, 0);
	if (r->rx < 0 || r->tx < 0)
		return -errno;
	if (bind(r->rx, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(r->rx, (struct sockaddr *)&a, &alen) < 0)
		return -errno;
	r->dst = a;
	return 0;
}

struct lat_result {
	size_t n;
	double med_ms, min_ms, max_ms;
	struct netstream_stats st;
	uint64_t late_wakeups;
};

static int lat_measure(enum codec_kind kind, int frame_us, double seconds,
                       unsigned fixed_ms, struct lat_result *res)
{
	struct lat_run *r = calloc(1, sizeof(*r));
	struct netstream_config nc;
	pthread_t th[3];
	int started = 0, err;
	void *(*fn[3])(void *) = {lat_net, lat_audio, lat_sender};

	if (!r)
		return -ENOMEM;
	r->kind = kind;
	r->frame_us = frame_us;
	r->seconds = seconds;
	r->fixed_ms = fixed_ms;
	r->frame = RATE / 1000 * frame_us / 1000;
	r->tx = r->rx = -1;
	err = lat_sockets(r);
	if (err < 0)
		goto out;
	netstream_config_default(&nc, kind);
	nc.codec.rate = RATE;
	nc.codec.channels = CH;
	nc.codec.frame_us = frame_us;
	nc.jitter.frame_ticks = 0;
	nc.jitter.initial_ms = 0;
	if (fixed_ms > 0) {
		nc.jitter.adaptive = false;
		nc.jitter.fixed_ms = fixed_ms;
	}
	nc.out_rate = RATE;
	err = netstream_init(&r->ns, &nc);
	if (err < 0)
		goto out;
	r->t0 = lat_now_ns() + 50000000ull;
	r->end_ns = r->t0 + (uint64_t)(seconds * 1e9);
	for (; started < 3; started++) {
		err = -pthread_create(&th[started], NULL, fn[started], r);
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
		double lat[MAX_ONSETS];
		size_t n = 0;
		const double every_ns = CLICK_EVERY * 1e9 / RATE;

		for (size_t i = 0; i < r->nonset; i++) {
			if (r->onset[i] < r->t0 + SETTLE_NS)
				continue;
			double since = (double)(r->onset[i] - r->t0);
			double m = floor(since / every_ns);
			lat[n++] = (since - m * every_ns) / 1e6;
		}
		memset(res, 0, sizeof(*res));
		res->n = n;
		if (n > 0) {
			qsort(lat, n, sizeof(double), lat_cmp_double);
			res->med_ms = lat[n / 2];
			res->min_ms = lat[0];
			res->max_ms = lat[n - 1];
		}
		res->late_wakeups = r->late_wakeups;
		(void)netstream_stats(&r->ns, &res->st);
	}
	netstream_clear(&r->ns);
out:
	if (r->tx >= 0)
		close(r->tx);
	if (r->rx >= 0)
		close(r->rx);
	free(r);
	return err;
}

static void lat_usage(FILE *f)
{
	fprintf(f, "usage: latency_check [--codec opus|l16|all] "
	           "[--frame-ms 2.5|5|10|all] [--seconds S] [--latency MS]\n");
}

int main(int argc, char **argv)
{
	const char *codec = "all", *frame = "all";
	double seconds = 4.0;
	unsigned fixed_ms = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = (char *)"";

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			lat_usage(stdout);
			return 0;
		}
		if (v == NULL) {
			lat_usage(stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--codec")) {
			codec = v;
		} else if (!strcmp(a, "--frame-ms")) {
			frame = v;
		} else if (!strcmp(a, "--seconds")) {
			seconds = strtod(v, &end);
		} else if (!strcmp(a, "--latency")) {
			fixed_ms = (unsigned)strtoul(v, &end, 10);
		} else {
			lat_usage(stderr);
			return 2;
		}
		if (*end != '\0' || end == v) {
			fprintf(stderr,
			        "latency_check: %s '%s': not a number\n", a, v);
			return 2;
		}
	}
	if (!(seconds >= 2.0 && seconds <= 600.0)) {
		fprintf(stderr, "latency_check: --seconds 2..600 please\n");
		return 2;
	}
	if (strcmp(codec, "all") && strcmp(codec, "l16") &&
	    strcmp(codec, "opus")) {
		fprintf(stderr,
		        "latency_check: --codec '%s': use opus, l16 or "
		        "all\n",
		        codec);
		return 2;
	}
	if (strcmp(frame, "all") && strcmp(frame, "2.5") &&
	    strcmp(frame, "5") && strcmp(frame, "10")) {
		fprintf(stderr,
		        "latency_check: --frame-ms '%s': use 2.5, 5, "
		        "10 or all\n",
		        frame);
		return 2;
	}
	static const int frames_us[] = {2500, 5000, 10000};
	static const enum codec_kind kinds[] = {CODEC_L16, CODEC_OPUS};
	static const char *const names[] = {"l16", "opus"};
	bool any = false;

	printf("end-to-end latency on 127.0.0.1, sender position -> receiver "
	       "callback output, %d-frame pulls at 48 kHz, target %s\n",
	       PERIOD, fixed_ms ? "fixed" : "adaptive");
	printf("%-5s %6s %7s %9s %8s %8s %10s %10s %6s %9s\n", "codec", "frame",
	       "clicks", "median", "min", "max", "target_ms", "buffer_ms",
	       "lost", "concealed");
	for (int k = 0; k < 2; k++) {
		if (strcmp(codec, "all") && strcmp(codec, names[k]))
			continue;
		for (int f = 0; f < 3; f++) {
			char want[16];
			snprintf(want, sizeof(want), "%g",
			         frames_us[f] / 1000.0);
			if (strcmp(frame, "all") && strcmp(frame, want))
				continue;
			struct lat_result res;
			int err = lat_measure(kinds[k], frames_us[f], seconds,
			                      fixed_ms, &res);
			any = true;
			if (err < 0) {
				fprintf(stderr, "latency_check: %s %s ms: %s\n",
				        names[k], want, strerror(-err));
				return 1;
			}
			printf("%-5s %4sms %7zu %7.2fms %6.2fms %6.2fms %10.2f "
			       "%10.2f %6llu %9llu\n",
			       names[k], want, res.n, res.med_ms, res.min_ms,
			       res.max_ms, res.st.target_ms, res.st.buffer_ms,
			       (unsigned long long)res.st.lost,
			       (unsigned long long)res.st.concealed_frames);
			if (res.late_wakeups > 0)
				printf("      (%llu callbacks woke over one "
				       "period late: the machine is busy)\n",
				       (unsigned long long)res.late_wakeups);
		}
	}
	return any ? 0 : 2;
}
