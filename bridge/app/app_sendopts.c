/*
 * app_sendopts: parse the stream options of `send` and `sdp` (see
 * app_sendopts.h)
 *
 * Options take their value as the next argument or after '='
 * ("--to host:5004", "--to=host:5004"). Every number is checked whole.
 */
#include "bridge/app/app_sendopts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/addr.h"
#include "bridge/net/sap.h"
#include "bridge/net/sdp.h"

static int app_sendopts__int(const char *name, const char *v, long lo, long hi,
                             long *out, char *err, size_t errlen)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v, &end, 0);
	if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi) {
		snprintf(err, errlen, "%s '%s': must be an integer in %ld..%ld",
		         name, v, lo, hi);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

static int app_sendopts__num(const char *name, const char *v, double lo,
                             double hi, double *out, char *err, size_t errlen)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !isfinite(x) || x < lo ||
	    x > hi) {
		snprintf(err, errlen, "%s '%s': must be a number in %g..%g",
		         name, v, lo, hi);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

/* A SAP group given after --announce: a multicast address, with or
   without a port. */
static bool app_sendopts__is_group(const char *v)
{
	struct sockaddr_storage g;

	return v[0] != '-' &&
	       addr_parse_default_port(&g, v, SAP_PORT, NULL, 0) == 0 &&
	       addr_is_multicast((const struct sockaddr *)&g);
}

/* A session name fit for the SDP s= line. */
static int app_sendopts__name(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			n = 0;
	if (n == 0 || n > SDP_NAME_MAX) {
		snprintf(err, errlen,
		         "--session: a name of 1 to %d printable characters",
		         SDP_NAME_MAX);
		return -EINVAL;
	}
	return 0;
}

int app_sendopts_parse(struct app_sendopts *o, const char *cmd, int argc,
                       char **argv, char *err, size_t errlen)
{
	bool send = strcmp(cmd, "send") == 0;

	memset(o, 0, sizeof *o);
	o->kind = CODEC_OPUS;
	o->frame_us = 10000;
	o->bitrate = 128000;
	o->channels = 2;
	o->pt = 96;
	o->rate = 48000;
	o->dscp = -1;
	o->ttl = -1;
	o->frame_ms = 10.0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char name[32];
		const char *v = NULL;
		long n;
		double d;

		if (a[0] != '-' || a[1] == '\0') {
			if (!send || o->file != NULL) {
				snprintf(err, errlen,
				         "unexpected argument '%s'", a);
				return -EINVAL;
			}
			o->file = a;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			o->help = true;
			continue;
		}
		const char *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		if (len >= sizeof name) {
			snprintf(err, errlen, "unknown option '%s'", a);
			return -EINVAL;
		}
		memcpy(name, a, len);
		name[len] = '\0';
		/* Flags first: they take no value. */
		if (send && !strcmp(name, "--loop") && !eq) {
			o->loop = true;
			continue;
		}
		if (send && !strcmp(name, "--capture") && !eq) {
			o->capture = true;
			continue;
		}
		if (send && !strcmp(name, "--quiet") && !eq) {
			o->quiet = true;
			continue;
		}
		if (!strcmp(name, "--media-clock") && !eq) {
			o->media_clock = true;
			continue;
		}
		if (send && !strcmp(name, "--announce")) {
			/* The group is optional: after '=', or as the next
			   argument when that is a multicast address (not a
			   FILE). */
			o->announce = true;
			if (eq)
				o->announce_to = eq + 1;
			else if (i + 1 < argc &&
			         app_sendopts__is_group(argv[i + 1]))
				o->announce_to = argv[++i];
			continue;
		}
		static const char *const common[] = {
		        "--to",      "--codec",    "--frame-ms",     "--ptime",
		        "--bitrate", "--channels", "--rate",         "--pt",
		        "--ttl",     "--session",  "--multicast-if", NULL};
		static const char *const sendonly[] = {
		        "--ssrc",     "--start",  "--dscp",
		        "--duration", "--device", "--announce-interval",
		        NULL};
		bool known = false;
		for (int k = 0; common[k]; k++)
			known |= !strcmp(name, common[k]);
		for (int k = 0; send && sendonly[k]; k++)
			known |= !strcmp(name, sendonly[k]);
		if (!known) {
			snprintf(err, errlen, "unknown option '%s'", name);
			return -EINVAL;
		}
		if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			snprintf(err, errlen, "%s needs a value", name);
			return -EINVAL;
		}
		if (!strcmp(name, "--to")) {
			o->to = v;
		} else if (!strcmp(name, "--device")) {
			o->device = v;
		} else if (!strcmp(name, "--codec")) {
			int k = codec_kind_parse(v);
			if (k < 0) {
				snprintf(err, errlen,
				         "--codec '%s': use opus, l16 or l24",
				         v);
				return -EINVAL;
			}
			o->kind = (enum codec_kind)k;
		} else if (!strcmp(name, "--frame-ms") ||
		           !strcmp(name, "--ptime")) {
			if (app_sendopts__num(name, v, 0.001, 1000, &d, err,
			                      errlen) < 0)
				return -EINVAL;
			o->frame_ms = d;
			o->frame_us = (int)lround(d * 1000.0);
		} else if (!strcmp(name, "--ttl")) {
			if (app_sendopts__int(name, v, 0, 255, &n, err,
			                      errlen) < 0)
				return -EINVAL;
			o->ttl = (int)n;
		} else if (!strcmp(name, "--multicast-if")) {
			o->mcast_if = v;
		} else if (!strcmp(name, "--session")) {
			if (app_sendopts__name(v, err, errlen) < 0)
				return -EINVAL;
			o->session = v;
		} else if (!strcmp(name, "--announce-interval")) {
			if (app_sendopts__num(name, v, 0.1, 3600,
			                      &o->announce_s, err, errlen) < 0)
				return -EINVAL;
		} else if (!strcmp(name, "--bitrate")) {
			if (app_sendopts__int(name, v, 500, 512000, &n, err,
			                      errlen) < 0)
				return -EINVAL;
			o->bitrate = (int)n;
		} else if (!strcmp(name, "--channels")) {
			if (app_sendopts__int(name, v, 1, CODEC_MAX_CHANNELS,
			                      &n, err, errlen) < 0)
				return -EINVAL;
			o->channels = (int)n;
		} else if (!strcmp(name, "--rate")) {
			if (app_sendopts__int(name, v, 8000, 384000, &n, err,
			                      errlen) < 0)
				return -EINVAL;
			o->rate = (int)n;
		} else if (!strcmp(name, "--pt")) {
			if (app_sendopts__int(name, v, 0, 127, &n, err,
			                      errlen) < 0)
				return -EINVAL;
			o->pt = (int)n;
		} else if (!strcmp(name, "--ssrc")) {
			char *end;
			errno = 0;
			unsigned long long x = strtoull(v, &end, 0);
			if (errno != 0 || end == v || *end != '\0' ||
			    v[0] == '-' || x > UINT32_MAX) {
				snprintf(err, errlen,
				         "--ssrc '%s': must be 0..4294967295",
				         v);
				return -EINVAL;
			}
			o->has_ssrc = true;
			o->ssrc = (uint32_t)x;
		} else if (!strcmp(name, "--start")) {
			if (app_sendopts__num(name, v, 0, 1e7, &o->start_s, err,
			                      errlen) < 0)
				return -EINVAL;
		} else if (!strcmp(name, "--duration")) {
			if (app_sendopts__num(name, v, 0.001, 1e7,
			                      &o->duration_s, err, errlen) < 0)
				return -EINVAL;
		} else if (!strcmp(name, "--dscp")) {
			if (app_sendopts__int(name, v, 0, 63, &n, err, errlen) <
			    0)
				return -EINVAL;
			o->dscp = (int)n;
		}
	}
	if (o->help)
		return 0;
	if (o->to == NULL) {
		snprintf(err, errlen, "--to HOST:PORT is required");
		return -EINVAL;
	}
	if (send && o->capture && o->file) {
		snprintf(err, errlen,
		         "give either a FILE or --capture, not both");
		return -EINVAL;
	}
	if (send && !o->capture && !o->file) {
		snprintf(err, errlen,
		         "no FILE to send (or --capture for live input)");
		return -EINVAL;
	}
	if (send && o->capture && (o->loop || o->start_s > 0)) {
		snprintf(
		        err, errlen,
		        "--loop and --start apply to a FILE, not to --capture");
		return -EINVAL;
	}
	if (send && !o->capture && o->channels > 2) {
		snprintf(err, errlen,
		         "--channels %d: a file is sent as mono or stereo",
		         o->channels);
		return -EINVAL;
	}
	return 0;
}

