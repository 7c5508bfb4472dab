/*
 * cmd_recv_opts: option parsing for `rtbridge recv` (see cmd_recv_opts.h)
 *
 * The options are a table for app_opts. An --sdp file gives the defaults
 * for port, codec, payload type, rate and channels; options given
 * explicitly win over it.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "bridge/app/cmd_recv_opts.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/app/app_metrics.h"
#include "bridge/app/app_opts.h"
#include "bridge/app/app_record.h"
#include "bridge/app/app_srtp.h"
#include "bridge/audio/devcfg.h"
#include "bridge/net/sdpparse.h"

#define RECV_SDP_MAX 16384 /* bytes of an SDP file read */

#define RECV_OPT(f) offsetof(struct cmd_recv_opts, f)

/* The --period help text says the default. */
_Static_assert(DEVCFG_PERIOD_DEFAULT == 128, "--period's help says 128");

/* --latency auto|low|MS */
static int recv_opts__latency(void *p, const struct app_opt *opt,
                              const char *arg, char *err, size_t n)
{
	struct cmd_recv_opts *o = p;
	char *end;
	(void)opt;
	if (!strcmp(arg, "auto") || !strcmp(arg, "low")) {
		o->latency_auto = true;
		o->latency_low = arg[0] == 'l';
		return 0;
	}
	double v = strtod(arg, &end);
	if (end == arg || *end || !(v >= 1 && v <= 2000)) {
		snprintf(err, n, "must be auto, low or a number in 1..2000");
		return -EINVAL;
	}
	o->latency_auto = false;
	o->latency_low = false;
	o->latency_ms = (unsigned)(v + 0.5);
	return 0;
}

/* --sap[=GROUP[:PORT]], repeatable: the groups are checked when joined */
static int recv_opts__sap(void *p, const struct app_opt *opt, const char *arg,
                          char *err, size_t n)
{
	struct cmd_recv_opts *o = p;
	(void)opt;
	if (arg && o->nsap == CMD_RECV_MAX_SAP) {
		snprintf(err, n, "at most %d groups", CMD_RECV_MAX_SAP);
		return -EINVAL;
	}
	o->sap = true;
	if (arg)
		o->sap_groups[o->nsap++] = arg;
	return 0;
}

/* --allow ADDR[/PREFIX], repeatable */
static int recv_opts__allow(void *p, const struct app_opt *opt, const char *arg,
                            char *err, size_t n)
{
	struct cmd_recv_opts *o = p;
	(void)opt;
	if (o->nallow == RECEIVER_MAX_ALLOW) {
		snprintf(err, n, "at most %d --allow entries",
		         RECEIVER_MAX_ALLOW);
		return -EINVAL;
	}
	if (addr_net_parse(&o->allow[o->nallow], arg, err, n) < 0)
		return -EINVAL;
	o->allow_arg[o->nallow++] = arg;
	return 0;
}

static const char *const recv_opts__formats[] = {"wav", "flac", "ogg", "opus",
                                                 NULL};

