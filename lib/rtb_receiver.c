/*
 * rtb_receiver: the public receiver (include/rtbridge/receiver.h) over the
 * receive side of `rtbridge recv`
 *
 * The handle holds a struct recv, the very state the command runs on
 * (cmd_recv_impl.h): its net thread, its receiver (sockets, probation,
 * SSRC table) and its stream lifecycle (cmd_recv_streams.c: spares
 * allocated ahead, set-up, recording, link, drain, unlink, close), with
 * the public engine's engine as the one its streams play through. What the
 * library adds is the translation: its configuration into the command's
 * options, the lifecycle's hooks into on_added / on_removed, the streams'
 * figures into on_stats and snapshots, its lines into on_log, how a
 * stream ended into on_ended (rtb_receiver_opts.c: the configuration).
 * Everything here runs on the control thread, inside rtb_engine_poll or
 * the calls below.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/app/app_record.h"
#include "lib/rtb_lib.h"

#define RTB_RECEIVER_STATS_MS 1000u
#define RTB_RECEIVER_DRAIN_MS 2000u /* after the longest delay */

static void rtb_receiver__info(const struct recv_stream *s,
                               struct rtb_stream_info *info)
{
	memset(info, 0, sizeof(*info));
	info->id = s->id;
	info->ssrc = s->ssrc;
	snprintf(info->from, sizeof(info->from), "%s", s->from);
	info->record_path = s->rec_opened && !s->no_file ? s->path : NULL;
	info->start_ns = s->start_ns;
	info->record_error = s->rec_reported ? disktap_error(&s->tap) : NULL;
}

static void rtb_receiver__stats(const struct netstream_stats *n,
                                struct rtb_stream_stats *st)
{
	*st = (struct rtb_stream_stats){
	        .received = n->received,
	        .lost = n->lost,
	        .late = n->late,
	        .duplicate = n->duplicate,
	        .reordered = n->reordered,
	        .concealed_frames = n->concealed_frames,
	        .inserted_frames = n->inserted,
	        .underruns = n->underruns,
	        .frames_played = n->frames_out,
	        .recorded_frames = n->recorded,
	        .jitter_ms = n->jitter_ms,
	        .buffer_ms = n->buffer_ms,
	        .target_ms = n->target_ms,
	        .drift_ppm = n->drift_ppm,
	        .recovered = n->recovered_packets,
	        .late_repairs = n->late_repairs,
	        .recovered_frames = n->recovered,
	        .resyncs = n->resyncs,
	        .rebuffers = n->rebuffers,
	        .skips = n->skips,
	        .skipped_frames = n->skipped_frames,
	        .clock_mismatch = n->clock_mismatch,
	        .decode_errors = n->decode_errors,
	        .rx_dropped = n->rx_dropped,
	        .rx_invalid = n->rx_invalid,
	        .fec_packets = n->rx_fec,
	        .frames_in = n->frames_in,
	        .sender_ppm = n->sender_ppm,
	        .device_ppm = n->device_ppm,
	};
}

/* A linked stream's figures, with its peak in the mix. */
static void rtb_receiver__figures(const struct rtb_receiver *r,
                                  const struct recv_stream *s,
                                  const struct netstream_stats *n,
                                  struct rtb_stream_stats *st)
{
	const struct mixer_source_stats *ms =
	        mixer_stats_find(&r->eng->e.st, &s->ns.src);

	rtb_receiver__stats(n, st);
	st->peak = ms ? ms->peak : 0.0f;
	st->record_written =
	        s->rec_opened ? disktap_frames_written(&s->tap) : 0;
}

/* The audio thread publishes at every pull: a few tries find a quiet
   moment. Return: 0, or -EAGAIN. */
static int rtb_receiver__snap(const struct recv_stream *s,
                              struct netstream_stats *n)
{
	int rc = -EAGAIN;
	for (int i = 0; i < 8 && rc == -EAGAIN; i++)
		rc = netstream_stats((struct netstream *)&s->ns, n);
	return rc;
}

static void rtb_receiver__linked(void *arg, struct recv_stream *s)
{
	struct rtb_receiver *r = arg;
	struct rtb_stream_info info;

	r->playing++;
	if (r->cfg.on_added) {
		rtb_receiver__info(s, &info);
		r->cfg.on_added(r->cfg.arg, r, &info);
	}
}

static void rtb_receiver__closed(void *arg, struct recv_stream *s)
{
	struct rtb_receiver *r = arg;
	struct rtb_stream_info info;

	r->playing--;
	if (r->cfg.on_removed) {
		struct rtb_stream_stats st;
		/* Neither thread holds it: the audio side's own figures are
		   final, and read directly. */
		rtb_receiver__info(s, &info);
		rtb_receiver__stats(&s->ns.st, &st);
		r->cfg.on_removed(r->cfg.arg, r, &info, &st);
	}
}

