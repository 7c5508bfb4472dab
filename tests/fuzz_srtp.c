/*
 * libFuzzer target: the SRTP receive path and the key texts, on arbitrary
 * input
 *
 * The first byte picks what the rest is:
 *   0: a datagram for a receiving context (either suite): it must be
 *      refused (nothing verifies without the key);
 *   1: the parts of a genuine packet (header fields, payload) protected by
 *      a sending context, then changed at the positions the input names
 *      (none: it must verify back to the same bytes; any change: it must
 *      be refused), then sent again (a replay: refused);
 *   2: the value of an a=crypto line (srtpkey_sdes_parse): a key it
 *      accepts must write back and read back the same;
 *   3: a base64 key (srtpkey_from_base64), for both suites.
 * Contexts that can change are created for every input, so a crash
 * reproduces from its input alone. Built only with -DRTB_FUZZ=ON (clang).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/srtpctx.h"
#include "bridge/net/srtpkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX  1500
#define FUZZ_SSRC 0x5eed1234u

/* The tamper mode's key differs from the datagram mode's: the fuzzer
   learns the genuine packets that mode compares (memcmp), which must not
   authenticate where nothing may. */
static void fuzz_key(struct srtpkey *k, enum srtpkey_suite s, uint8_t base)
{
	memset(k, 0, sizeof(*k));
	k->suite = s;
	k->len = srtpkey_suite_len(s);
	for (size_t i = 0; i < k->len; i++)
		k->bytes[i] = (uint8_t)(base + i);
}

static void fuzz_rx(struct srtpctx *rx, enum srtpkey_suite s, uint8_t base)
{
	struct srtpkey k;
	char err[128];

	fuzz_key(&k, s, base);
	if (srtpctx_init_rx(rx, &k, FUZZ_MAX, 4, err, sizeof(err)) != 0)
		abort();
}

/* Random bytes never authenticate, so these contexts keep no state from
   one input to the next (the replay windows change only for authentic
   packets): set up once, for speed. */
static struct srtpctx fuzz_rx_any[2];
static bool fuzz_ready;

static void fuzz_datagram(const uint8_t *d, size_t n)
{
	const uint8_t *out;

	if (n < 1)
		return;
	if (!fuzz_ready) {
		fuzz_rx(&fuzz_rx_any[0], SRTPKEY_AES_CM_128_HMAC_SHA1_80, 0x80);
		fuzz_rx(&fuzz_rx_any[1], SRTPKEY_AEAD_AES_128_GCM, 0x80);
		fuzz_ready = true;
	}
	int rc = srtpctx_unprotect(&fuzz_rx_any[d[0] & 1], d + 1, n - 1, &out);
	if (rc >= 0)
		abort(); /* forged without the key */
}

static void fuzz_tamper(const uint8_t *d, size_t n)
{
	struct srtpctx tx, rx;
	struct srtpkey k;
	char err[128];
	uint8_t pkt[FUZZ_MAX + SRTPCTX_TRAILER], plain[FUZZ_MAX];
	const uint8_t *out;

	if (n < 6)
		return;
	enum srtpkey_suite s = d[0] & 1 ? SRTPKEY_AEAD_AES_128_GCM
	                                : SRTPKEY_AES_CM_128_HMAC_SHA1_80;
	size_t nflips = d[1] % 4;
	size_t plen = (size_t)d[2] % 200;
	if (n < 6 + 2 * nflips || plen > FUZZ_MAX - 12)
		return;
	fuzz_key(&k, s, 0x40);
	if (srtpctx_init_tx(&tx, &k, FUZZ_SSRC, err, sizeof(err)) != 0)
		abort();
	fuzz_rx(&rx, s, 0x40);
	/* Header: version 2, no CSRC/extension, the input's marker, PT,
	   sequence number; the context's SSRC. */
	memset(plain, 0, 12);
	plain[0] = 0x80;
	plain[1] = d[3] & 0xff;
	plain[2] = d[4];
	plain[3] = d[5];
	plain[8] = FUZZ_SSRC >> 24;
	plain[9] = (FUZZ_SSRC >> 16) & 0xff;
	plain[10] = (FUZZ_SSRC >> 8) & 0xff;
	plain[11] = FUZZ_SSRC & 0xff;
	const uint8_t *flips = d + 6;
	const uint8_t *pay = d + 6 + 2 * nflips;
	size_t have = n - 6 - 2 * nflips;
	for (size_t i = 0; i < plen; i++)
		plain[12 + i] = have ? pay[i % have] : (uint8_t)i;
	memcpy(pkt, plain, 12 + plen);
	int len = srtpctx_protect(&tx, pkt, 12 + plen, sizeof(pkt));
	if (len < (int)(12 + plen))
		abort();
	uint8_t sealed[FUZZ_MAX + SRTPCTX_TRAILER];
	memcpy(sealed, pkt, (size_t)len);
	for (size_t i = 0; i < nflips; i++) {
		size_t at = flips[2 * i] % (size_t)len;
		pkt[at] ^= flips[2 * i + 1] ? flips[2 * i + 1] : 1;
	}
	/* Flips may cancel out. */
	bool changed = memcmp(sealed, pkt, (size_t)len) != 0;
	int rc = srtpctx_unprotect(&rx, pkt, (size_t)len, &out);
	if (changed && rc != -EBADMSG)
		abort();
	if (!changed) {
		if (rc != (int)(12 + plen) || memcmp(out, plain, 12 + plen))
			abort();
		if (srtpctx_unprotect(&rx, pkt, (size_t)len, &out) != -EALREADY)
			abort();
	}
	srtpctx_clear(&tx);
	srtpctx_clear(&rx);
	srtpkey_clear(&k);
}

static void fuzz_text(const uint8_t *d, size_t n, bool sdes)
{
	char text[512], err[160], line[SRTPKEY_SDES_MAX];
	struct srtpkey k, back;

	if (n >= sizeof(text))
		n = sizeof(text) - 1;
	memcpy(text, d, n);
	text[n] = '\0';
	if (!sdes) {
		(void)srtpkey_from_base64(&k, SRTPKEY_AES_CM_128_HMAC_SHA1_80,
		                          text, err, sizeof(err));
		(void)srtpkey_from_base64(&k, SRTPKEY_AEAD_AES_128_GCM, text,
		                          err, sizeof(err));
		return;
	}
	if (srtpkey_sdes_parse(&k, text, err, sizeof(err)) != 0) {
		if (k.len != 0)
			abort(); /* a refused line leaves no key behind */
		return;
	}
	if (srtpkey_sdes(&k, 1, line, sizeof(line)) < 0 ||
	    srtpkey_sdes_parse(&back, line, err, sizeof(err)) != 0 ||
	    back.suite != k.suite || back.len != k.len ||
	    memcmp(back.bytes, k.bytes, k.len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_datagram(data + 1, size - 1);
		break;
	case 1:
		fuzz_tamper(data + 1, size - 1);
		break;
	case 2:
		fuzz_text(data + 1, size - 1, true);
		break;
	default:
		fuzz_text(data + 1, size - 1, false);
		break;
	}
	return 0;
}
