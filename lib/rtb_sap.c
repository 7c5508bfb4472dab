/*
 * rtb_sap: the public SAP listener (include/rtbridge/sap.h) over the
 * runtime's (bridge/net/saplisten.h: sockets and table on a net thread,
 * events through a ring) with the command line's helpers (app_sap: the
 * groups and interface, the one-line description)
 *
 * The handle owns its net thread. Each event the listener posts becomes a
 * struct rtb_sap_session, with a receiver's settings from its SDP, and
 * goes to on_session; all on the control thread, inside rtb_sap_poll.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/app/app_sap.h"
#include "bridge/net/netloop.h"
#include "lib/rtb_lib.h"

struct rtb_sap {
	struct saplisten lis;
	bool lis_ready, lis_open;
	struct netloop nl;
	bool nl_running;
	struct rtb_sap_config cfg;
};

RTB_API int rtb_sap_create(const struct rtb_sap_config *cfg,
                           struct rtb_sap **out, char *why, size_t len)
{
	struct saplisten_opts so;
	char err[256];

	*out = NULL;
	if (cfg->timeout_s != 0 &&
	    !(cfg->timeout_s >= 0.1 && cfg->timeout_s <= 3600)) {
		rtb__why(why, len, "SAP: timeout_s %g is not 0.1..3600",
		         cfg->timeout_s);
		return -EINVAL;
	}
	if (cfg->ngroups > SAP_MAX_GROUPS || (cfg->ngroups && !cfg->groups)) {
		rtb__why(why, len, "at most %d SAP groups", SAP_MAX_GROUPS);
		return -EINVAL;
	}
	int rc = app_sap_listen_opts(&so, cfg->groups, (int)cfg->ngroups,
	                             cfg->interface, cfg->timeout_s, err,
	                             sizeof(err));
	if (rc < 0) {
		rtb__why(why, len, "%s", err);
		return rc;
	}
	struct rtb_sap *l = calloc(1, sizeof(*l));
	if (!l) {
		rtb__why(why, len, "out of memory");
		return -ENOMEM;
	}
	l->cfg = *cfg;
	l->cfg.groups = NULL; /* read: not kept */
	l->cfg.interface = NULL;
	rc = saplisten_init(&l->lis, &so);
	if (rc < 0) {
		rtb__why(why, len, "%s",
		         rc == -ENOMEM ? "out of memory" : strerror(-rc));
		free(l);
		return rc;
	}
	l->lis_ready = true;
	rc = netloop_start(&l->nl, 64);
	if (rc < 0) {
		rtb__why(why, len, "net thread: %s", strerror(-rc));
		rtb_sap_destroy(l);
		return rc;
	}
	l->nl_running = true;
	rc = saplisten_open(&l->lis, &l->nl);
	l->lis_open = true;
	if (rc < 0) {
		/* -EIO, so that a bad setting (-EINVAL, -ENODEV) stays told
		   apart from a network that takes none of the groups. */
		rtb__why(why, len, "%s", saplisten_error(&l->lis));
		rtb_sap_destroy(l);
		return -EIO;
	}
	*out = l;
	return 0;
}

RTB_API const char *rtb_sap_warnings(const struct rtb_sap *l)
{
	return saplisten_warnings(&l->lis);
}

/* An event's session, with a receiver's settings from its SDP. */
static void rtb_sap__session(const struct saptable_event *ev,
                             struct rtb_sap_session *s)
{
	struct rtb_receiver_config c = {0};
	const struct sdpparse_result *r = &ev->sdp;
	char *colon;

	memset(s, 0, sizeof(*s));
	s->id = ev->id;
	snprintf(s->name, sizeof(s->name), "%s", r->name);
	addr_format((const struct sockaddr *)&ev->source, s->origin,
	            sizeof(s->origin));
	/* The SAP origin's port means nothing: the address only. */
	colon = strrchr(s->origin, ':');
	if (colon)
		*colon = '\0';
	if (s->origin[0] == '[') {
		memmove(s->origin, s->origin + 1, strlen(s->origin));
		colon = strrchr(s->origin, ']');
		if (colon)
			*colon = '\0';
	}
	app_sap_describe(ev, s->description, sizeof(s->description));
	snprintf(s->addr, sizeof(s->addr), "%s", r->addr);
	s->port = r->port;
	s->srtp = r->savp;
	/* No address, or one that is none: listen stays empty (nothing to
	   take). */
	if (!r->addr[0] || rtb__config_from_sdp(&c, r, s->listen,
	                                        sizeof(s->listen), NULL, 0) < 0)
		s->listen[0] = '\0';
	s->codec = c.codec;
	s->rate = c.rate;
	s->channels = c.channels;
	s->frame_ms = c.frame_ms;
	s->pt = c.pt;
	s->red_pt = c.red_pt;
	s->ulpfec_pt = c.ulpfec_pt;
}

RTB_API int rtb_sap_poll(struct rtb_sap *l)
{
	struct saptable_event ev;
	struct rtb_sap_session s;
	int n = 0;

	while (saplisten_poll(&l->lis, &ev)) {
		n++;
		if (!l->cfg.on_session)
			continue;
		rtb_sap__session(&ev, &s);
		l->cfg.on_session(l->cfg.arg, l, (enum rtb_sap_event)ev.kind,
		                  &s);
	}
	return n;
}

RTB_API void rtb_sap_counters(struct rtb_sap *l, struct rtb_sap_counters *c)
{
	struct saptable_counters t;

	saplisten_counters(&l->lis, &t);
	*c = (struct rtb_sap_counters){
	        .datagrams = t.datagrams,
	        .announcements = t.announcements,
	        .deletions = t.deletions,
	        .oversized = t.oversized,
	        .truncated = t.truncated,
	        .bad_version = t.bad_version,
	        .encrypted = t.encrypted,
	        .not_sdp = t.not_sdp,
	        .bad_sdp = t.bad_sdp,
	        .unsupported = t.unsupported,
	        .unknown_deletion = t.unknown_deletion,
	        .table_full = t.table_full,
	};
}

RTB_API void rtb_sap_receiver_config(const struct rtb_sap_session *s,
                                     struct rtb_receiver_config *cfg)
{
	cfg->listen = s->listen[0] ? s->listen : NULL;
	cfg->codec = s->codec;
	cfg->rate = s->rate;
	cfg->channels = s->channels;
	cfg->frame_ms = s->frame_ms;
	cfg->pt = s->pt;
	cfg->red_pt = s->red_pt;
	cfg->ulpfec_pt = s->ulpfec_pt;
}

struct netloop *rtb__sap_netloop(struct rtb_sap *l)
{
	return l->nl_running ? &l->nl : NULL;
}

RTB_API void rtb_sap_destroy(struct rtb_sap *l)
{
	if (!l)
		return;
	if (l->lis_open)
		saplisten_close(&l->lis);
	if (l->nl_running)
		netloop_stop(&l->nl);
	if (l->lis_ready)
		saplisten_clear(&l->lis);
	free(l);
}
