/*
 * app_sap: what `rtbridge list` and `rtbridge recv --sap` share about SAP
 * on the command line: the groups to listen on, the interface, the
 * time-out, a one-line description of an announced session (these four
 * for the library's listener, lib/rtb_sap.c), the counters of what was
 * ignored, and a small table of the sessions known now (fed by the
 * library listener's events).
 *
 * Context: control (main) thread.
 */
#ifndef RTB_APP_SAP_H
#define RTB_APP_SAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <rtbridge/sap.h>

#include "bridge/app/app_sendopts.h"
#include "bridge/net/sapannounce.h"
#include "bridge/net/saplisten.h"

#define APP_SAP_LINE_MAX 320
/* Columns of a session line: name, origin, group, codec, ptime, then pt. */
#define APP_SAP_FORMAT "%-32s %-16s %-24s %-15s %-10s "

/*
 * Listener options from the command line: groups as "GROUP[:PORT]" (none:
 * the defaults), an interface (name, index or address; NULL: the route's),
 * a time-out in seconds (0: the default)
 *
 * Post: on failure err holds one line naming the bad value
 * Return: 0, or -EINVAL / -ENODEV
 */
int app_sap_listen_opts(struct saplisten_opts *o, const char *const *groups,
                        int ngroups, const char *iface, double timeout_s,
                        char *err, size_t errlen);

/*
 * One line for a session: name, SAP origin, destination, codec/rate/
 * channels, packet time, payload type (no newline)
 */
void app_sap_describe(const struct saptable_event *ev, char *line, size_t len);

/* Print what the listener ignored, on one line (nothing when nothing). */
void app_sap_print_ignored(const struct rtb_sap_counters *c, FILE *f,
                           const char *prefix);

/* The sessions known now, updated from the listener's events (the
   library's listener, rtbridge/sap.h). */
struct app_sap_sessions {
	struct rtb_sap_session s[SAPTABLE_MAX];
	int n;
};

/*
 * Apply one event: NEW adds, CHANGED replaces, DELETED and EXPIRED remove
 *
 * Return: the session's entry after the event, or NULL when it is gone
 */
const struct rtb_sap_session *app_sap_apply(struct app_sap_sessions *t,
                                            enum rtb_sap_event ev,
                                            const struct rtb_sap_session *s);

/*
 * The SDP of a stream sent with these options: name (--session, else
 * "rtbridge on HOST"), the sender's address as the origin (the route's
 * source towards `to` on interface ifindex; `to` itself when there is
 * none), the TTL, a=ptime, the clock attributes, and for SRTP the
 * a=crypto value `crypto` (srtpkey_sdes; NULL: plain RTP/AVP)
 *
 * Post: *origin is the origin address used
 * Return: characters written, or a negated errno with a line in err
 */
int app_sap_sdp(const struct app_sendopts *o, const struct codec_config *cfg,
                const struct sockaddr *to, unsigned ifindex,
                uint64_t session_id, const char *crypto,
                struct sockaddr_storage *origin, char *buf, size_t cap,
                char *err, size_t errlen);

/*
 * Set up and start the SAP announcement of a stream (send --announce) on
 * the sender's net thread: its SDP, the groups (--announce=GROUP or the
 * defaults for the destination), interface, TTL and interval
 *
 * Post: on failure err holds one line; sapannounce_stop/clear are safe
 *       either way
 * Return: 0 or a negated errno
 */
int app_sap_announce_start(struct sapannounce *a, const struct app_sendopts *o,
                           const struct codec_config *cfg,
                           const struct sockaddr *to, unsigned ifindex,
                           uint64_t session_id, struct netloop *nl, char *err,
                           size_t errlen);

#endif
