/*
 * cmd_recv_stats: the statistics of `rtbridge recv` (see cmd_recv.h),
 * from what the library reports
 *
 * Per interval: one JSON line per playing stream (its figures from
 * rtb_receiver_stream_stats) and one for the receiver as a whole
 * (rtb_receiver_counters); the terminal status line; at exit, the summary
 * (JSON and text). A stream that ended (on_ended) leaves a fixed-size
 * summary here: the last RECV_SUMMARIES are kept in a ring and listed at
 * exit, older ones only count in the totals, so a receiver that saw
 * thousands of streams keeps a bounded report.
 *
 * Context: control (main) thread.
 */
#include <stdio.h>
#include <string.h>

#include "bridge/app/cmd_recv.h"
#include "bridge/rtcheck/rthook.h"

static const char *recv_stats__ended(int why)
{
	switch (why) {
	case RTB_ENDED_TIMEOUT:
		return "timeout";
	case RTB_ENDED_SUPERSEDED:
		return "superseded";
	case RTB_ENDED_TAKEN_OVER:
		return "taken_over";
	case RTB_ENDED_STOPPED:
		return "exit";
	default:
		return "setup_failed";
	}
}

void cmd_recv_stats_ended(void *arg, struct rtb_receiver *r,
                          const struct rtb_stream_info *s,
                          const struct rtb_stream_end *end)
{
	struct recv_cmd *p = arg;
	struct recv_summary *x;

	(void)r;
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
	x->why = (int)end->why;
	x->t_start = cmd_recv_secs(p, end->start_ns);
	x->t_end = cmd_recv_secs(p, end->end_ns);
	x->frames = end->record_frames;
	x->st = *end->stats;
	snprintf(x->from, sizeof(x->from), "%s", s->from);
	if (end->record_path) {
		/* Only a file that exists is named. */
		snprintf(x->path, sizeof(x->path), "%s", end->record_path);
		snprintf(x->outcome, sizeof(x->outcome), "%s",
		         end->record_outcome);
	}
	if (end->record_error)
		snprintf(x->record_error, sizeof(x->record_error), "%s",
		         end->record_error);
	struct recv_totals *t = &p->totals;
	t->closed++;
	t->received += x->st.received;
	t->lost += x->st.lost;
	t->recovered += x->st.recovered;
	t->late += x->st.late;
	t->concealed_frames += x->st.concealed_frames;
	t->underruns += x->st.underruns;
	t->recorded_frames += end->record_frames;
}

void cmd_recv_stats_record_stopped(void *arg, struct rtb_receiver *r,
                                   const struct rtb_stream_info *s,
                                   uint64_t frames, const char *error)
{
	struct recv_cmd *p = arg;
	struct app_stats_record x = {
	        .path = s->record_path,
	        .frames = frames,
	        .error = error,
	};

	(void)r;
	app_stats_record_stopped(
	        &p->json, cmd_recv_secs(p, (int64_t)netloop_now_ns()), &x);
}

void cmd_recv_stats_counters(const struct recv_cmd *p,
                             struct rtb_receiver_counters *c)
{
	struct rtb_receiver_counters old;

	memset(c, 0, sizeof(*c));
	if (p->r)
		rtb_receiver_counters(p->r, c);
	c->setup_failed += p->setup_failed;
	c->record_failed += p->record_failed;
	for (unsigned i = 0; i < RECV_SAP_OLD; i++) {
		if (!p->old[i])
			continue;
		rtb_receiver_counters(p->old[i], &old);
		c->setup_failed += old.setup_failed;
		c->record_failed += old.record_failed;
		c->streams_alive += old.streams_alive;
	}
}

static void recv_stats__receiver(const struct recv_cmd *p,
                                 const struct rtb_receiver_counters *c,
                                 struct app_stats_receiver *x)
{
	struct rtb_engine_stats es;

	rtb_engine_stats(p->e, &es);
	memset(x, 0, sizeof(*x));
	x->c = c;
	x->streams_alive = c->streams_alive;
	x->streams_closed = p->totals.closed;
	x->streams_listed = p->nclosed;
	x->total_received = p->totals.received;
	x->total_lost = p->totals.lost;
	x->total_recovered = p->totals.recovered;
	x->total_late = p->totals.late;
	x->total_concealed_frames = p->totals.concealed_frames;
	x->total_underruns = p->totals.underruns;
	x->total_recorded_frames = p->totals.recorded_frames;
	x->callback_max_us = es.callback_max_us;
	x->callback_p99_us = es.callback_p99_us;
	x->rt_violations = rthook_violations();
}

