/*
 * rtbridge: the program's entry point, which dispatches to a subcommand
 *
 * The commands that run threads take SIGINT and SIGTERM as "stop and
 * finish the recordings": their handling is set up here, before the
 * command starts any thread (app_signal.h), and kept until the exit.
 *
 * Context: control (main) thread only.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bridge/app/app_signal.h"
#include "bridge/app/cmds.h"

#ifndef RTB_VERSION
#define RTB_VERSION "unknown"
#endif

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	bool signals; /* SIGINT/SIGTERM ask it to stop */
	const char *summary;
};

static const struct command commands[] = {
        {"play", cmd_play, true,
         "play sound files mixed, on a device or the virtual clock"},
        {"send", cmd_send, true,
         "stream a sound file or live input as RTP over UDP"},
        {"recv", cmd_recv, true, "receive RTP streams: play, record, mix"},
        {"sdp", cmd_sdp, false, "print an SDP description of a stream"},
        {"list", cmd_list, true,
         "list the sessions announced on the LAN (SAP)"},
        {"devices", cmd_devices, false, "list audio devices"},
};

static int run(const struct command *c, int argc, char **argv)
{
	if (!c->signals)
		return c->run(argc, argv);
	int rc = app_signal_install();
	if (rc < 0) {
		fprintf(stderr, "rtbridge %s: signals: %s\n", c->name,
		        strerror(-rc));
		return 1;
	}
	return c->run(argc, argv);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: rtbridge COMMAND [OPTIONS]   "
	        "(rtbridge COMMAND --help)\n"
	        "       rtbridge --version\n"
	        "\n"
	        "A LAN audio bridge: RTP over UDP (Opus, L16, L24), a jitter\n"
	        "buffer, playback, recording and mixing in real time.\n"
	        "\n"
	        "commands:\n");
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
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("rtbridge " RTB_VERSION "\n");
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		return run(&commands[i], argc - 1, argv + 1);
	}
	fprintf(stderr, "rtbridge: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
