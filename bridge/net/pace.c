/*
 * pace: exact slot deadlines and resynchronisation (see pace.h)
 *
 * All products are split by whole seconds so that nothing overflows 64
 * bits for any realistic run: a slot index times a period stays far below
 * 2^64 ticks (at 384 kHz that is 1.5 million years), and the remainder
 * times 1e9 is below rate * 1e9 <= 1e18.
 */
#include "bridge/net/pace.h"

#include <errno.h>

#define NS_PER_S 1000000000ull

int pace_init(struct pace *p, uint64_t t0_ns, uint64_t period, uint64_t rate,
              uint32_t max_burst)
{
	if (period == 0 || rate == 0 || rate > NS_PER_S || max_burst == 0)
		return -EINVAL;
	p->t0_ns = t0_ns;
	p->rate = rate;
	p->period = period;
	p->next = 0;
	p->max_burst = max_burst;
	p->sent = 0;
	p->skipped = 0;
	p->resyncs = 0;
	return 0;
}

uint64_t pace_deadline(const struct pace *p, uint64_t slot)
{
	uint64_t ticks = slot * p->period;
	uint64_t secs = ticks / p->rate;
	uint64_t rem = ticks % p->rate;

	/* ceil(rem * 1e9 / rate): the first ns at or after the exact time. */
	return p->t0_ns + secs * NS_PER_S +
	       (rem * NS_PER_S + p->rate - 1) / p->rate;
}

uint64_t pace_slots_until(const struct pace *p, uint64_t now_ns)
{
	uint64_t e, ticks;

	if (now_ns < p->t0_ns)
		return 0;
	e = now_ns - p->t0_ns;
	/*
	 * Slot k is due iff ceil(k*period*1e9/rate) <= e iff
	 * k*period <= floor(e*rate/1e9); split e by seconds to stay exact.
	 */
	ticks = (e / NS_PER_S) * p->rate +
	        ((e % NS_PER_S) * p->rate) / NS_PER_S;
	return ticks / p->period + 1;
}

bool pace_next(struct pace *p, uint64_t now_ns, uint64_t *slot)
{
	uint64_t due = pace_slots_until(p, now_ns);
	uint64_t backlog;

	if (due <= p->next)
		return false;
	backlog = due - p->next;
	if (backlog > p->max_burst) {
		/* Stalled: sending the backlog would be a burst. Keep the grid,
		 * drop the stale slots, send the newest one now. */
		p->skipped += backlog - 1;
		p->resyncs++;
		p->next = due - 1;
	}
	*slot = p->next++;
	p->sent++;
	return true;
}

uint64_t pace_next_deadline(const struct pace *p)
{
	return pace_deadline(p, p->next);
}
