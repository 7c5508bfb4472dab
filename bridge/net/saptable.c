/*
 * saptable: SAP sessions by source and origin (see saptable.h)
 *
 * A linear table: SAPTABLE_MAX entries are few, and a lookup compares a
 * sockaddr and a short string per entry.
 */
#include "bridge/net/saptable.h"

#include <errno.h>
#include <string.h>

#include "bridge/net/addr.h"

void saptable_init(struct saptable *t)
{
	memset(t, 0, sizeof *t);
	t->next_id = 1;
}

static bool saptable__same_source(const struct sockaddr_storage *a,
                                  const struct sockaddr_storage *b)
{
	return addr_equal((const struct sockaddr *)a,
	                  (const struct sockaddr *)b);
}

/* The session a message names: same source, and the same o= origin, or
   (no origin on either side) the same hash. */
static struct saptable_entry *
saptable__find(struct saptable *t, const struct sap_msg *m, const char *origin)
{
	for (size_t i = 0; i < SAPTABLE_MAX; i++) {
		struct saptable_entry *e = &t->e[i];
		if (!e->used || !saptable__same_source(&e->source, &m->origin))
			continue;
		if (origin[0] != '\0'
		            ? strcmp(e->sdp.origin, origin) == 0
		            : (e->sdp.origin[0] == '\0' && e->hash == m->hash))
			return e;
	}
	return NULL;
}

/* What a receiver of the session would do differently. */
static bool saptable__same_sdp(const struct sdpparse_result *a,
                               const struct sdpparse_result *b)
{
	return a->port == b->port && a->pt == b->pt && a->red_pt == b->red_pt &&
	       a->ulpfec_pt == b->ulpfec_pt && a->kind == b->kind &&
	       a->rate == b->rate && a->channels == b->channels &&
	       a->frames == b->frames && a->ttl == b->ttl &&
	       a->version == b->version && !strcmp(a->addr, b->addr) &&
	       !strcmp(a->name, b->name) &&
	       !strcmp(a->ts_refclk, b->ts_refclk) &&
	       !strcmp(a->mediaclk, b->mediaclk);
}

static void saptable__emit(const struct saptable_entry *e,
                           enum saptable_kind kind, saptable_event_fn *fn,
                           void *arg)
{
	struct saptable_event ev;

	if (fn == NULL)
		return;
	ev.kind = kind;
	ev.id = e->id;
	ev.source = e->source;
	ev.sdp = e->sdp;
	fn(arg, &ev);
}

/* Count a sap_parse refusal under its reason. */
static void saptable__refused(struct saptable_counters *c, int rc)
{
	switch (rc) {
	case -EMSGSIZE:
		c->oversized++;
		break;
	case -EPROTONOSUPPORT:
		c->bad_version++;
		break;
	case -ENOTSUP:
		c->encrypted++;
		break;
	case -EMEDIUMTYPE:
		c->not_sdp++;
		break;
	default:
		c->truncated++;
		break;
	}
}

void saptable_datagram(struct saptable *t, const uint8_t *data, size_t len,
                       uint64_t now_ns, saptable_event_fn *fn, void *arg)
{
	struct sap_msg m;
	struct sdpparse_result r;
	struct saptable_entry *e;
	int rc;

	t->c.datagrams++;
	rc = sap_parse(data, len, &m);
	if (rc < 0) {
		saptable__refused(&t->c, rc);
		return;
	}
	/* A deletion may carry only the o= line (RFC 2974 6): its origin
	   is read even when the rest is no usable stream. */
	rc = sdpparse_parse_n(&r, m.sdp, m.sdp_len, NULL, 0);
	e = saptable__find(t, &m, r.origin);
	if (m.deletion) {
		if (e == NULL) {
			t->c.unknown_deletion++;
			return;
		}
		t->c.deletions++;
		e->used = false;
		saptable__emit(e, SAPTABLE_DELETED, fn, arg);
		return;
	}
	if (rc < 0) {
		if (rc == -ENOTSUP)
			t->c.unsupported++;
		else
			t->c.bad_sdp++;
		return;
	}
	t->c.announcements++;
	if (e != NULL) {
		bool changed =
		        e->hash != m.hash || !saptable__same_sdp(&e->sdp, &r);
		e->last_ns = now_ns;
		if (!changed)
			return;
		e->hash = m.hash;
		e->sdp = r;
		saptable__emit(e, SAPTABLE_CHANGED, fn, arg);
		return;
	}
	for (size_t i = 0; i < SAPTABLE_MAX; i++) {
		if (t->e[i].used)
			continue;
		e = &t->e[i];
		e->used = true;
		e->id = t->next_id++;
		if (t->next_id == 0)
			t->next_id = 1;
		e->hash = m.hash;
		e->source = m.origin;
		e->last_ns = now_ns;
		e->sdp = r;
		saptable__emit(e, SAPTABLE_NEW, fn, arg);
		return;
	}
	t->c.announcements--;
	t->c.table_full++;
}

void saptable_expire(struct saptable *t, uint64_t now_ns, uint64_t timeout_ns,
                     saptable_event_fn *fn, void *arg)
{
	for (size_t i = 0; i < SAPTABLE_MAX; i++) {
		struct saptable_entry *e = &t->e[i];
		if (!e->used || now_ns < e->last_ns ||
		    now_ns - e->last_ns < timeout_ns)
			continue;
		e->used = false;
		saptable__emit(e, SAPTABLE_EXPIRED, fn, arg);
	}
}

unsigned saptable_count(const struct saptable *t)
{
	unsigned n = 0;

	for (size_t i = 0; i < SAPTABLE_MAX; i++)
		n += t->e[i].used;
	return n;
}
