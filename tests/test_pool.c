/*
 * Tests for bridge/msg/pool: single-threaded semantics (init validation,
 * exhaustion, alignment, payload isolation, put/return/reclaim, ownership
 * checks) and a closed-loop stress run in which the owner hands nodes to
 * worker threads through rings and the workers return them concurrently.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/msg/msg.h"
#include "bridge/msg/pool.h"
#include "bridge/msg/ring.h"

#if defined(__SANITIZE_THREAD__)
#define RTB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RTB_TSAN 1
#endif
#endif

#ifdef RTB_TSAN
#define STRESS_ROUNDS 100000u
#else
#define STRESS_ROUNDS 1000000u
#endif

static void *alloc_storage(size_t node_size, size_t count)
{
	size_t bytes = pool_storage_size(node_size, count);
	void *p = NULL;

	cr_assert_gt(bytes, 0);
	cr_assert_eq(posix_memalign(&p, alignof(max_align_t), bytes), 0);
	return p;
}

Test(pool, init_rejects_bad_arguments, .timeout = 10)
{
	struct pool p;
	void *storage = alloc_storage(16, 4);

	cr_assert_eq(pool_init(&p, storage, 0, 4), -EINVAL);
	cr_assert_eq(pool_init(&p, storage, 16, 0), -EINVAL);
	cr_assert_eq(pool_init(&p, NULL, 16, 4), -EINVAL);
	cr_assert_eq(pool_init(&p, (char *)storage + 1, 16, 4), -EINVAL);
	cr_assert_eq(pool_init(&p, storage, SIZE_MAX - 8, 4), -EINVAL);
	cr_assert_eq(pool_storage_size(SIZE_MAX / 2, 4), 0);
	cr_assert_eq(pool_init(&p, storage, 16, 4), 0);
	pool_clear(&p);
	free(storage);
}

Test(pool, hands_out_every_node_once_then_null, .timeout = 10)
{
	static const size_t sizes[] = {1, 3, 16, 40, 100};

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t size = sizes[k], count = 13;
		void *storage = alloc_storage(size, count);
		unsigned char *got[13];
		struct pool p;

		cr_assert_eq(pool_init(&p, storage, size, count), 0);
		cr_assert_eq(pool_available(&p), count);
		for (size_t i = 0; i < count; i++) {
			got[i] = pool_get(&p);
			cr_assert_not_null(got[i]);
			cr_assert(pool_owns(&p, got[i]));
			cr_assert_eq((uintptr_t)got[i] % alignof(max_align_t),
			             0, "payload misaligned");
			for (size_t j = 0; j < i; j++)
				cr_assert_neq(got[i], got[j]);
			memset(got[i], (int)i + 1, size);
			cr_assert_eq(pool_available(&p), count - i - 1);
		}
		cr_assert_null(pool_get(&p));
		/* Writing every byte of every payload left the others (and
		 * the hidden link words) intact. */
		for (size_t i = 0; i < count; i++)
			for (size_t b = 0; b < size; b++)
				cr_assert_eq(got[i][b], (unsigned char)(i + 1));
		for (size_t i = 0; i < count; i++)
			pool_put(&p, got[i]);
		cr_assert_eq(pool_available(&p), count);
		pool_clear(&p);
		free(storage);
	}
}

Test(pool, put_makes_node_available_again, .timeout = 10)
{
	void *storage = alloc_storage(32, 2);
	struct pool p;
	void *a, *b;

	cr_assert_eq(pool_init(&p, storage, 32, 2), 0);
	a = pool_get(&p);
	b = pool_get(&p);
	cr_assert_null(pool_get(&p));
	pool_put(&p, a);
	cr_assert_eq(pool_available(&p), 1);
	cr_assert_eq(pool_get(&p), a);
	pool_put(&p, b);
	pool_put(&p, a);
	cr_assert_eq(pool_available(&p), 2);
	free(storage);
}

Test(pool, returned_nodes_are_reclaimed_when_free_list_runs_dry, .timeout = 10)
{
	void *storage = alloc_storage(24, 4);
	struct pool p;
	void *n[4];
	int seen[4] = {0};

	cr_assert_eq(pool_init(&p, storage, 24, 4), 0);
	for (int i = 0; i < 4; i++)
		n[i] = pool_get(&p);
	cr_assert_null(pool_get(&p));
	pool_return(&p, n[2]);
	pool_return(&p, n[0]);
	pool_put(&p, n[3]);
	/* Returned nodes are not counted until reclaimed: a lower bound. */
	cr_assert_eq(pool_available(&p), 1);
	/* The owner's own free list comes first. */
	cr_assert_eq(pool_get(&p), n[3]);
	cr_assert_eq(pool_available(&p), 0);
	/* Then the whole return stack is reclaimed at once. */
	for (int i = 0; i < 2; i++) {
		void *x = pool_get(&p);

		cr_assert(x == n[0] || x == n[2]);
		seen[x == n[0] ? 0 : 2]++;
		if (i == 0)
			cr_assert_eq(pool_available(&p), 1);
	}
	cr_assert_eq(seen[0], 1);
	cr_assert_eq(seen[2], 1);
	cr_assert_null(pool_get(&p));
	free(storage);
}

