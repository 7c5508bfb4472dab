/*
 * cmd_send: `rtbridge send`, stream a sound file or live input as RTP
 *
 * The command is an application of the public library: its options become
 * a struct rtb_sender_config (include/rtbridge/sender.h), checked first
 * (rtb_sender_check), then the stream is made with
 * rtb_sender_create_file, or with rtb_sender_create_push for live input:
 * the device of a public engine (rtbridge/engine.h) opened for input,
 * which pushes it to the sender from its audio callback
 * (rtb_engine_capture). The library opens and
 * reads the file, announces the stream (--announce: SAP first, the
 * stream half a second later, its deletion when it stops) and sends it;
 * the control thread only watches: a status line on a terminal
 * (app_status), SIGINT and SIGTERM (app_signal: blocked in every thread,
 * the library's included, taken while this loop waits), the end of the
 * stream. With --metrics, the loop also writes the sender's figures
 * (rtb_sender_stats) once a second as the page the library's metrics
 * endpoint serves from the sender's own net thread (app_metrics.h). Teardown
 * runs in reverse order of set-up.
 *
 * Context: control (main) thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <rtbridge/engine.h>
#include <rtbridge/sender.h>

#include "bridge/app/app_metrics.h"
#include "bridge/app/app_sendopts.h"
#include "bridge/app/app_signal.h"
#include "bridge/app/app_srtp.h"
#include "bridge/app/app_status.h"
#include "bridge/app/cmds.h"
#include "bridge/net/addr.h"
#include "bridge/net/netloop.h"

#define SEND_WHY_MAX 512

/* --metrics: the endpoint (on the sender's net thread) and its page. */
static struct app_metrics send_metrics;
static char send_destination[ADDR_TEXT_MAX];

#define SEND_STAT(f) offsetof(struct rtb_sender_stats, f)
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

/* The sender's figures as the page (a row: its SSRC and destination). */
static void send_metrics_publish(const struct rtb_sender *s)
{
	struct rtb_sender_stats st;
	struct app_metrics_row *r = app_metrics_row(&send_metrics);
	char ssrc[16];

	if (r) {
		rtb_sender_stats(s, &st);
		snprintf(ssrc, sizeof(ssrc), "%08x", (unsigned)st.ssrc);
		app_metrics_label(r, "ssrc", ssrc);
		app_metrics_label(r, "destination", send_destination);
		r->values = &st;
	}
	(void)app_metrics_publish(&send_metrics, (int64_t)netloop_now_ns(),
	                          send_metrics_build, &send_metrics);
}

/* The metrics endpoint, when asked, on the sender's net thread (no
   thread of its own). Return: 0, or -1 (said). */
static int send_metrics_start(const struct app_sendopts *o,
                              struct rtb_sender *s)
{
	struct sockaddr_storage to;

	if (!o->metrics)
		return 0;
	if (addr_parse(&to, NULL, o->to, 0, NULL, 0) == 0)
		addr_format((const struct sockaddr *)&to, send_destination,
		            sizeof(send_destination));
	if (app_metrics_open(&send_metrics, "send",
	                     (const struct sockaddr *)&o->metrics_addr,
	                     (struct rtb_metrics_config){.sender = s}, 1) < 0)
		return -1;
	send_metrics_publish(s);
	return 0;
}

/* Before the sender is destroyed (its host). */
static void send_metrics_stop(void)
{
	app_metrics_clear(&send_metrics); /* safe when never started */
}

static double send_now_s(void)
{
	return (double)netloop_now_ns() / 1e9;
}

static void send_progress(struct app_status *line, const struct rtb_sender *s,
                          bool file, int rate, double t0)
{
	struct rtb_sender_stats st;
	char pos[32], len[32];
	double el = send_now_s() - t0;

	rtb_sender_stats(s, &st);
	if (file)
		app_status_print(line, "  %s / %s  packets %llu  %.1f kbit/s",
		                 app_status_time(pos, sizeof pos, st.position,
		                                 (unsigned)rate),
		                 app_status_time(len, sizeof len, st.length,
		                                 (unsigned)rate),
		                 (unsigned long long)st.packets,
		                 el > 0 ? (double)st.bytes * 8 / el / 1000
		                        : 0.0);
	else
		app_status_print(
		        line, "  %s  packets %llu  %.1f kbit/s  underruns %llu",
		        app_status_time(pos, sizeof pos, st.frames,
		                        (unsigned)rate),
		        (unsigned long long)st.packets,
		        el > 0 ? (double)st.bytes * 8 / el / 1000 : 0.0,
		        (unsigned long long)st.underruns);
}

