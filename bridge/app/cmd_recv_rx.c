/*
 * cmd_recv_rx: the receive side's net thread, receiver and control turn
 * (see cmd_recv_impl.h), as the public receiver (lib/rtb_receiver.c)
 * drives them
 *
 * Set-up: the net thread, the SRTP context (once: libsrtp keeps the key,
 * every copy is zeroed), the receiver's socket with its spare streams.
 * Each turn of the control loop takes the new streams (a source that
 * passed probation came with one of the spares, already receiving), tops
 * the spares up, sweeps the streams the net thread let go of (silent
 * longer than the time-out, superseded, taken over: when the net thread
 * says a sweep can find something, receiver_sweep_at, and pokes the
 * engine's descriptor if that is now; no sweep on a period), moves every
 * stream along its lifecycle (cmd_recv_streams.c), and says once what goes
 * wrong with a stream: its recording stopped by itself, its timing cannot be
 * followed. Tear-down: the socket closes first so the net thread lets go
 * of every stream; the engine plays out what the streams hold
 * (cmd_recv_drain).
 *
 * Context: control thread (recv__notify: net thread).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bridge/app/app_record.h"
#include "bridge/app/cmd_recv_impl.h"
#include "codec/red.h"
#include "codec/ulpfec.h"

void cmd_recv_say(const struct recv *p, const char *fmt, ...)
{
	char line[RECV_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (p->hooks && p->hooks->say)
		p->hooks->say(p->hooks->arg, line);
	else
		fprintf(stderr, "rtbridge recv: %s\n", line);
}

/* The net thread posted a new stream: wake the control loop. */
static void recv__notify(void *arg)
{
	engine_wake(arg);
}

void cmd_recv_check_records(struct recv *p)
{
	for (struct recv_stream *s = p->streams; s; s = s->next) {
		if (!s->rec_opened || s->state >= RECV_CLOSING ||
		    !app_record_stopped_now(&s->tap, &s->rec_reported))
			continue;
		/* The disk's message says how many frames the file keeps. */
		cmd_recv_say(p, "%s; the recording stopped there",
		             disktap_error(&s->tap));
		if (p->hooks && p->hooks->record_stopped)
			p->hooks->record_stopped(p->hooks->arg, s);
	}
}

/* Whether a stream under sync has had packets for a while and played
   none of them (its RTP times are far from the media clock): said once. */
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

/* A sender whose RTP clock disagrees with what its packets decode to
   (the stream follows the decoded durations), and under sync one whose
   RTP times are not on the media clock. */
void cmd_recv_check_timing(struct recv *p, int64_t now)
{
	for (struct recv_stream *s = p->streams; s; s = s->next) {
		struct netstream_stats st;
		if (s->state != RECV_LINKED || netstream_stats(&s->ns, &st) < 0)
			continue;
		if (st.clock_mismatch && !s->clock_warned) {
			s->clock_warned = true;
			cmd_recv_say(p,
			             "warning: stream %08x from %s: its RTP "
			             "timestamps run at another rate than its "
			             "packets decode to; timed by the decoded "
			             "audio instead",
			             (unsigned)s->ssrc, s->from);
		}
		if (recv__sync_stuck(p, s, &st, now)) {
			s->sync_warned = true;
			cmd_recv_say(
			        p,
			        "warning: stream %08x from %s: nothing "
			        "played under --sync: its RTP times are far "
			        "from the media clock (the sender must stamp "
			        "them from the system clock, RFC 7273, and "
			        "the clocks agree)",
			        (unsigned)s->ssrc, s->from);
		}
	}
}

bool cmd_recv_streams_step(struct recv *p, int64_t now, int64_t *sweep)
{
	struct receiver_new n;

	if (p->stopped) { /* the net thread let go of everything */
		cmd_recv_streams_tick(p);
		return false;
	}
	while (receiver_poll_new(&p->rx, &n))
		cmd_recv_streams_add(p, &n);
	cmd_recv_streams_spare(p);
	/* The net thread says when a sweep can find something (and wakes
	   this loop when that is now): no sweep on a period. */
	uint64_t at = receiver_sweep_at(&p->rx);
	if ((uint64_t)now >= at) {
		cmd_recv_streams_sweep(p, (uint64_t)(p->o.timeout_s * 1e9));
		at = receiver_sweep_at(&p->rx);
		if (at <= (uint64_t)now) /* never a busy loop */
			at = (uint64_t)now + RECV_POLL_NS;
	}
	cmd_recv_streams_tick(p);
	*sweep = at > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)at;
	return at != UINT64_MAX;
}

/* A set-up failure: said, and into why. Return: rc. */
static int recv__failed(struct recv *p, int rc, char *why, size_t len,
                        const char *what)
{
	cmd_recv_say(p, "%s", what);
	snprintf(why, len, "%s", what);
	return rc;
}

int cmd_recv_open_rx(struct recv *p, char *why, size_t len)
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
	        .idle_ns = (uint64_t)(p->o.timeout_s * 1e9),
	        /* A virtual clock's batched callbacks look at the streams
	           only when it wakes: read just before (the engine says -1
	           for a sound card or an external clock). */
	        .consumer_next = p->o.latency_low ? NULL : engine_next_look_ns,
	        .consumer_plan = p->o.latency_low ? NULL : engine_look_planned,
	        .consumer_arg = p->e,
	};
	char err[RECV_LINE_MAX];
	int rc;

	if (p->o.srtp && p->srtp.session == NULL) {
		rc = srtpctx_init_rx(&p->srtp, &p->o.srtp_key, ro.max_datagram,
		                     2u * p->o.max_streams, err, sizeof(err));
		srtpkey_clear(&p->o.srtp_key); /* libsrtp holds it now */
		if (rc < 0)
			return recv__failed(p, rc, why, len, err);
	}
	if (p->o.srtp)
		ro.srtp = &p->srtp;
	rc = receiver_init(&p->rx, &ro);
	if (rc < 0) {
		snprintf(err, sizeof(err), "receiver: %s", strerror(-rc));
		return recv__failed(p, rc, why, len, err);
	}
	p->rx_ready = true;
	cmd_recv_streams_spare(p);
	rc = receiver_open(&p->rx, &p->nl);
	if (rc < 0)
		return recv__failed(p, rc, why, len, receiver_error(&p->rx));
	return 0;
}

void cmd_recv_close_net(struct recv *p)
{
	if (p->stopped)
		return;
	p->stopped = true;
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

/* No more packets come: the engine plays out (and the taps record) what
   the streams still buffer: about their playout delay, and on while the
   recordings still grow (dry concealment is not recorded). */
void cmd_recv_drain(struct recv *p, unsigned max_ms)
{
	const struct timespec tick = {0, 5000000L};
	double ms = 0;

	for (struct recv_stream *s = p->streams; s; s = s->next)
		if (s->in_mixer && recv__held_ms(s) > ms)
			ms = recv__held_ms(s);
	if (ms <= 0 || max_ms == 0)
		return;
	uint64_t now = netloop_now_ns(), step = 30000000u;
	uint64_t last = now + max_ms * 1000000ull;
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
