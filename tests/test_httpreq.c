/*
 * The metrics endpoint's request parser: pure, single-threaded. What a
 * scraper sends (curl, Prometheus), what a hostile client sends (garbage,
 * control bytes, folded headers, other methods and paths), and a head
 * arriving a byte at a time.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "bridge/net/httpreq.h"

TestSuite(httpreq, .timeout = 30);

static int parse(const char *text, struct httpreq *r)
{
	size_t scanned = 0, len = strlen(text);
	size_t head = httpreq_head_end(text, len, 0, &scanned);

	cr_assert_eq(head, len, "head ends at %zu of %zu", head, len);
	return httpreq_parse(r, text, head);
}

Test(httpreq, serves_get_metrics_from_curl_and_prometheus)
{
	struct httpreq r;

	cr_assert_eq(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n"
	                   "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
	                   &r),
	             200);
	cr_assert_not(r.openmetrics);
	cr_assert_eq(parse("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"
	                   "Accept: application/openmetrics-text;"
	                   "version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n"
	                   "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
	                   &r),
	             200);
	cr_assert(r.openmetrics);
	cr_assert_eq(parse("GET /metrics?x=1 HTTP/1.0\n\n", &r), 200);
	cr_assert_eq(parse("\r\nGET /metrics HTTP/1.1\r\n\r\n", &r), 200);
	cr_assert_eq(parse("GET /metrics HTTP/1.1\r\naccept: APPLICATION/"
	                   "OPENMETRICS-TEXT\r\n\r\n",
	                   &r),
	             200);
	cr_assert(r.openmetrics);
}

Test(httpreq, answers_other_paths_and_methods_with_their_status)
{
	struct httpreq r;

	cr_assert_eq(parse("GET / HTTP/1.1\r\n\r\n", &r), 404);
	cr_assert_eq(parse("GET /metricsx HTTP/1.1\r\n\r\n", &r), 404);
	cr_assert_eq(parse("GET /metric HTTP/1.1\r\n\r\n", &r), 404);
	cr_assert_eq(parse("POST /metrics HTTP/1.1\r\n\r\n", &r), 405);
	cr_assert_eq(parse("get /metrics HTTP/1.1\r\n\r\n", &r), 405);
	cr_assert_eq(parse("HEAD /metrics HTTP/1.1\r\n\r\n", &r), 405);
	cr_assert_eq(parse("GET /metrics HTTP/2.0\r\n\r\n", &r), 505);
	cr_assert_str_eq(httpreq_reason(404), "Not Found");
	cr_assert_str_eq(httpreq_reason(431),
	                 "Request Header Fields Too Large");
}

Test(httpreq, refuses_malformed_heads)
{
	static const char *const bad[] = {
	        "\r\n\r\n",
	        "GET\r\n\r\n",
	        "GET /metrics\r\n\r\n",
	        "GET  /metrics HTTP/1.1\r\n\r\n",
	        "GET /metrics HTTP/1.1 \r\n\r\n",
	        "GET /metrics HTTP/x.1\r\n\r\n",
	        "GET /metrics HTTP/1.10\r\n\r\n",
	        "GET /metrics FTP/1.1\r\n\r\n",
	        "GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n",
	        "GET /metrics HTTP/1.1\r\n: no name\r\n\r\n",
	        "GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n",
	        "GET /metrics HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
	        "GET /metrics HTTP/1.1\r\nA: \x01\r\n\r\n",
	        "GET /met\x7frics HTTP/1.1\r\n\r\n",
	        "\x16\x03\x01\x02\x01\xfc\x03\x03\n\n",
	};
	struct httpreq r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t scanned = 0, len = strlen(bad[i]);
		size_t head = httpreq_head_end(bad[i], len, 0, &scanned);
		cr_assert_gt(head, 0, "case %zu", i);
		cr_assert_eq(httpreq_parse(&r, bad[i], head), 400, "case %zu",
		             i);
	}
}

Test(httpreq, a_nul_byte_is_refused_not_a_string_end)
{
	const char text[] = "GET /metrics HTTP/1.1\r\nA: x\0y\r\n\r\n";
	size_t len = sizeof(text) - 1, scanned = 0;
	struct httpreq r;

	size_t head = httpreq_head_end(text, len, 0, &scanned);
	cr_assert_eq(head, len);
	cr_assert_eq(httpreq_parse(&r, text, head), 400);
}

Test(httpreq, finds_the_head_end_a_byte_at_a_time)
{
	const char *text = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\nBODY";
	size_t want = strlen(text) - 4, scanned = 0, head = 0, n;

	for (n = 1; n <= strlen(text) && head == 0; n++)
		head = httpreq_head_end(text, n, scanned, &scanned);
	cr_assert_eq(head, want);
	cr_assert_eq(n - 1, want, "found once the last byte came");
	cr_assert_eq(
	        httpreq_head_end("GET / HTTP/1.1\r\nA: b\r\n", 22, 0, &scanned),
	        0);
	cr_assert_eq(scanned, 22);
}
