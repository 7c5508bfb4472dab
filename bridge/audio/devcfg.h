/*
 * devcfg: configuration shared by the audio device backends
 *
 * A plain struct filled by the control thread before a device is opened.
 * The callback type is the contract every backend honours.
 */
#ifndef RTB_DEVCFG_H
#define RTB_DEVCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEVCFG_RATE_DEFAULT   48000u
#define DEVCFG_PERIOD_DEFAULT 128u
#define DEVCFG_PERIOD_MIN     32u
#define DEVCFG_PERIOD_MAX     8192u
#define DEVCFG_CHANNELS_MAX   64u
#define DEVCFG_BATCH_MAX      64u

/*
 * The audio callback.
 *
 * `in` holds frames * in_channels samples (NULL when the device has no
 * input); `out` has room for frames * out_channels samples (NULL when it
 * has no output) and must be filled completely. Samples are float32,
 * interleaved, nominally in [-1, 1].
 *
 * Return: 0 to go on, non-zero to stop after this period (the device then
 *         makes no further calls; the control thread still calls stop)
 * Context: audio thread, must be real-time safe
 */
typedef int (*device_callback)(void *user, const float *in, float *out,
                               size_t frames);

/* How the virtual clock paces its callbacks. */
enum vclock_mode {
	VCLOCK_REALTIME = 0, /* one period per period of CLOCK_MONOTONIC */
	VCLOCK_FAST = 1,     /* back to back, as fast as the callback runs */
	VCLOCK_MANUAL = 2,   /* no thread: vclock_step() runs periods */
};

struct devcfg {
	unsigned rate;         /* frames per second */
	unsigned period;       /* frames per callback, PERIOD_MIN..MAX */
	unsigned in_channels;  /* 0: no input */
	unsigned out_channels; /* 0: no output */
	device_callback callback;
	void *user; /* passed to the callback */
	/* PortAudio only. */
	const char *name;     /* device name substring; NULL: default */
	const char *host_api; /* host API name substring; NULL: any */
	int index;            /* PortAudio device index; -1: by name */
	/* Virtual clock only. */
	enum vclock_mode mode;
	/* Real-time virtual clock: periods run back to back per wake-up, at
	   the deadline of the group's last one (0 or 1: one per wake-up).
	   Nothing listens to a virtual clock's output, so grouping costs no
	   latency anyone hears; it saves wake-ups. */
	unsigned batch;
	/* Real-time virtual clock: whether what its callbacks read is in
	   place for the group waking at `look` (vclock_next_wake_ns), e.g.
	   a net thread's read planned just before it. Asked on the audio
	   thread before the group runs, outside the callback; on a no, the
	   thread asks again in steps of VCLOCK_READY_STEP_NS for up to
	   VCLOCK_READY_WAIT_NS, then runs the group anyway. Must be cheap
	   and never block (an atomic load). NULL: never waits. */
	bool (*ready)(void *arg, int64_t look);
	void *ready_arg;
};

/*
 * Fill in the defaults: 48000 Hz, 128 frames, stereo output, no input,
 * default PortAudio device, real-time virtual clock, no callback.
 *
 * Context: any
 */
void devcfg_default(struct devcfg *c);

/*
 * Check a configuration for values no backend accepts.
 *
 * Return: 0, or -EINVAL (rate outside 8000..384000, period outside
 *         PERIOD_MIN..PERIOD_MAX, no channels at all, too many channels,
 *         no callback, a batch above BATCH_MAX)
 * Context: any
 */
int devcfg_check(const struct devcfg *c);

/*
 * Select a PortAudio device from a user's spelling of it: an index
 * ("3"), a name substring ("USB"), or HOSTAPI:NAME ("JACK:", "ALSA:hw").
 *
 * Pre: buf (n bytes) outlives c: c->name and c->host_api point into it
 * Context: control thread
 */
void devcfg_select(struct devcfg *c, const char *spec, char *buf, size_t n);

#endif