/* One JSON line per playing stream of r. */
static void recv_stats__json(struct recv_cmd *p, struct rtb_receiver *r,
                             double t, const struct rtb_engine_stats *es)
{
	uint64_t ids[RECV_IDS];
	struct rtb_stream_stats st;
	struct rtb_stream_info info;
	struct app_stats_stream x;

	unsigned n = rtb_receiver_list(r, ids, RECV_IDS);
	for (unsigned i = 0; i < n && i < RECV_IDS; i++) {
		if (rtb_receiver_stream_info(r, ids[i], &info) < 0 ||
		    rtb_receiver_stream_stats(r, ids[i], &st) < 0)
			continue;
		memset(&x, 0, sizeof(x));
		x.ssrc = info.ssrc;
		x.from = info.from;
		x.record = info.record_path;
		x.record_error = info.record_error;
		x.st = &st;
		x.callback_max_us = es->callback_max_us;
		x.rt_violations = rthook_violations();
		x.recorded = info.record_path ? st.record_written : 0;
		app_stats_stream(&p->json, t, &x);
	}
}

void cmd_recv_stats_json(struct recv_cmd *p)
{
	struct rtb_receiver *rs[RECV_SAP_OLD + 1];
	struct rtb_receiver_counters c;
	struct app_stats_receiver rx;
	struct rtb_engine_stats es;
	double t = cmd_recv_secs(p, (int64_t)netloop_now_ns());

	rtb_engine_stats(p->e, &es);
	/* The current session's streams, and those of the ones before
	   still playing out (--sap). */
	unsigned nr = cmd_recv_receivers(p, rs);
	for (unsigned k = 0; k < nr; k++)
		recv_stats__json(p, rs[k], t, &es);
	cmd_recv_stats_counters(p, &c);
	recv_stats__receiver(p, &c, &rx);
	app_stats_receiver(&p->json, t, &rx);
}

void cmd_recv_stats_draw(struct recv_cmd *p)
{
	char line[512], meter[64];
	uint64_t ids[4];
	struct rtb_receiver *rs[RECV_SAP_OLD + 1], *from[4];
	size_t used = 0;
	struct rtb_engine_stats es;

	rtb_engine_stats(p->e, &es);
	used += (size_t)snprintf(
	        line, sizeof(line), "out %s",
	        app_status_meter(meter, sizeof(meter), es.out_peak, 10));
	/* The first four streams, the current session's first. */
	unsigned n = 0, nr = cmd_recv_receivers(p, rs);
	for (unsigned k = 0; k < nr && n < 4; k++) {
		unsigned m = rtb_receiver_list(rs[k], ids + n, 4 - n);
		for (unsigned i = 0; i < m && n < 4; i++)
			from[n++] = rs[k];
	}
	for (unsigned i = 0; i < n; i++) {
		struct rtb_stream_stats st;
		struct rtb_stream_info info;
		if (rtb_receiver_stream_info(from[i], ids[i], &info) < 0 ||
		    rtb_receiver_stream_stats(from[i], ids[i], &st) < 0)
			continue;
		double loss = st.received + st.lost
		                      ? 100.0 * (double)st.lost /
		                                (double)(st.received + st.lost)
		                      : 0.0;
		if (used < sizeof(line))
			used += (size_t)snprintf(
			        line + used, sizeof(line) - used,
			        " | %08x %s loss %.1f%% "
			        "jit %.1f buf %.0f/%.0f ms",
			        (unsigned)info.ssrc,
			        app_status_meter(meter, sizeof(meter), st.peak,
			                         8),
			        loss, st.jitter_ms, st.buffer_ms, st.target_ms);
	}
	app_status_print(&p->status, "%s", line);
}

