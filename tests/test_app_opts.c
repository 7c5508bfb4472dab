/*
 * test_app_opts: the table-driven option parser of every command
 *
 * A small table of each kind parses its values whole and refuses the
 * rest with one line in one wording; values come after a space or '=',
 * short spellings take "-p N" and "-pN", arguments that are not options
 * are gathered in order, "--" ends the options; --help prints the table
 * with {range} and {default} filled in; an optional value is taken
 * after '=', or from the next word when the entry accepts it or the
 * command has no other arguments. Errors go to stderr, which the
 * test reads back from a temporary file.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bridge/app/app_opts.h"
#include "codec/codec.h"

struct t_opts {
	bool flag;
	int play;
	const char *str;
	const char *list[2];
	int nlist;
	int i;
	unsigned u;
	double num;
	unsigned ms;
	const char *choice;
	int64_t id;
	int kind;
	int opt_given;       /* --opt: times given */
	const char *opt_val; /* its value, NULL: none */
};

#define T(f) offsetof(struct t_opts, f)

static const char *const t_choices[] = {"wav", "flac", NULL};

/* --opt[=grpN]: a value, when given, starts with "grp". */
static int t_opt(void *p, const struct app_opt *opt, const char *arg, char *err,
                 size_t n)
{
	struct t_opts *t = p;
	(void)opt;
	if (arg && strncmp(arg, "grp", 3) != 0) {
		snprintf(err, n, "not a group");
		return -EINVAL;
	}
	t->opt_given++;
	t->opt_val = arg;
	return 0;
}

static const struct app_opt t_table[] = {
        APP_FLAG("--flag", T(flag), "a flag"),
        APP_OPT_PLAY(T(play)),
        APP_OPT_NO_PLAY(T(play)),
        APP_STR("--str", T(str), "S", "a string"),
        APP_LIST("--list", T(list), T(nlist), 2, "X", "at most two"),
        APP_INT("--int", T(i), -5, 5, "N", "an int in {range}"),
        APP_UINT("--uint", T(u), 16, 4096, "N",
                 "an unsigned ({range}, default {default})"),
        APP_NUM("--num", T(num), 0.5, 2, "X", "a number, default {default}"),
        APP_MS("--ms", T(ms), 0, 100, "MS", "milliseconds"),
        APP_CHOICE("--choice", T(choice), t_choices, "F", "a choice"),
        APP_U32("--id", T(id), "N", "a 32-bit id"),
        APP_OPT_CODEC(T(kind)),
        APP_FN_OPTIONAL("--opt", t_opt, 0, "GRP", "an optional value"),
        APP_OPT_END,
};

static void t_init(void *p)
{
	struct t_opts *o = p;
	o->play = -1;
	o->u = 128;
	o->num = 1.5;
	o->id = -1;
	o->kind = -1;
}

static const char *const t_shorts[] = {"-u", "--uint", NULL};

static const struct app_cmd t_cmd = {
        .name = "test",
        .synopsis = "usage: rtbridge test [options] ARG",
        .about = "A test command.",
        .tables = {t_table},
        .size = sizeof(struct t_opts),
        .init = t_init,
        .max_args = 2,
        .shorts = t_shorts,
};

static struct t_opts o;
static int nargs;

/* Parse a NULL-terminated list of words after the command name. */
static int parse(const char **words)
{
	static char *argv[32];
	int argc = 0;
	argv[argc++] = "test";
	for (int i = 0; words[i]; i++)
		argv[argc++] = (char *)words[i];
	argv[argc] = NULL;
	return app_opts_parse(&t_cmd, &o, argc, argv, &nargs);
}

static char *stderr_text(void)
{
	static char buf[4096];
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	return buf;
}

TestSuite(app_opts, .init = cr_redirect_stderr, .timeout = 10);

Test(app_opts, values_of_every_kind_are_stored)
{
	const char *w[] = {"a1",    "--flag",       "--no-play", "--str",
	                   "hello", "--list=x",     "--list",    "y",
	                   "--int", "-5",           "-u512",     "--num=2",
	                   "--ms",  "2.6",          "--choice",  "flac",
	                   "--id",  "0xffffffff",   "--codec",   "l24",
	                   "--",    "--not-an-opt", NULL};
	cr_assert_eq(parse(w), 0, "%s", stderr_text());
	cr_expect(o.flag);
	cr_expect_eq(o.play, 0);
	cr_expect_str_eq(o.str, "hello");
	cr_expect_eq(o.nlist, 2);
	cr_expect_str_eq(o.list[0], "x");
	cr_expect_str_eq(o.list[1], "y");
	cr_expect_eq(o.i, -5);
	cr_expect_eq(o.u, 512);
	cr_expect_eq(o.num, 2.0);
	cr_expect_eq(o.ms, 3);
	cr_expect_str_eq(o.choice, "flac");
	cr_expect_eq(o.id, 0xffffffffll);
	cr_expect_eq(o.kind, CODEC_L24);
	cr_expect_eq(nargs, 2);
}

Test(app_opts, defaults_hold_when_nothing_is_given)
{
	const char *w[] = {NULL};
	cr_assert_eq(parse(w), 0);
	cr_expect_eq(o.play, -1);
	cr_expect_eq(o.u, 128);
	cr_expect_eq(o.num, 1.5);
	cr_expect_eq(o.id, -1);
	cr_expect_eq(nargs, 0);
}

/* One refusal: -EINVAL and exactly `line` on stderr. */
static void refused(const char **w, const char *line)
{
	cr_assert_eq(parse(w), -EINVAL);
	cr_expect_str_eq(stderr_text(), line);
}

