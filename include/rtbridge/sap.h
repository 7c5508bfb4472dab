/*
 * rtbridge/sap.h: the sessions announced with SAP (RFC 2974), since 0.3
 *
 * A SAP listener joins the announcement groups (the defaults: IPv4
 * 224.0.0.56 and 239.255.255.255, IPv6 ff02::2:7ffe and ff05::2:7ffe,
 * port 9875) on its own net thread and keeps a table of the audio
 * sessions announced there (at most 64), each with the settings a
 * receiver needs to take it: on_session says when one appears, changes
 * (its description says something else), is deleted by its announcer or
 * times out. Announcements are hostile input: what cannot be read is
 * counted by reason (rtb_sap_counters) and dropped. `rtbridge list` and
 * `rtbridge recv --sap` are built on the same listener.
 *
 * The callback runs on the control thread, inside rtb_sap_poll, which
 * the application calls every few tens of milliseconds.
 */
#ifndef RTBRIDGE_SAP_H
#define RTBRIDGE_SAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rtbridge/receiver.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rtb_sap;

enum rtb_sap_event {
	RTB_SAP_NEW = 1, /* announced for the first time */
	RTB_SAP_CHANGED, /* its description changed */
	RTB_SAP_DELETED, /* its announcer deleted it */
	RTB_SAP_EXPIRED, /* not announced for timeout_s */
};

/* One announced session. */
struct rtb_sap_session {
	unsigned id;           /* from 1, for the listener's life */
	char name[256];        /* the SDP's s=, "" when none */
	char origin[64];       /* the announcer's address */
	char description[320]; /* one line: name, origin, group:port,
	                          codec/rate/channels, packet time, payload
	                          type (as `rtbridge list` prints it) */
	char addr[64];         /* the SDP's c= address, "" when none */
	unsigned port;         /* its m= port */
	bool srtp;             /* RTP/SAVP: a key is needed, which is never
	                          taken from an announcement */
	/* A receiver's settings for it (rtb_sap_receiver_config). */
	enum rtb_codec codec;
	int rate, channels;
	double frame_ms; /* the packet time announced, or the default */
	int pt;          /* RTB_PT_ZERO for 0 */
	int red_pt;      /* RTB_PT_ZERO for 0; 0: none */
	int ulpfec_pt;   /* RTB_PT_ZERO for 0; 0: none */
	char listen[64]; /* where to listen: its group and port, or its
	                    port on any address of its family (unicast) */
};

typedef void rtb_sap_fn(void *arg, struct rtb_sap *l, enum rtb_sap_event ev,
                        const struct rtb_sap_session *s);

struct rtb_sap_config {
	const char *const *groups; /* "GROUP[:PORT]", at most 4; 0: the
	                              defaults */
	unsigned ngroups;
	const char *interface; /* to join on: name, index or address; NULL:
	                          the route's (link-scoped IPv6 groups are
	                          then skipped) */
	double timeout_s;      /* a session not announced this long is gone
	                          (0.1..3600); 0: 60 */
	rtb_sap_fn *on_session;
	void *arg;
};

/* What the listener dropped, by reason. */
struct rtb_sap_counters {
	uint64_t datagrams;     /* everything received */
	uint64_t announcements; /* valid announcements */
	uint64_t deletions;     /* valid deletions of known sessions */
	uint64_t oversized, truncated, bad_version;
	uint64_t encrypted;   /* encrypted or compressed: not readable */
	uint64_t not_sdp;     /* another payload type */
	uint64_t bad_sdp;     /* no audio stream described */
	uint64_t unsupported; /* an encoding rtbridge does not play */
	uint64_t unknown_deletion;
	uint64_t table_full; /* a new session while the table is full */
};

/*
 * Join the groups and start listening, on a net thread of the listener's
 *
 * Return: 0 with *out set when at least one group was joined
 *         (rtb_sap_warnings names the others), or a negated errno with
 *         one line in why (len bytes; may be NULL): -EINVAL or -ENODEV
 *         for a bad setting (a group, the interface, the time-out;
 *         nothing was opened), -EIO when no group could be joined,
 *         -ENOMEM
 * Context: control thread
 */
int rtb_sap_create(const struct rtb_sap_config *cfg, struct rtb_sap **out,
                   char *why, size_t len);

/* The groups that could not be joined, one line each ("" when none).
   Context: control thread. */
const char *rtb_sap_warnings(const struct rtb_sap *l);

/*
 * Take what happened since the last call: on_session for each event, in
 * order
 *
 * Return: the events taken
 * Context: control thread
 */
int rtb_sap_poll(struct rtb_sap *l);

/* The counters. Context: control thread. */
void rtb_sap_counters(struct rtb_sap *l, struct rtb_sap_counters *c);

/*
 * A receiver's stream settings for a session: listen, codec, rate,
 * channels, frame_ms, pt, red_pt, ulpfec_pt (the other fields are left
 * as they are; listen points into s)
 *
 * Context: any thread
 */
void rtb_sap_receiver_config(const struct rtb_sap_session *s,
                             struct rtb_receiver_config *cfg);

/* Leave the groups and free the listener. Context: control thread. */
void rtb_sap_destroy(struct rtb_sap *l);

#ifdef __cplusplus
}
#endif

#endif
