/*
 * app_sendopts: the stream options of `send` and `sdp` (see
 * app_sendopts.h), as app_opts tables, and as the public library's
 * sender configuration (struct rtb_sender_config)
 */
#include "bridge/app/app_sendopts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rtbridge/sender.h>

#include "bridge/app/app_metrics.h"
#include "bridge/app/app_opts.h"
#include "bridge/app/app_srtp.h"
#include "bridge/net/addr.h"
#include "bridge/net/sap.h"
#include "bridge/net/sdp.h"
#include "bridge/net/sender.h"
#include "codec/red.h"

#define SEND_OPT(f) offsetof(struct app_sendopts, f)

/* --session NAME: a name fit for the SDP s= line */
static int app_sendopts__session(void *p, const struct app_opt *opt,
                                 const char *arg, char *err, size_t n)
{
	struct app_sendopts *o = p;
	size_t len = strlen(arg);
	(void)opt;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)arg[i] < 0x20 || arg[i] == 0x7f)
			len = 0;
	if (len == 0 || len > SDP_NAME_MAX) {
		snprintf(err, n, "a name of 1 to %d printable characters",
		         SDP_NAME_MAX);
		return -EINVAL;
	}
	o->session = arg;
	return 0;
}

/* --multicast-if IF: name, index or address of an interface */
static int app_sendopts__iface(void *p, const struct app_opt *opt,
                               const char *arg, char *err, size_t n)
{
	struct app_sendopts *o = p;
	(void)opt;
	int idx = addr_iface_parse(arg, err, n);
	if (idx < 0)
		return -EINVAL;
	o->mcast_ifindex = (unsigned)idx;
	return 0;
}

/* --announce[=GROUP[:PORT]]: the group is a multicast address, with or
   without a port (a FILE after a bare --announce stays the FILE). */
static int app_sendopts__announce(void *p, const struct app_opt *opt,
                                  const char *arg, char *err, size_t n)
{
	struct app_sendopts *o = p;
	struct sockaddr_storage g;
	(void)opt;
	if (arg && (addr_parse_default_port(&g, arg, SAP_PORT, NULL, 0) < 0 ||
	            !addr_is_multicast((const struct sockaddr *)&g))) {
		snprintf(err, n, "must be a multicast group[:port]");
		return -EINVAL;
	}
	o->announce = true;
	o->announce_to = arg;
	return 0;
}

/* --fec red[:DISTANCE] | red@LAG | ulpfec:PERCENT | none */
static int app_sendopts__fec(void *p, const struct app_opt *opt,
                             const char *arg, char *err, size_t n)
{
	struct app_sendopts *o = p;
	(void)opt;
	o->red_distance = 0;
	o->red_lag = 0;
	o->fec_percent = 0;
	if (!strcmp(arg, "none"))
		return 0;
	if (!strncmp(arg, "ulpfec:", 7)) {
		char *end;
		errno = 0;
		unsigned long pc = strtoul(arg + 7, &end, 10);
		if (errno == 0 && end != arg + 7 && *end == '\0' &&
		    arg[7] >= '0' && arg[7] <= '9' &&
		    pc >= SENDER_FEC_PERCENT_MIN &&
		    pc <= SENDER_FEC_PERCENT_MAX) {
			o->fec_percent = (unsigned)pc;
			return 0;
		}
	}
	if (!strncmp(arg, "red@", 4) && arg[4] >= '2' &&
	    arg[4] <= '0' + RED_MAX_LAG && arg[5] == '\0') {
		o->red_distance = 1;
		o->red_lag = (unsigned)(arg[4] - '0');
		return 0;
	}
	if (!strncmp(arg, "red", 3) && (arg[3] == '\0' || arg[3] == ':')) {
		const char *d = arg[3] ? arg + 4 : "1";
		if (d[0] >= '1' && d[0] <= '0' + RED_MAX_DISTANCE &&
		    d[1] == '\0') {
			o->red_distance = (unsigned)(d[0] - '0');
			return 0;
		}
	}
	snprintf(err, n,
	         "use red[:DISTANCE], DISTANCE 1..%d, red@LAG, LAG 2..%d, "
	         "ulpfec:PERCENT, PERCENT %d..%d, or none",
	         RED_MAX_DISTANCE, RED_MAX_LAG, SENDER_FEC_PERCENT_MIN,
	         SENDER_FEC_PERCENT_MAX);
	return -EINVAL;
}

