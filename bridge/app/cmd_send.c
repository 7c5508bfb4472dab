/*
 * cmd_send: `rtbridge send`, stream a sound file or live input as RTP
 *
 * The control thread parses the options, opens the source (a read-ahead
 * stream on the disk server, or live input: the engine's device, whose
 * input a tap in the mixer copies into the sender's capture FIFO), starts
 * the net thread, the SAP announcement (--announce: it goes out first,
 * the stream half a second later, and its deletion at the end) and the
 * sender on it, then only watches: a status line
 * on a terminal (app_status), SIGINT and SIGTERM (app_signal: blocked in
 * every thread, taken while this loop waits), the end of the stream.
 * Teardown runs in reverse order of set-up. With --metrics, the loop also
 * writes the sender's counters once a second as the page the net thread
 * serves (app_metrics.h).
 *
 * Context: control (main) thread, except send_tap_write (audio thread).
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bridge/app/app_sap.h"
#include "bridge/app/app_metrics.h"
#include "bridge/app/app_sendopts.h"
#include "bridge/app/app_srtp.h"
#include "bridge/app/app_signal.h"
#include "bridge/app/app_status.h"
#include "bridge/app/cmds.h"
#include "bridge/app/engine.h"
#include "bridge/disk/diskserver.h"
#include "bridge/disk/readahead.h"
#include "bridge/net/addr.h"
#include "bridge/net/netloop.h"
#include "bridge/net/sender.h"
#include "bridge/rtcheck/rthook.h"

/* With --announce, the first packet follows the first announcement by
   this long (a receiver sets up in well under it). */
#define SEND_ANNOUNCE_LEAD_NS 500000000ull
/* Longest wait for the file to open, then for its read-ahead, ms. */
#define SEND_OPEN_MS 10000

/* The SAP announcement of the stream (--announce), on the net thread. */
static struct sapannounce send_ann;

/* Announce the stream once it runs. Return: 0, or -1 after one line. */
static int send_announce(const struct app_sendopts *o, const struct sender *s,
                         struct netloop *nl)
{
	char err[256];

	if (!o->announce)
		return 0;
	if (app_sap_announce_start(&send_ann, o, &s->opts.codec,
	                           (const struct sockaddr *)&s->opts.to,
	                           s->opts.mcast_ifindex, s->opts.ssrc, nl, err,
	                           sizeof err) < 0) {
		fprintf(stderr, "rtbridge send: %s\n", err);
		return -1;
	}
	return 0;
}

/* The stream has ended: its SAP deletion goes out now. */
static void send_unannounce(void)
{
	sapannounce_stop(&send_ann);
	sapannounce_clear(&send_ann);
}

/* An address a socket can be bound to: a link-local IPv6 one needs its
   interface (known only with --multicast-if). */
static bool send_bindable(const struct sockaddr_storage *a)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;

	return a->ss_family != AF_INET6 ||
	       !IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr) || a6->sin6_scope_id != 0;
}

/* --metrics: the server (on the net thread) and its page. */
static struct app_metrics send_metrics;

#define SEND_STAT(f) offsetof(struct sender_stats, f)
#define SEND_COUNT(nm, f, text)                                                \
	{                                                                      \
		.name = (nm), .counter = true, .help = (text),                 \
		.off = SEND_STAT(f), .scale = 1.0                              \
	}

static const struct app_metrics_family send_families[] = {
        SEND_COUNT("rtbridge_send_packets", packets, "datagrams sent"),
        SEND_COUNT("rtbridge_send_bytes", bytes,
                   "RTP bytes sent, headers included"),
        SEND_COUNT("rtbridge_send_frames", frames, "source frames sent"),
        SEND_COUNT("rtbridge_send_underruns", underruns,
                   "packets short of audio (silence sent)"),
        SEND_COUNT("rtbridge_send_late_packets", late,
                   "sends later than their slot by more than the limit"),
        SEND_COUNT("rtbridge_send_skipped_packets", skipped,
                   "slots skipped to catch up after a stall"),
        SEND_COUNT("rtbridge_send_errors", send_errors,
                   "datagrams the socket refused"),
        {.name = "rtbridge_send_late_max_seconds",
         .help = "worst lateness of a send",
         .off = SEND_STAT(late_max_ns),
         .scale = 1e-9},
};

static void send_metrics_build(struct app_metrics_text *w, void *arg)
{
	const struct app_metrics *m = arg;

	app_metrics_families(w, send_families,
	                     sizeof(send_families) / sizeof(send_families[0]),
	                     m->rows, m->nrows);
}

