/*
 * cmd_recv: `rtbridge recv`, receive RTP streams, play, record and mix them
 *
 * Set-up on the control thread, in order: the engine (disk server, archive
 * sources (--mix), the mix recorder (--record), the mixer, the device:
 * PortAudio or the virtual clock, which sleeps while nothing is linked),
 * then the net thread and the receiver's socket (with --sap the net thread
 * comes first, to hear the announcement that says which stream to
 * receive: cmd_recv_sap.c). Then the control loop,
 * which sleeps until something happens: the net thread reports a new
 * stream (it pokes the engine's eventfd), the disk thread has tried to
 * create a stream's recording (it pokes it too), the engine wants its
 * mixer drained, the sweep, the JSON lines or the status line are due, a
 * stream's own step is due (cmd_recv_streams_due), a deadline
 * (--duration, --idle-exit) passes, or a signal arrives. It then takes
 * each new stream (a source that passed probation; it came with one of
 * the spare streams allocated ahead, already receiving: start its
 * recording; without a spare, set one up and receiver_install it), tops
 * the spares up again, sweeps the streams the net thread let go of
 * (silent longer than --timeout, superseded, taken over), moves every
 * stream along its lifecycle (cmd_recv_impl.h: linked once its recording
 * exists, unlinked after it played out, freed once its recording is
 * finalized), notes recordings stopped by a full disk, and writes the
 * JSON lines, the status and, with --metrics, once a second the page the
 * net thread serves (cmd_recv_metrics.c; the server itself opens after
 * the receiver's socket and closes with the net thread).
 *
 * Tear-down: the socket closes first so the net thread lets go of every
 * stream; the device runs on until what the streams had received has
 * played out (and been recorded); then the engine stops, the mixer hands
 * everything back, every recording is finalized and waited for, the
 * summary names the files that exist. Exit status: 0, 1 on a runtime
 * error (a recording that stopped early included), 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/app/app_record.h"
#include "bridge/app/app_signal.h"
#include "bridge/app/cmd_recv_impl.h"
#include "bridge/app/cmds.h"
#include "codec/red.h"
#include "codec/ulpfec.h"

#define RECV_DRAIN_MAX_MS 2500 /* longest play-out of the buffers at exit */

