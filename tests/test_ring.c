/*
 * Tests for bridge/msg/ring: single-threaded semantics (empty, full,
 * capacity, FIFO order across laps, index overflow near SIZE_MAX, odd slot
 * sizes, the two-phase API, init validation) and a two-thread stress run
 * that checks every message arrives once and in order.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/msg/msg.h"
#include "bridge/msg/ring.h"

#if defined(__SANITIZE_THREAD__)
#define RTB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RTB_TSAN 1
#endif
#endif

#ifdef RTB_TSAN
#define STRESS_MESSAGES 200000u
#else
#define STRESS_MESSAGES 4000000u
#endif

/* Fill `len` bytes with a pattern derived from `n`. */
static void pattern(unsigned char *p, size_t len, size_t n)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(n * 31u + i * 7u + 1u);
}

Test(ring, init_rejects_bad_capacity_and_slot_size, .timeout = 10)
{
	struct ring r;
	unsigned char storage[256];

	cr_assert_eq(ring_init(&r, storage, 4, 0), -EINVAL);
	cr_assert_eq(ring_init(&r, storage, 4, 1), -EINVAL);
	cr_assert_eq(ring_init(&r, storage, 4, 3), -EINVAL);
	cr_assert_eq(ring_init(&r, storage, 4, 6), -EINVAL);
	cr_assert_eq(ring_init(&r, storage, 0, 4), -EINVAL);
	cr_assert_eq(ring_init(&r, NULL, 4, 4), -EINVAL);
	cr_assert_eq(ring_init(&r, storage, SIZE_MAX / 2, 4), -EINVAL);
	cr_assert_eq(ring_init(&r, storage, 4, 2), 0);
	cr_assert_eq(ring_init(&r, storage, 4, 64), 0);
	ring_clear(&r);
}

Test(ring, storage_size_is_slots_times_capacity_or_zero_on_overflow,
     .timeout = 10)
{
	cr_assert_eq(ring_storage_size(32, 8), 256);
	cr_assert_eq(ring_storage_size(3, 16), 48);
	cr_assert_eq(ring_storage_size(0, 16), 0);
	cr_assert_eq(ring_storage_size(SIZE_MAX / 2, 4), 0);
}

Test(ring, new_ring_is_empty, .timeout = 10)
{
	struct ring r;
	struct msg storage[4], out;

	cr_assert_eq(ring_init(&r, storage, sizeof(struct msg), 4), 0);
	cr_assert_eq(ring_count(&r), 0);
	cr_assert_eq(ring_capacity(&r), 4);
	cr_assert_null(ring_read_begin(&r));
	cr_assert_not(ring_try_pop(&r, &out));
	ring_clear(&r);
}

Test(ring, holds_exactly_capacity_then_refuses, .timeout = 10)
{
	struct ring r;
	uint64_t storage[8], v;

	cr_assert_eq(ring_init(&r, storage, sizeof(uint64_t), 8), 0);
	for (uint64_t i = 0; i < 8; i++) {
		cr_assert(ring_try_push(&r, &i));
		cr_assert_eq(ring_count(&r), i + 1);
	}
	v = 99;
	cr_assert_not(ring_try_push(&r, &v));
	cr_assert_null(ring_write_begin(&r));
	cr_assert_eq(ring_count(&r), 8);
	/* One pop frees exactly one slot. */
	cr_assert(ring_try_pop(&r, &v));
	cr_assert_eq(v, 0);
	v = 8;
	cr_assert(ring_try_push(&r, &v));
	cr_assert_not(ring_try_push(&r, &v));
	for (uint64_t i = 1; i <= 8; i++) {
		cr_assert(ring_try_pop(&r, &v));
		cr_assert_eq(v, i);
	}
	cr_assert_not(ring_try_pop(&r, &v));
	cr_assert_eq(ring_count(&r), 0);
}

/* Push and pop `laps` times around a ring of `slot` byte slots, with a
 * varying fill level, checking contents and order. */
