/*
 * sap: Session Announcement Protocol messages (RFC 2974), packed and
 * parsed, and the well-known SAP groups
 *
 * A SAP message is a 4-byte header (version 1, address type, T bit for a
 * deletion, E and C bits for encryption and compression, the length of
 * authentication data, a 16-bit message id hash), the originating
 * source's IPv4 or IPv6 address, authentication data, an optional payload
 * type ("application/sdp" and a NUL) and the payload: an SDP text.
 *
 * Pure code on caller buffers, no state: callable from any thread (the
 * net thread parses every SAP datagram). Parsing treats the bytes as
 * hostile: every length is checked before it is read, the size is
 * bounded, and each kind of refusal has its own error so that the caller
 * can count it.
 */
#ifndef RTB_NET_SAP_H
#define RTB_NET_SAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SAP_PORT        9875
#define SAP_MAX_PACKET  4096 /* bytes: larger datagrams are refused */
#define SAP_MIME        "application/sdp"
#define SAP_MIME_MAX    64 /* longest payload type string looked at */
#define SAP_INTERVAL_MS 5000
#define SAP_MAX_GROUPS  4
/* IPv4 groups: PipeWire's and PulseAudio's, and RFC 2974's for the
   IPv4 local administrative scope 239.255.0.0/16 (its highest address). */
#define SAP_V4_PIPEWIRE "224.0.0.56"
#define SAP_V4_ADMIN    "239.255.255.255"
/* IPv6: FF0X::2:7FFE, X the scope (2 link, 5 site, 8 organisation). */
#define SAP_V6_LINK "ff02::2:7ffe"
#define SAP_V6_SITE "ff05::2:7ffe"

struct sap_msg {
	bool deletion;                  /* T bit: the session is gone */
	uint16_t hash;                  /* message id hash */
	struct sockaddr_storage origin; /* originating source, port 0 */
	const char *sdp;                /* the payload, inside the packet */
	size_t sdp_len;                 /* bytes, no NUL terminator implied */
};

/*
 * Parse a datagram
 *
 * Return: 0 with *m filled (m->sdp points into buf); -EMSGSIZE longer than
 *         SAP_MAX_PACKET; -EBADMSG truncated (header, address or
 *         authentication data beyond the end, no payload);
 *         -EPROTONOSUPPORT a version other than 1; -ENOTSUP encrypted or
 *         compressed; -EMEDIUMTYPE a payload type other than
 *         application/sdp (or one without its NUL)
 * Context: any, pure, bounded (no loop longer than SAP_MIME_MAX)
 */
int sap_parse(const uint8_t *buf, size_t len, struct sap_msg *m);

/*
 * Write an announcement (or a deletion) of an SDP text: version 1, no
 * authentication, the payload type "application/sdp"
 *
 * Pre: origin is AF_INET or AF_INET6
 * Return: bytes written, -EINVAL for a bad origin, -ENOBUFS when cap is
 *         too small, -EMSGSIZE when the message would exceed
 *         SAP_MAX_PACKET
 * Context: any, pure
 */
int sap_pack(uint8_t *buf, size_t cap, bool deletion, uint16_t hash,
             const struct sockaddr *origin, const char *sdp, size_t sdp_len);

/*
 * A message id hash for an SDP text (RFC 2974 leaves the function to the
 * announcer; it must change when the text does): 32-bit FNV-1a folded to
 * 16 bits, never 0
 *
 * Context: any, pure
 */
uint16_t sap_hash(const char *sdp, size_t len);

/*
 * The SAP groups to announce a session in, for its destination address:
 * IPv4: 224.0.0.56 (where PipeWire and PulseAudio listen) and
 * 239.255.255.255 (RFC 2974's local scope); IPv6: FF0X::2:7FFE in the
 * group's own scope X, link scope for a unicast destination. Port 9875.
 *
 * Return: groups written to out (at most max)
 * Context: any, pure
 */
int sap_groups_for(const struct sockaddr *dest, struct sockaddr_storage *out,
                   int max);

#endif
