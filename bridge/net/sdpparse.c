/*
 * sdpparse: SDP audio description reader (see sdpparse.h)
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "bridge/net/sdpparse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Copy one line (without CR/LF) into buf; return the start of the next. */
static const char *sdpparse__line(const char *p, char *buf, size_t cap)
{
	size_t n = 0;

	while (*p && *p != '\n' && *p != '\r') {
		if (n + 1 < cap)
			buf[n++] = *p;
		p++;
	}
	buf[n] = '\0';
	while (*p == '\r' || *p == '\n')
		p++;
	return p;
}

static int sdpparse__fail(char *err, size_t errlen, const char *what)
{
	if (errlen)
		snprintf(err, errlen, "%s", what);
	return -EINVAL;
}

int sdpparse_parse(struct sdpparse_result *out, const char *text, char *err,
                   size_t errlen)
{
	char line[512];
	const char *p = text;
	bool in_audio = false, seen_audio = false, have_map = false;
	int stereo = -1, map_ch = 0;
	char enc[32] = "";

	memset(out, 0, sizeof(*out));
	out->pt = -1;
	while (*p) {
		p = sdpparse__line(p, line, sizeof(line));
		if (line[0] == 'm' && line[1] == '=') {
			if (seen_audio) {
				in_audio = false;
				continue;
			}
			unsigned port;
			int pt;
			char prof[8];
			if (sscanf(line, "m=audio %u RTP/%7s %d", &port, prof,
			           &pt) == 3 &&
			    (!strcmp(prof, "AVP") || !strcmp(prof, "SAVP")) &&
			    port <= 65535 && pt >= 0 && pt <= 127) {
				out->port = port;
				out->pt = pt;
				out->savp = prof[0] == 'S';
				in_audio = seen_audio = true;
			}
			continue;
		}
		if (line[0] == 'c' && line[1] == '=' && !out->addr[0]) {
			char a[64];
			if (sscanf(line, "c=IN IP%*c %63[^/ ]", a) == 1)
				snprintf(out->addr, sizeof(out->addr), "%s", a);
			continue;
		}
		if (!in_audio || line[0] != 'a' || line[1] != '=')
			continue;
		int pt, rate, ch = 0;
		char name[32];
		if (sscanf(line, "a=rtpmap:%d %31[^/]/%d/%d", &pt, name, &rate,
		           &ch) >= 3 &&
		    pt == out->pt) {
			snprintf(enc, sizeof(enc), "%s", name);
			out->rate = rate;
			map_ch = ch;
			have_map = true;
		} else if (!strncmp(line, "a=fmtp:", 7)) {
			const char *s = strstr(line, "stereo=");
			/* "sprop-stereo=" also contains "stereo=". */
			while (s && s > line && s[-1] == '-')
				s = strstr(s + 1, "stereo=");
			if (s)
				stereo = atoi(s + 7);
		} else if (!strncmp(line, "a=crypto:", 9)) {
			/* One too long for any key we know is kept empty
			   (never cut short: a cut could drop a session
			   parameter), which its reader refuses. */
			if (out->ncrypto < SDPPARSE_CRYPTO_MAX) {
				char *c = out->crypto[out->ncrypto++];
				size_t n = strlen(line + 9);
				if (n >= SDPPARSE_CRYPTO_LEN)
					n = 0;
				memcpy(c, line + 9, n);
				c[n] = '\0';
			}
		} else if (!strncmp(line, "a=ptime:", 8)) {
			double ms = atof(line + 8);
			if (ms > 0 && ms < 1000)
				out->ptime_us = (int)(ms * 1000 + 0.5);
		}
	}
	explicit_bzero(line, sizeof(line)); /* may have held a key */
	if (!seen_audio)
		return sdpparse__fail(err, errlen,
		                      "no 'm=audio PORT RTP/AVP PT' line (or "
		                      "RTP/SAVP)");
	if (!have_map) {
		/* Static payload types of RFC 3551: 10 and 11 are L16. */
		if (out->pt == 10 || out->pt == 11) {
			out->kind = CODEC_L16;
			out->rate = 44100;
			out->channels = out->pt == 10 ? 2 : 1;
			return 0;
		}
		if (errlen)
			snprintf(err, errlen, "no a=rtpmap for payload type %d",
			         out->pt);
		return -EINVAL;
	}
	if (!strcasecmp(enc, "opus")) {
		out->kind = CODEC_OPUS;
		out->rate = 48000;
		out->channels = stereo == 0 ? 1 : 2;
	} else if (!strcasecmp(enc, "L16") || !strcasecmp(enc, "L24")) {
		out->kind = enc[1] == '1' ? CODEC_L16 : CODEC_L24;
		out->channels = map_ch > 0 ? map_ch : 1;
	} else {
		if (errlen)
			snprintf(err, errlen,
			         "encoding '%s' is not supported (opus, L16, "
			         "L24)",
			         enc);
		return -EINVAL;
	}
	if (out->rate < 8000 || out->rate > 192000 || out->channels < 1 ||
	    out->channels > CODEC_MAX_CHANNELS)
		return sdpparse__fail(err, errlen,
		                      "bad clock rate or channel count in "
		                      "a=rtpmap");
	return 0;
}
