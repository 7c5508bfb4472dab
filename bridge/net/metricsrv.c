/*
 * metricsrv: the metrics endpoint's HTTP server (see metricsrv.h)
 *
 * A connection goes READING (its head accumulates in req[]) -> WRITING
 * (one answer: head[] and the page's text, or a short error body) ->
 * DRAINING (our side shut down; the client's leftovers are read and
 * dropped until it closes, so that closing never resets a connection
 * whose answer is still in flight) -> CLOSING -> FREE. One repeating timer
 * (while connections are open) cuts off every connection past its
 * deadline, whatever its state.
 *
 * With every slot taken, a new connection is left with libuv (which stops
 * polling the listening socket until it is accepted); the first slot
 * freed takes it. The kernel's backlog holds the rest.
 */
#include "bridge/net/metricsrv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/addr.h"
#include "bridge/net/httpreq.h"

#define METRICSRV_TICK_MS 100

enum {
	METRICSRV_CONN_FREE,
	METRICSRV_CONN_READING,
	METRICSRV_CONN_WRITING,
	METRICSRV_CONN_DRAINING,
	METRICSRV_CONN_CLOSING,
};

static const char *const metricsrv__ctype[METRICSRV_FORMATS] = {
        "text/plain; version=0.0.4; charset=utf-8",
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

/* Single writer (the net thread, or control for `skipped`). */
static void metricsrv__count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c,
	                      atomic_load_explicit(c, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

static enum metricsrv_code metricsrv__code(int status)
{
	switch (status) {
	case 200:
		return METRICSRV_200;
	case 404:
		return METRICSRV_404;
	case 405:
		return METRICSRV_405;
	case 431:
		return METRICSRV_431;
	case 503:
		return METRICSRV_503;
	case 505:
		return METRICSRV_505;
	default:
		return METRICSRV_400;
	}
}

/* Net thread: a page one holder fewer; free for control at none. */
static void metricsrv__unref(struct metricsrv_page *p)
{
	if (p && --p->refs == 0)
		/* Release pairs with the acquire in metricsrv_page_get: the
		   last write from this page is done before control reuses
		   it. */
		atomic_store_explicit(&p->busy, 0, memory_order_release);
}

static void metricsrv__accept(struct metricsrv *m);

/* Net thread: once closing and every handle is closed, control may free
   the server. */
static void metricsrv__settle(struct metricsrv *m)
{
	if (m->closing && m->handles == 0 && m->active == 0)
		/* Release pairs with the acquire in metricsrv_closed: the
		   net thread's last touch of the server happens before. */
		atomic_store_explicit(&m->closed, true, memory_order_release);
}

/* The listener's or the timer's close callback. */
static void metricsrv__on_handle_closed(uv_handle_t *h)
{
	struct metricsrv *m = h->data;

	m->handles--;
	metricsrv__settle(m);
}

static void metricsrv__on_closed(uv_handle_t *h)
{
	struct metricsrv_conn *c = h->data;
	struct metricsrv *m = c->srv;

	c->state = METRICSRV_CONN_FREE;
	m->active--;
	metricsrv__settle(m);
	if (m->active == 0 && !m->closing)
		uv_timer_stop(&m->timer);
	if (m->accept_waiting && !m->closing) {
		m->accept_waiting = false;
		metricsrv__accept(m);
	}
}

static void metricsrv__close(struct metricsrv_conn *c)
{
	if (c->state == METRICSRV_CONN_FREE ||
	    c->state == METRICSRV_CONN_CLOSING)
		return;
	c->state = METRICSRV_CONN_CLOSING;
	/* A pending write or shutdown is cancelled; its callback still runs
	   (and lets go of the page). */
	uv_close((uv_handle_t *)&c->tcp, metricsrv__on_closed);
}

static void metricsrv__on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct metricsrv_conn *c = h->data;

	(void)suggested;
	if (c->state == METRICSRV_CONN_READING)
		*buf = uv_buf_init(c->req + c->len,
		                   (unsigned)(sizeof(c->req) - c->len));
	else /* draining: read into the whole buffer, dropped */
		*buf = uv_buf_init(c->req, (unsigned)sizeof(c->req));
}

static void metricsrv__on_drained(uv_stream_t *s, ssize_t n,
                                  const uv_buf_t *buf)
{
	(void)buf;
	if (n < 0)
		metricsrv__close(s->data);
}

static void metricsrv__on_shutdown(uv_shutdown_t *req, int status)
{
	struct metricsrv_conn *c = req->data;

	if (c->state != METRICSRV_CONN_WRITING)
		return; /* closed meanwhile */
	c->state = METRICSRV_CONN_DRAINING;
	if (status < 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, metricsrv__on_alloc,
	                  metricsrv__on_drained) < 0)
		metricsrv__close(c);
}

