/*
 * test_vclock: the virtual clock device (manual, fast and real-time modes),
 * a real-time clock paused by stop and resumed by start on a new grid, a
 * group waiting, boundedly, for its sources to be ready, and
 * the device facade over it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <time.h>

#include "bridge/audio/device.h"
#include "bridge/audio/vclock.h"
#include "tests/rtcheck_assert.h"
#include "tests/threadname.h"

struct counter {
	uint64_t calls;
	uint64_t stop_at; /* return 1 on this call (0: never) */
	size_t last_frames;
	int bad_buffers;
};

static int count_cb(void *user, const float *in, float *out, size_t frames)
{
	struct counter *c = user;
	c->calls++;
	c->last_frames = frames;
	if (!out || (in && in[0] != 0.0f))
		c->bad_buffers++;
	for (size_t i = 0; out && i < frames * 2; i++)
		out[i] = 0.25f;
	return c->stop_at != 0 && c->calls == c->stop_at;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
	                      .tv_nsec = (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

TestSuite(vclock, .timeout = 30);

Test(vclock, deadlines_are_computed_absolutely_from_the_period_index)
{
	struct counter c = {0};
	struct devcfg cfg;
	struct vclock v;
	devcfg_default(&cfg);
	cfg.callback = count_cb;
	cfg.user = &c;
	cfg.mode = VCLOCK_MANUAL;
	cr_assert_eq(vclock_open(&v, &cfg), 0);
	cr_assert_eq(vclock_start(&v), 0);
	int64_t t0 = vclock_deadline_ns(&v, 0);
	/* 375 periods of 128 frames are exactly one second at 48 kHz. */
	cr_assert_eq(vclock_deadline_ns(&v, 375) - t0, 1000000000);
	cr_assert_eq(vclock_deadline_ns(&v, 375ull * 86400) - t0,
	             86400ll * 1000000000);
	cr_assert_eq(vclock_deadline_ns(&v, 3) - t0, 8000000);
	/* Neighbouring periods differ by 2666 or 2667 us: never drifting. */
	for (uint64_t k = 1000000; k < 1000100; k++) {
		int64_t d = vclock_deadline_ns(&v, k + 1) -
		            vclock_deadline_ns(&v, k);
		cr_assert(d == 2666666 || d == 2666667,
		          "period %llu lasts %lld ns", (unsigned long long)k,
		          (long long)d);
	}
	vclock_close(&v);

	cfg.rate = 44100;
	cr_assert_eq(vclock_open(&v, &cfg), 0);
	cr_assert_eq(vclock_start(&v), 0);
	t0 = vclock_deadline_ns(&v, 0);
	cr_assert_eq(vclock_deadline_ns(&v, 44100) - t0, 128ll * 1000000000);
	vclock_close(&v);
}

Test(vclock, manual_step_runs_exactly_the_periods_asked)
{
	struct counter c = {.stop_at = 0};
	struct devcfg cfg;
	struct vclock v;
	RTCHECK_INIT();
	devcfg_default(&cfg);
	cfg.callback = count_cb;
	cfg.user = &c;
	cfg.in_channels = 1;
	cfg.period = 32;
	cfg.mode = VCLOCK_MANUAL;
	cr_assert_eq(vclock_open(&v, &cfg), 0);
	cr_assert_eq(vclock_start(&v), 0);
	RTCHECK_RESET();
	cr_assert_eq(vclock_step(&v, 10), 10);
	/* A manual clock's periods are due whenever they are stepped. */
	cr_assert_eq(vclock_period_due_ns(&v), -1);
	cr_assert_eq(c.calls, 10);
	cr_assert_eq(c.last_frames, 32);
	cr_assert_eq(c.bad_buffers, 0);
	cr_assert_eq(vclock_callbacks(&v), 10);
	cr_assert_not(vclock_done(&v));
	c.stop_at = 15;
	cr_assert_eq(vclock_step(&v, 100), 5,
	             "the callback's stop ends the steps");
	cr_assert(vclock_done(&v));
	RTCHECK_ASSERT_ZERO();
	vclock_close(&v);
}

#if defined(RTB_RTCHECK)
#include <stdlib.h>

static int malloc_cb(void *user, const float *in, float *out, size_t frames)
{
	(void)user;
	(void)in;
	void *p = malloc(64);
	float v = p ? 0.0f : 1.0f;
	free(p);
	for (size_t i = 0; i < frames * 2; i++)
		out[i] = v;
	return 0;
}

Test(vclock, every_callback_is_watched_by_the_real_time_checker)
{
	struct devcfg cfg;
	struct vclock v;
	RTCHECK_ASSERT_LOADED();
	devcfg_default(&cfg);
	cfg.callback = malloc_cb;
	cfg.mode = VCLOCK_MANUAL;
	cr_assert_eq(vclock_open(&v, &cfg), 0);
	cr_assert_eq(vclock_start(&v), 0);
	rtcheck_reset();
	cr_assert_eq(vclock_step(&v, 3), 3);
	struct rtcheck_counts c;
	rtcheck_get(&c);
	cr_assert_geq(c.alloc, 6, "malloc+free in 3 callbacks: counted %lu",
	              c.alloc);
	rtcheck_reset();
	vclock_close(&v);
}
#endif

Test(vclock, rejects_bad_configurations)
{
	struct counter c = {0};
	struct devcfg cfg;
	struct vclock v;
	devcfg_default(&cfg);
	cr_assert_eq(vclock_open(&v, &cfg), -EINVAL, "no callback");
	cfg.callback = count_cb;
	cfg.user = &c;
	cfg.period = 16;
	cr_assert_eq(vclock_open(&v, &cfg), -EINVAL, "period below 32");
	cfg.period = 128;
	cfg.out_channels = 0;
	cr_assert_eq(vclock_open(&v, &cfg), -EINVAL, "no channels");
	cfg.out_channels = 2;
	cfg.mode = VCLOCK_FAST;
	cr_assert_eq(vclock_open(&v, &cfg), 0);
	cr_assert_eq(vclock_step(&v, 1), -EINVAL, "step only in manual mode");
	vclock_close(&v);
}

Test(vclock, fast_mode_calls_back_to_back_until_the_callback_stops)
{
	struct counter c = {.stop_at = 2000};
	struct devcfg cfg;
	struct vclock v;
	RTCHECK_INIT();
	devcfg_default(&cfg);
	cfg.callback = count_cb;
	cfg.user = &c;
	cfg.mode = VCLOCK_FAST;
	cr_assert_eq(vclock_open(&v, &cfg), 0);
	RTCHECK_RESET();
	cr_assert_eq(vclock_start(&v), 0);
	for (int i = 0; i < 10000 && !vclock_done(&v); i++)
		sleep_ms(1);
	cr_assert(vclock_done(&v));
	vclock_stop(&v);
	RTCHECK_ASSERT_ZERO();
	cr_assert_eq(c.calls, 2000);
	cr_assert_eq(vclock_callbacks(&v), 2000);
	vclock_close(&v);
}

struct stamps {
	_Atomic uint64_t n;
	const struct vclock *v;
	int64_t t[1024];   /* when each callback ran */
	int64_t due[1024]; /* the deadline it said it stood for */
};

static int stamp_cb(void *user, const float *in, float *out, size_t frames)
{
	struct stamps *s = user;
	(void)in;
	uint64_t n = atomic_load_explicit(&s->n, memory_order_relaxed);
	if (n < 1024) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s->t[n] = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		s->due[n] = vclock_period_due_ns(s->v);
	}
	for (size_t i = 0; i < frames * 2; i++)
		out[i] = 0.0f;
	atomic_store_explicit(&s->n, n + 1, memory_order_relaxed);
	return 0;
}

/* Run a real-time clock of `batch` periods per wake-up for 0.5 s,
   stamping its callbacks into s. Return: when it was stopped. */
static int64_t run_stamped(struct vclock *v, struct stamps *s, unsigned batch)
{
	struct devcfg cfg;
	RTCHECK_INIT();
	atomic_init(&s->n, 0);
	s->v = v;
	devcfg_default(&cfg);
	cfg.callback = stamp_cb;
	cfg.user = s;
	cfg.batch = batch;
	cr_assert_eq(vclock_open(v, &cfg), 0);
	RTCHECK_RESET();
	cr_assert_eq(vclock_start(v), 0);
	sleep_ms(500);
	cr_assert(threadname_exists("rtb-audio"), "the clock thread is named");
	vclock_stop(v);
	int64_t end = now_ns();
	RTCHECK_ASSERT_ZERO();
	return end;
}

Test(vclock, a_clock_that_never_ran_cannot_tell_its_wake_ups)
{
	struct devcfg cfg;
	struct vclock v;

	devcfg_default(&cfg);
	cfg.callback = stamp_cb;
	cfg.batch = 4;
	cr_assert_eq(vclock_open(&v, &cfg), 0);
	cr_assert_eq(vclock_next_wake_ns(&v, now_ns()), -1);
	vclock_close(&v);
}

Test(vclock, realtime_mode_keeps_pace_without_drift)
{
	static struct stamps s;
	struct vclock v;
	int64_t end = run_stamped(&v, &s, 0);

	uint64_t calls = vclock_callbacks(&v), xruns = vclock_xruns(&v);
	int64_t t0 = vclock_deadline_ns(&v, 0);
	double period_ns = 128.0 * 1e9 / 48000.0;
	double elapsed_periods = (double)(end - t0) / period_ns;
	cr_log_info("%llu callbacks, %llu xruns in %.1f periods, worst "
	            "lateness %lld us",
	            (unsigned long long)calls, (unsigned long long)xruns,
	            elapsed_periods,
	            (long long)(vclock_late_max_ns(&v) / 1000));
	/* Every period due before the stop was either called or counted as an
	 * xrun: the schedule is the absolute grid, so nothing accumulates. */
	cr_assert_leq(calls + xruns, (uint64_t)elapsed_periods + 1);
	cr_assert_geq((double)(calls + xruns), elapsed_periods - 3.0);
	/* Loose pace: about 187 callbacks in 0.5 s. */
	cr_assert_geq(calls, 100);
	cr_assert_leq(calls, 260);
	/* Never early: callback i ran no sooner than the deadline of period i
	 * (skipped periods only push later callbacks further). */
	uint64_t n = calls < 1024 ? calls : 1024;
	for (uint64_t i = 0; i < n; i++)
		cr_assert_geq(s.t[i], vclock_deadline_ns(&v, i),
		              "callback %llu early", (unsigned long long)i);
	vclock_close(&v);
}

Test(vclock, a_batched_clock_runs_each_group_at_its_last_deadline)
{
	static struct stamps s;
	struct devcfg cfg;
	struct vclock v;
	int64_t end = run_stamped(&v, &s, 4);

	uint64_t calls = vclock_callbacks(&v), xruns = vclock_xruns(&v);
	double period_ns = 128.0 * 1e9 / 48000.0;
	double elapsed = (double)(end - vclock_deadline_ns(&v, 0)) / period_ns;
	/* The same number of periods as unbatched, whole groups of 4. */
	cr_assert_leq(calls + xruns, (uint64_t)elapsed + 1);
	cr_assert_geq((double)(calls + xruns), elapsed - 3.0 - 4.0);
	cr_assert_geq(calls, 100);
	uint64_t n = calls < 1024 ? calls : 1024;
	/* A stall of 200 ms (skipped periods) moves the groups off the
	   callback count: the per-callback checks need none. */
	if (xruns != 0) {
		cr_log_warn("%llu periods skipped: the machine stalled",
		            (unsigned long long)xruns);
		n = 0;
	}
	for (uint64_t i = 0; i < n; i++) {
		/* Never before the deadline of the group's last period. */
		uint64_t last = i / 4 * 4 + 3;
		cr_assert_geq(s.t[i], vclock_deadline_ns(&v, last),
		              "callback %llu ran before its group was due",
		              (unsigned long long)i);
		/* Each callback knows its own period's deadline, to the ns,
		   however late its group runs. */
		cr_assert_eq(s.due[i], vclock_deadline_ns(&v, i),
		             "callback %llu stands for %lld ns, not %lld",
		             (unsigned long long)i, (long long)s.due[i],
		             (long long)vclock_deadline_ns(&v, i));
	}
	/* One wake-up per group: its periods run back to back, far closer
	   together than a period (a loose bound: a busy machine may
	   preempt the thread inside a group now and then). */
	unsigned close = 0, pairs = 0;
	for (uint64_t i = 0; i + 1 < n; i++) {
		if (i % 4 == 3)
			continue;
		pairs++;
		close += s.t[i + 1] - s.t[i] < (int64_t)(period_ns / 4);
	}
	cr_assert_geq(close, pairs * 9 / 10, "%u of %u back to back", close,
	              pairs);
	/* The wake-ups ahead, for a net thread to read just before: on the
	   groups' grid (their last periods' deadlines), after the time
	   asked about, the first such one. The stopped clock answers on
	   its last grid. */
	if (xruns == 0) {
		int64_t after = end + 12345678;
		int64_t w = vclock_next_wake_ns(&v, after);
		uint64_t k =
		        (uint64_t)((double)(w - vclock_deadline_ns(&v, 0)) /
		                           period_ns +
		                   0.5);
		cr_assert_eq(k % 4, 3, "wake-up at period %llu",
		             (unsigned long long)k);
		cr_assert_leq(llabs(w - vclock_deadline_ns(&v, k)), 1);
		cr_assert_gt(w, after);
		cr_assert_leq(w - after, (int64_t)(4 * period_ns) + 1);
		/* Far on (a net thread that slept, a main thread woken late
		   after the stop): still on the grid, to the ns. */
		for (int64_t far = 1; far <= 1000000; far *= 100) {
			after = end + far * 10000000 + 4321;
			w = vclock_next_wake_ns(&v, after);
			k = (uint64_t)((double)(w - vclock_deadline_ns(&v, 0)) /
			                       period_ns +
			               0.5);
			cr_assert_eq(k % 4, 3, "wake-up at period %llu",
			             (unsigned long long)k);
			cr_assert_leq(
			        llabs(w - vclock_deadline_ns(&v, k)), 1,
			        "%lld ns off the grid %lld s on",
			        (long long)(w - vclock_deadline_ns(&v, k)),
			        (long long)(far / 100));
			cr_assert_gt(w, after);
			cr_assert_leq(w - after, (int64_t)(4 * period_ns) + 1);
		}
	}
	vclock_close(&v);

	devcfg_default(&cfg);
	cfg.callback = stamp_cb;
	cfg.batch = DEVCFG_BATCH_MAX + 1;
	cr_assert_eq(vclock_open(&v, &cfg), -EINVAL, "batch too large");
}

/* A devcfg.ready for groups of 4: says yes at once, except for every
   third group (3 ms after its look: a net thread's read held up) and
   group NEVER (never: a net thread stuck). Records the looks asked. */
#define GATE_NEVER 7
struct gate {
	int64_t look[256]; /* the looks asked about, in order */
	int n;
};

static bool gate_ready(void *arg, int64_t look)
{
	struct gate *g = arg;

	if (g->n == 0 || g->look[g->n - 1] != look) {
		if (g->n < 256)
			g->look[g->n] = look;
		g->n++;
	}
	int j = g->n - 1;
	if (j == GATE_NEVER)
		return false;
	if (j % 3 == 1)
		return now_ns() >= look + 3000000;
	return true;
}

Test(vclock, a_group_waits_briefly_for_its_sources_to_be_ready)
{
	static struct stamps s;
	static struct gate g;
	struct devcfg cfg;
	struct vclock v;

	RTCHECK_INIT();
	atomic_init(&s.n, 0);
	s.v = &v;
	devcfg_default(&cfg);
	cfg.callback = stamp_cb;
	cfg.user = &s;
	cfg.batch = 4;
	cfg.ready = gate_ready;
	cfg.ready_arg = &g;
	cr_assert_eq(vclock_open(&v, &cfg), 0);
	RTCHECK_RESET();
	cr_assert_eq(vclock_start(&v), 0);
	sleep_ms(500);
	vclock_stop(&v);
	/* The waits sleep outside the callback: nothing to report. */
	RTCHECK_ASSERT_ZERO();

	uint64_t calls = vclock_callbacks(&v), xruns = vclock_xruns(&v);
	int groups = (int)(calls / 4);
	cr_log_info("%d groups, %llu waited (%llu gave up), longest %lld us",
	            groups, (unsigned long long)vclock_ready_waits(&v),
	            (unsigned long long)vclock_ready_timeouts(&v),
	            (long long)vclock_ready_wait_max_ns(&v) / 1000);
	cr_assert_geq(groups, 20);
	cr_assert_eq(xruns, 0, "the machine stalled the clock 200 ms");
	/* Asked once per group (a group's retries ask the same look), about
	   the group's wake-up: its last period's deadline. */
	cr_assert_geq(g.n, groups);
	cr_assert_leq(g.n, groups + 1);
	for (int j = 0; j < groups && j < 256; j++)
		cr_assert_eq(g.look[j], vclock_deadline_ns(&v, 4u * j + 3),
		             "group %d asked about another look", j);
	/* The stuck one ran anyway, once the wait was up, and said so. */
	cr_assert_eq(vclock_ready_timeouts(&v), 1);
	cr_assert_geq(s.t[4 * GATE_NEVER],
	              g.look[GATE_NEVER] + VCLOCK_READY_WAIT_NS);
	cr_assert_geq(vclock_ready_wait_max_ns(&v), VCLOCK_READY_WAIT_NS);
	/* The held-up ones ran after their yes, none before; the others did
	   not wait. Each wait is counted (one found its yes at once when
	   the clock itself woke 3 ms late). */
	uint64_t held = 1;
	for (int j = 0; j < g.n; j++) {
		if (j == GATE_NEVER || j % 3 != 1)
			continue;
		held++; /* the last may have been stopped before it ran */
		for (int i = 4 * j; i < 4 * j + 4 && i < (int)calls && i < 1024;
		     i++)
			cr_assert_geq(s.t[i], g.look[j] + 3000000,
			              "group %d ran %lld us after its look, "
			              "before its yes",
			              j,
			              (long long)(s.t[i] - g.look[j]) / 1000);
	}
	cr_assert_leq(vclock_ready_waits(&v), held);
	cr_assert_geq(vclock_ready_waits(&v) + 4, held,
	              "%llu of %llu held-up groups waited",
	              (unsigned long long)vclock_ready_waits(&v),
	              (unsigned long long)held);
	/* Waiting keeps the grid: every period still ran at or after its
	   own deadline, the same count as without waits. */
	for (uint64_t i = 0; i < calls && i < 1024; i++)
		cr_assert_eq(s.due[i], vclock_deadline_ns(&v, i));
	vclock_close(&v);
}

Test(vclock, a_stopped_clock_makes_no_call_and_restarts_on_a_new_grid)
{
	static struct stamps s;
	struct devcfg cfg;
	struct vclock v;
	atomic_init(&s.n, 0);
	s.v = &v;
	devcfg_default(&cfg);
	cfg.callback = stamp_cb;
	cfg.user = &s;
	cr_assert_eq(vclock_open(&v, &cfg), 0);
	cr_assert_eq(vclock_start(&v), 0);
	sleep_ms(30);
	vclock_stop(&v);
	uint64_t c1 = vclock_callbacks(&v);
	int64_t t0 = vclock_deadline_ns(&v, 0);
	cr_assert_geq(c1, 1, "period 0 is due at the start");
	sleep_ms(30);
	cr_assert_eq(vclock_callbacks(&v), c1, "no call while stopped");

	int64_t restart = now_ns();
	cr_assert_eq(vclock_start(&v), 0);
	sleep_ms(30);
	vclock_stop(&v);
	cr_assert_gt(vclock_callbacks(&v), c1, "running again");
	/* Period 0 is the restart: nothing of the paused time is owed. */
	cr_assert_geq(vclock_deadline_ns(&v, 0), restart);
	cr_assert_gt(vclock_deadline_ns(&v, 0), t0);
	vclock_close(&v);
}

Test(vclock, device_facade_drives_the_virtual_clock)
{
	struct counter c = {.stop_at = 0};
	struct devcfg cfg;
	struct device d;
	devcfg_default(&cfg);
	cfg.callback = count_cb;
	cfg.user = &c;
	cfg.mode = VCLOCK_MANUAL;
	cr_assert_eq(device_open(&d, DEVICE_VCLOCK, &cfg), 0);
	cr_assert_eq(device_start(&d), 0);
	cr_assert_eq(vclock_step(&d.u.vc, 7), 7);
	cr_assert_eq(device_callbacks(&d), 7);
	cr_assert_eq(device_frames(&d), 7 * 128);
	cr_assert_eq(device_xruns(&d), 0);
	cr_assert_str_eq(device_error(&d), "");
	cr_assert_eq(device_stop(&d), 0);
	device_close(&d);
}
