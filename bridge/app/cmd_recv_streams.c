/*
 * cmd_recv_streams: the lifecycle of the incoming streams of `rtbridge
 * recv` (see cmd_recv_impl.h for the states)
 *
 * Each stream is allocated here, on the control thread (netstream,
 * recording tap: "allocate in source"), ahead of time as a spare the net
 * thread gives to the next valid source, or for a source that found no
 * spare; then it is linked into the mixer ("link in target") and, in the
 * second case, installed in the net thread's table. When the net thread
 * lets go of it (receiver_sweep) it is unlinked and destroyed once the
 * mixer hands it back ("unlink and return to source for destruction");
 * its recording is then closed, and the stream freed when the disk
 * thread has finalized the file, saying how it ended (recv_hooks.ended).
 *
 * Context: control (main) thread.
 */
#include "bridge/app/cmd_recv_impl.h"

#include "bridge/app/app_record.h"

#include <assert.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Give the pages of freed memory back (a stream closed): the smaller
   buffers of streams with different lifetimes fragment the heap, and
   without this its resident size would stay at its high-water mark. A
   walk of the allocator's free lists, on the control thread, once per
   stream. */
static void recv__trim(void)
{
#ifdef M_MMAP_THRESHOLD
	(void)malloc_trim(0);
#endif
}

/* Largest datagram accepted: an MTU, or PCM packets of up to 20 ms
   (senders pick their own packet time). */
size_t cmd_recv_streams_datagram_max(const struct cmd_recv_opts *o)
{
	size_t bytes = PACKET_DEFAULT_BYTES;

	if (o->codec.kind != CODEC_OPUS) {
		size_t bps = o->codec.kind == CODEC_L16 ? 2 : 3;
		size_t pcm = (size_t)o->codec.rate / 50 * bps *
		                     (size_t)o->codec.channels +
		             RTP_HEADER_MIN + 64;
		if (pcm > bytes)
			bytes = pcm;
	}
	return bytes;
}

static void recv__netcfg(const struct recv *p, struct netstream_config *c)
{
	const struct cmd_recv_opts *o = &p->o;

	netstream_config_default(c, o->codec.kind);
	c->codec = o->codec;
	/* A virtual clock's periods run in groups, late: each stream
	   plays at its period's deadline from the first pull on. */
	c->due = engine_period_due_ns;
	c->due_arg = p->e;
	jitter_config_default(
	        &c->jitter, codec_rtp_rate(&o->codec),
	        codec_rtp_ticks(&o->codec,
	                        (size_t)codec_config_frames(&o->codec)));
	if (!o->latency_auto) {
		c->jitter.adaptive = false;
		c->jitter.fixed_ms = o->latency_ms;
	}
	if (o->latency_low)
		netstream_config_low_latency(c);
	if (o->sync_ms) {
		/* Media-clock sync: the delay is sync_ms, fixed (the buffer
		   is sized for it). */
		c->jitter.sync_ms = o->sync_ms;
		c->jitter.adaptive = false;
		c->jitter.fixed_ms = o->sync_ms;
	}
	if (o->min_latency_ms)
		c->jitter.min_ms = o->min_latency_ms;
	if (o->max_latency_ms)
		c->jitter.max_ms = o->max_latency_ms;
	if (c->jitter.initial_ms < c->jitter.min_ms)
		c->jitter.initial_ms = c->jitter.min_ms;
	if (c->jitter.initial_ms > c->jitter.max_ms)
		c->jitter.initial_ms = c->jitter.max_ms;
	c->out_rate = (int)RECV_RATE;
	c->drift = p->drift;
	c->packet_bytes = cmd_recv_streams_datagram_max(o);
	c->red = o->red;
	c->red_pt = (uint8_t)(o->red ? o->red_pt : 0);
	c->ulpfec = o->ulpfec;
	c->ulpfec_pt = (uint8_t)(o->ulpfec ? o->ulpfec_pt : 0);
	c->pt = (uint8_t)o->pt;
}

int cmd_recv_streams_check(const struct recv *p, char *why, size_t len)
{
	struct netstream_config cfg;

	recv__netcfg(p, &cfg);
	return netstream_config_check(&cfg, why, len);
}

