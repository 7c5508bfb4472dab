/*
 * cmd_play: `rtbridge play FILE...` mixes sound files streamed from disk
 * and plays them on a PortAudio device or on the virtual clock
 *
 * Set-up happens on the control thread in order: disk server, one
 * read-ahead source per file (all opening at once, then each waited for,
 * so a missing or non-audio file is reported before any sound), the
 * optional recorder of the output mix, the mixer, the device. The audio
 * callback is the mixer's, wrapped to stop the device once every source
 * has played its last frame. The control thread then polls the mixer,
 * draws the status line and watches for the end or for SIGINT/SIGTERM;
 * tear-down runs in reverse, so that the recording is finalized even
 * after Ctrl-C. Exit status: 0, 1 on a runtime error, 2 on bad usage.
 * Options are parsed in cmd_play_opts.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/app/app_signal.h"
#include "bridge/app/app_status.h"
#include "bridge/app/cmd_play_opts.h"
#include "bridge/app/cmds.h"
#include "bridge/audio/device.h"
#include "bridge/audio/disksource.h"
#include "bridge/audio/disktap.h"
#include "bridge/audio/mixer.h"
#include "bridge/rtcheck/rthook.h"

#define PLAY_RATE     48000u
#define PLAY_CHANNELS 2u
#define PLAY_OPEN_MS  10000 /* longest wait for a file to open */
#define PLAY_CLOSE_MS 30000 /* longest wait for the recording to finish */
#define PLAY_POLL_US  10000 /* control loop period */

struct play {
	struct cmd_play_opts o;
	struct diskserver srv;
	bool srv_running;
	struct disksource *srcs; /* o.nfiles */
	int nopen;               /* sources opened (to close on failure) */
	struct disktap rec;
	bool rec_open;
	struct mixer m;
	bool mixer_ready;
	struct mixer_stats st;
	bool stats_ready;
	struct device dev;
	bool dev_open;
	char dev_name[128]; /* copy split at ':' for devcfg */
	uint64_t longest;   /* frames */
	float peak;         /* highest output peak reported */
};

/* The audio callback: the mixer, then stop once every file has ended. */
static int play__callback(void *user, const float *in, float *out,
                          size_t frames)
{
	struct play *p = user;
	(void)mixer_process(&p->m, in, out, frames);
	if (p->o.loop)
		return 0;
	for (int i = 0; i < p->o.nfiles; i++)
		if (!disksource_ended(&p->srcs[i]))
			return 0;
	return 1;
}

static int play__open_sources(struct play *p)
{
	struct disksource_opts so = {
	        .channels = PLAY_CHANNELS,
	        .rate = PLAY_RATE,
	        .prefetch_s = p->o.prefetch_s,
	        .loop = p->o.loop,
	};
	p->srcs = calloc((size_t)p->o.nfiles, sizeof(*p->srcs));
	if (!p->srcs) {
		fprintf(stderr, "rtbridge play: out of memory\n");
		return -ENOMEM;
	}
	/* Open all first so that the disk server works on them together. */
	for (int i = 0; i < p->o.nfiles; i++) {
		int rc = disksource_open(&p->srcs[i], &p->srv, p->o.files[i],
		                         &so);
		if (rc < 0) {
			fprintf(stderr, "rtbridge play: %s: %s\n",
			        p->o.files[i], strerror(-rc));
			return rc;
		}
		p->nopen = i + 1;
	}
	for (int i = 0; i < p->o.nfiles; i++) {
		struct disksource *s = &p->srcs[i];
		int rc = disksource_wait_ready(s, PLAY_OPEN_MS);
		if (rc < 0) {
			const char *why = disksource_error(s);
			fprintf(stderr, "rtbridge play: %s\n",
			        why[0] ? why : strerror(-rc));
			return rc;
		}
		uint64_t len = disksource_length(s);
		if (len == 0) {
			fprintf(stderr,
			        "rtbridge play: %s: the file is empty\n",
			        p->o.files[i]);
			return -EINVAL;
		}
		if (len > p->longest)
			p->longest = len;
	}
	return 0;
}

