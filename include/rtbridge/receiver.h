/*
 * rtbridge/receiver.h: RTP streams received on a UDP port
 *
 * A receiver binds one UDP port and takes every RTP sender (SSRC) heard
 * there, up to max_streams at once, as a stream: a source that has sent
 * packets in sequence passes probation (RFC 3550) and is linked into the
 * engine's mix through its own jitter buffer (adaptive or fixed delay),
 * with loss concealment and clock drift compensation; a stream silent for
 * timeout_s (or replaced: a sender restarted with a new SSRC, or its SSRC
 * taken over from another address) plays out what it holds and leaves.
 * Datagrams that are not RTP, of another payload type, or from outside
 * the allowed senders are counted and dropped.
 *
 * The net thread (one per receiver) receives; the engine's audio side
 * plays; every callback below runs on the control thread, inside
 * rtb_engine_poll / rtb_engine_run, and may call any control-thread
 * function of this library except rtb_receiver_destroy on its own
 * receiver.
 *
 * A stream that cannot be set up (memory, or its recording) is refused
 * and counted. The receive side is the one of `rtbridge recv`, and says
 * what goes wrong as it does, one line per event (a port that cannot be
 * bound, a stream that cannot be set up or recorded, once per kind of
 * failure; a recording that stopped; a sender whose clock cannot be
 * followed), besides the `why` and the return codes below: to on_log
 * (since 0.3), or by default on stderr prefixed "rtbridge recv:".
 *
 * Since 0.3 a receiver also takes SRTP, joins multicast groups (with a
 * source, on an interface), filters senders, takes ULPFEC, has the
 * jitter buffer's settings of `rtbridge recv` (low latency, limits, media
 * clock sync, probation, drift), stops apart from its destruction
 * (rtb_receiver_stop, with the streams played out) and reports what
 * `rtbridge recv` reports: every stream's figures, the receiver's
 * counters (rtb_receiver_counters), how each stream ended with its
 * recording's outcome (on_ended). rtb_receiver_config_sdp fills a
 * configuration from an SDP; rtbridge/sap.h follows SAP announcements.
 */
#ifndef RTBRIDGE_RECEIVER_H
#define RTBRIDGE_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rtb_engine;
struct rtb_receiver;

enum rtb_codec {
	RTB_CODEC_OPUS = 1, /* RFC 7587, 48 kHz RTP clock */
	RTB_CODEC_L16,      /* RFC 3551, 16-bit PCM, network byte order */
	RTB_CODEC_L24,      /* 24-bit PCM (AES67) */
};

/* SRTP protection suites (RFC 3711, RFC 7714). */
enum rtb_srtp_suite {
	RTB_SRTP_AES_CM_128_HMAC_SHA1_80 = 0, /* key + salt: 30 bytes */
	RTB_SRTP_AEAD_AES_128_GCM,            /* key + salt: 28 bytes */
};

/* A payload type field: type 0 itself (0 there is the default). Since
   0.2 for the sender, 0.3 for the receiver. */
#define RTB_PT_ZERO 128

/* The playout delay's mode (since 0.3). */
enum rtb_latency {
	RTB_LATENCY_DEFAULT = 0, /* latency_ms: fixed; 0: adaptive */
	RTB_LATENCY_LOW,         /* adaptive with a small target: the delay
	                            spread + one packet + 0.25 ms; every
	                            datagram read at its arrival */
};

/* Why a stream ended (since 0.3). */
enum rtb_ending {
	RTB_ENDED_SETUP_FAILED = 0, /* it could not be set up */
	RTB_ENDED_TIMEOUT,          /* silent for timeout_s */
	RTB_ENDED_SUPERSEDED,       /* its sender restarted with a new SSRC */
	RTB_ENDED_TAKEN_OVER,       /* its SSRC came from another address */
	RTB_ENDED_STOPPED,          /* the receiver stopped */
};

/* A stream: one sender (SSRC) heard by a receiver. */
struct rtb_stream_info {
	uint64_t id;             /* unique for the receiver's life (an SSRC that
	                            leaves and comes back is another stream) */
	uint32_t ssrc;           /* its RTP SSRC */
	char from[64];           /* its address, "ADDR:PORT" */
	const char *record_path; /* its recording (record_dir), or NULL */
	/* Since 0.3. */
	int64_t start_ns;         /* when it was set up, CLOCK_MONOTONIC */
	const char *record_error; /* why its recording stopped by itself,
	                             or NULL (valid during the call) */
};

