/*
 * bench_recv: receiver callback cost per network stream
 *
 * No network and no device: N network streams (netstream) are linked into
 * a mixer and mixer_process is called directly with 128-frame stereo
 * periods at 48 kHz, on a simulated clock (frames pulled). Between two
 * callbacks, outside the timed region, the "net thread" part hands each
 * stream the RTP packets its sender has sent by then (netstream_receive,
 * arrival = send time + 1 ms). Packets carry a seeded sweep plus noise,
 * encoded once (Opus at 128 kbit/s, or L16) and renumbered per stream;
 * each stream starts at its own seeded phase, so the packet decodes of
 * different streams spread over the callbacks as independent senders
 * would. Streams run with the default configuration: adaptive delay and
 * drift compensation (codec/varispeed) on.
 *
 * For each codec it prints the median and p99 callback time for
 * N = 1, 2, 4, ... (best of three rounds), the cost per stream, and the
 * largest N whose p99 stays within 50 % of the period (2.67 ms / 2).
 *
 * With --dups PPS it measures a duplicate flood instead: one stream, run
 * clean and then with PPS copies per second of its latest 8 packets handed
 * to netstream_receive between callbacks as well, and prints the median,
 * p99 and max of both (best of three rounds each) and their differences.
 * netstream_receive drops the copies it has seen on the net side; with
 * --unfiltered they are pushed past that filter (netstream_packet_get,
 * packet_set, netstream_push with the original's extended number), so the
 * audio thread's pull pops every one: the jitter buffer's own bound.
 *
 *   bench_recv [--codec opus|l16|all] [--frame-ms MS] [--max N]
 *              [--callbacks N] [--no-drift] [--dups PPS [--unfiltered]]
 *
 * Context: one thread plays both the net and the audio context.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/audio/mixer.h"
#include "bridge/net/netstream.h"
#include "codec/codec.h"
#include "codec/pcm.h"
#include "codec/rtp.h"

#define CH         2
#define PERIOD     128
#define RATE       48000
#define LOOP_MS    1000       /* length of the encoded packet loop */
#define MAX_PKT    2048       /* bytes of one RTP datagram here */
#define NET_DELAY  1000000ull /* ns, sender to receiver */
#define WARMUP_CBS 400        /* callbacks before timing: the buffer fills */

struct bench_opts {
	int frame_us;
	unsigned max;
	unsigned calls;
	unsigned dups;   /* duplicate copies per second, 0 = none */
	bool unfiltered; /* the copies skip netstream_receive's filter */
	bool drift;
};

/* The packet loop one codec sends: payloads encoded once. */
struct bench_loop {
	enum codec_kind kind;
	int frame; /* frames per packet */
	unsigned npkt;
	uint8_t *payload; /* npkt * MAX_PKT */
	int *len;
};

struct bench_stream {
	struct netstream ns;
	uint64_t next_k;   /* next packet to send */
	uint64_t start_ns; /* the stream's phase */
	uint64_t dup_due;  /* duplicates owed, in PPS * ns */
	uint32_t ssrc;
};

static uint64_t bench_sim_ns; /* the simulated clock: frames pulled */

static uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t bench_sim_clock(void *arg)
{
	(void)arg;
	return bench_sim_ns;
}

static uint64_t bench_rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void bench_codec_config(struct codec_config *c, enum codec_kind kind,
                               int frame_us)
{
	codec_config_default(c, kind);
	c->rate = RATE;
	c->channels = CH;
	c->frame_us = frame_us;
	if (kind == CODEC_OPUS)
		c->bitrate = 128000;
}

