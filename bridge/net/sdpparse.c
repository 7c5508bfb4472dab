/*
 * sdpparse: SDP audio description reader (see sdpparse.h)
 *
 * One pass over the text, a line at a time, each copied into a bounded
 * buffer first. Numbers are read by hand (no sscanf or atoi, whose
 * overflow behaviour is undefined), against a limit given with each.
 * State: whether we are in the session part, in the first audio media
 * section, or past it (later sections are skipped).
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "bridge/net/sdpparse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum sdpparse__where {
	SDPPARSE_SESSION = 0, /* before the first m= line */
	SDPPARSE_AUDIO,       /* in the first audio section */
	SDPPARSE_OTHER,       /* in another media section */
};

/* What the audio section says of one payload type of its m= line. */
struct sdpparse__map {
	int pt;
	bool have_map; /* an a=rtpmap was seen */
	int stereo;    /* fmtp stereo=, -1: not given */
	int map_ch;    /* rtpmap channels, 0: not given */
	int rate;      /* rtpmap clock rate */
	int first;     /* fmtp "PT/PT/...": the first (RED's primary), -1 */
	char enc[32];
};

struct sdpparse__state {
	enum sdpparse__where where;
	bool seen_audio, media_conn;
	struct sdpparse__map map[SDPPARSE_PTS_MAX]; /* m= order */
	int nmap;
	double ptime_ms;
};

/* The entry of payload type pt in the m= list, or NULL. */
static struct sdpparse__map *sdpparse__find(struct sdpparse__state *st,
                                            unsigned long long pt)
{
	for (int i = 0; i < st->nmap; i++)
		if ((unsigned long long)st->map[i].pt == pt)
			return &st->map[i];
	return NULL;
}

/*
 * Copy the line at p (at most left bytes, ended by CR, LF or NUL) into
 * buf, cut at SDPPARSE_LINE_MAX - 1 bytes.
 * Return: bytes consumed, line end included.
 */
static size_t sdpparse__line(const char *p, size_t left, char *buf)
{
	size_t i = 0, n = 0;

	while (i < left && p[i] != '\n' && p[i] != '\r' && p[i] != '\0') {
		if (n + 1 < SDPPARSE_LINE_MAX)
			buf[n++] = p[i];
		i++;
	}
	buf[n] = '\0';
	while (i < left && (p[i] == '\r' || p[i] == '\n'))
		i++;
	return i;
}

/* Read a decimal number of at most `max` at *p; Return: true if one was
   there (then *p is past it). */
static bool sdpparse__num(const char **p, unsigned long long max,
                          unsigned long long *out)
{
	const char *s = *p;
	unsigned long long v = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	*p = s;
	return true;
}

/* A packet time in ms, "10", "2.5", "0.125", in (0, 1000). */
static bool sdpparse__ms(const char *s, double *out)
{
	unsigned long long whole;
	double v, scale = 0.1;

	if (!sdpparse__num(&s, 999, &whole))
		return false;
	v = (double)whole;
	if (*s == '.') {
		s++;
		for (int i = 0; *s >= '0' && *s <= '9'; s++, i++)
			if (i < 9) {
				v += (*s - '0') * scale;
				scale /= 10;
			}
	}
	if (*s != '\0' && *s != ' ' && *s != '\t')
		return false;
	if (!(v > 0.0))
		return false;
	*out = v;
	return true;
}

/* Keep text for display: cut to cap, control bytes made '?'. */
static void sdpparse__keep(char *dst, size_t cap, const char *src)
{
	size_t n = 0;

	for (; src[n] != '\0' && n + 1 < cap; n++) {
		unsigned char ch = (unsigned char)src[n];
		dst[n] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	dst[n] = '\0';
}

/* "o=user id version net type addr": the origin without the version,
   which changes with each modification of the same session. */
static void sdpparse__origin(struct sdpparse_result *r, const char *v)
{
	const char *tok[6];
	size_t len[6];
	int n = 0;

	for (const char *s = v; *s != '\0' && n < 7;) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		if (n == 6) {
			n++;
			break;
		}
		tok[n] = s;
		while (*s != ' ' && *s != '\0')
			s++;
		len[n] = (size_t)(s - tok[n]);
		n++;
	}
	const char *ver = n == 6 ? tok[2] : NULL;
	unsigned long long version = 0;
	if (ver == NULL || !sdpparse__num(&ver, UINT64_MAX, &version) ||
	    ver != tok[2] + len[2]) {
		sdpparse__keep(r->origin, sizeof r->origin, v);
		r->version = 0;
		return;
	}
	char o[SDPPARSE_LINE_MAX];
	snprintf(o, sizeof o, "%.*s %.*s %.*s %.*s %.*s", (int)len[0], tok[0],
	         (int)len[1], tok[1], (int)len[3], tok[3], (int)len[4], tok[4],
	         (int)len[5], tok[5]);
	sdpparse__keep(r->origin, sizeof r->origin, o);
	r->version = version;
}

