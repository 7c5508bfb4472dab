/*
 * rtb_engine: the public engine (include/rtbridge/engine.h) over the
 * runtime's engine (bridge/app/engine.h), and the receivers made on it
 *
 * The control thread owns the handle; the application's audio callback
 * (RTB_CLOCK_EXTERNAL) or the engine's device thread calls the mixer
 * through engine_process, which is all rtb_engine_process is. Polling
 * drains the mixer first (its hand-backs are what lets the receivers'
 * streams move on), then gives every receiver its turn.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/app/app_record.h"
#include "bridge/audio/disktap.h"
#include "bridge/net/netloop.h"
#include "bridge/rtcheck/rthook.h"
#include "lib/rtb_lib.h"

#define RTB_ENGINE_SOURCES 64 /* streams mixed at once, by default */

void rtb__why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

RTB_API const char *rtb_version(void)
{
	return RTB_VERSION_STRING;
}

static int rtb_engine__clock(enum rtb_clock c)
{
	switch (c) {
	case RTB_CLOCK_EXTERNAL:
		return ENGINE_EXTERNAL;
	case RTB_CLOCK_DEVICE:
		return ENGINE_DEVICE;
	case RTB_CLOCK_VIRTUAL:
		return ENGINE_VCLOCK;
	case RTB_CLOCK_VIRTUAL_FAST:
		return ENGINE_VCLOCK_FAST;
	}
	return -EINVAL;
}

/* The device input, pushed to the capture sender. Context: audio thread,
   real-time safe (rtb_sender_push). */
static void rtb_engine__tap_write(struct tap *t, const float *frames, size_t n)
{
	struct rtb_engine_tap *c = (struct rtb_engine_tap *)t;

	if (c->s)
		(void)rtb_sender_push(c->s, frames, n);
}

static const struct tap_ops rtb_engine__tap_ops = {
        .write = rtb_engine__tap_write};

RTB_API int rtb_engine_create(const struct rtb_engine_config *cfg,
                              struct rtb_engine **out, char *why, size_t len)
{
	int clock = rtb_engine__clock(cfg->clock);

	*out = NULL;
	if (clock < 0) {
		rtb__why(why, len, "unknown clock %d", (int)cfg->clock);
		return -EINVAL;
	}
	struct rtb_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		rtb__why(why, len, "engine: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	struct engine_config ec = {
	        .clock = (enum engine_clock)clock,
	        .device = cfg->device,
	        .rate = cfg->rate ? cfg->rate : 48000u,
	        .channels = cfg->channels ? cfg->channels : 2u,
	        .period = cfg->period,
	        .max_sources = cfg->max_sources ? cfg->max_sources
	                                        : RTB_ENGINE_SOURCES,
	        .record = cfg->record,
	        .archives = cfg->archives,
	        .narchives = cfg->archives ? cfg->narchives : 0,
	        .idle_pause = cfg->idle_pause,
	        .vclock_wake_ms = cfg->wake_ms,
	        .archive_gain = cfg->archive_gain,
	        .prefetch_s = cfg->prefetch_s,
	        .loop = cfg->loop,
	        .end_with_archives = cfg->end_with_archives,
	        .in_channels =
	                cfg->clock == RTB_CLOCK_DEVICE ? cfg->in_channels : 0,
	        .no_output = cfg->clock == RTB_CLOCK_DEVICE && cfg->no_output,
	        /* The disk thread: for archives and the mix recording here,
	           for a receiver's record_dir when one is made. */
	};
	/* The checker's hooks (librtcheck, when preloaded) are looked up
	   here, off the audio thread. */
	(void)rthook_init();
	int rc = engine_open(&e->e, &ec);
	if (rc == 0 && ec.in_channels) {
		e->cap.tap = (struct tap){.ops = &rtb_engine__tap_ops,
		                          .channels = ec.in_channels};
		rc = engine_link_tap(&e->e, &e->cap.tap, MIXER_TAP_INPUT);
	}
	if (rc < 0) {
		rtb__why(why, len, "%s",
		         engine_error(&e->e)[0] ? engine_error(&e->e)
		                                : strerror(-rc));
		engine_clear(&e->e);
		free(e);
		return rc;
	}
	*out = e;
	return 0;
}

RTB_API int rtb_engine_start(struct rtb_engine *e)
{
	int rc = engine_start(&e->e);
	if (rc < 0)
		snprintf(e->error, sizeof(e->error), "%s", engine_error(&e->e));
	return rc;
}

RTB_API int rtb_engine_process(struct rtb_engine *e, float *out, size_t frames)
{
	/* A device's engine has its own caller. */
	if (e->e.cfg.clock != ENGINE_EXTERNAL || !out)
		return -EINVAL;
	/* Marks the caller as a real-time thread for the checker (nothing
	   without it: two loads of a pointer set at create). */
	rthook_rt_enter();
	(void)engine_process(&e->e, NULL, out, frames);
	rthook_rt_leave();
	return 0;
}

RTB_API int rtb_engine_poll(struct rtb_engine *e)
{
	int rc = 0;

	engine_woken(&e->e);
	unsigned ev = engine_poll(&e->e);
	if (ev & ENGINE_EV_DONE)
		e->done = true;
	/* From the state, not the event: a receiver's stop or finish polls
	   the runtime's engine too, and may have taken that. */
	if (e->e.rec_reported && !e->rec_said) {
		e->rec_said = true;
		snprintf(e->error, sizeof(e->error),
		         "%s: the recording stopped: %s", e->e.cfg.record,
		         disktap_error(&e->e.rec));
		rc = -EIO;
	}
	int64_t now = (int64_t)netloop_now_ns();
	for (struct rtb_receiver *r = e->receivers; r; r = r->next)
		rtb_receiver__turn(r, now);
	return rc;
}