/* Encode LOOP_MS of a seeded sweep plus noise into packets. */
static int bench_loop_init(struct bench_loop *l, enum codec_kind kind,
                           int frame_us)
{
	struct codec_config c;
	struct codec_encoder enc;
	float *pcm = NULL;
	uint64_t seed = 0x5eed;
	int err = -ENOMEM;

	memset(l, 0, sizeof(*l));
	bench_codec_config(&c, kind, frame_us);
	if (codec_config_check(&c, NULL) < 0)
		return -EINVAL;
	l->kind = kind;
	l->frame = codec_config_frames(&c);
	l->npkt = (unsigned)(LOOP_MS * 1000 / frame_us);
	l->payload = malloc((size_t)l->npkt * MAX_PKT);
	l->len = calloc(l->npkt, sizeof(*l->len));
	pcm = malloc(sizeof(float) * (size_t)l->frame * CH);
	if (!l->payload || !l->len || !pcm)
		goto fail;
	if (kind == CODEC_OPUS) {
		err = codec_encoder_init(&enc, &c);
		if (err < 0)
			goto fail;
	}
	double phase = 0.0;
	for (unsigned k = 0; k < l->npkt; k++) {
		for (int i = 0; i < l->frame; i++) {
			double t =
			        (double)(k * (unsigned)l->frame + (unsigned)i) /
			        RATE;
			double f = 100.0 * pow(80.0, t * 1000.0 / LOOP_MS);
			phase += 2.0 * 3.14159265358979323846 * f / RATE;
			for (int ch = 0; ch < CH; ch++) {
				double noise =
				        (double)(bench_rng(&seed) >> 11) /
				                9007199254740992.0 -
				        0.5;
				pcm[i * CH + ch] = (float)(0.4 * sin(phase) +
				                           0.06 * noise);
			}
		}
		int n = kind == CODEC_OPUS
		                ? codec_encode(&enc, pcm, (size_t)l->frame,
		                               l->payload + (size_t)k * MAX_PKT,
		                               MAX_PKT - 64)
		                : pcm_encode(16, CH, pcm, (size_t)l->frame,
		                             l->payload + (size_t)k * MAX_PKT,
		                             MAX_PKT - 64);
		if (n <= 0) {
			err = n < 0 ? n : -EIO;
			if (kind == CODEC_OPUS)
				codec_encoder_clear(&enc);
			goto fail;
		}
		l->len[k] = n;
	}
	if (kind == CODEC_OPUS)
		codec_encoder_clear(&enc);
	free(pcm);
	return 0;
fail:
	free(pcm);
	free(l->payload);
	free(l->len);
	return err;
}

/* bench_loop_init, saying on stderr why it failed. */
static int bench_loop_open(struct bench_loop *l, enum codec_kind kind,
                           int frame_us, const char *name)
{
	int err = bench_loop_init(l, kind, frame_us);

	if (err < 0)
		fprintf(stderr, "bench_recv: cannot encode %s: %s\n", name,
		        strerror(-err));
	return err;
}

static void bench_loop_clear(struct bench_loop *l)
{
	free(l->payload);
	free(l->len);
}

/* Packet k of stream s, handed to it as arriving at arrival_ns; with
 * ext > 0 pushed as extended number ext past netstream_receive. */
static void bench_send(struct bench_stream *s, const struct bench_loop *l,
                       uint64_t k, uint64_t arrival_ns, uint64_t ext)
{
	struct rtp_header h;
	uint8_t buf[MAX_PKT];
	unsigned i = (unsigned)(k % l->npkt);

	memset(&h, 0, sizeof(h));
	h.version = 2;
	h.pt = 96;
	h.ssrc = s->ssrc;
	h.seq = (uint16_t)(s->ssrc + k);
	h.ts = s->ssrc * 7u + (uint32_t)(k * (uint64_t)l->frame);
	int n = rtp_write(&h, l->payload + (size_t)i * MAX_PKT,
	                  (size_t)l->len[i], buf, sizeof(buf));
	if (n <= 0)
		return;
	if (ext == 0) {
		(void)netstream_receive(&s->ns, buf, (size_t)n, arrival_ns);
		return;
	}
	struct packet *p = netstream_packet_get(&s->ns, (size_t)n);
	if (!p)
		return;
	if (packet_set(p, buf, (size_t)n, arrival_ns) < 0) {
		netstream_packet_return(&s->ns, p); /* never: a valid packet */
		return;
	}
	p->ext_seq = ext;
	(void)netstream_push(&s->ns, p);
}