/* "c=IN IP4 239.1.2.3/16" or "c=IN IP6 ff15::1". */
static void sdpparse__conn(struct sdpparse_result *r, const char *v)
{
	bool v4 = strncmp(v, "IN IP4 ", 7) == 0;
	unsigned long long ttl = 0;
	size_t n = 0;

	if (!v4 && strncmp(v, "IN IP6 ", 7) != 0)
		return;
	v += 7;
	while (v[n] != '\0' && v[n] != '/' && v[n] != ' ' &&
	       n + 1 < sizeof r->addr)
		n++;
	if (n == 0 || (v[n] != '\0' && v[n] != '/' && v[n] != ' '))
		return;
	memcpy(r->addr, v, n);
	r->addr[n] = '\0';
	r->ttl = 0;
	if (v4 && v[n] == '/') {
		const char *t = v + n + 1;
		if (sdpparse__num(&t, 255, &ttl))
			r->ttl = (unsigned)ttl;
	}
}

/* "m=audio 5004 RTP/AVP 96 97" (or RTP/SAVP, SRTP): port, and the
   payload types (the first SDPPARSE_PTS_MAX of them; the first is the
   stream's, or RED's). */
static bool sdpparse__media(struct sdpparse_result *r,
                            struct sdpparse__state *st, const char *v)
{
	unsigned long long port, pt;

	if (strncmp(v, "audio ", 6) != 0)
		return false;
	v += 6;
	if (!sdpparse__num(&v, 65535, &port))
		return false;
	if (*v == '/') { /* "5004/2": a port count */
		unsigned long long count;
		v++;
		if (!sdpparse__num(&v, 65535, &count))
			return false;
	}
	bool savp = strncmp(v, " RTP/SAVP ", 10) == 0;
	if (!savp && strncmp(v, " RTP/AVP ", 9) != 0)
		return false;
	v += savp ? 10 : 9;
	if (!sdpparse__num(&v, 127, &pt) || (*v != '\0' && *v != ' '))
		return false;
	r->port = (unsigned)port;
	r->pt = (int)pt;
	r->savp = savp;
	st->nmap = 0;
	for (;;) {
		if (st->nmap < SDPPARSE_PTS_MAX && !sdpparse__find(st, pt))
			st->map[st->nmap++] = (struct sdpparse__map){
			        .pt = (int)pt, .stereo = -1, .first = -1};
		while (*v == ' ')
			v++;
		if (!sdpparse__num(&v, 127, &pt) || (*v != '\0' && *v != ' '))
			return true; /* the rest is no payload type: ignored */
	}
}

/* "a=rtpmap:96 L16/48000/2" for a payload type of the m= line. */
static void sdpparse__rtpmap(struct sdpparse__state *st, const char *v)
{
	unsigned long long pt, rate, ch = 0;
	struct sdpparse__map *m;
	char enc[sizeof m->enc];
	size_t n = 0;

	if (!sdpparse__num(&v, 127, &pt) || *v != ' ' ||
	    !(m = sdpparse__find(st, pt)))
		return;
	v++;
	while (v[n] != '\0' && v[n] != '/' && n + 1 < sizeof enc)
		n++;
	if (v[n] != '/')
		return;
	memcpy(enc, v, n);
	enc[n] = '\0';
	v += n + 1;
	if (!sdpparse__num(&v, 10000000, &rate))
		return;
	if (*v == '/') {
		v++;
		if (!sdpparse__num(&v, 255, &ch))
			return;
	}
	memcpy(m->enc, enc, sizeof enc);
	m->rate = (int)rate;
	m->map_ch = (int)ch;
	m->have_map = true;
}

/* "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:...": kept in order as
   given. One too long for any key we know is kept empty (never cut short:
   a cut could drop a session parameter), which its reader refuses. */
