/*
 * cmd_recv_opts: option parsing for `rtbridge recv` (see cmd_recv_opts.h)
 *
 * An --sdp file gives the defaults for port, codec, payload type, rate and
 * channels; options given explicitly win over it.
 */
#include "bridge/app/cmd_recv_opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/audio/devcfg.h"
#include "bridge/net/sdpparse.h"

#define RECV_SDP_MAX 16384 /* bytes of an SDP file read */

void cmd_recv_opts_usage(FILE *f)
{
	fprintf(f,
	        "usage: rtbridge recv --listen [ADDR:]PORT [options]\n"
	        "\n"
	        "Receives RTP audio streams (one per sender SSRC), plays "
	        "and/or "
	        "records them.\n"
	        "  --listen [ADDR:]PORT   where to receive (IPv4, [IPv6], "
	        "multicast group)\n"
	        "  --codec opus|l16|l24   payload codec (default opus)\n"
	        "  --pt N                 payload type accepted (default 96)\n"
	        "  --channels N           channels of the streams (default 2)\n"
	        "  --rate HZ              sample rate (default 48000)\n"
	        "  --sdp FILE             take port, codec, pt, rate, channels "
	        "from an SDP file\n"
	        "  --play [--device D]    play the mix on a PortAudio device "
	        "(default when one exists)\n"
	        "  --no-play              run on the virtual clock (headless "
	        "recorder)\n"
	        "  --record FILE          record the output mix (.wav .flac "
	        ".ogg .opus)\n"
	        "  --record-dir DIR       record each stream to "
	        "DIR/<ssrc-hex>.<format>\n"
	        "  --record-format F      wav (default), flac, ogg or opus\n"
	        "  --mix FILE             mix an archive file in (repeatable)\n"
	        "  --latency auto|MS      playout delay (default auto)\n"
	        "  --min-latency MS, --max-latency MS   limits of the "
	        "automatic "
	        "delay\n"
	        "  --duration SEC         stop after SEC seconds\n"
	        "  --idle-exit SEC        exit when no stream has had packets "
	        "for SEC\n"
	        "  --timeout SEC          remove a stream silent this long "
	        "(default 2)\n"
	        "  --stats-json PATH|-    one JSON object per stream per "
	        "interval, and a summary\n"
	        "  --stats-interval MS    interval of the JSON lines (default "
	        "1000)\n"
	        "  --allow ADDR[/PREFIX]  accept only these senders "
	        "(repeatable; default anyone)\n"
	        "  --max-streams N        streams at once (default 16)\n"
	        "  --probation N          packets in sequence before a new "
	        "SSRC becomes a stream\n"
	        "                         (default 2, RFC 3550; 1: at once); "
	        "they are kept and played\n"
	        "  --drift / --no-drift   clock drift compensation (default "
	        "on; recordings\n"
	        "                         are taken before it, at the "
	        "stream's rate)\n"
	        "  --period N             frames per audio callback (default "
	        "%u)\n",
	        DEVCFG_PERIOD_DEFAULT);
}

static int recv_opts__num(const char *opt, const char *arg, double lo,
                          double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr,
		        "rtbridge recv: %s '%s': must be a number in %g..%g\n",
		        opt, arg, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int recv_opts__int(const char *opt, const char *arg, long lo, long hi,
                          long *out)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < lo || v > hi) {
		fprintf(stderr,
		        "rtbridge recv: %s '%s': must be an integer in "
		        "%ld..%ld\n",
		        opt, arg, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int recv_opts__sdp(const char *path, struct sdpparse_result *res)
{
	char err[256];
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "rtbridge recv: --sdp %s: %s\n", path,
		        strerror(errno));
		return -errno;
	}
	char *text = calloc(1, RECV_SDP_MAX + 1);
	if (!text) {
		fclose(f);
		fprintf(stderr, "rtbridge recv: out of memory\n");
		return -ENOMEM;
	}
	size_t n = fread(text, 1, RECV_SDP_MAX, f);
	text[n] = '\0';
	fclose(f);
	int rc = sdpparse_parse(res, text, err, sizeof(err));
	free(text);
	if (rc < 0)
		fprintf(stderr, "rtbridge recv: --sdp %s: %s\n", path, err);
	return rc;
}