/* One closed stream's line of the summary. */
static void recv_stats__line(FILE *f, const struct recv_summary *s,
                             const char *ended)
{
	fprintf(f,
	        "stream %08x from %s (%.1f-%.1f s, %s): received %llu, "
	        "lost %llu, late %llu, concealed %llu frames, "
	        "underruns %llu; resyncs %llu, rebuffers %llu, skips "
	        "%llu (%llu frames), clock mismatches %llu",
	        (unsigned)s->ssrc, s->from, s->t_start, s->t_end, ended,
	        (unsigned long long)s->st.received,
	        (unsigned long long)s->st.lost, (unsigned long long)s->st.late,
	        (unsigned long long)s->st.concealed_frames,
	        (unsigned long long)s->st.underruns,
	        (unsigned long long)s->st.resyncs,
	        (unsigned long long)s->st.rebuffers,
	        (unsigned long long)s->st.skips,
	        (unsigned long long)s->st.skipped_frames,
	        (unsigned long long)s->st.clock_mismatch);
	if (s->st.recovered)
		fprintf(f, "; recovered %llu from redundancy",
		        (unsigned long long)s->st.recovered);
	if (s->path[0])
		fprintf(f, "; %s: %s", s->path, s->outcome);
	fputc('\n', f);
}

/* The receiver-wide lines of the summary. */
static void recv_stats__totals(const struct recv_cmd *p, FILE *f,
                               const struct rtb_receiver_counters *c,
                               const struct app_stats_receiver *rx)
{
	fprintf(f,
	        "datagrams %llu: accepted %llu, malformed %llu, too big %llu, "
	        "unknown pt %llu, not allowed %llu, over max streams %llu, "
	        "during set-up %llu, refused %llu, failed probation %llu, "
	        "ssrc conflicts %llu\n",
	        (unsigned long long)c->datagrams,
	        (unsigned long long)c->accepted,
	        (unsigned long long)c->malformed,
	        (unsigned long long)c->too_big,
	        (unsigned long long)c->unknown_pt,
	        (unsigned long long)c->not_allowed,
	        (unsigned long long)c->over_max_streams,
	        (unsigned long long)c->setting_up,
	        (unsigned long long)c->refused,
	        (unsigned long long)c->probation_dropped,
	        (unsigned long long)c->ssrc_conflicts);
	if (p->o.srtp)
		fprintf(f, "SRTP: auth failed %llu, replayed %llu\n",
		        (unsigned long long)c->auth_failed,
		        (unsigned long long)c->replayed);
	fprintf(f,
	        "streams seen %llu (closed %llu; received %llu, lost %llu, "
	        "recorded %llu frames); sources that failed probation %llu "
	        "(evicted %llu); taken over %llu, superseded %llu; set-up "
	        "failed %llu\n",
	        (unsigned long long)c->streams_seen,
	        (unsigned long long)p->totals.closed,
	        (unsigned long long)p->totals.received,
	        (unsigned long long)p->totals.lost,
	        (unsigned long long)p->totals.recorded_frames,
	        (unsigned long long)c->probation_failed,
	        (unsigned long long)c->probation_evicted,
	        (unsigned long long)c->takeovers,
	        (unsigned long long)c->superseded,
	        (unsigned long long)c->setup_failed);
	fprintf(f, "callback max %.1f us, p99 %.1f us; rt_violations %lu%s\n",
	        rx->callback_max_us, rx->callback_p99_us, rx->rt_violations,
	        rthook_loaded() ? "" : " (checker not loaded)");
}

void cmd_recv_stats_summary(struct recv_cmd *p,
                            const struct rtb_receiver_counters *c)
{
	FILE *f = p->json.f == stdout ? stderr : stdout;
	struct app_stats_receiver rx;
	struct app_stats_stream x;
	struct rtb_record_status mix;

	rtb_engine_record_status(p->e, &mix);
	struct app_stats_record mr = {
	        .path = p->o.record,
	        .frames = mix.frames,
	        .error = mix.rc < 0 ? mix.error : NULL,
	};
	recv_stats__receiver(p, c, &rx);
	app_stats_summary_begin(&p->json,
	                        cmd_recv_secs(p, (int64_t)netloop_now_ns()));
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
		x.callback_max_us = rx.callback_max_us;
		x.rt_violations = rx.rt_violations;
		x.recorded = s->frames;
		x.record_error = s->record_error[0] ? s->record_error : NULL;
		x.ended = recv_stats__ended(s->why);
		app_stats_summary_stream(&p->json, &x);
		recv_stats__line(f, s, x.ended);
	}
	app_stats_summary_end(&p->json, &rx, mix.on ? &mr : NULL);
	recv_stats__totals(p, f, c, &rx);
	if (mix.on)
		fprintf(f, "recorded %s: %s\n", p->o.record, mix.outcome);
	fflush(f);
}
