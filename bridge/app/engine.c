/*
 * engine: disk server, mixer, device, archives and mix recorder under one
 * owner (see engine.h)
 *
 * Everything here runs on the control thread except engine_process (the
 * audio thread: the mixer, then a look at the archives' `ended` flags)
 * and engine_wake (whichever thread posted something for control).
 */
#include "bridge/app/engine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "bridge/rtcheck/rthook.h"

#define ENGINE_RATE     48000u
#define ENGINE_CHANNELS 2u
#define ENGINE_RETRY_MS 100 /* longest retry of a full command ring */

static int64_t engine__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void engine__sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
	                      .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Keep one line for engine_error. Return: rc. */
static int engine__fail(struct engine *e, int rc, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int engine__fail(struct engine *e, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->error, sizeof(e->error), fmt, ap);
	va_end(ap);
	return rc;
}

static double engine__since_s(int64_t t0)
{
	return (double)(engine__now_ns() - t0) / 1e9;
}

/* Open every archive, then wait for each: a slow disk works on them all
   at once. */
static int engine__open_archives(struct engine *e)
{
	const struct engine_config *c = &e->cfg;
	struct disksource_opts so = {
	        .channels = c->channels,
	        .rate = c->rate,
	        .prefetch_s = c->prefetch_s,
	        .loop = c->loop,
	};
	int64_t t0 = engine__now_ns();

	if (c->narchives == 0)
		return 0;
	e->arch = calloc(c->narchives, sizeof(*e->arch));
	if (!e->arch)
		return engine__fail(e, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < c->narchives; i++) {
		int rc = disksource_open(&e->arch[i], &e->srv, c->archives[i],
		                         &so);
		if (rc == -ETIMEDOUT)
			return engine__fail(
			        e, rc,
			        "%s: the disk server took no request "
			        "for %.1f s: the disk is too slow",
			        c->archives[i], engine__since_s(t0));
		if (rc < 0)
			return engine__fail(e, rc, "%s: %s", c->archives[i],
			                    strerror(-rc));
		e->narch_open = i + 1;
	}
	for (unsigned i = 0; i < c->narchives; i++) {
		struct disksource *s = &e->arch[i];
		int rc = disksource_wait_ready(s, ENGINE_OPEN_MS);
		if (rc < 0) {
			/* The disk's words: the file, and for a slow disk how
			   long it waited and how far it got. */
			const char *why = disksource_error(s);
			if (why[0])
				return engine__fail(e, rc, "%s", why);
			return engine__fail(e, rc, "%s: %s", c->archives[i],
			                    strerror(-rc));
		}
		uint64_t len = disksource_length(s);
		if (len == 0)
			return engine__fail(e, -EINVAL, "%s: the file is empty",
			                    c->archives[i]);
		if (len > e->longest)
			e->longest = len;
	}
	return 0;
}

static int engine__open_recorder(struct engine *e)
{
	const char *path = e->cfg.record;
	struct disktap_opts to = {.channels = e->cfg.channels,
	                          .rate = e->cfg.rate};

	if (!path)
		return 0;
	int rc = disktap_open(&e->rec, &e->srv, path, &to);
	if (rc < 0)
		return engine__fail(e, rc, "%s: cannot record: %s", path,
		                    strerror(-rc));
	e->rec_open = true;
	rc = disktap_wait_open(&e->rec, ENGINE_OPEN_MS);
	if (rc == 0)
		return 0;
	if (disktap_error(&e->rec)[0])
		engine__fail(e, rc, "%s", disktap_error(&e->rec));
	else
		engine__fail(e, rc, "%s: cannot record: %s", path,
		             strerror(-rc));
	/* Already reported: closed without a word. */
	disktap_close(&e->rec);
	(void)disktap_wait_closed(&e->rec, ENGINE_CLOSE_MS);
	e->rec_open = false;
	return rc;
}

static int engine__open_mixer(struct engine *e)
{
	const struct engine_config *c = &e->cfg;
	struct mixer_config mc;
	unsigned want = c->max_sources + c->narchives;
	int rc;

	mixer_config_default(&mc);
	mc.rate = c->rate;
	mc.channels = c->channels;
	mc.in_channels = c->in_channels;
	if (want > mc.max_sources)
		mc.max_sources = want;
	/* Every archive is linked before the start, in one go. */
	while (mc.cmd_capacity < c->narchives + 64u)
		mc.cmd_capacity *= 2;
	rc = mixer_init(&e->m, &mc);
	if (rc == 0) {
		e->mixer_ready = true;
		rc = mixer_stats_init(&e->st, &e->m);
		e->stats_ready = rc == 0;
	}
	float gain = c->archive_gain > 0.0f ? c->archive_gain : 1.0f;
	for (unsigned i = 0; rc == 0 && i < c->narchives; i++)
		rc = mixer_link(&e->m, &e->arch[i].src, gain);
	if (rc == 0 && e->rec_open)
		rc = mixer_link_tap(&e->m, &e->rec.tap, MIXER_TAP_OUTPUT);
	if (rc < 0)
		return engine__fail(e, rc, "cannot set up the mixer: %s",
		                    strerror(-rc));
	return 0;
}

