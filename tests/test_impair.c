/*
 * Tests of the impairment relay's pure parts: the seeded model (impair),
 * the release schedule (sched) and option parsing (relay_opts). Simulated
 * clock throughout: packets "arrive" every millisecond of a counter.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/relay/impair.h"
#include "tools/relay/prng.h"
#include "tools/relay/relay_opts.h"
#include "tools/relay/sched.h"

#define MS        1000000ULL
#define T0        (5 * 1000000000ULL) /* an arbitrary non-zero start (ns) */
#define N_PACKETS 100000

static struct impair_config base(void)
{
	struct impair_config c;

	impair_config_default(&c);
	return c;
}

/* Run n packets at 1 ms spacing; fill lost[i] and release[i] (first copy). */
static void run(const struct impair_config *c, uint64_t seed, size_t n,
                bool *lost, uint64_t *release, struct impair_stats *st)
{
	struct impair m;
	struct impair_verdict v;

	cr_assert_eq(impair_init(&m, c, seed), 0);
	for (size_t i = 0; i < n; i++) {
		int copies = impair_decide(&m, T0 + i * MS, &v);
		if (lost)
			lost[i] = copies == 0;
		if (release)
			release[i] = copies ? v.release_ns[0] : 0;
	}
	if (st)
		*st = m.stats;
	impair_clear(&m);
}

TestSuite(impair, .timeout = 30);

Test(impair, no_impairment_releases_every_packet_on_arrival)
{
	struct impair_config c = base();
	struct impair m;
	struct impair_verdict v;

	cr_assert_eq(impair_init(&m, &c, 1), 0);
	for (uint64_t i = 0; i < 1000; i++) {
		cr_assert_eq(impair_decide(&m, T0 + i * MS, &v), 1);
		cr_assert_eq(v.release_ns[0], T0 + i * MS);
		cr_assert_not(v.reordered);
	}
	cr_assert_eq(m.stats.dropped, 0);
	cr_assert_eq(m.stats.packets, 1000);
}

Test(impair, loss_rate_matches_setting_over_100k_packets)
{
	static bool lost[N_PACKETS];
	const uint64_t seeds[] = {1, 2, 3, 0xdeadbeef};
	const double rates[] = {0.01, 0.1, 0.3};

	for (size_t r = 0; r < 3; r++) {
		struct impair_config c = base();
		c.loss = rates[r];
		/* 6 standard deviations of a binomial proportion. */
		double tol = 6.0 * sqrt(rates[r] * (1 - rates[r]) / N_PACKETS);
		for (size_t s = 0; s < 4; s++) {
			struct impair_stats st;
			run(&c, seeds[s], N_PACKETS, lost, NULL, &st);
			double got = (double)st.dropped / N_PACKETS;
			cr_expect(fabs(got - rates[r]) < tol,
			          "seed %llu loss %.3f: got %.4f",
			          (unsigned long long)seeds[s], rates[r], got);
		}
	}
}

/* Mean length of runs of consecutive losses. */
static double mean_run(const bool *lost, size_t n, size_t *runs)
{
	size_t nruns = 0, nlost = 0;

	for (size_t i = 0; i < n; i++) {
		if (!lost[i])
			continue;
		nlost++;
		if (i == 0 || !lost[i - 1])
			nruns++;
	}
	*runs = nruns;
	return nruns ? (double)nlost / (double)nruns : 0.0;
}