static void metricsrv__on_written(uv_write_t *req, int status)
{
	struct metricsrv_conn *c = req->data;

	metricsrv__unref(c->page);
	c->page = NULL;
	if (c->state != METRICSRV_CONN_WRITING)
		return; /* closed meanwhile */
	if (status < 0) {
		metricsrv__count(&c->srv->c.errors);
		metricsrv__close(c);
		return;
	}
	c->sd.data = c;
	if (uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp,
	                metricsrv__on_shutdown) < 0)
		metricsrv__close(c);
}

/* Answer with `status`: the current page for 200, else a short text. */
static void metricsrv__answer(struct metricsrv_conn *c, int status, bool om)
{
	struct metricsrv *m = c->srv;
	enum metricsrv_format f = om ? METRICSRV_OPENMETRICS : METRICSRV_TEXT;
	uv_buf_t b[2];
	char *body;
	size_t len;

	(void)uv_read_stop((uv_stream_t *)&c->tcp);
	if (status == 200 && m->cur == NULL)
		status = 503; /* nothing published yet */
	if (status == 200) {
		c->page = m->cur;
		c->page->refs++;
		body = c->page->text[f];
		len = c->page->len[f];
	} else {
		f = METRICSRV_TEXT;
		body = (char *)httpreq_reason(status);
		len = strlen(body);
	}
	metricsrv__count(&m->c.answers[metricsrv__code(status)]);
	int hl = snprintf(c->head, sizeof(c->head),
	                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	                  "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
	                  status, httpreq_reason(status), metricsrv__ctype[f],
	                  len, status == 405 ? "Allow: GET\r\n" : "");
	b[0] = uv_buf_init(c->head, (unsigned)hl);
	b[1] = uv_buf_init(body, (unsigned)len);
	c->state = METRICSRV_CONN_WRITING;
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, b, 2,
	             metricsrv__on_written) < 0) {
		metricsrv__unref(c->page);
		c->page = NULL;
		metricsrv__count(&m->c.errors);
		metricsrv__close(c);
	}
}

static void metricsrv__on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct metricsrv_conn *c = s->data;
	struct httpreq req;

	(void)buf;
	if (c->state != METRICSRV_CONN_READING)
		return;
	if (n < 0) {
		/* The client left before its request was whole. */
		if (n != UV_EOF)
			metricsrv__count(&c->srv->c.errors);
		metricsrv__close(c);
		return;
	}
	c->len += (size_t)n;
	size_t head = httpreq_head_end(c->req, c->len, c->scanned, &c->scanned);
	if (head > 0) {
		httpreq_parse(&req, c->req, head);
		metricsrv__answer(c, req.status, req.openmetrics);
	} else if (c->len == sizeof(c->req)) {
		metricsrv__answer(c, 431, false);
	}
}

static void metricsrv__on_tick(uv_timer_t *t)
{
	struct metricsrv *m = t->data;
	uint64_t now = netloop_now_ns();

	for (int i = 0; i < METRICSRV_CONNS; i++) {
		struct metricsrv_conn *c = &m->conns[i];
		if (c->state == METRICSRV_CONN_FREE ||
		    c->state == METRICSRV_CONN_CLOSING || now < c->deadline_ns)
			continue;
		metricsrv__count(&m->c.timeouts);
		metricsrv__close(c);
	}
}

