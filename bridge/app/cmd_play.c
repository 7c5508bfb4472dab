/*
 * cmd_play: `rtbridge play FILE...` mixes sound files streamed from disk
 * and plays them on a PortAudio device or on the virtual clock
 *
 * The files are the engine's archives (engine.h): opened all at once and
 * waited for before any sound, mixed with the --record tap on the output,
 * and the device stops once every file has played its last frame. The
 * control thread sleeps until the next status line or the engine's next
 * poll, and watches for the end, --duration, or SIGINT/SIGTERM; the
 * engine then stops, the recording is finalized and the summary printed.
 * Exit status: 0, 1 on a runtime error, 2 on bad usage (a --record target
 * that cannot be written included). Options are parsed in cmd_play_opts.c.
 *
 * Context: control (main) thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bridge/app/app_record.h"
#include "bridge/app/app_signal.h"
#include "bridge/app/app_status.h"
#include "bridge/app/cmd_play_opts.h"
#include "bridge/app/cmds.h"
#include "bridge/app/engine.h"
#include "bridge/rtcheck/rthook.h"

#define PLAY_RATE 48000u

struct play {
	struct cmd_play_opts o;
	struct engine e;
};

static void play__draw(struct play *p, struct app_status *status)
{
	struct engine *e = &p->e;
	char pos[32], len[32], meter[96], per[96] = "";
	uint64_t at = 0;
	size_t used = 0;
	for (int i = 0; i < p->o.nfiles; i++) {
		uint64_t x = disksource_position(&e->arch[i]);
		at = x > at ? x : at;
		/* Per-file peaks (dBFS, last report), for the first few. */
		const struct mixer_source_stats *ss =
		        mixer_stats_find(&e->st, &e->arch[i].src);
		if (i < 4 && ss && used < sizeof(per))
			used += (size_t)snprintf(per + used, sizeof(per) - used,
			                         " %d:%.0f", i + 1,
			                         app_status_db(ss->peak));
	}
	app_status_print(
	        status, "%s / %s  %s %s  underruns %llu  xruns %llu",
	        app_status_time(pos, sizeof(pos), at, PLAY_RATE),
	        app_status_time(len, sizeof(len), e->longest, PLAY_RATE),
	        app_status_meter(meter, sizeof(meter), e->st.out_peak, 24), per,
	        (unsigned long long)engine_archive_underruns(e),
	        (unsigned long long)device_xruns(&e->dev));
}

/* Run until the end, a signal or --duration. */
static void play__run(struct play *p)
{
	struct engine *e = &p->e;
	struct app_status status;
	uint64_t limit = (uint64_t)(p->o.duration_s * PLAY_RATE);

	app_status_init(&status, stderr, p->o.force_status);
	for (;;) {
		unsigned ev = engine_poll(e);
		if (ev & ENGINE_EV_RECORD_STOPPED) {
			app_status_end(&status);
			app_record_say_stopped("play", &e->rec);
		}
		if (app_status_due(&status))
			play__draw(p, &status);
		if (app_signal_stop_requested() || (ev & ENGINE_EV_DONE))
			break;
		if (limit && engine_frames(e) >= limit)
			break;
		int64_t due = engine_due_ns(e);
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
	struct engine *e = &p->e;
	char t[32], rec[256];
	uint64_t frames = engine_frames(e);
	printf("played %s (%llu frames) of %d file%s\n",
	       app_status_time(t, sizeof(t), frames, PLAY_RATE),
	       (unsigned long long)frames, p->o.nfiles,
	       p->o.nfiles == 1 ? "" : "s");
	for (int i = 0; i < p->o.nfiles; i++) {
		struct disksource *s = &e->arch[i];
		printf("  %s: %s, underruns %llu (%llu frames)%s\n",
		       p->o.files[i],
		       app_status_time(t, sizeof(t), disksource_length(s),
		                       PLAY_RATE),
		       (unsigned long long)disksource_underruns(s),
		       (unsigned long long)disksource_underrun_frames(s),
		       disksource_error(s)[0] ? ", FAILED (read error)" : "");
	}
	printf("underruns %llu, device xruns %llu, clipped samples %llu\n",
	       (unsigned long long)engine_archive_underruns(e),
	       (unsigned long long)device_xruns(&e->dev),
	       (unsigned long long)e->st.clipped);
	printf("callback max %.1f us, p99 %.1f us, median %.1f us "
	       "(%llu callbacks)\n",
	       e->st.cb_us_max, e->st.cb_us_p99_all, e->st.cb_us_median_all,
	       (unsigned long long)device_callbacks(&e->dev));
	printf("peak %.1f dBFS\n", app_status_db(e->peak));
	if (e->rec_open)
		printf("recorded %s: %s\n", p->o.record,
		       app_record_outcome(rec, sizeof(rec), p->o.record,
		                          &e->rec, e->rec_rc));
	if (rthook_loaded())
		printf("rt_violations %lu\n", rthook_violations());
	fflush(stdout);
}

int cmd_play(int argc, char **argv)
{
	static struct play p;
	int rc = cmd_play_opts_parse(&p.o, argc, argv);
	if (rc != 0)
		return rc == 1 ? 0 : 2; /* help printed, or bad usage said */
	struct engine_config ec = {
	        .clock = p.o.play   ? ENGINE_DEVICE
	                 : p.o.fast ? ENGINE_VCLOCK_FAST
	                            : ENGINE_VCLOCK,
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
	rc = engine_open(&p.e, &ec);
	if (rc == 0)
		rc = engine_start(&p.e);
	bool ran = rc == 0;
	if (!ran)
		fprintf(stderr, "rtbridge play: %s\n", engine_error(&p.e));
	if (ran)
		play__run(&p);
	if (engine_stop(&p.e) < 0 && ran) {
		fprintf(stderr, "rtbridge play: %s\n", engine_error(&p.e));
		rc = -EIO;
	}
	if (ran && p.e.rec_open &&
	    app_record_failed("play", p.o.record, &p.e.rec, p.e.rec_rc,
	                      p.e.rec_reported))
		rc = -EIO;
	if (ran)
		play__summary(&p);
	for (int i = 0; ran && i < p.o.nfiles; i++) {
		/* A file that failed while playing (disk error). */
		const char *why = disksource_error(&p.e.arch[i]);
		if (why[0]) {
			fprintf(stderr, "rtbridge play: %s\n", why);
			rc = -EIO;
		}
	}
	engine_clear(&p.e);
	return rc < 0 ? 1 : 0;
}
