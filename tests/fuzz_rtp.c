/*
 * libFuzzer target: everything the receive path does with bytes from the
 * network, on arbitrary input
 *
 * Each input is parsed as one RTP packet; a parsed payload goes through the
 * L16 and L24 depacketizers (at 1, 2 and 6 channels), the Opus decoder
 * (normal decode and FEC decode), and concealment. The extended-sequence
 * tracker is fed the packet's sequence number followed by every 16-bit word
 * of the input, so it sees arbitrary orders, jumps and wraps. The decoders
 * are created once (set-up allocates) and reset for every input, so a crash
 * reproduces from its input alone. The payload is also read as an RFC 2198
 * RED payload: every block it yields must lie inside it, and writing the
 * blocks again must give the same bytes. Built only with -DRTB_FUZZ=ON
 * (clang).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/pcm.h"
#include "codec/red.h"
#include "codec/ulpfec.h"
#include "codec/rtp.h"
#include "codec/rtpseq.h"

/* The payload as ULPFEC (RFC 5109): its fields inside it, and a packet
   it protects alone rebuilt within the protection length. */
static void fuzz_ulpfec(const uint8_t *payload, size_t len)
{
	struct ulpfec_info f;
	static uint8_t out[65536 + RTP_HEADER_MIN];

	if (ulpfec_parse(payload, len, &f) < 0)
		return;
	if (f.payload + f.prot_len != payload + len || f.count == 0 ||
	    f.count > ULPFEC_SPAN_LONG)
		abort();
	for (unsigned k = 0; k < ULPFEC_SPAN_LONG; k++) {
		if (!(f.mask & ULPFEC_BIT(k)))
			continue;
		int r = ulpfec_recover(&f, (uint16_t)(f.sn_base + k), 1, NULL,
		                       NULL, 0, out, sizeof(out));
		if (r > RTP_HEADER_MIN + f.prot_len ||
		    (f.count == 1 && r == -EINVAL) ||
		    (f.count > 1 && r != -EINVAL))
			abort();
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Room for the longest Opus packet (120 ms) and any PCM payload. */
#define FUZZ_MAX_FRAMES 65536

static float fuzz_pcm[FUZZ_MAX_FRAMES * CODEC_MAX_CHANNELS];
static struct codec_decoder fuzz_opus[2]; /* mono, stereo */
static struct codec_decoder fuzz_l16;
static int fuzz_ready;

static void fuzz_setup(void)
{
	struct codec_config cfg;

	for (int ch = 1; ch <= 2; ch++) {
		codec_config_default(&cfg, CODEC_OPUS);
		cfg.channels = ch;
		if (codec_decoder_init(&fuzz_opus[ch - 1], &cfg) != 0)
			abort();
	}
	codec_config_default(&cfg, CODEC_L16);
	if (codec_decoder_init(&fuzz_l16, &cfg) != 0)
		abort();
	fuzz_ready = 1;
}

/* The payload as RED: blocks inside it, and rewritten byte for byte. */
static void fuzz_red(const uint8_t *payload, size_t len)
{
	struct red_block b[RED_MAX_BLOCKS];
	static uint8_t again[65536];

	int n = red_parse(payload, len, b, RED_MAX_BLOCKS);
	if (n < 0)
		return;
	for (int i = 0; i < n; i++)
		if (b[i].len == 0 || b[i].data < payload ||
		    b[i].data + b[i].len > payload + len)
			abort();
	int w = red_write(b, (size_t)n - 1, &b[n - 1], again, sizeof(again));
	if (w != (int)len || memcmp(again, payload, len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtp_header h;
	const uint8_t *payload;
	size_t len;

	if (!fuzz_ready)
		fuzz_setup();

	struct rtpseq seq;
	uint64_t ext;
	rtpseq_init(&seq, size > 0 ? data[0] % 4 : 0);
	if (size >= 4)
		(void)rtpseq_update(&seq, (uint16_t)((data[2] << 8) | data[3]),
		                    &ext);
	for (size_t i = 0; i + 1 < size; i += 2)
		(void)rtpseq_update(
		        &seq, (uint16_t)((data[i] << 8) | data[i + 1]), &ext);
	(void)rtpseq_expected(&seq);
	(void)rtpseq_lost(&seq);
	(void)rtpseq_fraction_lost(&seq);

	if (rtp_parse(data, size, &h, &payload, &len) != 0)
		return 0;
	if (len > size || payload < data || payload + len > data + size)
		abort();

	/* Re-packing what was parsed must reproduce a parseable packet. */
	static uint8_t repack[65536 + RTP_HEADER_MAX];
	int n = rtp_write(&h, payload, len, repack, sizeof(repack));
	if (n < 0)
		abort();
	struct rtp_header h2;
	const uint8_t *p2;
	size_t l2;
	if (rtp_parse(repack, (size_t)n, &h2, &p2, &l2) != 0 || l2 != len)
		abort();

	fuzz_red(payload, len);
	fuzz_ulpfec(payload, len);

	static const int channels[] = {1, 2, 6};
	for (int i = 0; i < 3; i++) {
		(void)pcm_decode(16, channels[i], payload, len, fuzz_pcm,
		                 FUZZ_MAX_FRAMES);
		(void)pcm_decode(24, channels[i], payload, len, fuzz_pcm,
		                 FUZZ_MAX_FRAMES);
	}
	codec_decoder_reset(&fuzz_l16);
	if (codec_decode(&fuzz_l16, payload, len, fuzz_pcm, FUZZ_MAX_FRAMES) >=
	    0)
		(void)codec_conceal(&fuzz_l16, fuzz_pcm, 480);

	struct codec_decoder *dec = &fuzz_opus[h.pt & 1];
	codec_decoder_reset(dec);
	(void)codec_decode(dec, payload, len, fuzz_pcm, 5760);
	(void)codec_decode_fec(dec, payload, len, fuzz_pcm, 960);
	(void)codec_conceal(dec, fuzz_pcm, 480);
	return 0;
}