static void send_summary(const struct rtb_sender *s, int rate, double t0)
{
	struct rtb_sender_stats st;

	rtb_sender_stats(s, &st);
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

/* Wait for the end of the stream or a signal, showing progress. */
static void send_watch(const struct rtb_sender *s, const struct app_sendopts *o)
{
	struct app_status line;
	double t0 = send_now_s();

	int fd = rtb_sender_fd(s);

	app_status_init(&line, stderr, false);
	while (!app_signal_stop_requested() && !rtb_sender_finished(s)) {
		/* Asleep until a redraw, a metrics update, the end (the
		   sender's fd) or a signal. */
		int64_t due = app_metrics_next(&send_metrics);
		if (!o->quiet && app_status_next_ns(&line) < due)
			due = app_status_next_ns(&line);
		if (fd < 0) {
			int64_t poll = (int64_t)netloop_now_ns() + 20000000;
			due = poll < due ? poll : due;
		}
		(void)app_signal_wait(fd, due);
		if (!o->quiet && app_status_due(&line))
			send_progress(&line, s, !o->capture, o->rate, t0);
		if (app_metrics_due(&send_metrics, (int64_t)netloop_now_ns()))
			send_metrics_publish(s);
	}
	app_status_end(&line);
}

/* Make the stream (a file's, or pushed when path is NULL), then forget
   the key. Return: the sender, or NULL (said). */
static struct rtb_sender *send_create(const struct rtb_sender_config *c,
                                      const char *path, struct srtpkey *key)
{
	struct rtb_sender *s;
	char why[SEND_WHY_MAX];

	int rc = path ? rtb_sender_create_file(c, path, &s, why, sizeof why)
	              : rtb_sender_create_push(c, &s, why, sizeof why);
	srtpkey_clear(key);
	if (rc < 0) {
		/* The library names the field (start_s); the user gave
		   --start. */
		fprintf(stderr, "rtbridge send: %s%s\n",
		        rc == -ERANGE ? "--" : "", why);
		return NULL;
	}
	return s;
}

static int send_file(const struct app_sendopts *o,
                     const struct rtb_sender_config *c, struct srtpkey *key)
{
	char why[SEND_WHY_MAX];
	int status = 1;

	struct rtb_sender *s = send_create(c, o->file, key);
	if (!s)
		return 1;
	double t0 = send_now_s();
	if (send_metrics_start(o, s) == 0) {
		send_watch(s, o);
		if (rtb_sender_stop(s, why, sizeof why) < 0)
			fprintf(stderr, "rtbridge send: %s\n", why);
		else
			status = 0;
		send_summary(s, o->rate, t0);
	}
	send_metrics_stop();
	rtb_sender_destroy(s);
	return status;
}

static int send_capture(const struct app_sendopts *o,
                        const struct rtb_sender_config *c, struct srtpkey *key)
{
	struct rtb_engine *e = NULL;
	struct rtb_sender_stats st;
	struct rtb_sender *s = NULL;
	char why[SEND_WHY_MAX];
	int status = 1;

	/* The device's input, pushed to the sender from its callback. */
	struct rtb_engine_config ec = {
	        .clock = RTB_CLOCK_DEVICE,
	        .device = o->device,
	        .rate = (unsigned)o->rate,
	        .channels = (unsigned)o->channels,
	        .in_channels = (unsigned)o->channels,
	        .no_output = true,
	};
	int rc = rtb_engine_create(&ec, &e, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: %s\n", why);
		srtpkey_clear(key);
		return 1;
	}
	s = send_create(c, NULL, key);
	if (!s)
		goto out_engine;
	/* A pushing sender of the device's channels and rate. */
	rc = rtb_engine_capture(e, s);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: the capture: %s\n",
		        strerror(-rc));
		goto out_sender;
	}
	double t0 = send_now_s();
	if (send_metrics_start(o, s) < 0)
		goto out_sender;
	rc = rtb_engine_start(e);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: %s\n", rtb_engine_error(e));
		goto out_sender;
	}
	send_watch(s, o);
	(void)rtb_engine_stop(e);
	(void)rtb_sender_stop(s, NULL, 0);
	send_summary(s, o->rate, t0);
	rtb_sender_stats(s, &st);
	fprintf(stderr,
	        "rtbridge send: input overruns %llu (%llu frames), "
	        "trimmed %llu frames\n",
	        (unsigned long long)st.overruns,
	        (unsigned long long)st.dropped_in,
	        (unsigned long long)st.trimmed);
	status = 0;
out_sender:
	send_metrics_stop();
	(void)rtb_engine_stop(e); /* nothing is pushed after this */
	(void)rtb_engine_capture(e, NULL);
	rtb_sender_destroy(s);
out_engine:
	rtb_engine_destroy(e);
	return status;
}

int cmd_send(int argc, char **argv)
{
	struct app_sendopts o;
	struct rtb_sender_config c;
	struct srtpkey key;
	char why[SEND_WHY_MAX];

	int rc = app_sendopts_parse(&o, "send", argc, argv);
	if (rc != 0)
		return rc == 1 ? 0 : 2; /* help printed, or bad usage said */
	app_sendopts_rtb(&o, &c);
	/* Everything but the key and the source first, as bad usage. */
	rc = rtb_sender_check(&c, why, sizeof why);
	if (rc < 0) {
		fprintf(stderr, "rtbridge send: %s\n", why);
		return rc == -EINVAL ? 2 : 1;
	}
	srtpkey_clear(&key);
	if (o.srtp_key) {
		if (app_srtp_key("send", o.srtp_key, o.srtp_suite, &key) < 0)
			return 2;
		app_sendopts_rtb_key(&c, &key);
		if (o.ssrc >= 0)
			fprintf(stderr,
			        "rtbridge send: warning: --ssrc with "
			        "--srtp-key: "
			        "another run with this key and SSRC would "
			        "repeat SRTP's keystream; use a new key for "
			        "each run\n");
	}
	return o.capture ? send_capture(&o, &c, &key) : send_file(&o, &c, &key);
}
