/*
 * rtb_devices: the audio devices PortAudio sees (rtb_devices_list in
 * include/rtbridge/engine.h), from the runtime's device layer
 * (padevice_each), copied out of PortAudio's storage before it is
 * terminated
 *
 * Context: control thread.
 */
#include <stdio.h>

#include <rtbridge/engine.h>

#include "bridge/audio/padevice.h"
#include "lib/rtb_lib.h"

struct rtb_devices__out {
	struct rtb_device_info *out;
	unsigned max;
};

static void rtb_devices__copy(void *arg, const struct padevice_info *in)
{
	const struct rtb_devices__out *o = arg;

	if ((unsigned)in->index >= o->max)
		return;
	struct rtb_device_info *d = &o->out[in->index];
	*d = (struct rtb_device_info){
	        .index = (unsigned)in->index,
	        .max_in_channels = (unsigned)in->max_in,
	        .max_out_channels = (unsigned)in->max_out,
	        .default_rate = in->rate,
	        .is_default_output = in->default_out,
	        .is_default_input = in->default_in,
	};
	snprintf(d->host_api, sizeof(d->host_api), "%s", in->host_api);
	snprintf(d->name, sizeof(d->name), "%s", in->name);
}

RTB_API int rtb_devices_list(struct rtb_device_info *out, unsigned max,
                             char *why, size_t whylen)
{
	struct rtb_devices__out o = {.out = out, .max = out ? max : 0};
	char err[256];

	int n = padevice_each(rtb_devices__copy, &o, err, sizeof(err));
	if (n < 0)
		rtb__why(why, whylen, "%s", err);
	return n;
}
