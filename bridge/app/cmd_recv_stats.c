/*
 * cmd_recv_stats: the statistics of `rtbridge recv` (see cmd_recv_impl.h)
 *
 * Per interval: one JSON line per linked stream and one for the receiver
 * as a whole; the terminal status line; at exit, the summary (JSON and
 * text). A closed stream leaves a fixed-size summary here: the last
 * RECV_SUMMARIES are kept in a ring and listed at exit, older ones only
 * count in the totals, so a receiver that saw thousands of streams keeps
 * a bounded report.
 *
 * Context: control (main) thread.
 */
#include "bridge/app/cmd_recv_impl.h"

#include <stdio.h>
#include <string.h>

#include "bridge/app/app_record.h"
#include "bridge/rtcheck/rthook.h"

static const char *recv__ended(int why)
{
	switch (why) {
	case RECEIVER_END_IDLE:
		return "timeout";
	case RECEIVER_END_SUPERSEDED:
		return "superseded";
	case RECEIVER_END_TAKEN_OVER:
		return "taken_over";
	case RECEIVER_END_CLOSED:
		return "exit";
	default:
		return "setup_failed";
	}
}

void cmd_recv_stats_closed(struct recv *p, const struct recv_stream *s,
                           int rec_rc, uint64_t frames)
{
	struct recv_summary *x;

	if (p->nclosed < RECV_SUMMARIES) {
		x = &p->closed[(p->closed_head + p->nclosed) % RECV_SUMMARIES];
		p->nclosed++;
	} else {
		/* The oldest gives way; it stays in the totals. */
		x = &p->closed[p->closed_head];
		p->closed_head = (p->closed_head + 1) % RECV_SUMMARIES;
	}
	memset(x, 0, sizeof(*x));
	x->ssrc = s->ssrc;
	x->id = s->id;
	x->why = s->why;
	x->rec_rc = rec_rc;
	x->t_start = s->t_start;
	x->t_end = s->t_end;
	x->frames = frames;
	/* The audio thread's last figures (the stream is unlinked). */
	x->st = s->ns.st;
	snprintf(x->from, sizeof(x->from), "%s", s->from);
	if (s->tap_open && !s->no_file) {
		/* Only a file that exists is named. */
		snprintf(x->path, sizeof(x->path), "%s", s->path);
		(void)app_record_outcome(x->outcome, sizeof(x->outcome),
		                         s->path, &s->tap, rec_rc);
	}
	if (s->tap_open && (s->rec_reported || rec_rc < 0))
		snprintf(x->record_error, sizeof(x->record_error), "%s",
		         disktap_error(&s->tap));
	struct recv_totals *t = &p->totals;
	t->closed++;
	t->received += x->st.received;
	t->lost += x->st.lost;
	t->recovered += x->st.recovered_packets;
	t->late += x->st.late;
	t->concealed_frames += x->st.concealed_frames;
	t->underruns += x->st.underruns;
	t->recorded_frames += frames;
}

static void recv__receiver(const struct recv *p, struct receiver_counters *c,
                           struct app_stats_receiver *x)
{
	receiver_counters(&p->rx, c);
	memset(x, 0, sizeof(*x));
	x->c = c;
	x->streams_alive = p->nalive;
	x->streams_closed = p->totals.closed;
	x->streams_listed = p->nclosed;
	x->setup_failed = p->setup_failed;
	x->total_received = p->totals.received;
	x->total_lost = p->totals.lost;
	x->total_recovered = p->totals.recovered;
	x->total_late = p->totals.late;
	x->total_concealed_frames = p->totals.concealed_frames;
	x->total_underruns = p->totals.underruns;
	x->total_recorded_frames = p->totals.recorded_frames;
	x->callback_max_us = p->e->st.cb_us_max;
	x->callback_p99_us = p->e->st.cb_us_p99_all;
	x->rt_violations = rthook_violations();
}

void cmd_recv_streams_json(struct recv *p)
{
	struct netstream_stats st;
	struct app_stats_stream x;
	struct receiver_counters c;
	struct app_stats_receiver rx;
	double t = cmd_recv_secs(p);

	for (struct recv_stream *s = p->streams; s; s = s->next) {
		if (s->state != RECV_LINKED || netstream_stats(&s->ns, &st) < 0)
			continue;
		memset(&x, 0, sizeof(x));
		x.ssrc = s->ssrc;
		x.from = s->from;
		x.record = s->rec_opened ? s->path : NULL;
		x.record_error =
		        s->rec_reported ? disktap_error(&s->tap) : NULL;
		x.st = &st;
		x.callback_max_us = p->e->st.cb_us_max;
		x.rt_violations = rthook_violations();
		x.recorded =
		        s->rec_opened ? disktap_frames_written(&s->tap) : 0;
		app_stats_stream(&p->json, t, &x);
	}
	recv__receiver(p, &c, &rx);
	app_stats_receiver(&p->json, t, &rx);
}