/* devcfg.ready: the read planned for `look` has been done (a later one
   is planned), or, the net thread reading at each arrival, nothing is
   left in its socket's queue. Looks computed two ways may differ by a
   rounding ns: one within half a period is the same look. Outside the
   callback: the audio thread may make a system call here. */
static bool engine__ready(void *engine, int64_t look)
{
	struct engine *e = engine;
	/* Acquire: pairs with engine_look_planned; the group then sees what
	   the read before posted. */
	int64_t p =
	        atomic_load_explicit(&e->look_planned, memory_order_acquire);
	if (p != INT64_MAX)
		return p > look + e->look_tolerance_ns;
	int fd = atomic_load_explicit(&e->net_fd, memory_order_relaxed);
	int queued = 0;
	/* A descriptor closed meanwhile fails (ready): the socket is gone. */
	if (fd < 0 || ioctl(fd, FIONREAD, &queued) < 0)
		return true;
	return queued == 0;
}

static int engine__open_device(struct engine *e)
{
	const struct engine_config *c = &e->cfg;
	struct devcfg dc;
	enum device_kind kind = DEVICE_VCLOCK;

	if (c->clock == ENGINE_EXTERNAL)
		return 0;
	devcfg_default(&dc);
	dc.rate = c->rate;
	dc.period = c->period;
	dc.out_channels = c->no_output ? 0 : c->channels;
	dc.in_channels = c->in_channels;
	dc.callback = engine_process;
	dc.user = e;
	dc.mode =
	        c->clock == ENGINE_VCLOCK_FAST ? VCLOCK_FAST : VCLOCK_REALTIME;
	if (c->clock == ENGINE_VCLOCK) {
		dc.ready = engine__ready;
		dc.ready_arg = e;
		e->look_tolerance_ns =
		        (int64_t)(500000000ull * c->period / c->rate);
	}
	if (c->clock == ENGINE_VCLOCK && c->vclock_wake_ms) {
		/* To the nearest whole period: 128-frame periods at 48 kHz
		   wake every 4 (10.7 ms), not every 3 (8 ms, a quarter
		   more wake-ups than asked for). */
		uint64_t per = 1000u * (uint64_t)c->period;
		uint64_t b =
		        ((uint64_t)c->vclock_wake_ms * c->rate + per / 2) / per;
		dc.batch = b < 1                  ? 1
		           : b > DEVCFG_BATCH_MAX ? DEVCFG_BATCH_MAX
		                                  : (unsigned)b;
	}
	if (c->clock == ENGINE_DEVICE) {
		kind = DEVICE_PORTAUDIO;
		if (c->device)
			devcfg_select(&dc, c->device, e->dev_name,
			              sizeof(e->dev_name));
	}
	if (c->no_output) {
		e->scratch_frames = c->period;
		e->scratch =
		        calloc((size_t)c->period * c->channels, sizeof(float));
		if (!e->scratch)
			return engine__fail(e, -ENOMEM, "out of memory");
	}
	int rc = device_open(&e->dev, kind, &dc);
	if (rc == 0) {
		e->dev_open = true;
		return 0;
	}
	const char *why = device_error(&e->dev);
	if (!why[0])
		why = strerror(-rc);
	if (c->device)
		engine__fail(e, rc,
		             "device '%s': %s (`rtbridge devices` lists them)",
		             c->device, why);
	else if (c->no_output)
		engine__fail(e, rc, "no usable input device: %s", why);
	else
		engine__fail(e, rc,
		             "no usable audio device: %s (--no-play runs on "
		             "the virtual clock)",
		             why);
	device_close(&e->dev);
	return rc;
}

int engine_open(struct engine *e, const struct engine_config *cfg)
{
	memset(e, 0, sizeof(*e));
	e->wake_fd = -1;
	atomic_init(&e->look_planned, INT64_MAX);
	atomic_init(&e->net_fd, -1);
	e->cfg = *cfg;
	if (!e->cfg.rate)
		e->cfg.rate = ENGINE_RATE;
	if (!e->cfg.channels)
		e->cfg.channels = ENGINE_CHANNELS;
	if (!e->cfg.period)
		e->cfg.period = DEVCFG_PERIOD_DEFAULT;
	(void)rthook_init();
	e->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->wake_fd < 0)
		return engine__fail(e, -errno, "eventfd: %s", strerror(errno));
	int rc = 0;
	if (e->cfg.disk || e->cfg.narchives || e->cfg.record)
		rc = engine_start_disk(e);
	if (rc == 0)
		rc = engine__open_archives(e);
	if (rc == 0)
		rc = engine__open_recorder(e);
	if (rc == 0)
		rc = engine__open_mixer(e);
	if (rc == 0)
		rc = engine__open_device(e);
	return rc;
}

