/*
 * udpsock: libuv UDP handle with options and counters (see udpsock.h;
 * the receive side is udpsock_rx.c)
 *
 * The handle is initialised with AF_UNSPEC first, which cannot fail, so
 * that every udpsock_open leaves exactly one handle to close whatever went
 * wrong later. libuv creates the socket in uv_udp_bind; options libuv does
 * not cover (DSCP, buffer sizes, multicast TTL/loop with a hop limit of 0,
 * interfaces by index, source-specific joins) are set with setsockopt on
 * its descriptor. Joins use the protocol-independent MCAST_JOIN_GROUP and
 * MCAST_JOIN_SOURCE_GROUP (RFC 3678), the same for IPv4 and IPv6. A
 * receiving socket has two more handles (its poll and its coalescing
 * timer); the socket is closed when the last of the three is.
 */
#define _DEFAULT_SOURCE /* MCAST_JOIN_*, struct group_req, ip_mreqn */
#include "bridge/net/udpsock_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bridge/net/addr.h"

void udpsock_opts_init(struct udpsock_opts *o)
{
	memset(o, 0, sizeof *o);
	o->mcast_ttl = -1;
	o->mcast_loop = -1;
	o->dscp = -1;
}

static int fail(struct udpsock *s, int rc, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
	n = strlen(s->err);
	snprintf(s->err + n, sizeof s->err - n, ": %s", uv_strerror(rc));
	return rc;
}

static int set_opt(int fd, int level, int name, const void *v, socklen_t len)
{
	if (setsockopt(fd, level, name, v, len) != 0)
		return -errno;
	return 0;
}

static int set_int(int fd, int level, int name, int value)
{
	return set_opt(fd, level, name, &value, sizeof value);
}

/* One of the socket's handles is closed; the last one ends the socket. */
static void on_closed(uv_handle_t *h)
{
	struct udpsock *s = h->data;

	if (--s->closing_handles > 0)
		return;
	udpsock__rx_free(s);
	s->open = false;
	if (s->on_close != NULL)
		s->on_close(s, s->user);
}

static void on_hook(struct netloop_hook *hk)
{
	struct udpsock *s =
	        (struct udpsock *)((char *)hk - offsetof(struct udpsock, hook));
	udpsock_close(s, NULL);
}

/* Join the group `grp` (the bind address) on the configured interface,
   from any source or only from opts->mcast_source. */
static int join(struct udpsock *s, const struct sockaddr *grp,
                const struct udpsock_opts *o)
{
	char txt[ADDR_TEXT_MAX], src[ADDR_TEXT_MAX], on[IF_NAMESIZE + 16];
	int fd = udpsock_fd(s);
	int level = grp->sa_family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	int rc;

	if (o->mcast_ifindex == 0 ||
	    if_indextoname(o->mcast_ifindex, on) == NULL)
		snprintf(on, sizeof on, "the route's interface");
	if (o->mcast_source != NULL) {
		struct group_source_req r;
		socklen_t sl = addr_len(o->mcast_source);
		memset(&r, 0, sizeof r);
		r.gsr_interface = o->mcast_ifindex;
		memcpy(&r.gsr_group, grp, addr_len(grp));
		if (o->mcast_source->sa_family != grp->sa_family || sl == 0)
			return fail(
			        s, UV_EAFNOSUPPORT, "source %s for group %s",
			        addr_format(o->mcast_source, src, sizeof src),
			        addr_format(grp, txt, sizeof txt));
		memcpy(&r.gsr_source, o->mcast_source, sl);
		rc = set_opt(fd, level, MCAST_JOIN_SOURCE_GROUP, &r, sizeof r);
		if (rc < 0)
			return fail(
			        s, rc,
			        "join multicast group %s from source %s on %s",
			        addr_format(grp, txt, sizeof txt),
			        addr_format(o->mcast_source, src, sizeof src),
			        on);
		return 0;
	}
	struct group_req r;
	memset(&r, 0, sizeof r);
	r.gr_interface = o->mcast_ifindex;
	memcpy(&r.gr_group, grp, addr_len(grp));
	rc = set_opt(fd, level, MCAST_JOIN_GROUP, &r, sizeof r);
	if (rc < 0)
		return fail(s, rc, "join multicast group %s on %s",
		            addr_format(grp, txt, sizeof txt), on);
	return 0;
}

