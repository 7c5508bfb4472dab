/*
 * app_sap: SAP on the command line (see app_sap.h)
 */
#include "bridge/app/app_sap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bridge/net/addr.h"
#include "bridge/net/sdp.h"

int app_sap_listen_opts(struct saplisten_opts *o, const char *const *groups,
                        int ngroups, const char *iface, double timeout_s,
                        char *err, size_t errlen)
{
	char why[160];

	saplisten_opts_default(o);
	if (ngroups > SAP_MAX_GROUPS) {
		snprintf(err, errlen, "at most %d SAP groups", SAP_MAX_GROUPS);
		return -EINVAL;
	}
	if (ngroups > 0)
		o->ngroups = ngroups;
	for (int i = 0; i < ngroups; i++) {
		struct sockaddr *g = (struct sockaddr *)&o->groups[i];
		if (addr_parse_default_port(&o->groups[i], groups[i], SAP_PORT,
		                            why, sizeof why) < 0) {
			snprintf(err, errlen, "SAP group: %s", why);
			return -EINVAL;
		}
		if (!addr_is_multicast(g)) {
			snprintf(err, errlen,
			         "SAP group '%s' is not a multicast address",
			         groups[i]);
			return -EINVAL;
		}
	}
	if (iface != NULL) {
		int idx = addr_iface_parse(iface, why, sizeof why);
		if (idx < 0) {
			snprintf(err, errlen, "--multicast-if: %s", why);
			return idx;
		}
		o->ifindex = (unsigned)idx;
	}
	if (timeout_s > 0)
		o->timeout_ns = (uint64_t)(timeout_s * 1e9);
	return 0;
}

void app_sap_describe(const struct saptable_event *ev, char *line, size_t len)
{
	const struct sdpparse_result *r = &ev->sdp;
	char src[ADDR_TEXT_MAX], dst[ADDR_TEXT_MAX + 8], ptime[32], fmt[48];
	const char *name = r->kind == CODEC_OPUS  ? "opus"
	                   : r->kind == CODEC_L16 ? "L16"
	                                          : "L24";

	addr_format((const struct sockaddr *)&ev->source, src, sizeof src);
	/* The SAP origin's port means nothing: show the address only. */
	char *colon = strrchr(src, ':');
	if (colon != NULL)
		*colon = '\0';
	snprintf(dst, sizeof dst, "%s%s%s:%u", strchr(r->addr, ':') ? "[" : "",
	         r->addr[0] ? r->addr : "?", strchr(r->addr, ':') ? "]" : "",
	         r->port);
	snprintf(fmt, sizeof fmt, "%s/%d/%d", name, r->rate, r->channels);
	if (r->ptime_us > 0) {
		sdp_ptime_text(ptime, sizeof ptime - 3, r->ptime_us / 1000.0);
		strcat(ptime, " ms");
	} else {
		snprintf(ptime, sizeof ptime, "?");
	}
	char red[24] = "";
	if (r->red_pt >= 0 && r->red_pt != r->pt)
		snprintf(red, sizeof red, " (red %d)", r->red_pt);
	snprintf(line, len, APP_SAP_FORMAT "%d%s",
	         r->name[0] ? r->name : "(no name)", src, dst, fmt, ptime,
	         r->pt, red);
}

void app_sap_print_ignored(const struct rtb_sap_counters *c, FILE *f,
                           const char *prefix)
{
	uint64_t bad = c->truncated + c->oversized + c->bad_version +
	               c->encrypted + c->not_sdp + c->bad_sdp;

	if (bad + c->unsupported + c->table_full == 0)
		return;
	fprintf(f,
	        "%signored SAP datagrams: %llu unsupported encodings, %llu "
	        "malformed SDP, %llu truncated, %llu oversized, %llu wrong "
	        "version, %llu encrypted or compressed, %llu not SDP, %llu "
	        "over the table's %d sessions\n",
	        prefix, (unsigned long long)c->unsupported,
	        (unsigned long long)c->bad_sdp,
	        (unsigned long long)c->truncated,
	        (unsigned long long)c->oversized,
	        (unsigned long long)c->bad_version,
	        (unsigned long long)c->encrypted,
	        (unsigned long long)c->not_sdp,
	        (unsigned long long)c->table_full, SAPTABLE_MAX);
}

