/*
 * app_stats: the JSON statistics lines of `rtbridge recv --stats-json`
 *
 * One JSON object per line (JSON Lines): one per stream per interval
 * (--stats-interval, 1 s by default) while it plays ("type":"stream"),
 * one for the receiver as a whole per interval ("type":"receiver"), one
 * when a recording stops by itself, e.g. on a full disk
 * ("type":"record_stopped"), and a summary at exit ("type":"summary") with
 * the streams' figures (the last ones closed, a bounded number), the mix
 * recording and the receiver-wide counters and totals. Written with stdio
 * on the control thread; flushed after each line so that a reader
 * following the file sees whole objects.
 *
 * Context: control thread.
 */
#ifndef RTB_APP_STATS_H
#define RTB_APP_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rtbridge/receiver.h>

struct app_stats {
	FILE *f;    /* NULL: disabled */
	bool own;   /* opened here (closed by app_stats_close) */
	bool first; /* no stream written into the summary yet */
};

/* The figures of one stream in a line. */
struct app_stats_stream {
	uint32_t ssrc;
	const char *from;   /* sender address text */
	const char *record; /* recording path, or NULL */
	const struct rtb_stream_stats *st;
	double callback_max_us;
	unsigned long rt_violations;
	uint64_t recorded;        /* frames recorded, when known */
	const char *record_error; /* why the recording stopped, or NULL */
	const char *ended;        /* why it ended (summary), or NULL */
};

/* A recording named in the summary or a record_stopped line. */
struct app_stats_record {
	const char *path;
	uint64_t frames;   /* written to the file */
	const char *error; /* why it stopped early, or NULL */
};

/* The receiver as a whole. */
struct app_stats_receiver {
	const struct rtb_receiver_counters *c;
	uint64_t streams_alive;  /* linked or on their way out */
	uint64_t streams_closed; /* closed so far */
	uint64_t streams_listed; /* closed ones in the summary */
	uint64_t total_received; /* over every closed stream: */
	uint64_t total_lost;
	uint64_t total_recovered;
	uint64_t total_late;
	uint64_t total_concealed_frames;
	uint64_t total_underruns;
	uint64_t total_recorded_frames;
	double callback_max_us;
	double callback_p99_us; /* over the whole run */
	unsigned long rt_violations;
};

/*
 * Open the output: a path, or "-" for stdout
 *
 * Return: 0 or -errno (with one line printed naming the path)
 */
int app_stats_open(struct app_stats *s, const char *path);

/* Close (stdout is only flushed). */
void app_stats_close(struct app_stats *s);

/* One per-second line for a stream; t_s is seconds since the start. */
void app_stats_stream(struct app_stats *s, double t_s,
                      const struct app_stats_stream *x);

/* One per-interval line for the receiver; t_s is seconds since the start. */
void app_stats_receiver(struct app_stats *s, double t_s,
                        const struct app_stats_receiver *x);

/* A recording stopped by itself (disk full, write error). */
void app_stats_record_stopped(struct app_stats *s, double t_s,
                              const struct app_stats_record *r);

/* The summary: begin, one call per stream, end with the receiver and the
 * mix recording (NULL: none). */
void app_stats_summary_begin(struct app_stats *s, double t_s);
void app_stats_summary_stream(struct app_stats *s,
                              const struct app_stats_stream *x);
void app_stats_summary_end(struct app_stats *s,
                           const struct app_stats_receiver *x,
                           const struct app_stats_record *mix);

#endif