Test(impair, gilbert_elliott_loses_in_bursts_of_mean_length_one_over_p_bg)
{
	enum { N = 200000 };
	static bool lost[N];
	const double p_bg[] = {0.5, 0.25, 0.1};

	for (size_t k = 0; k < 3; k++) {
		struct impair_config c = base();
		c.burst = true;
		c.ge_p_gb = 0.01;
		c.ge_p_bg = p_bg[k];
		struct impair_stats st;
		size_t runs;
		run(&c, 7 + k, N, lost, NULL, &st);
		double mean = mean_run(lost, N, &runs);
		double want = 1.0 / p_bg[k];
		/* Geometric run lengths: sd sqrt(1-p)/p, over `runs` runs. */
		double tol = 6.0 * sqrt(1.0 - p_bg[k]) / p_bg[k] /
		             sqrt((double)runs);
		cr_expect(fabs(mean - want) < tol,
		          "p_bg %.2f: mean burst %.3f, want %.3f +- %.3f",
		          p_bg[k], mean, want, tol);
		/* Stationary loss p_gb / (p_gb + p_bg). */
		double rate = (double)st.dropped / N;
		double want_rate = 0.01 / (0.01 + p_bg[k]);
		cr_expect(fabs(rate - want_rate) < 0.25 * want_rate,
		          "p_bg %.2f: loss %.4f, want %.4f", p_bg[k], rate,
		          want_rate);
		cr_expect_eq(st.burst_drops, st.dropped);
	}

	/* Independent loss at a similar rate has runs barely over 1. */
	struct impair_config c = base();
	c.loss = 0.04;
	size_t runs;
	run(&c, 7, N, lost, NULL, NULL);
	cr_expect_lt(mean_run(lost, N, &runs), 1.1);
}

Test(impair, gilbert_elliott_good_and_bad_loss_rates_apply)
{
	enum { N = 200000 };
	static bool lost[N];
	struct impair_config c = base();
	struct impair_stats st;

	/* Half the time in each state; lose 2 % in GOOD, 50 % in BAD. */
	c.burst = true;
	c.ge_p_gb = 0.05;
	c.ge_p_bg = 0.05;
	c.ge_loss_good = 0.02;
	c.ge_loss_bad = 0.5;
	run(&c, 11, N, lost, NULL, &st);
	double rate = (double)st.dropped / N;
	cr_expect(fabs(rate - 0.26) < 0.03, "loss %.4f, want 0.26", rate);
	double bad_share = (double)st.burst_drops / (double)st.dropped;
	cr_expect(fabs(bad_share - 0.25 / 0.26) < 0.03, "bad share %.3f",
	          bad_share);
}

Test(impair, same_seed_reproduces_every_decision_and_other_seed_differs)
{
	enum { N = 20000 };
	static uint64_t a[N], b[N], d[N];
	static bool la[N], lb[N], ld[N];
	struct impair_config c = base();

	c.loss = 0.05;
	c.burst = true;
	c.ge_p_gb = 0.01;
	c.ge_p_bg = 0.3;
	c.delay_ns = 20 * MS;
	c.jitter_ns = 5 * MS;
	c.reorder = 0.02;
	c.duplicate = 0.02;
	run(&c, 1234, N, la, a, NULL);
	run(&c, 1234, N, lb, b, NULL);
	run(&c, 1235, N, ld, d, NULL);
	cr_assert_eq(memcmp(la, lb, sizeof(la)), 0);
	cr_assert_eq(memcmp(a, b, sizeof(a)), 0);
	size_t differ = 0;
	for (size_t i = 0; i < N; i++)
		differ += la[i] != ld[i];
	cr_assert_gt(differ, 100, "seeds 1234 and 1235 differ in %zu losses",
	             differ);
}

Test(impair, loss_pattern_does_not_depend_on_delay_or_duplication)
{
	enum { N = 20000 };
	static bool plain[N], busy[N];
	struct impair_config c = base();

	c.loss = 0.1;
	run(&c, 99, N, plain, NULL, NULL);
	c.delay_ns = 40 * MS;
	c.jitter_ns = 15 * MS;
	c.reorder = 0.1;
	c.duplicate = 0.1;
	c.skew_ppm = 300;
	run(&c, 99, N, busy, NULL, NULL);
	cr_assert_eq(memcmp(plain, busy, sizeof(plain)), 0);
}

