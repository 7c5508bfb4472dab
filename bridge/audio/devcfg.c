/*
 * devcfg: defaults and validation of the device configuration
 *
 * Pure functions, no state; any context.
 */
#include "bridge/audio/devcfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void devcfg_default(struct devcfg *c)
{
	memset(c, 0, sizeof(*c));
	c->rate = DEVCFG_RATE_DEFAULT;
	c->period = DEVCFG_PERIOD_DEFAULT;
	c->in_channels = 0;
	c->out_channels = 2;
	c->index = -1;
	c->mode = VCLOCK_REALTIME;
}

int devcfg_check(const struct devcfg *c)
{
	if (c->rate < 8000 || c->rate > 384000)
		return -EINVAL;
	if (c->period < DEVCFG_PERIOD_MIN || c->period > DEVCFG_PERIOD_MAX)
		return -EINVAL;
	if (c->in_channels == 0 && c->out_channels == 0)
		return -EINVAL;
	if (c->in_channels > DEVCFG_CHANNELS_MAX ||
	    c->out_channels > DEVCFG_CHANNELS_MAX)
		return -EINVAL;
	if (!c->callback)
		return -EINVAL;
	if (c->mode != VCLOCK_REALTIME && c->mode != VCLOCK_FAST &&
	    c->mode != VCLOCK_MANUAL)
		return -EINVAL;
	if (c->batch > DEVCFG_BATCH_MAX)
		return -EINVAL;
	return 0;
}

void devcfg_select(struct devcfg *c, const char *spec, char *buf, size_t n)
{
	char *end;
	long idx = strtol(spec, &end, 10);

	if (*spec && !*end && idx >= 0) {
		c->index = (int)idx;
		return;
	}
	snprintf(buf, n, "%s", spec);
	char *colon = strchr(buf, ':');
	if (colon) {
		*colon = '\0';
		c->host_api = buf[0] ? buf : NULL;
		c->name = colon[1] ? colon + 1 : NULL;
	} else {
		c->name = buf;
	}
}
