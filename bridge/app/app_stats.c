/*
 * app_stats: JSON Lines statistics writer (see app_stats.h)
 */
#include "bridge/app/app_stats.h"

#include <errno.h>
#include <math.h>
#include <string.h>

int app_stats_open(struct app_stats *s, const char *path)
{
	memset(s, 0, sizeof(*s));
	if (!path)
		return 0;
	if (!strcmp(path, "-")) {
		s->f = stdout;
		return 0;
	}
	s->f = fopen(path, "w");
	if (!s->f) {
		int err = errno;
		fprintf(stderr, "rtbridge recv: --stats-json %s: %s\n", path,
		        strerror(err));
		return -err;
	}
	s->own = true;
	return 0;
}

void app_stats_close(struct app_stats *s)
{
	if (!s->f)
		return;
	if (s->own)
		fclose(s->f);
	else
		fflush(s->f);
	s->f = NULL;
}

/* A finite number for JSON (NaN/inf have no JSON spelling). */
static double app_stats__num(double v)
{
	return isfinite(v) ? v : 0.0;
}

/* A string: the texts here are addresses and paths; escape the rest. */
static void app_stats__str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void app_stats__fields(FILE *f, const struct app_stats_stream *x)
{
	const struct rtb_stream_stats *st = x->st;

	fprintf(f, "\"ssrc\":%lu,\"ssrc_hex\":\"%08x\",\"from\":",
	        (unsigned long)x->ssrc, (unsigned)x->ssrc);
	app_stats__str(f, x->from);
	fprintf(f,
	        ",\"received\":%llu,\"lost\":%llu,\"recovered\":%llu,"
	        "\"late_repairs\":%llu,\"late\":%llu,"
	        "\"duplicate\":%llu,\"reordered\":%llu,"
	        "\"concealed_frames\":%llu,\"inserted_frames\":%llu,"
	        "\"recovered_frames\":%llu,"
	        "\"jitter_ms\":%.3f,"
	        "\"buffer_ms\":%.3f,\"target_ms\":%.3f,\"drift_ppm\":%.2f,"
	        "\"sender_ppm\":%.2f,\"device_ppm\":%.2f,"
	        "\"underruns\":%llu,\"resyncs\":%llu,\"rebuffers\":%llu,"
	        "\"skips\":%llu,\"skipped_frames\":%llu,"
	        "\"clock_mismatch\":%llu,\"decode_errors\":%llu,"
	        "\"rx_dropped\":%llu,\"rx_invalid\":%llu,\"fec_packets\":%llu,"
	        "\"callback_max_us\":%.1f,\"rt_violations\":%lu",
	        (unsigned long long)st->received, (unsigned long long)st->lost,
	        (unsigned long long)st->recovered,
	        (unsigned long long)st->late_repairs,
	        (unsigned long long)st->late, (unsigned long long)st->duplicate,
	        (unsigned long long)st->reordered,
	        (unsigned long long)st->concealed_frames,
	        (unsigned long long)st->inserted_frames,
	        (unsigned long long)st->recovered_frames,
	        app_stats__num(st->jitter_ms), app_stats__num(st->buffer_ms),
	        app_stats__num(st->target_ms), app_stats__num(st->drift_ppm),
	        app_stats__num(st->sender_ppm), app_stats__num(st->device_ppm),
	        (unsigned long long)st->underruns,
	        (unsigned long long)st->resyncs,
	        (unsigned long long)st->rebuffers,
	        (unsigned long long)st->skips,
	        (unsigned long long)st->skipped_frames,
	        (unsigned long long)st->clock_mismatch,
	        (unsigned long long)st->decode_errors,
	        (unsigned long long)st->rx_dropped,
	        (unsigned long long)st->rx_invalid,
	        (unsigned long long)st->fec_packets,
	        app_stats__num(x->callback_max_us), x->rt_violations);
	if (x->record) {
		fprintf(f, ",\"record\":");
		app_stats__str(f, x->record);
		fprintf(f, ",\"recorded_frames\":%llu",
		        (unsigned long long)x->recorded);
	}
	if (x->ended) {
		fprintf(f, ",\"ended\":");
		app_stats__str(f, x->ended);
	}
	if (x->record_error) {
		fprintf(f, ",\"record_error\":");
		app_stats__str(f, x->record_error);
	}
}

static void app_stats__record(FILE *f, const struct app_stats_record *r)
{
	fprintf(f, "\"path\":");
	app_stats__str(f, r->path);
	fprintf(f, ",\"frames\":%llu", (unsigned long long)r->frames);
	if (r->error) {
		fprintf(f, ",\"error\":");
		app_stats__str(f, r->error);
	}
}

/* A line's start, when the output is on. Return: whether it is. */
static bool app_stats__begin(struct app_stats *s, const char *type, double t)
{
	if (s->f)
		fprintf(s->f, "{\"type\":\"%s\",\"t\":%.3f,", type, t);
	return s->f != NULL;
}

/* A line's end: flushed so that a reader sees whole objects. */
static void app_stats__end(struct app_stats *s)
{
	fprintf(s->f, "}\n");
	fflush(s->f);
}

