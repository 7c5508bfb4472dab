/*
 * test_jitter: the jitter buffer alone, on a scripted clock
 *
 * Packets are bare records (no payload) with a sequence number, an RTP
 * timestamp and an arrival time chosen by each test; the buffer is asked
 * what to play at chosen local times. 48 kHz RTP clock, 5 ms packets (240
 * ticks). The release callback records every packet the buffer gives back.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/jitter.h"

#define RATE  48000
#define FRAME 240u       /* ticks per packet */
#define MS    1000000ull /* ns */
#define NPKT  4096

static unsigned char *store;
static struct packet *pk[NPKT];
static unsigned released;
static struct jitter jb;

static void on_release(void *arg, struct packet *p)
{
	(void)arg;
	(void)p;
	released++;
}

static void setup(void)
{
	store = calloc(NPKT, packet_size(16));
	cr_assert(store);
	for (size_t i = 0; i < NPKT; i++) {
		pk[i] = (struct packet *)(store + i * packet_size(16));
		pk[i]->cap = 16;
	}
	released = 0;
}

static void teardown(void)
{
	jitter_clear(&jb);
	free(store);
}

TestSuite(jitter, .init = setup, .fini = teardown, .timeout = 30);

/* Packet i of a stream in record p: seq 1000 + i, ts 5000 + 240 i, sent
   at i * 5 ms. */
static struct packet *fill(struct packet *p, unsigned i, uint64_t arrival_ns)
{
	memset(p, 0, sizeof(*p));
	p->cap = 16;
	p->ext_seq = 70000 + i;
	p->rtp_ts = 5000u + FRAME * i;
	p->arrival_ns = arrival_ns;
	return p;
}

static struct packet *mk(unsigned i, uint64_t arrival_ns)
{
	return fill(pk[i % NPKT], i, arrival_ns);
}

static void init_fixed(unsigned ms)
{
	struct jitter_config cfg;

	jitter_config_default(&cfg, RATE, FRAME);
	cfg.adaptive = false;
	cfg.fixed_ms = ms;
	cr_assert_eq(jitter_init(&jb, &cfg, on_release, NULL), 0);
}

static struct jitter_out next_at(uint64_t t)
{
	struct jitter_out o;

	jitter_next(&jb, t, &o);
	return o;
}

Test(jitter, rejects_bad_configuration)
{
	struct jitter_config cfg;

	jitter_config_default(&cfg, RATE, FRAME);
	cfg.capacity = 100;
	cr_assert_eq(jitter_init(&jb, &cfg, on_release, NULL), -EINVAL);
	jitter_config_default(&cfg, RATE, 0);
	cr_assert_eq(jitter_init(&jb, &cfg, on_release, NULL), -EINVAL);
	jitter_config_default(&cfg, RATE, FRAME);
	cfg.min_ms = 600;
	cr_assert_eq(jitter_init(&jb, &cfg, on_release, NULL), -EINVAL);
}

Test(jitter, waits_for_target_delay_then_plays_in_order)
{
	init_fixed(30);
	/* Constant 3 ms network delay. */
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(jitter_insert(&jb, mk(i, i * 5 * MS + 3 * MS)),
		             JITTER_BUFFERED);
	cr_assert_eq(jitter_wait_ns(&jb, 10 * MS), 23 * MS);
	cr_assert_eq(next_at(32 * MS).kind, JITTER_WAIT);
	struct jitter_out o = next_at(33 * MS);
	cr_assert_eq(o.kind, JITTER_PACKET);
	cr_assert(o.restart);
	cr_assert_eq(o.pkt->ext_seq, 70000);
	cr_assert_eq(jitter_error_ns(&jb, 38 * MS, 0), 0);
	for (unsigned i = 1; i < 4; i++) {
		o = next_at(33 * MS + i * 5 * MS);
		cr_assert_eq(o.kind, JITTER_PACKET);
		cr_assert_not(o.restart);
		cr_assert_eq(o.pkt->ext_seq, 70000 + i);
	}
	cr_assert_eq(jitter_held(&jb), 0);
	cr_assert_eq(released, 0);
}

