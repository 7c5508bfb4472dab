/*
 * srtpctx: SRTP (RFC 3711) protection of one direction of RTP, through
 * libsrtp2
 *
 * The suites and the key's text forms are in srtpkey.h. A sending
 * context protects the packets of one SSRC (its libsrtp stream is
 * created at set-up, so the net thread never allocates for it). A
 * receiving context verifies the packets of any SSRC: libsrtp checks a
 * new SSRC's first packet against the session's template and creates its
 * stream (with its own replay window) only once the packet is
 * authentic, so forged or replayed packets cost no memory. The streams
 * so created are bounded: past `max_ssrcs` SSRCs the one heard from
 * least recently is removed (a key holder cycling SSRCs cannot grow the
 * receiver's memory). That creation and removal is the one place the
 * receive path allocates, once per authentic new SSRC, on the net thread.
 *
 * Contexts: init and clear on the control thread; protect and unprotect
 * on the one thread that owns the context (the net thread), never
 * concurrently.
 */
#ifndef RTB_NET_SRTPCTX_H
#define RTB_NET_SRTPCTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/net/srtpkey.h"

#define SRTPCTX_TRAILER   144 /* room protect may write past the packet */
#define SRTPCTX_SSRCS_MAX 1024

struct srtpctx {
	void *session;   /* srtp_t; NULL: not set up */
	bool rx;         /* receiving (any SSRC) or sending (one SSRC) */
	uint8_t *buf;    /* rx: the datagram being verified */
	size_t buf_cap;  /* bytes */
	uint32_t *ssrcs; /* rx: SSRCs with a libsrtp stream, and */
	uint64_t *heard; /* when each was last authentic (packet count) */
	size_t nssrcs, max_ssrcs;
	uint64_t npackets; /* rx: authentic packets so far */
	size_t last;       /* rx: index of the SSRC verified last */
};

/*
 * Set up a sending context for the packets of `ssrc`
 *
 * Return: 0; -EINVAL (bad key), -ENOMEM, -EIO (libsrtp refused, err says)
 * Post: the key may be cleared by the caller; clear c with srtpctx_clear
 *       either way
 * Context: control thread (allocates)
 */
int srtpctx_init_tx(struct srtpctx *c, const struct srtpkey *k, uint32_t ssrc,
                    char *err, size_t errlen);

/*
 * Set up a receiving context: datagrams of up to max_datagram bytes, at
 * most max_ssrcs (1..SRTPCTX_SSRCS_MAX) SSRCs kept at once
 *
 * Return, Post, Context: as srtpctx_init_tx
 */
int srtpctx_init_rx(struct srtpctx *c, const struct srtpkey *k,
                    size_t max_datagram, size_t max_ssrcs, char *err,
                    size_t errlen);

/*
 * Free the context; libsrtp zeroes its copy of the keys as it frees them.
 * Clearing a zeroed or cleared context does nothing.
 *
 * Context: control thread, once the owning thread no longer uses it
 */
void srtpctx_clear(struct srtpctx *c);

/*
 * Protect one RTP packet in place: encrypt its payload, append the tag
 *
 * Pre: pkt holds len bytes of an RTP packet of the context's SSRC and has
 *      room for len + SRTPCTX_TRAILER bytes (cap)
 * Return: the SRTP packet's length, or -ENOBUFS (no room), -EINVAL (not
 *         an RTP packet of this SSRC, or a sequence number sent twice)
 * Context: the owning thread (net thread); no allocation
 */
int srtpctx_protect(struct srtpctx *c, uint8_t *pkt, size_t len, size_t cap);

/*
 * Verify and decrypt one datagram into the context's buffer
 *
 * Return: the RTP packet's length, with *out pointing at it (valid until
 *         the next call); -EBADMSG when it fails authentication (a wrong
 *         key, a tampered or truncated packet, not SRTP at all);
 *         -EALREADY when it is a replay (seen already, or older than the
 *         replay window); -EMSGSIZE when longer than max_datagram
 * Context: the owning thread (net thread); allocates only for an
 *          authentic new SSRC (see above)
 */
int srtpctx_unprotect(struct srtpctx *c, const uint8_t *data, size_t len,
                      const uint8_t **out);

#endif
