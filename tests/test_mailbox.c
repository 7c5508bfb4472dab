/*
 * Tests for bridge/msg/mailbox: single-threaded semantics (init validation,
 * the "made it non-empty" result, full, FIFO across laps, wait timeouts)
 * and multi-threaded runs: four producers with nothing lost, duplicated or
 * reordered per producer; a sleeping consumer is woken; and a lost-wake-up
 * hunt in which every message must arrive without the consumer's generous
 * timeout ever expiring.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "bridge/msg/mailbox.h"
#include "bridge/msg/msg.h"

#if defined(__SANITIZE_THREAD__)
#define RTB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RTB_TSAN 1
#endif
#endif

#ifdef RTB_TSAN
#define PER_PRODUCER 50000u
#define HANDOFFS     2000u
#else
#define PER_PRODUCER 500000u
#define HANDOFFS     20000u
#endif

#define PRODUCERS 4
#define MS        1000000LL

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(long ns)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = ns};

	nanosleep(&ts, NULL);
}

/* A mailbox with its storage from the heap. */
static struct mailbox *mailbox_new(size_t capacity, void **storage)
{
	struct mailbox *m = aligned_alloc(RING_CACHE_LINE, sizeof(*m));

	cr_assert_not_null(m);
	*storage = aligned_alloc(
	        RING_CACHE_LINE,
	        (mailbox_storage_size(capacity) + RING_CACHE_LINE - 1) /
	                RING_CACHE_LINE * RING_CACHE_LINE);
	cr_assert_not_null(*storage);
	cr_assert_eq(mailbox_init(m, *storage, capacity), 0);
	return m;
}

static void mailbox_free(struct mailbox *m, void *storage)
{
	mailbox_clear(m);
	free(storage);
	free(m);
}

Test(mailbox, init_rejects_bad_capacity, .timeout = 10)
{
	struct mailbox m;
	alignas(max_align_t) unsigned char storage[1024];

	cr_assert_eq(mailbox_init(&m, storage, 0), -EINVAL);
	cr_assert_eq(mailbox_init(&m, storage, 1), -EINVAL);
	cr_assert_eq(mailbox_init(&m, storage, 3), -EINVAL);
	cr_assert_eq(mailbox_init(&m, storage, 12), -EINVAL);
	cr_assert_eq(mailbox_init(&m, NULL, 4), -EINVAL);
	cr_assert_eq(mailbox_init(&m, storage + 1, 4), -EINVAL);
	cr_assert_leq(mailbox_storage_size(4), sizeof(storage));
	cr_assert_eq(mailbox_init(&m, storage, 4), 0);
	mailbox_clear(&m);
}

Test(mailbox, first_push_reports_non_empty_and_later_ones_do_not, .timeout = 10)
{
	void *st;
	struct mailbox *m = mailbox_new(4, &st);
	struct msg out;

	cr_assert_not(mailbox_try_pop(m, &out));
	cr_assert_eq(mailbox_push(m, &(struct msg){.cmd = 1}), 1);
	cr_assert_eq(mailbox_push(m, &(struct msg){.cmd = 2}), 0);
	cr_assert(mailbox_try_pop(m, &out));
	cr_assert_eq(out.cmd, 1);
	/* Still non-empty: no new wake needed. */
	cr_assert_eq(mailbox_push(m, &(struct msg){.cmd = 3}), 0);
	cr_assert(mailbox_try_pop(m, &out));
	cr_assert(mailbox_try_pop(m, &out));
	cr_assert_eq(out.cmd, 3);
	cr_assert_not(mailbox_try_pop(m, &out));
	/* Empty again: the next push is the first again. */
	cr_assert_eq(mailbox_push(m, &(struct msg){.cmd = 4}), 1);
	mailbox_free(m, st);
}