Test(impair, jitter_stays_within_bounds_and_mean_equals_delay)
{
	static uint64_t rel[N_PACKETS];
	struct impair_config c = base();

	c.delay_ns = 30 * MS;
	c.jitter_ns = 10 * MS;
	run(&c, 5, N_PACKETS, NULL, rel, NULL);
	double sum = 0;
	size_t inversions = 0;
	for (size_t i = 0; i < N_PACKETS; i++) {
		int64_t extra = (int64_t)(rel[i] - (T0 + i * MS));
		cr_assert(
		        extra >= 20 * (int64_t)MS && extra <= 40 * (int64_t)MS,
		        "packet %zu: extra delay %lld ns", i, (long long)extra);
		sum += (double)extra;
		if (i > 0 && rel[i] < rel[i - 1])
			inversions++;
	}
	/* Uniform +-10 ms: sd 5.77 ms, so the mean of 1e5 is within 0.1 ms. */
	double mean_ms = sum / N_PACKETS / 1e6;
	cr_expect(fabs(mean_ms - 30.0) < 0.1, "mean extra delay %.4f ms",
	          mean_ms);
	cr_expect_gt(inversions, N_PACKETS / 10,
	             "jitter of 10 ms at 1 ms spacing reorders (%zu)",
	             inversions);
}

Test(impair, jitter_larger_than_delay_never_releases_before_arrival)
{
	static uint64_t rel[10000];
	struct impair_config c = base();

	c.delay_ns = 2 * MS;
	c.jitter_ns = 10 * MS;
	run(&c, 6, 10000, NULL, rel, NULL);
	for (size_t i = 0; i < 10000; i++)
		cr_assert_geq(rel[i], T0 + i * MS);
}

Test(impair, keep_order_prevents_reordering_by_jitter)
{
	static uint64_t rel[N_PACKETS];
	struct impair_config c = base();

	c.delay_ns = 30 * MS;
	c.jitter_ns = 10 * MS;
	c.keep_order = true;
	run(&c, 5, N_PACKETS, NULL, rel, NULL);
	for (size_t i = 1; i < N_PACKETS; i++)
		cr_assert_geq(rel[i], rel[i - 1], "packet %zu overtook", i);
	for (size_t i = 0; i < N_PACKETS; i++)
		cr_assert_geq(rel[i], T0 + i * MS + 20 * MS);
}

Test(impair, reorder_holds_back_the_set_share_by_two_packet_intervals)
{
	static uint64_t rel[N_PACKETS];
	struct impair_config c = base();
	struct impair m;
	struct impair_verdict v;

	c.reorder = 0.05;
	cr_assert_eq(impair_init(&m, &c, 21), 0);
	size_t held = 0;
	for (size_t i = 0; i < N_PACKETS; i++) {
		uint64_t t = T0 + i * MS;
		cr_assert_eq(impair_decide(&m, t, &v), 1);
		rel[i] = v.release_ns[0];
		if (v.reordered) {
			held++;
			/* The gap is twice the measured 1 ms interval, except
			 * for the first packet, which has no interval yet. */
			uint64_t gap = i == 0 ? IMPAIR_DEFAULT_GAP_NS : 2 * MS;
			cr_assert_eq(rel[i] - t, gap, "packet %zu", i);
		} else {
			cr_assert_eq(rel[i], t);
		}
	}
	cr_assert_eq(held, m.stats.reordered);
	double share = (double)held / N_PACKETS;
	cr_expect(fabs(share - 0.05) < 6.0 * sqrt(0.05 * 0.95 / N_PACKETS),
	          "reordered share %.4f", share);

	/* An explicit gap is used as given. */
	c.reorder_gap_ns = 7 * MS;
	cr_assert_eq(impair_init(&m, &c, 21), 0);
	for (size_t i = 0; i < 1000; i++) {
		impair_decide(&m, T0 + i * MS, &v);
		if (v.reordered)
			cr_assert_eq(v.release_ns[0] - (T0 + i * MS), 7 * MS);
	}
}

