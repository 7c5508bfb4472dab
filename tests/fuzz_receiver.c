/*
 * libFuzzer target: the receiver's datagram path — source validation,
 * the probation table, validation into spare or pending streams,
 * conflicts and takeovers from other addresses, superseding — on an
 * arbitrary script
 *
 * Each input starts a fresh receiver (max streams 1..4, probation 1..3
 * packets, no socket) with two spare streams, then runs a script. Opcodes
 * (one byte, then arguments):
 *   0: an RTP datagram built from arguments: SSRC (one of 6, uint8),
 *      sender port (one of 3, uint8), sequence step (int8), arrival step
 *      (uint8 ms), payload bytes (uint8);
 *   1: a raw datagram: port (uint8), length (uint8), then that many bytes;
 *   2: take the new-stream records control would read;
 *   3: an RFC 2198 RED datagram (the receiver and its streams take payload
 *      type 100 as RED of 96): SSRC, port, sequence and arrival steps as
 *      for 0, then a block count (0..3 copies) and for each copy its
 *      timestamp offset (uint16, any: placed or not) and length (uint8),
 *      then the primary's length.
 * Plain datagrams (0, 1) go to the same RED-aware streams.
 * After every datagram each one must be counted exactly once (in a
 * counter, or held by the probation table), the probation table's
 * buffers must all be accounted for, and the streams' queues must hold
 * only what was handed to them. Built only with -DRTB_FUZZ=ON (clang).
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/receiver.h"
#include "codec/red.h"
#include "codec/ulpfec.h"
#include "codec/rtp.h"
#include "tests/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(struct receiver *r, struct netstream *ns, size_t nns)
{
	struct receiver_counters c;

	receiver_counters(r, &c);
	uint64_t sum = c.accepted + c.malformed + c.too_big + c.unknown_pt +
	               c.not_allowed + c.over_max_streams + c.pending +
	               c.refused + c.stream_dropped + c.notify_dropped +
	               c.probation_dropped + c.ssrc_conflicts + c.held;
	if (sum != c.datagrams)
		abort();
	unsigned held = 0;
	for (unsigned k = 0; k < r->sv.nentries; k++)
		held += r->sv.e[k].n;
	if (held != c.held || held + r->sv.nfree != r->sv.ndgrams)
		abort();
	if (r->present > r->o.max_streams)
		abort();
	uint64_t queued = 0;
	for (size_t k = 0; k < nns; k++)
		queued += ring_count(&ns[k].ring);
	/* A RED datagram queues its primary and at most a record per
	   copy. */
	if (queued > c.accepted * RED_MAX_BLOCKS)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t ssrcs[6] = {1, 2, 3, 0xdeadbeef, 0x7fffffff, 9};
	struct fz_in in = {data, size};
	struct receiver_opts o;
	struct receiver r;
	struct netstream ns[2];
	struct netstream_config cfg;
	uint16_t seq[6] = {0};
	uint8_t buf[1600], pay[256], red[1400];
	uint64_t now = 1000000000ull;

	memset(&o, 0, sizeof(o));
	o.listen.ss_family = AF_INET;
	o.pt = 96;
	o.max_streams = 1 + fz_byte(&in) % 4;
	o.min_sequential = 1 + fz_byte(&in) % 3;
	o.max_datagram = 1500;
	o.red = true;
	o.red_pt = 100;
	o.ulpfec = true;
	o.ulpfec_pt = 101;
	if (receiver_init(&r, &o) < 0)
		abort();
	netstream_config_default(&cfg, CODEC_L16);
	cfg.drift = false;
	cfg.packets = 8;
	cfg.red = true;
	cfg.red_pt = 100;
	cfg.ulpfec = true;
	cfg.ulpfec_pt = 101;
	cfg.pt = 96;
	for (int k = 0; k < 2; k++) {
		if (netstream_init(&ns[k], &cfg) < 0 ||
		    receiver_give_spare(&r, &ns[k]) < 0)
			abort();
	}
	memset(pay, 0x55, sizeof(pay));
	while (in.n) {
		unsigned op = fz_byte(&in) % 5;
		struct sockaddr_in from;
		memset(&from, 0, sizeof(from));
		from.sin_family = AF_INET;
		from.sin_addr.s_addr = htonl(0x7f000001);
		if (op == 2) {
			struct receiver_new nw;
			while (receiver_poll_new(&r, &nw))
				;
			continue;
		}
		if (op == 4) {
			/* An FEC packet over up to 8 packets of a source
			   around its current number, some of them sent. */
			unsigned si = fz_byte(&in) % 6;
			from.sin_port =
			        htons((uint16_t)(40000 + fz_byte(&in) % 3));
			struct ulpfec_builder b;
			uint8_t m[300];
			ulpfec_begin(&b, red, sizeof(red));
			unsigned np = 1 + fz_byte(&in) % 8;
			uint16_t base = (uint16_t)(seq[si] - fz_byte(&in) % 8);
			for (unsigned k = 0; k < np; k++) {
				struct rtp_header h = {
				        .version = RTP_VERSION,
				        .pt = 96,
				        .ssrc = ssrcs[si],
				        .seq = (uint16_t)(base + k),
				        .ts = (uint32_t)(base + k) * 240u};
				int n = rtp_write(&h, pay,
				                  1 + fz_byte(&in) % 200, m,
				                  sizeof(m));
				if (n < 0 || ulpfec_add(&b, m, (size_t)n) < 0)
					abort();
				if (fz_byte(&in) & 1)
					receiver_datagram(
					        &r, m, (size_t)n,
					        (struct sockaddr *)&from, now);
			}
			int w = ulpfec_finish(&b);
			seq[si] = (uint16_t)(base + np);
			struct rtp_header h = {.version = RTP_VERSION,
			                       .pt = 101,
			                       .ssrc = ssrcs[si],
			                       .seq = seq[si],
			                       .ts = (uint32_t)(base + np - 1) *
			                             240u};
			int n = rtp_write(&h, red, (size_t)w, buf, sizeof(buf));
			if (w < 0 || n < 0)
				abort();
			receiver_datagram(&r, buf, (size_t)n,
			                  (struct sockaddr *)&from, now);
			fz_check(&r, ns, 2);
			continue;
		}
		if (op == 0 || op == 3) {
			unsigned si = fz_byte(&in) % 6;
			from.sin_port =
			        htons((uint16_t)(40000 + fz_byte(&in) % 3));
			seq[si] = (uint16_t)(seq[si] + (int8_t)fz_byte(&in));
			now += fz_byte(&in) * 1000000ull;
			struct rtp_header h;
			memset(&h, 0, sizeof(h));
			h.version = RTP_VERSION;
			h.pt = 96;
			h.ssrc = ssrcs[si];
			h.seq = seq[si];
			h.ts = (uint32_t)seq[si] * 240u;
			const uint8_t *pl = pay;
			size_t plen = fz_byte(&in);
			if (op == 3) {
				struct red_block b[3];
				unsigned nb = fz_byte(&in) % 4;
				for (unsigned k = 0; k < nb; k++) {
					unsigned off = fz_byte(&in) << 8;
					off |= fz_byte(&in);
					b[k] = (struct red_block){
					        .pt = 96,
					        .ts_offset =
					                (uint16_t)(1 +
					                           off % RED_TS_OFFSET_MAX),
					        .data = pay,
					        .len = 1 + fz_byte(&in)};
				}
				struct red_block pr = {
				        .pt = 96, .data = pay, .len = 1 + plen};
				int w = red_write(b, nb, &pr, red, sizeof(red));
				if (w < 0)
					abort();
				h.pt = 100;
				pl = red;
				plen = (size_t)w;
			}
			int n = rtp_write(&h, pl, plen, buf, sizeof(buf));
			if (n < 0)
				abort();
			receiver_datagram(&r, buf, (size_t)n,
			                  (struct sockaddr *)&from, now);
		} else {
			from.sin_port =
			        htons((uint16_t)(40000 + fz_byte(&in) % 3));
			size_t len = fz_byte(&in);
			if (len > in.n)
				len = in.n;
			memcpy(buf, in.p, len);
			in.p += len;
			in.n -= len;
			receiver_datagram(&r, buf, len,
			                  (struct sockaddr *)&from, now);
		}
		fz_check(&r, ns, 2);
	}
	receiver_clear(&r);
	for (int k = 0; k < 2; k++)
		netstream_clear(&ns[k]);
	return 0;
}
