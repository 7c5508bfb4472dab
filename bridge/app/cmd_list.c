/*
 * cmd_list: `rtbridge list`, print the audio sessions announced on the
 * LAN with SAP (RFC 2974)
 *
 * Listens for a few seconds (one announcement interval and a margin, by
 * default 6 s) on the SAP groups with the library's listener
 * (rtbridge/sap.h), keeps the sessions announced and not deleted
 * (app_sap_sessions), then prints one line per
 * session: name, SAP origin, destination group and port, codec/rate/
 * channels, packet time, payload type; and on stderr what was ignored.
 * Ctrl-C stops early and prints what was heard. Exit status: 0 (also
 * when nothing was announced), 1 when no SAP group could be joined, 2 on
 * bad usage.
 *
 * Context: control (main) thread.
 */
#include <errno.h>
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

/* The listener's events: the sessions known (rtb_sap_fn). */
static void cmd_list__event(void *arg, struct rtb_sap *l, enum rtb_sap_event ev,
                            const struct rtb_sap_session *s)
{
	(void)l;
	(void)app_sap_apply(arg, ev, s);
}

/* Listen until the time is up or a signal comes; keep the sessions. */
static void cmd_list__watch(struct rtb_sap *l, double seconds)
{
	uint64_t end = netloop_now_ns() + (uint64_t)(seconds * 1e9);

	while (netloop_now_ns() < end && !app_signal_stop_requested()) {
		(void)rtb_sap_poll(l);
		/* The listener has no wake-up: look every 20 ms. */
		int64_t next = (int64_t)netloop_now_ns() + LIST_POLL_NS;
		(void)app_signal_wait(-1, next < (int64_t)end ? next
		                                              : (int64_t)end);
	}
	(void)rtb_sap_poll(l);
}

int cmd_list(int argc, char **argv)
{
	static struct app_sap_sessions known;
	struct rtb_sap *lis = NULL;
	struct rtb_sap_counters c;
	struct list_opts o;
	char why[256];

	int rc = app_opts_parse(&cmd_list__cmd, &o, argc, argv, NULL);
	if (rc != 0)
		return rc == 1 ? 0 : 2; /* help printed, or bad usage said */
	struct rtb_sap_config sc = {
	        .groups = o.groups,
	        .ngroups = (unsigned)o.ngroups,
	        .interface = o.iface,
	        .on_session = cmd_list__event,
	        .arg = &known,
	};
	rc = rtb_sap_create(&sc, &lis, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "rtbridge list: %s\n", why);
		/* A bad group or interface is bad usage. */
		return rc == -EINVAL || rc == -ENODEV ? 2 : 1;
	}
	/* Skipped groups matter only when the user named them. */
	if (o.ngroups > 0 && rtb_sap_warnings(lis)[0])
		fprintf(stderr, "rtbridge list: %s", rtb_sap_warnings(lis));
	cmd_list__watch(lis, o.duration_s);
	rtb_sap_counters(lis, &c);
	rtb_sap_destroy(lis);
	if (known.n == 0) {
		fprintf(stderr, "rtbridge list: no session announced in %g s\n",
		        o.duration_s);
	} else {
		printf(APP_SAP_FORMAT "%s\n", "NAME", "ORIGIN", "GROUP",
		       "CODEC", "PTIME", "PT");
		for (int i = 0; i < known.n; i++)
			printf("%s\n", known.s[i].description);
	}
	app_sap_print_ignored(&c, stderr, "rtbridge list: ");
	return fflush(stdout) == 0 ? 0 : 1;
}
