/*
 * engine: the audio engine under `rtbridge play`, `recv` and `send
 * --capture`
 *
 * One owner for what every command that makes sound needs: the disk server,
 * the mixer and its statistics, the device (PortAudio), the virtual clock,
 * or no device at all (the application calls engine_process from its own
 * audio callback), the archive files mixed in (read-ahead sources) and the
 * recorder of the output mix. The commands keep only what is theirs (recv:
 * the net thread, the receiver and its streams; send: the sender) and hang
 * it on the engine: their sources go into the engine's mixer, their
 * recordings through its disk server.
 *
 * One order, on the control thread:
 *
 *   engine_open    disk server (when anything uses it); every archive opened at
 * once, then each waited for until its read-ahead is in memory (a missing or
 * non-audio file is reported before any sound); the mix recorder, waited for
 * until the file exists; the mixer with the archives and the recorder linked;
 * the device opened, not started engine_start   the device (or virtual clock)
 * starts calling the mixer engine_poll    drains the mixer (meters,
 * hand-backs), tells when the device finished or the mix recording stopped by
 * itself engine_stop    the device stops, every source and tap comes back
 *                  (archives closed, the command's own sources released),
 *                  the mix recording is finalized and waited for
 *   engine_clear   the disk server stops (every recording of the command
 *                  must be closed by then) and everything is freed
 *
 * Waking instead of polling: engine_fd is an eventfd that other threads
 * poke with engine_wake when they post something for the control thread
 * (the net thread's new-stream notice); engine_due_ns says when the engine
 * itself next needs a poll (the mixer's reports while the clock runs). The
 * control thread sleeps on the fd until the earliest of its deadlines.
 * With `idle_pause`, the virtual clock sleeps too while nothing is linked
 * and wakes when something is (engine_link).
 *
 * Errors: functions return a negated errno and keep one line in
 * engine_error naming the file or device and what is wrong; the command
 * prefixes it with its name.
 *
 * Context: control thread, except engine_process (audio thread) and
 * engine_wake (any thread but the audio thread).
 */
#ifndef RTB_ENGINE_H
#define RTB_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/audio/device.h"
#include "bridge/audio/disksource.h"
#include "bridge/audio/disktap.h"
#include "bridge/audio/mixer.h"
#include "bridge/disk/diskserver.h"

#define ENGINE_OPEN_MS  10000 /* longest wait for a file to open */
#define ENGINE_CLOSE_MS 30000 /* longest wait for recordings to finish */

enum engine_clock {
	ENGINE_DEVICE = 1,  /* a PortAudio device */
	ENGINE_VCLOCK,      /* the virtual clock, in real time */
	ENGINE_VCLOCK_FAST, /* the virtual clock, back to back */
	ENGINE_EXTERNAL,    /* no device: the application calls
	                       engine_process */
};

struct engine_config {
	enum engine_clock clock;
	const char *device;   /* ENGINE_DEVICE: index, name or HOSTAPI:NAME;
	                         NULL: the default device */
	unsigned rate;        /* Hz; 0: 48000 */
	unsigned channels;    /* of the mix; 0: 2 */
	unsigned in_channels; /* device input (input taps); 0: none */
	bool no_output;       /* open the device for input only */
	unsigned period;      /* frames per callback; 0: the default */
	unsigned max_sources; /* the command's own, besides the archives */
	const char *const *archives; /* files mixed in (kept by the caller) */
	unsigned narchives;
	float archive_gain;     /* linear; 0: 1 */
	double prefetch_s;      /* read-ahead per archive; 0: the default */
	bool loop;              /* loop the archives */
	bool end_with_archives; /* the device stops once every archive has
	                           played its last frame */
	const char *record;     /* record the mix here; NULL: no */
	bool idle_pause;        /* virtual clock: sleep while nothing is
	                           linked */
	bool disk;              /* run the disk server for the command's own
	                           files (it runs anyway for archives and the
	                           mix recorder) */
	/* Virtual clock: wake up about this often, ms, and run the periods
	   due back to back (devcfg.batch); 0: once per period. */
	unsigned vclock_wake_ms;
};

/* What engine_poll saw (bits). */
enum engine_event {
	ENGINE_EV_DONE = 1,           /* the device has finished: every archive
	                                 ended (end_with_archives) */
	ENGINE_EV_RECORD_STOPPED = 2, /* the mix recording stopped by itself
	                                 (disk full, write error); once */
};

struct engine {
	struct engine_config cfg;
	struct diskserver srv;
	bool srv_running;
	struct disksource *arch; /* cfg.narchives */
	unsigned narch_open;     /* opened (to close on failure) */
	struct disktap rec;
	bool rec_open;
	bool rec_reported; /* its stop was reported */
	int rec_rc;        /* outcome once finalized */
	bool rec_done;     /* finalized and waited for */
	struct mixer m;
	bool mixer_ready;
	struct mixer_stats st;
	bool stats_ready;
	struct device dev;
	bool dev_open;
	bool running; /* the device calls the mixer */
	bool paused;  /* idle_pause: the virtual clock sleeps */
	char dev_name[128];
	float *scratch;         /* the mix, when the device has no output */
	size_t scratch_frames;  /* its length */
	int wake_fd;            /* eventfd, -1 when none */
	int64_t next_report_ns; /* when the mixer's reports want draining */
	uint64_t longest;       /* frames of the longest archive */
	float peak;             /* highest output peak reported */
	/* The look a net thread's next timed read is planned for
	   (engine_look_planned), INT64_MAX: none, it reads at each arrival
	   from net_fd (-1: none); the half period within which two looks
	   are the same one (ns). */
	_Atomic int64_t look_planned;
	_Atomic int net_fd;
	int64_t look_tolerance_ns;
	char error[512];
};

