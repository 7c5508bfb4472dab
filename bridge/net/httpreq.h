/*
 * httpreq: the request head of an HTTP/1.x client, parsed for the metrics
 * endpoint
 *
 * Pure code, no I/O: the caller accumulates the bytes a client sent in a
 * fixed buffer and asks whether the head (request line and header lines,
 * up to the empty line) is complete; once it is, the parser says how to
 * answer. Only "GET /metrics" (a query string is ignored) is served;
 * everything else gets a status code. The bytes are hostile: every length
 * is bounded by the caller's buffer, nothing is asserted about them, and
 * the work per call is linear in the bytes given.
 *
 * Context: any (pure); the metrics server calls it on the net thread.
 */
#ifndef RTB_HTTPREQ_H
#define RTB_HTTPREQ_H

#include <stdbool.h>
#include <stddef.h>

/* The outcome of a complete request head. */
struct httpreq {
	int status;       /* 200: serve /metrics; otherwise the status to
	                     answer (400, 404, 405, 505) */
	bool openmetrics; /* the client's Accept names
	                     application/openmetrics-text */
	size_t head_len;  /* bytes of the head, the empty line included */
};

/*
 * Where the head of the request in buf[0..len) ends.
 *
 * `from` is where the previous call stopped looking (0 the first time;
 * pass the returned *scanned next time), so that a client sending a byte
 * at a time costs linear work in all.
 *
 * Post: *scanned is where to resume
 * Return: the head's length (the empty line included), or 0 when the
 *         empty line has not arrived yet
 */
size_t httpreq_head_end(const char *buf, size_t len, size_t from,
                        size_t *scanned);

/*
 * Parse a complete head (buf[0..len), as found by httpreq_head_end).
 *
 * Request line "METHOD SP TARGET SP HTTP/1.x" and header lines
 * "Name: value"; lines end in CRLF or a bare LF. A method other than GET
 * is 405, a target other than /metrics (or /metrics?...) 404, a version
 * other than HTTP/1.0 or 1.1 505, anything malformed (control bytes, a
 * header without a name or a colon, folded lines) 400.
 *
 * Post: req filled in
 * Return: req->status
 */
int httpreq_parse(struct httpreq *req, const char *buf, size_t len);

/* The reason phrase of a status this module answers ("Not Found"). */
const char *httpreq_reason(int status);

#endif