Test(jitter, puts_reordered_packets_back_in_order)
{
	init_fixed(30);
	unsigned order[] = {0, 2, 1, 4, 3, 5};
	for (unsigned k = 0; k < 6; k++)
		cr_assert_eq(jitter_insert(&jb, mk(order[k], k * 5 * MS)),
		             JITTER_BUFFERED);
	for (unsigned i = 0; i < 6; i++) {
		struct jitter_out o = next_at(30 * MS + i * 5 * MS);
		cr_assert_eq(o.kind, JITTER_PACKET);
		cr_assert_eq(o.pkt->ext_seq, 70000 + i);
	}
	struct jitter_stats st;
	jitter_stats(&jb, &st);
	cr_assert_eq(st.reordered, 2);
	cr_assert_eq(st.lost, 0);
}

Test(jitter, drops_duplicate_packets_held_or_played)
{
	init_fixed(30);
	cr_assert_eq(jitter_insert(&jb, mk(0, 0)), JITTER_BUFFERED);
	cr_assert_eq(jitter_insert(&jb, mk(1, 5 * MS)), JITTER_BUFFERED);
	/* A copy of a held packet (another record, same numbers). */
	struct packet *dup = pk[100];
	*dup = *pk[1];
	cr_assert_eq(jitter_insert(&jb, dup), JITTER_DUPLICATE);
	cr_assert_eq(next_at(30 * MS).kind, JITTER_PACKET);
	/* A copy of the one already played. */
	dup = pk[101];
	*dup = *pk[0];
	dup->arrival_ns = 31 * MS;
	cr_assert_eq(jitter_insert(&jb, dup), JITTER_DUPLICATE);
	struct jitter_stats st;
	jitter_stats(&jb, &st);
	cr_assert_eq(st.duplicate, 2);
	cr_assert_eq(released, 2);
	cr_assert_eq(st.received, 4);
}

Test(jitter, lost_packet_is_concealed_and_its_straggler_is_late)
{
	init_fixed(30);
	for (unsigned i = 0; i < 6; i++)
		if (i != 2)
			jitter_insert(&jb, mk(i, i * 5 * MS));
	cr_assert_eq(next_at(30 * MS).kind, JITTER_PACKET);
	cr_assert_eq(next_at(35 * MS).kind, JITTER_PACKET);
	struct jitter_out o = next_at(40 * MS);
	cr_assert_eq(o.kind, JITTER_MISSING);
	cr_assert_not(o.insert);
	cr_assert_eq(o.ticks, FRAME);
	cr_assert_not_null(o.next, "the following packet is offered for FEC");
	cr_assert_eq(o.next->ext_seq, 70003);
	/* Packet 2 turns up after its slot was concealed. */
	cr_assert_eq(jitter_insert(&jb, mk(2, 41 * MS)), JITTER_LATE);
	o = next_at(45 * MS);
	cr_assert_eq(o.kind, JITTER_PACKET);
	cr_assert_eq(o.pkt->ext_seq, 70003);
	struct jitter_stats st;
	jitter_stats(&jb, &st);
	cr_assert_eq(st.lost, 1);
	cr_assert_eq(st.late, 1);
	cr_assert_eq(released, 1);
}

Test(jitter, missing_packet_not_yet_due_is_waited_for)
{
	init_fixed(30);
	jitter_insert(&jb, mk(0, 0));
	cr_assert_eq(next_at(30 * MS).kind, JITTER_PACKET);
	/* Packet 1 is due at 35 ms; asked at 31 ms the consumer is ahead. */
	struct jitter_out o = next_at(31 * MS);
	cr_assert_eq(o.kind, JITTER_MISSING);
	cr_assert(o.insert);
	jitter_insert(&jb, mk(1, 33 * MS));
	o = next_at(36 * MS);
	cr_assert_eq(o.kind, JITTER_PACKET);
	cr_assert_eq(o.pkt->ext_seq, 70001);
	struct jitter_stats st;
	jitter_stats(&jb, &st);
	cr_assert_eq(st.lost, 0);
	cr_assert_eq(st.inserted, 1);
}