static int play__open_recorder(struct play *p)
{
	struct disktap_opts to = {.channels = PLAY_CHANNELS, .rate = PLAY_RATE};
	int rc = disktap_open(&p->rec, &p->srv, p->o.record, &to);
	if (rc == 0) {
		p->rec_open = true;
		rc = disktap_wait_open(&p->rec, PLAY_OPEN_MS);
	}
	if (rc < 0) {
		const char *why = p->rec_open ? disktap_error(&p->rec) : "";
		if (why[0])
			fprintf(stderr, "rtbridge play: %s\n", why);
		else
			fprintf(stderr,
			        "rtbridge play: %s: cannot record: %s\n",
			        p->o.record, strerror(-rc));
		if (p->rec_open) {
			/* Already reported: close without a second line. */
			disktap_close(&p->rec);
			(void)disktap_wait_closed(&p->rec, PLAY_CLOSE_MS);
			p->rec_open = false;
		}
	}
	return rc;
}

static int play__open_mixer(struct play *p)
{
	struct mixer_config mc;
	mixer_config_default(&mc);
	mc.rate = PLAY_RATE;
	mc.channels = PLAY_CHANNELS;
	if ((unsigned)p->o.nfiles > mc.max_sources)
		mc.max_sources = (unsigned)p->o.nfiles;
	int rc = mixer_init(&p->m, &mc);
	if (rc == 0) {
		p->mixer_ready = true;
		rc = mixer_stats_init(&p->st, &p->m);
		p->stats_ready = rc == 0;
	}
	for (int i = 0; rc == 0 && i < p->o.nfiles; i++)
		rc = mixer_link(&p->m, &p->srcs[i].src, p->o.gain);
	if (rc == 0 && p->rec_open)
		rc = mixer_link_tap(&p->m, &p->rec.tap, MIXER_TAP_OUTPUT);
	if (rc < 0)
		fprintf(stderr, "rtbridge play: cannot set up the mixer: %s\n",
		        strerror(-rc));
	return rc;
}

static int play__open_device(struct play *p)
{
	struct devcfg dc;
	devcfg_default(&dc);
	dc.rate = PLAY_RATE;
	dc.period = p->o.period;
	dc.out_channels = PLAY_CHANNELS;
	dc.callback = play__callback;
	dc.user = p;
	enum device_kind kind = DEVICE_PORTAUDIO;
	if (p->o.no_play) {
		kind = DEVICE_VCLOCK;
		dc.mode = p->o.fast ? VCLOCK_FAST : VCLOCK_REALTIME;
	} else if (p->o.device) {
		devcfg_select(&dc, p->o.device, p->dev_name,
		              sizeof(p->dev_name));
	}
	int rc = device_open(&p->dev, kind, &dc);
	if (rc < 0) {
		const char *why = device_error(&p->dev);
		if (p->o.device)
			fprintf(stderr,
			        "rtbridge play: device '%s': %s (`rtbridge "
			        "devices` lists them)\n",
			        p->o.device, why[0] ? why : strerror(-rc));
		else
			fprintf(stderr,
			        "rtbridge play: no usable audio device: %s "
			        "(use "
			        "--no-play to run on the virtual clock)\n",
			        why[0] ? why : strerror(-rc));
		device_close(&p->dev);
		return rc;
	}
	p->dev_open = true;
	return 0;
}

static bool play__all_ended(const struct play *p)
{
	for (int i = 0; i < p->o.nfiles; i++)
		if (!disksource_ended(&p->srcs[i]))
			return false;
	return true;
}

static uint64_t play__underruns(const struct play *p)
{
	uint64_t n = 0;
	for (int i = 0; i < p->o.nfiles; i++)
		n += disksource_underruns(&p->srcs[i]);
	return n;
}

