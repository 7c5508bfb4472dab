/*
 * padevice: PortAudio backend of the device layer (see padevice.h)
 *
 * The control thread owns the stream handle. PortAudio's callback thread
 * runs padevice__callback only, which touches nothing but the user's
 * callback, the relaxed counters (statistics that publish nothing) and,
 * once per start, the record of its own thread id.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "bridge/audio/padevice.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include <portaudio.h>

#include "bridge/rtcheck/rthook.h"

/* Map a PortAudio error to a negated errno and keep its text. */
static int padevice__fail(struct padevice *p, PaError e, const char *what)
{
	snprintf(p->error, sizeof(p->error), "%s: %s", what,
	         Pa_GetErrorText(e));
	switch (e) {
	case paInvalidDevice:
		return -ENODEV;
	case paInvalidChannelCount:
	case paInvalidSampleRate:
	case paSampleFormatNotSupported:
	case paBadIODeviceCombination:
	case paInvalidFlag:
	case paIncompatibleStreamHostApi:
		return -EINVAL;
	case paDeviceUnavailable:
		return -EBUSY;
	case paInsufficientMemory:
		return -ENOMEM;
	case paStreamIsStopped:
	case paStreamIsNotStopped:
		return -EALREADY;
	default:
		return -EIO;
	}
}

static bool padevice__contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++) {
		size_t i = 0;
		while (i < n && hay[i] &&
		       tolower((unsigned char)hay[i]) ==
		               tolower((unsigned char)needle[i]))
			i++;
		if (i == n)
			return true;
	}
	return n == 0;
}

static bool padevice__fits(const PaDeviceInfo *info, const struct devcfg *cfg)
{
	return (unsigned)info->maxInputChannels >= cfg->in_channels &&
	       (unsigned)info->maxOutputChannels >= cfg->out_channels;
}

/* Return: the device index to use, or a negated errno with p->error set. */
static int padevice__choose(struct padevice *p, const struct devcfg *cfg)
{
	int count = Pa_GetDeviceCount();
	if (count < 0)
		return padevice__fail(p, count, "Pa_GetDeviceCount");
	if (cfg->index >= 0) {
		if (cfg->index >= count) {
			snprintf(p->error, sizeof(p->error),
			         "no device with index %d (%d devices)",
			         cfg->index, count);
			return -ENODEV;
		}
		if (!padevice__fits(Pa_GetDeviceInfo(cfg->index), cfg)) {
			snprintf(p->error, sizeof(p->error),
			         "device %d has too few channels for %u in / "
			         "%u out",
			         cfg->index, cfg->in_channels,
			         cfg->out_channels);
			return -ENODEV;
		}
		return cfg->index;
	}
	if (!cfg->name && !cfg->host_api) {
		int d = cfg->out_channels > 0 ? Pa_GetDefaultOutputDevice()
		                              : Pa_GetDefaultInputDevice();
		if (d == paNoDevice) {
			snprintf(p->error, sizeof(p->error),
			         "no default %s device",
			         cfg->out_channels > 0 ? "output" : "input");
			return -ENODEV;
		}
		if (!padevice__fits(Pa_GetDeviceInfo(d), cfg)) {
			snprintf(p->error, sizeof(p->error),
			         "default device has too few channels for %u "
			         "in / %u out",
			         cfg->in_channels, cfg->out_channels);
			return -ENODEV;
		}
		return d;
	}
	for (int i = 0; i < count; i++) {
		const PaDeviceInfo *info = Pa_GetDeviceInfo(i);
		const PaHostApiInfo *api = Pa_GetHostApiInfo(info->hostApi);
		if (cfg->name && !padevice__contains(info->name, cfg->name))
			continue;
		if (cfg->host_api &&
		    !(api && padevice__contains(api->name, cfg->host_api)))
			continue;
		if (padevice__fits(info, cfg))
			return i;
	}
	snprintf(p->error, sizeof(p->error),
	         "no device matching '%s' (host API '%s') with %u in / %u out "
	         "channels",
	         cfg->name ? cfg->name : "",
	         cfg->host_api ? cfg->host_api : "any", cfg->in_channels,
	         cfg->out_channels);
	return -ENODEV;
}

static int padevice__callback(const void *input, void *output,
                              unsigned long frames,
                              const PaStreamCallbackTimeInfo *time,
                              PaStreamCallbackFlags flags, void *user)
{
	struct padevice *p = user;
	(void)time;
	if (!atomic_load_explicit(&p->cb_known, memory_order_relaxed)) {
		/* Release publishes cb_thread to padevice_start's acquire. */
		p->cb_thread = pthread_self();
		atomic_store_explicit(&p->cb_known, true, memory_order_release);
	}
	rthook_rt_enter();
	if (flags & (paInputUnderflow | paInputOverflow | paOutputUnderflow |
	             paOutputOverflow))
		atomic_fetch_add_explicit(&p->xruns, 1, memory_order_relaxed);
	int r = p->cfg.callback(p->cfg.user, input, output, frames);
	atomic_fetch_add_explicit(&p->frames, frames, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->callbacks, 1, memory_order_relaxed);
	rthook_rt_leave();
	if (r != 0) {
		/* Publishes nothing: a flag for the control thread's
		   curiosity. */
		atomic_store_explicit(&p->done, true, memory_order_relaxed);
		return paComplete;
	}
	return paContinue;
}

