/*
 * mixer_ctl: the control thread's half of the mixer (see mixer.h)
 *
 * Builds messages for the audio thread and drains what it hands back.
 * `held` counts the objects (sources, graphs, taps) the audio side holds
 * or is handing back; every hand-back message returns at least one of
 * them, so capping `held` at held_limit keeps the audio -> control ring
 * (sized held_limit + report records + 1) from ever filling up.
 */
#include "bridge/audio/mixer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/audio/mixer_impl.h"
#include "bridge/msg/msg.h"

static int mixer__send(struct mixer *m, uint32_t cmd, int32_t arg, uint64_t u64,
                       void *ptr, size_t objects)
{
	if (m->held + objects > m->held_limit)
		return -EAGAIN;
	struct msg c = {.cmd = cmd, .arg = arg, .u64 = u64, .ptr = ptr};
	if (!ring_try_push(&m->cmd, &c))
		return -EAGAIN;
	m->held += objects;
	return 0;
}

static bool mixer__source_ok(const struct mixer *m, const struct source *src)
{
	return src && src->ops && src->ops->pull &&
	       (src->channels == 1 || src->channels == m->cfg.channels) &&
	       (!src->tap || (src->tap->ops && src->tap->ops->write &&
	                      src->tap->channels == src->channels));
}

int mixer_link(struct mixer *m, struct source *src, float gain)
{
	if (!mixer__source_ok(m, src))
		return -EINVAL;
	return mixer__send(m, MIXER_CMD_LINK, 0, mixer__gain_bits(gain), src,
	                   1);
}

int mixer_unlink(struct mixer *m, struct source *src, bool fade)
{
	return mixer__send(m, MIXER_CMD_UNLINK, fade ? 1 : 0, 0, src, 0);
}

int mixer_set_gain(struct mixer *m, struct source *src, float gain, int ramp_ms)
{
	int32_t frames = -1;
	if (ramp_ms >= 0)
		frames = (int32_t)((int64_t)ramp_ms * m->cfg.rate / 1000);
	return mixer__send(m, MIXER_CMD_GAIN, frames, mixer__gain_bits(gain),
	                   src, 0);
}

struct mixer_graph *mixer_graph_create(const struct mixer *m)
{
	struct mixer_graph *g = calloc(
	        1, sizeof(*g) + m->cfg.max_sources * sizeof(g->slots[0]));
	if (g)
		g->capacity = m->cfg.max_sources;
	return g;
}

int mixer_graph_add(struct mixer_graph *g, const struct mixer *m,
                    struct source *src, float gain)
{
	if (!mixer__source_ok(m, src))
		return -EINVAL;
	if (g->count == g->capacity)
		return -ENOSPC;
	g->slots[g->count++] =
	        (struct mixer_slot){.src = src, .gain = gain, .target = gain};
	return 0;
}

void mixer_graph_destroy(struct mixer_graph *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->count; i++)
		if (g->slots[i].src->ops->release)
			g->slots[i].src->ops->release(g->slots[i].src);
	free(g);
}

int mixer_swap(struct mixer *m, struct mixer_graph *g)
{
	if (!g || g->capacity != m->cfg.max_sources)
		return -EINVAL;
	return mixer__send(m, MIXER_CMD_SWAP, 0, 0, g, 1 + (size_t)g->count);
}

int mixer_link_tap(struct mixer *m, struct tap *t, enum mixer_tap_point point)
{
	if (!t || !t->ops || !t->ops->write)
		return -EINVAL;
	if (point != MIXER_TAP_OUTPUT &&
	    !(point == MIXER_TAP_INPUT && m->cfg.in_channels > 0))
		return -EINVAL;
	/* The tap reads exactly as many samples per frame as it says. */
	if (t->channels !=
	    (point == MIXER_TAP_OUTPUT ? m->cfg.channels : m->cfg.in_channels))
		return -EINVAL;
	return mixer__send(m, MIXER_CMD_LINK_TAP, (int32_t)point, 0, t, 1);
}

int mixer_unlink_tap(struct mixer *m, struct tap *t)
{
	return mixer__send(m, MIXER_CMD_UNLINK_TAP, 0, 0, t, 0);
}

static void mixer__take_report(struct mixer_stats *st,
                               const struct mixer_report *r)
{
	st->reports++;
	st->callbacks = r->callbacks;
	st->frames = r->frames;
	st->clipped = r->clipped;
	st->cmds = r->cmds;
	st->refused = r->refused;
	st->ended = r->ended;
	st->reports_dropped = r->dropped;
	st->out_peak = r->out_peak;
	st->out_rms = r->out_rms;
	lathist_merge(&st->hist, &r->hist);
	if (r->hist.n > 0)
		st->cb_us_p99 =
		        (double)lathist_quantile(&r->hist, 0.99) / 1000.0;
	st->cb_us_max = (double)st->hist.max_ns / 1000.0;
	st->cb_us_p99_all = (double)lathist_quantile(&st->hist, 0.99) / 1000.0;
	st->cb_us_median_all =
	        (double)lathist_quantile(&st->hist, 0.5) / 1000.0;
	unsigned n = r->nsources < st->cap ? r->nsources : st->cap;
	memcpy(st->sources, r->src, n * sizeof(r->src[0]));
	st->nsources = n;
}

int mixer_poll(struct mixer *m, struct mixer_stats *st)
{
	struct msg e;
	int handled = 0;
	struct mixer_graph *g;

	while (ring_try_pop(&m->ev, &e)) {
		handled++;
		switch (e.cmd) {
		case MIXER_EV_SOURCE:
			m->held--;
			if (((struct source *)e.ptr)->ops->release)
				((struct source *)e.ptr)->ops->release(e.ptr);
			break;
		case MIXER_EV_TAP:
			m->held--;
			if (((struct tap *)e.ptr)->ops->release)
				((struct tap *)e.ptr)->ops->release(e.ptr);
			break;
		case MIXER_EV_GRAPH:
			g = e.ptr;
			m->held -= 1 + (size_t)g->count;
			mixer_graph_destroy(g);
			break;
		case MIXER_EV_REPORT:
			if (st)
				mixer__take_report(st, e.ptr);
			/* Any thread may return a node: the audio thread owns
			 * the pool. */
			pool_return(&m->reports, e.ptr);
			break;
		default:
			break;
		}
	}
	return handled;
}

size_t mixer_held(const struct mixer *m)
{
	return m->held;
}

int mixer_stats_init(struct mixer_stats *st, const struct mixer *m)
{
	memset(st, 0, sizeof(*st));
	lathist_init(&st->hist);
	st->sources = calloc(m->cfg.max_sources, sizeof(st->sources[0]));
	if (!st->sources)
		return -ENOMEM;
	st->cap = m->cfg.max_sources;
	return 0;
}

void mixer_stats_clear(struct mixer_stats *st)
{
	free(st->sources);
	memset(st, 0, sizeof(*st));
}

const struct mixer_source_stats *mixer_stats_find(const struct mixer_stats *st,
                                                  const struct source *src)
{
	for (unsigned i = 0; i < st->nsources; i++)
		if (st->sources[i].src == src)
			return &st->sources[i];
	return NULL;
}
