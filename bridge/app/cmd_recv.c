/*
 * cmd_recv: `rtbridge recv`, receive RTP streams, play, record and mix them
 *
 * The command is an application of the public library (cmd_recv.h): its
 * options become a struct rtb_engine_config (device or virtual clock,
 * which sleeps while nothing plays; archives mixed in, --mix; the mix
 * recording, --record) and a struct rtb_receiver_config (address, codec,
 * SRTP key, multicast, allowed senders, FEC, the delay's settings, the
 * per-stream recordings), checked before anything starts
 * (rtb_receiver_check). With --sap the stream is the one an announcement
 * describes (cmd_recv_sap.c), and the receiver is made again for each
 * session followed. The library says what goes wrong as the command
 * always has ("rtbridge recv: ..."), through on_log, which ends the
 * status line first.
 *
 * The control loop sleeps on the engine's descriptor until something
 * happens: the net thread reports a new stream, the disk thread has
 * created a stream's recording, the engine or a stream wants a turn
 * (rtb_engine_timeout_ms), the JSON lines, the status line or the
 * metrics page are due, a deadline (--duration, --idle-exit) passes, or
 * a signal arrives. rtb_engine_poll then runs the streams' lifecycle;
 * the command writes the figures the library reports.
 *
 * Tear-down: the receiver stops (its socket closes; the engine plays out
 * what the streams hold, and records it), the engine stops (the mixer
 * hands everything back, the mix recording is finalized), the receiver
 * is destroyed (every recording finalized and waited for: on_ended gives
 * what stays of each stream), the summary names the files that exist.
 * Exit status: 0, 1 on a runtime error (a recording that stopped early
 * included), 2 on bad usage.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "bridge/app/app_record.h"
#include "bridge/app/app_rtb.h"
#include "bridge/app/app_signal.h"
#include "bridge/app/cmd_recv.h"
#include "bridge/app/cmds.h"
#include "bridge/net/addr.h"
#include "bridge/rtcheck/rthook.h"

#define RECV_DRAIN_MAX_MS 2500 /* longest play-out of the buffers at exit */
#define RECV_WHY_MAX      512

