/*
 * app_metrics: `--metrics [ADDR:]PORT` of `rtbridge send` and `recv`
 *
 * The command's control loop calls app_metrics_due / app_metrics_publish
 * about once a second; publishing writes the figures of the stats
 * snapshots the control thread already takes (the same ones as
 * --stats-json) as text and hands it to the library's metrics endpoint
 * (rtbridge/metrics.h), which serves it from the net thread of the
 * command's receiver, SAP listener or sender: no thread of its own. The
 * audio thread is never involved: the snapshots are the seqlock copies
 * the library's stats already make.
 *
 * The page is written twice, once per spelling: the Prometheus text
 * format 0.0.4 and OpenMetrics 1.0 (a counter's family is named without
 * "_total" in its HELP and TYPE lines, and the page ends in "# EOF").
 * Names follow the Prometheus conventions: base units (seconds), counters
 * ending in _total, every family with HELP and TYPE. The server's own
 * counters (connections, answers by code, timeouts) are on the page too.
 *
 * Context: control (main) thread.
 */
#ifndef RTB_APP_METRICS_H
#define RTB_APP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <rtbridge/metrics.h>

#define APP_METRICS_PERIOD_NS 1000000000LL /* a page a second */
#define APP_METRICS_LABELS    160          /* bytes of a row's labels */

/* The text of one page spelling, bounded by the page. */
struct app_metrics_text {
	char *buf;
	size_t cap, len;
	bool om;   /* OpenMetrics (else the Prometheus text format) */
	bool full; /* something did not fit: the page is not published */
};

/* One value of a row per family: a field of the row's struct. */
struct app_metrics_family {
	const char *name; /* counters without "_total" */
	bool counter;
	const char *help;
	size_t off;     /* offsetof the field in the row's values */
	bool is_double; /* a double field, else uint64_t */
	double scale;   /* the field times this (ms -> s: 1e-3) */
};

/* A labelled set of values (a stream). */
struct app_metrics_row {
	char labels[APP_METRICS_LABELS]; /* name="value",... */
	const void *values;
};

/* Write a page's figures; called once per spelling. */
typedef void (*app_metrics_build_fn)(struct app_metrics_text *w, void *arg);

struct app_metrics {
	struct rtb_metrics *srv; /* the endpoint, on its host's net thread */
	bool on;
	char *text[2];     /* a page as written: text format, OpenMetrics */
	size_t page_bytes; /* of each */
	uint64_t too_big;  /* pages that did not fit (never published) */
	const char *cmd;
	int64_t due_ns; /* the next page, CLOCK_MONOTONIC */
	struct app_metrics_row *rows;
	size_t nrows, cap; /* rows in use, allocated */
};

/*
 * Parse the --metrics value: "PORT" alone is 127.0.0.1:PORT (loopback by
 * default), otherwise "ADDR:PORT" / "[V6]:PORT"; port 0 picks a free
 * one.
 *
 * Return: 0, or -EINVAL after printing "rtbridge CMD: --metrics ..."
 */
int app_metrics_parse(const char *cmd, const char *text,
                      struct sockaddr_storage *out);

/*
 * Set up the endpoint and its rows (`rows` streams at most), listen on
 * addr on the net thread of the host `host` names (its receiver, sender
 * or sap: exactly one) and say where:
 * "rtbridge recv: metrics on http://127.0.0.1:PORT/metrics".
 *
 * Return: 0 or a negated errno (one line printed)
 */
int app_metrics_open(struct app_metrics *m, const char *cmd,
                     const struct sockaddr *addr,
                     struct rtb_metrics_config host, size_t rows);

/* Whether a page is due at `now` (ns); the next deadline (INT64_MAX
 * when off). */
bool app_metrics_due(const struct app_metrics *m, int64_t now);
int64_t app_metrics_next(const struct app_metrics *m);

/* A row to fill (NULL when all are used): labels via app_metrics_label. */
struct app_metrics_row *app_metrics_row(struct app_metrics *m);

/* Append name="value" (escaped) to a row's labels. */
void app_metrics_label(struct app_metrics_row *r, const char *name,
                       const char *value);

/*
 * Write a page with fn (once per spelling), the server's own counters
 * after it, and make it current. The rows are emptied.
 *
 * Return: 0, or -ENOSPC / -EBUSY / a netloop error (counted; the last page
 *         stays current)
 */
int app_metrics_publish(struct app_metrics *m, int64_t now,
                        app_metrics_build_fn fn, void *arg);

/* Close the endpoint and free everything (again: nothing). Pre: before
   its host is destroyed (rtbridge/metrics.h). */
void app_metrics_clear(struct app_metrics *m);

/* Writers for the build function. A family's HELP and TYPE lines, then
   its samples; or all of it for each row at once. */
void app_metrics_head(struct app_metrics_text *w, const char *name,
                      bool counter, const char *help);
void app_metrics_sample(struct app_metrics_text *w, const char *name,
                        bool counter, const char *labels, double v);
void app_metrics_families(struct app_metrics_text *w,
                          const struct app_metrics_family *f, size_t nf,
                          const struct app_metrics_row *rows, size_t nrows);
/* A family of one sample without labels. */
void app_metrics_one(struct app_metrics_text *w, const char *name, bool counter,
                     const char *help, double v);

#endif