static void play__draw(struct play *p, struct app_status *status)
{
	char pos[32], len[32], meter[96], per[96] = "";
	uint64_t at = 0;
	size_t used = 0;
	for (int i = 0; i < p->o.nfiles; i++) {
		uint64_t x = disksource_position(&p->srcs[i]);
		at = x > at ? x : at;
		/* Per-file peaks (dBFS, last report), for the first few. */
		const struct mixer_source_stats *ss =
		        mixer_stats_find(&p->st, &p->srcs[i].src);
		if (i < 4 && ss && used < sizeof(per))
			used += (size_t)snprintf(per + used, sizeof(per) - used,
			                         " %d:%.0f", i + 1,
			                         app_status_db(ss->peak));
	}
	app_status_print(
	        status, "%s / %s  %s %s  underruns %llu  xruns %llu",
	        app_status_time(pos, sizeof(pos), at, PLAY_RATE),
	        app_status_time(len, sizeof(len), p->longest, PLAY_RATE),
	        app_status_meter(meter, sizeof(meter), p->st.out_peak, 24), per,
	        (unsigned long long)play__underruns(p),
	        (unsigned long long)device_xruns(&p->dev));
}

/* Run until the end, a signal, --duration, or a recording error. */
static int play__run(struct play *p)
{
	struct app_status status;
	const struct timespec tick = {.tv_sec = 0,
	                              .tv_nsec = PLAY_POLL_US * 1000L};
	uint64_t limit = (uint64_t)(p->o.duration_s * PLAY_RATE);
	int rc = 0;

	app_status_init(&status, stderr, p->o.force_status);
	rc = device_start(&p->dev);
	if (rc < 0) {
		fprintf(stderr, "rtbridge play: cannot start the device: %s\n",
		        device_error(&p->dev));
		return rc;
	}
	for (;;) {
		mixer_poll(&p->m, &p->st);
		if (p->st.out_peak > p->peak)
			p->peak = p->st.out_peak;
		if (app_status_due(&status))
			play__draw(p, &status);
		if (app_signal_stop_requested() || play__all_ended(p))
			break;
		if (limit && device_frames(&p->dev) >= limit)
			break;
		if (p->dev.kind == DEVICE_VCLOCK && vclock_done(&p->dev.u.vc))
			break;
		if (p->rec_open && writebehind_status(p->rec.wb) < 0) {
			app_status_end(&status);
			fprintf(stderr,
			        "rtbridge play: recording stopped: %s\n",
			        disktap_error(&p->rec));
			rc = -EIO;
			break;
		}
		nanosleep(&tick, NULL);
	}
	if (status.drawn)
		play__draw(p, &status);
	app_status_end(&status);
	int src = device_stop(&p->dev);
	mixer_poll(&p->m, &p->st);
	if (p->st.out_peak > p->peak)
		p->peak = p->st.out_peak;
	if (src < 0 && rc == 0) {
		fprintf(stderr, "rtbridge play: stopping the device: %s\n",
		        device_error(&p->dev));
		rc = src;
	}
	return rc;
}

static void play__summary(struct play *p, int rec_rc)
{
	char t[32];
	uint64_t frames = device_frames(&p->dev);
	printf("played %s (%llu frames) of %d file%s\n",
	       app_status_time(t, sizeof(t), frames, PLAY_RATE),
	       (unsigned long long)frames, p->o.nfiles,
	       p->o.nfiles == 1 ? "" : "s");
	for (int i = 0; i < p->o.nfiles; i++) {
		struct disksource *s = &p->srcs[i];
		printf("  %s: %s, underruns %llu (%llu frames)%s\n",
		       p->o.files[i],
		       app_status_time(t, sizeof(t), disksource_length(s),
		                       PLAY_RATE),
		       (unsigned long long)disksource_underruns(s),
		       (unsigned long long)disksource_underrun_frames(s),
		       disksource_error(s)[0] ? ", FAILED (read error)" : "");
	}
	printf("underruns %llu, device xruns %llu, clipped samples %llu\n",
	       (unsigned long long)play__underruns(p),
	       (unsigned long long)device_xruns(&p->dev),
	       (unsigned long long)p->st.clipped);
	printf("callback max %.1f us, p99 %.1f us, median %.1f us (%llu "
	       "callbacks)\n",
	       p->st.cb_us_max, p->st.cb_us_p99_all, p->st.cb_us_median_all,
	       (unsigned long long)device_callbacks(&p->dev));
	printf("peak %.1f dBFS\n", app_status_db(p->peak));
	if (p->rec_open) {
		if (rec_rc == 0)
			printf("recorded %s: %llu frames, dropped %llu\n",
			       p->o.record,
			       (unsigned long long)p->rec.result.frames,
			       (unsigned long long)disktap_dropped(&p->rec));
		else
			printf("recording %s failed\n", p->o.record);
	}
	if (rthook_loaded())
		printf("rt_violations %lu\n", rthook_violations());
	fflush(stdout);
}

