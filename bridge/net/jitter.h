/*
 * jitter: the receiver's jitter buffer for one RTP stream
 *
 * Pure code, no threads, no clock of its own: the caller passes times in
 * (ns, the clock packets were stamped with). Packets are held in a ring of
 * slots indexed by extended sequence number modulo the capacity, and handed
 * out in sequence order. Each slot remembers whether its packet was played
 * or concealed, so a copy or a straggler arriving afterwards is dropped
 * (duplicate or late) and never played twice.
 *
 * Timing: the buffer maps RTP time to local time. For every packet it
 * measures the transit time (arrival - RTP time); the floor of those
 * transits, fitted as a straight line (clockfit.h), is the map: media time
 * ts arrives at the earliest when the line says, and its slope is the
 * sender's clock drift against ours, estimated from the arrival process
 * alone. A packet with timestamp ts is due for playout at floor(ts) +
 * target + period, where period is how often the consumer looks (its
 * callback period: a packet arriving between two looks waits for the next
 * one). The target delay is fixed, or adaptive (jtarget.h): a high
 * percentile of the packets' height above the floor + one frame + margin,
 * raised at once, lowered at a limited rate, updated once per pull
 * (jitter_tick); a packet too late for its slot anyway holds it above its
 * own delay for a while. The
 * consumer (netstream) keeps its playout position on that schedule with
 * jitter_error_ns(); this module decides, when the next packet is missing,
 * whether it is lost (its time has come: conceal it and move on) or merely
 * not here yet (the consumer is ahead of the schedule: conceal one frame in
 * its place without consuming it, which grows the buffer).
 *
 * Every packet given to jitter_insert() belongs to the buffer from then on;
 * the ones it drops or flushes go back through the release callback. All
 * memory is allocated in jitter_init(); nothing else allocates.
 */
#ifndef RTB_NET_JITTER_H
#define RTB_NET_JITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/net/clockfit.h"
#include "bridge/net/jtarget.h"
#include "bridge/net/packet.h"

struct jitter;

/* The most slots a buffer may have. */
#define JITTER_MAX_CAPACITY (1u << 16)

/* Called for each packet the buffer drops or flushes. */
typedef void jitter_release_fn(void *arg, struct packet *p);

struct jitter_config {
	int rtp_rate;         /* RTP ticks per second */
	uint32_t frame_ticks; /* nominal packet duration, RTP ticks */
	unsigned capacity;    /* slots, a power of two; 0: from max_ms */
	bool adaptive;        /* false: target = fixed_ms */
	unsigned fixed_ms;    /* target in fixed mode */
	unsigned initial_ms;  /* adaptive: target before any measurement */
	unsigned min_ms;      /* adaptive target limits */
	unsigned max_ms;
	double margin_ms;       /* added to percentile + frame, >= 0 */
	double quantile;        /* of the delay spread, e.g. 0.99 */
	double forget_s;        /* histogram memory (time constant), s */
	double shrink_ms_per_s; /* how fast the target may come down */
	double drop_ms;         /* a target this far above what the spread
	                           asks for drops to it at once (the consumer
	                           skips the excess: netstream's skip_ms); 0:
	                           it always slides down */
	double peak_hold_s;     /* a late packet's delay is covered this long */
	unsigned bin_us;        /* histogram resolution */
	unsigned resync_ms;     /* a timestamp this far off the schedule (twice
	                           in a row) restarts the stream */
	unsigned dry_ms; /* conceal an empty buffer this long, then wait */
	/* Media clock (RFC 7273): RTP time = media clock ns x rtp_rate / 1e9 +
	   media_offset (mod 2^32), the media clock being the system's
	   (CLOCK_REALTIME, or TAI, on every machine alike). sync_ms > 0 plays
	   each RTP time at its media time + sync_ms, whatever the network:
	   receivers whose clocks agree play the same frame at the same time. */
	unsigned sync_ms;      /* 0: no sync (the floor + target schedule) */
	uint32_t media_offset; /* RTP time at media time 0 (mod 2^32) */
};

struct jitter_stats {
	uint64_t received;  /* packets inserted (all of them) */
	uint64_t lost;      /* sequence numbers missing at their playout time
	                       (counted when declared, also while dry: the
	                       consumer decides what a dry run was) */
	uint64_t late;      /* arrived after their slot was played/concealed */
	uint64_t duplicate; /* a copy of a packet held or played */
	uint64_t reordered; /* came after a higher number, still in time */
	uint64_t inserted;  /* concealment frames inserted to grow */
	uint64_t underruns; /* times the buffer ran dry at playout */
	uint64_t resyncs;   /* flushes for a sender restart */
	uint64_t rebuffers; /* restarts after running dry for dry_ms: the
	                       schedule was anchored again on a packet */
	uint64_t invalid;   /* refused: off the schedule, slot clash */
	uint64_t recovered; /* packets restored from redundant copies
	                       (PACKET_RECOVERED) that played; they are not
	                       in received, lost or late */
	uint64_t late_repairs; /* restored ones that came after their slot
	                          was concealed (dropped; they hold the
	                          target up as late packets do) */
	double jitter_ms;   /* RFC 3550 interarrival jitter */
	double target_ms;   /* current target delay */
	double spread_ms;   /* the percentile of the delay spread */
};

