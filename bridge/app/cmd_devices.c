/*
 * cmd_devices: `rtbridge devices` lists the PortAudio devices with their
 * host API and channel counts (padevice_list). Context: control thread.
 */
#include <stdio.h>
#include <string.h>

#include "bridge/app/app_opts.h"
#include "bridge/app/cmds.h"
#include "bridge/audio/padevice.h"

struct cmd_devices_opts {
	int unused;
};

static const struct app_opt cmd_devices__table[] = {APP_OPT_END};

static const struct app_cmd cmd_devices__cmd = {
        .name = "devices",
        .synopsis = "usage: rtbridge devices",
        .about = "Lists the audio devices PortAudio sees: index, host API, "
                 "name, input and\n"
                 "output channels, default rate; '*' marks the default "
                 "output. Pass a name\n"
                 "(or HOSTAPI:NAME, or an index) to "
                 "`rtbridge play --device`.",
        .tables = {cmd_devices__table},
        .size = sizeof(struct cmd_devices_opts),
};

int cmd_devices(int argc, char **argv)
{
	struct cmd_devices_opts o;
	int rc = app_opts_parse(&cmd_devices__cmd, &o, argc, argv, NULL);
	if (rc != 0)
		return rc == 1 ? 0 : 2; /* help printed, or bad usage said */
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
