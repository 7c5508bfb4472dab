/*
 * app_sendopts: the command-line options shared by `rtbridge send` and
 * `rtbridge sdp`
 *
 * Both commands describe the same stream (destination, codec, frame size,
 * channels, payload type), so `rtbridge sdp` with the options given to
 * `rtbridge send` describes exactly what is sent. Two app_opts tables: the
 * stream's options (both commands) and the sender's own (send only).
 * Context: control thread.
 */
#ifndef RTB_APP_SENDOPTS_H
#define RTB_APP_SENDOPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "codec/codec.h"

struct rtb_sender_config;
struct srtpkey;

struct app_sendopts {
	const char *file;   /* the positional argument (send), or NULL */
	const char *to;     /* --to HOST:PORT */
	const char *device; /* --device D (capture) */
	int kind;           /* --codec: enum codec_kind */
	double frame_ms;    /* --frame-ms (--ptime); PCM: whole frames */
	int frame_us;       /* the same in microseconds */
	int bitrate;        /* --bitrate, bit/s (Opus) */
	int channels;       /* --channels */
	int rate;           /* --rate Hz (default 48000; a file is resampled) */
	int pt;             /* --pt */
	int64_t ssrc;       /* --ssrc; -1: random */
	bool loop;          /* --loop */
	bool capture;       /* --capture */
	bool quiet;         /* --quiet: no progress line */
	double start_s;     /* --start */
	double duration_s;  /* --duration; 0: whole file / until stopped */
	int dscp;           /* --dscp; -1: none */
	int ttl;            /* --ttl, multicast TTL / hop limit; -1: none */
	unsigned mcast_ifindex;  /* --multicast-if IF; 0: the route's */
	const char *session;     /* --session NAME (SDP s=), or NULL */
	bool media_clock;        /* --media-clock: RTP time = CLOCK_REALTIME */
	bool announce;           /* --announce[=GROUP[:PORT]] (send) */
	const char *announce_to; /* its group, or NULL: the defaults */
	double announce_s;       /* --announce-interval; 0: 5 s */
	const char *metrics;     /* --metrics [ADDR:]PORT; NULL: none */
	struct sockaddr_storage metrics_addr;
	const char *srtp_key;   /* --srtp-key @FILE|KEY, or NULL: plain RTP */
	const char *srtp_suite; /* --srtp-suite */
	unsigned red_distance;  /* --fec red[:N]: copies per packet; 0 none */
	unsigned red_lag;       /* --fec red@D: one copy, D packets back */
	int red_pt;             /* --red-pt (default SENDER_RED_PT) */
	unsigned fec_percent;   /* --fec ulpfec:PERCENT; 0 none */
	int ulpfec_pt;          /* --ulpfec-pt (default SENDER_ULPFEC_PT) */
};

/*
 * Parse argv (argv[0] is the command name). `cmd` is "send" or "sdp":
 * options only `send` knows are refused for `sdp`.
 *
 * Return: 0, 1 when --help was asked (the help is printed), or -EINVAL
 *         after printing one line
 *         ("rtbridge send: --frame-ms '7x': must be a number in ...")
 */
int app_sendopts_parse(struct app_sendopts *o, const char *cmd, int argc,
                       char **argv);

/*
 * Fill a codec configuration from the options, at `rate` Hz.
 *
 * Post: on failure err holds one line naming the codec and what is wrong
 * Return: 0, or -EINVAL
 */
int app_sendopts_codec(const struct app_sendopts *o, int rate,
                       struct codec_config *cfg, char *err, size_t errlen);

/*
 * The options as the public library's sender configuration
 * (include/rtbridge/sender.h), without the key; its strings point into o
 *
 * Context: any, pure
 */
void app_sendopts_rtb(const struct app_sendopts *o,
                      struct rtb_sender_config *c);

/*
 * The key of --srtp-key (app_srtp_key) into c: c points into key, which
 * the caller clears (srtpkey_clear) once c has been used
 *
 * Context: any, pure
 */
void app_sendopts_rtb_key(struct rtb_sender_config *c,
                          const struct srtpkey *key);

#endif