/* Results of jitter_insert(). */
enum jitter_verdict {
	JITTER_BUFFERED = 0,
	JITTER_DUPLICATE,
	JITTER_LATE,
	JITTER_RESYNC, /* buffered, after flushing for a restart */
	JITTER_DROPPED,
};

/* What jitter_next() hands out. */
enum jitter_kind {
	JITTER_WAIT = 0, /* nothing to play yet: output silence */
	JITTER_PACKET,   /* out->pkt is the next packet (now the caller's) */
	JITTER_MISSING,  /* conceal out->ticks of audio */
};

struct jitter_out {
	enum jitter_kind kind;
	struct packet *pkt;        /* JITTER_PACKET: owned by the caller now */
	const struct packet *next; /* JITTER_MISSING: the following packet if
	                              held (for FEC), still the buffer's; valid
	                              until the next call */
	uint32_t ticks;            /* nominal RTP ticks this output covers */
	bool restart;              /* first packet of a (re)started stream:
	                              reset the decoder */
	bool insert; /* MISSING that consumes no sequence number */
	bool dry;    /* MISSING for a lost packet while none is held: the
	                stream may have ended, so this concealment is the
	                stream's only if a packet follows (a new stream, or
	                waiting again after dry_ms, says it was not) */
};

/*
 * Defaults: adaptive, 40 ms initial, 0..500 ms, 2 ms margin, 99th percentile,
 * 10 s memory, shrink 1.5 ms/s, peaks held 30 s, 0.5 ms bins, resync 1 s,
 * dry 200 ms
 *
 * Context: any
 */
void jitter_config_default(struct jitter_config *cfg, int rtp_rate,
                           uint32_t frame_ticks);

/*
 * Set up an empty buffer
 *
 * Return: 0, -EINVAL for a bad configuration, -ENOMEM
 * Post: on success clear with jitter_clear()
 * Context: control thread (allocates)
 */
int jitter_init(struct jitter *j, const struct jitter_config *cfg,
                jitter_release_fn *release, void *arg);

/*
 * Release every held packet through the callback and free the memory
 *
 * Context: control thread (frees)
 */
void jitter_clear(struct jitter *j);

/*
 * Take a packet (ext_seq, rtp_ts, arrival_ns and flags must be set)
 *
 * A PACKET_RECOVERED one (a copy from a later packet's redundancy) is
 * taken only into an empty slot ahead of playout, adds nothing to the
 * delay statistics (no latency is added for it), and is otherwise
 * dropped without being counted as late, duplicate or received.
 * Post: p belongs to the buffer: held, or already released
 * Return: a jitter_verdict
 * Context: audio thread, real-time safe
 */
int jitter_insert(struct jitter *j, struct packet *p);

/*
 * The next thing to play at local time now_ns
 *
 * Return: out->kind
 * Context: audio thread, real-time safe
 */
int jitter_next(struct jitter *j, uint64_t now_ns, struct jitter_out *out);

/*
 * While waiting to start: ns until the first held packet is due (0 if due
 * now or playing); INT64_MAX when nothing is held
 *
 * Context: audio thread, real-time safe
 */
int64_t jitter_wait_ns(const struct jitter *j, uint64_t now_ns);

/*
 * How late the playout runs against the schedule: now_ns - due time of the
 * RTP time back_ticks before the next one to be handed out (positive: late)
 *
 * Return: ns; 0 when not playing
 * Context: audio thread, real-time safe
 */
int64_t jitter_error_ns(const struct jitter *j, uint64_t now_ns,
                        int64_t back_ticks);

/*
 * The last handed-out packet really covered `ticks` more than its nominal
 * length (negative: fewer): move the playout position accordingly
 *
 * Context: audio thread, real-time safe
 */
void jitter_adjust(struct jitter *j, int64_t ticks);

/*
 * The sender's packets last `ticks` (learned from what they decode to):
 * from now on a missing packet is concealed for that long, and the
 * schedule's tolerances use it. The configured frame is only the first
 * guess; a receiver cannot know the sender's packet duration in advance.
 *
 * Context: audio thread, real-time safe
 */
void jitter_set_frame(struct jitter *j, uint32_t ticks);

