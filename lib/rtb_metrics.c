/*
 * rtb_metrics: the public metrics endpoint (include/rtbridge/metrics.h)
 * over the runtime's HTTP server (bridge/net/metricsrv.h), on the net
 * thread of its host
 *
 * metricsrv runs on any netloop: here the host's (the receiver's, the
 * sender's or the SAP listener's, rtb__*_netloop), so the endpoint adds
 * no thread. Publishing copies the application's text into a free page
 * of the server and posts it to that net thread.
 *
 * The host may be destroyed first: its netloop_stop runs the server's
 * close hook, which closes every handle and sets `closed`; destroy sees
 * it and only frees, never touching the host's (freed) loop.
 *
 * Context: control thread.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rtbridge/metrics.h>

#include "bridge/net/addr.h"
#include "bridge/net/metricsrv.h"
#include "bridge/net/netloop.h"
#include "lib/rtb_lib.h"

#define RTB_METRICS_PAGE_MIN     1024u
#define RTB_METRICS_PAGE_DEFAULT (64u << 10)

struct rtb_metrics {
	struct metricsrv srv;
	bool ready; /* the pages are allocated */
};

/* The host's net thread; NULL when it has stopped. */
static struct netloop *rtb_metrics__host(const struct rtb_metrics_config *c)
{
	return c->receiver ? rtb__receiver_netloop(c->receiver)
	       : c->sender ? rtb__sender_netloop(c->sender)
	                   : rtb__sap_netloop(c->sap);
}

RTB_API int rtb_metrics_create(const struct rtb_metrics_config *cfg,
                               struct rtb_metrics **out, char *why, size_t len)
{
	struct sockaddr_in lo = {.sin_family = AF_INET,
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	const struct sockaddr *a =
	        cfg->addr ? cfg->addr : (const struct sockaddr *)&lo;
	size_t bytes =
	        cfg->page_bytes ? cfg->page_bytes : RTB_METRICS_PAGE_DEFAULT;

	*out = NULL;
	if (a->sa_family != AF_INET && a->sa_family != AF_INET6) {
		rtb__why(why, len, "metrics: the address is not IPv4 or IPv6");
		return -EINVAL;
	}
	if (bytes < RTB_METRICS_PAGE_MIN || bytes > RTB_METRICS_PAGE_MAX) {
		rtb__why(why, len, "metrics: page_bytes %zu is not %u..%u",
		         bytes, RTB_METRICS_PAGE_MIN, RTB_METRICS_PAGE_MAX);
		return -EINVAL;
	}
	int hosts = !!cfg->receiver + !!cfg->sender + !!cfg->sap;
	if (hosts != 1) {
		rtb__why(why, len,
		         "metrics: %s host (a receiver, a sender or a SAP "
		         "listener)",
		         hosts ? "more than one" : "no");
		return -EINVAL;
	}
	struct netloop *nl = rtb_metrics__host(cfg);
	if (!nl) {
		rtb__why(why, len,
		         "metrics: the host's net thread has stopped");
		return -ECANCELED;
	}
	struct rtb_metrics *m = calloc(1, sizeof(*m));
	int rc = m ? metricsrv_init(&m->srv, bytes) : -ENOMEM;
	if (rc < 0) {
		rtb__why(why, len, "metrics: out of memory");
		free(m);
		return rc;
	}
	m->ready = true;
	rc = metricsrv_open(&m->srv, nl, a);
	if (rc < 0) {
		rtb__why(why, len, "%s", metricsrv_error(&m->srv));
		rtb_metrics_destroy(m);
		return rc;
	}
	*out = m;
	return 0;
}

RTB_API const struct sockaddr *rtb_metrics_addr(const struct rtb_metrics *m)
{
	return metricsrv_addr(&m->srv);
}

RTB_API int rtb_metrics_publish(struct rtb_metrics *m, const char *text,
                                size_t len, const char *openmetrics,
                                size_t om_len)
{
	const char *src[METRICSRV_FORMATS] = {text, openmetrics};
	const size_t n[METRICSRV_FORMATS] = {len, om_len};

	/* The host's loop stopped (maybe freed with the host): nothing
	   would take the page, and the loop must not be touched. */
	bool gone = metricsrv_closed(&m->srv);
	struct metricsrv_page *p = metricsrv_page_get(&m->srv);

	if (!p)
		return gone ? -ECANCELED : -EBUSY; /* counted */
	if (gone || len > p->cap || om_len > p->cap) {
		metricsrv_page_drop(&m->srv, p); /* counted */
		return gone ? -ECANCELED : -ENOSPC;
	}
	for (int f = 0; f < METRICSRV_FORMATS; f++) {
		memcpy(p->text[f], src[f], n[f]);
		p->len[f] = n[f];
	}
	return metricsrv_publish(&m->srv, p);
}

static uint64_t rtb_metrics__get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

RTB_API void rtb_metrics_counters(const struct rtb_metrics *m,
                                  struct rtb_metrics_counters *c)
{
	static const int codes[METRICSRV_CODES] = {200, 400, 404, 405,
	                                           431, 503, 505};
	const struct metricsrv_counters *s = &m->srv.c;

	_Static_assert(METRICSRV_CODES <= RTB_METRICS_CODES,
	               "room for every status");
	*c = (struct rtb_metrics_counters){
	        .connections = rtb_metrics__get(&s->connections),
	        .waited = rtb_metrics__get(&s->waited),
	        .timeouts = rtb_metrics__get(&s->timeouts),
	        .errors = rtb_metrics__get(&s->errors),
	        .published = rtb_metrics__get(&s->published),
	        .skipped = rtb_metrics__get(&s->skipped),
	        .ncodes = METRICSRV_CODES,
	};
	for (int i = 0; i < METRICSRV_CODES; i++) {
		c->code[i] = codes[i];
		c->answers[i] = rtb_metrics__get(&s->answers[i]);
	}
}

RTB_API void rtb_metrics_destroy(struct rtb_metrics *m)
{
	if (!m)
		return;
	/* A host destroyed first closed the server with its loop
	   (metricsrv_closed): then the loop is never touched. */
	int rc = metricsrv_close(&m->srv);
	if (rc < 0) {
		/* Its handles may still be on the loop: never free them. */
		fprintf(stderr,
		        "rtbridge: metrics: the net thread did not "
		        "close the server (%s); its memory is left "
		        "allocated\n",
		        strerror(-rc));
		return;
	}
	if (m->ready)
		metricsrv_clear(&m->srv);
	free(m);
}
