/*
 * cmd_list: `rtbridge list`, print the audio sessions announced on the
 * LAN with SAP (RFC 2974)
 *
 * Listens for a few seconds (one announcement interval and a margin, by
 * default 6 s) on the SAP groups (saplisten.h, on the net thread), keeps
 * the sessions announced and not deleted, then prints one line per
 * session: name, SAP origin, destination group and port, codec/rate/
 * channels, packet time, payload type; and on stderr what was ignored.
 * Ctrl-C stops early and prints what was heard. Exit status: 0 (also
 * when nothing was announced), 1 when no SAP group could be joined, 2 on
 * bad usage.
 *
 * Context: control (main) thread.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bridge/app/app_opts.h"
#include "bridge/app/app_sap.h"
#include "bridge/app/app_signal.h"
#include "bridge/app/cmds.h"
#include "bridge/net/netloop.h"

#define LIST_DEFAULT_S 6.0
#define LIST_POLL_NS   20000000LL /* the listener's events looked at */

struct list_opts {
	const char *groups[SAP_MAX_GROUPS];
	int ngroups;
	const char *iface;
	double duration_s;
};

#define LIST_OPT(f) offsetof(struct list_opts, f)

static const struct app_opt cmd_list__table[] = {
        APP_NUM("--duration", LIST_OPT(duration_s), 0.1, 3600, "SEC",
                "how long to listen (default {default}; announcements\n"
                "come every 5 s from rtbridge and PipeWire)"),
        APP_LIST("--sap", LIST_OPT(groups), LIST_OPT(ngroups), SAP_MAX_GROUPS,
                 "GROUP[:PORT]",
                 "SAP group to listen on (repeatable; default\n"
                 "224.0.0.56, 239.255.255.255, ff02::2:7ffe and\n"
                 "ff05::2:7ffe, port 9875)"),
        APP_STR("--multicast-if", LIST_OPT(iface), "IF",
                "interface to join on: name, index or address\n"
                "(default: the route's; needed for ff02::2:7ffe)"),
        APP_OPT_END,
};

static void cmd_list__init(void *p)
{
	struct list_opts *o = p;
	o->duration_s = LIST_DEFAULT_S;
}

static const struct app_cmd cmd_list__cmd = {
        .name = "list",
        .synopsis = "usage: rtbridge list [--duration SEC] "
                    "[--sap GROUP[:PORT]] [--multicast-if IF]",
        .about = "Listens for SAP announcements (RFC 2974) and prints the "
                 "audio sessions\nannounced on the LAN: name, origin, "
                 "group:port, codec/rate/channels,\npacket time, payload "
                 "type.",
        .tables = {cmd_list__table},
        .size = sizeof(struct list_opts),
        .init = cmd_list__init,
};

/* Listen until the time is up or a signal comes; keep the sessions. */
static void cmd_list__watch(struct saplisten *l, double seconds,
                            struct app_sap_sessions *known)
{
	uint64_t end = netloop_now_ns() + (uint64_t)(seconds * 1e9);
	struct saptable_event ev;

	while (netloop_now_ns() < end && !app_signal_stop_requested()) {
		while (saplisten_poll(l, &ev))
			(void)app_sap_apply(known, &ev);
		/* The listener has no wake-up: look every 20 ms. */
		int64_t next = (int64_t)netloop_now_ns() + LIST_POLL_NS;
		(void)app_signal_wait(-1, next < (int64_t)end ? next
		                                              : (int64_t)end);
	}
	while (saplisten_poll(l, &ev))
		(void)app_sap_apply(known, &ev);
}

int cmd_list(int argc, char **argv)
{
	static struct saplisten lis;
	static struct app_sap_sessions known;
	struct saplisten_opts so;
	struct saptable_counters c;
	struct list_opts o;
	struct netloop nl;
	char err[256], line[APP_SAP_LINE_MAX];
	int rc, status = 1;

	rc = app_opts_parse(&cmd_list__cmd, &o, argc, argv, NULL);
	if (rc != 0)
		return rc == 1 ? 0 : 2; /* help printed, or bad usage said */
	if (app_sap_listen_opts(&so, o.groups, o.ngroups, o.iface, 0, err,
	                        sizeof err) < 0) {
		fprintf(stderr, "rtbridge list: %s\n", err);
		return 2;
	}
	if (saplisten_init(&lis, &so) < 0) {
		fprintf(stderr, "rtbridge list: out of memory\n");
		return 1;
	}
	memset(&nl, 0, sizeof nl);
	rc = netloop_start(&nl, 64);
	if (rc < 0) {
		fprintf(stderr, "rtbridge list: net thread: %s\n",
		        strerror(-rc));
		goto out;
	}
	rc = saplisten_open(&lis, &nl);
	if (rc < 0) {
		fprintf(stderr, "rtbridge list: %s\n", saplisten_error(&lis));
		goto out_nl;
	}
	/* Skipped groups matter only when the user named them. */
	if (o.ngroups > 0 && saplisten_warnings(&lis)[0])
		fprintf(stderr, "rtbridge list: %s", saplisten_warnings(&lis));
	cmd_list__watch(&lis, o.duration_s, &known);
	saplisten_counters(&lis, &c);
	saplisten_close(&lis);
	if (known.n == 0) {
		fprintf(stderr, "rtbridge list: no session announced in %g s\n",
		        o.duration_s);
	} else {
		printf(APP_SAP_FORMAT "%s\n", "NAME", "ORIGIN", "GROUP",
		       "CODEC", "PTIME", "PT");
		for (int i = 0; i < known.n; i++) {
			app_sap_describe(&known.s[i], line, sizeof line);
			printf("%s\n", line);
		}
	}
	app_sap_print_ignored(&c, stderr, "rtbridge list: ");
	status = fflush(stdout) == 0 ? 0 : 1;
out_nl:
	netloop_stop(&nl);
out:
	saplisten_clear(&lis);
	return status;
}