/* The sender's counters as the page (a row: its SSRC and destination). */
static void send_metrics_publish(const struct sender *s)
{
	struct sender_stats st;
	struct app_metrics_row *r = app_metrics_row(&send_metrics);
	char ssrc[16], to[ADDR_TEXT_MAX];

	if (r) {
		sender_stats(s, &st);
		snprintf(ssrc, sizeof(ssrc), "%08x", (unsigned)s->opts.ssrc);
		app_metrics_label(r, "ssrc", ssrc);
		app_metrics_label(
		        r, "destination",
		        addr_format((const struct sockaddr *)&s->opts.to, to,
		                    sizeof(to)));
		r->values = &st;
	}
	(void)app_metrics_publish(&send_metrics, (int64_t)netloop_now_ns(),
	                          send_metrics_build, &send_metrics);
}

static double send_now_s(void)
{
	return (double)netloop_now_ns() / 1e9;
}

/* The device input, as a tap in the engine's mixer: queue the frames for
   the sender, nothing else. */
struct send_tap {
	struct tap tap; /* first: a struct tap * is a struct send_tap * */
	struct sender_capture *cap;
};

static void send_tap_write(struct tap *t, const float *frames, size_t n)
{
	(void)sender_capture_push(((struct send_tap *)t)->cap, frames, n);
}

static const struct tap_ops send_tap_ops = {.write = send_tap_write};

static void send_progress(struct app_status *line, const struct sender *s,
                          const struct readahead *ra, int rate, double t0)
{
	struct sender_stats st;
	char pos[32], len[32];
	double el = send_now_s() - t0;

	sender_stats(s, &st);
	if (ra != NULL)
		app_status_print(
		        line, "  %s / %s  packets %llu  %.1f kbit/s",
		        app_status_time(pos, sizeof pos, readahead_position(ra),
		                        (unsigned)rate),
		        app_status_time(len, sizeof len, readahead_length(ra),
		                        (unsigned)rate),
		        (unsigned long long)st.packets,
		        el > 0 ? (double)st.bytes * 8 / el / 1000 : 0.0);
	else
		app_status_print(
		        line, "  %s  packets %llu  %.1f kbit/s  underruns %llu",
		        app_status_time(pos, sizeof pos, st.frames,
		                        (unsigned)rate),
		        (unsigned long long)st.packets,
		        el > 0 ? (double)st.bytes * 8 / el / 1000 : 0.0,
		        (unsigned long long)st.underruns);
}

static void send_summary(const struct sender *s, int rate, double t0)
{
	struct sender_stats st;

	sender_stats(s, &st);
	fprintf(stderr,
	        "rtbridge send: %llu packets, %llu bytes, "
	        "%.2f s of audio in %.2f s; late %llu (worst %.2f ms), "
	        "skipped slots %llu, underruns %llu, send errors %llu\n",
	        (unsigned long long)st.packets, (unsigned long long)st.bytes,
	        (double)st.frames / rate, send_now_s() - t0,
	        (unsigned long long)st.late, (double)st.late_max_ns / 1e6,
	        (unsigned long long)st.skipped,
	        (unsigned long long)st.underruns,
	        (unsigned long long)st.send_errors);
}

/* Start the net thread, the announcement (--announce) and the sender on
   it: the file's read-ahead stream when ra is given, else the capture
   FIFO; then the metrics server when asked. Return: 0 or -errno
   (said). */
static int send_start(const struct app_sendopts *o, struct netloop *nl,
                      struct sender *s, struct readahead *ra,
                      struct sender_capture *cap)
{
	int rc = netloop_start(nl, 64);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: net thread: %s\n",
		        strerror(-rc));
		return rc;
	}
	if (send_announce(o, s, nl) < 0) {
		netloop_stop(nl);
		return -EINVAL;
	}
	rc = ra ? sender_start_file(s, nl, ra)
	        : sender_start_capture(s, nl, cap);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: %s\n", sender_error(s));
		send_unannounce();
		netloop_stop(nl);
		return rc;
	}
	if (!o->metrics)
		return 0;
	rc = app_metrics_open(&send_metrics, "send",
	                      (const struct sockaddr *)&o->metrics_addr, nl, 1);
	if (rc < 0) {
		sender_stop(s);
		send_unannounce();
		netloop_stop(nl);
		return rc;
	}
	send_metrics_publish(s);
	return 0;
}

/* Written once by the net thread when the sender has finished (an
   eventfd; -1: none, then the watch looks every 20 ms). */
static int send_wake_fd = -1;

static void send_finished(void *arg)
{
	uint64_t one = 1;

	(void)arg;
	/* Nonblocking; a full counter is still readable, which is all the
	   waiter needs. */
	ssize_t n = write(send_wake_fd, &one, sizeof one);
	(void)n;
}

