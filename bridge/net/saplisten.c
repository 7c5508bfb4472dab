/*
 * saplisten: SAP sockets, session table and expiry timer on the net
 * thread (see saplisten.h)
 *
 * Every handle this module opens on the loop (each socket it tried, and
 * the timer) is counted in `handles`; each close callback takes one off,
 * and the last one publishes `closed` to the control thread, which may
 * then free the sockets.
 */
#include "bridge/net/saplisten.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/addr.h"

#define SAPLISTEN_RCVBUF (256 * 1024) /* bytes: a burst of announcements */

void saplisten_opts_default(struct saplisten_opts *o)
{
	static const char *const groups[] = {SAP_V4_PIPEWIRE, SAP_V4_ADMIN,
	                                     SAP_V6_LINK, SAP_V6_SITE};

	memset(o, 0, sizeof *o);
	for (int i = 0; i < SAP_MAX_GROUPS; i++) {
		struct sockaddr_storage *g = &o->groups[i];
		if (strchr(groups[i], ':') == NULL) {
			struct sockaddr_in *a = (struct sockaddr_in *)g;
			a->sin_family = AF_INET;
			a->sin_port = htons(SAP_PORT);
			inet_pton(AF_INET, groups[i], &a->sin_addr);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)g;
			a->sin6_family = AF_INET6;
			a->sin6_port = htons(SAP_PORT);
			inet_pton(AF_INET6, groups[i], &a->sin6_addr);
		}
	}
	o->ngroups = SAP_MAX_GROUPS;
	o->timeout_ns = SAPLISTEN_TIMEOUT_NS;
}

int saplisten_init(struct saplisten *l, const struct saplisten_opts *o)
{
	memset(l, 0, sizeof *l);
	if (o->ngroups < 0 || o->ngroups > SAP_MAX_GROUPS)
		return -EINVAL;
	if (o->ngroups == 0)
		saplisten_opts_default(&l->o);
	else
		l->o = *o;
	l->o.ifindex = o->ifindex;
	l->o.timeout_ns = o->timeout_ns ? o->timeout_ns : SAPLISTEN_TIMEOUT_NS;
	for (int i = 0; i < l->o.ngroups; i++)
		if (!addr_is_multicast((struct sockaddr *)&l->o.groups[i]))
			return -EINVAL;
	saptable_init(&l->table);
	l->socks = calloc((size_t)l->o.ngroups, sizeof *l->socks);
	l->events_mem = malloc(ring_storage_size(sizeof(struct saptable_event),
	                                         SAPLISTEN_EVENTS));
	if (!l->socks || !l->events_mem ||
	    ring_init(&l->events, l->events_mem, sizeof(struct saptable_event),
	              SAPLISTEN_EVENTS) < 0) {
		free(l->socks);
		free(l->events_mem);
		l->socks = NULL;
		l->events_mem = NULL;
		return -ENOMEM;
	}
	atomic_init(&l->events_dropped, 0);
	atomic_init(&l->closed, false);
	return 0;
}

void saplisten_clear(struct saplisten *l)
{
	if (l->events_mem)
		ring_clear(&l->events);
	free(l->events_mem);
	free(l->socks);
	l->events_mem = NULL;
	l->socks = NULL;
}

/* ---- net thread ---- */

static void saplisten__event(void *arg, const struct saptable_event *ev)
{
	struct saplisten *l = arg;
	struct saptable_event *slot = ring_write_begin(&l->events);

	if (slot == NULL) {
		/* Single writer: relaxed, read for display. */
		atomic_store_explicit(
		        &l->events_dropped,
		        atomic_load_explicit(&l->events_dropped,
		                             memory_order_relaxed) +
		                1,
		        memory_order_relaxed);
		return;
	}
	*slot = *ev;
	ring_write_commit(&l->events);
}

void saplisten_datagram(struct saplisten *l, const uint8_t *data, size_t len,
                        uint64_t now_ns)
{
	saptable_datagram(&l->table, data, len, now_ns, saplisten__event, l);
}

static void saplisten__on_recv(struct udpsock *s, const uint8_t *data,
                               size_t len, const struct sockaddr *from,
                               uint64_t rx_ns, void *user)
{
	(void)s;
	(void)from;
	saplisten_datagram(user, data, len, rx_ns);
}

static void saplisten__tick(uv_timer_t *t)
{
	struct saplisten *l = t->data;

	saptable_expire(&l->table, netloop_now_ns(), l->o.timeout_ns,
	                saplisten__event, l);
}

/* One handle closed; the last one hands everything back. */
static void saplisten__closed(struct saplisten *l)
{
	if (--l->handles > 0)
		return;
	/* Release: the net thread is done with sockets, timer and table;
	   pairs with the acquire in saplisten_close. */
	atomic_store_explicit(&l->closed, true, memory_order_release);
}

static void saplisten__sock_closed(struct udpsock *s, void *user)
{
	(void)s;
	saplisten__closed(user);
}

static void saplisten__timer_closed(uv_handle_t *h)
{
	saplisten__closed(h->data);
}

static void saplisten__warn(struct saplisten *l, const char *line)
{
	size_t n = strlen(l->warn);

	snprintf(l->warn + n, sizeof l->warn - n, "%s\n", line);
}

