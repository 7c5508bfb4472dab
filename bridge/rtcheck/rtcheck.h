/*
 * Real-time safety checker: librtcheck.so
 *
 * A shared library that interposes the allocator (malloc, free, ...), the
 * blocking pthread/semaphore primitives and the blocking system calls
 * (file, socket, poll and sleep calls, with their glibc 64-bit and
 * fortified variants), and counts each call made by a thread that has
 * declared itself real-time. Calls made inside other libraries (Opus,
 * libsndfile, libuv, PortAudio) are seen too, because the symbols are
 * resolved to this library first: link it into a test executable (as a
 * DT_NEEDED library it precedes libc) or load it with LD_PRELOAD.
 *
 * What counts (only on a thread between rtcheck_rt_enter and _leave):
 * - alloc: malloc, calloc, realloc, reallocarray, free (not free(NULL)),
 *   posix_memalign, aligned_alloc, memalign, valloc, pvalloc;
 * - lock: pthread_mutex_lock/timedlock/clocklock, pthread_cond_*wait,
 *   pthread_rwlock_*lock (not the try- variants), sem_*wait, pthread_join,
 *   pthread_barrier_wait, futex waits made through syscall();
 * - syscall: open/openat/creat/close, read/write and the p-, v- and _chk
 *   variants, fsync, fdatasync, ioctl, socket send/recv/accept/connect,
 *   poll/ppoll/select/pselect/epoll_wait, the sleeps, any other syscall()
 *   except futex wakes and gettid, and stdio (fopen, fclose, fflush,
 *   fread, fwrite, fgets, fputs, putc..., the printf family, perror).
 * Not counted: unlocks, condition signals, sem_post, futex wakes (a
 * real-time producer may wake a sleeping consumer), clock_gettime.
 *
 * Environment: RTCHECK_ABORT=1 aborts on the first violation (for a
 * backtrace in a debugger); RTCHECK_DISABLE=1 counts nothing (the
 * self-test must then fail); RTCHECK_SELFTEST_BOOTSTRAP=1 checks the
 * bootstrap allocator when the library loads (see rtcheck.c).
 *
 * Production code must not depend on this library: it uses rthook.h, which
 * finds these functions at run time when the checker is loaded.
 *
 * The real-time flag is per thread; the counters are process-wide.
 */
#ifndef RTB_RTCHECK_H
#define RTB_RTCHECK_H

/* Counts of violations since the last rtcheck_reset(). */
struct rtcheck_counts {
	unsigned long alloc; /* malloc, calloc, realloc, free, memalign... */
	unsigned long lock;  /* mutex lock, condition wait, rwlock, sem_wait */
	unsigned long syscall; /* blocking system calls: I/O, poll, sleep */
	unsigned long total;   /* sum of the three */
	char first[64];        /* name of the first offending function, or "" */
};

/*
 * Declare the calling thread real-time until the matching rtcheck_rt_leave()
 *
 * Calls nest: the thread stays real-time until every enter has been left.
 *
 * Context: any thread, real-time safe
 */
void rtcheck_rt_enter(void);

/*
 * Undo one rtcheck_rt_enter() of the calling thread
 *
 * Pre: the calling thread has entered more times than it has left
 * Context: any thread, real-time safe
 */
void rtcheck_rt_leave(void);

/*
 * Read the counters
 *
 * Post: *out holds the counts since the last reset; out->first names the
 *       first offending function (NUL-terminated), or is empty
 * Context: any thread (a real-time thread may call it: it does not count)
 */
void rtcheck_get(struct rtcheck_counts *out);

/*
 * Zero the counters and forget the first offender
 *
 * Context: any thread, while no real-time thread is running (a concurrent
 *          violation may survive the reset)
 */
void rtcheck_reset(void);

#endif
