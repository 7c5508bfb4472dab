/*
 * rtbridge/engine.h: the audio engine
 *
 * An engine is a mixer with what feeds it and what clocks it. Receivers
 * (rtbridge/receiver.h) link every stream they take into it; it can also
 * record its output mix to a file. What calls the mixer is one of:
 *
 *   RTB_CLOCK_EXTERNAL  the application, from its own audio callback
 *                       (PortAudio, JACK, ALSA...): rtb_engine_process
 *   RTB_CLOCK_DEVICE    an audio device the engine opens (PortAudio)
 *   RTB_CLOCK_VIRTUAL   a thread of the engine's at the audio rate, with
 *                       no device (headless machines, tests)
 *
 * The control thread creates the engine, starts it, calls rtb_engine_poll
 * (or rtb_engine_run, which waits for something to do) every few tens of
 * milliseconds while it runs: that is where the mixer's hand-backs are
 * taken and the receivers' streams come and go, and where their callbacks
 * run. Then rtb_engine_stop and rtb_engine_destroy.
 */
#ifndef RTBRIDGE_ENGINE_H
#define RTBRIDGE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rtb_engine;
struct rtb_sender;

enum rtb_clock {
	RTB_CLOCK_EXTERNAL = 0, /* the application calls rtb_engine_process */
	RTB_CLOCK_DEVICE,       /* a PortAudio device */
	RTB_CLOCK_VIRTUAL,      /* a thread at the audio rate, no device */
	RTB_CLOCK_VIRTUAL_FAST, /* a thread calling the mixer back to back,
	                           as fast as it can (offline work, tests);
	                           since 0.3 */
};

struct rtb_engine_config {
	enum rtb_clock clock;
	const char *device;   /* RTB_CLOCK_DEVICE: index, name or
	                         HOSTAPI:NAME; NULL: the default output */
	unsigned rate;        /* Hz; 0: 48000 (receivers need 48000) */
	unsigned channels;    /* of the mix; 0: 2 */
	unsigned period;      /* frames per callback (device, virtual
	                         clock); 0: the default */
	unsigned max_sources; /* streams mixed at once; 0: 64 */
	const char *record;   /* record the mix to this file (WAV, FLAC...
	                         by its extension); NULL: no */

	/* Since 0.3. Zeroed: the behaviour of 0.2. */
	const char *const *archives; /* sound files mixed in from the start
	                                (read ahead from disk; kept by the
	                                caller until rtb_engine_destroy) */
	unsigned narchives;
	bool idle_pause;    /* RTB_CLOCK_VIRTUAL: sleep while nothing plays */
	unsigned wake_ms;   /* RTB_CLOCK_VIRTUAL: wake about this often and run
	                       the periods due back to back; 0: every period */
	float archive_gain; /* of the archives, linear; 0: 1 */
	double prefetch_s;  /* read ahead per archive, s; 0: the default */
	bool loop;          /* the archives start again at their end */
	bool end_with_archives; /* the device stops once every archive has
	                           played its last frame (rtb_engine_stats:
	                           done) */
	unsigned in_channels;   /* RTB_CLOCK_DEVICE: open the device's input
	                           too, this many channels (rtb_engine_capture);
	                           0: none */
	bool no_output;         /* RTB_CLOCK_DEVICE: input only */
};

/* An archive's figures (since 0.3). */
struct rtb_archive_stats {
	uint64_t position;        /* frames played */
	uint64_t length;          /* frames in the file */
	uint64_t underruns;       /* the disk was late: silence played */
	uint64_t underrun_frames; /* ... that many frames of it */
	float peak;               /* its peak in the mix, last report, 0..1 */
	char error[256];          /* "" or why it stopped (a read error) */
};

/* The mix recording (record), since 0.3. */
struct rtb_record_status {
	bool on;           /* there is one */
	bool stopped;      /* it stopped by itself (disk full, write error):
	                      error says why; the file keeps what was written */
	bool finished;     /* finalized (rtb_engine_stop) */
	int rc;            /* once finished: 0, or how it failed (-errno) */
	uint64_t frames;   /* frames written (final once finished) */
	char error[256];   /* the disk's message when it stopped or failed
	                      ("PATH: disk full after N frames (...)"); "" */
	char failure[256]; /* once finished with rc < 0: why, without the
	                      path */
	char outcome[320]; /* once finished: "N frames[, dropped D][,
	                      stopped early: WHY]" or "not finished: WHY" */
};

/* Figures of the engine, over its life. */
struct rtb_engine_stats {
	uint64_t frames;        /* frames played (device, virtual clock) */
	unsigned sources;       /* sources in the mix now */
	float out_peak;         /* output peak of the last report, 0..1 */
	double callback_max_us; /* longest mixer call */
	double callback_p99_us; /* its 99th percentile */
	uint64_t clipped;       /* output samples clipped */
	/* Since 0.3. */
	double callback_median_us;  /* the mixer call's median */
	uint64_t callbacks;         /* the device's callbacks */
	uint64_t xruns;             /* the device's over- and underruns */
	uint64_t archive_underruns; /* over every archive */
	uint64_t longest;           /* frames of the longest archive */
	float peak;                 /* highest output peak so far, 0..1 */
	bool done;                  /* end_with_archives: every archive has
	                               played its last frame */
};