Test(pool, owns_only_its_own_payload_pointers, .timeout = 10)
{
	void *storage = alloc_storage(40, 3);
	struct pool p;
	unsigned char *a;
	int outside;

	cr_assert_eq(pool_init(&p, storage, 40, 3), 0);
	a = pool_get(&p);
	cr_assert(pool_owns(&p, a));
	cr_assert_not(pool_owns(&p, a + 1));
	cr_assert_not(pool_owns(&p, storage));
	cr_assert_not(pool_owns(&p, &outside));
	cr_assert_not(pool_owns(&p, (unsigned char *)storage +
	                                    pool_storage_size(40, 3) + 16));
	free(storage);
}

/*
 * Closed-loop stress. The owner (this thread) gets a node, marks it held
 * by one worker and sends it through that worker's ring; the worker checks
 * the mark, clears it and returns the node with pool_return. A node handed
 * out twice, or returned while still in use, breaks a mark.
 */
#define WORKERS 3
#define NODES   48
/* Power of two above NODES + 1: a ring can hold every node and a stop. */
#define RING_SLOTS 64

struct token {
	uint32_t holder; /* 0: with the owner; w + 1: with worker w */
	uint64_t serial;
};

struct worker {
	struct ring ring;
	struct msg slots[RING_SLOTS];
	struct pool *pool;
	unsigned id;
	size_t received;
	size_t errors;
	pthread_t thread;
};

enum { CMD_NODE = 1, CMD_STOP = 2 };

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t last = 0;

	for (;;) {
		struct msg m;
		unsigned spins = 0;

		while (!ring_try_pop(&w->ring, &m))
			if (++spins % 64 == 0)
				sched_yield();
		if (m.cmd == CMD_STOP)
			break;
		struct token *t = m.ptr;

		/* The ring is FIFO, so serials from the owner rise. */
		if (t->holder != w->id + 1 || t->serial <= last)
			w->errors++;
		last = t->serial;
		t->holder = 0;
		w->received++;
		pool_return(w->pool, t);
	}
	return NULL;
}

static void send_to(struct worker *w, const struct msg *m)
{
	unsigned spins = 0;

	while (!ring_try_push(&w->ring, m))
		if (++spins % 64 == 0)
			sched_yield();
}

Test(pool_stress, nodes_cycle_through_threads_and_all_come_back, .timeout = 120)
{
	void *storage = alloc_storage(sizeof(struct token), NODES);
	struct worker *w = calloc(WORKERS, sizeof(*w));
	struct pool p;
	size_t empty_gets = 0, received = 0, errors = 0;
	unsigned char seen[NODES] = {0};
	struct token *all[NODES];
	uint64_t rng = 0x9e3779b97f4a7c15u; /* fixed seed: worker choice */

	cr_assert_not_null(w);
	cr_assert_eq(pool_init(&p, storage, sizeof(struct token), NODES), 0);
	/* Mark every node free: take them all, then give them all back. */
	for (size_t i = 0; i < NODES; i++) {
		all[i] = pool_get(&p);
		cr_assert_not_null(all[i]);
		all[i]->holder = 0;
		all[i]->serial = 0;
	}
	for (size_t i = 0; i < NODES; i++)
		pool_put(&p, all[i]);
	for (unsigned i = 0; i < WORKERS; i++) {
		w[i].pool = &p;
		w[i].id = i;
		cr_assert_eq(ring_init(&w[i].ring, w[i].slots,
		                       sizeof(struct msg), RING_SLOTS),
		             0);
		cr_assert_eq(
		        pthread_create(&w[i].thread, NULL, worker_main, &w[i]),
		        0);
	}
	for (uint64_t serial = 1; serial <= STRESS_ROUNDS; serial++) {
		struct token *t;
		unsigned spins = 0;
		unsigned dest;

		while (!(t = pool_get(&p))) {
			empty_gets++;
			if (++spins % 64 == 0)
				sched_yield();
		}
		cr_assert_eq(t->holder, 0, "node handed out while held");
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		dest = (unsigned)(rng % WORKERS);
		t->holder = dest + 1;
		t->serial = serial;
		send_to(&w[dest], &(struct msg){.cmd = CMD_NODE, .ptr = t});
	}
	for (unsigned i = 0; i < WORKERS; i++) {
		send_to(&w[i], &(struct msg){.cmd = CMD_STOP});
		pthread_join(w[i].thread, NULL);
		received += w[i].received;
		errors += w[i].errors;
	}
	cr_assert_eq(errors, 0, "%zu nodes with a wrong holder", errors);
	cr_assert_eq(received, STRESS_ROUNDS);
	/* Every node is back exactly once: NODES distinct gets, then none. */
	for (size_t i = 0; i < NODES; i++) {
		unsigned char *t = pool_get(&p);
		size_t idx;

		cr_assert_not_null(t, "node %zu missing", i);
		idx = (size_t)(t - p.base) / p.stride;
		cr_assert_lt(idx, NODES);
		cr_assert_eq(seen[idx], 0, "node %zu duplicated", idx);
		seen[idx] = 1;
		cr_assert_eq(((struct token *)t)->holder, 0);
	}
	cr_assert_null(pool_get(&p));
	cr_log_info("pool stress: %u rounds, %zu empty gets", STRESS_ROUNDS,
	            empty_gets);
	free(w);
	free(storage);
}
