/*
 * rtb_sender: the public sender (include/rtbridge/sender.h) over the
 * sender of `rtbridge send` (bridge/net/sender.h)
 *
 * Each handle has its own net thread, where the sender encodes and paces.
 * A file's sender has its own disk thread too, which reads the file ahead
 * (readahead.h) exactly as `rtbridge send FILE` does; a pushing sender
 * has the capture FIFO that `send --capture` fills from its device
 * callback, filled here by the application's rtb_sender_push (its audio
 * thread). The codec is set up from the configuration by the command's
 * own rules (app_sendopts_codec).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/app/app_sendopts.h"
#include "bridge/disk/diskserver.h"
#include "bridge/disk/readahead.h"
#include "bridge/net/addr.h"
#include "bridge/net/netloop.h"
#include "bridge/net/sender.h"
#include "lib/rtb_lib.h"

#define RTB_SENDER_OPEN_MS      10000 /* the file opened, then buffered */
#define RTB_SENDER_BLOCKS       64    /* capture FIFO: blocks of */
#define RTB_SENDER_BLOCK_FRAMES 1024  /* ... frames (1.3 s at 48 kHz) */

struct rtb_sender {
	struct sender s;
	bool s_ready;
	struct netloop nl;
	bool nl_running;
	struct diskserver srv;
	bool srv_running;
	struct readahead *ra; /* a file's, or NULL */
	struct sender_capture cap;
	bool pushing; /* made by rtb_sender_create_push */
};

/* The configuration as the command's options, then the sender's. */
static int rtb_sender__init(struct rtb_sender *t,
                            const struct rtb_sender_config *c, char *why,
                            size_t len)
{
	struct app_sendopts o = {
	        .kind = rtb__codec_kind(c->codec),
	        .frame_us = c->frame_us ? (int)c->frame_us : 10000,
	        .bitrate = c->bitrate ? c->bitrate : 128000,
	        .channels = c->channels ? c->channels : 2,
	        .rate = c->rate ? c->rate : 48000,
	        .red_distance = c->red_distance,
	};
	struct sender_opts so;
	char err[256];

	if (o.kind < 0) {
		rtb__why(why, len, "unknown codec %d", (int)c->codec);
		return -EINVAL;
	}
	if (c->pt < 0 || c->pt > 127 || c->ssrc > (int64_t)UINT32_MAX) {
		rtb__why(why, len, "payload type %d or SSRC %lld out of range",
		         c->pt, (long long)c->ssrc);
		return -EINVAL;
	}
	o.frame_ms = o.frame_us / 1000.0;
	sender_opts_init(&so);
	if (app_sendopts_codec(&o, o.rate, &so.codec, err, sizeof(err)) < 0 ||
	    addr_parse(&so.to, NULL, c->to ? c->to : "", 0, err, sizeof(err)) <
	            0) {
		rtb__why(why, len, "%s", err);
		return -EINVAL;
	}
	int rc = sender_opts_randomize(&so);
	if (rc < 0) {
		rtb__why(why, len, "random SSRC: %s", strerror(-rc));
		return rc;
	}
	if (c->ssrc >= 0)
		so.ssrc = (uint32_t)c->ssrc;
	so.pt = c->pt ? c->pt : 96;
	so.red_distance = c->red_distance;
	so.red_pt = c->red_pt ? c->red_pt : SENDER_RED_PT;
	if (c->duration_s > 0)
		so.max_frames = (uint64_t)(c->duration_s * o.rate + 0.5);
	rc = sender_init(&t->s, &so);
	t->s_ready = true; /* sender_clear is safe either way */
	if (rc < 0)
		rtb__why(why, len, "%s", sender_error(&t->s));
	return rc;
}

/* The net thread, then the sender on it. */
static int rtb_sender__start(struct rtb_sender *t, char *why, size_t len)
{
	int rc = netloop_start(&t->nl, 64);
	if (rc < 0) {
		rtb__why(why, len, "net thread: %s", strerror(-rc));
		return rc;
	}
	t->nl_running = true;
	rc = t->ra ? sender_start_file(&t->s, &t->nl, t->ra)
	           : sender_start_capture(&t->s, &t->nl, &t->cap);
	if (rc < 0)
		rtb__why(why, len, "%s", sender_error(&t->s));
	return rc;
}