Test(jitter, restart_flag_flushes_and_starts_a_new_timeline)
{
	init_fixed(30);
	for (unsigned i = 0; i < 4; i++)
		jitter_insert(&jb, mk(i, i * 5 * MS));
	cr_assert_eq(next_at(30 * MS).kind, JITTER_PACKET);
	struct packet *p = mk(10, 40 * MS);
	p->ext_seq = 200000;
	p->rtp_ts = 123456789;
	p->flags = PACKET_RESTART;
	cr_assert_eq(jitter_insert(&jb, p), JITTER_RESYNC);
	cr_assert_eq(released, 3, "the old stream's packets are flushed");
	cr_assert_eq(next_at(69 * MS).kind, JITTER_WAIT);
	struct jitter_out o = next_at(70 * MS);
	cr_assert_eq(o.kind, JITTER_PACKET);
	cr_assert(o.restart);
	cr_assert_eq(o.pkt->ext_seq, 200000);
}

Test(jitter, sequence_beyond_window_resynchronises)
{
	init_fixed(30);
	jitter_insert(&jb, mk(0, 0));
	struct packet *p = mk(1, 5 * MS);
	p->ext_seq += 5000;
	cr_assert_eq(jitter_insert(&jb, p), JITTER_RESYNC);
	struct jitter_stats st;
	jitter_stats(&jb, &st);
	cr_assert_eq(st.resyncs, 1);
}

Test(jitter, timestamp_jump_resynchronises_on_the_second_packet)
{
	init_fixed(30);
	for (unsigned i = 0; i < 3; i++)
		jitter_insert(&jb, mk(i, i * 5 * MS));
	struct packet *a = mk(3, 15 * MS), *b = mk(4, 20 * MS);
	a->rtp_ts += 48000 * 30;
	b->rtp_ts += 48000 * 30;
	cr_assert_eq(jitter_insert(&jb, a), JITTER_DROPPED);
	cr_assert_eq(jitter_insert(&jb, b), JITTER_RESYNC);
}

Test(jitter, empty_buffer_conceals_then_waits)
{
	init_fixed(30);
	jitter_insert(&jb, mk(0, 0));
	cr_assert_eq(next_at(30 * MS).kind, JITTER_PACKET);
	unsigned missing = 0;
	uint64_t t = 35 * MS;
	for (; t < 600 * MS; t += 5 * MS) {
		struct jitter_out o = next_at(t);
		if (o.kind == JITTER_WAIT)
			break;
		cr_assert_eq(o.kind, JITTER_MISSING);
		missing++;
	}
	cr_assert_eq(missing, 40, "200 ms of concealment, then silence");
	struct jitter_stats st;
	jitter_stats(&jb, &st);
	cr_assert_eq(st.underruns, 1);
	/* The sender comes back on the same timeline: packet 60 is due at
	   300 + 30 ms. */
	jitter_insert(&jb, mk(60, 300 * MS));
	cr_assert_eq(next_at(329 * MS).kind, JITTER_WAIT);
	struct jitter_out o = next_at(330 * MS);
	cr_assert_eq(o.kind, JITTER_PACKET);
	cr_assert_eq(o.pkt->ext_seq, 70060);
}

/* Deterministic uniform [0, 1). */
static double rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (double)(*s >> 11) / 9007199254740992.0;
}