static const struct app_opt recv_opts__table[] = {
        APP_STR("--listen", RECV_OPT(listen_arg), "[ADDR:]PORT",
                "where to receive (IPv4, [IPv6], multicast group)"),
        APP_OPT_CODEC(RECV_OPT(kind_arg)),
        APP_OPT_PT(RECV_OPT(pt_arg)),
        APP_INT("--red-pt", RECV_OPT(red_pt_arg), 0, 127, "N",
                "the streams may come as RFC 2198 redundant audio of\n"
                "this payload type (`send --fec red`): lost packets are\n"
                "restored from the copies later ones carry (counted as\n"
                "recovered); an SDP's a=rtpmap:N red/... says so too"),
        APP_INT("--ulpfec-pt", RECV_OPT(ulpfec_pt_arg), 0, 127, "N",
                "datagrams of this payload type are RFC 5109 parity FEC\n"
                "of the streams (`send --fec ulpfec:P`, GStreamer's\n"
                "rtpulpfecenc): a lost packet is rebuilt from the FEC\n"
                "packet and the others it protects (counted as\n"
                "recovered); an SDP's a=rtpmap:N ulpfec/... says so too"),
        APP_INT("--channels", RECV_OPT(channels_arg), 1, CODEC_MAX_CHANNELS,
                "N", "channels of the streams (default 2)"),
        APP_INT("--rate", RECV_OPT(rate_arg), 8000, 192000, "HZ",
                "sample rate (default 48000)"),
        APP_STR("--sdp", RECV_OPT(sdp), "FILE",
                "take port, codec, pt, rate, channels (and RED's pt,\n"
                "the SRTP key of an a=crypto line) from an SDP file"),
        APP_OPT_SRTP_KEY(RECV_OPT(srtp_key_arg)),
        APP_OPT_SRTP_SUITE(RECV_OPT(srtp_suite)),
        APP_OPT_PLAY(RECV_OPT(play)),
        APP_OPT_DEVICE(RECV_OPT(device)),
        APP_OPT_NO_PLAY(RECV_OPT(play)),
        APP_STR("--record", RECV_OPT(record), "FILE",
                "record the output mix (.wav .flac .ogg .opus)"),
        APP_STR("--record-dir", RECV_OPT(record_dir), "DIR",
                "record each stream to DIR/<ssrc-hex>.<format>"),
        APP_CHOICE("--record-format", RECV_OPT(record_format),
                   recv_opts__formats, "F", "wav (default), flac, ogg or opus"),
        APP_LIST("--mix", RECV_OPT(mix), RECV_OPT(nmix), CMD_RECV_MAX_MIX,
                 "FILE", "mix an archive file in (repeatable)"),
        APP_FN("--latency", recv_opts__latency, 0, "auto|low|MS",
               "playout delay (default auto; low: the delay spread\n"
               "+ one packet + 0.25 ms, and 64-frame periods unless\n"
               "--period says otherwise)"),
        APP_MS("--min-latency", RECV_OPT(min_latency_ms), 0, 2000, "MS",
               "lower limit of the automatic delay"),
        APP_MS("--max-latency", RECV_OPT(max_latency_ms), 1, 2000, "MS",
               "upper limit of the automatic delay"),
        APP_MS("--sync", RECV_OPT(sync_ms), 1, 2000, "MS",
               "play each RTP time at its media time + MS (senders\n"
               "stamping the system clock, RFC 7273; a fixed delay)"),
        APP_OPT_DURATION(RECV_OPT(duration_s), ""),
        APP_NUM("--idle-exit", RECV_OPT(idle_exit_s), 0.01, 1e7, "SEC",
                "exit when no stream has had packets for SEC"),
        APP_NUM("--timeout", RECV_OPT(timeout_s), 0.05, 3600, "SEC",
                "remove a stream silent this long (default {default})"),
        APP_OPT_STATS_JSON(RECV_OPT(stats_json)),
        APP_OPT_METRICS(RECV_OPT(metrics)),
        APP_UINT("--stats-interval", RECV_OPT(stats_ms), 10, 3600000, "MS",
                 "interval of the JSON lines (default {default})"),
        APP_FN("--allow", recv_opts__allow, 0, "ADDR[/PREFIX]",
               "accept only these senders (repeatable; default anyone)"),
        APP_UINT("--max-streams", RECV_OPT(max_streams), 1,
                 RECEIVER_MAX_STREAMS, "N",
                 "streams at once (default {default})"),
        APP_UINT("--probation", RECV_OPT(probation), 1, RECEIVER_MAX_PROBATION,
                 "N",
                 "packets in sequence before a new SSRC becomes a stream\n"
                 "(default {default}, RFC 3550; 1: at once); they are kept\n"
                 "and played"),
        {.name = "--drift",
         .kind = APP_OPT_SET,
         .off = RECV_OPT(drift),
         .set = 1,
         .usage = "--drift / --no-drift",
         .help = "clock drift compensation (default on; recordings\n"
                 "are taken before it, at the stream's rate)"},
        APP_SET("--no-drift", RECV_OPT(drift), 0, NULL),
        APP_UINT("--period", RECV_OPT(period_arg), DEVCFG_PERIOD_MIN,
                 DEVCFG_PERIOD_MAX, "N",
                 "frames per audio callback ({range}, default 128;\n"
                 "64 with --latency low)"),
        APP_OPT_STATUS(RECV_OPT(force_status)),
        APP_STR("--multicast-if", RECV_OPT(mcast_if), "IF",
                "interface to join a multicast group on: name, index\n"
                "or address (default: the route's)"),
        APP_STR("--source", RECV_OPT(source_arg), "ADDR",
                "take a multicast group only from this sender\n"
                "(source-specific multicast)"),
        APP_FN_OPTIONAL("--sap", recv_opts__sap, 0, "GROUP[:PORT]",
                        "take the stream from a SAP announcement (instead\n"
                        "of --listen/--sdp): codec, rate, channels, pt\n"
                        "(and RED's), packet time, group and port from its\n"
                        "SDP; dropped when the session is deleted or times\n"
                        "out (repeatable; default groups 224.0.0.56,\n"
                        "239.255.255.255, ff02::2:7ffe, ff05::2:7ffe)"),
        APP_STR("--session", RECV_OPT(session), "NAME",
                "with --sap: follow only the session of this name"),
        APP_NUM("--sap-timeout", RECV_OPT(sap_timeout_s), 0.1, 3600, "SEC",
                "with --sap: a session not announced this long is\n"
                "gone (default 60)"),
        APP_OPT_END,
};

