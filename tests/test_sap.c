/*
 * test_sap: SAP messages (RFC 2974) and the session table, pure and
 * single-threaded
 *
 * Packing and parsing round trip for IPv4 and IPv6 origins, with and
 * without a payload type; what PipeWire 0.3.65 sends parses; every kind
 * of bad datagram is refused with its own error (truncated at every
 * length, wrong version, encrypted, compressed, authentication data past
 * the end, another payload type, oversized); the table reports new,
 * changed, deleted and expired sessions once each, refreshes quietly,
 * counts and drops what it cannot use, and stays within SAPTABLE_MAX.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "bridge/net/addr.h"
#include "bridge/net/sap.h"
#include "bridge/net/saptable.h"

TestSuite(sap, .timeout = 30);

static const char *sdp_l24 = "v=0\r\n"
                             "o=- 42 1 IN IP4 10.0.0.7\r\n"
                             "s=studio\r\n"
                             "c=IN IP4 239.255.1.2/1\r\n"
                             "t=0 0\r\n"
                             "m=audio 5004 RTP/AVP 97\r\n"
                             "a=rtpmap:97 L24/48000/2\r\n"
                             "a=ptime:1\r\n";

static void origin4(struct sockaddr_storage *ss, const char *ip)
{
	cr_assert_eq(addr_parse(ss, NULL, ip, ADDR_NUMERIC | ADDR_PORT_ZERO,
	                        NULL, 0),
	             0);
}

Test(sap, pack_and_parse_round_trip)
{
	struct sockaddr_storage o4, o6;
	struct sap_msg m;
	uint8_t b[SAP_MAX_PACKET];
	char txt[ADDR_TEXT_MAX];
	size_t len = strlen(sdp_l24);

	origin4(&o4, "10.0.0.7:0");
	origin4(&o6, "[fe80::1]:0");
	int n = sap_pack(b, sizeof b, false, 0x1234, (struct sockaddr *)&o4,
	                 sdp_l24, len);
	cr_assert_eq(n, (int)(8 + sizeof SAP_MIME + len));
	cr_assert_eq(b[0], 0x20, "V=1, IPv4, announcement");
	cr_assert_eq(sap_parse(b, (size_t)n, &m), 0);
	cr_assert(!m.deletion);
	cr_assert_eq(m.hash, 0x1234);
	cr_assert_str_eq(
	        addr_format((struct sockaddr *)&m.origin, txt, sizeof txt),
	        "10.0.0.7:0");
	cr_assert_eq(m.sdp_len, len);
	cr_assert(memcmp(m.sdp, sdp_l24, len) == 0);

	n = sap_pack(b, sizeof b, true, 7, (struct sockaddr *)&o6, sdp_l24,
	             len);
	cr_assert_eq(n, (int)(20 + sizeof SAP_MIME + len));
	cr_assert_eq(b[0], 0x34, "V=1, IPv6, deletion");
	cr_assert_eq(sap_parse(b, (size_t)n, &m), 0);
	cr_assert(m.deletion);
	cr_assert_eq(m.origin.ss_family, AF_INET6);
	/* Too small a buffer, too long an SDP. */
	cr_assert_eq(
	        sap_pack(b, 20, false, 1, (struct sockaddr *)&o4, sdp_l24, len),
	        -ENOBUFS);
	static char big[SAP_MAX_PACKET];
	memset(big, 'x', sizeof big);
	cr_assert_eq(sap_pack(b, sizeof b, false, 1, (struct sockaddr *)&o4,
	                      big, sizeof big),
	             -EMSGSIZE);
}

/* Header and address as PipeWire 0.3.65's module-rtp-sink sends them
   (captured): V=1, IPv4, no authentication, a random hash. */
Test(sap, parses_what_pipewire_sends_and_payloads_without_a_type)
{
	static const uint8_t hdr[] = {0x20, 0x00, 0x67, 0x45,
	                              0x7f, 0x00, 0x00, 0x01};
	uint8_t b[1024];
	struct sap_msg m;
	const char *sdp = "v=0\no=root 4005578115 0 IN IP4 127.0.0.1\n";
	size_t n = 0;

	memcpy(b, hdr, sizeof hdr);
	n = sizeof hdr;
	memcpy(b + n, SAP_MIME, sizeof SAP_MIME);
	n += sizeof SAP_MIME;
	memcpy(b + n, sdp, strlen(sdp));
	n += strlen(sdp);
	cr_assert_eq(sap_parse(b, n, &m), 0);
	cr_assert_eq(m.hash, 0x6745);
	cr_assert_eq(m.sdp_len, strlen(sdp));
	/* The payload type is optional before an SDP text. */
	memmove(b + sizeof hdr, sdp, strlen(sdp));
	cr_assert_eq(sap_parse(b, sizeof hdr + strlen(sdp), &m), 0);
	cr_assert_eq(m.sdp, (const char *)b + sizeof hdr);
	/* Authentication data (skipped, two words). */
	uint8_t a[64] = {0x20, 2, 0, 1, 10, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8};
	memcpy(a + 16, "v=0\n", 4);
	cr_assert_eq(sap_parse(a, 20, &m), 0);
	cr_assert_eq(m.sdp_len, 4);
}

