/*
 * test_receiver: the receive path's SSRC table and counters (driven on a
 * real net thread, with datagrams injected and through a loopback
 * socket), and a stream's recording as cmd_recv sets it up (a netstream
 * with a record tap, drift compensation on; single-threaded, simulated
 * clock): a loss-free L16 stream records bit-exact, without the silence
 * before it or the concealment after it.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/audio/memtap.h"
#include "bridge/net/receiver.h"
#include "codec/rtp.h"

#define SEED 0x5eedu

static uint32_t rnd_state = SEED;
static uint32_t rnd(void)
{
	/* xorshift32: deterministic, seeded. */
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static struct netloop nl;
static struct receiver rx;

static void sin4(struct sockaddr_in *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	inet_pton(AF_INET, ip, &a->sin_addr);
}

static void setup_rx(unsigned max_streams, const char *allow)
{
	struct receiver_opts o;
	struct addr_net net;
	char err[128];

	memset(&o, 0, sizeof(o));
	sin4((struct sockaddr_in *)&o.listen, "127.0.0.1", 0);
	o.pt = 96;
	o.max_streams = max_streams;
	o.max_datagram = 1500;
	if (allow) {
		cr_assert_eq(addr_net_parse(&net, allow, err, sizeof(err)), 0);
		o.allow = &net;
		o.nallow = 1;
	}
	memset(&nl, 0, sizeof(nl));
	cr_assert_eq(netloop_start(&nl, 64), 0);
	cr_assert_eq(receiver_init(&rx, &o), 0);
	rx.nl = &nl;
}

static void teardown_rx(void)
{
	receiver_close(&rx);
	netloop_stop(&nl);
	receiver_clear(&rx);
}

struct inject {
	const uint8_t *buf;
	size_t len;
	struct sockaddr_in from;
};

static int inject_fn(struct netloop *l, void *arg)
{
	struct inject *in = arg;

	(void)l;
	receiver_datagram(&rx, in->buf, in->len,
	                  (const struct sockaddr *)&in->from, netloop_now_ns());
	return 0;
}

/* Hand one datagram to the receiver on the net thread. */
static void inject(const uint8_t *buf, size_t len, const char *from_ip)
{
	struct inject in = {.buf = buf, .len = len};

	sin4(&in.from, from_ip, 40000);
	cr_assert_eq(netloop_call_wait(&nl, inject_fn, &in), 0);
}

static size_t rtp_packet(uint8_t *buf, size_t cap, uint8_t pt, uint32_t ssrc,
                         uint16_t seq, uint32_t ts, const uint8_t *payload,
                         size_t plen)
{
	struct rtp_header h;

	memset(&h, 0, sizeof(h));
	h.version = RTP_VERSION;
	h.pt = pt;
	h.ssrc = ssrc;
	h.seq = seq;
	h.ts = ts;
	int n = rtp_write(&h, payload, plen, buf, cap);
	cr_assert_gt(n, 0);
	return (size_t)n;
}

TestSuite(receiver, .timeout = 30);

Test(receiver, counts_and_drops_malformed_datagrams)
{
	uint8_t buf[2000];
	uint8_t pay[64] = {0};
	size_t n;
	int bad = 0;

	setup_rx(4, NULL);
	/* Random bytes with a wrong version (first two bits not 10). */
	for (int i = 0; i < 50; i++) {
		size_t len = 1 + rnd() % 200;
		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)rnd();
		buf[0] &= 0x3f;
		inject(buf, len, "127.0.0.1");
		bad++;
	}
	/* Truncated headers. */
	n = rtp_packet(buf, sizeof(buf), 96, 1, 1, 0, pay, sizeof(pay));
	for (size_t len = 0; len < RTP_HEADER_MIN; len += 3) {
		inject(buf, len, "127.0.0.1");
		bad++;
	}
	/* Absurd CSRC count: 15 CSRCs announced, none there. */
	n = rtp_packet(buf, sizeof(buf), 96, 1, 1, 0, pay, 8);
	buf[0] = (uint8_t)(buf[0] | 0x0f);
	inject(buf, n, "127.0.0.1");
	bad++;
	/* Huge padding: the count byte says 255, the packet is shorter. */
	n = rtp_packet(buf, sizeof(buf), 96, 1, 1, 0, pay, 16);
	buf[0] |= 0x20;
	buf[n - 1] = 255;
	inject(buf, n, "127.0.0.1");
	bad++;
	/* Extension running past the end. */
	n = rtp_packet(buf, sizeof(buf), 96, 1, 1, 0, pay, 4);
	buf[0] |= 0x10;
	buf[12] = 0;
	buf[13] = 0;
	buf[14] = 0xff;
	buf[15] = 0xff;
	inject(buf, n, "127.0.0.1");
	bad++;

	struct receiver_counters c;
	receiver_counters(&rx, &c);
	cr_expect_eq(c.malformed, (uint64_t)bad, "malformed %llu, sent %d",
	             (unsigned long long)c.malformed, bad);
	cr_expect_eq(c.streams_seen, 0);
	struct receiver_new nw;
	cr_expect(!receiver_poll_new(&rx, &nw));
	teardown_rx();
}