Test(jitter, adaptive_target_grows_fast_and_shrinks_slowly)
{
	struct jitter_config cfg;
	uint64_t seed = 0x9e3779b97f4a7c15ull, s = seed;

	cr_log_info("seed %#llx", (unsigned long long)seed);
	jitter_config_default(&cfg, RATE, FRAME);
	cr_assert_eq(jitter_init(&jb, &cfg, on_release, NULL), 0);
	struct jitter_stats st;
	unsigned i = 0;
	/* 20 s with 0..20 ms of uniform delay. Packets are played (taken
	   out) as soon as inserted, so the ring never fills. */
	for (; i < 4000; i++) {
		jitter_insert(
		        &jb, mk(i, i * 5 * MS + (uint64_t)(rnd(&s) * 20 * MS)));
		struct jitter_out o;
		jitter_tick(&jb, i * 5 * MS, 1.0);
		jitter_next(&jb, i * 5 * MS, &o);
	}
	jitter_stats(&jb, &st);
	cr_log_info("spread %.2f ms target %.2f ms", st.spread_ms,
	            st.target_ms);
	cr_assert(st.spread_ms > 19.0 && st.spread_ms < 21.5);
	cr_assert(st.target_ms > 26.0 && st.target_ms < 29.0);
	cr_assert(st.jitter_ms > 4.0 && st.jitter_ms < 9.0,
	          "RFC 3550 jitter of U(0,20) ms is about 6.7 ms: %f",
	          st.jitter_ms);
	/* The spread rises to 0..60 ms: the target follows within 1 s. */
	for (unsigned k = 0; k < 200; k++, i++) {
		jitter_insert(
		        &jb, mk(i, i * 5 * MS + (uint64_t)(rnd(&s) * 60 * MS)));
		struct jitter_out o;
		jitter_tick(&jb, i * 5 * MS, 1.0);
		jitter_next(&jb, i * 5 * MS, &o);
	}
	jitter_stats(&jb, &st);
	cr_assert(st.target_ms > 45.0, "target %f", st.target_ms);
	double high = st.target_ms;
	/* Back to a quiet network: the target comes down by at most
	   1.5 ms per second. */
	for (unsigned k = 0; k < 200; k++, i++) {
		jitter_insert(&jb, mk(i, i * 5 * MS));
		struct jitter_out o;
		jitter_tick(&jb, i * 5 * MS, 1.0);
		jitter_next(&jb, i * 5 * MS, &o);
	}
	jitter_stats(&jb, &st);
	cr_assert(st.target_ms <= high && st.target_ms > high - 2.5, "%f -> %f",
	          high, st.target_ms);
}

Test(jitter, sender_pause_without_timestamp_gap_plays_on_after_a_wait)
{
	init_fixed(30);
	for (unsigned i = 0; i < 10; i++)
		jitter_insert(&jb, mk(i, i * 5 * MS));
	uint64_t t = 30 * MS;
	for (; t < 700 * MS; t += 5 * MS) {
		struct jitter_out o = next_at(t);
		if (o.kind == JITTER_WAIT)
			break;
	}
	cr_assert_lt(t, 700 * MS, "dry buffer ends in waiting");
	/* 700 ms later the sender goes on where it stopped: its timestamps
	   did not advance while it was quiet. */
	for (unsigned i = 10; i < 20; i++)
		cr_assert_eq(
		        jitter_insert(&jb, mk(i, 750 * MS + (i - 10) * 5 * MS)),
		        JITTER_BUFFERED);
	cr_assert_eq(next_at(779 * MS).kind, JITTER_WAIT);
	struct jitter_out o = next_at(780 * MS);
	cr_assert_eq(o.kind, JITTER_PACKET);
	cr_assert_eq(o.pkt->ext_seq, 70010);
	struct jitter_stats st;
	jitter_stats(&jb, &st);
	cr_assert_eq(st.late, 0);
}

Test(jitter, after_a_network_stall_the_backlog_is_kept_and_played_first)
{
	init_fixed(30);
	for (unsigned i = 0; i < 10; i++)
		jitter_insert(&jb, mk(i, i * 5 * MS));
	uint64_t t = 30 * MS;
	for (; t < 700 * MS; t += 5 * MS)
		if (next_at(t).kind == JITTER_WAIT)
			break;
	/* A stall: packets 10..149 sent up to 745 ms all arrive at 750 ms.
	   None is late: the buffer plays on from the first of them (the
	   consumer sheds the excess), and the schedule is not re-anchored
	   (the newest are in time). */
	for (unsigned i = 10; i < 150; i++)
		jitter_insert(&jb, mk(i, 750 * MS));
	struct jitter_out o = next_at(750 * MS);
	cr_assert_eq(o.kind, JITTER_PACKET);
	cr_assert_eq(o.pkt->ext_seq, 70000 + 10);
	struct jitter_stats st;
	jitter_stats(&jb, &st);
	cr_assert_eq(st.late, 0);
	cr_assert_eq(st.rebuffers, 1);
	/* 645 ms behind the schedule: packet 10 was due at 50 + 30 ms. */
	cr_assert_geq(jitter_error_ns(&jb, 750 * MS, 0), 600 * (int64_t)MS);
}

/* The quantile kept incrementally equals a full pass over the histogram,
   through rises, falls and the weights' rescaling. */
