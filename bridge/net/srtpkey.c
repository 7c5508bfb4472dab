/*
 * srtpkey: SRTP master keys and their text forms (see srtpkey.h)
 *
 * Every buffer that held key material on the way (decoded bytes, a copy of
 * the inline text) is zeroed before the function returns.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "bridge/net/srtpkey.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	size_t len;
} srtpkey__suites[] = {
        [SRTPKEY_AES_CM_128_HMAC_SHA1_80] = {"AES_CM_128_HMAC_SHA1_80", 30},
        [SRTPKEY_AEAD_AES_128_GCM] = {"AEAD_AES_128_GCM", 28},
};

#define SRTPKEY__NSUITES (sizeof(srtpkey__suites) / sizeof(srtpkey__suites[0]))

static const char srtpkey__b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int srtpkey_suite_parse(const char *name, enum srtpkey_suite *out)
{
	for (size_t i = 0; i < SRTPKEY__NSUITES; i++) {
		if (!strcasecmp(name, srtpkey__suites[i].name)) {
			*out = (enum srtpkey_suite)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *srtpkey_suite_name(enum srtpkey_suite s)
{
	return (size_t)s < SRTPKEY__NSUITES ? srtpkey__suites[s].name : "?";
}

size_t srtpkey_suite_len(enum srtpkey_suite s)
{
	return (size_t)s < SRTPKEY__NSUITES ? srtpkey__suites[s].len : 0;
}

void srtpkey_clear(struct srtpkey *k)
{
	explicit_bzero(k, sizeof(*k));
}

static int srtpkey__b64_value(char c)
{
	const char *p = c ? strchr(srtpkey__b64, c) : NULL;
	return p ? (int)(p - srtpkey__b64) : -1;
}

/* Decode len characters of base64 (padding optional) into out.
   Return: bytes decoded, or -1 (not base64, or more than cap bytes). */
static int srtpkey__b64_decode(const char *s, size_t len, uint8_t *out,
                               size_t cap)
{
	uint32_t acc = 0;
	size_t n = 0, bits = 0, pad = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '=') {
			pad++;
			continue;
		}
		int v = srtpkey__b64_value(s[i]);
		if (v < 0 || pad)
			return -1; /* a character after padding, or not base64
			            */
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be the zero fill of a whole group; padding
	   (when given) must complete the group to 4 characters. */
	if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0 ||
	    (pad && (len % 4 != 0 || pad > 2)))
		return -1;
	return (int)n;
}

static size_t srtpkey__b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[n++] = srtpkey__b64[(v >> 18) & 63];
		out[n++] = srtpkey__b64[(v >> 12) & 63];
		out[n++] = i + 1 < len ? srtpkey__b64[(v >> 6) & 63] : '=';
		out[n++] = i + 2 < len ? srtpkey__b64[v & 63] : '=';
	}
	out[n] = '\0';
	return n;
}

/* Decode base64 text of `len` characters as the key of `suite`. */
static int srtpkey__decode(struct srtpkey *k, enum srtpkey_suite suite,
                           const char *text, size_t len, char *err,
                           size_t errlen)
{
	uint8_t raw[SRTPKEY_MAX + 3];
	size_t want = srtpkey_suite_len(suite);

	srtpkey_clear(k);
	int n = srtpkey__b64_decode(text, len, raw, sizeof(raw));
	if (n < 0) {
		snprintf(err, errlen, "the key is not base64 of %zu bytes",
		         want);
		explicit_bzero(raw, sizeof(raw));
		return -EINVAL;
	}
	if ((size_t)n != want) {
		snprintf(
		        err, errlen,
		        "the key is %d bytes: %s takes %zu (master key + salt)",
		        n, srtpkey_suite_name(suite), want);
		explicit_bzero(raw, sizeof(raw));
		return -EINVAL;
	}
	k->suite = suite;
	k->len = want;
	memcpy(k->bytes, raw, want);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

int srtpkey_from_base64(struct srtpkey *k, enum srtpkey_suite suite,
                        const char *text, char *err, size_t errlen)
{
	size_t len;

	while (isspace((unsigned char)*text))
		text++;
	len = strlen(text);
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	return srtpkey__decode(k, suite, text, len, err, errlen);
}

int srtpkey_sdes(const struct srtpkey *k, int tag, char *buf, size_t cap)
{
	char b64[SRTPKEY_B64_MAX];

	if (k->len != srtpkey_suite_len(k->suite) || tag < 0 || tag > 999999999)
		return -EINVAL;
	srtpkey__b64_encode(k->bytes, k->len, b64);
	int n = snprintf(buf, cap, "%d %s inline:%s", tag,
	                 srtpkey_suite_name(k->suite), b64);
	explicit_bzero(b64, sizeof(b64));
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			explicit_bzero(buf, cap);
		return -ENOBUFS;
	}
	return n;
}