Test(impair, duplicate_sends_the_set_share_twice_original_first)
{
	struct impair_config c = base();
	struct impair m;
	struct impair_verdict v;

	c.duplicate = 0.03;
	c.delay_ns = 10 * MS;
	c.jitter_ns = 3 * MS;
	cr_assert_eq(impair_init(&m, &c, 8), 0);
	size_t twice = 0;
	for (size_t i = 0; i < N_PACKETS; i++) {
		int copies = impair_decide(&m, T0 + i * MS, &v);
		cr_assert(copies == 1 || copies == 2);
		if (copies == 2) {
			twice++;
			cr_assert_geq(v.release_ns[1], v.release_ns[0]);
			cr_assert_leq(v.release_ns[1] - v.release_ns[0],
			              3 * MS);
		}
	}
	cr_assert_eq(twice, m.stats.duplicated);
	double share = (double)twice / N_PACKETS;
	cr_expect(fabs(share - 0.03) < 6.0 * sqrt(0.03 * 0.97 / N_PACKETS),
	          "duplicated share %.4f", share);
}

Test(impair, skew_stretches_the_timeline_by_ppm)
{
	const double ppm[] = {100.0, -250.0, 0.0};

	for (size_t k = 0; k < 3; k++) {
		static uint64_t rel[N_PACKETS];
		struct impair_config c = base();
		c.skew_ppm = ppm[k];
		c.delay_ns = 5 * MS;
		run(&c, 3, N_PACKETS, NULL, rel, NULL);
		for (size_t i = 0; i < N_PACKETS; i += 997) {
			double dt = (double)(i * MS);
			double want = (double)(T0 + i * MS) +
			              dt * ppm[k] * 1e-6 + 5e6;
			cr_assert(fabs((double)rel[i] - want) <= 1.0,
			          "ppm %.0f packet %zu: %llu vs %.0f", ppm[k],
			          i, (unsigned long long)rel[i], want);
		}
		/* Over 100 s of packets the drift is ppm * 100 s. */
		size_t last = N_PACKETS - 1;
		double span = (double)(rel[last] - rel[0]);
		double want_span = (double)(last * MS) * (1.0 + ppm[k] * 1e-6);
		cr_expect(fabs(span - want_span) <= 1.0, "ppm %.0f span %.0f",
		          ppm[k], span);
	}
}

Test(impair, config_check_rejects_values_out_of_range)
{
	struct impair_config c = base();
	struct impair m;

	cr_assert_eq(impair_config_check(&c), 0);
	c.loss = 1.5;
	cr_assert_eq(impair_config_check(&c), -EINVAL);
	cr_assert_eq(impair_init(&m, &c, 1), -EINVAL);
	c = base();
	c.loss = NAN;
	cr_assert_eq(impair_config_check(&c), -EINVAL);
	c = base();
	c.jitter_ns = -1;
	cr_assert_eq(impair_config_check(&c), -EINVAL);
	c = base();
	c.skew_ppm = 2e5;
	cr_assert_eq(impair_config_check(&c), -EINVAL);
	c = base();
	c.burst = true;
	c.ge_p_gb = 0.1;
	c.ge_p_bg = 0.0;
	cr_assert_eq(impair_config_check(&c), -EINVAL);
}

Test(impair, prng_is_reproducible_and_uniform)
{
	struct prng a, b;
	double sum = 0;

	prng_init(&a, 0);
	prng_init(&b, 0);
	for (int i = 0; i < 100000; i++) {
		double u = prng_uniform(&a);
		cr_assert(u >= 0.0 && u < 1.0);
		cr_assert_eq(u, prng_uniform(&b));
		sum += u;
	}
	cr_expect(fabs(sum / 100000 - 0.5) < 0.006);
	prng_init(&b, 1);
	cr_assert_neq(prng_next(&a), prng_next(&b));
}

TestSuite(sched, .timeout = 30);

static uint32_t payload_u32(struct sched *s, const struct sched_entry *e)
{
	size_t len;
	const void *p = sched_payload(s, e->slot, &len);
	uint32_t v;

	cr_assert_eq(len, sizeof(v));
	memcpy(&v, p, sizeof(v));
	return v;
}

