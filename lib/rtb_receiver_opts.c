/*
 * rtb_receiver_opts: a public receiver's configuration
 * (include/rtbridge/receiver.h) as the options of `rtbridge recv`
 * (struct cmd_recv_opts), checked with the reasons the command gives; and
 * a configuration filled from an SDP (rtb_receiver_config_sdp)
 *
 * Context: control thread (rtb_receiver_config_sdp: any).
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge/net/addr.h"
#include "bridge/net/sdpparse.h"
#include "bridge/app/app_rtb.h"
#include "lib/rtb_lib.h"

/* A payload type field: RTB_PT_ZERO is 0, 0 is dflt. Return: the type,
   or -1 when out of range. */
static int rtb_receiver__pt(int pt, int dflt)
{
	if (pt < 0 || pt > RTB_PT_ZERO)
		return -1;
	return app_rtb_pt(pt, dflt);
}

/* Codec, rate, channels, packet time. Return: 0, or -EINVAL with why. */
static int rtb_receiver__codec(struct rtb_receiver *r, char *why, size_t len)
{
	struct cmd_recv_opts *o = &r->p.o;
	const struct rtb_receiver_config *c = &r->cfg;
	int kind = app_rtb_codec_kind(c->codec);
	const char *bad = NULL;

	if (kind < 0) {
		rtb__why(why, len, "unknown codec %d", (int)c->codec);
		return -EINVAL;
	}
	codec_config_default(&o->codec, (enum codec_kind)kind);
	if (c->channels > 0)
		o->codec.channels = c->channels;
	if (c->rate > 0)
		o->codec.rate = c->rate;
	if (!(c->frame_ms >= 0 && c->frame_ms <= 1000)) {
		rtb__why(why, len, "frame_ms %g is not 0..1000", c->frame_ms);
		return -EINVAL;
	}
	/* PCM: the packet length guess in whole frames at this rate; the
	   stream's packets tell the truth (as cmd_recv_opts does). */
	if (kind != CODEC_OPUS && c->frame_ms > 0)
		codec_config_set_frames(
		        &o->codec,
		        (int)lround(c->frame_ms * o->codec.rate / 1000.0));
	else if (kind != CODEC_OPUS)
		codec_config_set_frames(&o->codec,
		                        (int)((int64_t)o->codec.rate *
		                              o->codec.frame_us / 1000000));
	else if (c->frame_ms > 0)
		o->codec.frame_us = (int)lround(c->frame_ms * 1000.0);
	if (codec_config_check(&o->codec, &bad) < 0) {
		rtb__why(why, len, "%s, %d Hz, %d channels: %s",
		         codec_kind_name(o->codec.kind), o->codec.rate,
		         o->codec.channels, bad);
		return -EINVAL;
	}
	unsigned ch = r->p.channels;
	if (o->codec.channels != 1 && (unsigned)o->codec.channels != ch) {
		rtb__why(why, len,
		         "streams of %d channels cannot play in a mix of %u",
		         o->codec.channels, ch);
		return -EINVAL;
	}
	return 0;
}

/* Payload types: the stream's, RED's, ULPFEC's. Return: 0 or -EINVAL. */
static int rtb_receiver__pts(struct rtb_receiver *r, char *why, size_t len)
{
	struct cmd_recv_opts *o = &r->p.o;
	const struct rtb_receiver_config *c = &r->cfg;
	int red = rtb_receiver__pt(c->red_pt, -1);
	int fec = rtb_receiver__pt(c->ulpfec_pt, -1);

	o->pt = rtb_receiver__pt(c->pt, 96);
	if (o->pt < 0) {
		rtb__why(why, len, "payload type %d is not 0..127", c->pt);
		return -EINVAL;
	}
	if (c->red_pt < 0 || c->red_pt > RTB_PT_ZERO || red == o->pt) {
		rtb__why(why, len,
		         "RED payload type %d is not 1..127 or is the stream's",
		         c->red_pt);
		return -EINVAL;
	}
	if (c->ulpfec_pt < 0 || c->ulpfec_pt > RTB_PT_ZERO || fec == o->pt ||
	    (red >= 0 && fec >= 0)) {
		rtb__why(why, len,
		         "ULPFEC payload type %d is not 1..127, is the "
		         "stream's, or comes with RED",
		         c->ulpfec_pt);
		return -EINVAL;
	}
	o->red = red >= 0;
	o->red_pt = red;
	o->ulpfec = fec >= 0;
	o->ulpfec_pt = fec;
	return 0;
}