Test(receiver, drops_unknown_pt_too_big_and_not_allowed)
{
	uint8_t buf[2000], pay[1600] = {0};
	size_t n;

	setup_rx(4, "127.0.0.0/8");
	n = rtp_packet(buf, sizeof(buf), 0, 7, 1, 0, pay, 100);
	inject(buf, n, "127.0.0.1");
	n = rtp_packet(buf, sizeof(buf), 96, 7, 1, 0, pay, 1600);
	inject(buf, n, "127.0.0.1");
	n = rtp_packet(buf, sizeof(buf), 96, 7, 1, 0, pay, 100);
	inject(buf, n, "192.168.1.1");

	struct receiver_counters c;
	receiver_counters(&rx, &c);
	cr_expect_eq(c.unknown_pt, 1);
	cr_expect_eq(c.too_big, 1);
	cr_expect_eq(c.not_allowed, 1);
	cr_expect_eq(c.streams_seen, 0);
	cr_expect_eq(c.datagrams, 3);
	teardown_rx();
}

Test(receiver, reports_a_new_ssrc_once_and_drops_while_pending)
{
	uint8_t buf[256], pay[32] = {0};

	setup_rx(4, NULL);
	for (uint16_t i = 0; i < 5; i++) {
		size_t n = rtp_packet(buf, sizeof(buf), 96, 0xabcd, i, i * 240u,
		                      pay, sizeof(pay));
		inject(buf, n, "127.0.0.1");
	}
	struct receiver_new nw;
	cr_assert(receiver_poll_new(&rx, &nw));
	cr_expect_eq(nw.ssrc, 0xabcd);
	cr_expect_eq(nw.pt, 96);
	cr_expect_eq(nw.from.ss_family, AF_INET);
	cr_expect(!receiver_poll_new(&rx, &nw));
	struct receiver_counters c;
	receiver_counters(&rx, &c);
	cr_expect_eq(c.streams_seen, 1);
	cr_expect_eq(c.pending, 5);
	cr_expect_eq(c.accepted, 0);
	teardown_rx();
}

Test(receiver, refuses_ssrcs_beyond_max_streams)
{
	uint8_t buf[256], pay[32] = {0};

	setup_rx(4, NULL);
	for (uint32_t s = 1; s <= 20; s++) {
		size_t n = rtp_packet(buf, sizeof(buf), 96, s * 7919u, 1, 0,
		                      pay, sizeof(pay));
		inject(buf, n, "127.0.0.1");
	}
	struct receiver_new nw;
	int seen = 0;
	while (receiver_poll_new(&rx, &nw))
		seen++;
	struct receiver_counters c;
	receiver_counters(&rx, &c);
	cr_expect_eq(seen, 4);
	cr_expect_eq(c.streams_seen, 4);
	cr_expect_eq(c.over_max_streams, 16);
	/* Sweeping the pending ones frees the places. */
	struct receiver_gone g[8];
	cr_expect_eq(receiver_sweep(&rx, 0, g, 8), 0);
	size_t n =
	        rtp_packet(buf, sizeof(buf), 96, 999, 1, 0, pay, sizeof(pay));
	inject(buf, n, "127.0.0.1");
	cr_expect(receiver_poll_new(&rx, &nw));
	cr_expect_eq(nw.ssrc, 999);
	teardown_rx();
}

