/*
 * rtb_sender: the public sender (include/rtbridge/sender.h) over the
 * runtime's sender (bridge/net/sender.h); `rtbridge send` drives its
 * streams through it
 *
 * Each handle has its own net thread, where the sender encodes and paces
 * and where its SAP announcement runs. A file's sender has its own disk
 * thread too, which reads the file ahead (readahead.h); a pushing sender
 * has a capture FIFO, filled by the application's rtb_sender_push (its
 * audio thread). The configuration becomes the command's options
 * (struct app_sendopts: the codec rules of app_sendopts_codec, the SDP
 * and SAP of app_sap; rtb_sender_opts.c), then the sender's (struct
 * sender_opts).
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bridge/app/app_sap.h"
#include "bridge/app/app_sendopts.h"
#include "bridge/disk/diskserver.h"
#include "bridge/disk/readahead.h"
#include "bridge/net/addr.h"
#include "bridge/net/netloop.h"
#include "bridge/net/sap.h"
#include "bridge/net/sender.h"
#include "bridge/net/srtpkey.h"
#include "lib/rtb_lib.h"

#define RTB_SENDER_OPEN_MS      10000 /* the file opened, then buffered */
#define RTB_SENDER_BLOCKS       64    /* capture FIFO: blocks of */
#define RTB_SENDER_BLOCK_FRAMES 1024  /* ... frames (1.3 s at 48 kHz) */
/* With announce, the first packet follows the first announcement by this
   long (a receiver sets up in well under it). */
#define RTB_SENDER_ANNOUNCE_LEAD_NS 500000000ull

struct rtb_sender {
	struct sender s;
	bool s_ready;
	bool stopped; /* rtb_sender_stop ran */
	struct netloop nl;
	bool nl_running;
	struct diskserver srv;
	bool srv_running;
	struct readahead *ra; /* a file's, or NULL */
	struct sender_capture cap;
	bool pushing; /* made by rtb_sender_create_push */
	int wake_fd;  /* eventfd the net thread writes at the end, or -1 */
	struct srtpctx srtp; /* zeroed: plain RTP */
	struct sapannounce ann;
	bool announcing;
	struct rtb__sendconf cf; /* the configuration (the SDP, SAP) */
};

/* An address a socket can be bound to: a link-local IPv6 one needs its
   interface (known only with multicast_if). */
static bool rtb_sender__bindable(const struct sockaddr_storage *a)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;

	return a->ss_family != AF_INET6 ||
	       !IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr) || a6->sin6_scope_id != 0;
}

/* The SRTP context of the sender's SSRC, from the caller's key; every
   copy of the key made here is zeroed. */
static int rtb_sender__srtp(struct rtb_sender *t,
                            const struct rtb_sender_config *c,
                            struct sender_opts *so, char *why, size_t len)
{
	struct srtpkey k;
	char err[256];

	int rc = rtb__sender_key(c, &k, why, len);
	if (rc < 0)
		return rc;
	rc = srtpctx_init_tx(&t->srtp, &k, so->ssrc, err, sizeof(err));
	srtpkey_clear(&k);
	if (rc < 0) {
		rtb__why(why, len, "%s", err);
		return rc;
	}
	so->srtp = &t->srtp;
	return 0;
}

/* The end of the stream, on the net thread: wake rtb_sender_fd's poller. */
static void rtb_sender__finished(void *arg)
{
	const struct rtb_sender *t = arg;
	uint64_t one = 1;

	/* Nonblocking; a full counter is still readable, which is all the
	   poller needs. */
	ssize_t n = write(t->wake_fd, &one, sizeof(one));
	(void)n;
}

