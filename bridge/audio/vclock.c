/*
 * vclock: virtual clock device (see vclock.h for the modes and the xrun
 * policy)
 *
 * The pacing thread owns the buffers and the period index while it runs;
 * the control thread touches them only before start and after the join.
 * Counters are relaxed atomics: they are statistics and publish nothing.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "bridge/audio/vclock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/rtcheck/rthook.h"

#define NS_PER_S 1000000000ll

static int64_t vclock__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int vclock_open(struct vclock *v, const struct devcfg *cfg)
{
	int err = devcfg_check(cfg);
	if (err < 0)
		return err;
	memset(v, 0, sizeof(*v));
	v->cfg = *cfg;
	if (cfg->in_channels > 0) {
		v->in = calloc((size_t)cfg->period * cfg->in_channels,
		               sizeof(float));
		if (!v->in)
			goto fail;
	}
	if (cfg->out_channels > 0) {
		v->out = calloc((size_t)cfg->period * cfg->out_channels,
		                sizeof(float));
		if (!v->out)
			goto fail_in;
	}
	atomic_init(&v->quit, false);
	atomic_init(&v->done, false);
	atomic_init(&v->callbacks, 0);
	atomic_init(&v->xruns, 0);
	atomic_init(&v->late_max_ns, 0);
	atomic_init(&v->ready_waits, 0);
	atomic_init(&v->ready_timeouts, 0);
	atomic_init(&v->ready_wait_max_ns, 0);
	atomic_init(&v->next_wake_ns, 0);
	v->period_due_ns = -1;
	return 0;

fail_in:
	free(v->in);
	v->in = NULL;
fail:
	return -ENOMEM;
}

int64_t vclock_deadline_ns(const struct vclock *v, uint64_t k)
{
	/* Split frames into whole seconds and a remainder so that neither
	 * product overflows and the result depends on k alone. */
	uint64_t frames = k * v->cfg.period;
	uint64_t sec = frames / v->cfg.rate;
	uint64_t rem = frames % v->cfg.rate;
	return v->t0_ns + (int64_t)(sec * (uint64_t)NS_PER_S +
	                            rem * (uint64_t)NS_PER_S / v->cfg.rate);
}

/* One period: the callback bracketed as real-time. Return: its result. */
static int vclock__period(struct vclock *v)
{
	rthook_rt_enter();
	int r = v->cfg.callback(v->cfg.user, v->in, v->out, v->cfg.period);
	rthook_rt_leave();
	atomic_fetch_add_explicit(&v->callbacks, 1, memory_order_relaxed);
	return r;
}

/* The index of the period whose slot contains `now`. */
static uint64_t vclock__period_at(const struct vclock *v, int64_t now)
{
	double per_ns = (double)v->cfg.period * 1e9 / v->cfg.rate;
	double guess = (double)(now - v->t0_ns) / per_ns;
	uint64_t k = guess > 0 ? (uint64_t)guess : 0;
	/* The estimate may be off by one either way: correct it exactly. */
	while (k > 0 && vclock_deadline_ns(v, k) > now)
		k--;
	while (vclock_deadline_ns(v, k + 1) <= now)
		k++;
	return k;
}