Test(jitter, incremental_quantile_matches_a_full_pass)
{
	struct jitter_config cfg;
	uint64_t s = 0xdecafbad;

	jitter_config_default(&cfg, RATE, FRAME);
	cfg.forget_s = 0.05; /* forget fast: rescales within the run */
	cr_assert_eq(jitter_init(&jb, &cfg, on_release, NULL), 0);
	for (unsigned i = 0; i < 20000; i++) {
		double spread = (i / 2000) % 2 ? 40.0 : 5.0;
		jitter_insert(&jb, mk(i, i * 5 * MS + (uint64_t)(rnd(&s) *
		                                                 spread * MS)));
		struct jitter_out o;
		jitter_tick(&jb, i * 5 * MS, 1.0);
		jitter_next(&jb, i * 5 * MS, &o);
		if (i % 97)
			continue;
		double thr = (1.0 - cfg.quantile) * jb.tgt.hist_total,
		       acc = 0.0;
		unsigned want = 0;
		for (unsigned b = jb.tgt.nbins; b-- > 0;) {
			acc += jb.tgt.hist[b];
			if (acc > thr) {
				want = b;
				break;
			}
		}
		cr_assert_eq(jb.tgt.q_bin, want,
		             "packet %u: bin %u, a pass says %u", i,
		             jb.tgt.q_bin, want);
	}
}

/* Packet i restored from a copy carried by a packet arriving at arrival
   (a record of its own: the original may be held). */
static struct packet *mk_recovered(unsigned i, uint64_t arrival_ns)
{
	struct packet *p = fill(pk[(i + NPKT / 2) % NPKT], i, arrival_ns);

	p->flags = PACKET_RECOVERED;
	return p;
}

/* Packets 0..5 at 5 ms, 2 lost. */
static void six_but_the_third(void)
{
	for (unsigned i = 0; i < 6; i++)
		if (i != 2)
			jitter_insert(&jb, mk(i, i * 5 * MS));
}

Test(jitter, recovered_packet_fills_an_empty_slot_ahead_of_playout)
{
	init_fixed(30);
	six_but_the_third();
	/* Packet 3 (15 ms) carried a copy of packet 2. */
	cr_assert_eq(jitter_insert(&jb, mk_recovered(2, 15 * MS)),
	             JITTER_BUFFERED);
	for (unsigned i = 0; i < 6; i++) {
		struct jitter_out o = next_at(30 * MS + i * 5 * MS);
		cr_assert_eq(o.kind, JITTER_PACKET, "packet %u", i);
		cr_assert_eq(o.pkt->ext_seq, 70000 + i);
		cr_assert_eq((o.pkt->flags & PACKET_RECOVERED) != 0, i == 2);
	}
	struct jitter_stats st;
	jitter_stats(&jb, &st);
	cr_assert_eq(st.recovered, 1);
	cr_assert_eq(st.received, 5, "a recovered packet is not received");
	cr_assert_eq(st.lost, 0);
	cr_assert_eq(st.reordered, 0);
	cr_assert_eq(released, 0);
}

Test(jitter, recovered_packet_too_late_or_already_held_is_dropped_silently)
{
	init_fixed(30);
	six_but_the_third();
	/* A copy of packet 1, which is held: dropped, not a duplicate. */
	cr_assert_eq(jitter_insert(&jb, mk_recovered(1, 10 * MS)),
	             JITTER_DROPPED);
	cr_assert_eq(next_at(30 * MS).kind, JITTER_PACKET);
	cr_assert_eq(next_at(35 * MS).kind, JITTER_PACKET);
	cr_assert_eq(next_at(40 * MS).kind, JITTER_MISSING);
	/* Packet 2 was concealed: its copy is too late, not late. */
	cr_assert_eq(jitter_insert(&jb, mk_recovered(2, 41 * MS)),
	             JITTER_DROPPED);
	struct jitter_stats st;
	jitter_stats(&jb, &st);
	cr_assert_eq(st.duplicate, 0);
	cr_assert_eq(st.late, 0);
	cr_assert_eq(st.lost, 1);
	cr_assert_eq(st.recovered, 0);
	cr_assert_eq(st.late_repairs, 1);
	cr_assert_eq(released, 2);
}

