/*
 * mixer: set-up, tear-down and the audio callback (see mixer.h)
 *
 * Everything below mixer_process runs on the audio thread and touches only
 * the audio-owned fields of struct mixer, the current graph, the sources
 * and taps it holds, the two rings (as consumer of `cmd`, producer of
 * `ev`) and the report pool (as its owner). The control-side half lives in
 * mixer_ctl.c.
 */
#include "bridge/audio/mixer.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/audio/mixer_impl.h"
#include "bridge/msg/msg.h"

void mixer_config_default(struct mixer_config *c)
{
	memset(c, 0, sizeof(*c));
	c->rate = 48000;
	c->channels = 2;
	c->in_channels = 0;
	c->max_block = 1024;
	c->max_sources = 64;
	c->max_taps = 8;
	c->ramp_ms = 10;
	c->report_ms = 100;
	c->reports = 8;
	c->cmd_capacity = 256;
}

static size_t mixer__pow2(size_t n)
{
	size_t p = 2;
	while (p < n)
		p *= 2;
	return p;
}

static int mixer__check(const struct mixer_config *c)
{
	if (c->rate < 8000 || c->rate > 384000 || c->channels < 1 ||
	    c->channels > 64 || c->in_channels > 64 || c->max_block < 1 ||
	    c->max_block > 65536 || c->max_sources < 1 ||
	    c->max_sources > 65536 || c->max_taps > 1024 || c->reports < 1 ||
	    c->report_ms < 1 || c->cmd_capacity < 2 ||
	    (c->cmd_capacity & (c->cmd_capacity - 1)) != 0)
		return -EINVAL;
	return 0;
}

int mixer_init(struct mixer *m, const struct mixer_config *cfg)
{
	int err = mixer__check(cfg);
	if (err < 0)
		return err;
	memset(m, 0, sizeof(*m));
	m->cfg = *cfg;
	m->held_limit =
	        4 * (size_t)cfg->max_sources + 2 * (size_t)cfg->max_taps + 16;
	size_t ev_cap = mixer__pow2(m->held_limit + cfg->reports + 1);

	err = -ENOMEM;
	m->cmd_mem = malloc(
	        ring_storage_size(sizeof(struct msg), cfg->cmd_capacity));
	if (!m->cmd_mem || ring_init(&m->cmd, m->cmd_mem, sizeof(struct msg),
	                             cfg->cmd_capacity) < 0)
		goto fail_cmd;
	m->ev_mem = malloc(ring_storage_size(sizeof(struct msg), ev_cap));
	if (!m->ev_mem ||
	    ring_init(&m->ev, m->ev_mem, sizeof(struct msg), ev_cap) < 0)
		goto fail_ev;
	m->report_size = sizeof(struct mixer_report) +
	                 cfg->max_sources * sizeof(struct mixer_source_stats);
	m->report_mem = malloc(pool_storage_size(m->report_size, cfg->reports));
	if (!m->report_mem || pool_init(&m->reports, m->report_mem,
	                                m->report_size, cfg->reports) < 0)
		goto fail_pool;
	m->graph = mixer_graph_create(m);
	if (!m->graph)
		goto fail_graph;
	m->taps = calloc(cfg->max_taps ? cfg->max_taps : 1, sizeof(*m->taps));
	if (!m->taps)
		goto fail_taps;
	m->scratch =
	        calloc((size_t)cfg->max_block * cfg->channels, sizeof(float));
	if (!m->scratch)
		goto fail_scratch;
	m->ramp_frames = (uint32_t)((uint64_t)cfg->rate * cfg->ramp_ms / 1000);
	m->report_frames =
	        (uint32_t)((uint64_t)cfg->rate * cfg->report_ms / 1000);
	if (m->report_frames == 0)
		m->report_frames = 1;
	lathist_init(&m->win_hist);
	m->held = 1; /* the current graph, which comes back when swapped out */
	return 0;

fail_scratch:
	free(m->taps);
fail_taps:
	free(m->graph);
fail_graph:
	pool_clear(&m->reports);
fail_pool:
	free(m->report_mem);
	ring_clear(&m->ev);
fail_ev:
	free(m->ev_mem);
	ring_clear(&m->cmd);
fail_cmd:
	free(m->cmd_mem);
	return err;
}