Test(receiver, installed_stream_gets_packets_and_is_swept_when_idle)
{
	uint8_t buf[2000], pay[960];
	struct netstream_config cfg;
	struct netstream ns;

	setup_rx(4, NULL);
	netstream_config_default(&cfg, CODEC_L16);
	cfg.drift = false;
	cr_assert_eq(netstream_init(&ns, &cfg), 0);
	memset(pay, 0, sizeof(pay));
	size_t n = rtp_packet(buf, sizeof(buf), 96, 42, 0, 0, pay, 960);
	inject(buf, n, "127.0.0.1");
	struct receiver_new nw;
	cr_assert(receiver_poll_new(&rx, &nw));
	cr_assert_eq(receiver_install(&rx, 42, &ns), 0);
	cr_expect_eq(receiver_install(&rx, 43, &ns), -ENOENT);
	for (uint16_t i = 1; i <= 10; i++) {
		n = rtp_packet(buf, sizeof(buf), 96, 42, i, i * 240u, pay, 960);
		inject(buf, n, "127.0.0.1");
	}
	struct receiver_counters c;
	receiver_counters(&rx, &c);
	cr_expect_eq(c.accepted, 10);
	cr_expect_neq(receiver_last_rx_ns(&rx), 0);
	cr_expect_eq(ring_count(&ns.ring), 10);
	/* Not idle for an hour: stays; idle for 1 ns: goes. */
	struct receiver_gone g[4];
	cr_expect_eq(receiver_sweep(&rx, 3600ull * 1000000000ull, g, 4), 0);
	struct timespec ms = {0, 2000000};
	nanosleep(&ms, NULL);
	cr_assert_eq(receiver_sweep(&rx, 1, g, 4), 1);
	cr_expect_eq(g[0].ssrc, 42);
	cr_expect_eq(g[0].ns, &ns);
	/* Its packets now start a new stream. */
	inject(buf, n, "127.0.0.1");
	cr_expect(receiver_poll_new(&rx, &nw));
	teardown_rx();
	netstream_clear(&ns);
}

Test(receiver, a_spare_stream_takes_a_new_ssrc_from_its_first_datagram)
{
	uint8_t buf[2000], pay[960] = {0};
	struct netstream_config cfg;
	struct netstream ns;

	setup_rx(4, NULL);
	netstream_config_default(&cfg, CODEC_L16);
	cfg.drift = false;
	cr_assert_eq(netstream_init(&ns, &cfg), 0);
	cr_assert_eq(receiver_give_spare(&rx, &ns), 0);
	for (uint16_t i = 0; i < 5; i++) {
		size_t n = rtp_packet(buf, sizeof(buf), 96, 0x5a5a, i, i * 240u,
		                      pay, sizeof(pay));
		inject(buf, n, "127.0.0.1");
	}
	struct receiver_new nw;
	cr_assert(receiver_poll_new(&rx, &nw));
	cr_expect_eq(nw.ssrc, 0x5a5a);
	cr_expect_eq(nw.ns, &ns);
	struct receiver_counters c;
	receiver_counters(&rx, &c);
	cr_expect_eq(c.accepted, 5);
	cr_expect_eq(c.pending, 0);
	cr_expect_eq(c.spares_used, 1);
	cr_expect_eq(ring_count(&ns.ring), 5);
	/* The next new SSRC finds no spare: pending. */
	size_t n = rtp_packet(buf, sizeof(buf), 96, 0x6b6b, 0, 0, pay, 16);
	inject(buf, n, "127.0.0.1");
	cr_assert(receiver_poll_new(&rx, &nw));
	cr_expect(nw.ns == NULL);
	/* Refusing the first lets go of its stream: later datagrams are
	   counted, not queued. */
	receiver_refuse(&rx, 0x5a5a);
	n = rtp_packet(buf, sizeof(buf), 96, 0x5a5a, 5, 1200, pay, 960);
	inject(buf, n, "127.0.0.1");
	receiver_counters(&rx, &c);
	cr_expect_eq(c.refused, 1);
	cr_expect_eq(ring_count(&ns.ring), 5);
	cr_expect(receiver_reclaim_spare(&rx) == NULL);
	teardown_rx();
	netstream_clear(&ns);
}

Test(receiver, table_survives_many_inserts_and_removals)
{
	uint8_t buf[256], pay[32] = {0};
	struct receiver_new nw;
	struct receiver_gone g[64];

	setup_rx(64, NULL);
	/* Rounds of 64 SSRCs, all swept, so that backward-shift deletion
	   runs over every kind of probe chain. */
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 64; i++) {
			size_t n = rtp_packet(buf, sizeof(buf), 96, rnd(), 1, 0,
			                      pay, sizeof(pay));
			inject(buf, n, "127.0.0.1");
		}
		int seen = 0;
		while (receiver_poll_new(&rx, &nw))
			seen++;
		cr_assert_eq(seen, 64, "round %d: %d seen", round, seen);
		cr_assert_eq(receiver_sweep(&rx, 0, g, 64), 0);
		cr_assert_eq(rx.present, 0);
	}
	teardown_rx();
}