static const struct app_opt app_sendopts__stream[] = {
        APP_STR("--to", SEND_OPT(to), "HOST:PORT",
                "destination ([V6ADDR]:PORT for IPv6; a multicast\n"
                "group such as 239.1.2.3:5004 or [ff15::1]:5004)"),
        APP_OPT_CODEC(SEND_OPT(kind)),
        APP_NUM("--frame-ms", SEND_OPT(frame_ms), 0.001, 1000, "MS",
                "packet duration (also --ptime): Opus 2.5, 5, 10\n"
                "(default) or 20; L16/L24 any whole number of frames\n"
                "from 0.125 to 20 ms (1 = AES67's 48 frames, 4.4375 =\n"
                "213 at 48 kHz)"),
        APP_NUM("--ptime", SEND_OPT(frame_ms), 0.001, 1000, "MS", NULL),
        APP_INT("--bitrate", SEND_OPT(bitrate), 500, 512000, "BPS",
                "Opus bit rate (default {default})"),
        APP_INT("--channels", SEND_OPT(channels), 1, CODEC_MAX_CHANNELS, "N",
                "1 or 2 (default {default})"),
        APP_INT("--rate", SEND_OPT(rate), 8000, 384000, "HZ",
                "stream rate (default {default}; files are resampled)"),
        APP_OPT_PT(SEND_OPT(pt)),
        APP_INT("--ttl", SEND_OPT(ttl), 0, 255, "N",
                "multicast TTL / hop limit (default 1)"),
        APP_FN("--multicast-if", app_sendopts__iface, 0, "IF",
               "interface for a multicast destination: name, index\n"
               "or address (default: the route's)"),
        APP_FN("--session", app_sendopts__session, 0, "NAME",
               "session name in the SDP (default \"rtbridge on HOST\")"),
        APP_FLAG("--media-clock", SEND_OPT(media_clock),
                 "RTP timestamps follow the system clock\n"
                 "(CLOCK_REALTIME x rate; SDP a=ts-refclk:ntp=/traceable/\n"
                 "a=mediaclk:direct=0)"),
        APP_OPT_SRTP_KEY(SEND_OPT(srtp_key)),
        APP_OPT_SRTP_SUITE(SEND_OPT(srtp_suite)),
        APP_FN("--fec", app_sendopts__fec, 0, "red[:N]|red@D|ulpfec:P|none",
               "red[:N]: redundant audio (RFC 2198): each packet also\n"
               "carries the payloads of the N packets before it (1..3,\n"
               "default 1), so a receiver restores lost packets bit for\n"
               "bit; costs N times the audio bit rate (L16/L24: packets\n"
               "of at most 1023 bytes, e.g. stereo L16 up to 5 ms).\n"
               "red@D: one copy only, of the packet D back (2..8, as\n"
               "GStreamer's rtpredenc distance=D): restores bursts of up\n"
               "to D lost packets for one audio bit rate more; the\n"
               "receiver waits up to D packets for it while losing.\n"
               "ulpfec:P: parity FEC (RFC 5109, as GStreamer's\n"
               "rtpulpfecenc): after every ceil(100/P) packets one FEC\n"
               "packet, their XOR, from which a receiver restores any\n"
               "one of them that was lost; P 5..100 is the most it adds\n"
               "to the bit rate (20: one per 5 packets, 20 %)"),
        APP_INT("--red-pt", SEND_OPT(red_pt), 0, 127, "N",
                "RTP payload type of the RED packets (default\n"
                "{default}; the SDP says a=rtpmap:N red/RATE/CH)"),
        APP_INT("--ulpfec-pt", SEND_OPT(ulpfec_pt), 0, 127, "N",
                "RTP payload type of the ULPFEC packets (default\n"
                "{default}; the SDP says a=rtpmap:N ulpfec/RATE)"),
        APP_OPT_END,
};

