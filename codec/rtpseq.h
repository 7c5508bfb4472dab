/*
 * Extended RTP sequence numbers and loss counts for one source (RFC 3550
 * appendix A.1 and A.3)
 *
 * Turns the 16-bit sequence numbers of arriving packets into 64-bit
 * extended numbers that keep growing across wraps, so a jitter buffer can
 * index by them. Late (reordered) packets get the number they had when sent,
 * also across a wrap. A jump of more than RTPSEQ_MAX_DROPOUT ahead, or more
 * than RTPSEQ_MAX_MISORDER behind, drops the packet unless the next one
 * continues from it: then the source is taken to have restarted, and
 * numbering resumes from it (still increasing; the caller should flush).
 *
 * Source validation (A.1) is also available on its own (struct
 * rtpseq_probe): a receiver can hold a new source's first packets apart
 * until it has proved itself, and only then give it a stream (and an
 * rtpseq that numbers from the first held packet).
 *
 * Plain structs, no allocation: owned by the one thread that receives the
 * stream (net or audio thread). Extended numbers start at 65536 + the first
 * sequence number, so a packet reordered ahead of the first one still gets a
 * positive number.
 */
#ifndef RTB_CODEC_RTPSEQ_H
#define RTB_CODEC_RTPSEQ_H

#include <stdint.h>

#define RTPSEQ_MAX_DROPOUT  3000
#define RTPSEQ_MAX_MISORDER 100

/* rtpseq_update() results that accept the packet. */
enum rtpseq_status {
	RTPSEQ_OK = 0,      /* in order, a gap, or late */
	RTPSEQ_FIRST = 1,   /* the first valid packet of the stream */
	RTPSEQ_RESTART = 2, /* the source jumped and was re-synchronised */
};

/* rtpseq_probe_update() results. */
enum rtpseq_probe_status {
	RTPSEQ_PROBE_WAIT = 0,    /* next in sequence, not enough yet */
	RTPSEQ_PROBE_RESTART = 1, /* out of sequence: the run starts again
	                             here (this packet counts as its first) */
	RTPSEQ_PROBE_REPEAT = 2,  /* the number of the run's last packet
	                             again (a duplicate): the run is kept */
	RTPSEQ_PROBE_VALID = 3,   /* min_sequential packets in sequence: the
	                             source is valid from this packet on */
};

/* RFC 3550 A.1 probation of a new source: min_sequential packets with
   consecutive sequence numbers (modulo 2^16) make it valid. */
struct rtpseq_probe {
	uint16_t max_seq; /* the run's last sequence number */
	unsigned run;     /* packets in the current run; 0 before any */
	unsigned need;    /* min_sequential, at least 1 */
};

struct rtpseq {
	uint64_t ext_max;  /* highest extended number accepted */
	uint64_t ext_base; /* extended number of the first packet */
	uint16_t max_seq;  /* low 16 bits of ext_max */
	uint32_t bad_seq;  /* expected next after a big jump; > 0xffff = none */
	struct rtpseq_probe probe; /* probation (min_sequential > 1) */
	unsigned min_sequential;
	int started;             /* valid: numbering has begun */
	uint64_t received;       /* packets accepted (duplicates included) */
	uint64_t expected_prior; /* A.3 interval state */
	uint64_t received_prior;
	uint64_t restarts; /* re-synchronisations */
	uint64_t dropped;  /* packets refused (jumps, probation) */
};

/*
 * Start the probation of a new source
 *
 * min_sequential: packets in sequence that make it valid (RFC 3550 uses
 * 2); 0 counts as 1 (valid at its first packet).
 * Context: any
 */
void rtpseq_probe_init(struct rtpseq_probe *p, unsigned min_sequential);

/*
 * Account one packet of a source on probation
 *
 * A packet that does not follow the run's last one starts a new run (the
 * source may have restarted, or the packets were reordered); one that
 * repeats the last number leaves the run as it is. Once valid, the next
 * in sequence is RTPSEQ_PROBE_VALID again.
 *
 * Return: an rtpseq_probe_status
 * Context: the source's receiving thread, real-time safe
 */
int rtpseq_probe_update(struct rtpseq_probe *p, uint16_t seq);

/*
 * Start tracking a source
 *
 * min_sequential: in-order packets required before the source is valid
 * (RFC 3550 uses 2); 0 or 1 accepts the first packet at once.
 * Context: any
 */
void rtpseq_init(struct rtpseq *s, unsigned min_sequential);

/*
 * Account one arriving packet
 *
 * Return: an rtpseq_status (>= 0) with *ext set to the packet's extended
 *         sequence number; -EAGAIN while the source is in probation, or
 *         -ERANGE for a jump awaiting confirmation (packet dropped, *ext
 *         untouched)
 * Context: the stream's receiving thread, real-time safe
 */
int rtpseq_update(struct rtpseq *s, uint16_t seq, uint64_t *ext);

/*
 * Packets expected since the first one (highest - first + 1), 0 before any
 *
 * Context: the stream's receiving thread
 */
uint64_t rtpseq_expected(const struct rtpseq *s);

/*
 * Cumulative packets lost: expected - received (negative with duplicates)
 *
 * Context: the stream's receiving thread
 */
int64_t rtpseq_lost(const struct rtpseq *s);

/*
 * Fraction lost since the previous call, RFC 3550 A.3, in 1/256 units
 *
 * Return: 0..255 (0 when packets arrived twice or none were expected)
 * Context: the stream's receiving thread
 */
unsigned rtpseq_fraction_lost(struct rtpseq *s);

#endif
