/*
 * Functional tests of the relay program: the real binary (RELAY_PATH)
 * runs on 127.0.0.1 between a sending and a receiving socket of this
 * process. Each test sends numbered datagrams about one per millisecond
 * and checks what arrives. Timing bounds are loose on purpose: this is a
 * functional test, not a timing one. Only loopback is used.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef RELAY_PATH
#error "RELAY_PATH must name the relay binary"
#endif

extern char **environ;

#define MAX_N   4000
#define PAYLOAD 32

struct proc {
	pid_t pid;
	int out_fd; /* relay's stdout: the JSON stats line */
	int err_fd; /* relay's stderr: the "listening on" line */
	int port;   /* relay's listening port */
};

struct result {
	unsigned sent;
	uint8_t count[MAX_N];      /* copies received per sequence */
	uint32_t order[3 * MAX_N]; /* sequence numbers in arrival order */
	size_t n_order;
	uint64_t sent_ns[MAX_N];
	uint64_t recv_ns[MAX_N]; /* first copy */
	char stats[1024];        /* the relay's JSON line */
	char errtext[1024];      /* the rest of its stderr */
	int status;              /* exit status, -1 if not exited */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {(time_t)(t / 1000000000ULL),
	                      (long)(t % 1000000000ULL)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static int udp_socket(int *port)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int big = 1 << 20;

	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	*port = ntohs(a.sin_port);
	return fd;
}

static void cloexec_pipe(int fds[2])
{
	cr_assert_eq(pipe(fds), 0);
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
}

/* Read the relay's stderr until the "listening on" line, for up to 5 s. */
static int read_port(int fd)
{
	char buf[4096];
	size_t len = 0;
	uint64_t deadline = now_ns() + 5000000000ULL;

	while (now_ns() < deadline && len + 1 < sizeof(buf)) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		char *l = strstr(buf, "relay: listening on 127.0.0.1:");
		if (l && strchr(l, '\n'))
			return atoi(l +
			            strlen("relay: listening on 127.0.0.1:"));
	}
	buf[len] = '\0';
	cr_log_error("relay stderr: %s", buf);
	return -1;
}

/* Start the relay towards 127.0.0.1:to_port with extra arguments and
 * extra environment entries (NULL-terminated lists, may be NULL). */