/* A link- or node-scoped IPv6 group is joined on one interface only. */
static bool saplisten__needs_iface(const struct sockaddr_storage *g)
{
	const struct in6_addr *a;

	if (g->ss_family != AF_INET6)
		return false;
	a = &((const struct sockaddr_in6 *)g)->sin6_addr;
	return IN6_IS_ADDR_MC_LINKLOCAL(a) || IN6_IS_ADDR_MC_NODELOCAL(a);
}

static int saplisten__open_fn(struct netloop *nl, void *arg)
{
	struct saplisten *l = arg;
	char txt[ADDR_TEXT_MAX], line[UDPSOCK_ERR_MAX + 80];
	int joined = 0, last = -ENODEV;
	uint64_t period_ms;

	l->handles = 0;
	for (int i = 0; i < l->o.ngroups; i++) {
		const struct sockaddr_storage *g = &l->o.groups[i];
		struct udpsock_opts uo;
		if (saplisten__needs_iface(g) && l->o.ifindex == 0) {
			snprintf(line, sizeof line,
			         "SAP group %s is link-scoped: give an "
			         "interface to listen there",
			         addr_format((const struct sockaddr *)g, txt,
			                     sizeof txt));
			saplisten__warn(l, line);
			continue;
		}
		udpsock_opts_init(&uo);
		uo.bind = (const struct sockaddr *)g;
		uo.mcast_ifindex = l->o.ifindex;
		uo.rcvbuf = SAPLISTEN_RCVBUF;
		uo.on_recv = saplisten__on_recv;
		uo.user = l;
		l->handles++;
		int rc = udpsock_open(&l->socks[i], nl, &uo);
		if (rc < 0) {
			snprintf(line, sizeof line, "SAP %s",
			         udpsock_error(&l->socks[i]));
			saplisten__warn(l, line);
			l->socks[i].user = l;
			udpsock_close(&l->socks[i], saplisten__sock_closed);
			last = rc;
			continue;
		}
		joined++;
	}
	/* Expiry: a few looks per time-out, at most one a second. */
	period_ms = l->o.timeout_ns / 4000000u;
	if (period_ms > 1000)
		period_ms = 1000;
	if (period_ms < 10)
		period_ms = 10;
	if (uv_timer_init(netloop_uv(nl), &l->timer) == 0) {
		l->timer.data = l;
		l->timer_open = true;
		l->handles++;
		(void)uv_timer_start(&l->timer, saplisten__tick, period_ms,
		                     period_ms);
	}
	if (joined == 0) {
		/* The first line says it all (one per group follows). */
		size_t n = strcspn(l->warn, "\n");
		snprintf(l->err, sizeof l->err,
		         "could not join any SAP group: %.*s",
		         (int)(n < 400 ? n : 400), l->warn);
		return last;
	}
	return 0;
}

static int saplisten__close_fn(struct netloop *nl, void *arg)
{
	struct saplisten *l = arg;
	bool any = false;

	(void)nl;
	for (int i = 0; i < l->o.ngroups; i++) {
		struct udpsock *s = &l->socks[i];
		if (s->open && !s->closing) {
			s->user = l;
			udpsock_close(s, saplisten__sock_closed);
		}
		any = any || s->open;
	}
	if (l->timer_open) {
		l->timer_open = false;
		uv_timer_stop(&l->timer);
		uv_close((uv_handle_t *)&l->timer, saplisten__timer_closed);
		any = true;
	}
	if (!any && l->handles == 0)
		atomic_store_explicit(&l->closed, true, memory_order_release);
	return 0;
}

/* ---- control thread ---- */

int saplisten_open(struct saplisten *l, struct netloop *nl)
{
	l->nl = nl;
	l->warn[0] = '\0';
	l->err[0] = '\0';
	l->opened = true;
	int rc = netloop_call_wait(nl, saplisten__open_fn, l);
	if (rc < 0 && l->err[0] == '\0')
		snprintf(l->err, sizeof l->err, "net thread: %s",
		         strerror(-rc));
	return rc;
}

void saplisten_close(struct saplisten *l)
{
	if (!l->opened)
		return;
	l->opened = false;
	if (netloop_call_wait(l->nl, saplisten__close_fn, l) < 0)
		return; /* the loop is gone: netloop_stop closed everything */
	(void)netloop_wait_closed(&l->closed, 2000);
}

bool saplisten_poll(struct saplisten *l, struct saptable_event *ev)
{
	return ring_try_pop(&l->events, ev);
}

struct saplisten__copy {
	struct saplisten *l;
	struct saptable_counters *c;
};

static int saplisten__counters_fn(struct netloop *nl, void *arg)
{
	struct saplisten__copy *x = arg;

	(void)nl;
	*x->c = x->l->table.c;
	return 0;
}

void saplisten_counters(struct saplisten *l, struct saptable_counters *c)
{
	struct saplisten__copy x = {.l = l, .c = c};

	/* A stopped loop (joined thread) leaves the table to us. */
	if (l->nl == NULL ||
	    netloop_call_wait(l->nl, saplisten__counters_fn, &x) < 0)
		*c = l->table.c;
}

const char *saplisten_warnings(const struct saplisten *l)
{
	return l->warn;
}

const char *saplisten_error(const struct saplisten *l)
{
	return l->err;
}
