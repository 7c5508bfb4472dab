/*
 * RFC 5109 ULPFEC on the net thread's side of a stream
 * (bridge/net/netstream_fec.h): FEC packets in the media's sequence space
 * are numbered out of the media (the jitter buffer sees consecutive media
 * numbers), a packet lost from a group is rebuilt bit for bit as a
 * PACKET_RECOVERED record whether the FEC packet comes after or before
 * the others, and FEC packets are never media, malformed or records.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "bridge/net/netstream.h"
#include "codec/rtp.h"
#include "codec/ulpfec.h"

TestSuite(netstream_ulpfec, .timeout = 30);

#define FRAME 240 /* 5 ms at 48 kHz */
#define PLEN  (FRAME * 4)

static struct netstream ns;
static uint8_t dg[64][PLEN + 12];
static size_t dlen[64];

static void setup(void)
{
	struct netstream_config cfg;

	netstream_config_default(&cfg, CODEC_L16);
	cfg.codec.frame_us = 5000;
	cfg.drift = false;
	cfg.ulpfec = true;
	cfg.ulpfec_pt = 101;
	cfg.pt = 96;
	cr_assert_eq(netstream_init(&ns, &cfg), 0);
}

/* Media packet i of group g (5 per group): wire number 100 + 6 g + i,
   timestamp 1000 + 240 (5 g + i), payload bytes from the index. */
static const uint8_t *media(unsigned g, unsigned i, size_t *len)
{
	unsigned m = 5 * g + i;
	struct rtp_header h = {.version = RTP_VERSION,
	                       .pt = 96,
	                       .seq = (uint16_t)(100 + 6 * g + i),
	                       .ts = 1000 + FRAME * m,
	                       .ssrc = 77};
	uint8_t pay[PLEN];
	for (unsigned k = 0; k < PLEN; k++)
		pay[k] = (uint8_t)(m * 7 + k);
	int n = rtp_write(&h, pay, PLEN, dg[m], sizeof(dg[m]));
	cr_assert_gt(n, 0);
	dlen[m] = (size_t)n;
	*len = dlen[m];
	return dg[m];
}

/* The FEC packet of group g, as rtpulpfecenc sends it. */
static size_t fec(unsigned g, uint8_t *out)
{
	uint8_t buf[PLEN + ULPFEC_HEADERS_MAX];
	struct ulpfec_builder b;
	size_t len;

	ulpfec_begin(&b, buf, sizeof(buf));
	for (unsigned i = 0; i < 5; i++) {
		const uint8_t *p = media(g, i, &len);
		cr_assert_eq(ulpfec_add(&b, p, len), 0);
	}
	int n = ulpfec_finish(&b);
	struct rtp_header h = {.version = RTP_VERSION,
	                       .pt = 101,
	                       .seq = (uint16_t)(100 + 6 * g + 5),
	                       .ts = 1000 + FRAME * (5 * g + 4),
	                       .ssrc = 77};
	int w = rtp_write(&h, buf, (size_t)n, out, PLEN + 64);
	cr_assert_gt(w, 0);
	return (size_t)w;
}

static void send_media(unsigned g, unsigned i)
{
	size_t len;
	const uint8_t *p = media(g, i, &len);
	cr_assert_eq(netstream_receive(&ns, p, len, 1000), 0);
}

static void send_fec(unsigned g)
{
	uint8_t buf[PLEN + 64];
	size_t n = fec(g, buf);
	cr_assert_eq(netstream_receive(&ns, buf, n, 1000), 0);
}

/* Pop the next record: it must be media packet m, as given. */
static void expect(unsigned m, bool recovered)
{
	struct packet *p;
	cr_assert(ring_try_pop(&ns.ring, &p), "record for packet %u", m);
	cr_assert_eq((p->ext_seq - 100) % 65536, m, "media number %llu for %u",
	             (unsigned long long)p->ext_seq, m);
	cr_assert_eq(!!(p->flags & PACKET_RECOVERED), recovered);
	cr_assert_eq(p->rtp_ts, 1000 + FRAME * m);
	cr_assert_eq(p->payload_len, PLEN);
	cr_assert_arr_eq(packet_payload(p), dg[m] + 12, PLEN);
	netstream_packet_return(&ns, p);
}

