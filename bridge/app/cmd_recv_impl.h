/*
 * cmd_recv_impl: the receive side of `rtbridge recv`, as the public
 * library's receiver (lib/rtb_receiver.c) runs it
 *
 * cmd_recv_rx.c sets up and tears down the net thread and the receiver
 * (socket, SRTP, probation, SSRC table) and runs one turn of the control
 * loop's receive work (new streams, the sweep, the lifecycle, recordings
 * that stopped, timing warnings); cmd_recv_streams.c handles the incoming
 * streams (their lifecycle, below). The command itself (cmd_recv.c) is
 * an application of the public library and sees none of this. The
 * library hears of the streams through struct recv_hooks.
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
 *   CLOSED    how it ended goes to recv_hooks.ended (the library's
 *             on_ended: the command keeps a bounded summary) and the
 *             memory is freed
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

#include "bridge/app/cmd_recv_opts.h"
#include "bridge/app/engine.h"
#include "bridge/audio/disktap.h"
#include "bridge/net/netloop.h"
#include "bridge/net/receiver.h"
#include "bridge/net/srtpctx.h"

#define RECV_RATE            48000u
#define RECV_OPEN_MS         ENGINE_OPEN_MS
#define RECV_CLOSE_MS        ENGINE_CLOSE_MS
#define RECV_POLL_NS         5000000LL    /* retry of a busy step */
#define RECV_RETRY_NS        1000000000LL /* spare set-up after a failure */
#define RECV_DRAIN_MARGIN_NS 100000000LL  /* after the largest delay */
#define RECV_LINE_MAX        1024         /* a line said (cmd_recv_say) */

enum recv_stream_state {
	RECV_SPARE,
	RECV_SETUP,
	RECV_LINKED,
	RECV_DRAINING,
	RECV_CLOSING,
	RECV_CLOSED,
};
struct recv_stream;

/* What the public library (lib/rtb_receiver.c) hears of the streams.
   Context: control thread. */
struct recv_hooks {
	/* A stream was linked into the mixer: it plays. */
	void (*linked)(void *arg, struct recv_stream *s);
	/* A stream that was linked has left for good: neither the net
	   thread nor the mixer holds it, its counters are final; it is
	   freed after this returns. */
	void (*closed)(void *arg, struct recv_stream *s);
	/* A stream set up (linked or not) is gone for good and its
	   recording finalized (rec_rc: disktap_wait_closed's, frames in the
	   file); it is freed after this returns. */
	void (*ended)(void *arg, struct recv_stream *s, int rec_rc,
	              uint64_t frames);
	/* A stream's recording stopped by itself (said already). */
	void (*record_stopped)(void *arg, struct recv_stream *s);
	/* A line to say (recv_say); NULL: stderr, "rtbridge recv: LINE". */
	void (*say)(void *arg, const char *line);
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
	uint64_t id;              /* the receiver's stream id */
	enum receiver_end why;    /* why the net thread let go (0: not yet) */
	int64_t start_ns, end_ns; /* set up, let go of (CLOCK_MONOTONIC) */
	char from[ADDR_TEXT_MAX];
	char path[512];
	struct recv_stream *next;
};

struct recv {
	struct cmd_recv_opts o;
	struct engine *e;               /* the streams play through it */
	const struct recv_hooks *hooks; /* the library's */
	struct netloop nl;
	bool nl_running;
	struct receiver rx;
	bool rx_ready;
	struct srtpctx srtp; /* --srtp-key / a=crypto; zeroed: plain RTP */
	struct recv_stream *streams; /* alive (spares too), newest first */
	unsigned nspares, nalive;    /* spares; the others */
	uint64_t drain_ns;       /* an ended stream plays this long after its
	                            last packet (largest delay + margin) */
	int setup_err;           /* last set-up error reported (-errno) */
	uint64_t setup_failed;   /* streams that could not be set up */
	uint64_t record_failed;  /* recordings that failed */
	uint64_t spare_retry_ns; /* no new spare before this */
	unsigned channels;       /* mixer output */
	bool drift;
	bool stopped; /* cmd_recv_close_net ran */
};

/* Largest datagram accepted for the configured codec, bytes. */
size_t cmd_recv_streams_datagram_max(const struct cmd_recv_opts *o);

/* Whether streams can be set up with these options at all (checked at
   start: a setting that cannot work is refused with one line). Return: 0
   or -EINVAL with the line in why (len bytes; not said). */
int cmd_recv_streams_check(const struct recv *p, char *why, size_t len);

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
 * a failed one is counted (record_failed). */
void cmd_recv_streams_finish(struct recv *p);

/* Free whatever is left (after a failed start). */
void cmd_recv_streams_free(struct recv *p);

/* One turn of the streams' side of the control loop at `now`: new
 * streams, the spares, the sweep when the net thread says it can find
 * something (receiver_sweep_at), every stream's lifecycle. *sweep is set
 * to when the next sweep is due. Return: whether one ever is (it needs a
 * turn by *sweep). */
bool cmd_recv_streams_step(struct recv *p, int64_t now, int64_t *sweep);

/* Say one line (no prefix, no newline): to hooks->say, or on stderr
   as "rtbridge recv: LINE". */
void cmd_recv_say(const struct recv *p, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Set up the receiver for p->o (its listen address, codec, pt, SRTP
   key) on the running net thread, with its spare streams. Return: 0, or
   a negated errno (said, with the line in why too). */
int cmd_recv_open_rx(struct recv *p, char *why, size_t len);

/* Stop the net thread's side (the receiver, the net thread): it lets go
   of every stream; spares never linked are freed. Once. */
void cmd_recv_close_net(struct recv *p);

/* Recordings of streams that stopped by themselves (disk full): said
   once each (hooks->record_stopped). */
void cmd_recv_check_records(struct recv *p);

/* Streams whose timing cannot be followed as sent, said once each. */
void cmd_recv_check_timing(struct recv *p, int64_t now);

/* After cmd_recv_close_net, with the engine running: let it play out
   what the streams hold (and record it), at most max_ms. */
void cmd_recv_drain(struct recv *p, unsigned max_ms);

#endif