/* Options applied to the bound socket's descriptor. */
static int set_options(struct udpsock *s, const struct udpsock_opts *o,
                       int family)
{
	int fd = udpsock_fd(s);
	int rc = 0;
	bool v6 = family == AF_INET6;

	if (o->dscp >= 0) {
		if (o->dscp > 63)
			return fail(s, UV_EINVAL, "DSCP %d (must be 0..63)",
			            o->dscp);
		if (v6) {
			rc = set_int(fd, IPPROTO_IPV6, IPV6_TCLASS,
			             o->dscp << 2);
			/* Also marks IPv4 traffic of a dual-stack socket; an
			 * IPv6-only socket may refuse it, which is harmless. */
			(void)set_int(fd, IPPROTO_IP, IP_TOS, o->dscp << 2);
		} else {
			rc = set_int(fd, IPPROTO_IP, IP_TOS, o->dscp << 2);
		}
		if (rc < 0)
			return fail(s, rc, "set DSCP %d", o->dscp);
	}
	if (o->rcvbuf > 0 &&
	    (rc = set_int(fd, SOL_SOCKET, SO_RCVBUF, o->rcvbuf)) < 0)
		return fail(s, rc, "set receive buffer %d bytes", o->rcvbuf);
	if (o->sndbuf > 0 &&
	    (rc = set_int(fd, SOL_SOCKET, SO_SNDBUF, o->sndbuf)) < 0)
		return fail(s, rc, "set send buffer %d bytes", o->sndbuf);
	if (o->mcast_ttl >= 0) {
		if (o->mcast_ttl > 255)
			return fail(s, UV_EINVAL,
			            "multicast TTL %d (must be 0..255)",
			            o->mcast_ttl);
		rc = v6 ? set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS,
		                  o->mcast_ttl)
		        : set_int(fd, IPPROTO_IP, IP_MULTICAST_TTL,
		                  o->mcast_ttl);
		if (rc < 0)
			return fail(s, rc, "set multicast TTL %d",
			            o->mcast_ttl);
	}
	if (o->mcast_loop >= 0) {
		int on = o->mcast_loop ? 1 : 0;
		rc = v6 ? set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, on)
		        : set_int(fd, IPPROTO_IP, IP_MULTICAST_LOOP, on);
		if (rc < 0)
			return fail(s, rc, "set multicast loop %d", on);
	}
	if (o->mcast_ifindex > 0) {
		if (v6) {
			rc = set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF,
			             (int)o->mcast_ifindex);
		} else {
			struct ip_mreqn m;
			memset(&m, 0, sizeof m);
			m.imr_ifindex = (int)o->mcast_ifindex;
			rc = set_opt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m,
			             sizeof m);
		}
		if (rc < 0)
			return fail(s, rc, "multicast interface %u",
			            o->mcast_ifindex);
	}
	return 0;
}