Test(receiver, receives_on_a_loopback_socket_and_reports_a_busy_port)
{
	uint8_t buf[256], pay[32] = {0};

	setup_rx(4, NULL);
	cr_assert_eq(receiver_open(&rx, &nl), 0, "%s", receiver_error(&rx));
	unsigned port = receiver_port(&rx);
	cr_assert_gt(port, 0);

	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to;
	sin4(&to, "127.0.0.1", (uint16_t)port);
	size_t n = rtp_packet(buf, sizeof(buf), 96, 5, 1, 0, pay, sizeof(pay));
	cr_assert_eq(sendto(fd, buf, n, 0, (struct sockaddr *)&to, sizeof(to)),
	             (ssize_t)n);
	close(fd);
	struct receiver_new nw;
	bool got = false;
	for (int i = 0; i < 2000 && !got; i++) {
		struct timespec ms = {0, 1000000};
		got = receiver_poll_new(&rx, &nw);
		if (!got)
			nanosleep(&ms, NULL);
	}
	cr_assert(got);
	cr_expect_eq(nw.ssrc, 5);

	/* A second receiver on the same port. */
	struct receiver rx2;
	struct receiver_opts o = rx.o;
	sin4((struct sockaddr_in *)&o.listen, "127.0.0.1", (uint16_t)port);
	o.nallow = 0;
	o.allow = NULL;
	cr_assert_eq(receiver_init(&rx2, &o), 0);
	cr_expect_eq(receiver_open(&rx2, &nl), -EADDRINUSE);
	cr_expect(strstr(receiver_error(&rx2), "in use") != NULL, "%s",
	          receiver_error(&rx2));
	receiver_close(&rx2);
	receiver_clear(&rx2);
	teardown_rx();
}

/* ---- a stream's recording ---- */

static uint64_t sim_ns;
static uint64_t sim_clock(void *arg)
{
	(void)arg;
	return sim_ns;
}

#define GATE_FRAMES  240 /* 5 ms L16 stereo packets */
#define GATE_PACKETS 60
#define GATE_PULL    128

Test(receiver, records_a_lossless_l16_stream_bit_exact)
{
	struct netstream_config cfg;
	struct netstream ns;
	struct memtap mt;
	size_t cap = GATE_PACKETS * GATE_FRAMES * 4;
	float *got = calloc(cap * 2, sizeof(float));
	int16_t *src = calloc(GATE_PACKETS * GATE_FRAMES * 2, sizeof(int16_t));
	float out[GATE_PULL * 2];
	uint8_t buf[2000], pay[GATE_FRAMES * 4];

	cr_assert(got && src);
	for (size_t i = 0; i < GATE_PACKETS * GATE_FRAMES * 2; i++)
		src[i] = (int16_t)(rnd() & 0xffff);
	memtap_init(&mt, got, cap, 2);
	netstream_config_default(&cfg, CODEC_L16);
	cfg.jitter.adaptive = false;
	cfg.jitter.fixed_ms = 20;
	cfg.clock = sim_clock;
	sim_ns = 1000000000ull;
	cr_assert(cfg.drift, "drift compensation on, as in cmd_recv");
	cr_assert_eq(netstream_init(&ns, &cfg), 0);
	cr_assert_eq(netstream_set_record(&ns, &mt.tap), 0);

	/* Start pulling before anything arrives: pure silence, nothing
	   recorded. Then one packet every 5 ms, pulls every 128 frames. */
	uint64_t start = sim_ns + 3000000;
	uint64_t pull_ns = (uint64_t)GATE_PULL * 1000000000ull / 48000;
	int sent = 0;
	uint64_t next_pull = sim_ns;
	uint64_t end = start + (GATE_PACKETS + 200) * 5000000ull;
	while (sim_ns < end) {
		uint64_t due = start + (uint64_t)sent * 5000000ull;
		if (sent < GATE_PACKETS && due <= next_pull) {
			sim_ns = due;
			const int16_t *s = src + (size_t)sent * GATE_FRAMES * 2;
			for (int k = 0; k < GATE_FRAMES * 2; k++) {
				pay[2 * k] = (uint8_t)((uint16_t)s[k] >> 8);
				pay[2 * k + 1] = (uint8_t)(s[k] & 0xff);
			}
			size_t n = rtp_packet(buf, sizeof(buf), 96, 77,
			                      (uint16_t)(1000 + sent),
			                      (uint32_t)(sent * GATE_FRAMES),
			                      pay, sizeof(pay));
			netstream_receive(&ns, buf, n, sim_ns);
			sent++;
			continue;
		}
		sim_ns = next_pull;
		ns.src.ops->pull(&ns.src, out, GATE_PULL);
		next_pull += pull_ns;
	}
	cr_expect_eq(mt.used, (size_t)GATE_PACKETS * GATE_FRAMES,
	             "recorded %zu frames, sent %d", mt.used,
	             GATE_PACKETS * GATE_FRAMES);
	size_t bad = 0;
	for (size_t i = 0;
	     i < mt.used * 2 && i < GATE_PACKETS * GATE_FRAMES * 2; i++)
		bad += got[i] != (float)src[i] * (1.0f / 32768.0f);
	cr_expect_eq(bad, 0, "%zu samples differ", bad);
	/* The end of the stream ran the buffer dry: not the stream's. */
	struct netstream_stats st;
	struct jitter_stats js;
	cr_assert_eq(netstream_stats(&ns, &st), 0);
	cr_expect_eq(st.concealed_frames, 0);
	cr_expect_eq(st.underruns, 0);
	cr_expect_eq(st.lost, 0);
	cr_expect_eq(st.recorded, mt.used);
	jitter_stats(&ns.jit, &js);
	cr_expect_gt(js.underruns, 0, "the buffer did run dry");
	netstream_clear(&ns);
	free(got);
	free(src);
}

