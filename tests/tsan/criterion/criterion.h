/*
 * A small stand-in for Criterion, used only in ThreadSanitizer builds
 *
 * Criterion's sandbox (boxfort) cannot place its shared arena inside TSan's
 * memory layout (Criterion issue #274: "Could not initialize inheritable
 * arena"), so TSan builds compile the concurrency tests against this header
 * instead. It keeps Criterion's semantics where our tests rely on them:
 * every test runs in a forked child (fresh globals; a crash fails only that
 * test), .init/.fini/.timeout from Test() and TestSuite() apply, cr_expect
 * records a failure and carries on, cr_skip_test skips. Only the assertion
 * macros the project uses are provided; a test using another one does not
 * compile here, which is the signal to add it.
 */
#ifndef RTB_TSAN_CRITERION_H
#define RTB_TSAN_CRITERION_H

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct crs_test {
	const char *suite;
	const char *name;
	void (*fn)(void);
	void (*init)(void);
	void (*fini)(void);
	double timeout; /* seconds; 0: the suite's, or none */
	int disabled;
	const char *description;
	struct crs_test *next;
};

static struct crs_test *crs_tests, *crs_suites;
static int crs_expect_failed;

#define CRS_SKIP_CODE 77

static void crs_add(struct crs_test **list, struct crs_test *t)
{
	struct crs_test **p = list;
	while (*p)
		p = &(*p)->next;
	*p = t;
}

#define Test(suite_, name_, ...)                                               \
	static void crs_fn_##suite_##_##name_(void);                           \
	static struct crs_test crs_t_##suite_##_##name_ = {                    \
	        .suite = #suite_,                                              \
	        .name = #name_,                                                \
	        .fn = crs_fn_##suite_##_##name_,                               \
	        __VA_ARGS__};                                                  \
	__attribute__((constructor)) static void crs_reg_##suite_##_##name_(   \
	        void)                                                          \
	{                                                                      \
		crs_add(&crs_tests, &crs_t_##suite_##_##name_);                \
	}                                                                      \
	static void crs_fn_##suite_##_##name_(void)

#define TestSuite(suite_, ...)                                                 \
	static struct crs_test crs_s_##suite_ = {.suite = #suite_,             \
	                                         __VA_ARGS__};                 \
	__attribute__((constructor)) static void crs_sreg_##suite_(void)       \
	{                                                                      \
		crs_add(&crs_suites, &crs_s_##suite_);                         \
	}

static void crs_fail(const char *file, int line, const char *what, int fatal)
{
	fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, what);
	if (fatal)
		_exit(1);
	crs_expect_failed = 1;
}

#define CRS_CHECK(fatal, cond, text)                                           \
	do {                                                                   \
		if (!(cond))                                                   \
			crs_fail(__FILE__, __LINE__, text, fatal);             \
	} while (0)

