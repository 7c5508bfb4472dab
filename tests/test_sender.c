/*
 * The sender against a loopback receiver on the same net thread: a file
 * streamed through the disk server comes out as RTP packets with
 * consecutive sequence numbers (across the 16-bit wrap), timestamps one
 * frame apart (across the 32-bit wrap), L16 payloads bit-exact against
 * the file and Opus payloads that decode back to the source; the frame
 * limit, stopping mid-stream, a stalled net thread (slots skipped, no
 * burst), bad configurations, and live input through the capture FIFO
 * from a thread that plays the audio callback under the real-time checker.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/net/addr.h"
#include "bridge/net/sender.h"
#include "codec/pcm.h"
#include "codec/rtp.h"
#include "tests/rtcheck_assert.h"
#include "tests/threadname.h"

#if defined(__SANITIZE_THREAD__)
#define SLOW_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SLOW_SANITIZER 1
#endif
#endif
#ifndef SLOW_SANITIZER
#define SLOW_SANITIZER 0
#endif

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

enum { RX_MAX = 512, RX_BYTES = 2048 };

/* What the receiver got; written on the net thread, read after `rx_n`. */
static uint8_t rx_data[RX_MAX][RX_BYTES];
static size_t rx_len[RX_MAX];
static uint64_t rx_ns[RX_MAX];
static _Atomic size_t rx_n;

static char tmpdir[256];
static struct diskserver srv;
static struct netloop nl;
static struct udpsock rxsock;
static struct sockaddr_storage rx_addr;

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
	                      .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void on_rx(struct udpsock *s, const uint8_t *data, size_t len,
                  const struct sockaddr *from, uint64_t now, void *user)
{
	(void)s;
	(void)from;
	(void)user;
	size_t n = atomic_load_explicit(&rx_n, memory_order_relaxed);
	if (n >= RX_MAX || len > RX_BYTES)
		return;
	memcpy(rx_data[n], data, len);
	rx_len[n] = len;
	rx_ns[n] = now;
	/* Release pairs with the acquire in rx_count: the packet is copied
	 * before it is counted. */
	atomic_store_explicit(&rx_n, n + 1, memory_order_release);
}

static size_t rx_count(void)
{
	return atomic_load_explicit(&rx_n, memory_order_acquire);
}

static int open_rx(struct netloop *l, void *arg)
{
	struct udpsock_opts o;
	struct sockaddr_storage bind;
	(void)arg;
	cr_assert_eq(addr_parse(&bind, NULL, "127.0.0.1:0",
	                        ADDR_PORT_ZERO | ADDR_NUMERIC, NULL, 0),
	             0);
	udpsock_opts_init(&o);
	o.bind = (const struct sockaddr *)&bind;
	o.on_recv = on_rx;
	o.rcvbuf = 1 << 20;
	int rc = udpsock_open(&rxsock, l, &o);
	if (rc < 0)
		return rc;
	return udpsock_local(&rxsock, &rx_addr);
}