/* Nothing linked and nothing on its way back: the clock has no work. */
static bool engine__idle(const struct engine *e)
{
	return mixer_held(&e->m) == 1;
}

static int engine__run(struct engine *e)
{
	if (e->cfg.clock != ENGINE_EXTERNAL) {
		int rc = device_start(&e->dev);
		if (rc < 0)
			return engine__fail(
			        e, rc, "cannot start the device: %s",
			        device_error(&e->dev)[0] ? device_error(&e->dev)
			                                 : strerror(-rc));
	}
	e->running = true;
	e->paused = false;
	e->next_report_ns = engine__now_ns() + e->m.cfg.report_ms * 1000000LL;
	return 0;
}

int engine_start(struct engine *e)
{
	return engine__run(e);
}

static void engine__drain(struct engine *e)
{
	mixer_poll(&e->m, &e->st);
	if (e->st.out_peak > e->peak)
		e->peak = e->st.out_peak;
}

unsigned engine_poll(struct engine *e)
{
	unsigned ev = 0;

	if (!e->mixer_ready)
		return 0;
	engine__drain(e);
	if (e->running)
		e->next_report_ns =
		        engine__now_ns() + e->m.cfg.report_ms * 1000000LL;
	if (e->cfg.end_with_archives && !e->cfg.loop && e->cfg.narchives &&
	    engine_archives_ended(e))
		ev |= ENGINE_EV_DONE;
	if (e->dev_open && device_done(&e->dev))
		ev |= ENGINE_EV_DONE;
	if (e->rec_open && !e->rec_reported && !e->rec.closed &&
	    writebehind_status(e->rec.wb) < 0) {
		e->rec_reported = true;
		ev |= ENGINE_EV_RECORD_STOPPED;
	}
	if (e->cfg.idle_pause && e->running && e->dev_open &&
	    e->dev.kind == DEVICE_VCLOCK && engine__idle(e)) {
		/* Joins the clock's thread: nothing of the mixer's runs after
		   this, so what it posted last is drained now. */
		(void)device_stop(&e->dev);
		e->running = false;
		e->paused = true;
		engine__drain(e);
	}
	return ev;
}

int64_t engine_due_ns(const struct engine *e)
{
	return e->running ? e->next_report_ns : INT64_MAX;
}

int64_t engine_next_look_ns(void *engine, int64_t after)
{
	const struct engine *e = engine;

	/* The configuration and the device's kind do not change while the
	   engine runs. */
	if (e->cfg.clock != ENGINE_VCLOCK)
		return -1;
	return device_next_wake_ns(&e->dev, after);
}

void engine_look_planned(void *engine, int64_t look, int fd)
{
	struct engine *e = engine;

	atomic_store_explicit(&e->net_fd, fd, memory_order_relaxed);
	/* Release: the records the read posted come before (and the
	   descriptor: a reader that sees the look sees it too). */
	atomic_store_explicit(&e->look_planned, look, memory_order_release);
}

int64_t engine_period_due_ns(void *engine)
{
	const struct engine *e = engine;

	if (e->cfg.clock != ENGINE_VCLOCK)
		return -1;
	return device_period_due_ns(&e->dev);
}

int engine_fd(const struct engine *e)
{
	return e->wake_fd;
}

void engine_wake(struct engine *e)
{
	uint64_t one = 1;
	/* A full counter (never, in practice) still leaves the fd readable. */
	(void)!write(e->wake_fd, &one, sizeof(one));
}

void engine_woken(struct engine *e)
{
	uint64_t n;
	(void)!read(e->wake_fd, &n, sizeof(n));
}

/* A command for the mixer, retried while its ring is full. */
enum engine__what { ENGINE__LINK, ENGINE__LINK_TAP, ENGINE__UNLINK };

static int engine__try(struct engine *e, enum engine__what what, void *obj,
                       float gain, enum mixer_tap_point point)
{
	switch (what) {
	case ENGINE__LINK:
		return mixer_link(&e->m, obj, gain);
	case ENGINE__LINK_TAP:
		return mixer_link_tap(&e->m, obj, point);
	case ENGINE__UNLINK:
		return mixer_unlink(&e->m, obj, false);
	}
	return -EINVAL;
}