#define cr_assert(c, ...)          CRS_CHECK(1, (c), #c)
#define cr_expect(c, ...)          CRS_CHECK(0, (c), #c)
#define cr_assert_not(c, ...)      CRS_CHECK(1, !(c), "!(" #c ")")
#define cr_expect_not(c, ...)      CRS_CHECK(0, !(c), "!(" #c ")")
#define cr_assert_null(p, ...)     CRS_CHECK(1, (p) == NULL, #p " == NULL")
#define cr_assert_not_null(p, ...) CRS_CHECK(1, (p) != NULL, #p " != NULL")
#define CRS_OP(fatal, op, a, b)    CRS_CHECK(fatal, (a)op(b), #a " " #op " " #b)
#define cr_assert_eq(a, b, ...)    CRS_OP(1, ==, a, b)
#define cr_assert_neq(a, b, ...)   CRS_OP(1, !=, a, b)
#define cr_assert_lt(a, b, ...)    CRS_OP(1, <, a, b)
#define cr_assert_leq(a, b, ...)   CRS_OP(1, <=, a, b)
#define cr_assert_gt(a, b, ...)    CRS_OP(1, >, a, b)
#define cr_assert_geq(a, b, ...)   CRS_OP(1, >=, a, b)
#define cr_expect_eq(a, b, ...)    CRS_OP(0, ==, a, b)
#define cr_expect_neq(a, b, ...)   CRS_OP(0, !=, a, b)
#define cr_expect_lt(a, b, ...)    CRS_OP(0, <, a, b)
#define cr_expect_leq(a, b, ...)   CRS_OP(0, <=, a, b)
#define cr_expect_gt(a, b, ...)    CRS_OP(0, >, a, b)
#define cr_expect_geq(a, b, ...)   CRS_OP(0, >=, a, b)
#define cr_assert_float_eq(a, b, eps, ...)                                     \
	CRS_CHECK(1, fabs((double)(a) - (double)(b)) <= (double)(eps),         \
	          "|" #a " - " #b "| <= " #eps)
#define cr_assert_str_eq(a, b, ...)                                            \
	CRS_CHECK(1, strcmp(a, b) == 0, #a " == " #b)
#define cr_assert_str_neq(a, b, ...)                                           \
	CRS_CHECK(1, strcmp(a, b) != 0, #a " != " #b)
#define cr_assert_str_empty(s, ...) CRS_CHECK(1, (s)[0] == '\0', #s " is empty")
#define cr_assert_str_not_empty(s, ...)                                        \
	CRS_CHECK(1, (s)[0] != '\0', #s " is not empty")
#define cr_assert_arr_eq(a, b, size, ...)                                      \
	CRS_CHECK(1, memcmp(a, b, size) == 0, #a " == " #b " (" #size " bytes)")
#define cr_assert_fail(...) crs_fail(__FILE__, __LINE__, "cr_assert_fail", 1)
#define cr_log_info(...)    (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))
#define cr_log_warn         cr_log_info
#define cr_log_error        cr_log_info
#define cr_skip_test(...)                                                      \
	do {                                                                   \
		fprintf(stderr, "skipped: " __VA_ARGS__);                      \
		fputc('\n', stderr);                                           \
		_exit(CRS_SKIP_CODE);                                          \
	} while (0)

static const struct crs_test *crs_suite_of(const struct crs_test *t)
{
	for (const struct crs_test *s = crs_suites; s; s = s->next)
		if (strcmp(s->suite, t->suite) == 0)
			return s;
	return NULL;
}

static int crs_run(const struct crs_test *t)
{
	const struct crs_test *s = crs_suite_of(t);
	double timeout = t->timeout ? t->timeout : s ? s->timeout : 0;
	void (*init)(void) = t->init ? t->init : s ? s->init : NULL;
	void (*fini)(void) = t->fini ? t->fini : s ? s->fini : NULL;

	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		if (timeout > 0)
			alarm((unsigned)ceil(timeout));
		if (init)
			init();
		t->fn();
		if (fini)
			fini();
		fflush(NULL);
		_exit(crs_expect_failed ? 1 : 0);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	fprintf(stderr, "%s::%s: killed by signal %d%s\n", t->suite, t->name,
	        WTERMSIG(status),
	        WTERMSIG(status) == SIGALRM ? " (timed out)" : "");
	return 1;
}

int main(void)
{
	int passed = 0, failed = 0, skipped = 0;
	for (const struct crs_test *t = crs_tests; t; t = t->next) {
		if (t->disabled) {
			skipped++;
			continue;
		}
		int rc = crs_run(t);
		const char *verdict = rc == 0               ? "PASS"
		                      : rc == CRS_SKIP_CODE ? "SKIP"
		                                            : "FAIL";
		fprintf(stderr, "[%s] %s::%s\n", verdict, t->suite, t->name);
		if (rc == 0)
			passed++;
		else if (rc == CRS_SKIP_CODE)
			skipped++;
		else
			failed++;
	}
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}

#endif