static void setup(void)
{
	static const struct diskfaults none = {0};
	struct diskserver_opts dop = {.faults = &none};

	snprintf(tmpdir, sizeof tmpdir, "/tmp/rtb_sender_XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	atomic_store_explicit(&rx_n, 0, memory_order_relaxed);
	cr_assert_eq(diskserver_start(&srv, &dop), 0);
	cr_assert_eq(netloop_start(&nl, 64), 0);
	cr_assert_eq(netloop_call_wait(&nl, open_rx, NULL), 0);
}

static void teardown(void)
{
	char cmd[300];

	netloop_stop(&nl);
	cr_expect_eq(diskserver_stop(&srv), 0, "streams left open");
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	(void)!system(cmd);
}

TestSuite(sender, .init = setup, .fini = teardown, .timeout = 60);

/* Seeded noise: a 16-bit sample value, exact in float. */
static int16_t noise16(uint64_t i, int c)
{
	uint32_t h = (uint32_t)(i * 2654435761u) ^
	             (uint32_t)(c * 0x9e3779b9u + 12345u);
	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return (int16_t)(h & 0xffff);
}

/* Write a 48 kHz 16-bit WAV of noise (sine when `sine`), return its path. */
static const char *write_wav(const char *name, long frames, int channels,
                             bool sine)
{
	static char path[300];
	SF_INFO info = {.samplerate = 48000,
	                .channels = channels,
	                .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	cr_assert_not_null(sf, "%s", sf_strerror(NULL));
	short *buf = malloc(sizeof(short) * (size_t)frames * (size_t)channels);
	cr_assert_not_null(buf);
	for (long i = 0; i < frames; i++)
		for (int c = 0; c < channels; c++)
			buf[i * channels + c] =
			        sine ? (short)lrint(12000.0 *
			                            sin(2 * M_PI * 997.0 *
			                                (double)i / 48000.0))
			             : noise16((uint64_t)i, c);
	cr_assert_eq(sf_writef_short(sf, buf, frames), frames);
	free(buf);
	sf_close(sf);
	return path;
}

static struct readahead *open_stream(const char *path, int channels, int loop)
{
	struct readahead_opts ro = {
	        .channels = channels, .rate = 48000, .loop = loop};
	struct readahead *ra = NULL;
	cr_assert_eq(readahead_open(&srv, path, &ro, &ra), 0);
	int st = readahead_poll(ra);
	for (int i = 0;
	     i < 5000 && st != READAHEAD_STREAMING && st != READAHEAD_ERROR;
	     i++) {
		sleep_ms(1);
		st = readahead_poll(ra);
	}
	cr_assert_eq(st, READAHEAD_STREAMING, "stream state %d: %s", st,
	             readahead_error(ra));
	return ra;
}

static void base_opts(struct sender_opts *o, enum codec_kind kind, int channels,
                      int frame_us)
{
	sender_opts_init(o);
	codec_config_default(&o->codec, kind);
	o->codec.rate = 48000;
	o->codec.channels = channels;
	o->codec.frame_us = frame_us;
	if (kind == CODEC_OPUS)
		o->codec.bitrate = 128000;
	memcpy(&o->to, &rx_addr, sizeof rx_addr);
	o->ssrc = 0xdeadbeef;
	o->seq0 = 65530;      /* wraps after 6 packets */
	o->ts0 = 0xffffe000u; /* wraps after a few packets */
	o->pt = 97;
	/* Packetization tests: a loaded machine may delay the net thread,
	 * but slots are never skipped, so timestamps stay consecutive. */
	o->max_burst = 1000;
}

static void wait_finished(struct sender *s, int ms)
{
	for (int i = 0; i < ms && !sender_finished(s); i++)
		sleep_ms(1);
	cr_assert(sender_finished(s), "the sender did not finish within %d ms",
	          ms);
	/* Loopback delivery is immediate, but give the receive callback a
	 * few loop turns. */
	sleep_ms(30);
}

/* Check seq/ts/ssrc/pt/marker of packet i against the stream. */
static void check_header(size_t i, const struct sender_opts *o, uint32_t ticks,
                         const uint8_t **payload, size_t *len)
{
	struct rtp_header h;
	cr_assert_eq(rtp_parse(rx_data[i], rx_len[i], &h, payload, len), 0,
	             "packet %zu", i);
	cr_assert_eq(h.seq, (uint16_t)(o->seq0 + i), "seq of packet %zu: %u", i,
	             h.seq);
	cr_assert_eq(h.ts, (uint32_t)(o->ts0 + i * ticks), "ts of packet %zu",
	             i);
	cr_assert_eq(h.ssrc, o->ssrc);
	cr_assert_eq(h.pt, o->pt);
	cr_assert_eq(h.marker, i == 0, "marker only on the first packet");
}

Test(sender, the_disk_and_net_threads_are_named)
{
	/* The set-up started both; the net thread has run a call since,
	   the disk thread names itself when it gets going. */
	for (int i = 0; i < 1000 && !threadname_exists("rtb-disk"); i++)
		sleep_ms(1);
	cr_assert(threadname_exists("rtb-disk"));
	cr_assert(threadname_exists("rtb-net"));
}

Test(sender, l16_packets_are_consecutive_and_bit_exact_with_the_file)
{
	enum {
		FRAMES = 24000 + 100,
		CH = 2,
		PF = 480
	}; /* 0.5 s + a partial packet */
	const char *path = write_wav("noise.wav", FRAMES, CH, false);
	struct readahead *ra = open_stream(path, CH, 0);
	struct sender_opts o;
	struct sender s;
	struct sender_stats st;
	static float got[PF * CH];

	base_opts(&o, CODEC_L16, CH, 10000);
	cr_assert_eq(sender_init(&s, &o), 0, "%s", sender_error(&s));
	cr_assert_eq(sender_start_file(&s, &nl, ra), 0, "%s", sender_error(&s));
	wait_finished(&s, 5000);
	sender_stop(&s);
	sender_stats(&s, &st);

	size_t n = rx_count();
	size_t want = (FRAMES + PF - 1) / PF;
	cr_assert_eq(n, want, "received %zu packets, want %zu", n, want);
	cr_assert_eq(st.packets, want);
	cr_assert_eq(st.frames, FRAMES);
	cr_assert_eq(st.underruns, 0);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *pl;
		size_t len;
		check_header(i, &o, PF, &pl, &len);
		cr_assert_eq(len, PF * CH * 2);
		cr_assert_eq(pcm_decode(16, CH, pl, len, got, PF), PF);
		for (size_t f = 0; f < PF; f++) {
			uint64_t k = i * PF + f;
			for (int c = 0; c < CH; c++) {
				float want_v =
				        k < FRAMES ? noise16(k, c) / 32768.0f
				                   : 0.0f;
				cr_assert_eq(got[f * CH + c], want_v,
				             "frame %llu ch %d",
				             (unsigned long long)k, c);
			}
		}
	}
	sender_clear(&s);
	cr_assert_eq(readahead_close(ra), 0);
}

/* Packets of any whole number of frames (AES67's 1 ms = 48 frames,
   PipeWire's 213): consecutive, each that long, bit-exact with the file. */
static void pcm_frames_run(int pf, size_t frames)
{
	const char *path = write_wav("noise_pf.wav", frames, 2, false);
	struct readahead *ra = open_stream(path, 2, 0);
	struct sender_opts o;
	struct sender s;
	static float got[960 * 2];

	base_opts(&o, CODEC_L16, 2, 0);
	codec_config_set_frames(&o.codec, pf);
	cr_assert_eq(sender_init(&s, &o), 0, "%s", sender_error(&s));
	cr_assert_eq(sender_start_file(&s, &nl, ra), 0, "%s", sender_error(&s));
	wait_finished(&s, 5000);
	sender_stop(&s);
	size_t n = rx_count();
	cr_assert_eq(n, (frames + (size_t)pf - 1) / (size_t)pf, "%zu packets",
	             n);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *pl;
		size_t len;
		check_header(i, &o, (uint32_t)pf, &pl, &len);
		cr_assert_eq(len, (size_t)pf * 4);
		cr_assert_eq(pcm_decode(16, 2, pl, len, got, 960), pf);
		for (int f = 0; f < pf; f++) {
			uint64_t k = i * (size_t)pf + (size_t)f;
			for (int c = 0; c < 2; c++)
				cr_assert_eq(
				        got[f * 2 + c],
				        k < frames ? noise16(k, c) / 32768.0f
				                   : 0.0f,
				        "frame %llu", (unsigned long long)k);
		}
	}
	sender_clear(&s);
	cr_assert_eq(readahead_close(ra), 0);
	atomic_store(&rx_n, 0);
}