/* Where and from whom: listen, multicast, allow. Return: 0 or -EINVAL. */
static int rtb_receiver__where(struct rtb_receiver *r, char *why, size_t len)
{
	struct cmd_recv_opts *o = &r->p.o;
	const struct rtb_receiver_config *c = &r->cfg;
	char err[200];

	if (!c->listen ||
	    addr_parse(&o->listen, NULL, c->listen,
	               ADDR_LISTEN | ADDR_PORT_ZERO | ADDR_NUMERIC, err,
	               sizeof(err)) < 0) {
		rtb__why(why, len, "listen: %s", c->listen ? err : "missing");
		return -EINVAL;
	}
	o->mcast_ifindex = c->multicast_if;
	if (c->multicast_source &&
	    (addr_parse_default_port(&o->mcast_source, c->multicast_source, 0,
	                             err, sizeof(err)) < 0 ||
	     !addr_is_multicast((struct sockaddr *)&o->listen) ||
	     o->mcast_source.ss_family != o->listen.ss_family)) {
		rtb__why(why, len,
		         "multicast_source %s: an address of the family of a "
		         "multicast listen address",
		         c->multicast_source);
		return -EINVAL;
	}
	if (c->nallow > RECEIVER_MAX_ALLOW || (c->nallow && !c->allow)) {
		rtb__why(why, len, "allow: at most %d networks",
		         RECEIVER_MAX_ALLOW);
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->nallow; i++)
		if (addr_net_parse(&o->allow[i], c->allow[i], err,
		                   sizeof(err)) < 0) {
			rtb__why(why, len, "allow: %s", err);
			return -EINVAL;
		}
	o->nallow = (int)c->nallow;
	return 0;
}

/* The jitter buffer's settings. Return: 0 or -EINVAL. */
static int rtb_receiver__delay(struct rtb_receiver *r, char *why, size_t len)
{
	struct cmd_recv_opts *o = &r->p.o;
	const struct rtb_receiver_config *c = &r->cfg;
	const char *bad = NULL;

	if ((unsigned)c->latency > RTB_LATENCY_LOW)
		bad = "latency mode";
	else if (c->latency_ms > 2000 || c->min_latency_ms > 2000 ||
	         c->max_latency_ms > 2000 || c->sync_ms > 2000)
		bad = "delay (at most 2000 ms)";
	else if (c->max_latency_ms && (c->min_latency_ms > c->max_latency_ms ||
	                               c->latency_ms > c->max_latency_ms))
		bad = "delay above max_latency_ms";
	else if (c->sync_ms && (c->latency_ms || c->latency ||
	                        c->min_latency_ms || c->max_latency_ms))
		bad = "sync_ms with another delay setting";
	else if (c->probation > RECEIVER_MAX_PROBATION)
		bad = "probation";
	if (bad) {
		rtb__why(why, len, "receiver: bad %s", bad);
		return -EINVAL;
	}
	o->latency_auto = c->latency_ms == 0;
	o->latency_ms = c->latency_ms;
	o->latency_low = c->latency_ms == 0 && c->latency == RTB_LATENCY_LOW;
	o->min_latency_ms = c->min_latency_ms;
	o->max_latency_ms = c->max_latency_ms;
	o->sync_ms = c->sync_ms;
	o->probation = c->probation ? c->probation : 2u;
	o->drift = c->no_drift ? 0 : -1;
	r->p.drift = !c->no_drift;
	return 0;
}

/* The SRTP key, copied into the options (zeroed once libsrtp has it).
   Return: 0 or -EINVAL. */