static void recv_opts__init(void *p)
{
	struct cmd_recv_opts *o = p;
	o->play = -1;
	o->drift = -1;
	o->latency_auto = true;
	o->timeout_s = 2.0;
	o->stats_ms = 1000;
	o->max_streams = 16;
	o->probation = 2;
	o->record_format = "wav";
	o->kind_arg = o->pt_arg = o->channels_arg = o->rate_arg = -1;
	o->red_pt_arg = o->ulpfec_pt_arg = -1;
}

static const struct app_cmd recv_opts__cmd = {
        .name = "recv",
        .synopsis = "usage: rtbridge recv --listen [ADDR:]PORT [options]\n"
                    "       rtbridge recv --sap[=GROUP[:PORT]] "
                    "[--session NAME] [options]",
        .about = "Receives RTP audio streams (one per sender SSRC), plays "
                 "and/or records them.",
        .tables = {recv_opts__table},
        .size = sizeof(struct cmd_recv_opts),
        .init = recv_opts__init,
};

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
	explicit_bzero(text, n); /* an a=crypto line holds a key */
	free(text);
	if (rc < 0)
		fprintf(stderr, "rtbridge recv: --sdp %s: %s\n", path, err);
	return rc;
}

/* The SRTP key: --srtp-key wins over the SDP's first a=crypto line of a
   suite supported here. Return: 0 or -EINVAL (said). */
static int recv_opts__srtp(struct cmd_recv_opts *o,
                           const struct sdpparse_result *sr)
{
	char err[160] = "";
	int rc = -ENOTSUP;

	if (o->srtp_suite && !o->srtp_key_arg) {
		fprintf(stderr,
		        "rtbridge recv: --srtp-suite needs --srtp-key\n");
		return -EINVAL;
	}
	if (o->srtp_key_arg) {
		if (app_srtp_key("recv", o->srtp_key_arg, o->srtp_suite,
		                 &o->srtp_key) < 0)
			return -EINVAL;
		o->srtp = true;
		return 0;
	}
	if (!sr || (!sr->savp && sr->ncrypto == 0))
		return 0;
	for (int i = 0; i < sr->ncrypto && rc == -ENOTSUP; i++)
		rc = srtpkey_sdes_parse(&o->srtp_key, sr->crypto[i], err,
		                        sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "rtbridge recv: --sdp %s: %s\n", o->sdp,
		        err[0] ? err
		               : "RTP/SAVP without an a=crypto line "
		                 "(give --srtp-key)");
		return -EINVAL;
	}
	o->srtp = true;
	return 0;
}

