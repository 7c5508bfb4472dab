/*
 * cmd_recv_sap: `rtbridge recv --sap`, receive the stream a SAP
 * announcement describes (see cmd_recv_impl.h)
 *
 * The library's SAP listener (rtbridge/sap.h) reports sessions as they
 * are announced, changed, deleted or time out. recv follows one session at a
 * time: the first announced (of the name --session gives), whose codec, rate,
 * channel count, payload type, packet time, group and port come from its
 * SDP. When it is deleted, times out, or changes what it sends, its
 * receiver stops (rtb_receiver_stop: the socket closes, leaving the
 * group); its streams play out what they hold and end (their recordings
 * are finalized as usual); the next session that matches is followed
 * then, with a receiver of its own (the ones before are destroyed once
 * their streams are gone, checked at each turn of the control loop; their
 * streams keep their JSON lines, status entries and metrics rows until
 * then, and play out at exit as the current one's do). The mix
 * keeps the channel count of the first session: a later one with more
 * channels is not followed (said once).
 *
 * Context: control (main) thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rtbridge/sap.h>

#include "bridge/app/app_rtb.h"
#include "bridge/app/app_sap.h"
#include "bridge/app/app_signal.h"
#include "bridge/app/cmd_recv.h"

#define RECV_SAP_WAIT_NS 10000000LL /* the first announcement looked for */

struct recv_sap {
	struct rtb_sap *lis;
	struct app_sap_sessions known;
	unsigned following;         /* session id, 0: none */
	struct rtb_sap_session cur; /* what it described when joined */
	unsigned refused;           /* last session not followed, 0: none */
	struct recv_cmd *p;
};

static void recv_sap__say(const char *what, const struct rtb_sap_session *s)
{
	fprintf(stderr, "rtbridge recv: %s: %s\n", what, s->description);
}

/* Whether --session allows this one, and the mix can play it. */
static bool recv_sap__wanted(const struct recv_cmd *p,
                             const struct rtb_sap_session *s)
{
	if (p->o.session && strcmp(s->name, p->o.session) != 0)
		return false;
	return p->channels == 0 || (unsigned)s->channels <= p->channels;
}

/* Take the stream from the session: codec, pt, listen address. Return:
   0, or -EINVAL (the address is no numeric IP address). */
