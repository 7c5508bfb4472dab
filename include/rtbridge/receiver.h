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
 * what goes wrong as it does, one line on stderr prefixed "rtbridge
 * recv:" (a port that cannot be bound, a stream that cannot be set up or
 * recorded, once per kind of failure), besides the `why` and the return
 * codes below.
 */
#ifndef RTBRIDGE_RECEIVER_H
#define RTBRIDGE_RECEIVER_H

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

/* A stream: one sender (SSRC) heard by a receiver. */
struct rtb_stream_info {
	uint64_t id;             /* unique for the receiver's life (an SSRC that
	                            leaves and comes back is another stream) */
	uint32_t ssrc;           /* its RTP SSRC */
	char from[64];           /* its address, "ADDR:PORT" */
	const char *record_path; /* its recording (record_dir), or NULL */
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
	                              audio, red_pt): not in lost */
};

typedef void rtb_stream_fn(void *arg, struct rtb_receiver *r,
                           const struct rtb_stream_info *s);
typedef void rtb_stream_stats_fn(void *arg, struct rtb_receiver *r,
                                 const struct rtb_stream_info *s,
                                 const struct rtb_stream_stats *st);

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
	               0: none (RED's type is a dynamic one, never 0) */
};

/*
 * Make a receiver on the engine: its net thread, its socket bound
 *
 * Pre: the engine runs at 48000 Hz with 1 or more channels, and the
 *      stream's channels are 1 or the engine's
 * Return: 0 with *out set, or a negated errno (-EINVAL: a bad setting;
 *         -EADDRINUSE ...) with one line in why (len bytes; may be NULL)
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
 * Close the socket and the net thread; every stream leaves (on_removed)
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