static int64_t recv__min(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

double cmd_recv_secs(const struct recv_cmd *p, int64_t ns)
{
	return (double)(ns - (int64_t)p->t0) / 1e9;
}

/* A stream's large buffers (its packet pool, its recording's block
   pool, 0.5 to 2 MB each) come and go with it. Left to itself glibc
   raises its mmap threshold past them at the first free and keeps the
   freed memory in its heap, where streams of different lifetimes
   fragment it: the resident size creeps up for minutes and stays at its
   high-water mark. A fixed threshold maps each such buffer on its own
   and gives it back when the stream closes (the library trims the heap
   as each stream closes). */
static void recv__memory(void)
{
#ifdef M_MMAP_THRESHOLD
	(void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

/* The library's lines, after the status line. */
unsigned cmd_recv_receivers(const struct recv_cmd *p, struct rtb_receiver **rs)
{
	unsigned n = 0;

	if (p->r)
		rs[n++] = p->r;
	for (unsigned i = 0; i < RECV_SAP_OLD; i++)
		if (p->old[i])
			rs[n++] = p->old[i];
	return n;
}

static void recv__log(void *arg, const char *line)
{
	struct recv_cmd *p = arg;

	app_status_end(&p->status);
	fprintf(stderr, "rtbridge recv: %s\n", line);
}

void cmd_recv_config(struct recv_cmd *p, struct rtb_receiver_config *c)
{
	const struct cmd_recv_opts *o = &p->o;

	addr_format((const struct sockaddr *)&o->listen, p->listen,
	            sizeof(p->listen));
	*c = (struct rtb_receiver_config){
	        .listen = p->listen,
	        .codec = app_rtb_codec(o->codec.kind),
	        .rate = o->codec.rate,
	        .channels = o->codec.channels,
	        .frame_ms = codec_config_ptime_ms(&o->codec),
	        .pt = app_rtb_pt_field(o->pt),
	        .latency_ms = o->latency_auto ? 0 : o->latency_ms,
	        .latency =
	                o->latency_low ? RTB_LATENCY_LOW : RTB_LATENCY_DEFAULT,
	        .min_latency_ms = o->min_latency_ms,
	        .max_latency_ms = o->max_latency_ms,
	        .sync_ms = o->sync_ms,
	        .max_streams = o->max_streams,
	        .timeout_s = o->timeout_s,
	        .probation = o->probation,
	        .no_drift = o->drift == 0,
	        .record_dir = o->record_dir,
	        .record_format = o->record_format,
	        .red_pt = o->red ? app_rtb_pt_field(o->red_pt) : 0,
	        .ulpfec_pt = o->ulpfec ? app_rtb_pt_field(o->ulpfec_pt) : 0,
	        .multicast_if = o->mcast_ifindex,
	        .multicast_source = o->source_arg,
	        .allow = o->nallow ? o->allow_arg : NULL,
	        .nallow = (unsigned)o->nallow,
	        .on_ended = cmd_recv_stats_ended,
	        .on_record_stopped = cmd_recv_stats_record_stopped,
	        .on_log = recv__log,
	        .arg = p,
	};
	if (o->srtp) {
		memcpy(p->key, o->srtp_key.bytes, o->srtp_key.len);
		c->srtp_key = p->key;
		c->srtp_key_len = o->srtp_key.len;
		c->srtp_suite = o->srtp_key.suite == SRTPKEY_AEAD_AES_128_GCM
		                        ? RTB_SRTP_AEAD_AES_128_GCM
		                        : RTB_SRTP_AES_CM_128_HMAC_SHA1_80;
	}
}

/* The port the receiver bound (for port 0), into an address. */
static void recv__port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

int cmd_recv_open(struct recv_cmd *p)
{
	const struct cmd_recv_opts *o = &p->o;
	char why[RECV_WHY_MAX], a[ADDR_TEXT_MAX], red[48] = "";

	int rc = rtb_receiver_create(p->e, &p->cfg, &p->r, why, sizeof(why));
	if (rc < 0)
		return rc; /* said by the library */
	struct sockaddr_storage ss = o->listen;
	recv__port(&ss, rtb_receiver_port(p->r));
	if (o->red)
		snprintf(red, sizeof(red), ", RED pt %d", o->red_pt);
	if (o->ulpfec)
		snprintf(red + strlen(red), sizeof(red) - strlen(red),
		         ", ULPFEC pt %d", o->ulpfec_pt);
	fprintf(stderr, "rtbridge recv: listening on %s (%s, pt %d%s%s%s)\n",
	        addr_format((const struct sockaddr *)&ss, a, sizeof(a)),
	        codec_kind_name(o->codec.kind), o->pt, red,
	        o->srtp ? ", SRTP " : "",
	        o->srtp ? srtpkey_suite_name((enum srtpkey_suite)p->srtp_suite)
	                : "");
	return 0;
}

/* The mix recording stopped by itself: said once, and its JSON line. */
static void recv__check_mix(struct recv_cmd *p)
{
	struct rtb_record_status st;

	if (p->mix_reported)
		return;
	rtb_engine_record_status(p->e, &st);
	if (!st.stopped)
		return;
	p->mix_reported = true;
	struct app_stats_record r = {
	        .path = p->o.record,
	        .frames = st.frames,
	        .error = st.error,
	};
	app_status_end(&p->status);
	app_record_say_stopped("recv", st.error);
	app_stats_record_stopped(
	        &p->json, cmd_recv_secs(p, (int64_t)netloop_now_ns()), &r);
}

/* The control loop's deadlines, CLOCK_MONOTONIC ns (INT64_MAX: none). */
struct recv_due {
	int64_t json, end, idle_end;
	bool streams; /* the JSON lines have work */
};

/* One turn of the control loop: everything that has come in or is due. */
static void recv__tick(struct recv_cmd *p, struct recv_due *d, int64_t now)
{
	int64_t json_ns = (int64_t)p->o.stats_ms * 1000000;
	struct rtb_receiver_counters c;

	(void)rtb_engine_poll(p->e);
	recv__check_mix(p);
	cmd_recv_sap_poll(p);
	cmd_recv_stats_counters(p, &c);
	/* The receiver's line goes on while idle (--stats-json only). */
	d->streams = c.streams_alive > 0 || p->json.f;
	if (now >= d->json) {
		if (d->streams)
			cmd_recv_stats_json(p);
		/* On the grid, never in a burst to catch up. */
		d->json += json_ns * ((now - d->json) / json_ns + 1);
	}
	if (app_metrics_due(&p->metrics, now))
		cmd_recv_metrics_publish(p, now);
	if (app_status_due(&p->status))
		cmd_recv_stats_draw(p);
	/* Read after the clock: the net thread may have stamped a datagram
	   since `now` was taken. */
	if (p->r)
		rtb_receiver_counters(p->r, &c);
	if (p->o.idle_exit_s > 0 && p->r && c.last_rx_ns)
		d->idle_end = c.last_rx_ns + (int64_t)(p->o.idle_exit_s * 1e9);
}

/* The earliest deadline: the loop sleeps until then unless woken. */
static int64_t recv__next(const struct recv_cmd *p, const struct recv_due *d)
{
	int64_t now = (int64_t)netloop_now_ns();
	int64_t due = recv__min(d->end, d->idle_end);
	int ms = rtb_engine_timeout_ms(p->e);

	if (ms >= 0)
		due = recv__min(due, now + (int64_t)ms * 1000000);
	due = recv__min(due, app_status_next_ns(&p->status));
	due = recv__min(due, app_metrics_next(&p->metrics));
	if (d->streams)
		due = recv__min(due, d->json);
	if (p->sap)
		due = recv__min(due, now + RECV_SAP_POLL_NS);
	return due;
}

static void recv__loop(struct recv_cmd *p)
{
	const int64_t t0 = (int64_t)p->t0;
	struct recv_due d = {
	        .json = t0 + (int64_t)p->o.stats_ms * 1000000,
	        .end = p->o.duration_s > 0
	                       ? t0 + (int64_t)(p->o.duration_s * 1e9)
	                       : INT64_MAX,
	        .idle_end = INT64_MAX,
	};

	for (;;) {
		recv__tick(p, &d, (int64_t)netloop_now_ns());
		int64_t now = (int64_t)netloop_now_ns();
		if (app_signal_stop_requested() || now >= d.end ||
		    now >= d.idle_end)
			break;
		(void)app_signal_wait(rtb_engine_fd(p->e), recv__next(p, &d));
	}
	app_status_end(&p->status);
}

/* Tear down in reverse; every recording is finalized and waited for,
   then the summary (after a run) names the files that exist. */
static void recv__teardown(struct recv_cmd *p, bool ran)
{
	struct rtb_receiver *rs[RECV_SAP_OLD + 1];
	struct rtb_receiver_counters c;
	struct rtb_record_status mix;

	/* The endpoint before its host (the receiver, or the listener). */
	cmd_recv_metrics_close(p);
	cmd_recv_sap_stop(p);
	/* Every receiver stops, then the streams of each (the sessions'
	   before included) play out what they hold. */
	unsigned n = cmd_recv_receivers(p, rs);
	for (unsigned i = 0; i < n; i++)
		rtb_receiver_stop(rs[i], 0);
	for (unsigned i = 0; ran && i < n; i++)
		rtb_receiver_stop(rs[i], RECV_DRAIN_MAX_MS);
	int rc = rtb_engine_stop(p->e);
	rtb_engine_record_status(p->e, &mix);
	if (rc < 0 && ran && !(mix.finished && mix.rc == rc)) {
		fprintf(stderr, "rtbridge recv: %s\n", rtb_engine_error(p->e));
		p->rc = -EIO;
	}
	/* What stays of each stream comes as it ends (on_ended). */
	for (unsigned i = n; i-- > 0;)
		(void)rtb_receiver_finish(rs[i]);
	cmd_recv_stats_counters(p, &c);
	for (unsigned i = n; i-- > 0;)
		rtb_receiver_destroy(rs[i]);
	p->r = NULL;
	memset(p->old, 0, sizeof(p->old));
	if (c.record_failed)
		p->rc = -EIO;
	if (mix.on && mix.rc < 0) {
		if (!mix.stopped)
			app_record_say_failed("recv", p->o.record, mix.failure);
		p->rc = mix.rc;
	}
	if (ran)
		cmd_recv_stats_summary(p, &c);
}

/* What cannot work with these options, said before anything starts.
   Return: 0, -EINVAL (bad usage) or -EIO. */
static int recv__check(struct recv_cmd *p)
{
	char why[RECV_WHY_MAX];

	p->channels =
	        p->o.codec.channels > 2 ? (unsigned)p->o.codec.channels : 2u;
	if (p->channels > 2 && p->o.nmix > 0) {
		fprintf(stderr, "rtbridge recv: "
		                "--mix needs streams of 1 or 2 channels\n");
		return -EINVAL;
	}
	cmd_recv_config(p, &p->cfg);
	if (rtb_receiver_check(&p->cfg, p->channels, why, sizeof(why)) < 0) {
		fprintf(stderr, "rtbridge recv: %s\n", why);
		return -EINVAL;
	}
	if (app_stats_open(&p->json, p->o.stats_json) < 0)
		return -EIO;
	return 0;
}

static int recv__start(struct recv_cmd *p)
{
	char why[RECV_WHY_MAX];
	struct rtb_engine_config ec = {
	        .clock = p->o.play ? RTB_CLOCK_DEVICE : RTB_CLOCK_VIRTUAL,
	        .device = p->o.device,
	        .channels = p->channels,
	        .period = p->o.period,
	        .max_sources = p->o.max_streams * 2u + 4u,
	        .archives = p->o.mix,
	        .narchives = (unsigned)p->o.nmix,
	        .record = p->o.record,
	        .idle_pause = !p->o.play,
	        .wake_ms = p->o.latency_low ? 0 : CMD_RECV_VCLOCK_WAKE_MS,
	};
	int rc = rtb_engine_create(&ec, &p->e, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "rtbridge recv: %s\n", why);
		return rc;
	}
	rc = cmd_recv_open(p);
	if (rc == 0)
		rc = cmd_recv_metrics_open(p);
	if (rc == 0) {
		rc = rtb_engine_start(p->e);
		if (rc < 0)
			fprintf(stderr, "rtbridge recv: %s\n",
			        rtb_engine_error(p->e));
	}
	return rc;
}

int cmd_recv(int argc, char **argv)
{
	static struct recv_cmd p;

	app_status_init(&p.status, stderr, false);
	int rc = cmd_recv_opts_parse(&p.o, argc, argv);
	p.srtp_suite = (int)p.o.srtp_key.suite;
	if (rc != 0) {
		srtpkey_clear(&p.o.srtp_key);
		return rc == 1 ? 0 : 2; /* help printed, or bad usage said */
	}
	app_status_init(&p.status, stderr, p.o.force_status);
	/* The checker's counts, as the library's engine sees them. */
	(void)rthook_init();
	if (p.o.sap) {
		/* The stream is the one an announcement describes. */
		rc = cmd_recv_sap_wait(&p);
		if (rc != 0) {
			cmd_recv_sap_stop(&p);
			srtpkey_clear(&p.o.srtp_key);
			return rc > 0 ? 0 : 1;
		}
	}
	rc = recv__check(&p);
	if (!p.o.sap) /* the library has its copy */
		srtpkey_clear(&p.o.srtp_key);
	if (rc != 0) {
		cmd_recv_sap_stop(&p);
		srtpkey_clear(&p.o.srtp_key);
		explicit_bzero(p.key, sizeof(p.key));
		return rc == -EIO ? 1 : 2;
	}
	recv__memory();
	p.t0 = netloop_now_ns();
	rc = recv__start(&p);
	if (!p.o.sap)
		explicit_bzero(p.key, sizeof(p.key));
	bool ran = rc == 0;
	if (ran)
		recv__loop(&p);
	if (p.e)
		recv__teardown(&p, ran);
	cmd_recv_metrics_close(&p);
	rtb_engine_destroy(p.e);
	app_stats_close(&p.json);
	srtpkey_clear(&p.o.srtp_key);
	explicit_bzero(p.key, sizeof(p.key));
	return rc < 0 || p.rc < 0 ? 1 : 0;
}