Test(sender, pcm_packets_of_any_whole_frame_count_are_exact)
{
	pcm_frames_run(48, 12000);
	pcm_frames_run(213, 12000);
}

/* After a stall a sender catches up as much as 100 ms of audio back to
   back, whatever the packet length (a hiccup of a loaded machine costs
   no audio). */
Test(sender, burst_allowance_is_100_ms_of_packets)
{
	static const int pf[][2] = {
	        {480, 10}, {48, 100}, {6, 800}, {960, 5}, {213, 23}};
	struct sender_opts o;
	struct sender s;

	for (size_t i = 0; i < 5; i++) {
		base_opts(&o, CODEC_L24, 2, 0);
		o.max_burst = 0;
		codec_config_set_frames(&o.codec, pf[i][0]);
		cr_assert_eq(sender_init(&s, &o), 0, "%s", sender_error(&s));
		cr_assert_eq(s.opts.max_burst, (uint32_t)pf[i][1], "%d frames",
		             pf[i][0]);
		sender_clear(&s);
	}
	base_opts(&o, CODEC_L24, 2, 1000);
	o.mcast_ttl = 256;
	cr_assert_eq(sender_init(&s, &o), -EINVAL);
	cr_assert(strstr(sender_error(&s), "TTL") != NULL, "%s",
	          sender_error(&s));
	sender_clear(&s);
}

