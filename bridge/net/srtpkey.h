/*
 * srtpkey: an SRTP master key + salt and its text forms: base64 (the
 * command line, a key file) and SDES (RFC 4568 a=crypto in SDP)
 *
 * Two suites: AES_CM_128_HMAC_SHA1_80 (RFC 3711 default; a 30-byte master
 * key + salt) and AEAD_AES_128_GCM (RFC 7714; 28 bytes). A struct
 * srtpkey holds the material in the caller's storage; whoever fills one
 * clears it with srtpkey_clear (explicit_bzero) as soon as it is no
 * longer needed. Error texts never show the key; it is written out only
 * into the a=crypto value asked for with srtpkey_sdes.
 *
 * Context: any, pure (no I/O, no allocation).
 */
#ifndef RTB_NET_SRTPKEY_H
#define RTB_NET_SRTPKEY_H

#include <stddef.h>
#include <stdint.h>

#define SRTPKEY_MAX      30  /* master key + salt bytes, largest suite */
#define SRTPKEY_B64_MAX  44  /* base64 text of SRTPKEY_MAX bytes + NUL */
#define SRTPKEY_SDES_MAX 128 /* an a=crypto value, with its NUL */

enum srtpkey_suite {
	SRTPKEY_AES_CM_128_HMAC_SHA1_80 = 0,
	SRTPKEY_AEAD_AES_128_GCM,
};

struct srtpkey {
	enum srtpkey_suite suite;
	uint8_t bytes[SRTPKEY_MAX]; /* master key, then master salt */
	size_t len;                 /* srtpkey_suite_len(suite) when set */
};

/*
 * The suite named `name` (RFC 4568 / RFC 7714 spelling, case-insensitive)
 *
 * Return: 0, or -EINVAL (unknown name)
 * Context: any, pure
 */
int srtpkey_suite_parse(const char *name, enum srtpkey_suite *out);

/* The RFC name of a suite ("AES_CM_128_HMAC_SHA1_80"). Context: any. */
const char *srtpkey_suite_name(enum srtpkey_suite s);

/* Master key + salt bytes the suite takes (30 or 28). Context: any. */
size_t srtpkey_suite_len(enum srtpkey_suite s);

/*
 * Decode a base64 master key + salt for `suite` into k (whitespace around
 * it is ignored; padding optional)
 *
 * Return: 0, or -EINVAL with err saying what is wrong (never the key):
 *         not base64, or not the suite's length ("28 bytes, want 30")
 * Post: on failure k holds no key material
 * Context: any, pure
 */
int srtpkey_from_base64(struct srtpkey *k, enum srtpkey_suite suite,
                        const char *text, char *err, size_t errlen);

/*
 * Write the SDES value of an a=crypto line for k (RFC 4568 4.1): "TAG
 * SUITE inline:BASE64", without the "a=crypto:" prefix
 *
 * Return: characters written, or -ENOBUFS (SRTPKEY_SDES_MAX is enough)
 * Context: any, pure
 */
int srtpkey_sdes(const struct srtpkey *k, int tag, char *buf, size_t cap);

/*
 * Read the value of an a=crypto line (after "a=crypto:"): tag, suite, one
 * inline key. A lifetime is accepted; an MKI, several keys or a session
 * parameter other than WSH= are refused.
 *
 * Return: 0; -ENOTSUP for a suite not supported here (the caller may try
 *         the next a=crypto line); -EINVAL for a malformed line. err says
 *         which, never showing the key.
 * Post: on failure k holds no key material
 * Context: any, pure
 */
int srtpkey_sdes_parse(struct srtpkey *k, const char *value, char *err,
                       size_t errlen);

/* Zero the key material (explicit_bzero). Context: any. */
void srtpkey_clear(struct srtpkey *k);

#endif