/*
 * Make an engine: its disk thread (for archives and the mix recording;
 * a receiver with record_dir starts it when there is none), the mix
 * recorder, the mixer, and the device opened (not started)
 *
 * Return: 0 with *out set, or a negated errno with one line in why (len
 *         bytes; may be NULL) naming the device or file and what is wrong
 * Context: control thread
 */
int rtb_engine_create(const struct rtb_engine_config *cfg,
                      struct rtb_engine **out, char *why, size_t len);

/*
 * Start the device or the virtual clock (nothing for RTB_CLOCK_EXTERNAL:
 * the application's callback may call rtb_engine_process from now on)
 *
 * Return: 0, or a negated errno (rtb_engine_error says why)
 * Context: control thread
 */
int rtb_engine_start(struct rtb_engine *e);

/*
 * Mix `frames` frames of every stream into out (interleaved float,
 * `channels` per frame, written whole: silence where nothing plays).
 * For RTB_CLOCK_EXTERNAL only, at a steady rate: the receivers' streams
 * follow the rate at which it is called.
 *
 * Return: 0, or -EINVAL (not RTB_CLOCK_EXTERNAL, or out is NULL)
 * Context: audio thread (one at a time), real-time safe
 */
int rtb_engine_process(struct rtb_engine *e, float *out, size_t frames);

/*
 * Drain the mixer's reports and hand-backs, and run every receiver's
 * turn: new streams are linked (on_added), ended ones leave (on_removed),
 * figures are reported (on_stats)
 *
 * Return: 0, or a negated errno (rtb_engine_error says why: the mix
 *         recording stopped, e.g. the disk is full)
 * Context: control thread
 */
int rtb_engine_poll(struct rtb_engine *e);

/*
 * Wait until the engine has something to do (a receiver heard a new
 * stream, a report is due) or timeout_ms passes, then rtb_engine_poll
 *
 * Return: as rtb_engine_poll
 * Context: control thread
 */
int rtb_engine_run(struct rtb_engine *e, int timeout_ms);

/*
 * A file descriptor that becomes readable when the engine wants a poll
 * (for an application's own poll loop), and the most milliseconds it may
 * wait without one
 *
 * Context: control thread
 */
int rtb_engine_fd(const struct rtb_engine *e);
int rtb_engine_timeout_ms(const struct rtb_engine *e);

/*
 * Stop the device, take every stream back from the mixer, finalize the mix
 * recording (waited for)
 *
 * Pre: RTB_CLOCK_EXTERNAL: the application no longer calls
 *      rtb_engine_process
 * Return: 0, or the first error (rtb_engine_error says it)
 * Context: control thread
 */
int rtb_engine_stop(struct rtb_engine *e);

/*
 * Destroy the engine (stopping it first if need be)
 *
 * Pre: its receivers are destroyed
 * Context: control thread
 */
void rtb_engine_destroy(struct rtb_engine *e);

/*
 * A snapshot of the engine's figures
 *
 * Context: control thread
 */
void rtb_engine_stats(const struct rtb_engine *e, struct rtb_engine_stats *st);

/*
 * Send the device's input (in_channels) with a pushing sender
 * (rtb_sender_create_push, of in_channels channels at the engine's rate):
 * the engine pushes every period of input to it from the audio callback,
 * as `rtbridge send --capture` does (since 0.3). NULL stops the pushing.
 *
 * Pre: the engine is not running (before rtb_engine_start, or after
 *      rtb_engine_stop); the sender outlives the pushing
 * Return: 0, or -EINVAL (no input, or channels or a rate that differ)
 * Context: control thread
 */
int rtb_engine_capture(struct rtb_engine *e, struct rtb_sender *s);

/*
 * Archive i's figures (since 0.3)
 *
 * Return: 0, or -ENOENT (no archive i)
 * Context: control thread
 */
int rtb_engine_archive(const struct rtb_engine *e, unsigned i,
                       struct rtb_archive_stats *st);

/*
 * The mix recording's state (since 0.3)
 *
 * Context: control thread
 */
void rtb_engine_record_status(const struct rtb_engine *e,
                              struct rtb_record_status *st);

/* The last error, one line ("" when none). Context: control thread. */
const char *rtb_engine_error(const struct rtb_engine *e);

/* An audio device as PortAudio sees it (rtb_devices_list); since 0.4. */
#define RTB_DEVICE_NAME_MAX 256 /* longer names are cut (with their NUL) */
struct rtb_device_info {
	unsigned index;                 /* rtb_engine_config.device "N" */
	char host_api[64];              /* "ALSA", "JACK Audio Connection
	                                   Kit"... */
	char name[RTB_DEVICE_NAME_MAX]; /* rtb_engine_config.device */
	unsigned max_in_channels, max_out_channels;
	double default_rate; /* Hz */
	bool is_default_output, is_default_input;
};

/*
 * The audio devices PortAudio sees (what rtb_engine_config.device names
 * with RTB_CLOCK_DEVICE), in index order: the first `max` are written to
 * out (may be NULL when max is 0). PortAudio is initialized for the call
 * and terminated before it returns (engines may run meanwhile). Since
 * 0.4; `rtbridge devices` prints it.
 *
 * Return: the number of devices (>= 0, perhaps more than max), or a
 *         negated errno (-EIO: PortAudio failed) with one line in why
 *         (whylen bytes; may be NULL)
 * Context: control thread
 */
int rtb_devices_list(struct rtb_device_info *out, unsigned max, char *why,
                     size_t whylen);

#ifdef __cplusplus
}
#endif

#endif