/* DIR/<ssrc>.<fmt>, or DIR/<ssrc>-N.<fmt> when a file is there already. */
static void recv__path(const struct recv *p, struct recv_stream *s)
{
	const char *dir = p->o.record_dir, *ext = p->o.record_format;

	snprintf(s->path, sizeof(s->path), "%s/%08x.%s", dir, (unsigned)s->ssrc,
	         ext);
	for (int n = 2; n < 1000 && access(s->path, F_OK) == 0; n++)
		snprintf(s->path, sizeof(s->path), "%s/%08x-%d.%s", dir,
		         (unsigned)s->ssrc, n, ext);
}

/* The disk thread tried to create a recording: wake the control loop,
   which links the stream at once. Context: disk thread. */
static void recv__tap_opened(void *arg)
{
	engine_wake(arg);
}

/* Start creating the stream's recording (the disk thread does it; see
   recv__tap_ready). Return: 0, or -errno with one line printed. */
static int recv__open_tap(struct recv *p, struct recv_stream *s)
{
	/* The stream's own timeline, at the codec's rate (netstream.h). */
	struct disktap_opts to = {
	        .channels = (unsigned)p->o.codec.channels,
	        .rate = (unsigned)p->o.codec.rate,
	        .encoding = p->o.codec.kind == CODEC_L16 ? DISKFILE_ENC_PCM16
	                                                 : DISKFILE_ENC_PCM24,
	        .opened = recv__tap_opened,
	        .opened_arg = p->e,
	};
	recv__path(p, s);
	int rc = disktap_open(&s->tap, engine_disk(p->e), s->path, &to);
	if (rc < 0) {
		cmd_recv_say(p, "%s: %s", s->path, strerror(-rc));
		return rc;
	}
	s->tap_open = true;
	return 0;
}

/* Whether the stream can be linked: 1 when its recording exists, when
   it has none, or when it could not be created (one line says so, the
   stream plays on unrecorded and the exit status will be 1: the tap is
   closed, and waited for at CLOSING); 0 while the disk thread has not
   answered (within RECV_OPEN_MS). */
static int recv__tap_ready(struct recv *p, struct recv_stream *s)
{
	if (!s->tap_open || s->rec_opened || s->no_file)
		return 1;
	int rc = disktap_wait_open(&s->tap, 0);
	if (rc == -ETIMEDOUT && netloop_now_ns() < s->setup_ns)
		return 0;
	if (rc < 0) {
		cmd_recv_say(p, "%s (the stream plays on, not recorded)",
		             disktap_error(&s->tap)[0] ? disktap_error(&s->tap)
		                                       : strerror(-rc));
		disktap_close(&s->tap);
		s->no_file = true;
		p->record_failed++;
		return 1;
	}
	s->rec_opened = true;
	return 1;
}

/* A set-up failure, reported once per kind of error rather than per
   stream or per datagram (the streams refused are counted). */
static void recv__setup_failed(struct recv *p, const char *what, int rc)
{
	if (rc == p->setup_err)
		return;
	p->setup_err = rc;
	cmd_recv_say(p,
	             "cannot set up a stream (%s): %s; new streams are "
	             "refused while this lasts (counted as setup_failed)",
	             what, strerror(-rc));
}

/* Take a stream out of the list of streams alive. */
static void recv__unlist(struct recv *p, struct recv_stream *s)
{
	for (struct recv_stream **q = &p->streams; *q; q = &(*q)->next)
		if (*q == s) {
			*q = s->next;
			return;
		}
}

/*
 * The one place a stream's state changes (cmd_recv_impl.h), and what
 * entering each state does. Pre: the move is in the table.
 */
static void recv__set(struct recv *p, struct recv_stream *s,
                      enum recv_stream_state to)
{
	static const unsigned allowed[] = {
	        [RECV_SPARE] = 1u << RECV_SETUP | 1u << RECV_CLOSED,
	        [RECV_SETUP] = 1u << RECV_LINKED | 1u << RECV_DRAINING,
	        [RECV_LINKED] = 1u << RECV_DRAINING,
	        [RECV_DRAINING] = 1u << RECV_CLOSING,
	        [RECV_CLOSING] = 1u << RECV_CLOSED,
	};
	enum recv_stream_state from = s->state;

