/*
 * saptable: the sessions SAP announces on the LAN, as a bounded table fed
 * datagram by datagram
 *
 * Pure code, no clock and no I/O: the caller passes each datagram and the
 * time (the net thread's SAP listener does, and the fuzz target). A
 * datagram is parsed (sap.h), its SDP read (sdpparse.h), and the session
 * it names is found by its originating source and its SDP origin (o=
 * without the version, RFC 4566's globally unique session identifier; the
 * message id hash when there is no o= line). Then:
 *
 *   announcement of an unknown session    NEW (if the table has room)
 *   announcement with another hash/SDP    CHANGED
 *   announcement, same as before          refreshed, no event
 *   deletion of a known session           DELETED
 *   silent longer than the time-out       EXPIRED (saptable_expire)
 *
 * Everything else is counted and dropped: datagrams that are not SAP or
 * are refused by sap_parse (per reason), SDP that does not parse or
 * describes an encoding we do not play, deletions of sessions never seen,
 * announcements when SAPTABLE_MAX sessions are known. Memory is the
 * struct itself; work per datagram is linear in its length plus the table
 * size. One owner, no locking.
 */
#ifndef RTB_NET_SAPTABLE_H
#define RTB_NET_SAPTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bridge/net/sap.h"
#include "bridge/net/sdpparse.h"

#define SAPTABLE_MAX 64 /* sessions known at once */

enum saptable_kind {
	SAPTABLE_NEW = 1,
	SAPTABLE_CHANGED,
	SAPTABLE_DELETED,
	SAPTABLE_EXPIRED,
};

/* What happened to one session. */
struct saptable_event {
	enum saptable_kind kind;
	unsigned id;                    /* the session's number, from 1 */
	struct sockaddr_storage source; /* SAP originating source */
	struct sdpparse_result sdp;     /* its description (the last one) */
};

/* Called for each event, during saptable_datagram / saptable_expire. */
typedef void saptable_event_fn(void *arg, const struct saptable_event *ev);

struct saptable_counters {
	uint64_t datagrams;     /* everything fed */
	uint64_t announcements; /* valid announcements (new or refreshed) */
	uint64_t deletions;     /* valid deletions of known sessions */
	uint64_t oversized;     /* longer than SAP_MAX_PACKET */
	uint64_t truncated;     /* header, address or payload cut short */
	uint64_t bad_version;   /* SAP version other than 1 */
	uint64_t encrypted;     /* E or C bit: we cannot read them */
	uint64_t not_sdp;       /* another payload type */
	uint64_t bad_sdp;       /* SDP that does not describe an audio stream */
	uint64_t unsupported;   /* an audio encoding we do not play */
	uint64_t unknown_deletion; /* deletion of a session never seen */
	uint64_t table_full;       /* new session with SAPTABLE_MAX known */
};

struct saptable_entry {
	bool used;
	unsigned id;
	uint16_t hash;
	struct sockaddr_storage source;
	uint64_t last_ns; /* last announcement */
	struct sdpparse_result sdp;
};

struct saptable {
	struct saptable_entry e[SAPTABLE_MAX];
	unsigned next_id;
	struct saptable_counters c;
};

/* Empty the table and its counters. Context: the owner. */
void saptable_init(struct saptable *t);

/*
 * Take one datagram received at now_ns; fn (may be NULL) hears of what it
 * changed
 *
 * Context: the owner (the net thread), bounded work, no allocation
 */
void saptable_datagram(struct saptable *t, const uint8_t *data, size_t len,
                       uint64_t now_ns, saptable_event_fn *fn, void *arg);

/*
 * Drop sessions not announced for timeout_ns, each with an EXPIRED event
 *
 * Context: the owner
 */
void saptable_expire(struct saptable *t, uint64_t now_ns, uint64_t timeout_ns,
                     saptable_event_fn *fn, void *arg);

/* Sessions known now. Context: the owner. */
unsigned saptable_count(const struct saptable *t);

#endif
