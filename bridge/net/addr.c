/*
 * addr: address text parsing and the allow-list (see addr.h)
 *
 * Parsing splits host and port by hand, checks the port, then hands the
 * host to getaddrinfo: first numeric only, so that a literal never touches
 * the resolver, then (unless ADDR_NUMERIC) as a name. The allow-list code
 * compares raw address bytes under a prefix mask and touches nothing
 * global.
 */
#include "bridge/net/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Decimal port with no sign, no spaces, at most 5 digits. */
static int parse_port(const char *s, unsigned flags, const char *text,
                      char *err, size_t errlen)
{
	unsigned long v = 0;
	size_t i;

	if (s[0] == '\0') {
		say(err, errlen, "missing port in '%s'", text);
		return -EINVAL;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5) {
			say(err, errlen, "bad port in '%s': must be %s..65535",
			    text, (flags & ADDR_PORT_ZERO) ? "0" : "1");
			return -EINVAL;
		}
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535 || (v == 0 && !(flags & ADDR_PORT_ZERO))) {
		say(err, errlen, "bad port in '%s': must be %s..65535", text,
		    (flags & ADDR_PORT_ZERO) ? "0" : "1");
		return -EINVAL;
	}
	return (int)v;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Resolve host into out; port is set by the caller afterwards. */
static int resolve(struct sockaddr_storage *out, socklen_t *outlen,
                   const char *host, unsigned flags, const char *text,
                   char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *it;
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 && !(flags & ADDR_NUMERIC) && strchr(host, ':') == NULL) {
		hints.ai_flags = 0;
		rc = getaddrinfo(host, NULL, &hints, &res);
	}
	if (rc != 0) {
		if (flags & ADDR_NUMERIC || strchr(host, ':') != NULL)
			say(err, errlen, "bad address '%s' in '%s'", host,
			    text);
		else
			say(err, errlen, "unresolvable host '%s' in '%s': %s",
			    host, text, gai_strerror(rc));
		return (flags & ADDR_NUMERIC || strchr(host, ':') != NULL)
		               ? -EINVAL
		               : -ENOENT;
	}
	rc = -EAFNOSUPPORT;
	for (it = res; it != NULL; it = it->ai_next) {
		if ((it->ai_family == AF_INET || it->ai_family == AF_INET6) &&
		    it->ai_addrlen <= sizeof *out) {
			memset(out, 0, sizeof *out);
			memcpy(out, it->ai_addr, it->ai_addrlen);
			if (outlen != NULL)
				*outlen = (socklen_t)it->ai_addrlen;
			rc = 0;
			break;
		}
	}
	freeaddrinfo(res);
	if (rc < 0)
		say(err, errlen,
		    "host '%s' in '%s' has no IPv4 or IPv6 address", host,
		    text);
	return rc;
}

int addr_parse(struct sockaddr_storage *out, socklen_t *outlen,
               const char *text, unsigned flags, char *err, size_t errlen)
{
	char host[256];
	const char *port_text;
	size_t hostlen;
	int port, rc;

	if (text == NULL || text[0] == '\0') {
		say(err, errlen, "empty address");
		return -EINVAL;
	}

	if (all_digits(text)) {
		if (!(flags & ADDR_LISTEN)) {
			say(err, errlen,
			    "missing host in '%s': expected HOST:PORT", text);
			return -EINVAL;
		}
		port = parse_port(text, flags, text, err, errlen);
		if (port < 0)
			return port;
		memset(out, 0, sizeof *out);
		if (flags & ADDR_PREFER_V6) {
			struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
			a6->sin6_family = AF_INET6;
			a6->sin6_addr = in6addr_any;
			if (outlen != NULL)
				*outlen = sizeof *a6;
		} else {
			struct sockaddr_in *a4 = (struct sockaddr_in *)out;
			a4->sin_family = AF_INET;
			a4->sin_addr.s_addr = htonl(INADDR_ANY);
			if (outlen != NULL)
				*outlen = sizeof *a4;
		}
		set_port(out, (uint16_t)port);
		return 0;
	}

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL) {
			say(err, errlen, "missing ']' in '%s'", text);
			return -EINVAL;
		}
		if (close[1] != ':') {
			say(err, errlen,
			    "missing port in '%s': expected [ADDR]:PORT", text);
			return -EINVAL;
		}
		hostlen = (size_t)(close - text - 1);
		if (hostlen == 0 || strchr(text + 1, '[') != NULL) {
			say(err, errlen, "bad address in '%s'", text);
			return -EINVAL;
		}
		if (hostlen >= sizeof host) {
			say(err, errlen, "address too long in '%.40s...'",
			    text);
			return -EINVAL;
		}
		memcpy(host, text + 1, hostlen);
		host[hostlen] = '\0';
		port_text = close + 2;
		if (strchr(host, ':') == NULL) {
			say(err, errlen,
			    "brackets are for IPv6 addresses in '%s'", text);
			return -EINVAL;
		}
	} else {
		const char *colon = strrchr(text, ':');
		if (colon == NULL) {
			say(err, errlen,
			    "missing port in '%s': expected HOST:PORT", text);
			return -EINVAL;
		}
		if (strchr(text, ':') != colon) {
			say(err, errlen,
			    "IPv6 address needs brackets in '%s': write "
			    "[ADDR]:PORT",
			    text);
			return -EINVAL;
		}
		hostlen = (size_t)(colon - text);
		if (hostlen == 0) {
			say(err, errlen, "missing host in '%s'", text);
			return -EINVAL;
		}
		if (hostlen >= sizeof host) {
			say(err, errlen, "host name too long in '%.40s...'",
			    text);
			return -EINVAL;
		}
		memcpy(host, text, hostlen);
		host[hostlen] = '\0';
		port_text = colon + 1;
	}

	port = parse_port(port_text, flags, text, err, errlen);
	if (port < 0)
		return port;
	rc = resolve(out, outlen, host, flags, text, err, errlen);
	if (rc < 0)
		return rc;
	set_port(out, (uint16_t)port);
	return 0;
}

