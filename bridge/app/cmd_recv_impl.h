/*
 * cmd_recv_impl: what the two halves of `rtbridge recv` share
 *
 * cmd_recv.c sets up and tears down the command (the engine: disk server,
 * mixer, device, archives, mix recorder; then the net thread and the
 * receiver) and runs the control loop; cmd_recv_streams.c handles the
 * incoming streams in that loop (their lifecycle, below);
 * cmd_recv_stats.c their statistics (JSON lines, status line, summary)
 * and the summaries of closed streams. Private to bridge/app.
 *
 * A stream's life on the control thread. Before it, the source was on
 * probation on the net thread (receiver.h), where nothing is allocated
 * for it; a stream object exists only for a valid source (or a spare):
 *
 *   SPARE     allocated ahead (netstream ready) and given to the net
 *             thread, which gives it to the next valid source
 *   SETUP     a valid source's: named, installed on the net thread (it
 *             queues what arrives), its recording being created by the
 *             disk thread; linked into the mixer at the first tick the
 *             file exists, or plays unrecorded if it could not be made
 *             (the control thread never waits for the disk: the disk
 *             thread's answer wakes it)
 *   LINKED    playing and recording, fed by the net thread
 *   DRAINING  on its way out: the net thread let go of it (idle,
 *             superseded, taken over), or its set-up failed, or the
 *             mixer refused it; it plays out what its jitter buffer still
 *             holds (up to the largest delay after its last packet),
 *             then is unlinked
 *   CLOSING   neither holds it: the netstream is freed, the recording
 *             is being finalized by the disk thread
 *   CLOSED    a fixed-size summary is kept (the last RECV_SUMMARIES, and
 *             totals over all) and the memory is freed
 *
 * Moves: SPARE -> SETUP -> LINKED -> DRAINING -> CLOSING -> CLOSED, with
 * SETUP -> DRAINING for a failed set-up and SPARE -> CLOSED for a spare
 * never used. Two flags say who may still touch a stream: on_net (the
 * net thread holds it: spare ring, table, ended list) and in_mixer
 * (linked and not yet handed back). Events (a sweep's hand-back, the
 * mixer's release, a failed set-up, the receiver closing) change those
 * flags; recv__advance moves a stream on from them, and recv__set is the
 * one function that changes a state (checking the move against the
 * table) and does what entering it means; nothing either thread may
 * still hold is freed. The list holds the streams alive only, so memory
 * and the control tick's work follow the streams alive, not the streams
 * ever seen.
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

#define RECV_RATE            48000u
#define RECV_OPEN_MS         ENGINE_OPEN_MS
#define RECV_CLOSE_MS        ENGINE_CLOSE_MS
#define RECV_POLL_NS         5000000LL  /* retry of a busy step */
#define RECV_SWEEP_NS        50000000LL /* idle sweep, while streams live */
#define RECV_SPARES          4  /* streams allocated ahead for new SSRCs */
#define RECV_SUMMARIES       64 /* closed streams listed in the summary */
#define RECV_RETRY_NS        1000000000LL /* spare set-up after a failure */
#define RECV_DRAIN_MARGIN_NS 100000000LL  /* after the largest delay */
#define RECV_MMAP_THRESHOLD  (128 * 1024) /* bytes: mapped on their own */
#define RECV_OUTCOME_MAX     300          /* a recording's outcome phrase */

enum recv_stream_state {
	RECV_SPARE,
	RECV_SETUP,
	RECV_LINKED,
	RECV_DRAINING,
	RECV_CLOSING,
	RECV_CLOSED,
};
#define RECV_SAP_POLL_NS                                                       \
	50000000LL /* --sap: the listener's events looked at                   \
	            */

struct recv_sap;
struct recv_stream;

/* What the public library (lib/rtb_receiver.c) hears of the streams;
   the command has none. Context: control thread. */
struct recv_hooks {
	/* A stream was linked into the mixer: it plays. */
	void (*linked)(void *arg, struct recv_stream *s);
	/* A stream that was linked has left for good: neither the net
	   thread nor the mixer holds it, its counters are final; it is
	   freed after this returns. */
	void (*closed)(void *arg, struct recv_stream *s);
	void *arg;
};

struct recv_stream {
	struct netstream ns; /* first: a netstream * is a recv_stream * */
	struct disktap tap;
	enum recv_stream_state state;
	bool tap_open;
	bool rec_opened;    /* the file was created */
	bool no_file;       /* no file: not created, or empty and removed */
	bool rec_reported;  /* its recording's stop was said */
	bool on_net;        /* the net thread may still use or return it */
	bool in_mixer;      /* linked, not yet handed back */
	bool unlink_sent;   /* mixer_unlink accepted */
	bool clock_warned;  /* its RTP clock's mismatch was said */
	bool sync_warned;   /* --sync: that nothing plays was said */
	bool was_linked;    /* it played (recv_hooks.closed is due) */
	int64_t seen_ns;    /* --sync: when its first packets were seen */
	uint64_t unlink_ns; /* not before: it plays out what it holds */
	uint64_t setup_ns;  /* its recording must exist by then */
	uint64_t retry_ns;  /* a busy step (mixer ring full) again then */
	uint32_t ssrc;
	uint64_t id;           /* the receiver's stream id */
	enum receiver_end why; /* why the net thread let go (0: not yet) */
	double t_start, t_end; /* seconds since the start */
	char from[ADDR_TEXT_MAX];
	char path[512];
	struct netstream_stats snap; /* the metrics page's copy */
	struct recv_stream *next;
};