/* The configuration checked and made the sender's (codec set up). */
static int rtb_sender__init(struct rtb_sender *t,
                            const struct rtb_sender_config *c, char *why,
                            size_t len)
{
	const struct app_sendopts *o = &t->cf.o;
	struct sender_opts so;

	int rc = rtb__sender_settings(&t->cf, c, &so, why, len);
	if (rc < 0)
		return rc;
	rc = sender_opts_randomize(&so);
	if (rc < 0) {
		rtb__why(why, len, "random SSRC: %s", strerror(-rc));
		return rc;
	}
	if (o->ssrc >= 0)
		so.ssrc = (uint32_t)o->ssrc;
	so.red_distance = o->red_distance;
	so.red_lag = o->red_lag;
	so.red_pt = o->red_pt;
	so.fec_percent = o->fec_percent;
	so.ulpfec_pt = o->ulpfec_pt;
	so.dscp = o->dscp;
	so.mcast_ttl = o->ttl;
	so.media_clock = o->media_clock;
	/* Announced first, then streamed: a receiver listening for the
	   announcement is ready for the first packet. */
	if (o->announce)
		so.start_delay_ns = RTB_SENDER_ANNOUNCE_LEAD_NS;
	/* A multicast stream goes out from the address its SDP names as the
	   origin; no route is no error here: the send says why. */
	if (addr_is_multicast((const struct sockaddr *)&so.to) &&
	    (addr_route_source((const struct sockaddr *)&so.to,
	                       so.mcast_ifindex, &so.from) < 0 ||
	     !rtb_sender__bindable(&so.from)))
		memset(&so.from, 0, sizeof(so.from));
	if (o->duration_s > 0)
		so.max_frames = (uint64_t)llround(o->duration_s * o->rate);
	t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->wake_fd >= 0) {
		so.on_finished = rtb_sender__finished;
		so.on_finished_arg = t;
	}
	if (c->srtp_key) {
		rc = rtb_sender__srtp(t, c, &so, why, len);
		if (rc < 0)
			return rc;
	}
	rc = sender_init(&t->s, &so);
	t->s_ready = true; /* sender_clear is safe either way */
	if (rc < 0)
		rtb__why(why, len, "%s", sender_error(&t->s));
	return rc;
}

/* The net thread, the announcement on it, then the sender. */
static int rtb_sender__start(struct rtb_sender *t, char *why, size_t len)
{
	char err[256];

	int rc = netloop_start(&t->nl, 64);
	if (rc < 0) {
		rtb__why(why, len, "net thread: %s", strerror(-rc));
		return rc;
	}
	t->nl_running = true;
	if (t->cf.o.announce) {
		t->announcing = true; /* stop and clear are safe either way */
		rc = app_sap_announce_start(
		        &t->ann, &t->cf.o, &t->s.opts.codec,
		        (const struct sockaddr *)&t->s.opts.to,
		        t->s.opts.mcast_ifindex, t->s.opts.ssrc, &t->nl, err,
		        sizeof(err));
		if (rc < 0) {
			rtb__why(why, len, "%s", err);
			return rc;
		}
	}
	rc = t->ra ? sender_start_file(&t->s, &t->nl, t->ra)
	           : sender_start_capture(&t->s, &t->nl, &t->cap);
	if (rc < 0)
		rtb__why(why, len, "%s", sender_error(&t->s));
	return rc;
}

