/*
 * Address parsing and the allow-list: pure, single-threaded. Only
 * "localhost" goes through the resolver; unresolvable names use the
 * reserved ".invalid" top-level domain (RFC 6761), which never resolves.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "bridge/net/addr.h"

TestSuite(addr, .timeout = 30);

static struct sockaddr_storage ss;
static socklen_t sslen;
static char err[160];

static int parse(const char *text, unsigned flags)
{
	err[0] = '\0';
	memset(&ss, 0xa5, sizeof ss);
	return addr_parse(&ss, &sslen, text, flags, err, sizeof err);
}

static const char *fmt(void)
{
	static char buf[ADDR_TEXT_MAX];
	return addr_format((struct sockaddr *)&ss, buf, sizeof buf);
}

Test(addr, parses_ipv4_host_and_port)
{
	cr_assert_eq(parse("192.168.1.20:5004", 0), 0, "%s", err);
	cr_assert_eq(ss.ss_family, AF_INET);
	cr_assert_eq(sslen, sizeof(struct sockaddr_in));
	cr_assert_str_eq(fmt(), "192.168.1.20:5004");
	cr_assert_eq(addr_port((struct sockaddr *)&ss), 5004);
}

Test(addr, parses_bracketed_ipv6_and_zone)
{
	cr_assert_eq(parse("[::1]:6000", 0), 0, "%s", err);
	cr_assert_eq(ss.ss_family, AF_INET6);
	cr_assert_str_eq(fmt(), "[::1]:6000");
	cr_assert_eq(parse("[ff02::1%lo]:7000", 0), 0, "%s", err);
	cr_assert_neq(((struct sockaddr_in6 *)&ss)->sin6_scope_id, 0u);
}

Test(addr, port_alone_is_a_wildcard_listen_address)
{
	cr_assert_eq(parse("5004", ADDR_LISTEN), 0, "%s", err);
	cr_assert_str_eq(fmt(), "0.0.0.0:5004");
	cr_assert_eq(parse("5004", ADDR_LISTEN | ADDR_PREFER_V6), 0, "%s", err);
	cr_assert_str_eq(fmt(), "[::]:5004");
	cr_assert_eq(parse("0", ADDR_LISTEN | ADDR_PORT_ZERO), 0, "%s", err);
	cr_assert_eq(addr_port((struct sockaddr *)&ss), 0);
}

Test(addr, port_alone_is_refused_for_a_peer)
{
	cr_assert_eq(parse("5004", 0), -EINVAL);
	cr_assert(strstr(err, "missing host") != NULL, "%s", err);
}

Test(addr, rejects_bad_ports_with_a_message)
{
	const char *bad[] = {"1.2.3.4:0",   "1.2.3.4:65536", "1.2.3.4:99999",
	                     "1.2.3.4:-1",  "1.2.3.4:5x",    "1.2.3.4:+80",
	                     "1.2.3.4: 80", "1.2.3.4:000080"};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(parse(bad[i], 0), -EINVAL, "%s", bad[i]);
		cr_assert(strstr(err, "bad port") != NULL, "%s: %s", bad[i],
		          err);
		cr_assert(strstr(err, bad[i]) != NULL,
		          "message names the text: %s", err);
	}
	cr_assert_eq(parse("1.2.3.4:", 0), -EINVAL);
	cr_assert(strstr(err, "missing port") != NULL, "%s", err);
	cr_assert_eq(parse("1.2.3.4:65535", 0), 0, "%s", err);
	cr_assert_eq(parse("1.2.3.4:1", 0), 0, "%s", err);
	cr_assert_eq(parse("1.2.3.4:0", ADDR_LISTEN | ADDR_PORT_ZERO), 0, "%s",
	             err);
}

Test(addr, rejects_malformed_addresses)
{
	cr_assert_eq(parse("", 0), -EINVAL);
	cr_assert_eq(parse("::1:5004", 0), -EINVAL);
	cr_assert(strstr(err, "brackets") != NULL, "%s", err);
	cr_assert_eq(parse("[::1]5004", 0), -EINVAL);
	cr_assert_eq(parse("[::1:5004", 0), -EINVAL);
	cr_assert_eq(parse("[]:5004", 0), -EINVAL);
	cr_assert_eq(parse("[1.2.3.4]:5004", 0), -EINVAL);
	cr_assert_eq(parse("[zz::1]:5004", 0), -EINVAL);
	cr_assert(strstr(err, "bad address") != NULL, "%s", err);
	cr_assert_eq(parse(":5004", 0), -EINVAL);
	cr_assert_eq(parse("1.2.3.4", 0), -EINVAL);
	cr_assert(strstr(err, "missing port") != NULL, "%s", err);
	cr_assert_eq(parse("300.1.1.1:5004", ADDR_NUMERIC), -EINVAL);
}

Test(addr, resolves_localhost)
{
	cr_assert_eq(parse("localhost:5004", 0), 0, "%s", err);
	cr_assert(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	cr_assert_eq(addr_port((struct sockaddr *)&ss), 5004);
}

Test(addr, unresolvable_host_is_named_in_the_message)
{
	cr_assert_eq(parse("no-such-host.invalid:5004", 0), -ENOENT);
	cr_assert(strstr(err, "unresolvable host 'no-such-host.invalid'") !=
	                  NULL,
	          "%s", err);
	cr_assert_eq(parse("localhost:5004", ADDR_NUMERIC), -EINVAL);
}

Test(addr, equal_compares_family_address_and_port)
{
	struct sockaddr_storage a, b;

	cr_assert_eq(addr_parse(&a, NULL, "10.0.0.1:5", 0, NULL, 0), 0);
	cr_assert_eq(addr_parse(&b, NULL, "10.0.0.1:5", 0, NULL, 0), 0);
	cr_assert(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	cr_assert_eq(addr_parse(&b, NULL, "10.0.0.1:6", 0, NULL, 0), 0);
	cr_assert_not(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	cr_assert_eq(addr_parse(&b, NULL, "[::ffff:10.0.0.1]:5", 0, NULL, 0),
	             0);
	cr_assert_not(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
}

static struct addr_net net(const char *text)
{
	struct addr_net n;
	char e[120];
	int rc = addr_net_parse(&n, text, e, sizeof e);
	cr_assert_eq(rc, 0, "%s: %s", text, e);
	return n;
}

static bool match(const struct addr_net *n, const char *ip)
{
	struct sockaddr_storage a;
	char text[80];

	snprintf(text, sizeof text, strchr(ip, ':') ? "[%s]:1" : "%s:1", ip);
	cr_assert_eq(addr_parse(&a, NULL, text, ADDR_NUMERIC, NULL, 0), 0, "%s",
	             text);
	return addr_net_match(n, (struct sockaddr *)&a);
}

Test(addr, allow_list_matches_ipv4_prefixes)
{
	struct addr_net n8 = net("10.0.0.0/8"), n27 = net("192.168.1.64/27"),
	                host = net("172.16.5.4"), all = net("0.0.0.0/0");

	cr_assert(match(&n8, "10.255.1.2"));
	cr_assert_not(match(&n8, "11.0.0.1"));
	cr_assert(match(&n27, "192.168.1.64"));
	cr_assert(match(&n27, "192.168.1.95"));
	cr_assert_not(match(&n27, "192.168.1.96"));
	cr_assert_not(match(&n27, "192.168.1.63"));
	cr_assert_eq(host.prefix, 32u);
	cr_assert(match(&host, "172.16.5.4"));
	cr_assert_not(match(&host, "172.16.5.5"));
	cr_assert(match(&all, "203.0.113.9"));
	cr_assert_not(match(&all, "::1"));
}

Test(addr, allow_list_clears_host_bits)
{
	struct addr_net n = net("10.1.2.3/8");

	cr_assert_eq(n.bytes[1], 0);
	cr_assert_eq(n.bytes[3], 0);
	cr_assert(match(&n, "10.9.9.9"));
}

Test(addr, allow_list_matches_ipv6_prefixes)
{
	struct addr_net n = net("2001:db8::/32"), n61 = net("fd00::/61"),
	                lo = net("::1");

	cr_assert(match(&n, "2001:db8:1::5"));
	cr_assert_not(match(&n, "2001:db9::5"));
	cr_assert(match(&n61, "fd00:0:0:7::1"));
	cr_assert_not(match(&n61, "fd00:0:0:8::1"));
	cr_assert(match(&lo, "::1"));
	cr_assert_not(match(&lo, "::2"));
	cr_assert_not(match(&n, "10.0.0.1"));
}

Test(addr, ipv4_mapped_source_matches_ipv4_network)
{
	struct addr_net n = net("192.168.0.0/16");

	cr_assert(match(&n, "::ffff:192.168.3.4"));
	cr_assert_not(match(&n, "::ffff:192.169.3.4"));
}

Test(addr, empty_allow_list_allows_everyone_and_any_entry_suffices)
{
	struct addr_net list[2];
	struct sockaddr_storage a;

	list[0] = net("10.0.0.0/8");
	list[1] = net("::1/128");
	cr_assert_eq(addr_parse(&a, NULL, "[::1]:9", 0, NULL, 0), 0);
	cr_assert(addr_allow_match(list, 0, (struct sockaddr *)&a));
	cr_assert(addr_allow_match(list, 2, (struct sockaddr *)&a));
	cr_assert_not(addr_allow_match(list, 1, (struct sockaddr *)&a));
}

Test(addr, allow_list_rejects_bad_networks)
{
	const char *bad[] = {
	        "",         "10.0.0.0/33",  "::/129",      "10.0.0.0/",
	        "10.0.0/8", "10.0.0.0/-1",  "10.0.0.0/8x", "host.example/8",
	        "/8",       "10.0.0.0/0008"};
	struct addr_net n;
	char e[120];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		e[0] = '\0';
		cr_assert_eq(addr_net_parse(&n, bad[i], e, sizeof e), -EINVAL,
		             "'%s'", bad[i]);
		cr_assert_neq(e[0], '\0', "'%s' gives a message", bad[i]);
	}
}

Test(addr, address_with_a_default_port)
{
	struct sockaddr_storage g;
	char txt[ADDR_TEXT_MAX], e[128];

	cr_assert_eq(
	        addr_parse_default_port(&g, "224.0.0.56", 9875, e, sizeof e),
	        0);
	cr_assert_str_eq(addr_format((struct sockaddr *)&g, txt, sizeof txt),
	                 "224.0.0.56:9875");
	cr_assert_eq(addr_parse_default_port(&g, "239.255.255.255:9000", 9875,
	                                     e, sizeof e),
	             0);
	cr_assert_eq(addr_port((struct sockaddr *)&g), 9000);
	cr_assert_eq(
	        addr_parse_default_port(&g, "ff05::2:7ffe", 9875, e, sizeof e),
	        0);
	cr_assert_str_eq(addr_format((struct sockaddr *)&g, txt, sizeof txt),
	                 "[ff05::2:7ffe]:9875");
	cr_assert_eq(addr_parse_default_port(&g, "[ff02::2:7ffe]", 9875, e,
	                                     sizeof e),
	             0);
	cr_assert_eq(addr_port((struct sockaddr *)&g), 9875);
	cr_assert_eq(
	        addr_parse_default_port(&g, "[ff02::1]:5", 9875, e, sizeof e),
	        0);
	cr_assert_eq(addr_port((struct sockaddr *)&g), 5);
	cr_assert_eq(addr_parse_default_port(&g, "host.example:5", 9875, e,
	                                     sizeof e),
	             -EINVAL, "numeric only");
	cr_assert_eq(addr_parse_default_port(&g, "", 9875, e, sizeof e),
	             -EINVAL);
}