/* What stays of a closed stream. */
struct recv_summary {
	uint32_t ssrc;
	uint64_t id;
	int why; /* enum receiver_end; 0: set-up failed */
	int rec_rc;
	double t_start, t_end;
	uint64_t frames; /* recorded (0: no file) */
	struct netstream_stats st;
	char from[ADDR_TEXT_MAX];
	char path[512];                 /* "" when no file exists */
	char outcome[RECV_OUTCOME_MAX]; /* app_record_outcome, with a path */
	char record_error[DISKFILE_ERRMSG_MAX]; /* "" or why it stopped */
};

/* Totals over every closed stream. */
struct recv_totals {
	uint64_t closed, received, lost, recovered, late, concealed_frames,
	        underruns, recorded_frames;
};

struct recv {
	struct cmd_recv_opts o;
	struct engine *e;  /* the streams play through it: `eng`, or the
	                      library's engine */
	struct engine eng; /* the command's own */
	const struct recv_hooks *hooks; /* the library's; NULL: none */
	struct netloop nl;
	bool nl_running;
	struct receiver rx;
	bool rx_ready;
	struct srtpctx srtp; /* --srtp-key / a=crypto; zeroed: plain RTP */
	enum srtpkey_suite srtp_suite; /* for display */
	struct app_stats json;
	struct app_metrics metrics;
	struct recv_stream *streams; /* alive (spares too), newest first */
	unsigned nspares, nalive;    /* spares; the others */
	struct recv_summary closed[RECV_SUMMARIES]; /* a ring, oldest at
	                                               closed_head */
	unsigned closed_head, nclosed;
	struct recv_totals totals;
	uint64_t drain_ns;       /* an ended stream plays this long after its
	                            last packet (largest delay + margin) */
	int setup_err;           /* last set-up error reported (-errno) */
	uint64_t setup_failed;   /* streams that could not be set up */
	uint64_t spare_retry_ns; /* no new spare before this */
	unsigned channels;       /* mixer output */
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

/* Make the process's memory follow the streams alive (see the .c). */
void cmd_recv_streams_memory(void);

/* Largest datagram accepted for the configured codec, bytes. */
size_t cmd_recv_streams_datagram_max(const struct cmd_recv_opts *o);

/* Whether streams can be set up with these options at all (checked at
   start: a setting that cannot work is refused with one line). Return: 0
   or -EINVAL after printing why. */
int cmd_recv_streams_check(const struct recv *p);

/* Keep RECV_SPARES streams allocated ahead on the net thread's side. */
void cmd_recv_streams_spare(struct recv *p);

/* A new stream: name and link the spare it took (or set a stream up and
 * install it on the net thread); refuse it there when something fails. */
void cmd_recv_streams_add(struct recv *p, const struct receiver_new *n);

/* Take back the streams the net thread let go of (silent for idle_ns,
 * superseded, taken over). */
void cmd_recv_streams_sweep(struct recv *p, uint64_t idle_ns);

/* Move every stream on along its lifecycle (hand-backs, recordings
 * finished); bounded by the streams alive. */
void cmd_recv_streams_tick(struct recv *p);

/* When a stream next needs a tick without being woken (a set-up's
 * deadline, a busy step, an unlink's time, a recording being finalized),
 * CLOCK_MONOTONIC ns; INT64_MAX: none. */
int64_t cmd_recv_streams_due(const struct recv *p);

/* After receiver_close: the net thread let go of every stream; spares it
 * never used come back and are freed. */
void cmd_recv_streams_net_closed(struct recv *p);

/* After engine_stop: close every stream and wait for its recording;
 * a failed recording sets p->rc. */
void cmd_recv_streams_finish(struct recv *p);

/* Free whatever is left (after a failed start). */
void cmd_recv_streams_free(struct recv *p);

/* One turn of the streams' side of the control loop at `now`: new
 * streams, the spares, the sweep when *sweep is due (then *sweep is the
 * next one), every stream's lifecycle. Return: whether the sweep has work
 * (it needs a turn by *sweep). */
bool cmd_recv_streams_step(struct recv *p, int64_t now, int64_t *sweep);

/* Keep what stays of a closed stream (cmd_recv_stats.c). */
void cmd_recv_stats_closed(struct recv *p, const struct recv_stream *s,
                           int rec_rc, uint64_t frames);

/* One JSON line per playing stream, and the receiver's line. */
void cmd_recv_streams_json(struct recv *p);

/* Redraw the terminal status line. */
void cmd_recv_streams_draw(struct recv *p, struct app_status *status);

/* The summary: JSON object and human-readable lines. */
void cmd_recv_streams_summary(struct recv *p);

/* Set up the receiver for p->o (its listen address, codec, pt) on the
   running net thread, with its spare streams. */
int cmd_recv_open_rx(struct recv *p);

/* Stop the net thread's side (SAP, the receiver, the net thread): it
   lets go of every stream; spares never linked are freed. */
void cmd_recv_close_net(struct recv *p);

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