/*
 * Build the engine as configured, in the order above; nothing runs yet.
 *
 * Return: 0, or a negated errno with engine_error() set; engine_clear
 *         then releases what was built
 * Context: control thread
 */
int engine_open(struct engine *e, const struct engine_config *cfg);

/*
 * Start the device (nothing for ENGINE_EXTERNAL).
 *
 * Return: 0, or a negated errno with engine_error() set
 * Context: control thread
 */
int engine_start(struct engine *e);

/*
 * Drain the mixer, pause or resume an idle virtual clock, and look at the
 * device and the mix recording (reporting nothing itself).
 *
 * Return: enum engine_event bits
 * Context: control thread
 */
unsigned engine_poll(struct engine *e);

/*
 * When the engine next wants engine_poll, CLOCK_MONOTONIC ns (INT64_MAX:
 * only when woken).
 *
 * Context: control thread
 */
int64_t engine_due_ns(const struct engine *e);

/* The eventfd engine_wake pokes (-1 when none). Context: any thread. */
int engine_fd(const struct engine *e);

/*
 * When the mixer's callbacks next look at their sources after `after`
 * (CLOCK_MONOTONIC ns): the virtual clock's next wake-up
 * (device_next_wake_ns), so that a net thread can read its socket just
 * before. The signature of a receiver_opts.consumer_next (arg: the
 * engine).
 *
 * Return: the time, or -1 when the engine cannot tell (a sound card, an
 *         external clock)
 * Context: any thread, between engine_start and engine_stop
 */
int64_t engine_next_look_ns(void *engine, int64_t after);

/*
 * How a net thread hands out the streams' datagrams (udpsock_plan_fn):
 * its next timed read comes just before `look` (engine_next_look_ns), or
 * (INT64_MAX) it reads each at its arrival from descriptor `fd` (-1:
 * closing). Until the read for a look has been done and the next one
 * planned, or, reading at arrival, while fd's receive queue holds a
 * datagram, the virtual clock holds the group waking at that look back,
 * briefly (devcfg.ready, VCLOCK_READY_WAIT_NS): a net thread the machine
 * held up then does not leave the group without the datagrams that came
 * before it. The read's records are published before this call
 * (release). One net thread's socket per engine: the last to call is
 * the one watched. The signature of a receiver_opts.consumer_plan (arg:
 * the engine).
 *
 * Context: any thread (the net thread), while the engine exists
 */
void engine_look_planned(void *engine, int64_t look, int fd);

/*
 * When the period the mixer's callback is running was due
 * (CLOCK_MONOTONIC ns), where the device knows it (the virtual clock:
 * device_period_due_ns). The signature of a netstream_config.due (arg:
 * the engine).
 *
 * Return: the time, or -1 (a sound card, an external clock)
 * Context: the audio thread, inside the callback
 */
int64_t engine_period_due_ns(void *engine);

/*
 * Wake the control thread waiting on engine_fd (one write on the eventfd).
 *
 * Context: any thread except the audio thread (a system call)
 */
void engine_wake(struct engine *e);

/* Consume the wake-ups pending on engine_fd. Context: control thread. */
void engine_woken(struct engine *e);

/*
 * Hand a source to the mixer (resuming an idle virtual clock), retrying
 * for up to 100 ms while the mixer's command ring is full.
 *
 * Return: 0, or mixer_link's error
 * Context: control thread
 */
int engine_link(struct engine *e, struct source *src, float gain);

/* The same for a tap (the output mix or the device input). */
int engine_link_tap(struct engine *e, struct tap *t,
                    enum mixer_tap_point point);

/* Take a source out of the mix; it comes back through engine_poll.
 * Return: 0 or -EAGAIN. Context: control thread. */
int engine_unlink(struct engine *e, struct source *src);

/*
 * The device callback: the mixer, plus the end of the archives. With
 * ENGINE_EXTERNAL the application calls it from its own audio callback
 * (user = the engine).
 *
 * Return: 0, or 1 once every archive has ended (end_with_archives)
 * Context: audio thread, real-time safe
 */
int engine_process(void *user, const float *in, float *out, size_t frames);

/*
 * Stop the device, take every source and tap back from the mixer (the
 * archives are closed, the command's own sources released), and finalize
 * the mix recording, waiting for it.
 *
 * Return: 0, or the first error (engine_error() says it); the mix
 *         recording's outcome is in rec_rc
 * Context: control thread
 */
int engine_stop(struct engine *e);

/*
 * Stop the disk server, close the device, free everything. Safe after a
 * failed engine_open and without engine_stop (it stops first).
 *
 * Pre: every recording the command made through the disk server is closed
 * Context: control thread
 */
void engine_clear(struct engine *e);

/* The last error, one line ("" when none). Context: control thread. */
const char *engine_error(const struct engine *e);

/* Start the disk server for the command's own recordings, unless it runs
 * (engine_config.disk, archives, the mix recorder, or a call before).
 * Return: 0, or a negated errno (engine_error says why). Context: control
 * thread, before engine_clear. */
int engine_start_disk(struct engine *e);

/* The disk server for the command's own recordings, or NULL when it was
 * not asked for (engine_config.disk, engine_start_disk). Context: control
 * thread. */
struct diskserver *engine_disk(struct engine *e);

/* Whether every archive has played its last frame. Context: control. */
bool engine_archives_ended(const struct engine *e);

/* Underruns of every archive, summed. Context: control thread. */
uint64_t engine_archive_underruns(const struct engine *e);

/* Frames the device has played so far. Context: control thread. */
uint64_t engine_frames(const struct engine *e);

#endif