static void run_laps(size_t slot, size_t capacity, size_t start, size_t laps)
{
	struct ring r;
	unsigned char *storage = malloc(ring_storage_size(slot, capacity));
	unsigned char *in = malloc(slot), *out = malloc(slot);
	size_t pushed = 0, popped = 0;

	cr_assert(storage && in && out);
	cr_assert_eq(ring_init_at(&r, storage, slot, capacity, start), 0);
	for (size_t round = 0; popped < laps * capacity; round++) {
		/* Fill to a level that cycles through 1..capacity. */
		size_t want = 1 + round % capacity;

		while (ring_count(&r) < want) {
			pattern(in, slot, pushed);
			cr_assert(ring_try_push(&r, in), "push %zu", pushed);
			pushed++;
		}
		if (want == capacity)
			cr_assert_not(ring_try_push(&r, in));
		while (ring_count(&r) > round % 3) {
			cr_assert(ring_try_pop(&r, out));
			pattern(in, slot, popped);
			cr_assert_eq(memcmp(in, out, slot), 0,
			             "slot %zu msg %zu", slot, popped);
			popped++;
		}
	}
	while (ring_try_pop(&r, out)) {
		pattern(in, slot, popped);
		cr_assert_eq(memcmp(in, out, slot), 0);
		popped++;
	}
	cr_assert_eq(pushed, popped);
	cr_assert_eq(ring_count(&r), 0);
	ring_clear(&r);
	free(storage);
	free(in);
	free(out);
}

Test(ring, keeps_fifo_order_across_laps_for_odd_slot_sizes, .timeout = 20)
{
	static const size_t sizes[] = {1, 3, 8, 32, 40, 100};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		run_laps(sizes[i], 2, 0, 50);
		run_laps(sizes[i], 16, 0, 50);
	}
}

Test(ring, indices_wrap_past_size_max, .timeout = 20)
{
	/* Start a few slots before the index overflows, so that full,
	 * empty and count are all evaluated across the wrap. */
	for (size_t back = 0; back <= 17; back++) {
		run_laps(3, 16, SIZE_MAX - back, 20);
		run_laps(40, 4, SIZE_MAX - back, 20);
	}
}

Test(ring, full_and_empty_are_exact_at_the_overflow_point, .timeout = 10)
{
	struct ring r;
	uint32_t storage[4], v;

	cr_assert_eq(ring_init_at(&r, storage, sizeof(v), 4, SIZE_MAX - 1), 0);
	for (v = 0; v < 4; v++)
		cr_assert(ring_try_push(&r, &v));
	/* tail has wrapped to 2, head is still SIZE_MAX - 1. */
	cr_assert_eq(atomic_load(&r.tail), 2);
	cr_assert_eq(ring_count(&r), 4);
	cr_assert_not(ring_try_push(&r, &v));
	for (uint32_t i = 0; i < 4; i++) {
		cr_assert(ring_try_pop(&r, &v));
		cr_assert_eq(v, i);
	}
	cr_assert_eq(atomic_load(&r.head), 2);
	cr_assert_not(ring_try_pop(&r, &v));
	cr_assert_eq(ring_count(&r), 0);
}

Test(ring, two_phase_write_is_invisible_until_commit, .timeout = 10)
{
	struct ring r;
	struct msg storage[4], *w, *w2, *rd;

	cr_assert_eq(ring_init(&r, storage, sizeof(struct msg), 4), 0);
	w = ring_write_begin(&r);
	cr_assert_not_null(w);
	/* Begin again without commit: the same slot. */
	w2 = ring_write_begin(&r);
	cr_assert_eq(w, w2);
	w->cmd = 7;
	w->u64 = 1234;
	cr_assert_null(ring_read_begin(&r));
	cr_assert_eq(ring_count(&r), 0);
	ring_write_commit(&r);
	cr_assert_eq(ring_count(&r), 1);

	rd = ring_read_begin(&r);
	cr_assert_not_null(rd);
	cr_assert_eq(rd->cmd, 7);
	cr_assert_eq(rd->u64, 1234);
	/* Reading without commit does not consume. */
	cr_assert_eq(ring_read_begin(&r), rd);
	cr_assert_eq(ring_count(&r), 1);
	ring_read_commit(&r);
	cr_assert_eq(ring_count(&r), 0);
	cr_assert_null(ring_read_begin(&r));
	/* The next write gets the next slot, in place in the storage. */
	w = ring_write_begin(&r);
	cr_assert_eq(w, &storage[1]);
}

