/*
 * Internals shared by the two halves of librtcheck
 *
 * rtcheck.c holds the state (per-thread real-time depth, global counters),
 * the public API, the lookup of the real functions and the allocator and
 * lock wrappers; rtcheck_io.c holds the system-call and stdio wrappers.
 * Nothing here is exported from the shared library.
 */
#ifndef RTB_RTCHECK_INTERNAL_H
#define RTB_RTCHECK_INTERNAL_H

#define RTCHECK__HIDDEN __attribute__((visibility("hidden")))

/* Violation categories, also the index of their counter. */
enum rtcheck__cat {
	RTCHECK__ALLOC,
	RTCHECK__LOCK,
	RTCHECK__SYSCALL,
	RTCHECK__NCAT
};

/*
 * Every interposed function whose real version is looked up with
 * dlsym(RTLD_NEXT). All are resolved when the library loads, so that a
 * real-time thread never enters the dynamic linker.
 */
/* clang-format off */
#define RTCHECK__SYMBOLS(X)                                                    \
	X(malloc) X(calloc) X(realloc) X(reallocarray) X(free)                 \
	X(malloc_usable_size) X(posix_memalign) X(aligned_alloc)               \
	X(memalign) X(valloc) X(pvalloc) X(pthread_mutex_lock)                 \
	X(pthread_mutex_timedlock) X(pthread_mutex_clocklock)                  \
	X(pthread_cond_wait) X(pthread_cond_timedwait)                         \
	X(pthread_cond_clockwait) X(pthread_rwlock_rdlock)                     \
	X(pthread_rwlock_wrlock) X(pthread_rwlock_timedrdlock)                 \
	X(pthread_rwlock_timedwrlock) X(pthread_rwlock_clockrdlock)            \
	X(pthread_rwlock_clockwrlock) X(pthread_join)                          \
	X(pthread_barrier_wait) X(sem_wait) X(sem_timedwait)                   \
	X(sem_clockwait) X(open) X(open64) X(openat) X(openat64)               \
	X(__open_2) X(__open64_2) X(__openat_2) X(__openat64_2)                \
	X(creat) X(creat64) X(close) X(read) X(write) X(pread)                 \
	X(pread64) X(pwrite) X(pwrite64) X(readv) X(writev) X(preadv)          \
	X(preadv64) X(pwritev) X(pwritev64) X(__read_chk)                      \
	X(__pread_chk) X(__pread64_chk) X(fsync) X(fdatasync) X(ioctl)         \
	X(syscall) X(recv) X(recvfrom) X(recvmsg) X(recvmmsg)                  \
	X(__recv_chk) X(__recvfrom_chk) X(send) X(sendto) X(sendmsg)           \
	X(sendmmsg) X(accept) X(accept4) X(connect) X(poll) X(ppoll)           \
	X(__poll_chk) X(__ppoll_chk) X(select) X(pselect) X(epoll_wait)        \
	X(epoll_pwait) X(nanosleep) X(clock_nanosleep) X(usleep)               \
	X(sleep) X(fopen) X(fopen64) X(freopen) X(freopen64) X(fdopen)         \
	X(fclose) X(fflush) X(fread) X(fwrite) X(fgets) X(fgetc)               \
	X(getc) X(fputs) X(fputc) X(putc) X(puts) X(putchar) X(fseek)          \
	X(fseeko) X(fseeko64) X(perror) X(vprintf) X(vfprintf)                 \
	X(vdprintf) X(__vprintf_chk) X(__vfprintf_chk)                         \
	X(__vdprintf_chk)
/* clang-format on */

#define RTCHECK__ID(name) RTCHECK__ID_##name,
enum rtcheck__id { RTCHECK__SYMBOLS(RTCHECK__ID) RTCHECK__NSYM };
#undef RTCHECK__ID

/*
 * Nesting depth of rtcheck_rt_enter() on this thread; the thread is
 * real-time while it is positive. Initial-exec TLS is a plain offset from
 * the thread pointer: reading it never calls __tls_get_addr, which could
 * allocate and recurse into malloc.
 */
extern __thread int rtcheck__depth __attribute__((tls_model("initial-exec")))
RTCHECK__HIDDEN;

/*
 * The real function with index id
 *
 * Return: its address (never NULL: aborts with a message when missing)
 * Context: any
 */
RTCHECK__HIDDEN void *rtcheck__sym(enum rtcheck__id id);

/* The real version of name, typed like name. */
#define RTCHECK__REAL(name)                                                    \
	((__typeof__(&name))rtcheck__sym(RTCHECK__ID_##name))

/*
 * Count one violation of category cat by function name (a string literal)
 *
 * Context: a real-time thread
 */
RTCHECK__HIDDEN void rtcheck__violation(enum rtcheck__cat cat,
                                        const char *name);

/* Count a call to name if the calling thread is real-time. */
static inline void rtcheck__hit(enum rtcheck__cat cat, const char *name)
{
	if (__builtin_expect(rtcheck__depth > 0, 0))
		rtcheck__violation(cat, name);
}

/* Define name(params) that counts category cat and calls the real one. */
#define RTCHECK__FORWARD(ret, cat, name, params, args)                         \
	ret name params                                                        \
	{                                                                      \
		rtcheck__hit(cat, #name);                                      \
		return RTCHECK__REAL(name) args;                               \
	}

#endif
