/*
 * cmd_play_opts: option parsing for `rtbridge play` (see cmd_play_opts.h)
 */
#include "bridge/app/cmd_play_opts.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/audio/devcfg.h"

void cmd_play_opts_usage(FILE *f)
{
	fprintf(f,
	        "usage: rtbridge play FILE... [--device D | --no-play] "
	        "[--loop]\n"
	        "                     [--record OUT] [--period N] [--gain DB]\n"
	        "\n"
	        "Plays the files mixed, streamed from disk, until the longest "
	        "ends.\n"
	        "  --device D     PortAudio device: index, name substring, or "
	        "HOSTAPI:NAME\n"
	        "                 (see `rtbridge devices`); default: the "
	        "default device\n"
	        "  --no-play      run on the virtual clock (real time) without "
	        "a device\n"
	        "  --loop         loop every file (stop with Ctrl-C)\n"
	        "  --record OUT   record the output mix (format from the "
	        "extension:\n"
	        "                 .wav .aiff .flac .ogg .opus; PCM is "
	        "24-bit); kept on Ctrl-C\n"
	        "  --period N     frames per audio callback (%u..%u, default "
	        "%u)\n"
	        "  --gain DB      gain applied to every file (default 0)\n"
	        "  --duration S   stop after S seconds of audio\n"
	        "  --prefetch S   read-ahead per file in seconds (default 2)\n",
	        DEVCFG_PERIOD_MIN, DEVCFG_PERIOD_MAX, DEVCFG_PERIOD_DEFAULT);
}

static int cmd_play_opts__number(const char *opt, const char *arg, double lo,
                                 double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr,
		        "rtbridge play: %s: '%s' is not a number in %g..%g\n",
		        opt, arg, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int cmd_play_opts_parse(struct cmd_play_opts *o, int argc, char **argv)
{
	enum { OPT_FAST = 256, OPT_STATUS, OPT_DURATION, OPT_PREFETCH };
	static const struct option longopts[] = {
	        {"device", required_argument, NULL, 'd'},
	        {"no-play", no_argument, NULL, 'n'},
	        {"loop", no_argument, NULL, 'l'},
	        {"record", required_argument, NULL, 'r'},
	        {"period", required_argument, NULL, 'p'},
	        {"gain", required_argument, NULL, 'g'},
	        {"duration", required_argument, NULL, OPT_DURATION},
	        {"prefetch", required_argument, NULL, OPT_PREFETCH},
	        {"fast", no_argument, NULL, OPT_FAST},
	        {"status", no_argument, NULL, OPT_STATUS},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	double v;

	memset(o, 0, sizeof(*o));
	o->period = DEVCFG_PERIOD_DEFAULT;
	o->gain = 1.0f;
	optind = 1;
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, ":hd:nlr:p:g:", longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'h':
			return 1;
		case 'd':
			o->device = optarg;
			break;
		case 'n':
			o->no_play = true;
			break;
		case 'l':
			o->loop = true;
			break;
		case 'r':
			o->record = optarg;
			break;
		case 'p':
			if (cmd_play_opts__number("--period", optarg,
			                          DEVCFG_PERIOD_MIN,
			                          DEVCFG_PERIOD_MAX, &v) < 0)
				return -EINVAL;
			o->period = (unsigned)v;
			break;
		case 'g':
			if (cmd_play_opts__number("--gain", optarg, -120, 24,
			                          &v) < 0)
				return -EINVAL;
			o->gain = (float)pow(10.0, v / 20.0);
			break;
		case OPT_DURATION:
			if (cmd_play_opts__number("--duration", optarg, 0.001,
			                          1e7, &v) < 0)
				return -EINVAL;
			o->duration_s = v;
			break;
		case OPT_PREFETCH:
			if (cmd_play_opts__number("--prefetch", optarg, 0.01,
			                          60, &v) < 0)
				return -EINVAL;
			o->prefetch_s = v;
			break;
		case OPT_FAST:
			o->fast = true;
			break;
		case OPT_STATUS:
			o->force_status = true;
			break;
		case ':':
			fprintf(stderr, "rtbridge play: %s needs a value\n",
			        argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "rtbridge play: unknown option '%s'\n",
			        argv[optind - 1]);
			return -EINVAL;
		}
	}
	/* getopt_long moved the files after the options. */
	o->files = argv + optind;
	o->nfiles = argc - optind;
	if (o->nfiles == 0) {
		fprintf(stderr, "rtbridge play: no file to play\n");
		return -EINVAL;
	}
	if (o->device && o->no_play) {
		fprintf(stderr,
		        "rtbridge play: --device and --no-play exclude each "
		        "other\n");
		return -EINVAL;
	}
	if (o->fast && !o->no_play) {
		fprintf(stderr, "rtbridge play: --fast needs --no-play\n");
		return -EINVAL;
	}
	return 0;
}
