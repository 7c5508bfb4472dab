/*
 * app_signal: stop flag set by SIGINT/SIGTERM (see app_signal.h)
 */
#include "bridge/app/app_signal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t app_signal__caught;
static struct sigaction app_signal__old_int, app_signal__old_term;
static bool app_signal__installed;

static void app_signal__handler(int sig)
{
	if (app_signal__caught) {
		/* Second signal: the next one takes the default action. */
		signal(sig, SIG_DFL);
		return;
	}
	app_signal__caught = sig;
}

int app_signal_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = app_signal__handler;
	sigemptyset(&sa.sa_mask);
	app_signal__caught = 0;
	if (sigaction(SIGINT, &sa, &app_signal__old_int) < 0)
		return -errno;
	if (sigaction(SIGTERM, &sa, &app_signal__old_term) < 0) {
		int err = -errno;
		sigaction(SIGINT, &app_signal__old_int, NULL);
		return err;
	}
	app_signal__installed = true;
	return 0;
}

void app_signal_restore(void)
{
	if (!app_signal__installed)
		return;
	sigaction(SIGINT, &app_signal__old_int, NULL);
	sigaction(SIGTERM, &app_signal__old_term, NULL);
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
