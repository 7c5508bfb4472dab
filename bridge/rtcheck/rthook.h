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
 * Return: 1 if rthook_init() found the checker, 0 otherwise
 * Context: any thread
 */
int rthook_loaded(void);

#endif