int cmd_recv_opts_parse(struct cmd_recv_opts *o, int argc, char **argv)
{
	enum {
		OPT_LISTEN = 256,
		OPT_CODEC,
		OPT_PT,
		OPT_CHANNELS,
		OPT_RATE,
		OPT_SDP,
		OPT_PLAY,
		OPT_NOPLAY,
		OPT_DEVICE,
		OPT_RECORD,
		OPT_RECDIR,
		OPT_RECFMT,
		OPT_MIX,
		OPT_LATENCY,
		OPT_MINLAT,
		OPT_MAXLAT,
		OPT_DURATION,
		OPT_IDLE,
		OPT_TIMEOUT,
		OPT_STATS,
		OPT_STATS_IV,
		OPT_ALLOW,
		OPT_MAXSTREAMS,
		OPT_PROBATION,
		OPT_DRIFT,
		OPT_NODRIFT,
		OPT_PERIOD,
		OPT_STATUS,
	};
	static const struct option longopts[] = {
	        {"listen", required_argument, NULL, OPT_LISTEN},
	        {"codec", required_argument, NULL, OPT_CODEC},
	        {"pt", required_argument, NULL, OPT_PT},
	        {"channels", required_argument, NULL, OPT_CHANNELS},
	        {"rate", required_argument, NULL, OPT_RATE},
	        {"sdp", required_argument, NULL, OPT_SDP},
	        {"play", no_argument, NULL, OPT_PLAY},
	        {"no-play", no_argument, NULL, OPT_NOPLAY},
	        {"device", required_argument, NULL, OPT_DEVICE},
	        {"record", required_argument, NULL, OPT_RECORD},
	        {"record-dir", required_argument, NULL, OPT_RECDIR},
	        {"record-format", required_argument, NULL, OPT_RECFMT},
	        {"mix", required_argument, NULL, OPT_MIX},
	        {"latency", required_argument, NULL, OPT_LATENCY},
	        {"min-latency", required_argument, NULL, OPT_MINLAT},
	        {"max-latency", required_argument, NULL, OPT_MAXLAT},
	        {"duration", required_argument, NULL, OPT_DURATION},
	        {"idle-exit", required_argument, NULL, OPT_IDLE},
	        {"timeout", required_argument, NULL, OPT_TIMEOUT},
	        {"stats-json", required_argument, NULL, OPT_STATS},
	        {"stats-interval", required_argument, NULL, OPT_STATS_IV},
	        {"allow", required_argument, NULL, OPT_ALLOW},
	        {"max-streams", required_argument, NULL, OPT_MAXSTREAMS},
	        {"probation", required_argument, NULL, OPT_PROBATION},
	        {"drift", no_argument, NULL, OPT_DRIFT},
	        {"no-drift", no_argument, NULL, OPT_NODRIFT},
	        {"period", required_argument, NULL, OPT_PERIOD},
	        {"status", no_argument, NULL, OPT_STATUS},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *listen = NULL, *sdp = NULL, *codec = NULL;
	long pt = -1, channels = -1, rate = -1, l;
	double v;
	char err[256];

	memset(o, 0, sizeof(*o));
	o->play = -1;
	o->drift = -1;
	o->latency_auto = true;
	o->timeout_s = 2.0;
	o->stats_ms = 1000;
	o->max_streams = 16;
	o->probation = 2;
	o->period = DEVCFG_PERIOD_DEFAULT;
	o->record_format = "wav";
	optind = 1;
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, ":h", longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'h':
			return 1;
		case OPT_LISTEN:
			listen = optarg;
			break;
		case OPT_CODEC:
			codec = optarg;
			break;
		case OPT_PT:
			if (recv_opts__int("--pt", optarg, 0, 127, &pt) < 0)
				return -EINVAL;
			break;
		case OPT_CHANNELS:
			if (recv_opts__int("--channels", optarg, 1,
			                   CODEC_MAX_CHANNELS, &channels) < 0)
				return -EINVAL;
			break;
		case OPT_RATE:
			if (recv_opts__int("--rate", optarg, 8000, 192000,
			                   &rate) < 0)
				return -EINVAL;
			break;
		case OPT_SDP:
			sdp = optarg;
			break;
		case OPT_PLAY:
			o->play = 1;
			break;
		case OPT_NOPLAY:
			o->play = 0;
			break;
		case OPT_DEVICE:
			o->device = optarg;
			break;
		case OPT_RECORD:
			o->record = optarg;
			break;
		case OPT_RECDIR:
			o->record_dir = optarg;
			break;
		case OPT_RECFMT:
			if (strcmp(optarg, "wav") && strcmp(optarg, "flac") &&
			    strcmp(optarg, "ogg") && strcmp(optarg, "opus")) {
				fprintf(stderr,
				        "rtbridge recv: --record-format '%s': "
				        "use wav, flac, ogg or opus\n",
				        optarg);
				return -EINVAL;
			}
			o->record_format = optarg;
			break;
		case OPT_MIX:
			if (o->nmix == CMD_RECV_MAX_MIX) {
				fprintf(stderr,
				        "rtbridge recv: at most %d --mix "
				        "files\n",
				        CMD_RECV_MAX_MIX);
				return -EINVAL;
			}
			o->mix[o->nmix++] = optarg;
			break;
		case OPT_LATENCY:
			if (!strcmp(optarg, "auto")) {
				o->latency_auto = true;
				break;
			}
			if (recv_opts__num("--latency", optarg, 1, 2000, &v) <
			    0)
				return -EINVAL;
			o->latency_auto = false;
			o->latency_ms = (unsigned)v;
			break;
		case OPT_MINLAT:
			if (recv_opts__num("--min-latency", optarg, 0, 2000,
			                   &v) < 0)
				return -EINVAL;
			o->min_latency_ms = (unsigned)v;
			break;
		case OPT_MAXLAT:
			if (recv_opts__num("--max-latency", optarg, 1, 2000,
			                   &v) < 0)
				return -EINVAL;
			o->max_latency_ms = (unsigned)v;
			break;
		case OPT_DURATION:
			if (recv_opts__num("--duration", optarg, 0.001, 1e7,
			                   &v) < 0)
				return -EINVAL;
			o->duration_s = v;
			break;
		case OPT_IDLE:
			if (recv_opts__num("--idle-exit", optarg, 0.01, 1e7,
			                   &v) < 0)
				return -EINVAL;
			o->idle_exit_s = v;
			break;
		case OPT_TIMEOUT:
			if (recv_opts__num("--timeout", optarg, 0.05, 3600,
			                   &v) < 0)
				return -EINVAL;
			o->timeout_s = v;
			break;
		case OPT_STATS:
			o->stats_json = optarg;
			break;
		case OPT_STATS_IV:
			if (recv_opts__int("--stats-interval", optarg, 10,
			                   3600000, &l) < 0)
				return -EINVAL;
			o->stats_ms = (unsigned)l;
			break;
		case OPT_ALLOW:
			if (o->nallow == RECEIVER_MAX_ALLOW) {
				fprintf(stderr,
				        "rtbridge recv: at most %d --allow "
				        "entries\n",
				        RECEIVER_MAX_ALLOW);
				return -EINVAL;
			}
			if (addr_net_parse(&o->allow[o->nallow], optarg, err,
			                   sizeof(err)) < 0) {
				fprintf(stderr, "rtbridge recv: --allow: %s\n",
				        err);
				return -EINVAL;
			}
			o->nallow++;
			break;
		case OPT_MAXSTREAMS:
			if (recv_opts__int("--max-streams", optarg, 1,
			                   RECEIVER_MAX_STREAMS, &l) < 0)
				return -EINVAL;
			o->max_streams = (unsigned)l;
			break;
		case OPT_PROBATION:
			if (recv_opts__int("--probation", optarg, 1,
			                   RECEIVER_MAX_PROBATION, &l) < 0)
				return -EINVAL;
			o->probation = (unsigned)l;
			break;
		case OPT_DRIFT:
			o->drift = 1;
			break;
		case OPT_NODRIFT:
			o->drift = 0;
			break;
		case OPT_PERIOD:
			if (recv_opts__int("--period", optarg,
			                   DEVCFG_PERIOD_MIN, DEVCFG_PERIOD_MAX,
			                   &l) < 0)
				return -EINVAL;
			o->period = (unsigned)l;
			break;
		case OPT_STATUS:
			o->force_status = true;
			break;
		case ':':
			fprintf(stderr, "rtbridge recv: %s needs a value\n",
			        argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "rtbridge recv: unknown option '%s'\n",
			        argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rtbridge recv: unexpected argument '%s'\n",
		        argv[optind]);
		return -EINVAL;
	}

	/* Codec: defaults, then the SDP file, then explicit options. */
	int kind = CODEC_OPUS;
	struct sdpparse_result sr;
	char sdp_listen[16] = "";
	if (sdp) {
		if (recv_opts__sdp(sdp, &sr) < 0)
			return -EINVAL;
		kind = sr.kind;
		if (pt < 0)
			pt = sr.pt;
		if (channels < 0)
			channels = sr.channels;
		if (rate < 0)
			rate = sr.rate;
		snprintf(sdp_listen, sizeof(sdp_listen), "%u", sr.port);
	}
	if (codec) {
		kind = codec_kind_parse(codec);
		if (kind < 0) {
			fprintf(stderr,
			        "rtbridge recv: --codec '%s': use opus, l16 or "
			        "l24\n",
			        codec);
			return -EINVAL;
		}
	}
	codec_config_default(&o->codec, (enum codec_kind)kind);
	o->pt = pt >= 0 ? (int)pt : 96;
	if (channels > 0)
		o->codec.channels = (int)channels;
	if (rate > 0)
		o->codec.rate = (int)rate;
	if (sdp && sr.ptime_us > 0 && kind == (int)sr.kind)
		o->codec.frame_us = sr.ptime_us;
	const char *why = "";
	if (codec_config_check(&o->codec, &why) < 0) {
		fprintf(stderr,
		        "rtbridge recv: %s with %d channels at %d Hz: %s\n",
		        codec_kind_name(o->codec.kind), o->codec.channels,
		        o->codec.rate, why);
		return -EINVAL;
	}
	if (!listen && sdp_listen[0])
		listen = sdp_listen;
	if (!listen) {
		fprintf(stderr, "rtbridge recv: --listen [ADDR:]PORT is "
		                "required\n");
		return -EINVAL;
	}
	if (addr_parse(&o->listen, NULL, listen, ADDR_LISTEN | ADDR_PORT_ZERO,
	               err, sizeof(err)) < 0) {
		fprintf(stderr, "rtbridge recv: --listen: %s\n", err);
		return -EINVAL;
	}
	if (o->device && o->play == 0) {
		fprintf(stderr, "rtbridge recv: --device and --no-play exclude "
		                "each other\n");
		return -EINVAL;
	}
	if (o->device)
		o->play = 1;
	if (!o->latency_auto && o->max_latency_ms &&
	    o->latency_ms > o->max_latency_ms) {
		fprintf(stderr,
		        "rtbridge recv: --latency %u is above "
		        "--max-latency %u\n",
		        o->latency_ms, o->max_latency_ms);
		return -EINVAL;
	}
	if (o->min_latency_ms && o->max_latency_ms &&
	    o->min_latency_ms > o->max_latency_ms) {
		fprintf(stderr,
		        "rtbridge recv: --min-latency %u is above "
		        "--max-latency "
		        "%u\n",
		        o->min_latency_ms, o->max_latency_ms);
		return -EINVAL;
	}
	return 0;
}
