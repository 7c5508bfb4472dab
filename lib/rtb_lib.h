/*
 * rtb_lib: what the public library's modules share (private to lib/)
 *
 * The handles of include/rtbridge/ are thin shells over the runtime's own
 * objects: an rtb_engine is the engine of `rtbridge play` and `recv`
 * (bridge/app/engine.h); an rtb_receiver is the receive side of `rtbridge
 * recv` (struct recv: its receiver, net thread and stream lifecycle,
 * cmd_recv_streams.c) playing through that engine; an rtb_sender is the
 * sender of `rtbridge send` (bridge/net/sender.h) with its file's
 * read-ahead stream or its capture FIFO.
 *
 * Context: control thread, except where a function says otherwise.
 */
#ifndef RTB_LIB_RTB_LIB_H
#define RTB_LIB_RTB_LIB_H

#include <stdint.h>

#include "bridge/app/app_sendopts.h"
#include "bridge/app/cmd_recv_impl.h"
#include "bridge/app/engine.h"
#include "bridge/net/addr.h"
#include "bridge/net/sdp.h"
#include "bridge/net/sender.h"
#include <rtbridge/rtbridge.h>

/* The public symbols; everything else in the library is hidden
   (lib/librtbridge.map). */
#define RTB_API __attribute__((visibility("default")))

/* The device input pushed to a sender (rtb_engine_capture): a tap at
   the mixer's input. */
struct rtb_engine_tap {
	struct tap tap;       /* first: a struct tap * is one of these */
	struct rtb_sender *s; /* set and cleared while the device does not
	                         run (the audio thread only reads it) */
};

struct rtb_engine {
	struct engine e;
	struct rtb_engine_tap cap;      /* in_channels: linked at create */
	struct rtb_receiver *receivers; /* made on it, newest first */
	bool done;     /* a poll saw every archive end (end_with_archives) */
	bool rec_said; /* rtb_engine_poll reported the mix recording's stop
	                  (the runtime's polls inside the library may have
	                  taken its one-shot event first) */
	char error[512];
};

struct rtb_receiver {
	struct recv p; /* the receive side of `rtbridge recv` */
	struct recv_hooks hooks;
	struct rtb_receiver_config cfg;
	struct rtb_engine *eng;
	struct rtb_receiver *next;
	int64_t sweep_ns; /* the sweep's next turn */
	bool sweeping;    /* the sweep has work */
	int64_t stats_ns; /* on_stats next, CLOCK_MONOTONIC ns */
	unsigned playing; /* streams between on_added and on_removed */
	bool finished;    /* rtb_receiver_finish ran */
	char dir[512];    /* record_dir, kept */
	char fmt[16];     /* record_format, kept */
};

/*
 * One turn of a receiver: new streams, the sweep, every stream's
 * lifecycle (with its callbacks), on_stats when due
 */
void rtb_receiver__turn(struct rtb_receiver *r, int64_t now);

/* When the receiver next wants a turn without being woken, CLOCK_MONOTONIC
   ns (INT64_MAX: only when woken). */
int64_t rtb_receiver__due(const struct rtb_receiver *r);

/* The public configuration as the command's options (r->p.o; the
   record directory and format kept in r). Return: 0, or a negated errno
   with why. Context: control thread. */
int rtb_receiver__opts(struct rtb_receiver *r, char *why, size_t len);

struct sdpparse_result;

/* A receiver's stream settings from a parsed SDP (listen into buf, len
   bytes), the key aside. Return: 0, -EINVAL or -ENOBUFS with why.
   Context: any. */
int rtb__config_from_sdp(struct rtb_receiver_config *cfg,
                         const struct sdpparse_result *sr, char *buf,
                         size_t len, char *why, size_t why_len);

/* A sender's channels, or 0 when it is not a pushing one. Context:
   control thread. */
unsigned rtb__sender_push_channels(const struct rtb_sender *s);
/* ... and its rate (Hz; 0 for a file sender) */
unsigned rtb__sender_push_rate(const struct rtb_sender *s);

struct netloop;

/* The net thread of an object that can host a metrics endpoint
   (rtb_metrics.c), or NULL when it does not run. Context: control
   thread. */
struct netloop *rtb__receiver_netloop(struct rtb_receiver *r);
struct netloop *rtb__sender_netloop(struct rtb_sender *s);
struct netloop *rtb__sap_netloop(struct rtb_sap *l);

/* A sender's configuration as the command's options (for its SDP and
   SAP announcement), its strings in the buffers (lib/rtb_sender_opts.c). */
struct rtb__sendconf {
	struct app_sendopts o;
	char session[SDP_NAME_MAX + 1];
	char group[ADDR_TEXT_MAX];
};

/* The configuration checked (ranges, codec, destination), as t's options
   and so's codec, destination, payload type and multicast interface (so
   set to sender_opts_init's defaults first). Return: 0, or -EINVAL with
   why. */
int rtb__sender_settings(struct rtb__sendconf *t,
                         const struct rtb_sender_config *c,
                         struct sender_opts *so, char *why, size_t len);

struct srtpkey;

/* The caller's key into k (zeroed by the caller once used), its length
   checked against the suite's. Return: 0, or -EINVAL with why. */
int rtb__sender_key(const struct rtb_sender_config *c, struct srtpkey *k,
                    char *why, size_t len);

/* The SDP of a stream of options o to so's destination, with session id
   `id` and the a=crypto value `crypto` (NULL: none). Return: its length,
   or -ENOBUFS (len too small; buf is then zeroed). */
int rtb__sender_describe(const struct app_sendopts *o,
                         const struct sender_opts *so, uint64_t id,
                         const char *crypto, char *buf, size_t len);

/* One line into why (len bytes; why may be NULL). */
void rtb__why(char *why, size_t len, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
