/*
 * cmd_send: `rtbridge send`, stream a sound file or live input as RTP
 *
 * The control thread parses the options, opens the source (a read-ahead
 * stream on the disk server, or a PortAudio input feeding a capture
 * FIFO), starts the net thread and the sender on it, then only watches:
 * a status line on a terminal (app_status), Ctrl-C (app_signal: SIGINT
 * and SIGTERM set a flag this loop polls), the end of the stream.
 * Teardown runs in reverse order of set-up.
 *
 * Context: control (main) thread, except capture_cb (audio thread).
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/app/app_sap.h"
#include "bridge/app/app_sendopts.h"
#include "bridge/app/app_signal.h"
#include "bridge/app/app_status.h"
#include "bridge/app/cmds.h"
#include "bridge/audio/device.h"
#include "bridge/disk/diskserver.h"
#include "bridge/disk/readahead.h"
#include "bridge/net/addr.h"
#include "bridge/net/netloop.h"
#include "bridge/net/sender.h"
#include "bridge/rtcheck/rthook.h"

/* With --announce, the first packet follows the first announcement by
   this long (a receiver sets up in well under it). */
#define SEND_ANNOUNCE_LEAD_NS 500000000ull

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

static void send_sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
	                      .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static double send_now_s(void)
{
	return (double)netloop_now_ns() / 1e9;
}

/* The PortAudio input callback: queue the block, nothing else. */
static int send_capture_cb(void *user, const float *in, float *out,
                           size_t frames)
{
	(void)out;
	if (in != NULL)
		(void)sender_capture_push(user, in, frames);
	return 0;
}

/* Poll a stream not yet handed over until it leaves `from` (or 10 s). */
static int send_wait_leave(struct readahead *ra, int from)
{
	int st = readahead_poll(ra);

	for (int i = 0; i < 10000 && st == from; i++) {
		send_sleep_ms(1);
		st = readahead_poll(ra);
	}
	return st;
}

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
	        "rtbridge send: %llu packets, %llu bytes, %.2f s of audio in "
	        "%.2f s; "
	        "late %llu (worst %.2f ms), skipped slots %llu, underruns "
	        "%llu, "
	        "send errors %llu\n",
	        (unsigned long long)st.packets, (unsigned long long)st.bytes,
	        (double)st.frames / rate, send_now_s() - t0,
	        (unsigned long long)st.late, (double)st.late_max_ns / 1e6,
	        (unsigned long long)st.skipped,
	        (unsigned long long)st.underruns,
	        (unsigned long long)st.send_errors);
}

/* Wait for the end of the stream or a signal, showing progress. */
static void send_watch(struct sender *s, const struct readahead *ra, int rate,
                       bool quiet)
{
	struct app_status line;
	double t0 = send_now_s();

	app_status_init(&line, stderr, false);
	while (!app_signal_stop_requested() && !sender_finished(s)) {
		send_sleep_ms(20);
		if (!quiet && app_status_due(&line))
			send_progress(&line, s, ra, rate, t0);
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
	st = send_wait_leave(ra, READAHEAD_OPENING);
	if (st == READAHEAD_OPENING || st == READAHEAD_ERROR) {
		if (st == READAHEAD_ERROR)
			fprintf(stderr, "rtbridge send: %s\n",
			        readahead_error(ra));
		else
			fprintf(stderr,
			        "rtbridge send: %s: timed out opening the "
			        "file\n",
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
	st = send_wait_leave(ra, READAHEAD_BUFFERING);
	if (st == READAHEAD_ERROR) {
		fprintf(stderr, "rtbridge send: %s\n", readahead_error(ra));
		goto out_ra;
	}
	rc = netloop_start(&nl, 64);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: net thread: %s\n",
		        strerror(-rc));
		goto out_ra;
	}
	t0 = send_now_s();
	if (send_announce(o, s, &nl) < 0)
		goto out_nl;
	rc = sender_start_file(s, &nl, ra);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: %s\n", sender_error(s));
		send_unannounce();
		goto out_nl;
	}
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
out_nl:
	netloop_stop(&nl);
out_ra:
	(void)readahead_close(ra);
out_srv:
	(void)diskserver_stop(&srv);
	return status;
}

