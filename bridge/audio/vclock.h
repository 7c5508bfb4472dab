/*
 * vclock: the virtual clock device, an audio callback without a sound card
 *
 * Three modes (devcfg.mode):
 *
 * - VCLOCK_REALTIME: a thread calls the callback once per period, paced by
 *   CLOCK_MONOTONIC with absolute deadlines. Period k is due at
 *   t0 + k * period / rate, computed from k with integer arithmetic, and the
 *   thread sleeps with clock_nanosleep(TIMER_ABSTIME) until then, so timing
 *   error never accumulates. Lateness policy: a thread woken late (a busy
 *   machine) runs the periods it owes back to back, up to VCLOCK_CATCHUP_NS
 *   of them, so the frames made always match the time passed: a virtual
 *   device has no hardware buffer to underflow, and a headless recorder
 *   wants a mix as long as the session and streams whose consumption does
 *   not jump. Only when it is further behind than that (the machine
 *   stopped it) are the missed periods counted as xruns and skipped; the
 *   schedule resumes on the original grid at the period now due.
 *   A clock with nothing to do is paused by its owner: vclock_stop, then
 *   vclock_start again (a new grid from the restart). With devcfg.batch
 *   > 1, the thread wakes once per group of that many periods, at the
 *   deadline of the group's last, and runs the group back to back: a
 *   period never runs before its deadline, at most batch - 1 periods
 *   after it (a consumer that fits its clock to the floor of the
 *   callback times sees the same grid), and wake-ups come batch times
 *   less often. With devcfg.ready, a woken thread first asks whether
 *   the group's sources are in place (a net thread's read planned just
 *   before the look) and, on a no, waits in short steps, boundedly, for
 *   a yes: a reader the machine held up past the look then costs the
 *   group a few ms of lateness nobody hears, instead of a group's worth
 *   of concealment in every stream.
 * - VCLOCK_FAST: the thread calls the callback back to back (for tests that
 *   want many periods quickly).
 * - VCLOCK_MANUAL: no thread. vclock_step() runs periods synchronously on
 *   the caller's thread, which is the audio thread for that time.
 *
 * Input, when configured, is silence. The device owns its input and output
 * buffers (allocated at open).
 *
 * Contexts: open/start/stop/close/step on the control thread (step: the
 * thread that acts as the audio thread in manual mode); counters from any
 * thread.
 */
#ifndef RTB_VCLOCK_H
#define RTB_VCLOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bridge/audio/devcfg.h"

/* Lateness a real-time virtual clock makes up by running the periods it
   owes back to back, ns; beyond it, they are skipped as xruns. */
#define VCLOCK_CATCHUP_NS 200000000ll

/* How long a woken group waits at most for devcfg.ready to say yes, ns,
   and how often it asks meanwhile. A quarter of a 40 ms group: the
   clock still keeps its grid, and a net thread held up longer than
   that by a busy machine is not waited for. */
#define VCLOCK_READY_WAIT_NS 10000000ll
#define VCLOCK_READY_STEP_NS 500000ll

struct vclock {
	struct devcfg cfg;
	float *in;  /* period * in_channels zeros, or NULL */
	float *out; /* period * out_channels, or NULL */
	pthread_t thread;
	bool running;      /* control: a thread has been started */
	_Atomic bool quit; /* control -> thread: stop at the next period */
	_Atomic bool done; /* thread: the callback asked to stop */
	_Atomic uint64_t callbacks;        /* periods called */
	_Atomic uint64_t xruns;            /* periods skipped for lateness */
	_Atomic int64_t late_max_ns;       /* worst wake-up lateness */
	_Atomic uint64_t ready_waits;      /* groups devcfg.ready held back */
	_Atomic uint64_t ready_timeouts;   /* ... that ran without its yes */
	_Atomic int64_t ready_wait_max_ns; /* longest such wait */
	int64_t t0_ns; /* CLOCK_MONOTONIC time of period 0 */
	/* REALTIME: the thread's next wake-up (CLOCK_MONOTONIC ns), 0 before
	   the first; written by the thread, read by anyone. */
	_Atomic int64_t next_wake_ns;
	/* REALTIME: the deadline of the period being run, -1 otherwise;
	   the audio thread's alone (vclock_period_due_ns). */
	int64_t period_due_ns;
};

/*
 * Prepare the device (allocates its buffers; starts nothing).
 *
 * Return: 0, -EINVAL (bad configuration) or -ENOMEM
 * Context: control thread
 */
int vclock_open(struct vclock *v, const struct devcfg *cfg);

/*
 * Start the pacing thread (REALTIME and FAST modes); in MANUAL mode only
 * resets the period counter's time origin.
 *
 * Return: 0, -EALREADY when running, or a negated pthread error
 * Context: control thread
 */
int vclock_start(struct vclock *v);

/*
 * Run `n` periods now on the calling thread (MANUAL mode), each bracketed
 * by rthook_rt_enter/leave.
 *
 * Return: the number of periods run (fewer than n when the callback asked
 *         to stop), or -EINVAL when not in manual mode
 * Context: the thread acting as audio thread
 */
int vclock_step(struct vclock *v, size_t n);

/*
 * Stop the thread and join it (no-op in MANUAL mode or when stopped).
 *
 * Return: 0
 * Context: control thread
 */
int vclock_stop(struct vclock *v);

/* Stop and free the buffers. Context: control thread. */
void vclock_close(struct vclock *v);

/*
 * Whether the callback has asked to stop (the thread has then exited its
 * loop; vclock_stop still has to join it).
 *
 * Context: any thread
 */
bool vclock_done(const struct vclock *v);

/*
 * Absolute CLOCK_MONOTONIC deadline of period k, in ns: t0 + k*period/rate
 * seconds, exact to the nanosecond for any k (no accumulated rounding).
 *
 * Context: any thread
 */
int64_t vclock_deadline_ns(const struct vclock *v, uint64_t k);

/*
 * When the pacing thread (REALTIME mode) next wakes up after `after`
 * (CLOCK_MONOTONIC ns): its next planned wake-up, or that plus as many
 * wake-up intervals (batch periods) as it takes to pass `after`. Those
 * are the times at which the callbacks of a batched clock look at their
 * sources. A stopped clock answers on its last grid.
 *
 * Return: the time, or -1 when there is none to tell (another mode, or
 *         the thread never ran)
 * Context: any thread
 */
int64_t vclock_next_wake_ns(const struct vclock *v, int64_t after);

/*
 * When the period being run was due (CLOCK_MONOTONIC ns): a realtime
 * clock runs each period at its deadline or, woken late or in a batch,
 * after it, and this is the deadline, the time its frames stand for.
 *
 * Return: the deadline, or -1 in the other modes
 * Context: the audio thread, inside the callback
 */
int64_t vclock_period_due_ns(const struct vclock *v);

/* Counters. Context: any thread. */
uint64_t vclock_callbacks(const struct vclock *v);
uint64_t vclock_xruns(const struct vclock *v);
int64_t vclock_late_max_ns(const struct vclock *v);

/* Groups that waited for devcfg.ready, those that gave up waiting, and
   the longest wait (ns). Context: any thread. */
uint64_t vclock_ready_waits(const struct vclock *v);
uint64_t vclock_ready_timeouts(const struct vclock *v);
int64_t vclock_ready_wait_max_ns(const struct vclock *v);

#endif
