/*
 * cmd_sdp: `rtbridge sdp`, print the SDP description of the stream that
 * `rtbridge send` with the same options sends; with --srtp-key, the
 * key goes into it as SDES (a=crypto, RFC 4568): the file is then as
 * secret as the key
 *
 * An application of the public library, as `send` is: the options become
 * a struct rtb_sender_config (app_sendopts_rtb), whose SDP
 * rtb_sender_config_sdp writes without making the sender. Every copy of
 * the key here (the key, the text) is zeroed once used; none is printed
 * but the SDP's own.
 *
 * Context: control (main) thread.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rtbridge/sender.h>

#include "bridge/app/app_sendopts.h"
#include "bridge/app/app_srtp.h"
#include "bridge/app/cmds.h"

int cmd_sdp(int argc, char **argv)
{
	struct app_sendopts o;
	struct rtb_sender_config c;
	struct srtpkey key;
	char why[512], text[1024];

	int rc = app_sendopts_parse(&o, "sdp", argc, argv);
	if (rc != 0)
		return rc == 1 ? 0 : 2; /* help printed, or bad usage said */
	app_sendopts_rtb(&o, &c);
	srtpkey_clear(&key);
	if (o.srtp_key) {
		if (app_srtp_key("sdp", o.srtp_key, o.srtp_suite, &key) < 0)
			return 2;
		app_sendopts_rtb_key(&c, &key);
	}
	rc = rtb_sender_config_sdp(&c, text, sizeof text, why, sizeof why);
	srtpkey_clear(&key);
	if (rc < 0) {
		fprintf(stderr, "rtbridge sdp: %s\n", why);
		return rc == -EINVAL ? 2 : 1;
	}
	fputs(text, stdout);
	explicit_bzero(text, sizeof text);
	return fflush(stdout) == 0 ? 0 : 1;
}
