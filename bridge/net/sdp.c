/*
 * sdp: SDP text for one RTP audio stream (see sdp.h)
 *
 * The text is appended line by line into the caller's buffer; the first
 * line that does not fit makes the whole call fail with -ENOBUFS. The
 * session-level a=recvonly comes before the m= line, so that it applies
 * to the whole session (RFC 4566 6); the clock attributes follow the
 * media's, at media level (RFC 7273 4.8).
 */
#include "bridge/net/sdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "codec/red.h"

struct sdp__out {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

static void sdp__line(struct sdp__out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 >= o->cap - o->len) {
		o->overflow = true;
		return;
	}
	o->len += (size_t)n;
	memcpy(o->buf + o->len, "\r\n", 3);
	o->len += 2;
}

void sdp_ptime_text(char *out, size_t len, double ms)
{
	size_t n;

	snprintf(out, len, "%.4f", ms);
	n = strlen(out);
	while (n > 0 && out[n - 1] == '0')
		out[--n] = '\0';
	if (n > 0 && out[n - 1] == '.')
		out[--n] = '\0';
}

/* Text fit for one SDP line: short, printable, no line break. */
static bool sdp__text_ok(const char *t, size_t max)
{
	size_t n = 0;

	for (; t[n] != '\0'; n++)
		if ((unsigned char)t[n] < 0x20 || t[n] == 0x7f || n >= max)
			return false;
	return true;
}

/* The address part of a sockaddr as text; Return: "IP4"/"IP6" or NULL. */
static const char *sdp__host(const struct sockaddr *sa, char *host, size_t len)
{
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		          host, (socklen_t)len);
		return "IP4";
	}
	if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6,
		          &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
		          (socklen_t)len);
		return "IP6";
	}
	return NULL;
}

