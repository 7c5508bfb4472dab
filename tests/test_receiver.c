/*
 * test_receiver: the receive path's SSRC table, source validation and
 * counters (driven on a real net thread, with datagrams injected and
 * through a loopback socket): probation holds a new source's datagrams
 * and hands them to its stream in order, one-packet sources never become
 * streams, a known SSRC from another address is a conflict while the
 * first keeps sending and a takeover once it stopped, a newer SSRC from
 * the same address supersedes a stream that went quiet, every datagram
 * is counted once, and the datagram path makes no allocation, lock or
 * system call.
 */
#include "tests/receiver_fixture.h"

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

Test(receiver, a_new_source_becomes_a_stream_at_its_second_packet)
{
	struct netstream *ns = new_stream();
	struct receiver_new nw;
	struct receiver_counters c;
	uint16_t seqs[8];

	setup_rx(4, NULL);
	cr_assert_eq(receiver_give_spare(&rx, ns), 0);
	send_seq(0xabcd, 500, 40000);
	cr_expect(!receiver_poll_new(&rx, &nw), "a stream after one packet");
	receiver_counters(&rx, &c);
	cr_expect_eq(c.held, 1);
	cr_expect_eq(c.on_probation, 1);
	cr_expect_eq(c.streams_seen, 0);
	send_seq(0xabcd, 501, 40000);
	cr_assert(receiver_poll_new(&rx, &nw));
	cr_expect_eq(nw.ssrc, 0xabcd);
	cr_expect_eq(nw.ns, ns);
	cr_expect_neq(nw.id, 0);
	cr_expect(!nw.takeover);
	cr_expect_eq(nw.from.ss_family, AF_INET);
	send_seq(0xabcd, 502, 40000);
	/* The held one first: nothing lost to probation. */
	cr_assert_eq(queued_seqs(ns, seqs, 8), 3);
	cr_expect(seqs[0] == 500 && seqs[1] == 501 && seqs[2] == 502);
	receiver_counters(&rx, &c);
	cr_expect_eq(c.accepted, 3);
	cr_expect_eq(c.held, 0);
	cr_expect_eq(c.on_probation, 0);
	cr_expect_eq(c.streams_seen, 1);
	cr_expect_eq(c.spares_used, 1);
	expect_accounted();
	teardown_rx();
	free_stream(ns);
}

Test(receiver, probation_of_one_makes_a_stream_at_the_first_packet)
{
	struct receiver_new nw;

	setup_rx_n(4, NULL, 1);
	send_seq(7, 1, 40000);
	cr_assert(receiver_poll_new(&rx, &nw));
	cr_expect_eq(nw.ssrc, 7);
	cr_expect(nw.ns == NULL); /* no spare: PENDING, holding it */
	teardown_rx();
}

Test(receiver, a_reordered_start_reaches_the_stream_in_order)
{
	struct netstream *ns = new_stream();
	struct receiver_new nw;
	uint16_t seqs[8];

	setup_rx(4, NULL);
	cr_assert_eq(receiver_give_spare(&rx, ns), 0);
	/* 11 before 10: each restarts the run; 12 and 13 validate. */
	send_seq(9, 11, 40000);
	send_seq(9, 10, 40000);
	send_seq(9, 12, 40000);
	cr_expect(!receiver_poll_new(&rx, &nw));
	send_seq(9, 13, 40000);
	cr_assert(receiver_poll_new(&rx, &nw));
	cr_assert_eq(queued_seqs(ns, seqs, 8), 4);
	for (int i = 0; i < 4; i++)
		cr_expect_eq(seqs[i], 10 + i, "position %d: %u", i, seqs[i]);
	expect_accounted();
	teardown_rx();
	free_stream(ns);
}

