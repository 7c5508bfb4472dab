/*
 * relay_opts: one table of options serves both the command line and the
 * environment, so the two can never disagree on names or units.
 */
#include "tools/relay/relay_opts.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_kind {
	OPT_LISTEN,
	OPT_TO,
	OPT_TEE,
	OPT_TRACE,
	OPT_SEED,
	OPT_LOSS,
	OPT_BURST,
	OPT_DELAY,
	OPT_JITTER,
	OPT_KEEP_ORDER,
	OPT_REORDER,
	OPT_REORDER_GAP,
	OPT_DUPLICATE,
	OPT_SKEW,
	OPT_SKEW_PPM,
	OPT_DURATION,
	OPT_MAX_PACKETS,
	OPT_POOL,
	OPT_MAX_SIZE,
	OPT_FLOOD_DUPS,
	OPT_STATS,
	OPT_QUIET,
	OPT_HELP,
};

struct opt_def {
	const char *name; /* without the leading "--" */
	enum opt_kind kind;
	bool flag; /* takes no value on the command line */
};

static const struct opt_def opt_defs[] = {
        {"listen", OPT_LISTEN, false},
        {"to", OPT_TO, false},
        {"tee", OPT_TEE, false},
        {"trace", OPT_TRACE, false},
        {"seed", OPT_SEED, false},
        {"loss", OPT_LOSS, false},
        {"burst", OPT_BURST, false},
        {"delay", OPT_DELAY, false},
        {"jitter", OPT_JITTER, false},
        {"no-reorder-by-jitter", OPT_KEEP_ORDER, true},
        {"reorder", OPT_REORDER, false},
        {"reorder-gap", OPT_REORDER_GAP, false},
        {"duplicate", OPT_DUPLICATE, false},
        {"skew", OPT_SKEW, false},
        {"skew-ppm", OPT_SKEW_PPM, false},
        {"duration", OPT_DURATION, false},
        {"max-packets", OPT_MAX_PACKETS, false},
        {"pool", OPT_POOL, false},
        {"max-size", OPT_MAX_SIZE, false},
        {"flood-dups", OPT_FLOOD_DUPS, false},
        {"stats", OPT_STATS, true},
        {"quiet", OPT_QUIET, true},
        {"help", OPT_HELP, true},
};

#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

static const char usage[] =
        "usage: relay --listen ADDR:PORT --to HOST:PORT [options]\n"
        "  --tee HOST:PORT       also send every copy sent to --to here "
        "(two\n"
        "                        receivers see the same impaired stream)\n"
        "  --trace FILE          one line per datagram received: index, "
        "bytes,\n"
        "                        copies scheduled (0: dropped), its first 12 "
        "bytes\n"
        "                        in hex\n"
        "  --seed N              generator seed (default: from the clock, "
        "printed)\n"
        "  --loss PCT            independent packet loss\n"
        "  --burst P_GB,P_BG[,LOSS_GOOD,LOSS_BAD]\n"
        "                        Gilbert-Elliott loss, all in percent per "
        "packet\n"
        "                        (LOSS_GOOD default 0, LOSS_BAD default 100)\n"
        "  --delay MS            mean extra delay\n"
        "  --jitter MS           uniform jitter in [-MS, +MS] around the "
        "delay\n"
        "  --no-reorder-by-jitter  jitter never reorders packets\n"
        "  --reorder PCT         hold this share of packets back by the gap\n"
        "  --reorder-gap MS      hold-back time (default: 2 packet intervals)\n"
        "  --duplicate PCT       send a second copy of this share of packets\n"
        "  --skew-ppm PPM        emulate a sender clock PPM fast (+) or slow\n"
        "                        (-): the added delay changes linearly, so\n"
        "                        a fast sender needs --delay >= PPM * run "
        "length\n"
        "  --skew PPM            the same as a stretch of the timeline: "
        "release at\n"
        "                        t0+(t-t0)*(1+PPM/1e6) (--skew-ppm P is "
        "--skew\n"
        "                        1e6/(1+P/1e6)-1e6)\n"
        "  --duration SEC        stop receiving after SEC, flush, exit\n"
        "  --max-packets N       stop receiving after N datagrams, flush, "
        "exit\n"
        "  --pool N              payload slots (default 1024)\n"
        "  --max-size BYTES      largest datagram relayed (default 9216)\n"
        "  --flood-dups PPS      also send PPS copies per second of the "
        "latest\n"
        "                        relayed datagrams (a duplicate flood), "
        "unimpaired\n"
        "  --stats               print counters as one JSON line on stdout at "
        "exit\n"
        "  --quiet               no informational lines on stderr\n"
        "Every option also reads from RELAY_<NAME> (e.g. RELAY_REORDER_GAP); "
        "the command line wins.\n";

