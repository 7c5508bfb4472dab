/*
 * A running disk server and a scratch directory, for the stream tests
 *
 * .init = setup makes the directory; start_server() starts the server with
 * the given faults (or none); finish() at the end of a test stops it
 * (every stream must have been closed) and checks for leaks; .fini =
 * teardown stops a server a failed test left running and removes the
 * directory. The stream helpers are in disk_util.h.
 */
#ifndef RTB_TESTS_DISK_FIXTURE_H
#define RTB_TESTS_DISK_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bridge/disk/diskserver.h"
#include "tests/disk_util.h"
#include "tests/leakcheck.h"

static char tmpdir[256];
static struct diskserver srv;
static int srv_running;

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rtb_disktest_XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	srv_running = 0;
}

static void teardown(void)
{
	if (srv_running)
		cr_expect_eq(diskserver_stop(&srv), 0, "streams left open");
	srv_running = 0;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void)!system(cmd);
}

static void finish(void)
{
	if (srv_running) {
		srv_running = 0;
		cr_assert_eq(diskserver_stop(&srv), 0, "streams left open");
	}
	LEAKCHECK();
}

static void start_server(const struct diskfaults *faults)
{
	static const struct diskfaults none = {0};
	struct diskserver_opts o = {.faults = faults ? faults : &none};
	cr_assert_eq(diskserver_start(&srv, &o), 0, "%s",
	             diskserver_error(&srv));
	srv_running = 1;
}

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

#endif