int app_sendopts_codec(const struct app_sendopts *o, int rate,
                       struct codec_config *cfg, char *err, size_t errlen)
{
	const char *why = "";

	codec_config_default(cfg, o->kind);
	cfg->rate = rate;
	cfg->channels = o->channels;
	cfg->frame_us = o->frame_us;
	if (o->kind == CODEC_OPUS) {
		cfg->bitrate = o->bitrate;
	} else {
		/* PCM: any whole number of frames (213 = 4.4375 ms). */
		int near = 1;
		int f = codec_frames_of_ms(o->frame_ms, rate, &near);
		codec_config_set_frames(cfg, near);
		/* Out of range first: that is the clearer complaint. */
		if (f < 0 && codec_config_check(cfg, NULL) == 0) {
			snprintf(err, errlen,
			         "%s at %d Hz: %g ms is %.6g frames, not a "
			         "whole number (%d frames = %.6g ms)",
			         codec_kind_name(o->kind), rate, o->frame_ms,
			         o->frame_ms * rate / 1000.0, near,
			         near * 1000.0 / rate);
			return -EINVAL;
		}
	}
	if (codec_config_check(cfg, &why) < 0) {
		snprintf(err, errlen,
		         "%s at %d Hz, %d channel%s, %g ms frames: %s",
		         codec_kind_name(o->kind), rate, o->channels,
		         o->channels == 1 ? "" : "s", o->frame_ms, why);
		return -EINVAL;
	}
	return 0;
}