Test(sender, opus_packets_decode_back_to_the_source)
{
	enum { FRAMES = 24000, CH = 2, PF = 960 };
	const char *path = write_wav("sine.wav", FRAMES, CH, true);
	struct readahead *ra = open_stream(path, CH, 0);
	struct sender_opts o;
	struct sender s;
	struct codec_decoder dec;
	static float out[FRAMES * CH];

	base_opts(&o, CODEC_OPUS, CH, 20000);
	cr_assert_eq(sender_init(&s, &o), 0, "%s", sender_error(&s));
	int la = codec_encoder_lookahead(&s.enc);
	cr_assert_eq(sender_start_file(&s, &nl, ra), 0, "%s", sender_error(&s));
	wait_finished(&s, 5000);
	sender_stop(&s);

	size_t n = rx_count();
	cr_assert_eq(n, FRAMES / PF);
	cr_assert_eq(codec_decoder_init(&dec, &o.codec), 0);
	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *pl;
		size_t len;
		check_header(i, &o, PF, &pl, &len);
		cr_assert_leq(len, 128000 / 8 / 50 * 2,
		              "payload near the bit rate: %zu", len);
		int r = codec_decode(&dec, pl, len, out + pos * CH,
		                     FRAMES - pos);
		cr_assert_eq(r, PF);
		pos += (size_t)r;
	}
	/* SNR after the codec delay, skipping the encoder's start-up. */
	double sig = 0, err = 0;
	for (size_t f = 4800; f + (size_t)la < FRAMES; f++)
		for (int c = 0; c < CH; c++) {
			double ref =
			        12000.0 *
			        sin(2 * M_PI * 997.0 * (double)f / 48000.0) /
			        32768.0;
			double d = out[(f + (size_t)la) * CH + c] - ref;
			sig += ref * ref;
			err += d * d;
		}
	double snr = 10 * log10(sig / (err + 1e-20));
	cr_log_info("opus 128 kbit/s, 20 ms, sine: SNR %.1f dB (lookahead %d)",
	            snr, la);
	cr_assert_gt(snr, 20.0, "SNR %.1f dB", snr);
	codec_decoder_clear(&dec);
	sender_clear(&s);
	cr_assert_eq(readahead_close(ra), 0);
}

Test(sender, stops_after_the_frame_limit_even_when_looping)
{
	const char *path = write_wav("short.wav", 1000, 1, false);
	struct readahead *ra = open_stream(path, 1, 1);
	struct sender_opts o;
	struct sender s;

	base_opts(&o, CODEC_L24, 1, 5000);
	o.max_frames = 2400; /* 10 packets of 240 frames, 2.4 file loops */
	cr_assert_eq(sender_init(&s, &o), 0, "%s", sender_error(&s));
	cr_assert_eq(sender_start_file(&s, &nl, ra), 0, "%s", sender_error(&s));
	wait_finished(&s, 3000);
	sender_stop(&s);
	cr_assert_eq(rx_count(), 10);
	for (size_t i = 0; i < 10; i++) {
		const uint8_t *pl;
		size_t len;
		check_header(i, &o, 240, &pl, &len);
		cr_assert_eq(len, 240 * 3);
		/* Looping: stream frame k is file frame k % 1000. */
		int32_t v = (int32_t)((uint32_t)pl[0] << 24 |
		                      (uint32_t)pl[1] << 16 |
		                      (uint32_t)pl[2] << 8) >>
		            8;
		cr_assert_eq(v, noise16((i * 240) % 1000, 0) * 256,
		             "packet %zu", i);
	}
	sender_clear(&s);
	cr_assert_eq(readahead_close(ra), 0);
}

