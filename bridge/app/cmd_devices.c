/*
 * cmd_devices: `rtbridge devices` lists the PortAudio devices with their
 * host API and channel counts, as the public library gives them
 * (rtb_devices_list). Context: control thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <rtbridge/engine.h>

#include "bridge/app/app_opts.h"
#include "bridge/app/cmds.h"

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

/* The devices into *out (the caller frees it). Return: their number, or
   a negated errno (why says it). */
static int cmd_devices__get(struct rtb_device_info **out, char *why, size_t len)
{
	unsigned cap = 32;
	int n;

	*out = NULL;
	for (;;) { /* again, larger, if more devices than room */
		struct rtb_device_info *d = realloc(*out, cap * sizeof(*d));
		if (!d) {
			snprintf(why, len, "out of memory");
			return -ENOMEM;
		}
		*out = d;
		n = rtb_devices_list(d, cap, why, len);
		if (n < 0 || (unsigned)n <= cap)
			return n;
		cap = (unsigned)n;
	}
}

int cmd_devices(int argc, char **argv)
{
	struct cmd_devices_opts o;
	struct rtb_device_info *d;
	char why[320];

	int rc = app_opts_parse(&cmd_devices__cmd, &o, argc, argv, NULL);
	if (rc != 0)
		return rc == 1 ? 0 : 2; /* help printed, or bad usage said */
	int n = cmd_devices__get(&d, why, sizeof(why));
	if (n < 0) {
		fprintf(stderr, "rtbridge devices: cannot list devices: %s\n",
		        why);
		free(d);
		return 1;
	}
	printf("%3s  %-24s %-40s %4s %4s %8s\n", "idx", "host API", "name",
	       "in", "out", "rate");
	for (int i = 0; i < n; i++)
		printf("%3u%c %-24s %-40s %4u %4u %8.0f%s\n", d[i].index,
		       d[i].is_default_output ? '*' : ' ', d[i].host_api,
		       d[i].name, d[i].max_in_channels, d[i].max_out_channels,
		       d[i].default_rate,
		       d[i].is_default_input ? " (default input)" : "");
	free(d);
	if (n == 0)
		printf("no audio devices found (rtbridge play --no-play runs "
		       "on the virtual clock)\n");
	return fflush(stdout) == 0 ? 0 : 1;
}