int udpsock_open(struct udpsock *s, struct netloop *nl,
                 const struct udpsock_opts *o)
{
	struct sockaddr_storage local;
	const struct sockaddr *bind_to;
	char txt[ADDR_TEXT_MAX];
	unsigned flags = 0;
	int family, rc;

	s->nl = nl;
	s->err[0] = '\0';
	s->open = false;
	s->closing = false;
	s->on_recv = o->on_recv;
	s->on_close = NULL;
	s->user = o->user;
	s->has_peer = false;
	s->rx_handles = 0;
	s->holding = false;
	s->empty_reads = 0;
	s->closing_handles = 0;
	s->coalesce_ms = 0;
	s->next = NULL;
	s->plan = NULL;
	s->next_arg = NULL;
	s->planned = INT64_MAX;
	s->planned_fd = -1;
	s->lead_ns = 0;
	s->hold_ns = 0;
	s->rate_t_ns = 0;
	s->rate = 0.0;
	s->stamp_last = 0;
	s->rx = NULL;
	s->rxbuf = NULL;
	memset(&s->hook, 0, sizeof s->hook);
	atomic_init(&s->rx_packets, 0);
	atomic_init(&s->rx_bytes, 0);
	atomic_init(&s->rx_truncated, 0);
	atomic_init(&s->rx_errors, 0);
	atomic_init(&s->rx_wakeups, 0);
	atomic_init(&s->tx_packets, 0);
	atomic_init(&s->tx_bytes, 0);
	atomic_init(&s->tx_eagain, 0);
	atomic_init(&s->tx_errors, 0);

	/* AF_UNSPEC: no socket yet, so this cannot fail. */
	rc = uv_udp_init(netloop_uv(nl), &s->handle);
	if (rc < 0)
		return fail(s, rc, "create UDP handle");
	s->handle.data = s;
	s->open = true;
	netloop_hook_add(nl, &s->hook, on_hook);

	if (o->bind == NULL && o->peer == NULL)
		return fail(s, UV_EINVAL,
		            "UDP socket without a local or peer address");
	if (o->peer != NULL) {
		socklen_t len = addr_len(o->peer);
		if (len == 0)
			return fail(s, UV_EAFNOSUPPORT, "peer address");
		memcpy(&s->peer, o->peer, len);
		s->has_peer = true;
	}
	if (o->bind != NULL) {
		bind_to = o->bind;
		/* A node- or link-scoped IPv6 group is bound on one
		   interface (the kernel wants a scope): the one given. */
		if (bind_to->sa_family == AF_INET6 && o->mcast_ifindex > 0) {
			const struct sockaddr_in6 *b6 =
			        (const struct sockaddr_in6 *)bind_to;
			if ((IN6_IS_ADDR_MC_LINKLOCAL(&b6->sin6_addr) ||
			     IN6_IS_ADDR_MC_NODELOCAL(&b6->sin6_addr)) &&
			    b6->sin6_scope_id == 0) {
				memcpy(&local, b6, sizeof *b6);
				((struct sockaddr_in6 *)&local)->sin6_scope_id =
				        o->mcast_ifindex;
				bind_to = (const struct sockaddr *)&local;
			}
		}
	} else {
		memset(&local, 0, sizeof local);
		local.ss_family = o->peer->sa_family;
		bind_to = (const struct sockaddr *)&local;
	}
	family = bind_to->sa_family;
	if (family != AF_INET && family != AF_INET6)
		return fail(s, UV_EAFNOSUPPORT, "local address");
	if (o->peer != NULL && o->peer->sa_family != family)
		return fail(s, UV_EAFNOSUPPORT,
		            "peer %s and local %s differ in family",
		            addr_format(o->peer, txt, sizeof txt),
		            addr_format(bind_to, (char[ADDR_TEXT_MAX]){0},
		                        ADDR_TEXT_MAX));
	if (o->reuse || addr_is_multicast(bind_to))
		flags |= UV_UDP_REUSEADDR;
	if (family == AF_INET6 && o->v6only)
		flags |= UV_UDP_IPV6ONLY;
	rc = uv_udp_bind(&s->handle, bind_to, flags);
	if (rc < 0)
		return fail(s, rc, "bind %s",
		            addr_format(bind_to, txt, sizeof txt));

	rc = set_options(s, o, family);
	if (rc < 0)
		return rc;
	if (addr_is_multicast(bind_to)) {
		rc = join(s, bind_to, o);
		if (rc < 0)
			return rc;
	}
	if (o->on_recv != NULL) {
		rc = udpsock__rx_start(s);
		if (rc < 0)
			return fail(s, rc, "receive on %s",
			            addr_format(bind_to, txt, sizeof txt));
	}
	return 0;
}

void udpsock_close(struct udpsock *s, udpsock_close_fn cb)
{
	if (!s->open || s->closing)
		return;
	s->closing = true;
	s->on_close = cb;
	netloop_hook_remove(s->nl, &s->hook);
	/* The poll goes before the socket's handle closes the descriptor. */
	s->closing_handles = udpsock__rx_close(s, on_closed) + 1;
	uv_close((uv_handle_t *)&s->handle, on_closed);
}

int udpsock_send(struct udpsock *s, const void *data, size_t len,
                 const struct sockaddr *to)
{
	uv_buf_t b;
	int rc;

	if (to == NULL) {
		if (!s->has_peer)
			return -EDESTADDRREQ;
		to = (const struct sockaddr *)&s->peer;
	}
	if (!s->open || s->closing)
		return -EBADF;
	b = uv_buf_init((char *)data, (unsigned)len);
	rc = uv_udp_try_send(&s->handle, &b, 1, to);
	if (rc >= 0) {
		udpsock__add(&s->tx_packets, 1);
		udpsock__add(&s->tx_bytes, (uint64_t)rc);
	} else if (rc == UV_EAGAIN || rc == UV_ENOBUFS) {
		udpsock__add(&s->tx_eagain, 1);
		rc = UV_EAGAIN;
	} else {
		udpsock__add(&s->tx_errors, 1);
	}
	return rc;
}

int udpsock_local(const struct udpsock *s, struct sockaddr_storage *out)
{
	int len = sizeof *out;

	return uv_udp_getsockname(&s->handle, (struct sockaddr *)out, &len);
}

const char *udpsock_error(const struct udpsock *s)
{
	return s->err;
}

int udpsock_fd(const struct udpsock *s)
{
	uv_os_fd_t fd;

	if (uv_fileno((const uv_handle_t *)&s->handle, &fd) < 0)
		return -1;
	return fd;
}
