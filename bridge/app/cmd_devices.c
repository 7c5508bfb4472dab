/*
 * cmd_devices: `rtbridge devices` lists the PortAudio devices with their
 * host API and channel counts (padevice_list). Context: control thread.
 */
#include <stdio.h>
#include <string.h>

#include "bridge/app/cmds.h"
#include "bridge/audio/padevice.h"

static void cmd_devices__usage(FILE *f)
{
	fprintf(f, "usage: rtbridge devices\n\n"
	           "Lists the audio devices PortAudio sees: index, host API, "
	           "name, input and\noutput channels, default rate; '*' marks "
	           "the default output. Pass a name\n(or HOSTAPI:NAME, or an "
	           "index) to `rtbridge play --device`.\n");
}

int cmd_devices(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			cmd_devices__usage(stdout);
			return 0;
		}
		fprintf(stderr, "rtbridge devices: unexpected argument '%s'\n",
		        argv[i]);
		cmd_devices__usage(stderr);
		return 2;
	}
	fflush(stdout);
	int n = padevice_list(stdout);
	if (n < 0) {
		fprintf(stderr, "rtbridge devices: cannot list devices: %s\n",
		        strerror(-n));
		return 1;
	}
	if (n == 0)
		printf("no audio devices found (rtbridge play --no-play runs "
		       "on the virtual clock)\n");
	return 0;
}