/* rtb_receiver__ended gives the net thread's reason as the public one,
   by number. */
_Static_assert((int)RECEIVER_END_IDLE == (int)RTB_ENDED_TIMEOUT,
               "RECEIVER_END_IDLE is RTB_ENDED_TIMEOUT");
_Static_assert((int)RECEIVER_END_SUPERSEDED == (int)RTB_ENDED_SUPERSEDED,
               "RECEIVER_END_SUPERSEDED is RTB_ENDED_SUPERSEDED");
_Static_assert((int)RECEIVER_END_TAKEN_OVER == (int)RTB_ENDED_TAKEN_OVER,
               "RECEIVER_END_TAKEN_OVER is RTB_ENDED_TAKEN_OVER");
_Static_assert((int)RECEIVER_END_CLOSED == (int)RTB_ENDED_STOPPED,
               "RECEIVER_END_CLOSED is RTB_ENDED_STOPPED");

/* The disk's outcome of a finished recording, said as recv's summary
   says it. */
static void rtb_receiver__ended(void *arg, struct recv_stream *s, int rec_rc,
                                uint64_t frames)
{
	struct rtb_receiver *r = arg;
	struct rtb_stream_info info;
	struct rtb_stream_stats st;
	char outcome[APP_RECORD_OUTCOME_MAX];
	bool file = s->tap_open && !s->no_file;

	if (!r->cfg.on_ended)
		return;
	rtb_receiver__info(s, &info);
	/* Neither thread holds it: the audio side's figures are final. */
	rtb_receiver__stats(&s->ns.st, &st);
	struct rtb_stream_end end = {
	        .why = s->why >= RECEIVER_END_IDLE &&
	                               s->why <= RECEIVER_END_CLOSED
	                       ? (enum rtb_ending)s->why
	                       : RTB_ENDED_SETUP_FAILED,
	        .start_ns = s->start_ns,
	        .end_ns = s->end_ns,
	        .stats = &st,
	        .played = s->was_linked,
	        .record_path = file ? s->path : NULL,
	        .record_frames = frames,
	        .record_rc = rec_rc,
	        .record_outcome =
	                file ? app_record_outcome(outcome, sizeof(outcome),
	                                          s->path, &s->tap, rec_rc)
	                     : NULL,
	        .record_error = s->tap_open && (s->rec_reported || rec_rc < 0)
	                                ? disktap_error(&s->tap)
	                                : NULL,
	};
	info.record_path = end.record_path;
	r->cfg.on_ended(r->cfg.arg, r, &info, &end);
}

static void rtb_receiver__record_stopped(void *arg, struct recv_stream *s)
{
	struct rtb_receiver *r = arg;
	struct rtb_stream_info info;

	if (!r->cfg.on_record_stopped)
		return;
	rtb_receiver__info(s, &info);
	r->cfg.on_record_stopped(r->cfg.arg, r, &info,
	                         disktap_frames_written(&s->tap),
	                         disktap_error(&s->tap));
}

/* A line to on_log, or stderr. */
static void rtb_receiver__said(const struct rtb_receiver_config *c,
                               const char *line)
{
	if (c->on_log)
		c->on_log(c->arg, line);
	else
		fprintf(stderr, "rtbridge recv: %s\n", line);
}

static void rtb_receiver__say(void *arg, const char *line)
{
	struct rtb_receiver *r = arg;

	rtb_receiver__said(&r->cfg, line);
}

static void rtb_receiver__report(struct rtb_receiver *r)
{
	for (struct recv_stream *s = r->p.streams; s; s = s->next) {
		struct netstream_stats n;
		struct rtb_stream_stats st;
		struct rtb_stream_info info;
		if (s->state != RECV_LINKED || rtb_receiver__snap(s, &n) < 0)
			continue;
		rtb_receiver__info(s, &info);
		rtb_receiver__figures(r, s, &n, &st);
		r->cfg.on_stats(r->cfg.arg, r, &info, &st);
	}
}

void rtb_receiver__turn(struct rtb_receiver *r, int64_t now)
{
	r->sweeping = cmd_recv_streams_step(&r->p, now, &r->sweep_ns);
	cmd_recv_check_records(&r->p);
	cmd_recv_check_timing(&r->p, now);
	if (r->cfg.on_stats && now >= r->stats_ns) {
		int64_t step = (int64_t)r->cfg.stats_ms * 1000000;
		rtb_receiver__report(r);
		/* On the grid, never in a burst to catch up. */
		r->stats_ns += step * ((now - r->stats_ns) / step + 1);
	}
}

