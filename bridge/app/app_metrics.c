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
                     const struct sockaddr *addr, struct netloop *nl,
                     size_t rows)
{
	char a[ADDR_TEXT_MAX];
	int rc;

	memset(m, 0, sizeof(*m));
	m->cmd = cmd;
	m->cap = rows;
	m->rows = calloc(rows ? rows : 1, sizeof(*m->rows));
	rc = m->rows ? metricsrv_init(&m->srv,
	                              APP_METRICS_PAGE_BASE +
	                                      rows * APP_METRICS_PAGE_ROW)
	             : -ENOMEM;
	if (rc < 0) {
		fprintf(stderr, "rtbridge %s: --metrics: %s\n", cmd,
		        strerror(-rc));
		return rc;
	}
	m->ready = true;
	rc = metricsrv_open(&m->srv, nl, addr);
	if (rc < 0) {
		fprintf(stderr, "rtbridge %s: %s\n", cmd,
		        metricsrv_error(&m->srv));
		return rc;
	}
	m->on = true;
	fprintf(stderr, "rtbridge %s: metrics on http://%s/metrics\n", cmd,
	        addr_format(metricsrv_addr(&m->srv), a, sizeof(a)));
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

static uint64_t app_metrics__get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
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
	static const int codes[METRICSRV_CODES] = {200, 400, 404, 405,
	                                           431, 503, 505};
	const struct metricsrv_counters *c = &m->srv.c;
	/* In the order of app_metrics__srv. */
	const uint64_t v[] = {
	        app_metrics__get(&c->connections), app_metrics__get(&c->waited),
	        app_metrics__get(&c->timeouts), app_metrics__get(&c->errors),
	        app_metrics__get(&c->skipped)};
	char labels[32];

	_Static_assert(sizeof(v) / sizeof(v[0]) ==
	                       sizeof(app_metrics__srv) /
	                               sizeof(app_metrics__srv[0]),
	               "a name for every counter");
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		app_metrics_one(w, app_metrics__srv[i][0], true,
		                app_metrics__srv[i][1], (double)v[i]);
	app_metrics_head(w, "rtbridge_metrics_responses", true,
	                 "answers by HTTP status code");
	for (int i = 0; i < METRICSRV_CODES; i++) {
		snprintf(labels, sizeof(labels), "code=\"%d\"", codes[i]);
		app_metrics_sample(w, "rtbridge_metrics_responses", true,
		                   labels,
		                   (double)app_metrics__get(&c->answers[i]));
	}
}

int app_metrics_publish(struct app_metrics *m, int64_t now,
                        app_metrics_build_fn fn, void *arg)
{
	struct metricsrv_page *p;
	char labels[64];
	int rc = 0;

	if (!m->on)
		return 0;
	/* On the grid, never in a burst to catch up. */
	m->due_ns = now + APP_METRICS_PERIOD_NS;
	p = metricsrv_page_get(&m->srv);
	if (!p) {
		m->nrows = 0;
		return -EBUSY;
	}
	snprintf(labels, sizeof(labels),
	         "version=\"" RTB_VERSION "\",command=\"%s\"", m->cmd);
	for (int f = 0; f < METRICSRV_FORMATS; f++) {
		struct app_metrics_text w = {.buf = p->text[f],
		                             .cap = p->cap,
		                             .om = f == METRICSRV_OPENMETRICS};
		app_metrics_head(&w, "rtbridge_build_info", false,
		                 "the program's version and command");
		app_metrics_sample(&w, "rtbridge_build_info", false, labels, 1);
		fn(&w, arg);
		app_metrics__server(&w, m);
		if (w.om)
			app_metrics__put(&w, "# EOF\n");
		p->len[f] = w.len;
		if (w.full)
			rc = -ENOSPC;
	}
	m->nrows = 0;
	if (rc < 0) {
		/* Never a truncated page: keep the last one. */
		metricsrv_page_drop(&m->srv, p);
		return rc;
	}
	return metricsrv_publish(&m->srv, p);
}

void app_metrics_clear(struct app_metrics *m)
{
	if (m->ready)
		metricsrv_clear(&m->srv);
	free(m->rows);
	m->rows = NULL;
	m->on = m->ready = false;
}
