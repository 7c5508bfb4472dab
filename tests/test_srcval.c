/*
 * test_srcval: the probation table on its own (pure, single-threaded):
 * what an entry holds and hands over, in which order, what it drops, and
 * which entry gives way when the table or the datagram store is full.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "bridge/net/srcval.h"

TestSuite(srcval, .timeout = 30);

static struct sockaddr_in from;

static void init(struct srcval *v, unsigned entries, unsigned dgrams,
                 unsigned min_seq)
{
	memset(&from, 0, sizeof(from));
	from.sin_family = AF_INET;
	from.sin_port = htons(5000);
	inet_pton(AF_INET, "127.0.0.1", &from.sin_addr);
	cr_assert_eq(srcval_init(v, entries, dgrams, 64, min_seq), 0);
}

static int open_one(struct srcval *v, uint32_t ssrc, uint64_t t,
                    struct srcval_evicted *ev)
{
	return srcval_open(v, ssrc, false, (struct sockaddr *)&from, t, ev);
}

/* Hold a one-byte datagram whose byte is its number's low byte. */
static int hold(struct srcval *v, int i, uint16_t seq, uint64_t t,
                unsigned *dropped, struct srcval_evicted *ev)
{
	uint8_t b = (uint8_t)seq;
	return srcval_hold(v, i, seq, &b, 1, t, dropped, ev);
}

static uint8_t got[64];
static unsigned ngot;

static void collect(void *arg, const uint8_t *data, size_t len, uint64_t rx_ns)
{
	(void)arg;
	(void)rx_ns;
	cr_assert_eq(len, 1);
	got[ngot++] = data[0];
}

Test(srcval, drains_in_sequence_order_and_frees_the_entry)
{
	struct srcval v;
	struct srcval_evicted ev;
	unsigned d;

	init(&v, 4, 16, 2);
	int i = open_one(&v, 1, 0, &ev);
	cr_assert_geq(i, 0);
	cr_expect_eq(hold(&v, i, 11, 1, &d, &ev), RTPSEQ_PROBE_WAIT);
	cr_expect_eq(hold(&v, i, 10, 2, &d, &ev), RTPSEQ_PROBE_RESTART);
	cr_expect_eq(d, 0, "11 is near the new run: kept");
	cr_expect_eq(hold(&v, i, 12, 3, &d, &ev), RTPSEQ_PROBE_RESTART);
	cr_expect_eq(hold(&v, i, 13, 4, &d, &ev), RTPSEQ_PROBE_VALID);
	srcval_validated(&v, i);
	cr_expect_eq(v.npend, 1);
	cr_expect_eq(hold(&v, i, 14, 5, &d, &ev), RTPSEQ_PROBE_WAIT);
	ngot = 0;
	cr_expect_eq(srcval_drain(&v, i, collect, NULL), 5);
	for (unsigned k = 0; k < ngot; k++)
		cr_expect_eq(got[k], 10 + k);
	cr_expect_eq(v.e[i].kind, SRCVAL_FREE);
	cr_expect_eq(v.nfree, 16);
	cr_expect_eq(v.npend + v.nprobe, 0);
	srcval_clear(&v);
}

Test(srcval, drops_duplicates_and_strays_far_from_a_new_run)
{
	struct srcval v;
	struct srcval_evicted ev;
	unsigned d;

	init(&v, 4, 16, 3);
	int i = open_one(&v, 1, 0, &ev);
	hold(&v, i, 100, 1, &d, &ev);
	cr_expect_eq(hold(&v, i, 100, 2, &d, &ev), RTPSEQ_PROBE_REPEAT);
	cr_expect_eq(d, 1);
	cr_expect_eq(v.e[i].n, 1);
	/* A jump of 5000: the held 100 cannot be the same source's. */
	cr_expect_eq(hold(&v, i, 5100, 3, &d, &ev), RTPSEQ_PROBE_RESTART);
	cr_expect_eq(d, 1);
	cr_expect_eq(v.e[i].n, 1);
	cr_expect_eq(srcval_release(&v, i), 1);
	cr_expect_eq(v.nfree, 16);
	srcval_clear(&v);
}