int64_t rtb_receiver__due(const struct rtb_receiver *r)
{
	int64_t due = cmd_recv_streams_due(&r->p);

	if (r->sweeping && r->sweep_ns < due)
		due = r->sweep_ns;
	if (r->cfg.on_stats && r->playing && r->stats_ns < due)
		due = r->stats_ns;
	return due;
}

RTB_API int rtb_receiver_create(struct rtb_engine *e,
                                const struct rtb_receiver_config *cfg,
                                struct rtb_receiver **out, char *why,
                                size_t len)
{
	char own[256]; /* the line said, when the caller wants none */

	if (!why || !len) {
		why = own;
		len = sizeof(own);
	}
	*out = NULL;
	unsigned rate = e->e.cfg.rate ? e->e.cfg.rate : 48000u;
	if (rate != RECV_RATE) {
		rtb__why(why, len, "receivers need an engine at %u Hz, not %u",
		         RECV_RATE, rate);
		rtb_receiver__said(cfg, why);
		return -EINVAL;
	}
	struct rtb_receiver *r = calloc(1, sizeof(*r));
	if (!r) {
		rtb__why(why, len, "receiver: %s", strerror(ENOMEM));
		rtb_receiver__said(cfg, why);
		return -ENOMEM;
	}
	r->cfg = *cfg;
	if (!r->cfg.stats_ms)
		r->cfg.stats_ms = RTB_RECEIVER_STATS_MS;
	r->eng = e;
	r->p.e = &e->e;
	r->hooks = (struct recv_hooks){
	        .linked = rtb_receiver__linked,
	        .closed = rtb_receiver__closed,
	        .ended = rtb_receiver__ended,
	        .record_stopped = rtb_receiver__record_stopped,
	        .say = rtb_receiver__say,
	        .arg = r,
	};
	r->p.hooks = &r->hooks;
	r->p.channels = e->e.cfg.channels ? e->e.cfg.channels : 2u;
	int rc = rtb_receiver__opts(r, why, len);
	/* Read: the caller's texts and key are not kept. */
	r->cfg.listen = NULL;
	r->cfg.multicast_source = NULL;
	r->cfg.allow = NULL;
	r->cfg.srtp_key = NULL;
	if (rc == 0 && cmd_recv_streams_check(&r->p, why, len) < 0)
		rc = -EINVAL;
	/* Its streams' recordings go through the engine's disk thread,
	   started for the first receiver that records. */
	if (rc == 0 && r->p.o.record_dir) {
		rc = engine_start_disk(&e->e);
		if (rc < 0)
			rtb__why(why, len, "%s", engine_error(&e->e));
	}
	if (rc < 0) {
		rtb_receiver__say(r, why);
		srtpkey_clear(&r->p.o.srtp_key);
		free(r);
		return rc;
	}
	int64_t now = (int64_t)netloop_now_ns();
	r->sweep_ns = now;
	r->stats_ns = now + (int64_t)r->cfg.stats_ms * 1000000;
	rc = netloop_start(&r->p.nl, 64);
	if (rc < 0) {
		rtb__why(why, len, "net thread: %s", strerror(-rc));
		rtb_receiver__say(r, why);
		srtpkey_clear(&r->p.o.srtp_key);
		free(r);
		return rc;
	}
	r->p.nl_running = true;
	rc = cmd_recv_open_rx(&r->p, why, len);
	if (rc < 0) {
		cmd_recv_close_net(&r->p);
		srtpctx_clear(&r->p.srtp);
		srtpkey_clear(&r->p.o.srtp_key);
		if (r->p.rx_ready)
			receiver_clear(&r->p.rx);
		cmd_recv_streams_free(&r->p); /* spares only, never linked */
		free(r);
		return rc;
	}
	r->next = e->receivers;
	e->receivers = r;
	*out = r;
	return 0;
}

RTB_API unsigned rtb_receiver_port(const struct rtb_receiver *r)
{
	return receiver_port((struct receiver *)&r->p.rx);
}

RTB_API unsigned rtb_receiver_streams(const struct rtb_receiver *r)
{
	return r->playing;
}

RTB_API int rtb_receiver_stream_stats(struct rtb_receiver *r, uint64_t id,
                                      struct rtb_stream_stats *st)
{
	for (struct recv_stream *s = r->p.streams; s; s = s->next) {
		struct netstream_stats n;
		if (s->state != RECV_LINKED || s->id != id)
			continue;
		int rc = rtb_receiver__snap(s, &n);
		if (rc == 0)
			rtb_receiver__figures(r, s, &n, st);
		return rc;
	}
	return -ENOENT;
}