static int64_t recv__min(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* The net thread posted a new stream: wake the control loop. */
static void recv__notify(void *arg)
{
	engine_wake(arg);
}

/* Stream recordings that stopped by themselves: said once each. */
static void recv__check_records(struct recv *p)
{
	for (struct recv_stream *s = p->streams; s; s = s->next) {
		if (!s->rec_opened || s->state >= RECV_CLOSING ||
		    !app_record_check_stopped("recv", &s->tap,
		                              &s->rec_reported))
			continue;
		struct app_stats_record r = {
		        .path = s->path,
		        .frames = disktap_frames_written(&s->tap),
		        .error = disktap_error(&s->tap),
		};
		app_stats_record_stopped(&p->json, cmd_recv_secs(p), &r);
	}
}

/* --sync: a stream that has had packets for the sync delay + 1 s and
   decoded none has RTP times far from the media clock. */
static bool recv__sync_stuck(struct recv *p, struct recv_stream *s,
                             const struct netstream_stats *st, int64_t now)
{
	if (!p->o.sync_ms || s->sync_warned || !st->received)
		return false;
	if (!s->seen_ns)
		s->seen_ns = now;
	if (st->frames_in > st->concealed_frames)
		s->sync_warned = true; /* it plays: nothing to say */
	return !s->sync_warned &&
	       now - s->seen_ns > (int64_t)(p->o.sync_ms + 1000) * 1000000;
}

/* Streams whose timing cannot be followed as sent, said once each: a
   sender whose RTP clock disagrees with what its packets decode to (the
   stream follows the decoded durations), and under --sync one whose RTP
   times are not on the media clock. */
static void recv__check_timing(struct recv *p, struct app_status *status,
                               int64_t now)
{
	for (struct recv_stream *s = p->streams; s; s = s->next) {
		struct netstream_stats st;
		if (s->state != RECV_LINKED || netstream_stats(&s->ns, &st) < 0)
			continue;
		if (st.clock_mismatch && !s->clock_warned) {
			s->clock_warned = true;
			app_status_end(status);
			fprintf(stderr,
			        "rtbridge recv: warning: stream %08x from %s: "
			        "its RTP timestamps run at another rate than "
			        "its packets decode to; timed by the decoded "
			        "audio instead\n",
			        (unsigned)s->ssrc, s->from);
		}
		if (recv__sync_stuck(p, s, &st, now)) {
			s->sync_warned = true;
			app_status_end(status);
			fprintf(stderr,
			        "rtbridge recv: warning: stream %08x from %s: "
			        "nothing played under --sync: its RTP times "
			        "are far from the media clock (the sender must "
			        "stamp them from the system clock, RFC 7273, "
			        "and the clocks agree)\n",
			        (unsigned)s->ssrc, s->from);
		}
	}
}

static void recv__mix_stopped(struct recv *p)
{
	struct app_stats_record r = {
	        .path = p->o.record,
	        .frames = disktap_frames_written(&p->e->rec),
	        .error = disktap_error(&p->e->rec),
	};
	app_record_say_stopped("recv", &p->e->rec);
	app_stats_record_stopped(&p->json, cmd_recv_secs(p), &r);
}

/* Whether a stream lives (not a spare): in set-up, playing or closing. */
static bool recv__alive(const struct recv *p)
{
	return p->nalive > 0;
}

/* The sweep has work while a stream lives or datagrams came lately (an
   entry without a stream, refused or pending, goes after --timeout). */
static bool recv__sweep_due(struct recv *p, int64_t now)
{
	struct receiver_counters c;
	receiver_counters(&p->rx, &c);
	if (c.datagrams != p->dgrams_seen) {
		p->dgrams_seen = c.datagrams;
		p->dgrams_ns = now;
	}
	int64_t linger = (int64_t)(p->o.timeout_s * 1e9) + 2 * RECV_SWEEP_NS;
	return recv__alive(p) || now - p->dgrams_ns < linger;
}

bool cmd_recv_streams_step(struct recv *p, int64_t now, int64_t *sweep)
{
	struct receiver_new n;

	while (receiver_poll_new(&p->rx, &n))
		cmd_recv_streams_add(p, &n);
	cmd_recv_streams_spare(p);
	bool sweeping = recv__sweep_due(p, now);
	if (sweeping && now >= *sweep) {
		cmd_recv_streams_sweep(p, (uint64_t)(p->o.timeout_s * 1e9));
		*sweep = now + RECV_SWEEP_NS;
	}
	cmd_recv_streams_tick(p);
	return sweeping;
}

/* The control loop's deadlines, CLOCK_MONOTONIC ns (INT64_MAX: none). */
struct recv_due {
	int64_t sweep, json, end, idle_end;
	bool sweeping, streams; /* the sweep and the JSON lines have work */
};

/* One turn of the control loop: everything that has come in or is due. */
static void recv__tick(struct recv *p, struct recv_due *d, int64_t now,
                       struct app_status *status)
{
	int64_t json_ns = (int64_t)p->o.stats_ms * 1000000;

	engine_woken(p->e);
	if (engine_poll(p->e) & ENGINE_EV_RECORD_STOPPED) {
		app_status_end(status);
		recv__mix_stopped(p);
	}
	d->sweeping = cmd_recv_streams_step(p, now, &d->sweep);
	cmd_recv_sap_poll(p);
	recv__check_records(p);
	recv__check_timing(p, status, now);
	/* The receiver's line goes on while idle (--stats-json only). */
	d->streams = recv__alive(p) || p->json.f;
	if (now >= d->json) {
		if (d->streams)
			cmd_recv_streams_json(p);
		/* On the grid, never in a burst to catch up. */
		d->json += json_ns * ((now - d->json) / json_ns + 1);
	}
	if (app_metrics_due(&p->metrics, now))
		cmd_recv_metrics_publish(p, now);
	if (app_status_due(status))
		cmd_recv_streams_draw(p, status);
	/* Read after the clock: the net thread may have stamped a datagram
	   since `now` was taken. */
	int64_t last = (int64_t)receiver_last_rx_ns(&p->rx);
	if (p->o.idle_exit_s > 0 && last)
		d->idle_end = last + (int64_t)(p->o.idle_exit_s * 1e9);
}

/* The earliest deadline: the loop sleeps until then unless woken. */
static int64_t recv__next(const struct recv *p, const struct recv_due *d,
                          const struct app_status *status)
{
	int64_t due = recv__min(d->end, d->idle_end);
	due = recv__min(due, engine_due_ns(p->e));
	due = recv__min(due, app_status_next_ns(status));
	due = recv__min(due, app_metrics_next(&p->metrics));
	if (d->streams)
		due = recv__min(due, d->json);
	if (d->sweeping)
		due = recv__min(due, d->sweep);
	if (p->sap)
		due = recv__min(due,
		                (int64_t)netloop_now_ns() + RECV_SAP_POLL_NS);
	return recv__min(due, cmd_recv_streams_due(p));
}

static void recv__loop(struct recv *p)
{
	struct app_status status;
	const int64_t t0 = (int64_t)p->t0;
	struct recv_due d = {
	        .json = t0 + (int64_t)p->o.stats_ms * 1000000,
	        .end = p->o.duration_s > 0
	                       ? t0 + (int64_t)(p->o.duration_s * 1e9)
	                       : INT64_MAX,
	        .idle_end = INT64_MAX,
	};

	app_status_init(&status, stderr, p->o.force_status);
	for (;;) {
		recv__tick(p, &d, (int64_t)netloop_now_ns(), &status);
		int64_t now = (int64_t)netloop_now_ns();
		if (app_signal_stop_requested() || now >= d.end ||
		    now >= d.idle_end)
			break;
		(void)app_signal_wait(engine_fd(p->e),
		                      recv__next(p, &d, &status));
	}
	app_status_end(&status);
}

int cmd_recv_open_rx(struct recv *p)
{
	struct receiver_opts ro = {
	        .listen = p->o.listen,
	        .pt = p->o.pt,
	        .max_streams = p->o.max_streams,
	        .allow = p->o.allow,
	        .nallow = (size_t)p->o.nallow,
	        .rcvbuf = 1 << 20,
	        /* RED: room for copies of earlier packets (the records
	           hold one block each: no larger). */
	        .max_datagram = cmd_recv_streams_datagram_max(&p->o) +
	                        (p->o.red ? RED_MAX_OVERHEAD : 0) +
	                        (p->o.ulpfec ? ULPFEC_HEADERS_MAX : 0),
	        .min_sequential = p->o.probation,
	        .mcast_ifindex = p->o.mcast_ifindex,
	        .mcast_source = p->o.mcast_source,
	        .notify = recv__notify,
	        .notify_arg = p->e,
	        .red = p->o.red,
	        .red_pt = (uint8_t)(p->o.red ? p->o.red_pt : 0),
	        .ulpfec = p->o.ulpfec,
	        .ulpfec_pt = (uint8_t)(p->o.ulpfec ? p->o.ulpfec_pt : 0),
	        .coalesce_max_ms =
	                p->o.latency_low ? 0 : CMD_RECV_COALESCE_MAX_MS,
	};
	char err[160];
	int rc;
	/* Once: a receiver set up again for the next SAP session keeps the
	   context (and its replay windows); the key is gone by then. */
	if (p->o.srtp && p->srtp.session == NULL) {
		rc = srtpctx_init_rx(&p->srtp, &p->o.srtp_key, ro.max_datagram,
		                     2u * p->o.max_streams, err, sizeof(err));
		srtpkey_clear(&p->o.srtp_key); /* libsrtp holds it now */
		if (rc < 0) {
			fprintf(stderr, "rtbridge recv: %s\n", err);
			return rc;
		}
	}
	if (p->o.srtp)
		ro.srtp = &p->srtp;
	rc = receiver_init(&p->rx, &ro);
	if (rc < 0) {
		fprintf(stderr, "rtbridge recv: receiver: %s\n", strerror(-rc));
		return rc;
	}
	p->rx_ready = true;
	cmd_recv_streams_spare(p);
	rc = receiver_open(&p->rx, &p->nl);
	if (rc < 0) {
		fprintf(stderr, "rtbridge recv: %s\n", receiver_error(&p->rx));
		return rc;
	}
	char a[ADDR_TEXT_MAX];
	struct sockaddr_storage ss = p->o.listen;
	unsigned port = receiver_port(&p->rx);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	if (p->hooks) /* the library says nothing when all is well */
		return 0;
	char red[48] = "";
	if (p->o.red)
		snprintf(red, sizeof(red), ", RED pt %d", p->o.red_pt);
	if (p->o.ulpfec)
		snprintf(red + strlen(red), sizeof(red) - strlen(red),
		         ", ULPFEC pt %d", p->o.ulpfec_pt);
	fprintf(stderr, "rtbridge recv: listening on %s (%s, pt %d%s%s%s)\n",
	        addr_format((const struct sockaddr *)&ss, a, sizeof(a)),
	        codec_kind_name(p->o.codec.kind), p->o.pt, red,
	        p->o.srtp ? ", SRTP " : "",
	        p->o.srtp ? srtpkey_suite_name(p->srtp_suite) : "");
	return 0;
}

/* --metrics: the server on the net thread, once (a receiver set up again
   for the next SAP session keeps it). */
static int recv__open_metrics(struct recv *p)
{
	if (!p->o.metrics)
		return 0;
	/* Rows for every stream the table holds, and the ones leaving. */
	int rc = app_metrics_open(&p->metrics, "recv",
	                          (const struct sockaddr *)&p->o.metrics_addr,
	                          &p->nl, p->o.max_streams + RECV_SPARES);
	if (rc == 0)
		cmd_recv_metrics_publish(p, (int64_t)netloop_now_ns());
	return rc;
}

static int recv__open_net(struct recv *p)
{
	/* --sap started the net thread to hear the announcement. */
	if (!p->nl_running) {
		int rc = netloop_start(&p->nl, 64);
		if (rc < 0) {
			fprintf(stderr, "rtbridge recv: net thread: %s\n",
			        strerror(-rc));
			return rc;
		}
		p->nl_running = true;
	}
	int rc = cmd_recv_open_rx(p);
	return rc < 0 ? rc : recv__open_metrics(p);
}

void cmd_recv_close_net(struct recv *p)
{
	cmd_recv_sap_stop(p);
	if (p->rx_ready)
		receiver_close(&p->rx);
	if (p->nl_running)
		netloop_stop(&p->nl);
	p->nl_running = false;
	if (p->rx_ready)
		cmd_recv_streams_net_closed(p);
}

/* How long a stream may still hold packets, ms: its playout delay now,
   or the one it starts with when it has not published one yet. */
static double recv__held_ms(struct recv_stream *s)
{
	const struct jitter_config *j = &s->ns.cfg.jitter;
	struct netstream_stats st;
	double ms = j->adaptive ? j->initial_ms : j->fixed_ms;

	if (netstream_stats(&s->ns, &st) == 0) {
		ms = st.buffer_ms > ms ? st.buffer_ms : ms;
		ms = st.target_ms > ms ? st.target_ms : ms;
	}
	return ms;
}

/* Frames the linked streams have recorded, all together. */
static uint64_t recv__recorded(struct recv *p)
{
	uint64_t n = 0;
	for (struct recv_stream *s = p->streams; s; s = s->next) {
		struct netstream_stats st;
		if (s->in_mixer && netstream_stats(&s->ns, &st) == 0)
			n += st.recorded;
	}
	return n;
}

/* No more packets come: let the device play out (and the taps record)
   what the streams still buffer: about their playout delay, and on while
   the recordings still grow (dry concealment is not recorded). */
static void recv__drain(struct recv *p)
{
	const struct timespec tick = {0, 5000000L};
	double ms = 0;

	for (struct recv_stream *s = p->streams; s; s = s->next)
		if (s->in_mixer && recv__held_ms(s) > ms)
			ms = recv__held_ms(s);
	if (ms <= 0)
		return;
	uint64_t now = netloop_now_ns(), step = 30000000u;
	uint64_t last = now + RECV_DRAIN_MAX_MS * 1000000ull;
	uint64_t until = now + (uint64_t)(ms * 1e6) + step;
	uint64_t recorded = recv__recorded(p);
	for (; now < until && now < last; now = netloop_now_ns()) {
		(void)engine_poll(p->e);
		nanosleep(&tick, NULL);
		if (netloop_now_ns() >= until &&
		    recv__recorded(p) != recorded) {
			recorded = recv__recorded(p);
			until = netloop_now_ns() + step;
		}
	}
}

/* Close every stream and wait for its recording, then the mix's. */
static void recv__finish_records(struct recv *p)
{
	cmd_recv_streams_finish(p);
	if (p->e->rec_open &&
	    app_record_failed("recv", p->o.record, &p->e->rec, p->e->rec_rc,
	                      p->e->rec_reported))
		p->rc = p->e->rec_rc;
}

/* Tear down in reverse; every recording is finalized and waited for. */
static void recv__teardown(struct recv *p, bool ran)
{
	cmd_recv_close_net(p);
	if (ran)
		recv__drain(p);
	if (engine_stop(p->e) < 0 && ran) {
		fprintf(stderr, "rtbridge recv: %s\n", engine_error(p->e));
		p->rc = -EIO;
	}
	recv__finish_records(p);
}

static void recv__free(struct recv *p)
{
	engine_clear(p->e);
	if (p->rx_ready)
		receiver_clear(&p->rx);
	srtpctx_clear(&p->srtp);  /* the net thread is gone */
	cmd_recv_streams_free(p); /* after the disk server stopped */
	app_stats_close(&p->json);
	app_metrics_clear(&p->metrics);
}

/* What cannot work with these options, said before anything starts.
   Return: 0, -EINVAL (bad usage) or -EIO. */
static int recv__check(struct recv *p)
{
	p->channels =
	        p->o.codec.channels > 2 ? (unsigned)p->o.codec.channels : 2u;
	if (p->channels > 2 && p->o.nmix > 0) {
		fprintf(stderr, "rtbridge recv: "
		                "--mix needs streams of 1 or 2 channels\n");
		return -EINVAL;
	}
	p->drift = p->o.drift != 0;
	if (cmd_recv_streams_check(p) < 0)
		return -EINVAL;
	if (app_stats_open(&p->json, p->o.stats_json) < 0)
		return -EIO;
	return 0;
}

static int recv__start(struct recv *p)
{
	struct engine_config ec = {
	        .clock = p->o.play ? ENGINE_DEVICE : ENGINE_VCLOCK,
	        .device = p->o.device,
	        .channels = p->channels,
	        .period = p->o.period,
	        .max_sources = p->o.max_streams * 2u + 4u,
	        .archives = p->o.mix,
	        .narchives = (unsigned)p->o.nmix,
	        .record = p->o.record,
	        .idle_pause = !p->o.play,
	        .vclock_wake_ms =
	                p->o.latency_low ? 0 : CMD_RECV_VCLOCK_WAKE_MS,
	        .disk = p->o.record_dir != NULL,
	};
	int rc = engine_open(p->e, &ec);
	if (rc < 0) {
		fprintf(stderr, "rtbridge recv: %s\n", engine_error(p->e));
		return rc;
	}
	rc = recv__open_net(p);
	if (rc == 0) {
		rc = engine_start(p->e);
		if (rc < 0)
			fprintf(stderr, "rtbridge recv: %s\n",
			        engine_error(p->e));
	}
	return rc;
}

int cmd_recv(int argc, char **argv)
{
	static struct recv p;
	p.e = &p.eng;
	int rc = cmd_recv_opts_parse(&p.o, argc, argv);
	p.srtp_suite = p.o.srtp_key.suite;
	if (rc != 0) {
		srtpkey_clear(&p.o.srtp_key);
		return rc == 1 ? 0 : 2; /* help printed, or bad usage said */
	}
	if (p.o.sap) {
		/* The stream is the one an announcement describes. */
		rc = cmd_recv_sap_wait(&p);
		if (rc != 0) {
			/* Nothing but the net thread and the listener ran. */
			cmd_recv_close_net(&p);
			srtpkey_clear(&p.o.srtp_key);
			return rc > 0 ? 0 : 1;
		}
	}
	rc = recv__check(&p);
	if (rc != 0) {
		if (p.o.sap)
			cmd_recv_close_net(&p);
		srtpkey_clear(&p.o.srtp_key);
		return rc == -EIO ? 1 : 2;
	}
	cmd_recv_streams_memory();
	p.t0 = netloop_now_ns();
	p.dgrams_ns = (int64_t)p.t0;
	rc = recv__start(&p);
	bool ran = rc == 0;
	if (ran)
		recv__loop(&p);
	recv__teardown(&p, ran);
	if (ran)
		cmd_recv_streams_summary(&p);
	recv__free(&p);
	srtpkey_clear(&p.o.srtp_key); /* when the net never started */
	return rc < 0 || p.rc < 0 ? 1 : 0;
}