const char *relay_opts_usage(void)
{
	return usage;
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool parse_double(const char *s, double *out)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return false;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v))
		return false;
	*out = v;
	return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

static bool parse_flag(const char *s, bool *out)
{
	static const char *yes[] = {"1", "true", "yes", "on", ""};
	static const char *no[] = {"0", "false", "no", "off"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* A percentage in [0, 100] as a probability. */
static bool parse_pct(const char *s, double *p)
{
	double v;

	if (!parse_double(s, &v) || v < 0.0 || v > 100.0)
		return false;
	*p = v / 100.0;
	return true;
}

/* Milliseconds in [0, one hour] as nanoseconds. */
static bool parse_ms(const char *s, int64_t *ns)
{
	double v;

	if (!parse_double(s, &v) || v < 0.0 ||
	    v * 1e6 > (double)IMPAIR_MAX_TIME_NS)
		return false;
	*ns = llround(v * 1e6);
	return true;
}

static bool parse_burst(const char *s, struct impair_config *c)
{
	double v[4] = {0.0, 0.0, 0.0, 1.0};
	char buf[128];
	int n = 0;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == 4 || !parse_pct(tok, &v[n]))
			return false;
		n++;
	}
	if (n < 2)
		return false;
	c->burst = true;
	c->ge_p_gb = v[0];
	c->ge_p_bg = v[1];
	c->ge_loss_good = v[2];
	c->ge_loss_bad = v[3];
	return true;
}

int relay_opts_split_addr(const char *s, char *host, size_t host_len,
                          char *port, size_t port_len, char *err,
                          size_t err_len)
{
	const char *h = s, *colon;
	size_t hl;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return fail(err, err_len, "'%s': expected [IPV6]:PORT",
			            s);
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return fail(err, err_len, "'%s': expected HOST:PORT",
			            s);
		if (memchr(s, ':', (size_t)(colon - s)))
			return fail(err, err_len,
			            "'%s': put an IPv6 address in brackets, "
			            "[ADDR]:PORT",
			            s);
		hl = (size_t)(colon - s);
	}
	uint64_t pnum;
	const char *p = colon + 1;
	if (!parse_u64(p, &pnum) || pnum > 65535)
		return fail(err, err_len, "'%s': port must be 0..65535", s);
	if (hl >= host_len || strlen(p) >= port_len)
		return fail(err, err_len, "'%s': address too long", s);
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, port_len, "%u", (unsigned)pnum);
	return 0;
}

/* A destination (--to, --tee): a host and a non-zero port, into buffers
   of RELAY_OPTS_ADDR_MAX and 16 bytes. */
static int split_dest(const char *val, const char *src, char *host, char *port,
                      char *err, size_t err_len)
{
	int rc = relay_opts_split_addr(val, host, RELAY_OPTS_ADDR_MAX, port, 16,
	                               err, err_len);
	if (rc < 0)
		return rc;
	if (host[0] == '\0' || strcmp(port, "0") == 0)
		return fail(err, err_len,
		            "%s '%s': needs a host and a non-zero port", src,
		            val);
	return 0;
}