RTB_API unsigned rtb_receiver_list(const struct rtb_receiver *r, uint64_t *ids,
                                   unsigned max)
{
	unsigned n = 0;

	for (const struct recv_stream *s = r->p.streams; s; s = s->next) {
		if (s->state != RECV_LINKED)
			continue;
		if (n < max)
			ids[n] = s->id;
		n++;
	}
	return n;
}

RTB_API int rtb_receiver_stream_info(const struct rtb_receiver *r, uint64_t id,
                                     struct rtb_stream_info *info)
{
	for (const struct recv_stream *s = r->p.streams; s; s = s->next)
		if (s->state == RECV_LINKED && s->id == id) {
			rtb_receiver__info(s, info);
			return 0;
		}
	return -ENOENT;
}

RTB_API void rtb_receiver_counters(const struct rtb_receiver *r,
                                   struct rtb_receiver_counters *c)
{
	struct receiver_counters n;

	memset(c, 0, sizeof(*c));
	c->setup_failed = r->p.setup_failed;
	c->record_failed = r->p.record_failed;
	c->streams_alive = r->p.nalive;
	if (!r->p.rx_ready)
		return;
	receiver_counters(&r->p.rx, &n);
	c->datagrams = n.datagrams;
	c->accepted = n.accepted;
	c->malformed = n.malformed;
	c->too_big = n.too_big;
	c->unknown_pt = n.unknown_pt;
	c->not_allowed = n.not_allowed;
	c->over_max_streams = n.over_max_streams;
	c->setting_up = n.pending;
	c->refused = n.refused;
	c->stream_dropped = n.stream_dropped;
	c->notify_dropped = n.notify_dropped;
	c->probation_dropped = n.probation_dropped;
	c->ssrc_conflicts = n.ssrc_conflicts;
	c->auth_failed = n.auth_failed;
	c->replayed = n.replayed;
	c->held = n.held;
	c->on_probation = n.on_probation;
	c->streams_seen = n.streams_seen;
	c->probation_failed = n.probation_failed;
	c->probation_evicted = n.probation_evicted;
	c->takeovers = n.takeovers;
	c->superseded = n.superseded;
	c->last_rx_ns = (int64_t)receiver_last_rx_ns(&r->p.rx);
}

RTB_API void rtb_receiver_stop(struct rtb_receiver *r, unsigned drain_ms)
{
	if (!r->p.stopped)
		cmd_recv_close_net(&r->p);
	cmd_recv_drain(&r->p, drain_ms);
}

/* Whether the mixer still holds one of the streams. */
static bool rtb_receiver__in_mixer(const struct rtb_receiver *r)
{
	for (const struct recv_stream *s = r->p.streams; s; s = s->next)
		if (s->in_mixer)
			return true;
	return false;
}

RTB_API int rtb_receiver_finish(struct rtb_receiver *r)
{
	const struct timespec tick = {0, 5000000L};
	struct rtb_engine *e = r->eng;

	if (r->finished)
		return r->p.record_failed ? -EIO : 0;
	r->finished = true;
	/* The net thread lets go of every stream; each plays out what it
	   holds, the mixer hands it back (the audio side runs meanwhile, or
	   the engine stopped and handed everything back already). */
	cmd_recv_close_net(&r->p);
	uint64_t end = netloop_now_ns() + r->p.drain_ns +
	               RTB_RECEIVER_DRAIN_MS * 1000000ull;
	while (r->p.streams && netloop_now_ns() < end) {
		(void)engine_poll(&e->e);
		cmd_recv_streams_tick(&r->p);
		if (r->p.streams)
			nanosleep(&tick, NULL);
	}
	/* Recordings finalized (waited for); what is left is said. */
	cmd_recv_streams_finish(&r->p);
	return r->p.record_failed ? -EIO : 0;
}

struct netloop *rtb__receiver_netloop(struct rtb_receiver *r)
{
	return r->p.nl_running ? &r->p.nl : NULL;
}

RTB_API void rtb_receiver_destroy(struct rtb_receiver *r)
{
	if (!r)
		return;
	struct rtb_engine *e = r->eng;
	(void)rtb_receiver_finish(r);
	for (struct rtb_receiver **q = &e->receivers; *q; q = &(*q)->next)
		if (*q == r) {
			*q = r->next;
			break;
		}
	if (rtb_receiver__in_mixer(r)) {
		/* Against the contract (the audio side stopped with streams
		   linked): never free what the mixer may still touch. */
		fprintf(stderr, "rtbridge: a receiver's streams are still in "
		                "the mix; its memory is left allocated\n");
		return;
	}
	receiver_clear(&r->p.rx);
	srtpctx_clear(&r->p.srtp);
	cmd_recv_streams_free(&r->p);
	free(r);
}