/* The net side: every packet stream s has sent by now reaches it, and
 * with o->dups the copies of its last 8 packets owed by now. */
static void bench_deliver(const struct bench_opts *o, struct bench_stream *s,
                          const struct bench_loop *l)
{
	uint64_t frame_ns = (uint64_t)l->frame * 1000000000ull / RATE;

	while (s->start_ns + s->next_k * frame_ns + NET_DELAY <= bench_sim_ns) {
		bench_send(s, l, s->next_k,
		           s->start_ns + s->next_k * frame_ns + NET_DELAY, 0);
		s->next_k++;
	}
	if (!o->dups || s->next_k == 0)
		return;
	s->dup_due += (uint64_t)o->dups * PERIOD * 1000000000ull / RATE;
	for (uint64_t c = 0; s->dup_due >= 1000000000ull; c++) {
		uint64_t back = c % 8 < s->next_k ? c % 8 : 0;
		/* ext_max is the newest packet's, next_k - 1's. */
		uint64_t ext = o->unfiltered ? s->ns.seq.ext_max - back : 0;
		bench_send(s, l, s->next_k - 1 - back, bench_sim_ns, ext);
		s->dup_due -= 1000000000ull;
	}
}

struct bench_result {
	double median_us, p99_us, max_us;
	uint64_t concealed, underruns, duplicate;
};

/* n streams of loop l in one mixer, `calls` timed callbacks per round. */
static int bench_run(const struct bench_opts *o, const struct bench_loop *l,
                     unsigned n, struct bench_result *res)
{
	struct mixer_config mc;
	struct mixer m;
	static float out[PERIOD * CH];
	struct bench_stream *st = calloc(n, sizeof(*st));
	uint64_t *t = calloc(o->calls, sizeof(*t));
	uint64_t seed = 0x9e3779b97f4a7c15ull ^ n;
	unsigned inited = 0;
	int err = -ENOMEM;

	if (!st || !t)
		goto out;
	mixer_config_default(&mc);
	mc.max_sources = n;
	mc.cmd_capacity = 2;
	while (mc.cmd_capacity < n)
		mc.cmd_capacity *= 2;
	err = mixer_init(&m, &mc);
	if (err < 0)
		goto out;
	bench_sim_ns = 0;
	for (; inited < n; inited++) {
		struct netstream_config nc;
		struct bench_stream *s = &st[inited];

		netstream_config_default(&nc, l->kind);
		bench_codec_config(&nc.codec, l->kind, o->frame_us);
		nc.jitter.frame_ticks = 0;
		nc.out_rate = RATE;
		nc.drift = o->drift;
		nc.clock = bench_sim_clock;
		err = netstream_init(&s->ns, &nc);
		if (err < 0)
			goto fail;
		s->ssrc = 0x1000u + inited * 0x101u;
		s->start_ns = bench_rng(&seed) %
		              ((uint64_t)l->frame * 1000000000ull / RATE);
		err = mixer_link(&m, &s->ns.src, 1.0f / (float)n);
		if (err < 0) {
			netstream_clear(&s->ns);
			goto fail;
		}
	}
	for (unsigned i = 0; i < WARMUP_CBS; i++) {
		for (unsigned k = 0; k < n; k++)
			bench_deliver(o, &st[k], l);
		mixer_process(&m, NULL, out, PERIOD);
		mixer_poll(&m, NULL);
		bench_sim_ns += (uint64_t)PERIOD * 1000000000ull / RATE;
	}
	/* Best of three rounds: on a shared machine a round can lose the
	 * CPU for milliseconds, which is not receiver cost. */
	res->median_us = res->p99_us = res->max_us = 1e30;
	for (int round = 0; round < 3; round++) {
		for (unsigned i = 0; i < o->calls; i++) {
			for (unsigned k = 0; k < n; k++)
				bench_deliver(o, &st[k], l);
			uint64_t t0 = bench_now_ns();
			mixer_process(&m, NULL, out, PERIOD);
			t[i] = bench_now_ns() - t0;
			mixer_poll(&m, NULL);
			bench_sim_ns += (uint64_t)PERIOD * 1000000000ull / RATE;
		}
		qsort(t, o->calls, sizeof(*t), bench_cmp_u64);
		double med = (double)t[o->calls / 2] / 1000.0;
		double p99 = (double)t[(size_t)(o->calls * 0.99)] / 1000.0;
		res->median_us = fmin(med, res->median_us);
		res->p99_us = fmin(p99, res->p99_us);
		res->max_us =
		        fmin((double)t[o->calls - 1] / 1000.0, res->max_us);
	}
	res->concealed = res->underruns = res->duplicate = 0;
	for (unsigned k = 0; k < n; k++) {
		struct netstream_stats ss;
		if (netstream_stats(&st[k].ns, &ss) == 0) {
			res->concealed += ss.concealed_frames;
			res->underruns += ss.underruns;
			res->duplicate += ss.duplicate;
		}
	}
	err = 0;
fail:
	/* The mixer lets its sources go (their release is NULL); then the
	 * streams are freed. */
	mixer_clear(&m);
	for (unsigned k = 0; k < inited; k++)
		netstream_clear(&st[k].ns);
out:
	free(st);
	free(t);
	return err;
}

