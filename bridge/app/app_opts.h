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
 * anywhere; "--" ends the options.
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
	char short_name;  /* 'p' for -p, or 0 */
	enum app_opt_kind kind;
	size_t off;                 /* offsetof the field */
	size_t count;               /* APP_OPT_LIST: offsetof the int count */
	double min, max;            /* range; APP_OPT_LIST: max entries */
	int set;                    /* APP_OPT_SET: the value stored */
	const char *const *choices; /* APP_OPT_CHOICE: NULL-terminated */
	app_opt_fn fn;              /* APP_OPT_FN */
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
	const struct app_opt *const *tables; /* NULL-terminated list of
	                                        tables, each ending with an
	                                        entry whose name is NULL */
	size_t size;                         /* sizeof the options struct */
	void (*init)(void *o);    /* set the defaults (after zeroing) */
	int max_args;             /* arguments that are not options */
	const char *args_missing; /* NULL, or the error when none is given */
};

/*
 * Parse argv (argv[0] is the command's name) into `o`, which is zeroed
 * and given its defaults first.
 *
 * Post: the arguments that are not options are moved, in order, to
 *       argv[1 .. *nargs]; on failure one line was printed on stderr
 * Return: 0, 1 when -h/--help was asked (nothing printed), or -EINVAL
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

/* The options several commands share: one spelling, range and text. */
#define APP_OPT_DEVICE(field)                                                  \
	{                                                                      \
		.name = "--device", .short_name = 'd', .kind = APP_OPT_STR,    \
		.off = (field), .arg = "D",                                    \
		.help = "PortAudio device: index, name substring, or "         \
		        "HOSTAPI:NAME\n"                                       \
		        "(see `rtbridge devices`); default: the default "      \
		        "device"                                               \
	}
#define APP_OPT_PLAY(field)                                                    \
	{                                                                      \
		.name = "--play", .kind = APP_OPT_SET, .off = (field),         \
		.set = 1,                                                      \
		.help = "play on a PortAudio device (the default when one "    \
		        "exists)"                                              \
	}
#define APP_OPT_NO_PLAY(field)                                                 \
	{                                                                      \
		.name = "--no-play", .short_name = 'n', .kind = APP_OPT_SET,   \
		.off = (field), .set = 0,                                      \
		.help = "run on the virtual clock (real time) without a "      \
		        "device"                                               \
	}
#define APP_OPT_PERIOD(field)                                                  \
	{                                                                      \
		.name = "--period", .short_name = 'p', .kind = APP_OPT_UINT,   \
		.off = (field), .min = DEVCFG_PERIOD_MIN,                      \
		.max = DEVCFG_PERIOD_MAX, .arg = "N",                          \
		.help = "frames per audio callback ({range}, default "         \
		        "{default})"                                           \
	}
#define APP_OPT_DURATION(field, what)                                          \
	{                                                                      \
		.name = "--duration", .kind = APP_OPT_NUM, .off = (field),     \
		.min = 0.001, .max = 1e7, .arg = "SEC",                        \
		.help = "stop after SEC seconds" what                          \
	}
#define APP_OPT_STATUS(field)                                                  \
	{                                                                      \
		.name = "--status", .kind = APP_OPT_FLAG, .off = (field),      \
		.help = "draw the status line even when stderr is not a "      \
		        "terminal"                                             \
	}
#define APP_OPT_STATS_JSON(field)                                              \
	{                                                                      \
		.name = "--stats-json", .kind = APP_OPT_STR, .off = (field),   \
		.arg = "PATH|-",                                               \
		.help = "one JSON object per stream per interval, and a "      \
		        "summary"                                              \
	}
#define APP_OPT_END                                                            \
	{                                                                      \
		.name = NULL                                                   \
	}

#endif
