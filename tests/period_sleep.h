/*
 * period_sleep: sleep to the next period of a simulated audio callback,
 * for the tests that play the application's part of the public API
 *
 * Context: the test's thread (outside its real-time section).
 */
#ifndef RTB_TESTS_PERIOD_SLEEP_H
#define RTB_TESTS_PERIOD_SLEEP_H

#include <errno.h>
#include <time.h>

/* Sleep until *t + ns (less than a second), and step *t. */
static inline void period_sleep(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) ==
	       EINTR)
		;
}

#endif
