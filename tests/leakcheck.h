/*
 * LEAKCHECK(): fail the current test if LeakSanitizer finds a leak now
 *
 * ASan's own leak report comes at process exit, after Criterion has
 * settled the verdict (CTest also fails a sanitizer build's test whose
 * output holds a report, but only for the whole file). Calling LEAKCHECK()
 * at the end of a test pins a leak on the test that made it. Outside ASan
 * builds it does nothing.
 */
#ifndef RTB_TESTS_LEAKCHECK_H
#define RTB_TESTS_LEAKCHECK_H

#include <criterion/criterion.h>

#if defined(__SANITIZE_ADDRESS__)
#define LEAKCHECK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LEAKCHECK_ASAN 1
#endif
#endif

#ifdef LEAKCHECK_ASAN
#include <sanitizer/lsan_interface.h>
#define LEAKCHECK()                                                            \
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,                    \
	             "memory leaked (see the report above)")
#else
#define LEAKCHECK() ((void)0)
#endif

#endif
