/*
 * cmd_recv: what the files of the `rtbridge recv` command share
 *
 * The command is an application of the public library
 * (include/rtbridge/): cmd_recv.c makes an engine (device or virtual
 * clock, archives, the mix recording) and a receiver on it from the
 * options, runs the control loop and tears down; cmd_recv_stats.c writes
 * the figures the library reports (JSON lines, status line, summary, and
 * what stays of each stream that ended); cmd_recv_metrics.c the metrics
 * page; cmd_recv_sap.c follows SAP announcements (the library's
 * listener, rtbridge/sap.h, as `rtbridge list` uses it, on a thread of
 * its own), one receiver per session followed. Private to bridge/app.
 *
 * Context: control (main) thread.
 */
#ifndef RTB_CMD_RECV_H
#define RTB_CMD_RECV_H

#include <stdbool.h>
#include <stdint.h>

#include <rtbridge/engine.h>
#include <rtbridge/receiver.h>

#include "bridge/app/app_metrics.h"
#include "bridge/app/app_record.h"
#include "bridge/app/app_stats.h"
#include "bridge/app/app_status.h"
#include "bridge/app/cmd_recv_opts.h"
#include "bridge/net/addr.h"
#include "bridge/net/netloop.h"

#define RECV_SUMMARIES   64         /* closed streams listed in the summary */
#define RECV_SAP_POLL_NS 50000000LL /* --sap: the listener looked at */
#define RECV_IDS         256        /* streams listed at once */
#define RECV_SAP_OLD     4 /* --sap: sessions before, playing out at once */

/* What stays of a stream that ended. */
struct recv_summary {
	uint32_t ssrc;
	int why; /* enum rtb_ending */
	double t_start, t_end;
	uint64_t frames; /* recorded (0: no file) */
	struct rtb_stream_stats st;
	char from[64];
	char path[512];                       /* "" when no file exists */
	char outcome[APP_RECORD_OUTCOME_MAX]; /* the recording's, with a
	                                         path */
	char record_error[256];               /* "" or why it stopped */
};

/* Totals over every stream that ended. */
struct recv_totals {
	uint64_t closed, received, lost, recovered, late, concealed_frames,
	        underruns, recorded_frames;
};

struct recv_sap;

struct recv_cmd {
	struct cmd_recv_opts o;
	struct rtb_engine *e;
	struct rtb_receiver *r; /* receiving, or NULL (--sap: between
	                           sessions) */
	/* --sap: the receivers of the sessions before, stopped, their
	   streams playing out (NULL: none); each is destroyed once it has
	   no stream left. */
	struct rtb_receiver *old[RECV_SAP_OLD];
	struct rtb_receiver_config cfg; /* r's configuration */
	char listen[ADDR_TEXT_MAX];     /* its address, as text */
	unsigned channels;              /* of the mix */
	uint64_t t0;                    /* the start, CLOCK_MONOTONIC ns */
	struct app_stats json;
	struct app_metrics metrics; /* on r's net thread (--sap: the
	                               listener's) */
	struct app_status status;
	bool mix_reported; /* the mix recording's stop was said */
	struct recv_summary closed[RECV_SUMMARIES]; /* a ring, oldest at
	                                               closed_head */
	unsigned closed_head, nclosed;
	struct recv_totals totals;
	uint64_t setup_failed;  /* of receivers destroyed (--sap) */
	uint64_t record_failed; /* of receivers destroyed (--sap) */
	int rc;
	struct recv_sap *sap; /* --sap: the announcements followed */
	uint8_t key[30];      /* the SRTP key for the library (--sap: kept
	                         for each session's receiver); zeroed once
	                         the receiver has it, or at exit */
	int srtp_suite;       /* enum srtpkey_suite, for display */
};

/* Seconds since the start. */
double cmd_recv_secs(const struct recv_cmd *p, int64_t ns);

/* p->r (when there is one) and the receivers of the sessions before
   still playing out (--sap), into rs (RECV_SAP_OLD + 1). Return: how
   many. */
unsigned cmd_recv_receivers(const struct recv_cmd *p, struct rtb_receiver **rs);

/* The options as the receiver's configuration (callbacks included). */
void cmd_recv_config(struct recv_cmd *p, struct rtb_receiver_config *c);

/* Make p->r from p->cfg and say where it listens. Return: 0, or a
   negated errno (said by the library). */
int cmd_recv_open(struct recv_cmd *p);

/* A stream ended: keep what stays of it (rtb_stream_end_fn). */
void cmd_recv_stats_ended(void *arg, struct rtb_receiver *r,
                          const struct rtb_stream_info *s,
                          const struct rtb_stream_end *end);

/* A stream's recording stopped by itself: its JSON line. */
void cmd_recv_stats_record_stopped(void *arg, struct rtb_receiver *r,
                                   const struct rtb_stream_info *s,
                                   uint64_t frames, const char *error);

/* The receiver's counters (the current one's, with the failures of the
   ones before) and the streams alive in all. */
void cmd_recv_stats_counters(const struct recv_cmd *p,
                             struct rtb_receiver_counters *c);

/* One JSON line per playing stream, and the receiver's line. */
void cmd_recv_stats_json(struct recv_cmd *p);

/* Redraw the terminal status line. */
void cmd_recv_stats_draw(struct recv_cmd *p);

/* The summary: JSON object and human-readable lines; c: the counters
   taken before the receiver was destroyed. */
void cmd_recv_stats_summary(struct recv_cmd *p,
                            const struct rtb_receiver_counters *c);

/* --metrics: the endpoint on the net thread of the receiver (--sap: of
   the SAP listener). Return: 0, or a negated errno (said). */
int cmd_recv_metrics_open(struct recv_cmd *p);

/* --metrics: write the playing streams' figures as the page. */
void cmd_recv_metrics_publish(struct recv_cmd *p, int64_t now);

/* --metrics: close the endpoint (before its host is destroyed; again:
   nothing). */
void cmd_recv_metrics_close(struct recv_cmd *p);

/* --sap: start the SAP listener and wait for the first session to follow
   (its SDP fills p->o). Return: 0 when there is one, 1 when stopped first
   (signal, --duration), < 0 after one line. */
int cmd_recv_sap_wait(struct recv_cmd *p);

/* --sap, every loop turn: end the session's receiver when it is deleted,
   times out or changes; follow the next matching one. */
void cmd_recv_sap_poll(struct recv_cmd *p);

/* Stop listening for SAP; no-op without --sap. */
void cmd_recv_sap_stop(struct recv_cmd *p);

/* --sap: the SAP listener, or NULL (no --sap, or stopped). */
struct rtb_sap *cmd_recv_sap_listener(const struct recv_cmd *p);

#endif