static int send_capture(const struct app_sendopts *o, struct sender *s)
{
	struct sender_capture cap;
	struct netloop nl;
	struct device dev;
	struct devcfg cfg;
	char dev_name[128];
	int rc, status = 1;
	double t0;

	memset(&nl, 0, sizeof nl);
	rc = sender_capture_init(&cap, 64, 1024, o->channels);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: capture buffer: %s\n",
		        strerror(-rc));
		return 1;
	}
	(void)rthook_init();
	devcfg_default(&cfg);
	cfg.rate = (unsigned)o->rate;
	cfg.in_channels = (unsigned)o->channels;
	cfg.out_channels = 0;
	if (o->device)
		devcfg_select(&cfg, o->device, dev_name, sizeof(dev_name));
	cfg.callback = send_capture_cb;
	cfg.user = &cap;
	rc = device_open(&dev, DEVICE_PORTAUDIO, &cfg);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: input device: %s\n",
		        device_error(&dev));
		goto out_cap;
	}
	rc = netloop_start(&nl, 64);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: net thread: %s\n",
		        strerror(-rc));
		goto out_dev;
	}
	t0 = send_now_s();
	if (send_announce(o, s, &nl) < 0)
		goto out_nl;
	rc = sender_start_capture(s, &nl, &cap);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: %s\n", sender_error(s));
		send_unannounce();
		goto out_nl;
	}
	rc = device_start(&dev);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: input device: %s\n",
		        device_error(&dev));
		sender_stop(s);
		send_unannounce();
		goto out_nl;
	}
	send_watch(s, NULL, o->rate, o->quiet);
	(void)device_stop(&dev);
	sender_stop(s);
	send_unannounce();
	send_summary(s, o->rate, t0);
	fprintf(stderr,
	        "rtbridge send: input overruns %llu (%llu frames), trimmed "
	        "%llu frames\n",
	        (unsigned long long)atomic_load_explicit(&cap.overruns,
	                                                 memory_order_relaxed),
	        (unsigned long long)atomic_load_explicit(&cap.dropped_in,
	                                                 memory_order_relaxed),
	        (unsigned long long)atomic_load_explicit(&cap.trimmed,
	                                                 memory_order_relaxed));
	status = 0;
out_nl:
	netloop_stop(&nl);
out_dev:
	device_close(&dev);
out_cap:
	sender_capture_clear(&cap);
	return status;
}

int cmd_send(int argc, char **argv)
{
	struct app_sendopts o;
	struct sender_opts so;
	struct sender s;
	char err[256];
	int rc, status;

	if (app_sendopts_parse(&o, "send", argc, argv, err, sizeof err) < 0) {
		fprintf(stderr, "rtbridge send: %s\n", err);
		return 2;
	}
	if (o.help) {
		app_sendopts_usage("send", stdout);
		return 0;
	}
	sender_opts_init(&so);
	if (app_sendopts_codec(&o, o.rate, &so.codec, err, sizeof err) < 0) {
		fprintf(stderr, "rtbridge send: %s\n", err);
		return 2;
	}
	rc = addr_parse(&so.to, NULL, o.to, 0, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: %s\n", err);
		return 2;
	}
	rc = sender_opts_randomize(&so);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: random SSRC: %s\n",
		        strerror(-rc));
		return 1;
	}
	if (o.has_ssrc)
		so.ssrc = o.ssrc;
	so.pt = o.pt;
	so.dscp = o.dscp;
	so.mcast_ttl = o.ttl;
	so.media_clock = o.media_clock;
	/* Announced first, then streamed: a receiver listening for the
	   announcement is ready for the first packet. */
	if (o.announce)
		so.start_delay_ns = SEND_ANNOUNCE_LEAD_NS;
	if (o.mcast_if != NULL) {
		rc = addr_iface_parse(o.mcast_if, err, sizeof err);
		if (rc < 0) {
			fprintf(stderr, "rtbridge send: --multicast-if: %s\n",
			        err);
			return 2;
		}
		so.mcast_ifindex = (unsigned)rc;
	}
	/* A multicast stream goes out from the address its SDP names as the
	   origin; no route is no error here: the send says why. */
	if (addr_is_multicast((const struct sockaddr *)&so.to) &&
	    (addr_route_source((const struct sockaddr *)&so.to,
	                       so.mcast_ifindex, &so.from) < 0 ||
	     !send_bindable(&so.from)))
		memset(&so.from, 0, sizeof so.from);
	if (o.duration_s > 0)
		so.max_frames = (uint64_t)llround(o.duration_s * o.rate);
	rc = sender_init(&s, &so);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: %s\n", sender_error(&s));
		sender_clear(&s);
		return 2;
	}
	rc = app_signal_install();
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: signal handlers: %s\n",
		        strerror(-rc));
		sender_clear(&s);
		return 1;
	}
	status = o.capture ? send_capture(&o, &s) : send_file(&o, &s);
	app_signal_restore();
	sender_clear(&s);
	return status;
}
