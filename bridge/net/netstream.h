/*
 * netstream: one incoming RTP stream as a source for the mixer
 *
 * Two contexts share it. The net thread (netstream_receive, or
 * netstream_packet_get + netstream_push) owns the packet pools and the
 * sequence tracker: it copies each datagram into a packet record and pushes
 * a pointer to it on an SPSC ring. Records come in a few sizes (classes):
 * a buffer sized for the longest delay it may hold must keep that many
 * packets of the shortest packet time, but only the longer packets need
 * the larger records, so each size class holds as many records as packets
 * of its shortest duration fit in twice the delay. The audio thread (the
 * source's pull) owns everything else: it pops the records into the jitter
 * buffer, plays them out at the target delay, decodes or conceals, resamples,
 * and gives every record back to the pool with pool_return. The control thread
 * creates and destroys it (netstream_init/clear, all allocation happens
 * there) and reads statistics (netstream_stats, a seqlock snapshot
 * published by the audio thread at every pull).
 *
 * Delay and drift. The jitter buffer defines when each RTP time is due
 * (jitter.h) and estimates the sender's clock from the arrival process;
 * the playout controller (driftctl.h) estimates the consumer's clock from
 * the pulls, and sets the resampling ratio once per pull: the drift
 * between the two clocks fed forward, plus a correction of the buffer
 * level (how late the playout position runs against the schedule) and of
 * a sliding target, by time-scaling within a bounded slew, slowly and
 * without clicks (the resampler is varispeed.h: the ratio may change at
 * every pull, and it says exactly how many input frames it took and has
 * not played, which count in the buffer level with the decoded frames not
 * yet taken). Blocks are never dropped or repeated for this. The one
 * fast path grows the buffer when jitter rises: if the next packet is
 * missing while playout is still ahead of the schedule, a frame of
 * concealment is played in its place and the packet is waited for
 * (jitter.h); inserting only where a packet is missing anyway adds no
 * discontinuity of its own. With drift compensation off and the same rate
 * in and out, the resampler is bypassed and the output is the decoded
 * audio, bit for bit. The one fast path the other way: a buffer far
 * above its target (skip_ms: a burst of queued packets at a stream's
 * start, a path that became much faster, a device that stopped pulling
 * for a while) would take seconds to minutes to slew away;
 * playout skips ahead instead, a few packets per pull, decoding and
 * recording them but playing none (counted: skips, skipped_frames).
 *
 * Recording. An optional tap (netstream_set_record) takes the stream's
 * own timeline at the codec's rate, before resampling, whatever the drift
 * compensation does: every decoded packet, and the concealment (or FEC)
 * of every lost packet and of time the sender skipped, in order. Not
 * recorded: the concealment inserted to grow the buffer (it is no part of
 * the sender's timeline), and the concealment played while the buffer is
 * dry (a packet declared lost with none held). The latter is held back in
 * a buffer allocated by netstream_set_record: when a packet follows, it
 * was a loss inside the stream and is written first; when the jitter
 * buffer stops concealing and goes back to waiting (the sender stopped,
 * paused or restarted), it is dropped.
 *
 * Statistics follow the same rule, recorded or not: dry concealment
 * (and any frame inserted while nothing is held) counts as lost packets,
 * concealed or inserted frames and an underrun only once a packet has
 * followed it. The jitter buffer cannot know the future and counts every
 * loss and underrun when it declares it (jitter_stats); netstream keeps
 * the pending dry run apart and subtracts the runs that came to nothing,
 * so the per-second figures, the status line and the summary agree.
 */
#ifndef RTB_NET_NETSTREAM_H
#define RTB_NET_NETSTREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/audio/source.h"
#include "bridge/audio/tap.h"
#include "bridge/msg/pool.h"
#include "bridge/msg/ring.h"
#include "bridge/net/driftctl.h"
#include "bridge/net/jitter.h"
#include "bridge/net/netstream_fec.h"
#include "bridge/net/packet.h"
#include "codec/codec.h"
#include "codec/rtpseq.h"
#include "codec/varispeed.h"