static int rtb_receiver__srtp(struct rtb_receiver *r, char *why, size_t len)
{
	struct cmd_recv_opts *o = &r->p.o;
	const struct rtb_receiver_config *c = &r->cfg;

	if (!c->srtp_key)
		return 0;
	o->srtp_key.suite = (enum srtpkey_suite)c->srtp_suite;
	if ((unsigned)c->srtp_suite > RTB_SRTP_AEAD_AES_128_GCM ||
	    c->srtp_key_len != srtpkey_suite_len(o->srtp_key.suite)) {
		rtb__why(why, len, "SRTP key of %zu bytes: the suite takes %s",
		         c->srtp_key_len,
		         (unsigned)c->srtp_suite > 1 ? "none (unknown suite)"
		         : c->srtp_suite             ? "28"
		                                     : "30");
		return -EINVAL;
	}
	o->srtp_key.len = c->srtp_key_len;
	memcpy(o->srtp_key.bytes, c->srtp_key, c->srtp_key_len);
	o->srtp = true;
	return 0;
}

/* Record directory and format, kept. Return: 0 or -ENOTDIR. */
static int rtb_receiver__record(struct rtb_receiver *r, char *why, size_t len)
{
	struct cmd_recv_opts *o = &r->p.o;
	const struct rtb_receiver_config *c = &r->cfg;
	struct stat sb;

	if (!c->record_dir)
		return 0;
	snprintf(r->dir, sizeof(r->dir), "%s", c->record_dir);
	snprintf(r->fmt, sizeof(r->fmt), "%s",
	         c->record_format ? c->record_format : "wav");
	if (stat(r->dir, &sb) < 0 || !S_ISDIR(sb.st_mode) ||
	    access(r->dir, W_OK | X_OK) < 0) {
		rtb__why(why, len, "%s: not a writable directory", r->dir);
		return -ENOTDIR;
	}
	o->record_dir = r->dir;
	o->record_format = r->fmt;
	return 0;
}

int rtb_receiver__opts(struct rtb_receiver *r, char *why, size_t len)
{
	struct cmd_recv_opts *o = &r->p.o;
	const struct rtb_receiver_config *c = &r->cfg;
	int rc = rtb_receiver__codec(r, why, len);

	if (rc == 0)
		rc = rtb_receiver__pts(r, why, len);
	if (rc == 0)
		rc = rtb_receiver__where(r, why, len);
	if (rc == 0)
		rc = rtb_receiver__delay(r, why, len);
	if (rc == 0)
		rc = rtb_receiver__srtp(r, why, len);
	if (rc == 0)
		rc = rtb_receiver__record(r, why, len);
	if (rc < 0)
		return rc;
	o->timeout_s = c->timeout_s > 0 ? c->timeout_s : 2.0;
	o->max_streams = c->max_streams ? c->max_streams : 16u;
	if (o->max_streams > RECEIVER_MAX_STREAMS) {
		rtb__why(why, len, "max_streams %u is above %d", o->max_streams,
		         RECEIVER_MAX_STREAMS);
		return -EINVAL;
	}
	return 0;
}

/* The SDP's first a=crypto key of a suite supported here. Return: 0 (no
   key: not RTP/SAVP), 1 (a key), or -EINVAL with why. */
static int rtb_receiver__sdp_key(const struct sdpparse_result *sr,
                                 struct srtpkey *k, char *why, size_t len)
{
	char err[160] = "";
	int rc = -ENOTSUP;

	if (!sr->savp && sr->ncrypto == 0)
		return 0;
	for (int i = 0; i < sr->ncrypto && rc == -ENOTSUP; i++)
		rc = srtpkey_sdes_parse(k, sr->crypto[i], err, sizeof(err));
	if (rc < 0) {
		rtb__why(why, len, "%s",
		         err[0] ? err
		                : "RTP/SAVP without an a=crypto line (give "
		                  "an SRTP key)");
		return -EINVAL;
	}
	return 1;
}

/* The address to listen on for the SDP's c= and port: its multicast
   group, or any address of its family. Return: 0, -EINVAL, -ENOBUFS. */
