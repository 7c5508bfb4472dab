/*
 * app_signal: SIGINT and SIGTERM as a "please stop" flag
 *
 * The handler only sets a flag (async-signal-safe); the control thread's
 * main loop polls it and shuts down in order, so that recordings are
 * finalized. A second signal while the first is being handled restores
 * the default action, so a hung shutdown can still be interrupted.
 *
 * Context: control (main) thread; the handler runs on whichever thread
 * the kernel picks and touches nothing but the flag.
 */
#ifndef RTB_APP_SIGNAL_H
#define RTB_APP_SIGNAL_H

#include <stdbool.h>

/*
 * Install the handlers for SIGINT and SIGTERM and clear the flag.
 *
 * Return: 0 or a negated errno
 * Context: control thread, before starting other threads
 */
int app_signal_install(void);

/* Put the previous handlers back. Context: control thread. */
void app_signal_restore(void);

/* Whether a stop was asked for. Context: any thread. */
bool app_signal_stop_requested(void);

/* The signal that asked for the stop, or 0. Context: any thread. */
int app_signal_last(void);

#endif
