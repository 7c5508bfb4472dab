/*
 * rtbridge: the program's entry point, which dispatches to a subcommand
 *
 * Context: control (main) thread only.
 */
#include <stdio.h>
#include <string.h>

#include "bridge/app/cmds.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
        {"play", cmd_play,
         "play sound files mixed, on a device or the virtual clock"},
        {"send", cmd_send, "stream a sound file or live input as RTP over UDP"},
        {"recv", cmd_recv, "receive RTP streams: play, record, mix"},
        {"sdp", cmd_sdp, "print an SDP description of a stream"},
        {"list", cmd_list, "list the sessions announced on the LAN (SAP)"},
        {"devices", cmd_devices, "list audio devices"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: rtbridge COMMAND [OPTIONS]   (rtbridge COMMAND "
	           "--help)\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name,
		        commands[i].summary);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "rtbridge: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