static void mixer__release_source(struct source *s)
{
	if (s->ops->release)
		s->ops->release(s);
}

static void mixer__release_tap(struct tap *t)
{
	if (t->ops->release)
		t->ops->release(t);
}

void mixer_clear(struct mixer *m)
{
	struct msg msg;
	/* The device is stopped (its thread joined), so this thread may act
	 * as the consumer of `cmd`: hand back what was never applied. */
	while (ring_try_pop(&m->cmd, &msg)) {
		if (msg.cmd == MIXER_CMD_LINK)
			mixer__release_source(msg.ptr);
		else if (msg.cmd == MIXER_CMD_SWAP)
			mixer_graph_destroy(msg.ptr);
		else if (msg.cmd == MIXER_CMD_LINK_TAP)
			mixer__release_tap(msg.ptr);
	}
	mixer_poll(m, NULL);
	mixer_graph_destroy(m->graph);
	for (unsigned i = 0; i < m->ntaps; i++)
		mixer__release_tap(m->taps[i].tap);
	free(m->scratch);
	free(m->taps);
	pool_clear(&m->reports);
	free(m->report_mem);
	ring_clear(&m->ev);
	free(m->ev_mem);
	ring_clear(&m->cmd);
	free(m->cmd_mem);
	memset(m, 0, sizeof(*m));
}

/* ---- audio thread from here on ---- */

static void mixer__post(struct mixer *m, uint32_t cmd, int32_t arg, void *ptr)
{
	struct msg e = {.cmd = cmd, .arg = arg, .ptr = ptr};
	/* The ring is sized for everything control may have outstanding
	 * (mixer_ctl.c bounds it), so this cannot fail unless that is wrong. */
	if (!ring_try_push(&m->ev, &e))
		m->lost++;
}

static int mixer__find(const struct mixer_graph *g, const struct source *src)
{
	for (unsigned i = 0; i < g->count; i++)
		if (g->slots[i].src == src)
			return (int)i;
	return -1;
}

/* Remove slot i, keeping the others in link order. */
static void mixer__remove(struct mixer_graph *g, unsigned i)
{
	memmove(&g->slots[i], &g->slots[i + 1],
	        (g->count - i - 1) * sizeof(g->slots[0]));
	g->count--;
}

static void mixer__ramp(struct mixer_slot *s, float gain, uint32_t frames)
{
	s->target = gain;
	if (frames == 0) {
		s->gain = gain;
		s->ramp_left = 0;
		s->step = 0;
		return;
	}
	s->step = (gain - s->gain) / (float)frames;
	s->ramp_left = frames;
}

static void mixer__cmd(struct mixer *m, const struct msg *c)
{
	struct mixer_graph *g = m->graph;
	int i;

	switch (c->cmd) {
	case MIXER_CMD_LINK:
		if (g->count == g->capacity) {
			m->refused++;
			mixer__post(m, MIXER_EV_SOURCE, MIXER_WHY_REFUSED,
			            c->ptr);
			break;
		}
		g->slots[g->count] = (struct mixer_slot){
		        .src = c->ptr,
		        .gain = mixer__bits_gain(c->u64),
		        .target = mixer__bits_gain(c->u64),
		};
		g->count++;
		break;
	case MIXER_CMD_UNLINK:
		i = mixer__find(g, c->ptr);
		if (i < 0)
			break; /* already gone (ended, or swapped out): handed
			          back then */
		if (c->arg && m->ramp_frames > 0) {
			mixer__ramp(&g->slots[i], 0.0f, m->ramp_frames);
			g->slots[i].leaving = true;
		} else {
			mixer__remove(g, (unsigned)i);
			mixer__post(m, MIXER_EV_SOURCE, MIXER_WHY_UNLINKED,
			            c->ptr);
		}
		break;
	case MIXER_CMD_GAIN:
		i = mixer__find(g, c->ptr);
		if (i >= 0 && !g->slots[i].leaving)
			mixer__ramp(&g->slots[i], mixer__bits_gain(c->u64),
			            c->arg < 0 ? m->ramp_frames
			                       : (uint32_t)c->arg);
		break;
	case MIXER_CMD_SWAP:
		m->graph = c->ptr;
		mixer__post(m, MIXER_EV_GRAPH, 0, g);
		break;
	case MIXER_CMD_LINK_TAP:
		if (m->ntaps == m->cfg.max_taps) {
			m->refused++;
			mixer__post(m, MIXER_EV_TAP, MIXER_WHY_REFUSED, c->ptr);
			break;
		}
		m->taps[m->ntaps].tap = c->ptr;
		m->taps[m->ntaps].point = (enum mixer_tap_point)c->arg;
		m->ntaps++;
		break;
	case MIXER_CMD_UNLINK_TAP:
		for (unsigned t = 0; t < m->ntaps; t++) {
			if (m->taps[t].tap == c->ptr) {
				memmove(&m->taps[t], &m->taps[t + 1],
				        (m->ntaps - t - 1) *
				                sizeof(m->taps[0]));
				m->ntaps--;
				mixer__post(m, MIXER_EV_TAP, MIXER_WHY_UNLINKED,
				            c->ptr);
				break;
			}
		}
		break;
	default:
		break;
	}
}

