/*
 * Extended RTP sequence numbers (RFC 3550 appendix A.1, A.3)
 *
 * Pure code; see rtpseq.h. Instead of the RFC's "cycles" counter this keeps
 * the highest extended number itself (64 bits) and places every packet
 * relative to it with the signed 16-bit distance, which gives late packets
 * from before a wrap their right (smaller) number for free.
 */
#include "codec/rtpseq.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "codec/rtp.h"

#define RTPSEQ_NONE 0x10000u /* bad_seq value meaning "no jump pending" */

void rtpseq_probe_init(struct rtpseq_probe *p, unsigned min_sequential)
{
	p->max_seq = 0;
	p->run = 0;
	p->need = min_sequential ? min_sequential : 1;
}

int rtpseq_probe_update(struct rtpseq_probe *p, uint16_t seq)
{
	if (p->run > 0 && seq == p->max_seq)
		return RTPSEQ_PROBE_REPEAT;
	if (p->run > 0 && seq == (uint16_t)(p->max_seq + 1)) {
		p->max_seq = seq;
		if (p->run < p->need)
			p->run++;
		return p->run >= p->need ? RTPSEQ_PROBE_VALID
		                         : RTPSEQ_PROBE_WAIT;
	}
	/* The first packet, or one out of sequence: a run starts here (A.1
	   resets the count the same way). */
	bool first = p->run == 0;
	p->max_seq = seq;
	p->run = 1;
	if (p->run >= p->need)
		return RTPSEQ_PROBE_VALID;
	return first ? RTPSEQ_PROBE_WAIT : RTPSEQ_PROBE_RESTART;
}

void rtpseq_init(struct rtpseq *s, unsigned min_sequential)
{
	memset(s, 0, sizeof(*s));
	s->min_sequential = min_sequential;
	s->bad_seq = RTPSEQ_NONE;
	rtpseq_probe_init(&s->probe, min_sequential);
}

/* (Re)start numbering at this packet, extended number ext. */
static void rtpseq_start(struct rtpseq *s, uint16_t seq, uint64_t ext)
{
	s->ext_base = ext;
	s->ext_max = ext;
	s->max_seq = seq;
	s->bad_seq = RTPSEQ_NONE;
	s->received = 1;
	s->received_prior = 0;
	s->expected_prior = 0;
}

int rtpseq_update(struct rtpseq *s, uint16_t seq, uint64_t *ext)
{
	if (!s->started) {
		/* A source is valid once min_sequential packets arrived in
		   sequence (rtpseq_probe); the ones before are dropped. */
		if (rtpseq_probe_update(&s->probe, seq) != RTPSEQ_PROBE_VALID) {
			s->dropped++;
			return -EAGAIN;
		}
		s->started = 1;
		rtpseq_start(s, seq, 0x10000u + seq);
		*ext = s->ext_max;
		return RTPSEQ_FIRST;
	}

	uint16_t udelta = (uint16_t)(seq - s->max_seq);
	if (udelta < RTPSEQ_MAX_DROPOUT) {
		/* In order, possibly after a gap (or a duplicate of the
		   highest, udelta 0). */
		s->ext_max += udelta;
		s->max_seq = seq;
		s->bad_seq = RTPSEQ_NONE;
		s->received++;
		*ext = s->ext_max;
		return RTPSEQ_OK;
	}
	if (udelta <= 0x10000u - RTPSEQ_MAX_MISORDER) {
		/* A big jump: believe it only if the next packet continues
		   from it. Numbering then goes on increasing, so the caller
		   should flush what it holds. */
		if (seq == s->bad_seq) {
			rtpseq_start(s, seq, s->ext_max + udelta);
			s->restarts++;
			*ext = s->ext_max;
			return RTPSEQ_RESTART;
		}
		s->bad_seq = (uint16_t)(seq + 1);
		s->dropped++;
		return -ERANGE;
	}
	/* Late or duplicate, at most RTPSEQ_MAX_MISORDER behind: ext_max is
	   at least 65536, so this stays positive. */
	s->received++;
	*ext = (uint64_t)((int64_t)s->ext_max + rtp_seq_diff(seq, s->max_seq));
	return RTPSEQ_OK;
}

uint64_t rtpseq_expected(const struct rtpseq *s)
{
	if (!s->started || s->received == 0)
		return 0;
	return s->ext_max - s->ext_base + 1;
}

int64_t rtpseq_lost(const struct rtpseq *s)
{
	return (int64_t)rtpseq_expected(s) - (int64_t)s->received;
}

unsigned rtpseq_fraction_lost(struct rtpseq *s)
{
	uint64_t expected = rtpseq_expected(s);
	uint64_t expected_interval = expected - s->expected_prior;
	uint64_t received_interval = s->received - s->received_prior;

	s->expected_prior = expected;
	s->received_prior = s->received;
	if (expected_interval == 0 || received_interval >= expected_interval)
		return 0;
	uint64_t lost = expected_interval - received_interval;
	uint64_t f = (lost << 8) / expected_interval;
	return f > 255 ? 255 : (unsigned)f;
}