const struct rtb_sap_session *app_sap_apply(struct app_sap_sessions *t,
                                            enum rtb_sap_event ev,
                                            const struct rtb_sap_session *s)
{
	int at = -1;

	for (int i = 0; i < t->n; i++)
		if (t->s[i].id == s->id)
			at = i;
	switch (ev) {
	case RTB_SAP_NEW:
	case RTB_SAP_CHANGED:
		if (at < 0) {
			if (t->n == SAPTABLE_MAX)
				return NULL;
			at = t->n++;
		}
		t->s[at] = *s;
		return &t->s[at];
	case RTB_SAP_DELETED:
	case RTB_SAP_EXPIRED:
	default:
		if (at >= 0) {
			memmove(&t->s[at], &t->s[at + 1],
			        (size_t)(t->n - at - 1) * sizeof t->s[0]);
			t->n--;
		}
		return NULL;
	}
}

int app_sap_sdp(const struct app_sendopts *o, const struct codec_config *cfg,
                const struct sockaddr *to, unsigned ifindex,
                uint64_t session_id, const char *crypto,
                struct sockaddr_storage *origin, char *buf, size_t cap,
                char *err, size_t errlen)
{
	char name[SDP_NAME_MAX + 1], host[64] = "";
	int rc;

	if (o->session != NULL) {
		snprintf(name, sizeof name, "%s", o->session);
	} else {
		(void)gethostname(host, sizeof host - 1);
		host[sizeof host - 1] = '\0';
		snprintf(name, sizeof name, "rtbridge on %s",
		         host[0] ? host : "localhost");
	}
	if (addr_route_source(to, ifindex, origin) < 0) {
		memset(origin, 0, sizeof *origin);
		memcpy(origin, to, addr_len(to));
	}
	struct sdp_opts so = {
	        .to = to,
	        .codec = cfg,
	        .pt = o->pt,
	        .red_distance = o->red_distance,
	        .red_pt = o->red_pt,
	        .fec_percent = o->fec_percent,
	        .ulpfec_pt = o->ulpfec_pt,
	        .name = name,
	        .session_id = session_id,
	        .origin = (const struct sockaddr *)origin,
	        .ttl = o->ttl > 0 ? o->ttl : 0,
	        /* The system clock, which NTP (chrony) or PTP (phc2sys)
	           keep; the RTP time is it x rate, offset 0. */
	        .ts_refclk = o->media_clock ? "ntp=/traceable/" : NULL,
	        .crypto = crypto,
	};
	rc = sdp_write(buf, cap, &so);
	if (rc < 0)
		snprintf(err, errlen, "cannot describe this stream in SDP");
	return rc;
}

int app_sap_announce_start(struct sapannounce *a, const struct app_sendopts *o,
                           const struct codec_config *cfg,
                           const struct sockaddr *to, unsigned ifindex,
                           uint64_t session_id, struct netloop *nl, char *err,
                           size_t errlen)
{
	struct sapannounce_opts ao;
	char sdp[1024], why[160];
	int rc;

	memset(a, 0, sizeof *a);
	memset(&ao, 0, sizeof ao);
	/* Never a key: app_sendopts refuses --announce with --srtp-key. */
	rc = app_sap_sdp(o, cfg, to, ifindex, session_id, NULL, &ao.origin, sdp,
	                 sizeof sdp, err, errlen);
	if (rc < 0)
		return rc;
	if (o->announce_to != NULL) {
		if (addr_parse_default_port(&ao.groups[0], o->announce_to,
		                            SAP_PORT, why, sizeof why) < 0) {
			snprintf(err, errlen, "--announce: %s", why);
			return -EINVAL;
		}
		ao.ngroups = 1;
	} else {
		ao.ngroups = sap_groups_for(to, ao.groups, SAP_MAX_GROUPS);
	}
	if (ao.groups[0].ss_family != to->sa_family) {
		snprintf(err, errlen,
		         "--announce: the SAP group and the destination "
		         "differ in address family");
		return -EINVAL;
	}
	ao.ifindex = ifindex;
	ao.ttl = o->ttl;
	ao.interval_ns = (uint64_t)(o->announce_s * 1e9);
	ao.sdp = sdp;
	rc = sapannounce_init(a, &ao);
	if (rc == 0)
		rc = sapannounce_start(a, nl);
	if (rc < 0)
		snprintf(err, errlen, "%s", sapannounce_error(a));
	return rc;
}