/* Local time in ns, on the clock the packets' arrival times use. */
typedef uint64_t netstream_clock_fn(void *arg);
/* When the consumer's current period was due, on that clock; -1: not
   known. */
typedef int64_t netstream_due_fn(void *arg);

struct netstream_config {
	struct codec_config codec;
	struct jitter_config jitter; /* rtp_rate, frame_ticks: from codec */
	int out_rate;                /* mixer rate, Hz; 0: the codec's rate */
	bool drift;                  /* compensate clock drift by resampling */
	double drift_max_ppm;        /* clamp of the drift estimate */
	double slew_ppm;       /* most the ratio may move beyond the drift */
	double loop_s;         /* time constant of the level correction, s */
	unsigned skip_ms;      /* a buffer this far above the target is shed by
	                          skipping ahead (0: only by time-scaling;
	                          default 10) */
	size_t packet_bytes;   /* datagram room; 0: MTU or one PCM packet */
	unsigned packets;      /* records; 0: from delay and packet times */
	unsigned min_frame_us; /* shortest packet the buffer is sized for (0:
	                          1 ms for PCM, 2.5 ms for Opus, or the
	                          codec's frame if shorter) */
	unsigned min_sequential;   /* rtpseq probation */
	netstream_clock_fn *clock; /* NULL: CLOCK_MONOTONIC */
	void *clock_arg;
	/* The media clock of jitter.sync_ms (ns, on the same clock every
	   receiver reads: the system's); NULL: CLOCK_REALTIME. Called with
	   clock_arg. */
	netstream_clock_fn *media_clock;
	/* The time the consumer's current period stands for, where the
	   consumer knows it (a virtual clock that runs its periods late, in
	   groups: engine_period_due_ns, called with due_arg inside the
	   pull); NULL or -1: the floor fitted under the times clock reads
	   at the pulls (driftctl_tick), which takes a few wake-ups to learn
	   how late a group runs. */
	netstream_due_fn *due;
	void *due_arg;
	/* RFC 2198 redundant audio: datagrams of payload type red_pt carry
	   blocks of payload type pt (the primary, and copies of earlier
	   packets); others are plain packets of type pt. false (the
	   default): every datagram is a plain packet. */
	bool red;
	uint8_t red_pt, pt;
	/* RFC 5109 ULPFEC: datagrams of payload type ulpfec_pt are FEC
	   packets protecting the stream's (netstream_fec.h); false: none. */
	bool ulpfec;
	uint8_t ulpfec_pt;
};

struct netstream_stats {
	uint64_t received; /* packets reaching the jitter buffer */
	uint64_t lost;     /* missing at their playout time, inside the
	                      stream (not after its last packet) */
	uint64_t late;     /* arrived after their playout time */
	uint64_t duplicate;
	uint64_t reordered;
	uint64_t concealed_frames; /* frames made by concealment or FEC,
	                              inserted ones included, dry ones once
	                              a packet followed */
	uint64_t underruns;      /* the buffer ran dry and a packet followed */
	uint64_t resyncs;        /* sender restarts followed */
	uint64_t rebuffers;      /* restarts after running dry (the schedule
	                            anchored again on the next packet) */
	uint64_t skips;          /* times playout jumped ahead to shed a
	                            buffer far above the target */
	uint64_t skipped_frames; /* decoded and recorded, not played */
	uint64_t clock_mismatch; /* the sender's RTP clock was found to run
	                            at another rate than its packets decode
	                            to, and followed (normally 0 or 1) */
	uint64_t decode_errors;  /* payloads the decoder refused */
	uint64_t inserted;       /* frames of concealment inserted to grow
	                            (also in concealed_frames) */
	uint64_t recovered;      /* frames restored from the next packet's
	                            Opus in-band FEC (also in
	                            concealed_frames) */
	uint64_t frames_in;      /* frames decoded or concealed (all of them:
	                            the playout position, codec rate) */
	uint64_t recorded;       /* frames written to the record tap */
	uint64_t frames_out;     /* frames pulled */
	uint64_t rx_dropped;     /* net side: pool empty or ring full */
	uint64_t rx_invalid;     /* net side: not RTP, too big, bad seq */
	uint64_t rx_fec;         /* net side: ULPFEC packets taken */
	double jitter_ms;        /* RFC 3550 interarrival jitter */
	double buffer_ms;  /* current playout delay: target_ms plus how late
	                      playout runs on the schedule (both above the
	                      minimum transit, not counting one pull period) */
	double target_ms;  /* target playout delay (same terms) */
	double spread_ms;  /* measured delay spread percentile */
	double drift_ppm;  /* estimate: sender clock vs the consumer's,
	                      + = sender fast (also without compensation) */
	double sender_ppm; /* its parts: the sender's clock against the */
	double device_ppm; /* local one, and the consumer's (+ = fast) */
	double ratio;      /* input frames consumed per output frame */
	/* Lost packets restored from a later packet's redundant copy (RFC
	   2198 RED) and played: not lost, not in received. */
	uint64_t recovered_packets;
	/* Restored after their slot was concealed (dropped). */
	uint64_t late_repairs;
};