static int engine__send(struct engine *e, enum engine__what what, void *obj,
                        float gain, enum mixer_tap_point point)
{
	int rc;

	/* Something is about to be linked: an idle clock runs again. */
	if (e->paused && what != ENGINE__UNLINK) {
		rc = engine__run(e);
		if (rc < 0)
			return rc;
	}
	for (int i = 0;; i++) {
		rc = engine__try(e, what, obj, gain, point);
		if (rc != -EAGAIN || i >= ENGINE_RETRY_MS)
			return rc;
		engine__drain(e);
		engine__sleep_ms(1);
	}
}

int engine_link(struct engine *e, struct source *src, float gain)
{
	return engine__send(e, ENGINE__LINK, src, gain, MIXER_TAP_OUTPUT);
}

int engine_link_tap(struct engine *e, struct tap *t, enum mixer_tap_point point)
{
	return engine__send(e, ENGINE__LINK_TAP, t, 0.0f, point);
}

int engine_unlink(struct engine *e, struct source *src)
{
	return engine__send(e, ENGINE__UNLINK, src, 0.0f, MIXER_TAP_OUTPUT);
}

int engine_process(void *user, const float *in, float *out, size_t frames)
{
	struct engine *e = user;

	if (out) {
		(void)mixer_process(&e->m, in, out, frames);
	} else {
		/* Input only (capture): the mix goes nowhere. */
		size_t ich = e->cfg.in_channels;
		for (size_t done = 0; done < frames;) {
			size_t n = frames - done;
			if (n > e->scratch_frames)
				n = e->scratch_frames;
			(void)mixer_process(&e->m, in ? in + done * ich : NULL,
			                    e->scratch, n);
			done += n;
		}
	}
	if (!e->cfg.end_with_archives || e->cfg.loop || !e->cfg.narchives)
		return 0;
	for (unsigned i = 0; i < e->cfg.narchives; i++)
		if (!disksource_ended(&e->arch[i]))
			return 0;
	return 1;
}

int engine_stop(struct engine *e)
{
	int rc = 0;

	if (e->running && e->dev_open) {
		rc = device_stop(&e->dev);
		if (rc < 0)
			engine__fail(e, rc, "stopping the device: %s",
			             device_error(&e->dev)[0]
			                     ? device_error(&e->dev)
			                     : strerror(-rc));
	}
	e->running = false;
	e->paused = false;
	if (e->mixer_ready) {
		engine__drain(e);
		/* Hands back every source (archives close their streams) and
		   the recorder's tap (which posts the end of the file). */
		mixer_clear(&e->m);
		e->mixer_ready = false;
	}
	for (unsigned i = 0; i < e->narch_open; i++)
		disksource_close(&e->arch[i]);
	if (e->rec_open && !e->rec_done) {
		/* Closed already when the mixer handed the tap back. */
		disktap_close(&e->rec);
		e->rec_rc = disktap_wait_closed(&e->rec, ENGINE_CLOSE_MS);
		e->rec_done = true;
	}
	return rc;
}

void engine_clear(struct engine *e)
{
	(void)engine_stop(e);
	if (e->srv_running) {
		(void)diskserver_stop(&e->srv);
		e->srv_running = false;
	}
	if (e->dev_open) {
		device_close(&e->dev);
		e->dev_open = false;
	}
	if (e->stats_ready) {
		mixer_stats_clear(&e->st);
		e->stats_ready = false;
	}
	free(e->arch);
	e->arch = NULL;
	e->narch_open = 0;
	free(e->scratch);
	e->scratch = NULL;
	if (e->wake_fd >= 0)
		close(e->wake_fd);
	e->wake_fd = -1;
}

const char *engine_error(const struct engine *e)
{
	return e->error;
}

int engine_start_disk(struct engine *e)
{
	if (e->srv_running)
		return 0;
	int rc = diskserver_start(&e->srv, NULL);
	if (rc < 0)
		return engine__fail(e, rc, "cannot start the disk server: %s",
		                    diskserver_error(&e->srv)[0]
		                            ? diskserver_error(&e->srv)
		                            : strerror(-rc));
	e->srv_running = true;
	return 0;
}

struct diskserver *engine_disk(struct engine *e)
{
	return e->srv_running ? &e->srv : NULL;
}

bool engine_archives_ended(const struct engine *e)
{
	if (e->narch_open < e->cfg.narchives)
		return false;
	for (unsigned i = 0; i < e->cfg.narchives; i++)
		if (!disksource_ended(&e->arch[i]))
			return false;
	return true;
}

uint64_t engine_archive_underruns(const struct engine *e)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < e->narch_open; i++)
		n += disksource_underruns(&e->arch[i]);
	return n;
}

uint64_t engine_frames(const struct engine *e)
{
	return e->dev_open ? device_frames(&e->dev) : 0;
}
