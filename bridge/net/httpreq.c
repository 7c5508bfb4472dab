/*
 * httpreq: HTTP/1.x request head parser (see httpreq.h)
 *
 * The head is walked once, line by line, with explicit lengths: no
 * NUL-terminated string functions run over client bytes, so a NUL in the
 * input is just another byte (and refused as a control byte).
 */
#include "bridge/net/httpreq.h"

#include <string.h>

#define HTTPREQ_PATH "/metrics"
#define HTTPREQ_OM   "application/openmetrics-text"

size_t httpreq_head_end(const char *buf, size_t len, size_t from,
                        size_t *scanned)
{
	/* The blank line is "\r\n\r\n" or "\n\n" (or "\n\r\n"): look for a
	   LF followed by an optional CR and another LF. Start a little
	   before `from` so that a terminator split across reads is found. */
	size_t i = from > 3 ? from - 3 : 0;

	for (; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		size_t j = i + 1;
		if (j < len && buf[j] == '\r')
			j++;
		if (j < len && buf[j] == '\n') {
			*scanned = len;
			return j + 1;
		}
	}
	*scanned = len;
	return 0;
}

/* RFC 9110 token characters. */
static bool httpreq__tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static unsigned char httpreq__lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Whether s[0..n) equals the lower-case word w, ignoring case. */
static bool httpreq__ieq(const char *s, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n && w[i]; i++)
		if (httpreq__lower((unsigned char)s[i]) != (unsigned char)w[i])
			return false;
	return i == n && w[i] == '\0';
}

/* Whether s[0..n) contains the lower-case word w, ignoring case. */
static bool httpreq__icontains(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w);

	for (size_t i = 0; i + wl <= n; i++)
		if (httpreq__ieq(s + i, wl, w))
			return true;
	return false;
}

/* The line starting at buf[at]: its length without the CRLF / LF, and
   where the next one starts. Pre: a LF follows within buf[at..len). */
static size_t httpreq__line(const char *buf, size_t len, size_t at,
                            size_t *next)
{
	const char *lf = memchr(buf + at, '\n', len - at);
	size_t end = lf ? (size_t)(lf - buf) : len;

	*next = end + 1;
	if (end > at && buf[end - 1] == '\r')
		end--;
	return end - at;
}

/* Visible ASCII and tabs only (obs-text and control bytes refused). */
static bool httpreq__clean(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			return false;
	}
	return true;
}

/* "METHOD SP TARGET SP HTTP/1.x". Return: the status. */
static int httpreq__request_line(const char *s, size_t n)
{
	size_t m = 0, t0, t1;

	if (!httpreq__clean(s, n))
		return 400;
	while (m < n && httpreq__tchar((unsigned char)s[m]))
		m++;
	if (m == 0 || m >= n || s[m] != ' ')
		return 400;
	t0 = m + 1;
	t1 = t0;
	while (t1 < n && s[t1] != ' ' && s[t1] != '\t')
		t1++;
	if (t1 == t0 || t1 >= n || s[t1] != ' ')
		return 400;
	const char *v = s + t1 + 1;
	size_t vn = n - t1 - 1;
	if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' ||
	    v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
		return 400;
	if (v[5] != '1')
		return 505;
	if (m != 3 || memcmp(s, "GET", 3) != 0)
		return 405;
	size_t pl = strlen(HTTPREQ_PATH), tn = t1 - t0;
	if (tn < pl || memcmp(s + t0, HTTPREQ_PATH, pl) != 0 ||
	    (tn > pl && s[t0 + pl] != '?'))
		return 404;
	return 200;
}

/* "Name: value". Return: 0, or 400. */
static int httpreq__header(struct httpreq *req, const char *s, size_t n)
{
	size_t k = 0;

	if (!httpreq__clean(s, n))
		return 400;
	while (k < n && httpreq__tchar((unsigned char)s[k]))
		k++;
	/* No name (a folded line starts with a blank), or no colon right
	   after it. */
	if (k == 0 || k >= n || s[k] != ':')
		return 400;
	if (httpreq__ieq(s, k, "accept") &&
	    httpreq__icontains(s + k + 1, n - k - 1, HTTPREQ_OM))
		req->openmetrics = true;
	return 0;
}

int httpreq_parse(struct httpreq *req, const char *buf, size_t len)
{
	size_t at = 0, next, n;
	int status;

	memset(req, 0, sizeof(*req));
	req->head_len = len;
	/* Leading empty lines before the request line are tolerated
	   (RFC 9112 2.2). */
	while (at < len && (buf[at] == '\r' || buf[at] == '\n'))
		at++;
	if (at >= len || memchr(buf + at, '\n', len - at) == NULL)
		return req->status = 400;
	n = httpreq__line(buf, len, at, &next);
	status = httpreq__request_line(buf + at, n);
	at = next;
	while (at < len) {
		n = httpreq__line(buf, len, at, &next);
		if (n == 0)
			break; /* the empty line: the head ends */
		if (httpreq__header(req, buf + at, n) != 0)
			return req->status = 400;
		at = next;
	}
	return req->status = status;
}

const char *httpreq_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}
