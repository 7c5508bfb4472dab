/*
 * padevice: a PortAudio stream behind the device callback contract
 *
 * Opens an output and/or input stream (duplex when both channel counts are
 * non-zero) on a device chosen by index, by name substring (optionally
 * restricted to a host API by name substring), or the default device.
 * Every Pa_* call happens here, on the control thread: Pa_Initialize in
 * open, Pa_Terminate in close (PortAudio counts them, so several devices
 * and padevice_each may coexist). PortAudio's callback thread runs only
 * padevice's wrapper, which brackets the user's callback with
 * rthook_rt_enter/leave and counts frames and xruns. That thread is named
 * "rtb-audio" from the control thread once it has called back (the
 * callback itself only notes pthread_self(), which is no system call).
 *
 * Errors are negated errno values; the PortAudio text (Pa_GetErrorText, or
 * our own message such as "no output device matching 'foo'") is kept in
 * `error` for the user.
 */
#ifndef RTB_PADEVICE_H
#define RTB_PADEVICE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bridge/audio/devcfg.h"

/* How long start waits for the first callback to name its thread. */
#define PADEVICE_NAME_WAIT_MS 500

struct padevice {
	struct devcfg cfg;
	void *stream;     /* PaStream *, NULL when closed */
	bool initialized; /* Pa_Initialize succeeded in open */
	bool running;
	int device_in; /* PortAudio device indices, -1: none */
	int device_out;
	double actual_rate;   /* as reported by Pa_GetStreamInfo */
	double latency_out_s; /* output latency reported by PortAudio */
	_Atomic uint64_t frames;
	_Atomic uint64_t callbacks;
	_Atomic uint64_t xruns; /* callbacks flagged with under/overflow */
	_Atomic bool done;      /* the callback asked to stop */
	pthread_t cb_thread;    /* written by the first callback, then */
	_Atomic bool cb_known;  /* raised (release) */
	char error[192];
};

/*
 * Open a stream as configured (cfg->index, else cfg->name / cfg->host_api,
 * else the default device of the default host API).
 *
 * Return: 0; -EINVAL bad configuration or unsupported format; -ENODEV no
 *         device matches (or none has enough channels); -EBUSY device
 *         unavailable; -ENOMEM; -EIO other PortAudio errors. p->error says
 *         what went wrong.
 * Context: control thread
 */
int padevice_open(struct padevice *p, const struct devcfg *cfg);

/*
 * Start the stream, and name its callback thread "rtb-audio" once it has
 * called back (waiting for that up to PADEVICE_NAME_WAIT_MS).
 *
 * Return: 0 or a negated errno
 * Context: control thread
 */
int padevice_start(struct padevice *p);

/*
 * Stop the stream; pending buffers are played (Pa_StopStream).
 *
 * Return: 0 or a negated errno
 * Context: control thread
 */
int padevice_stop(struct padevice *p);

/* Stop if needed, close the stream, Pa_Terminate. Context: control thread. */
void padevice_close(struct padevice *p);

/* One device as PortAudio sees it; the strings are PortAudio's, valid
   during the padevice_each callback only. */
struct padevice_info {
	int index;
	const char *host_api; /* "?" when PortAudio names none */
	const char *name;
	int max_in, max_out; /* channels */
	double rate;         /* default sample rate, Hz */
	bool default_out, default_in;
};

/*
 * Call fn(arg, info) for every PortAudio device, in index order, between
 * a Pa_Initialize and its Pa_Terminate
 *
 * Return: number of devices, or -EIO with one line in err (PortAudio's
 *         error)
 * Context: control thread
 */
int padevice_each(void (*fn)(void *arg, const struct padevice_info *info),
                  void *arg, char *err, size_t errlen);

/* Counters. Context: any thread. */
uint64_t padevice_frames(const struct padevice *p);
uint64_t padevice_callbacks(const struct padevice *p);
uint64_t padevice_xruns(const struct padevice *p);

#endif
