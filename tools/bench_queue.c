/*
 * bench_queue: compare our SPSC ring with Concurrency Kit's ck_ring and a
 * mutex + condition variable bounded queue, between two threads.
 *
 * For each queue and each of several repeats: throughput (messages/s, one
 * producer streaming to one consumer), one-way latency (the producer puts a
 * CLOCK_MONOTONIC timestamp in each message, sent every few microseconds so
 * that the queue is empty; the consumer spins and subtracts) and round-trip
 * latency (ping-pong over two queues). Figures are the median over repeats
 * of each repeat's rate, median and 99th percentile.
 *
 * Fairness: every queue carries the same pointer-sized payload (ck_ring
 * stores pointers), has 1024 slots, and is polled the same way; the mutex
 * queue blocks on its condition variables as such a queue would. Our ring
 * is also measured with the 32-byte struct msg. Threads are pinned to two
 * different CPUs when the affinity mask allows it.
 *
 *   bench_queue [messages [repeats]]   defaults: 4000000 5
 */
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ck_ring.h>

#include "bridge/msg/msg.h"
#include "bridge/msg/ring.h"
#include "tools/benchutil.h"

#define CAP         1024
#define LAT_SAMPLES 20000
#define LAT_GAP_NS  4000 /* spacing of one-way latency messages */
#define MAX_REPEATS 21

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* The queues under test, each pair of directions in one struct. */
struct mutexq {
	pthread_mutex_t mu;
	pthread_cond_t nonempty, nonfull;
	uintptr_t buf[CAP];
	size_t head, tail; /* free-running, under mu */
};

struct queue {
	struct ring ring;
	alignas(RING_CACHE_LINE) uintptr_t ring_ptr_slots[CAP];
	alignas(RING_CACHE_LINE) struct msg ring_msg_slots[CAP];
	alignas(RING_CACHE_LINE) struct ck_ring ck;
	alignas(RING_CACHE_LINE) struct ck_ring_buffer ck_buf[CAP];
	struct mutexq mq;
};

static void mutexq_init(struct mutexq *q)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->nonempty, NULL);
	pthread_cond_init(&q->nonfull, NULL);
	q->head = q->tail = 0;
}

static void mutexq_clear(struct mutexq *q)
{
	pthread_cond_destroy(&q->nonfull);
	pthread_cond_destroy(&q->nonempty);
	pthread_mutex_destroy(&q->mu);
}

static bool mutexq_push(struct mutexq *q, uintptr_t v)
{
	pthread_mutex_lock(&q->mu);
	while (q->tail - q->head == CAP)
		pthread_cond_wait(&q->nonfull, &q->mu);
	q->buf[q->tail++ % CAP] = v;
	pthread_cond_signal(&q->nonempty);
	pthread_mutex_unlock(&q->mu);
	return true;
}

static bool mutexq_pop(struct mutexq *q, uintptr_t *v)
{
	pthread_mutex_lock(&q->mu);
	while (q->tail == q->head)
		pthread_cond_wait(&q->nonempty, &q->mu);
	*v = q->buf[q->head++ % CAP];
	pthread_cond_signal(&q->nonfull);
	pthread_mutex_unlock(&q->mu);
	return true;
}

/* Push/pop of one pointer-sized value for each kind of queue. Our ring
 * moves pointers through its two-phase API, typed, as ck_ring does. */
