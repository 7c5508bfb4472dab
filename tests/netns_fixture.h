/*
 * netns_fixture: run a test inside a private network namespace, so that
 * multicast and SAP traffic never leaves what the test created
 *
 * netns_enter() moves the calling thread into a new, empty network
 * namespace (unshare(CLONE_NEWNET); it disappears with the process),
 * brings lo up with multicast on and routes IPv4 multicast (224.0.0.0/4)
 * over it, then checks with `ip route get` that a group routes there.
 * netns_veth() adds a veth pair inside it (IPv6 multicast needs a real
 * link: lo does not loop IPv6 multicast back), without duplicate address
 * detection so that its link-local addresses are usable at once. Threads
 * started afterwards (the net thread) are in the namespace too; start
 * them after entering it.
 *
 * Test thread only; needs root (CAP_SYS_ADMIN) and iproute2. Without
 * them netns_enter returns -1 with the reason, and the test skips. The
 * including file defines _GNU_SOURCE before its first include.
 */
#ifndef RTB_TESTS_NETNS_FIXTURE_H
#define RTB_TESTS_NETNS_FIXTURE_H

#ifndef _GNU_SOURCE
#error "define _GNU_SOURCE (unshare) before the first include"
#endif
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Run a shell command; Return: its exit status (-1 if it did not run). */
static int netns_sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return st == -1 ? -1 : (st >> 8) & 0xff;
}

/* Whether `ip route get DEST [oif DEV]` says "dev DEV". */
static int netns_routes_via(const char *dest, const char *dev, bool v6)
{
	char cmd[256], line[512];
	snprintf(cmd, sizeof cmd, "ip %s route get %s %s%s 2>&1",
	         v6 ? "-6" : "-4", dest, v6 ? "oif " : "", v6 ? dev : "");
	FILE *p = popen(cmd, "r");
	if (!p)
		return 0;
	char want[64];
	snprintf(want, sizeof want, " dev %s ", dev);
	int ok = 0;
	while (fgets(line, sizeof line, p))
		if (strstr(line, want))
			ok = 1;
	pclose(p);
	return ok;
}

/* Enter a fresh namespace with IPv4 multicast routed over lo; check that
   `group` routes there. Return: 0, or -1 with why[] filled. */
static int netns_enter(const char *group, char *why, size_t n)
{
	if (geteuid() != 0) {
		snprintf(why, n, "needs root for a private network namespace");
		return -1;
	}
	if (unshare(CLONE_NEWNET) != 0) {
		snprintf(why, n, "unshare(CLONE_NEWNET): %s", strerror(errno));
		return -1;
	}
	if (netns_sh("ip link set lo up && ip link set lo multicast on && "
	             "ip route add 224.0.0.0/4 dev lo") != 0) {
		snprintf(why, n,
		         "cannot set up lo in the namespace (iproute2)");
		return -1;
	}
	if (!netns_routes_via(group, "lo", false)) {
		snprintf(why, n, "%s does not route over lo in the namespace",
		         group);
		return -1;
	}
	return 0;
}

/* A veth pair a <-> b inside the namespace, up, IPv6 link-local usable
   at once, with `group` (IPv6) routed out of a. Return: 0 or -1. */
static int netns_veth(const char *a, const char *b, const char *group,
                      char *why, size_t n)
{
	if (netns_sh("sysctl -qw net.ipv6.conf.default.accept_dad=0 && "
	             "ip link add %s type veth peer name %s && "
	             "ip link set %s up && ip link set %s up",
	             a, b, a, b) != 0) {
		snprintf(why, n, "cannot create veth %s/%s", a, b);
		return -1;
	}
	/* The link-local addresses come up with the links; wait (bounded)
	   until the route lookup sees them. */
	for (int i = 0; i < 100; i++) {
		if (netns_routes_via(group, a, true) &&
		    netns_sh("ip -6 addr show dev %s | grep -q 'scope link' && "
		             "ip -6 addr show dev %s | grep -q 'scope link'",
		             a, b) == 0)
			return 0;
		usleep(20000);
	}
	snprintf(why, n, "%s does not route over %s", group, a);
	return -1;
}

#endif