void cmd_recv_streams_draw(struct recv *p, struct app_status *status)
{
	char line[512], meter[64];
	size_t used = 0;
	int shown = 0;

	used += (size_t)snprintf(
	        line, sizeof(line), "out %s",
	        app_status_meter(meter, sizeof(meter), p->e->st.out_peak, 10));
	for (struct recv_stream *s = p->streams; s && shown < 4; s = s->next) {
		struct netstream_stats st;
		if (s->state != RECV_LINKED || netstream_stats(&s->ns, &st) < 0)
			continue;
		const struct mixer_source_stats *ms =
		        mixer_stats_find(&p->e->st, &s->ns.src);
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
	struct app_stats_receiver rx;
	struct app_stats_stream x;
	char outcome[RECV_OUTCOME_MAX];
	struct app_stats_record mix = {
	        .path = p->o.record,
	        .frames = p->e->rec.result.frames,
	        .error = p->e->rec_rc < 0 ? disktap_error(&p->e->rec) : NULL,
	};

	recv__receiver(p, &c, &rx);
	app_stats_summary_begin(&p->json, cmd_recv_secs(p));
	if (p->totals.closed > p->nclosed)
		fprintf(f, "(%llu earlier streams are in the totals only)\n",
		        (unsigned long long)(p->totals.closed - p->nclosed));
	for (unsigned k = 0; k < p->nclosed; k++) {
		const struct recv_summary *s =
		        &p->closed[(p->closed_head + k) % RECV_SUMMARIES];
		memset(&x, 0, sizeof(x));
		x.ssrc = s->ssrc;
		x.from = s->from;
		x.record = s->path[0] ? s->path : NULL;
		x.st = &s->st;
		x.callback_max_us = p->e->st.cb_us_max;
		x.rt_violations = rx.rt_violations;
		x.recorded = s->frames;
		x.record_error = s->record_error[0] ? s->record_error : NULL;
		x.ended = recv__ended(s->why);
		app_stats_summary_stream(&p->json, &x);
		fprintf(f,
		        "stream %08x from %s (%.1f-%.1f s, %s): received %llu, "
		        "lost %llu, late %llu, concealed %llu frames, "
		        "underruns %llu; resyncs %llu, rebuffers %llu, skips "
		        "%llu (%llu frames), clock mismatches %llu",
		        (unsigned)s->ssrc, s->from, s->t_start, s->t_end,
		        x.ended, (unsigned long long)s->st.received,
		        (unsigned long long)s->st.lost,
		        (unsigned long long)s->st.late,
		        (unsigned long long)s->st.concealed_frames,
		        (unsigned long long)s->st.underruns,
		        (unsigned long long)s->st.resyncs,
		        (unsigned long long)s->st.rebuffers,
		        (unsigned long long)s->st.skips,
		        (unsigned long long)s->st.skipped_frames,
		        (unsigned long long)s->st.clock_mismatch);
		if (s->st.recovered_packets)
			fprintf(f, "; recovered %llu from redundancy",
			        (unsigned long long)s->st.recovered_packets);
		if (s->path[0])
			fprintf(f, "; %s: %s", s->path, s->outcome);
		fputc('\n', f);
	}
	app_stats_summary_end(&p->json, &rx, p->e->rec_open ? &mix : NULL);
	fprintf(f,
	        "datagrams %llu: accepted %llu, malformed %llu, too big %llu, "
	        "unknown pt %llu, not allowed %llu, over max streams %llu, "
	        "during set-up %llu, refused %llu, failed probation %llu, "
	        "ssrc conflicts %llu\n",
	        (unsigned long long)c.datagrams, (unsigned long long)c.accepted,
	        (unsigned long long)c.malformed, (unsigned long long)c.too_big,
	        (unsigned long long)c.unknown_pt,
	        (unsigned long long)c.not_allowed,
	        (unsigned long long)c.over_max_streams,
	        (unsigned long long)c.pending, (unsigned long long)c.refused,
	        (unsigned long long)c.probation_dropped,
	        (unsigned long long)c.ssrc_conflicts);
	if (p->o.srtp)
		fprintf(f, "SRTP: auth failed %llu, replayed %llu\n",
		        (unsigned long long)c.auth_failed,
		        (unsigned long long)c.replayed);
	fprintf(f,
	        "streams seen %llu (closed %llu; received %llu, lost %llu, "
	        "recorded %llu frames); sources that failed probation %llu "
	        "(evicted %llu); taken over %llu, superseded %llu; set-up "
	        "failed %llu\n",
	        (unsigned long long)c.streams_seen,
	        (unsigned long long)p->totals.closed,
	        (unsigned long long)p->totals.received,
	        (unsigned long long)p->totals.lost,
	        (unsigned long long)p->totals.recorded_frames,
	        (unsigned long long)c.probation_failed,
	        (unsigned long long)c.probation_evicted,
	        (unsigned long long)c.takeovers,
	        (unsigned long long)c.superseded,
	        (unsigned long long)p->setup_failed);
	fprintf(f, "callback max %.1f us, p99 %.1f us; rt_violations %lu%s\n",
	        p->e->st.cb_us_max, p->e->st.cb_us_p99_all, rx.rt_violations,
	        rthook_loaded() ? "" : " (checker not loaded)");
	if (p->e->rec_open)
		fprintf(f, "recorded %s: %s\n", p->o.record,
		        app_record_outcome(outcome, sizeof(outcome),
		                           p->o.record, &p->e->rec,
		                           p->e->rec_rc));
	fflush(f);
}