static inline bool rp_push(struct queue *q, uintptr_t v)
{
	uintptr_t *slot = ring_write_begin(&q->ring);

	if (!slot)
		return false;
	*slot = v;
	ring_write_commit(&q->ring);
	return true;
}
static inline bool rp_pop(struct queue *q, uintptr_t *v)
{
	const uintptr_t *slot = ring_read_begin(&q->ring);

	if (!slot)
		return false;
	*v = *slot;
	ring_read_commit(&q->ring);
	return true;
}
static inline bool rm_push(struct queue *q, uintptr_t v)
{
	struct msg m = {.cmd = 1, .u64 = v};

	return ring_try_push(&q->ring, &m);
}
static inline bool rm_pop(struct queue *q, uintptr_t *v)
{
	struct msg m;

	if (!ring_try_pop(&q->ring, &m))
		return false;
	*v = (uintptr_t)m.u64;
	return true;
}
static inline bool ck_push(struct queue *q, uintptr_t v)
{
	return ck_ring_enqueue_spsc(&q->ck, q->ck_buf, (void *)v);
}
static inline bool ck_pop(struct queue *q, uintptr_t *v)
{
	void *p;

	if (!ck_ring_dequeue_spsc(&q->ck, q->ck_buf, &p))
		return false;
	*v = (uintptr_t)p;
	return true;
}
static inline bool mx_push(struct queue *q, uintptr_t v)
{
	return mutexq_push(&q->mq, v);
}
static inline bool mx_pop(struct queue *q, uintptr_t *v)
{
	return mutexq_pop(&q->mq, v);
}

enum mode { THROUGHPUT, ONEWAY, ROUNDTRIP };

/* One run between two threads: side 0 produces (and receives echoes),
 * side 1 consumes (and echoes). */
struct run {
	struct queue *fwd, *back;
	enum mode mode;
	size_t n;
	atomic_int ready;
	uint64_t t0, t1;   /* throughput: start and end, ns */
	uint64_t *lat;     /* latency samples, ns */
	uint64_t checksum; /* consumer's, to verify delivery */
	int cpu[2];
};

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void start_line(struct run *r)
{
	atomic_fetch_add_explicit(&r->ready, 1, memory_order_acq_rel);
	while (atomic_load_explicit(&r->ready, memory_order_acquire) < 2)
		cpu_relax();
}

#define PUSH_SPIN(push, q, v)                                                  \
	do {                                                                   \
		while (!push((q), (v)))                                        \
			cpu_relax();                                           \
	} while (0)
#define POP_SPIN(pop, q, v)                                                    \
	do {                                                                   \
		while (!pop((q), (v)))                                         \
			cpu_relax();                                           \
	} while (0)

/* Generates side0_<name> and side1_<name> for one queue kind. */
#define DEFINE_SIDES(name, push, pop)                                          \
	static void *side0_##name(void *arg)                                   \
	{                                                                      \
		struct run *r = arg;                                           \
		uintptr_t v;                                                   \
		pin(r->cpu[0]);                                                \
		start_line(r);                                                 \
		if (r->mode == THROUGHPUT) {                                   \
			r->t0 = benchutil_now_ns();                            \
			for (size_t i = 1; i <= r->n; i++)                     \
				PUSH_SPIN(push, r->fwd, i);                    \
		} else if (r->mode == ONEWAY) {                                \
			uint64_t next = benchutil_now_ns();                    \
			for (size_t i = 0; i < r->n; i++) {                    \
				while (benchutil_now_ns() < next)              \
					cpu_relax();                           \
				PUSH_SPIN(push, r->fwd, benchutil_now_ns());   \
				next += LAT_GAP_NS;                            \
			}                                                      \
		} else {                                                       \
			for (size_t i = 0; i < r->n; i++) {                    \
				uint64_t t = benchutil_now_ns();               \
				PUSH_SPIN(push, r->fwd, i + 1);                \
				POP_SPIN(pop, r->back, &v);                    \
				r->lat[i] = benchutil_now_ns() - t;            \
			}                                                      \
		}                                                              \
		return NULL;                                                   \
	}                                                                      \
	static void *side1_##name(void *arg)                                   \
	{                                                                      \
		struct run *r = arg;                                           \
		uintptr_t v;                                                   \
		uint64_t sum = 0;                                              \
		pin(r->cpu[1]);                                                \
		start_line(r);                                                 \
		for (size_t i = 0; i < r->n; i++) {                            \
			POP_SPIN(pop, r->fwd, &v);                             \
			if (r->mode == ONEWAY)                                 \
				r->lat[i] = benchutil_now_ns() - (uint64_t)v;  \
			else                                                   \
				sum += v;                                      \
			if (r->mode == ROUNDTRIP)                              \
				PUSH_SPIN(push, r->back, v);                   \
		}                                                              \
		r->t1 = benchutil_now_ns();                                    \
		r->checksum = sum;                                             \
		return NULL;                                                   \
	}