/* Apply one option; `src` names it in messages ("--loss", "RELAY_LOSS"). */
static int apply(struct relay_opts *o, const struct opt_def *d, const char *val,
                 const char *src, char *err, size_t err_len)
{
	struct impair_config *c = &o->impair;
	bool ok = true;
	double dv;
	uint64_t uv;
	int rc;

	switch (d->kind) {
	case OPT_LISTEN:
		rc = relay_opts_split_addr(
		        val, o->listen_host, sizeof(o->listen_host),
		        o->listen_port, sizeof(o->listen_port), err, err_len);
		if (rc < 0)
			return rc;
		o->have_listen = true;
		break;
	case OPT_TO:
		rc = split_dest(val, src, o->to_host, o->to_port, err, err_len);
		if (rc < 0)
			return rc;
		o->have_to = true;
		break;
	case OPT_TEE:
		rc = split_dest(val, src, o->tee_host, o->tee_port, err,
		                err_len);
		if (rc < 0)
			return rc;
		o->have_tee = true;
		break;
	case OPT_TRACE:
		if (val[0] == '\0' || strlen(val) >= sizeof(o->trace))
			return fail(err, err_len,
			            "%s: a file name of 1..%zu bytes", src,
			            sizeof(o->trace) - 1);
		memcpy(o->trace, val, strlen(val) + 1);
		break;
	case OPT_SEED:
		ok = parse_u64(val, &o->seed);
		o->have_seed = ok;
		break;
	case OPT_LOSS:
		ok = parse_pct(val, &c->loss);
		break;
	case OPT_BURST:
		ok = parse_burst(val, c);
		if (ok && c->ge_p_bg == 0.0 && c->ge_p_gb > 0.0)
			return fail(err, err_len,
			            "%s '%s': P_BG must be > 0 or bursts never "
			            "end",
			            src, val);
		break;
	case OPT_DELAY:
		ok = parse_ms(val, &c->delay_ns);
		break;
	case OPT_JITTER:
		ok = parse_ms(val, &c->jitter_ns);
		break;
	case OPT_REORDER_GAP:
		ok = parse_ms(val, &c->reorder_gap_ns);
		break;
	case OPT_REORDER:
		ok = parse_pct(val, &c->reorder);
		break;
	case OPT_DUPLICATE:
		ok = parse_pct(val, &c->duplicate);
		break;
	case OPT_SKEW:
		ok = parse_double(val, &dv) && fabs(dv) <= IMPAIR_MAX_SKEW_PPM;
		if (ok)
			c->skew_ppm = dv;
		break;
	case OPT_SKEW_PPM:
		/* A sender clock fast by P sends (1 + P) times as often:
		   the relayed timeline is shorter by that factor. */
		ok = parse_double(val, &dv) && fabs(dv) <= IMPAIR_MAX_SKEW_PPM;
		if (ok)
			c->skew_ppm = 1e6 / (1.0 + dv * 1e-6) - 1e6;
		break;
	case OPT_DURATION:
		ok = parse_double(val, &dv) && dv >= 0.0 && dv <= 1e7;
		if (ok)
			o->duration_s = dv;
		break;
	case OPT_MAX_PACKETS:
		ok = parse_u64(val, &o->max_packets);
		break;
	case OPT_POOL:
		ok = parse_u64(val, &uv) && uv >= 1 && uv <= (1u << 20);
		if (ok)
			o->pool = (size_t)uv;
		break;
	case OPT_MAX_SIZE:
		ok = parse_u64(val, &uv) && uv >= 1 && uv <= 65536;
		if (ok)
			o->max_size = (size_t)uv;
		break;
	case OPT_FLOOD_DUPS:
		ok = parse_u64(val, &uv) && uv <= 1000000;
		if (ok)
			o->flood_dups = (unsigned)uv;
		break;
	case OPT_KEEP_ORDER:
		ok = parse_flag(val, &c->keep_order);
		break;
	case OPT_STATS:
		ok = parse_flag(val, &o->stats);
		break;
	case OPT_QUIET:
		ok = parse_flag(val, &o->quiet);
		break;
	case OPT_HELP:
		ok = parse_flag(val, &o->help);
		break;
	}
	if (!ok)
		return fail(err, err_len, "%s: bad value '%s' (see --help)",
		            src, val);
	return 0;
}

static void env_name(const char *opt, char *out, size_t out_len)
{
	size_t n = (size_t)snprintf(out, out_len, "RELAY_");

	for (; *opt && n + 1 < out_len; opt++, n++)
		out[n] = *opt == '-' ? '_' : (char)toupper((unsigned char)*opt);
	out[n] = '\0';
}

static const struct opt_def *find_opt(const char *name, size_t len)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (strlen(opt_defs[i].name) == len &&
		    strncmp(opt_defs[i].name, name, len) == 0)
			return &opt_defs[i];
	return NULL;
}

int relay_opts_parse(struct relay_opts *o, int argc, char **argv, char *err,
                     size_t err_len)
{
	char src[64];
	int rc;

	memset(o, 0, sizeof(*o));
	impair_config_default(&o->impair);
	o->pool = RELAY_OPTS_DEFAULT_POOL;
	o->max_size = RELAY_OPTS_DEFAULT_MAX_SIZE;

	for (size_t i = 0; i < N_OPTS; i++) {
		env_name(opt_defs[i].name, src, sizeof(src));
		const char *val = getenv(src);
		if (!val || opt_defs[i].kind == OPT_HELP)
			continue;
		rc = apply(o, &opt_defs[i], val, src, err, err_len);
		if (rc < 0)
			return rc;
	}

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strncmp(arg, "--", 2) != 0)
			return fail(err, err_len, "unexpected argument '%s'",
			            arg);
		const char *name = arg + 2;
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const struct opt_def *d = find_opt(name, len);
		if (!d)
			return fail(err, err_len, "unknown option '%s'", arg);
		snprintf(src, sizeof(src), "--%s", d->name);
		const char *val;
		if (eq)
			val = eq + 1;
		else if (d->flag)
			val = "1";
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return fail(err, err_len, "%s needs a value", src);
		rc = apply(o, d, val, src, err, err_len);
		if (rc < 0)
			return rc;
	}

	if (o->help)
		return 0;
	if (!o->have_listen)
		return fail(err, err_len,
		            "--listen ADDR:PORT is required (or RELAY_LISTEN)");
	if (!o->have_to)
		return fail(err, err_len,
		            "--to HOST:PORT is required (or RELAY_TO)");
	if (impair_config_check(&o->impair) < 0)
		return fail(err, err_len, "impairment settings out of range");
	return 0;
}
