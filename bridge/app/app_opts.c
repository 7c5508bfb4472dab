/*
 * app_opts: the table-driven option parser (see app_opts.h)
 */
#include "bridge/app/app_opts.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

#define APP_OPTS_COL_MAX 24 /* widest left column of the help text */

static void *app_opts__field(void *o, size_t off)
{
	return (char *)o + off;
}

/* The entry named `name` ("--period", or a short spelling "-p"). */
static const struct app_opt *app_opts__find(const struct app_cmd *c,
                                            const char *name)
{
	for (int i = 0; c->shorts && c->shorts[i]; i += 2)
		if (!strcmp(c->shorts[i], name))
			name = c->shorts[i + 1];
	for (int t = 0; c->tables[t]; t++)
		for (const struct app_opt *e = c->tables[t]; e->name; e++)
			if (!strcmp(e->name, name))
				return e;
	return NULL;
}

static int app_opts__int(const char *arg, double lo, double hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || (double)v < lo || (double)v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int app_opts__num(const char *arg, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || !(v >= lo) ||
	    !(v <= hi))
		return -EINVAL;
	*out = v;
	return 0;
}

/* "a, b or c" from a NULL-terminated list. */
static void app_opts__choices(char *buf, size_t n, const char *const *list)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; list[i] && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%s",
		                         i == 0        ? ""
		                         : list[i + 1] ? ", "
		                                       : " or ",
		                         list[i]);
}

/* Store `arg` for entry e. Return: 0, or -EINVAL with err set. */
static int app_opts__apply(const struct app_opt *e, void *o, const char *arg,
                           char *err, size_t n)
{
	void *f = app_opts__field(o, e->off);
	long l;
	double d;
	char list[128];

	switch (e->kind) {
	case APP_OPT_FLAG:
		*(bool *)f = true;
		return 0;
	case APP_OPT_SET:
		*(int *)f = e->set;
		return 0;
	case APP_OPT_STR:
		*(const char **)f = arg;
		return 0;
	case APP_OPT_LIST: {
		int *count = app_opts__field(o, e->count);
		if (*count >= (int)e->max) {
			snprintf(err, n, "%s: at most %g", e->name, e->max);
			return -EINVAL;
		}
		((const char **)f)[(*count)++] = arg;
		return 0;
	}
	case APP_OPT_INT:
	case APP_OPT_UINT:
		if (app_opts__int(arg, e->min, e->max, &l) < 0) {
			snprintf(err, n,
			         "%s '%s': must be an integer in %.0f..%.0f",
			         e->name, arg, e->min, e->max);
			return -EINVAL;
		}
		if (e->kind == APP_OPT_INT)
			*(int *)f = (int)l;
		else
			*(unsigned *)f = (unsigned)l;
		return 0;
	case APP_OPT_NUM:
	case APP_OPT_MS:
		if (app_opts__num(arg, e->min, e->max, &d) < 0) {
			snprintf(err, n, "%s '%s': must be a number in %g..%g",
			         e->name, arg, e->min, e->max);
			return -EINVAL;
		}
		if (e->kind == APP_OPT_NUM)
			*(double *)f = d;
		else
			*(unsigned *)f = (unsigned)lround(d);
		return 0;
	case APP_OPT_CHOICE:
		for (int i = 0; e->choices[i]; i++)
			if (!strcmp(arg, e->choices[i])) {
				*(const char **)f = e->choices[i];
				return 0;
			}
		app_opts__choices(list, sizeof(list), e->choices);
		snprintf(err, n, "%s '%s': use %s", e->name, arg, list);
		return -EINVAL;
	case APP_OPT_U32: {
		char *end;
		errno = 0;
		unsigned long long x = strtoull(arg, &end, 0);
		if (errno || end == arg || *end || arg[0] == '-' ||
		    x > UINT32_MAX) {
			snprintf(err, n, "%s '%s': must be 0..4294967295",
			         e->name, arg);
			return -EINVAL;
		}
		*(int64_t *)f = (int64_t)x;
		return 0;
	}
	case APP_OPT_FN: {
		char why[200] = "";
		if (e->fn(o, e, arg, why, sizeof(why)) == 0)
			return 0;
		if (arg)
			snprintf(err, n, "%s '%s': %s", e->name, arg, why);
		else
			snprintf(err, n, "%s: %s", e->name, why);
		return -EINVAL;
	}
	}
	snprintf(err, n, "%s: not parsed", e->name);
	return -EINVAL;
}