/* Four floats at a time (GCC/Clang vector extensions: SSE on x86-64, NEON
   on arm64, plain code elsewhere), for the steady per-source adds and the
   output's clipping. */
typedef float mixer_vf __attribute__((vector_size(16)));
typedef int32_t mixer_vi __attribute__((vector_size(16)));

static mixer_vf mixer__load(const float *p)
{
	mixer_vf v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* |v| > peak lane by lane, as the scalar meter: a NaN never wins. */
static mixer_vf mixer__peak(mixer_vf v, mixer_vf peak)
{
	mixer_vi a = (mixer_vi)v & 0x7fffffff, p = (mixer_vi)peak;
	mixer_vi more = (mixer_vf)a > peak;

	return (mixer_vf)((a & more) | (p & ~more));
}

/*
 * out += g * x over n samples, and the contribution's peak and sum of
 * squares: the hot loop, eight samples a step in two vectors (the
 * squares summed in eight partial sums: a meter, the order does not
 * matter), then the rest one by one.
 */
static void mixer__add(const float *x, float g, float *out, size_t n,
                       float *peak, float *sumsq)
{
	const mixer_vf gv = {g, g, g, g};
	mixer_vf pk = {*peak, *peak, *peak, *peak}, s0 = {0}, s1 = {0};
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		mixer_vf v0 = gv * mixer__load(x + i);
		mixer_vf v1 = gv * mixer__load(x + i + 4);
		mixer_vf o0 = mixer__load(out + i) + v0;
		mixer_vf o1 = mixer__load(out + i + 4) + v1;
		memcpy(out + i, &o0, sizeof(o0));
		memcpy(out + i + 4, &o1, sizeof(o1));
		pk = mixer__peak(v1, mixer__peak(v0, pk));
		s0 += v0 * v0;
		s1 += v1 * v1;
	}
	float p = *peak, sum = *sumsq;
	for (int k = 0; k < 4; k++) {
		p = pk[k] > p ? pk[k] : p;
		sum += s0[k] + s1[k];
	}
	for (; i < n; i++) {
		float v = g * x[i];
		out[i] += v;
		float a = fabsf(v);
		p = a > p ? a : p;
		sum += v * v;
	}
	*peak = p;
	*sumsq = sum;
}

/* Meter four samples: the peak lane by lane, and their squares added to
   *sum one by one in sample order (as a plain loop adds them: the same
   sum to the bit). */
static void mixer__meter(mixer_vf v, mixer_vf *pk, float *sum)
{
	mixer_vf sq = v * v;

	*pk = mixer__peak(v, *pk);
	*sum += sq[0];
	*sum += sq[1];
	*sum += sq[2];
	*sum += sq[3];
}

/*
 * A mono source into stereo at a steady gain: out += g * x[f] on both
 * channels of frame f, and the contribution's peak and sum of squares,
 * two frames a step, then the last frame; the meter reads what the
 * general loop in mixer__accumulate would, to the bit.
 */
