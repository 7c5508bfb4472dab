/*
 * vclock: virtual clock device (see vclock.h for the modes and the xrun
 * policy)
 *
 * The pacing thread owns the buffers and the period index while it runs;
 * the control thread touches them only before start and after the join.
 * Counters are relaxed atomics: they are statistics and publish nothing.
 *
 * Dozing: the thread raises `dozing`, then asks the callback whether it is
 * idle; a poster of work publishes it, then reads `dozing` and posts the
 * semaphore when it is raised. Both sides touch `dozing` with a
 * read-modify-write (the poster's adds nothing), so the two are ordered in
 * its modification order: if the thread's comes first, the poster reads
 * the raised flag and posts; if the poster's comes first, the thread's
 * reads it (acquire from the poster's release), so its idle check sees
 * the work published before. (The store-load pattern of Dekker's
 * algorithm, without a fence, which ThreadSanitizer cannot follow.) Posts
 * only happen while dozing, and the thread drops leftover ones when it
 * stops dozing, so the semaphore's count stays small.
 */
#define _GNU_SOURCE /* pthread_setname_np, sem_clockwait */
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
	if (sem_init(&v->wake, 0, 0) != 0)
		return -errno;
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
	atomic_init(&v->idle_periods, 0);
	atomic_init(&v->late_max_ns, 0);
	atomic_init(&v->dozing, 0);
	return 0;

fail_in:
	free(v->in);
	v->in = NULL;
fail:
	sem_destroy(&v->wake);
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

/*
 * Doze while the callback says it has nothing to do (see the file comment
 * for the handshake with vclock_wake). Return: whether it slept.
 */
static bool vclock__doze(struct vclock *v)
{
	bool slept = false;

	for (;;) {
		/* See the file comment: pairs with vclock_wake. */
		(void)atomic_exchange_explicit(&v->dozing, 1,
		                               memory_order_seq_cst);
		if (atomic_load_explicit(&v->quit, memory_order_relaxed))
			break;
		rthook_rt_enter();
		bool idle = v->cfg.idle(v->cfg.user);
		rthook_rt_leave();
		if (!idle)
			break;
		int64_t t = vclock__now_ns() + VCLOCK_NAP_MS * 1000000ll;
		struct timespec ts = {
		        .tv_sec = (time_t)(t / NS_PER_S),
		        .tv_nsec = (long)(t % NS_PER_S),
		};
		while (sem_clockwait(&v->wake, CLOCK_MONOTONIC, &ts) != 0 &&
		       errno == EINTR)
			;
		slept = true;
	}
	atomic_store_explicit(&v->dozing, 0, memory_order_relaxed);
	while (sem_trywait(&v->wake) == 0)
		;
	return slept;
}

static void *vclock__thread(void *arg)
{
	struct vclock *v = arg;
	uint64_t k = 0;
	bool woke = false; /* period k follows a doze: due now, not late */

	pthread_setname_np(pthread_self(), "rtb-audio");
	/* The audio thread of a headless receiver: scheduled like a sound
	   card's, when the system allows it. */
	if (v->cfg.mode == VCLOCK_REALTIME)
		(void)rthook_promote(RTHOOK_PRIORITY_AUDIO);

	/* quit carries no data: the join orders everything else. */
	while (!atomic_load_explicit(&v->quit, memory_order_relaxed)) {
		if (v->cfg.mode == VCLOCK_REALTIME) {
			int64_t due = vclock_deadline_ns(v, k);
			vclock__sleep_until(due);
			int64_t now = vclock__now_ns();
			int64_t late = now - due;
			if (!woke &&
			    late > atomic_load_explicit(&v->late_max_ns,
			                                memory_order_relaxed))
				atomic_store_explicit(&v->late_max_ns, late,
				                      memory_order_relaxed);
			if (late > VCLOCK_CATCHUP_NS) {
				/* Too far behind to make up: skip the missed
				   periods, stay on the grid. Closer than that,
				   the loop runs them back to back (no sleep:
				   their deadlines have passed). */
				uint64_t kk = vclock__period_at(v, now);
				atomic_fetch_add_explicit(&v->xruns, kk - k,
				                          memory_order_relaxed);
				k = kk;
			}
			woke = false;
		}
		if (vclock__period(v) != 0) {
			/* Release: the control thread that sees done (acquire)
			 * also sees the callback's last writes. */
			atomic_store_explicit(&v->done, true,
			                      memory_order_release);
			break;
		}
		k++;
		if (v->cfg.idle && v->cfg.mode == VCLOCK_REALTIME &&
		    vclock__doze(v)) {
			/* Resume at the period whose slot holds now (or at k,
			   if that is still ahead). */
			uint64_t kk = vclock__period_at(v, vclock__now_ns());
			if (kk > k) {
				atomic_fetch_add_explicit(&v->idle_periods,
				                          kk - k,
				                          memory_order_relaxed);
				k = kk;
				woke = true;
			}
		}
	}
	return NULL;
}

int vclock_start(struct vclock *v)
{
	if (v->running)
		return -EALREADY;
	atomic_store_explicit(&v->quit, false, memory_order_relaxed);
	atomic_store_explicit(&v->done, false, memory_order_relaxed);
	while (sem_trywait(&v->wake) == 0)
		;
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
	sem_post(&v->wake); /* a dozing thread sees quit at once */
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
	sem_destroy(&v->wake);
}

bool vclock_done(const struct vclock *v)
{
	/* Acquire: pairs with the release store in the thread or step. */
	return atomic_load_explicit(&v->done, memory_order_acquire);
}

uint64_t vclock_callbacks(const struct vclock *v)
{
	return atomic_load_explicit(&v->callbacks, memory_order_relaxed);
}

void vclock_wake(struct vclock *v)
{
	/* Pairs with the exchange in vclock__doze: the work posted before
	   this call is seen by its idle check, or `dozing` is seen here (see
	   the file comment). */
	if (atomic_fetch_or_explicit(&v->dozing, 0, memory_order_acq_rel))
		sem_post(&v->wake);
}

uint64_t vclock_idle_periods(const struct vclock *v)
{
	return atomic_load_explicit(&v->idle_periods, memory_order_relaxed);
}

uint64_t vclock_xruns(const struct vclock *v)
{
	return atomic_load_explicit(&v->xruns, memory_order_relaxed);
}

int64_t vclock_late_max_ns(const struct vclock *v)
{
	return atomic_load_explicit(&v->late_max_ns, memory_order_relaxed);
}