void app_sendopts_usage(const char *cmd, FILE *f)
{
	bool send = strcmp(cmd, "send") == 0;

	if (send)
		fprintf(f,
		        "usage: rtbridge send FILE --to HOST:PORT [options]\n"
		        "       rtbridge send --capture [--device D] --to "
		        "HOST:PORT [options]\n");
	else
		fprintf(f, "usage: rtbridge sdp --to HOST:PORT [options]   "
		           "(prints SDP on stdout)\n");
	fprintf(f,
	        "  --to HOST:PORT      destination ([V6ADDR]:PORT for IPv6; a "
	        "multicast group\n"
	        "                      such as 239.1.2.3:5004 or "
	        "[ff15::1]:5004)\n"
	        "  --codec C           opus (default), l16 or l24\n"
	        "  --frame-ms MS       packet duration (also --ptime): Opus "
	        "2.5, 5, 10 (default)\n"
	        "                      or 20; L16/L24 any whole number of "
	        "frames from 0.125 to\n"
	        "                      20 ms (1 = AES67's 48 frames, 4.4375 = "
	        "213 at 48 kHz)\n"
	        "  --bitrate BPS       Opus bit rate (default 128000)\n"
	        "  --channels N        1 or 2 (default 2)\n"
	        "  --rate HZ           stream rate (default 48000; files are "
	        "resampled)\n"
	        "  --pt N              RTP payload type (default 96; dynamic "
	        "96..127)\n"
	        "  --ttl N             multicast TTL / hop limit (default 1)\n"
	        "  --multicast-if IF   interface for a multicast destination: "
	        "name, index or\n"
	        "                      address (default: the route's)\n"
	        "  --session NAME      session name in the SDP (default "
	        "\"rtbridge on HOST\")\n"
	        "  --media-clock       RTP timestamps follow the system clock "
	        "(CLOCK_REALTIME x\n"
	        "                      rate; SDP a=ts-refclk:ntp=/traceable/ "
	        "a=mediaclk:direct=0)\n");
	if (send)
		fprintf(f,
		        "  --ssrc N            RTP SSRC (default random)\n"
		        "  --loop              start again at the end of the "
		        "file\n"
		        "  --start SEC         start this far into the file\n"
		        "  --duration SEC      stop after this much audio\n"
		        "  --dscp N            DiffServ code point 0..63 (46 = "
		        "EF)\n"
		        "  --capture           send live input instead of a "
		        "file\n"
		        "  --device D          input device (with --capture): "
		        "index, name substring\n"
		        "                      or HOSTAPI:NAME\n"
		        "  --quiet             no progress line\n"
		        "  --announce[=GROUP[:PORT]]  announce the stream with "
		        "SAP (RFC 2974) every\n"
		        "                      5 s, and delete it at the end "
		        "(default groups: IPv4\n"
		        "                      224.0.0.56 and 239.255.255.255, "
		        "IPv6 ff0X::2:7ffe, X\n"
		        "                      the group's scope; port 9875)\n"
		        "  --announce-interval SEC  time between announcements "
		        "(default 5)\n");
}
