/*
 * app_signal: SIGINT and SIGTERM as a "please stop", taken by the control
 * thread only
 *
 * app_signal_install, called by a command before it starts any thread,
 * installs a handler that only sets a flag (async-signal-safe, with
 * SA_RESTART) and blocks SIGINT and SIGTERM in the calling thread. Every
 * thread started afterwards (disk server, net thread, virtual clock,
 * PortAudio's and JACK's threads) inherits that mask, so the handler never
 * runs on them: no signal interrupts a system call there, and none ever
 * reaches the audio thread. The signals stay pending until the control
 * thread waits in app_signal_wait, which unblocks them for the length of
 * its wait only (ppoll): the handler runs there and the wait returns.
 *
 * So a signal during set-up stops the program as soon as its control loop
 * first waits (every recording is created and finalized, maybe empty),
 * and signals that arrive while it shuts down are absorbed: the shutdown
 * always finishes every recording, bounded by its own timeouts (SIGKILL
 * still ends it at once). The signals stay blocked until the process
 * exits: one that comes while it exits is discarded with it, and the exit
 * status stays the command's.
 *
 * Context: control (main) thread.
 */
#ifndef RTB_APP_SIGNAL_H
#define RTB_APP_SIGNAL_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Install the handler, clear the flag and block SIGINT and SIGTERM in the
 * calling thread.
 *
 * Return: 0 or a negated errno
 * Context: the main thread, before any other thread starts
 */
int app_signal_install(void);

/* Whether a stop was asked for. Context: any thread. */
bool app_signal_stop_requested(void);

/* The signal that asked for the stop, or 0. Context: any thread. */
int app_signal_last(void);

/*
 * Wait until `fd` (-1: none) is readable, SIGINT or SIGTERM arrives, or
 * CLOCK_MONOTONIC reaches `deadline_ns` (INT64_MAX: no limit).
 *
 * Return: 1 when fd is readable (nothing is read from it), 0 on a signal
 *         or the timeout
 * Context: the thread that installed the handler
 */
int app_signal_wait(int fd, int64_t deadline_ns);

#endif
