/*
 * Hooks into the real-time checker, for production code
 *
 * rthook_init() (control thread) looks the checker's entry points up with
 * dlsym(RTLD_DEFAULT, ...): they exist only when librtcheck.so is part of
 * the process. The real-time thread then calls through the stored pointers,
 * or does nothing. The pointers are atomics so that a late rthook_init()
 * racing with a running real-time thread stays well defined; relaxed is
 * enough because only the code address itself is published.
 */
#define _GNU_SOURCE

#include "bridge/rtcheck/rthook.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/rtcheck/rtcheck.h"

typedef void (*rthook_fn)(void);
typedef void (*rthook_get_fn)(struct rtcheck_counts *out);

static _Atomic(rthook_fn) rthook__enter;
static _Atomic(rthook_fn) rthook__leave;
static _Atomic(rthook_get_fn) rthook__get;
static atomic_bool rthook__no_rt;

int rthook_init(void)
{
	rthook_fn enter = (rthook_fn)dlsym(RTLD_DEFAULT, "rtcheck_rt_enter");
	rthook_fn leave = (rthook_fn)dlsym(RTLD_DEFAULT, "rtcheck_rt_leave");
	rthook_get_fn get = (rthook_get_fn)dlsym(RTLD_DEFAULT, "rtcheck_get");

	if (enter == NULL || leave == NULL || get == NULL) {
		enter = NULL;
		leave = NULL;
		get = NULL;
	}
	atomic_store_explicit(&rthook__enter, enter, memory_order_relaxed);
	atomic_store_explicit(&rthook__leave, leave, memory_order_relaxed);
	atomic_store_explicit(&rthook__get, get, memory_order_relaxed);
	/* A switch, read once: relaxed, the threads it concerns start
	   after this call. */
	const char *no_rt = getenv("RTBRIDGE_NO_RT");
	atomic_store_explicit(&rthook__no_rt,
	                      no_rt && no_rt[0] && strcmp(no_rt, "0") != 0,
	                      memory_order_relaxed);
	return get != NULL;
}

void rthook_rt_enter(void)
{
	rthook_fn fn =
	        atomic_load_explicit(&rthook__enter, memory_order_relaxed);

	if (fn != NULL)
		fn();
}

void rthook_rt_leave(void)
{
	rthook_fn fn =
	        atomic_load_explicit(&rthook__leave, memory_order_relaxed);

	if (fn != NULL)
		fn();
}

int rthook_promote(int priority)
{
	struct sched_param sp;

	if (atomic_load_explicit(&rthook__no_rt, memory_order_relaxed))
		return -ECANCELED;
	memset(&sp, 0, sizeof(sp));
	sp.sched_priority = priority;
	return -pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
}

unsigned long rthook_violations(void)
{
	rthook_get_fn fn =
	        atomic_load_explicit(&rthook__get, memory_order_relaxed);
	struct rtcheck_counts c;

	if (fn == NULL)
		return 0;
	fn(&c);
	return c.total;
}

int rthook_loaded(void)
{
	return atomic_load_explicit(&rthook__get, memory_order_relaxed) != NULL;
}