/* Tear down in reverse; finalizes the recording. Return: its outcome. */
static int play__teardown(struct play *p)
{
	int rec_rc = 0;
	if (p->dev_open)
		device_stop(&p->dev);
	if (p->mixer_ready) {
		/* Releases every source (closing its stream) and the tap
		 * (finishing the recording). */
		mixer_clear(&p->m);
		p->mixer_ready = false;
	}
	for (int i = 0; i < p->nopen; i++)
		disksource_close(&p->srcs[i]);
	if (p->rec_open) {
		disktap_close(&p->rec);
		rec_rc = disktap_wait_closed(&p->rec, PLAY_CLOSE_MS);
		if (rec_rc < 0)
			fprintf(stderr,
			        "rtbridge play: %s: recording failed: %s\n",
			        p->o.record,
			        p->rec.result.message[0] ? p->rec.result.message
			                                 : strerror(-rec_rc));
	}
	if (p->srv_running) {
		int forced = diskserver_stop(&p->srv);
		if (forced > 0)
			fprintf(stderr,
			        "rtbridge play: %d disk stream(s) closed by "
			        "force\n",
			        forced);
		p->srv_running = false;
	}
	return rec_rc;
}

static void play__free(struct play *p)
{
	if (p->dev_open)
		device_close(&p->dev);
	if (p->stats_ready)
		mixer_stats_clear(&p->st);
	free(p->srcs);
}

int cmd_play(int argc, char **argv)
{
	static struct play p;
	int rc = cmd_play_opts_parse(&p.o, argc, argv);
	if (rc == 1) {
		cmd_play_opts_usage(stdout);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "(rtbridge play --help for usage)\n");
		return 2;
	}
	(void)rthook_init();

	struct diskserver_opts dso = {0};
	rc = diskserver_start(&p.srv, &dso);
	if (rc < 0) {
		fprintf(stderr,
		        "rtbridge play: cannot start the disk server: %s\n",
		        diskserver_error(&p.srv)[0] ? diskserver_error(&p.srv)
		                                    : strerror(-rc));
		return 1;
	}
	p.srv_running = true;
	rc = play__open_sources(&p);
	if (rc == 0 && p.o.record)
		rc = play__open_recorder(&p);
	if (rc == 0)
		rc = play__open_mixer(&p);
	if (rc == 0)
		rc = play__open_device(&p);
	if (rc == 0) {
		rc = app_signal_install();
		if (rc < 0)
			fprintf(stderr, "rtbridge play: signals: %s\n",
			        strerror(-rc));
	}
	bool ran = false;
	if (rc == 0) {
		rc = play__run(&p);
		ran = true;
	}
	int rec_rc = play__teardown(&p);
	if (ran)
		play__summary(&p, rec_rc);
	for (int i = 0; ran && i < p.o.nfiles; i++) {
		/* A file that failed while playing (disk error). */
		const char *why = disksource_error(&p.srcs[i]);
		if (why[0]) {
			fprintf(stderr, "rtbridge play: %s\n", why);
			rc = -EIO;
		}
	}
	app_signal_restore();
	play__free(&p);
	if (rc < 0 || rec_rc < 0)
		return 1;
	return 0;
}