static void mixer__add_up2(const float *x, float g, float *out, size_t n,
                           float *peak, float *sumsq)
{
	const mixer_vf gv = {g, g, g, g};
	mixer_vf pk = {*peak, *peak, *peak, *peak};
	float sum = *sumsq;
	size_t f = 0;

	for (; f + 2 <= n; f += 2) {
		mixer_vf v = gv * (mixer_vf){x[f], x[f], x[f + 1], x[f + 1]};
		mixer_vf o = mixer__load(out + 2 * f) + v;
		memcpy(out + 2 * f, &o, sizeof(o));
		mixer__meter(v, &pk, &sum);
	}
	float p = *peak;
	for (int k = 0; k < 4; k++)
		p = pk[k] > p ? pk[k] : p;
	for (; f < n; f++) {
		float v = g * x[f];
		out[2 * f] += v;
		out[2 * f + 1] += v;
		float a = fabsf(v);
		p = a > p ? a : p;
		sum += v * v;
		sum += v * v;
	}
	*peak = p;
	*sumsq = sum;
}

/* Add gain * x to out for n frames, ramping, and meter the contribution. */
static void mixer__accumulate(struct mixer_slot *s, const float *x,
                              unsigned sch, float *out, unsigned ch, size_t n)
{
	float peak = s->peak;
	float sumsq = 0.0f;

	if (s->ramp_left == 0 && sch == ch) {
		/* Steady gain, same layout: the hot loop. */
		mixer__add(x, s->gain, out, n * ch, &peak, &sumsq);
	} else if (s->ramp_left == 0 && sch == 1 && ch == 2) {
		mixer__add_up2(x, s->gain, out, n, &peak, &sumsq);
	} else {
		for (size_t f = 0; f < n; f++) {
			if (s->ramp_left > 0) {
				s->gain += s->step;
				if (--s->ramp_left == 0)
					s->gain = s->target;
			}
			const float g = s->gain;
			for (unsigned c = 0; c < ch; c++) {
				float v = g * x[sch == 1 ? f : f * ch + c];
				out[f * ch + c] += v;
				float a = fabsf(v);
				peak = a > peak ? a : peak;
				sumsq += v * v;
			}
		}
	}
	s->peak = peak;
	s->sumsq += sumsq;
}

/*
 * Clip out[0..n) to [-1, 1] (a NaN, from a broken source, to 0) and meter
 * it: four samples a step, then the rest one by one. The peak is a
 * maximum of numbers (no NaN is left), the same in any order; the sum of
 * squares is a plain loop's to the bit (mixer__meter).
 * Return: the samples clipped.
 */
static uint64_t mixer__clip(float *out, size_t n, float *peak, float *sumsq)
{
	const mixer_vf one = {1.0f, 1.0f, 1.0f, 1.0f};
	mixer_vf pk = {*peak, *peak, *peak, *peak};
	mixer_vi clips = {0};
	float sum = *sumsq;
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		mixer_vf v = mixer__load(out + i);
		mixer_vi hi = v > one, lo = v < -one, nan = v != v;
		/* Lanes are all ones where true: subtracting counts them. */
		clips -= hi | lo | nan;
		mixer_vi y = ((mixer_vi)v & ~(hi | lo | nan)) |
		             ((mixer_vi)one & hi) | ((mixer_vi)-one & lo);
		v = (mixer_vf)y;
		memcpy(out + i, &v, sizeof(v));
		mixer__meter(v, &pk, &sum);
	}
	uint64_t clipped = 0;
	float p = *peak;
	for (int k = 0; k < 4; k++) {
		p = pk[k] > p ? pk[k] : p;
		clipped += (uint32_t)clips[k];
	}
	for (; i < n; i++) {
		float v = out[i];
		if (v > 1.0f || v < -1.0f || v != v) {
			v = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : 0.0f;
			clipped++;
		}
		out[i] = v;
		float a = fabsf(v);
		p = a > p ? a : p;
		sum += v * v;
	}
	*peak = p;
	*sumsq = sum;
	return clipped;
}

