/*
 * latency_check's signal, sender, click detector and summary (see
 * latency_check.h). The sender runs on its own thread; everything else on
 * the caller's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/rtcheck/rthook.h"
#include "codec/pcm.h"
#include "codec/rtp.h"
#include "tools/latency_check.h"

#define LAT_CLICK_LEN 48 /* frames: 1 ms */
#define LAT_MAX_FRAME 960

uint64_t lat_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void lat_sleep_until(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
	                      .tv_nsec = (long)(ns % 1000000000u)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/* Steps of 2^-15 from -0.25: exact in L16, L24 and float. */
float lat_counter(uint64_t f)
{
	return (float)(((double)(f % LAT_COUNTER_MOD) - LAT_COUNTER_MOD / 2) /
	               32768.0);
}

float lat_click(uint64_t f)
{
	uint64_t p = f % LAT_CLICK_EVERY;

	if (f < LAT_CLICK_EVERY || p >= LAT_CLICK_LEN)
		return 0.0f;
	return (float)(0.8 * sin(2.0 * 3.14159265358979323846 * 1000.0 *
	                         (double)p / LAT_RATE));
}

const char *lat_codec_name(enum codec_kind kind)
{
	return kind == CODEC_OPUS ? "opus" : kind == CODEC_L24 ? "l24" : "l16";
}

static void lat_fail(struct lat_send *s)
{
	atomic_store_explicit(s->failed, true, memory_order_relaxed);
}

void *lat_sender(void *arg)
{
	struct lat_send *s = arg;
	struct codec_config c;
	struct codec_encoder enc;
	float pcm[LAT_MAX_FRAME * LAT_CH];
	uint8_t payload[6000], buf[6100];
	bool opus = s->kind == CODEC_OPUS;
	int bits = s->kind == CODEC_L24 ? 24 : 16;

	if (s->rt)
		(void)rthook_promote(RTHOOK_PRIORITY_NET);
	if (s->frame <= 0 || s->frame > LAT_MAX_FRAME) {
		lat_fail(s);
		return NULL;
	}
	codec_config_default(&c, s->kind);
	c.rate = LAT_RATE;
	c.channels = LAT_CH;
	c.frame_us = (int)((int64_t)s->frame * 1000000 / LAT_RATE);
	c.bitrate = 128000;
	if (opus && codec_encoder_init(&enc, &c) < 0) {
		lat_fail(s);
		return NULL;
	}
	for (uint64_t k = 0;; k++) {
		uint64_t first = k * (uint64_t)s->frame;
		uint64_t due = s->t0 + (first + (uint64_t)s->frame) *
		                               1000000000ull / LAT_RATE;
		struct rtp_header h;
		int n;

		if (due > s->end_ns ||
		    atomic_load_explicit(s->failed, memory_order_relaxed))
			break;
		for (int i = 0; i < s->frame; i++) {
			pcm[i * LAT_CH] = lat_counter(first + (uint64_t)i);
			pcm[i * LAT_CH + 1] = lat_click(first + (uint64_t)i);
		}
		n = opus ? codec_encode(&enc, pcm, (size_t)s->frame, payload,
		                        sizeof(payload))
		         : pcm_encode(bits, LAT_CH, pcm, (size_t)s->frame,
		                      payload, sizeof(payload));
		if (n <= 0) {
			lat_fail(s);
			break;
		}
		memset(&h, 0, sizeof(h));
		h.version = 2;
		h.pt = LAT_PT;
		h.ssrc = 0x1a7e;
		h.seq = (uint16_t)(1000 + k);
		h.ts = 5000u + (uint32_t)first;
		n = rtp_write(&h, payload, (size_t)n, buf, sizeof(buf));
		if (n <= 0) {
			lat_fail(s);
			break;
		}
		lat_sleep_until(due);
		(void)sendto(s->fd, buf, (size_t)n, 0,
		             (const struct sockaddr *)&s->dst, sizeof(s->dst));
	}
	if (opus)
		codec_encoder_clear(&enc);
	return NULL;
}

void lat_detect_sample(struct lat_detect *d, float x, uint64_t t_ns)
{
	x = fabsf(x);
	if (d->armed && x > 0.1f && d->n < LAT_MAX_ONSETS) {
		d->onset[d->n++] = t_ns;
		d->armed = false;
	}
	d->quiet = x < 0.01f ? d->quiet + 1 : 0;
	if (d->quiet >= LAT_RATE / 100)
		d->armed = true;
}

static int lat_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void lat_summarize(const struct lat_detect *d, uint64_t t0,
                   struct lat_summary *s)
{
	double lat[LAT_MAX_ONSETS];
	const double every_ns = LAT_CLICK_EVERY * 1e9 / LAT_RATE;
	size_t n = 0;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < d->n; i++) {
		if (d->onset[i] < t0 + LAT_SETTLE_NS)
			continue;
		double since = (double)(d->onset[i] - t0);
		double m = floor(since / every_ns);
		lat[n++] = (since - m * every_ns) / 1e6;
	}
	s->n = n;
	if (n > 0) {
		qsort(lat, n, sizeof(double), lat_cmp_double);
		s->med_ms = lat[n / 2];
		s->min_ms = lat[0];
		s->max_ms = lat[n - 1];
	}
}

int lat_udp(bool bind_it, struct sockaddr_in *a)
{
	socklen_t alen = sizeof(*a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -errno;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind_it && (bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0 ||
	                getsockname(fd, (struct sockaddr *)a, &alen) < 0)) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}