/* Wait for the end of the stream or a signal, showing progress. */
static void send_watch(struct sender *s, const struct readahead *ra, int rate,
                       bool quiet)
{
	struct app_status line;
	double t0 = send_now_s();

	app_status_init(&line, stderr, false);
	while (!app_signal_stop_requested() && !sender_finished(s)) {
		/* Asleep until a redraw, a metrics update, the end (the net
		   thread's wake-up) or a signal. */
		int64_t due = app_metrics_next(&send_metrics);
		if (!quiet && app_status_next_ns(&line) < due)
			due = app_status_next_ns(&line);
		if (send_wake_fd < 0) {
			int64_t poll = (int64_t)netloop_now_ns() + 20000000;
			due = poll < due ? poll : due;
		}
		(void)app_signal_wait(send_wake_fd, due);
		if (!quiet && app_status_due(&line))
			send_progress(&line, s, ra, rate, t0);
		if (app_metrics_due(&send_metrics, (int64_t)netloop_now_ns()))
			send_metrics_publish(s);
	}
	app_status_end(&line);
}

static int send_file(const struct app_sendopts *o, struct sender *s)
{
	struct diskserver srv;
	struct netloop nl;
	struct readahead *ra = NULL;
	struct readahead_opts ro = {
	        .channels = o->channels, .rate = o->rate, .loop = o->loop};
	int rc, st, status = 1;
	double t0;

	memset(&srv, 0, sizeof srv);
	memset(&nl, 0, sizeof nl);
	rc = diskserver_start(&srv, NULL);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: disk server: %s\n",
		        diskserver_error(&srv));
		return 1;
	}
	rc = readahead_open(&srv, o->file, &ro, &ra);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: %s: %s\n", o->file,
		        strerror(-rc));
		goto out_srv;
	}
	st = readahead_wait_while(ra, READAHEAD_OPENING, SEND_OPEN_MS);
	if (st == READAHEAD_OPENING || st == READAHEAD_ERROR) {
		if (st == READAHEAD_ERROR)
			fprintf(stderr, "rtbridge send: %s\n",
			        readahead_error(ra));
		else
			fprintf(stderr,
			        "rtbridge send: %s: "
			        "timed out opening the file\n",
			        o->file);
		goto out_ra;
	}
	if (o->start_s > 0) {
		uint64_t at = (uint64_t)llround(o->start_s * o->rate);
		if (at >= readahead_length(ra) && !o->loop) {
			fprintf(stderr,
			        "rtbridge send: --start %g s is past the end "
			        "of %s (%.2f s)\n",
			        o->start_s, o->file,
			        (double)readahead_length(ra) / o->rate);
			goto out_ra;
		}
		(void)readahead_seek(ra, at);
	}
	st = readahead_wait_while(ra, READAHEAD_BUFFERING, SEND_OPEN_MS);
	if (st == READAHEAD_ERROR) {
		fprintf(stderr, "rtbridge send: %s\n", readahead_error(ra));
		goto out_ra;
	}
	t0 = send_now_s();
	if (send_start(o, &nl, s, ra, NULL) < 0)
		goto out_ra;
	send_watch(s, ra, o->rate, o->quiet);
	sender_stop(s);
	send_unannounce();
	/* The stream is the control thread's again. */
	if (readahead_state(ra) == READAHEAD_ERROR) {
		fprintf(stderr, "rtbridge send: %s\n", readahead_error(ra));
	} else {
		status = 0;
	}
	send_summary(s, o->rate, t0);
	netloop_stop(&nl);
out_ra:
	(void)readahead_close(ra);
out_srv:
	(void)diskserver_stop(&srv);
	return status;
}