int padevice_open(struct padevice *p, const struct devcfg *cfg)
{
	int err = devcfg_check(cfg);
	memset(p, 0, sizeof(*p));
	p->device_in = -1;
	p->device_out = -1;
	if (err < 0) {
		snprintf(p->error, sizeof(p->error),
		         "invalid device configuration");
		return err;
	}
	p->cfg = *cfg;
	atomic_init(&p->frames, 0);
	atomic_init(&p->callbacks, 0);
	atomic_init(&p->xruns, 0);
	atomic_init(&p->done, false);
	atomic_init(&p->cb_known, false);

	PaError e = Pa_Initialize();
	if (e != paNoError)
		return padevice__fail(p, e, "Pa_Initialize");
	p->initialized = true;

	int dev = padevice__choose(p, cfg);
	if (dev < 0) {
		err = dev;
		goto fail_terminate;
	}
	const PaDeviceInfo *info = Pa_GetDeviceInfo(dev);
	PaStreamParameters in = {0}, out = {0};
	if (cfg->in_channels > 0) {
		p->device_in = dev;
		in.device = dev;
		in.channelCount = (int)cfg->in_channels;
		in.sampleFormat = paFloat32;
		in.suggestedLatency = info->defaultLowInputLatency;
	}
	if (cfg->out_channels > 0) {
		p->device_out = dev;
		out.device = dev;
		out.channelCount = (int)cfg->out_channels;
		out.sampleFormat = paFloat32;
		out.suggestedLatency = info->defaultLowOutputLatency;
	}
	PaStream *stream = NULL;
	e = Pa_OpenStream(&stream, cfg->in_channels ? &in : NULL,
	                  cfg->out_channels ? &out : NULL, cfg->rate,
	                  cfg->period, paClipOff | paDitherOff,
	                  padevice__callback, p);
	if (e != paNoError) {
		char what[96];
		snprintf(what, sizeof(what), "opening '%s'", info->name);
		err = padevice__fail(p, e, what);
		goto fail_terminate;
	}
	p->stream = stream;
	const PaStreamInfo *si = Pa_GetStreamInfo(stream);
	if (si) {
		p->actual_rate = si->sampleRate;
		p->latency_out_s = si->outputLatency;
	}
	return 0;

fail_terminate:
	Pa_Terminate();
	p->initialized = false;
	return err;
}

int padevice_start(struct padevice *p)
{
	if (!p->stream)
		return -EBADF;
	if (p->running)
		return -EALREADY;
	atomic_store_explicit(&p->cb_known, false, memory_order_relaxed);
	PaError e = Pa_StartStream(p->stream);
	if (e != paNoError)
		return padevice__fail(p, e, "Pa_StartStream");
	p->running = true;
	/* Name the callback thread from here: a name set inside the callback
	   would be a system call on the real-time thread. The thread runs
	   until the control thread stops the stream, so its id stays valid
	   for this call. A device that has not called back by then keeps
	   PortAudio's (or JACK's) name. */
	for (int i = 0; i < PADEVICE_NAME_WAIT_MS; i++) {
		if (atomic_load_explicit(&p->cb_known, memory_order_acquire)) {
			pthread_setname_np(p->cb_thread, "rtb-audio");
			break;
		}
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
	return 0;
}

int padevice_stop(struct padevice *p)
{
	if (!p->stream || !p->running)
		return 0;
	p->running = false;
	PaError e = Pa_StopStream(p->stream);
	if (e != paNoError)
		return padevice__fail(p, e, "Pa_StopStream");
	return 0;
}

void padevice_close(struct padevice *p)
{
	padevice_stop(p);
	if (p->stream) {
		Pa_CloseStream(p->stream);
		p->stream = NULL;
	}
	if (p->initialized) {
		Pa_Terminate();
		p->initialized = false;
	}
}

int padevice_each(void (*fn)(void *arg, const struct padevice_info *info),
                  void *arg, char *err, size_t errlen)
{
	PaError e = Pa_Initialize();
	if (e != paNoError) {
		snprintf(err, errlen, "PortAudio: %s", Pa_GetErrorText(e));
		return -EIO;
	}
	int count = Pa_GetDeviceCount();
	if (count < 0) {
		snprintf(err, errlen, "PortAudio: %s", Pa_GetErrorText(count));
		Pa_Terminate();
		return -EIO;
	}
	int def_out = Pa_GetDefaultOutputDevice();
	int def_in = Pa_GetDefaultInputDevice();
	for (int i = 0; i < count; i++) {
		const PaDeviceInfo *d = Pa_GetDeviceInfo(i);
		const PaHostApiInfo *api = Pa_GetHostApiInfo(d->hostApi);
		struct padevice_info info = {
		        .index = i,
		        .host_api = api ? api->name : "?",
		        .name = d->name,
		        .max_in = d->maxInputChannels,
		        .max_out = d->maxOutputChannels,
		        .rate = d->defaultSampleRate,
		        .default_out = i == def_out,
		        .default_in = i == def_in,
		};
		fn(arg, &info);
	}
	Pa_Terminate();
	return count;
}

uint64_t padevice_frames(const struct padevice *p)
{
	return atomic_load_explicit(&p->frames, memory_order_relaxed);
}

uint64_t padevice_callbacks(const struct padevice *p)
{
	return atomic_load_explicit(&p->callbacks, memory_order_relaxed);
}

uint64_t padevice_xruns(const struct padevice *p)
{
	return atomic_load_explicit(&p->xruns, memory_order_relaxed);
}
