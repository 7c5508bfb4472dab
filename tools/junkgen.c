/*
 * junkgen: send hostile and stray datagrams at a receiver, for floods in
 * the tests and the soak
 *
 *   junkgen --to 127.0.0.1:PORT [--rate N] [--duration SEC] [--count N]
 *           [--seed N] [--pt N] [--payload BYTES] [--kinds LIST]
 *
 * Kinds (comma-separated, all by default), drawn in turn from a seeded
 * generator:
 *   random     random bytes, 1..200 of them
 *   truncated  an RTP header cut short (0..11 bytes)
 *   csrc       an RTP header announcing CSRCs that are not there
 *   padding    a padding count longer than the payload
 *   ssrc       a valid-looking one-packet datagram (version 2, --pt, a
 *              --payload of random bytes) from a random SSRC
 *
 * Paced at --rate datagrams per second (default 1000) on the monotonic
 * clock, in 1 ms steps; stops after --duration seconds (default 5) or
 * --count datagrams, whichever comes first, or at SIGINT/SIGTERM. Sends
 * only to a loopback address (127.0.0.0/8, ::1): it is a flood. At the
 * end one JSON line on stdout counts what was sent per kind. Exit 0, 1
 * when a send failed other than with a full buffer, 2 for bad usage.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/net/addr.h"
#include "codec/rtp.h"
#include "tools/relay/prng.h"

enum { K_RANDOM, K_TRUNCATED, K_CSRC, K_PADDING, K_SSRC, K_COUNT };

static const char *const junkgen_names[K_COUNT] = {"random", "truncated",
                                                   "csrc", "padding", "ssrc"};

static volatile sig_atomic_t junkgen_stop;

static void junkgen_on_signal(int sig)
{
	(void)sig;
	junkgen_stop = 1;
}

struct junkgen {
	struct sockaddr_storage to;
	double rate, duration;
	unsigned long long count;
	uint64_t seed;
	int pt;
	size_t payload;
	int kinds[K_COUNT];
	int nkinds;
	unsigned long long sent[K_COUNT], full, errors;
};

static int junkgen_kinds(struct junkgen *g, const char *list)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", list);
	g->nkinds = 0;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		int k = 0;
		while (k < K_COUNT && strcmp(t, junkgen_names[k]))
			k++;
		if (k == K_COUNT || g->nkinds == K_COUNT) {
			fprintf(stderr, "junkgen: --kinds: unknown '%s'\n", t);
			return -EINVAL;
		}
		g->kinds[g->nkinds++] = k;
	}
	return g->nkinds ? 0 : -EINVAL;
}

static bool junkgen_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
	}
	return false;
}

static int junkgen_args(struct junkgen *g, int argc, char **argv)
{
	const char *to = NULL;
	char err[256];

	memset(g, 0, sizeof(*g));
	g->rate = 1000;
	g->duration = 5;
	g->seed = 1;
	g->pt = 96;
	g->payload = 960;
	for (int k = 0; k < K_COUNT; k++)
		g->kinds[g->nkinds++] = k;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			printf("usage: junkgen --to 127.0.0.1:PORT [--rate N] "
			       "[--duration SEC] [--count N] [--seed N] "
			       "[--pt N] [--payload BYTES] [--kinds "
			       "random,truncated,csrc,padding,ssrc]\n");
			exit(0);
		}
		if (!v) {
			fprintf(stderr, "junkgen: %s needs a value\n", o);
			return -EINVAL;
		}
		i++;
		errno = 0;
		if (!strcmp(o, "--to")) {
			to = v;
		} else if (!strcmp(o, "--rate")) {
			g->rate = strtod(v, &end);
			if (!(g->rate > 0 && g->rate <= 1e6))
				end = NULL;
		} else if (!strcmp(o, "--duration")) {
			g->duration = strtod(v, &end);
			if (!(g->duration > 0 && g->duration <= 86400))
				end = NULL;
		} else if (!strcmp(o, "--count")) {
			g->count = strtoull(v, &end, 10);
		} else if (!strcmp(o, "--seed")) {
			g->seed = strtoull(v, &end, 0);
		} else if (!strcmp(o, "--pt")) {
			g->pt = (int)strtol(v, &end, 10);
			if (g->pt < 0 || g->pt > 127)
				end = NULL;
		} else if (!strcmp(o, "--payload")) {
			g->payload = strtoul(v, &end, 10);
			if (g->payload > 1400)
				end = NULL;
		} else if (!strcmp(o, "--kinds")) {
			if (junkgen_kinds(g, v) < 0)
				return -EINVAL;
			continue;
		} else {
			fprintf(stderr, "junkgen: unknown option '%s'\n", o);
			return -EINVAL;
		}
		if (o != NULL && strcmp(o, "--to") && (!end || *end || errno)) {
			fprintf(stderr, "junkgen: %s '%s': bad value\n", o, v);
			return -EINVAL;
		}
	}
	if (!to) {
		fprintf(stderr, "junkgen: --to 127.0.0.1:PORT is required\n");
		return -EINVAL;
	}
	if (addr_parse(&g->to, NULL, to, ADDR_NUMERIC, err, sizeof(err)) < 0) {
		fprintf(stderr, "junkgen: --to: %s\n", err);
		return -EINVAL;
	}
	if (!junkgen_loopback(&g->to)) {
		fprintf(stderr,
		        "junkgen: --to %s: only loopback addresses "
		        "(127.0.0.0/8, ::1)\n",
		        to);
		return -EINVAL;
	}
	return 0;
}

/* One datagram of kind k in buf. Return: its length. */
static size_t junkgen_make(struct junkgen *g, struct prng *r, int k,
                           uint8_t *buf, size_t cap)
{
	struct rtp_header h;
	uint8_t pay[1400];
	size_t n;

	memset(&h, 0, sizeof(h));
	h.version = RTP_VERSION;
	h.pt = (uint8_t)g->pt;
	h.seq = (uint16_t)prng_next(r);
	h.ts = (uint32_t)prng_next(r);
	h.ssrc = (uint32_t)prng_next(r);
	for (size_t i = 0; i < g->payload; i++)
		pay[i] = (uint8_t)prng_next(r);
	int w = rtp_write(&h, pay, g->payload, buf, cap);
	n = w > 0 ? (size_t)w : RTP_HEADER_MIN;
	switch (k) {
	case K_RANDOM:
		n = 1 + prng_next(r) % 200;
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)prng_next(r);
		break;
	case K_TRUNCATED:
		n = prng_next(r) % RTP_HEADER_MIN;
		break;
	case K_CSRC:
		/* 1..15 CSRCs announced, fewer bytes than they need. */
		buf[0] = (uint8_t)(buf[0] | (1 + prng_next(r) % 15));
		n = RTP_HEADER_MIN + prng_next(r) % 4;
		break;
	case K_PADDING: {
		/* 0..39 payload bytes and a count byte that claims more
		   than all of them (it counts itself). */
		size_t pl = prng_next(r) % 40;
		n = RTP_HEADER_MIN + pl + 1;
		buf[0] |= 0x20;
		buf[n - 1] = (uint8_t)(pl + 2 + prng_next(r) % 100);
		break;
	}
	default:
		break;
	}
	return n;
}

