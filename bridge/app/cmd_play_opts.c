/*
 * cmd_play_opts: the options of `rtbridge play` (see cmd_play_opts.h), a
 * table for app_opts
 */
#include "bridge/app/cmd_play_opts.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "bridge/app/app_opts.h"
#include "bridge/app/app_record.h"
#include "bridge/audio/devcfg.h"

#define PLAY_OPT(f) offsetof(struct cmd_play_opts, f)

static const struct app_opt cmd_play_opts__table[] = {
        APP_OPT_DEVICE(PLAY_OPT(device)),
        APP_OPT_NO_PLAY(PLAY_OPT(play)),
        APP_FLAG("--loop", PLAY_OPT(loop),
                 "loop every file (stop with Ctrl-C)"),
        APP_STR("--record", PLAY_OPT(record), "OUT",
                "record the output mix (format from the extension:\n"
                ".wav .aiff .flac .ogg .opus; PCM is 24-bit); kept on Ctrl-C"),
        APP_OPT_PERIOD(PLAY_OPT(period)),
        APP_NUM("--gain", PLAY_OPT(gain_db), -120, 24, "DB",
                "gain applied to every file (default {default})"),
        APP_OPT_DURATION(PLAY_OPT(duration_s), " of audio"),
        APP_NUM("--prefetch", PLAY_OPT(prefetch_s), 0.01, 60, "S",
                "read-ahead per file in seconds (default 2)"),
        APP_FLAG("--fast", PLAY_OPT(fast),
                 "with --no-play: run the virtual clock as fast as it goes"),
        APP_OPT_STATUS(PLAY_OPT(force_status)),
        APP_OPT_END,
};

/* The short spellings getopt knew. */
static const char *const cmd_play_opts__shorts[] = {
        "-d", "--device", "-n", "--no-play", "-l", "--loop", "-r", "--record",
        "-p", "--period", "-g", "--gain",    NULL};

static void cmd_play_opts__init(void *p)
{
	struct cmd_play_opts *o = p;
	o->play = -1;
	o->period = DEVCFG_PERIOD_DEFAULT;
}

static const struct app_cmd cmd_play_opts__cmd = {
        .name = "play",
        .synopsis = "usage: rtbridge play FILE... "
                    "[--device D | --no-play] [--loop]\n"
                    "                     "
                    "[--record OUT] [--period N] [--gain DB]",
        .about = "Plays the files mixed, streamed from disk, "
                 "until the longest ends.",
        .tables = {cmd_play_opts__table},
        .size = sizeof(struct cmd_play_opts),
        .init = cmd_play_opts__init,
        .max_args = 1 << 20,
        .args_missing = "no file to play",
        .shorts = cmd_play_opts__shorts,
};

int cmd_play_opts_parse(struct cmd_play_opts *o, int argc, char **argv)
{
	int rc = app_opts_parse(&cmd_play_opts__cmd, o, argc, argv, &o->nfiles);
	if (rc != 0)
		return rc;
	o->files = argv + 1;
	o->gain = (float)pow(10.0, o->gain_db / 20.0);
	if (app_opts_play("play", o->device, &o->play) < 0)
		return -EINVAL;
	if (o->fast && o->play) {
		fprintf(stderr, "rtbridge play: --fast needs --no-play\n");
		return -EINVAL;
	}
	if (o->record && app_record_check_file("play", o->record) < 0)
		return -EINVAL;
	return 0;
}