Test(sender, stop_mid_stream_returns_promptly_and_frees_the_source)
{
	const char *path = write_wav("loop.wav", 4800, 2, false);
	struct readahead *ra = open_stream(path, 2, 1);
	struct sender_opts o;
	struct sender s;

	base_opts(&o, CODEC_OPUS, 2, 10000);
	cr_assert_eq(sender_init(&s, &o), 0, "%s", sender_error(&s));
	cr_assert_eq(sender_start_file(&s, &nl, ra), 0, "%s", sender_error(&s));
	sleep_ms(200);
	cr_assert_not(sender_finished(&s),
	              "a looping file never ends by itself");
	uint64_t t = netloop_now_ns();
	sender_stop(&s);
	cr_assert(sender_finished(&s));
	cr_assert_lt(netloop_now_ns() - t, 500000000u, "stop took too long");
	/* A packet sent just before the stop may still wait in the
	 * receive socket: let the loop deliver it, then count. */
	sleep_ms(30);
	size_t n = rx_count();
	cr_assert_geq(n, 5);
	cr_assert_leq(n, 100);
	sleep_ms(50);
	cr_assert_eq(rx_count(), n, "nothing is sent after stop");
	sender_clear(&s);
	cr_assert_eq(readahead_close(ra), 0);
}

static int stall_net_thread(struct netloop *l, void *arg)
{
	(void)l;
	sleep_ms(*(long *)arg);
	return 0;
}

Test(sender, a_stalled_net_thread_skips_slots_instead_of_bursting)
{
	const char *path = write_wav("stall.wav", 4800, 2, false);
	struct readahead *ra = open_stream(path, 2, 1);
	struct sender_opts o;
	struct sender s;
	struct sender_stats st;
	static long stall = 100;

	base_opts(&o, CODEC_L16, 2, 5000);
	o.max_burst = 1;
	cr_assert_eq(sender_init(&s, &o), 0, "%s", sender_error(&s));
	cr_assert_eq(sender_start_file(&s, &nl, ra), 0, "%s", sender_error(&s));
	sleep_ms(100);
	cr_assert_eq(netloop_call(&nl, stall_net_thread, &stall), 0);
	sleep_ms(200);
	sender_stop(&s);
	sender_stats(&s, &st);
	size_t n = rx_count();
	cr_assert_geq(st.skipped, 10,
	              "a 100 ms stall of 5 ms slots skips slots (%llu)",
	              (unsigned long long)st.skipped);
	/* Sequence numbers stay consecutive; the timestamp jumps over the
	 * skipped slots, so it keeps following real time. */
	struct rtp_header h0;
	const uint8_t *pl0;
	size_t len0;
	cr_assert_eq(rtp_parse(rx_data[0], rx_len[0], &h0, &pl0, &len0), 0);
	uint64_t ts_ticks = (uint32_t)(h0.ts - o.ts0);
	size_t burst_max = 0, burst = 1;
	for (size_t i = 1; i < n; i++) {
		struct rtp_header a, b;
		const uint8_t *pl;
		size_t len;
		cr_assert_eq(
		        rtp_parse(rx_data[i - 1], rx_len[i - 1], &a, &pl, &len),
		        0);
		cr_assert_eq(rtp_parse(rx_data[i], rx_len[i], &b, &pl, &len),
		             0);
		cr_assert_eq(b.seq, (uint16_t)(a.seq + 1));
		cr_assert_eq((uint32_t)(b.ts - a.ts) % 240, 0);
		ts_ticks += (uint32_t)(b.ts - a.ts);
		/* Packets closer than a quarter slot count as one burst. */
		burst = rx_ns[i] - rx_ns[i - 1] < 1250000 ? burst + 1 : 1;
		if (burst > burst_max)
			burst_max = burst;
	}
	cr_assert_eq(ts_ticks, (uint64_t)(n - 1 + st.skipped) * 240);
	/* Catching up would send the 20 slots of the stall back to back;
	 * allow 3 for receive-side scheduling noise on a loaded machine. */
	cr_assert_leq(burst_max, 3,
	              "no burst after the stall (%zu back to back)", burst_max);
	sender_clear(&s);
	cr_assert_eq(readahead_close(ra), 0);
}