static uint64_t junkgen_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct junkgen g;
	struct prng r;
	uint8_t buf[2048];

	if (junkgen_args(&g, argc, argv) < 0)
		return 2;
	signal(SIGINT, junkgen_on_signal);
	signal(SIGTERM, junkgen_on_signal);
	int fd = socket(g.to.ss_family, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("junkgen: socket");
		return 1;
	}
	prng_init(&r, g.seed);
	socklen_t tolen = addr_len((const struct sockaddr *)&g.to);
	uint64_t t0 = junkgen_now(), end = t0 + (uint64_t)(g.duration * 1e9);
	unsigned long long total = 0;
	struct timespec step = {0, 1000000L};
	while (!junkgen_stop) {
		uint64_t now = junkgen_now();
		if (now >= end || (g.count && total >= g.count))
			break;
		unsigned long long due =
		        (unsigned long long)((double)(now - t0) * g.rate /
		                             1e9) +
		        1;
		if (g.count && due > g.count)
			due = g.count;
		while (total < due && !junkgen_stop) {
			int k = g.kinds[prng_next(&r) % (uint64_t)g.nkinds];
			size_t n = junkgen_make(&g, &r, k, buf, sizeof(buf));
			if (sendto(fd, buf, n, 0, (struct sockaddr *)&g.to,
			           tolen) < 0) {
				if (errno == ENOBUFS || errno == EAGAIN)
					g.full++;
				else if (errno != ECONNREFUSED)
					g.errors++;
			} else {
				g.sent[k]++;
			}
			total++;
		}
		nanosleep(&step, NULL);
	}
	close(fd);
	unsigned long long sent = 0;
	for (int k = 0; k < K_COUNT; k++)
		sent += g.sent[k];
	printf("{\"sent\":%llu", sent);
	for (int k = 0; k < K_COUNT; k++)
		printf(",\"%s\":%llu", junkgen_names[k], g.sent[k]);
	printf(",\"full\":%llu,\"errors\":%llu}\n", g.full, g.errors);
	return g.errors ? 1 : 0;
}
