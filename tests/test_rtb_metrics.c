/*
 * test_rtb_metrics: the metrics endpoint of the public C API
 * (rtbridge/metrics.h), through librtbridge.so
 *
 * An endpoint on a receiver's net thread (no thread more in the process)
 * answers 503 before a page, then the page published, in the spelling the
 * Accept header asks for, fetched over HTTP on 127.0.0.1 with a plain
 * socket; a page bigger than page_bytes is refused (-ENOSPC) and counted,
 * the page before staying; the endpoint is destroyed before its host, or
 * after it (then only freed), without a crash or a leak (ASan).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rtbridge/rtbridge.h>

TestSuite(rtb_metrics, .timeout = 60);

static const char TEXT[] = "# HELP t_total a test\n# TYPE t_total counter\n"
                           "t_total 7\n";
static const char OM[] = "# HELP t a test\n# TYPE t counter\nt_total 7\n"
                         "# EOF\n";

/* Threads of this process (/proc/self/task). */
static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* GET /metrics (with `accept`, or none) from the endpoint: the status
   code, the whole answer in buf. */
static int scrape(const struct rtb_metrics *m, const char *accept, char *buf,
                  size_t cap)
{
	char req[256];
	size_t n = 0;

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(
	        connect(fd, rtb_metrics_addr(m), sizeof(struct sockaddr_in)), 0,
	        "connect: %s", strerror(errno));
	int len = snprintf(req, sizeof(req),
	                   "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s"
	                   "\r\n",
	                   accept ? "Accept: " : "", accept ? accept : "",
	                   accept ? "\r\n" : "");
	cr_assert_eq(write(fd, req, (size_t)len), len);
	for (;;) { /* one answer, then the server closes */
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		cr_assert_geq(r, 0, "read: %s", strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
		cr_assert_lt(n, cap - 1, "the answer fits");
	}
	buf[n] = '\0';
	close(fd);
	int status = 0;
	cr_assert_eq(sscanf(buf, "HTTP/1.1 %d", &status), 1, "%s", buf);
	return status;
}

/* Scrape until the page published reaches the net thread (it is posted
   there: a scrape right after may still see none). Return: the status. */
static int scrape_page(const struct rtb_metrics *m, const char *accept,
                       char *buf, size_t cap)
{
	const struct timespec nap = {0, 5000000L};
	int status = 503;

	for (int i = 0; i < 200 && status == 503; i++) {
		status = scrape(m, accept, buf, cap);
		if (status == 503)
			nanosleep(&nap, NULL);
	}
	return status;
}

/* The answer's body (after the blank line). */
static const char *body(const char *answer)
{
	const char *b = strstr(answer, "\r\n\r\n");
	cr_assert_not_null(b, "%s", answer);
	return b + 4;
}

/* An engine and a receiver on 127.0.0.1 (the host), an endpoint on it. */
static void setup(struct rtb_engine **e, struct rtb_receiver **r,
                  struct rtb_metrics **m, size_t page_bytes)
{
	char why[256] = "";
	struct rtb_engine_config ec = {.clock = RTB_CLOCK_EXTERNAL};
	struct rtb_receiver_config rc = {.listen = "127.0.0.1:0",
	                                 .codec = RTB_CODEC_L16};

	cr_assert_eq(rtb_engine_create(&ec, e, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rtb_receiver_create(*e, &rc, r, why, sizeof(why)), 0, "%s",
	             why);
	int before = threads();
	struct rtb_metrics_config mc = {.receiver = *r,
	                                .page_bytes = page_bytes};
	cr_assert_eq(rtb_metrics_create(&mc, m, why, sizeof(why)), 0, "%s",
	             why);
	cr_assert_eq(threads(), before, "no thread of its own");
	const struct sockaddr_in *a =
	        (const struct sockaddr_in *)rtb_metrics_addr(*m);
	cr_assert_eq(a->sin_family, AF_INET);
	cr_assert_eq(ntohl(a->sin_addr.s_addr), INADDR_LOOPBACK,
	             "loopback by default");
	cr_assert_neq(a->sin_port, 0, "port 0 picked one");
}

Test(rtb_metrics, serves_the_page_published_in_both_spellings)
{
	static char ans[8192];
	struct rtb_engine *e = NULL;
	struct rtb_receiver *r = NULL;
	struct rtb_metrics *m = NULL;
	struct rtb_metrics_counters c;

	setup(&e, &r, &m, 0);
	cr_assert_eq(scrape(m, NULL, ans, sizeof(ans)), 503, "no page yet");
	cr_assert_eq(rtb_metrics_publish(m, TEXT, strlen(TEXT), OM, strlen(OM)),
	             0);
	cr_assert_eq(scrape_page(m, NULL, ans, sizeof(ans)), 200, "%s", ans);
	cr_assert(strstr(ans, "Content-Type: text/plain; version=0.0.4"), "%s",
	          ans);
	cr_assert_str_eq(body(ans), TEXT);
	cr_assert_eq(scrape(m, "application/openmetrics-text;version=1.0.0",
	                    ans, sizeof(ans)),
	             200);
	cr_assert(strstr(ans, "Content-Type: application/openmetrics-text"),
	          "%s", ans);
	cr_assert_str_eq(body(ans), OM);

	rtb_metrics_counters(m, &c);
	cr_assert_geq(c.connections, 3);
	cr_assert_eq(c.published, 1);
	cr_assert_eq(c.skipped, 0);
	cr_assert_eq(c.ncodes, 7);
	cr_assert_eq(c.code[0], 200);
	cr_assert_eq(c.answers[0], 2, "two pages served");
	for (unsigned i = 0; i < c.ncodes; i++)
		if (c.code[i] == 503)
			cr_assert_geq(c.answers[i], 1);
	/* Destroyed before its host: the listener closed, the host's net
	   thread goes on (a new endpoint there takes the same port). */
	struct sockaddr_in a;
	char why[256] = "";
	memcpy(&a, rtb_metrics_addr(m), sizeof(a));
	rtb_metrics_destroy(m);
	struct rtb_metrics_config mc = {.receiver = r,
	                                .addr = (const struct sockaddr *)&a};
	cr_assert_eq(rtb_metrics_create(&mc, &m, why, sizeof(why)), 0, "%s",
	             why);
	cr_assert_eq(scrape(m, NULL, ans, sizeof(ans)), 503, "a new server");
	rtb_metrics_destroy(m);
	rtb_receiver_destroy(r);
	rtb_engine_destroy(e);
}

Test(rtb_metrics, refuses_a_page_too_big_and_keeps_the_one_before)
{
	static char ans[8192], big[4096];
	struct rtb_engine *e = NULL;
	struct rtb_receiver *r = NULL;
	struct rtb_metrics *m = NULL;
	struct rtb_metrics_counters c;

	setup(&e, &r, &m, 1024);
	cr_assert_eq(rtb_metrics_publish(m, TEXT, strlen(TEXT), OM, strlen(OM)),
	             0);
	memset(big, 'x', sizeof(big));
	cr_assert_eq(rtb_metrics_publish(m, big, 1025, OM, strlen(OM)),
	             -ENOSPC);
	cr_assert_eq(rtb_metrics_publish(m, TEXT, strlen(TEXT), big, 1025),
	             -ENOSPC);
	/* A page that fits goes on. */
	cr_assert_eq(rtb_metrics_publish(m, TEXT, strlen(TEXT), OM, strlen(OM)),
	             0);
	cr_assert_eq(scrape_page(m, NULL, ans, sizeof(ans)), 200, "%s", ans);
	cr_assert_str_eq(body(ans), TEXT, "the page before stays");
	cr_assert_eq(rtb_metrics_publish(m, big, 1024, big, 1024), 0,
	             "page_bytes exactly fits");
	rtb_metrics_counters(m, &c);
	cr_assert_eq(c.skipped, 2, "each refusal counted");
	rtb_metrics_destroy(m);
	rtb_receiver_destroy(r);
	rtb_engine_destroy(e);
}

Test(rtb_metrics, destroyed_after_its_host_only_frees)
{
	static char ans[8192];
	struct rtb_engine *e = NULL;
	struct rtb_receiver *r = NULL;
	struct rtb_metrics *m = NULL;

	setup(&e, &r, &m, 0);
	cr_assert_eq(rtb_metrics_publish(m, TEXT, strlen(TEXT), OM, strlen(OM)),
	             0);
	cr_assert_eq(scrape_page(m, NULL, ans, sizeof(ans)), 200, "%s", ans);
	/* The host's net thread closes the server with its loop. */
	rtb_receiver_destroy(r);
	cr_assert_eq(rtb_metrics_publish(m, TEXT, strlen(TEXT), OM, strlen(OM)),
	             -ECANCELED, "nothing takes a page any more");
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_neq(
	        connect(fd, rtb_metrics_addr(m), sizeof(struct sockaddr_in)), 0,
	        "the port is closed");
	close(fd);
	rtb_metrics_destroy(m);
	rtb_engine_destroy(e);
}

Test(rtb_metrics, says_what_is_wrong)
{
	char why[256] = "";
	struct rtb_engine *e = NULL;
	struct rtb_receiver *r = NULL;
	struct rtb_metrics *m = NULL, *m2 = NULL;

	setup(&e, &r, &m, 0);
	struct rtb_metrics_config mc = {.receiver = r,
	                                .addr = rtb_metrics_addr(m)};
	cr_assert_eq(rtb_metrics_create(&mc, &m2, why, sizeof(why)),
	             -EADDRINUSE);
	cr_assert_null(m2);
	cr_assert(strstr(why, "127.0.0.1:") && strstr(why, "in use"), "%s",
	          why);
	struct rtb_metrics_config none = {0};
	cr_assert_eq(rtb_metrics_create(&none, &m2, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "no host"), "%s", why);
	mc = (struct rtb_metrics_config){.receiver = r, .page_bytes = 10};
	cr_assert_eq(rtb_metrics_create(&mc, &m2, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "page_bytes"), "%s", why);
	rtb_metrics_destroy(NULL);
	rtb_metrics_destroy(m);
	rtb_receiver_destroy(r);
	rtb_engine_destroy(e);
}