/* Accept the waiting connection into a free slot, or leave it waiting. */
static void metricsrv__accept(struct metricsrv *m)
{
	struct metricsrv_conn *c = NULL;

	for (int i = 0; i < METRICSRV_CONNS && !c; i++)
		if (m->conns[i].state == METRICSRV_CONN_FREE)
			c = &m->conns[i];
	if (!c) {
		/* libuv holds the connection and stops polling the
		   listening socket until uv_accept takes it. */
		if (!m->accept_waiting)
			metricsrv__count(&m->c.waited);
		m->accept_waiting = true;
		return;
	}
	if (uv_tcp_init(netloop_uv(m->nl), &c->tcp) < 0) {
		metricsrv__count(&m->c.errors);
		return;
	}
	c->tcp.data = c;
	c->srv = m;
	c->len = c->scanned = 0;
	c->page = NULL;
	c->state = METRICSRV_CONN_READING;
	c->deadline_ns =
	        netloop_now_ns() + (uint64_t)METRICSRV_TIMEOUT_MS * 1000000u;
	m->active++;
	if (m->active == 1)
		(void)uv_timer_start(&m->timer, metricsrv__on_tick,
		                     METRICSRV_TICK_MS, METRICSRV_TICK_MS);
	if (uv_accept((uv_stream_t *)&m->listen, (uv_stream_t *)&c->tcp) < 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, metricsrv__on_alloc,
	                  metricsrv__on_read) < 0) {
		metricsrv__count(&m->c.errors);
		metricsrv__close(c);
		return;
	}
	metricsrv__count(&m->c.connections);
}

static void metricsrv__on_connection(uv_stream_t *s, int status)
{
	struct metricsrv *m = s->data;

	if (status < 0) {
		metricsrv__count(&m->c.errors);
		return;
	}
	metricsrv__accept(m);
}

/* The net loop stops: close the listener, the timer, every connection. */
static void metricsrv__on_stop(struct netloop_hook *h)
{
	struct metricsrv *m =
	        (struct metricsrv *)(void *)((char *)h -
	                                     offsetof(struct metricsrv, hook));

	m->closing = true;
	for (int i = 0; i < METRICSRV_CONNS; i++)
		metricsrv__close(&m->conns[i]);
	uv_close((uv_handle_t *)&m->listen, metricsrv__on_handle_closed);
	uv_close((uv_handle_t *)&m->timer, metricsrv__on_handle_closed);
	metricsrv__settle(m);
}

struct metricsrv__open_arg {
	struct metricsrv *m;
	const struct sockaddr *addr;
};

static int metricsrv__fail(struct metricsrv *m, const struct sockaddr *a,
                           const char *what, int rc)
{
	char t[ADDR_TEXT_MAX];

	snprintf(m->err, sizeof(m->err), "--metrics %s: %s: %s",
	         addr_format(a, t, sizeof(t)), what, uv_strerror(rc));
	return rc;
}

static int metricsrv__open_fn(struct netloop *nl, void *arg)
{
	struct metricsrv__open_arg *o = arg;
	struct metricsrv *m = o->m;
	int len = (int)sizeof(m->bound), rc;

	rc = uv_tcp_init(netloop_uv(nl), &m->listen);
	if (rc < 0) {
		m->closing = true;
		metricsrv__settle(m); /* nothing on the loop */
		return metricsrv__fail(m, o->addr, "socket", rc);
	}
	m->listen.data = m;
	m->handles = 1;
	rc = uv_timer_init(netloop_uv(nl), &m->timer);
	if (rc < 0) {
		m->closing = true;
		uv_close((uv_handle_t *)&m->listen,
		         metricsrv__on_handle_closed);
		return metricsrv__fail(m, o->addr, "timer", rc);
	}
	m->timer.data = m;
	m->handles = 2;
	netloop_hook_add(nl, &m->hook, metricsrv__on_stop);
	rc = uv_tcp_bind(&m->listen, o->addr, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&m->listen, METRICSRV_BACKLOG,
		               metricsrv__on_connection);
	if (rc < 0) {
		netloop_hook_remove(nl, &m->hook);
		metricsrv__on_stop(&m->hook);
		return metricsrv__fail(m, o->addr, "cannot listen", rc);
	}
	rc = uv_tcp_getsockname(&m->listen, (struct sockaddr *)&m->bound, &len);
	return rc < 0 ? metricsrv__fail(m, o->addr, "address", rc) : 0;
}