Test(receiver, pending_stream_holds_its_datagrams_until_installed)
{
	struct netstream *ns = new_stream();
	struct receiver_new nw;
	struct receiver_counters c;
	uint16_t seqs[8];

	setup_rx(4, NULL);
	for (uint16_t i = 0; i < 5; i++)
		send_seq(0xabcd, i, 40000);
	cr_assert(receiver_poll_new(&rx, &nw));
	cr_expect(nw.ns == NULL);
	cr_expect(!receiver_poll_new(&rx, &nw), "reported twice");
	receiver_counters(&rx, &c);
	cr_expect_eq(c.streams_seen, 1);
	cr_expect_eq(c.held, 5);
	cr_expect_eq(c.accepted, 0);
	struct receiver_new other = nw;
	other.id++;
	cr_expect_eq(receiver_install(&rx, &other, ns), -ENOENT);
	cr_assert_eq(receiver_install(&rx, &nw, ns), 0);
	cr_expect_eq(receiver_install(&rx, &nw, ns), -ENOENT);
	cr_assert_eq(queued_seqs(ns, seqs, 8), 5);
	for (int i = 0; i < 5; i++)
		cr_expect_eq(seqs[i], i);
	receiver_counters(&rx, &c);
	cr_expect_eq(c.accepted, 5);
	cr_expect_eq(c.held, 0);
	expect_accounted();
	teardown_rx();
	free_stream(ns);
}

Test(receiver, one_packet_ssrcs_never_become_streams)
{
	uint8_t buf[256], pay[32] = {0};
	struct receiver_new nw;
	struct receiver_counters c;
	struct receiver_gone g[4];

	RTCHECK_ASSERT_LOADED();
	setup_rx(4, NULL);
	RTCHECK_RESET();
	/* A flood of valid-looking packets from random SSRCs, and junk. */
	for (int i = 0; i < 2000; i++) {
		uint32_t x = rnd();
		size_t n = rtp_packet(buf, sizeof(buf), 96, x, (uint16_t)rnd(),
		                      rnd(), pay, sizeof(pay));
		if (i % 4 == 3)
			buf[0] = (uint8_t)(buf[0] | 0x0f); /* CSRCs missing */
		inject(buf, n, "127.0.0.1");
	}
	RTCHECK_ASSERT_ZERO();
	cr_expect(!receiver_poll_new(&rx, &nw));
	receiver_counters(&rx, &c);
	cr_expect_eq(c.streams_seen, 0);
	cr_expect_eq(c.malformed, 500);
	/* The table holds RECEIVER_PROBATION_SLOTS at most: the others
	   were evicted, and failed. */
	cr_expect_eq(c.on_probation, RECEIVER_PROBATION_SLOTS);
	cr_expect_eq(c.probation_evicted, 1500 - RECEIVER_PROBATION_SLOTS);
	cr_expect_eq(c.probation_failed, c.probation_evicted);
	expect_accounted();
	cr_expect_eq(receiver_sweep(&rx, 0, g, 4), 0);
	receiver_counters(&rx, &c);
	cr_expect_eq(c.probation_failed, 1500);
	cr_expect_eq(c.probation_dropped, 1500);
	cr_expect_eq(c.on_probation, 0);
	cr_expect_eq(c.held, 0);
	cr_expect_eq(rx.present, 0);
	expect_accounted();
	teardown_rx();
}

Test(receiver, a_real_source_validates_during_a_flood)
{
	uint8_t buf[256], pay[32] = {0};
	struct receiver_new nw;

	setup_rx(4, NULL);
	/* 1000 one-packet sources, and a real one sending every 20th
	   datagram: its second packet comes while 19 new ones arrived
	   since its first, fewer than the table holds. */
	int valid = 0;
	for (int i = 0; i < 1000; i++) {
		if (i % 20 == 0)
			send_seq(0x600d, (uint16_t)(i / 20), 40000);
		size_t n = rtp_packet(buf, sizeof(buf), 96, rnd(), 1, 0, pay,
		                      sizeof(pay));
		inject(buf, n, "127.0.0.1");
		while (receiver_poll_new(&rx, &nw)) {
			cr_expect_eq(nw.ssrc, 0x600d);
			valid++;
		}
	}
	cr_expect_eq(valid, 1);
	expect_accounted();
	teardown_rx();
}

