/*
 * cmd_recv_streams: the incoming streams of `rtbridge recv` (see
 * cmd_recv_impl.h)
 *
 * Each new SSRC is allocated here, on the control thread (netstream,
 * recording tap: "allocate in source"), linked into the mixer ("link in
 * target") and then installed in the net thread's table. A stream silent
 * for --timeout is swept out of the table, unlinked, and destroyed once
 * the mixer hands it back ("unlink and return to source for
 * destruction"); its recording is then closed, and waited for at exit.
 *
 * Context: control (main) thread.
 */
#include "bridge/app/cmd_recv_impl.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/app/app_record.h"
#include "bridge/rtcheck/rthook.h"

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
}

int cmd_recv_streams_check(const struct recv *p)
{
	struct netstream_config cfg;
	char why[160];

	recv__netcfg(p, &cfg);
	int rc = netstream_config_check(&cfg, why, sizeof(why));
	if (rc < 0)
		fprintf(stderr, "rtbridge recv: %s\n", why);
	return rc;
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

static int recv__open_tap(struct recv *p, struct recv_stream *s)
{
	/* The stream's own timeline, at the codec's rate (netstream.h). */
	struct disktap_opts to = {
	        .channels = (unsigned)p->o.codec.channels,
	        .rate = (unsigned)p->o.codec.rate,
	        .encoding = p->o.codec.kind == CODEC_L16 ? DISKFILE_ENC_PCM16
	                                                 : DISKFILE_ENC_PCM24,
	};
	recv__path(p, s);
	int rc = disktap_open(&s->tap, engine_disk(&p->e), s->path, &to);
	if (rc < 0) {
		fprintf(stderr, "rtbridge recv: %s: %s\n", s->path,
		        strerror(-rc));
		return rc;
	}
	s->tap_open = true;
	rc = disktap_wait_open(&s->tap, RECV_OPEN_MS);
	if (rc < 0) {
		fprintf(stderr,
		        "rtbridge recv: %s "
		        "(the stream plays on, not recorded)\n",
		        disktap_error(&s->tap)[0] ? disktap_error(&s->tap)
		                                  : strerror(-rc));
		/* Said once: the stream goes on without a recording. */
		disktap_close(&s->tap);
		(void)disktap_wait_closed(&s->tap, RECV_CLOSE_MS);
		(void)unlink(s->path);
		s->tap_open = false;
	}
	return rc;
}

/* A stream ready to receive, not yet named, linked or installed. */
static struct recv_stream *recv__new(struct recv *p)
{
	struct netstream_config cfg;
	struct recv_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	recv__netcfg(p, &cfg);
	int rc = netstream_init(&s->ns, &cfg);
	if (rc < 0) {
		fprintf(stderr, "rtbridge recv: cannot set up a stream: %s\n",
		        strerror(-rc));
		free(s);
		return NULL;
	}
	return s;
}

void cmd_recv_streams_spare(struct recv *p)
{
	while (p->nspares < RECV_SPARES) {
		struct recv_stream *s = recv__new(p);
		if (!s)
			return;
		if (receiver_give_spare(&p->rx, &s->ns) < 0) {
			netstream_clear(&s->ns);
			free(s);
			return;
		}
		s->next = p->spares;
		p->spares = s;
		p->nspares++;
	}
}

/* The net thread took this spare for a new SSRC: it is control's again
   to name and link (the net thread only feeds its packet ring). */
static struct recv_stream *recv__claim(struct recv *p, struct netstream *ns)
{
	struct recv_stream *s = (struct recv_stream *)(void *)ns;

	for (struct recv_stream **q = &p->spares; *q; q = &(*q)->next)
		if (*q == s) {
			*q = s->next;
			p->nspares--;
			break;
		}
	s->installed = true;
	return s;
}

void cmd_recv_streams_add(struct recv *p, const struct receiver_new *n)
{
	struct recv_stream *s = n->ns ? recv__claim(p, n->ns) : recv__new(p);
	int rc;

	if (!s) {
		receiver_refuse(&p->rx, n->ssrc);
		return;
	}
	s->ssrc = n->ssrc;
	addr_format((const struct sockaddr *)&n->from, s->from,
	            sizeof(s->from));
	s->next = p->streams;
	p->streams = s;
	if (p->o.record_dir)
		(void)recv__open_tap(p, s);
	if (s->tap_open) {
		rc = netstream_set_record(&s->ns, &s->tap.tap);
		if (rc < 0) {
			fprintf(stderr, "rtbridge recv: %s: %s\n", s->path,
			        strerror(-rc));
			goto fail;
		}
	}
	rc = engine_link(&p->e, &s->ns.src, 1.0f);
	if (rc < 0)
		goto fail;
	s->linked = true;
	if (s->installed)
		return;
	rc = receiver_install(&p->rx, s->ssrc, &s->ns);
	if (rc == 0)
		s->installed = true;
	else
		(void)engine_unlink(&p->e, &s->ns.src);
	return;
fail:
	/* The net thread lets go of the stream (if it had it). */
	receiver_refuse(&p->rx, n->ssrc);
	s->installed = false;
	netstream_clear(&s->ns);
	s->done = true;
}

/* Take streams silent for --timeout out of the net table and the mix. */
void cmd_recv_streams_sweep(struct recv *p, uint64_t idle_ns)
{
	struct receiver_gone gone[16];
	int n;

	do {
		n = receiver_sweep(&p->rx, idle_ns, gone, 16);
		for (int i = 0; i < n; i++) {
			struct recv_stream *s =
			        (struct recv_stream *)(void *)gone[i].ns;
			s->installed = false;
			if (s->linked)
				(void)engine_unlink(&p->e, &s->ns.src);
		}
	} while (n == 16);
}

/* Destroy the streams the mixer handed back; finalize their recordings. */
void cmd_recv_streams_reap(struct recv *p)
{
	for (struct recv_stream *s = p->streams; s; s = s->next) {
		if (s->done || !s->ns.released || s->installed)
			continue;
		s->linked = false;
		/* The audio thread is done with it: its counters are final
		   (dry concealment after the last packet is not in them). */
		s->final = s->ns.st;
		netstream_clear(&s->ns);
		if (s->tap_open)
			disktap_close(&s->tap);
		s->done = true;
	}
}

static void recv__fill(const struct recv *p, struct recv_stream *s,
                       struct netstream_stats *st, struct app_stats_stream *x)
{
	if (!s->done && netstream_stats(&s->ns, st) < 0)
		*st = s->final;
	if (s->done)
		*st = s->final;
	memset(x, 0, sizeof(*x));
	x->ssrc = s->ssrc;
	x->from = s->from;
	/* Only a file that exists is named. */
	x->record = s->tap_open && !s->no_file ? s->path : NULL;
	x->record_error = s->rec_reported || s->rec_rc < 0
	                          ? disktap_error(&s->tap)
	                          : NULL;
	x->st = st;
	x->callback_max_us = p->e.st.cb_us_max;
	x->rt_violations = rthook_violations();
	x->recorded = s->tap_open ? disktap_frames_written(&s->tap) : 0;
}

void cmd_recv_streams_json(struct recv *p)
{
	struct netstream_stats st;
	struct app_stats_stream x;
	double t = cmd_recv_secs(p);

	for (struct recv_stream *s = p->streams; s; s = s->next) {
		if (s->done || !s->linked)
			continue;
		recv__fill(p, s, &st, &x);
		app_stats_stream(&p->json, t, &x);
	}
}

void cmd_recv_streams_draw(struct recv *p, struct app_status *status)
{
	char line[512], meter[64];
	size_t used = 0;
	int shown = 0;

	used += (size_t)snprintf(
	        line, sizeof(line), "out %s",
	        app_status_meter(meter, sizeof(meter), p->e.st.out_peak, 10));
	for (struct recv_stream *s = p->streams; s && shown < 4; s = s->next) {
		struct netstream_stats st;
		if (s->done || !s->linked || netstream_stats(&s->ns, &st) < 0)
			continue;
		const struct mixer_source_stats *ms =
		        mixer_stats_find(&p->e.st, &s->ns.src);
		double loss = st.received + st.lost
		                      ? 100.0 * (double)st.lost /
		                                (double)(st.received + st.lost)
		                      : 0.0;
		if (used < sizeof(line))
			used += (size_t)snprintf(
			        line + used, sizeof(line) - used,
			        " | %08x %s loss %.1f%% "
			        "jit %.1f buf %.0f/%.0f ms",
			        (unsigned)s->ssrc,
			        app_status_meter(meter, sizeof(meter),
			                         ms ? ms->peak : 0.0f, 8),
			        loss, st.jitter_ms, st.buffer_ms, st.target_ms);
		shown++;
	}
	app_status_print(status, "%s", line);
}

void cmd_recv_streams_summary(struct recv *p)
{
	FILE *f = p->json.f == stdout ? stderr : stdout;
	struct receiver_counters c;
	struct netstream_stats st;
	struct app_stats_stream x;
	unsigned long rtv = rthook_violations();
	char outcome[300];
	struct app_stats_record mix = {
	        .path = p->o.record,
	        .frames = p->e.rec.result.frames,
	        .error = p->e.rec_rc < 0 ? disktap_error(&p->e.rec) : NULL,
	};

	receiver_counters(&p->rx, &c);
	app_stats_summary_begin(&p->json, cmd_recv_secs(p));
	for (struct recv_stream *s = p->streams; s; s = s->next) {
		recv__fill(p, s, &st, &x);
		app_stats_summary_stream(&p->json, &x);
		fprintf(f,
		        "stream %08x from %s: received %llu, lost %llu, late "
		        "%llu, concealed %llu frames, underruns %llu",
		        (unsigned)s->ssrc, s->from,
		        (unsigned long long)st.received,
		        (unsigned long long)st.lost,
		        (unsigned long long)st.late,
		        (unsigned long long)st.concealed_frames,
		        (unsigned long long)st.underruns);
		if (s->tap_open && !s->no_file)
			fprintf(f, "; %s: %s", s->path,
			        app_record_outcome(outcome, sizeof(outcome),
			                           s->path, &s->tap,
			                           s->rec_rc));
		fputc('\n', f);
	}
	app_stats_summary_end(&p->json, &c, p->e.rec_open ? &mix : NULL,
	                      p->e.st.cb_us_max, rtv);
	fprintf(f,
	        "datagrams %llu: accepted %llu, malformed %llu, too big %llu, "
	        "unknown pt %llu, not allowed %llu, over max streams %llu, "
	        "during set-up %llu; streams seen %llu",
	        (unsigned long long)c.datagrams, (unsigned long long)c.accepted,
	        (unsigned long long)c.malformed, (unsigned long long)c.too_big,
	        (unsigned long long)c.unknown_pt,
	        (unsigned long long)c.not_allowed,
	        (unsigned long long)c.over_max_streams,
	        (unsigned long long)c.pending,
	        (unsigned long long)c.streams_seen);
	if (p->o.srtp)
		fprintf(f, "; SRTP: auth failed %llu, replayed %llu",
		        (unsigned long long)c.auth_failed,
		        (unsigned long long)c.replayed);
	fputc('\n', f);
	fprintf(f, "callback max %.1f us, p99 %.1f us; rt_violations %lu%s\n",
	        p->e.st.cb_us_max, p->e.st.cb_us_p99_all, rtv,
	        rthook_loaded() ? "" : " (checker not loaded)");
	if (p->e.rec_open)
		fprintf(f, "recorded %s: %s\n", p->o.record,
		        app_record_outcome(outcome, sizeof(outcome),
		                           p->o.record, &p->e.rec,
		                           p->e.rec_rc));
	fflush(f);
}