static const struct app_opt app_sendopts__send[] = {
        APP_U32("--ssrc", SEND_OPT(ssrc), "N", "RTP SSRC (default random)"),
        APP_FLAG("--loop", SEND_OPT(loop),
                 "start again at the end of the file"),
        APP_NUM("--start", SEND_OPT(start_s), 0, 1e7, "SEC",
                "start this far into the file"),
        APP_OPT_DURATION(SEND_OPT(duration_s), " of audio"),
        APP_INT("--dscp", SEND_OPT(dscp), 0, 63, "N",
                "DiffServ code point {range} (46 = EF)"),
        APP_FLAG("--capture", SEND_OPT(capture),
                 "send live input instead of a file"),
        APP_STR("--device", SEND_OPT(device), "D",
                "input device (with --capture): index, name substring\n"
                "or HOSTAPI:NAME"),
        APP_FLAG("--quiet", SEND_OPT(quiet), "no progress line"),
        APP_FN_OPTIONAL("--announce", app_sendopts__announce, 0, "GROUP[:PORT]",
                        "announce the stream with SAP (RFC 2974) every 5 s,\n"
                        "and delete it at the end (default groups: IPv4\n"
                        "224.0.0.56 and 239.255.255.255, IPv6 ff0X::2:7ffe,\n"
                        "X the group's scope; port 9875)"),
        APP_NUM("--announce-interval", SEND_OPT(announce_s), 0.1, 3600, "SEC",
                "time between announcements (default 5)"),
        APP_OPT_METRICS(SEND_OPT(metrics)),
        APP_OPT_END,
};

static void app_sendopts__init(void *p)
{
	struct app_sendopts *o = p;
	o->kind = CODEC_OPUS;
	o->frame_ms = 10;
	o->bitrate = 128000;
	o->channels = 2;
	o->pt = 96;
	o->rate = 48000;
	o->dscp = -1;
	o->ttl = -1;
	o->ssrc = -1;
	o->red_pt = SENDER_RED_PT;
	o->ulpfec_pt = SENDER_ULPFEC_PT;
}

static const struct app_cmd app_sendopts__cmd_send = {
        .name = "send",
        .synopsis = "usage: rtbridge send FILE --to HOST:PORT [options]\n"
                    "       rtbridge send --capture [--device D] --to "
                    "HOST:PORT [options]",
        .tables = {app_sendopts__stream, app_sendopts__send},
        .size = sizeof(struct app_sendopts),
        .init = app_sendopts__init,
        .max_args = 1,
};

static const struct app_cmd app_sendopts__cmd_sdp = {
        .name = "sdp",
        .synopsis = "usage: rtbridge sdp --to HOST:PORT [options]   "
                    "(prints SDP on stdout)",
        .tables = {app_sendopts__stream},
        .size = sizeof(struct app_sendopts),
        .init = app_sendopts__init,
};

static const struct app_cmd *app_sendopts__cmd(const char *cmd)
{
	return strcmp(cmd, "send") == 0 ? &app_sendopts__cmd_send
	                                : &app_sendopts__cmd_sdp;
}

/* One line for a combination of options that cannot work. */
static int app_sendopts__refuse(const char *cmd, const char *why)
{
	fprintf(stderr, "rtbridge %s: %s\n", cmd, why);
	return -EINVAL;
}

int app_sendopts_parse(struct app_sendopts *o, const char *cmd, int argc,
                       char **argv)
{
	bool send = strcmp(cmd, "send") == 0;
	int nargs;
	char why[96];

	int rc = app_opts_parse(app_sendopts__cmd(cmd), o, argc, argv, &nargs);
	if (rc != 0)
		return rc;
	o->file = nargs > 0 ? argv[1] : NULL;
	o->frame_us = (int)lround(o->frame_ms * 1000.0);
	if (o->to == NULL)
		return app_sendopts__refuse(cmd, "--to HOST:PORT is required");
	if (o->srtp_suite && !o->srtp_key)
		return app_sendopts__refuse(cmd,
		                            "--srtp-suite needs --srtp-key");
	if (o->red_distance && o->red_pt == o->pt) {
		snprintf(why, sizeof(why),
		         "--red-pt %d is the media's payload type (--pt): "
		         "give RED another one",
		         o->red_pt);
		return app_sendopts__refuse(cmd, why);
	}
	if (o->fec_percent && o->ulpfec_pt == o->pt) {
		snprintf(why, sizeof(why),
		         "--ulpfec-pt %d is the media's payload type (--pt): "
		         "give ULPFEC another one",
		         o->ulpfec_pt);
		return app_sendopts__refuse(cmd, why);
	}
	if (!send)
		return 0;
	if (o->capture && o->file)
		return app_sendopts__refuse(
		        cmd, "give either a FILE or --capture, not both");
	if (!o->capture && !o->file)
		return app_sendopts__refuse(
		        cmd, "no FILE to send (or --capture for live input)");
	if (o->capture && (o->loop || o->start_s > 0))
		return app_sendopts__refuse(
		        cmd,
		        "--loop and --start apply to a FILE, not to --capture");
	if (o->announce && o->srtp_key)
		return app_sendopts__refuse(
		        cmd,
		        "--announce with --srtp-key would multicast the key "
		        "in clear (share `rtbridge sdp`'s output instead)");
	if (o->metrics &&
	    app_metrics_parse(cmd, o->metrics, &o->metrics_addr) < 0)
		return -EINVAL;
	if (!o->capture && o->channels > 2) {
		snprintf(why, sizeof(why),
		         "--channels %d: a file is sent as mono or stereo",
		         o->channels);
		return app_sendopts__refuse(cmd, why);
	}
	return 0;
}

