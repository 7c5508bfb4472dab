/*
 * cmd_play_opts: the options of `rtbridge play`, parsed from argv
 *
 * Context: control (main) thread.
 */
#ifndef RTB_CMD_PLAY_OPTS_H
#define RTB_CMD_PLAY_OPTS_H

#include <stdbool.h>
#include <stdio.h>

struct cmd_play_opts {
	char **files;
	int nfiles;
	const char *device; /* NULL: default */
	const char *record; /* NULL: none */
	int play;           /* 1 play on a device, 0 --no-play */
	bool fast;
	bool loop;
	bool force_status;
	unsigned period;
	double gain_db;
	float gain;        /* linear, from gain_db */
	double prefetch_s; /* 0: default */
	double duration_s; /* 0: until the end */
};

/*
 * Parse `rtbridge play` arguments (argv[0] is "play"); options and files
 * may be mixed. Checks that a --record target can be written.
 *
 * Return: 0, 1 when --help was asked (the help is printed), or -EINVAL
 *         after printing one line saying what is wrong
 * Context: control thread
 */
int cmd_play_opts_parse(struct cmd_play_opts *o, int argc, char **argv);

#endif
