/*
 * The receiver with RFC 2198 redundancy: a RED datagram is its primary
 * packet for the SSRC table and probation (one stream per SSRC, whatever
 * mix of plain and RED datagrams a sender starts with: GStreamer's
 * rtpredenc sends its first packet plain), and its stream restores what
 * was lost from the copies. On a real net thread (no socket), the
 * datagram path checked real-time safe.
 */
#include "codec/red.h"
#include "tests/receiver_fixture.h"

TestSuite(receiver_red, .timeout = 30);

static void setup_red(unsigned min_sequential)
{
	struct receiver_opts o;

	memset(&o, 0, sizeof(o));
	sin4((struct sockaddr_in *)&o.listen, "127.0.0.1", 0);
	o.pt = 96;
	o.red = true;
	o.red_pt = 100;
	o.max_streams = 4;
	o.max_datagram = 4096;
	o.min_sequential = min_sequential;
	memset(&nl, 0, sizeof(nl));
	cr_assert_eq(netloop_start(&nl, 64), 0);
	cr_assert_eq(receiver_init(&rx, &o), 0);
	rx.nl = &nl;
}

static struct netstream *new_red_stream(void)
{
	struct netstream_config cfg;
	struct netstream *ns = calloc(1, sizeof(*ns));

	cr_assert_not_null(ns);
	netstream_config_default(&cfg, CODEC_L16);
	cfg.drift = false;
	cfg.red = true;
	cfg.red_pt = 100;
	cfg.pt = 96;
	cr_assert_eq(netstream_init(ns, &cfg), 0);
	return ns;
}

/* Packet seq of SSRC 0x7ed (240 ticks of L16 stereo: 960 bytes), as RED
   with a copy of the one before (red), or plain. */
static void send_red(uint16_t seq, bool red)
{
	uint8_t cur[960], prev[960], payload[2048], buf[2100];
	struct red_block b = {
	        .pt = 96, .ts_offset = 240, .data = prev, .len = sizeof(prev)};
	struct red_block pr = {.pt = 96, .data = cur, .len = sizeof(cur)};

	memset(cur, seq & 0xff, sizeof(cur));
	memset(prev, (seq - 1) & 0xff, sizeof(prev));
	int n = red ? red_write(&b, 1, &pr, payload, sizeof(payload))
	            : (int)sizeof(cur);
	cr_assert_gt(n, 0);
	size_t len = rtp_packet(buf, sizeof(buf), red ? 100 : 96, 0x7ed, seq,
	                        seq * 240u, red ? payload : cur, (size_t)n);
	inject(buf, len, "127.0.0.1");
}

/* Pop what the stream got: sequence numbers, and which were restored. */
static int popped(struct netstream *ns, uint16_t *seqs, bool *rec, int cap)
{
	struct packet *p;
	int n = 0;

	while (ring_try_pop(&ns->ring, &p)) {
		cr_assert_lt(n, cap);
		seqs[n] = p->seq;
		rec[n] = (p->flags & PACKET_RECOVERED) != 0;
		cr_assert_eq(p->payload_len, 960);
		cr_assert_eq(packet_payload(p)[0], p->seq & 0xff,
		             "packet %u holds its own audio", p->seq);
		n++;
		netstream_packet_return(ns, p);
	}
	return n;
}

Test(receiver_red, a_plain_then_red_start_is_one_stream_and_restores_losses)
{
	struct netstream *ns = new_red_stream();
	struct receiver_new nw;
	struct receiver_counters c;
	uint16_t seqs[16];
	bool rec[16];

	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	setup_red(2);
	cr_assert_eq(receiver_give_spare(&rx, ns), 0);
	RTCHECK_RESET();
	send_red(300, false); /* the first one plain, as rtpredenc does */
	cr_expect(!receiver_poll_new(&rx, &nw));
	send_red(301, true);
	cr_assert(receiver_poll_new(&rx, &nw), "valid at its second packet");
	cr_expect_eq(nw.ssrc, 0x7ed);
	cr_expect_eq(nw.ns, ns);
	send_red(302, true);
	/* 303 lost, 304 brings it back; 305 lost for good with 306. */
	send_red(304, true);
	send_red(307, true);
	RTCHECK_ASSERT_ZERO();
	cr_expect(!receiver_poll_new(&rx, &nw), "one stream");
	int n = popped(ns, seqs, rec, 16);
	cr_assert_eq(n, 7);
	const uint16_t want[7] = {300, 301, 302, 304, 303, 307, 306};
	for (int i = 0; i < n; i++) {
		cr_expect_eq(seqs[i], want[i], "record %d", i);
		cr_expect_eq(rec[i], want[i] == 303 || want[i] == 306);
	}
	receiver_counters(&rx, &c);
	cr_expect_eq(c.accepted, 5, "datagrams, not records");
	cr_expect_eq(c.unknown_pt, 0);
	expect_accounted();
	teardown_rx();
	free_stream(ns);
}

Test(receiver_red, red_datagrams_alone_pass_probation)
{
	struct netstream *ns = new_red_stream();
	struct receiver_new nw;
	uint16_t seqs[8];
	bool rec[8];

	setup_red(2);
	cr_assert_eq(receiver_give_spare(&rx, ns), 0);
	send_red(10, true);
	send_red(11, true);
	cr_assert(receiver_poll_new(&rx, &nw));
	cr_expect_eq(nw.pt, 100);
	/* The first datagram's copy (of 9, before the stream) is not
	   restored: a stream begins with its first packet. */
	cr_assert_eq(popped(ns, seqs, rec, 8), 2);
	cr_expect(seqs[0] == 10 && seqs[1] == 11 && !rec[0] && !rec[1]);
	expect_accounted();
	teardown_rx();
	free_stream(ns);
}

Test(receiver_red, red_payload_type_is_unknown_unless_configured)
{
	struct receiver_counters c;
	struct receiver_opts o;

	setup_rx(4, NULL);
	const uint8_t red[7] = {0xe0, 0x03, 0xc0, 0x01, 96, 1, 2};
	uint8_t buf[64];
	for (uint16_t seq = 1; seq <= 2; seq++) {
		size_t len = rtp_packet(buf, sizeof(buf), 100, 0x7ed, seq,
		                        seq * 240u, red, sizeof(red));
		inject(buf, len, "127.0.0.1");
	}
	receiver_counters(&rx, &c);
	cr_expect_eq(c.unknown_pt, 2);
	expect_accounted();
	teardown_rx();
	/* RED's payload type may not be the media's. */
	memset(&o, 0, sizeof(o));
	o.pt = 96;
	o.max_streams = 1;
	o.red = true;
	o.red_pt = 96;
	cr_assert_eq(receiver_init(&rx, &o), -EINVAL);
	o.red_pt = 128;
	cr_assert_eq(receiver_init(&rx, &o), -EINVAL);
}