DEFINE_SIDES(rp, rp_push, rp_pop)
DEFINE_SIDES(rm, rm_push, rm_pop)
DEFINE_SIDES(ck, ck_push, ck_pop)
DEFINE_SIDES(mx, mx_push, mx_pop)

struct kind {
	const char *name;
	void *(*side0)(void *);
	void *(*side1)(void *);
	size_t slot;   /* ring slot size, 0: not our ring */
	size_t divide; /* throughput message count divisor (slow queues) */
};

static const struct kind kinds[] = {
        {"ring (ptr)", side0_rp, side1_rp, sizeof(uintptr_t), 1},
        {"ck_ring (ptr)", side0_ck, side1_ck, 0, 1},
        {"mutex+cond (ptr)", side0_mx, side1_mx, 0, 8},
        {"ring (struct msg)", side0_rm, side1_rm, sizeof(struct msg), 1},
};
enum { K_RING, K_CK, K_MUTEX, K_RING_MSG, K_COUNT };

static void queue_init(struct queue *q, const struct kind *k)
{
	if (k->slot == sizeof(struct msg))
		ring_init(&q->ring, q->ring_msg_slots, k->slot, CAP);
	else
		ring_init(&q->ring, q->ring_ptr_slots, sizeof(uintptr_t), CAP);
	ck_ring_init(&q->ck, CAP);
	mutexq_init(&q->mq);
}

static double median_d(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), benchutil_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Run one measurement; returns 0 or -errno. */
static int run_once(const struct kind *k, struct queue *q, enum mode mode,
                    size_t n, const int cpu[2], struct run *r)
{
	pthread_t t0, t1;
	int rc;

	queue_init(&q[0], k);
	queue_init(&q[1], k);
	r->fwd = &q[0];
	r->back = &q[1];
	r->mode = mode;
	r->n = n;
	atomic_init(&r->ready, 0);
	r->cpu[0] = cpu[0];
	r->cpu[1] = cpu[1];
	rc = pthread_create(&t1, NULL, k->side1, r);
	if (rc)
		goto out;
	rc = pthread_create(&t0, NULL, k->side0, r);
	if (rc) {
		/* Cannot happen in practice; the consumer would spin. */
		fprintf(stderr, "bench_queue: pthread_create: %s\n",
		        strerror(rc));
		exit(1);
	}
	pthread_join(t0, NULL);
	pthread_join(t1, NULL);
out:
	mutexq_clear(&q[0].mq);
	mutexq_clear(&q[1].mq);
	return -rc;
}

