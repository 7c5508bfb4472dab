/*
 * relay: UDP impairment relay for tests, benchmarks and containers
 *
 * Receives datagrams on --listen, runs each through the impairment model
 * (impair.h: loss, Gilbert-Elliott bursts, delay, jitter, reordering,
 * duplication, clock skew), holds the survivors in a bounded preallocated
 * schedule (sched.h) and sends each copy to --to when its release time
 * comes. Datagrams coming back from the destination are forwarded,
 * unimpaired, to the latest source. With --tee every copy also goes to a
 * second destination (two receivers of one impaired stream); --trace
 * writes one line per datagram received (its verdict and RTP header) to
 * a file, for benchmarks that must know which packets were lost. Everything
 * runs on one libuv loop in the main thread; time is uv_hrtime
 * (CLOCK_MONOTONIC), and release times are honoured to the wake-up latency of
 * the machine: the next release is an absolute timerfd deadline the loop polls,
 * not a libuv timer (those count whole milliseconds, which would add a
 * millisecond of jitter that no network has, in step with every packet's
 * phase).
 *
 * Exit status: 0 after --duration, --max-packets or SIGINT/SIGTERM; 2 for
 * bad arguments or an address that does not resolve; 1 when a socket
 * cannot be set up. The counters go to stdout as one JSON line at exit
 * with --stats, and always when a signal ends the run.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "tools/relay/impair.h"
#include "tools/relay/prng.h"
#include "tools/relay/relay_opts.h"
#include "tools/relay/sched.h"

/* Largest UDP payload plus slack: a datagram that fills this buffer is
 * reported truncated by libuv and dropped. */
#define RELAY_RECV_BYTES 65536
/* Kernel receive buffer asked for on the listen socket (bytes). */
#define RELAY_SOCKET_BUFFER (4 << 20)

struct relay_counters {
	uint64_t received;    /* datagrams read on the listen socket */
	uint64_t forwarded;   /* copies sent to the destination */
	uint64_t pool_full;   /* survivors dropped: no free slot */
	uint64_t oversize;    /* datagrams over --max-size or truncated */
	uint64_t send_errors; /* sends the kernel refused */
	uint64_t recv_errors; /* receive errors reported by libuv */
	uint64_t replies;     /* datagrams relayed back to the source */
	uint64_t discarded;   /* copies still pending when a signal came */
	uint64_t flooded;     /* extra copies sent by --flood-dups */
};

/* Datagrams kept for --flood-dups to copy, latest first. */
#define RELAY_FLOOD_KEEP 32

struct relay {
	uv_loop_t loop;
	uv_udp_t rx;            /* listen socket; also sends replies */
	uv_udp_t tx;            /* connected to the destination */
	uv_udp_t tee;           /* connected to --tee (when given) */
	FILE *trace;            /* --trace (or NULL) */
	uv_poll_t release_poll; /* watches release_fd */
	int release_fd;         /* timerfd: the next release in the schedule */
	uv_poll_t flood_poll;   /* watches flood_fd (--flood-dups) */
	int flood_fd;           /* timerfd: every millisecond */
	double flood_owed;      /* copies due and not yet sent */
	unsigned flood_next;    /* kept datagram copied next */
	unsigned flood_n;       /* datagrams kept */
	unsigned flood_head;    /* where the next one is kept */
	uint32_t flood_len[RELAY_FLOOD_KEEP];
	char *flood_buf;       /* RELAY_FLOOD_KEEP x max_size */
	uv_timer_t stop_timer; /* --duration */
	uv_signal_t sigint;
	uv_signal_t sigterm;
	const struct relay_opts *opts;
	struct impair model;
	struct sched sched;
	struct sockaddr_storage src; /* latest sender, for replies */
	bool have_src;
	bool draining; /* receiving stopped: flush, then exit */
	bool closing;
	bool signalled; /* ended by SIGINT/SIGTERM */
	struct relay_counters n;
	char rx_buf[RELAY_RECV_BYTES];
	char tx_buf[RELAY_RECV_BYTES];
};

static void relay_close_all(struct relay *r)
{
	uv_handle_t *h[] = {
	        (uv_handle_t *)&r->rx,           (uv_handle_t *)&r->tx,
	        (uv_handle_t *)&r->release_poll, (uv_handle_t *)&r->flood_poll,
	        (uv_handle_t *)&r->stop_timer,   (uv_handle_t *)&r->sigint,
	        (uv_handle_t *)&r->sigterm,      (uv_handle_t *)&r->tee,
	};

	if (r->closing)
		return;
	r->closing = true;
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		if (h[i]->loop == &r->loop && !uv_is_closing(h[i]))
			uv_close(h[i], NULL);
}

