/*
 * pace: the absolute send schedule of a paced sender, as pure arithmetic
 *
 * Slot k is due at t0 + ceil(k * period / rate) seconds, computed exactly
 * in integers, so the schedule never drifts however long it runs (a 441
 * frame packet at 44.1 kHz is exactly 10 ms; 128 frames at 44.1 kHz is a
 * repeating fraction and still lands on the exact ns, rounded up, for
 * every k). Whoever wakes the sender asks for the slots due now; when more
 * than `max_burst` are due (the sender was stalled), the schedule is
 * resynchronised: the older slots are skipped and counted, only the newest
 * due one is handed out, and the grid keeps its phase. No clock is read
 * here: the caller passes `now` (CLOCK_MONOTONIC ns in the real sender, a
 * simulated clock in tests). One owner, no locking.
 */
#ifndef RTB_PACE_H
#define RTB_PACE_H

#include <stdbool.h>
#include <stdint.h>

struct pace {
	uint64_t t0_ns;     /* deadline of slot 0 */
	uint64_t rate;      /* ticks per second (sample rate, or 1e9 for ns) */
	uint64_t period;    /* ticks per slot */
	uint64_t next;      /* next slot to hand out */
	uint32_t max_burst; /* most due slots handed out without resync */
	uint64_t sent;      /* slots handed out */
	uint64_t skipped;   /* slots dropped by resynchronisation */
	uint64_t resyncs;   /* times the schedule was resynchronised */
};

/*
 * Pre: period >= 1, 1 <= rate <= 1e9 (so one slot is at least a tick of
 *      1 ns or longer), max_burst >= 1
 * Return: 0, or -EINVAL
 */
int pace_init(struct pace *p, uint64_t t0_ns, uint64_t period, uint64_t rate,
              uint32_t max_burst);

/*
 * Deadline of slot `slot` in ns on the caller's clock (exact, rounded up).
 *
 * Context: the owner, pure, real-time safe
 */
uint64_t pace_deadline(const struct pace *p, uint64_t slot);

/*
 * Number of slots whose deadline is <= now (slot 0 included), i.e. the
 * index of the first slot still in the future.
 *
 * Context: the owner, pure, real-time safe
 */
uint64_t pace_slots_until(const struct pace *p, uint64_t now_ns);

/*
 * Hand out the next due slot. When more than max_burst slots are due,
 * first skip all but the newest (counted in `skipped`, one `resyncs`).
 *
 * Post: *slot is the slot to send now and p->next is past it
 * Context: the owner, real-time safe
 * Return: true with *slot set, or false when nothing is due before now
 */
bool pace_next(struct pace *p, uint64_t now_ns, uint64_t *slot);

/* Deadline of the next slot pace_next will hand out. Context: the owner. */
uint64_t pace_next_deadline(const struct pace *p);

#endif