	assert(allowed[from] & (1u << to));
	(void)allowed; /* release builds: the table documents the moves */
	s->state = to;
	if (from == RECV_SPARE)
		p->nspares--;
	switch (to) {
	case RECV_SETUP:
		p->nalive++;
		s->start_ns = (int64_t)netloop_now_ns();
		break;
	case RECV_DRAINING:
		s->end_ns = (int64_t)netloop_now_ns();
		break;
	case RECV_LINKED:
		s->was_linked = true;
		if (p->hooks && p->hooks->linked)
			p->hooks->linked(p->hooks->arg, s);
		break;
	case RECV_CLOSING:
		/* Neither thread holds it: its counters are final (dry
		   concealment after the last packet is not in them). */
		if (s->was_linked && p->hooks && p->hooks->closed)
			p->hooks->closed(p->hooks->arg, s);
		netstream_clear(&s->ns);
		if (s->tap_open && !s->no_file)
			disktap_close(&s->tap);
		break;
	case RECV_CLOSED:
		if (from == RECV_CLOSING)
			p->nalive--;
		recv__unlist(p, s);
		netstream_clear(&s->ns);
		free(s);
		recv__trim();
		break;
	default:
		break;
	}
}

/* A stream ready to receive, not yet named, linked or installed, in the
   list of streams alive (as a spare, or in set-up). */
static struct recv_stream *recv__new(struct recv *p,
                                     enum recv_stream_state state)
{
	struct netstream_config cfg;
	struct recv_stream *s = calloc(1, sizeof(*s));

	if (!s) {
		recv__setup_failed(p, "memory", -ENOMEM);
		return NULL;
	}
	recv__netcfg(p, &cfg);
	/* An ended stream's last packet plays within the largest delay. */
	p->drain_ns = (uint64_t)(cfg.jitter.adaptive ? cfg.jitter.max_ms
	                                             : cfg.jitter.fixed_ms) *
	                      1000000u +
	              RECV_DRAIN_MARGIN_NS;
	int rc = netstream_init(&s->ns, &cfg);
	if (rc < 0) {
		recv__setup_failed(p, "network source", rc);
		free(s);
		return NULL;
	}
	s->next = p->streams;
	p->streams = s;
	s->state = RECV_SPARE;
	p->nspares++;
	if (state == RECV_SETUP)
		recv__set(p, s, RECV_SETUP);
	return s;
}

void cmd_recv_streams_spare(struct recv *p)
{
	uint64_t now = netloop_now_ns();

	if (now < p->spare_retry_ns)
		return;
	while (p->nspares < RECV_SPARES) {
		struct recv_stream *s = recv__new(p, RECV_SPARE);
		if (!s) {
			p->spare_retry_ns = now + RECV_RETRY_NS;
			return;
		}
		if (receiver_give_spare(&p->rx, &s->ns) < 0) {
			recv__set(p, s, RECV_CLOSED);
			return;
		}
		s->on_net = true;
	}
	p->setup_err = 0; /* a new failure is worth a line again */
}

/* The recording's outcome, once the disk thread has finalized it.
   Return: false while it has not. */
static bool recv__recorded(struct recv *p, struct recv_stream *s, int *rc,
                           uint64_t *frames)
{
	*rc = 0;
	*frames = 0;
	if (!s->tap_open)
		return true;
	*rc = disktap_wait_closed(&s->tap, 0);
	if (*rc == -ETIMEDOUT && !s->tap.close_rc)
		return false;
	*frames = s->tap.result.frames;
	if (s->no_file) {
		/* It could not be created (said then): nothing is left. */
		(void)unlink(s->path);
		*frames = 0;
	} else if (*rc < 0) {
		char why[DISKFILE_ERRMSG_MAX];
		if (!s->rec_reported)
			cmd_recv_say(p, "%s: recording failed: %s", s->path,
			             app_record_failure(why, sizeof(why),
			                                s->path, &s->tap, *rc));
		p->record_failed++;
	} else if (*frames == 0) {
		/* A stream that never played a packet: no file. */
		(void)unlink(s->path);
		s->no_file = true;
	}
	return true;
}

/* Set-up failed: the net thread lets go of the stream (it drops the
   source's datagrams until the source is silent). */
