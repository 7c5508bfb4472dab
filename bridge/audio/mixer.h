/*
 * mixer: the audio callback that mixes sources into the device output
 *
 * Contexts and ownership (Bencina's patterns):
 * - The control thread creates sources, taps and graphs and hands them to
 *   the audio thread with messages on an SPSC ring (control -> audio):
 *   LINK / UNLINK a source, SET_GAIN (ramped), SWAP the whole graph in
 *   O(1), LINK_TAP / UNLINK_TAP. Nothing is shared otherwise.
 * - The audio thread (mixer_process, a device_callback) applies pending
 *   messages at the start of each callback, pulls every source, mixes with
 *   per-source gain, clips, feeds the taps, meters, and hands back whatever
 *   it let go (unlinked, ended or refused sources, swapped-out graphs,
 *   unlinked taps) on a second SPSC ring (audio -> control), together with
 *   periodic reports (meters, counters, callback-time histogram) in records
 *   from a pool the audio thread owns.
 * - mixer_poll on the control thread drains that ring: it updates a
 *   struct mixer_stats, calls source/tap `release` for what came back,
 *   frees returned graphs and returns report records to the pool.
 *
 * Mixing: out = sum over sources of gain * pulled samples, in link order,
 * then a hard clip to [-1, 1] (NaN becomes 0). Hard clipping leaves every
 * sample that does not clip untouched, so a mix that stays in range is the
 * exact float sum (exact for inputs on a fine enough dyadic grid). Clipped
 * samples are counted. Gain changes ramp linearly, per frame, over the
 * ramp time (default 10 ms); a link applies its gain at once (link at 0
 * and ramp up for a click-free entry), an unlink with `fade` ramps to 0
 * before the source leaves.
 *
 * Nothing in the callback allocates, locks, logs or does I/O; it reads
 * CLOCK_MONOTONIC (vDSO) to time itself.
 */
#ifndef RTB_MIXER_H
#define RTB_MIXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/audio/lathist.h"
#include "bridge/audio/source.h"
#include "bridge/audio/tap.h"
#include "bridge/msg/pool.h"
#include "bridge/msg/ring.h"

struct mixer_config {
	unsigned rate;     /* frames per second (for ramp and report times) */
	unsigned channels; /* output channels */
	unsigned in_channels; /* device input channels (input taps), 0: none */
	/* frames mixed at once; longer callbacks are split */
	unsigned max_block;
	unsigned max_sources;  /* sources per graph */
	unsigned max_taps;     /* output + input taps */
	unsigned ramp_ms;      /* default gain ramp */
	unsigned report_ms;    /* audio time between two reports */
	unsigned reports;      /* report records in the pool */
	unsigned cmd_capacity; /* slots of the control -> audio ring (power of
	                          2) */
};

enum mixer_tap_point {
	MIXER_TAP_OUTPUT = 1, /* the final mix, after clipping */
	MIXER_TAP_INPUT = 2,  /* the device input */
};

/* One source's figures in a report (meters over the last report window). */
struct mixer_source_stats {
	const struct source *src;
	float peak; /* max |sample| after gain */
	float rms;  /* after gain, over all channels */
	float gain; /* current gain */
	/* source's own count, else the mixer's short pulls */
	uint64_t underruns;
};

/* Control thread's view, updated by mixer_poll. */
struct mixer_stats {
	uint64_t reports;   /* reports received */
	uint64_t callbacks; /* as of the last report */
	uint64_t frames;
	uint64_t clipped;         /* output samples clipped (or NaN) */
	uint64_t cmds;            /* control messages applied */
	uint64_t refused;         /* links refused: graph or tap table full */
	uint64_t ended;           /* sources that ended by themselves */
	uint64_t reports_dropped; /* reports lost: no free record */
	float out_peak;           /* last window, max over channels */
	float out_rms;
	double cb_us_max;     /* longest callback ever */
	double cb_us_p99;     /* 99th percentile, last window */
	double cb_us_p99_all; /* 99th percentile, all reports */
	double cb_us_median_all;
	struct lathist hist; /* callback durations, all reports */
	unsigned nsources;   /* sources in the last report */
	unsigned cap;        /* room in `sources` */
	struct mixer_source_stats *sources;
};

struct mixer_slot {
	struct source *src;
	float gain;         /* now */
	float target;       /* at the end of the ramp */
	float step;         /* per frame */
	uint32_t ramp_left; /* frames */
	bool leaving;       /* unlink when the ramp ends */
	float peak;         /* window meters */
	double sumsq;
	uint64_t short_pulls;
};

/* A mix graph: the set of linked sources. Fields are the mixer's. */
struct mixer_graph {
	unsigned count;
	unsigned capacity;
	struct mixer_slot slots[];
};

struct mixer_tapslot {
	struct tap *tap;
	enum mixer_tap_point point;
};