#define NETSTREAM_STATS_WORDS (sizeof(struct netstream_stats) / 8)

/* Sequence numbers remembered by the net thread to drop copies: 1024. */
#define NETSTREAM_SEEN_WORDS 16

/* Record size classes of a stream (netstream_init picks them). */
#define NETSTREAM_CLASSES 3
/* The shortest packet time supported (AES67's smallest), us. */
#define NETSTREAM_MIN_FRAME_US 125
/* The longest delay a stream may hold, ms. */
#define NETSTREAM_MAX_DELAY_MS 10000

struct netstream_class {
	struct pool pool;
	void *mem;
	size_t cap;   /* datagram bytes a record holds */
	size_t count; /* records */
};

struct netstream {
	struct source src; /* first: the mixer's handle */
	struct netstream_config cfg;
	/* Net thread: the record pools, smallest first. */
	struct netstream_class cls[NETSTREAM_CLASSES];
	unsigned ncls;
	unsigned hold_ms; /* the longest delay the buffer was sized for */
	struct rtpseq seq;
	_Atomic uint64_t rx_dropped, rx_invalid, rx_duplicate;
	/* The sequence numbers seen lately, a bit each, up to seen_hi: a
	   copy is dropped here, before it takes a record or costs the audio
	   thread anything. */
	uint64_t seen[NETSTREAM_SEEN_WORDS];
	uint64_t seen_hi;
	uint64_t seen_lo; /* the first number since the window was reset */
	bool seen_any;
	/* RED: the last packet's extended number and timestamp, and the RTP
	   ticks from one packet to the next, learned from them (0: not yet):
	   a redundant block's timestamp offset / red_step is how many
	   packets back it belongs. */
	uint64_t red_seq;
	uint32_t red_ts;
	uint32_t red_step;
	bool red_have;
	/* Net -> audio. */
	struct ring ring;
	void *ring_mem;
	/* Audio thread. */
	struct jitter jit;
	struct codec_decoder dec;
	struct varispeed rs; /* the drift resampler (varispeed.h) */
	bool resample;       /* false: bypass, rs unused */
	double nominal;      /* out_rate / codec rate */
	float *decbuf;
	size_t dec_cap, dec_off, dec_avail; /* frames */
	struct driftctl ctl; /* the ratio, and the consumer's clock */
	bool skipping;       /* skipped ahead at the previous pull */
	/* The RTP clock check: the previous packet played, and how many in
	   a row advanced their timestamps by the same wrong ratio. */
	bool clk_have;
	uint64_t clk_seq;
	uint32_t clk_ts;
	int64_t clk_ticks; /* what the previous packet decoded to */
	double clk_ratio;
	unsigned clk_votes;
	struct tap *rec; /* the stream's timeline goes here; NULL: none */
	float *hold;     /* dry concealment held back (recording only) */
	size_t hold_cap; /* frames */
	size_t hold_n;   /* frames held */
	/* The pending dry run: jitter's losses and underruns, and the frames
	   concealed (inserted ones among them) while nothing was held. */
	uint64_t dry_lost, dry_underruns, dry_frames, dry_inserted;
	/* Jitter's counts that belonged to dry runs no packet followed. */
	uint64_t void_lost, void_underruns;
	struct netstream_stats st;
	/* Control -> audio: requested fixed latency, ms (0 adaptive, -1
	   none). */
	_Atomic int req_ms;
	/* Audio -> control: the stats snapshot behind a sequence lock. */
	_Atomic unsigned snap_seq;
	_Atomic uint64_t snap[NETSTREAM_STATS_WORDS];
	/* Control thread: the mixer handed the source back. */
	bool released;
	/* Net thread: ULPFEC (cfg.ulpfec), and its counts: FEC packets
	   taken, and lost packets they rebuilt and queued. */
	struct netstream_fec fec;
	_Atomic uint64_t rx_fec, rx_fec_recovered;
};