int app_sendopts_codec(const struct app_sendopts *o, int rate,
                       struct codec_config *cfg, char *err, size_t errlen)
{
	const char *why = "";

	codec_config_default(cfg, (enum codec_kind)o->kind);
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
			         codec_kind_name((enum codec_kind)o->kind),
			         rate, o->frame_ms, o->frame_ms * rate / 1000.0,
			         near, near * 1000.0 / rate);
			return -EINVAL;
		}
	}
	if (codec_config_check(cfg, &why) < 0) {
		snprintf(err, errlen,
		         "%s at %d Hz, %d channel%s, %g ms frames: %s",
		         codec_kind_name((enum codec_kind)o->kind), rate,
		         o->channels, o->channels == 1 ? "" : "s", o->frame_ms,
		         why);
		return -EINVAL;
	}
	if (o->red_distance && o->kind != CODEC_OPUS &&
	    codec_max_payload(cfg) > RED_BLOCK_LEN_MAX) {
		snprintf(err, errlen,
		         "--fec red: %s packets of %g ms are %zu bytes, longer "
		         "than a redundant block can be (%d): use shorter "
		         "packets (--frame-ms)",
		         codec_kind_name((enum codec_kind)o->kind), o->frame_ms,
		         codec_max_payload(cfg), RED_BLOCK_LEN_MAX);
		return -EINVAL;
	}
	return 0;
}

void app_sendopts_rtb(const struct app_sendopts *o, struct rtb_sender_config *c)
{
	*c = (struct rtb_sender_config){
	        .to = o->to,
	        .codec = o->kind == CODEC_OPUS  ? RTB_CODEC_OPUS
	                 : o->kind == CODEC_L16 ? RTB_CODEC_L16
	                                        : RTB_CODEC_L24,
	        .rate = o->rate,
	        .channels = o->channels,
	        .frame_us = (unsigned)o->frame_us,
	        .bitrate = o->bitrate,
	        .pt = o->pt ? o->pt : RTB_PT_ZERO, /* 0 would be 96 */
	        .ssrc = o->ssrc,
	        .loop = o->loop,
	        .duration_s = o->duration_s,
	        .red_distance = o->red_distance,
	        .red_lag = o->red_lag,
	        .red_pt = o->red_pt ? o->red_pt : RTB_PT_ZERO,
	        .frame_ms = o->frame_ms,
	        .start_s = o->start_s,
	        /* --ttl 0 keeps the packets on this host; none: the
	           system's. */
	        .ttl = o->ttl == 0  ? RTB_TTL_HOST_ONLY
	               : o->ttl < 0 ? 0
	                            : o->ttl,
	        .multicast_if = o->mcast_ifindex,
	        .dscp = o->dscp < 0 ? 0 : o->dscp, /* 0 is the socket's own */
	        .media_clock = o->media_clock,
	        .session = o->session,
	        .announce = o->announce,
	        .announce_group = o->announce_to,
	        .announce_interval_s = o->announce_s,
	        .ulpfec_percent = o->fec_percent,
	        .ulpfec_pt = o->ulpfec_pt ? o->ulpfec_pt : RTB_PT_ZERO,
	};
}

void app_sendopts_rtb_key(struct rtb_sender_config *c,
                          const struct srtpkey *key)
{
	c->srtp_key = key->bytes;
	c->srtp_key_len = key->len;
	c->srtp_suite = key->suite == SRTPKEY_AEAD_AES_128_GCM
	                        ? RTB_SRTP_AEAD_AES_128_GCM
	                        : RTB_SRTP_AES_CM_128_HMAC_SHA1_80;
}
