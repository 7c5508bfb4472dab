/*
 * netstream_fec: RFC 5109 ULPFEC on the receive side of a stream (see
 * netstream_fec.h)
 *
 * Everything but init/clear runs on the net thread, per datagram, in the
 * memory netstream_fec_init allocated. Work per datagram is bounded: an
 * FEC packet looks at its (at most 48) packets once, a media packet at
 * the NETSTREAM_FEC_PENDING waiting FEC packets. A rebuilt packet goes to
 * the audio thread exactly as a RED copy does: a PACKET_RECOVERED record
 * holding its payload alone, which the jitter buffer takes only into an
 * empty slot still ahead of playout, never measured (it waits for none:
 * no latency is added for FEC, lost or not).
 */
#include "bridge/net/netstream_fec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/netstream.h"
#include "codec/rtp.h"
#include "codec/ulpfec.h"

int netstream_fec_init(struct netstream_fec *f, size_t cap)
{
	memset(f, 0, sizeof(*f));
	f->cap = cap;
	f->media = malloc(NETSTREAM_FEC_SLOTS * cap);
	f->pend = malloc(NETSTREAM_FEC_PENDING * cap);
	f->scratch = malloc(cap);
	if (!f->media || !f->pend || !f->scratch) {
		netstream_fec_clear(f);
		return -ENOMEM;
	}
	return 0;
}

void netstream_fec_clear(struct netstream_fec *f)
{
	free(f->media);
	free(f->pend);
	free(f->scratch);
	f->media = f->pend = f->scratch = NULL;
}

void netstream_fec_reset(struct netstream_fec *f)
{
	memset(f->m, 0, sizeof(f->m));
	memset(f->p, 0, sizeof(f->p));
	f->ref_have = false;
	f->step = 0;
}

uint64_t netstream_fec_number(struct netstream *s, uint64_t wire, uint32_t ts)
{
	struct netstream_fec *f = &s->fec;

	if (!s->cfg.ulpfec)
		return wire;
	if (!f->ref_have) {
		f->ref_have = true;
		f->ref_wire = wire;
		f->ref_media = wire;
		f->ref_ts = ts;
		return wire;
	}
	int64_t g = (int64_t)(wire - f->ref_wire);
	int64_t dt = rtp_ts_diff(ts, f->ref_ts);
	int64_t k = g; /* every wire number a media packet */
	if (g == 1 && dt > 0 && dt <= INT32_MAX)
		f->step = (uint32_t)dt; /* neighbours on the wire: one packet */
	if (f->step && dt % f->step == 0) {
		int64_t q = dt / f->step;
		if ((g > 0 && q >= 1 && q <= g) || (g < 0 && q <= -1 && q >= g))
			k = q;
	}
	uint64_t media = f->ref_media + (uint64_t)k;
	if (g > 0) {
		f->ref_wire = wire;
		f->ref_media = media;
		f->ref_ts = ts;
	}
	return media;
}

/* The media slot holding wire number q, or NULL. */
static const struct netstream_fec_slot *
netstream_fec_slot(const struct netstream_fec *f, uint64_t q)
{
	const struct netstream_fec_slot *m = &f->m[q % NETSTREAM_FEC_SLOTS];

	return m->len && m->wire == q ? m : NULL;
}

static void netstream_fec_keep(struct netstream_fec *f, uint64_t wire,
                               const uint8_t *buf, size_t len)
{
	struct netstream_fec_slot *m = &f->m[wire % NETSTREAM_FEC_SLOTS];

	if (len == 0 || len > f->cap)
		return;
	memcpy(f->media + (wire % NETSTREAM_FEC_SLOTS) * f->cap, buf, len);
	m->wire = wire;
	m->len = (uint32_t)len;
}

/* Queue the rebuilt datagram (len bytes in scratch) numbered q. */
static void netstream_fec_emit(struct netstream *s, uint64_t q, size_t len,
                               uint32_t ssrc, uint64_t arrival_ns)
{
	struct netstream_fec *f = &s->fec;
	struct rtp_header h;
	const uint8_t *payload;
	size_t plen;

	if (rtp_parse(f->scratch, len, &h, &payload, &plen) < 0 ||
	    h.pt != s->cfg.pt || h.ssrc != ssrc || plen == 0) {
		netstream__count(&s->rx_invalid);
		return;
	}
	struct packet *p = netstream_packet_get(s, plen);
	if (!p) {
		netstream__count(&s->rx_dropped);
		return;
	}
	if (netstream__seen(s, q)) {
		netstream_packet_return(s, p);
		return;
	}
	netstream__fill(p, &h, payload, plen, arrival_ns);
	p->ext_seq = netstream_fec_number(s, q, h.ts);
	p->flags = PACKET_RECOVERED;
	if (netstream_push(s, p) < 0) {
		netstream__unsee(s, q);
		return;
	}
	netstream__count(&s->rx_fec_recovered);
	netstream_fec_keep(f, q, f->scratch, len);
}