/* The pool a record belongs to: the class of its size. Context: any */
static inline struct pool *netstream__pool_of(struct netstream *s,
                                              const struct packet *p)
{
	unsigned k = 0;

	while (k + 1 < s->ncls && s->cls[k].cap != p->cap)
		k++;
	return &s->cls[k].pool;
}

/*
 * Defaults for a codec: adaptive delay (jitter_config_default), drift
 * compensation on with SRC_SINC_FASTEST, 1000 ppm drift, 2000 ppm slew, 1 s
 * loop, monotonic clock
 *
 * Context: any
 */
void netstream_config_default(struct netstream_config *cfg,
                              enum codec_kind kind);

/*
 * The low-latency mode (recv --latency low) on a configuration whose
 * jitter part is set up: the adaptive target is the delay spread's
 * percentile + one frame + 0.25 ms (instead of 2 ms), the spread measured
 * in 50 us bins (instead of 500), starting from 2 ms (instead of 40: it
 * rises at once where the path needs more). The limits (min_ms, max_ms)
 * and everything else stay. On a clean path with 1 ms packets the target
 * comes down to about 1.3 ms. A packet too late for its slot holds the
 * target above its delay for NETSTREAM_LOW_PEAK_HOLD_S (instead of 30 s);
 * a target NETSTREAM_LOW_DROP_MS or more above what the spread asks for
 * then drops at once, and the buffer's excess is skipped (skip_ms).
 *
 * Context: any
 */
void netstream_config_low_latency(struct netstream_config *cfg);

/* How long a late packet holds the low-latency target up, s. */
#define NETSTREAM_LOW_PEAK_HOLD_S 2.0
/* A low-latency target this far above what it needs drops at once, ms. */
#define NETSTREAM_LOW_DROP_MS 3

/*
 * Check a configuration as netstream_init would, without allocating
 *
 * Return: 0, or -EINVAL with why (len bytes, may be NULL) set to one line
 *         saying what is wrong ("the smallest delay, 800 ms
 *         (--min-latency), is above the largest, 500 ms (--max-latency)")
 * Context: any
 */
int netstream_config_check(const struct netstream_config *cfg, char *why,
                           size_t len);

/*
 * Set up a stream: decoder, jitter buffer, resampler, pools, ring
 *
 * Return: 0, -EINVAL for a bad configuration, -ENOMEM
 * Post: on success s->src is ready to link into the mixer; clear with
 *       netstream_clear() once the mixer has handed it back (its release
 *       sets s->released)
 * Context: control thread (allocates)
 */
int netstream_init(struct netstream *s, const struct netstream_config *cfg);