Test(receiver, refuses_valid_sources_beyond_max_streams)
{
	struct receiver_new nw;
	struct receiver_counters c;
	struct receiver_gone g[8];

	setup_rx(4, NULL);
	for (uint32_t s = 1; s <= 20; s++) {
		send_seq(s * 7919u, 1, 40000);
		send_seq(s * 7919u, 2, 40000);
	}
	int seen = 0;
	while (receiver_poll_new(&rx, &nw))
		seen++;
	receiver_counters(&rx, &c);
	cr_expect_eq(seen, 4);
	cr_expect_eq(c.streams_seen, 4);
	cr_expect_eq(c.over_max_streams, 32, "%llu",
	             (unsigned long long)c.over_max_streams);
	expect_accounted();
	/* Sweeping the pending ones frees the places. */
	cr_expect_eq(receiver_sweep(&rx, 0, g, 8), 0);
	send_seq(999, 1, 40000);
	send_seq(999, 2, 40000);
	cr_expect(receiver_poll_new(&rx, &nw));
	cr_expect_eq(nw.ssrc, 999);
	teardown_rx();
}

Test(receiver, installed_stream_gets_packets_and_is_swept_when_idle)
{
	uint8_t buf[2000], pay[960];
	struct netstream *ns = new_stream();
	struct receiver_new nw;

	setup_rx(4, NULL);
	memset(pay, 0, sizeof(pay));
	size_t n = 0;
	for (uint16_t i = 0; i < 2; i++) {
		n = rtp_packet(buf, sizeof(buf), 96, 42, i, i * 240u, pay, 960);
		inject(buf, n, "127.0.0.1");
	}
	cr_assert(receiver_poll_new(&rx, &nw));
	cr_assert_eq(receiver_install(&rx, &nw, ns), 0);
	for (uint16_t i = 2; i <= 11; i++) {
		n = rtp_packet(buf, sizeof(buf), 96, 42, i, i * 240u, pay, 960);
		inject(buf, n, "127.0.0.1");
	}
	struct receiver_counters c;
	receiver_counters(&rx, &c);
	cr_expect_eq(c.accepted, 12);
	cr_expect_neq(receiver_last_rx_ns(&rx), 0);
	cr_expect_eq(ring_count(&ns->ring), 12);
	/* Not idle for an hour: stays; idle for 1 ns: goes. */
	struct receiver_gone g[4];
	cr_expect_eq(receiver_sweep(&rx, 3600ull * 1000000000ull, g, 4), 0);
	struct timespec ms = {0, 2000000};
	nanosleep(&ms, NULL);
	cr_assert_eq(receiver_sweep(&rx, 1, g, 4), 1);
	cr_expect_eq(g[0].ssrc, 42);
	cr_expect_eq(g[0].id, nw.id);
	cr_expect_eq(g[0].ns, ns);
	cr_expect_eq(g[0].why, RECEIVER_END_IDLE);
	cr_expect_neq(g[0].last_ns, 0);
	/* Its packets now start a new source, on probation again. */
	inject(buf, n, "127.0.0.1");
	cr_expect(!receiver_poll_new(&rx, &nw));
	n = rtp_packet(buf, sizeof(buf), 96, 42, 12, 12 * 240u, pay, 960);
	inject(buf, n, "127.0.0.1");
	cr_expect(receiver_poll_new(&rx, &nw));
	expect_accounted();
	teardown_rx();
	free_stream(ns);
}

Test(receiver, refusing_a_stream_lets_go_of_its_spare)
{
	struct netstream *ns = new_stream();
	struct receiver_new nw, nw2;
	struct receiver_counters c;

	setup_rx(4, NULL);
	cr_assert_eq(receiver_give_spare(&rx, ns), 0);
	for (uint16_t i = 0; i < 5; i++)
		send_seq(0x5a5a, i, 40000);
	cr_assert(receiver_poll_new(&rx, &nw));
	cr_expect_eq(nw.ns, ns);
	cr_expect_eq(ring_count(&ns->ring), 5);
	/* The next new source finds no spare: pending. */
	send_seq(0x6b6b, 0, 40000);
	send_seq(0x6b6b, 1, 40000);
	cr_assert(receiver_poll_new(&rx, &nw2));
	cr_expect(nw2.ns == NULL);
	/* Refusing the first lets go of its stream: later datagrams are
	   counted, not queued. */
	cr_expect_eq(receiver_refuse(&rx, &nw), 0);
	send_seq(0x5a5a, 5, 40000);
	receiver_counters(&rx, &c);
	cr_expect_eq(c.refused, 1);
	cr_expect_eq(ring_count(&ns->ring), 5);
	/* Refusing the pending one forgets what it held. */
	cr_expect_eq(receiver_refuse(&rx, &nw2), 0);
	receiver_counters(&rx, &c);
	cr_expect_eq(c.refused, 3);
	cr_expect_eq(c.held, 0);
	cr_expect(receiver_reclaim_spare(&rx) == NULL);
	expect_accounted();
	teardown_rx();
	free_stream(ns);
}