struct result {
	double rate;           /* messages/s */
	double ow_med, ow_p99; /* one-way, ns */
	double rt_med, rt_p99; /* round trip, ns */
};

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 4000000;
	int repeats = argc > 2 ? atoi(argv[2]) : 5;
	struct queue *q = aligned_alloc(RING_CACHE_LINE, 2 * sizeof(*q));
	uint64_t *lat = malloc(LAT_SAMPLES * sizeof(*lat));
	struct run *r = aligned_alloc(RING_CACHE_LINE, sizeof(*r));
	struct result res[K_COUNT];
	double rate[K_COUNT][MAX_REPEATS], owm[K_COUNT][MAX_REPEATS];
	double owp[K_COUNT][MAX_REPEATS], rtm[K_COUNT][MAX_REPEATS];
	double rtp[K_COUNT][MAX_REPEATS];
	int cpu[2] = {-1, -1};
	cpu_set_t allowed;

	if (n == 0 || repeats < 1 || repeats > MAX_REPEATS) {
		fprintf(stderr,
		        "usage: bench_queue [messages [repeats 1..%d]]\n",
		        MAX_REPEATS);
		return 2;
	}
	if (!q || !lat || !r) {
		fprintf(stderr, "bench_queue: out of memory\n");
		return 1;
	}
	if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) {
		for (int c = 0, found = 0; c < CPU_SETSIZE && found < 2; c++)
			if (CPU_ISSET(c, &allowed))
				cpu[found++] = c;
		if (cpu[1] < 0)
			cpu[0] = -1;
	}
	printf("bench_queue: %zu messages x %d repeats, %d latency samples, "
	       "CPUs %d,%d (-1: not pinned)\n",
	       n, repeats, LAT_SAMPLES, cpu[0], cpu[1]);

	/* Repeat-major order: every queue sees the same share of whatever
	 * else the machine is doing during each repeat. */
	for (int i = 0; i < repeats; i++) {
		for (int k = 0; k < K_COUNT; k++) {
			const struct kind *kd = &kinds[k];
			size_t tn = n / kd->divide;
			uint64_t want = (uint64_t)tn * (tn + 1) / 2;

			memset(r, 0, sizeof(*r));
			if (run_once(kd, q, THROUGHPUT, tn, cpu, r) < 0)
				return 1;
			if (r->checksum != want) {
				fprintf(stderr, "%s: lost messages\n",
				        kd->name);
				return 1;
			}
			rate[k][i] = (double)tn * 1e9 / (double)(r->t1 - r->t0);

			memset(r, 0, sizeof(*r));
			r->lat = lat;
			if (run_once(kd, q, ONEWAY, LAT_SAMPLES, cpu, r) < 0)
				return 1;
			qsort(lat, LAT_SAMPLES, sizeof(*lat),
			      benchutil_cmp_u64);
			owm[k][i] = (double)lat[LAT_SAMPLES / 2];
			owp[k][i] = (double)lat[LAT_SAMPLES * 99 / 100];

			memset(r, 0, sizeof(*r));
			r->lat = lat;
			if (run_once(kd, q, ROUNDTRIP, LAT_SAMPLES, cpu, r) < 0)
				return 1;
			qsort(lat, LAT_SAMPLES, sizeof(*lat),
			      benchutil_cmp_u64);
			rtm[k][i] = (double)lat[LAT_SAMPLES / 2];
			rtp[k][i] = (double)lat[LAT_SAMPLES * 99 / 100];
		}
	}
	for (int k = 0; k < K_COUNT; k++) {
		res[k] = (struct result){
		        .rate = median_d(rate[k], repeats),
		        .ow_med = median_d(owm[k], repeats),
		        .ow_p99 = median_d(owp[k], repeats),
		        .rt_med = median_d(rtm[k], repeats),
		        .rt_p99 = median_d(rtp[k], repeats),
		};
		printf("%-18s %8.2f Mmsg/s  one-way med %6.0f ns p99 %7.0f ns"
		       "  round-trip med %6.0f ns p99 %7.0f ns\n",
		       kinds[k].name, res[k].rate / 1e6, res[k].ow_med,
		       res[k].ow_p99, res[k].rt_med, res[k].rt_p99);
	}
	printf("throughput ratio ring/ck_ring %.2f (target >= 0.9), "
	       "ring/mutex %.1f (target >= 5)\n",
	       res[K_RING].rate / res[K_CK].rate,
	       res[K_RING].rate / res[K_MUTEX].rate);
	printf("round-trip median ratio ring/ck_ring %.2f, ring/mutex %.2f "
	       "(lower is faster)\n",
	       res[K_RING].rt_med / res[K_CK].rt_med,
	       res[K_RING].rt_med / res[K_MUTEX].rt_med);
	free(r);
	free(lat);
	free(q);
	return 0;
}