static void vclock__sleep_until(int64_t deadline)
{
	struct timespec ts = {
	        .tv_sec = (time_t)(deadline / NS_PER_S),
	        .tv_nsec = (long)(deadline % NS_PER_S),
	};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/* Before the group waking at `look` runs: wait, boundedly, for
   devcfg.ready's yes (outside the callback: the audio thread only
   sleeps here, as it does between groups). */
static void vclock__wait_ready(struct vclock *v, int64_t look)
{
	if (v->cfg.ready(v->cfg.ready_arg, look))
		return;
	int64_t start = vclock__now_ns(), now = start;
	bool yes = false;
	while (!yes && now - start < VCLOCK_READY_WAIT_NS) {
		struct timespec ts = {0, VCLOCK_READY_STEP_NS};
		(void)clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		yes = v->cfg.ready(v->cfg.ready_arg, look);
		now = vclock__now_ns();
	}
	atomic_fetch_add_explicit(&v->ready_waits, 1, memory_order_relaxed);
	if (!yes)
		atomic_fetch_add_explicit(&v->ready_timeouts, 1,
		                          memory_order_relaxed);
	if (now - start >
	    atomic_load_explicit(&v->ready_wait_max_ns, memory_order_relaxed))
		atomic_store_explicit(&v->ready_wait_max_ns, now - start,
		                      memory_order_relaxed);
}

static void *vclock__thread(void *arg)
{
	struct vclock *v = arg;
	const uint64_t batch = v->cfg.batch > 1 ? v->cfg.batch : 1;
	uint64_t k = 0, left = 0;

	pthread_setname_np(pthread_self(), "rtb-audio");
	/* The audio thread of a headless receiver: scheduled like a sound
	   card's, when the system allows it. */
	if (v->cfg.mode == VCLOCK_REALTIME)
		(void)rthook_promote(RTHOOK_PRIORITY_AUDIO);

	/* quit carries no data: the join orders everything else. */
	while (!atomic_load_explicit(&v->quit, memory_order_relaxed)) {
		if (v->cfg.mode == VCLOCK_REALTIME && left == 0) {
			/* A group of `batch` periods wakes at the deadline
			   of its last one: none runs before its time. */
			int64_t due = vclock_deadline_ns(v, k + batch - 1);
			/* Relaxed: a time for others to plan by, not a
			   publication. */
			atomic_store_explicit(&v->next_wake_ns, due,
			                      memory_order_relaxed);
			vclock__sleep_until(due);
			int64_t now = vclock__now_ns();
			int64_t late = now - due;
			if (late > atomic_load_explicit(&v->late_max_ns,
			                                memory_order_relaxed))
				atomic_store_explicit(&v->late_max_ns, late,
				                      memory_order_relaxed);
			if (late > VCLOCK_CATCHUP_NS) {
				/* Too far behind to make up: skip the missed
				   periods, stay on the grid, the group ending
				   with the period now due. Closer than that,
				   the loop runs them back to back (no sleep:
				   their deadlines have passed). */
				uint64_t kk = vclock__period_at(v, now) + 1;
				kk = kk - k > batch ? kk - batch : k;
				atomic_fetch_add_explicit(&v->xruns, kk - k,
				                          memory_order_relaxed);
				k = kk;
			}
			if (v->cfg.ready != NULL)
				vclock__wait_ready(
				        v,
				        vclock_deadline_ns(v, k + batch - 1));
			left = batch;
		}
		if (v->cfg.mode == VCLOCK_REALTIME)
			v->period_due_ns = vclock_deadline_ns(v, k);
		if (vclock__period(v) != 0) {
			/* Release: the control thread that sees done (acquire)
			 * also sees the callback's last writes. */
			atomic_store_explicit(&v->done, true,
			                      memory_order_release);
			break;
		}
		k++;
		if (left > 0)
			left--;
	}
	return NULL;
}

int vclock_start(struct vclock *v)
{
	if (v->running)
		return -EALREADY;
	atomic_store_explicit(&v->quit, false, memory_order_relaxed);
	atomic_store_explicit(&v->done, false, memory_order_relaxed);
	v->t0_ns = vclock__now_ns();
	if (v->cfg.mode == VCLOCK_MANUAL)
		return 0;
	int err = pthread_create(&v->thread, NULL, vclock__thread, v);
	if (err != 0)
		return -err;
	v->running = true;
	return 0;
}

int vclock_step(struct vclock *v, size_t n)
{
	if (v->cfg.mode != VCLOCK_MANUAL)
		return -EINVAL;
	size_t i;
	for (i = 0; i < n; i++) {
		if (vclock__period(v) != 0) {
			atomic_store_explicit(&v->done, true,
			                      memory_order_release);
			return (int)(i + 1);
		}
	}
	return (int)i;
}

int vclock_stop(struct vclock *v)
{
	if (!v->running)
		return 0;
	atomic_store_explicit(&v->quit, true, memory_order_relaxed);
	pthread_join(v->thread, NULL);
	v->running = false;
	return 0;
}

void vclock_close(struct vclock *v)
{
	vclock_stop(v);
	free(v->in);
	free(v->out);
	v->in = NULL;
	v->out = NULL;
}

bool vclock_done(const struct vclock *v)
{
	/* Acquire: pairs with the release store in the thread or step. */
	return atomic_load_explicit(&v->done, memory_order_acquire);
}

int64_t vclock_next_wake_ns(const struct vclock *v, int64_t after)
{
	int64_t t =
	        atomic_load_explicit(&v->next_wake_ns, memory_order_relaxed);
	if (v->cfg.mode != VCLOCK_REALTIME || t <= 0)
		return -1;
	if (t > after)
		return t;
	/* Whole intervals on: the thread is asleep or late, and the groups
	   keep to the grid (a late group runs at once, the next on time).
	   n intervals are n x b x period frames, made ns at once: n times
	   an interval rounded to the ns would drift off the grid by up to a
	   ns per interval. */
	uint64_t b = v->cfg.batch > 1 ? v->cfg.batch : 1;
	uint64_t group = b * v->cfg.period;
	double every = (double)group * 1e9 / v->cfg.rate;
	uint64_t n = (uint64_t)((double)(after - t) / every) + 1;
	int64_t w;
	for (;;) {
		uint64_t frames = n * group;
		w = t + (int64_t)(frames / v->cfg.rate * (uint64_t)NS_PER_S +
		                  frames % v->cfg.rate * (uint64_t)NS_PER_S /
		                          v->cfg.rate);
		if (w > after || group == 0)
			break;
		n++; /* the estimate fell short of after by a rounding */
	}
	return w;
}

int64_t vclock_period_due_ns(const struct vclock *v)
{
	return v->period_due_ns;
}

uint64_t vclock_callbacks(const struct vclock *v)
{
	return atomic_load_explicit(&v->callbacks, memory_order_relaxed);
}

uint64_t vclock_xruns(const struct vclock *v)
{
	return atomic_load_explicit(&v->xruns, memory_order_relaxed);
}

int64_t vclock_late_max_ns(const struct vclock *v)
{
	return atomic_load_explicit(&v->late_max_ns, memory_order_relaxed);
}

uint64_t vclock_ready_waits(const struct vclock *v)
{
	return atomic_load_explicit(&v->ready_waits, memory_order_relaxed);
}

uint64_t vclock_ready_timeouts(const struct vclock *v)
{
	return atomic_load_explicit(&v->ready_timeouts, memory_order_relaxed);
}

int64_t vclock_ready_wait_max_ns(const struct vclock *v)
{
	return atomic_load_explicit(&v->ready_wait_max_ns,
	                            memory_order_relaxed);
}