Test(srcval, a_full_entry_gives_up_its_oldest_on_probation_its_newest_pending)
{
	struct srcval v;
	struct srcval_evicted ev;
	unsigned d;

	init(&v, 2, 64, RTPSEQ_MAX_DROPOUT);
	int i = open_one(&v, 1, 0, &ev);
	for (uint16_t q = 0; q < SRCVAL_HOLD_MAX + 3; q++)
		hold(&v, i, q, q, &d, &ev);
	cr_expect_eq(v.e[i].n, SRCVAL_HOLD_MAX);
	ngot = 0;
	srcval_drain(&v, i, collect, NULL);
	cr_expect_eq(got[0], 3, "the three furthest behind went");
	cr_expect_eq(got[ngot - 1], SRCVAL_HOLD_MAX + 2);

	srcval_clear(&v);
	init(&v, 2, 64, 2);
	i = open_one(&v, 2, 0, &ev);
	hold(&v, i, 0, 0, &d, &ev);
	cr_expect_eq(hold(&v, i, 1, 1, &d, &ev), RTPSEQ_PROBE_VALID);
	srcval_validated(&v, i);
	for (uint16_t q = 2; q < SRCVAL_HOLD_MAX + 3; q++)
		hold(&v, i, q, q, &d, &ev);
	cr_expect_eq(d, 1, "pending and full: the newest is dropped");
	ngot = 0;
	srcval_drain(&v, i, collect, NULL);
	cr_expect_eq(got[0], 0, "a pending stream keeps its start");
	srcval_clear(&v);
}

Test(srcval, evicts_the_shortest_run_then_the_quietest_never_pending)
{
	struct srcval v;
	struct srcval_evicted ev;
	unsigned d;

	init(&v, 3, 64, 3);
	int a = open_one(&v, 0xa, 10, &ev);
	int b = open_one(&v, 0xb, 20, &ev);
	int c = open_one(&v, 0xc, 30, &ev);
	hold(&v, a, 1, 10, &d, &ev);
	hold(&v, a, 2, 40, &d, &ev); /* a: run 2, the most promising */
	hold(&v, b, 1, 20, &d, &ev); /* b: run 1, quiet since 20 */
	hold(&v, c, 1, 30, &d, &ev); /* c: run 1, quiet since 30 */
	int e = open_one(&v, 0xe, 50, &ev);
	cr_assert_geq(e, 0);
	cr_expect(ev.any);
	cr_expect_eq(ev.ssrc, 0xb);
	cr_expect_eq(ev.dropped, 1);
	cr_expect(!ev.challenger);
	/* Pending entries stay: with a and c pending and e the only one on
	   probation, a new source evicts e; with all pending, none. */
	hold(&v, a, 3, 60, &d, &ev);
	srcval_validated(&v, a);
	hold(&v, c, 2, 60, &d, &ev);
	hold(&v, c, 3, 61, &d, &ev);
	srcval_validated(&v, c);
	int f = open_one(&v, 0xf, 70, &ev);
	cr_expect_eq(ev.ssrc, 0xe);
	hold(&v, f, 7, 70, &d, &ev);
	hold(&v, f, 8, 71, &d, &ev);
	hold(&v, f, 9, 72, &d, &ev);
	srcval_validated(&v, f);
	cr_expect_eq(open_one(&v, 0x9, 80, &ev), -ENOSPC);
	cr_expect(!ev.any);
	srcval_clear(&v);
}

Test(srcval, an_empty_store_evicts_another_entry_for_a_datagram)
{
	struct srcval v;
	struct srcval_evicted ev;
	unsigned d;

	init(&v, 8, 2, 4);
	int a = open_one(&v, 0xa, 0, &ev);
	hold(&v, a, 1, 0, &d, &ev);
	int b = open_one(&v, 0xb, 1, &ev);
	hold(&v, b, 1, 1, &d, &ev);
	/* Both buffers in use: b's next one takes a's. */
	cr_expect_eq(hold(&v, b, 2, 2, &d, &ev), RTPSEQ_PROBE_WAIT);
	cr_expect(ev.any);
	cr_expect_eq(ev.ssrc, 0xa);
	cr_expect_eq(v.e[b].n, 2);
	/* A new source with no buffer left evicts when it opens. */
	int c = open_one(&v, 0xc, 3, &ev);
	cr_assert_geq(c, 0);
	cr_expect_eq(ev.ssrc, 0xb);
	cr_expect_eq(ev.dropped, 2);
	srcval_clear(&v);
}

Test(srcval, a_challenger_needs_two_in_sequence)
{
	struct srcval v;
	struct srcval_evicted ev;
	unsigned d;

	init(&v, 4, 8, 1);
	int i = open_one(&v, 1, 0, &ev);
	cr_expect_eq(hold(&v, i, 5, 0, &d, &ev), RTPSEQ_PROBE_VALID);
	int c = srcval_open(&v, 1, true, (struct sockaddr *)&from, 1, &ev);
	cr_expect_eq(hold(&v, c, 5, 1, &d, &ev), RTPSEQ_PROBE_WAIT);
	cr_expect_eq(hold(&v, c, 6, 2, &d, &ev), RTPSEQ_PROBE_VALID);
	srcval_clear(&v);
}
