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
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/app/app_sap.h"
#include "bridge/app/app_signal.h"
#include "bridge/app/cmds.h"
#include "bridge/net/netloop.h"

#define LIST_DEFAULT_S 6.0

static void cmd_list__usage(FILE *f)
{
	fprintf(f,
	        "usage: rtbridge list [--duration SEC] [--sap GROUP[:PORT]] "
	        "[--multicast-if IF]\n"
	        "\n"
	        "Listens for SAP announcements (RFC 2974) and prints the audio "
	        "sessions\nannounced on the LAN: name, origin, group:port, "
	        "codec/rate/channels,\npacket time, payload type.\n"
	        "  --duration SEC      how long to listen (default %g; "
	        "announcements come\n"
	        "                      every 5 s from rtbridge and PipeWire)\n"
	        "  --sap GROUP[:PORT]  SAP group to listen on (repeatable; "
	        "default 224.0.0.56,\n"
	        "                      239.255.255.255, ff02::2:7ffe and "
	        "ff05::2:7ffe, port 9875)\n"
	        "  --multicast-if IF   interface to join on: name, index or "
	        "address (default:\n"
	        "                      the route's; needed for ff02::2:7ffe)\n",
	        LIST_DEFAULT_S);
}

struct list_opts {
	const char *groups[SAP_MAX_GROUPS];
	int ngroups;
	const char *iface;
	double duration_s;
};

/* Return: 0, 1 for --help, -EINVAL after one line on stderr. */
static int cmd_list__parse(struct list_opts *o, int argc, char **argv)
{
	enum { OPT_DURATION = 256, OPT_SAP, OPT_IF };
	static const struct option longopts[] = {
	        {"duration", required_argument, NULL, OPT_DURATION},
	        {"sap", required_argument, NULL, OPT_SAP},
	        {"multicast-if", required_argument, NULL, OPT_IF},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	char *end;

	memset(o, 0, sizeof *o);
	o->duration_s = LIST_DEFAULT_S;
	optind = 1;
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, ":h", longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'h':
			return 1;
		case OPT_DURATION:
			errno = 0;
			o->duration_s = strtod(optarg, &end);
			if (errno || end == optarg || *end ||
			    !(o->duration_s >= 0.1 && o->duration_s <= 3600)) {
				fprintf(stderr,
				        "rtbridge list: --duration '%s': must "
				        "be a number in 0.1..3600\n",
				        optarg);
				return -EINVAL;
			}
			break;
		case OPT_SAP:
			if (o->ngroups == SAP_MAX_GROUPS) {
				fprintf(stderr,
				        "rtbridge list: at most %d --sap "
				        "groups\n",
				        SAP_MAX_GROUPS);
				return -EINVAL;
			}
			o->groups[o->ngroups++] = optarg;
			break;
		case OPT_IF:
			o->iface = optarg;
			break;
		case ':':
			fprintf(stderr, "rtbridge list: %s needs a value\n",
			        argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "rtbridge list: unknown option '%s'\n",
			        argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rtbridge list: unexpected argument '%s'\n",
		        argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* Listen until the time is up or a signal comes; keep the sessions. */
static void cmd_list__watch(struct saplisten *l, double seconds,
                            struct app_sap_sessions *known)
{
	const struct timespec tick = {0, 20000000L};
	uint64_t end = netloop_now_ns() + (uint64_t)(seconds * 1e9);
	struct saptable_event ev;

	while (netloop_now_ns() < end && !app_signal_stop_requested()) {
		while (saplisten_poll(l, &ev))
			(void)app_sap_apply(known, &ev);
		nanosleep(&tick, NULL);
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

	rc = cmd_list__parse(&o, argc, argv);
	if (rc == 1) {
		cmd_list__usage(stdout);
		return 0;
	}
	if (rc < 0)
		return 2;
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
	rc = app_signal_install();
	if (rc == 0)
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
	app_signal_restore();
	saplisten_clear(&lis);
	return status;
}