/* The file opened and read ahead, as `rtbridge send FILE` does it. */
static int rtb_sender__open_file(struct rtb_sender *t, const char *path,
                                 bool loop, char *why, size_t len)
{
	struct readahead_opts ro = {.channels = t->s.opts.codec.channels,
	                            .rate = t->s.opts.codec.rate,
	                            .loop = loop};
	int rc = diskserver_start(&t->srv, NULL);
	if (rc < 0) {
		rtb__why(why, len, "disk thread: %s",
		         diskserver_error(&t->srv));
		return rc;
	}
	t->srv_running = true;
	rc = readahead_open(&t->srv, path, &ro, &t->ra);
	if (rc < 0) {
		t->ra = NULL;
		rtb__why(why, len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	int st = readahead_wait_while(t->ra, READAHEAD_OPENING,
	                              RTB_SENDER_OPEN_MS);
	if (st != READAHEAD_OPENING && st != READAHEAD_ERROR)
		st = readahead_wait_while(t->ra, READAHEAD_BUFFERING,
		                          RTB_SENDER_OPEN_MS);
	if (st == READAHEAD_ERROR) {
		rtb__why(why, len, "%s", readahead_error(t->ra));
		return -EIO;
	}
	if (st == READAHEAD_OPENING || st == READAHEAD_BUFFERING) {
		rtb__why(why, len, "%s: timed out reading the file", path);
		return -ETIMEDOUT;
	}
	return 0;
}

/* A sender of a file (path), or of pushed frames (path NULL). */
static int rtb_sender__create(const struct rtb_sender_config *cfg,
                              const char *path, struct rtb_sender **out,
                              char *why, size_t len)
{
	struct rtb_sender *t = calloc(1, sizeof(*t));
	int rc = -ENOMEM;

	*out = NULL;
	if (!t) {
		rtb__why(why, len, "sender: %s", strerror(ENOMEM));
		return rc;
	}
	t->pushing = path == NULL;
	rc = rtb_sender__init(t, cfg, why, len);
	if (rc == 0 && path) {
		rc = rtb_sender__open_file(t, path, cfg->loop, why, len);
	} else if (rc == 0) {
		rc = sender_capture_init(&t->cap, RTB_SENDER_BLOCKS,
		                         RTB_SENDER_BLOCK_FRAMES,
		                         t->s.opts.codec.channels);
		if (rc < 0)
			rtb__why(why, len, "capture buffer: %s", strerror(-rc));
	}
	if (rc == 0)
		rc = rtb_sender__start(t, why, len);
	if (rc < 0) {
		rtb_sender_destroy(t);
		return rc;
	}
	*out = t;
	return 0;
}

RTB_API int rtb_sender_create_file(const struct rtb_sender_config *cfg,
                                   const char *path, struct rtb_sender **out,
                                   char *why, size_t len)
{
	if (!path) {
		*out = NULL;
		rtb__why(why, len, "no file to send");
		return -EINVAL;
	}
	return rtb_sender__create(cfg, path, out, why, len);
}

RTB_API int rtb_sender_create_push(const struct rtb_sender_config *cfg,
                                   struct rtb_sender **out, char *why,
                                   size_t len)
{
	return rtb_sender__create(cfg, NULL, out, why, len);
}

RTB_API size_t rtb_sender_push(struct rtb_sender *s, const float *frames,
                               size_t nframes)
{
	return s->pushing ? sender_capture_push(&s->cap, frames, nframes) : 0;
}

RTB_API bool rtb_sender_finished(const struct rtb_sender *s)
{
	return sender_finished(&s->s);
}

RTB_API void rtb_sender_stats(const struct rtb_sender *s,
                              struct rtb_sender_stats *st)
{
	struct sender_stats x;

	sender_stats(&s->s, &x);
	*st = (struct rtb_sender_stats){
	        .packets = x.packets,
	        .bytes = x.bytes,
	        .frames = x.frames,
	        .underruns = x.underruns,
	        .late = x.late,
	        .send_errors = x.send_errors,
	        .ssrc = s->s.opts.ssrc,
	};
	/* Written by the pushing thread only; a count for display. */
	if (s->pushing)
		st->dropped_in = atomic_load_explicit(&s->cap.dropped_in,
		                                      memory_order_relaxed);
}

RTB_API void rtb_sender_destroy(struct rtb_sender *s)
{
	if (!s)
		return;
	sender_stop(&s->s); /* safe when never started */
	if (s->nl_running)
		netloop_stop(&s->nl);
	/* The source is the control thread's again. */
	if (s->ra)
		(void)readahead_close(s->ra);
	if (s->srv_running)
		(void)diskserver_stop(&s->srv);
	if (s->s_ready)
		sender_clear(&s->s);
	sender_capture_clear(&s->cap); /* nothing when never set up */
	free(s);
}