static void expect_none(void)
{
	struct packet *p;
	cr_assert_not(ring_try_pop(&ns.ring, &p));
}

static void no_trouble(void)
{
	cr_assert_eq(atomic_load(&ns.rx_invalid), 0);
	cr_assert_eq(atomic_load(&ns.rx_dropped), 0);
}

Test(netstream_ulpfec, fec_packets_are_numbered_out_of_the_media)
{
	setup();
	for (unsigned g = 0; g < 4; g++) {
		for (unsigned i = 0; i < 5; i++)
			send_media(g, i);
		send_fec(g);
	}
	/* 20 media packets, numbered 100..119 without the FEC gaps. */
	for (unsigned m = 0; m < 20; m++)
		expect(m, false);
	expect_none();
	no_trouble();
	cr_assert_eq(atomic_load(&ns.rx_fec), 4);
	cr_assert_eq(atomic_load(&ns.rx_fec_recovered), 0);
	netstream_clear(&ns);
}

Test(netstream_ulpfec, a_lost_packet_is_rebuilt_from_the_fec_after_it)
{
	setup();
	for (unsigned i = 0; i < 5; i++)
		send_media(0, i);
	send_fec(0);
	for (unsigned i = 0; i < 5; i++)
		if (i != 2)
			send_media(1, i);
	send_fec(1);
	for (unsigned m = 0; m < 7; m++)
		expect(m, false);
	expect(8, false);
	expect(9, false);
	expect(7, true); /* rebuilt when the FEC packet came */
	expect_none();
	no_trouble();
	cr_assert_eq(atomic_load(&ns.rx_fec_recovered), 1);
	netstream_clear(&ns);
}

Test(netstream_ulpfec, a_fec_packet_before_its_packets_waits_for_them)
{
	setup();
	for (unsigned i = 0; i < 5; i++)
		send_media(0, i);
	send_fec(0);
	/* Group 1's FEC overtakes its packets; packet 3 is lost. */
	send_media(1, 0);
	send_fec(1);
	send_media(1, 1);
	send_media(1, 2);
	send_media(1, 4); /* the last but one missing: rebuilt now */
	for (unsigned m = 0; m < 8; m++)
		expect(m, false);
	expect(9, false);
	expect(8, true);
	expect_none();
	/* The real one, late: a copy of what was rebuilt. */
	size_t len;
	const uint8_t *p = media(1, 3, &len);
	cr_assert_eq(netstream_receive(&ns, p, len, 2000), -EALREADY);
	no_trouble();
	netstream_clear(&ns);
}

Test(netstream_ulpfec, two_losses_in_a_group_rebuild_nothing)
{
	setup();
	for (unsigned i = 0; i < 5; i++)
		send_media(0, i);
	send_fec(0);
	send_media(1, 0);
	send_media(1, 1);
	send_media(1, 4);
	send_fec(1);
	for (unsigned m = 0; m < 7; m++)
		expect(m, false);
	expect(9, false);
	expect_none();
	cr_assert_eq(atomic_load(&ns.rx_fec_recovered), 0);
	no_trouble();
	netstream_clear(&ns);
}

Test(netstream_ulpfec, malformed_fec_is_invalid_and_queues_nothing)
{
	uint8_t buf[PLEN + 64];

	setup();
	for (unsigned i = 0; i < 4; i++)
		send_media(0, i);
	size_t n = fec(0, buf);
	for (size_t cut = 12; cut < n; cut += 97)
		cr_assert_eq(netstream_receive(&ns, buf, cut, 1000), -EBADMSG);
	buf[12] |= 0x80; /* E */
	cr_assert_eq(netstream_receive(&ns, buf, n, 1000), -EBADMSG);
	buf[12] &= 0x7f;
	buf[12 + 8] ^= 0x7f; /* a length recovery beyond the protection */
	cr_assert_eq(netstream_receive(&ns, buf, n, 1000), 0);
	for (unsigned m = 0; m < 4; m++)
		expect(m, false);
	expect_none();
	cr_assert_gt(atomic_load(&ns.rx_invalid), 10);
	cr_assert_eq(atomic_load(&ns.rx_fec_recovered), 0);
	netstream_clear(&ns);
}
