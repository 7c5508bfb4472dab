/*
 * cmd_recv_opts: the options of `rtbridge recv`, parsed from argv
 *
 * Context: control (main) thread.
 */
#ifndef RTB_CMD_RECV_OPTS_H
#define RTB_CMD_RECV_OPTS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>

#include "bridge/net/addr.h"
#include "bridge/net/receiver.h"
#include "bridge/net/srtpkey.h"
#include "codec/codec.h"

#define CMD_RECV_MAX_MIX 16
#define CMD_RECV_MAX_SAP 4 /* --sap groups */
/* Streams allocated ahead for new SSRCs (the metrics page has rows for
   them beyond max_streams). */
#define RECV_SPARES 4
/* Frames per callback with --latency low (1.33 ms at 48 kHz). */
#define CMD_RECV_LOW_PERIOD 64u
/* --no-play: the virtual clock wakes about this often (ms) and runs the
   periods due back to back; nobody hears its output, and the streams
   play each period at its deadline (engine_period_due_ns), so only the
   wake-ups change, the net thread's too (it reads just before each):
   eight streams of 10 ms L16 packets into one receiver cost 1.68 % of a
   core at 10 ms, 1.33 % at 20 and 1.01 % at 40 (tools/bench_cpu.py).
   Not with --latency low (each period on time). */
#define CMD_RECV_VCLOCK_WAKE_MS 40u
/* The socket is read at most every this many ms while many datagrams
   come (receiver_opts.coalesce_max_ms); not with --latency low. */
#define CMD_RECV_COALESCE_MAX_MS 5u

struct cmd_recv_opts {
	struct sockaddr_storage listen;
	struct codec_config codec; /* kind, rate, channels, frame_us */
	int pt;
	/* RFC 2198: datagrams of payload type red_pt carry the stream's
	   packets and copies of earlier ones (--red-pt, or the SDP's). */
	bool red;
	int red_pt;
	/* RFC 5109: datagrams of payload type ulpfec_pt are FEC packets of
	   the stream (--ulpfec-pt, or the SDP's). */
	bool ulpfec;
	int ulpfec_pt;
	int play;                  /* 1 --play, 0 --no-play */
	const char *device;        /* NULL: default */
	const char *record;        /* output mix; NULL: none */
	const char *record_dir;    /* one file per stream; NULL: none */
	const char *record_format; /* extension for --record-dir: wav ... */
	const char *mix[CMD_RECV_MAX_MIX];
	int nmix;
	bool latency_auto;
	bool latency_low;        /* --latency low (adaptive, small target:
	                            netstream_config_low_latency) */
	unsigned latency_ms;     /* fixed, when !latency_auto */
	unsigned min_latency_ms; /* 0: the jitter buffer's default */
	unsigned max_latency_ms; /* 0: the jitter buffer's default */
	unsigned sync_ms;        /* media-clock sync delay; 0: no sync */
	double duration_s;       /* 0: until stopped */
	double idle_exit_s;      /* 0: never */
	double timeout_s;        /* a stream silent this long is removed */
	const char *stats_json;  /* path, "-" for stdout, NULL: none */
	const char *metrics;     /* --metrics text, NULL: none */
	struct sockaddr_storage metrics_addr;
	unsigned stats_ms; /* interval of the JSON lines, ms */
	struct addr_net allow[RECEIVER_MAX_ALLOW];
	const char *allow_arg[RECEIVER_MAX_ALLOW]; /* as given */
	int nallow;
	unsigned max_streams;
	unsigned probation; /* packets in sequence that make a source a
	                       stream (RFC 3550 MIN_SEQUENTIAL) */
	int drift;          /* 1 on, 0 off, -1: not given (on) */
	unsigned period;    /* frames per callback */
	bool force_status;
	/* SRTP: the key from --srtp-key or the SDP's a=crypto; zeroed by
	   cmd_recv once its context holds it (srtpkey_clear). */
	bool srtp;
	struct srtpkey srtp_key;
	/* Multicast: the interface to join on (0: the route's), and the one
	   source to take a group from (source-specific; family 0: any). */
	unsigned mcast_ifindex;
	struct sockaddr_storage mcast_source;
	/* --sap: the stream comes from a SAP announcement */
	bool sap;
	const char *sap_groups[CMD_RECV_MAX_SAP]; /* none: the defaults */
	int nsap;
	const char *mcast_if; /* --multicast-if as given */
	const char *session;  /* --session NAME: follow only this one */
	double sap_timeout_s; /* --sap-timeout; 0: 60 s */
	/* As given, before the SDP file fills in what is missing. */
	const char *listen_arg, *sdp, *source_arg, *srtp_key_arg, *srtp_suite;
	int kind_arg, pt_arg, channels_arg, rate_arg; /* -1: not given */
	int red_pt_arg, ulpfec_pt_arg;                /* -1: not given */
	unsigned period_arg;                          /* 0: not given */
};

/*
 * Parse `rtbridge recv` arguments (argv[0] is "recv"). Checks that the
 * --record and --record-dir targets can be written.
 *
 * Return: 0, 1 when --help was asked (the help is printed), or -EINVAL
 *         after printing one line saying what is wrong
 * Context: control thread
 */
int cmd_recv_opts_parse(struct cmd_recv_opts *o, int argc, char **argv);

#endif
