/*
 * libFuzzer target: the receive path from datagram to pulled audio, driven
 * by an arbitrary script
 *
 * Each input is a script of operations on a fresh L16 netstream (mono,
 * 8 kHz, 5 ms packets, adaptive delay, drift resampling) with a simulated
 * clock. Opcodes (one byte, then arguments):
 *   0: a well-formed packet, relative to a running sequence number and
 *      timestamp: seq delta (int8), timestamp jitter (int16, ticks), arrival
 *      step (uint8, ms), payload frames (uint8, may be ragged), marker,
 *      copies (0..3: sent as RFC 2198 RED, payload type 100, with copies
 *      of as many packets before it, so restored records flow too);
 *   1: pull a block: size (uint8 * 4 frames), clock step follows the block;
 *   2: a raw datagram: length (uint8), then that many bytes;
 *   3: a sender restart: new sequence (uint16) and timestamp (uint32);
 *   4: set the latency (uint8 ms; 0 = adaptive).
 * After the script the stream is pulled dry and every packet record must be
 * accounted for: free in the pool, or held by the jitter buffer. Built only
 * with -DRTB_FUZZ=ON (clang).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/netstream.h"
#include "codec/red.h"
#include "codec/rtp.h"
#include "tests/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_RATE  8000
#define FZ_FRAME 40 /* 5 ms */

static uint64_t fz_now; /* ns */

static uint64_t fz_clock(void *arg)
{
	(void)arg;
	return fz_now;
}

static void fz_packet(struct netstream *s, uint16_t seq, uint32_t ts,
                      unsigned frames, int marker, unsigned copies,
                      uint64_t arrival)
{
	uint8_t buf[RTP_HEADER_MIN + 4 * (2 * 300 + RED_HEADER_BYTES)];
	uint8_t payload[2 * 300], red[sizeof(buf)];
	struct red_block b[RED_MAX_DISTANCE];
	struct rtp_header h;

	memset(&h, 0, sizeof(h));
	h.version = 2;
	h.pt = 96;
	h.seq = seq;
	h.ts = ts;
	h.ssrc = 1;
	h.marker = marker != 0;
	for (unsigned i = 0; i < 2 * frames; i++)
		payload[i] = (uint8_t)(seq * 31u + i);
	/* An odd byte count is a ragged L16 payload: the decoder refuses it. */
	size_t len = 2 * (size_t)frames - (marker > 1 ? 1 : 0);
	const uint8_t *pl = payload;
	if (copies && len > 0 && len <= sizeof(payload)) {
		/* Copies of the packets before, as long as this one (their
		   bytes do not matter, their placing does). */
		struct red_block pr = {.pt = 96, .data = payload, .len = len};
		for (unsigned k = 0; k < copies; k++)
			b[k] = (struct red_block){
			        .pt = 96,
			        .ts_offset =
			                (uint16_t)((copies - k) * FZ_FRAME),
			        .data = payload,
			        .len = len};
		int w = red_write(b, copies, &pr, red, sizeof(red));
		if (w < 0)
			abort();
		h.pt = 100;
		pl = red;
		len = (size_t)w;
	}
	int n = rtp_write(&h, pl, len, buf, sizeof(buf));
	if (n > 0)
		netstream_receive(s, buf, (size_t)n, arrival);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static float out[1024];
	struct netstream_config cfg;
	struct netstream s;
	struct fz_in in = {data, size};
	uint16_t seq = 1000;
	uint32_t ts = 5000;
	uint64_t arrival = 0;

	netstream_config_default(&cfg, CODEC_L16);
	cfg.codec.rate = FZ_RATE;
	cfg.codec.channels = 1;
	cfg.codec.frame_us = 5000;
	cfg.jitter.max_ms = 200;
	cfg.clock = fz_clock;
	cfg.red = true;
	cfg.red_pt = 100;
	cfg.pt = 96;
	fz_now = 0;
	if (netstream_init(&s, &cfg) != 0)
		abort();

	for (unsigned ops = 0; in.n && ops < 4096; ops++) {
		switch (fz_byte(&in) % 5) {
		case 0: {
			seq = (uint16_t)(seq + (int8_t)fz_byte(&in));
			int16_t jit =
			        (int16_t)(fz_byte(&in) << 8 | fz_byte(&in));
			arrival += fz_byte(&in) * 1000000ull;
			unsigned frames = fz_byte(&in) % 300;
			int marker = (int)(fz_byte(&in) % 3);
			unsigned copies = fz_byte(&in) % (RED_MAX_DISTANCE + 1);
			ts = (uint32_t)(5000u + (uint32_t)seq * FZ_FRAME);
			fz_packet(&s, seq, ts + (uint32_t)jit, frames, marker,
			          copies, arrival);
			break;
		}
		case 1: {
			size_t frames = 4 * (size_t)fz_byte(&in);
			if (frames > sizeof(out) / sizeof(out[0]))
				frames = sizeof(out) / sizeof(out[0]);
			if (fz_now < arrival)
				fz_now = arrival;
			if (netstream_pull(&s, out, frames) != (int)frames)
				abort();
			fz_now += frames * 1000000000ull / FZ_RATE;
			break;
		}
		case 2: {
			uint8_t raw[256];
			size_t len = fz_byte(&in);
			for (size_t i = 0; i < len; i++)
				raw[i] = (uint8_t)fz_byte(&in);
			netstream_receive(&s, raw, len, arrival);
			break;
		}
		case 3:
			seq = (uint16_t)(fz_byte(&in) << 8 | fz_byte(&in));
			for (int i = 0; i < 4; i++)
				ts = ts << 8 | fz_byte(&in);
			break;
		default:
			netstream_set_latency(&s, fz_byte(&in));
			break;
		}
	}
	/* Pull a second of audio, then count the records: every one is free
	   (pool_get reclaims the returned ones) or held by the buffer. */
	for (int i = 0; i < 40; i++) {
		netstream_pull(&s, out, 200);
		fz_now += 25000000ull;
	}
	size_t free_nodes = 0, count = 0;
	struct packet *chain = NULL, *p;
	while ((p = netstream_packet_get(&s, 0)) != NULL) {
		p->ext_seq = (uint64_t)(uintptr_t)chain;
		chain = p;
		free_nodes++;
	}
	for (unsigned k = 0; k < s.ncls; k++)
		count += s.cls[k].count;
	if (free_nodes + jitter_held(&s.jit) != count)
		abort();
	while (chain) {
		p = chain;
		chain = (struct packet *)(uintptr_t)p->ext_seq;
		netstream_packet_return(&s, p);
	}
	netstream_clear(&s);
	return 0;
}
