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
static struct sigaction app_signal__old_int, app_signal__old_term;
static sigset_t app_signal__old_mask;  /* before install */
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
	int err = pthread_sigmask(SIG_BLOCK, &stop, &app_signal__old_mask);
	if (err != 0)
		return -err;
	app_signal__wait_mask = app_signal__old_mask;
	sigdelset(&app_signal__wait_mask, SIGINT);
	sigdelset(&app_signal__wait_mask, SIGTERM);
	if (sigaction(SIGINT, &sa, &app_signal__old_int) < 0)
		goto fail;
	if (sigaction(SIGTERM, &sa, &app_signal__old_term) < 0) {
		sigaction(SIGINT, &app_signal__old_int, NULL);
		goto fail;
	}
	app_signal__installed = true;
	return 0;
fail:
	err = -errno;
	pthread_sigmask(SIG_SETMASK, &app_signal__old_mask, NULL);
	return err;
}

void app_signal_restore(void)
{
	struct sigaction ign;

	if (!app_signal__installed)
		return;
	/* Ignoring a signal discards it if pending: a signal absorbed during
	   the shutdown must not take the default action at the unblock. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGTERM, &ign, NULL);
	sigaction(SIGINT, &app_signal__old_int, NULL);
	sigaction(SIGTERM, &app_signal__old_term, NULL);
	pthread_sigmask(SIG_SETMASK, &app_signal__old_mask, NULL);
	app_signal__installed = false;
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