static int srtpkey__fail(struct srtpkey *k, int rc, char *err, size_t errlen,
                         const char *what)
{
	srtpkey_clear(k);
	snprintf(err, errlen, "%s", what);
	return rc;
}

/* Whether s (len characters) is a key lifetime: decimal, or 2^decimal. */
static bool srtpkey__lifetime(const char *s, size_t len)
{
	if (len > 2 && s[0] == '2' && s[1] == '^') {
		s += 2;
		len -= 2;
	}
	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

int srtpkey_sdes_parse(struct srtpkey *k, const char *value, char *err,
                       size_t errlen)
{
	const char *p = value;
	char suite_name[48];
	enum srtpkey_suite suite;
	size_t n;

	srtpkey_clear(k);
	/* tag: 1*9DIGIT */
	for (n = 0; isdigit((unsigned char)p[n]); n++)
		;
	if (n == 0 || n > 9 || p[n] != ' ')
		return srtpkey__fail(k, -EINVAL, err, errlen,
		                     "a=crypto: no tag");
	p += n + 1;
	for (n = 0; p[n] && p[n] != ' '; n++)
		;
	if (n == 0 || n >= sizeof(suite_name) || p[n] != ' ')
		return srtpkey__fail(k, -EINVAL, err, errlen,
		                     "a=crypto: no crypto suite");
	memcpy(suite_name, p, n);
	suite_name[n] = '\0';
	if (srtpkey_suite_parse(suite_name, &suite) < 0) {
		srtpkey_clear(k);
		snprintf(err, errlen,
		         "a=crypto: suite %s is not supported (%s or %s)",
		         suite_name,
		         srtpkey_suite_name(SRTPKEY_AES_CM_128_HMAC_SHA1_80),
		         srtpkey_suite_name(SRTPKEY_AEAD_AES_128_GCM));
		return -ENOTSUP;
	}
	p += n + 1;
	if (strncasecmp(p, "inline:", 7) != 0)
		return srtpkey__fail(k, -EINVAL, err, errlen,
		                     "a=crypto: the key is not 'inline:'");
	p += 7;
	/* key-salt ["|" lifetime] ["|" MKI ":" length], up to ';' or ' ' */
	size_t klen = strcspn(p, "|; \t");
	const char *key = p;
	p += klen;
	while (*p == '|') {
		p++;
		size_t f = strcspn(p, "|; \t");
		if (memchr(p, ':', f))
			return srtpkey__fail(k, -EINVAL, err, errlen,
			                     "a=crypto: an MKI is not "
			                     "supported");
		if (!srtpkey__lifetime(p, f))
			return srtpkey__fail(k, -EINVAL, err, errlen,
			                     "a=crypto: bad key lifetime");
		p += f;
	}
	if (*p == ';')
		return srtpkey__fail(k, -EINVAL, err, errlen,
		                     "a=crypto: several keys are not "
		                     "supported");
	/* Session parameters: only the window size hint changes nothing. */
	while (*p == ' ' || *p == '\t') {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t f = strcspn(p, " \t");
		if (f == 0)
			break;
		if (strncmp(p, "WSH=", 4) != 0) {
			srtpkey_clear(k);
			snprintf(err, errlen,
			         "a=crypto: session parameter %.*s is not "
			         "supported",
			         (int)(f > 32 ? 32 : f), p);
			return -EINVAL;
		}
		p += f;
	}
	if (*p)
		return srtpkey__fail(k, -EINVAL, err, errlen,
		                     "a=crypto: malformed line");
	int rc = srtpkey__decode(k, suite, key, klen, err, errlen);
	if (rc < 0) {
		char why[128];
		snprintf(why, sizeof(why), "a=crypto: %s", err);
		snprintf(err, errlen, "%s", why);
	}
	return rc;
}
