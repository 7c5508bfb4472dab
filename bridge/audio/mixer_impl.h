/*
 * mixer_impl: what mixer.c (audio side) and mixer_ctl.c (control side)
 * share and nobody else needs: message codes and the report record.
 */
#ifndef RTB_MIXER_IMPL_H
#define RTB_MIXER_IMPL_H

#include <stdint.h>
#include <string.h>

#include "bridge/audio/mixer.h"

/* control -> audio. Gains travel as float bits in u64. */
enum mixer_cmd {
	MIXER_CMD_LINK = 1,   /* ptr source, u64 gain */
	MIXER_CMD_UNLINK,     /* ptr source, arg 1: fade first */
	MIXER_CMD_GAIN,       /* ptr source, u64 gain, arg ramp frames */
	MIXER_CMD_SWAP,       /* ptr graph */
	MIXER_CMD_LINK_TAP,   /* ptr tap, arg point */
	MIXER_CMD_UNLINK_TAP, /* ptr tap */
};

/* audio -> control. */
enum mixer_ev {
	MIXER_EV_SOURCE = 101, /* ptr source handed back, arg enum mixer_why */
	MIXER_EV_GRAPH,        /* ptr graph swapped out (with its sources) */
	MIXER_EV_TAP,          /* ptr tap handed back, arg enum mixer_why */
	MIXER_EV_REPORT,       /* ptr report record (return to the pool) */
};

enum mixer_why {
	MIXER_WHY_UNLINKED = 0,
	MIXER_WHY_ENDED = 1,
	MIXER_WHY_REFUSED = 2,
};

struct mixer_report {
	uint64_t callbacks, frames, clipped, cmds, refused, ended, dropped;
	float out_peak, out_rms;
	struct lathist hist; /* callback durations of this window */
	unsigned nsources;
	struct mixer_source_stats src[];
};

static inline uint64_t mixer__gain_bits(float g)
{
	uint32_t b;
	memcpy(&b, &g, sizeof(b));
	return b;
}

static inline float mixer__bits_gain(uint64_t u)
{
	uint32_t b = (uint32_t)u;
	float g;
	memcpy(&g, &b, sizeof(g));
	return g;
}

#endif