static int rtb_receiver__sdp_listen(const struct sdpparse_result *sr, char *buf,
                                    size_t len, char *why, size_t why_len)
{
	struct sockaddr_storage a;
	char text[ADDR_TEXT_MAX];

	if (addr_parse_default_port(&a, sr->addr[0] ? sr->addr : "0.0.0.0",
	                            (uint16_t)sr->port, NULL, 0) < 0) {
		rtb__why(why, why_len, "SDP: no usable address (c=%s)",
		         sr->addr);
		return -EINVAL;
	}
	if (!addr_is_multicast((struct sockaddr *)&a)) {
		int family = a.ss_family;
		memset(&a, 0, sizeof(a));
		a.ss_family = (sa_family_t)family;
		if (family == AF_INET)
			((struct sockaddr_in *)&a)->sin_port =
			        htons((uint16_t)sr->port);
		else
			((struct sockaddr_in6 *)&a)->sin6_port =
			        htons((uint16_t)sr->port);
	}
	addr_format((const struct sockaddr *)&a, text, sizeof(text));
	if (strlen(text) >= len) {
		rtb__why(why, why_len, "SDP: %zu bytes are too few", len);
		return -ENOBUFS;
	}
	memcpy(buf, text, strlen(text) + 1);
	return 0;
}

int rtb__config_from_sdp(struct rtb_receiver_config *cfg,
                         const struct sdpparse_result *sr, char *buf,
                         size_t len, char *why, size_t why_len)
{
	struct codec_config cc;

	int rc = rtb_receiver__sdp_listen(sr, buf, len, why, why_len);
	if (rc < 0)
		return rc;
	sdpparse_codec(sr, &cc);
	cfg->listen = buf;
	cfg->codec = app_rtb_codec(sr->kind);
	cfg->rate = sr->rate;
	cfg->channels = sr->channels;
	cfg->frame_ms = codec_config_ptime_ms(&cc);
	cfg->pt = app_rtb_pt_field(sr->pt);
	cfg->red_pt = app_rtb_pt_field(sr->red_pt);
	cfg->ulpfec_pt = app_rtb_pt_field(sr->ulpfec_pt);
	return 0;
}

RTB_API int rtb_receiver_config_sdp(struct rtb_receiver_config *cfg,
                                    const char *sdp, char *buf, size_t len,
                                    uint8_t key[30], char *why, size_t why_len)
{
	struct sdpparse_result sr;
	struct srtpkey k;
	char err[256];

	int rc = sdpparse_parse(&sr, sdp ? sdp : "", err, sizeof(err));
	if (rc < 0) {
		rtb__why(why, why_len, "SDP: %s", err);
		explicit_bzero(sr.crypto, sizeof(sr.crypto));
		return -EINVAL;
	}
	int keyed = rtb_receiver__sdp_key(&sr, &k, why, why_len);
	explicit_bzero(sr.crypto, sizeof(sr.crypto));
	if (keyed < 0)
		return keyed;
	rc = rtb__config_from_sdp(cfg, &sr, buf, len, why, why_len);
	if (rc < 0) {
		srtpkey_clear(&k);
		return rc;
	}
	if (keyed) {
		memcpy(key, k.bytes, k.len);
		cfg->srtp_key = key;
		cfg->srtp_key_len = k.len;
		cfg->srtp_suite = k.suite == SRTPKEY_AEAD_AES_128_GCM
		                          ? RTB_SRTP_AEAD_AES_128_GCM
		                          : RTB_SRTP_AES_CM_128_HMAC_SHA1_80;
		srtpkey_clear(&k);
	}
	return 0;
}

RTB_API int rtb_receiver_check(const struct rtb_receiver_config *cfg,
                               unsigned channels, char *why, size_t len)
{
	struct rtb_receiver *r = calloc(1, sizeof(*r));

	if (!r) {
		rtb__why(why, len, "receiver: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	r->cfg = *cfg;
	r->p.channels = channels ? channels : 2u;
	int rc = rtb_receiver__opts(r, why, len);
	if (rc == 0)
		rc = cmd_recv_streams_check(&r->p, why, len);
	srtpkey_clear(&r->p.o.srtp_key);
	free(r);
	return rc;
}
