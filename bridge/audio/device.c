/*
 * device: facade over the virtual clock and PortAudio backends
 *
 * A switch per call; the backends do the work. Control thread, except the
 * counters (any thread).
 */
#include "bridge/audio/device.h"

#include <errno.h>
#include <string.h>

int device_open(struct device *d, enum device_kind kind,
                const struct devcfg *cfg)
{
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	switch (kind) {
	case DEVICE_VCLOCK:
		return vclock_open(&d->u.vc, cfg);
	case DEVICE_PORTAUDIO:
		return padevice_open(&d->u.pa, cfg);
	}
	return -EINVAL;
}

int device_start(struct device *d)
{
	return d->kind == DEVICE_VCLOCK ? vclock_start(&d->u.vc)
	                                : padevice_start(&d->u.pa);
}

int device_stop(struct device *d)
{
	return d->kind == DEVICE_VCLOCK ? vclock_stop(&d->u.vc)
	                                : padevice_stop(&d->u.pa);
}

void device_close(struct device *d)
{
	if (d->kind == DEVICE_VCLOCK)
		vclock_close(&d->u.vc);
	else if (d->kind == DEVICE_PORTAUDIO)
		padevice_close(&d->u.pa);
}

bool device_done(const struct device *d)
{
	if (d->kind == DEVICE_VCLOCK)
		return vclock_done(&d->u.vc);
	/* A flag that publishes nothing (padevice.h). */
	return atomic_load_explicit(&d->u.pa.done, memory_order_relaxed);
}

uint64_t device_callbacks(const struct device *d)
{
	return d->kind == DEVICE_VCLOCK ? vclock_callbacks(&d->u.vc)
	                                : padevice_callbacks(&d->u.pa);
}

uint64_t device_frames(const struct device *d)
{
	if (d->kind == DEVICE_VCLOCK)
		return vclock_callbacks(&d->u.vc) * d->u.vc.cfg.period;
	return padevice_frames(&d->u.pa);
}

uint64_t device_xruns(const struct device *d)
{
	return d->kind == DEVICE_VCLOCK ? vclock_xruns(&d->u.vc)
	                                : padevice_xruns(&d->u.pa);
}

int64_t device_next_wake_ns(const struct device *d, int64_t after)
{
	return d->kind == DEVICE_VCLOCK ? vclock_next_wake_ns(&d->u.vc, after)
	                                : -1;
}

int64_t device_period_due_ns(const struct device *d)
{
	return d->kind == DEVICE_VCLOCK ? vclock_period_due_ns(&d->u.vc) : -1;
}

const char *device_error(const struct device *d)
{
	return d->kind == DEVICE_PORTAUDIO ? d->u.pa.error : "";
}