/* Codec, payload type and listening port: the defaults, then the SDP
   file, then what was given explicitly. Return: 0 or -EINVAL. */
static int recv_opts__stream(struct cmd_recv_opts *o)
{
	struct sdpparse_result sr;
	char sdp_port[16] = "", err[256];
	const char *listen = o->listen_arg, *why = "";
	int kind = CODEC_OPUS, pt = o->pt_arg, red_pt = o->red_pt_arg;
	int ulpfec_pt = o->ulpfec_pt_arg;
	int channels = o->channels_arg, rate = o->rate_arg, rc;

	if (o->sdp) {
		rc = recv_opts__sdp(o->sdp, &sr);
		if (rc == 0)
			rc = recv_opts__srtp(o, &sr);
		explicit_bzero(sr.crypto, sizeof(sr.crypto));
		if (rc < 0)
			return -EINVAL;
		kind = sr.kind;
		pt = pt < 0 ? sr.pt : pt;
		red_pt = red_pt < 0 ? sr.red_pt : red_pt;
		ulpfec_pt = ulpfec_pt < 0 ? sr.ulpfec_pt : ulpfec_pt;
		channels = channels < 0 ? sr.channels : channels;
		rate = rate < 0 ? sr.rate : rate;
		snprintf(sdp_port, sizeof(sdp_port), "%u", sr.port);
	}
	if (!o->sdp && recv_opts__srtp(o, NULL) < 0)
		return -EINVAL;
	if (o->kind_arg >= 0)
		kind = o->kind_arg;
	codec_config_default(&o->codec, (enum codec_kind)kind);
	o->pt = pt >= 0 ? pt : 96;
	o->red = red_pt >= 0;
	o->red_pt = red_pt;
	if (o->red && o->red_pt == o->pt) {
		fprintf(stderr,
		        "rtbridge recv: --red-pt %d is the stream's payload "
		        "type (--pt): RED needs another one\n",
		        o->red_pt);
		return -EINVAL;
	}
	o->ulpfec = ulpfec_pt >= 0;
	o->ulpfec_pt = ulpfec_pt;
	if (o->ulpfec && o->red) {
		fprintf(stderr,
		        "rtbridge recv: RED (--red-pt) and ULPFEC "
		        "(--ulpfec-pt) cannot protect one stream both\n");
		return -EINVAL;
	}
	if (o->ulpfec &&
	    (o->ulpfec_pt == o->pt || (o->red && o->ulpfec_pt == o->red_pt))) {
		fprintf(stderr,
		        "rtbridge recv: --ulpfec-pt %d is the stream's (or "
		        "RED's) payload type: ULPFEC needs another one\n",
		        o->ulpfec_pt);
		return -EINVAL;
	}
	if (channels > 0)
		o->codec.channels = channels;
	if (rate > 0)
		o->codec.rate = rate;
	/* PCM: the packet length guess (5 ms) in whole frames at this rate
	   (at 44.1 kHz 5 ms is none); the stream's packets tell the truth. */
	if (kind != CODEC_OPUS)
		codec_config_set_frames(&o->codec,
		                        (int)((int64_t)o->codec.rate *
		                              o->codec.frame_us / 1000000));
	if (o->sdp && kind == (int)sr.kind) {
		/* The packet length the SDP says, as whole frames (a first
		   guess: the stream's packets tell the real one). */
		struct codec_config sc;
		sdpparse_codec(&sr, &sc);
		o->codec.frame_us = sc.frame_us;
		o->codec.frames = sc.frames;
	}
	if (codec_config_check(&o->codec, &why) < 0) {
		fprintf(stderr,
		        "rtbridge recv: %s with %d channels at %d Hz: %s\n",
		        codec_kind_name(o->codec.kind), o->codec.channels,
		        o->codec.rate, why);
		return -EINVAL;
	}
	if (o->sap) {
		/* The announcement gives the stream: nothing else may. */
		if (listen || o->sdp) {
			fprintf(stderr, "rtbridge recv: --sap takes the stream "
			                "from an announcement: no --listen or "
			                "--sdp with it\n");
			return -EINVAL;
		}
		listen = "0";
	} else if (o->session || o->sap_timeout_s > 0) {
		fprintf(stderr, "rtbridge recv: --session and --sap-timeout go "
		                "with --sap\n");
		return -EINVAL;
	}
	if (!listen && sdp_port[0])
		listen = sdp_port;
	if (!listen) {
		fprintf(stderr,
		        "rtbridge recv: --listen [ADDR:]PORT is required\n");
		return -EINVAL;
	}
	if (addr_parse(&o->listen, NULL, listen, ADDR_LISTEN | ADDR_PORT_ZERO,
	               err, sizeof(err)) < 0) {
		fprintf(stderr, "rtbridge recv: --listen: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

/* --multicast-if and --source: an interface index and an address that
   goes with a multicast --listen of its family. Return: 0 or -EINVAL. */
static int recv_opts__multicast(struct cmd_recv_opts *o)
{
	char err[256];

	if (o->mcast_if) {
		int idx = addr_iface_parse(o->mcast_if, err, sizeof(err));
		if (idx < 0) {
			fprintf(stderr, "rtbridge recv: --multicast-if: %s\n",
			        err);
			return -EINVAL;
		}
		o->mcast_ifindex = (unsigned)idx;
	}
	if (!o->source_arg)
		return 0;
	if (addr_parse_default_port(&o->mcast_source, o->source_arg, 0, err,
	                            sizeof(err)) < 0) {
		fprintf(stderr, "rtbridge recv: --source: %s\n", err);
		return -EINVAL;
	}
	if (o->sap || !addr_is_multicast((struct sockaddr *)&o->listen) ||
	    o->mcast_source.ss_family != o->listen.ss_family) {
		fprintf(stderr, "rtbridge recv: --source goes with --listen on "
		                "a multicast group of the same family\n");
		return -EINVAL;
	}
	return 0;
}

int cmd_recv_opts_parse(struct cmd_recv_opts *o, int argc, char **argv)
{
	int rc = app_opts_parse(&recv_opts__cmd, o, argc, argv, NULL);
	if (rc != 0)
		return rc;
	if (recv_opts__stream(o) < 0 || recv_opts__multicast(o) < 0 ||
	    app_opts_play("recv", o->device, &o->play) < 0)
		return -EINVAL;
	o->period = o->period_arg    ? o->period_arg
	            : o->latency_low ? CMD_RECV_LOW_PERIOD
	                             : DEVCFG_PERIOD_DEFAULT;
	if (!o->latency_auto && o->max_latency_ms &&
	    o->latency_ms > o->max_latency_ms) {
		fprintf(stderr,
		        "rtbridge recv: "
		        "--latency %u is above --max-latency %u\n",
		        o->latency_ms, o->max_latency_ms);
		return -EINVAL;
	}
	if (o->min_latency_ms && o->max_latency_ms &&
	    o->min_latency_ms > o->max_latency_ms) {
		fprintf(stderr,
		        "rtbridge recv: "
		        "--min-latency %u is above --max-latency %u\n",
		        o->min_latency_ms, o->max_latency_ms);
		return -EINVAL;
	}
	if (o->sync_ms && (!o->latency_auto || o->latency_low ||
	                   o->min_latency_ms || o->max_latency_ms)) {
		fprintf(stderr,
		        "rtbridge recv: --sync sets the delay itself: "
		        "it does not go with --latency, --min-latency or "
		        "--max-latency\n");
		return -EINVAL;
	}
	if (o->metrics &&
	    app_metrics_parse("recv", o->metrics, &o->metrics_addr) < 0)
		return -EINVAL;
	if (o->record && app_record_check_file("recv", o->record) < 0)
		return -EINVAL;
	if (o->record_dir && app_record_check_dir("recv", o->record_dir) < 0)
		return -EINVAL;
	return 0;
}