/* Mix one block of n <= max_block frames. */
static void mixer__block(struct mixer *m, const float *in, float *out, size_t n)
{
	const unsigned ch = m->cfg.channels;
	struct mixer_graph *g = m->graph;

	memset(out, 0, n * ch * sizeof(float));
	for (unsigned i = 0; i < g->count;) {
		struct mixer_slot *s = &g->slots[i];
		struct source *src = s->src;
		const unsigned sch = src->channels;
		int got = src->ops->pull(src, m->scratch, n);
		if (got < 0) {
			m->ended++;
			mixer__remove(g, i);
			mixer__post(m, MIXER_EV_SOURCE, MIXER_WHY_ENDED, src);
			continue;
		}
		if ((size_t)got < n) {
			/* Short pull: the rest is silence, never a wait. */
			memset(m->scratch + (size_t)got * sch, 0,
			       (n - (size_t)got) * sch * sizeof(float));
			s->short_pulls++;
		}
		if (src->tap)
			src->tap->ops->write(src->tap, m->scratch, n);
		mixer__accumulate(s, m->scratch, sch, out, ch, n);
		if (s->leaving && s->ramp_left == 0) {
			mixer__remove(g, i);
			mixer__post(m, MIXER_EV_SOURCE, MIXER_WHY_UNLINKED,
			            src);
			continue;
		}
		i++;
	}

	float sumsq = 0.0f;
	m->clipped += mixer__clip(out, n * ch, &m->win_peak, &sumsq);
	m->win_sumsq += sumsq;

	for (unsigned t = 0; t < m->ntaps; t++) {
		struct tap *tap = m->taps[t].tap;
		if (m->taps[t].point == MIXER_TAP_OUTPUT)
			tap->ops->write(tap, out, n);
		else if (in)
			tap->ops->write(tap, in, n);
	}
}

static void mixer__report(struct mixer *m)
{
	struct mixer_graph *g = m->graph;
	struct mixer_report *r = pool_get(&m->reports);
	double samples = (double)m->win_frames * m->cfg.channels;

	if (!r) {
		m->dropped++;
	} else {
		r->callbacks = m->callbacks;
		r->frames = m->frames;
		r->clipped = m->clipped;
		r->cmds = m->cmds;
		r->refused = m->refused;
		r->ended = m->ended;
		r->dropped = m->dropped;
		r->out_peak = m->win_peak;
		r->out_rms = samples > 0 ? (float)sqrt(m->win_sumsq / samples)
		                         : 0.0f;
		r->hist = m->win_hist;
		r->nsources = g->count;
		for (unsigned i = 0; i < g->count; i++) {
			struct mixer_slot *s = &g->slots[i];
			struct source *src = s->src;
			r->src[i] = (struct mixer_source_stats){
			        .src = src,
			        .peak = s->peak,
			        .rms = samples > 0
			                       ? (float)sqrt(s->sumsq / samples)
			                       : 0.0f,
			        .gain = s->gain,
			        .underruns = src->ops->underruns
			                             ? src->ops->underruns(src)
			                             : s->short_pulls,
			};
		}
		struct msg e = {.cmd = MIXER_EV_REPORT, .ptr = r};
		if (!ring_try_push(&m->ev, &e)) {
			pool_put(&m->reports, r);
			m->dropped++;
		}
	}
	for (unsigned i = 0; i < g->count; i++) {
		g->slots[i].peak = 0.0f;
		g->slots[i].sumsq = 0.0;
	}
	m->win_peak = 0.0f;
	m->win_sumsq = 0.0;
	m->win_frames = 0;
	lathist_init(&m->win_hist);
}

static uint64_t mixer__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int mixer_process(void *user, const float *in, float *out, size_t frames)
{
	struct mixer *m = user;
	const uint64_t t0 = mixer__now_ns();
	struct msg c;

	/* Bounded: at most one ring's worth of commands per callback. */
	for (unsigned i = 0;
	     i < m->cfg.cmd_capacity && ring_try_pop(&m->cmd, &c); i++) {
		m->cmds++;
		mixer__cmd(m, &c);
	}
	for (size_t done = 0; done < frames;) {
		size_t n = frames - done;
		if (n > m->cfg.max_block)
			n = m->cfg.max_block;
		mixer__block(m, in ? in + done * m->cfg.in_channels : NULL,
		             out + done * m->cfg.channels, n);
		done += n;
	}
	m->callbacks++;
	m->frames += frames;
	m->win_frames += frames;
	m->report_acc += frames;
	/* The report's own cost falls outside the measured time: it copies
	 * the histogram it would have to be part of. */
	lathist_add(&m->win_hist, mixer__now_ns() - t0);
	if (m->report_acc >= m->report_frames) {
		/* Keep the remainder: reports stay on a grid of
		   report_frames. */
		m->report_acc -= m->report_frames;
		if (m->report_acc >= m->report_frames)
			m->report_acc = 0;
		mixer__report(m);
	}
	return 0;
}
