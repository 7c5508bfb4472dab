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

static const struct app_opt app_sendopts__stream[] = {
        APP_STR("--to", SEND_OPT(to), "HOST:PORT",
                "destination ([V6ADDR]:PORT for IPv6)"),
        APP_OPT_CODEC(SEND_OPT(kind)),
        APP_NUM("--frame-ms", SEND_OPT(frame_ms), 0.001, 1000, "MS",
                "packet duration: 2.5, 5, 10 (default) or 20"),
        APP_INT("--bitrate", SEND_OPT(bitrate), 500, 512000, "BPS",
                "Opus bit rate (default {default})"),
        APP_INT("--channels", SEND_OPT(channels), 1, CODEC_MAX_CHANNELS, "N",
                "1 or 2 (default {default})"),
        APP_INT("--rate", SEND_OPT(rate), 8000, 384000, "HZ",
                "stream rate (default {default}; files are resampled)"),
        APP_OPT_PT(SEND_OPT(pt)),
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
	o->ssrc = -1;
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
