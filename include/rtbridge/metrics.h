/*
 * rtbridge/metrics.h: a metrics endpoint for a monitoring system, since 0.4
 *
 * A small HTTP server that answers GET /metrics with the page the
 * application last published, in the spelling the client asks for: the
 * Prometheus text format 0.0.4, or OpenMetrics 1.0 when its Accept header
 * names application/openmetrics-text (as Prometheus does). The
 * application writes the page's text (its figures, from the stats the
 * library already gives) and hands both spellings to rtb_metrics_publish,
 * typically once a second; the library copies them into a free page of
 * the server, and every scrape is answered from the page current when its
 * request completes. `rtbridge send --metrics` and `recv --metrics` are
 * built on it.
 *
 * No thread of its own: the server runs on the net thread of an object
 * the library already runs, its host (a receiver, a sender or a SAP
 * listener). Hostile clients cost counters, never memory or the host's
 * streams: 8 connections at once (more wait in the kernel's listen
 * backlog), a request head of at most 2 KiB, a deadline of 3 s from
 * accept to close, one answer per connection; nothing is allocated per
 * scrape (the pages are allocated at create).
 *
 * Order: destroy the endpoint before its host. A host destroyed first
 * closes the server with its net thread; rtb_metrics_destroy then only
 * frees, and publishing in between fails with -ECANCELED.
 */
#ifndef RTBRIDGE_METRICS_H
#define RTBRIDGE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sockaddr;
struct rtb_receiver;
struct rtb_sender;
struct rtb_sap;
struct rtb_metrics;

#define RTB_METRICS_PAGE_MAX (16u << 20) /* bytes of a spelling, at most */
#define RTB_METRICS_CODES    8           /* entries of code[] and answers[] */

struct rtb_metrics_config {
	/* Where to listen (IPv4 or IPv6, port 0: any free port); NULL:
	   127.0.0.1, any free port (loopback by default, never every
	   interface unless asked). */
	const struct sockaddr *addr;
	/* Bytes of each spelling of a page, at most (1 KiB ..
	   RTB_METRICS_PAGE_MAX); 0: 64 KiB. */
	size_t page_bytes;
	/* The host: exactly one of these, whose net thread serves the
	   connections. */
	struct rtb_receiver *receiver;
	struct rtb_sender *sender;
	struct rtb_sap *sap;
};

/* What the server did; every field only grows. */
struct rtb_metrics_counters {
	uint64_t connections; /* accepted */
	uint64_t waited;      /* found every slot taken and waited */
	uint64_t timeouts;    /* cut off at their deadline */
	uint64_t errors;      /* accept, read and write errors */
	uint64_t published;   /* pages made current */
	uint64_t skipped;     /* publishes refused: no free page (slow
	                         clients hold them), too big, or the host's
	                         net thread gone */
	unsigned ncodes;      /* entries of code[] and answers[] in use */
	int code[RTB_METRICS_CODES];         /* an HTTP status: 200, 400, ... */
	uint64_t answers[RTB_METRICS_CODES]; /* answers given with code[i] */
};

/*
 * Listen on cfg->addr on the host's net thread
 *
 * Before the first publish, a scrape is answered 503.
 *
 * Return: 0 with *out set, or a negated errno with one line in why (len
 *         bytes; may be NULL) naming the address: -EINVAL (not exactly
 *         one host, page_bytes out of range, an address that is not
 *         IPv4 or IPv6), -EADDRINUSE and the other errors of bind and
 *         listen, -ECANCELED (the host's net thread has stopped),
 *         -ENOMEM
 * Context: control thread; waits for the host's net thread
 */
int rtb_metrics_create(const struct rtb_metrics_config *cfg,
                       struct rtb_metrics **out, char *why, size_t len);

/* The address listened on, its port filled in (sizeof a struct
   sockaddr_in or sockaddr_in6 by its family). Context: control thread. */
const struct sockaddr *rtb_metrics_addr(const struct rtb_metrics *m);

/*
 * Make a page current: `text` (len bytes, the Prometheus text format
 * 0.0.4) and `openmetrics` (om_len bytes, OpenMetrics 1.0, ending in
 * "# EOF\n"), copied; the caller keeps its buffers. The page replaces
 * the current one once the net thread takes it; scrapes under way finish
 * with the page they started with.
 *
 * Return: 0, -ENOSPC when a spelling is longer than page_bytes, -EBUSY
 *         when no page is free (slow clients hold them all), -ECANCELED
 *         when the host's net thread has stopped; each counted as
 *         skipped, the page before staying current
 * Context: control thread (never the audio thread: it copies the text
 *          and wakes the net thread)
 */
int rtb_metrics_publish(struct rtb_metrics *m, const char *text, size_t len,
                        const char *openmetrics, size_t om_len);

/* The server's counters. Context: control thread. */
void rtb_metrics_counters(const struct rtb_metrics *m,
                          struct rtb_metrics_counters *c);

/* Close the server and free it; NULL does nothing. Call it before
   destroying the host; after (the host's net thread closed the server
   when it stopped) it only frees, never touching the host. Context:
   control thread; waits for the host's net thread. */
void rtb_metrics_destroy(struct rtb_metrics *m);

#ifdef __cplusplus
}
#endif

#endif