int metricsrv_init(struct metricsrv *m, size_t page_bytes)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < METRICSRV_PAGES; i++) {
		struct metricsrv_page *p = &m->pages[i];
		atomic_init(&p->busy, 0);
		p->cap = page_bytes;
		p->owner = m;
		for (int f = 0; f < METRICSRV_FORMATS; f++) {
			p->text[f] = malloc(page_bytes);
			if (!p->text[f]) {
				metricsrv_clear(m);
				return -ENOMEM;
			}
		}
	}
	return 0;
}

int metricsrv_open(struct metricsrv *m, struct netloop *nl,
                   const struct sockaddr *addr)
{
	struct metricsrv__open_arg o = {.m = m, .addr = addr};

	m->nl = nl;
	int rc = netloop_call_wait(nl, metricsrv__open_fn, &o);

	if (rc < 0 && !m->err[0])
		metricsrv__fail(m, addr, "net thread", rc);
	return rc;
}

const struct sockaddr *metricsrv_addr(const struct metricsrv *m)
{
	return (const struct sockaddr *)&m->bound;
}

const char *metricsrv_error(const struct metricsrv *m)
{
	return m->err;
}

struct metricsrv_page *metricsrv_page_get(struct metricsrv *m)
{
	for (int i = 0; i < METRICSRV_PAGES; i++) {
		struct metricsrv_page *p = &m->pages[i];
		/* Acquire pairs with the release in metricsrv__unref. */
		if (atomic_load_explicit(&p->busy, memory_order_acquire) == 0) {
			atomic_store_explicit(&p->busy, 1,
			                      memory_order_relaxed);
			return p;
		}
	}
	metricsrv__count(&m->c.skipped);
	return NULL;
}

static int metricsrv__publish_fn(struct netloop *nl, void *arg)
{
	struct metricsrv_page *p = arg;
	struct metricsrv *m = p->owner;

	(void)nl;
	p->refs = 1;
	if (m->closing) {
		metricsrv__unref(p);
		return 0;
	}
	metricsrv__unref(m->cur);
	m->cur = p;
	metricsrv__count(&m->c.published);
	return 0;
}

void metricsrv_page_drop(struct metricsrv *m, struct metricsrv_page *p)
{
	metricsrv__count(&m->c.skipped);
	/* Never seen by the net thread: control's own store. */
	atomic_store_explicit(&p->busy, 0, memory_order_relaxed);
}

int metricsrv_publish(struct metricsrv *m, struct metricsrv_page *p)
{
	int rc = netloop_call(m->nl, metricsrv__publish_fn, p);
	if (rc < 0)
		metricsrv_page_drop(m, p);
	return rc;
}

static int metricsrv__close_fn(struct netloop *nl, void *arg)
{
	struct metricsrv *m = arg;

	if (!m->closing) { /* else closed by a failed open already */
		netloop_hook_remove(nl, &m->hook);
		metricsrv__on_stop(&m->hook);
	}
	return 0;
}

bool metricsrv_closed(struct metricsrv *m)
{
	/* Acquire pairs with the release in metricsrv__settle. */
	return atomic_load_explicit(&m->closed, memory_order_acquire);
}

int metricsrv_close(struct metricsrv *m)
{
	if (m->nl == NULL || metricsrv_closed(m))
		return 0;
	int rc = netloop_call_wait(m->nl, metricsrv__close_fn, m);
	if (rc == -ECANCELED)
		/* The loop stopped (its hook closed everything) or open
		   never reached it: nothing of ours is on it. */
		return 0;
	if (rc < 0)
		return rc;
	return netloop_wait_closed(&m->closed, 5000) ? 0 : -ETIMEDOUT;
}

void metricsrv_clear(struct metricsrv *m)
{
	for (int i = 0; i < METRICSRV_PAGES; i++)
		for (int f = 0; f < METRICSRV_FORMATS; f++) {
			free(m->pages[i].text[f]);
			m->pages[i].text[f] = NULL;
		}
}