static void recv__refuse(struct recv *p, struct recv_stream *s)
{
	struct receiver_new n = {.ssrc = s->ssrc, .id = s->id};

	p->setup_failed++;
	/* -ENOENT: the net thread ended it already (taken over); a sweep
	   hands it back. */
	if (s->on_net && receiver_refuse(&p->rx, &n) == 0)
		s->on_net = false;
	recv__set(p, s, RECV_DRAINING);
}

/* SETUP: once its recording exists, record and link it. Return: -errno
   when the set-up failed (refuse it), else 0 (linked or not yet). */
static int recv__finish_setup(struct recv *p, struct recv_stream *s)
{
	int rc = recv__tap_ready(p, s);

	if (rc <= 0 || netloop_now_ns() < s->retry_ns)
		return rc;
	if (s->rec_opened && !s->ns.rec) {
		rc = netstream_set_record(&s->ns, &s->tap.tap);
		if (rc < 0) {
			cmd_recv_say(p, "%s: %s", s->path, strerror(-rc));
			return rc;
		}
	}
	rc = engine_link(p->e, &s->ns.src, 1.0f);
	if (rc == -EAGAIN) {
		/* The mixer is busy: again a little later. */
		s->retry_ns = netloop_now_ns() + RECV_POLL_NS;
		return 0;
	}
	if (rc < 0) {
		recv__setup_failed(p, "mixer", rc);
		return rc;
	}
	s->in_mixer = true;
	recv__set(p, s, RECV_LINKED);
	return 0;
}

/*
 * Take a stream as far along its life as it can go now, from what the
 * flags say (who still holds it).
 */
static void recv__advance(struct recv *p, struct recv_stream *s)
{
	if (s->in_mixer && s->ns.released)
		s->in_mixer = false; /* handed back */
	if (s->state == RECV_SETUP) {
		if (!s->on_net) /* gone before it played: nothing to link */
			recv__set(p, s, RECV_DRAINING);
		else if (recv__finish_setup(p, s) < 0)
			recv__refuse(p, s);
	}
	if (s->state == RECV_LINKED && !s->in_mixer && s->on_net) {
		/* The mixer refused it (graph full): the net thread lets go
		   too. Until it has (or a sweep hands it back), it stays. */
		struct receiver_new n = {.ssrc = s->ssrc, .id = s->id};
		if (receiver_refuse(&p->rx, &n) == 0)
			s->on_net = false;
	}
	if (s->state == RECV_LINKED && (!s->on_net || !s->in_mixer))
		recv__set(p, s, RECV_DRAINING);
	if (s->state == RECV_DRAINING && s->in_mixer && !s->unlink_sent &&
	    !s->on_net && netloop_now_ns() >= s->unlink_ns)
		/* -EAGAIN (command ring full): again a little later. */
		s->unlink_sent = engine_unlink(p->e, &s->ns.src) == 0;
	if (s->state == RECV_DRAINING && !s->on_net && !s->in_mixer)
		recv__set(p, s, RECV_CLOSING);
	int rc;
	uint64_t frames;
	if (s->state == RECV_CLOSING && recv__recorded(p, s, &rc, &frames)) {
		if (p->hooks && p->hooks->ended)
			p->hooks->ended(p->hooks->arg, s, rc, frames);
		recv__set(p, s, RECV_CLOSED);
	}
}

void cmd_recv_streams_add(struct recv *p, const struct receiver_new *n)
{
	struct recv_stream *s;

	if (n->ns) { /* the spare it took: control's again to name */
		s = (struct recv_stream *)(void *)n->ns;
		recv__set(p, s, RECV_SETUP);
	} else {
		s = recv__new(p, RECV_SETUP);
		if (!s) {
			p->setup_failed++;
			(void)receiver_refuse(&p->rx, n);
			return;
		}
		/* Its datagrams go to the stream's queue from now on, the
		   held ones first; -ENOENT: the source went silent or was
		   taken over meanwhile, and the stream drains unused. */
		s->on_net = receiver_install(&p->rx, n, &s->ns) == 0;
	}
	s->ssrc = n->ssrc;
	s->id = n->id;
	s->setup_ns = netloop_now_ns() + (uint64_t)RECV_OPEN_MS * 1000000u;
	addr_format((const struct sockaddr *)&n->from, s->from,
	            sizeof(s->from));
	/* The stream queues what it receives until it is linked: the
	   control thread does not wait here for the disk thread to create
	   the file, it links the stream at a later tick once it exists. */
	if (p->o.record_dir && s->on_net && recv__open_tap(p, s) < 0)
		recv__refuse(p, s);
	recv__advance(p, s);
}

