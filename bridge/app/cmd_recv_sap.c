/*
 * cmd_recv_sap: `rtbridge recv --sap`, receive the stream a SAP
 * announcement describes (see cmd_recv_impl.h)
 *
 * The SAP listener (saplisten.h, as `rtbridge list` uses it) runs on the
 * command's net thread and reports sessions as they are announced,
 * changed, deleted or time out. recv follows one session at a time: the
 * first announced (of the name --session gives), whose codec, rate,
 * channel count, payload type, packet time, group and port come from its
 * SDP. When it is deleted, times out, or changes what it sends, its
 * receiver stops (rtb_receiver_stop: the socket closes, leaving the
 * group); its streams play out what they hold and end (their recordings
 * are finalized as usual); the next session that matches is followed
 * then, with a receiver of its own (the one before is destroyed once its
 * streams are gone, or when the next one after it comes). The mix
 * keeps the channel count of the first session: a later one with more
 * channels is not followed (said once).
 *
 * Context: control (main) thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/app/app_sap.h"
#include "bridge/app/app_signal.h"
#include "bridge/app/cmd_recv.h"

#define RECV_SAP_WAIT_NS 10000000LL /* the first announcement looked for */

struct recv_sap {
	struct saplisten lis;
	struct app_sap_sessions known;
	unsigned following;         /* session id, 0: none */
	struct sdpparse_result cur; /* what it described when joined */
	unsigned refused;           /* last session not followed, 0: none */
	bool open;
};

/* Whether --session allows this one, and the mix can play it. */
static bool recv_sap__wanted(const struct recv_cmd *p,
                             const struct saptable_event *e)
{
	if (p->o.session && strcmp(e->sdp.name, p->o.session) != 0)
		return false;
	return p->channels == 0 || (unsigned)e->sdp.channels <= p->channels;
}

/* Take the stream from the SDP: codec, pt, listen address. Return: 0,
   or -EINVAL (the address is no numeric IP address). */
static int recv_sap__configure(struct recv_cmd *p,
                               const struct saptable_event *e)
{
	const struct sdpparse_result *r = &e->sdp;
	struct sockaddr_storage a;

	if (addr_parse_default_port(&a, r->addr, (uint16_t)r->port, NULL, 0) <
	    0)
		return -EINVAL;
	if (!addr_is_multicast((struct sockaddr *)&a)) {
		/* A unicast session names this host: take the port on any
		   address of that family. */
		uint16_t port = (uint16_t)r->port;
		int family = a.ss_family;
		memset(&a, 0, sizeof a);
		a.ss_family = (sa_family_t)family;
		if (family == AF_INET)
			((struct sockaddr_in *)&a)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&a)->sin6_port = htons(port);
	}
	p->o.listen = a;
	p->o.pt = r->pt;
	p->o.red = r->red_pt >= 0;
	p->o.red_pt = r->red_pt;
	p->o.ulpfec = r->ulpfec_pt >= 0;
	p->o.ulpfec_pt = r->ulpfec_pt;
	sdpparse_codec(r, &p->o.codec);
	return 0;
}

static void recv_sap__say(const char *what, const struct saptable_event *e)
{
	char line[APP_SAP_LINE_MAX];

	app_sap_describe(e, line, sizeof line);
	fprintf(stderr, "rtbridge recv: %s: %s\n", what, line);
}

/* Destroy a stopped receiver, its failures kept in the totals (its
   streams' ends come through on_ended). */
static void recv_sap__retire(struct recv_cmd *p, struct rtb_receiver *r)
{
	struct rtb_receiver_counters c;

	(void)rtb_receiver_finish(r);
	rtb_receiver_counters(r, &c);
	rtb_receiver_destroy(r);
	p->setup_failed += c.setup_failed;
	p->record_failed += c.record_failed;
}

/* Start following a session: configure, and (once running) set up the
   receiver for it. Return: 0 or a negated errno. */
static int recv_sap__join(struct recv_cmd *p, const struct saptable_event *e,
                          bool running)
{
	struct recv_sap *x = p->sap;

	if (e->sdp.savp && !p->o.srtp) {
		/* Its payload would decode as noise; the key an a=crypto
		   line may carry is not taken from an announcement. */
		x->refused = e->id;
		recv_sap__say("not followed (RTP/SAVP: give --srtp-key)", e);
		return -EINVAL;
	}
	if (recv_sap__configure(p, e) < 0) {
		x->refused = e->id;
		recv_sap__say("not followed (no usable address in its SDP)", e);
		return -EINVAL;
	}
	recv_sap__say("following", e);
	x->following = e->id;
	x->cur = e->sdp;
	if (!running)
		return 0;
	if (p->r) {
		/* Stopped by recv_sap__drop: its streams play out. */
		if (p->old)
			recv_sap__retire(p, p->old);
		p->old = p->r;
		p->r = NULL;
	}
	cmd_recv_config(p, &p->cfg);
	int rc = cmd_recv_open(p);
	if (rc < 0) {
		x->following = 0;
		x->refused = e->id;
	}
	return rc;
}

/* The followed session is gone or changed: its receiver stops, leaving
   the group. Its streams play out what they hold (and record it), then
   leave. */
static void recv_sap__drop(struct recv_cmd *p)
{
	p->sap->following = 0;
	if (p->r)
		rtb_receiver_stop(p->r, 0);
}

