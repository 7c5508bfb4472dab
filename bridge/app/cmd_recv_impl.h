/*
 * cmd_recv_impl: what the two halves of `rtbridge recv` share
 *
 * cmd_recv.c sets up and tears down the command (the engine: disk server,
 * mixer, device, archives, mix recorder; then the net thread and the
 * receiver) and runs the control loop; cmd_recv_streams.c handles the
 * incoming streams in that loop: set-up of a new SSRC, the idle sweep,
 * destruction after the mixer hands a stream back, statistics (JSON
 * lines, status line, summary). Private to bridge/app.
 *
 * Context: control (main) thread only.
 */
#ifndef RTB_CMD_RECV_IMPL_H
#define RTB_CMD_RECV_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "bridge/app/app_metrics.h"
#include "bridge/app/app_stats.h"
#include "bridge/app/app_status.h"
#include "bridge/app/cmd_recv_opts.h"
#include "bridge/app/engine.h"
#include "bridge/audio/disktap.h"
#include "bridge/net/netloop.h"
#include "bridge/net/receiver.h"
#include "bridge/net/srtpctx.h"

#define RECV_RATE     48000u
#define RECV_OPEN_MS  ENGINE_OPEN_MS
#define RECV_CLOSE_MS ENGINE_CLOSE_MS
#define RECV_SWEEP_NS 50000000LL /* idle sweep period, while streams live */
#define RECV_SPARES   4          /* streams allocated ahead for new SSRCs */
#define RECV_SAP_POLL_NS                                                       \
	50000000LL /* --sap: the listener's events looked at                   \
	            */

struct recv_sap;

struct recv_stream {
	struct netstream ns; /* first: a netstream * is a recv_stream * */
	struct disktap tap;
	bool tap_open;
	bool linked;       /* handed to the mixer, not yet back */
	bool installed;    /* in the net table */
	bool done;         /* destroyed; final figures kept */
	bool rec_reported; /* its recording's stop was said */
	bool no_file;      /* nothing was recorded: the file was removed */
	bool clock_warned; /* its RTP clock's mismatch was said */
	bool sync_warned;  /* --sync: that nothing plays was said */
	int64_t seen_ns;   /* --sync: when its first packets were seen */
	int rec_rc;
	uint32_t ssrc;
	char from[ADDR_TEXT_MAX];
	char path[512];
	struct netstream_stats final;
	struct netstream_stats snap; /* the metrics page's copy */
	struct recv_stream *next;
};

struct recv {
	struct cmd_recv_opts o;
	struct engine e;
	struct netloop nl;
	bool nl_running;
	struct receiver rx;
	bool rx_ready;
	struct srtpctx srtp; /* --srtp-key / a=crypto; zeroed: plain RTP */
	enum srtpkey_suite srtp_suite; /* for display */
	struct app_stats json;
	struct app_metrics metrics;
	struct recv_stream *streams; /* newest first */
	struct recv_stream *spares;  /* given to the net thread, unclaimed */
	unsigned nspares;
	unsigned channels; /* mixer output */
	bool drift;
	uint64_t t0;
	uint64_t dgrams_seen; /* datagrams counted at the last look */
	int64_t dgrams_ns;    /* when that count last changed */
	int rc;
	struct recv_sap *sap; /* --sap: the announcements followed */
};

/* Seconds since the start. */
static inline double cmd_recv_secs(const struct recv *p)
{
	return (double)(netloop_now_ns() - p->t0) / 1e9;
}

/* Largest datagram accepted for the configured codec, bytes. */
size_t cmd_recv_streams_datagram_max(const struct cmd_recv_opts *o);

/* Whether streams can be set up with these options at all (checked at
   start: a setting that cannot work is refused with one line). Return: 0
   or -EINVAL after printing why. */
int cmd_recv_streams_check(const struct recv *p);

/* Keep RECV_SPARES streams allocated ahead on the net thread's side. */
void cmd_recv_streams_spare(struct recv *p);

/* A new SSRC: name and link the spare it took (or set a stream up and
 * install it on the net thread); refuse it there when something fails. */
void cmd_recv_streams_add(struct recv *p, const struct receiver_new *n);

/* Take streams silent for idle_ns out of the net table and the mix. */
void cmd_recv_streams_sweep(struct recv *p, uint64_t idle_ns);

/* Destroy the streams the mixer handed back; finalize their recordings. */
void cmd_recv_streams_reap(struct recv *p);

/* One JSON line per playing stream. */
void cmd_recv_streams_json(struct recv *p);

/* Redraw the terminal status line. */
void cmd_recv_streams_draw(struct recv *p, struct app_status *status);

/* The summary: JSON object and human-readable lines. */
void cmd_recv_streams_summary(struct recv *p);

/* Set up the receiver for p->o (its listen address, codec, pt) on the
   running net thread, with its spare streams. */
int cmd_recv_open_rx(struct recv *p);

/* --sap: start the net thread and the SAP listener, and wait for the
   first session to follow (its SDP fills p->o). Return: 0 when there is
   one, 1 when stopped first (signal, --duration), < 0 after one line. */
int cmd_recv_sap_wait(struct recv *p);

/* --sap, every loop turn: drop the session's streams when it is deleted,
   times out or changes; follow the next matching one. */
void cmd_recv_sap_poll(struct recv *p);

/* Stop listening for SAP (before the net thread stops); no-op without
   --sap. */
void cmd_recv_sap_stop(struct recv *p);

/* --metrics: write the playing streams' figures as the page the net
   thread serves (cmd_recv_metrics.c). */
void cmd_recv_metrics_publish(struct recv *p, int64_t now);

#endif