RTB_API int rtb_engine_timeout_ms(const struct rtb_engine *e)
{
	int64_t due = engine_due_ns(&e->e);

	for (const struct rtb_receiver *r = e->receivers; r; r = r->next) {
		int64_t t = rtb_receiver__due(r);
		due = t < due ? t : due;
	}
	if (due == INT64_MAX)
		return -1;
	int64_t ms = (due - (int64_t)netloop_now_ns() + 999999) / 1000000;
	return ms < 0 ? 0 : ms > INT32_MAX ? INT32_MAX : (int)ms;
}

RTB_API int rtb_engine_fd(const struct rtb_engine *e)
{
	return engine_fd(&e->e);
}

RTB_API int rtb_engine_run(struct rtb_engine *e, int timeout_ms)
{
	int ms = rtb_engine_timeout_ms(e);
	struct pollfd pfd = {.fd = engine_fd(&e->e), .events = POLLIN};

	if (ms < 0 || (timeout_ms >= 0 && timeout_ms < ms))
		ms = timeout_ms;
	if (ms != 0)
		(void)poll(&pfd, pfd.fd >= 0 ? 1 : 0, ms);
	return rtb_engine_poll(e);
}

RTB_API int rtb_engine_stop(struct rtb_engine *e)
{
	int rc = engine_stop(&e->e);
	if (rc < 0)
		snprintf(e->error, sizeof(e->error), "%s", engine_error(&e->e));
	else if (e->e.rec_open && e->e.rec_rc < 0) {
		snprintf(e->error, sizeof(e->error), "%s: %s", e->e.cfg.record,
		         disktap_error(&e->e.rec)[0] ? disktap_error(&e->e.rec)
		                                     : strerror(-e->e.rec_rc));
		rc = e->e.rec_rc;
	}
	return rc;
}

RTB_API void rtb_engine_destroy(struct rtb_engine *e)
{
	if (!e)
		return;
	(void)engine_stop(&e->e); /* nothing when stopped already */
	while (e->receivers)
		rtb_receiver_destroy(e->receivers);
	engine_clear(&e->e);
	free(e);
}

RTB_API void rtb_engine_stats(const struct rtb_engine *e,
                              struct rtb_engine_stats *st)
{
	const struct mixer_stats *m = &e->e.st;

	memset(st, 0, sizeof(*st));
	st->frames = engine_frames(&e->e);
	st->done = e->done;
	st->archive_underruns = engine_archive_underruns(&e->e);
	st->longest = e->e.longest;
	st->peak = e->e.peak;
	if (e->e.dev_open) {
		st->xruns = device_xruns(&e->e.dev);
		st->callbacks = device_callbacks(&e->e.dev);
	}
	if (!e->e.stats_ready)
		return;
	if (!st->frames) /* no device: what the reports counted */
		st->frames = m->frames;
	st->sources = m->nsources;
	st->out_peak = m->out_peak;
	st->callback_max_us = m->cb_us_max;
	st->callback_p99_us = m->cb_us_p99_all;
	st->clipped = m->clipped;
	st->callback_median_us = m->cb_us_median_all;
}

RTB_API int rtb_engine_capture(struct rtb_engine *e, struct rtb_sender *s)
{
	if (e->e.running || !e->e.cfg.in_channels ||
	    (s && (rtb__sender_push_channels(s) != e->e.cfg.in_channels ||
	           rtb__sender_push_rate(s) != e->e.cfg.rate)))
		return -EINVAL;
	/* The device does not run: its callback reads this only once it
	   starts (after this store), and no more once it stopped. */
	e->cap.s = s;
	return 0;
}

RTB_API int rtb_engine_archive(const struct rtb_engine *e, unsigned i,
                               struct rtb_archive_stats *st)
{
	if (i >= e->e.narch_open)
		return -ENOENT;
	const struct disksource *a = &e->e.arch[i];
	const struct mixer_source_stats *ms =
	        e->e.stats_ready ? mixer_stats_find(&e->e.st, &a->src) : NULL;

	memset(st, 0, sizeof(*st));
	st->position = disksource_position(a);
	st->length = disksource_length(a);
	st->underruns = disksource_underruns(a);
	st->underrun_frames = disksource_underrun_frames(a);
	st->peak = ms ? ms->peak : 0.0f;
	snprintf(st->error, sizeof(st->error), "%s", disksource_error(a));
	return 0;
}

RTB_API void rtb_engine_record_status(const struct rtb_engine *e,
                                      struct rtb_record_status *st)
{
	const struct disktap *t = &e->e.rec;

	memset(st, 0, sizeof(*st));
	st->on = e->e.rec_open;
	if (!st->on)
		return;
	st->stopped = e->e.rec_reported;
	st->finished = e->e.rec_done;
	st->rc = e->e.rec_done ? e->e.rec_rc : 0;
	st->frames = disktap_frames_written(t);
	if (st->stopped || st->rc < 0)
		snprintf(st->error, sizeof(st->error), "%s", disktap_error(t));
	if (st->rc < 0)
		app_record_failure(st->failure, sizeof(st->failure),
		                   e->e.cfg.record, t, st->rc);
	if (st->finished)
		app_record_outcome(st->outcome, sizeof(st->outcome),
		                   e->e.cfg.record, t, st->rc);
}

RTB_API const char *rtb_engine_error(const struct rtb_engine *e)
{
	return e->error;
}