Test(app_opts, an_integer_out_of_range_says_the_range)
{
	const char *w[] = {"--uint", "7", NULL};
	refused(w, "rtbridge test: --uint '7': must be an integer in "
	           "16..4096\n");
}

Test(app_opts, a_number_with_trailing_junk_is_refused)
{
	const char *w[] = {"--num", "1.0x", NULL};
	refused(w, "rtbridge test: --num '1.0x': must be a number in 0.5..2\n");
}

Test(app_opts, an_unknown_option_is_named)
{
	const char *w[] = {"--bogus=3", NULL};
	refused(w, "rtbridge test: unknown option '--bogus'\n");
}

Test(app_opts, a_missing_value_is_said)
{
	const char *w[] = {"--str", NULL};
	refused(w, "rtbridge test: --str needs a value\n");
}

Test(app_opts, a_flag_given_a_value_is_refused)
{
	const char *w[] = {"--flag=1", NULL};
	refused(w, "rtbridge test: --flag takes no value\n");
}

Test(app_opts, a_choice_lists_the_choices)
{
	const char *w[] = {"--choice", "mp3", NULL};
	refused(w, "rtbridge test: --choice 'mp3': use wav or flac\n");
}

Test(app_opts, a_full_list_is_refused)
{
	const char *w[] = {"--list", "a", "--list", "b", "--list", "c", NULL};
	refused(w, "rtbridge test: --list: at most 2\n");
}

Test(app_opts, a_bad_id_or_codec_is_refused)
{
	const char *w[] = {"--id", "-1", NULL};
	refused(w, "rtbridge test: --id '-1': must be 0..4294967295\n");
}

Test(app_opts, a_bad_codec_says_which_exist)
{
	const char *w[] = {"--codec", "mp3", NULL};
	refused(w, "rtbridge test: --codec 'mp3': use opus, l16 or l24\n");
}

Test(app_opts, too_many_arguments_are_refused)
{
	const char *w[] = {"a", "b", "c", NULL};
	refused(w, "rtbridge test: unexpected argument 'c'\n");
}

Test(app_opts, device_and_no_play_exclude_each_other)
{
	int play = 0;
	cr_assert_eq(app_opts_play("test", "JACK:", &play), -EINVAL);
	cr_expect_str_eq(stderr_text(), "rtbridge test: --device and "
	                                "--no-play exclude each other\n");
	play = -1;
	cr_assert_eq(app_opts_play("test", NULL, &play), 0);
	cr_expect_eq(play, 1, "--play is the default");
}

Test(app_opts, help_prints_the_table_with_ranges_and_defaults,
     .init = cr_redirect_stdout)
{
	const char *w[] = {"--help", NULL};
	cr_assert_eq(parse(w), 1);
	fflush(stdout);
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, cr_get_redirected_stdout());
	buf[n] = '\0';
	cr_expect(strstr(buf, "usage: rtbridge test [options] ARG\n\n"
	                      "A test command.\n"),
	          "%s", buf);
	cr_expect(strstr(buf, "  --uint N ") &&
	                  strstr(buf, " an unsigned (16..4096, default 128)\n"),
	          "%s", buf);
	cr_expect(strstr(buf, " a number, default 1.5\n"), "%s", buf);
	cr_expect(strstr(buf, " an int in -5..5\n"), "%s", buf);
	/* One column for the help texts. */
	const char *u = strstr(buf, "  --uint N"), *f = strstr(buf, "  --flag");
	cr_expect_eq(strstr(u, "an unsigned") - u, strstr(f, "a flag") - f);
}

Test(app_opts, an_optional_value_is_taken_when_it_fits)
{
	const char *bare[] = {"--opt", "--flag", NULL};
	cr_assert_eq(parse(bare), 0, "%s", stderr_text());
	cr_expect_eq(o.opt_given, 1);
	cr_expect_null(o.opt_val);
	cr_expect(o.flag);

	const char *eq[] = {"--opt=grp1", NULL};
	cr_assert_eq(parse(eq), 0);
	cr_expect_str_eq(o.opt_val, "grp1");

	/* The next word: taken when the entry accepts it, an argument when
	   not; applied once either way. */
	const char *next[] = {"--opt", "grp2", "file", NULL};
	cr_assert_eq(parse(next), 0);
	cr_expect_eq(o.opt_given, 1);
	cr_expect_str_eq(o.opt_val, "grp2");
	cr_expect_eq(nargs, 1);
	const char *file[] = {"--opt", "song.wav", NULL};
	cr_assert_eq(parse(file), 0);
	cr_expect_eq(o.opt_given, 1);
	cr_expect_null(o.opt_val);
	cr_expect_eq(nargs, 1);
}

Test(app_opts, an_optional_value_is_checked_when_there_are_no_arguments)
{
	struct app_cmd c = t_cmd;
	c.max_args = 0;
	char *argv[] = {"test", "--opt", "song.wav", NULL};
	cr_assert_eq(app_opts_parse(&c, &o, 3, argv, NULL), -EINVAL);
	cr_expect_str_eq(stderr_text(),
	                 "rtbridge test: --opt 'song.wav': not a group\n");
}

Test(app_opts, help_shows_an_optional_value_in_brackets,
     .init = cr_redirect_stdout)
{
	app_opts_usage(&t_cmd, stdout);
	fflush(stdout);
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, cr_get_redirected_stdout());
	buf[n] = '\0';
	cr_expect(strstr(buf, "  --opt[=GRP] "), "%s", buf);
}