enum { FEC_DONE, FEC_WAIT };

/* Use the FEC payload (len bytes) of the FEC packet numbered wire.
   Return: FEC_WAIT while two or more of its packets are missing, else
   FEC_DONE (one rebuilt, none missing, or nothing it can do). */
static int netstream_fec_use(struct netstream *s, const uint8_t *fec,
                             size_t len, uint64_t wire, uint32_t ssrc,
                             uint64_t arrival_ns)
{
	struct netstream_fec *f = &s->fec;
	const uint8_t *pkts[ULPFEC_SPAN_LONG];
	size_t lens[ULPFEC_SPAN_LONG], n = 0;
	struct ulpfec_info info;
	unsigned absent = 0;
	uint64_t miss = 0;

	if (ulpfec_parse(fec, len, &info) < 0)
		return FEC_DONE;
	for (unsigned k = 0; k < ULPFEC_SPAN_LONG; k++) {
		if (!(info.mask & ULPFEC_BIT(k)))
			continue;
		/* Its wire number, extended next to the FEC packet's. */
		int16_t d =
		        (int16_t)(uint16_t)(info.sn_base + k - (uint16_t)wire);
		if (d < 0 && (uint64_t)-d > wire)
			return FEC_DONE;
		uint64_t q = wire + (uint64_t)(int64_t)d;
		const struct netstream_fec_slot *m = netstream_fec_slot(f, q);
		if (m) {
			pkts[n] = f->media + (q % NETSTREAM_FEC_SLOTS) * f->cap;
			lens[n++] = m->len;
		} else {
			absent++;
			miss = q;
		}
	}
	if (absent != 1)
		return absent ? FEC_WAIT : FEC_DONE;
	if (netstream__was_seen(s, miss))
		return FEC_DONE; /* it came (not kept): nothing to rebuild */
	int r = ulpfec_recover(&info, (uint16_t)miss, ssrc, pkts, lens, n,
	                       f->scratch, f->cap);
	if (r < 0) {
		netstream__count(&s->rx_invalid);
		return FEC_DONE;
	}
	netstream_fec_emit(s, miss, (size_t)r, ssrc, arrival_ns);
	return FEC_DONE;
}

void netstream_fec_media(struct netstream *s, uint64_t wire, const uint8_t *buf,
                         size_t len, uint64_t arrival_ns)
{
	struct netstream_fec *f = &s->fec;

	netstream_fec_keep(f, wire, buf, len);
	for (unsigned i = 0; i < NETSTREAM_FEC_PENDING; i++) {
		struct netstream_fec_slot *p = &f->p[i];
		if (!p->len)
			continue;
		/* Too old for the window: its packets are gone. */
		if (wire > p->wire + NETSTREAM_FEC_SLOTS) {
			p->len = 0;
			continue;
		}
		const uint8_t *fec = f->pend + i * f->cap;
		if (netstream_fec_use(s, fec, p->len, p->wire, f->p_ssrc[i],
		                      arrival_ns) == FEC_DONE)
			p->len = 0;
	}
}

int netstream_fec_receive(struct netstream *s, const uint8_t *buf, size_t len,
                          uint64_t wire, uint64_t arrival_ns)
{
	struct netstream_fec *f = &s->fec;
	struct rtp_header h;
	const uint8_t *payload;
	size_t plen;
	struct ulpfec_info info;

	if (rtp_parse(buf, len, &h, &payload, &plen) < 0 ||
	    ulpfec_parse(payload, plen, &info) < 0 || plen > f->cap) {
		netstream__count(&s->rx_invalid);
		return -EBADMSG;
	}
	netstream__count(&s->rx_fec);
	if (netstream_fec_use(s, payload, plen, wire, h.ssrc, arrival_ns) ==
	    FEC_DONE)
		return 0;
	/* Two or more missing: wait for them, in place of the oldest. */
	unsigned i = f->p_next;
	f->p_next = (i + 1) % NETSTREAM_FEC_PENDING;
	memcpy(f->pend + i * f->cap, payload, plen);
	f->p[i].wire = wire;
	f->p[i].len = (uint32_t)plen;
	f->p_ssrc[i] = h.ssrc;
	return 0;
}
