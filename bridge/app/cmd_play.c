/*
 * cmd_play: `rtbridge play FILE...` mixes sound files streamed from disk
 * and plays them on a PortAudio device or on the virtual clock
 *
 * The command is an application of the public library: the files are the
 * archives of an rtb_engine (rtbridge/engine.h), opened all at once and
 * waited for before any sound, mixed with the --record tap on the output,
 * and the device stops once every file has played its last frame
 * (end_with_archives). The control thread sleeps until the next status
 * line or the engine's next poll, and watches for the end, --duration, or
 * SIGINT/SIGTERM; the engine then stops, the recording is finalized and
 * the summary printed from the engine's figures.
 * Exit status: 0, 1 on a runtime error, 2 on bad usage (a --record target
 * that cannot be written included). Options are parsed in cmd_play_opts.c.
 *
 * Context: control (main) thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rtbridge/engine.h>

#include "bridge/app/app_record.h"
#include "bridge/app/app_signal.h"
#include "bridge/app/app_status.h"
#include "bridge/app/cmd_play_opts.h"
#include "bridge/app/cmds.h"
#include "bridge/net/netloop.h"
#include "bridge/rtcheck/rthook.h"

#define PLAY_RATE 48000u

struct play {
	struct cmd_play_opts o;
	struct rtb_engine *e;
};

static void play__draw(struct play *p, struct app_status *status)
{
	struct rtb_engine_stats es;
	struct rtb_archive_stats as;
	char pos[32], len[32], meter[96], per[96] = "";
	uint64_t at = 0;
	size_t used = 0;

	rtb_engine_stats(p->e, &es);
	for (int i = 0; i < p->o.nfiles; i++) {
		if (rtb_engine_archive(p->e, (unsigned)i, &as) < 0)
			continue;
		at = as.position > at ? as.position : at;
		/* Per-file peaks (dBFS, last report), for the first few. */
		if (i < 4 && used < sizeof(per))
			used += (size_t)snprintf(per + used, sizeof(per) - used,
			                         " %d:%.0f", i + 1,
			                         app_status_db(as.peak));
	}
	app_status_print(
	        status, "%s / %s  %s %s  underruns %llu  xruns %llu",
	        app_status_time(pos, sizeof(pos), at, PLAY_RATE),
	        app_status_time(len, sizeof(len), es.longest, PLAY_RATE),
	        app_status_meter(meter, sizeof(meter), es.out_peak, 24), per,
	        (unsigned long long)es.archive_underruns,
	        (unsigned long long)es.xruns);
}

/* The mix recording stopped by itself: said once. */
static void play__check_record(struct play *p, struct app_status *status,
                               bool *said)
{
	struct rtb_record_status rs;

	if (*said)
		return;
	rtb_engine_record_status(p->e, &rs);
	if (!rs.stopped)
		return;
	*said = true;
	app_status_end(status);
	app_record_say_stopped("play", rs.error);
}

/* Run until the end, a signal or --duration. */
static void play__run(struct play *p, bool *said)
{
	struct app_status status;
	struct rtb_engine_stats es;
	uint64_t limit = (uint64_t)(p->o.duration_s * PLAY_RATE);

	app_status_init(&status, stderr, p->o.force_status);
	for (;;) {
		(void)rtb_engine_poll(p->e);
		play__check_record(p, &status, said);
		if (app_status_due(&status))
			play__draw(p, &status);
		rtb_engine_stats(p->e, &es);
		if (app_signal_stop_requested() || es.done)
			break;
		if (limit && es.frames >= limit)
			break;
		int ms = rtb_engine_timeout_ms(p->e);
		int64_t now = (int64_t)netloop_now_ns();
		int64_t due = ms < 0 ? INT64_MAX : now + (int64_t)ms * 1000000;
		if (app_status_next_ns(&status) < due)
			due = app_status_next_ns(&status);
		(void)app_signal_wait(-1, due);
	}
	if (status.drawn)
		play__draw(p, &status);
	app_status_end(&status);
}

