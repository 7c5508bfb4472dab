/*
 * impair: decisions of the impairment model (see impair.h for the model).
 * Pure arithmetic on the caller's struct; the only state is the generator,
 * the Gilbert-Elliott state and a few timeline references.
 */
#include "tools/relay/impair.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Inter-arrival gaps longer than this (ns) are pauses, not the packet
 * interval, and do not feed the moving mean. */
#define INTERVAL_MAX_NS 1000000000LL

void impair_config_default(struct impair_config *c)
{
	memset(c, 0, sizeof(*c));
	c->ge_loss_good = 0.0;
	c->ge_loss_bad = 1.0;
}

static bool prob_ok(double p)
{
	return p >= 0.0 && p <= 1.0; /* false for NaN too */
}

static bool time_ok(int64_t t)
{
	return t >= 0 && t <= IMPAIR_MAX_TIME_NS;
}

int impair_config_check(const struct impair_config *c)
{
	if (!prob_ok(c->loss) || !prob_ok(c->reorder) || !prob_ok(c->duplicate))
		return -EINVAL;
	if (c->burst) {
		if (!prob_ok(c->ge_p_gb) || !prob_ok(c->ge_p_bg) ||
		    !prob_ok(c->ge_loss_good) || !prob_ok(c->ge_loss_bad))
			return -EINVAL;
		if (c->ge_p_bg == 0.0 && c->ge_p_gb > 0.0)
			return -EINVAL;
	}
	if (!time_ok(c->delay_ns) || !time_ok(c->jitter_ns) ||
	    !time_ok(c->reorder_gap_ns))
		return -EINVAL;
	if (!(fabs(c->skew_ppm) <= IMPAIR_MAX_SKEW_PPM))
		return -EINVAL;
	return 0;
}

int impair_init(struct impair *m, const struct impair_config *c, uint64_t seed)
{
	if (impair_config_check(c) < 0)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->cfg = *c;
	m->seed = seed;
	prng_init(&m->rng, seed);
	return 0;
}

void impair_clear(struct impair *m)
{
	memset(m, 0, sizeof(*m));
}

/* Track the packet interval: a moving mean with weight 1/8, integer ns. */
static void track_interval(struct impair *m, uint64_t arrival)
{
	int64_t dt = (int64_t)(arrival - m->prev_arrival);

	if (dt <= 0 || dt > INTERVAL_MAX_NS)
		return;
	if (m->interval_ns == 0)
		m->interval_ns = dt;
	else
		m->interval_ns += (dt - m->interval_ns) / 8;
}

/* s_i = t0 + (a_i - t0) * (1 + ppm * 1e-6). A double holds the product
 * exactly enough: an hour is 3.6e12 ns and 10 % of it 3.6e11, far below
 * 2^53. */
static uint64_t skewed(const struct impair *m, uint64_t arrival)
{
	uint64_t dt = arrival - m->t0;
	double stretch = (double)dt * m->cfg.skew_ppm * 1e-6;

	return m->t0 + dt + (uint64_t)(int64_t)llround(stretch);
}

int impair_decide(struct impair *m, uint64_t arrival_ns,
                  struct impair_verdict *v)
{
	const struct impair_config *c = &m->cfg;
	double u[IMPAIR_DRAWS];

	/* All draws first, in a fixed order, so that every packet costs the
	 * same number of them (see impair.h). */
	for (int i = 0; i < IMPAIR_DRAWS; i++)
		u[i] = prng_uniform(&m->rng);

	if (!m->started) {
		m->started = true;
		m->t0 = arrival_ns;
		m->prev_arrival = arrival_ns;
		m->last_inorder = 0;
	}
	/* A clock that steps back is treated as standing still. */
	if (arrival_ns < m->prev_arrival)
		arrival_ns = m->prev_arrival;
	track_interval(m, arrival_ns);
	m->prev_arrival = arrival_ns;
	m->stats.packets++;

	memset(v, 0, sizeof(*v));

	bool lost = u[0] < c->loss;
	if (c->burst) {
		bool was_bad = m->ge_bad;
		double p_loss = was_bad ? c->ge_loss_bad : c->ge_loss_good;
		bool ge_lost = u[1] < p_loss;
		/* The loss is decided in the state the packet met; the
		 * transition then sets the state of the next packet. */
		if (was_bad)
			m->ge_bad = !(u[2] < c->ge_p_bg);
		else
			m->ge_bad = u[2] < c->ge_p_gb;
		if (ge_lost && was_bad)
			m->stats.burst_drops++;
		lost = lost || ge_lost;
	}
	if (lost) {
		m->stats.dropped++;
		return 0;
	}

	int64_t extra = c->delay_ns;
	if (c->jitter_ns > 0)
		extra += llround((2.0 * u[3] - 1.0) * (double)c->jitter_ns);
	if (extra < 0)
		extra = 0;
	uint64_t release = skewed(m, arrival_ns) + (uint64_t)extra;

	if (u[4] < c->reorder) {
		int64_t gap = c->reorder_gap_ns;
		if (gap == 0)
			gap = m->interval_ns > 0 ? 2 * m->interval_ns
			                         : IMPAIR_DEFAULT_GAP_NS;
		release += (uint64_t)gap;
		v->reordered = true;
		m->stats.reordered++;
	} else if (c->keep_order) {
		if (release < m->last_inorder)
			release = m->last_inorder;
		m->last_inorder = release;
	}

	v->copies = 1;
	v->release_ns[0] = release;
	if (u[5] < c->duplicate) {
		v->copies = 2;
		v->release_ns[1] =
		        release +
		        (uint64_t)llround(u[6] * (double)c->jitter_ns);
		m->stats.duplicated++;
	}
	return v->copies;
}
