/*
 * test_saplisten: SAP announcer and listener on the net thread, inside a
 * private network namespace (root; skipped otherwise, saying why)
 *
 * An announcement reaches the listener on both default IPv4 groups and
 * is reported once as a new session with what its SDP says; it is
 * repeated every interval without new events; stopping the announcer
 * sends the deletion, reported once; a session no longer announced
 * expires after the time-out; over IPv6 (a veth pair: lo does not loop
 * IPv6 multicast) the link-scoped group works when an interface is
 * given, and is skipped with a warning when none is; hostile datagrams
 * fed to the listener are counted and dropped.
 */
#define _GNU_SOURCE /* unshare, for tests/netns_fixture.h */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>
#include <time.h>

#include "bridge/net/addr.h"
#include "bridge/net/netloop.h"
#include "bridge/net/sapannounce.h"
#include "bridge/net/saplisten.h"
#include "bridge/net/sdp.h"
#include "tests/netns_fixture.h"

static struct netloop nl;
static struct saplisten lis;
static struct sapannounce ann;

static void enter(void)
{
	char why[160];
	if (netns_enter("224.0.0.56", why, sizeof why) < 0)
		cr_skip_test("%s", why);
	cr_assert_eq(netloop_start(&nl, 64), 0);
}

static void fini(void)
{
	sapannounce_stop(&ann);
	saplisten_close(&lis);
	netloop_stop(&nl);
	sapannounce_clear(&ann);
	saplisten_clear(&lis);
}

TestSuite(saplisten, .fini = fini, .timeout = 60);

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait (bounded) for the next event. */
static bool next_event(struct saptable_event *ev, long ms)
{
	for (long i = 0; i < ms; i++) {
		if (saplisten_poll(&lis, ev))
			return true;
		sleep_ms(1);
	}
	return false;
}

/* An SDP for an L24 1 ms stream to `dest`, announced from `origin`. */
static void make_sdp(char *buf, size_t cap, const char *dest,
                     const struct sockaddr *origin, const char *name)
{
	struct sockaddr_storage to;
	struct codec_config c;
	cr_assert_eq(addr_parse(&to, NULL, dest, ADDR_NUMERIC, NULL, 0), 0);
	codec_config_default(&c, CODEC_L24);
	codec_config_set_frames(&c, 48);
	struct sdp_opts o = {.to = (struct sockaddr *)&to,
	                     .codec = &c,
	                     .pt = 127,
	                     .name = name,
	                     .session_id = 99,
	                     .origin = origin};
	cr_assert_gt(sdp_write(buf, cap, &o), 0);
}

static void announce(const char *dest, const char *origin, unsigned ifindex,
                     uint64_t interval_ns)
{
	struct sapannounce_opts ao;
	char sdp[1024];

	memset(&ao, 0, sizeof ao);
	cr_assert_eq(addr_parse(&ao.origin, NULL, origin,
	                        ADDR_NUMERIC | ADDR_PORT_ZERO, NULL, 0),
	             0);
	make_sdp(sdp, sizeof sdp, dest, (struct sockaddr *)&ao.origin, "lan");
	struct sockaddr_storage d;
	cr_assert_eq(addr_parse(&d, NULL, dest, ADDR_NUMERIC, NULL, 0), 0);
	ao.ngroups = sap_groups_for((struct sockaddr *)&d, ao.groups,
	                            SAP_MAX_GROUPS);
	ao.ifindex = ifindex;
	ao.ttl = 1;
	ao.interval_ns = interval_ns;
	ao.sdp = sdp;
	cr_assert_eq(sapannounce_init(&ann, &ao), 0, "%s",
	             sapannounce_error(&ann));
	cr_assert_eq(sapannounce_start(&ann, &nl), 0, "%s",
	             sapannounce_error(&ann));
}