static int bench_codec(const struct bench_opts *o, enum codec_kind kind)
{
	const double period_us = PERIOD * 1e6 / RATE;
	const double budget_us = period_us / 2;
	struct bench_loop l;
	struct bench_result r, one = {0};
	unsigned ok = 0, over = 0;
	const char *name = kind == CODEC_OPUS ? "opus" : "l16";
	int err = bench_loop_open(&l, kind, o->frame_us, name);

	if (err < 0)
		return err;
	printf("\n%s, %.1f ms packets, stereo 48 kHz, %d-frame callbacks "
	       "(period %.0f us, budget 50%% = %.0f us), drift %s\n",
	       name, o->frame_us / 1000.0, PERIOD, period_us, budget_us,
	       o->drift ? "on" : "off");
	printf("%8s %11s %11s %16s %16s %10s\n", "streams", "median us",
	       "p99 us", "median us/strm", "p99 us/strm", "concealed");
	for (unsigned n = 1; n <= o->max; n *= 2) {
		err = bench_run(o, &l, n, &r);
		if (err < 0)
			goto out;
		if (n == 1)
			one = r;
		printf("%8u %11.2f %11.2f %16.3f %16.3f %10llu\n", n,
		       r.median_us, r.p99_us, r.median_us / n, r.p99_us / n,
		       (unsigned long long)r.concealed);
		if (r.p99_us <= budget_us) {
			ok = n;
		} else {
			over = n;
			break;
		}
	}
	if (over) {
		unsigned lo = ok, hi = over;
		struct bench_opts half = *o;

		half.calls = o->calls / 2;
		while (hi - lo > (lo / 16 > 1 ? lo / 16 : 1)) {
			unsigned mid = lo + (hi - lo) / 2;
			err = bench_run(&half, &l, mid, &r);
			if (err < 0)
				goto out;
			if (r.p99_us <= budget_us)
				lo = mid;
			else
				hi = mid;
		}
		printf("%s: one stream median %.2f us, p99 %.2f us; about %u "
		       "streams fit with p99 within 50%% of the period\n",
		       name, one.median_us, one.p99_us, lo);
	} else {
		printf("%s: one stream median %.2f us, p99 %.2f us; all %u "
		       "tried stream counts fit (try a larger --max)\n",
		       name, one.median_us, one.p99_us, ok);
	}
	err = 0;
out:
	bench_loop_clear(&l);
	return err;
}