int sdp_write(char *buf, size_t cap, const struct sdp_opts *opts)
{
	struct sdp__out o = {.buf = buf, .cap = cap};
	char host[INET6_ADDRSTRLEN], conn[INET6_ADDRSTRLEN + 16], ptime[32];
	char orig[INET6_ADDRSTRLEN];
	const struct codec_config *c = opts->codec;
	const char *ip, *oip, *name = opts->name ? opts->name : "rtbridge";
	const char *refclk = opts->ts_refclk ? opts->ts_refclk : "local";
	const char *mediaclk = opts->mediaclk ? opts->mediaclk : "direct=0";
	unsigned port;
	bool mcast;

	if (buf == NULL || cap == 0 || opts->to == NULL || c == NULL ||
	    opts->pt < 0 || opts->pt > 127 || opts->ttl < 0 ||
	    opts->red_distance > RED_MAX_DISTANCE ||
	    (opts->red_distance && (opts->red_pt < 0 || opts->red_pt > 127 ||
	                            opts->red_pt == opts->pt)) ||
	    (opts->fec_percent &&
	     (opts->red_distance || opts->ulpfec_pt < 0 ||
	      opts->ulpfec_pt > 127 || opts->ulpfec_pt == opts->pt)) ||
	    opts->ttl > 255 || codec_config_check(c, NULL) < 0 ||
	    !sdp__text_ok(name, SDP_NAME_MAX) || name[0] == '\0' ||
	    !sdp__text_ok(refclk, SDP_CLOCK_MAX) ||
	    !sdp__text_ok(mediaclk, SDP_CLOCK_MAX))
		return -EINVAL;
	ip = sdp__host(opts->to, host, sizeof host);
	oip = sdp__host(opts->origin ? opts->origin : opts->to, orig,
	                sizeof orig);
	if (ip == NULL || oip == NULL)
		return -EINVAL;
	if (opts->to->sa_family == AF_INET) {
		const struct sockaddr_in *a =
		        (const struct sockaddr_in *)opts->to;
		port = ntohs(a->sin_port);
		mcast = IN_MULTICAST(ntohl(a->sin_addr.s_addr));
	} else {
		const struct sockaddr_in6 *a =
		        (const struct sockaddr_in6 *)opts->to;
		port = ntohs(a->sin6_port);
		mcast = IN6_IS_ADDR_MULTICAST(&a->sin6_addr);
	}
	if (port == 0)
		return -EINVAL;
	/* RFC 4566 5.7: an IPv4 multicast connection address carries a TTL. */
	if (mcast && opts->to->sa_family == AF_INET)
		snprintf(conn, sizeof conn, "%s/%d", host,
		         opts->ttl > 0 ? opts->ttl : 1);
	else
		snprintf(conn, sizeof conn, "%s", host);
	sdp_ptime_text(ptime, sizeof ptime, codec_config_ptime_ms(c));

	sdp__line(&o, "v=0");
	sdp__line(&o, "o=- %llu %llu IN %s %s",
	          (unsigned long long)opts->session_id,
	          (unsigned long long)(opts->version ? opts->version
	                                             : opts->session_id),
	          oip, orig);
	sdp__line(&o, "s=%s", name);
	sdp__line(&o, "c=IN %s %s", ip, conn);
	sdp__line(&o, "t=0 0");
	sdp__line(&o, "a=recvonly");
	if (opts->red_distance) {
		/* RFC 2198 5: "a=fmtp:RED primary/redundant...". Opus's
		   RTP clock is 48000/2 whatever it carries (RFC 7587). */
		char pts[4 * (RED_MAX_DISTANCE + 1) + 1];
		size_t n = 0;
		for (unsigned i = 0; i <= opts->red_distance; i++)
			n += (size_t)snprintf(pts + n, sizeof pts - n, "%s%d",
			                      i ? "/" : "", opts->pt);
		bool opus = c->kind == CODEC_OPUS;
		sdp__line(&o, "m=audio %u RTP/%s %d %d", port,
		          opts->crypto ? "SAVP" : "AVP", opts->red_pt,
		          opts->pt);
		sdp__line(&o, "a=rtpmap:%d red/%d/%d", opts->red_pt,
		          opus ? 48000 : c->rate, opus ? 2 : c->channels);
		sdp__line(&o, "a=fmtp:%d %s", opts->red_pt, pts);
	} else if (opts->fec_percent) {
		sdp__line(&o, "m=audio %u RTP/%s %d %d", port,
		          opts->crypto ? "SAVP" : "AVP", opts->pt,
		          opts->ulpfec_pt);
		sdp__line(&o, "a=rtpmap:%d ulpfec/%d", opts->ulpfec_pt,
		          c->kind == CODEC_OPUS ? 48000 : c->rate);
	} else {
		sdp__line(&o, "m=audio %u RTP/%s %d", port,
		          opts->crypto ? "SAVP" : "AVP", opts->pt);
	}
	switch (c->kind) {
	case CODEC_OPUS: {
		int st = c->channels == 2;
		sdp__line(&o, "a=rtpmap:%d opus/48000/2", opts->pt);
		if (c->bitrate > 0)
			sdp__line(&o,
			          "a=fmtp:%d "
			          "stereo=%d;sprop-stereo=%d;maxaveragebitrate="
			          "%d",
			          opts->pt, st, st, c->bitrate);
		else
			sdp__line(&o, "a=fmtp:%d stereo=%d;sprop-stereo=%d",
			          opts->pt, st, st);
		break;
	}
	case CODEC_L16:
	case CODEC_L24:
		sdp__line(&o, "a=rtpmap:%d %s/%d/%d", opts->pt,
		          c->kind == CODEC_L16 ? "L16" : "L24", c->rate,
		          c->channels);
		break;
	default:
		return -EINVAL;
	}
	sdp__line(&o, "a=ptime:%s", ptime);
	sdp__line(&o, "a=ts-refclk:%s", refclk);
	sdp__line(&o, "a=mediaclk:%s", mediaclk);
	if (opts->crypto)
		sdp__line(&o, "a=crypto:%s", opts->crypto);
	if (o.overflow) {
		buf[0] = '\0';
		return -ENOBUFS;
	}
	return (int)o.len;
}