Test(receiver, a_second_address_is_a_conflict_while_the_first_sends)
{
	struct netstream *ns = new_stream(), *ns2 = new_stream();
	struct receiver_new nw;
	struct receiver_counters c;
	struct receiver_gone g[4];

	RTCHECK_ASSERT_LOADED();
	setup_rx(4, NULL);
	RTCHECK_RESET();
	cr_assert_eq(receiver_give_spare(&rx, ns), 0);
	send_seq(77, 0, 40000);
	send_seq(77, 1, 40000);
	cr_assert(receiver_poll_new(&rx, &nw));
	/* Two live senders with one SSRC (or a loop): the newcomer's
	   packets, in sequence but interleaved with the first's, never
	   take over. */
	for (uint16_t i = 2; i < 40; i++) {
		send_seq(77, i, 40000);
		send_seq(77, (uint16_t)(1000 + i), 40001);
	}
	cr_expect(!receiver_poll_new(&rx, &nw));
	receiver_counters(&rx, &c);
	cr_expect_eq(c.takeovers, 0);
	cr_expect_eq(c.accepted, 40);
	cr_expect_eq(c.ssrc_conflicts + c.held, 38);
	cr_expect_eq(receiver_sweep(&rx, 3600ull * 1000000000ull, g, 4), 0);
	/* The first stops; the second goes on: after two packets in
	   sequence with nothing from the first, it takes over, with a
	   new stream holding both. */
	cr_assert_eq(receiver_give_spare(&rx, ns2), 0);
	send_seq(77, 2000, 40001);
	cr_expect(!receiver_poll_new(&rx, &nw));
	send_seq(77, 2001, 40001);
	cr_assert(receiver_poll_new(&rx, &nw));
	cr_expect(nw.takeover);
	cr_expect_eq(nw.ns, ns2);
	cr_expect_eq(((struct sockaddr_in *)&nw.from)->sin_port, htons(40001));
	cr_expect_eq(ring_count(&ns2->ring), 2);
	receiver_counters(&rx, &c);
	cr_expect_eq(c.takeovers, 1);
	/* The old stream comes back with the next sweep. */
	cr_assert_eq(receiver_sweep(&rx, 3600ull * 1000000000ull, g, 4), 1);
	cr_expect_eq(g[0].ns, ns);
	cr_expect_eq(g[0].why, RECEIVER_END_TAKEN_OVER);
	cr_expect_neq(g[0].id, nw.id);
	/* Now the first address is the stranger. */
	send_seq(77, 41, 40000);
	receiver_counters(&rx, &c);
	cr_expect_eq(c.takeovers, 1);
	expect_accounted();
	RTCHECK_EXPECT_ZERO(); /* validation, delivery, takeover */
	teardown_rx();
	free_stream(ns);
	free_stream(ns2);
}

Test(receiver, a_newer_ssrc_from_the_same_address_supersedes_a_quiet_stream)
{
	struct netstream *a = new_stream(), *b = new_stream(),
	                 *z = new_stream();
	struct receiver_new nw;
	struct receiver_gone g[4];
	const struct timespec ms10 = {0, 10000000L};
	const uint64_t hour = 3600ull * 1000000000ull;

	setup_rx(4, NULL);
	cr_assert_eq(receiver_give_spare(&rx, a), 0);
	cr_assert_eq(receiver_give_spare(&rx, z), 0);
	cr_assert_eq(receiver_give_spare(&rx, b), 0);
	/* A and Z from the same address (a relay); A stops, B (new SSRC,
	   same address) begins; Z goes on. */
	for (uint16_t i = 0; i < 4; i++) {
		send_seq(0xa, i, 40000);
		send_seq(0x2, i, 40000);
	}
	send_seq(0xb, 0, 40000);
	send_seq(0xb, 1, 40000);
	int seen = 0;
	while (receiver_poll_new(&rx, &nw))
		seen++;
	cr_assert_eq(seen, 3);
	/* 300 ms: Z keeps sending every 10 ms, A stays quiet. */
	for (uint16_t i = 4; i < 34; i++) {
		nanosleep(&ms10, NULL);
		send_seq(0x2, i, 40000);
		send_seq(0xb, (uint16_t)(i - 2), 40000);
		cr_assert_geq(receiver_sweep(&rx, hour, g, 4), 0);
		if (rx.present < 3)
			break;
	}
	struct receiver_counters c;
	receiver_counters(&rx, &c);
	cr_expect_eq(c.superseded, 1);
	cr_expect_eq(rx.present, 2);
	cr_expect_eq(g[0].ns, a);
	cr_expect_eq(g[0].why, RECEIVER_END_SUPERSEDED);
	teardown_rx();
	free_stream(a);
	free_stream(b);
	free_stream(z);
}

