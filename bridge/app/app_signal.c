/*
 * app_signal: SIGINT/SIGTERM blocked everywhere, taken in the control
 * thread's waits (see app_signal.h)
 */
#define _GNU_SOURCE /* ppoll */
#include "bridge/app/app_signal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t app_signal__caught;
static sigset_t app_signal__wait_mask; /* during app_signal_wait */
static bool app_signal__installed;

static void app_signal__handler(int sig)
{
	/* The first signal names the stop; later ones change nothing. */
	if (!app_signal__caught)
		app_signal__caught = sig;
}

int app_signal_install(void)
{
	struct sigaction sa;
	sigset_t stop;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = app_signal__handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	app_signal__caught = 0;
	/* Blocked first: from here on a signal waits for app_signal_wait. */
	sigset_t old;
	int err = pthread_sigmask(SIG_BLOCK, &stop, &old);
	if (err != 0)
		return -err;
	app_signal__wait_mask = old;
	sigdelset(&app_signal__wait_mask, SIGINT);
	sigdelset(&app_signal__wait_mask, SIGTERM);
	struct sigaction old_int;
	if (sigaction(SIGINT, &sa, &old_int) < 0)
		goto fail;
	if (sigaction(SIGTERM, &sa, NULL) < 0) {
		sigaction(SIGINT, &old_int, NULL);
		goto fail;
	}
	app_signal__installed = true;
	return 0;
fail:
	err = -errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

bool app_signal_stop_requested(void)
{
	return app_signal__caught != 0;
}

int app_signal_last(void)
{
	return (int)app_signal__caught;
}

int app_signal_wait(int fd, int64_t deadline_ns)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct timespec ts, *tp = NULL;

	if (app_signal__caught)
		return 0;
	if (deadline_ns < INT64_MAX) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t left = deadline_ns -
		               ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
		if (left < 0)
			left = 0;
		ts.tv_sec = (time_t)(left / 1000000000);
		ts.tv_nsec = (long)(left % 1000000000);
		tp = &ts;
	}
	/* ppoll unblocks SIGINT/SIGTERM only while it waits: a pending one
	   runs the handler here, on this thread, and ends the wait. */
	int n = ppoll(&p, fd >= 0 ? 1 : 0, tp,
	              app_signal__installed ? &app_signal__wait_mask : NULL);
	return n > 0 && (p.revents & POLLIN) ? 1 : 0;
}
