/*
 * cmd_sdp: `rtbridge sdp`, print the SDP description of the stream that
 * `rtbridge send` with the same options sends
 *
 * Context: control (main) thread.
 */
#include <stdio.h>
#include <time.h>

#include "bridge/app/app_sap.h"
#include "bridge/app/app_sendopts.h"
#include "bridge/app/cmds.h"
#include "bridge/net/addr.h"

int cmd_sdp(int argc, char **argv)
{
	struct app_sendopts o;
	struct codec_config cfg;
	struct sockaddr_storage to, origin;
	char err[256], text[1024];

	int rc = app_sendopts_parse(&o, "sdp", argc, argv);
	if (rc != 0)
		return rc == 1 ? 0 : 2; /* help printed, or bad usage said */
	if (app_sendopts_codec(&o, o.rate, &cfg, err, sizeof err) < 0 ||
	    addr_parse(&to, NULL, o.to, 0, err, sizeof err) < 0) {
		fprintf(stderr, "rtbridge sdp: %s\n", err);
		return 2;
	}
	rc = app_sap_sdp(&o, &cfg, (const struct sockaddr *)&to,
	                 o.mcast_ifindex, (uint64_t)time(NULL), &origin, text,
	                 sizeof text, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "rtbridge sdp: %s\n", err);
		return 1;
	}
	fputs(text, stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}