/* Stream-relevant parts of a description differ. */
static bool recv_sap__moved(const struct sdpparse_result *a,
                            const struct sdpparse_result *b)
{
	return strcmp(a->addr, b->addr) != 0 || a->port != b->port ||
	       a->pt != b->pt || a->red_pt != b->red_pt ||
	       a->ulpfec_pt != b->ulpfec_pt || a->kind != b->kind ||
	       a->rate != b->rate || a->channels != b->channels;
}

/* Apply the listener's events; Return: a session to follow now, or NULL. */
static const struct saptable_event *recv_sap__events(struct recv_cmd *p)
{
	struct recv_sap *x = p->sap;
	struct saptable_event ev;

	while (saplisten_poll(&x->lis, &ev)) {
		(void)app_sap_apply(&x->known, &ev);
		if (ev.id != x->following)
			continue;
		if (ev.kind == SAPTABLE_DELETED ||
		    ev.kind == SAPTABLE_EXPIRED) {
			recv_sap__say(ev.kind == SAPTABLE_DELETED
			                      ? "session deleted"
			                      : "session timed out",
			              &ev);
			recv_sap__drop(p);
		} else if (recv_sap__moved(&ev.sdp, &x->cur)) {
			recv_sap__say("session changed", &ev);
			recv_sap__drop(p);
		}
	}
	if (x->following)
		return NULL;
	for (int i = 0; i < x->known.n; i++) {
		const struct saptable_event *e = &x->known.s[i];
		if (e->id == x->refused)
			continue;
		if (recv_sap__wanted(p, e))
			return e;
		if (p->o.session == NULL ||
		    strcmp(e->sdp.name, p->o.session) == 0) {
			x->refused = e->id;
			recv_sap__say("not followed (more channels than the "
			              "mix)",
			              e);
		}
	}
	return NULL;
}

int cmd_recv_sap_wait(struct recv_cmd *p)
{
	struct saplisten_opts so;
	char err[256];
	int rc;

	p->sap = calloc(1, sizeof *p->sap);
	if (!p->sap) {
		fprintf(stderr, "rtbridge recv: out of memory\n");
		return -ENOMEM;
	}
	rc = app_sap_listen_opts(&so, p->o.sap_groups, p->o.nsap, p->o.mcast_if,
	                         p->o.sap_timeout_s, err, sizeof err);
	if (rc == 0)
		rc = saplisten_init(&p->sap->lis, &so);
	if (rc < 0) {
		fprintf(stderr, "rtbridge recv: %s\n",
		        rc == -ENOMEM ? "out of memory" : err);
		return rc;
	}
	rc = netloop_start(&p->nl, 64);
	if (rc < 0) {
		fprintf(stderr, "rtbridge recv: net thread: %s\n",
		        strerror(-rc));
		return rc;
	}
	p->nl_running = true;
	rc = saplisten_open(&p->sap->lis, &p->nl);
	p->sap->open = true;
	if (rc < 0) {
		fprintf(stderr, "rtbridge recv: %s\n",
		        saplisten_error(&p->sap->lis));
		return rc;
	}
	if (p->o.nsap > 0 && saplisten_warnings(&p->sap->lis)[0])
		fprintf(stderr, "rtbridge recv: %s",
		        saplisten_warnings(&p->sap->lis));
	fprintf(stderr, "rtbridge recv: waiting for a SAP announcement%s%s\n",
	        p->o.session ? " of " : "", p->o.session ? p->o.session : "");
	/* Ctrl-C while waiting ends quietly: nothing is recorded yet. */
	uint64_t t0 = netloop_now_ns();
	rc = 1;
	while (!app_signal_stop_requested() &&
	       (p->o.duration_s <= 0 ||
	        (double)(netloop_now_ns() - t0) / 1e9 < p->o.duration_s)) {
		const struct saptable_event *e = recv_sap__events(p);
		if (e != NULL && recv_sap__join(p, e, false) == 0) {
			rc = 0;
			break;
		}
		(void)app_signal_wait(-1, (int64_t)netloop_now_ns() +
		                                  RECV_SAP_WAIT_NS);
	}
	if (rc > 0)
		fprintf(stderr, "rtbridge recv: no matching session was "
		                "announced\n");
	return rc;
}

void cmd_recv_sap_poll(struct recv_cmd *p)
{
	const struct saptable_event *e;

	if (p->sap == NULL)
		return;
	if (p->old) {
		struct rtb_receiver_counters c;
		rtb_receiver_counters(p->old, &c);
		if (c.streams_alive == 0) {
			recv_sap__retire(p, p->old);
			p->old = NULL;
		}
	}
	e = recv_sap__events(p);
	if (e != NULL)
		(void)recv_sap__join(p, e, true);
}

void cmd_recv_sap_stop(struct recv_cmd *p)
{
	struct saptable_counters c;

	if (p->sap == NULL)
		return;
	if (p->sap->open) {
		saplisten_counters(&p->sap->lis, &c);
		saplisten_close(&p->sap->lis);
		app_sap_print_ignored(&c, stderr, "rtbridge recv: ");
	}
	saplisten_clear(&p->sap->lis);
	free(p->sap);
	p->sap = NULL;
}