/* An optional entry given without '=': the next argument is its value
   when it is no option and the command takes no other arguments or the
   entry accepts it (stored, and *i moves past it).
   Return: 1 when the next argument was taken, 0 when it was not (the
   caller stores "no value"), or -EINVAL with err set. */
static int app_opts__optional(const struct app_cmd *c, const struct app_opt *e,
                              void *o, int argc, char **argv, int *i, char *err,
                              size_t n)
{
	const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;

	if (!next || next[0] == '-')
		return 0;
	/* An entry's fn changes the struct only when it accepts a value. */
	if (app_opts__apply(e, o, next, err, n) < 0)
		return c->max_args > 0 ? 0 : -EINVAL;
	++*i;
	return 1;
}

static int app_opts__fail(const struct app_cmd *c, const char *err)
{
	fprintf(stderr, "rtbridge %s: %s\n", c->name, err);
	return -EINVAL;
}

int app_opts_parse(const struct app_cmd *c, void *o, int argc, char **argv,
                   int *nargs)
{
	char err[320], name[48];
	bool only_args = false;
	int npos = 0;

	memset(o, 0, c->size);
	if (c->init)
		c->init(o);
	if (nargs)
		*nargs = 0;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (only_args || a[0] != '-' || a[1] == '\0') {
			if (npos >= c->max_args) {
				snprintf(err, sizeof(err),
				         "unexpected argument '%s'", a);
				return app_opts__fail(c, err);
			}
			/* Slot 1 + npos was read already: npos < i. */
			argv[1 + npos++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_args = true;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			app_opts_usage(c, stdout);
			return 1;
		}
		/* "--name=value", or "-xVALUE" for a short spelling. */
		const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
		size_t len = eq            ? (size_t)(eq - a)
		             : a[1] == '-' ? strlen(a)
		                           : 2;
		const struct app_opt *e = NULL;
		if (len < sizeof(name)) {
			memcpy(name, a, len);
			name[len] = '\0';
			e = app_opts__find(c, name);
		}
		if (!e) {
			snprintf(err, sizeof(err), "unknown option '%.*s'",
			         a[1] == '-' ? (int)len : (int)strlen(a), a);
			return app_opts__fail(c, err);
		}
		const char *v = NULL;
		if (e->arg) {
			if (eq)
				v = eq + 1;
			else if (a[1] != '-' && a[2] != '\0')
				v = a + 2; /* -p256 */
			else if (e->optional) {
				int rc = app_opts__optional(c, e, o, argc, argv,
				                            &i, err,
				                            sizeof(err));
				if (rc < 0)
					return app_opts__fail(c, err);
				if (rc > 0)
					continue;
			} else if (i + 1 < argc)
				v = argv[++i];
			if (!v && !e->optional) {
				snprintf(err, sizeof(err), "%s needs a value",
				         e->name);
				return app_opts__fail(c, err);
			}
		} else if (eq || (a[1] != '-' && a[2] != '\0')) {
			snprintf(err, sizeof(err), "%s takes no value",
			         e->name);
			return app_opts__fail(c, err);
		}
		if (app_opts__apply(e, o, v, err, sizeof(err)) < 0)
			return app_opts__fail(c, err);
	}
	if (npos == 0 && c->args_missing)
		return app_opts__fail(c, c->args_missing);
	if (nargs)
		*nargs = npos;
	return 0;
}

/* The field's default value as text ("" when it has none to show). */
static void app_opts__default(const struct app_opt *e, const void *d, char *buf,
                              size_t n)
{
	const void *f = d ? (const char *)d + e->off : NULL;
	buf[0] = '\0';
	if (!f)
		return;
	switch (e->kind) {
	case APP_OPT_INT:
		snprintf(buf, n, "%d", *(const int *)f);
		break;
	case APP_OPT_UINT:
	case APP_OPT_MS:
		snprintf(buf, n, "%u", *(const unsigned *)f);
		break;
	case APP_OPT_NUM:
		snprintf(buf, n, "%g", *(const double *)f);
		break;
	case APP_OPT_STR:
	case APP_OPT_CHOICE:
		snprintf(buf, n, "%s",
		         *(const char *const *)f ? *(const char *const *)f
		                                 : "none");
		break;
	default:
		break;
	}
}

