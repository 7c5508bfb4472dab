/*
 * sap: SAP (RFC 2974) wire format (see sap.h)
 *
 * Header, first byte, most significant bit first: V (3 bits, = 1), A
 * (address type: 0 IPv4, 1 IPv6), R (reserved), T (0 announcement, 1
 * deletion), E (encrypted), C (compressed); then the authentication length
 * in 32-bit words, then the message id hash in network byte order.
 */
#include "bridge/net/sap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#define SAP_V_SHIFT 5
#define SAP_A_BIT   0x10
#define SAP_T_BIT   0x04
#define SAP_E_BIT   0x02
#define SAP_C_BIT   0x01

int sap_parse(const uint8_t *buf, size_t len, struct sap_msg *m)
{
	size_t alen, pos;

	if (len > SAP_MAX_PACKET)
		return -EMSGSIZE;
	if (len < 4)
		return -EBADMSG;
	if ((buf[0] >> SAP_V_SHIFT) != 1)
		return -EPROTONOSUPPORT;
	if (buf[0] & (SAP_E_BIT | SAP_C_BIT))
		return -ENOTSUP;
	alen = (buf[0] & SAP_A_BIT) ? 16 : 4;
	pos = 4 + alen + 4 * (size_t)buf[1];
	if (pos >= len)
		return -EBADMSG;

	memset(m, 0, sizeof *m);
	m->deletion = (buf[0] & SAP_T_BIT) != 0;
	m->hash = (uint16_t)(buf[2] << 8 | buf[3]);
	if (alen == 4) {
		struct sockaddr_in *a = (struct sockaddr_in *)&m->origin;
		a->sin_family = AF_INET;
		memcpy(&a->sin_addr, buf + 4, 4);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&m->origin;
		a->sin6_family = AF_INET6;
		memcpy(&a->sin6_addr, buf + 4, 16);
	}
	/* The payload type is optional: an SDP text starts with "v=0". */
	const char *p = (const char *)buf + pos;
	size_t left = len - pos;
	if (!(left >= 3 && memcmp(p, "v=0", 3) == 0)) {
		size_t n = 0;
		while (n < left && n < SAP_MIME_MAX && p[n] != '\0')
			n++;
		if (n == left || n == SAP_MIME_MAX)
			return -EMEDIUMTYPE;
		if (n != sizeof SAP_MIME - 1 || memcmp(p, SAP_MIME, n) != 0)
			return -EMEDIUMTYPE;
		p += n + 1;
		left -= n + 1;
		if (left == 0)
			return -EBADMSG;
	}
	m->sdp = p;
	m->sdp_len = left;
	return 0;
}

int sap_pack(uint8_t *buf, size_t cap, bool deletion, uint16_t hash,
             const struct sockaddr *origin, const char *sdp, size_t sdp_len)
{
	size_t alen, need;

	if (origin->sa_family == AF_INET)
		alen = 4;
	else if (origin->sa_family == AF_INET6)
		alen = 16;
	else
		return -EINVAL;
	need = 4 + alen + sizeof SAP_MIME + sdp_len;
	if (need > SAP_MAX_PACKET)
		return -EMSGSIZE;
	if (need > cap)
		return -ENOBUFS;
	buf[0] = (uint8_t)(1 << SAP_V_SHIFT | (alen == 16 ? SAP_A_BIT : 0) |
	                   (deletion ? SAP_T_BIT : 0));
	buf[1] = 0;
	buf[2] = (uint8_t)(hash >> 8);
	buf[3] = (uint8_t)hash;
	if (alen == 4)
		memcpy(buf + 4, &((const struct sockaddr_in *)origin)->sin_addr,
		       4);
	else
		memcpy(buf + 4,
		       &((const struct sockaddr_in6 *)origin)->sin6_addr, 16);
	memcpy(buf + 4 + alen, SAP_MIME, sizeof SAP_MIME);
	memcpy(buf + 4 + alen + sizeof SAP_MIME, sdp, sdp_len);
	return (int)need;
}

uint16_t sap_hash(const char *sdp, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)sdp[i];
		h *= 16777619u;
	}
	h = (h >> 16) ^ (h & 0xffff);
	return h == 0 ? 1 : (uint16_t)h;
}

/* Fill out[i] with text:port; Return: 1, or 0 if it does not parse. */
static int sap__group(struct sockaddr_storage *out, int family,
                      const char *text)
{
	memset(out, 0, sizeof *out);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)out;
		a->sin_family = AF_INET;
		a->sin_port = htons(SAP_PORT);
		return inet_pton(AF_INET, text, &a->sin_addr) == 1;
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(SAP_PORT);
	return inet_pton(AF_INET6, text, &a->sin6_addr) == 1;
}

int sap_groups_for(const struct sockaddr *dest, struct sockaddr_storage *out,
                   int max)
{
	int n = 0;

	if (max <= 0)
		return 0;
	if (dest->sa_family == AF_INET) {
		n += sap__group(&out[n], AF_INET, SAP_V4_PIPEWIRE);
		if (n < max)
			n += sap__group(&out[n], AF_INET, SAP_V4_ADMIN);
		return n;
	}
	if (dest->sa_family != AF_INET6)
		return 0;
	/* FF0X::2:7FFE with the group's scope (its low nibble of byte 1). */
	unsigned scope = 2;
	const struct in6_addr *g =
	        &((const struct sockaddr_in6 *)dest)->sin6_addr;
	if (IN6_IS_ADDR_MULTICAST(g) && (g->s6_addr[1] & 0x0f) >= 2)
		scope = g->s6_addr[1] & 0x0f;
	n += sap__group(&out[n], AF_INET6, SAP_V6_LINK);
	((struct sockaddr_in6 *)&out[0])->sin6_addr.s6_addr[1] = (uint8_t)scope;
	return n;
}
