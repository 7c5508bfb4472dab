/*
 * saplisten: listen for SAP announcements on the net thread and tell the
 * control thread which sessions come, change and go
 *
 * One UDP socket per SAP group (by default 224.0.0.56, 239.255.255.255,
 * ff02::2:7ffe and ff05::2:7ffe, port 9875; the groups the host cannot
 * join are skipped and said in saplisten_warnings), a session table
 * (saptable.h) and a timer that expires sessions silent for the time-out,
 * all on the net thread (libuv): no thread of its own. Events go to the
 * control thread through an SPSC ring (net -> control), which the
 * control thread drains with saplisten_poll; when it is full, events are
 * counted and dropped (the table keeps the truth: a session dropped that
 * way is announced again as NEW only after it expired, so the ring is
 * sized for a burst of SAPTABLE_MAX/2 events).
 *
 * The struct is caller storage: the control thread initialises it, opens
 * it (the net thread then owns sockets, timer and table), polls events
 * and closes it (saplisten_close waits until the net thread has let go).
 */
#ifndef RTB_NET_SAPLISTEN_H
#define RTB_NET_SAPLISTEN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "bridge/msg/ring.h"
#include "bridge/net/netloop.h"
#include "bridge/net/saptable.h"
#include "bridge/net/udpsock.h"

#define SAPLISTEN_EVENTS     32 /* ring slots, a power of two */
#define SAPLISTEN_ERR_MAX    512
#define SAPLISTEN_TIMEOUT_NS 60000000000ull /* default time-out: 60 s */

struct saplisten_opts {
	/* Groups (address and port) to listen on; ngroups 0: the defaults. */
	struct sockaddr_storage groups[SAP_MAX_GROUPS];
	int ngroups;
	unsigned ifindex;    /* interface to join on, 0: the route decides
	                        (link-scoped IPv6 groups then are skipped) */
	uint64_t timeout_ns; /* a session silent this long expires; 0: 60 s */
};

struct saplisten {
	struct saplisten_opts o;
	struct netloop *nl;
	struct udpsock *socks; /* o.ngroups of them, allocated */
	int handles;           /* net thread: handles not yet closed */
	uv_timer_t timer;
	bool timer_open;       /* net thread */
	struct saptable table; /* net thread */
	struct ring events;    /* net -> control: struct saptable_event */
	void *events_mem;
	_Atomic uint64_t events_dropped; /* written by the net thread */
	_Atomic bool closed;             /* net -> control: all closed */
	bool opened;                     /* control */
	char warn[SAPLISTEN_ERR_MAX];    /* groups skipped, one per line */
	char err[SAPLISTEN_ERR_MAX];     /* why saplisten_open failed */
};

/*
 * Fill the default options: the four default groups, no interface, 60 s.
 * Context: any
 */
void saplisten_opts_default(struct saplisten_opts *o);

/*
 * Allocate the sockets and the event ring
 *
 * Return: 0, -EINVAL for bad options, -ENOMEM
 * Post: on success saplisten_clear must be called
 * Context: control thread (allocates)
 */
int saplisten_init(struct saplisten *l, const struct saplisten_opts *o);

/* Free what init allocated (after saplisten_close). Context: control. */
void saplisten_clear(struct saplisten *l);

/*
 * Join the groups and start listening, on the net thread
 *
 * Return: 0 when at least one group was joined (saplisten_warnings lists
 *         those that were not), or a negated errno with saplisten_error
 *         saying why none could be
 * Context: control thread (waits for the net thread)
 */
int saplisten_open(struct saplisten *l, struct netloop *nl);

/*
 * Stop listening and wait until the net thread has closed everything
 *
 * Context: control thread
 */
void saplisten_close(struct saplisten *l);

/*
 * Take the next event
 *
 * Return: true when *ev was filled
 * Context: control thread (the only consumer)
 */
bool saplisten_poll(struct saplisten *l, struct saptable_event *ev);

/*
 * A copy of the table's counters
 *
 * Context: control thread (runs on the net thread while it runs)
 */
void saplisten_counters(struct saplisten *l, struct saptable_counters *c);

/* Groups that could not be joined, one per line ("" when none), and why
   open failed. Context: control thread, after saplisten_open. */
const char *saplisten_warnings(const struct saplisten *l);
const char *saplisten_error(const struct saplisten *l);

/*
 * Feed one datagram as if a socket had received it (the socket callback
 * does this; public for tests)
 *
 * Context: net thread
 */
void saplisten_datagram(struct saplisten *l, const uint8_t *data, size_t len,
                        uint64_t now_ns);

#endif