Test(sap, refuses_each_kind_of_bad_datagram)
{
	struct sockaddr_storage o4;
	struct sap_msg m;
	uint8_t b[SAP_MAX_PACKET + 1];
	int n;

	origin4(&o4, "10.0.0.7:0");
	n = sap_pack(b, sizeof b, false, 1, (struct sockaddr *)&o4, sdp_l24,
	             strlen(sdp_l24));
	cr_assert_gt(n, 0);
	/* Every truncation short of the payload is refused, never read
	   past. */
	for (int len = 0; len <= 8 + (int)sizeof SAP_MIME; len++)
		cr_assert_lt(sap_parse(b, (size_t)len, &m), 0, "length %d",
		             len);
	cr_assert_eq(sap_parse(b, 3, &m), -EBADMSG);
	cr_assert_eq(sap_parse(b, 12, &m), -EMEDIUMTYPE,
	             "payload type without its NUL");
	uint8_t v = b[0];
	b[0] = (uint8_t)(v & 0x1f); /* version 0 */
	cr_assert_eq(sap_parse(b, (size_t)n, &m), -EPROTONOSUPPORT);
	b[0] = (uint8_t)(v | 0x40); /* version 3 */
	cr_assert_eq(sap_parse(b, (size_t)n, &m), -EPROTONOSUPPORT);
	b[0] = (uint8_t)(v | 0x02);
	cr_assert_eq(sap_parse(b, (size_t)n, &m), -ENOTSUP, "encrypted");
	b[0] = (uint8_t)(v | 0x01);
	cr_assert_eq(sap_parse(b, (size_t)n, &m), -ENOTSUP, "compressed");
	b[0] = v;
	b[1] = 255; /* 1020 bytes of authentication data: past the end */
	cr_assert_eq(sap_parse(b, (size_t)n, &m), -EBADMSG);
	b[1] = 0;
	memcpy(b + 8, "text/plain", 11);
	cr_assert_eq(sap_parse(b, (size_t)n, &m), -EMEDIUMTYPE);
	cr_assert_eq(sap_parse(b, SAP_MAX_PACKET + 1, &m), -EMSGSIZE);
}

Test(sap, hash_and_groups)
{
	struct sockaddr_storage d, g[SAP_MAX_GROUPS];
	char txt[ADDR_TEXT_MAX];

	cr_assert_neq(sap_hash("a", 1), sap_hash("b", 1));
	cr_assert_neq(sap_hash("", 0), 0);
	origin4(&d, "239.255.1.2:5004");
	cr_assert_eq(sap_groups_for((struct sockaddr *)&d, g, SAP_MAX_GROUPS),
	             2);
	cr_assert_str_eq(addr_format((struct sockaddr *)&g[0], txt, sizeof txt),
	                 "224.0.0.56:9875");
	cr_assert_str_eq(addr_format((struct sockaddr *)&g[1], txt, sizeof txt),
	                 "239.255.255.255:9875");
	origin4(&d, "[ff05::1:2]:5004");
	cr_assert_eq(sap_groups_for((struct sockaddr *)&d, g, SAP_MAX_GROUPS),
	             1);
	cr_assert_str_eq(addr_format((struct sockaddr *)&g[0], txt, sizeof txt),
	                 "[ff05::2:7ffe]:9875", "the group's scope");
	origin4(&d, "[2001:db8::1]:5004");
	cr_assert_eq(sap_groups_for((struct sockaddr *)&d, g, 1), 1);
	cr_assert_str_eq(addr_format((struct sockaddr *)&g[0], txt, sizeof txt),
	                 "[ff02::2:7ffe]:9875");
}

/* ---- the session table ---- */

#define EV_MAX 200
static struct saptable_event evs[EV_MAX];
static int nev;

static void on_event(void *arg, const struct saptable_event *ev)
{
	(void)arg;
	if (nev < EV_MAX)
		evs[nev] = *ev;
	nev++;
}

/* Feed an announcement (or deletion) of `sdp` from `origin`. */
static void feed(struct saptable *t, const char *origin, bool del,
                 const char *sdp, uint64_t now)
{
	struct sockaddr_storage o;
	uint8_t b[SAP_MAX_PACKET];

	origin4(&o, origin);
	int n = sap_pack(b, sizeof b, del, sap_hash(sdp, strlen(sdp)),
	                 (struct sockaddr *)&o, sdp, strlen(sdp));
	cr_assert_gt(n, 0);
	saptable_datagram(t, b, (size_t)n, now, on_event, NULL);
}