Test(receiver, recording_keeps_concealment_when_the_stream_resumes)
{
	struct netstream_config cfg;
	struct netstream ns;
	struct memtap mt;
	size_t cap = 48000 * 4;
	float *got = calloc(cap * 2, sizeof(float));
	float out[GATE_PULL * 2];
	uint8_t buf[2000], pay[GATE_FRAMES * 4];

	memset(pay, 0x11, sizeof(pay));
	memtap_init(&mt, got, cap, 2);
	netstream_config_default(&cfg, CODEC_L16);
	cfg.jitter.adaptive = false;
	cfg.jitter.fixed_ms = 20;
	cfg.clock = sim_clock;
	sim_ns = 1000000000ull;
	cr_assert_eq(netstream_init(&ns, &cfg), 0);
	cr_assert_eq(netstream_set_record(&ns, &mt.tap), 0);
	uint64_t pull_ns = (uint64_t)GATE_PULL * 1000000000ull / 48000;
	uint64_t next_pull = sim_ns;
	/* 40 packets of which 20..29 never arrive: the buffer runs dry,
	   concealment fills the hole, the stream comes back, and the
	   recording keeps the stream's whole timeline, hole included. */
	int sent = 0;
	uint64_t start = sim_ns + 1000000;
	while (sent < 40 || sim_ns < start + 500000000ull) {
		uint64_t due = start + (uint64_t)sent * 5000000ull;
		if (sent < 40 && due <= next_pull) {
			sim_ns = due;
			size_t n = rtp_packet(buf, sizeof(buf), 96, 78,
			                      (uint16_t)sent,
			                      (uint32_t)(sent * GATE_FRAMES),
			                      pay, sizeof(pay));
			if (sent < 20 || sent >= 30)
				netstream_receive(&ns, buf, n, sim_ns);
			sent++;
			continue;
		}
		sim_ns = next_pull;
		ns.src.ops->pull(&ns.src, out, GATE_PULL);
		next_pull += pull_ns;
	}
	struct netstream_stats st = ns.st;
	cr_log_info("recv %llu lost %llu late %llu conc %llu under %llu resync "
	            "%llu in %llu recorded %llu",
	            (unsigned long long)st.received,
	            (unsigned long long)st.lost, (unsigned long long)st.late,
	            (unsigned long long)st.concealed_frames,
	            (unsigned long long)st.underruns,
	            (unsigned long long)st.resyncs,
	            (unsigned long long)st.frames_in,
	            (unsigned long long)st.recorded);
	/* The hole ran the buffer dry once; the end of the stream did
	   too, but that is not the stream's. */
	cr_expect_eq(st.underruns, 1);
	cr_expect_eq(st.lost, 10);
	/* Everything played from the first packet to the last was
	   recorded, the concealed hole included, and nothing after. */
	cr_expect_eq(mt.used, (size_t)40 * GATE_FRAMES, "recorded %zu",
	             mt.used);
	cr_expect_eq(st.concealed_frames, (uint64_t)10 * GATE_FRAMES);
	netstream_clear(&ns);
	free(got);
}