Test(sched, releases_in_time_order_and_ties_in_insertion_order)
{
	struct sched s;
	struct prng p;

	cr_assert_eq(sched_init(&s, 512, 64), 0);
	prng_init(&p, 17);
	for (uint32_t i = 0; i < 500; i++) {
		/* Coarse times force many ties. */
		uint64_t t = prng_next(&p) % 50;
		cr_assert_eq(sched_add(&s, &i, sizeof(i), &t, 1), 0);
	}
	uint64_t last_t = 0;
	uint32_t last_i = 0;
	for (int k = 0; k < 500; k++) {
		const struct sched_entry *e = sched_peek(&s);
		cr_assert_not_null(e);
		uint32_t i = payload_u32(&s, e);
		cr_assert_geq(e->release_ns, last_t);
		if (k > 0 && e->release_ns == last_t)
			cr_assert_gt(i, last_i, "tie broken out of order");
		last_t = e->release_ns;
		last_i = i;
		sched_pop(&s);
	}
	cr_assert_null(sched_peek(&s));
	sched_clear(&s);
}

Test(sched, full_pool_refuses_then_accepts_after_a_release)
{
	struct sched s;
	uint64_t t = 10;
	uint32_t v = 1;

	cr_assert_eq(sched_init(&s, 4, 16), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(sched_add(&s, &v, sizeof(v), &t, 1), 0);
	cr_assert_eq(sched_add(&s, &v, sizeof(v), &t, 1), -ENOBUFS);
	sched_pop(&s);
	cr_assert_eq(sched_add(&s, &v, sizeof(v), &t, 1), 0);
	cr_assert_eq(sched_pending(&s), 4);
	sched_clear(&s);
}

Test(sched, duplicate_holds_one_slot_until_both_copies_leave)
{
	struct sched s;
	uint64_t t[2] = {5, 9};
	uint32_t v = 42, w = 43;

	cr_assert_eq(sched_init(&s, 1, 16), 0);
	cr_assert_eq(sched_add(&s, &v, sizeof(v), t, 2), 0);
	cr_assert_eq(sched_pending(&s), 2);
	cr_assert_eq(sched_add(&s, &w, sizeof(w), t, 1), -ENOBUFS);
	cr_assert_eq(payload_u32(&s, sched_peek(&s)), 42);
	cr_assert_eq(sched_peek(&s)->release_ns, 5);
	sched_pop(&s);
	cr_assert_eq(sched_add(&s, &w, sizeof(w), t, 1), -ENOBUFS);
	cr_assert_eq(payload_u32(&s, sched_peek(&s)), 42);
	cr_assert_eq(sched_peek(&s)->release_ns, 9);
	sched_pop(&s);
	cr_assert_eq(sched_add(&s, &w, sizeof(w), t, 1), 0);
	sched_clear(&s);
}

Test(sched, refuses_oversize_payloads_and_bad_sizes)
{
	struct sched s;
	char big[65];
	uint64_t t = 0;

	memset(big, 0, sizeof(big));
	cr_assert_eq(sched_init(&s, 0, 64), -EINVAL);
	cr_assert_eq(sched_init(&s, 4, 0), -EINVAL);
	cr_assert_eq(sched_init(&s, 4, 64), 0);
	cr_assert_eq(sched_add(&s, big, 65, &t, 1), -EMSGSIZE);
	cr_assert_eq(sched_add(&s, big, 64, &t, 1), 0);
	cr_assert_eq(sched_add(&s, big, 0, &t, 1), 0);
	cr_assert_eq(sched_add(&s, big, 1, &t, 3), -EINVAL);
	sched_clear(&s);
	sched_clear(&s); /* clearing twice is harmless */
}

TestSuite(relay_opts, .timeout = 30);

static int parse(struct relay_opts *o, char *err, size_t n, int argc,
                 char **argv)
{
	return relay_opts_parse(o, argc, argv, err, n);
}

Test(relay_opts, parses_addresses_percentages_and_milliseconds)
{
	struct relay_opts o;
	char err[256];
	char *argv[] = {"relay",
	                "--listen",
	                "[::1]:5004",
	                "--to",
	                "localhost:6000",
	                "--loss=2.5",
	                "--burst",
	                "1,25",
	                "--delay",
	                "40",
	                "--jitter",
	                "7.5",
	                "--skew",
	                "-30",
	                "--no-reorder-by-jitter",
	                "--seed",
	                "77",
	                "--stats"};
	int argc = (int)(sizeof(argv) / sizeof(argv[0]));

	cr_assert_eq(parse(&o, err, sizeof(err), argc, argv), 0, "%s", err);
	cr_assert_str_eq(o.listen_host, "::1");
	cr_assert_str_eq(o.listen_port, "5004");
	cr_assert_str_eq(o.to_host, "localhost");
	cr_assert_str_eq(o.to_port, "6000");
	cr_assert_float_eq(o.impair.loss, 0.025, 1e-12);
	cr_assert(o.impair.burst);
	cr_assert_float_eq(o.impair.ge_p_gb, 0.01, 1e-12);
	cr_assert_float_eq(o.impair.ge_p_bg, 0.25, 1e-12);
	cr_assert_float_eq(o.impair.ge_loss_bad, 1.0, 1e-12);
	cr_assert_eq(o.impair.delay_ns, 40 * (int64_t)MS);
	cr_assert_eq(o.impair.jitter_ns, 7500000);
	cr_assert_float_eq(o.impair.skew_ppm, -30.0, 1e-12);
	cr_assert(o.impair.keep_order);
	cr_assert(o.have_seed);
	cr_assert_eq(o.seed, 77);
	cr_assert(o.stats);
}

Test(relay_opts, environment_configures_and_command_line_overrides)
{
	struct relay_opts o;
	char err[256];
	char *argv[] = {"relay", "--loss", "3"};

	setenv("RELAY_LISTEN", "127.0.0.1:0", 1);
	setenv("RELAY_TO", "127.0.0.1:9", 1);
	setenv("RELAY_LOSS", "50", 1);
	setenv("RELAY_REORDER_GAP", "12", 1);
	setenv("RELAY_QUIET", "yes", 1);
	int rc = parse(&o, err, sizeof(err), 3, argv);
	unsetenv("RELAY_LISTEN");
	unsetenv("RELAY_TO");
	unsetenv("RELAY_LOSS");
	unsetenv("RELAY_REORDER_GAP");
	unsetenv("RELAY_QUIET");
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_float_eq(o.impair.loss, 0.03, 1e-12);
	cr_assert_eq(o.impair.reorder_gap_ns, 12 * (int64_t)MS);
	cr_assert(o.quiet);
	cr_assert_str_eq(o.listen_port, "0");
}

Test(relay_opts, rejects_bad_values_with_a_message_naming_the_option)
{
	struct relay_opts o;
	char err[256];
	char *bad[][5] = {
	        {"relay", "--listen", ":1", "--to", "h:x"},
	        {"relay", "--listen", ":1", "--to", "::1:5"},
	        {"relay", "--listen", ":1", "--loss", "101"},
	        {"relay", "--listen", ":1", "--burst", "5"},
	        {"relay", "--listen", ":1", "--jitter", "-1"},
	        {"relay", "--listen", ":1", "--bogus", "1"},
	        {"relay", "--listen", ":1", "--to", "[::1]5"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(&o, err, sizeof(err), 5, bad[i]), -EINVAL,
		             "case %zu accepted", i);
		cr_assert_neq(strlen(err), 0);
		cr_assert_null(strchr(err, '\n'), "one line: %s", err);
	}
	char *missing[] = {"relay", "--listen", "127.0.0.1:0"};
	cr_assert_eq(parse(&o, err, sizeof(err), 3, missing), -EINVAL);
	cr_assert_not_null(strstr(err, "--to"), "%s", err);
}