/*
 * The sender's RTP clock runs at `rate` ticks per second, not at the
 * configured one (its timestamps advance by rate / rtp_rate of what its
 * packets decode to): convert the schedule to that clock (the packet last
 * handed out covered its frame on the new clock; the next one stays due
 * when it was) and start the delay statistics afresh (those gathered on
 * the wrong scale mean nothing)
 *
 * Context: audio thread, real-time safe; O(histogram bins)
 */
void jitter_set_clock(struct jitter *j, int rate);

/*
 * Switch to a fixed target (ms > 0) or back to adaptive (0)
 *
 * Context: audio thread, real-time safe
 */
void jitter_set_fixed(struct jitter *j, unsigned ms);

/*
 * The consumer takes packets in every `ns` (its callback period): a packet
 * is seen only at those instants, so everything is due that much later
 * (the playout delay is target + period)
 *
 * Context: audio thread, real-time safe
 */
void jitter_set_period(struct jitter *j, int64_t ns);

/*
 * In sync mode (cfg.sync_ms), once per pull before jitter_next: the media
 * clock minus the local clock, ns (CLOCK_REALTIME - CLOCK_MONOTONIC read
 * together); the schedule follows it, so a step of the system clock moves
 * playout with it, as it moves every other receiver's.
 *
 * Context: audio thread, real-time safe
 */
void jitter_set_media_offset(struct jitter *j, int64_t media_minus_local_ns);

/*
 * Once per pull, before jitter_next: move the adaptive target (raised to
 * the measured spread at once, lowered over the time since the last tick
 * at the shrink rate, or at max_shrink (ns per ns) if that is lower: the
 * consumer says how fast it can follow)
 *
 * Context: audio thread, real-time safe
 */
void jitter_tick(struct jitter *j, uint64_t now_ns, double max_shrink);

/*
 * Return: how fast the target is moving, ns per ns (negative while it
 * shrinks; 0 while it holds or after a rise, which is a step)
 * Context: audio thread
 */
double jitter_target_rate(const struct jitter *j);

/*
 * Return: the sender's clock drift against the local clock, as the slope
 * of the transit floor (parts of one, + = sender fast); 0 before enough
 * packets
 * Context: audio thread
 */
double jitter_drift(const struct jitter *j);

/* Return: whether the next packet to hand out is held (a jitter_next now
   would play it). Context: audio thread */
bool jitter_ready(const struct jitter *j);

/* Return: whether packets are being played out. Context: audio thread */
bool jitter_playing(const struct jitter *j);

/* Return: the current target delay, ms. Context: audio thread */
double jitter_target_ms(const struct jitter *j);

/* Return: packets held. Context: audio thread */
unsigned jitter_held(const struct jitter *j);

/*
 * Copy the counters and estimates
 *
 * Context: audio thread, real-time safe
 */
void jitter_stats(const struct jitter *j, struct jitter_stats *st);

/* Internal state: read it through the functions above. */
struct jitter_slot {
	struct packet *pkt;
	uint64_t seq;   /* extended sequence number this slot last held */
	int64_t ts;     /* extended RTP timestamp of pkt */
	uint8_t state;  /* JITTER_SLOT_* in jitter.c */
	uint32_t epoch; /* the flush it belongs to: older ones are empty */
};

struct jitter {
	struct jitter_config cfg;
	jitter_release_fn *release;
	void *arg;
	struct jitter_slot *slots;
	uint64_t mask;
	int state;         /* idle, priming, playing */
	uint64_t next_seq; /* next sequence number to hand out */
	uint64_t high_seq; /* highest sequence number held or played */
	unsigned held;
	uint32_t epoch; /* current slot epoch (jitter_flush moves it on) */
	int64_t pos_ts; /* extended RTP time of the next frame to hand out */
	int64_t dry_ticks;
	uint64_t dry_seq; /* first number concealed while the buffer was dry */
	/* Timestamp extension and the RTP -> local time map. */
	int64_t ts_ref;  /* extended ts that maps to ts_ref_ns */
	int64_t last_ts; /* extended ts of the latest packet */
	uint32_t last_ts32;
	struct clockfit fit; /* floor of the transits: the RTP -> local map */
	int64_t media_ref;   /* sync: media clock ns of RTP time ts_ref */
	int64_t media_off;   /* sync: media clock - local clock, ns */
	uint64_t last_arrival;
	int64_t last_transit;
	unsigned jumps; /* consecutive packets far off the schedule */
	bool fresh;     /* the next packet handed out starts a stream */
	bool stopped;   /* waiting again after a dry run (not a new stream) */
	struct jtarget tgt;     /* the target delay */
	uint64_t playing_since; /* when playout last started (local ns) */
	int64_t period_ns;      /* consumer's period, added to the delay */
	double frame_ns;
	double jitter_ns;
	struct jitter_stats st;
};

#endif
