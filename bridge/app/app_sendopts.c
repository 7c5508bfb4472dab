/*
 * app_sendopts: the stream options of `send` and `sdp` (see
 * app_sendopts.h), as app_opts tables
 */
#include "bridge/app/app_sendopts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/app/app_opts.h"

#define SEND_OPT(f) offsetof(struct app_sendopts, f)

/* --ssrc N: decimal or 0x hex, 0..2^32-1 */
static int app_sendopts__ssrc(void *p, const struct app_opt *opt,
                              const char *arg, char *err, size_t n)
{
	struct app_sendopts *o = p;
	char *end;
	(void)opt;
	errno = 0;
	unsigned long long x = strtoull(arg, &end, 0);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
	    x > UINT32_MAX) {
		snprintf(err, n, "must be 0..4294967295");
		return -EINVAL;
	}
	o->has_ssrc = true;
	o->ssrc = (uint32_t)x;
	return 0;
}

static const struct app_opt app_sendopts__stream[] = {
        {.name = "--to",
         .kind = APP_OPT_STR,
         .off = SEND_OPT(to),
         .arg = "HOST:PORT",
         .help = "destination ([V6ADDR]:PORT for IPv6)"},
        {.name = "--codec",
         .kind = APP_OPT_FN,
         .fn = app_opts_codec,
         .off = SEND_OPT(kind),
         .arg = "C",
         .help = "opus (default), l16 or l24"},
        {.name = "--frame-ms",
         .kind = APP_OPT_NUM,
         .off = SEND_OPT(frame_ms),
         .min = 0.001,
         .max = 1000,
         .arg = "MS",
         .help = "packet duration: 2.5, 5, 10 (default) or 20"},
        {.name = "--bitrate",
         .kind = APP_OPT_INT,
         .off = SEND_OPT(bitrate),
         .min = 500,
         .max = 512000,
         .arg = "BPS",
         .help = "Opus bit rate (default {default})"},
        {.name = "--channels",
         .kind = APP_OPT_INT,
         .off = SEND_OPT(channels),
         .min = 1,
         .max = CODEC_MAX_CHANNELS,
         .arg = "N",
         .help = "1 or 2 (default {default})"},
        {.name = "--rate",
         .kind = APP_OPT_INT,
         .off = SEND_OPT(rate),
         .min = 8000,
         .max = 384000,
         .arg = "HZ",
         .help = "stream rate (default {default}; files are resampled)"},
        {.name = "--pt",
         .kind = APP_OPT_INT,
         .off = SEND_OPT(pt),
         .min = 0,
         .max = 127,
         .arg = "N",
         .help = "RTP payload type (default {default})"},
        APP_OPT_END,
};

static const struct app_opt app_sendopts__send[] = {
        {.name = "--ssrc",
         .kind = APP_OPT_FN,
         .fn = app_sendopts__ssrc,
         .arg = "N",
         .help = "RTP SSRC (default random)"},
        {.name = "--loop",
         .kind = APP_OPT_FLAG,
         .off = SEND_OPT(loop),
         .help = "start again at the end of the file"},
        {.name = "--start",
         .kind = APP_OPT_NUM,
         .off = SEND_OPT(start_s),
         .min = 0,
         .max = 1e7,
         .arg = "SEC",
         .help = "start this far into the file"},
        APP_OPT_DURATION(SEND_OPT(duration_s), " of audio"),
        {.name = "--dscp",
         .kind = APP_OPT_INT,
         .off = SEND_OPT(dscp),
         .min = 0,
         .max = 63,
         .arg = "N",
         .help = "DiffServ code point {range} (46 = EF)"},
        {.name = "--capture",
         .kind = APP_OPT_FLAG,
         .off = SEND_OPT(capture),
         .help = "send live input instead of a file"},
        {.name = "--device",
         .kind = APP_OPT_STR,
         .off = SEND_OPT(device),
         .arg = "D",
         .help = "input device (with --capture): index, name substring\n"
                 "or HOSTAPI:NAME"},
        {.name = "--quiet",
         .kind = APP_OPT_FLAG,
         .off = SEND_OPT(quiet),
         .help = "no progress line"},
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
}

static const struct app_opt *const app_sendopts__send_tables[] = {
        app_sendopts__stream, app_sendopts__send, NULL};
static const struct app_opt *const app_sendopts__sdp_tables[] = {
        app_sendopts__stream, NULL};

static const struct app_cmd app_sendopts__cmd_send = {
        .name = "send",
        .synopsis = "usage: rtbridge send FILE --to HOST:PORT [options]\n"
                    "       rtbridge send --capture [--device D] --to "
                    "HOST:PORT [options]",
        .tables = app_sendopts__send_tables,
        .size = sizeof(struct app_sendopts),
        .init = app_sendopts__init,
        .max_args = 1,
};

static const struct app_cmd app_sendopts__cmd_sdp = {
        .name = "sdp",
        .synopsis = "usage: rtbridge sdp --to HOST:PORT [options]   (prints "
                    "SDP on stdout)",
        .tables = app_sendopts__sdp_tables,
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
	if (o->kind == CODEC_OPUS)
		cfg->bitrate = o->bitrate;
	if (codec_config_check(cfg, &why) < 0) {
		snprintf(err, errlen,
		         "%s at %d Hz, %d channel%s, %g ms frames: %s",
		         codec_kind_name((enum codec_kind)o->kind), rate,
		         o->channels, o->channels == 1 ? "" : "s",
		         o->frame_us / 1000.0, why);
		return -EINVAL;
	}
	return 0;
}

void app_sendopts_usage(const char *cmd, FILE *f)
{
	app_opts_usage(app_sendopts__cmd(cmd), f);
}