Test(jitter, a_recovered_copy_alone_does_not_start_a_stream)
{
	init_fixed(30);
	cr_assert_eq(jitter_insert(&jb, mk_recovered(0, 0)), JITTER_DROPPED);
	cr_assert_eq(next_at(100 * MS).kind, JITTER_WAIT);
	cr_assert_eq(released, 1);
}

/* Copies arrive a frame after the packet they replace (distance 1): the
   adaptive target must stay what the real packets ask for. */
Test(jitter, recovered_packets_do_not_raise_the_target)
{
	struct jitter_config cfg;
	struct jitter_stats a, b;

	for (int pass = 0; pass < 2; pass++) {
		jitter_config_default(&cfg, RATE, FRAME);
		cr_assert_eq(jitter_init(&jb, &cfg, on_release, NULL), 0);
		for (unsigned i = 0; i < 2000; i++) {
			uint64_t t = i * 5 * MS;
			/* Every fourth packet is lost, its copy comes with
			   the next one, 5 ms later. */
			if (i % 4 == 2) {
				if (pass == 1)
					jitter_insert(
					        &jb,
					        mk_recovered(i, t + 5 * MS));
			} else {
				jitter_insert(&jb, mk(i, t));
			}
			struct jitter_out o;
			jitter_tick(&jb, t, 1.0);
			jitter_next(&jb, t, &o);
		}
		jitter_stats(&jb, pass ? &b : &a);
		jitter_clear(&jb);
		memset(&jb, 0, sizeof(jb));
	}
	cr_log_info("target %.2f ms without copies, %.2f ms with", a.target_ms,
	            b.target_ms);
	cr_assert_float_eq(a.target_ms, b.target_ms, 1e-9);
	cr_assert_float_eq(a.spread_ms, b.spread_ms, 1e-9);
	cr_assert_gt(a.lost, 0);
	cr_assert_eq(b.recovered + b.lost, a.lost);
	cr_assert_gt(b.recovered, 0);
}

/* Repairs that come too late (a copy 30 ms after its packet, as RED at
   distance 6 or a parity packet after its group would) raise the target
   while packets are being lost, so the next ones are in time; once losses
   stop, the target comes back down: no delay stays when nothing is lost. */
Test(jitter, late_repairs_raise_the_target_only_while_packets_are_lost)
{
	struct jitter_config cfg;
	struct jitter_stats st;
	unsigned lost = 0;
	double peak_target = 0.0;

	jitter_config_default(&cfg, RATE, FRAME);
	cfg.initial_ms = 8;
	cr_assert_eq(jitter_init(&jb, &cfg, on_release, NULL), 0);
	for (unsigned i = 0; i < 16000; i++) {
		uint64_t t = i * 5 * MS;
		bool losing = i < 4000; /* the first 20 s */
		if (losing && i % 20 == 10)
			lost++;
		else
			jitter_insert(&jb, mk(i, t));
		/* The repair of packet i - 6 arrives now. */
		if (i >= 6 && i - 6 < 4000 && (i - 6) % 20 == 10)
			jitter_insert(&jb, mk_recovered(i - 6, t));
		struct jitter_out o;
		jitter_tick(&jb, t, 1.0);
		jitter_next(&jb, t, &o);
		if (i == 3999) {
			jitter_stats(&jb, &st);
			peak_target = st.target_ms;
		}
	}
	jitter_stats(&jb, &st);
	cr_log_info("late repairs %llu, recovered %llu of %u, target %.2f ms "
	            "while losing, %.2f ms at the end",
	            (unsigned long long)st.late_repairs,
	            (unsigned long long)st.recovered, lost, peak_target,
	            st.target_ms);
	cr_assert_geq(st.late_repairs, 1);
	/* The first one only, in playout's first second: from it on the
	   target covers them (a repair is late by design, not by the
	   start's transient, as a late packet there may be). */
	cr_assert_eq(st.late_repairs, 1, "the target follows the first one");
	/* A repair too late leaves its packet lost. */
	cr_assert_eq(st.recovered + st.lost, lost);
	cr_assert_eq(st.lost, st.late_repairs);
	cr_assert_gt(st.recovered, lost * 9 / 10);
	/* 30 ms above the floor + a frame + the 2 ms margin. */
	cr_assert_geq(peak_target, 36.0);
	cr_assert_lt(st.target_ms, 8.0, "back down once losses stopped");
}