static void sdpparse__crypto(struct sdpparse_result *r, const char *v)
{
	if (r->ncrypto >= SDPPARSE_CRYPTO_MAX)
		return;
	char *c = r->crypto[r->ncrypto++];
	size_t n = strlen(v);
	if (n >= SDPPARSE_CRYPTO_LEN)
		n = 0;
	memcpy(c, v, n);
	c[n] = '\0';
}

/* "a=fmtp:111 minptime=10;stereo=1;sprop-stereo=1": stereo=; and RED's
   "a=fmtp:100 96/96": its first (primary) payload type. */
static void sdpparse__fmtp(struct sdpparse__state *st, const char *v)
{
	unsigned long long pt, x;
	struct sdpparse__map *m;

	if (!sdpparse__num(&v, 127, &pt) || !(m = sdpparse__find(st, pt)))
		return;
	while (*v == ' ')
		v++;
	const char *f = v;
	if (sdpparse__num(&f, 127, &x) && (*f == '/' || *f == '\0'))
		m->first = (int)x;
	while (*v != '\0') {
		while (*v == ' ' || *v == ';')
			v++;
		if (strncmp(v, "stereo=", 7) == 0) {
			const char *q = v + 7;
			if (sdpparse__num(&q, 1, &x))
				m->stereo = (int)x;
		}
		while (*v != '\0' && *v != ';')
			v++;
	}
}

static void sdpparse__attr(struct sdpparse_result *r,
                           struct sdpparse__state *st, const char *v)
{
	bool media = st->where == SDPPARSE_AUDIO;

	if (st->where == SDPPARSE_OTHER)
		return;
	if (!strcmp(v, "recvonly") || !strcmp(v, "sendonly"))
		r->recvonly = true;
	else if (!strncmp(v, "ts-refclk:", 10) && (media || !r->ts_refclk[0]))
		sdpparse__keep(r->ts_refclk, sizeof r->ts_refclk, v + 10);
	else if (!strncmp(v, "mediaclk:", 9) && (media || !r->mediaclk[0]))
		sdpparse__keep(r->mediaclk, sizeof r->mediaclk, v + 9);
	else if (!media)
		return;
	else if (!strncmp(v, "rtpmap:", 7))
		sdpparse__rtpmap(st, v + 7);
	else if (!strncmp(v, "fmtp:", 5))
		sdpparse__fmtp(st, v + 5);
	else if (!strncmp(v, "ptime:", 6))
		(void)sdpparse__ms(v + 6, &st->ptime_ms);
	else if (!strncmp(v, "crypto:", 7))
		sdpparse__crypto(r, v + 7);
}

static void sdpparse__one(struct sdpparse_result *r, struct sdpparse__state *st,
                          const char *line)
{
	const char *v = line + 2;

	if (line[0] == '\0' || line[1] != '=')
		return;
	switch (line[0]) {
	case 'm':
		if (!st->seen_audio && sdpparse__media(r, st, v)) {
			st->seen_audio = true;
			st->where = SDPPARSE_AUDIO;
		} else {
			st->where = SDPPARSE_OTHER;
		}
		break;
	case 'o':
		if (st->where == SDPPARSE_SESSION && !r->origin[0])
			sdpparse__origin(r, v);
		break;
	case 's':
		if (st->where == SDPPARSE_SESSION && !r->name[0])
			sdpparse__keep(r->name, sizeof r->name, v);
		break;
	case 'c':
		/* A media-level address wins over the session's. */
		if (st->where == SDPPARSE_SESSION && !st->media_conn) {
			sdpparse__conn(r, v);
		} else if (st->where == SDPPARSE_AUDIO && !st->media_conn) {
			sdpparse__conn(r, v);
			st->media_conn = true;
		}
		break;
	case 'a':
		sdpparse__attr(r, st, v);
		break;
	default:
		break;
	}
}

/*
 * The stream's payload type: the first of the m= line, unless that is
 * RFC 2198 redundancy ("red"): then the primary its fmtp names (or the
 * next payload type listed), and red_pt says RED's. out->pt is set.
 */
static const struct sdpparse__map *sdpparse__stream(struct sdpparse_result *out,
                                                    struct sdpparse__state *st)
{
	struct sdpparse__map *m = &st->map[0];

	out->red_pt = -1;
	if (!m->have_map || strcasecmp(m->enc, "red") != 0 || st->nmap < 2)
		return m;
	struct sdpparse__map *p =
	        m->first >= 0 ? sdpparse__find(st, (unsigned)m->first)
	                      : &st->map[1];
	if (!p || p == m)
		return m; /* "red" and nothing it could carry: refused below */
	out->red_pt = m->pt;
	out->pt = p->pt;
	return p;
}