Test(sender, refuses_bad_configurations_with_one_line)
{
	struct sender_opts o;
	struct sender s;

	base_opts(&o, CODEC_OPUS, 2, 7000);
	cr_assert_eq(sender_init(&s, &o), -EINVAL);
	cr_assert(strstr(sender_error(&s), "2.5, 5, 10 or 20") != NULL, "%s",
	          sender_error(&s));
	sender_clear(&s);
	base_opts(&o, CODEC_OPUS, 3, 10000);
	cr_assert_eq(sender_init(&s, &o), -EINVAL);
	sender_clear(&s);
	base_opts(&o, CODEC_L16, 2, 10000);
	o.pt = 128;
	cr_assert_eq(sender_init(&s, &o), -EINVAL);
	cr_assert(strstr(sender_error(&s), "payload type") != NULL);
	sender_clear(&s);
	base_opts(&o, CODEC_L16, 2, 10000);
	o.codec.rate = 44100;
	o.codec.frame_us = 2500; /* 110.25 frames */
	cr_assert_lt(sender_init(&s, &o), 0);
	sender_clear(&s);
	base_opts(&o, CODEC_L16, 2, 10000);
	memset(&o.to, 0, sizeof o.to);
	cr_assert_eq(sender_init(&s, &o), -EINVAL);
	sender_clear(&s);
}

/* The fake audio callback: 128-frame periods of a ramp, paced. */
struct producer {
	struct sender_capture *cap;
	_Atomic int stop;
	uint32_t next; /* ramp value of the next frame */
	int periods;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	static float buf[128];

	while (!atomic_load_explicit(&p->stop, memory_order_relaxed) &&
	       p->periods < 2000) {
		rthook_rt_enter();
		for (int f = 0; f < 128; f++)
			buf[f] = (float)(int16_t)(uint16_t)(p->next +
			                                    (uint32_t)f) /
			         32768.0f;
		p->next += 128;
		(void)sender_capture_push(p->cap, buf, 128);
		rthook_rt_leave();
		p->periods++;
		sleep_ms(2); /* a little faster than real time: exercises
		                trimming */
	}
	return NULL;
}

Test(sender,
     live_input_reaches_the_wire_in_order_from_a_real_time_safe_callback)
{
	struct sender_capture cap;
	struct sender_opts o;
	struct sender s;
	struct producer p = {0};
	pthread_t th;
	static float got[480];

	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	cr_assert_eq(sender_capture_init(&cap, 32, 256, 1), 0);
	base_opts(&o, CODEC_L16, 1, 10000);
	cr_assert_eq(sender_init(&s, &o), 0, "%s", sender_error(&s));
	p.cap = &cap;
	RTCHECK_RESET();
	cr_assert_eq(pthread_create(&th, NULL, produce, &p), 0);
	cr_assert_eq(sender_start_capture(&s, &nl, &cap), 0, "%s",
	             sender_error(&s));
	sleep_ms(SLOW_SANITIZER ? 600 : 400);
	sender_stop(&s);
	atomic_store_explicit(&p.stop, 1, memory_order_relaxed);
	pthread_join(th, NULL);
	RTCHECK_ASSERT_ZERO();

	size_t n = rx_count(), audible = 0;
	cr_assert_geq(n, 20);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *pl;
		size_t len;
		check_header(i, &o, 480, &pl, &len);
		cr_assert_eq(pcm_decode(16, 1, pl, len, got, 480), 480);
		bool silent = true;
		for (int f = 0; f < 480; f++)
			silent &= got[f] == 0.0f;
		if (silent)
			continue;
		audible++;
		/* Within a packet the ramp is unbroken: no frame lost or
		 * doubled. */
		for (int f = 1; f < 480; f++)
			cr_assert_eq(
			        (uint16_t)(int16_t)lrintf(got[f] * 32768.0f),
			        (uint16_t)((uint16_t)(int16_t)lrintf(
			                           got[f - 1] * 32768.0f) +
			                   1),
			        "packet %zu frame %d", i, f);
	}
	cr_log_info("capture: %zu packets, %zu with audio, trimmed %llu, "
	            "overruns %llu",
	            n, audible, (unsigned long long)cap.trimmed,
	            (unsigned long long)cap.overruns);
	cr_assert_geq(audible, n * 3 / 4,
	              "most packets carry audio (%zu of %zu)", audible, n);
	sender_clear(&s);
	sender_capture_clear(&cap);
}
