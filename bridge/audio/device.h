/*
 * device: the audio callback contract and a facade over the device backends
 *
 * Every audio device of rtbridge calls one kind of callback: float32
 * interleaved frames, `frames` per call, on the audio thread. Two backends
 * implement it: the virtual clock (vclock.h, a thread paced by
 * CLOCK_MONOTONIC, or driven step by step by a test) and PortAudio
 * (padevice.h). struct device wraps either one behind open/start/stop/close
 * so that the application picks a backend from its configuration.
 *
 * Both backends bracket every callback with rthook_rt_enter() and
 * rthook_rt_leave(), so the real-time checker watches every callback.
 *
 * Contexts: everything here is called from the control thread, except the
 * user's callback (audio thread) and the counters (any thread).
 */
#ifndef RTB_DEVICE_H
#define RTB_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/audio/devcfg.h"
#include "bridge/audio/padevice.h"
#include "bridge/audio/vclock.h"

enum device_kind {
	DEVICE_VCLOCK = 1,
	DEVICE_PORTAUDIO = 2,
};

struct device {
	enum device_kind kind;
	union {
		struct vclock vc;
		struct padevice pa;
	} u;
};

/*
 * Open the backend named by `kind` with `cfg`.
 *
 * Pre: cfg has been through devcfg_default() and then adjusted
 * Return: 0, or a negated errno (-EINVAL bad configuration, -ENODEV no
 *         such device, -EIO backend failure); device_error() explains
 * Context: control thread
 */
int device_open(struct device *d, enum device_kind kind,
                const struct devcfg *cfg);

/*
 * Start calling the callback.
 *
 * Return: 0 or a negated errno
 * Context: control thread
 */
int device_start(struct device *d);

/*
 * Stop calling the callback; when this returns the callback is not running
 * and will not run again until device_start.
 *
 * Return: 0 or a negated errno
 * Context: control thread
 */
int device_stop(struct device *d);

/* Stop if running and release the backend. Context: control thread. */
void device_close(struct device *d);

/*
 * Whether the callback asked to stop (it is not called again; stop still
 * has to be called).
 *
 * Context: control thread
 */
bool device_done(const struct device *d);

/* Frames passed to the callback so far. Context: any thread. */
uint64_t device_frames(const struct device *d);

/* Overruns/underruns seen by the backend. Context: any thread. */
uint64_t device_xruns(const struct device *d);

/* Callbacks made so far. Context: any thread. */
uint64_t device_callbacks(const struct device *d);

/*
 * When the callbacks next look at their sources after `after`
 * (CLOCK_MONOTONIC ns), for a device that runs them at times it knows
 * ahead (a virtual clock's wake-ups: vclock_next_wake_ns).
 *
 * Return: the time, or -1 when the device cannot tell (a sound card)
 * Context: any thread, while the device is open
 */
int64_t device_next_wake_ns(const struct device *d, int64_t after);

/*
 * When the period the callback is running was due (CLOCK_MONOTONIC ns),
 * for a device that knows it exactly (a virtual clock:
 * vclock_period_due_ns).
 *
 * Return: the time, or -1 when the device cannot tell
 * Context: the audio thread, inside the callback
 */
int64_t device_period_due_ns(const struct device *d);

/* The last error message, or "". Context: control thread. */
const char *device_error(const struct device *d);

#endif