void app_stats_record_stopped(struct app_stats *s, double t_s,
                              const struct app_stats_record *r)
{
	if (!app_stats__begin(s, "record_stopped", t_s))
		return;
	app_stats__record(s->f, r);
	app_stats__end(s);
}

void app_stats_stream(struct app_stats *s, double t_s,
                      const struct app_stats_stream *x)
{
	if (!app_stats__begin(s, "stream", t_s))
		return;
	app_stats__fields(s->f, x);
	app_stats__end(s);
}

void app_stats_summary_begin(struct app_stats *s, double t_s)
{
	if (!s->f)
		return;
	fprintf(s->f, "{\"type\":\"summary\",\"t\":%.3f,\"streams\":[", t_s);
	s->first = true;
}

void app_stats_summary_stream(struct app_stats *s,
                              const struct app_stats_stream *x)
{
	if (!s->f)
		return;
	fprintf(s->f, "%s{", s->first ? "" : ",");
	app_stats__fields(s->f, x);
	fputc('}', s->f);
	s->first = false;
}

/* The receiver's figures, without braces (a line, or the summary's end). */
static void app_stats__receiver(FILE *f, const struct app_stats_receiver *x)
{
	const struct rtb_receiver_counters *c = x->c;

	fprintf(f,
	        "\"datagrams\":%llu,\"accepted\":%llu,\"malformed\":%llu,"
	        "\"too_big\":%llu,\"unknown_pt\":%llu,\"not_allowed\":%llu,"
	        "\"over_max_streams\":%llu,\"pending_dropped\":%llu,"
	        "\"refused\":%llu,\"stream_dropped\":%llu,"
	        "\"notify_dropped\":%llu,\"probation_dropped\":%llu,"
	        "\"ssrc_conflicts\":%llu,\"held\":%llu,"
	        "\"streams_seen\":%llu,\"probation_failed\":%llu,"
	        "\"probation_evicted\":%llu,\"on_probation\":%llu,"
	        "\"takeovers\":%llu,\"superseded\":%llu,"
	        "\"streams_alive\":%llu,\"streams_closed\":%llu,"
	        "\"streams_listed\":%llu,\"setup_failed\":%llu,"
	        "\"auth_failed\":%llu,\"replayed\":%llu,"
	        "\"callback_max_us\":%.1f,\"callback_p99_us\":%.1f,"
	        "\"rt_violations\":%lu",
	        (unsigned long long)c->datagrams,
	        (unsigned long long)c->accepted,
	        (unsigned long long)c->malformed,
	        (unsigned long long)c->too_big,
	        (unsigned long long)c->unknown_pt,
	        (unsigned long long)c->not_allowed,
	        (unsigned long long)c->over_max_streams,
	        (unsigned long long)c->setting_up,
	        (unsigned long long)c->refused,
	        (unsigned long long)c->stream_dropped,
	        (unsigned long long)c->notify_dropped,
	        (unsigned long long)c->probation_dropped,
	        (unsigned long long)c->ssrc_conflicts,
	        (unsigned long long)c->held,
	        (unsigned long long)c->streams_seen,
	        (unsigned long long)c->probation_failed,
	        (unsigned long long)c->probation_evicted,
	        (unsigned long long)c->on_probation,
	        (unsigned long long)c->takeovers,
	        (unsigned long long)c->superseded,
	        (unsigned long long)x->streams_alive,
	        (unsigned long long)x->streams_closed,
	        (unsigned long long)x->streams_listed,
	        (unsigned long long)c->setup_failed,
	        (unsigned long long)c->auth_failed,
	        (unsigned long long)c->replayed,
	        app_stats__num(x->callback_max_us),
	        app_stats__num(x->callback_p99_us), x->rt_violations);
}

void app_stats_receiver(struct app_stats *s, double t_s,
                        const struct app_stats_receiver *x)
{
	if (!app_stats__begin(s, "receiver", t_s))
		return;
	app_stats__receiver(s->f, x);
	app_stats__end(s);
}

void app_stats_summary_end(struct app_stats *s,
                           const struct app_stats_receiver *x,
                           const struct app_stats_record *mix)
{
	if (!s->f)
		return;
	fputc(']', s->f);
	if (mix) {
		fprintf(s->f, ",\"mix_record\":{");
		app_stats__record(s->f, mix);
		fputc('}', s->f);
	}
	fputc(',', s->f);
	app_stats__receiver(s->f, x);
	fprintf(s->f,
	        ",\"total_received\":%llu,\"total_lost\":%llu,"
	        "\"total_recovered\":%llu,"
	        "\"total_late\":%llu,\"total_concealed_frames\":%llu,"
	        "\"total_underruns\":%llu,\"total_recorded_frames\":%llu}\n",
	        (unsigned long long)x->total_received,
	        (unsigned long long)x->total_lost,
	        (unsigned long long)x->total_recovered,
	        (unsigned long long)x->total_late,
	        (unsigned long long)x->total_concealed_frames,
	        (unsigned long long)x->total_underruns,
	        (unsigned long long)x->total_recorded_frames);
	fflush(s->f);
}
