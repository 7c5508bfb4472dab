/*
 * metricsrv: a small HTTP server on the net thread that serves one text
 * page, the metrics, at GET /metrics
 *
 * The control thread writes the page (Prometheus text format and
 * OpenMetrics, the same figures in both) into one of a few pages
 * allocated at set-up and hands it to the net thread with a netloop call
 * (metricsrv_publish); a scrape answers with the page current when its
 * request completes. Nothing is formatted or allocated per scrape: each
 * connection has a fixed request buffer and a small header buffer, and
 * the body is written straight from the page, which stays referenced
 * until the write is done.
 *
 * Pages circulate in a closed loop: control takes a free one
 * (metricsrv_page_get), fills it and publishes it; the net thread makes it
 * current and frees the page it replaces once no connection writes from
 * it (`busy` back to 0). When every page is held (slow clients), a publish
 * is skipped and counted; the old page stays current.
 *
 * Hostile clients cost counters, never memory or the stream: at most
 * METRICSRV_CONNS connections at once (more wait in the kernel's listen
 * backlog, then are refused by it), a request head of at most
 * METRICSRV_REQ_MAX bytes (431 beyond), one deadline per connection
 * (METRICSRV_TIMEOUT_MS from accept to close: slow senders and slow
 * readers are cut off), one answer per connection (Connection: close).
 *
 * Ownership: struct metricsrv is control's storage. Between metricsrv_open
 * and the net loop's stop (or metricsrv_close, for a loop that goes on
 * running other objects), its handles and connections belong to the net
 * thread; the counters are single-writer atomics anyone may read.
 */
#ifndef RTB_METRICSRV_H
#define RTB_METRICSRV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "bridge/net/netloop.h"

#define METRICSRV_CONNS      8    /* connections served at once */
#define METRICSRV_REQ_MAX    2048 /* bytes of a request head */
#define METRICSRV_TIMEOUT_MS 3000 /* accept to close, at most */
#define METRICSRV_PAGES      4
#define METRICSRV_BACKLOG    16
#define METRICSRV_ERR_MAX    160

/* The page's two spellings. */
enum metricsrv_format {
	METRICSRV_TEXT = 0,    /* Prometheus text 0.0.4 */
	METRICSRV_OPENMETRICS, /* OpenMetrics 1.0 (what Prometheus asks) */
	METRICSRV_FORMATS,
};

struct metricsrv_page {
	char *text[METRICSRV_FORMATS]; /* cap bytes each */
	size_t len[METRICSRV_FORMATS];
	size_t cap;
	/* 1 from metricsrv_page_get until the net thread lets go of it.
	   Control sets it; the net thread clears it with release, control
	   reads it with acquire: the net thread's last write from the
	   page happened before control writes into it again. */
	_Atomic int busy;
	int refs; /* net thread: current (1) + connections writing it */
	struct metricsrv *owner;
};

/* The answers given, by status. */
enum metricsrv_code {
	METRICSRV_200,
	METRICSRV_400,
	METRICSRV_404,
	METRICSRV_405,
	METRICSRV_431,
	METRICSRV_503,
	METRICSRV_505,
	METRICSRV_CODES,
};

struct metricsrv_counters {
	_Atomic uint64_t connections; /* accepted */
	_Atomic uint64_t waited;      /* found every slot taken, waited */
	_Atomic uint64_t timeouts;    /* cut off at the deadline */
	_Atomic uint64_t errors;      /* read, write or accept errors */
	_Atomic uint64_t published;   /* pages made current */
	_Atomic uint64_t skipped;     /* publishes without a free page
	                                 (written by control) */
	_Atomic uint64_t answers[METRICSRV_CODES];
};

struct metricsrv;

struct metricsrv_conn {
	uv_tcp_t tcp;
	uv_write_t wr;
	uv_shutdown_t sd;
	struct metricsrv *srv;
	int state; /* net thread: METRICSRV_CONN_* (metricsrv.c) */
	uint64_t deadline_ns;
	size_t len, scanned;         /* bytes in req, and looked at */
	struct metricsrv_page *page; /* written from, or NULL */
	char req[METRICSRV_REQ_MAX];
	char head[256];
};

struct metricsrv {
	struct netloop *nl;
	uv_tcp_t listen;
	uv_timer_t timer;
	struct netloop_hook hook;
	bool closing;     /* net thread */
	unsigned handles; /* net thread: listener and timer not closed */
	/* Every handle closed: set by the net thread with release, read by
	   control with acquire (netloop_wait_closed). */
	_Atomic bool closed;
	bool accept_waiting; /* net thread: a connection waits for a slot */
	unsigned active;     /* net thread: slots in use */
	struct metricsrv_conn conns[METRICSRV_CONNS];
	struct metricsrv_page pages[METRICSRV_PAGES];
	struct metricsrv_page *cur; /* net thread */
	struct sockaddr_storage bound;
	struct metricsrv_counters c;
	char err[METRICSRV_ERR_MAX];
};

/*
 * Allocate the pages, page_bytes per spelling each.
 *
 * Return: 0, -ENOMEM
 * Context: control
 */
int metricsrv_init(struct metricsrv *m, size_t page_bytes);

/*
 * Listen on `addr` (port 0: any free port) on the net thread. The server
 * closes with the net loop (netloop_stop).
 *
 * Post: on failure metricsrv_error says why, naming the address
 * Return: 0 or a negated errno
 * Context: control; waits for the net thread
 */
int metricsrv_open(struct metricsrv *m, struct netloop *nl,
                   const struct sockaddr *addr);

/* The address listened on (the port filled in). Context: control, after
 * a successful open. */
const struct sockaddr *metricsrv_addr(const struct metricsrv *m);

/* What went wrong. Context: control. */
const char *metricsrv_error(const struct metricsrv *m);

/*
 * A page free for writing, or NULL when all are held (counted).
 *
 * Post: the page is control's until metricsrv_publish
 * Context: control (one thread)
 */
struct metricsrv_page *metricsrv_page_get(struct metricsrv *m);

/*
 * Make a filled page current. The page is the net thread's from here
 * (given back to control by itself, or at once when the post fails).
 *
 * Return: 0, or the netloop_call error (the page is free again)
 * Context: control
 */
int metricsrv_publish(struct metricsrv *m, struct metricsrv_page *p);

/* Give back a page without publishing it (counted as skipped). Context:
 * control. */
void metricsrv_page_drop(struct metricsrv *m, struct metricsrv_page *p);

/*
 * Close the server on a net loop that goes on running (its other objects
 * stay): the listener, the timer and every connection, waited for. Does
 * nothing once the loop has stopped (its close hook closed them) or when
 * open never reached the net thread.
 *
 * Pre: nl (the loop given to metricsrv_open) is still allocated, running
 *      or stopped
 * Return: 0, or -EAGAIN / -ETIMEDOUT when the net thread did not let go
 *         (the server's memory must then stay allocated)
 * Context: control; waits for the net thread
 */
int metricsrv_close(struct metricsrv *m);

/* Whether the net thread has let go of every handle (the loop stopped, or
 * metricsrv_close). Context: control. */
bool metricsrv_closed(struct metricsrv *m);

/* Free the pages. Pre: metricsrv_closed, or open never succeeded.
 * Context: control. */
void metricsrv_clear(struct metricsrv *m);

#endif
