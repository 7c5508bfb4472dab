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
 * figures into on_stats and snapshots. Everything here runs on the
 * control thread, inside rtb_engine_poll or the calls below.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bridge/net/addr.h"
#include "lib/rtb_lib.h"

#define RTB_RECEIVER_STATS_MS 1000u
#define RTB_RECEIVER_DRAIN_MS 2000u /* after the longest delay */

static void rtb_receiver__info(struct recv_stream *s,
                               struct rtb_stream_info *info)
{
	memset(info, 0, sizeof(*info));
	info->id = s->id;
	info->ssrc = s->ssrc;
	snprintf(info->from, sizeof(info->from), "%s", s->from);
	info->record_path = s->rec_opened && !s->no_file ? s->path : NULL;
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
	};
}

/* The audio thread publishes at every pull: a few tries find a quiet
   moment. Return: 0, or -EAGAIN. */
static int rtb_receiver__snap(struct recv_stream *s, struct netstream_stats *n)
{
	int rc = -EAGAIN;
	for (int i = 0; i < 8 && rc == -EAGAIN; i++)
		rc = netstream_stats(&s->ns, n);
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

static void rtb_receiver__report(struct rtb_receiver *r)
{
	for (struct recv_stream *s = r->p.streams; s; s = s->next) {
		struct netstream_stats n;
		struct rtb_stream_stats st;
		struct rtb_stream_info info;
		if (s->state != RECV_LINKED || rtb_receiver__snap(s, &n) < 0)
			continue;
		rtb_receiver__info(s, &info);
		rtb_receiver__stats(&n, &st);
		r->cfg.on_stats(r->cfg.arg, r, &info, &st);
	}
}

void rtb_receiver__turn(struct rtb_receiver *r, int64_t now)
{
	r->sweeping = cmd_recv_streams_step(&r->p, now, &r->sweep_ns);
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

/* The public configuration as the command's options (what `rtbridge recv
   --listen ... --codec ... --latency ...` would have parsed).
   Return: 0, or -EINVAL with why. */
static int rtb_receiver__opts(struct rtb_receiver *r, char *why, size_t len)
{
	struct cmd_recv_opts *o = &r->p.o;
	const struct rtb_receiver_config *c = &r->cfg;
	char err[200];
	int kind = rtb__codec_kind(c->codec);

	if (kind < 0) {
		rtb__why(why, len, "unknown codec %d", (int)c->codec);
		return -EINVAL;
	}
	if (!c->listen ||
	    addr_parse(&o->listen, NULL, c->listen,
	               ADDR_LISTEN | ADDR_PORT_ZERO | ADDR_NUMERIC, err,
	               sizeof(err)) < 0) {
		rtb__why(why, len, "listen: %s", c->listen ? err : "missing");
		return -EINVAL;
	}
	codec_config_default(&o->codec, (enum codec_kind)kind);
	if (c->channels > 0)
		o->codec.channels = c->channels;
	if (c->rate > 0)
		o->codec.rate = c->rate;
	/* PCM: the packet length guess in whole frames at this rate; the
	   stream's packets tell the truth (as cmd_recv_opts does). */
	if (kind != CODEC_OPUS)
		codec_config_set_frames(&o->codec,
		                        (int)((int64_t)o->codec.rate *
		                              o->codec.frame_us / 1000000));
	const char *bad = NULL;
	if (codec_config_check(&o->codec, &bad) < 0) {
		rtb__why(why, len, "%s, %d Hz, %d channels: %s",
		         codec_kind_name(o->codec.kind), o->codec.rate,
		         o->codec.channels, bad);
		return -EINVAL;
	}
	unsigned ch = r->eng->e.cfg.channels ? r->eng->e.cfg.channels : 2u;
	if (o->codec.channels != 1 && (unsigned)o->codec.channels != ch) {
		rtb__why(why, len,
		         "streams of %d channels cannot play in a mix of %u",
		         o->codec.channels, ch);
		return -EINVAL;
	}
	if (c->pt < 0 || c->pt > 127) {
		rtb__why(why, len, "payload type %d is not 0..127", c->pt);
		return -EINVAL;
	}
	o->pt = c->pt ? c->pt : 96;
	if (c->red_pt < 0 || c->red_pt > 127 ||
	    (c->red_pt && c->red_pt == o->pt)) {
		rtb__why(why, len,
		         "RED payload type %d is not 1..127 or is the stream's",
		         c->red_pt);
		return -EINVAL;
	}
	o->red = c->red_pt != 0;
	o->red_pt = c->red_pt;
	o->latency_auto = c->latency_ms == 0;
	o->latency_ms = c->latency_ms;
	o->timeout_s = c->timeout_s > 0 ? c->timeout_s : 2.0;
	o->max_streams = c->max_streams ? c->max_streams : 16u;
	if (o->max_streams > RECEIVER_MAX_STREAMS) {
		rtb__why(why, len, "max_streams %u is above %d", o->max_streams,
		         RECEIVER_MAX_STREAMS);
		return -EINVAL;
	}
	o->probation = 2;
	o->drift = -1;
	o->stats_ms = RTB_RECEIVER_STATS_MS;
	if (c->record_dir) {
		struct stat sb;
		snprintf(r->dir, sizeof(r->dir), "%s", c->record_dir);
		snprintf(r->fmt, sizeof(r->fmt), "%s",
		         c->record_format ? c->record_format : "wav");
		if (stat(r->dir, &sb) < 0 || !S_ISDIR(sb.st_mode) ||
		    access(r->dir, W_OK | X_OK) < 0) {
			rtb__why(why, len, "%s: not a writable directory",
			         r->dir);
			return -ENOTDIR;
		}
		o->record_dir = r->dir;
		o->record_format = r->fmt;
	}
	return 0;
}

RTB_API int rtb_receiver_create(struct rtb_engine *e,
                                const struct rtb_receiver_config *cfg,
                                struct rtb_receiver **out, char *why,
                                size_t len)
{
	*out = NULL;
	unsigned rate = e->e.cfg.rate ? e->e.cfg.rate : 48000u;
	if (rate != RECV_RATE) {
		rtb__why(why, len, "receivers need an engine at %u Hz, not %u",
		         RECV_RATE, rate);
		return -EINVAL;
	}
	struct rtb_receiver *r = calloc(1, sizeof(*r));
	if (!r) {
		rtb__why(why, len, "receiver: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	r->cfg = *cfg;
	if (!r->cfg.stats_ms)
		r->cfg.stats_ms = RTB_RECEIVER_STATS_MS;
	r->eng = e;
	r->p.e = &e->e;
	r->hooks = (struct recv_hooks){.linked = rtb_receiver__linked,
	                               .closed = rtb_receiver__closed,
	                               .arg = r};
	r->p.hooks = &r->hooks;
	r->p.channels = e->e.cfg.channels ? e->e.cfg.channels : 2u;
	r->p.drift = true;
	int rc = rtb_receiver__opts(r, why, len);
	r->cfg.listen = NULL; /* parsed: the caller's text is not kept */
	if (rc == 0 && cmd_recv_streams_check(&r->p) < 0) {
		rtb__why(why, len, "the stream settings are refused");
		rc = -EINVAL;
	}
	if (rc < 0) {
		free(r);
		return rc;
	}
	int64_t now = (int64_t)netloop_now_ns();
	r->p.t0 = (uint64_t)now;
	r->p.dgrams_ns = now;
	r->sweep_ns = now;
	r->stats_ns = now + (int64_t)r->cfg.stats_ms * 1000000;
	rc = netloop_start(&r->p.nl, 64);
	if (rc < 0) {
		rtb__why(why, len, "net thread: %s", strerror(-rc));
		free(r);
		return rc;
	}
	r->p.nl_running = true;
	rc = cmd_recv_open_rx(&r->p);
	if (rc < 0) {
		rtb__why(why, len, "%s",
		         r->p.rx_ready && receiver_error(&r->p.rx)[0]
		                 ? receiver_error(&r->p.rx)
		                 : strerror(-rc));
		cmd_recv_close_net(&r->p);
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
			rtb_receiver__stats(&n, st);
		return rc;
	}
	return -ENOENT;
}

/* Whether the mixer still holds one of the streams. */
static bool rtb_receiver__in_mixer(const struct rtb_receiver *r)
{
	for (const struct recv_stream *s = r->p.streams; s; s = s->next)
		if (s->in_mixer)
			return true;
	return false;
}

RTB_API void rtb_receiver_destroy(struct rtb_receiver *r)
{
	const struct timespec tick = {0, 5000000L};

	if (!r)
		return;
	struct rtb_engine *e = r->eng;
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