/* A stream's figures since it began. */
struct rtb_stream_stats {
	uint64_t received; /* packets reaching the jitter buffer */
	uint64_t lost;     /* missing at their playout time */
	uint64_t late;     /* arrived after their playout time */
	uint64_t duplicate;
	uint64_t reordered;
	uint64_t concealed_frames; /* made by concealment (or Opus FEC) */
	uint64_t inserted_frames;  /* concealment inserted to grow the delay */
	uint64_t underruns;        /* the buffer ran dry, and a packet came */
	uint64_t frames_played;    /* frames the mixer took */
	uint64_t recorded_frames;  /* frames written to its recording */
	double jitter_ms;          /* RFC 3550 interarrival jitter */
	double buffer_ms;          /* playout delay now */
	double target_ms;          /* the delay it aims at */
	double drift_ppm;          /* sender's clock against ours, + = fast */
	uint64_t recovered;        /* lost packets restored from the copies
	                              later ones carried (RFC 2198 redundant
	                              audio, red_pt) or from FEC packets
	                              (ulpfec_pt): not in lost */
	/* Since 0.3. */
	uint64_t late_repairs;     /* restored after their playout time */
	uint64_t recovered_frames; /* restored by Opus in-band FEC */
	uint64_t resyncs;          /* sender restarts followed */
	uint64_t rebuffers;        /* restarts after running dry */
	uint64_t skips;            /* jumps ahead to shed a long buffer */
	uint64_t skipped_frames;   /* ... frames not played */
	uint64_t clock_mismatch;   /* its RTP clock ran at another rate than
	                              its packets decode to (then followed) */
	uint64_t decode_errors;    /* payloads the decoder refused */
	uint64_t rx_dropped;       /* dropped on arrival (pool, ring full) */
	uint64_t rx_invalid;       /* refused on arrival (too big, sequence) */
	uint64_t fec_packets;      /* ULPFEC packets taken */
	uint64_t frames_in;        /* frames decoded or concealed */
	double sender_ppm;         /* drift_ppm's parts: the sender's clock */
	double device_ppm;         /* and the consumer's, against this host's */
	float peak;                /* its peak in the mix, last report, 0..1 */
	uint64_t record_written;   /* frames its recording's file holds */
};

/* A receiver's counters since it was made (since 0.3). */
struct rtb_receiver_counters {
	uint64_t datagrams;         /* the socket delivered */
	uint64_t accepted;          /* handed to a stream */
	uint64_t malformed;         /* not RTP */
	uint64_t too_big;           /* longer than a stream takes */
	uint64_t unknown_pt;        /* of another payload type */
	uint64_t not_allowed;       /* from outside `allow` */
	uint64_t over_max_streams;  /* a new sender while max_streams play */
	uint64_t setting_up;        /* dropped while its stream was set up */
	uint64_t refused;           /* of a sender whose stream was refused */
	uint64_t stream_dropped;    /* refused by their stream */
	uint64_t notify_dropped;    /* a new sender found the ring full */
	uint64_t probation_dropped; /* during or after a failed probation */
	uint64_t ssrc_conflicts;    /* a known SSRC from another address */
	uint64_t auth_failed;       /* SRTP: failed authentication */
	uint64_t replayed;          /* SRTP: replays */
	uint64_t held;              /* senders in the table now */
	uint64_t on_probation;      /* senders on probation now */
	uint64_t streams_seen;      /* senders that became streams */
	uint64_t probation_failed;  /* senders that did not */
	uint64_t probation_evicted; /* ... pushed out by newer ones */
	uint64_t takeovers;         /* streams ended by a takeover */
	uint64_t superseded;        /* streams ended by a newer SSRC */
	uint64_t setup_failed;      /* streams that could not be set up */
	uint64_t record_failed;     /* recordings that failed (not made,
	                               stopped early, not finalized) */
	unsigned streams_alive;     /* streams set up and not yet ended
	                               (playing, starting or leaving) */
	int64_t last_rx_ns;         /* the last datagram, CLOCK_MONOTONIC;
	                               0: none yet */
};

/* How a stream ended, once it is gone for good (since 0.3). */
struct rtb_stream_end {
	enum rtb_ending why;
	int64_t start_ns, end_ns; /* set up, let go of (CLOCK_MONOTONIC) */
	const struct rtb_stream_stats *stats; /* final figures */
	bool played;                /* it was linked (on_added came) */
	const char *record_path;    /* the file, or NULL: none (none made,
	                               or empty and removed) */
	uint64_t record_frames;     /* frames in it */
	int record_rc;              /* 0, or how it failed (-errno) */
	const char *record_outcome; /* "N frames[, dropped D][, stopped
	                               early: WHY]" or "not finished: WHY";
	                               NULL without a file */
	const char *record_error;   /* why it stopped early, or NULL */
};

typedef void rtb_stream_fn(void *arg, struct rtb_receiver *r,
                           const struct rtb_stream_info *s);
typedef void rtb_stream_stats_fn(void *arg, struct rtb_receiver *r,
                                 const struct rtb_stream_info *s,
                                 const struct rtb_stream_stats *st);
