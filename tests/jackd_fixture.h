/*
 * A private JACK server for tests that need a real, paced PortAudio device
 *
 * jackd with its dummy backend runs like a sound card without hardware.
 * Each test process starts its own under a private server name (so that
 * parallel runs never meet), points JACK clients at it through the
 * environment, and stops it by its PID. When jackd2 is missing the test is
 * skipped with a reason if we are not root (we could not install it), and
 * fails if we are (tools/setup.sh --tools should have installed it).
 *
 * Usage: jackd_fixture_up("rtb_mytest") in the test body, and
 * `.fini = jackd_fixture_down` on the Test (also safe to call directly).
 */
#ifndef RTB_TESTS_JACKD_FIXTURE_H
#define RTB_TESTS_JACKD_FIXTURE_H

#include <criterion/criterion.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static pid_t jackd_fixture_pid;
static char jackd_fixture_server[64];

/* Run argv to completion. Return: its exit status, or -1. */
static inline int jackd_fixture_run(char *const argv[])
{
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * Start jackd -d dummy at 48 kHz, 256-frame periods, and wait until it
 * accepts clients (at most 10 s)
 *
 * Post: JACK_DEFAULT_SERVER names it; JACK clients never start a server
 *       of their own
 * Return: the server's name
 */
static inline const char *jackd_fixture_up(const char *prefix)
{
	if (system("command -v jackd >/dev/null 2>&1 && "
	           "command -v jack_wait >/dev/null 2>&1") != 0) {
		if (geteuid() != 0)
			cr_skip_test(
			        "jackd2 is not installed and we are not "
			        "root (tools/setup.sh --tools installs it)");
		cr_assert_fail("jackd2 is not installed: run tools/setup.sh "
		               "--tools");
	}
	snprintf(jackd_fixture_server, sizeof jackd_fixture_server, "%s_%d",
	         prefix, (int)getpid());
	setenv("JACK_DEFAULT_SERVER", jackd_fixture_server, 1);
	setenv("JACK_NO_AUDIO_RESERVATION", "1", 1);
	setenv("JACK_NO_START_SERVER", "1", 1);
	char *argv[] = {"jackd",
	                "-n",
	                jackd_fixture_server,
	                "--no-realtime",
	                "-d",
	                "dummy",
	                "-r",
	                "48000",
	                "-p",
	                "256",
	                NULL};
	cr_assert_eq(posix_spawnp(&jackd_fixture_pid, "jackd", NULL, NULL, argv,
	                          environ),
	             0, "cannot start jackd");
	char *wait_argv[] = {"jack_wait", "-s", jackd_fixture_server,
	                     "-w",        "-t", "10",
	                     NULL};
	cr_assert_eq(jackd_fixture_run(wait_argv), 0,
	             "jack_wait: server '%s' did not come up",
	             jackd_fixture_server);
	return jackd_fixture_server;
}

/* Stop the server: SIGTERM, then SIGKILL after 5 s. */
static inline void jackd_fixture_down(void)
{
	if (jackd_fixture_pid <= 0)
		return;
	kill(jackd_fixture_pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		if (waitpid(jackd_fixture_pid, NULL, WNOHANG) ==
		    jackd_fixture_pid) {
			jackd_fixture_pid = 0;
			return;
		}
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	}
	kill(jackd_fixture_pid, SIGKILL);
	waitpid(jackd_fixture_pid, NULL, 0);
	jackd_fixture_pid = 0;
}

#endif