static int send_capture(const struct app_sendopts *o, struct sender *s)
{
	static struct engine e;
	struct sender_capture cap;
	struct send_tap tap = {.tap = {.ops = &send_tap_ops,
	                               .channels = (unsigned)o->channels},
	                       .cap = &cap};
	struct netloop nl;
	int rc, status = 1;
	double t0;

	memset(&nl, 0, sizeof nl);
	rc = sender_capture_init(&cap, 64, 1024, o->channels);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: capture buffer: %s\n",
		        strerror(-rc));
		return 1;
	}
	struct engine_config ec = {
	        .clock = ENGINE_DEVICE,
	        .device = o->device,
	        .rate = (unsigned)o->rate,
	        .channels = (unsigned)o->channels,
	        .in_channels = (unsigned)o->channels,
	        .no_output = true,
	};
	rc = engine_open(&e, &ec);
	if (rc == 0)
		rc = engine_link_tap(&e, &tap.tap, MIXER_TAP_INPUT);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: %s\n",
		        engine_error(&e)[0] ? engine_error(&e) : strerror(-rc));
		goto out_engine;
	}
	t0 = send_now_s();
	if (send_start(o, &nl, s, NULL, &cap) < 0)
		goto out_engine;
	rc = engine_start(&e);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: %s\n", engine_error(&e));
		sender_stop(s);
		send_unannounce();
		goto out_nl;
	}
	send_watch(s, NULL, o->rate, o->quiet);
	(void)engine_stop(&e);
	sender_stop(s);
	send_unannounce();
	send_summary(s, o->rate, t0);
	fprintf(stderr,
	        "rtbridge send: input overruns %llu (%llu frames), "
	        "trimmed %llu frames\n",
	        (unsigned long long)atomic_load_explicit(&cap.overruns,
	                                                 memory_order_relaxed),
	        (unsigned long long)atomic_load_explicit(&cap.dropped_in,
	                                                 memory_order_relaxed),
	        (unsigned long long)atomic_load_explicit(&cap.trimmed,
	                                                 memory_order_relaxed));
	status = 0;
out_nl:
	netloop_stop(&nl);
out_engine:
	engine_clear(&e);
	sender_capture_clear(&cap);
	return status;
}

int cmd_send(int argc, char **argv)
{
	struct app_sendopts o;
	struct sender_opts so;
	struct sender s;
	struct srtpctx srtp = {0};
	struct srtpkey key;
	char err[256];
	int rc, status = 2;

	rc = app_sendopts_parse(&o, "send", argc, argv);
	if (rc != 0)
		return rc == 1 ? 0 : 2; /* help printed, or bad usage said */
	sender_opts_init(&so);
	if (app_sendopts_codec(&o, o.rate, &so.codec, err, sizeof err) < 0 ||
	    addr_parse(&so.to, NULL, o.to, 0, err, sizeof err) < 0) {
		fprintf(stderr, "rtbridge send: %s\n", err);
		goto out;
	}
	rc = sender_opts_randomize(&so);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: random SSRC: %s\n",
		        strerror(-rc));
		status = 1;
		goto out;
	}
	if (o.ssrc >= 0)
		so.ssrc = (uint32_t)o.ssrc;
	so.pt = o.pt;
	so.red_distance = o.red_distance;
	so.red_pt = o.red_pt;
	so.fec_percent = o.fec_percent;
	so.ulpfec_pt = o.ulpfec_pt;
	so.dscp = o.dscp;
	so.mcast_ttl = o.ttl;
	so.media_clock = o.media_clock;
	send_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (send_wake_fd >= 0) {
		so.on_finished = send_finished;
		so.on_finished_arg = NULL;
	}
	/* Announced first, then streamed: a receiver listening for the
	   announcement is ready for the first packet. */
	if (o.announce)
		so.start_delay_ns = SEND_ANNOUNCE_LEAD_NS;
	so.mcast_ifindex = o.mcast_ifindex;
	/* A multicast stream goes out from the address its SDP names as the
	   origin; no route is no error here: the send says why. */
	if (addr_is_multicast((const struct sockaddr *)&so.to) &&
	    (addr_route_source((const struct sockaddr *)&so.to,
	                       so.mcast_ifindex, &so.from) < 0 ||
	     !send_bindable(&so.from)))
		memset(&so.from, 0, sizeof so.from);
	if (o.duration_s > 0)
		so.max_frames = (uint64_t)llround(o.duration_s * o.rate);
	if (o.srtp_key) {
		if (app_srtp_key("send", o.srtp_key, o.srtp_suite, &key) < 0)
			goto out;
		rc = srtpctx_init_tx(&srtp, &key, so.ssrc, err, sizeof err);
		srtpkey_clear(&key);
		if (rc < 0) {
			fprintf(stderr, "rtbridge send: %s\n", err);
			status = 1;
			goto out;
		}
		so.srtp = &srtp;
		if (o.ssrc >= 0)
			fprintf(stderr,
			        "rtbridge send: warning: --ssrc with "
			        "--srtp-key: "
			        "another run with this key and SSRC would "
			        "repeat SRTP's keystream; use a new key for "
			        "each run\n");
	}
	rc = sender_init(&s, &so);
	if (rc < 0)
		fprintf(stderr, "rtbridge send: %s\n", sender_error(&s));
	else
		status = o.capture ? send_capture(&o, &s) : send_file(&o, &s);
	sender_clear(&s);
	app_metrics_clear(&send_metrics);
out:
	if (send_wake_fd >= 0)
		close(send_wake_fd);
	send_wake_fd = -1;
	srtpctx_clear(&srtp);
	return status;
}
