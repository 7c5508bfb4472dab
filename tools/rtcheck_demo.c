/*
 * rtcheck_demo: break the real-time rules on purpose and report what the
 * checker saw
 *
 * A thread declares itself real-time through rthook (so the program does
 * not link the checker), allocates and frees a block, and leaves. The main
 * thread then prints one line:
 *
 *	rtcheck: loaded=1 alloc=2 lock=0 syscall=0 total=2 first=malloc
 *
 * or "rtcheck: loaded=0" when librtcheck.so is not in the process. Run it as
 * LD_PRELOAD=build/bridge/rtcheck/librtcheck.so rtcheck_demo. Exit status 0
 * unless the thread cannot be started.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/rtcheck/rtcheck.h"
#include "bridge/rtcheck/rthook.h"

/* Volatile so that the compiler cannot drop the malloc/free pair. */
static void *volatile demo_sink;

static void *demo_rt_thread(void *arg)
{
	(void)arg;
	rthook_rt_enter();
	demo_sink = malloc(256);
	if (demo_sink != NULL)
		memset(demo_sink, 0x5a, 256);
	free(demo_sink);
	rthook_rt_leave();
	return NULL;
}

int main(void)
{
	void (*get)(struct rtcheck_counts *);
	struct rtcheck_counts c;
	pthread_t t;
	int loaded = rthook_init();

	if (pthread_create(&t, NULL, demo_rt_thread, NULL) != 0) {
		fprintf(stderr, "rtcheck_demo: cannot start a thread\n");
		return 1;
	}
	pthread_join(t, NULL);
	if (!loaded) {
		printf("rtcheck: loaded=0\n");
		return 0;
	}
	get = (void (*)(struct rtcheck_counts *))dlsym(RTLD_DEFAULT,
	                                               "rtcheck_get");
	get(&c);
	printf("rtcheck: loaded=1 alloc=%lu lock=%lu syscall=%lu total=%lu "
	       "first=%s\n",
	       c.alloc, c.lock, c.syscall, c.total,
	       c.first[0] != '\0' ? c.first : "-");
	return 0;
}