/*
 * Record the stream's own timeline to `rec` (NULL: not recorded): decoded
 * packets and the concealment of losses inside the stream, at the codec's
 * rate, before resampling (see the top of this file). Allocates, on the
 * first call with a tap, the buffer that holds back dry concealment:
 * jitter dry_ms of frames, plus the longest single output.
 *
 * Pre: the audio thread does not pull s (not linked yet); rec->channels
 *      is the stream's channel count (cfg.codec.channels)
 * Return: 0, -EINVAL for a channel count that differs, -ENOMEM
 * Context: control thread (allocates)
 */
int netstream_set_record(struct netstream *s, struct tap *rec);

/*
 * Free everything; packets still in the ring or the buffer go back first
 *
 * Pre: no other thread uses s
 * Context: control thread (frees)
 */
void netstream_clear(struct netstream *s);

/*
 * Receive one datagram: parse it, number it, copy it into a record and
 * queue it for the audio thread
 *
 * With cfg.red, a datagram of payload type red_pt is split (RFC 2198): its
 * primary block is queued as the packet itself, and each redundant block
 * whose packet (found by its timestamp offset: so many packet durations
 * back) was not seen lately, is not older than the first packet seen, and
 * carries payload type pt is queued too, as a PACKET_RECOVERED record. A
 * copy of a packet that arrived costs nothing more than this check: no
 * record, no ring message.
 *
 * With cfg.ulpfec, a datagram of payload type ulpfec_pt is an RFC 5109
 * FEC packet (netstream_fec.h): it takes no record itself, and may
 * rebuild a lost packet of its group as a PACKET_RECOVERED record; media
 * packets are numbered without the FEC packets' sequence numbers.
 *
 * Return: 0 queued (with RED: also a copy of a packet seen lately whose
 *         copies restored another; with ULPFEC: an FEC packet taken); -ENOBUFS
 * no free record or ring full (counted rx_dropped); -EALREADY a copy of a
 * packet seen lately (counted with the duplicates); -EMSGSIZE, -EBADMSG,
 *         -EPROTONOSUPPORT, or rtpseq's -EAGAIN/-ERANGE (counted
 *         rx_invalid; with RED also a malformed RED payload or a primary
 *         of another payload type); the datagram is dropped
 * Context: net thread, real-time safe
 */
int netstream_receive(struct netstream *s, const uint8_t *buf, size_t len,
                      uint64_t arrival_ns);

/*
 * Lower level: take an empty record with room for `len` bytes (its cap is
 * set; the smallest class that fits, or a larger one when that is empty)
 * ...
 *
 * Return: a record owned by the caller, or NULL when none is free
 * Context: net thread, real-time safe
 */
struct packet *netstream_packet_get(struct netstream *s, size_t len);

/*
 * Give back a record taken with netstream_packet_get (or popped from the
 * ring) from any thread but the net thread's own path
 *
 * Context: audio or control thread, real-time safe
 */
void netstream_packet_return(struct netstream *s, struct packet *p);

/*
 * ... and queue a filled one (ext_seq, flags, arrival_ns set)
 *
 * Return: 0, or -ENOBUFS if the ring is full (the record is put back)
 * Context: net thread, real-time safe
 */
int netstream_push(struct netstream *s, struct packet *p);

/*
 * Write `frames` frames of audio (the source's pull)
 *
 * Return: frames (silence while waiting to start or after the stream
 *         ended)
 * Context: audio thread, real-time safe
 */
int netstream_pull(struct netstream *s, float *out, size_t frames);

/*
 * Ask for a fixed playout delay (ms > 0, at most what the stream was sized
 * for: the configured maximum or fixed delay) or adaptive (0); applied at
 * the next pull
 *
 * Context: any thread
 */
void netstream_set_latency(struct netstream *s, unsigned ms);

/*
 * Copy the statistics last published by the audio thread
 *
 * Return: 0, or -EAGAIN if the audio thread kept updating them
 * Context: any thread
 */
int netstream_stats(struct netstream *s, struct netstream_stats *st);

#endif