static int sdpparse__fail(char *err, size_t errlen, int rc, const char *what)
{
	if (errlen)
		snprintf(err, errlen, "%s", what);
	return rc;
}

int sdpparse_parse_n(struct sdpparse_result *out, const char *text, size_t len,
                     char *err, size_t errlen)
{
	struct sdpparse__state st = {.where = SDPPARSE_SESSION};
	char line[SDPPARSE_LINE_MAX];
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	out->pt = -1;
	if (errlen)
		err[0] = '\0';
	while (pos < len && text[pos] != '\0') {
		pos += sdpparse__line(text + pos, len - pos, line);
		sdpparse__one(out, &st, line);
	}
	explicit_bzero(line, sizeof(line)); /* may have held a key */
	if (!st.seen_audio)
		return sdpparse__fail(err, errlen, -EINVAL,
		                      "no 'm=audio PORT RTP/AVP PT' line (or "
		                      "RTP/SAVP)");
	const struct sdpparse__map *m = sdpparse__stream(out, &st);
	out->ulpfec_pt = -1;
	for (int i = 0; i < st.nmap; i++)
		if (st.map[i].have_map && st.map[i].pt != out->pt &&
		    !strcasecmp(st.map[i].enc, "ulpfec"))
			out->ulpfec_pt = st.map[i].pt;
	if (!m->have_map) {
		/* Static payload types of RFC 3551: 10 and 11 are L16. */
		if (out->pt == 10 || out->pt == 11) {
			out->kind = CODEC_L16;
			out->rate = 44100;
			out->channels = out->pt == 10 ? 2 : 1;
		} else {
			if (errlen)
				snprintf(err, errlen,
				         "no a=rtpmap for payload type %d",
				         out->pt);
			return -EINVAL;
		}
	} else if (!strcasecmp(m->enc, "opus")) {
		out->kind = CODEC_OPUS;
		out->rate = 48000;
		out->channels = m->stereo == 0 ? 1 : 2;
	} else if (!strcasecmp(m->enc, "L16") || !strcasecmp(m->enc, "L24")) {
		out->kind = m->enc[1] == '1' ? CODEC_L16 : CODEC_L24;
		out->rate = m->rate;
		out->channels = m->map_ch > 0 ? m->map_ch : 1;
	} else {
		char enc[sizeof m->enc];
		sdpparse__keep(enc, sizeof enc, m->enc);
		if (errlen)
			snprintf(err, errlen,
			         "encoding '%s' is not supported (opus, L16, "
			         "L24)",
			         enc);
		return -ENOTSUP;
	}
	if (out->rate < 8000 || out->rate > 192000 || out->channels < 1 ||
	    out->channels > CODEC_MAX_CHANNELS)
		return sdpparse__fail(err, errlen, -EINVAL,
		                      "bad clock rate or channel count in "
		                      "a=rtpmap");
	if (st.ptime_ms > 0.0) {
		out->ptime_us = (int)lround(st.ptime_ms * 1000.0);
		long f = lround(st.ptime_ms * out->rate / 1000.0);
		out->frames = f > 0 ? (int)f : 1;
	}
	return 0;
}

int sdpparse_parse(struct sdpparse_result *out, const char *text, char *err,
                   size_t errlen)
{
	return sdpparse_parse_n(out, text, strlen(text), err, errlen);
}

void sdpparse_codec(const struct sdpparse_result *r, struct codec_config *c)
{
	codec_config_default(c, r->kind);
	c->rate = r->rate;
	c->channels = r->channels;
	if (r->kind == CODEC_OPUS) {
		int keep = c->frame_us;
		c->frame_us = r->ptime_us;
		if (codec_config_check(c, NULL) < 0)
			c->frame_us = keep;
		return;
	}
	/* PCM: the packet time given, or 5 ms, as whole frames within the
	   limits (at 44.1 kHz 5 ms is no whole number of frames). */
	long lo = ((long)r->rate * (CODEC_PCM_MIN_PTIME_NS / 1000) + 999999) /
	          1000000;
	long hi = (long)r->rate * (CODEC_PCM_MAX_PTIME_NS / 1000) / 1000000;
	long f = r->frames > 0 ? r->frames : lround(r->rate * 0.005);
	if (f < lo)
		f = lo;
	if (f > hi)
		f = hi;
	codec_config_set_frames(c, (int)f);
}