static void start(struct proc *p, int to_port, char *const *args,
                  char *const *env)
{
	char to[32];
	char *argv[64] = {RELAY_PATH, "--listen", "127.0.0.1:0", "--stats"};
	int argc = 4;
	char *envp[256];
	int envc = 0;
	int out[2], err[2];

	snprintf(to, sizeof(to), "127.0.0.1:%d", to_port);
	if (to_port > 0) {
		argv[argc++] = "--to";
		argv[argc++] = to;
	}
	for (; args && *args; args++)
		argv[argc++] = *args;
	argv[argc] = NULL;
	for (char **e = environ; *e && envc < 200; e++)
		if (strncmp(*e, "RELAY_", 6) != 0)
			envp[envc++] = *e;
	for (; env && *env; env++)
		envp[envc++] = *env;
	envp[envc] = NULL;

	cloexec_pipe(out);
	cloexec_pipe(err);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	int rc = posix_spawn(&p->pid, RELAY_PATH, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(rc, 0, "spawn %s: %s", RELAY_PATH, strerror(rc));
	close(out[1]);
	close(err[1]);
	p->out_fd = out[0];
	p->err_fd = err[0];
	p->port = 0;
}

static void start_listening(struct proc *p, int to_port, char *const *args,
                            char *const *env)
{
	start(p, to_port, args, env);
	p->port = read_port(p->err_fd);
	cr_assert_gt(p->port, 0, "the relay did not report its port");
}

/* Wait up to timeout_ms for the relay to exit; collect status and stats. */
static void finish(struct proc *p, struct result *r, int timeout_ms)
{
	int st = 0;
	pid_t w = 0;
	size_t len = 0;

	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		w = waitpid(p->pid, &st, WNOHANG);
		if (w != 0)
			break;
		sleep_until(now_ns() + 10000000ULL);
	}
	if (w == 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &st, 0);
		r->status = -1;
	} else {
		r->status =
		        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	for (;;) {
		ssize_t n = read(p->out_fd, r->stats + len,
		                 sizeof(r->stats) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	r->stats[len] = '\0';
	len = 0;
	for (;;) {
		ssize_t n = read(p->err_fd, r->errtext + len,
		                 sizeof(r->errtext) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	r->errtext[len] = '\0';
	close(p->out_fd);
	close(p->err_fd);
}

static void stop(struct proc *p, struct result *r)
{
	kill(p->pid, SIGTERM);
	finish(p, r, 5000);
}

static uint64_t stat_of(const struct result *r, const char *key)
{
	char pat[64];

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *s = strstr(r->stats, pat);
	cr_assert_not_null(s, "no %s in stats '%s'", key, r->stats);
	return strtoull(s + strlen(pat), NULL, 10);
}

static void drain(int rx, struct result *r)
{
	unsigned char buf[256];
	ssize_t n;

	while ((n = recv(rx, buf, sizeof(buf), 0)) > 0) {
		uint32_t seq;
		if (n != PAYLOAD)
			continue;
		memcpy(&seq, buf, sizeof(seq));
		if (seq >= r->sent || r->n_order >= 3 * MAX_N)
			continue;
		if (r->count[seq]++ == 0)
			r->recv_ns[seq] = now_ns();
		r->order[r->n_order++] = seq;
	}
}

/* Send n numbered datagrams to the relay, one every interval_us, draining
 * the receiver as we go, then drain for quiet_ms more. */
static void exchange(const struct proc *p, int rx, unsigned n,
                     unsigned interval_us, unsigned quiet_ms, struct result *r)
{
	struct sockaddr_in to = {0};
	unsigned char buf[PAYLOAD];
	int tx = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert_leq(n, MAX_N);
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons((uint16_t)p->port);
	memset(buf, 0xa5, sizeof(buf));
	r->sent = n;
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		memcpy(buf, &i, sizeof(i));
		r->sent_ns[i] = now_ns();
		sendto(tx, buf, sizeof(buf), 0, (struct sockaddr *)&to,
		       sizeof(to));
		drain(rx, r);
		sleep_until(t0 + (uint64_t)(i + 1) * interval_us * 1000ULL);
	}
	uint64_t end = now_ns() + (uint64_t)quiet_ms * 1000000ULL;
	while (now_ns() < end) {
		struct pollfd pf = {rx, POLLIN, 0};
		poll(&pf, 1, 10);
		drain(rx, r);
	}
	close(tx);
}

static struct result *new_result(void)
{
	struct result *r = calloc(1, sizeof(*r));

	cr_assert_not_null(r);
	return r;
}

TestSuite(relay, .timeout = 60);

Test(relay, forwards_every_datagram_once_and_in_order_without_impairment)
{
	struct proc p;
	struct result *r = new_result();
	int port;
	int rx = udp_socket(&port);

	start_listening(&p, port, (char *[]){"--seed", "1", NULL}, NULL);
	exchange(&p, rx, 2000, 1000, 200, r);
	stop(&p, r);
	cr_assert_eq(r->status, 0, "exit status %d", r->status);
	cr_assert_eq(r->n_order, 2000, "received %zu", r->n_order);
	for (size_t i = 0; i < r->n_order; i++)
		cr_assert_eq(r->order[i], i, "position %zu holds %u", i,
		             r->order[i]);
	cr_assert_eq(stat_of(r, "received"), 2000);
	cr_assert_eq(stat_of(r, "forwarded"), 2000);
	cr_assert_eq(stat_of(r, "dropped"), 0);
	cr_assert_eq(stat_of(r, "seed"), 1);
	close(rx);
	free(r);
}

/* One run with --loss 10 --seed 1; returns the result. */
static struct result *lossy_run(void)
{
	struct proc p;
	struct result *r = new_result();
	int port;
	int rx = udp_socket(&port);

	start_listening(&p, port,
	                (char *[]){"--loss", "10", "--seed", "1", NULL}, NULL);
	exchange(&p, rx, 1500, 1000, 200, r);
	stop(&p, r);
	close(rx);
	cr_assert_eq(r->status, 0);
	return r;
}

Test(relay, loss_with_a_seed_drops_the_same_sequence_numbers_every_run)
{
	struct result *a = lossy_run();
	struct result *b = lossy_run();

	size_t lost = 0;
	for (unsigned i = 0; i < a->sent; i++) {
		cr_assert_leq(a->count[i], 1);
		lost += a->count[i] == 0;
		cr_assert_eq(a->count[i], b->count[i],
		             "sequence %u: %u copies then %u", i, a->count[i],
		             b->count[i]);
	}
	double rate = (double)lost / a->sent;
	cr_expect(rate > 0.06 && rate < 0.14, "loss %.3f", rate);
	cr_assert_eq(stat_of(a, "dropped"), lost);
	cr_assert_eq(stat_of(a, "received"), 1500);
	cr_assert_eq(stat_of(a, "forwarded"), 1500 - lost);
	free(a);
	free(b);
}

Test(relay, duplicates_and_reordering_show_up_in_data_and_counters)
{
	struct proc p;
	struct result *r = new_result();
	int port;
	int rx = udp_socket(&port);

	start_listening(&p, port,
	                (char *[]){"--duplicate", "5", "--reorder", "5",
	                           "--reorder-gap", "5", "--seed", "3", NULL},
	                NULL);
	exchange(&p, rx, 1000, 1000, 200, r);
	stop(&p, r);
	cr_assert_eq(r->status, 0);

	size_t extra = 0, inversions = 0;
	for (unsigned i = 0; i < r->sent; i++) {
		cr_assert_geq(r->count[i], 1, "sequence %u lost", i);
		extra += r->count[i] - 1u;
	}
	for (size_t i = 1; i < r->n_order; i++)
		inversions += r->order[i] < r->order[i - 1];
	uint64_t dup = stat_of(r, "duplicated");
	uint64_t reord = stat_of(r, "reordered");
	cr_assert_eq(extra, dup);
	cr_expect(dup > 20 && dup < 90, "duplicated %llu",
	          (unsigned long long)dup);
	cr_expect(reord > 20 && reord < 90, "reordered %llu",
	          (unsigned long long)reord);
	/* A 5 ms hold-back at 1 ms spacing lets later packets overtake. */
	cr_assert_geq(inversions, reord / 2, "inversions %zu", inversions);
	cr_assert_eq(stat_of(r, "forwarded"), 1000 + dup);
	close(rx);
	free(r);
}

static uint64_t median_latency_ns(const struct result *r)
{
	static uint64_t lat[MAX_N];
	size_t n = 0;

	for (unsigned i = 0; i < r->sent; i++)
		if (r->count[i])
			lat[n++] = r->recv_ns[i] - r->sent_ns[i];
	cr_assert_gt(n, 0);
	/* Insertion sort: a few hundred values. */
	for (size_t i = 1; i < n; i++) {
		uint64_t v = lat[i];
		size_t j = i;
		for (; j > 0 && lat[j - 1] > v; j--)
			lat[j] = lat[j - 1];
		lat[j] = v;
	}
	return lat[n / 2];
}

Test(relay, delay_shifts_arrival_times_by_about_the_delay)
{
	struct proc p;
	struct result *r = new_result();
	int port;
	int rx = udp_socket(&port);

	start_listening(&p, port, (char *[]){"--delay", "60", NULL}, NULL);
	exchange(&p, rx, 400, 1000, 300, r);
	stop(&p, r);
	cr_assert_eq(r->status, 0);
	cr_assert_eq(r->n_order, 400);
	uint64_t med = median_latency_ns(r);
	cr_expect(med >= 58000000 && med < 200000000,
	          "median latency %.1f ms for a 60 ms delay", med / 1e6);
	cr_log_info("median latency %.2f ms with --delay 60", med / 1e6);
	close(rx);
	free(r);
}

Test(relay, duration_makes_the_relay_exit_by_itself)
{
	struct proc p;
	struct result *r = new_result();
	int port;
	int rx = udp_socket(&port);

	start_listening(&p, port, (char *[]){"--duration", "0.3", NULL}, NULL);
	uint64_t t = now_ns();
	finish(&p, r, 5000);
	double took = (now_ns() - t) / 1e9;
	cr_assert_eq(r->status, 0, "status %d", r->status);
	cr_assert_lt(took, 3.0, "took %.2f s", took);
	cr_assert_eq(stat_of(r, "received"), 0);
	close(rx);
	free(r);
}

Test(relay, max_packets_forwards_n_datagrams_then_exits)
{
	struct proc p;
	struct result *r = new_result();
	int port;
	int rx = udp_socket(&port);

	start_listening(
	        &p, port,
	        (char *[]){"--max-packets", "100", "--delay", "20", NULL},
	        NULL);
	exchange(&p, rx, 100, 1000, 200, r);
	finish(&p, r, 5000);
	cr_assert_eq(r->status, 0);
	cr_assert_eq(r->n_order, 100, "packets still in flight are delivered");
	cr_assert_eq(stat_of(r, "forwarded"), 100);
	close(rx);
	free(r);
}

Test(relay, environment_variables_configure_the_relay)
{
	struct proc p;
	struct result *r = new_result();
	int port;
	int rx = udp_socket(&port);
	char to[64];

	snprintf(to, sizeof(to), "RELAY_TO=127.0.0.1:%d", port);
	start_listening(
	        &p, 0, NULL,
	        (char *[]){to, "RELAY_DUPLICATE=100", "RELAY_SEED=9", NULL});
	exchange(&p, rx, 200, 1000, 200, r);
	stop(&p, r);
	cr_assert_eq(r->status, 0);
	for (unsigned i = 0; i < r->sent; i++)
		cr_assert_eq(r->count[i], 2, "sequence %u", i);
	cr_assert_eq(stat_of(r, "seed"), 9);
	close(rx);
	free(r);
}

Test(relay, bad_arguments_exit_2_with_one_line)
{
	char *const cases[][3] = {
	        {"--loss", "abc", NULL},
	        {"--frobnicate", NULL, NULL},
	        {"--burst", "1", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proc p;
		struct result *r = new_result();
		start(&p, 9, cases[i], NULL);
		finish(&p, r, 5000);
		cr_assert_eq(r->status, 2, "case %zu: status %d", i, r->status);
		char *nl = strchr(r->errtext, '\n');
		cr_assert(strncmp(r->errtext, "relay: ", 7) == 0 && nl &&
		                  nl[1] == '\0',
		          "case %zu: stderr '%s'", i, r->errtext);
		cr_assert_str_empty(r->stats);
		free(r);
	}
}

Test(relay, full_pool_and_oversize_datagrams_are_dropped_and_counted)
{
	struct proc p;
	struct result *r = new_result();
	int port;
	int rx = udp_socket(&port);

	/* Four slots held 50 ms each at one packet per ms: most packets
	 * find the pool full. */
	start_listening(&p, port,
	                (char *[]){"--pool", "4", "--delay", "50", NULL}, NULL);
	exchange(&p, rx, 200, 1000, 200, r);
	stop(&p, r);
	cr_assert_eq(r->status, 0);
	uint64_t full = stat_of(r, "pool_full");
	cr_assert_gt(full, 100, "pool_full %llu", (unsigned long long)full);
	cr_assert_eq(stat_of(r, "forwarded") + full, 200);
	cr_assert_eq(r->n_order, 200 - full);
	free(r);

	r = new_result();
	start_listening(&p, port, (char *[]){"--max-size", "16", NULL}, NULL);
	exchange(&p, rx, 50, 1000, 100, r);
	stop(&p, r);
	cr_assert_eq(r->status, 0);
	cr_assert_eq(stat_of(r, "oversize"), 50);
	cr_assert_eq(r->n_order, 0);
	close(rx);
	free(r);
}

Test(relay, replies_from_the_destination_reach_the_source_unimpaired)
{
	struct proc p;
	struct result *r = new_result();
	int port, src_port;
	int rx = udp_socket(&port);
	int src = udp_socket(&src_port);
	struct sockaddr_in relay_addr = {0}, from;
	socklen_t from_len = sizeof(from);
	unsigned char buf[64] = "ping";

	start_listening(&p, port, NULL, NULL);
	relay_addr.sin_family = AF_INET;
	relay_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	relay_addr.sin_port = htons((uint16_t)p.port);
	cr_assert_eq(sendto(src, buf, 4, 0, (struct sockaddr *)&relay_addr,
	                    sizeof(relay_addr)),
	             4);
	struct pollfd pf = {rx, POLLIN, 0};
	cr_assert_eq(poll(&pf, 1, 3000), 1, "forwarded datagram");
	cr_assert_eq(recvfrom(rx, buf, sizeof(buf), 0, (struct sockaddr *)&from,
	                      &from_len),
	             4);
	/* Answer the relay's sending socket, as an RTCP peer would. */
	cr_assert_eq(
	        sendto(rx, "pong", 4, 0, (struct sockaddr *)&from, from_len),
	        4);
	pf.fd = src;
	cr_assert_eq(poll(&pf, 1, 3000), 1, "reply");
	cr_assert_eq(recv(src, buf, sizeof(buf), 0), 4);
	cr_assert_eq(memcmp(buf, "pong", 4), 0);
	stop(&p, r);
	cr_assert_eq(r->status, 0);
	cr_assert_eq(stat_of(r, "replies"), 1);
	close(src);
	close(rx);
	free(r);
}

Test(relay, tee_gets_the_same_survivors_and_trace_records_each_verdict)
{
	struct proc p;
	struct result *r = new_result();
	struct result *t = new_result();
	int port, tee_port;
	int rx = udp_socket(&port);
	int trx = udp_socket(&tee_port);
	char tee[32], trace[] = "/tmp/test_relay_trace_XXXXXX";
	int fd = mkstemp(trace);

	cr_assert_geq(fd, 0);
	close(fd);
	snprintf(tee, sizeof(tee), "127.0.0.1:%d", tee_port);
	start_listening(&p, port,
	                (char *[]){"--loss", "10", "--seed", "1", "--tee", tee,
	                           "--trace", trace, NULL},
	                NULL);
	t->sent = 500;
	r->sent = 500;
	{
		/* exchange() drains one socket; drain the tee's as we go. */
		struct sockaddr_in to = {0};
		unsigned char buf[PAYLOAD];
		int tx = socket(AF_INET, SOCK_DGRAM, 0);
		to.sin_family = AF_INET;
		to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		to.sin_port = htons((uint16_t)p.port);
		memset(buf, 0xa5, sizeof(buf));
		uint64_t t0 = now_ns();
		for (uint32_t i = 0; i < 500; i++) {
			memcpy(buf, &i, sizeof(i));
			sendto(tx, buf, sizeof(buf), 0, (struct sockaddr *)&to,
			       sizeof(to));
			drain(rx, r);
			drain(trx, t);
			sleep_until(t0 + (uint64_t)(i + 1) * 1000000ULL);
		}
		sleep_until(now_ns() + 200000000ULL);
		drain(rx, r);
		drain(trx, t);
		close(tx);
	}
	stop(&p, r);
	cr_assert_eq(r->status, 0, "exit status %d", r->status);

	FILE *f = fopen(trace, "r");
	cr_assert_not_null(f);
	unsigned idx, len, copies, lines = 0, dropped = 0;
	char hex[64];
	while (fscanf(f, "%u %u %u %63s", &idx, &len, &copies, hex) == 4) {
		cr_assert_eq(idx, lines, "line %u says index %u", lines, idx);
		cr_assert_eq(len, PAYLOAD);
		cr_assert_eq(strlen(hex), 24, "12 bytes in hex: %s", hex);
		/* The first four bytes are the index, little-endian. */
		unsigned b0 = 0;
		sscanf(hex, "%2x", &b0);
		cr_assert_eq(b0, idx & 0xff);
		cr_assert_eq(copies, r->count[idx],
		             "datagram %u: trace %u, "
		             "arrived %u",
		             idx, copies, r->count[idx]);
		cr_assert_eq(t->count[idx], r->count[idx],
		             "datagram %u: %u at --to, %u at --tee", idx,
		             r->count[idx], t->count[idx]);
		dropped += copies == 0;
		lines++;
	}
	fclose(f);
	unlink(trace);
	cr_assert_eq(lines, 500);
	cr_assert_gt(dropped, 0);
	cr_assert_eq(stat_of(r, "dropped"), dropped);
	close(rx);
	close(trx);
	free(r);
	free(t);
}