/* Arm the release timer for absolute time ns (CLOCK_MONOTONIC); 0 disarms. */
static void relay_arm(struct relay *r, uint64_t ns)
{
	struct itimerspec it = {0};

	it.it_value.tv_sec = (time_t)(ns / 1000000000u);
	it.it_value.tv_nsec = (long)(ns % 1000000000u);
	if (ns && it.it_value.tv_sec == 0 && it.it_value.tv_nsec == 0)
		it.it_value.tv_nsec = 1;
	(void)timerfd_settime(r->release_fd, TFD_TIMER_ABSTIME, &it, NULL);
}

/* Send every copy whose time has come, then sleep until the next one. */
static void relay_release_due(struct relay *r)
{
	const struct sched_entry *e;
	uint64_t now = uv_hrtime();

	while ((e = sched_peek(&r->sched)) && e->release_ns <= now) {
		size_t len;
		const void *data = sched_payload(&r->sched, e->slot, &len);
		uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
		int rc = uv_udp_try_send(&r->tx, &b, 1, NULL);
		if (rc >= 0)
			r->n.forwarded++;
		else
			r->n.send_errors++;
		if (r->opts->have_tee &&
		    uv_udp_try_send(&r->tee, &b, 1, NULL) < 0)
			r->n.send_errors++;
		if (r->flood_buf && len <= r->opts->max_size) {
			memcpy(r->flood_buf + r->flood_head * r->opts->max_size,
			       data, len);
			r->flood_len[r->flood_head] = (uint32_t)len;
			r->flood_head = (r->flood_head + 1) % RELAY_FLOOD_KEEP;
			if (r->flood_n < RELAY_FLOOD_KEEP)
				r->flood_n++;
		}
		sched_pop(&r->sched);
	}

	if (!e) {
		relay_arm(r, 0);
		if (r->draining)
			relay_close_all(r);
		return;
	}
	relay_arm(r, e->release_ns);
}

static void relay_on_release(uv_poll_t *h, int status, int events)
{
	struct relay *r = h->data;
	uint64_t expirations;

	(void)status;
	(void)events;
	/* Drain the expiration count; a read that finds none (the timer
	   was re-armed meanwhile) is harmless. */
	(void)!read(r->release_fd, &expirations, sizeof(expirations));
	relay_release_due(r);
}

/* Every millisecond: the copies of the duplicate flood due by now, taken
   round the kept datagrams. */
