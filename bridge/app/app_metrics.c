/*
 * app_metrics: the metrics page of `send` and `recv` (see app_metrics.h)
 */
#include "bridge/app/app_metrics.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/addr.h"

#ifndef RTB_VERSION
#define RTB_VERSION "unknown"
#endif

/* Page bytes per spelling: the process-wide families, then a row's. */
#define APP_METRICS_PAGE_BASE 16384
#define APP_METRICS_PAGE_ROW  6144

int app_metrics_parse(const char *cmd, const char *text,
                      struct sockaddr_storage *out)
{
	char full[ADDR_TEXT_MAX + 16], err[192];
	size_t n = strlen(text);

	/* "PORT" alone: loopback, not every interface. */
	if (n > 0 && n <= 5 && strspn(text, "0123456789") == n) {
		snprintf(full, sizeof(full), "127.0.0.1:%s", text);
		text = full;
	}
	if (addr_parse(out, NULL, text, ADDR_PORT_ZERO, err, sizeof(err)) < 0) {
		fprintf(stderr, "rtbridge %s: --metrics: %s\n", cmd, err);
		return -EINVAL;
	}
	return 0;
}

int app_metrics_open(struct app_metrics *m, const char *cmd,
                     const struct sockaddr *addr,
                     struct rtb_metrics_config host, size_t rows)
{
	char a[ADDR_TEXT_MAX], why[256];

	memset(m, 0, sizeof(*m));
	m->cmd = cmd;
	m->cap = rows;
	m->page_bytes = APP_METRICS_PAGE_BASE + rows * APP_METRICS_PAGE_ROW;
	m->rows = calloc(rows ? rows : 1, sizeof(*m->rows));
	for (int f = 0; f < 2; f++)
		m->text[f] = malloc(m->page_bytes);
	if (!m->rows || !m->text[0] || !m->text[1]) {
		fprintf(stderr, "rtbridge %s: --metrics: %s\n", cmd,
		        strerror(ENOMEM));
		app_metrics_clear(m);
		return -ENOMEM;
	}
	host.addr = addr;
	host.page_bytes = m->page_bytes;
	int rc = rtb_metrics_create(&host, &m->srv, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "rtbridge %s: %s\n", cmd, why);
		app_metrics_clear(m);
		return rc;
	}
	m->on = true;
	fprintf(stderr, "rtbridge %s: metrics on http://%s/metrics\n", cmd,
	        addr_format(rtb_metrics_addr(m->srv), a, sizeof(a)));
	return 0;
}

bool app_metrics_due(const struct app_metrics *m, int64_t now)
{
	return m->on && now >= m->due_ns;
}

int64_t app_metrics_next(const struct app_metrics *m)
{
	return m->on ? m->due_ns : INT64_MAX;
}

struct app_metrics_row *app_metrics_row(struct app_metrics *m)
{
	if (m->nrows == m->cap)
		return NULL;
	struct app_metrics_row *r = &m->rows[m->nrows++];
	r->labels[0] = '\0';
	r->values = NULL;
	return r;
}

void app_metrics_label(struct app_metrics_row *r, const char *name,
                       const char *value)
{
	size_t n = strlen(r->labels), cap = sizeof(r->labels);

	/* Room for the worst case of this label (every byte escaped); a
	   label that might not fit is left out rather than cut. */
	if (n + strlen(name) + 2 * strlen(value) + 5 > cap)
		return;
	n += (size_t)snprintf(r->labels + n, cap - n, "%s%s=\"", n ? "," : "",
	                      name);
	for (const char *s = value; *s; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			r->labels[n++] = '\\';
			r->labels[n++] = *s == '\n' ? 'n' : *s;
		} else {
			r->labels[n++] = *s;
		}
	}
	r->labels[n++] = '"';
	r->labels[n] = '\0';
}

static void app_metrics__put(struct app_metrics_text *w, const char *fmt, ...)
{
	va_list ap;

	if (w->full)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(w->buf + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->cap - w->len)
		w->full = true;
	else
		w->len += (size_t)n;
}

void app_metrics_head(struct app_metrics_text *w, const char *name,
                      bool counter, const char *help)
{
	/* OpenMetrics names a counter's family without its _total; the
	   text format names it as its samples are named. */
	const char *sfx = counter && !w->om ? "_total" : "";

	app_metrics__put(w, "# HELP %s%s %s\n# TYPE %s%s %s\n", name, sfx, help,
	                 name, sfx, counter ? "counter" : "gauge");
}

