/*
 * impair: the impairment model of the UDP relay (pure: no I/O, no clock)
 *
 * Given a seeded generator and the arrival time of each packet, decide
 * whether the packet is dropped, duplicated or held back, and when each
 * copy is released. Times are nanoseconds on any monotonic timeline (the
 * relay uses uv_hrtime, the tests a simulated clock). The same seed and the
 * same sequence of arrival times always give exactly the same decisions.
 *
 * Every packet consumes exactly IMPAIR_DRAWS draws of the generator,
 * whatever the configuration, so the loss pattern of a seed does not
 * change when delay, jitter, reordering or duplication are turned on.
 *
 * The model, per packet i arriving at a_i (t0 = a_0):
 *   loss      dropped when an independent draw < loss, or when the
 *             Gilbert-Elliott chain (if on) loses it: in state GOOD the
 *             packet is lost with probability ge_loss_good, in BAD with
 *             ge_loss_bad; after each packet the chain moves GOOD->BAD
 *             with probability ge_p_gb and BAD->GOOD with ge_p_bg (so a
 *             stay in BAD lasts 1/ge_p_bg packets on average).
 *   skew      s_i = t0 + (a_i - t0) * (1 + skew_ppm * 1e-6): the relayed
 *             timeline runs slower (ppm > 0) or faster (ppm < 0). A
 *             release before the arrival cannot happen in a relay (it
 *             sends at once), so a negative skew needs a delay of at least
 *             |ppm| * 1e-6 times the run length to show in full.
 *   delay     r_i = s_i + max(0, delay + j_i), j_i uniform in
 *             [-jitter, +jitter]; with delay >= jitter the mean extra delay
 *             is exactly `delay`. Jitter may reorder packets unless
 *             keep_order is set, in which case r_i = max(r_i, r_{i-1}) over
 *             the packets that are not deliberately reordered.
 *   reorder   with probability `reorder` a packet is held back by an extra
 *             reorder_gap_ns (0 = twice the mean packet interval, measured
 *             as a moving average of inter-arrival times; 20 ms before the
 *             second packet), so that later packets overtake it.
 *   duplicate with probability `duplicate` a second copy is released at
 *             r_i + u * jitter, u uniform in [0, 1) (same time without
 *             jitter; the original always goes first).
 * Probabilities are fractions in [0, 1]; the relay's command line takes
 * percentages and divides by 100.
 *
 * Context: one owner at a time (the relay's loop thread); not thread-safe.
 */
#ifndef RTB_IMPAIR_H
#define RTB_IMPAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "tools/relay/prng.h"

/* Generator draws consumed per packet, whatever the configuration. */
#define IMPAIR_DRAWS 7
/* Reorder gap used before the packet interval can be measured (ns). */
#define IMPAIR_DEFAULT_GAP_NS 20000000LL
/* Upper bound of every time parameter: one hour (ns). */
#define IMPAIR_MAX_TIME_NS 3600000000000LL
/* Bound of |skew_ppm|: 10 %. */
#define IMPAIR_MAX_SKEW_PPM 100000.0

struct impair_config {
	double loss;            /* independent loss probability */
	bool burst;             /* Gilbert-Elliott chain on */
	double ge_p_gb;         /* per packet, GOOD -> BAD */
	double ge_p_bg;         /* per packet, BAD -> GOOD */
	double ge_loss_good;    /* loss probability in GOOD (default 0) */
	double ge_loss_bad;     /* loss probability in BAD (default 1) */
	int64_t delay_ns;       /* mean extra delay */
	int64_t jitter_ns;      /* half-width of the uniform jitter */
	bool keep_order;        /* jitter never reorders */
	double reorder;         /* probability of holding a packet back */
	int64_t reorder_gap_ns; /* extra hold; 0 = twice the packet interval */
	double duplicate;       /* probability of a second copy */
	double skew_ppm;        /* timeline stretch, parts per million */
};

struct impair_stats {
	uint64_t packets;     /* packets decided */
	uint64_t dropped;     /* decided lost */
	uint64_t burst_drops; /* of which lost in the BAD state */
	uint64_t duplicated;  /* extra copies made */
	uint64_t reordered;   /* forwarded packets held back by the gap */
};

/* At most two copies of a packet are released. */
struct impair_verdict {
	int copies;             /* 0 = dropped, 1, or 2 = duplicated */
	bool reordered;         /* held back by the reorder gap */
	uint64_t release_ns[2]; /* release time of each copy, [0] first */
};

struct impair {
	struct impair_config cfg;
	struct prng rng;
	uint64_t seed;
	bool ge_bad;           /* Gilbert-Elliott state */
	bool started;          /* t0 and prev_arrival are valid */
	uint64_t t0;           /* first arrival (ns) */
	uint64_t prev_arrival; /* previous arrival (ns) */
	int64_t interval_ns; /* moving mean of inter-arrival times, 0 = none */
	uint64_t last_inorder; /* latest in-order release (keep_order) */
	struct impair_stats stats;
};

/*
 * Fill a configuration that impairs nothing (ge_loss_bad = 1 so that only
 * the transition probabilities need setting for a classic burst model).
 */
void impair_config_default(struct impair_config *c);

/*
 * Return: 0 when every field is in range, or -EINVAL (probabilities outside
 *         [0, 1], negative or over-an-hour times, |skew| over 10 %, or a
 *         burst model with ge_p_bg = 0 and ge_p_gb > 0, which never ends).
 */
int impair_config_check(const struct impair_config *c);

/*
 * Pre: c passes impair_config_check.
 * Return: 0, or -EINVAL when c does not pass impair_config_check.
 * Post: the model starts in the GOOD state with its generator seeded.
 */
int impair_init(struct impair *m, const struct impair_config *c, uint64_t seed);

/* Nothing to release. */
void impair_clear(struct impair *m);

/*
 * Decide the fate of the next packet.
 *
 * Pre: arrival_ns is not earlier than the previous call's.
 * Post: v is filled; m->stats counts the decision.
 * Return: v->copies.
 */
int impair_decide(struct impair *m, uint64_t arrival_ns,
                  struct impair_verdict *v);

#endif
