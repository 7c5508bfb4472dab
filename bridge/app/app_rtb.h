/*
 * app_rtb: the public API's codec and payload-type fields
 * (include/rtbridge/) as the runtime's, and back
 *
 * Shared by the library (lib/) and the commands that are its
 * applications (bridge/app/cmd_recv*.c). Static inline: nothing of it is
 * exported from librtbridge.so.
 *
 * Context: any (pure functions).
 */
#ifndef RTB_APP_RTB_H
#define RTB_APP_RTB_H

#include <errno.h>

#include <rtbridge/receiver.h>

#include "codec/codec.h"

/* A public codec as the runtime's kind (0: Opus). Return: the kind, or
   -EINVAL for an unknown one. */
static inline int app_rtb_codec_kind(enum rtb_codec c)
{
	switch ((int)c) {
	case 0:
	case RTB_CODEC_OPUS:
		return CODEC_OPUS;
	case RTB_CODEC_L16:
		return CODEC_L16;
	case RTB_CODEC_L24:
		return CODEC_L24;
	}
	return -EINVAL;
}

/* The runtime's codec kind as the public one. */
static inline enum rtb_codec app_rtb_codec(enum codec_kind k)
{
	return k == CODEC_L16   ? RTB_CODEC_L16
	       : k == CODEC_L24 ? RTB_CODEC_L24
	                        : RTB_CODEC_OPUS;
}

/* A public payload-type field as the runtime's type: RTB_PT_ZERO is
   type 0, 0 (unset) is dflt. */
static inline int app_rtb_pt(int pt, int dflt)
{
	return pt == RTB_PT_ZERO ? 0 : pt ? pt : dflt;
}

/* The runtime's payload type (0..127, < 0: none) as a public field
   (0: none, RTB_PT_ZERO: type 0). */
static inline int app_rtb_pt_field(int pt)
{
	return pt < 0 ? 0 : pt ? pt : RTB_PT_ZERO;
}

#endif
