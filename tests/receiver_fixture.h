/*
 * receiver_fixture: helpers of the receiver tests — a seeded generator,
 * RTP packets, and a receiver on a real net thread (no socket) that the
 * test feeds datagrams from chosen addresses, with the accounting check
 * (every datagram counted once) and streams to give it.
 *
 * Test thread only (the injected datagrams run on the net thread, marked
 * real-time for the checker).
 */
#ifndef RTB_TESTS_RECEIVER_FIXTURE_H
#define RTB_TESTS_RECEIVER_FIXTURE_H

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

#include "bridge/net/receiver.h"
#include "codec/rtp.h"
#include "tests/rtcheck_assert.h"

#define SEED 0x5eedu

static uint32_t rnd_state = SEED;
static inline uint32_t rnd(void)
{
	/* xorshift32: deterministic, seeded. */
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static struct netloop nl;
static struct receiver rx;

static inline void sin4(struct sockaddr_in *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	inet_pton(AF_INET, ip, &a->sin_addr);
}

static inline void setup_rx_n(unsigned max_streams, const char *allow,
                              unsigned min_sequential)
{
	struct receiver_opts o;
	struct addr_net net;
	char err[128];

	memset(&o, 0, sizeof(o));
	sin4((struct sockaddr_in *)&o.listen, "127.0.0.1", 0);
	o.pt = 96;
	o.max_streams = max_streams;
	o.max_datagram = 1500;
	o.min_sequential = min_sequential;
	o.supersede_ms = 250; /* shorter than the default: quick tests */
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

static inline void setup_rx(unsigned max_streams, const char *allow)
{
	setup_rx_n(max_streams, allow, 0);
}

static inline void teardown_rx(void)
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

/* The datagram path marks itself real-time here, so that the checker
   counts anything it allocates, locks or calls (tests/rtcheck_assert.h). */
static inline int inject_fn(struct netloop *l, void *arg)
{
	struct inject *in = arg;
	uint64_t now = netloop_now_ns();

	(void)l;
	rthook_rt_enter();
	receiver_datagram(&rx, in->buf, in->len,
	                  (const struct sockaddr *)&in->from, now);
	rthook_rt_leave();
	return 0;
}

/* Hand one datagram to the receiver on the net thread, from a port. */
static inline void inject_port(const uint8_t *buf, size_t len,
                               const char *from_ip, uint16_t port)
{
	struct inject in = {.buf = buf, .len = len};

	sin4(&in.from, from_ip, port);
	cr_assert_eq(netloop_call_wait(&nl, inject_fn, &in), 0);
}

static inline void inject(const uint8_t *buf, size_t len, const char *from_ip)
{
	inject_port(buf, len, from_ip, 40000);
}

static inline size_t rtp_packet(uint8_t *buf, size_t cap, uint8_t pt,
                                uint32_t ssrc, uint16_t seq, uint32_t ts,
                                const uint8_t *payload, size_t plen)
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

/* One small packet of SSRC ssrc, number seq, from 127.0.0.1:port. */
static inline void send_seq(uint32_t ssrc, uint16_t seq, uint16_t port)
{
	uint8_t buf[256], pay[32];

	memset(pay, (int)(seq & 0xff), sizeof(pay));
	size_t n = rtp_packet(buf, sizeof(buf), 96, ssrc, seq, seq * 240u, pay,
	                      sizeof(pay));
	inject_port(buf, n, "127.0.0.1", port);
}

/* Every datagram counted once: in a bucket, or still held. */
static inline void expect_accounted(void)
{
	struct receiver_counters c;

	receiver_counters(&rx, &c);
	uint64_t sum = c.accepted + c.malformed + c.too_big + c.unknown_pt +
	               c.not_allowed + c.over_max_streams + c.pending +
	               c.refused + c.stream_dropped + c.notify_dropped +
	               c.probation_dropped + c.ssrc_conflicts + c.held;
	cr_expect_eq(sum, c.datagrams, "%llu counted of %llu datagrams",
	             (unsigned long long)sum, (unsigned long long)c.datagrams);
}

static inline struct netstream *new_stream(void)
{
	struct netstream_config cfg;
	struct netstream *ns = calloc(1, sizeof(*ns));

	cr_assert_not_null(ns);
	netstream_config_default(&cfg, CODEC_L16);
	cfg.drift = false;
	cr_assert_eq(netstream_init(ns, &cfg), 0);
	return ns;
}

static inline void free_stream(struct netstream *ns)
{
	netstream_clear(ns);
	free(ns);
}

/* The sequence numbers queued to a stream, in order. */
static inline int queued_seqs(struct netstream *ns, uint16_t *out, int cap)
{
	struct packet *p;
	int n = 0;

	while (ring_try_pop(&ns->ring, &p)) {
		if (n < cap)
			out[n] = p->seq;
		n++;
		netstream_packet_return(ns, p);
	}
	return n;
}

#endif