Test(mailbox, refuses_push_when_full_and_keeps_contents, .timeout = 10)
{
	void *st;
	struct mailbox *m = mailbox_new(8, &st);
	struct msg out;

	for (uint32_t i = 0; i < 8; i++)
		cr_assert_geq(mailbox_push(m, &(struct msg){.cmd = i + 1}), 0);
	cr_assert_eq(mailbox_push(m, &(struct msg){.cmd = 99}), -EAGAIN);
	cr_assert(mailbox_try_pop(m, &out));
	cr_assert_eq(out.cmd, 1);
	cr_assert_eq(mailbox_push(m, &(struct msg){.cmd = 9}), 0);
	cr_assert_eq(mailbox_push(m, &(struct msg){.cmd = 99}), -EAGAIN);
	for (uint32_t i = 2; i <= 9; i++) {
		cr_assert(mailbox_try_pop(m, &out));
		cr_assert_eq(out.cmd, i);
	}
	cr_assert_not(mailbox_try_pop(m, &out));
	mailbox_free(m, st);
}

Test(mailbox, keeps_fifo_order_and_all_fields_across_laps, .timeout = 10)
{
	void *st;
	struct mailbox *m = mailbox_new(4, &st);
	int x;
	uint64_t pushed = 0, popped = 0;

	for (unsigned round = 0; round < 200; round++) {
		unsigned fill = 1 + round % 4;

		for (unsigned i = 0; i < fill; i++, pushed++) {
			struct msg in = {
			        .cmd = 5,
			        .arg = -(int32_t)pushed,
			        .u64 = pushed << 20,
			        .ptr = &x,
			        .reply = m,
			};
			cr_assert_geq(mailbox_push(m, &in), 0);
		}
		for (struct msg out; mailbox_try_pop(m, &out); popped++) {
			cr_assert_eq(out.cmd, 5);
			cr_assert_eq(out.arg, -(int32_t)popped);
			cr_assert_eq(out.u64, popped << 20);
			cr_assert_eq(out.ptr, &x);
			cr_assert_eq(out.reply, m);
		}
	}
	cr_assert_eq(pushed, popped);
	mailbox_free(m, st);
}

Test(mailbox, wait_returns_at_once_when_a_message_is_waiting, .timeout = 10)
{
	void *st;
	struct mailbox *m = mailbox_new(4, &st);

	cr_assert_eq(mailbox_push(m, &(struct msg){.cmd = 1}), 1);
	cr_assert(mailbox_wait(m, 0));
	cr_assert(mailbox_wait(m, -1));
	mailbox_free(m, st);
}

Test(mailbox, wait_times_out_when_nothing_comes, .timeout = 10)
{
	void *st;
	struct mailbox *m = mailbox_new(4, &st);
	int64_t t0;

	cr_assert_not(mailbox_wait(m, 0));
	t0 = now_ns();
	cr_assert_not(mailbox_wait(m, 30 * MS));
	/* Not before the timeout (no upper bound: the machine is shared). */
	cr_assert_geq(now_ns() - t0, 30 * MS);
	cr_assert_eq(atomic_load(&m->sleeping), 0);
	/* A wake with nobody asleep changes nothing. */
	mailbox_wake(m);
	cr_assert_eq(atomic_load(&m->sleeping), 0);
	mailbox_free(m, st);
}

/* A consumer thread that waits once, with a long timeout. */
struct sleeper {
	struct mailbox *m;
	bool woke;
	int64_t slept_ns;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	int64_t t0 = now_ns();

	s->woke = mailbox_wait(s->m, 10000 * MS);
	s->slept_ns = now_ns() - t0;
	return NULL;
}

Test(mailbox_threads, sleeping_consumer_is_woken_by_first_push, .timeout = 30)
{
	void *st;
	struct sleeper s = {.m = mailbox_new(4, &st)};
	pthread_t t;
	struct msg out;
	int tries = 0;

	cr_assert_eq(pthread_create(&t, NULL, sleeper_main, &s), 0);
	/* Wait (bounded) until the consumer has announced its sleep. */
	while (atomic_load(&s.m->sleeping) == 0 && tries++ < 5000)
		sleep_ns(1 * MS);
	cr_assert_eq(atomic_load(&s.m->sleeping), 1, "consumer never slept");
	sleep_ns(20 * MS);
	cr_assert_eq(mailbox_push(s.m, &(struct msg){.cmd = 42}), 1);
	mailbox_wake(s.m);
	pthread_join(t, NULL);
	cr_assert(s.woke, "consumer timed out instead of being woken");
	cr_assert_lt(s.slept_ns, 10000 * MS);
	cr_assert(mailbox_try_pop(s.m, &out));
	cr_assert_eq(out.cmd, 42);
	mailbox_free(s.m, st);
}