Test(ring, two_phase_write_begin_is_null_when_full, .timeout = 10)
{
	struct ring r;
	struct msg storage[2];

	cr_assert_eq(ring_init(&r, storage, sizeof(struct msg), 2), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_not_null(ring_write_begin(&r));
		ring_write_commit(&r);
	}
	cr_assert_null(ring_write_begin(&r));
	cr_assert_not_null(ring_read_begin(&r));
	ring_read_commit(&r);
	cr_assert_eq(ring_write_begin(&r), &storage[0]);
}

/* Two-thread stress. The producer sends the sequence 0..n-1 in u64 with
 * a checksum in arg; the consumer checks order and contents. */
struct stress {
	struct ring ring;
	size_t n;
	bool two_phase;
	size_t errors;
};

static void *stress_producer(void *arg)
{
	struct stress *s = arg;

	for (size_t i = 0; i < s->n; i++) {
		struct msg m = {
		        .cmd = 1,
		        .arg = (int32_t)(i * 2654435761u),
		        .u64 = i,
		        .ptr = (void *)(uintptr_t)i,
		};
		unsigned spins = 0;

		if (s->two_phase) {
			struct msg *slot;

			while (!(slot = ring_write_begin(&s->ring)))
				if (++spins % 64 == 0)
					sched_yield();
			*slot = m;
			ring_write_commit(&s->ring);
		} else {
			while (!ring_try_push(&s->ring, &m))
				if (++spins % 64 == 0)
					sched_yield();
		}
	}
	return NULL;
}

static void *stress_consumer(void *arg)
{
	struct stress *s = arg;

	for (size_t i = 0; i < s->n; i++) {
		struct msg m;
		unsigned spins = 0;

		if (s->two_phase) {
			struct msg *slot;

			while (!(slot = ring_read_begin(&s->ring)))
				if (++spins % 64 == 0)
					sched_yield();
			m = *slot;
			ring_read_commit(&s->ring);
		} else {
			while (!ring_try_pop(&s->ring, &m))
				if (++spins % 64 == 0)
					sched_yield();
		}
		if (m.u64 != i || m.arg != (int32_t)(i * 2654435761u) ||
		    m.ptr != (void *)(uintptr_t)i || m.cmd != 1)
			s->errors++;
	}
	return NULL;
}

static void run_stress(size_t capacity, size_t start, size_t n, bool two_phase)
{
	struct stress s = {.n = n, .two_phase = two_phase};
	struct msg *storage = calloc(capacity, sizeof(struct msg));
	pthread_t prod, cons;

	cr_assert_not_null(storage);
	cr_assert_eq(ring_init_at(&s.ring, storage, sizeof(struct msg),
	                          capacity, start),
	             0);
	cr_assert_eq(pthread_create(&cons, NULL, stress_consumer, &s), 0);
	cr_assert_eq(pthread_create(&prod, NULL, stress_producer, &s), 0);
	pthread_join(prod, NULL);
	pthread_join(cons, NULL);
	cr_assert_eq(s.errors, 0, "%zu messages out of order or corrupt",
	             s.errors);
	cr_assert_eq(ring_count(&s.ring), 0);
	free(storage);
}

Test(ring_stress, spsc_delivers_millions_in_order, .timeout = 120)
{
	run_stress(256, 0, STRESS_MESSAGES, false);
}

Test(ring_stress, spsc_two_phase_in_order_through_index_overflow,
     .timeout = 120)
{
	/* Start so that the indices overflow early in the run. */
	run_stress(64, SIZE_MAX - 1000, STRESS_MESSAGES / 4, true);
}

Test(ring_stress, spsc_tiny_ring_alternates_full_and_empty, .timeout = 120)
{
	run_stress(2, 0, STRESS_MESSAGES / 8, false);
}
