/*
 * Hooks from production code into the real-time checker, when present
 *
 * The audio callback marks itself real-time with rthook_rt_enter() and
 * rthook_rt_leave(). When librtcheck.so is loaded (linked into a test, or
 * through LD_PRELOAD) these forward to it; otherwise they do nothing. The
 * code using them never links the checker: rthook_init() looks its entry
 * points up at run time with dlsym(RTLD_DEFAULT, ...).
 *
 * Call rthook_init() once on the control thread before starting any
 * real-time thread; the pointers it stores are read-only afterwards.
 */
#ifndef RTB_RTHOOK_H
#define RTB_RTHOOK_H

/* SCHED_FIFO priorities asked for by rthook_promote's callers: the audio
   thread above the net thread (a late callback is a glitch, a late
   datagram only moves the jitter estimate), both below the interrupt
   threads of a PREEMPT_RT kernel (50) so that the network card is served
   first, and above every ordinary thread. */
#define RTHOOK_PRIORITY_AUDIO 40
#define RTHOOK_PRIORITY_NET   38

/*
 * Look up the checker's entry points
 *
 * Return: 1 if librtcheck is loaded in the process, 0 if not
 * Post: rthook_rt_enter/leave forward to the checker when it is loaded
 * Context: control thread, before any real-time thread starts
 */
int rthook_init(void);

/*
 * Mark the calling thread real-time (nesting allowed)
 *
 * Context: the real-time thread, real-time safe (an indirect call, or nothing)
 */
void rthook_rt_enter(void);

/*
 * Undo one rthook_rt_enter() on the calling thread
 *
 * Context: the real-time thread, real-time safe (an indirect call, or nothing)
 */
void rthook_rt_leave(void);

/*
 * Total number of violations counted by the checker since its last reset
 *
 * Return: the checker's total, or 0 when it is not loaded
 * Context: any thread
 */
unsigned long rthook_violations(void);

/*
 * Ask the scheduler to run the calling thread SCHED_FIFO at `priority`, as
 * audio programs do (JACK, PipeWire through rtkit): a busy machine then
 * delays the audio and network threads by microseconds, not by a
 * scheduler slice. Not allowed without CAP_SYS_NICE or an RLIMIT_RTPRIO
 * (an ordinary user, most containers): the thread then keeps its normal
 * policy and nothing else changes. RTBRIDGE_NO_RT=1 in the environment
 * (read by rthook_init) turns it off.
 *
 * Return: 0 when promoted, -EPERM (or another -errno) when not, -ECANCELED
 *         when turned off
 * Context: the thread itself, at its start (a system call: never inside
 *          the real-time section)
 */
int rthook_promote(int priority);

/*
 * Return: 1 if rthook_init() found the checker, 0 otherwise
 * Context: any thread
 */
int rthook_loaded(void);

#endif