/* Since 0.3. */
typedef void rtb_stream_end_fn(void *arg, struct rtb_receiver *r,
                               const struct rtb_stream_info *s,
                               const struct rtb_stream_end *end);
typedef void rtb_record_stopped_fn(void *arg, struct rtb_receiver *r,
                                   const struct rtb_stream_info *s,
                                   uint64_t frames, const char *error);
/* One line to say (no prefix, no newline). */
typedef void rtb_log_fn(void *arg, const char *line);

struct rtb_receiver_config {
	const char *listen;        /* "ADDR:PORT" to bind ("0.0.0.0:5004",
	                              "[::1]:0"; port 0 picks one) */
	enum rtb_codec codec;      /* 0: Opus */
	int rate;                  /* of the stream, Hz; 0: 48000 */
	int channels;              /* of the stream: 1 or the engine's; 0: 2 */
	int pt;                    /* payload type; 0: 96 (10, 11 for L16
	                              mono and stereo at 44.1 kHz are RFC 3551's
	                              static types; give them explicitly) */
	unsigned latency_ms;       /* fixed playout delay; 0: adaptive */
	unsigned max_streams;      /* at once; 0: 16 */
	double timeout_s;          /* a silent stream leaves after this; 0: 2 */
	const char *record_dir;    /* record each stream to DIR/<ssrc>.<fmt>
	                              (its own timeline, at its rate); NULL: no */
	const char *record_format; /* wav, flac, ...; NULL: wav */
	/* Callbacks (control thread, inside rtb_engine_poll); NULL: none. */
	rtb_stream_fn *on_added;         /* a stream plays */
	rtb_stream_stats_fn *on_removed; /* it left: its final figures */
	rtb_stream_stats_fn *on_stats;   /* every playing stream's figures,
	                                    every stats_ms */
	unsigned stats_ms;               /* 0: 1000 */
	void *arg;                       /* passed to the callbacks */
	int red_pt; /* streams may come as RFC 2198 redundant audio of this
	               payload type (`rtbridge send --fec red`), carrying pt;
	               RTB_PT_ZERO (since 0.3): type 0; 0: none */

	/* Since 0.3. Zeroed: the behaviour of 0.2. */
	/* SRTP: every datagram authenticated and decrypted with this master
	   key + salt (srtp_key_len bytes: 30, or 28 for GCM); NULL: plain
	   RTP. Read during rtb_receiver_create only: libsrtp's context
	   holds it, every copy the library made is zeroed. */
	const uint8_t *srtp_key;
	size_t srtp_key_len;
	enum rtb_srtp_suite srtp_suite;
	/* listen on a multicast group: joined on interface multicast_if
	   (if_nametoindex; 0: the route's), from multicast_source only
	   (source-specific, an address of the group's family; NULL: any) */
	unsigned multicast_if;
	const char *multicast_source;
	/* Senders taken: nallow networks "ADDR[/PREFIX]" (at most 16);
	   0: anyone. */
	const char *const *allow;
	unsigned nallow;
	int ulpfec_pt;            /* RFC 5109 parity FEC of the streams comes
	                             as this payload type (`rtbridge send --fec
	                             ulpfec:P`); RTB_PT_ZERO: 0; 0: none */
	enum rtb_latency latency; /* with latency_ms 0 */
	unsigned min_latency_ms;  /* limits of the adaptive delay, 0: the */
	unsigned max_latency_ms;  /* defaults (1 ms ... 2 s) */
	unsigned sync_ms;         /* play each RTP time at its media time +
	                             sync_ms (senders stamping the system
	                             clock, RFC 7273; a fixed delay, not with
	                             latency_ms or the limits); 0: no */
	unsigned probation;       /* packets in sequence before a new SSRC is
	                             a stream (RFC 3550); 0: 2 */
	bool no_drift;            /* no clock drift compensation */
	double frame_ms;          /* the packet time to expect first (the
	                             packets say the real one); 0: 10 ms for
	                             Opus, 5 ms for PCM */
	/* Callbacks (control thread, inside rtb_engine_poll and the calls
	   below); NULL: none, and for on_log the lines go to stderr. */
	rtb_stream_end_fn *on_ended;              /* a stream is gone, its
	                                             recording finalized */
	rtb_record_stopped_fn *on_record_stopped; /* a stream's recording
	                                             stopped by itself (disk
	                                             full); it plays on */
	rtb_log_fn *on_log;
};

/*
 * Check a configuration as rtb_receiver_create would for an engine of
 * `channels` channels (codec, payload types, addresses, delays, key
 * length, the record directory), without a socket or a thread (since 0.3)
 *
 * Return: 0, or a negated errno (-EINVAL: a bad setting) with one line in
 *         why (len bytes; may be NULL)
 * Context: control thread
 */
int rtb_receiver_check(const struct rtb_receiver_config *cfg, unsigned channels,
                       char *why, size_t len);

