/*
 * rtb_sender_opts: a public sender's configuration
 * (include/rtbridge/sender.h) as the options of `rtbridge send` (struct
 * app_sendopts) and the sender's codec and destination, checked with the
 * reasons the command gives; the SDP of such a stream, of a running
 * sender (rtb_sender_sdp) or of a configuration alone
 * (rtb_sender_config_sdp, with the SRTP key as a=crypto)
 *
 * Context: control thread.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bridge/app/app_rtb.h"
#include "bridge/app/app_sap.h"
#include "bridge/net/addr.h"
#include "bridge/net/sap.h"
#include "lib/rtb_lib.h"

/* Copy an optional string into buf. Return: 0, or -EINVAL (too long). */
static int rtb_sender_opts__keep(const char **dst, const char *src, char *buf,
                                 size_t cap)
{
	if (!src)
		return 0;
	if (strlen(src) >= cap)
		return -EINVAL;
	memcpy(buf, src, strlen(src) + 1);
	*dst = buf;
	return 0;
}

/* The settings the command's option parser checks, checked again here
   for an application. Return: 0, or -EINVAL with why. */
static int rtb_sender_opts__ranges(const struct rtb_sender_config *c, char *why,
                                   size_t len)
{
	const char *bad = NULL;

	if (c->pt < 0 || c->pt > RTB_PT_ZERO || c->red_pt < 0 ||
	    c->red_pt > RTB_PT_ZERO || c->ulpfec_pt < 0 ||
	    c->ulpfec_pt > RTB_PT_ZERO || c->ssrc > (int64_t)UINT32_MAX ||
	    c->ssrc < -1)
		bad = "payload type (0..127, RTB_PT_ZERO) or SSRC (0..2^32-1, "
		      "-1)";
	else if (c->ttl < RTB_TTL_HOST_ONLY || c->ttl > 255)
		bad = "ttl (1..255, 0 or RTB_TTL_HOST_ONLY)";
	else if (c->dscp < 0 || c->dscp > 63)
		bad = "dscp (0..63)";
	else if (c->start_s < 0 || c->duration_s < 0 || c->frame_ms < 0 ||
	         c->frame_ms > 1000)
		bad = "start_s, duration_s (negative) or frame_ms (0..1000)";
	else if (c->announce_interval_s != 0 &&
	         !(c->announce_interval_s >= 0.1 &&
	           c->announce_interval_s <= 3600))
		bad = "announce_interval_s (0.1..3600 s)";
	else if (c->srtp_key && (unsigned)c->srtp_suite > 1)
		bad = "srtp_suite";
	else if (c->srtp_key && c->announce)
		bad = "announce with SRTP (a SAP announcement would carry no "
		      "key, and a key must not go out in clear)";
	if (bad) {
		rtb__why(why, len, "sender: bad %s", bad);
		return -EINVAL;
	}
	return 0;
}

/* The configuration as the command's options (t->o, its strings in t). */
static int rtb_sender_opts__opts(struct rtb__sendconf *t,
                                 const struct rtb_sender_config *c, char *why,
                                 size_t len)
{
	struct app_sendopts *o = &t->o;
	struct sockaddr_storage g;

	*o = (struct app_sendopts){
	        .kind = app_rtb_codec_kind(c->codec),
	        .frame_us = c->frame_us ? (int)c->frame_us : 10000,
	        .bitrate = c->bitrate ? c->bitrate : 128000,
	        .channels = c->channels ? c->channels : 2,
	        .rate = c->rate ? c->rate : 48000,
	        .pt = app_rtb_pt(c->pt, 96),
	        .ssrc = c->ssrc,
	        .loop = c->loop,
	        .start_s = c->start_s,
	        .duration_s = c->duration_s,
	        .dscp = c->dscp ? c->dscp : -1,
	        .ttl = c->ttl == RTB_TTL_HOST_ONLY ? 0
	               : c->ttl                    ? c->ttl
	                                           : -1,
	        .mcast_ifindex = c->multicast_if,
	        .media_clock = c->media_clock,
	        .announce = c->announce,
	        .announce_s =
	                c->announce_interval_s > 0 ? c->announce_interval_s : 5,
	        .red_distance = c->red_distance,
	        .red_lag = c->red_lag,
	        .red_pt = app_rtb_pt(c->red_pt, SENDER_RED_PT),
	        .fec_percent = c->ulpfec_percent,
	        .ulpfec_pt = app_rtb_pt(c->ulpfec_pt, SENDER_ULPFEC_PT),
	};
	if (o->kind < 0) {
		rtb__why(why, len, "unknown codec %d", (int)c->codec);
		return -EINVAL;
	}
	o->frame_ms = o->frame_us / 1000.0;
	if (c->frame_ms > 0) {
		o->frame_ms = c->frame_ms;
		o->frame_us = (int)lround(c->frame_ms * 1000.0);
	}
	size_t n = c->session ? strlen(c->session) : 1;
	for (size_t i = 0; c->session && i < n; i++)
		if ((unsigned char)c->session[i] < 0x20 ||
		    c->session[i] == 0x7f)
			n = 0;
	if (n == 0 || rtb_sender_opts__keep(&o->session, c->session, t->session,
	                                    sizeof(t->session)) < 0) {
		rtb__why(why, len, "session name: 1 to %d printable characters",
		         SDP_NAME_MAX);
		return -EINVAL;
	}
	if (c->announce_group &&
	    (rtb_sender_opts__keep(&o->announce_to, c->announce_group, t->group,
	                           sizeof(t->group)) < 0 ||
	     addr_parse_default_port(&g, c->announce_group, SAP_PORT, NULL, 0) <
	             0 ||
	     !addr_is_multicast((const struct sockaddr *)&g))) {
		rtb__why(why, len,
		         "announce group '%s': must be a multicast "
		         "group[:port]",
		         c->announce_group);
		return -EINVAL;
	}
	return 0;
}

