/*
 * srtpctx: libsrtp2 sessions for one direction of RTP (see srtpctx.h)
 *
 * libsrtp is initialised once per process (pthread_once). A session is
 * used by one thread at a time, which is all libsrtp asks. The receive
 * side copies each datagram into the context's own buffer, because
 * libsrtp verifies and decrypts in place and the socket's buffer is not
 * ours to write.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "bridge/net/srtpctx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

_Static_assert(SRTPCTX_TRAILER >= SRTP_MAX_TRAILER_LEN,
               "protect may write SRTP_MAX_TRAILER_LEN bytes past a packet");
_Static_assert(SRTP_AES_ICM_128_KEY_LEN_WSALT == 30 &&
                       SRTP_AES_GCM_128_KEY_LEN_WSALT == 28,
               "the suites' key lengths in srtpkey.c are libsrtp's");

#define SRTPCTX__RTP_MIN 12 /* bytes of a fixed RTP header */

static pthread_once_t srtpctx__once = PTHREAD_ONCE_INIT;
static srtp_err_status_t srtpctx__init_status;

static void srtpctx__init_lib(void)
{
	srtpctx__init_status = srtp_init();
}

/* The crypto policy of a suite; the same for RTCP (which we never send,
   but a session needs one). Return: 0, or -EINVAL. */
static int srtpctx__policy(srtp_policy_t *p, const struct srtpkey *k)
{
	if (k->len != srtpkey_suite_len(k->suite))
		return -EINVAL;
	switch (k->suite) {
	case SRTPKEY_AES_CM_128_HMAC_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
		break;
	case SRTPKEY_AEAD_AES_128_GCM:
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
		break;
	default:
		return -EINVAL;
	}
	p->rtcp = p->rtp;
	return 0;
}

/* Create the session. Return: 0, or -errno with err saying why. */
static int srtpctx__create(struct srtpctx *c, const struct srtpkey *k,
                           srtp_ssrc_type_t type, uint32_t ssrc, char *err,
                           size_t errlen)
{
	srtp_policy_t p;
	uint8_t key[SRTPKEY_MAX];
	srtp_t session = NULL;

	(void)pthread_once(&srtpctx__once, srtpctx__init_lib);
	if (srtpctx__init_status != srtp_err_status_ok) {
		snprintf(err, errlen, "libsrtp: initialisation failed (%d)",
		         (int)srtpctx__init_status);
		return -EIO;
	}
	memset(&p, 0, sizeof(p));
	if (srtpctx__policy(&p, k) < 0) {
		snprintf(err, errlen, "SRTP: no key for %s",
		         srtpkey_suite_name(k->suite));
		return -EINVAL;
	}
	/* libsrtp wants a mutable pointer; it copies the key into the
	   session's ciphers, so the copy here is zeroed right after. */
	memcpy(key, k->bytes, k->len);
	p.key = key;
	p.ssrc.type = type;
	p.ssrc.value = ssrc;
	p.window_size = 0;     /* libsrtp's default: 128 packets */
	p.allow_repeat_tx = 0; /* a sequence number is sent once */
	srtp_err_status_t st = srtp_create(&session, &p);
	explicit_bzero(key, sizeof(key));
	if (st != srtp_err_status_ok) {
		snprintf(err, errlen, "libsrtp: cannot set up %s (%d)",
		         srtpkey_suite_name(k->suite), (int)st);
		return st == srtp_err_status_alloc_fail ? -ENOMEM : -EIO;
	}
	c->session = session;
	return 0;
}

int srtpctx_init_tx(struct srtpctx *c, const struct srtpkey *k, uint32_t ssrc,
                    char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	return srtpctx__create(c, k, ssrc_specific, ssrc, err, errlen);
}

