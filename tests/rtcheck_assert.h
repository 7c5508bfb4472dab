/*
 * Criterion assertions on the real-time checker, for any test
 *
 * Link the test with the CMake target `rtcheck_test`. In a normal build it
 * brings librtcheck.so (which counts allocations, locks and blocking system
 * calls on real-time threads) and rtb_rthook, and defines RTB_RTCHECK=1. In a
 * sanitizer build the checker cannot coexist with the sanitizer's allocator:
 * only rtb_rthook is linked, the hooks do nothing, and the macros below
 * compile to nothing, so the same test runs unchanged.
 *
 * Usage:
 *
 *	#include "tests/rtcheck_assert.h"
 *
 *	Test(mixer, callback_is_real_time_safe) {
 *		RTCHECK_INIT();             // rthook_init() once, control
 *thread RTCHECK_ASSERT_LOADED();    // the checker is really there
 *		... set up: allocate, open files, start threads ...
 *		RTCHECK_RESET();            // forget what set-up did
 *		... run: the audio thread brackets its callback with
 *		    rthook_rt_enter() / rthook_rt_leave() (production code) ...
 *		... stop and join the audio thread ...
 *		RTCHECK_ASSERT_ZERO();      // no malloc, lock or syscall in
 *there
 *	}
 *
 * Only the threads that called rthook_rt_enter() are watched, so set-up and
 * tear-down on the test thread are free to allocate. Assert after the
 * real-time thread has stopped (or at least left), on a non-real-time thread.
 */
#ifndef RTB_TESTS_RTCHECK_ASSERT_H
#define RTB_TESTS_RTCHECK_ASSERT_H

#include <criterion/criterion.h>

#include "bridge/rtcheck/rthook.h"

#if defined(RTB_RTCHECK)

#include "bridge/rtcheck/rtcheck.h"

/* Look up the checker once; the hooks forward to it afterwards. */
#define RTCHECK_INIT() ((void)rthook_init())

/* Zero the counters (call before the part under test). */
#define RTCHECK_RESET() rtcheck_reset()

/* Fail the test unless rthook_init() found the checker. */
#define RTCHECK_ASSERT_LOADED()                                                \
	do {                                                                   \
		(void)rthook_init();                                           \
		cr_assert(rthook_loaded(),                                     \
		          "librtcheck is not loaded: link rtcheck_test");      \
	} while (0)

#define RTCHECK__CHECK(crfn)                                                   \
	do {                                                                   \
		struct rtcheck_counts rtcheck__c;                              \
		rtcheck_get(&rtcheck__c);                                      \
		crfn(rtcheck__c.total == 0,                                    \
		     "real-time violations: %lu (alloc %lu, lock %lu, "        \
		     "syscall %lu), first: %s",                                \
		     rtcheck__c.total, rtcheck__c.alloc, rtcheck__c.lock,      \
		     rtcheck__c.syscall, rtcheck__c.first);                    \
	} while (0)

/* Fail (and stop) the test if any real-time thread broke the rules. */
#define RTCHECK_ASSERT_ZERO() RTCHECK__CHECK(cr_assert)

/* Same, but let the test go on after reporting. */
#define RTCHECK_EXPECT_ZERO() RTCHECK__CHECK(cr_expect)

#else /* sanitizer build: no checker */

#define RTCHECK_INIT()          ((void)rthook_init())
#define RTCHECK_RESET()         ((void)0)
#define RTCHECK_ASSERT_LOADED() ((void)0)
#define RTCHECK_ASSERT_ZERO()   ((void)0)
#define RTCHECK_EXPECT_ZERO()   ((void)0)

#endif

#endif
