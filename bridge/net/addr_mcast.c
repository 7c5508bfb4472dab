/*
 * addr, multicast part: interfaces by name, index or address, and the
 * source address a route gives (see addr.h)
 *
 * Both read the system's interface list or route table, so they run at
 * set-up on the control thread; nothing here is on a datagram's path.
 */
#define _DEFAULT_SOURCE /* getifaddrs, struct ip_mreqn */
#include "bridge/net/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The index of the interface holding address `a` (family af), or 0. */
static unsigned iface_of_address(int af, const void *a)
{
	struct ifaddrs *list = NULL, *it;
	unsigned idx = 0;

	if (getifaddrs(&list) != 0)
		return 0;
	for (it = list; it != NULL && idx == 0; it = it->ifa_next) {
		const struct sockaddr *sa = it->ifa_addr;
		if (sa == NULL || sa->sa_family != af)
			continue;
		const void *b =
		        af == AF_INET ? (const void *)&(
		                                (const struct sockaddr_in *)sa)
		                                ->sin_addr
		                      : (const void *)&(
		                                (const struct sockaddr_in6 *)sa)
		                                ->sin6_addr;
		if (memcmp(a, b, af == AF_INET ? 4 : 16) == 0)
			idx = if_nametoindex(it->ifa_name);
	}
	freeifaddrs(list);
	return idx;
}

int addr_iface_parse(const char *text, char *err, size_t errlen)
{
	unsigned char a[16];
	unsigned idx = 0;

	if (text == NULL || text[0] == '\0') {
		if (errlen)
			snprintf(err, errlen, "empty interface name");
		return -EINVAL;
	}
	if (strspn(text, "0123456789") == strlen(text) && strlen(text) < 10) {
		unsigned long v = 0;
		for (const char *p = text; *p; p++)
			v = v * 10 + (unsigned long)(*p - '0');
		char name[IF_NAMESIZE];
		if (v > 0 && if_indextoname((unsigned)v, name) != NULL)
			idx = (unsigned)v;
	} else if (inet_pton(AF_INET, text, a) == 1) {
		idx = iface_of_address(AF_INET, a);
	} else if (inet_pton(AF_INET6, text, a) == 1) {
		idx = iface_of_address(AF_INET6, a);
	} else if (strlen(text) < IF_NAMESIZE) {
		idx = if_nametoindex(text);
	}
	if (idx == 0) {
		snprintf(err, errlen,
		         "no interface '%s' (give a name, an index or an "
		         "address of the interface)",
		         text);
		return -ENODEV;
	}
	return (int)idx;
}

static bool is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
	        &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* An address of family af on interface ifindex (0: the first interface
   that is up and does multicast, else loopback). Return: found. */
static bool iface_address(int af, unsigned ifindex,
                          struct sockaddr_storage *out)
{
	struct ifaddrs *list = NULL, *it;
	bool found = false;

	if (getifaddrs(&list) != 0)
		return false;
	for (int pass = 0; pass < 2 && !found; pass++)
		for (it = list; it != NULL && !found; it = it->ifa_next) {
			const struct sockaddr *sa = it->ifa_addr;
			unsigned idx = if_nametoindex(it->ifa_name);
			bool up = (it->ifa_flags & IFF_UP) != 0;
			bool mc = (it->ifa_flags & IFF_MULTICAST) != 0 &&
			          !(it->ifa_flags & IFF_LOOPBACK);
			if (sa == NULL || sa->sa_family != af || !up)
				continue;
			if (ifindex ? idx != ifindex : (pass == 0 && !mc))
				continue;
			memset(out, 0, sizeof *out);
			memcpy(out, sa, addr_len(sa));
			found = true;
		}
	freeifaddrs(list);
	return found;
}

int addr_route_source(const struct sockaddr *to, unsigned ifindex,
                      struct sockaddr_storage *out)
{
	socklen_t len = addr_len(to);
	int fd, rc = 0;

	if (len == 0)
		return -EAFNOSUPPORT;
	fd = socket(to->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A multicast route goes out of the chosen interface; so must the
	   lookup of its source address. */
	if (ifindex > 0 && addr_is_multicast(to)) {
		if (to->sa_family == AF_INET) {
			struct ip_mreqn m = {.imr_ifindex = (int)ifindex};
			rc = setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m,
			                sizeof m);
		} else {
			int i = (int)ifindex;
			rc = setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &i,
			                sizeof i);
		}
	}
	if (rc == 0)
		rc = connect(fd, to, len);
	len = sizeof *out;
	if (rc == 0)
		rc = getsockname(fd, (struct sockaddr *)out, &len);
	if (rc != 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && is_wildcard(out)) {
		/* A multicast route over an interface whose addresses are
		   host-scoped (lo) gives no source: take one of its own. */
		if (!iface_address(to->sa_family, ifindex, out))
			rc = -EADDRNOTAVAIL;
	}
	if (rc == 0) {
		if (out->ss_family == AF_INET) {
			((struct sockaddr_in *)out)->sin_port = 0;
		} else {
			struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
			a6->sin6_port = 0;
			/* A link-local source is an address on one link: the
			   interface's (the socket was bound to none). */
			if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr) &&
			    a6->sin6_scope_id == 0)
				a6->sin6_scope_id = ifindex;
		}
	}
	return rc;
}