void cmd_recv_streams_sweep(struct recv *p, uint64_t idle_ns)
{
	struct receiver_gone gone[16];
	int n;

	do {
		n = receiver_sweep(&p->rx, idle_ns, gone, 16);
		for (int i = 0; i < n; i++) {
			struct recv_stream *s =
			        (struct recv_stream *)(void *)gone[i].ns;
			s->on_net = false;
			s->why = gone[i].why;
			/* The last packet plays within the largest delay. */
			s->unlink_ns = gone[i].last_ns + p->drain_ns;
			recv__advance(p, s);
		}
	} while (n == 16);
}

void cmd_recv_streams_tick(struct recv *p)
{
	struct recv_stream *s = p->streams;

	while (s) {
		struct recv_stream *next = s->next; /* advance may free s */
		if (s->state != RECV_SPARE)
			recv__advance(p, s);
		s = next;
	}
}

int64_t cmd_recv_streams_due(const struct recv *p)
{
	int64_t due = INT64_MAX, now = (int64_t)netloop_now_ns();

	for (const struct recv_stream *s = p->streams; s; s = s->next) {
		int64_t t = INT64_MAX;
		if (s->state == RECV_SETUP)
			/* The disk thread's answer wakes the loop; this is
			   the deadline for it, or a busy mixer's retry. */
			t = (int64_t)s->retry_ns > now ? (int64_t)s->retry_ns
			                               : (int64_t)s->setup_ns;
		else if (s->state == RECV_DRAINING && s->in_mixer &&
		         !s->unlink_sent && !s->on_net)
			t = (int64_t)s->unlink_ns > now ? (int64_t)s->unlink_ns
			                                : now + RECV_POLL_NS;
		else if (s->state == RECV_CLOSING)
			t = now + RECV_POLL_NS; /* the disk finalizes it */
		due = t < due ? t : due;
	}
	return due;
}

void cmd_recv_streams_net_closed(struct recv *p)
{
	/* Spares the net thread never used come back through the ring;
	   claimed ones whose record was never read were never linked:
	   neither has a name, a recording or a place in the mixer. */
	while (receiver_reclaim_spare(&p->rx))
		;
	uint64_t now = netloop_now_ns();
	struct recv_stream *s = p->streams;
	while (s) {
		struct recv_stream *next = s->next;
		/* What it holds plays out first (rtb_receiver_stop's drain,
		   or the engine's turns that follow). */
		if (s->on_net)
			s->unlink_ns = now + p->drain_ns;
		s->on_net = false;
		if (s->state == RECV_SPARE)
			recv__set(p, s, RECV_CLOSED);
		else if (!s->why)
			s->why = RECEIVER_END_CLOSED;
		s = next;
	}
}

void cmd_recv_streams_finish(struct recv *p)
{
	/* The mixer handed everything back: each stream closes, and its
	   recording is waited for (bounded per file). */
	cmd_recv_streams_tick(p);
	for (struct recv_stream *s = p->streams; s; s = s->next)
		if (s->state == RECV_CLOSING && s->tap_open)
			(void)disktap_wait_closed(&s->tap, RECV_CLOSE_MS);
	cmd_recv_streams_tick(p);
	/* A recording the disk thread never finished: say so; the stream
	   is freed once the disk server has stopped. */
	for (struct recv_stream *s = p->streams; s; s = s->next) {
		cmd_recv_say(p, "%s: not finalized",
		             s->tap_open ? s->path : s->from);
		p->record_failed++;
	}
}

void cmd_recv_streams_free(struct recv *p)
{
	while (p->streams) {
		struct recv_stream *s = p->streams;
		p->streams = s->next;
		netstream_clear(&s->ns); /* a no-op once cleared */
		free(s);
	}
	p->nspares = 0;
	p->nalive = 0;
}