static int recv_sap__configure(struct recv_cmd *p,
                               const struct rtb_sap_session *s)
{
	struct cmd_recv_opts *o = &p->o;
	int k = app_rtb_codec_kind(s->codec);
	enum codec_kind kind = k < 0 ? CODEC_OPUS : (enum codec_kind)k;

	if (!s->listen[0] ||
	    addr_parse(&o->listen, NULL, s->listen,
	               ADDR_LISTEN | ADDR_PORT_ZERO | ADDR_NUMERIC, NULL,
	               0) < 0)
		return -EINVAL;
	o->pt = app_rtb_pt(s->pt, -1);
	o->red_pt = app_rtb_pt(s->red_pt, -1);
	o->red = o->red_pt >= 0;
	o->ulpfec_pt = app_rtb_pt(s->ulpfec_pt, -1);
	o->ulpfec = o->ulpfec_pt >= 0;
	codec_config_default(&o->codec, kind);
	o->codec.rate = s->rate;
	o->codec.channels = s->channels;
	if (kind == CODEC_OPUS)
		o->codec.frame_us = (int)(s->frame_ms * 1000.0 + 0.5);
	else
		codec_config_set_frames(
		        &o->codec, (int)(s->frame_ms * s->rate / 1000.0 + 0.5));
	return 0;
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
static int recv_sap__join(struct recv_cmd *p, const struct rtb_sap_session *s,
                          bool running)
{
	struct recv_sap *x = p->sap;

	if (s->srtp && !p->o.srtp) {
		/* Its payload would decode as noise; the key an a=crypto
		   line may carry is not taken from an announcement. */
		x->refused = s->id;
		recv_sap__say("not followed (RTP/SAVP: give --srtp-key)", s);
		return -EINVAL;
	}
	if (recv_sap__configure(p, s) < 0) {
		x->refused = s->id;
		recv_sap__say("not followed (no usable address in its SDP)", s);
		return -EINVAL;
	}
	recv_sap__say("following", s);
	x->following = s->id;
	x->cur = *s;
	if (!running)
		return 0;
	if (p->r) {
		/* Stopped by recv_sap__drop: its streams play out, and it is
		   retired once they are gone (cmd_recv_sap_poll). With every
		   slot taken (sessions changing faster than streams drain),
		   the oldest is retired now, its streams cut short. */
		if (p->old[RECV_SAP_OLD - 1])
			recv_sap__retire(p, p->old[RECV_SAP_OLD - 1]);
		memmove(p->old + 1, p->old,
		        (RECV_SAP_OLD - 1) * sizeof(p->old[0]));
		p->old[0] = p->r;
		p->r = NULL;
	}
	cmd_recv_config(p, &p->cfg);
	int rc = cmd_recv_open(p);
	if (rc < 0) {
		x->following = 0;
		x->refused = s->id;
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
static bool recv_sap__moved(const struct rtb_sap_session *a,
                            const struct rtb_sap_session *b)
{
	return strcmp(a->addr, b->addr) != 0 || a->port != b->port ||
	       a->pt != b->pt || a->red_pt != b->red_pt ||
	       a->ulpfec_pt != b->ulpfec_pt || a->codec != b->codec ||
	       a->rate != b->rate || a->channels != b->channels;
}

/* The listener's events (rtb_sap_fn). */
static void recv_sap__event(void *arg, struct rtb_sap *l, enum rtb_sap_event ev,
                            const struct rtb_sap_session *s)
{
	struct recv_sap *x = arg;
	struct recv_cmd *p = x->p;

	(void)l;
	(void)app_sap_apply(&x->known, ev, s);
	if (s->id != x->following)
		return;
	if (ev == RTB_SAP_DELETED || ev == RTB_SAP_EXPIRED) {
		recv_sap__say(ev == RTB_SAP_DELETED ? "session deleted"
		                                    : "session timed out",
		              s);
		recv_sap__drop(p);
	} else if (recv_sap__moved(s, &x->cur)) {
		recv_sap__say("session changed", s);
		recv_sap__drop(p);
	}
}

/* Apply the listener's events; Return: a session to follow now, or NULL. */
static const struct rtb_sap_session *recv_sap__events(struct recv_cmd *p)
{
	struct recv_sap *x = p->sap;

	(void)rtb_sap_poll(x->lis);
	if (x->following)
		return NULL;
	for (int i = 0; i < x->known.n; i++) {
		const struct rtb_sap_session *s = &x->known.s[i];
		if (s->id == x->refused)
			continue;
		if (recv_sap__wanted(p, s))
			return s;
		if (p->o.session == NULL ||
		    strcmp(s->name, p->o.session) == 0) {
			x->refused = s->id;
			recv_sap__say("not followed (more channels than the "
			              "mix)",
			              s);
		}
	}
	return NULL;
}

int cmd_recv_sap_wait(struct recv_cmd *p)
{
	char why[256];

	p->sap = calloc(1, sizeof *p->sap);
	if (!p->sap) {
		fprintf(stderr, "rtbridge recv: out of memory\n");
		return -ENOMEM;
	}
	p->sap->p = p;
	struct rtb_sap_config sc = {
	        .groups = p->o.sap_groups,
	        .ngroups = (unsigned)p->o.nsap,
	        .interface = p->o.mcast_if,
	        .timeout_s = p->o.sap_timeout_s,
	        .on_session = recv_sap__event,
	        .arg = p->sap,
	};
	int rc = rtb_sap_create(&sc, &p->sap->lis, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "rtbridge recv: %s\n", why);
		return rc;
	}
	if (p->o.nsap > 0 && rtb_sap_warnings(p->sap->lis)[0])
		fprintf(stderr, "rtbridge recv: %s",
		        rtb_sap_warnings(p->sap->lis));
	fprintf(stderr, "rtbridge recv: waiting for a SAP announcement%s%s\n",
	        p->o.session ? " of " : "", p->o.session ? p->o.session : "");
	/* Ctrl-C while waiting ends quietly: nothing is recorded yet. */
	uint64_t t0 = netloop_now_ns();
	rc = 1;
	while (!app_signal_stop_requested() &&
	       (p->o.duration_s <= 0 ||
	        (double)(netloop_now_ns() - t0) / 1e9 < p->o.duration_s)) {
		const struct rtb_sap_session *s = recv_sap__events(p);
		if (s != NULL && recv_sap__join(p, s, false) == 0) {
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
	const struct rtb_sap_session *s;

	if (p->sap == NULL)
		return;
	/* A receiver before is retired once it has no stream left:
	   that does not wait (nothing to play out or finalize). */
	for (unsigned i = 0; i < RECV_SAP_OLD; i++) {
		struct rtb_receiver_counters c;
		if (!p->old[i])
			continue;
		rtb_receiver_counters(p->old[i], &c);
		if (c.streams_alive == 0) {
			recv_sap__retire(p, p->old[i]);
			p->old[i] = NULL;
		}
	}
	s = recv_sap__events(p);
	if (s != NULL)
		(void)recv_sap__join(p, s, true);
}

struct rtb_sap *cmd_recv_sap_listener(const struct recv_cmd *p)
{
	return p->sap ? p->sap->lis : NULL;
}

void cmd_recv_sap_stop(struct recv_cmd *p)
{
	struct rtb_sap_counters c;

	if (p->sap == NULL)
		return;
	if (p->sap->lis) {
		rtb_sap_counters(p->sap->lis, &c);
		rtb_sap_destroy(p->sap->lis);
		app_sap_print_ignored(&c, stderr, "rtbridge recv: ");
	}
	free(p->sap);
	p->sap = NULL;
}