static const char *with_version(const char *ver, const char *codec)
{
	static char b[512];
	snprintf(b, sizeof b,
	         "v=0\r\no=- 42 %s IN IP4 10.0.0.7\r\ns=studio\r\n"
	         "c=IN IP4 239.255.1.2/1\r\nt=0 0\r\n"
	         "m=audio 5004 RTP/AVP 97\r\na=rtpmap:97 %s/48000/2\r\n",
	         ver, codec);
	return b;
}

Test(sap, table_reports_each_change_once)
{
	static struct saptable t;
	const uint64_t s = 1000000000ull;

	saptable_init(&t);
	nev = 0;
	feed(&t, "10.0.0.7:0", false, sdp_l24, 1 * s);
	cr_assert_eq(nev, 1);
	cr_assert_eq(evs[0].kind, SAPTABLE_NEW);
	cr_assert_eq(evs[0].id, 1);
	cr_assert_str_eq(evs[0].sdp.name, "studio");
	cr_assert_eq(evs[0].sdp.frames, 48);
	feed(&t, "10.0.0.7:0", false, sdp_l24, 6 * s);
	cr_assert_eq(nev, 1, "a repeat refreshes quietly");
	/* The same o= from another source is another session. */
	feed(&t, "10.0.0.8:0", false, sdp_l24, 6 * s);
	cr_assert_eq(nev, 2);
	cr_assert_eq(evs[1].kind, SAPTABLE_NEW);
	cr_assert_eq(evs[1].id, 2);
	/* A new version of the first: changed, same id. */
	feed(&t, "10.0.0.7:0", false, with_version("2", "L16"), 7 * s);
	cr_assert_eq(nev, 3);
	cr_assert_eq(evs[2].kind, SAPTABLE_CHANGED);
	cr_assert_eq(evs[2].id, 1);
	cr_assert_eq(evs[2].sdp.kind, CODEC_L16);
	/* A deletion carrying only the o= line. */
	feed(&t, "10.0.0.7:0", true, "o=- 42 2 IN IP4 10.0.0.7\r\n", 8 * s);
	cr_assert_eq(nev, 4);
	cr_assert_eq(evs[3].kind, SAPTABLE_DELETED);
	cr_assert_eq(evs[3].id, 1);
	feed(&t, "10.0.0.7:0", true, sdp_l24, 8 * s);
	cr_assert_eq(nev, 4);
	cr_assert_eq(t.c.unknown_deletion, 1);
	/* The second expires 60 s after its last announcement, once. */
	saptable_expire(&t, 65 * s, 60 * s, on_event, NULL);
	cr_assert_eq(nev, 4);
	saptable_expire(&t, 66 * s, 60 * s, on_event, NULL);
	cr_assert_eq(nev, 5);
	cr_assert_eq(evs[4].kind, SAPTABLE_EXPIRED);
	cr_assert_eq(evs[4].id, 2);
	saptable_expire(&t, 200 * s, 60 * s, on_event, NULL);
	cr_assert_eq(nev, 5);
	cr_assert_eq(saptable_count(&t), 0);
	cr_assert_eq(t.c.announcements, 4);
	cr_assert_eq(t.c.deletions, 1);
}

Test(sap, table_counts_and_drops_what_it_cannot_use)
{
	static struct saptable t;
	uint8_t junk[16] = {0x00, 1, 2, 3};
	char o[32], sdp[512];

	saptable_init(&t);
	nev = 0;
	saptable_datagram(&t, junk, sizeof junk, 0, on_event, NULL);
	cr_assert_eq(t.c.bad_version, 1);
	junk[0] = 0x22;
	saptable_datagram(&t, junk, sizeof junk, 0, on_event, NULL);
	cr_assert_eq(t.c.encrypted, 1);
	saptable_datagram(&t, junk, 2, 0, on_event, NULL);
	cr_assert_eq(t.c.truncated, 1);
	feed(&t, "10.0.0.7:0", false, with_version("1", "PCMA"), 0);
	cr_assert_eq(t.c.unsupported, 1);
	feed(&t, "10.0.0.7:0", false, "v=0\r\ns=no media\r\n", 0);
	cr_assert_eq(t.c.bad_sdp, 1);
	cr_assert_eq(nev, 0);
	/* A flood of sessions: SAPTABLE_MAX known, the rest counted. */
	for (int i = 0; i < SAPTABLE_MAX + 10; i++) {
		snprintf(o, sizeof o, "10.1.%d.%d:0", i / 200, i % 200 + 1);
		snprintf(sdp, sizeof sdp,
		         "v=0\r\no=- %d 1 IN IP4 10.0.0.7\r\n"
		         "m=audio 5004 RTP/AVP 96\r\n"
		         "a=rtpmap:96 L16/48000/2\r\n",
		         i);
		feed(&t, o, false, sdp, 0);
	}
	cr_assert_eq(saptable_count(&t), SAPTABLE_MAX);
	cr_assert_eq(nev, SAPTABLE_MAX);
	cr_assert_eq(t.c.table_full, 10);
	cr_assert_eq(t.c.datagrams, 5 + SAPTABLE_MAX + 10);
}
