/*
 * The metrics endpoint's HTTP server on a real net thread, loopback only
 * (127.0.0.1, port 0): a published page served in both spellings, 503
 * before any page, 404 / 405 / 431 for what is not a scrape, silent
 * clients cut off at the deadline while more connections than slots wait
 * their turn, and pages circulating back to control after each publish.
 * Clients are plain blocking sockets on the test thread; the server's
 * counters are read after a netloop_call_wait (a happens-before edge).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bridge/net/metricsrv.h"
#include "bridge/net/netloop.h"

static struct netloop nl;
static struct metricsrv srv;

static void setup(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(netloop_start(&nl, 64), 0);
	cr_assert_eq(metricsrv_init(&srv, 4096), 0);
	cr_assert_eq(metricsrv_open(&srv, &nl, (struct sockaddr *)&a), 0, "%s",
	             metricsrv_error(&srv));
}

static void teardown(void)
{
	netloop_stop(&nl);
	metricsrv_clear(&srv);
}

TestSuite(metricsrv, .init = setup, .fini = teardown, .timeout = 60);

static int noop(struct netloop *l, void *arg)
{
	(void)l;
	(void)arg;
	return 0;
}

/* Every call posted before has run on the net thread. */
static void sync_net(void)
{
	cr_assert_eq(netloop_call_wait(&nl, noop, NULL), 0);
}

