/*
 * app_opts: one table-driven parser for the options of every command
 *
 * A command describes its options in a table of struct app_opt, one entry
 * per option: its name, what kind of value it takes, where in the
 * command's options struct the value goes (offsetof), the range a number
 * must fall in, and its help text. app_opts_parse walks argv against one
 * or more such tables, checks every value whole and prints one line in
 * one wording when something is wrong:
 *
 *   rtbridge recv: --period '7': must be an integer in 32..8192
 *   rtbridge recv: --gain 'loud': must be a number in -120..24
 *   rtbridge recv: unknown option '--bogus'
 *
 * app_opts_usage prints the same tables as the help text, so the two never
 * disagree; "{range}" and "{default}" in a help text are replaced by the
 * entry's range and the default value of its field. Options take their
 * value as the next argument or after '=' ("--to host:5004",
 * "--to=host:5004"); arguments that are not options (files) may stand
 * anywhere; "--" ends the options. An entry marked `optional` may be
 * given without its value ("--announce", "--announce=239.1.2.3"): its
 * value is the one after '=', or the next argument when that is not an
 * option and either the command takes no other arguments or the entry
 * accepts it (so "--announce song.wav" leaves the file an argument).
 *
 * Adding an option: a field in the command's struct and one entry in its
 * table. Options several commands share (device, play/no-play, period,
 * duration, status line, JSON statistics) have one entry each below, so
 * that they read and check alike everywhere.
 *
 * Context: control (main) thread.
 */
#ifndef RTB_APP_OPTS_H
#define RTB_APP_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bridge/audio/devcfg.h"

enum app_opt_kind {
	APP_OPT_FLAG = 1, /* bool field: true */
	APP_OPT_SET,      /* int field: .set (e.g. --play 1, --no-play 0) */
	APP_OPT_STR,      /* const char * field: the value */
	APP_OPT_LIST,     /* const char * field[.max], int count at .count */
	APP_OPT_INT,      /* int field: an integer in .min...max */
	APP_OPT_UINT,     /* unsigned field: an integer in .min...max */
	APP_OPT_NUM,      /* double field: a number in .min...max (seconds,
	                     dB ...) */
	APP_OPT_MS,       /* unsigned field: milliseconds, a number in
	                     .min...max, rounded to the nearest ms */
	APP_OPT_CHOICE,   /* const char * field: one of .choices */
	APP_OPT_U32,      /* int64_t field: 0..2^32-1, decimal or 0x hex */
	APP_OPT_FN,       /* .fn parses the value */
};

struct app_opt;

/*
 * Parse `arg` for `opt` into the options struct `o` (opt->off is the
 * field's offset).
 *
 * Post: on failure err holds what is wrong after "--name 'arg': "
 * Return: 0, or -EINVAL
 */
typedef int (*app_opt_fn)(void *o, const struct app_opt *opt, const char *arg,
                          char *err, size_t n);

struct app_opt {
	const char *name; /* "--period" */
	enum app_opt_kind kind;
	size_t off;                 /* offsetof the field */
	size_t count;               /* APP_OPT_LIST: offsetof the int count */
	double min, max;            /* range; APP_OPT_LIST: max entries */
	int set;                    /* APP_OPT_SET: the value stored */
	const char *const *choices; /* APP_OPT_CHOICE: NULL-terminated */
	app_opt_fn fn;              /* APP_OPT_FN */
	bool optional;              /* APP_OPT_FN: the value may be left
	                               out; fn then gets arg NULL */
	const char *arg;   /* the value's name in the help ("N"); NULL for
	                      an option without a value */
	const char *usage; /* the help's left column, when not "name arg" */
	const char *help;  /* lines separated by '\n'; NULL: not listed (a
	                      partner's line covers it) */
};

/* A command: its name, its tables and what its help says around them. */
struct app_cmd {
	const char *name;     /* "recv": errors read "rtbridge recv: ..." */
	const char *synopsis; /* the "usage: ..." lines */
	const char *about;    /* a paragraph before the options, or NULL */
	const struct app_opt *tables[4]; /* up to NULL; each table ends
	                                    with an entry whose name is NULL */
	size_t size;                     /* sizeof the options struct */
	void (*init)(void *o);           /* set the defaults (after zeroing) */
	int max_args;                    /* arguments that are not options */
	const char *args_missing;  /* NULL, or the error when none is given */
	const char *const *shorts; /* NULL, or pairs "-p", "--period", ...,
	                              NULL: short spellings */
};

/*
 * Parse argv (argv[0] is the command's name) into `o`, which is zeroed
 * and given its defaults first.
 *
 * Post: the arguments that are not options are moved, in order, to
 *       argv[1 .. *nargs]; on failure one line was printed on stderr
 * Return: 0, 1 when -h/--help was asked (the help is printed on stdout),
 *         or -EINVAL
 */
int app_opts_parse(const struct app_cmd *c, void *o, int argc, char **argv,
                   int *nargs);

/* Print the help text: synopsis, about, then every listed option. */
void app_opts_usage(const struct app_cmd *c, FILE *f);

/*
 * Settle --device against --play / --no-play: a device implies --play,
 * and --play is the default.
 *
 * Return: 0, or -EINVAL (both --device and --no-play; one line printed)
 */
int app_opts_play(const char *cmd, const char *device, int *play);

