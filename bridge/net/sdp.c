/*
 * sdp: SDP text for one RTP audio stream (see sdp.h)
 *
 * The text is appended line by line into the caller's buffer; the first
 * line that does not fit makes the whole call fail with -ENOBUFS.
 */
#include "bridge/net/sdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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

/* Packet duration in ms as SDP writes it: "10", "2.5". */
static void sdp__ptime(char *out, size_t len, int frame_us)
{
	if (frame_us % 1000 == 0)
		snprintf(out, len, "%d", frame_us / 1000);
	else
		snprintf(out, len, "%d.%d", frame_us / 1000,
		         (frame_us % 1000) / 100);
}

int sdp_write(char *buf, size_t cap, const struct sdp_opts *opts)
{
	struct sdp__out o = {.buf = buf, .cap = cap};
	char host[INET6_ADDRSTRLEN], conn[INET6_ADDRSTRLEN + 16], ptime[32];
	const struct codec_config *c = opts->codec;
	const char *ip;
	unsigned port;
	bool mcast;

	if (buf == NULL || cap == 0 || opts->to == NULL || c == NULL ||
	    opts->pt < 0 || opts->pt > 127 || codec_config_check(c, NULL) < 0)
		return -EINVAL;
	if (opts->to->sa_family == AF_INET) {
		const struct sockaddr_in *a =
		        (const struct sockaddr_in *)opts->to;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
		port = ntohs(a->sin_port);
		mcast = IN_MULTICAST(ntohl(a->sin_addr.s_addr));
		ip = "IP4";
	} else if (opts->to->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a =
		        (const struct sockaddr_in6 *)opts->to;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
		port = ntohs(a->sin6_port);
		mcast = IN6_IS_ADDR_MULTICAST(&a->sin6_addr);
		ip = "IP6";
	} else {
		return -EINVAL;
	}
	if (port == 0)
		return -EINVAL;
	/* RFC 4566 5.7: an IPv4 multicast connection address carries a TTL. */
	if (mcast && opts->to->sa_family == AF_INET)
		snprintf(conn, sizeof conn, "%s/%d", host,
		         opts->ttl > 0 ? opts->ttl : 16);
	else
		snprintf(conn, sizeof conn, "%s", host);
	sdp__ptime(ptime, sizeof ptime, c->frame_us);

	sdp__line(&o, "v=0");
	sdp__line(&o, "o=- %llu %llu IN %s %s",
	          (unsigned long long)opts->session_id,
	          (unsigned long long)opts->session_id, ip, host);
	sdp__line(&o, "s=%s", opts->name ? opts->name : "rtbridge");
	sdp__line(&o, "c=IN %s %s", ip, conn);
	sdp__line(&o, "t=0 0");
	sdp__line(&o, "m=audio %u RTP/%s %d", port,
	          opts->crypto ? "SAVP" : "AVP", opts->pt);
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
	if (opts->crypto)
		sdp__line(&o, "a=crypto:%s", opts->crypto);
	if (o.overflow) {
		buf[0] = '\0';
		return -ENOBUFS;
	}
	return (int)o.len;
}