/* Expand {range} and {default} in a help text. */
static void app_opts__expand(const struct app_opt *e, const void *defaults,
                             char *out, size_t n)
{
	const char *s = e->help;
	size_t used = 0;
	char val[64];

	while (*s && used + 1 < n) {
		const char *with = NULL;
		size_t skip = 0;
		if (!strncmp(s, "{range}", 7)) {
			snprintf(val, sizeof(val), "%g..%g", e->min, e->max);
			with = val;
			skip = 7;
		} else if (!strncmp(s, "{default}", 9)) {
			app_opts__default(e, defaults, val, sizeof(val));
			with = val;
			skip = 9;
		}
		if (with) {
			used += (size_t)snprintf(out + used, n - used, "%s",
			                         with);
			if (used >= n)
				used = n - 1;
			s += skip;
		} else {
			out[used++] = *s++;
		}
	}
	out[used] = '\0';
}

static void app_opts__left(const struct app_opt *e, char *buf, size_t n)
{
	if (e->usage)
		snprintf(buf, n, "%s", e->usage);
	else if (e->arg && e->optional)
		snprintf(buf, n, "%s[=%s]", e->name, e->arg);
	else if (e->arg)
		snprintf(buf, n, "%s %s", e->name, e->arg);
	else
		snprintf(buf, n, "%s", e->name);
}

static void app_opts__row(FILE *f, const struct app_opt *e, int col,
                          const void *defaults)
{
	char left[96], text[640];
	app_opts__left(e, left, sizeof(left));
	app_opts__expand(e, defaults, text, sizeof(text));
	int pad = col - (int)strlen(left);
	if (pad < 1) {
		/* Too wide for the column: the text starts below it. */
		fprintf(f, "  %s\n%*s", left, col + 2, "");
		pad = 0;
	} else {
		fprintf(f, "  %s%*s", left, pad, "");
	}
	for (const char *line = text; line;) {
		const char *nl = strchr(line, '\n');
		int len = nl ? (int)(nl - line) : (int)strlen(line);
		fprintf(f, "%.*s\n", len, line);
		line = nl ? nl + 1 : NULL;
		if (line)
			fprintf(f, "%*s", col + 2, "");
	}
}

void app_opts_usage(const struct app_cmd *c, FILE *f)
{
	char left[96];
	int col = 0;
	void *defaults = calloc(1, c->size);

	if (defaults && c->init)
		c->init(defaults);
	for (int t = 0; c->tables[t]; t++)
		for (const struct app_opt *e = c->tables[t]; e->name; e++) {
			app_opts__left(e, left, sizeof(left));
			int w = (int)strlen(left) + 2;
			if (e->help && w > col && w <= APP_OPTS_COL_MAX)
				col = w;
		}
	fprintf(f, "%s\n", c->synopsis);
	if (c->about)
		fprintf(f, "\n%s\n", c->about);
	for (int t = 0; c->tables[t]; t++)
		for (const struct app_opt *e = c->tables[t]; e->name; e++)
			if (e->help)
				app_opts__row(f, e, col, defaults);
	free(defaults);
}

int app_opts_play(const char *cmd, const char *device, int *play)
{
	if (device && *play == 0) {
		fprintf(stderr,
		        "rtbridge %s: "
		        "--device and --no-play exclude each other\n",
		        cmd);
		return -EINVAL;
	}
	if (device || *play < 0)
		*play = 1;
	return 0;
}

int app_opts_codec(void *o, const struct app_opt *opt, const char *arg,
                   char *err, size_t n)
{
	int k = codec_kind_parse(arg);
	if (k < 0) {
		snprintf(err, n, "use opus, l16 or l24");
		return -EINVAL;
	}
	*(int *)app_opts__field(o, opt->off) = k;
	return 0;
}