/* One stream clean, then under o->dups duplicates per second. */
static int bench_dups(const struct bench_opts *o, enum codec_kind kind)
{
	struct bench_opts clean = *o;
	struct bench_loop l;
	struct bench_result c, d;
	const char *name = kind == CODEC_OPUS ? "opus" : "l16";
	int err = bench_loop_open(&l, kind, o->frame_us, name);

	if (err < 0)
		return err;
	clean.dups = 0;
	err = bench_run(&clean, &l, 1, &c);
	if (err == 0)
		err = bench_run(o, &l, 1, &d);
	bench_loop_clear(&l);
	if (err < 0)
		return err;
	printf("\n%s, %.1f ms packets, one stream, %d-frame callbacks, "
	       "drift %s, copies %s\n",
	       name, o->frame_us / 1000.0, PERIOD, o->drift ? "on" : "off",
	       o->unfiltered ? "pushed past the net-side filter"
	                     : "through netstream_receive");
	printf("%-12s %11s %11s %11s %12s %10s\n", "run", "median us", "p99 us",
	       "max us", "duplicates", "concealed");
	printf("%-12s %11.2f %11.2f %11.2f %12llu %10llu\n", "clean",
	       c.median_us, c.p99_us, c.max_us, (unsigned long long)c.duplicate,
	       (unsigned long long)c.concealed);
	printf("%-12s %11.2f %11.2f %11.2f %12llu %10llu\n", "dups",
	       d.median_us, d.p99_us, d.max_us, (unsigned long long)d.duplicate,
	       (unsigned long long)d.concealed);
	printf("%s: %u duplicates/s move the median by %+.2f us, p99 by "
	       "%+.2f us, max by %+.2f us\n",
	       name, o->dups, d.median_us - c.median_us, d.p99_us - c.p99_us,
	       d.max_us - c.max_us);
	return 0;
}

static void bench_usage(FILE *f)
{
	fprintf(f, "usage: bench_recv [--codec opus|l16|all] [--frame-ms MS] "
	           "[--max N] [--callbacks N] [--no-drift] [--dups PPS "
	           "[--unfiltered]]\n");
}

int main(int argc, char **argv)
{
	struct bench_opts o = {
	        .frame_us = 10000, .max = 1024, .calls = 2000, .drift = true};
	const char *codec = "all";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;

		if (!strcmp(a, "--no-drift")) {
			o.drift = false;
			continue;
		}
		if (!strcmp(a, "--unfiltered")) {
			o.unfiltered = true;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			bench_usage(stdout);
			return 0;
		}
		if (v == NULL) {
			bench_usage(stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--codec")) {
			codec = v;
			continue;
		} else if (!strcmp(a, "--frame-ms")) {
			o.frame_us = (int)lround(strtod(v, &end) * 1000.0);
		} else if (!strcmp(a, "--max")) {
			o.max = (unsigned)strtoul(v, &end, 10);
		} else if (!strcmp(a, "--callbacks")) {
			o.calls = (unsigned)strtoul(v, &end, 10);
		} else if (!strcmp(a, "--dups")) {
			o.dups = (unsigned)strtoul(v, &end, 10);
		} else {
			bench_usage(stderr);
			return 2;
		}
		if (end == v || *end != '\0') {
			fprintf(stderr, "bench_recv: %s '%s': not a number\n",
			        a, v);
			return 2;
		}
	}
	if (o.max < 1 || o.calls < 100 || o.frame_us <= 0) {
		fprintf(stderr, "bench_recv: --max >= 1, --callbacks >= 100 "
		                "and a positive --frame-ms please\n");
		return 2;
	}
	bool opus = !strcmp(codec, "opus") || !strcmp(codec, "all");
	bool l16 = !strcmp(codec, "l16") || !strcmp(codec, "all");
	if (!opus && !l16) {
		fprintf(stderr,
		        "bench_recv: --codec '%s': use opus, l16 or "
		        "all\n",
		        codec);
		return 2;
	}
	int (*bench)(const struct bench_opts *, enum codec_kind) =
	        o.dups ? bench_dups : bench_codec;
	if (opus && bench(&o, CODEC_OPUS) < 0)
		return 1;
	if (l16 && bench(&o, CODEC_L16) < 0)
		return 1;
	return 0;
}
