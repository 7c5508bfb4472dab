/*
 * sapannounce: announce one session with SAP (RFC 2974) from the net
 * thread, and delete it when it ends
 *
 * The announcement (and the deletion, its T bit set) is packed once at
 * set-up from the session's SDP text, with a message id hash of that
 * text. Started on the net thread, it is sent at once to every SAP group
 * given, then every interval (5 s by default, as PipeWire does; RFC 2974's
 * bandwidth-based interval would be minutes for a LAN of few sessions),
 * by a libuv timer: no thread of its own. Stopping sends the deletion to
 * every group, then closes the sockets and the timer.
 *
 * The struct is caller storage: the control thread initialises it, starts
 * it (the net thread then owns sockets and timer), stops it
 * (sapannounce_stop waits until the net thread has let go) and clears it.
 * Counters are single-writer atomics any thread may read.
 */
#ifndef RTB_NET_SAPANNOUNCE_H
#define RTB_NET_SAPANNOUNCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "bridge/net/netloop.h"
#include "bridge/net/sap.h"
#include "bridge/net/udpsock.h"

#define SAPANNOUNCE_ERR_MAX 256

struct sapannounce_opts {
	struct sockaddr_storage groups[SAP_MAX_GROUPS]; /* address, port */
	int ngroups;                                    /* 1..SAP_MAX_GROUPS */
	struct sockaddr_storage origin; /* the sender's own address */
	unsigned ifindex;     /* multicast interface, 0: the route's */
	int ttl;              /* multicast TTL / hop limit, -1: default */
	uint64_t interval_ns; /* between announcements; 0: 5 s */
	const char *sdp;      /* the session description (copied) */
};

struct sapannounce {
	struct sapannounce_opts o;
	struct netloop *nl;
	struct udpsock *socks;   /* o.ngroups, allocated */
	uint8_t *announce, *bye; /* the two packets, allocated */
	size_t announce_len, bye_len;
	uint16_t hash;
	uv_timer_t timer;
	bool timer_open;     /* net thread */
	int handles;         /* net thread: handles not yet closed */
	bool started;        /* control */
	_Atomic bool closed; /* net -> control: everything closed */
	_Atomic uint64_t sent, deletions, send_errors; /* net thread writes */
	char err[SAPANNOUNCE_ERR_MAX];
};

/*
 * Pack the announcement and the deletion
 *
 * Return: 0; -EINVAL for bad options (no group, a group that is not
 *         multicast, families that differ from the origin's), -EMSGSIZE
 *         for an SDP too long for one SAP packet, -ENOMEM
 * Post: on failure sapannounce_error says why; sapannounce_clear is safe
 *       either way
 * Context: control thread (allocates)
 */
int sapannounce_init(struct sapannounce *a, const struct sapannounce_opts *o);

/* Free the packets and sockets (after sapannounce_stop). Context: control. */
void sapannounce_clear(struct sapannounce *a);

/*
 * Open a socket per group and send the first announcement now, then
 * every interval
 *
 * Return: 0, or a negated errno with sapannounce_error naming the group
 * Context: control thread (waits for the net thread)
 */
int sapannounce_start(struct sapannounce *a, struct netloop *nl);

/*
 * Send the deletion to every group, close, and wait until closed
 *
 * Context: control thread; safe when never started or already stopped
 */
void sapannounce_stop(struct sapannounce *a);

/* The last error line. Context: control thread. */
const char *sapannounce_error(const struct sapannounce *a);

#endif
