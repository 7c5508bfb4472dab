/*
 * sapannounce: SAP announcements on a net-thread timer (see
 * sapannounce.h)
 *
 * Handles (each socket tried, the timer) are counted in `handles`; the
 * last close callback publishes `closed`. A send the socket refuses is
 * counted and the next interval tries again: announcements are repeated
 * by design, so one lost is no loss.
 */
#include "bridge/net/sapannounce.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/addr.h"

/* Single-writer counter (net thread), relaxed: read for display. */
static void sapannounce__add(_Atomic uint64_t *c)
{
	atomic_store_explicit(c,
	                      atomic_load_explicit(c, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

int sapannounce_init(struct sapannounce *a, const struct sapannounce_opts *o)
{
	size_t len;
	int rc;

	memset(a, 0, sizeof *a);
	a->o = *o;
	a->o.sdp = NULL;
	if (a->o.interval_ns == 0)
		a->o.interval_ns = (uint64_t)SAP_INTERVAL_MS * 1000000u;
	if (o->ngroups < 1 || o->ngroups > SAP_MAX_GROUPS || o->sdp == NULL) {
		snprintf(a->err, sizeof a->err, "no SAP group or no SDP");
		return -EINVAL;
	}
	for (int i = 0; i < o->ngroups; i++) {
		const struct sockaddr *g =
		        (const struct sockaddr *)&o->groups[i];
		char txt[ADDR_TEXT_MAX];
		if (!addr_is_multicast(g) || addr_port(g) == 0) {
			snprintf(a->err, sizeof a->err,
			         "SAP group %s is not a multicast group and "
			         "port",
			         addr_format(g, txt, sizeof txt));
			return -EINVAL;
		}
	}
	len = strlen(o->sdp);
	a->hash = sap_hash(o->sdp, len);
	a->announce = malloc(SAP_MAX_PACKET);
	a->bye = malloc(SAP_MAX_PACKET);
	a->socks = calloc((size_t)o->ngroups, sizeof *a->socks);
	if (!a->announce || !a->bye || !a->socks) {
		snprintf(a->err, sizeof a->err, "out of memory");
		return -ENOMEM;
	}
	rc = sap_pack(a->announce, SAP_MAX_PACKET, false, a->hash,
	              (const struct sockaddr *)&o->origin, o->sdp, len);
	if (rc >= 0) {
		a->announce_len = (size_t)rc;
		rc = sap_pack(a->bye, SAP_MAX_PACKET, true, a->hash,
		              (const struct sockaddr *)&o->origin, o->sdp, len);
	}
	if (rc < 0) {
		snprintf(a->err, sizeof a->err,
		         rc == -EMSGSIZE ? "SDP too long for a SAP packet"
		                         : "bad SAP origin address");
		return rc;
	}
	a->bye_len = (size_t)rc;
	atomic_init(&a->closed, false);
	atomic_init(&a->sent, 0);
	atomic_init(&a->deletions, 0);
	atomic_init(&a->send_errors, 0);
	return 0;
}

void sapannounce_clear(struct sapannounce *a)
{
	free(a->announce);
	free(a->bye);
	free(a->socks);
	a->announce = a->bye = NULL;
	a->socks = NULL;
}

/* ---- net thread ---- */

/* Send one packet to every group whose socket is open. */
static void sapannounce__send(struct sapannounce *a, const uint8_t *pkt,
                              size_t len, _Atomic uint64_t *counter)
{
	for (int i = 0; i < a->o.ngroups; i++) {
		struct udpsock *s = &a->socks[i];
		if (!s->open || s->closing)
			continue;
		if (udpsock_send(s, pkt, len, NULL) < 0)
			sapannounce__add(&a->send_errors);
		else
			sapannounce__add(counter);
	}
}

static void sapannounce__tick(uv_timer_t *t)
{
	struct sapannounce *a = t->data;

	sapannounce__send(a, a->announce, a->announce_len, &a->sent);
}

static void sapannounce__closed(struct sapannounce *a)
{
	if (--a->handles > 0)
		return;
	/* Release: the net thread is done with sockets and timer; pairs
	   with the acquire in sapannounce_stop. */
	atomic_store_explicit(&a->closed, true, memory_order_release);
}

static void sapannounce__sock_closed(struct udpsock *s, void *user)
{
	(void)s;
	sapannounce__closed(user);
}

static void sapannounce__timer_closed(uv_handle_t *h)
{
	sapannounce__closed(h->data);
}

static int sapannounce__close_fn(struct netloop *nl, void *arg)
{
	struct sapannounce *a = arg;

	(void)nl;
	if (a->timer_open) {
		a->timer_open = false;
		uv_timer_stop(&a->timer);
		uv_close((uv_handle_t *)&a->timer, sapannounce__timer_closed);
	}
	for (int i = 0; i < a->o.ngroups; i++) {
		struct udpsock *s = &a->socks[i];
		if (s->open && !s->closing) {
			s->user = a;
			udpsock_close(s, sapannounce__sock_closed);
		}
	}
	if (a->handles == 0)
		atomic_store_explicit(&a->closed, true, memory_order_release);
	return 0;
}

static int sapannounce__start_fn(struct netloop *nl, void *arg)
{
	struct sapannounce *a = arg;
	uint64_t ms = a->o.interval_ns / 1000000u;
	int rc;

	a->handles = 0;
	for (int i = 0; i < a->o.ngroups; i++) {
		struct udpsock_opts uo;
		udpsock_opts_init(&uo);
		uo.peer = (const struct sockaddr *)&a->o.groups[i];
		uo.mcast_ifindex = a->o.ifindex;
		uo.mcast_ttl = a->o.ttl;
		uo.user = a;
		a->handles++;
		rc = udpsock_open(&a->socks[i], nl, &uo);
		if (rc < 0) {
			snprintf(a->err, sizeof a->err, "SAP announce: %s",
			         udpsock_error(&a->socks[i]));
			goto fail;
		}
	}
	rc = uv_timer_init(netloop_uv(nl), &a->timer);
	if (rc < 0) {
		snprintf(a->err, sizeof a->err, "SAP timer: %s",
		         uv_strerror(rc));
		goto fail;
	}
	a->timer.data = a;
	a->timer_open = true;
	a->handles++;
	sapannounce__send(a, a->announce, a->announce_len, &a->sent);
	rc = uv_timer_start(&a->timer, sapannounce__tick, ms ? ms : 1,
	                    ms ? ms : 1);
	if (rc < 0) {
		snprintf(a->err, sizeof a->err, "SAP timer: %s",
		         uv_strerror(rc));
		goto fail;
	}
	return 0;
fail:
	(void)sapannounce__close_fn(nl, a);
	return rc;
}

/* Deletions first, then close: runs as one call, so nothing is sent in
   between. */
static int sapannounce__stop_fn(struct netloop *nl, void *arg)
{
	struct sapannounce *a = arg;

	sapannounce__send(a, a->bye, a->bye_len, &a->deletions);
	return sapannounce__close_fn(nl, a);
}

/* ---- control thread ---- */

int sapannounce_start(struct sapannounce *a, struct netloop *nl)
{
	int rc;

	if (a->announce == NULL || a->started)
		return -EINVAL;
	a->nl = nl;
	atomic_store_explicit(&a->closed, false, memory_order_relaxed);
	rc = netloop_call_wait(nl, sapannounce__start_fn, a);
	if (rc < 0) {
		if (a->err[0] == '\0')
			snprintf(a->err, sizeof a->err, "net thread: %s",
			         strerror(-rc));
		if (rc != -ECANCELED && rc != -EAGAIN)
			(void)netloop_wait_closed(&a->closed, 2000);
		return rc;
	}
	a->started = true;
	return 0;
}

void sapannounce_stop(struct sapannounce *a)
{
	if (!a->started)
		return;
	a->started = false;
	if (netloop_call_wait(a->nl, sapannounce__stop_fn, a) < 0)
		return; /* the loop is gone: netloop_stop closed everything */
	(void)netloop_wait_closed(&a->closed, 2000);
}

const char *sapannounce_error(const struct sapannounce *a)
{
	return a->err;
}