/*
 * Make a receiver on the engine: its net thread, its socket bound
 *
 * Pre: the engine runs at 48000 Hz with 1 or more channels, and the
 *      stream's channels are 1 or the engine's
 * Return: 0 with *out set, or a negated errno (-EINVAL: a bad setting;
 *         -EADDRINUSE ...) with one line in why (len bytes; may be NULL),
 *         which is also said (on_log, or stderr)
 * Context: control thread
 */
int rtb_receiver_create(struct rtb_engine *e,
                        const struct rtb_receiver_config *cfg,
                        struct rtb_receiver **out, char *why, size_t len);

/* The bound UDP port (for port 0). Context: control thread. */
unsigned rtb_receiver_port(const struct rtb_receiver *r);

/* Streams playing now. Context: control thread. */
unsigned rtb_receiver_streams(const struct rtb_receiver *r);

/*
 * A snapshot of a playing stream's figures, by its id
 *
 * Return: 0, or -ENOENT when no stream of that id plays
 * Context: control thread
 */
int rtb_receiver_stream_stats(struct rtb_receiver *r, uint64_t id,
                              struct rtb_stream_stats *st);

/*
 * The playing streams' ids, the most recently made first (since 0.3)
 *
 * Return: how many play (ids holds the first max of them)
 * Context: control thread
 */
unsigned rtb_receiver_list(const struct rtb_receiver *r, uint64_t *ids,
                           unsigned max);

/*
 * A playing stream's description, by its id (since 0.3; its strings are
 * valid until the next rtb_engine_poll)
 *
 * Return: 0, or -ENOENT
 * Context: control thread
 */
int rtb_receiver_stream_info(const struct rtb_receiver *r, uint64_t id,
                             struct rtb_stream_info *info);

/*
 * The receiver's counters (since 0.3)
 *
 * Context: control thread
 */
void rtb_receiver_counters(const struct rtb_receiver *r,
                           struct rtb_receiver_counters *c);

/*
 * Stop receiving (since 0.3): the socket closes (its group is left) and
 * the net thread ends; each stream plays out what it holds and leaves as
 * the engine is polled (on_removed, on_ended). With drain_ms, wait for
 * that here (polling the engine's mixer: the engine must run), at most
 * drain_ms: until the buffers have played and the recordings stopped
 * growing. Stopping a stopped receiver closes nothing more; with drain_ms
 * it waits so for what its streams still hold (as an application does
 * for receivers stopped before, at its exit).
 *
 * Context: control thread
 */
void rtb_receiver_stop(struct rtb_receiver *r, unsigned drain_ms);

/*
 * Let every stream go and finalize its recording (since 0.3): the
 * receiver stops (rtb_receiver_stop), each stream plays out what it holds
 * (or, the engine stopped, is handed back at once), leaves (on_removed)
 * and ends once its recording is finalized, waited for (on_ended); a
 * recording the disk did not finalize in time is said. Then only the
 * counters, rtb_receiver_port and rtb_receiver_destroy remain of use.
 * Finishing a finished receiver does nothing more.
 *
 * Pre: as rtb_receiver_destroy
 * Return: 0, or -EIO when a recording failed over the receiver's life
 *         (record_failed)
 * Context: control thread
 */
int rtb_receiver_finish(struct rtb_receiver *r);

/*
 * Fill cfg's stream settings from an SDP (RFC 8866) that describes one
 * audio stream, as `rtbridge sdp` and other RTP tools write it (since
 * 0.3): listen (its port, on its multicast group or on any address of
 * its family), codec, rate, channels, pt, red_pt, ulpfec_pt, and an
 * a=crypto key (into key, up to 30 bytes, with srtp_key_len and
 * srtp_suite); the other fields are left as they are. The strings cfg
 * points to are kept in buf (len bytes; 64 are enough).
 *
 * Return: 0, -EINVAL (not an SDP of one audio stream rtbridge plays, or
 *         RTP/SAVP without a key it takes) or -ENOBUFS, with one line in
 *         why (why_len bytes; may be NULL)
 * Context: any thread
 */
int rtb_receiver_config_sdp(struct rtb_receiver_config *cfg, const char *sdp,
                            char *buf, size_t len, uint8_t key[30], char *why,
                            size_t why_len);

/*
 * Finish (rtb_receiver_finish) and free the receiver. Close the socket
 * and the net thread; every stream leaves (on_removed)
 * once it has played out and the mixer has handed it back, and its
 * recording is finalized (waited for)
 *
 * Pre: the engine is stopped, or keeps running until this returns
 *      (RTB_CLOCK_EXTERNAL: the application keeps calling
 *      rtb_engine_process); not called from the receiver's own callback
 * Context: control thread
 */
void rtb_receiver_destroy(struct rtb_receiver *r);

#ifdef __cplusplus
}
#endif

#endif