char *addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (len == 0)
		return buf;
	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof ip);
		snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(a4->sin_port));
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof ip);
		if (a6->sin6_scope_id != 0)
			snprintf(buf, len, "[%s%%%u]:%u", ip,
			         (unsigned)a6->sin6_scope_id,
			         (unsigned)ntohs(a6->sin6_port));
		else
			snprintf(buf, len, "[%s]:%u", ip,
			         (unsigned)ntohs(a6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
	return buf;
}

uint16_t addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

socklen_t addr_len(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (sa->sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

bool addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;
		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
		return x->sin6_port == y->sin6_port &&
		       x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr,
		              sizeof x->sin6_addr) == 0;
	}
	return false;
}

/* Clear every bit after the first `prefix` bits of an n-byte address. */
static void mask_bytes(uint8_t *b, size_t n, unsigned prefix)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned first = (unsigned)i * 8;
		if (prefix >= first + 8)
			continue;
		if (prefix <= first)
			b[i] = 0;
		else
			b[i] &= (uint8_t)(0xffu << (8 - (prefix - first)));
	}
}

int addr_net_parse(struct addr_net *out, const char *text, char *err,
                   size_t errlen)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *slash;
	size_t iplen;
	unsigned maxp, prefix;

	if (text == NULL || text[0] == '\0') {
		say(err, errlen, "empty network in allow-list");
		return -EINVAL;
	}
	slash = strchr(text, '/');
	iplen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	if (iplen == 0 || iplen >= sizeof ip) {
		say(err, errlen, "bad network '%s': expected ADDR[/PREFIX]",
		    text);
		return -EINVAL;
	}
	memcpy(ip, text, iplen);
	ip[iplen] = '\0';
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, ip, out->bytes) == 1) {
		out->family = AF_INET;
		maxp = 32;
	} else if (inet_pton(AF_INET6, ip, out->bytes) == 1) {
		out->family = AF_INET6;
		maxp = 128;
	} else {
		say(err, errlen, "bad address '%s' in network '%s'", ip, text);
		return -EINVAL;
	}
	prefix = maxp;
	if (slash != NULL) {
		const char *p = slash + 1;
		size_t i;
		if (*p == '\0') {
			say(err, errlen, "missing prefix length in '%s'", text);
			return -EINVAL;
		}
		prefix = 0;
		for (i = 0; p[i] != '\0'; i++) {
			if (p[i] < '0' || p[i] > '9' || i >= 3) {
				say(err, errlen,
				    "bad prefix length in '%s': must be 0..%u",
				    text, maxp);
				return -EINVAL;
			}
			prefix = prefix * 10 + (unsigned)(p[i] - '0');
		}
		if (prefix > maxp) {
			say(err, errlen,
			    "bad prefix length in '%s': must be 0..%u", text,
			    maxp);
			return -EINVAL;
		}
	}
	out->prefix = prefix;
	mask_bytes(out->bytes, maxp / 8, prefix);
	return 0;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ net[full]) & (uint8_t)(0xffu << (8 - rest))) == 0;
}

bool addr_net_match(const struct addr_net *net, const struct sockaddr *sa)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0,    0,
	                                     0, 0, 0, 0, 0xff, 0xff};
	const uint8_t *bytes;
	int family = sa->sa_family;

	if (family == AF_INET) {
		bytes = (const uint8_t *)&((const struct sockaddr_in *)sa)
		                ->sin_addr;
	} else if (family == AF_INET6) {
		bytes = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (net->family == AF_INET &&
		    memcmp(bytes, v4mapped, 12) == 0) {
			bytes += 12;
			family = AF_INET;
		}
	} else {
		return false;
	}
	if (family != net->family)
		return false;
	return prefix_equal(bytes, net->bytes, net->prefix);
}

bool addr_allow_match(const struct addr_net *list, size_t n,
                      const struct sockaddr *sa)
{
	size_t i;

	if (n == 0)
		return true;
	for (i = 0; i < n; i++)
		if (addr_net_match(&list[i], sa))
			return true;
	return false;
}

int addr_parse_default_port(struct sockaddr_storage *out, const char *text,
                            uint16_t port, char *err, size_t errlen)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;

	if (text == NULL || text[0] == '\0') {
		say(err, errlen, "empty address");
		return -EINVAL;
	}
	/* A bare address: IPv4, or IPv6 (a colon too many for a port). */
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, text, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		return 0;
	}
	if (text[0] == '[' && strchr(text, ']') != NULL &&
	    strchr(text, ']')[1] == '\0') {
		char inner[INET6_ADDRSTRLEN + 1];
		size_t n = strlen(text) - 2;
		if (n < sizeof inner) {
			memcpy(inner, text + 1, n);
			inner[n] = '\0';
			if (inet_pton(AF_INET6, inner, &a6->sin6_addr) == 1) {
				a6->sin6_family = AF_INET6;
				a6->sin6_port = htons(port);
				return 0;
			}
		}
	}
	return addr_parse(out, NULL, text, ADDR_NUMERIC, err, errlen);
}

bool addr_is_multicast(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return IN_MULTICAST(ntohl(
		        ((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_MULTICAST(
		        &((const struct sockaddr_in6 *)sa)->sin6_addr);
	return false;
}