/* The caller's key into k (zeroed by the caller once used), its length
   checked against the suite's. */
int rtb__sender_key(const struct rtb_sender_config *c, struct srtpkey *k,
                    char *why, size_t len)
{
	*k = (struct srtpkey){.suite = (enum srtpkey_suite)c->srtp_suite};
	if (c->srtp_key_len != srtpkey_suite_len(k->suite)) {
		rtb__why(why, len, "SRTP key of %zu bytes: %s takes %zu",
		         c->srtp_key_len, srtpkey_suite_name(k->suite),
		         srtpkey_suite_len(k->suite));
		return -EINVAL;
	}
	k->len = c->srtp_key_len;
	memcpy(k->bytes, c->srtp_key, k->len);
	return 0;
}

/* The configuration checked, as the command's options (t->o) and the
   sender's codec and destination (so): what its SDP says. */
int rtb__sender_settings(struct rtb__sendconf *t,
                         const struct rtb_sender_config *c,
                         struct sender_opts *so, char *why, size_t len)
{
	char err[256];

	int rc = rtb_sender_opts__ranges(c, why, len);
	if (rc == 0)
		rc = rtb_sender_opts__opts(t, c, why, len);
	if (rc < 0)
		return rc;
	sender_opts_init(so);
	if (app_sendopts_codec(&t->o, t->o.rate, &so->codec, err, sizeof(err)) <
	            0 ||
	    addr_parse(&so->to, NULL, c->to ? c->to : "", 0, err, sizeof(err)) <
	            0) {
		rtb__why(why, len, "%s", err);
		return -EINVAL;
	}
	so->pt = t->o.pt;
	so->mcast_ifindex = t->o.mcast_ifindex;
	return 0;
}

/* The SDP of a stream of options o to so's destination, with session
   id `id` and the a=crypto value `crypto` (NULL: none). Return: its
   length, or -ENOBUFS (len too small; buf then holds nothing). */
int rtb__sender_describe(const struct app_sendopts *o,
                         const struct sender_opts *so, uint64_t id,
                         const char *crypto, char *buf, size_t len)
{
	struct sockaddr_storage origin;
	char err[160];

	int rc = app_sap_sdp(o, &so->codec, (const struct sockaddr *)&so->to,
	                     so->mcast_ifindex, id, crypto, &origin, buf, len,
	                     err, sizeof(err));
	if (rc >= 0)
		return rc;
	if (len > 0)
		explicit_bzero(buf, len); /* part of a key, perhaps */
	return -ENOBUFS;
}

RTB_API int rtb_sender_config_sdp(const struct rtb_sender_config *cfg,
                                  char *buf, size_t len, char *why,
                                  size_t whylen)
{
	char crypto[SRTPKEY_SDES_MAX] = "";
	struct rtb__sendconf cf;
	struct sender_opts so;
	struct srtpkey k;

	int rc = rtb__sender_settings(&cf, cfg, &so, why, whylen);
	if (rc == 0 && cfg->srtp_key) {
		rc = rtb__sender_key(cfg, &k, why, whylen);
		if (rc == 0) {
			rc = srtpkey_sdes(&k, 1, crypto, sizeof(crypto));
			srtpkey_clear(&k);
		}
	}
	/* The session id of an SDP made before its stream: the time. */
	if (rc >= 0)
		rc = rtb__sender_describe(&cf.o, &so, (uint64_t)time(NULL),
		                          crypto[0] ? crypto : NULL, buf, len);
	if (rc == -ENOBUFS)
		rtb__why(why, whylen, "SDP: %zu bytes are too few", len);
	explicit_bzero(crypto, sizeof(crypto));
	return rc;
}