/* The file opened, moved to start_s, and read ahead. */
static int rtb_sender__open_file(struct rtb_sender *t, const char *path,
                                 char *why, size_t len)
{
	const struct app_sendopts *o = &t->cf.o;
	/* The net thread reads the file: it may wake the disk thread for
	   each block, which then sleeps until asked (no poll). */
	struct readahead_opts ro = {.channels = o->channels,
	                            .rate = o->rate,
	                            .loop = o->loop,
	                            .wake = 1};
	struct diskserver_opts so = {.woken = true};
	int rc = diskserver_start(&t->srv, &so);
	if (rc < 0) {
		rtb__why(why, len, "disk server: %s",
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
	if (st == READAHEAD_OPENING) {
		rtb__why(why, len, "%s: timed out opening the file", path);
		return -ETIMEDOUT;
	}
	if (st == READAHEAD_ERROR) {
		rtb__why(why, len, "%s", readahead_error(t->ra));
		return -EIO;
	}
	if (o->start_s > 0) {
		uint64_t at = (uint64_t)llround(o->start_s * o->rate);
		if (at >= readahead_length(t->ra) && !o->loop) {
			rtb__why(why, len,
			         "start %g s is past the end of %s (%.2f s)",
			         o->start_s, path,
			         (double)readahead_length(t->ra) / o->rate);
			return -ERANGE;
		}
		(void)readahead_seek(t->ra, at);
	}
	/* Still buffering after this long: the stream starts anyway (and
	   underruns while the disk catches up). */
	st = readahead_wait_while(t->ra, READAHEAD_BUFFERING,
	                          RTB_SENDER_OPEN_MS);
	if (st == READAHEAD_ERROR) {
		rtb__why(why, len, "%s", readahead_error(t->ra));
		return -EIO;
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
	t->wake_fd = -1;
	t->pushing = path == NULL;
	rc = rtb_sender__init(t, cfg, why, len);
	if (rc == 0 && path) {
		rc = rtb_sender__open_file(t, path, why, len);
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

RTB_API int rtb_sender_check(const struct rtb_sender_config *cfg, char *why,
                             size_t len)
{
	struct rtb_sender *t = calloc(1, sizeof(*t));

	if (!t) {
		rtb__why(why, len, "sender: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	t->wake_fd = -1;
	int rc = rtb_sender__init(t, cfg, why, len);
	rtb_sender_destroy(t);
	return rc;
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

unsigned rtb__sender_push_channels(const struct rtb_sender *t)
{
	return t->pushing ? (unsigned)t->s.opts.codec.channels : 0u;
}

unsigned rtb__sender_push_rate(const struct rtb_sender *t)
{
	return t->pushing ? (unsigned)t->s.opts.codec.rate : 0u;
}

RTB_API bool rtb_sender_finished(const struct rtb_sender *s)
{
	return sender_finished(&s->s);
}

static uint64_t rtb_sender__count(const _Atomic uint64_t *c)
{
	/* Single-writer counters, read for display. */
	return atomic_load_explicit(c, memory_order_relaxed);
}

RTB_API int rtb_sender_fd(const struct rtb_sender *s)
{
	return s->wake_fd;
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
	        .skipped = x.skipped,
	        .late_max_ns = x.late_max_ns,
	};
	if (s->pushing) {
		st->dropped_in = rtb_sender__count(&s->cap.dropped_in);
		st->overruns = rtb_sender__count(&s->cap.overruns);
		st->trimmed = rtb_sender__count(&s->cap.trimmed);
	} else if (s->ra) {
		st->position = readahead_position(s->ra);
		st->length = readahead_length(s->ra);
	}
}

RTB_API int rtb_sender_stop(struct rtb_sender *s, char *why, size_t len)
{
	if (!s->stopped) {
		sender_stop(&s->s); /* safe when never started */
		if (s->announcing) {
			sapannounce_stop(&s->ann);
			sapannounce_clear(&s->ann);
			s->announcing = false;
		}
		s->stopped = true;
	}
	/* The source is the control thread's again. */
	if (s->ra && readahead_state(s->ra) == READAHEAD_ERROR) {
		rtb__why(why, len, "%s", readahead_error(s->ra));
		return -EIO;
	}
	rtb__why(why, len, "%s", "");
	return 0;
}

RTB_API int rtb_sender_sdp(const struct rtb_sender *s, char *buf, size_t len)
{
	if (s->s.opts.srtp)
		return -ENOTSUP;
	return rtb__sender_describe(&s->cf.o, &s->s.opts, s->s.opts.ssrc, NULL,
	                            buf, len);
}

struct netloop *rtb__sender_netloop(struct rtb_sender *s)
{
	return s->nl_running ? &s->nl : NULL;
}

RTB_API void rtb_sender_destroy(struct rtb_sender *s)
{
	if (!s)
		return;
	(void)rtb_sender_stop(s, NULL, 0);
	if (s->nl_running)
		netloop_stop(&s->nl);
	if (s->ra)
		(void)readahead_close(s->ra);
	if (s->srv_running)
		(void)diskserver_stop(&s->srv);
	if (s->s_ready)
		sender_clear(&s->s);
	srtpctx_clear(&s->srtp); /* nothing for plain RTP */
	if (s->wake_fd >= 0)
		close(s->wake_fd);     /* the net thread has let go of it */
	sender_capture_clear(&s->cap); /* nothing when never set up */
	free(s);
}