/* Parse a codec name into an int field (enum codec_kind). */
int app_opts_codec(void *o, const struct app_opt *opt, const char *arg,
                   char *err, size_t n);

/* One entry a line: name, field (offsetof), range, the value's name in
 * the help, help text. */
#define APP_FLAG(nm, field, text)                                              \
	{                                                                      \
		.name = (nm), .kind = APP_OPT_FLAG, .off = (field),            \
		.help = (text)                                                 \
	}
#define APP_SET(nm, field, value, text)                                        \
	{                                                                      \
		.name = (nm), .kind = APP_OPT_SET, .off = (field),             \
		.set = (value), .help = (text)                                 \
	}
#define APP_STR(nm, field, argname, text)                                      \
	{                                                                      \
		.name = (nm), .kind = APP_OPT_STR, .off = (field),             \
		.arg = (argname), .help = (text)                               \
	}
#define APP_RANGE(nm, k, field, lo, hi, argname, text)                         \
	{                                                                      \
		.name = (nm), .kind = (k), .off = (field), .min = (lo),        \
		.max = (hi), .arg = (argname), .help = (text)                  \
	}
#define APP_INT(nm, field, lo, hi, argname, text)                              \
	APP_RANGE(nm, APP_OPT_INT, field, lo, hi, argname, text)
#define APP_UINT(nm, field, lo, hi, argname, text)                             \
	APP_RANGE(nm, APP_OPT_UINT, field, lo, hi, argname, text)
#define APP_NUM(nm, field, lo, hi, argname, text)                              \
	APP_RANGE(nm, APP_OPT_NUM, field, lo, hi, argname, text)
#define APP_MS(nm, field, lo, hi, argname, text)                               \
	APP_RANGE(nm, APP_OPT_MS, field, lo, hi, argname, text)
#define APP_FN(nm, func, field, argname, text)                                 \
	{                                                                      \
		.name = (nm), .kind = APP_OPT_FN, .fn = (func),                \
		.off = (field), .arg = (argname), .help = (text)               \
	}
#define APP_FN_OPTIONAL(nm, func, field, argname, text)                        \
	{                                                                      \
		.name = (nm), .kind = APP_OPT_FN, .fn = (func),                \
		.off = (field), .arg = (argname), .optional = true,            \
		.help = (text)                                                 \
	}
#define APP_CHOICE(nm, field, list, argname, text)                             \
	{                                                                      \
		.name = (nm), .kind = APP_OPT_CHOICE, .off = (field),          \
		.choices = (list), .arg = (argname), .help = (text)            \
	}
#define APP_LIST(nm, field, countfield, most, argname, text)                   \
	{                                                                      \
		.name = (nm), .kind = APP_OPT_LIST, .off = (field),            \
		.count = (countfield), .max = (most), .arg = (argname),        \
		.help = (text)                                                 \
	}
#define APP_U32(nm, field, argname, text)                                      \
	{                                                                      \
		.name = (nm), .kind = APP_OPT_U32, .off = (field),             \
		.arg = (argname), .help = (text)                               \
	}
#define APP_OPT_END                                                            \
	{                                                                      \
		.name = NULL                                                   \
	}

/* The options several commands share: one spelling, range and text. */
#define APP_OPT_CODEC(field)                                                   \
	APP_FN("--codec", app_opts_codec, field, "opus|l16|l24",               \
	       "payload codec (default opus)")
#define APP_OPT_PT(field)                                                      \
	APP_INT("--pt", field, 0, 127, "N", "RTP payload type (default 96)")
#define APP_OPT_DEVICE(field)                                                  \
	APP_STR("--device", field, "D",                                        \
	        "PortAudio device: index, name substring, or HOSTAPI:NAME\n"   \
	        "(see `rtbridge devices`); default: the default device")
#define APP_OPT_PLAY(field)                                                    \
	APP_SET("--play", field, 1,                                            \
	        "play on a PortAudio device (the default when one exists)")
#define APP_OPT_NO_PLAY(field)                                                 \
	APP_SET("--no-play", field, 0,                                         \
	        "run on the virtual clock (real time) without a device")
#define APP_OPT_PERIOD(field)                                                  \
	APP_UINT("--period", field, DEVCFG_PERIOD_MIN, DEVCFG_PERIOD_MAX, "N", \
	         "frames per audio callback ({range}, default {default})")
#define APP_OPT_DURATION(field, what)                                          \
	APP_NUM("--duration", field, 0.001, 1e7, "SEC",                        \
	        "stop after SEC seconds" what)
#define APP_OPT_STATUS(field)                                                  \
	APP_FLAG("--status", field,                                            \
	         "draw the status line even when stderr is not a terminal")
#define APP_OPT_METRICS(field)                                                 \
	APP_STR("--metrics", field, "[ADDR:]PORT",                             \
	        "serve Prometheus / OpenMetrics text at\n"                     \
	        "http://ADDR:PORT/metrics (ADDR 127.0.0.1 unless given;\n"     \
	        "port 0: any free port), from the net thread already\n"        \
	        "running (no thread of its own)")
#define APP_OPT_STATS_JSON(field)                                              \
	APP_STR("--stats-json", field, "PATH|-",                               \
	        "one JSON object per stream per interval, and a summary")

#endif