struct mixer {
	struct mixer_config cfg;
	struct ring cmd;     /* control -> audio */
	struct ring ev;      /* audio -> control */
	struct pool reports; /* owned by audio; control returns */
	void *cmd_mem, *ev_mem, *report_mem;
	size_t report_size; /* bytes per record */
	/* Control thread only. */
	size_t held; /* objects the audio side may hand back */
	size_t held_limit;
	/* Audio thread only (control before start / after stop). */
	struct mixer_graph *graph;
	struct mixer_tapslot *taps;
	unsigned ntaps;
	float *scratch; /* max_block * channels */
	uint32_t ramp_frames;
	uint32_t report_frames;
	uint64_t callbacks, frames, clipped, cmds, refused, ended, dropped;
	uint64_t lost; /* hand-backs that found the ring full: a bug */
	float win_peak;
	double win_sumsq;
	uint64_t win_frames; /* frames in the meters' window */
	uint64_t report_acc; /* frames since the last report's grid point */
	struct lathist win_hist;
};

/* Defaults: 48 kHz, stereo, no input, 1024-frame blocks, 64 sources,
 * 8 taps, 10 ms ramps, a report every 100 ms, 8 records, 256 commands. */
void mixer_config_default(struct mixer_config *c);

/*
 * Allocate everything the mixer will ever use.
 *
 * Return: 0, -EINVAL (bad configuration) or -ENOMEM
 * Context: control thread
 */
int mixer_init(struct mixer *m, const struct mixer_config *cfg);

/*
 * Release every source and tap still held (linked, or in messages never
 * applied) and free the mixer's memory.
 *
 * Pre: the device calling mixer_process is stopped
 * Context: control thread
 */
void mixer_clear(struct mixer *m);

/*
 * The device callback (user = the struct mixer).
 *
 * Pre: out has frames * cfg.channels samples; in is NULL or has frames *
 *      cfg.in_channels samples
 * Return: 0 (the mixer never asks the device to stop)
 * Context: audio thread, real-time safe
 */
int mixer_process(void *user, const float *in, float *out, size_t frames);

/*
 * Hand a source to the audio thread; it is mixed from the next callback
 * with `gain` applied at once.
 *
 * Pre: src->channels is 1 or cfg.channels; src->tap, if any, takes
 *      src->channels; src is not linked
 * Return: 0; -EINVAL bad source; -EAGAIN command ring full or too many
 *         objects outstanding (poll and retry). A full graph is found out
 *         by the audio thread: the source then comes back (refused).
 * Context: control thread
 */
int mixer_link(struct mixer *m, struct source *src, float gain);

/*
 * Take a source out of the mix (at once, or after a fade to 0 over the
 * default ramp); it comes back through mixer_poll (release).
 *
 * Return: 0 or -EAGAIN (command ring full)
 * Context: control thread
 */
int mixer_unlink(struct mixer *m, struct source *src, bool fade);

/*
 * Ramp a linked source's gain linearly to `gain` over `ramp_ms`
 * (negative: the default ramp; 0: at once).
 *
 * Return: 0 or -EAGAIN
 * Context: control thread
 */
int mixer_set_gain(struct mixer *m, struct source *src, float gain,
                   int ramp_ms);

/*
 * A new, empty graph for mixer_swap.
 *
 * Return: the graph (owned by the caller until swapped in), or NULL
 * Context: control thread
 */
struct mixer_graph *mixer_graph_create(const struct mixer *m);

/*
 * Put a source in a graph that is not yet swapped in.
 *
 * Return: 0, -EINVAL (bad source) or -ENOSPC (graph full)
 * Context: control thread
 */
int mixer_graph_add(struct mixer_graph *g, const struct mixer *m,
                    struct source *src, float gain);

/* Release the sources of a graph never swapped in, and free it.
 * Context: control thread. */
void mixer_graph_destroy(struct mixer_graph *g);

/*
 * Replace the whole mix graph at the start of the next callback, in O(1).
 * The old graph and its sources come back through mixer_poll.
 *
 * Return: 0 (the mixer owns g now) or -EAGAIN (g still the caller's)
 * Context: control thread
 */
int mixer_swap(struct mixer *m, struct mixer_graph *g);

/*
 * Link a tap to the output mix or the device input; unlink it.
 *
 * Pre: t->channels is cfg.channels (output) or cfg.in_channels (input)
 * Return: 0, -EINVAL, or -EAGAIN
 * Context: control thread
 */
int mixer_link_tap(struct mixer *m, struct tap *t, enum mixer_tap_point point);
int mixer_unlink_tap(struct mixer *m, struct tap *t);

/*
 * Drain what the audio thread posted: update *st (may be NULL), release
 * returned sources and taps, free returned graphs.
 *
 * Return: number of messages handled
 * Context: control thread
 */
int mixer_poll(struct mixer *m, struct mixer_stats *st);

/*
 * Objects the audio side holds or is handing back: 1 (the current graph)
 * when nothing is linked and nothing is on its way back.
 *
 * Context: control thread
 */
size_t mixer_held(const struct mixer *m);

/*
 * Storage for per-source figures, sized for the mixer.
 *
 * Return: 0 or -ENOMEM
 * Context: control thread
 */
int mixer_stats_init(struct mixer_stats *st, const struct mixer *m);
void mixer_stats_clear(struct mixer_stats *st);

/* The last report's figures for src, or NULL. Context: control thread. */
const struct mixer_source_stats *mixer_stats_find(const struct mixer_stats *st,
                                                  const struct source *src);

#endif