void app_metrics_sample(struct app_metrics_text *w, const char *name,
                        bool counter, const char *labels, double v)
{
	char num[40];

	if (!isfinite(v))
		snprintf(num, sizeof(num), "%s",
		         isnan(v) ? "NaN"
		         : v > 0  ? "+Inf"
		                  : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		snprintf(num, sizeof(num), "%.0f", v);
	else
		snprintf(num, sizeof(num), "%.9g", v);
	app_metrics__put(w, "%s%s%s%s%s %s\n", name, counter ? "_total" : "",
	                 labels && *labels ? "{" : "", labels ? labels : "",
	                 labels && *labels ? "}" : "", num);
}

void app_metrics_one(struct app_metrics_text *w, const char *name, bool counter,
                     const char *help, double v)
{
	app_metrics_head(w, name, counter, help);
	app_metrics_sample(w, name, counter, NULL, v);
}

void app_metrics_families(struct app_metrics_text *w,
                          const struct app_metrics_family *f, size_t nf,
                          const struct app_metrics_row *rows, size_t nrows)
{
	for (size_t i = 0; i < nf; i++) {
		app_metrics_head(w, f[i].name, f[i].counter, f[i].help);
		for (size_t r = 0; r < nrows; r++) {
			const char *p = (const char *)rows[r].values + f[i].off;
			double v;
			if (f[i].is_double)
				memcpy(&v, p, sizeof(v));
			else {
				uint64_t u;
				memcpy(&u, p, sizeof(u));
				v = (double)u;
			}
			app_metrics_sample(w, f[i].name, f[i].counter,
			                   rows[r].labels, v * f[i].scale);
		}
	}
}

/* The server's own figures: what hostile or slow clients cost. */
static const char *const app_metrics__srv[][2] = {
        {"rtbridge_metrics_connections",
         "HTTP connections accepted by the metrics endpoint"},
        {"rtbridge_metrics_waited_connections",
         "connections that found every slot taken and waited"},
        {"rtbridge_metrics_timeouts", "connections cut off at their deadline"},
        {"rtbridge_metrics_errors", "accept, read and write errors"},
        {"rtbridge_metrics_skipped_pages",
         "pages not published (none free, or no room)"},
};

static void app_metrics__server(struct app_metrics_text *w,
                                const struct app_metrics *m)
{
	struct rtb_metrics_counters c;
	char labels[32];

	rtb_metrics_counters(m->srv, &c);
	/* In the order of app_metrics__srv. */
	const uint64_t v[] = {c.connections, c.waited, c.timeouts, c.errors,
	                      c.skipped + m->too_big};

	_Static_assert(sizeof(v) / sizeof(v[0]) ==
	                       sizeof(app_metrics__srv) /
	                               sizeof(app_metrics__srv[0]),
	               "a name for every counter");
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		app_metrics_one(w, app_metrics__srv[i][0], true,
		                app_metrics__srv[i][1], (double)v[i]);
	app_metrics_head(w, "rtbridge_metrics_responses", true,
	                 "answers by HTTP status code");
	for (unsigned i = 0; i < c.ncodes; i++) {
		snprintf(labels, sizeof(labels), "code=\"%d\"", c.code[i]);
		app_metrics_sample(w, "rtbridge_metrics_responses", true,
		                   labels, (double)c.answers[i]);
	}
}

int app_metrics_publish(struct app_metrics *m, int64_t now,
                        app_metrics_build_fn fn, void *arg)
{
	size_t len[2];
	char labels[64];
	bool full = false;

	if (!m->on)
		return 0;
	/* On the grid, never in a burst to catch up. */
	m->due_ns = now + APP_METRICS_PERIOD_NS;
	snprintf(labels, sizeof(labels),
	         "version=\"" RTB_VERSION "\",command=\"%s\"", m->cmd);
	for (int f = 0; f < 2; f++) { /* the text format, then OpenMetrics */
		struct app_metrics_text w = {
		        .buf = m->text[f], .cap = m->page_bytes, .om = f == 1};
		app_metrics_head(&w, "rtbridge_build_info", false,
		                 "the program's version and command");
		app_metrics_sample(&w, "rtbridge_build_info", false, labels, 1);
		fn(&w, arg);
		app_metrics__server(&w, m);
		if (w.om)
			app_metrics__put(&w, "# EOF\n");
		len[f] = w.len;
		full = full || w.full;
	}
	m->nrows = 0;
	if (full) {
		/* Never a truncated page: keep the last one. */
		m->too_big++;
		return -ENOSPC;
	}
	return rtb_metrics_publish(m->srv, m->text[0], len[0], m->text[1],
	                           len[1]);
}

void app_metrics_clear(struct app_metrics *m)
{
	rtb_metrics_destroy(m->srv); /* NULL: nothing */
	m->srv = NULL;
	for (int f = 0; f < 2; f++) {
		free(m->text[f]);
		m->text[f] = NULL;
	}
	free(m->rows);
	m->rows = NULL;
	m->on = false;
}