static void relay_on_flood(uv_poll_t *h, int status, int events)
{
	struct relay *r = h->data;
	uint64_t ticks = 0;

	(void)status;
	(void)events;
	if (read(r->flood_fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	r->flood_owed += (double)ticks * r->opts->flood_dups / 1000.0;
	while (r->flood_owed >= 1.0 && r->flood_n > 0 && !r->draining) {
		unsigned k = r->flood_next++ % r->flood_n;
		uv_buf_t b = uv_buf_init(r->flood_buf + k * r->opts->max_size,
		                         r->flood_len[k]);
		if (uv_udp_try_send(&r->tx, &b, 1, NULL) >= 0)
			r->n.flooded++;
		else
			r->n.send_errors++;
		r->flood_owed -= 1.0;
	}
	if (r->flood_owed > 1000.0)
		r->flood_owed = 1000.0;
}

static void relay_stop_receiving(struct relay *r)
{
	if (r->draining || r->closing)
		return;
	r->draining = true;
	uv_udp_recv_stop(&r->rx);
	uv_timer_stop(&r->stop_timer);
	relay_release_due(r);
}

static void relay_on_stop(uv_timer_t *t)
{
	relay_stop_receiving(t->data);
}

static void relay_on_signal(uv_signal_t *s, int signum)
{
	struct relay *r = s->data;

	(void)signum;
	r->signalled = true;
	r->n.discarded = sched_pending(&r->sched);
	relay_close_all(r);
}

static void relay_alloc_rx(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct relay *r = h->data;

	(void)suggested;
	*buf = uv_buf_init(r->rx_buf, sizeof(r->rx_buf));
}

static void relay_alloc_tx(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct relay *r = h->data;

	(void)suggested;
	*buf = uv_buf_init(r->tx_buf, sizeof(r->tx_buf));
}

/* One --trace line: arrival index (from 0), length, copies scheduled,
   and the first 12 bytes (an RTP header) in hex. Buffered stdio: the
   file is a tool's record, flushed at exit. */
static void relay_trace(struct relay *r, const uint8_t *p, size_t len,
                        unsigned copies)
{
	fprintf(r->trace, "%" PRIu64 " %zu %u ", r->n.received - 1, len,
	        copies);
	for (size_t i = 0; i < len && i < 12; i++)
		fprintf(r->trace, "%02x", p[i]);
	fputc('\n', r->trace);
}

static void relay_on_datagram(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                              const struct sockaddr *addr, unsigned flags)
{
	struct relay *r = h->data;
	struct impair_verdict v;

	if (nread < 0) {
		r->n.recv_errors++;
		return;
	}
	if (!addr || r->draining)
		return; /* nothing more to read now */
	r->n.received++;
	memcpy(&r->src, addr,
	       addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                   : sizeof(struct sockaddr_in));
	r->have_src = true;

	unsigned copies = 0;
	if ((flags & UV_UDP_PARTIAL) || (size_t)nread > r->opts->max_size) {
		r->n.oversize++;
	} else if (impair_decide(&r->model, uv_hrtime(), &v) > 0) {
		int rc = sched_add(&r->sched, buf->base, (size_t)nread,
		                   v.release_ns, v.copies);
		if (rc == -ENOBUFS)
			r->n.pool_full++;
		else if (rc < 0)
			r->n.oversize++;
		else
			copies = v.copies;
	}
	if (r->trace)
		relay_trace(r, (const uint8_t *)buf->base, (size_t)nread,
		            copies);
	relay_release_due(r);

	if (r->opts->max_packets && r->n.received >= r->opts->max_packets)
		relay_stop_receiving(r);
}

static void relay_on_reply(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                           const struct sockaddr *addr, unsigned flags)
{
	struct relay *r = h->data;

	if (nread < 0) {
		/* ICMP errors (nobody listening yet) surface here on a
		 * connected socket; they are counted, not fatal. */
		r->n.recv_errors++;
		return;
	}
	if (!addr || !r->have_src || (flags & UV_UDP_PARTIAL))
		return;
	uv_buf_t b = uv_buf_init(buf->base, (unsigned)nread);
	if (uv_udp_try_send(&r->rx, &b, 1, (struct sockaddr *)&r->src) >= 0)
		r->n.replies++;
	else
		r->n.send_errors++;
}

/* "ADDR:PORT" or "[ADDR]:PORT" of a bound or resolved address. */
static void relay_format_addr(const struct sockaddr *sa, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)sa;
		uv_ip6_name(a, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip,
		         (unsigned)ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const void *)sa;
		uv_ip4_name(a, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
	}
}

/*
 * Resolve host:port (host "" = wildcard, for listening) into *out.
 *
 * Return: 0, or -EINVAL after printing one line naming the address.
 */
static int relay_resolve(const char *host, const char *port, bool passive,
                         struct sockaddr_storage *out)
{
	struct addrinfo hints = {0}, *res = NULL;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc != 0 || !res) {
		fprintf(stderr, "relay: cannot resolve '%s': %s\n",
		        host[0] ? host : "*", gai_strerror(rc));
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static void relay_print_stats(const struct relay *r)
{
	const struct impair_stats *m = &r->model.stats;

	printf("{\"seed\":%" PRIu64 ",\"received\":%" PRIu64
	       ",\"forwarded\":%" PRIu64 ",\"dropped\":%" PRIu64
	       ",\"burst_dropped\":%" PRIu64 ",\"duplicated\":%" PRIu64
	       ",\"reordered\":%" PRIu64 ",\"pool_full\":%" PRIu64
	       ",\"oversize\":%" PRIu64 ",\"send_errors\":%" PRIu64
	       ",\"recv_errors\":%" PRIu64 ",\"replies\":%" PRIu64
	       ",\"discarded\":%" PRIu64 ",\"flooded\":%" PRIu64 "}\n",
	       r->model.seed, r->n.received, r->n.forwarded, m->dropped,
	       m->burst_drops, m->duplicated, m->reordered, r->n.pool_full,
	       r->n.oversize, r->n.send_errors, r->n.recv_errors, r->n.replies,
	       r->n.discarded, r->n.flooded);
	fflush(stdout);
}

/* Connect a sending socket to a destination; on failure print one line. */
static int relay_connect(uv_udp_t *h, const struct sockaddr_storage *to)
{
	char a[INET6_ADDRSTRLEN + 16];
	int rc = uv_udp_connect(h, (const struct sockaddr *)to);

	if (rc < 0) {
		relay_format_addr((const struct sockaddr *)to, a, sizeof(a));
		fprintf(stderr, "relay: cannot send to %s: %s\n", a,
		        uv_strerror(rc));
	}
	return rc;
}

/* Set up the sockets, timers and signals; on failure print one line. */
static int relay_open(struct relay *r, const struct sockaddr_storage *listen,
                      const struct sockaddr_storage *dest,
                      const struct sockaddr_storage *tee)
{
	char a[INET6_ADDRSTRLEN + 16];
	int rc;

	r->rx.data = r->tx.data = r;
	r->release_poll.data = r->stop_timer.data = r;
	r->sigint.data = r->sigterm.data = r;
	uv_udp_init(&r->loop, &r->rx);
	uv_udp_init(&r->loop, &r->tx);
	uv_udp_init(&r->loop, &r->tee);
	r->tee.data = r;
	r->release_fd =
	        timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->release_fd < 0) {
		fprintf(stderr, "relay: timerfd: %s\n", strerror(errno));
		return -errno;
	}
	uv_poll_init(&r->loop, &r->release_poll, r->release_fd);
	uv_poll_start(&r->release_poll, UV_READABLE, relay_on_release);
	if (r->opts->flood_dups) {
		struct itimerspec ms = {{0, 1000000}, {0, 1000000}};
		r->flood_buf = malloc(RELAY_FLOOD_KEEP * r->opts->max_size);
		r->flood_fd = timerfd_create(CLOCK_MONOTONIC,
		                             TFD_NONBLOCK | TFD_CLOEXEC);
		if (!r->flood_buf || r->flood_fd < 0 ||
		    timerfd_settime(r->flood_fd, 0, &ms, NULL) < 0) {
			fprintf(stderr, "relay: --flood-dups: %s\n",
			        strerror(r->flood_buf ? errno : ENOMEM));
			return -ENOMEM;
		}
		r->flood_poll.data = r;
		uv_poll_init(&r->loop, &r->flood_poll, r->flood_fd);
		uv_poll_start(&r->flood_poll, UV_READABLE, relay_on_flood);
	}
	uv_timer_init(&r->loop, &r->stop_timer);
	uv_signal_init(&r->loop, &r->sigint);
	uv_signal_init(&r->loop, &r->sigterm);

	relay_format_addr((const struct sockaddr *)listen, a, sizeof(a));
	rc = uv_udp_bind(&r->rx, (const struct sockaddr *)listen,
	                 UV_UDP_REUSEADDR);
	if (rc < 0) {
		fprintf(stderr, "relay: cannot listen on %s: %s\n", a,
		        uv_strerror(rc));
		return rc;
	}
	/* Best effort: a bigger receive buffer rides out bursts while the
	 * loop is busy; the kernel caps it at net.core.rmem_max. */
	int rcvbuf = RELAY_SOCKET_BUFFER;
	uv_recv_buffer_size((uv_handle_t *)&r->rx, &rcvbuf);

	rc = relay_connect(&r->tx, dest);
	if (rc < 0)
		return rc;
	if (r->opts->have_tee) {
		rc = relay_connect(&r->tee, tee);
		if (rc < 0)
			return rc;
		/* Its replies go back to the source too; reading them
		   also collects the "port unreachable" reports. */
		rc = uv_udp_recv_start(&r->tee, relay_alloc_tx, relay_on_reply);
		if (rc < 0)
			return rc;
	}
	if (r->opts->trace[0]) {
		r->trace = fopen(r->opts->trace, "w");
		if (!r->trace) {
			fprintf(stderr, "relay: --trace %s: %s\n",
			        r->opts->trace, strerror(errno));
			return -errno;
		}
	}
	rc = uv_udp_recv_start(&r->rx, relay_alloc_rx, relay_on_datagram);
	if (rc == 0)
		rc = uv_udp_recv_start(&r->tx, relay_alloc_tx, relay_on_reply);
	if (rc == 0)
		rc = uv_signal_start(&r->sigint, relay_on_signal, SIGINT);
	if (rc == 0)
		rc = uv_signal_start(&r->sigterm, relay_on_signal, SIGTERM);
	if (rc == 0 && r->opts->duration_s > 0.0)
		rc = uv_timer_start(
		        &r->stop_timer, relay_on_stop,
		        (uint64_t)(r->opts->duration_s * 1000.0 + 0.5), 0);
	if (rc < 0) {
		fprintf(stderr, "relay: cannot start the loop: %s\n",
		        uv_strerror(rc));
		return rc;
	}
	return 0;
}

static void relay_announce(struct relay *r)
{
	struct sockaddr_storage bound;
	int len = sizeof(bound);
	char a[INET6_ADDRSTRLEN + 16], d[INET6_ADDRSTRLEN + 16];
	struct sockaddr_storage peer;
	int plen = sizeof(peer);

	if (r->opts->quiet)
		return;
	if (uv_udp_getsockname(&r->rx, (struct sockaddr *)&bound, &len) == 0)
		relay_format_addr((struct sockaddr *)&bound, a, sizeof(a));
	else
		snprintf(a, sizeof(a), "?");
	if (uv_udp_getpeername(&r->tx, (struct sockaddr *)&peer, &plen) == 0)
		relay_format_addr((struct sockaddr *)&peer, d, sizeof(d));
	else
		snprintf(d, sizeof(d), "?");
	fprintf(stderr, "relay: seed %" PRIu64 ", forwarding to %s\n",
	        r->model.seed, d);
	/* Last: a parent waiting for this line may start sending at once. */
	fprintf(stderr, "relay: listening on %s\n", a);
}

int main(int argc, char **argv)
{
	static struct relay r; /* large receive buffers: not on the stack */
	struct relay_opts opts;
	struct sockaddr_storage listen, dest, tee;
	char err[512];
	int status = 1;

	if (relay_opts_parse(&opts, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "relay: %s\n", err);
		return 2;
	}
	if (opts.help) {
		fputs(relay_opts_usage(), stdout);
		return 0;
	}
	if (relay_resolve(opts.listen_host, opts.listen_port, true, &listen) <
	            0 ||
	    relay_resolve(opts.to_host, opts.to_port, false, &dest) < 0 ||
	    (opts.have_tee &&
	     relay_resolve(opts.tee_host, opts.tee_port, false, &tee) < 0))
		return 2;
	if (!opts.have_seed) {
		uint64_t mix = uv_hrtime() ^ ((uint64_t)getpid() << 32);
		opts.seed = prng_splitmix64(&mix);
	}

	r.opts = &opts;
	if (impair_init(&r.model, &opts.impair, opts.seed) < 0) {
		fprintf(stderr, "relay: impairment settings out of range\n");
		return 2;
	}
	int rc = sched_init(&r.sched, opts.pool, opts.max_size);
	if (rc < 0) {
		fprintf(stderr,
		        "relay: cannot allocate %zu slots of %zu bytes: "
		        "%s\n",
		        opts.pool, opts.max_size, strerror(-rc));
		goto out_model;
	}
	rc = uv_loop_init(&r.loop);
	if (rc < 0) {
		fprintf(stderr, "relay: cannot start libuv: %s\n",
		        uv_strerror(rc));
		goto out_sched;
	}
	r.release_fd = -1;
	r.flood_fd = -1;
	/* The relay plays a network: its own scheduling delays would be
	   jitter the test did not ask for. Real-time when allowed (as root),
	   like the programs it sits between. */
	struct sched_param sp = {.sched_priority = 38};
	(void)sched_setscheduler(0, SCHED_FIFO, &sp);
	rc = relay_open(&r, &listen, &dest, &tee);
	if (rc == 0) {
		relay_announce(&r);
		uv_run(&r.loop, UV_RUN_DEFAULT);
		status = 0;
		if (opts.stats || r.signalled)
			relay_print_stats(&r);
	}
	relay_close_all(&r);
	uv_run(&r.loop, UV_RUN_DEFAULT); /* let the close callbacks run */
	uv_loop_close(&r.loop);
	if (r.release_fd >= 0)
		close(r.release_fd);
	if (r.flood_fd >= 0)
		close(r.flood_fd);
	if (r.trace && fclose(r.trace) != 0)
		fprintf(stderr, "relay: --trace %s: %s\n", opts.trace,
		        strerror(errno));
	free(r.flood_buf);
out_sched:
	sched_clear(&r.sched);
out_model:
	impair_clear(&r.model);
	return status;
}