int srtpctx_init_rx(struct srtpctx *c, const struct srtpkey *k,
                    size_t max_datagram, size_t max_ssrcs, char *err,
                    size_t errlen)
{
	memset(c, 0, sizeof(*c));
	if (max_datagram < SRTPCTX__RTP_MIN || max_ssrcs < 1 ||
	    max_ssrcs > SRTPCTX_SSRCS_MAX) {
		snprintf(err, errlen, "SRTP: bad receive limits");
		return -EINVAL;
	}
	c->rx = true;
	c->buf_cap = max_datagram;
	c->max_ssrcs = max_ssrcs;
	c->buf = malloc(max_datagram);
	c->ssrcs = calloc(max_ssrcs, sizeof(*c->ssrcs));
	c->heard = calloc(max_ssrcs, sizeof(*c->heard));
	if (!c->buf || !c->ssrcs || !c->heard) {
		snprintf(err, errlen, "SRTP: out of memory");
		srtpctx_clear(c);
		return -ENOMEM;
	}
	int rc = srtpctx__create(c, k, ssrc_any_inbound, 0, err, errlen);
	if (rc < 0)
		srtpctx_clear(c);
	return rc;
}

void srtpctx_clear(struct srtpctx *c)
{
	if (c->session)
		(void)srtp_dealloc((srtp_t)c->session);
	if (c->buf)
		explicit_bzero(c->buf, c->buf_cap); /* the last plaintext */
	free(c->buf);
	free(c->ssrcs);
	free(c->heard);
	memset(c, 0, sizeof(*c));
}

int srtpctx_protect(struct srtpctx *c, uint8_t *pkt, size_t len, size_t cap)
{
	if (len < SRTPCTX__RTP_MIN || cap < len + SRTPCTX_TRAILER ||
	    len > (size_t)INT32_MAX - SRTPCTX_TRAILER)
		return len < SRTPCTX__RTP_MIN ? -EINVAL : -ENOBUFS;
	int n = (int)len;
	srtp_err_status_t st = srtp_protect((srtp_t)c->session, pkt, &n);
	if (st != srtp_err_status_ok || n < (int)len || (size_t)n > cap)
		return -EINVAL;
	return n;
}

/* An authentic packet of ssrc: note it, and when the table is full and
   the SSRC new, let go of the libsrtp stream heard from least recently. */
static void srtpctx__heard(struct srtpctx *c, uint32_t ssrc)
{
	size_t oldest = 0;

	c->npackets++;
	if (c->last < c->nssrcs && c->ssrcs[c->last] == ssrc) {
		c->heard[c->last] = c->npackets;
		return;
	}
	for (size_t i = 0; i < c->nssrcs; i++) {
		if (c->ssrcs[i] == ssrc) {
			c->heard[i] = c->npackets;
			c->last = i;
			return;
		}
		if (c->heard[i] < c->heard[oldest])
			oldest = i;
	}
	if (c->nssrcs < c->max_ssrcs) {
		oldest = c->nssrcs++;
	} else {
		/* Network byte order, as libsrtp keeps it. */
		(void)srtp_remove_stream((srtp_t)c->session,
		                         htonl(c->ssrcs[oldest]));
	}
	c->ssrcs[oldest] = ssrc;
	c->heard[oldest] = c->npackets;
	c->last = oldest;
}

int srtpctx_unprotect(struct srtpctx *c, const uint8_t *data, size_t len,
                      const uint8_t **out)
{
	if (len > c->buf_cap)
		return -EMSGSIZE;
	/* Shorter than a header: nothing libsrtp could authenticate. */
	if (len < SRTPCTX__RTP_MIN)
		return -EBADMSG;
	memcpy(c->buf, data, len);
	int n = (int)len;
	srtp_err_status_t st = srtp_unprotect((srtp_t)c->session, c->buf, &n);
	switch (st) {
	case srtp_err_status_ok:
		break;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
		return -EALREADY;
	default:
		return -EBADMSG;
	}
	if (n < SRTPCTX__RTP_MIN || (size_t)n > len)
		return -EBADMSG;
	uint32_t ssrc = (uint32_t)c->buf[8] << 24 | (uint32_t)c->buf[9] << 16 |
	                (uint32_t)c->buf[10] << 8 | c->buf[11];
	srtpctx__heard(c, ssrc);
	*out = c->buf;
	return n;
}