static void play__summary(struct play *p)
{
	struct rtb_engine_stats es;
	struct rtb_record_status rs;
	char t[32];

	rtb_engine_stats(p->e, &es);
	printf("played %s (%llu frames) of %d file%s\n",
	       app_status_time(t, sizeof(t), es.frames, PLAY_RATE),
	       (unsigned long long)es.frames, p->o.nfiles,
	       p->o.nfiles == 1 ? "" : "s");
	for (int i = 0; i < p->o.nfiles; i++) {
		struct rtb_archive_stats as;
		if (rtb_engine_archive(p->e, (unsigned)i, &as) < 0)
			continue;
		printf("  %s: %s, underruns %llu (%llu frames)%s\n",
		       p->o.files[i],
		       app_status_time(t, sizeof(t), as.length, PLAY_RATE),
		       (unsigned long long)as.underruns,
		       (unsigned long long)as.underrun_frames,
		       as.error[0] ? ", FAILED (read error)" : "");
	}
	printf("underruns %llu, device xruns %llu, clipped samples %llu\n",
	       (unsigned long long)es.archive_underruns,
	       (unsigned long long)es.xruns, (unsigned long long)es.clipped);
	printf("callback max %.1f us, p99 %.1f us, median %.1f us "
	       "(%llu callbacks)\n",
	       es.callback_max_us, es.callback_p99_us, es.callback_median_us,
	       (unsigned long long)es.callbacks);
	printf("peak %.1f dBFS\n", app_status_db(es.peak));
	rtb_engine_record_status(p->e, &rs);
	if (rs.on)
		printf("recorded %s: %s\n", p->o.record, rs.outcome);
	if (rthook_loaded())
		printf("rt_violations %lu\n", rthook_violations());
	fflush(stdout);
}

/* After the run: the engine stopped, the recording finalized; what
   failed is said. Return: 0 or -EIO. */
static int play__stop(struct play *p, bool said)
{
	struct rtb_record_status rs;
	int rc = 0;

	int stop = rtb_engine_stop(p->e);
	rtb_engine_record_status(p->e, &rs);
	if (stop < 0 && !(rs.finished && rs.rc == stop)) {
		fprintf(stderr, "rtbridge play: %s\n", rtb_engine_error(p->e));
		rc = -EIO;
	}
	if (rs.on && rs.rc < 0) {
		if (!said)
			app_record_say_failed("play", p->o.record, rs.failure);
		rc = -EIO;
	}
	return rc;
}

int cmd_play(int argc, char **argv)
{
	static struct play p;
	char why[512];
	bool said = false; /* the recording's stop was said */

	int rc = cmd_play_opts_parse(&p.o, argc, argv);
	if (rc != 0)
		return rc == 1 ? 0 : 2; /* help printed, or bad usage said */
	/* The checker's counts, as the library's engine sees them. */
	(void)rthook_init();
	struct rtb_engine_config ec = {
	        .clock = p.o.play   ? RTB_CLOCK_DEVICE
	                 : p.o.fast ? RTB_CLOCK_VIRTUAL_FAST
	                            : RTB_CLOCK_VIRTUAL,
	        .device = p.o.device,
	        .period = p.o.period,
	        .archives = (const char *const *)p.o.files,
	        .narchives = (unsigned)p.o.nfiles,
	        .archive_gain = p.o.gain,
	        .prefetch_s = p.o.prefetch_s,
	        .loop = p.o.loop,
	        .end_with_archives = true,
	        .record = p.o.record,
	};
	rc = rtb_engine_create(&ec, &p.e, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "rtbridge play: %s\n", why);
		return 1;
	}
	rc = rtb_engine_start(p.e);
	bool ran = rc == 0;
	if (!ran)
		fprintf(stderr, "rtbridge play: %s\n", rtb_engine_error(p.e));
	if (ran)
		play__run(&p, &said);
	if (ran)
		rc = play__stop(&p, said);
	if (ran)
		play__summary(&p);
	for (int i = 0; ran && i < p.o.nfiles; i++) {
		/* A file that failed while playing (disk error). */
		struct rtb_archive_stats as;
		if (rtb_engine_archive(p.e, (unsigned)i, &as) == 0 &&
		    as.error[0]) {
			fprintf(stderr, "rtbridge play: %s\n", as.error);
			rc = -EIO;
		}
	}
	rtb_engine_destroy(p.e);
	return rc < 0 ? 1 : 0;
}