static uint64_t counter(_Atomic uint64_t *c)
{
	sync_net();
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void publish(const char *text, const char *om)
{
	struct metricsrv_page *p = metricsrv_page_get(&srv);

	cr_assert_not_null(p);
	p->len[METRICSRV_TEXT] =
	        (size_t)snprintf(p->text[METRICSRV_TEXT], p->cap, "%s", text);
	p->len[METRICSRV_OPENMETRICS] = (size_t)snprintf(
	        p->text[METRICSRV_OPENMETRICS], p->cap, "%s", om);
	cr_assert_eq(metricsrv_publish(&srv, p), 0);
	sync_net();
}

static int client(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = {10, 0};

	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(
	        connect(fd, metricsrv_addr(&srv), sizeof(struct sockaddr_in)),
	        0, "%s", strerror(errno));
	return fd;
}

/* Read until the server closes (or 10 s). Return: bytes read. */
static size_t read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < cap && (r = recv(fd, buf + n, cap - 1 - n, 0)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return n;
}

/* One request, the whole answer. */
static void ask(const char *req, size_t len, char *buf, size_t cap)
{
	int fd = client();

	cr_assert_eq(send(fd, req, len, 0), (ssize_t)len);
	read_all(fd, buf, cap);
	close(fd);
}

static double now_s(void)
{
	return (double)netloop_now_ns() / 1e9;
}

Test(metricsrv, serves_the_page_in_the_spelling_asked)
{
	static const char plain[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char om[] = "GET /metrics HTTP/1.1\r\nAccept: "
	                         "application/openmetrics-text\r\n\r\n";
	char buf[8192];

	publish("a_total 1\n", "a_total 1\n# EOF\n");
	ask(plain, sizeof(plain) - 1, buf, sizeof(buf));
	cr_assert(strstr(buf, "HTTP/1.1 200 OK\r\n") == buf, "%s", buf);
	cr_assert_not_null(strstr(buf, "text/plain; version=0.0.4"));
	cr_assert_not_null(strstr(buf, "Content-Length: 10\r\n"));
	cr_assert_not_null(strstr(buf, "\r\n\r\na_total 1\n"));
	ask(om, sizeof(om) - 1, buf, sizeof(buf));
	cr_assert_not_null(strstr(buf, "application/openmetrics-text"));
	cr_assert_not_null(strstr(buf, "\r\n\r\na_total 1\n# EOF\n"), "%s",
	                   buf);
	publish("b 2\n", "b 2\n# EOF\n");
	ask(plain, sizeof(plain) - 1, buf, sizeof(buf));
	cr_assert_not_null(strstr(buf, "\r\n\r\nb 2\n"), "the newest page");
	cr_assert_eq(counter(&srv.c.answers[METRICSRV_200]), 3);
	cr_assert_eq(counter(&srv.c.connections), 3);
}

Test(metricsrv, answers_503_before_any_page)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	char buf[1024];

	ask(req, sizeof(req) - 1, buf, sizeof(buf));
	cr_assert(strstr(buf, "HTTP/1.1 503 ") == buf, "%s", buf);
}

Test(metricsrv, answers_what_is_not_a_scrape_with_its_status)
{
	static const char nf[] = "GET /other HTTP/1.1\r\n\r\n";
	static const char post[] = "POST /metrics HTTP/1.1\r\n\r\n";
	static const char junk[] = "\x16\x03\x01 hello\n\n";
	char big[METRICSRV_REQ_MAX + 100], buf[1024];

	publish("x 1\n", "x 1\n# EOF\n");
	ask(nf, sizeof(nf) - 1, buf, sizeof(buf));
	cr_assert(strstr(buf, "HTTP/1.1 404 ") == buf, "%s", buf);
	ask(post, sizeof(post) - 1, buf, sizeof(buf));
	cr_assert(strstr(buf, "HTTP/1.1 405 ") == buf, "%s", buf);
	cr_assert_not_null(strstr(buf, "Allow: GET\r\n"));
	ask(junk, sizeof(junk) - 1, buf, sizeof(buf));
	cr_assert(strstr(buf, "HTTP/1.1 400 ") == buf, "%s", buf);
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	ask(big, sizeof(big), buf, sizeof(buf));
	cr_assert(strstr(buf, "HTTP/1.1 431 ") == buf, "%s", buf);
	cr_assert_eq(counter(&srv.c.answers[METRICSRV_404]), 1);
	cr_assert_eq(counter(&srv.c.answers[METRICSRV_405]), 1);
	cr_assert_eq(counter(&srv.c.answers[METRICSRV_400]), 1);
	cr_assert_eq(counter(&srv.c.answers[METRICSRV_431]), 1);
}

Test(metricsrv, cuts_off_silent_clients_and_serves_the_one_that_waited)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\n\r\n";
	int idle[METRICSRV_CONNS + 2], fd;
	char buf[1024];

	publish("y 1\n", "y 1\n# EOF\n");
	/* More silent clients than slots (a slowloris holding them all). */
	for (int i = 0; i < METRICSRV_CONNS + 2; i++)
		idle[i] = client();
	double t0 = now_s();
	fd = client();
	cr_assert_eq(send(fd, req, sizeof(req) - 1, 0),
	             (ssize_t)(sizeof(req) - 1));
	read_all(fd, buf, sizeof(buf));
	double waited = now_s() - t0;
	close(fd);
	cr_assert(strstr(buf, "HTTP/1.1 200 OK") == buf, "%s", buf);
	/* Served once the first silent ones were cut off, not before. */
	cr_assert_geq(waited, METRICSRV_TIMEOUT_MS / 1000.0 - 0.5,
	              "waited %.2f s", waited);
	for (int i = 0; i < METRICSRV_CONNS + 2; i++) {
		/* Each silent client is closed by the server. */
		cr_assert_eq(read_all(idle[i], buf, sizeof(buf)), 0);
		close(idle[i]);
	}
	cr_assert_geq(counter(&srv.c.timeouts), METRICSRV_CONNS);
	cr_assert_geq(counter(&srv.c.waited), 1);
}

Test(metricsrv, pages_come_back_to_control_after_each_publish)
{
	for (int i = 0; i < 50; i++) {
		char t[32];
		snprintf(t, sizeof(t), "n %d\n", i);
		publish(t, t);
	}
	/* One page is current; every other is free again. */
	int busy = 0;
	for (int i = 0; i < METRICSRV_PAGES; i++)
		busy += atomic_load_explicit(&srv.pages[i].busy,
		                             memory_order_acquire);
	cr_assert_eq(busy, 1);
	cr_assert_eq(counter(&srv.c.published), 50);
	cr_assert_eq(counter(&srv.c.skipped), 0);
}