Test(saplisten, announced_then_deleted_each_reported_once)
{
	struct saplisten_opts lo;
	struct saptable_event ev;
	struct saptable_counters c;

	enter();
	saplisten_opts_default(&lo);
	lo.timeout_ns = 10000000000ull;
	cr_assert_eq(saplisten_init(&lis, &lo), 0);
	cr_assert_eq(saplisten_open(&lis, &nl), 0, "%s", saplisten_error(&lis));
	cr_assert(strstr(saplisten_warnings(&lis), "ff02::2:7ffe") != NULL,
	          "the link-scoped group needs an interface: %s",
	          saplisten_warnings(&lis));
	announce("239.255.1.2:5004", "127.0.0.1:0", 1, 100000000ull);
	cr_assert(next_event(&ev, 2000), "no announcement heard");
	cr_assert_eq(ev.kind, SAPTABLE_NEW);
	cr_assert_str_eq(ev.sdp.name, "lan");
	cr_assert_str_eq(ev.sdp.addr, "239.255.1.2");
	cr_assert_eq(ev.sdp.port, 5004);
	cr_assert_eq(ev.sdp.pt, 127);
	cr_assert_eq(ev.sdp.kind, CODEC_L24);
	cr_assert_eq(ev.sdp.frames, 48);
	cr_assert_str_eq(ev.sdp.mediaclk, "direct=0");
	/* Both groups deliver it, every 100 ms: refreshes, no events. */
	sleep_ms(450);
	cr_assert(!saplisten_poll(&lis, &ev), "event %d on a refresh", ev.kind);
	saplisten_counters(&lis, &c);
	cr_assert_geq(c.announcements, 8, "%llu",
	              (unsigned long long)c.announcements);
	sapannounce_stop(&ann);
	cr_assert(next_event(&ev, 2000), "no deletion heard");
	cr_assert_eq(ev.kind, SAPTABLE_DELETED);
	cr_assert_eq(ev.id, 1);
	sleep_ms(100);
	saplisten_counters(&lis, &c);
	cr_assert_eq(c.deletions, 1);
	cr_assert_eq(c.unknown_deletion, 1, "the second group's copy");
	cr_assert(!saplisten_poll(&lis, &ev));
}

static int feed_junk(struct netloop *l, void *arg)
{
	static const uint8_t junk[][8] = {{0x00, 0, 0, 0, 1, 2, 3, 4},
	                                  {0x21, 0, 0, 0, 1, 2, 3, 4},
	                                  {0x20, 9, 0, 0, 1, 2, 3, 4}};
	(void)l;
	for (size_t i = 0; i < 3; i++)
		saplisten_datagram(arg, junk[i], sizeof junk[i],
		                   netloop_now_ns());
	return 0;
}

Test(saplisten, a_silent_session_expires_and_junk_is_counted)
{
	struct saplisten_opts lo;
	struct saptable_event ev;
	struct saptable_counters c;

	enter();
	saplisten_opts_default(&lo);
	lo.ngroups = 1; /* 224.0.0.56 only */
	lo.timeout_ns = 300000000ull;
	cr_assert_eq(saplisten_init(&lis, &lo), 0);
	cr_assert_eq(saplisten_open(&lis, &nl), 0, "%s", saplisten_error(&lis));
	announce("239.255.1.3:5004", "127.0.0.1:0", 1, 60000000000ull);
	cr_assert(next_event(&ev, 2000));
	cr_assert_eq(ev.kind, SAPTABLE_NEW);
	uint64_t t0 = netloop_now_ns();
	cr_assert(next_event(&ev, 3000), "no expiry");
	uint64_t dt = netloop_now_ns() - t0;
	cr_assert_eq(ev.kind, SAPTABLE_EXPIRED);
	cr_assert(dt >= 200000000ull && dt < 2000000000ull, "after %llu ns",
	          (unsigned long long)dt);
	cr_assert_eq(netloop_call_wait(&nl, feed_junk, &lis), 0);
	saplisten_counters(&lis, &c);
	cr_assert_eq(c.bad_version, 1);
	cr_assert_eq(c.encrypted, 1);
	cr_assert_eq(c.truncated, 1);
}

Test(saplisten, ipv6_link_scope_over_a_veth_link)
{
	struct saplisten_opts lo;
	struct saptable_event ev;
	char why[160];

	enter();
	if (netns_veth("rtbsa", "rtbsb", "ff02::2:7ffe", why, sizeof why) < 0)
		cr_skip_test("%s", why);
	int ia = addr_iface_parse("rtbsa", why, sizeof why);
	int ib = addr_iface_parse("rtbsb", why, sizeof why);
	cr_assert(ia > 0 && ib > 0, "%s", why);
	saplisten_opts_default(&lo);
	lo.ifindex = (unsigned)ib;
	cr_assert_eq(saplisten_init(&lis, &lo), 0);
	cr_assert_eq(saplisten_open(&lis, &nl), 0, "%s", saplisten_error(&lis));
	announce("[ff12::77]:5004", "[::1]:0", (unsigned)ia, 100000000ull);
	cr_assert(next_event(&ev, 2000), "nothing heard over IPv6");
	cr_assert_eq(ev.kind, SAPTABLE_NEW);
	cr_assert_eq(ev.source.ss_family, AF_INET6);
	cr_assert_str_eq(ev.sdp.addr, "ff12::77");
}