Test(receiver, a_restart_at_max_streams_replaces_the_quiet_stream_at_once)
{
	struct netstream *a = new_stream(), *z = new_stream(),
	                 *b = new_stream();
	struct receiver_new nw;
	struct receiver_gone g[4];
	struct receiver_counters c;
	const struct timespec ms300 = {0, 300000000L};

	setup_rx(2, NULL);
	cr_assert_eq(receiver_give_spare(&rx, a), 0);
	cr_assert_eq(receiver_give_spare(&rx, z), 0);
	for (uint16_t i = 0; i < 3; i++) {
		send_seq(0xa, i, 40000);
		send_seq(0x2, i, 40000);
	}
	while (receiver_poll_new(&rx, &nw))
		;
	/* Both places taken; A just stopped: B must wait (its datagrams
	   are over max_streams). */
	cr_assert_eq(receiver_give_spare(&rx, b), 0);
	send_seq(0xb, 0, 40000);
	send_seq(0xb, 1, 40000);
	cr_expect(!receiver_poll_new(&rx, &nw));
	receiver_counters(&rx, &c);
	cr_expect_eq(c.over_max_streams, 2);
	/* 300 ms later (Z went on meanwhile), B replaces A at once. */
	nanosleep(&ms300, NULL);
	send_seq(0x2, 3, 40000);
	send_seq(0xb, 2, 40000);
	send_seq(0xb, 3, 40000);
	cr_assert(receiver_poll_new(&rx, &nw));
	cr_expect_eq(nw.ssrc, 0xb);
	cr_expect_eq(nw.ns, b);
	receiver_counters(&rx, &c);
	cr_expect_eq(c.superseded, 1);
	cr_assert_eq(receiver_sweep(&rx, 3600ull * 1000000000ull, g, 4), 1);
	cr_expect_eq(g[0].ns, a);
	cr_expect_eq(g[0].why, RECEIVER_END_SUPERSEDED);
	expect_accounted();
	teardown_rx();
	free_stream(a);
	free_stream(b);
	free_stream(z);
}

Test(receiver, table_survives_many_inserts_and_removals)
{
	struct receiver_new nw;
	struct receiver_gone g[64];

	setup_rx(64, NULL);
	/* Rounds of 64 valid sources (two packets each) and 64 one-packet
	   ones, all swept, so that backward-shift deletion runs over every
	   kind of probe chain and probation entries come and go. */
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 64; i++) {
			uint32_t s = rnd();
			send_seq(s, 1, 40000);
			send_seq(s, 2, 40000);
			send_seq(rnd(), 1, 40000);
		}
		int seen = 0;
		while (receiver_poll_new(&rx, &nw))
			seen++;
		cr_assert_eq(seen, 64, "round %d: %d seen", round, seen);
		cr_assert_eq(receiver_sweep(&rx, 0, g, 64), 0);
		cr_assert_eq(rx.present, 0);
		cr_assert_eq(rx.sv.nprobe + rx.sv.npend, 0);
		cr_assert_eq(rx.sv.nfree, RECEIVER_HOLD_DGRAMS);
	}
	expect_accounted();
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
	for (uint16_t q = 1; q <= 2; q++) {
		size_t n = rtp_packet(buf, sizeof(buf), 96, 5, q, 0, pay,
		                      sizeof(pay));
		cr_assert_eq(sendto(fd, buf, n, 0, (struct sockaddr *)&to,
		                    sizeof(to)),
		             (ssize_t)n);
	}
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
