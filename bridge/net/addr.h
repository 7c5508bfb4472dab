/*
 * addr: socket addresses from the command line, and the receive allow-list
 *
 * Parses "HOST:PORT", "[V6ADDR]:PORT", "V4ADDR:PORT" and, for a listening
 * address, "PORT" alone, into a struct sockaddr_storage. Host names are
 * resolved with getaddrinfo, which blocks: parsing runs on the control
 * thread at set-up. Errors come back as a negated errno plus one line of
 * text for the user naming the address and what is wrong.
 *
 * The allow-list part is pure: "ADDR[/PREFIX]" networks for IPv4 and IPv6,
 * and a match function the net thread may call for every datagram (no
 * allocation, no system call).
 *
 * The multicast part (addr_mcast.c) names interfaces (by name, index or
 * address) and finds the source address a route gives, both at set-up on
 * the control thread.
 */
#ifndef RTB_ADDR_H
#define RTB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest text addr_format writes, with the terminating NUL. */
#define ADDR_TEXT_MAX 64

/* Flags for addr_parse. */
enum {
	ADDR_LISTEN = 1 << 0,    /* a local address: "PORT" alone is allowed */
	ADDR_PORT_ZERO = 1 << 1, /* port 0 (any free port) is allowed */
	ADDR_NUMERIC = 1 << 2,   /* do not resolve host names */
	ADDR_PREFER_V6 =
	        1 << 3, /* "PORT" alone binds [::] instead of 0.0.0.0 */
};

/*
 * Parse an address text.
 *
 * With ADDR_LISTEN, "PORT" alone gives the wildcard address (0.0.0.0, or
 * [::] with ADDR_PREFER_V6); otherwise a host is required. IPv6 addresses
 * need brackets when a port follows; a zone may be given ("[fe80::1%eth0]").
 * Ports are decimal, 1..65535, or 0 with ADDR_PORT_ZERO.
 *
 * Pre: out, text non-NULL; err may be NULL when errlen is 0
 * Post: on success *out holds the address (family AF_INET or AF_INET6) and
 *       *outlen (when non-NULL) its length; on failure err holds one line
 *       such as "bad port in 'host:99999': must be 1..65535"
 * Context: control thread (may block in getaddrinfo)
 * Return: 0, -EINVAL for malformed text or a bad port, -ENOENT for a host
 *         that does not resolve, -EAFNOSUPPORT when it resolves to no
 *         IPv4/IPv6 address
 */
int addr_parse(struct sockaddr_storage *out, socklen_t *outlen,
               const char *text, unsigned flags, char *err, size_t errlen);

/*
 * Write "A.B.C.D:PORT" or "[V6]:PORT" into buf (at most len bytes,
 * ADDR_TEXT_MAX is always enough). An unknown family writes "?".
 *
 * Context: any, real-time unsafe only in that it formats text
 * Return: buf
 */
char *addr_format(const struct sockaddr *sa, char *buf, size_t len);

/* Port in host byte order, or 0 for an unknown family. Context: any. */
uint16_t addr_port(const struct sockaddr *sa);

/* Length of the sockaddr for its family, or 0 when unknown. Context: any. */
socklen_t addr_len(const struct sockaddr *sa);

/*
 * Whether two addresses are the same family, address and port (IPv6 scope
 * included). Context: any, pure.
 */
bool addr_equal(const struct sockaddr *a, const struct sockaddr *b);

/*
 * Parse "ADDR" or "ADDR:PORT" ("[V6ADDR]:PORT", or a bare IPv6 address),
 * numeric only, the port defaulting to `port` (a SAP group: "224.0.0.56",
 * "239.255.255.255:9875", "ff05::2:7ffe", "[ff05::2:7ffe]:9875")
 *
 * Post: on failure err holds one line
 * Context: any
 * Return: 0, or -EINVAL
 */
int addr_parse_default_port(struct sockaddr_storage *out, const char *text,
                            uint16_t port, char *err, size_t errlen);

/*
 * Whether an address is a multicast group (IPv4 224.0.0.0/4, IPv6
 * ff00::/8). Context: any, pure.
 */
bool addr_is_multicast(const struct sockaddr *sa);

/*
 * A network interface for multicast, by name ("eth0", "lo"), by index
 * ("2") or by one of its addresses ("192.168.1.5", "fe80::1")
 *
 * Post: on failure err holds one line ("no interface 'eht0'")
 * Context: control thread (reads the interface list)
 * Return: the interface index (> 0), -ENODEV when there is no such
 *         interface, -EINVAL for empty text
 */
int addr_iface_parse(const char *text, char *err, size_t errlen);

/*
 * The local address the kernel would send from towards `to` on interface
 * `ifindex` (0: the route decides): what an SDP origin and a SAP header
 * name as the sender. A UDP socket is connected, never written to.
 *
 * Post: *out has the family of `to`, port 0; an IPv6 link-local address
 *       has ifindex as its scope (0 when none was given: such an address
 *       cannot be bound)
 * Context: control thread
 * Return: 0, or a negated errno (-ENETUNREACH when no route leads there)
 */
int addr_route_source(const struct sockaddr *to, unsigned ifindex,
                      struct sockaddr_storage *out);

/* One allow-list entry: a network of `prefix` leading bits. */
struct addr_net {
	int family;        /* AF_INET or AF_INET6 */
	unsigned prefix;   /* 0..32 or 0..128 */
	uint8_t bytes[16]; /* network address, host bits already cleared */
};

/*
 * Parse "ADDR" or "ADDR/PREFIX" (numeric only, no brackets, no port). A
 * missing prefix means one host (/32 or /128). Host bits beyond the prefix
 * are cleared ("10.1.2.3/8" is 10.0.0.0/8).
 *
 * Context: any, pure
 * Return: 0, or -EINVAL with a line in err
 */
int addr_net_parse(struct addr_net *out, const char *text, char *err,
                   size_t errlen);

/*
 * Whether an address lies in a network. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, what a dual-stack socket reports) matches IPv4
 * networks. The port is ignored.
 *
 * Context: any, pure, real-time safe
 */
bool addr_net_match(const struct addr_net *net, const struct sockaddr *sa);

/*
 * Whether an address passes an allow-list: true when the list is empty
 * (n == 0: no restriction) or when any entry matches.
 *
 * Context: any, pure, real-time safe
 */
bool addr_allow_match(const struct addr_net *list, size_t n,
                      const struct sockaddr *sa);

#endif