/* Producers tag each message with their id (arg) and a sequence (u64). */
struct fanin {
	struct mailbox *m;
	unsigned id;
	uint32_t count;
	unsigned pause_mask; /* pause pattern for the hand-off test */
	size_t wakes;
	pthread_t thread;
};

static void *producer_main(void *arg)
{
	struct fanin *p = arg;
	uint64_t rng = 0x2545f4914f6cdd1dULL * (p->id + 1); /* seeded */

	for (uint32_t i = 0; i < p->count; i++) {
		struct msg m = {.cmd = 1, .arg = (int32_t)p->id, .u64 = i};
		unsigned spins = 0;
		int rc;

		while ((rc = mailbox_push(p->m, &m)) == -EAGAIN)
			if (++spins % 16 == 0)
				sched_yield();
		if (rc == 1) {
			p->wakes++;
			mailbox_wake(p->m);
		}
		if (p->pause_mask) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			switch (rng & p->pause_mask) {
			case 0:
				sleep_ns(20000);
				break;
			case 1:
				sched_yield();
				break;
			default:
				break;
			}
		}
	}
	return NULL;
}

/* Run `n` producers of `count` messages each against one consumer that
 * sleeps in mailbox_wait whenever it runs dry; return the number of
 * waits that timed out. */
static size_t run_fanin(unsigned n, uint32_t count, size_t capacity,
                        unsigned pause_mask)
{
	void *st;
	struct mailbox *m = mailbox_new(capacity, &st);
	struct fanin p[PRODUCERS];
	uint64_t next[PRODUCERS] = {0};
	size_t total = 0, errors = 0, timeouts = 0, wakes = 0;

	cr_assert_leq(n, PRODUCERS);
	for (unsigned i = 0; i < n; i++) {
		p[i] = (struct fanin){.m = m,
		                      .id = i,
		                      .count = count,
		                      .pause_mask = pause_mask};
		cr_assert_eq(pthread_create(&p[i].thread, NULL, producer_main,
		                            &p[i]),
		             0);
	}
	while (total < (size_t)n * count) {
		struct msg out;

		if (!mailbox_try_pop(m, &out)) {
			/* Generous: any expiry here is a lost wake-up. */
			if (!mailbox_wait(m, 2000 * MS))
				timeouts++;
			continue;
		}
		total++;
		if (out.cmd != 1 || out.arg < 0 || out.arg >= (int32_t)n ||
		    out.u64 != next[out.arg]) {
			errors++;
			continue;
		}
		next[out.arg]++;
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(p[i].thread, NULL);
		wakes += p[i].wakes;
		cr_assert_eq(next[i], count, "producer %u: %llu of %u", i,
		             (unsigned long long)next[i], count);
	}
	cr_assert_eq(errors, 0, "%zu messages lost, duplicated or reordered",
	             errors);
	cr_assert_not(mailbox_try_pop(m, &(struct msg){0}));
	cr_log_info("fan-in %u x %u: %zu first-push wakes, %zu timeouts", n,
	            count, wakes, timeouts);
	mailbox_free(m, st);
	return timeouts;
}

Test(mailbox_threads, four_producers_lose_nothing_and_keep_order,
     .timeout = 120)
{
	cr_assert_eq(run_fanin(PRODUCERS, PER_PRODUCER, 256, 0), 0);
}

Test(mailbox_threads, four_producers_on_a_tiny_mailbox_keep_order,
     .timeout = 120)
{
	cr_assert_eq(run_fanin(PRODUCERS, PER_PRODUCER / 10, 2, 0), 0);
}

Test(mailbox_threads, no_wake_up_is_lost_when_consumer_sleeps_often,
     .timeout = 120)
{
	/* Sparse traffic: the consumer empties the mailbox and goes to
	 * sleep between most messages, racing each first push. */
	cr_assert_eq(run_fanin(1, HANDOFFS, 16, 3), 0);
	cr_assert_eq(run_fanin(PRODUCERS, HANDOFFS / 4, 16, 3), 0);
}
